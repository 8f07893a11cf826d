"""MlflowHandler: metrics into an MLflow run with steps, spans as MLflow traces, a summary and artifacts at close.

Needs ``pip install 'genmon[mlflow]'`` (mlflow-skinny). Every MLflow call
happens on the handler's own thread (``genmon.handlers._batching``), with
the tracking URI given here: nothing is set globally (no
``mlflow.set_tracking_uri``, no active run, no global tracer), so the
user's own MLflow code is left alone, and ``flush(timeout)`` /
``close(timeout)`` hold their bounds even when MLflow's exit drain would not.

- The run: named after the monitor's ``run_name`` (unless the handler has its
  own), tagged with the monitor's ``tags`` and the handler's, its params the
  monitor's ``config`` (``genmon.handlers._mlflow_run``), logged as soon as
  the monitor binds the handler.
- Metrics: ``log_batch`` calls of up to 1,000 points, each with its own
  timestamp; a point recorded with a step (``record_metric(..., step=3)``,
  or a whole number >= 0 under its ``step`` metadata key) is logged at that
  step, the others of a metric get steps 0, 1, 2... in recording order. Names
  are made MLflow-safe (letters, digits, ``_ - . : / space``).
- Spans: one MLflow trace per unit of work (``trace_per="unit"``: each call of
  a batch apart, the batch call its own short trace) or per call tree
  (``trace_per="root"``); see ``genmon.handlers._mlflow_traces``. A span
  keeps its type (LLM, AGENT, TOOL...), its times and status, and carries
  ``genmon.call_id``, ``genmon.parent_call_id``, ``genmon.duration_s``,
  ``genmon.success``, tokens (also as MLflow's ``mlflow.chat.tokenUsage``),
  ``genmon.cost_usd`` and an ``exception`` event when it failed.
- At close (when attached to a monitor): summary metrics (``summary/...``:
  calls, error rate, latency percentiles, tokens, cost, per model), then the
  artifacts (``genmon.handlers._mlflow_artifacts``: metrics.parquet,
  report.html, plots/, spans.jsonl) while the close budget lasts, then the
  run is marked FINISHED.

MLflow's own HTTP client retries and times out by itself
(``MLFLOW_HTTP_REQUEST_MAX_RETRIES``, ``MLFLOW_HTTP_REQUEST_TIMEOUT``); lower
them to give up sooner on a dead server. genmon's close returns at its
deadline either way.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from genmon.handlers._batching import SendAbandoned, Task
from genmon.handlers._extras import import_extra
from genmon.handlers._mlflow_artifacts import RunContents, log_close_artifacts, run_contents
from genmon.handlers._mlflow_run import log_run_info, log_summary, run_tags
from genmon.handlers._mlflow_support import (
    MAX_METRICS_PER_CALL,
    check_store_supported,
    classify,
    experiment_id_for,
    mlflow_key,
    tracking_redactor,
)
from genmon.handlers._mlflow_traces import SpanTrees, TraceWriter, Tree
from genmon.handlers._remote import RemoteSink
from genmon.handlers._retry import RetryableError, close_timeout
from genmon.records.steps import point_step

# A new sqlite store takes 10-15 s to create on a loaded 2-core machine, and artifacts
# take their time to upload: a default close waits this long for this sink.
DEFAULT_CLOSE_BUDGET_S = 60.0
KILL_TIMEOUT_S = 2.0
TRACE_PER = ("unit", "root")


class MlflowHandler(RemoteSink):
    """Logs metrics, spans, params, a summary and end-of-run artifacts to MLflow from its own thread.

    Args:
        tracking_uri: e.g. ``http://127.0.0.1:5000`` or ``sqlite:///mlflow.db``;
            None uses MLflow's default (``MLFLOW_TRACKING_URI`` or its local default).
        experiment_name: created when missing; None uses MLflow's default experiment.
        run_name: the run's name (default: the monitor's ``run_name``).
        tags: run tags, beside (and over) the monitor's ``tags``.
        log_spans: send spans as traces.
        log_artifacts: log the monitor's config as config.json, and at close
            metrics.parquet, report.html, the plots and spans.jsonl (needs the monitor).
        trace_per: ``"unit"`` (one trace per unit of work, a batch call apart) or
            ``"root"`` (one trace per call tree, as OTLP sends them).
        run_id: log into this existing run instead of creating one (it keeps its name).
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
        trace_per: str = "unit",
    ) -> None:
        self._keep_config(locals())
        if trace_per not in TRACE_PER:
            raise ValueError(f"trace_per must be 'unit' or 'root', got {trace_per!r:.80}")
        import_extra("mlflow", "mlflow-skinny", "mlflow")
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
        self._own_run = run_id is None
        self.trace_per = trace_per
        self.artifact_location = artifact_location
        self.experiment_id: str | None = None
        self.metrics_logged = 0
        self.spans_logged = 0
        self.traces_logged = 0
        self.artifacts_logged: list[str] = []
        self.artifacts_skipped: list[str] = []
        self.params_logged = 0
        self.summary_logged = 0
        self._run_info: Any = None  # the monitor's RunInfo, once bound
        self._run_info_done = False
        self._created_name: str | None = None
        self._send_deadline: float | None = None
        self._client: Any = None
        self._tracing: Any = None
        self._steps: dict[str, int] = {}
        self._trees = SpanTrees(split_units=trace_per == "unit")
        self._closes = 0
        self._final: dict[str, Any] = {}  # the close's snapshot and the steps done with it
        self._plan_for: list[Any] | None = None  # the batch whose steps are in _plan
        self._plan: list[tuple[Any, int]] = []
        self._plan_done = 0  # records of that batch already delivered
        self._redactor = tracking_redactor(tracking_uri)  # before the sender, which redacts every error text with it
        self._start_sender("mlflow", self._send)
        # Create the run (and, for a new sqlite store, its tables: seconds) right away on the
        # handler's thread, so a short job's close does not have to wait for it.
        self._sender.put_task("setup")

    def __repr__(self) -> str:
        return f"MlflowHandler(experiment_name={self.experiment_name!r}, run_id={self.run_id!r})"

    def bind_monitor(self, context: Any) -> None:
        """Called by the monitor: its run name, tags and config are logged to the run next."""
        super().bind_monitor(context)
        run = getattr(context, "run", None)
        if run is not None and not run.is_empty():
            self._run_info = run
            self._sender.put_task("run-info")

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
        """The sender's counts plus what reached MLflow: metrics, params, summary, spans, traces, artifacts."""
        out = self._sender.stats()
        out.update(
            metrics_logged=self.metrics_logged,
            params_logged=self.params_logged,
            summary_logged=self.summary_logged,
            spans_logged=self.spans_logged,
            traces_logged=self.traces_logged,
            partial_traces=self._trees.partial_traces,
            spans_waiting=len(self._trees),
            artifacts=list(self.artifacts_logged),
            artifacts_skipped=list(self.artifacts_skipped),
        )
        return out

    # -- the sender thread ---------------------------------------------------------------------
    def _send(self, batch: list[Any], budget_s: float | None) -> None:
        self._send_deadline = None if budget_s is None else time.monotonic() + budget_s
        try:
            self._ensure_run()
        except Exception as error:  # noqa: BLE001 - classified below
            raise classify(error, 0, self._redactor) from None
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
                raise classify(error, self._plan_done, self._redactor) from None
            self._plan.pop(0)
            self._plan_done += records
        self._plan_for = None

    def _make_plan(self, batch: list[Any]) -> list[tuple[Any, int]]:
        plan: list[tuple[Any, int]] = []
        tasks = {item.payload for item in batch if isinstance(item, Task)}
        if "run-info" in tasks:
            plan.append((lambda: self._best_effort(self._log_run_info), 0))
        records = [item for item in batch if not isinstance(item, Task)]
        metrics = [r for kind, r in records if kind == "metric"]
        for start in range(0, len(metrics), MAX_METRICS_PER_CALL):
            chunk = self._metric_entities(metrics[start : start + MAX_METRICS_PER_CALL])
            plan.append((lambda chunk=chunk: self._log_metrics(chunk), len(chunk)))
        spans = [r for kind, r in records if kind == "span"]
        trees = self._trees.add(spans) if spans else []
        if "finish" in tasks:
            trees += self._trees.drain()  # the last close: nothing more will join the waiting spans
        # Spans held for their root count as delivered to this handler now.
        plan.append((lambda: self._log_trees(trees), len(spans)))
        if tasks & {"finish", "finish-lane"} and self._context is not None:
            plan.append((lambda: self._best_effort(self._log_summary), 0))
            if self.log_artifacts:
                plan.append((lambda: self._best_effort(self._log_artifacts), 0))
        if "finish" in tasks:
            plan.append((lambda: self._client.set_terminated(self.run_id, "FINISHED"), 0))
        return plan

    def _best_effort(self, step: Any) -> None:
        """Run a step of the run's description: a transient failure is retried, any other one reported and passed."""
        try:
            step()
        except Exception as error:  # noqa: BLE001 - classified: retried, or counted in the monitor's handler errors
            failure = classify(error, 0, self._redactor)
            if isinstance(failure, RetryableError):
                raise failure from None
            self._record_error(failure)

    def _ensure_run(self) -> None:
        if self._client is None:
            from mlflow import MlflowClient

            self._client = MlflowClient(self.tracking_uri)
        client = self._client
        if self.experiment_id is None:
            self.experiment_id = experiment_id_for(client, self.experiment_name, self.artifact_location, self.run_id)
        if self.run_id is None:
            from genmon._version import __version__

            # Named and tagged now when the monitor bound the handler already, else by the run-info step.
            tags = {
                "mlflow.source.name": "genmon",
                "genmon.version": __version__,
                **run_tags(self._run_info, self.tags),
            }
            self._created_name = self._wanted_name()
            run = client.create_run(self.experiment_id, run_name=self._created_name, tags=tags)
            self.run_id = run.info.run_id

    def _wanted_name(self) -> str | None:
        return self.run_name or (self._run_info.run_name if self._run_info is not None else None)

    def _log_run_info(self) -> None:
        run = self._run_info
        if run is None or self._run_info_done:
            return
        name = self._wanted_name()
        if self._own_run and name is not None and name != self._created_name:
            self._client.update_run(self.run_id, name=name)
            self._created_name = name
        full_copy = self.log_artifacts and bool(run.config)
        self.params_logged = log_run_info(self._client, str(self.run_id), run, self.tags, full_copy)
        self._run_info_done = True

    def _metric_entities(self, points: list[tuple[str, float, float, Any]]) -> list[Any]:
        from mlflow.entities import Metric

        out = []
        steps = self._steps
        for name, value, ts, meta in points:
            key = mlflow_key(name)
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

            self._tracing = TraceWriter(TracingClient(self.tracking_uri))
        traces, spans = self._tracing.log(str(self.experiment_id), self.run_id, trees)
        self.traces_logged += traces
        self.spans_logged += spans

    def _final_contents(self) -> RunContents:
        """What the close's summary and artifacts read, taken once (the snapshot waits for the metric worker)."""
        if "contents" not in self._final:
            self._final["contents"] = run_contents(self._context, self._run_info)
        return self._final["contents"]  # type: ignore[no-any-return]

    def _log_summary(self) -> None:
        if not self._final.get("summary"):
            series = self._final_contents().series
            self.summary_logged = log_summary(self._client, str(self.run_id), series, int(time.time() * 1000))
            self._final["summary"] = True

    def _log_artifacts(self) -> None:
        if self._final.get("artifacts"):
            return

        def upload(path: Any, artifact_path: str | None) -> None:
            log = self._client.log_artifacts if path.is_dir() else self._client.log_artifact
            log(self.run_id, str(path), artifact_path)

        def time_left() -> float | None:
            deadline = self._send_deadline
            return None if deadline is None else deadline - time.monotonic()

        done = log_close_artifacts(self._final_contents(), upload, time_left)
        self.artifacts_logged, self.artifacts_skipped = done.logged, done.skipped
        self._final["artifacts"] = True
        if done.skipped:
            self._record_error(
                TimeoutError(f"artifacts skipped at the close deadline: {', '.join(done.skipped)} (raise close_budget)")
            )
