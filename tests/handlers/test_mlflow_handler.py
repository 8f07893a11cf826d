"""MlflowHandler against a real local store (sqlite in a temporary directory) and a real `mlflow server`."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mlflow")

from mlflow import MlflowClient

from genmon import GenerationMonitor
from genmon.errors import MissingExtraError
from genmon.handlers._mlflow_support import mlflow_key
from genmon.handlers._mlflow_traces import SpanTrees
from genmon.handlers._trace_ids import span_id
from genmon.handlers.mlflow_handler import MlflowHandler
from genmon.records.spans import SpanRecord
from genmon.testing import ManualClock


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """One sqlite tracking store for the module (creating its tables takes seconds), with an artifact root."""
    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    MlflowClient(uri).search_experiments()  # creates the tables once
    return uri, root / "artifacts"


def _handler(store: tuple[str, Path], experiment: str, **kwargs: Any) -> MlflowHandler:
    uri, artifacts = store
    return MlflowHandler(uri, experiment_name=experiment, artifact_location=str(artifacts / experiment), **kwargs)


def _experiment_id(client: MlflowClient, name: str) -> str:
    experiment = client.get_experiment_by_name(name)
    assert experiment is not None
    return str(experiment.experiment_id)


def _spans_by_name(trace: Any) -> dict[str, Any]:
    return {span.name: span for span in trace.data.spans}


def test_metrics_are_logged_into_a_run_with_steps_and_their_times(store: tuple[str, Path], tmp_path: Path) -> None:
    """Each metric's points get steps 0, 1, 2 and their own timestamps; the run ends FINISHED with its tags."""
    sink = _handler(store, "metrics", run_name="gen-1", tags={"team": "data"}, log_artifacts=False)
    clock = ManualClock(1_800_000_000.0)
    with GenerationMonitor(
        log_dir=tmp_path, metric_handlers=[sink], log_handlers=[], metrics_interval=0, clock=clock
    ) as monitor:
        for value in (1.5, 2.5, 3.5):
            monitor.record_metric("latency", value, {"model_name": "m"})
            clock.advance(1)
        monitor.record_metric("process/rss bytes%", 10.0)
        assert monitor.close(timeout=60)
    client = MlflowClient(store[0])
    history = client.get_metric_history(sink.run_id, "latency")
    assert [(m.value, m.step, m.timestamp) for m in history] == [
        (1.5, 0, 1_800_000_000_000),
        (2.5, 1, 1_800_000_001_000),
        (3.5, 2, 1_800_000_002_000),
    ]
    assert [m.value for m in client.get_metric_history(sink.run_id, "process/rss bytes_")] == [10.0]
    run = client.get_run(sink.run_id)
    assert (run.info.status, run.info.run_name, run.data.tags["team"]) == ("FINISHED", "gen-1", "data")
    assert run.data.tags["mlflow.source.name"] == "genmon"
    stats = sink.stats()
    assert stats["metrics_logged"] == 4 and stats["dropped_total"] == 0


def test_spans_become_traces_with_types_parents_attributes_and_exception_events(
    store: tuple[str, Path], tmp_path: Path
) -> None:
    """A call tree becomes one trace with its span types and parentage; a failed call carries an exception event."""
    sink = _handler(store, "spans", log_artifacts=False)
    with GenerationMonitor(log_dir=tmp_path, metric_handlers=[sink], log_handlers=[], metrics_interval=0) as monitor:
        with (
            monitor.track("plan", span_type="AGENT", component="planner"),
            monitor.track("chat", model_name="gpt-x") as span,
        ):
            span.set_usage(prompt_tokens=12, completion_tokens=5)
            span.set_cost(0.002)
        with pytest.raises(ValueError, match="bad input"), monitor.track("lookup", span_type="TOOL"):
            raise ValueError("bad input")
        assert monitor.close(timeout=60)
    client = MlflowClient(store[0])
    traces = client.search_traces(locations=[_experiment_id(client, "spans")])
    assert sorted(t.info.tags["mlflow.traceName"] for t in traces) == ["lookup", "plan"]
    tree = next(t for t in traces if t.info.tags["mlflow.traceName"] == "plan")
    linked = client.search_traces(locations=[_experiment_id(client, "spans")], run_id=sink.run_id)
    assert {t.info.trace_id for t in linked} == {t.info.trace_id for t in traces}  # the run's traces tab
    spans = _spans_by_name(tree)
    plan, chat = spans["plan"], spans["chat"]
    assert (plan.span_type, chat.span_type) == ("AGENT", "LLM")
    assert plan.parent_id is None and chat.parent_id == plan.span_id
    assert chat.attributes["genmon.parent_call_id"] == plan.attributes["genmon.call_id"]
    assert (chat.attributes["genmon.prompt_tokens"], chat.attributes["genmon.completion_tokens"]) == (12, 5)
    assert chat.attributes["genmon.cost_usd"] == 0.002 and chat.attributes["genmon.success"] is True
    assert chat.attributes["mlflow.chat.tokenUsage"]["total_tokens"] == 17
    assert plan.attributes["genmon.component"] == "planner"
    assert chat.start_time_ns >= plan.start_time_ns and chat.end_time_ns <= plan.end_time_ns
    assert abs((chat.end_time_ns - chat.start_time_ns) / 1e9 - chat.attributes["genmon.duration_s"]) < 1e-6
    failed = next(t for t in traces if t.info.tags["mlflow.traceName"] == "lookup")
    assert failed.info.state.value == "ERROR"
    (lookup,) = failed.data.spans
    assert lookup.span_type == "TOOL" and lookup.status.status_code.value == "ERROR"
    (event,) = lookup.events
    assert (event.name, event.attributes["exception.type"], event.attributes["exception.message"]) == (
        "exception",
        "ValueError",
        "bad input",
    )
    assert sink.stats()["traces_logged"] == 2 and sink.stats()["spans_logged"] == 3


def test_plots_and_a_parquet_export_are_logged_as_artifacts_at_close(store: tuple[str, Path], tmp_path: Path) -> None:
    """At close the run gets metrics.parquet (every retained point) and the standard plots."""
    import pyarrow.parquet as pq

    sink = _handler(store, "artifacts")
    with GenerationMonitor(log_dir=tmp_path, metric_handlers=[sink], log_handlers=[], metrics_interval=0) as monitor:
        for i in range(5):
            monitor.track_generation(0.5 + i, True, model_name="m", prompt_token_count=10 * i, completion_token_count=i)
        assert monitor.close(timeout=60)
    assert sink.close(60)  # waits again if the lane's own close timeout cut the artifacts short
    client = MlflowClient(store[0])
    names = {a.path for a in client.list_artifacts(sink.run_id)}
    assert {"metrics.parquet", "plots"} <= names
    plots = [a.path for a in client.list_artifacts(sink.run_id, "plots")]
    assert plots and all(p.endswith(".png") for p in plots)
    local = client.download_artifacts(sink.run_id, "metrics.parquet", str(tmp_path))
    table = pq.read_table(local)
    assert table.num_rows == monitor.store.count()
    assert sink.stats()["artifacts"][0] == "metrics.parquet"


def test_an_unreachable_server_is_counted_and_close_keeps_its_bound(
    closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With nothing listening, batches are retried, dropped and counted; close returns by its deadline."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    sink = MlflowHandler(f"http://127.0.0.1:{closed_port}", experiment_name="x", max_retries=1, backoff=0.001)
    sink.handle_batch([("latency", 1.0, 1_800_000_000.0, None)] * 3)
    started = time.monotonic()
    sink.close(20)
    assert time.monotonic() - started < 20 + 5
    assert sink._sender.join(30)
    stats = sink.stats()
    assert stats["sent"] == 0 and stats["dropped"]["retries_exhausted"] + stats["dropped"]["close_timeout"] == 3
    assert stats["received"] == 3 and stats["dropped_total"] == 3


def test_tracking_credentials_and_tokens_never_appear_in_stats_repr_or_genmon_s_logs(
    closed_port: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A password in the tracking URI, a ?token= and MLFLOW_TRACKING_TOKEN stay out of stats, repr and genmon's logs.

    Nothing listens on the port, so every MLflow call fails with MLflow's own
    error text, which quotes the URI it called (``API request to http://user:...``).
    """
    password, query_token, env_token = "pa55-w0rd-secret", "qu3ry-t0ken-secret", "env-t0ken-secret"
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", env_token)
    sinks = [
        MlflowHandler(f"http://alice:{password}@127.0.0.1:{closed_port}", name="with-password", max_retries=0),
        MlflowHandler(f"http://127.0.0.1:{closed_port}/?token={query_token}", name="with-token", max_retries=0),
    ]
    with GenerationMonitor(log_dir=tmp_path, metric_handlers=sinks, metrics_interval=0) as monitor:
        monitor.record_metric("latency", 1.0)
        monitor.flush(30)
        monitor.close(30)
    for sink in sinks:
        assert sink._sender.join(30)
        assert sink.stats()["last_error"] is not None  # the calls did fail, and said why
        assert sink.stats()["dropped_total"] == 1
    genmon_logs = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("genmon"))
    texts = [
        *(repr(sink) for sink in sinks),
        *(str(sink.stats()) for sink in sinks),
        str(monitor.stats()),
        caplog.text,
        (tmp_path / "genmon.log").read_text(),
    ]
    assert "127.0.0.1" in genmon_logs  # the errors are logged, only their secrets are hidden
    for text in texts:
        for secret in (password, query_token, env_token):
            assert secret not in text


def test_span_trees_wait_for_their_root_and_late_children_join_the_sent_trace() -> None:
    """Children are held until the root arrives; a child finishing after its root joins the same trace."""

    def span(call_id: str, parent: str | None, start: float) -> SpanRecord:
        return SpanRecord(
            call_id, parent, call_id, "LLM", start, 1.0, True, trace_id="ab" * 16 if parent is None else None
        )

    trees = SpanTrees()
    assert trees.add([span("c", "b", 3.0), span("b", "a", 2.0)]) == [] and len(trees) == 2
    (tree,) = trees.add([span("a", None, 1.0)])
    assert tree.new and tree.trace_id == int("ab" * 16, 16)  # the root's trace id, as OTLP sends it
    assert [m[0].call_id for m in tree.members] == ["a", "b", "c"]
    ids = {m[0].call_id: (m[1], m[2]) for m in tree.members}
    assert ids["a"][1] is None and ids["b"][1] == ids["a"][0] and ids["c"][1] == ids["b"][0]
    assert ids["a"][0] == int.from_bytes(span_id("a"), "big")  # the OTLP handler's span id of the same call
    (late,) = trees.add([span("d", "a", 4.0)])
    assert not late.new and late.trace_id == tree.trace_id and late.members[0][2] == ids["a"][0]
    trees.add([span("orphan", "never-finished", 5.0)])
    (drained,) = trees.drain()
    assert drained.members[0][0].call_id == "orphan" and drained.members[0][2] is None and trees.partial_traces == 1


def test_metric_keys_are_sanitised_for_mlflow() -> None:
    """Characters MLflow refuses become underscores; allowed ones stay."""
    assert mlflow_key("process/cpu percent:1.5-x") == "process/cpu percent:1.5-x"
    assert mlflow_key("a|b*c") == "a_b_c"


def test_keys_are_always_accepted_by_mlflow_s_own_checks() -> None:
    """Any text, path-like or not (``a//b``, ``/a``, ``..x``, 300 characters), becomes a key MLflow's validators accept."""
    import random

    from mlflow.utils.validation import _validate_metric_name, _validate_param_name

    rng = random.Random(15)
    names = ["a//b", "/a", "a/", "./a", "..", ".", "..x", "a/../b", "", "x" * 300, "a/" + "b" * 249 + "/c"]
    names += ["".join(rng.choice("ab./ _-:|é") for _ in range(rng.randint(0, 8))) for _ in range(5000)]
    for name in names:
        key = mlflow_key(name)
        _validate_metric_name(key)
        _validate_param_name(key)
    assert (mlflow_key("a//b"), mlflow_key("..x"), mlflow_key("température")) == ("a/b", "__x", "température")


def test_missing_mlflow_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without mlflow installed, building the handler raises MissingExtraError naming genmon[mlflow]."""
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'genmon\[mlflow\]'"):
        MlflowHandler()


def test_against_a_real_mlflow_server(shared_mlflow_server: str, tmp_path: Path) -> None:
    """Metrics, a trace and the artifacts logged through a real server read back through MlflowClient."""
    mlflow_server = shared_mlflow_server
    sink = MlflowHandler(mlflow_server, experiment_name="served", run_name="served-run")
    with GenerationMonitor(
        log_dir=tmp_path / "run", metric_handlers=[sink], log_handlers=[], metrics_interval=0
    ) as monitor:
        with monitor.track("chat", model_name="gpt-x") as span:
            span.set_usage(prompt_tokens=3, completion_tokens=4)
        monitor.record_metric("latency", 0.25)
        assert monitor.close(timeout=60)
    assert sink.close(60)
    client = MlflowClient(mlflow_server)
    assert [m.value for m in client.get_metric_history(sink.run_id, "latency")] == [0.25]
    assert client.get_run(sink.run_id).info.status == "FINISHED"
    (trace,) = client.search_traces(locations=[_experiment_id(client, "served")])
    (chat,) = trace.data.spans
    assert (chat.name, chat.span_type, chat.attributes["genmon.completion_tokens"]) == ("chat", "LLM", 4)
    assert "metrics.parquet" in {a.path for a in client.list_artifacts(sink.run_id)}


def test_captured_inputs_and_outputs_become_the_spans_and_the_traces_on_a_real_server(
    shared_mlflow_server: str, tmp_path: Path
) -> None:
    """Through a real mlflow server: span.inputs / span.outputs read back, and the trace's request and response previews."""
    sink = MlflowHandler(shared_mlflow_server, experiment_name="captured-io", log_artifacts=False)
    with GenerationMonitor(
        log_dir=tmp_path, metric_handlers=[sink], log_handlers=[], metrics_interval=0, capture_io=True
    ) as monitor:

        @monitor.track("pipeline", span_type="CHAIN")
        def pipeline(question: str, api_key: str) -> str:
            with monitor.track("chat", model_name="gpt-x") as span:
                span.set_inputs({"messages": [{"role": "user", "content": question}]})
                span.set_outputs({"role": "assistant", "content": "42"})
            return "42"

        assert pipeline("meaning of life?", api_key="sk-secret") == "42"
        with pytest.raises(ValueError), monitor.track("broken", span_type="TOOL"):
            raise ValueError("no tool")
        assert monitor.close(timeout=60)
    assert sink.close(60)
    client = MlflowClient(shared_mlflow_server)
    traces = {
        t.info.tags["mlflow.traceName"]: t
        for t in client.search_traces(locations=[_experiment_id(client, "captured-io")])
    }
    tree = traces["pipeline"]
    spans = _spans_by_name(tree)
    assert spans["pipeline"].inputs == {"question": "meaning of life?", "api_key": "<redacted>"}
    assert spans["pipeline"].outputs == "42"
    assert spans["chat"].inputs == {"messages": [{"role": "user", "content": "meaning of life?"}]}
    assert spans["chat"].outputs == {"role": "assistant", "content": "42"}
    assert '"meaning of life?"' in tree.info.request_preview and "sk-secret" not in tree.info.request_preview
    # The server builds the previews from the head span (as for OTLP): JSON text, a chat's last message.
    assert tree.info.response_preview == '"42"'
    (broken,) = traces["broken"].data.spans
    assert broken.outputs == {"exception": {"type": "ValueError", "message": "no tool"}}
