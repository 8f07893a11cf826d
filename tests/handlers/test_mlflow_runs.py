"""MLflow runs worth comparing, read back from a real `mlflow server`: summary metrics, params, tags, name, traces, artifacts.

Every claim of the README's "Sending genmon to MLflow" is checked here
against the shared server (``shared_mlflow_server``), each test in an
experiment of its own.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mlflow")

from mlflow import MlflowClient

from genmon import GenerationMonitor
from genmon.cli.run_files import load_runs
from genmon.exporters.calls import by_model, headline
from genmon.handlers import FileMetricHandler, MlflowHandler
from genmon.handlers._mlflow_artifacts import FINISH_RESERVE_S, RunContents, log_close_artifacts
from genmon.handlers._mlflow_run import PARAM_VALUE_LIMIT
from genmon.simulated import PRICES, run_simulation

CONVERSATIONS = 6
LONG_PROMPT = "Answer as an expert. " * 400  # 8,400 characters: more than MLflow's 6,000 for a param
CONFIG = {
    "conversations": CONVERSATIONS,
    "sampling": {"temperature": 0.7, "top_p": 0.9},
    "models": ["sim-large", "sim-small"],
    "system prompt (v2)": LONG_PROMPT,
}


def _experiment(client: MlflowClient, request: pytest.FixtureRequest) -> str:
    return str(client.create_experiment(f"runs-{request.node.name}"))


def _finished_job(
    server: str, log_dir: Path, experiment_id: str, **handler_options: Any
) -> tuple[MlflowHandler, GenerationMonitor]:
    """The demo's job (attach on a batch generator, two models, rate limits) with run name, tags and config."""
    client = MlflowClient(server)
    name = client.get_experiment(experiment_id).name
    sink = MlflowHandler(
        server, experiment_name=name, tags={"owner": "ml-team", "dataset": "v3-handler"}, **handler_options
    )
    monitor = GenerationMonitor(
        log_dir=log_dir,
        metric_handlers=[FileMetricHandler(log_dir), sink],  # metrics.jsonl and spans.jsonl beside the MLflow run
        prices=PRICES,
        metrics_interval=0,
        run_name="nightly-generation",
        tags={"dataset": "v3", "generator": "simulated"},
        config=CONFIG,
    )
    with monitor:
        asyncio.run(run_simulation(monitor, CONVERSATIONS, concurrency=3, error_rate=0.3, seed=11))
        monitor.set_threshold("generation_time", 0.001)  # fires: the report lists it
        assert "threshold:generation_time" in [a.name for a in monitor.check_alerts(timeout=10)]
        assert monitor.close(timeout=120)
    return sink, monitor


CALL_FIGURES = (
    "calls",
    "errors",
    "error_rate",
    "latency_p50_s",
    "latency_p95_s",
    "latency_p99_s",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
)


def _call_rows(row: Any) -> dict[str, float]:
    """A row of genmon's figures (``exporters.calls``) under the summary's names; a figure that is None is left out."""
    values = (row.calls, row.errors, row.error_rate, row.p50, row.p95, row.p99)
    values += (row.prompt_tokens, row.completion_tokens, row.cost_usd)
    return {name: value for name, value in zip(CALL_FIGURES, values, strict=True) if value is not None}


def _summary_rows(metrics: dict[str, float], prefix: str) -> dict[str, float]:
    """The run's ``<prefix>/<figure>`` metrics, by figure."""
    return {name: metrics[f"{prefix}/{name}"] for name in CALL_FIGURES if f"{prefix}/{name}" in metrics}


@dataclass
class FinishedJob:
    server: str
    experiment_id: str
    log_dir: Path
    sink: MlflowHandler
    monitor: GenerationMonitor


@pytest.fixture(scope="module")
def finished_job(shared_mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> FinishedJob:
    """One job run to the end with the default MlflowHandler, read by several tests (a job and its close take seconds)."""
    experiment_id = str(MlflowClient(shared_mlflow_server).create_experiment("runs-finished-job"))
    log_dir = tmp_path_factory.mktemp("finished-job")
    sink, monitor = _finished_job(shared_mlflow_server, log_dir, experiment_id)
    return FinishedJob(shared_mlflow_server, experiment_id, log_dir, sink, monitor)


def test_a_finished_job_is_a_run_worth_comparing(finished_job: FinishedJob, tmp_path: Path) -> None:
    """Name, tags, params, summary metrics equal to genmon's own figures, per-point series kept apart."""
    client = MlflowClient(finished_job.server)
    sink, monitor = finished_job.sink, finished_job.monitor
    run = client.get_run(str(sink.run_id))
    assert (run.info.run_name, run.info.status) == ("nightly-generation", "FINISHED")
    # Tags: the monitor's, then the handler's own, which win on the same key.
    tags = run.data.tags
    assert (tags["dataset"], tags["generator"], tags["owner"]) == ("v3-handler", "simulated", "ml-team")
    # Params: the config flattened with dots, as text; the long value cut with a note, the odd key made safe.
    params = run.data.params
    assert {k: params[k] for k in ("conversations", "sampling.temperature", "sampling.top_p", "models")} == {
        "conversations": "6",
        "sampling.temperature": "0.7",
        "sampling.top_p": "0.9",
        "models": '["sim-large","sim-small"]',
    }
    cut = params["system prompt _v2_"]
    assert len(cut) == PARAM_VALUE_LIMIT and LONG_PROMPT.startswith(cut[:5000])
    assert cut.endswith("[... 8,400 characters; the whole value is in config.json]")
    note = tags["genmon.params_note"]
    assert "cut to 6,000 characters: system prompt _v2_" in note and "system prompt (v2) -> system prompt _v2_" in note
    local = client.download_artifacts(run.info.run_id, "config.json", str(tmp_path))
    assert json.loads(Path(local).read_text()) == CONFIG
    # Summary metrics: exactly genmon's own figures for this run, read back from its files.
    files = load_runs([finished_job.log_dir]).store.snapshot()
    figures = headline(files)
    metrics = run.data.metrics
    model = figures.model
    assert figures.wrappers and model.calls > 2 * CONVERSATIONS and model.errors  # rate limits hit some calls
    assert {k: metrics[f"summary/{k}"] for k in ("calls", "errors", "error_rate")} == {
        "calls": model.calls,
        "errors": model.errors,
        "error_rate": model.error_rate,
    }
    assert [metrics[f"summary/latency_p{q}_s"] for q in (50, 95, 99)] == [model.p50, model.p95, model.p99]
    assert (metrics["summary/total_tokens"], metrics["summary/cost_usd"]) == (figures.total_tokens, figures.cost_usd)
    assert figures.start is not None and figures.end is not None
    # The run's own store has the points' exact times; its files keep them to the microsecond.
    assert metrics["summary/duration_s"] == pytest.approx(figures.end - figures.start, abs=2e-6)
    assert metrics["summary/duration_s"] > 0
    rows, _ = by_model(files)
    assert sorted(r.label for r in rows) == ["sim-large", "sim-small"]
    for row in rows:
        # Every row of the README's per-model line: the report's "model calls by model" figures.
        assert _summary_rows(metrics, f"summary/model/{row.label}") == _call_rows(row)
        assert row.errors is not None and row.completion_tokens  # figures there are, not left out
    for wrapper in figures.wrappers:
        assert metrics[f"summary/wrapper/{wrapper.label}/calls"] == wrapper.calls
    # One wrapper type's rows in full (the README's summary/wrapper/<SPAN_TYPE>/... line).
    chain = next(w for w in figures.wrappers if w.label == "CHAIN")
    assert _summary_rows(metrics, "summary/wrapper/CHAIN") == _call_rows(chain)
    assert chain.calls == CONVERSATIONS + 1  # each generate_conversation and the batch's generate
    # ...and the same p95 as monitor.summary(by="call_kind") computes.
    table = monitor.summary(by="call_kind")
    assert metrics["summary/latency_p95_s"] == table.loc[("generation_time", "model"), "p95"]
    # The runs table filters and sorts by them (the README's search).
    (found,) = client.search_runs(
        [finished_job.experiment_id],
        filter_string="metrics.`summary/calls` > 0 and params.`sampling.temperature` = '0.7'",
        order_by=["metrics.`summary/latency_p95_s` ASC"],
    )
    assert found.info.run_id == run.info.run_id
    # The per-point series are still there, under names no summary metric takes.
    history = client.get_metric_history(run.info.run_id, "generation_time")
    assert len(history) == sum(len(s) for s in files if s.name == "generation_time")
    summary_names = {k for k in metrics if k.startswith("summary/")}
    assert not summary_names & {s.name for s in files} and len(summary_names) == sink.stats()["summary_logged"]


def test_two_jobs_in_one_experiment_are_told_apart_and_sort_by_their_known_summary(
    shared_mlflow_server: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Two small jobs of known calls: each run's name, params and summary rows are its own figures; sorts order them."""
    from genmon.testing import ManualClock

    client = MlflowClient(shared_mlflow_server)
    experiment_id = _experiment(client, request)
    name = client.get_experiment(experiment_id).name
    input_price, output_price = (price / 1000 for price in PRICES["sim-large"])

    def job(run_name: str, latency_s: float) -> tuple[str, GenerationMonitor]:
        """Eight calls 1 s apart, latencies latency_s * (1, 1.125, ... 1.875), the fourth failed, each in a CHAIN 0.5 s longer."""
        sink = MlflowHandler(shared_mlflow_server, experiment_name=name, log_artifacts=False)
        clock = ManualClock(1_800_000_000.0)
        with GenerationMonitor(
            log_dir=tmp_path / run_name,
            metric_handlers=[sink],
            metrics_interval=0,
            clock=clock,
            run_name=run_name,
            config={"latency_s": latency_s},
        ) as monitor:
            for i in range(8):
                clock.advance(1)
                latency = latency_s * (1 + i / 8)
                prompt, completion = 100 + i, 20
                monitor.track_generation(
                    latency,
                    i != 3,
                    model_name="sim-large",
                    prompt_token_count=prompt,
                    completion_token_count=completion,
                )
                cost = prompt * input_price + completion * output_price
                monitor.record_metric("cost_usd", cost, {"model_name": "sim-large"})
                monitor.track_generation(latency + 0.5, True, span_type="CHAIN")
            assert monitor.close(timeout=120)
        return str(sink.run_id), monitor

    # The slow job first: by start time (the runs table's default, newest first) the fast one comes first.
    (slow, slow_monitor), (fast, fast_monitor) = job("slow", 2.0), job("fast", 0.2)
    assert [r.info.run_id for r in client.search_runs([experiment_id])] == [fast, slow]
    by_latency = client.search_runs([experiment_id], order_by=["metrics.`summary/latency_p95_s` DESC"])
    assert [(r.info.run_id, r.info.run_name, r.data.params) for r in by_latency] == [
        (slow, "slow", {"latency_s": "2.0"}),
        (fast, "fast", {"latency_s": "0.2"}),
    ]
    ascending = client.search_runs([experiment_id], order_by=["metrics.`summary/latency_p95_s` ASC"])
    assert [r.info.run_id for r in ascending] == [fast, slow]
    cost = 828 * input_price + 160 * output_price  # prompt tokens 100..107, completion 8 x 20
    for run, latency_s, monitor in zip(by_latency, (2.0, 0.2), (slow_monitor, fast_monitor), strict=True):
        metrics = {k: v for k, v in run.data.metrics.items() if k.startswith("summary/")}
        # Linear interpolation between ranks over latency_s * (1 + k/8): the q-quantile is latency_s * (1 + 7q/8).
        latency = {f"latency_p{q}_s": latency_s * (1 + 7 * q / 800) for q in (50, 95, 99)}
        calls = {"calls": 8, "errors": 1, "error_rate": 1 / 8}
        model = {**calls, **latency, "prompt_tokens": 828, "completion_tokens": 160, "cost_usd": cost}
        chain = {"calls": 8, "errors": 0, "error_rate": 0.0} | {k: v + 0.5 for k, v in latency.items()}
        expected = {f"summary/{k}": v for k, v in {**calls, **latency}.items()}
        expected |= {"summary/total_tokens": 988, "summary/cost_usd": cost, "summary/duration_s": 7.0}
        expected |= {f"summary/model/sim-large/{k}": v for k, v in model.items()}
        expected |= {f"summary/wrapper/CHAIN/{k}": v for k, v in chain.items()}
        assert metrics == pytest.approx(expected, rel=1e-12, abs=0)
        # ...and exactly the percentiles monitor.summary() computes from its own store.
        table = monitor.summary(by="call_kind")
        for q in (50, 95, 99):
            assert metrics[f"summary/latency_p{q}_s"] == table.loc[("generation_time", "model"), f"p{q}"]
            assert metrics[f"summary/wrapper/CHAIN/latency_p{q}_s"] == table.loc[("generation_time", "CHAIN"), f"p{q}"]
        assert metrics["summary/cost_usd"] == pytest.approx(table.loc[("cost_usd", "model"), "sum"], rel=1e-12, abs=0)


def test_one_trace_per_conversation_and_a_short_trace_of_the_batch_call(finished_job: FinishedJob) -> None:
    """attach's generate() is one short trace; each generate_conversation is a trace of its own, tagged with the batch."""
    client = MlflowClient(finished_job.server)
    sink, monitor = finished_job.sink, finished_job.monitor
    traces = client.search_traces(locations=[finished_job.experiment_id], max_results=200)
    by_name: dict[str, list[Any]] = {}
    for trace in traces:
        by_name.setdefault(trace.info.tags["mlflow.traceName"], []).append(trace)
    assert {name: len(found) for name, found in by_name.items()} == {
        "generate": 1,
        "generate_conversation": CONVERSATIONS,
    }
    (batch,) = by_name["generate"]
    assert [(s.name, s.parent_id) for s in batch.data.spans] == [("generate", None)]
    assert batch.info.tags["genmon.units"] == str(CONVERSATIONS)
    spans = monitor.get_spans()
    own = {s.call_id: s for s in spans}
    root = next(s for s in spans if s.parent_call_id is None)
    assert batch.info.trace_id == f"tr-{root.trace_id}"  # the trace id OtlpHandler sends for this call tree
    priced: list[int] = []  # spans with a cost, per conversation
    for unit in by_name["generate_conversation"]:
        assert unit.info.tags["genmon.batch_trace_id"] == batch.info.trace_id
        assert unit.info.tags["genmon.batch_call_id"] == root.call_id
        head = [s for s in unit.data.spans if s.parent_id is None]
        assert [s.name for s in head] == ["generate_conversation"]
        names = {s.name for s in unit.data.spans} - {"generate_conversation"}
        assert names == {"complete", "evaluate_conversation"}
        tokens = sum(
            s.attributes.get("genmon.prompt_tokens", 0) + s.attributes.get("genmon.completion_tokens", 0)
            for s in unit.data.spans
        )
        assert unit.info.token_usage["total_tokens"] == tokens > 0  # the trace's token total
        # The trace's cost total (metadata mlflow.trace.cost, what the Traces tab shows) is its spans' costs summed.
        costs = [own[s.attributes["genmon.call_id"]].cost_usd for s in unit.data.spans]
        priced.append(sum(1 for c in costs if c))
        total = json.loads(unit.info.trace_metadata["mlflow.trace.cost"])["total_cost"]
        assert total == unit.info.cost["total_cost"] == pytest.approx(sum(c or 0.0 for c in costs), rel=1e-12, abs=0)
    assert min(priced) >= 1 and max(priced) >= 2  # a sum of several costs, not one copied
    # Every trace is linked to the run (the run page's Traces tab).
    linked = client.search_traces(locations=[finished_job.experiment_id], run_id=sink.run_id, max_results=200)
    assert sorted(t.info.trace_id for t in linked) == sorted(t.info.trace_id for t in traces)
    # The Traces tab's search box finds a batch's conversations by their tag.
    found = client.search_traces(
        locations=[finished_job.experiment_id],
        filter_string=f"tag.genmon.batch_trace_id = '{batch.info.trace_id}'",
        max_results=200,
    )
    assert sorted(t.info.trace_id for t in found) == sorted(t.info.trace_id for t in by_name["generate_conversation"])
    assert sum(len(t.data.spans) for t in traces) == len(spans) == sink.stats()["spans_logged"]
    assert sink.stats()["traces_logged"] == CONVERSATIONS + 1


def test_trace_per_root_keeps_the_whole_call_tree_as_one_trace(
    shared_mlflow_server: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """trace_per="root": one trace of every span, under the trace id OTLP sends."""
    client = MlflowClient(shared_mlflow_server)
    experiment_id = _experiment(client, request)
    sink, monitor = _finished_job(
        shared_mlflow_server, tmp_path / "run", experiment_id, trace_per="root", log_artifacts=False
    )
    (trace,) = client.search_traces(locations=[experiment_id], max_results=200)
    spans = monitor.get_spans()
    root = next(s for s in spans if s.parent_call_id is None)
    assert trace.info.trace_id == f"tr-{root.trace_id}" and len(trace.data.spans) == len(spans)
    assert [s.name for s in trace.data.spans if s.parent_id is None] == ["generate"]
    assert client.list_artifacts(str(sink.run_id)) == []  # log_artifacts=False: no config.json either


def test_artifacts_are_the_report_the_spans_the_parquet_file_and_the_plots(
    finished_job: FinishedJob, tmp_path: Path
) -> None:
    """report.html (run name, alert, slowest units), spans.jsonl (every span), metrics.parquet and plots/ at close."""
    import pyarrow.parquet as pq

    client = MlflowClient(finished_job.server)
    sink, monitor = finished_job.sink, finished_job.monitor
    run_id = str(sink.run_id)
    top = {a.path for a in client.list_artifacts(run_id)}
    assert top == {"config.json", "metrics.parquet", "report.html", "spans.jsonl", "plots"}
    plots = {a.path for a in client.list_artifacts(run_id, "plots")}
    assert {"plots/generation_time.png", "plots/latency_by_model.png", "plots/overview.png"} <= plots
    assert sink.stats()["artifacts"][:2] == ["metrics.parquet", "report.html"] and not sink.stats()["artifacts_skipped"]
    out = tmp_path / "downloaded"
    out.mkdir()
    report = Path(client.download_artifacts(run_id, "report.html", str(out))).read_text()
    assert "genmon run report: nightly-generation" in report
    assert "threshold:generation_time" in report  # the alert fired during the run
    assert f"slowest of {CONVERSATIONS} units of work" in report
    assert report.count('<img alt="') == len(plots) - 1  # every chart but the overview, embedded
    lines = Path(client.download_artifacts(run_id, "spans.jsonl", str(out))).read_text().splitlines()
    own = (finished_job.log_dir / "spans.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["call_id"] for line in lines) == sorted(json.loads(line)["call_id"] for line in own)
    table = pq.read_table(client.download_artifacts(run_id, "metrics.parquet", str(out)))
    assert table.num_rows == monitor.store.count()


def test_the_handler_s_own_run_name_wins_and_an_existing_run_keeps_its_name(
    shared_mlflow_server: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """MlflowHandler(run_name=) names the run over the monitor's; with run_id= the run keeps its name and gets the params."""
    client = MlflowClient(shared_mlflow_server)
    experiment_id = _experiment(client, request)
    name = client.get_experiment(experiment_id).name
    own = MlflowHandler(shared_mlflow_server, experiment_name=name, run_name="handler-name", log_artifacts=False)
    existing = client.create_run(experiment_id, run_name="made-elsewhere").info.run_id
    into = MlflowHandler(shared_mlflow_server, run_id=existing, log_artifacts=False)
    with GenerationMonitor(
        log_dir=tmp_path, metric_handlers=[own, into], metrics_interval=0, run_name="monitor-name", config={"seed": 3}
    ) as monitor:
        monitor.track_generation(0.5, True, model_name="m")
        assert monitor.flush(timeout=60)
        # Name, tags and params are there while the job runs, not only at its end.
        running = client.get_run(str(own.run_id))
        assert (running.info.status, running.info.run_name) == ("RUNNING", "handler-name")
        assert running.data.params == {"seed": "3"}
        assert monitor.close(timeout=120)
    assert client.get_run(str(own.run_id)).info.run_name == "handler-name"
    kept = client.get_run(existing)
    assert (kept.info.run_name, kept.data.params, kept.data.metrics["summary/calls"]) == (
        "made-elsewhere",
        {"seed": "3"},
        1.0,
    )
    assert "summary/cost_usd" not in kept.data.metrics  # nothing to count: left out, not 0


def test_the_close_uploads_what_its_budget_allows_most_useful_first(tmp_path: Path) -> None:
    """With the budget nearly spent after the Parquet file, the report, plots and spans are skipped and named."""
    from genmon.monitor.store.metric_store import MetricStore
    from genmon.records.spans import SpanRecord

    store = MetricStore()
    store.append_batch(
        [("generation_time", 0.5, 1.8e9, {"model_name": "m"}), ("error_rate", 0.0, 1.8e9, {"model_name": "m"})]
    )
    span = SpanRecord("c1", None, "chat", "LLM", 1.8e9, 0.5, True, model_name="m")
    contents = RunContents(series=store.snapshot(), spans=[span], source=str(tmp_path))
    uploaded: list[tuple[str, str | None]] = []

    def upload(path: Path, artifact_path: str | None) -> None:
        assert path.exists()
        uploaded.append((path.name, artifact_path))

    left = iter([None, FINISH_RESERVE_S / 2])  # time enough for the first step, then less than the reserve
    done = log_close_artifacts(contents, upload, lambda: next(left, FINISH_RESERVE_S / 2))
    assert (uploaded, done.logged, done.skipped) == (
        [("metrics.parquet", None)],
        ["metrics.parquet"],
        ["report.html", "plots", "spans.jsonl"],
    )
    uploaded.clear()
    done = log_close_artifacts(contents, upload, lambda: None)  # no deadline: everything
    assert [name for name, _ in uploaded] == ["metrics.parquet", "report.html", "plots", "spans.jsonl"]
    assert done.skipped == [] and "plots/generation_time.png" in done.logged


def test_trace_per_is_checked_at_construction() -> None:
    """An unknown trace_per fails at the call, naming the choices."""
    with pytest.raises(ValueError, match="trace_per must be 'unit' or 'root', got 'conversation'"):
        MlflowHandler("http://127.0.0.1:1", trace_per="conversation")


def test_config_params_follow_mlflow_s_rules_and_say_what_did_not_fit() -> None:
    """Dotted keys, text values; past 1,000 params, or keys colliding once made safe, left out and named in the note."""
    from genmon.handlers._mlflow_run import MAX_CONFIG_PARAMS, config_params
    from genmon.records.types import RunInfo

    config: dict[str, Any] = {"a|b": 1, "a_b": 2, "flag": True, "none": None, "nested": {"list": [1, "x"]}}
    config.update({f"k{i}": i for i in range(MAX_CONFIG_PARAMS)})
    params = config_params(RunInfo(config=config), full_copy=False)
    assert len(params.params) == MAX_CONFIG_PARAMS
    assert {k: params.params[k] for k in ("a_b", "flag", "none", "nested.list")} == {
        "a_b": "1",
        "flag": "True",
        "none": "None",
        "nested.list": '[1,"x"]',
    }
    assert params.renamed == [("a|b", "a_b")] and params.left_out[0] == "a_b" and len(params.left_out) == 5
    note = params.note(full_copy=False)
    assert note == "keys made MLflow-safe: a|b -> a_b; left out: a_b, k996, k997, k998, k999"
