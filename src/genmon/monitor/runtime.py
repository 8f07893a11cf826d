"""Everything a monitor runs: queues, worker pipelines, the stores, alerts, events, tracking.

``GenerationMonitor`` validates its keywords into ``Settings`` and builds one
``Runtime`` from them. A process forked from a monitoring process builds a
fresh ``Runtime`` as a new shard (``os.register_at_fork``): new queues, so
the parent's backlog is never sent twice, and shard-named files, so the
child never writes into the parent's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from genmon.errors import MonitorClosedError
from genmon.handlers.append_only import JsonLinesSink
from genmon.handlers.metrics_file import FileMetricHandler
from genmon.handlers.spans_file import FileSpanHandler
from genmon.monitor.alerts.manager import AlertManager
from genmon.monitor.engine import delivery
from genmon.monitor.engine.failures import HandlerErrors
from genmon.monitor.engine.pipeline import Pipeline, wait_marker
from genmon.monitor.engine.queueing import BoundedQueue, deadline_in, wait_all
from genmon.monitor.handler_host import HandlerHost
from genmon.monitor.recorder import Recorder
from genmon.monitor.resources.profiler import Profiler
from genmon.monitor.resources.reader import SnapshotTaker
from genmon.monitor.resources.sampler import ResourceSampler
from genmon.monitor.settings import Settings, write_run_file
from genmon.monitor.store.metric_store import MetricStore
from genmon.monitor.store.series_data import SeriesData
from genmon.monitor.store.view import window_snapshot
from genmon.monitor.tracking.events import EventBus
from genmon.monitor.tracking.span_store import SpanStore
from genmon.monitor.tracking.token_totals import TOKEN_NAMES, TokenTotals, token_usage
from genmon.monitor.tracking.track import SpanRecorder
from genmon.records.log_records import LogRecords
from genmon.records.point_groups import expand
from genmon.records.spans import INPUTS, OUTPUTS, SpanRecord, span_record, span_records
from genmon.records.timefmt import IsoFormatter
from genmon.records.validation import to_seconds


def for_shard(handler: Any, shard: str | None, forked: bool) -> Any:
    """The handler a shard uses: its ``for_shard(shard)`` copy where it has one.

    File sinks get a shard-named copy in every shard; other sinks (HTTP,
    MLflow) only in a forked child, whose copy of the parent's sink has no thread.
    """
    if shard is None or not (forked or isinstance(handler, JsonLinesSink)):
        return handler
    make = getattr(handler, "for_shard", None)
    return make(shard) if callable(make) else handler


class Runtime:
    """The queues, workers, stores and services of one monitor in one process."""

    def __init__(self, settings: Settings, record_metrics: Callable[..., None], forked: bool = False) -> None:
        s = settings
        self.settings = settings
        self.closed = False
        # Markers are put under this lock, so a flush racing close() is queued
        # before the stop markers or sees the monitor closed: never after them.
        self._lifecycle_lock = threading.Lock()
        self.close_deadline: float | None = None
        self._forked = forked
        self._shard_copies: dict[int, tuple[Any, Any]] = {}
        self.extra_metric_handlers: list[Any] = []  # the Prometheus collector serve/push adds
        self.extra_log_handlers: list[Any] = []
        if s.log_to_logging:  # beside the user's list, never in it
            from genmon.handlers.logging_bridge import StdlibLoggerSink

            self.extra_log_handlers.append(StdlibLoggerSink())
        self.store = MetricStore(s.retention_s, s.max_points_per_metric)
        self.token_totals = TokenTotals()
        self.errors = HandlerErrors(self.report_handler_error)
        self._drop_log_at: dict[str, float] = {}
        # Built before any thread starts, so a bad alert keyword leaks none.
        self.alerts = AlertManager(
            self.store,
            s.clock,
            lambda: s.alert_handlers,
            self.errors,
            self._log_alert,
            on_alert=lambda alert: self.events.emit_alert(alert),
            send_resolved=s.send_resolved,
            window_s=s.alert_window_s,
            cooldown_s=s.alert_cooldown_s,
            thresholds=s.alert_thresholds,
            handler_timeout_s=s.alert_handler_timeout_s,
            metrics_interval=s.metrics_interval,
            token_usage_callback=s.token_usage_callback,
            token_usage_interval_s=s.token_usage_interval_s,
            token_usage_report=self.token_totals.report,
        )
        self.events = EventBus(self.errors, s.callback_timeout_s, s.clock)
        queues = {
            kind: BoundedQueue(s.max_queue_size, s.on_full, s.block_timeout_s, self.report_drop, name=kind)
            for kind in ("metrics", "logs", "spans")
        }
        names: set[str] = set()
        self.host = HandlerHost(self)
        bind = self.host.bind
        self.logs = Pipeline(
            "logs", queues["logs"], _as_is, None, self.log_handlers,
            lambda: delivery.deliver_logs, self.errors, names, bind,
            points=LogRecords(), takes_raw="takes_log_tuples",
        )  # fmt: skip
        self.metrics = Pipeline(
            "metrics", queues["metrics"], _as_is, self._store_batch, self.metric_handlers,
            delivery.MetricDelivery, self.errors, names, bind, points=expand,
        )  # fmt: skip
        self.span_store = SpanStore()
        self._span_files = self._span_files_sink()
        self.spans = Pipeline(
            "spans", queues["spans"], self._finished_spans, self.span_store.append_batch, self.span_handlers,
            delivery.make_span_deliver, self.errors, names, bind,
            points=span_records, takes_raw="takes_span_tuples",
        )  # fmt: skip
        self.metric_queue = queues["metrics"]
        self.put_log = queues["logs"].put
        self.tracking = SpanRecorder(
            self.metric_queue,
            queues["spans"],
            self.put_log,
            s.clock,
            self.events,
            s.prices,
            s.capture_io,
            s.capture,
        )
        self.recorder = Recorder(self.metric_queue, self.put_log, s.clock, self.events)
        self.profiler = Profiler(record_metrics, s.clock)
        self.sampler: ResourceSampler | None = None
        self.snapshots = SnapshotTaker(s.clock)  # monitor.resource_snapshot(); psutil loads with the first
        self.services: list[Any] = []  # Prometheus servers and pushers, stopped by close()
        self.view = MonitorView(self)
        write_run_file(s.log_dir, s.run, IsoFormatter()(s.clock()), s.shard)
        self.alerts.start()
        for handler in s.alert_handlers:
            bind(handler)

    def _log_alert(self, record: Any) -> None:
        self.host.keep_alert(record)  # for the sinks that list alerts at close (MLflow's report.html)
        self.logs.source.put_internal(record)

    def start_sampler(self, record: Callable[[Mapping[str, float]], None], interval_s: float) -> ResourceSampler:
        """Start the psutil sampler (replacing a running one); ``close()`` stops it."""
        if self.closed:
            raise MonitorClosedError("the monitor is closed: nothing more can be sampled")
        sampler = ResourceSampler(record, interval_s, lambda e: self.errors.record("resource_sampler", e))
        if self.sampler is not None:
            self.sampler.stop()
        self.sampler = sampler.start()
        return sampler

    def token_usage(self, start: float) -> Any:
        """Tokens per model over the points stamped since ``start`` (read from the store)."""
        return token_usage(self.store, start)

    def attach(self, monitor: Any, generator: Any, methods: Any, span_type: Any, depth: Any) -> None:
        from genmon.monitor.tracking.attach import attach, bound_wrapper

        attach(bound_wrapper(self.tracking), monitor, generator, methods, span_type, depth)

    def query_spans(
        self, name: Any, operation: Any, parent_call_id: Any, window: Any, limit: Any, span_type: Any
    ) -> list[SpanRecord]:
        """``get_spans``: the recent spans matching every filter given."""
        if name is not None and operation is not None and name != operation:
            raise ValueError("name and operation are the same filter: give one")
        start = None if window is None else self.settings.clock() - to_seconds(window)
        return self.span_store.query(name or operation, parent_call_id, span_type, start, limit)

    def _finished_spans(self, batch: list[Any]) -> list[Any]:
        """On the span worker: serialise captured inputs and outputs, then emit generation_end and _error.

        The queued spans are plain tuples (``records.spans``); a captured one becomes its ``SpanRecord``.
        """
        materialise = self.tracking.capture.materialise
        spans = [
            span if span[INPUTS] is None and span[OUTPUTS] is None else materialise(span_record(span)) for span in batch
        ]
        self.events.emit_spans(spans)
        return spans

    # -- the live handler lists (read by the workers once per batch) -------------------------
    def metric_handlers(self) -> list[Any]:
        return [self._for_shard(h) for h in (*self.settings.metric_handlers, *self.extra_metric_handlers)]

    def log_handlers(self) -> list[Any]:
        return [self._for_shard(h) for h in (*self.settings.log_handlers, *self.extra_log_handlers)]

    def span_handlers(self) -> list[Any]:
        fixed = [self._span_files] if self._span_files is not None else []
        return fixed + [h for h in self.metric_handlers() if delivery.has_span_method(h)]

    def _for_shard(self, handler: Any) -> Any:
        shard = self.settings.shard
        if shard is None:
            return handler
        entry = self._shard_copies.get(id(handler))
        if entry is None or entry[0] is not handler:  # the entry keeps the handler alive: ids never reused
            entry = self._shard_copies[id(handler)] = (handler, for_shard(handler, shard, self._forked))
        return entry[1]

    def _span_files_sink(self) -> Any:
        s = self.settings
        files = s.default_metric_files or any(isinstance(h, FileMetricHandler) for h in s.metric_handlers)
        return for_shard(FileSpanHandler(s.log_dir), s.shard, False) if files else None

    def add_metric_handler(self, handler: Any) -> None:
        """Feed ``handler`` too (beside the user's list), from the next batch on."""
        if self.closed:
            raise MonitorClosedError("the monitor is closed: no handler can be added")
        self.extra_metric_handlers.append(handler)
        self.metrics.sinks.sync()

    def _store_batch(self, batch: list[Any]) -> None:
        names = self.store.append_batch(batch, self.settings.clock())
        if not TOKEN_NAMES.isdisjoint(names):  # most batches hold no token count: no second pass
            self.token_totals.add(batch)

    def pipelines(self) -> list[Pipeline]:
        # Close order: metrics, spans, then logs (the other workers may still log).
        return [self.metrics, self.spans, self.logs]

    # -- lifecycle --------------------------------------------------------------
    def flush(self, deadline: float) -> bool:
        with self._lifecycle_lock:
            if self.closed:
                return self.stopped()
            markers = [self.metrics.request_flush(deadline), self.spans.request_flush(deadline)]
        ok = all([wait_marker(m, deadline) for m in markers])  # noqa: C419 - wait on every marker
        # The log last: what the metric and span sinks reported meanwhile (drops, errors) is written too.
        with self._lifecycle_lock:
            log_marker = None if self.closed else self.logs.request_flush(deadline)
        ok = (log_marker is not None and wait_marker(log_marker, deadline)) and ok
        self.events.emit("flush", {"ok": ok})
        # Callbacks of events emitted before (this flush's included) have run or timed out.
        return self.events.wait_idle(deadline) and ok

    def sync_store(self, deadline: float) -> bool:
        with self._lifecycle_lock:
            if self.closed:
                return not self.metrics.worker.thread.is_alive()
            markers = [self.metrics.request_flush(), self.spans.request_flush()]
        return wait_all(markers, deadline)

    def stopped(self) -> bool:
        return all(not p.worker.thread.is_alive() for p in self.pipelines())

    def close(self, deadline: float, sink_budgets: bool = False) -> bool:
        """Drain and stop everything by ``deadline`` (monotonic); True when everything was delivered.

        Metric and span sinks get the first 80% of the time, so the log
        sinks still have time to write what the others lost. With
        ``sink_budgets`` (a close with the default timeout), a handler with a
        ``close_budget_s`` of its own (MLflow: set-up and uploads) may use
        until that long after the close started, when that is later.
        """
        now = time.monotonic()
        self.close_deadline = deadline  # sinks closing on a lane may use this much time (handlers._batching)
        records_deadline = now + 0.8 * max(deadline - now, 0.0)

        def budget_until(handler: Any, default: float) -> float:
            budget = getattr(handler, "close_budget_s", None) if sink_budgets else None
            if isinstance(budget, (int, float)) and not isinstance(budget, bool) and budget > 0:
                return max(default, now + float(budget))
            return default

        def record_lane(handler: Any) -> float:
            return budget_until(handler, records_deadline)

        if self.sampler is not None:
            self.sampler.stop(max(deadline - time.monotonic(), 0.0))
        # Alert and token threads before the pipelines, so what they report while stopping reaches the log.
        ok = self.alerts.close(records_deadline)
        with self._lifecycle_lock:
            self.closed = True
            self.metrics.request_stop(deadline, record_lane)
            self.spans.request_stop(deadline, record_lane)
        # The metric and span workers and their lanes report what they lose
        # (drops, close_timeout) to the log, so the log pipeline stops after
        # them. Its worker drains all along: only its stop marker waits.
        for pipeline in (self.metrics, self.spans):
            ok = pipeline.wait_stopped(deadline, record_lane) and ok
        # A budget that ran past the deadline leaves the log sinks their share after it.
        logs_deadline = max(deadline, time.monotonic() + 0.2 * max(deadline - now, 0.0))

        def log_lane(handler: Any) -> float:
            return budget_until(handler, logs_deadline)

        self.logs.request_stop(logs_deadline, log_lane)
        ok = self.logs.wait_stopped(logs_deadline, log_lane) and ok
        for service in self.services:  # after the pipelines, so a final push has every point
            ok = service.stop(max(deadline - time.monotonic(), 0.1)) and ok
        # Everything is persisted: "close" callbacks can read the files and the store.
        self.events.emit("close", {"ok": ok})
        return self.events.close(deadline) and ok

    def stats(self) -> dict[str, Any]:
        out = self.metrics.stats()
        out["handler_errors"] = self.errors.snapshot()
        out["stored_points"] = self.store.count()
        out["logs"] = self.logs.stats()
        out["spans"] = self.spans.stats()
        out["events"] = self.events.stats()
        out["alerts"] = self.alerts.stats()
        out["worker_failures"] = sum(p.worker.failures for p in self.pipelines())
        if self.settings.shard is not None:
            out["shard"] = self.settings.shard
        return out

    # -- reports from the workers ------------------------------------------------
    def report_handler_error(self, name: str, error: BaseException, count: int) -> None:
        message = f"Handler {name} failed ({count} failures so far): {error}"
        data = {"handler": name, "error": str(error), "error_type": type(error).__name__, "failures": count}
        self.logs.source.put_internal((self.settings.clock(), "error", message, data))

    def report_drop(self, reason: str, count: int) -> None:
        # Logged at most once per 10 s per reason, from the producer's thread.
        now = time.monotonic()
        if now - self._drop_log_at.get(reason, -1e18) < 10.0:
            return
        self._drop_log_at[reason] = now
        message = f"Queue full: {count} records dropped so far ({reason})"
        self.logs.source.put_internal((self.settings.clock(), "warning", message, {"reason": reason, "dropped": count}))

    def adopt(self, previous: Runtime) -> None:
        """Carry over what the user configured on a parent's runtime: rules and event subscriptions."""
        for rule in previous.alerts.rules.rules():
            self.alerts.add_rule(rule)
        for events, callback in previous.events.subscriptions():
            self.events.on(events, callback)


def _as_is(batch: list[Any]) -> list[Any]:
    """The metric worker's records go to the store and sinks as queued (the worker built the list)."""
    return batch


class MonitorView:
    """The ``StoreView`` readers get (exports, DataFrames, plots): points recorded before a call are in its snapshot."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    @property
    def log_dir(self) -> Path:
        return self._runtime.settings.log_dir

    def now(self) -> float:
        return self._runtime.settings.clock()

    def snapshot(self, window_s: float | None = None, names: Sequence[str] | None = None) -> list[SeriesData]:
        runtime = self._runtime
        runtime.sync_store(deadline_in(runtime.settings.shutdown_timeout_s))
        return window_snapshot(runtime.store, self.now(), window_s, names)

    def has_metric(self, name: str) -> bool:
        return self._runtime.store.series(name) is not None
