"""GenerationMonitor: a thin façade over the queues, workers, store and sinks."""

from __future__ import annotations

import atexit
import functools
import os
import time
import weakref
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Self

from genmon.errors import MonitorClosedError
from genmon.handlers.base import LogHandler, MetricHandler
from genmon.handlers.log_file import FileLogHandler
from genmon.handlers.metrics_file import FileMetricHandler
from genmon.monitor.alert_worker import AlertManager, threshold_decorator
from genmon.monitor.alerts import Rule, ThresholdRule
from genmon.monitor.attach import attach as attach_generator
from genmon.monitor.events import Event
from genmon.monitor.generation import evaluation_points, generation_points, log_data
from genmon.monitor.pipeline import Pipeline
from genmon.monitor.profiler import ProfileScope
from genmon.monitor.records import Alert, TokenUsageReport, check_metadata, check_name, check_value
from genmon.monitor.resources import DEFAULT_INTERVAL_S, ResourceSampler
from genmon.monitor.runtime import Runtime
from genmon.monitor.settings import Settings, deadline_in, default_log_dir, resource_interval, shard_id, to_seconds
from genmon.monitor.spans import ANY, SpanRecord, SpanStore
from genmon.monitor.store import MetricStore
from genmon.monitor.token_usage import token_usage
from genmon.monitor.tracking import Span, Tracker, current_span
from genmon.monitor.window import WindowStats
from genmon.monitor.workers import HandlerErrors

_LIVE: weakref.WeakSet[GenerationMonitor] = weakref.WeakSet()


@atexit.register
def _close_at_exit() -> None:
    # Worker threads are daemons: without this drain, whatever is still
    # queued at interpreter exit would be lost.
    for monitor in list(_LIVE):
        monitor.close()


def _restart_in_child() -> None:
    # The child has the parent's objects but none of its threads: each open
    # monitor starts over as a new shard (its own queues and files).
    for monitor in list(_LIVE):
        monitor._restart_as_shard()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_restart_in_child)


def _close_at_process_exit(monitor: GenerationMonitor) -> None:
    from multiprocessing import util

    util.Finalize(monitor, GenerationMonitor.close, args=(monitor,), exitpriority=100)


def _fast_record_metric(monitor: GenerationMonitor, runtime: Runtime) -> Callable[..., None]:
    """``record_metric`` for the common call (a valid name and float, no metadata, room in the queue).

    It is the library's hottest call: a closure reads its queue and clock
    from cells instead of attributes, which takes it from about 2x to 1.5x
    the cost of a bare ``SimpleQueue.put``. Every other call takes the
    method, which validates and applies the full-queue policy.
    """
    queue = runtime.metric_queue
    depth, enqueue, clock = queue.depth, queue.enqueue, monitor._clock
    full_path = GenerationMonitor.record_metric.__get__(monitor)

    def record_metric(metric_name: str, value: float, metadata: dict[str, Any] | None = None) -> None:
        if (
            metadata is None
            and type(metric_name) is str
            and metric_name
            and type(value) is float
            and value - value == 0.0  # finite
            and depth() < queue.limit
        ):
            enqueue((metric_name, value, clock(), None))
        else:
            full_path(metric_name, value, metadata)

    return functools.update_wrapper(record_metric, GenerationMonitor.record_metric)


class GenerationMonitor:
    """Records metrics and logs without waiting; workers persist them and feed handlers.

    A drop-in replacement for ``afterimage.GenerationMonitor``: the same
    constructor keywords, methods, ``Alert`` fields, handler protocols and
    metrics.jsonl lines.

    Args:
        log_dir: where metrics.jsonl and genmon.log go (default ``.genmon/<time>``).
        metric_handlers: sinks for points; None means the metrics.jsonl file,
            ``[]`` means none.
        log_handlers: sinks for log records; None means genmon.log, ``[]`` none.
        alert_handlers: callables receiving each ``Alert``.
        metrics_interval: seconds between alert rule runs (<= 0: no alert thread).
        alert_window: window of the built-in rules and of rules naming none
            (timedelta or seconds, default 5 minutes).
        alert_cooldown: while a rule keeps holding, remind at most this often
            (timedelta or seconds, default 5 minutes; 0: every pass, as afterimage).
        alert_handler_timeout: seconds each alert handler call (and the token
            usage callback) may take before it is counted as hung.
        shutdown_timeout: seconds ``shutdown()`` and the exit drain wait at most.
        max_queue_size: records queued at most per record kind.
        on_full: "block" (default), "drop_oldest" or "drop_newest".
        block_timeout: seconds a record call blocks on a full queue before dropping.
        retention: keep points this long in memory (timedelta or seconds; None: no limit).
        max_points_per_metric: keep at most this many points per metric in memory.
        clock: returns epoch seconds (tests pass ``genmon.testing.ManualClock``).
        sample_resources: True or an interval in seconds starts the psutil
            sampler (``process/*`` and ``system/*`` metrics); False does not.
        prices: model to USD per 1,000 prompt and completion tokens, as
            ``(prompt, completion)`` or ``{"prompt": ..., "completion": ...}``;
            tracked calls with a priced model record ``cost_usd``.
        callback_timeout: seconds each event callback call may take (``on``).
        log_to_logging: also send the log records to the standard logger
            ``genmon`` (``genmon.handlers.StdlibLoggerSink``).

    Example:
        >>> with GenerationMonitor(log_dir="run") as monitor:  # doctest: +SKIP
        ...     monitor.track_generation(1.2, True, model_name="gpt-4o", prompt_token_count=120)
        ...     monitor.get_metrics("generation_time")["p95"]
    """

    def __init__(
        self,
        log_dir: str | Path | None = None,
        metric_handlers: list[MetricHandler] | None = None,
        log_handlers: list[LogHandler] | None = None,
        alert_handlers: list[Callable[[Alert], Any]] | None = None,
        metrics_interval: float = 60,
        shutdown_timeout: float = 5,
        *,
        alert_min_success_rate: float | None = None,
        alert_max_generation_time_seconds: float | None = None,
        alert_max_error_rate: float | None = None,
        alert_max_prompt_token_mean: float | None = None,
        alert_max_completion_token_mean: float | None = None,
        alert_max_total_token_mean: float | None = None,
        alert_max_conversation_length_mean: float | None = None,
        token_usage_callback: Callable[[TokenUsageReport], Any] | None = None,
        token_usage_callback_interval_seconds: float = 60.0,
        alert_window: timedelta | float = timedelta(minutes=5),
        alert_cooldown: timedelta | float = timedelta(minutes=5),
        alert_handler_timeout: float = 5.0,
        max_queue_size: int = 200_000,
        on_full: str = "block",
        block_timeout: float = 10.0,
        retention: timedelta | float | None = None,
        max_points_per_metric: int | None = 1_000_000,
        clock: Callable[[], float] = time.time,
        sample_resources: bool | float = False,
        prices: Mapping[str, Any] | None = None,
        callback_timeout: float = 5.0,
        log_to_logging: bool = False,
        shard: bool | str = False,
    ) -> None:
        self.log_dir = Path(log_dir) if log_dir is not None else default_log_dir()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.shutdown_timeout = to_seconds(shutdown_timeout, "shutdown_timeout")
        self.metrics_interval = metrics_interval
        self._clock = clock
        self.metric_handlers: list[Any] = (
            [FileMetricHandler(self.log_dir)] if metric_handlers is None else list(metric_handlers)
        )
        self.log_handlers: list[Any] = [FileLogHandler(self.log_dir)] if log_handlers is None else list(log_handlers)
        if log_to_logging:
            from genmon.handlers.logging_bridge import StdlibLoggerSink

            self.log_handlers.append(StdlibLoggerSink())
        self.alert_handlers = list(alert_handlers or [])
        self.alert_thresholds = {
            "alert_min_success_rate": alert_min_success_rate,
            "alert_max_generation_time_seconds": alert_max_generation_time_seconds,
            "alert_max_error_rate": alert_max_error_rate,
            "alert_max_prompt_token_mean": alert_max_prompt_token_mean,
            "alert_max_completion_token_mean": alert_max_completion_token_mean,
            "alert_max_total_token_mean": alert_max_total_token_mean,
            "alert_max_conversation_length_mean": alert_max_conversation_length_mean,
        }
        self.token_usage_callback = token_usage_callback
        self.token_usage_callback_interval_seconds = token_usage_callback_interval_seconds
        if not isinstance(shard, (bool, str)) or shard == "":
            raise TypeError(f"shard must be True, False or a non-empty shard name, got {shard!r}")
        sampler_interval = resource_interval(sample_resources)
        self._settings = Settings(
            log_dir=self.log_dir,
            metrics_interval=metrics_interval,
            metric_handlers=self.metric_handlers,
            log_handlers=self.log_handlers,
            alert_handlers=self.alert_handlers,
            default_metric_files=metric_handlers is None,
            alert_thresholds=self.alert_thresholds,
            alert_window_s=to_seconds(alert_window, "alert_window"),
            alert_cooldown_s=to_seconds(alert_cooldown, "alert_cooldown"),
            alert_handler_timeout_s=to_seconds(alert_handler_timeout, "alert_handler_timeout"),
            token_usage_callback=token_usage_callback,
            token_usage_interval_s=token_usage_callback_interval_seconds,
            max_queue_size=max_queue_size,
            on_full=on_full,
            block_timeout_s=to_seconds(block_timeout, "block_timeout"),
            retention_s=None if retention is None else to_seconds(retention, "retention"),
            max_points_per_metric=max_points_per_metric,
            clock=clock,
            prices=prices,
            callback_timeout_s=to_seconds(callback_timeout, "callback_timeout"),
            shard=(shard_id() if shard is True else shard) or None,
        )
        self._closed = False
        self._install(Runtime(self, self._settings))
        _LIVE.add(self)
        if sampler_interval is not None:
            self.sample_resources(sampler_interval)

    def _install(self, runtime: Runtime) -> None:
        self._rt = runtime
        # The record path reads these attributes directly: one lookup each.
        self._metric_queue = runtime.metric_queue
        self._put_metric = runtime.metric_queue.put
        self._put_log = runtime.put_log
        runtime.bind(self)
        if type(self).record_metric is GenerationMonitor.record_metric:
            self.record_metric = _fast_record_metric(self, runtime)  # type: ignore[method-assign]

    def _restart_as_shard(self) -> None:
        """In a forked child: drop the parent's backlog and threads, go on as shard ``<host>-<pid>``."""
        if self._closed:
            return
        previous = self._rt
        settings = self._settings
        settings.shard = shard_id()
        self._install(Runtime(self, settings, forked=True))
        self._rt.adopt(previous)
        # multiprocessing's workers leave through os._exit, which skips atexit;
        # they run multiprocessing's exit hook first, so close there. Its
        # process bootstrap clears finalizers made before it and then runs its
        # after-fork hooks: register the finalizer both now and from that hook.
        from multiprocessing import util

        _close_at_process_exit(self)
        util.register_after_fork(self, _close_at_process_exit)

    # -- the runtime's parts, by the names the rest of genmon uses ------------------
    @property
    def store(self) -> MetricStore:
        """The rolling in-memory store (``genmon.monitor.store``)."""
        return self._rt.store

    @property
    def span_store(self) -> SpanStore:
        return self._rt.span_store

    @property
    def errors(self) -> HandlerErrors:
        """Failure counts by handler, callback and rule name."""
        return self._rt.errors

    @property
    def alerts(self) -> AlertManager:
        return self._rt.alerts

    @property
    def shard(self) -> str | None:
        """This process's shard name, or None when the monitor writes the plain file names."""
        return self._settings.shard

    @property
    def _metrics(self) -> Pipeline:
        return self._rt.metrics

    @property
    def _logs(self) -> Pipeline:
        return self._rt.logs

    @property
    def _services(self) -> list[Any]:
        return self._rt.services

    @property
    def _close_deadline(self) -> float | None:
        return self._rt.close_deadline

    def _pipelines(self) -> list[Pipeline]:
        return self._rt.pipelines()

    # -- producers -------------------------------------------------------------
    def record_metric(self, metric_name: str, value: float, metadata: dict[str, Any] | None = None) -> None:
        """Queue one point; ``metadata['timestamp']`` (datetime, epoch or ISO) sets its time."""
        if type(metric_name) is not str or not metric_name:
            metric_name = check_name(metric_name)
        if type(value) is not float or value - value != 0.0:
            value = check_value(value)
        item: tuple[str, float, float, dict[str, Any] | None]
        if metadata is None:
            item = (metric_name, value, self._clock(), None)
        else:
            ts, meta = check_metadata(metadata, self._clock())
            item = (metric_name, value, ts, meta)
        # BoundedQueue.put inlined: this is the hottest call in the library.
        queue = self._metric_queue
        if queue.depth() < queue.limit:
            queue.enqueue(item)
        else:
            queue.put(item)

    def record_metrics(self, metrics: Mapping[str, float], metadata: dict[str, Any] | None = None) -> None:
        """Queue several points at one time with shared metadata; all or nothing."""
        if not isinstance(metrics, Mapping):
            raise TypeError(f"metrics must be a mapping of name to value, got {type(metrics).__name__}")
        checked = [(check_name(n, "metrics key"), check_value(v, f"metrics[{n!r}]")) for n, v in metrics.items()]
        ts, meta = (self._clock(), None) if metadata is None else check_metadata(metadata, self._clock())
        self._put_metric([(name, value, ts, meta) for name, value in checked])

    def track_generation(self, duration: float, success: bool, **kwargs: Any) -> None:
        """Record one generation call: time, success and error rates, model, finish reason, tokens."""
        ts, points = generation_points(duration, success, kwargs, self._clock())
        self._put_metric(points)  # one queue item; the worker expands it
        self._put_log((ts, "info", "Generation metrics", {"data": log_data(kwargs, duration, success)}))
        events = self._rt.events
        if events.subscribers["generation_end"] or events.subscribers["generation_error"]:
            events.emit_generation(duration, success, kwargs)

    def track_evaluation(
        self, duration: float, success: bool, evaluator_type: str, scores: dict[str, Any], **kwargs: Any
    ) -> None:
        """Record one evaluation: its time, each score, its error rate and token usage."""
        ts, points = evaluation_points(duration, success, evaluator_type, scores, kwargs, self._clock())
        self._put_metric(points)
        data = log_data(kwargs, duration, success, evaluator_type=evaluator_type, scores=scores)
        self._put_log((ts, "info", "Evaluation metrics", {"data": data}))

    def _log(self, level: str, message: Any, data: dict[str, Any]) -> None:
        if not isinstance(message, str):
            raise TypeError(f"message must be a string, got {type(message).__name__}")
        self._put_log((self._clock(), level, message, data))

    def log_info(self, message: str, **data: Any) -> None:
        """Queue an info log record."""
        self._log("info", message, data)

    def log_warning(self, message: str, **data: Any) -> None:
        """Queue a warning log record."""
        self._log("warning", message, data)

    def log_error(self, message: str, error: BaseException | None = None, **data: Any) -> None:
        """Queue an error log record; ``error`` adds its text and type."""
        if error is not None:
            data = {"error": str(error), "error_type": type(error).__name__, **data}
        self._log("error", message, data)

    # -- readers ---------------------------------------------------------------
    def get_metrics(self, metric_name: str, window: timedelta | float = timedelta(minutes=5)) -> WindowStats:
        """mean, min, max, count, sum, std, p50, p95, p99 and last over the trailing window.

        The keys are the same for an unknown metric, an empty window and a
        full one; the result is falsy when the window holds no point.
        """
        name = check_name(metric_name)
        start = self._clock() - to_seconds(window)
        return self.store.window_stats(name, start)

    def get_total_token_usage(self, window: timedelta | float | None = None) -> TokenUsageReport:
        """Prompt, completion and total tokens per model: over the whole run, or the trailing window.

        The whole-run totals are kept as points arrive, so they stay exact
        after the store has forgotten old points; a window reads the store.
        """
        if window is None:
            return self._rt.token_totals.report()
        return token_usage(self.store, self._clock() - to_seconds(window))

    def stats(self) -> dict[str, Any]:
        """Counts: recorded, processed, dropped by reason, handler errors, queue depth (and per kind)."""
        return self._rt.stats()

    # -- exports, DataFrames and plots (genmon.exporters, genmon.plots) ---------
    def export_metrics(
        self, output_path: str | Path, format: str = "json", window: timedelta | float | None = None
    ) -> list[Path]:
        """Write the points (all retained, or the trailing window) as json, csv, excel/xlsx or parquet.

        Returns the files written, the main one first; see ``genmon.exporters``.
        """
        from genmon.exporters import views

        return views.export_metrics(self, output_path, format, window)

    def save_metrics(self) -> Path:
        """Write every retained point to ``log_dir/metrics_<YYYYmmdd_HHMMSS>.json`` and return its path."""
        from genmon.exporters import views

        return views.save_metrics(self)

    def to_dataframe(self, metric: str | None = None, window: timedelta | float | None = None) -> Any:
        """A pandas DataFrame of points: metric, timestamp (local, tz-aware), value, metadata columns."""
        from genmon.exporters import views

        return views.to_dataframe(self, metric, window)

    def summary(self, window: timedelta | float | None = None, by: str | list[str] | None = None) -> Any:
        """A DataFrame of count, mean, std, min, p50, p95, p99, max, last per metric (and per ``by`` value)."""
        from genmon.exporters import views

        return views.summary(self, window, by)

    def visualize_metrics(
        self, save_dir: str | Path | None = None, figsize: tuple[float, float] = (12, 6), return_figures: bool = False
    ) -> Any:
        """Save the standard charts and overview.png (default ``log_dir/plots``); return the paths (or figures)."""
        from genmon.plots import views

        return views.visualize_metrics(self, save_dir, figsize, return_figures)

    def plot_metric(
        self,
        metric_name: str,
        window: timedelta | float = timedelta(hours=1),
        rolling_window: int = 10,
        figsize: tuple[float, float] = (12, 8),
    ) -> Any:
        """A matplotlib Figure of one metric over the trailing window with a rolling mean."""
        from genmon.plots import views

        return views.plot_metric(self, metric_name, window, rolling_window, figsize)

    # -- alerts ----------------------------------------------------------------
    def check_alerts(self, timeout: float | None = None) -> list[Alert]:
        """Run the alert rules now and return the alerts fired or resolved.

        First waits (up to ``timeout`` seconds; None: as long as it takes)
        until every point recorded before the call is in the store. Each
        alert goes to the log and to the alert handlers (not after close).
        """
        self.sync_store(timeout)
        return self.alerts.run()

    def add_rule(self, rule: Rule) -> Rule:
        """Add an alert rule (a ``ThresholdRule``, ``NoDataRule`` or any ``Rule``); same name replaces."""
        return self.alerts.add_rule(rule)

    def set_threshold(self, metric: str, value: float, **options: Any) -> ThresholdRule:
        """Alert when the mean of ``metric`` over the window exceeds ``value`` (mtaio's style).

        ``options`` are ``ThresholdRule`` fields (statistic, comparison, window,
        level, min_samples, name, ...); the rule is named ``threshold:<metric>``.
        """
        return self.alerts.set_threshold(metric, value, **options)

    def on_threshold_exceeded(self, *names_or_handler: Any) -> Any:
        """Decorator registering an alert handler, sync or ``async def``.

        ``@monitor.on_threshold_exceeded`` receives every alert;
        ``@monitor.on_threshold_exceeded("success_rate", "high_error_rate")``
        only those of the named rules or metrics.
        """
        return threshold_decorator(self.alert_handlers, names_or_handler)

    # -- tracked calls, events, resources, profiling (genmon.monitor.tracking...) --
    def track(
        self,
        operation: str,
        *,
        span_type: str = "LLM",
        model_name: str | None = None,
        component: str | None = None,
        **metadata: Any,
    ) -> Tracker:
        """Track a call as a span: ``with``, ``async with`` or a decorator of sync and async functions.

        On exit it records generation_time, success_rate, error_rate,
        model_usage:<model>, token counts and ``cost_usd`` with operation,
        component, model_name and span_type in their metadata, and the span
        (see ``get_spans``). An exception is recorded and re-raised unchanged.
        ``with monitor.track("chat", model_name="gpt-4o") as span:`` gives a
        ``Span`` with ``set_usage``, ``set_result(response)`` and ``set_cost``.
        """
        return self._rt.tracking.tracker(operation, span_type, model_name, component, metadata)  # type: ignore[no-any-return]

    def current_span(self) -> Span | None:
        """The innermost tracked call running in this context (thread or task), or None."""
        return current_span()

    def get_spans(
        self,
        name: str | None = None,
        operation: str | None = None,
        parent_call_id: Any = ANY,
        window: timedelta | float | None = None,
        limit: int | None = None,
        span_type: str | None = None,
    ) -> list[SpanRecord]:
        """Recent finished spans (the last 100,000) in the order they finished, filtered by every argument given.

        ``name`` and ``operation`` are the same filter; ``parent_call_id=None``
        selects root spans; ``limit`` keeps the most recent ones. Call
        ``sync_store()`` or ``flush()`` first to include spans still queued.
        """
        if name is not None and operation is not None and name != operation:
            raise ValueError("name and operation are the same filter: give one")
        start = None if window is None else self._clock() - to_seconds(window)
        return self.span_store.query(name or operation, parent_call_id, span_type, start, limit)

    def attach(self, generator: Any, *, methods: list[str] | None = None, span_type: str | None = None) -> Any:
        """Monitor ``generator`` in one line and return it.

        Sets ``generator.monitor`` when it has that attribute (afterimage's
        generators); otherwise wraps its generation methods (and those of the
        LLM clients it holds) in ``track``. See ``genmon.monitor.attach``.
        """
        attach_generator(self._rt.tracking, self, generator, methods, span_type)
        return generator

    def on(self, event: str, callback: Callable[[Event], Any] | None = None) -> Any:
        """Call ``callback(event)`` on generation_start, generation_end, generation_error, alert, flush or close.

        Sync or async; each call runs off the generator's thread with
        ``callback_timeout``; errors and timeouts are counted in ``errors``.
        Without ``callback`` it returns a decorator.
        """
        if callback is None:
            return lambda fn: self.on(event, fn)
        events = self._rt.events
        events.on(event, callback)
        if event == "alert" and events.emit_alert not in self.alert_handlers:
            self.alert_handlers.append(events.emit_alert)
        return callback

    def sample_resources(self, interval: float = DEFAULT_INTERVAL_S) -> ResourceSampler:
        """Start recording ``process/*`` and ``system/*`` metrics every ``interval`` seconds.

        Returns the sampler (``stop()``, ``sample_once()``); a running one is
        replaced. The sampler is stopped by ``close()``.
        """
        if self._closed:
            raise MonitorClosedError("the monitor is closed: nothing more can be sampled")
        sampler = ResourceSampler(self.record_metrics, interval, lambda e: self.errors.record("resource_sampler", e))
        if self._rt.sampler is not None:
            self._rt.sampler.stop()
        self._rt.sampler = sampler.start()
        return sampler

    def profile(self, name: str) -> ProfileScope:
        """Time a block or function (sync or async) and its memory delta under ``name``.

        Records ``profile/<name>/duration_s`` and ``profile/<name>/memory_delta_bytes``.
        """
        return self._rt.profiler.scope(name)

    def get_profile(self) -> dict[str, dict[str, float]]:
        """Per profiled name: count, total_s, mean_s, p95_s, max_s and memory_delta_mean_bytes."""
        return self._rt.profiler.report()

    # -- Prometheus (genmon.handlers.prometheus_export) ---------------------------
    def serve_prometheus(self, port: int = 0, addr: str = "127.0.0.1", *, registry: Any = None, **options: Any) -> Any:
        """Serve the metrics for Prometheus at ``http://addr:port/metrics`` until ``close()``.

        Returns the ``PrometheusServer`` (its ``port`` when 0 was asked). Counts
        start at the call unless a ``PrometheusCollector`` is in ``metric_handlers``;
        ``options`` are ``PrometheusCollector`` arguments. Needs ``genmon[prometheus]``.
        """
        from genmon.handlers.prometheus_export import serve_monitor

        return serve_monitor(self, port, addr, registry, **options)

    def push_prometheus(self, gateway: str, job: str = "genmon", interval: float | None = 15.0, **options: Any) -> Any:
        """Push the metrics to a Pushgateway every ``interval`` seconds and at ``close()``."""
        from genmon.handlers.prometheus_export import push_monitor

        return push_monitor(self, gateway, job, interval, **options)

    # -- lifecycle -------------------------------------------------------------
    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything recorded before the call reached the store, files and handlers.

        Returns False if that did not happen within ``timeout`` seconds
        (None waits as long as it takes).
        """
        return self._rt.flush(deadline_in(timeout))

    def sync_store(self, timeout: float | None = None) -> bool:
        """Wait until every point and span recorded before the call is in the store (handlers not awaited)."""
        return self._rt.sync_store(deadline_in(timeout))

    def close(self, timeout: float | None = None) -> bool:
        """Drain the queues, flush and close handlers and stop the threads; idempotent.

        Waits at most ``timeout`` seconds (default ``shutdown_timeout``) and
        returns True when everything was delivered in time.
        """
        if self._closed:
            return self._rt.stopped()
        self._closed = True
        _LIVE.discard(self)
        return self._rt.close(deadline_in(self.shutdown_timeout if timeout is None else timeout))

    def shutdown(self) -> None:
        """afterimage's name for ``close()`` bounded by ``shutdown_timeout``."""
        self.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
