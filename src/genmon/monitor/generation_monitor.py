"""GenerationMonitor: the façade. Each public method validates its call and delegates to the runtime's parts."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from genmon.monitor import lifecycle
from genmon.monitor.engine.queueing import deadline_in
from genmon.monitor.recorder import fast_record_metric
from genmon.monitor.settings import DEFAULT_INTERVAL_S, HandlerListAttribute, Settings, shard_id
from genmon.monitor.views import MonitorViews
from genmon.records.redaction import redact_secrets
from genmon.records.spans import ANY, SpanRecord
from genmon.records.steps import with_step
from genmon.records.types import Alert, RunInfo, TokenUsageReport, WindowStats
from genmon.records.validation import check_metadata, check_name, check_value, pack_metadata, to_seconds

if TYPE_CHECKING:  # the parts the runtime builds: loaded with the first monitor, not with `import genmon`
    from genmon.handlers.base import LogHandler, MetricHandler
    from genmon.monitor.alerts.rules import Rule, ThresholdRule
    from genmon.monitor.resources.profiler import Profiler
    from genmon.monitor.resources.sampler import ResourceSampler
    from genmon.monitor.runtime import Runtime
    from genmon.monitor.tracking.events import Event
    from genmon.monitor.tracking.track import Span, Tracker
    from genmon.records.resources import ResourceSnapshot


class GenerationMonitor(MonitorViews):
    """Records metrics and logs without waiting; workers persist them and feed handlers.

    A drop-in replacement for ``afterimage.GenerationMonitor``: the same
    constructor keywords, methods, ``Alert`` fields, handler protocols and
    metrics.jsonl lines. The keywords beyond afterimage's are documented in
    the README (engine, alerts, tracking); ``genmon.monitor.settings`` checks them all.

    Args:
        log_dir: where metrics.jsonl and genmon.log go (default ``.genmon/<time>``).
        metric_handlers: sinks for points; None means the metrics.jsonl file, ``[]`` none.
        log_handlers: sinks for log records; None means genmon.log, ``[]`` none.
        alert_handlers: callables receiving each ``Alert``.
        metrics_interval: seconds between alert rule passes (<= 0: no alert thread).
        shutdown_timeout: seconds ``shutdown()`` and the exit drain wait at most.

    Example:
        >>> with GenerationMonitor(log_dir="run") as monitor:  # doctest: +SKIP
        ...     monitor.track_generation(1.2, True, model_name="gpt-4o", prompt_token_count=120)
        ...     monitor.get_metrics("generation_time")["p95"]
    """

    log_dir: Path

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
        handle_signals: bool = True,
        run_name: str | None = None,
        tags: Mapping[str, str] | None = None,
        config: Mapping[str, Any] | None = None,
        send_resolved: bool = True,
        capture_io: bool = False,
        capture_max_chars: int = 10_000,
        capture_redact: Callable[[Any], Any] | None = redact_secrets,
    ) -> None:
        settings = Settings.from_keywords(locals())
        self._settings = settings
        # afterimage's public attributes; the handler lists are live properties (below).
        self.log_dir = settings.log_dir
        self.alert_thresholds = settings.alert_thresholds
        self.metrics_interval = settings.metrics_interval
        self.shutdown_timeout = settings.shutdown_timeout_s
        self.token_usage_callback = settings.token_usage_callback
        self.token_usage_callback_interval_seconds = settings.token_usage_interval_s
        self._clock = settings.clock
        self._closed = False
        from genmon.monitor.runtime import Runtime  # the store and numpy load with the first monitor, not the import

        self._install(Runtime(settings, self.record_metrics))
        self.handles_signals = settings.handle_signals  # drained on SIGTERM (see genmon.monitor.lifecycle)
        lifecycle.register(self)
        if settings.sampler_interval_s is not None:
            self.sample_resources(settings.sampler_interval_s)

    def _install(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._metric_queue = runtime.metric_queue  # the record path reads it directly: one lookup
        if type(self).record_metric is GenerationMonitor.record_metric:
            full_path = GenerationMonitor.record_metric.__get__(self)
            fast = fast_record_metric(runtime.metric_queue, self._clock, full_path)
            self.record_metric = functools.update_wrapper(fast, GenerationMonitor.record_metric)  # type: ignore[method-assign]

    def _restart_as_shard(self) -> None:
        """In a forked child: drop the parent's backlog and threads, go on as shard ``<host>-<pid>``."""
        if self._closed:
            return
        previous = self._rt
        self._settings.shard = shard_id()
        from genmon.monitor.runtime import Runtime

        self._install(Runtime(self._settings, self.record_metrics, forked=True))
        self._rt.adopt(previous)
        lifecycle.close_at_process_exit(self)

    # afterimage's handler lists, live as there: assigning one or mutating it takes effect at the next batch.
    metric_handlers = HandlerListAttribute()
    log_handlers = HandlerListAttribute()
    alert_handlers = HandlerListAttribute()

    @property
    def run(self) -> RunInfo:
        """The run's name, tags and config (also in ``log_dir/run.json``)."""
        return self._settings.run

    @property
    def closed(self) -> bool:
        """True once ``close()`` (or ``shutdown()``) was called."""
        return self._closed

    @property
    def shard(self) -> str | None:
        """This process's shard name, or None when the monitor writes the plain file names."""
        return self._settings.shard

    # -- producers -------------------------------------------------------------------
    def record_metric(
        self, metric_name: str, value: float, metadata: dict[str, Any] | None = None, step: int | None = None
    ) -> None:
        """Queue one point; ``metadata['timestamp']`` (datetime, epoch or ISO) sets its time, ``step`` its step."""
        if type(metric_name) is not str or not metric_name or not metric_name.isascii():
            metric_name = check_name(metric_name)
        if type(value) is not float or value - value != 0.0:
            value = check_value(value)
        if step is not None:
            metadata = with_step(metadata, step)  # the step is the point's "step" metadata
        if metadata is None:
            item: tuple[str, float, float, dict[str, Any] | None] = (metric_name, value, self._clock(), None)
        else:
            ts, meta = check_metadata(metadata, self._clock())
            item = (metric_name, value, ts, pack_metadata(meta))  # as the fast path puts it: batches stay uniform
        queue = self._metric_queue  # BoundedQueue.put inlined: the hottest call in the library
        if queue.depth() < queue.limit:
            queue.enqueue(item)
        else:
            queue.put(item)

    def record_metrics(
        self, metrics: Mapping[str, float], metadata: dict[str, Any] | None = None, step: int | None = None
    ) -> None:
        """Queue several points at one time with shared metadata (and ``step``); all or nothing."""
        self._rt.recorder.record_metrics(metrics, metadata, step)

    def track_generation(self, duration: float, success: bool, **kwargs: Any) -> None:
        """Record one generation call: time, success and error rates, model, finish reason, tokens."""
        self._rt.recorder.track_generation(duration, success, kwargs)

    def track_evaluation(
        self, duration: float, success: bool, evaluator_type: str, scores: dict[str, Any], **kwargs: Any
    ) -> None:
        """Record one evaluation: its time, each score, its error rate and token usage."""
        self._rt.recorder.track_evaluation(duration, success, evaluator_type, scores, kwargs)

    def log(self, level: str, message: str, timestamp: float | None = None, /, **data: Any) -> None:
        """Queue a log record at ``level`` (debug, info, warning, error, critical), stamped now or at ``timestamp``."""
        self._rt.recorder.log(level, message, timestamp, data)

    def log_info(self, message: str, **data: Any) -> None:
        """Queue an info log record."""
        self.log("info", message, None, **data)

    def log_warning(self, message: str, **data: Any) -> None:
        """Queue a warning log record."""
        self.log("warning", message, None, **data)

    def log_error(self, message: str, error: BaseException | None = None, **data: Any) -> None:
        """Queue an error log record; ``error`` adds its text and type."""
        self._rt.recorder.log("error", message, None, data, error)

    # -- readers (the store, genmon.exporters, genmon.plots) ----------------------------
    def get_metrics(self, metric_name: str, window: timedelta | float = timedelta(minutes=5)) -> WindowStats:
        """mean, min, max, count, sum, std, p50, p95, p99 and last over the trailing window (falsy when empty)."""
        return self.store.window_stats(check_name(metric_name), self._clock() - to_seconds(window))

    def get_total_token_usage(self, window: timedelta | float | None = None) -> TokenUsageReport:
        """Prompt, completion and total tokens per model: over the whole run (exact), or the trailing window."""
        if window is None:
            return self._rt.token_totals.report()
        return self._rt.token_usage(self._clock() - to_seconds(window))

    def stats(self) -> dict[str, Any]:
        """Counts: recorded, processed, dropped by reason, handler errors, queue depth (and per kind)."""
        return self._rt.stats()

    # -- alerts (genmon.monitor.alerts) ------------------------------------------------
    def check_alerts(self, timeout: float | None = None) -> list[Alert]:
        """Run the rules over every point recorded before the call; return the alerts fired or resolved."""
        self.sync_store(timeout)
        return self.alerts.run(wait=True)

    def add_rule(self, rule: Rule) -> Rule:
        """Add an alert rule (a ``ThresholdRule``, ``NoDataRule`` or any ``Rule``); same name replaces."""
        return self.alerts.add_rule(rule)

    def set_threshold(self, metric: str, value: float, **options: Any) -> ThresholdRule:
        """Alert when the mean of ``metric`` over the window exceeds ``value`` (mtaio's style); options are ``ThresholdRule`` fields."""
        return self.alerts.set_threshold(metric, value, **options)

    def on_threshold_exceeded(self, *names_or_handler: Any) -> Any:
        """Decorator registering an alert handler (sync or async), for every alert or those of the named rules or metrics."""
        return self.alerts.decorator(self.alert_handlers, names_or_handler)

    # -- tracked calls, events, resources, profiling (genmon.monitor.tracking, .resources) --
    def track(
        self, operation: str, *, span_type: str = "LLM", model_name: str | None = None, component: str | None = None,
        capture_io: bool | None = None, step: int | None = None, **metadata: Any,
    ) -> Tracker:  # fmt: skip
        """Track a call as a span (``with``, ``async with`` or a decorator); it records track_generation's points.

        ``capture_io`` keeps the call's arguments and return value (None: the monitor's ``capture_io``);
        ``step`` stamps its points with a training or evaluation step.
        """
        return self._rt.tracking.tracker(operation, span_type, model_name, component, metadata, capture_io, step)  # type: ignore[no-any-return]

    def current_span(self) -> Span | None:
        """The innermost tracked call running in this context (thread or task), or None."""
        from genmon.monitor.tracking.span import current_span

        return current_span()

    def get_spans(
        self, name: str | None = None, operation: str | None = None, parent_call_id: Any = ANY,
        window: timedelta | float | None = None, limit: int | None = None, span_type: str | None = None,
    ) -> list[SpanRecord]:  # fmt: skip
        """The last finished spans matching every filter given (``parent_call_id=None``: root spans).

        Each call builds the ``SpanRecord``s it returns from the store's plain
        tuples, after filtering: all 100,000 kept spans take about 0.15 s,
        ``limit=10`` about 3 ms.
        """
        return self._rt.query_spans(name, operation, parent_call_id, window, limit, span_type)

    def attach(
        self, generator: Any, *, methods: list[str] | None = None, span_type: str | None = None, depth: int = 1
    ) -> Any:
        """Monitor ``generator`` and the LLM clients it holds ``depth`` attributes down; returns it (see ``tracking.attach``)."""
        self._rt.attach(self, generator, methods, span_type, depth)
        return generator

    def on(self, event: Any = None, callback: Callable[[Event], Any] | None = None) -> Any:
        """Call ``callback(event)`` (sync or async, isolated) on an event, a list of events, or every event
        (``on(callback)``); without a callback, a decorator."""
        return self._rt.events.subscribe(event, callback)

    def emit(self, name: str, /, *, source: str | None = None, **data: Any) -> None:
        """Emit a custom event ``name`` with ``data`` to its callbacks (a no-op without any); ``source`` defaults to
        the calling module."""
        self._rt.events.emit_custom(name, source, data)

    def sample_resources(self, interval: float = DEFAULT_INTERVAL_S) -> ResourceSampler:
        """Record ``process/*`` and ``system/*`` metrics every ``interval`` seconds until ``close()``; replaces a running sampler."""
        return self._rt.start_sampler(self.record_metrics, interval)

    def resource_snapshot(self, interval: float | None = None) -> ResourceSnapshot:
        """CPU, load, memory, process, disk and network now; shares and rates since the previous call (or over ``interval`` s)."""
        return self._rt.snapshots.take(interval)

    def profile(self, name: Any = None, *, metadata: dict[str, Any] | None = None) -> Any:
        """Time a block or function (sync or async; ``@monitor.profile`` bare too) and its memory delta under ``name``."""
        return self._rt.profiler.profile(name, metadata)

    def get_profile(self, name: str | None = None) -> dict[str, Any]:
        """Totals of ``name`` (count, total_s, mean_s, p95_s, max_s, memory_delta_mean_bytes), or of every profiled name."""
        return self._rt.profiler.report(name)

    @property
    def profiler(self) -> Profiler:
        """The profiler: ``enabled``, ``max_runs``, ``collect_stack``, ``runs(name)``, ``reset()``."""
        return self._rt.profiler

    # -- lifecycle ---------------------------------------------------------------------
    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything recorded before the call reached the store, files and handlers; False on timeout."""
        return self._rt.flush(deadline_in(timeout))

    def sync_store(self, timeout: float | None = None) -> bool:
        """Wait until every point and span recorded before the call is in the store (handlers not awaited)."""
        return self._rt.sync_store(deadline_in(timeout))

    def close(self, timeout: float | None = None) -> bool:
        """Drain, flush and close handlers, stop the threads, within ``timeout`` (default ``shutdown_timeout``)."""
        if self._closed:
            return self._rt.stopped()
        self._closed = True
        lifecycle.unregister(self)
        # Without a timeout, sinks with a close budget of their own (MLflow) may use it.
        return self._rt.close(deadline_in(self.shutdown_timeout if timeout is None else timeout), timeout is None)

    def shutdown(self) -> None:
        """afterimage's name for ``close()`` bounded by ``shutdown_timeout``."""
        self.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
