"""MlflowHandler: metrics into an MLflow run with steps, spans as MLflow traces, artifacts at close.

Needs ``pip install 'genmon[mlflow]'`` (mlflow-skinny). Every MLflow call
happens on the handler's own thread (``genmon.handlers._batching``), with
the tracking URI given here: nothing is set globally (no
``mlflow.set_tracking_uri``, no active run, no global tracer), so the
user's own MLflow code is left alone, and ``flush(timeout)`` /
``close(timeout)`` hold their bounds even when MLflow's exit drain would not.

- Metrics: ``log_batch`` calls of up to 1,000 points, each with its own
  timestamp; a point recorded with a step (``record_metric(..., step=3)``,
  or a whole number >= 0 under its ``step`` metadata key) is logged at that
  step, the others of a metric get steps 0, 1, 2... in recording order. Names
  are sanitised to MLflow's characters (letters, digits, ``_ - . : / space``).
- Spans: each call tree becomes one MLflow trace linked to the run; a span
  keeps its type (LLM, AGENT, TOOL...), its times and status, and carries
  ``genmon.call_id``, ``genmon.parent_call_id``, ``genmon.duration_s``,
  ``genmon.success``, tokens (also as MLflow's ``mlflow.chat.tokenUsage``),
  ``genmon.cost_usd`` and an ``exception`` event when it failed.
- At close (when attached to a monitor): the standard plots (``plots/``) and
  a Parquet export of every retained point (``metrics.parquet``) are logged
  as run artifacts, then the run is marked FINISHED.

MLflow's own HTTP client retries and times out by itself
(``MLFLOW_HTTP_REQUEST_MAX_RETRIES``, ``MLFLOW_HTTP_REQUEST_TIMEOUT``); lower
them to give up sooner on a dead server. genmon's close returns at its
deadline either way.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from genmon.handlers._batching import SendAbandoned, Task
from genmon.handlers._extras import import_extra
from genmon.handlers._mlflow_support import (
    RETRY_CODES,
    check_store_supported,
    is_requests_network_error,
    mlflow_metric_key,
)
from genmon.handlers._mlflow_traces import SpanTrees, Tree, trace_entities
from genmon.handlers._remote import RemoteSink
from genmon.handlers._retry import RetryableError, close_timeout
from genmon.records.steps import point_step

MAX_METRICS_PER_CALL = 1000  # MLflow's log_batch limit
# A new sqlite store takes 10-15 s to create on a loaded 2-core machine, and artifacts
# take their time to upload: a default close waits this long for this sink.
DEFAULT_CLOSE_BUDGET_S = 60.0
KILL_TIMEOUT_S = 2.0


class _StepError(Exception):
    """A step of a batch failed; ``delivered`` records of the batch got through before it."""

    def __init__(self, message: str, delivered: int) -> None:
        super().__init__(message)
        self.delivered = delivered


class MlflowHandler(RemoteSink):
    """Logs metrics, spans and end-of-run artifacts to MLflow from its own thread.

    Args:
        tracking_uri: e.g. ``http://127.0.0.1:5000`` or ``sqlite:///mlflow.db``;
            None uses MLflow's default (``MLFLOW_TRACKING_URI`` or its local default).
        experiment_name: created when missing; None uses MLflow's default experiment.
        run_name, tags: of the run created at the first delivery.
        log_spans: send spans as traces.
        log_artifacts: at close, log the plots and a Parquet export (needs the monitor).
        run_id: log into this existing run instead of creating one.
        artifact_location: where a newly created experiment keeps its artifacts.
        batch_size, flush_interval, max_buffer, max_retries, backoff, max_backoff:
            as for ``HttpHandler``.
        name: the handler's name in error counts and its thread name.

    Example:
        >>> sink = MlflowHandler("http://127.0.0.1:5000", experiment_name="generation")  # doctest: +SKIP
        >>> with GenerationMonitor(metric_handlers=[sink]) as monitor:  # doctest: +SKIP
        ...     monitor.track_generation(1.2, True, model_name="gpt-4o")
        >>> sink.run_id  # doctest: +SKIP
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        experiment_name: str | None = None,
        run_name: str | None = None,
        tags: dict[str, str] | None = None,
        log_spans: bool = True,
        log_artifacts: bool = True,
        *,
        run_id: str | None = None,
        artifact_location: str | None = None,
        batch_size: int = MAX_METRICS_PER_CALL,
        flush_interval: float = 5.0,
        max_buffer: int = 100_000,
        max_retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 10.0,
        name: str = "MlflowHandler",
        close_budget: float | None = DEFAULT_CLOSE_BUDGET_S,
    ) -> None:
        self._keep_config(locals())
        self._mlflow = import_extra("mlflow", "mlflow-skinny", "mlflow")
        check_store_supported(tracking_uri)
        if close_budget is not None and (isinstance(close_budget, bool) or not close_budget > 0):
            raise ValueError(f"close_budget must be seconds > 0 or None, got {close_budget!r}")
        self.close_budget_s = close_budget
        self._killed = False
        self.tracking_uri = tracking_uri
        self.experiment_name = experiment_name
        self.run_name = run_name
        self.tags = dict(tags or {})
        self.log_spans = log_spans
        self.log_artifacts = log_artifacts
        self.name = name
        self.run_id: str | None = run_id
        self.artifact_location = artifact_location
        self.experiment_id: str | None = None
        self.metrics_logged = 0
        self.spans_logged = 0
        self.traces_logged = 0
        self.artifacts_logged: list[str] = []
        self._client: Any = None
        self._tracing: Any = None
        self._steps: dict[str, int] = {}
        self._trees = SpanTrees()
        self._closes = 0
        self._artifacts_done = False
        self._plan_for: list[Any] | None = None  # the batch whose steps are in _plan
        self._plan: list[tuple[Any, int]] = []
        self._plan_done = 0  # records of that batch already delivered
        self._start_sender(
            "mlflow",
            self._send,
            batch_size=batch_size,
            flush_interval=flush_interval,
            max_buffer=max_buffer,
            max_retries=max_retries,
            backoff=backoff,
            max_backoff=max_backoff,
        )
        # Create the run (and, for a new sqlite store, its tables: seconds) right away on the
        # handler's thread, so a short job's close does not have to wait for it.
        self._sender.put_task("setup")

    def __repr__(self) -> str:
        return f"MlflowHandler(experiment_name={self.experiment_name!r}, run_id={self.run_id!r})"

    # -- records in (the monitor's lanes; never blocks) ----------------------------------------
    def handle_batch(self, points: list[Any]) -> None:
        """Metric points; log records (dicts) are not MLflow's business and are ignored."""
        if points and isinstance(points[0], tuple):
            self._sender.put_many([("metric", p) for p in points])

    def handle_metric(self, metric_name: str, value: float, metadata: dict[str, Any] | None = None) -> None:
        """One point (afterimage's protocol); timed when the handler receives it."""
        self._sender.put(("metric", (metric_name, value, time.time(), metadata)))

    def handle_span_batch(self, spans: list[Any]) -> None:
        """Finished spans (``SpanRecord``); sent as traces when ``log_spans``."""
        if self.log_spans:
            self._sender.put_many([("span", s) for s in spans])

    def handle_span(self, span: Any) -> None:
        self.handle_span_batch([span])

    # -- lifecycle -------------------------------------------------------------------------
    def close(self, timeout_s: float | None = 5.0) -> bool:
        """Log what is buffered; at the last close also waiting spans, artifacts and the run's end.

        A handler on several of the monitor's lanes is closed once per lane:
        the last of those closes finishes the run. Never waits past ``timeout_s``
        (or, called by a lane, the monitor's close deadline when that is later).
        """
        self._closes += 1
        # Closed once per pipeline feeding it (metrics, spans): the last close finishes the run.
        expected = self._context.lanes_of(self) if self._context is not None else 1
        final = self._closes >= max(expected, 1)
        self._sender.put_task("finish" if final else "finish-lane")
        ok = self._sender.close(close_timeout(self._context, timeout_s))
        if not ok and final:
            self._give_up()
        return ok

    def _give_up(self) -> None:
        """The close deadline passed: mark the run KILLED, now or as soon as the set-up still running makes it."""
        self._killed = True
        if self.run_id is None or self._client is None:
            return  # _send marks it when (if ever) the set-up still in flight creates it
        # Bounded: a second call on a store that is hanging must not hold the close for long.
        marker = threading.Thread(target=self._mark_killed, name=f"genmon-mlflow-kill-{self.name}", daemon=True)
        marker.start()
        marker.join(KILL_TIMEOUT_S)

    def _mark_killed(self) -> None:
        try:
            self._client.set_terminated(self.run_id, "KILLED")
        except Exception as error:  # noqa: BLE001 - reported; the run may stay RUNNING only if MLflow itself is down
            self._record_error(error)

    def stats(self) -> dict[str, Any]:
        """The sender's counts plus metrics_logged, spans_logged, traces_logged, spans_waiting, artifacts."""
        out = self._sender.stats()
        out.update(
            metrics_logged=self.metrics_logged,
            spans_logged=self.spans_logged,
            traces_logged=self.traces_logged,
            partial_traces=self._trees.partial_traces,
            spans_waiting=len(self._trees),
            artifacts=list(self.artifacts_logged),
        )
        return out

    # -- the sender thread ---------------------------------------------------------------------
    def _send(self, batch: list[Any], budget_s: float | None) -> None:
        try:
            self._ensure_run()
        except Exception as error:  # noqa: BLE001 - classified below
            raise self._classify(error, 0) from None
        if self._killed:  # the close gave up while the run was being set up: never leave it RUNNING
            self._mark_killed()
            raise SendAbandoned("the close deadline passed while the run was being set up: run marked KILLED")
        if self._plan_for is not batch:
            # Planned once per batch: a retry resumes at the failed step, so nothing is logged twice.
            self._plan_for, self._plan, self._plan_done = batch, self._make_plan(batch), 0
        while self._plan:
            step, records = self._plan[0]
            try:
                step()
            except Exception as error:  # noqa: BLE001 - classified below
                raise self._classify(error, self._plan_done) from None
            self._plan.pop(0)
            self._plan_done += records
        self._plan_for = None

    def _make_plan(self, batch: list[Any]) -> list[tuple[Any, int]]:
        plan: list[tuple[Any, int]] = []
        records = [item for item in batch if not isinstance(item, Task)]
        metrics = [r for kind, r in records if kind == "metric"]
        for start in range(0, len(metrics), MAX_METRICS_PER_CALL):
            chunk = self._metric_entities(metrics[start : start + MAX_METRICS_PER_CALL])
            plan.append((lambda chunk=chunk: self._log_metrics(chunk), len(chunk)))
        spans = [r for kind, r in records if kind == "span"]
        trees = self._trees.add(spans) if spans else []
        tasks = {item.payload for item in batch if isinstance(item, Task)}
        if "finish" in tasks:
            trees += self._trees.drain()  # the last close: nothing more will join the waiting spans
        # Spans held for their root count as delivered to this handler now.
        plan.append((lambda: self._log_trees(trees), len(spans)))
        if tasks & {"finish", "finish-lane"}:
            final = "finish" in tasks
            plan.append((lambda: self._finish(final), 0))
        return plan

    def _ensure_run(self) -> None:
        if self._client is None:
            from mlflow import MlflowClient

            self._client = MlflowClient(self.tracking_uri)
        client = self._client
        if self.experiment_id is None:
            if self.run_id is not None:
                self.experiment_id = client.get_run(self.run_id).info.experiment_id
            elif self.experiment_name is None:
                self.experiment_id = "0"  # MLflow's Default experiment
            else:
                found = client.get_experiment_by_name(self.experiment_name)
                if found is None:
                    try:
                        self.experiment_id = client.create_experiment(
                            self.experiment_name, artifact_location=self.artifact_location
                        )
                    except self._mlflow.exceptions.MlflowException:
                        found = client.get_experiment_by_name(self.experiment_name)  # created meanwhile elsewhere
                        if found is None:
                            raise
                        self.experiment_id = found.experiment_id
                else:
                    self.experiment_id = found.experiment_id
        if self.run_id is None:
            from genmon._version import __version__

            tags = {"mlflow.source.name": "genmon", "genmon.version": __version__, **self.tags}
            run = client.create_run(self.experiment_id, run_name=self.run_name, tags=tags)
            self.run_id = run.info.run_id

    def _metric_entities(self, points: list[tuple[str, float, float, Any]]) -> list[Any]:
        from mlflow.entities import Metric

        out = []
        steps = self._steps
        for name, value, ts, meta in points:
            key = mlflow_metric_key(name)
            step = point_step(meta)
            if step is None:  # no step of its own: the metric's points are numbered in order
                step = steps.get(key, 0)
                steps[key] = step + 1
            out.append(Metric(key, float(value), int(ts * 1000), step))
        return out

    def _log_metrics(self, metrics: list[Any]) -> None:
        self._client.log_batch(self.run_id, metrics=metrics, synchronous=True)
        self.metrics_logged += len(metrics)

    def _log_trees(self, trees: list[Tree]) -> None:
        if not trees:
            return
        if self._tracing is None:
            from mlflow.tracing.client import TracingClient

            self._tracing = TracingClient(self.tracking_uri)
        entities = [trace_entities(tree, str(self.experiment_id), self.run_id) for tree in trees]
        spans = [span for _, tree_spans, _ in entities for span in tree_spans]
        try:
            self._tracing.log_spans(str(self.experiment_id), spans)
            spans_in_store = True
        except NotImplementedError:
            spans_in_store = False  # a store without span logging: the spans go to trace artifacts
        for info, tree_spans, is_new in entities:
            if is_new:
                returned = self._tracing.start_trace(info)
                in_store = returned.tags.get("mlflow.trace.spansLocation") == "TRACKING_STORE"
                if not (spans_in_store and in_store):
                    from mlflow.entities import TraceData

                    self._tracing._upload_trace_data(returned, TraceData(spans=tree_spans))
                self.traces_logged += 1
            self.spans_logged += len(tree_spans)

    def _finish(self, final: bool) -> None:
        if self.log_artifacts and not self._artifacts_done and self._context is not None:
            self._log_monitor_artifacts()
            self._artifacts_done = True
        if final:
            self._client.set_terminated(self.run_id, "FINISHED")

    def _log_monitor_artifacts(self) -> None:
        from genmon.exporters.parquet_file import ParquetExporter
        from genmon.plots.charts import save_standard_charts

        # The span lane may close while the metric worker still drains: the
        # snapshot waits (bounded by the close) until every point is stored.
        series = self._context.stored_snapshot()
        with tempfile.TemporaryDirectory(prefix="genmon-mlflow-") as tmp:
            root = Path(tmp)
            ParquetExporter().export(series, root / "metrics.parquet")
            paths, _figures = save_standard_charts(series, root / "plots", (12, 6))
            self._client.log_artifact(self.run_id, str(root / "metrics.parquet"))
            if paths:
                self._client.log_artifacts(self.run_id, str(root / "plots"), artifact_path="plots")
            self.artifacts_logged = ["metrics.parquet", *(f"plots/{p.name}" for p in paths)]

    def _classify(self, error: BaseException, delivered: int) -> Exception:
        text = f"MLflow {type(error).__name__}: {str(error)[:500]}"
        code = getattr(error, "error_code", None)
        transient = (
            isinstance(error, (OSError, TimeoutError)) or code in RETRY_CODES or is_requests_network_error(error)
        )
        out: Exception = RetryableError(text) if transient else _StepError(text, delivered)
        out.delivered = delivered  # type: ignore[attr-defined]
        return out
