"""A program written for afterimage's GenerationMonitor runs on genmon by changing one import."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import afterimage.monitoring
import pytest

import genmon.monitoring

AFTERIMAGE_PROGRAM = """
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path

from afterimage.monitoring import (
    Alert,
    FileMetricHandler,
    GenerationMonitor,
    MetricHandler,
    TokenUsageReport,
)


class CountingHandler(MetricHandler):
    def __init__(self):
        self.names = []

    def handle_metric(self, metric_name, value, metadata):
        self.names.append(metric_name)


log_dir = Path(sys.argv[1])
counting = CountingHandler()
alerts: list[Alert] = []
monitor = GenerationMonitor(
    log_dir=log_dir,
    metric_handlers=[counting, FileMetricHandler(log_dir)],
    alert_handlers=[alerts.append],
    metrics_interval=60,
    shutdown_timeout=5,
    alert_min_success_rate=0.9,
    token_usage_callback=lambda report: None,
)
monitor.track_generation(
    duration=1.2,
    success=True,
    model_name="gpt-4o-mini",
    finish_reason="stop",
    prompt_token_count=100,
    completion_token_count=50,
    total_token_count=150,
    metadata={"conversation_id": "c1"},
)
monitor.track_generation(duration=2.0, success=False, model_name="gpt-4o-mini", error="timeout")
monitor.track_evaluation(duration=0.3, success=True, evaluator_type="coherence", scores={"coherence": 0.8})
monitor.record_metric("custom", 1.0, {"timestamp": datetime.now()})
monitor.log_info("generated", count=2)
monitor.log_warning("slow call")
monitor.log_error("failed", error=ValueError("bad"))
monitor.shutdown()

stats = monitor.get_metrics("generation_time", window=timedelta(minutes=5))
usage: TokenUsageReport = monitor.get_total_token_usage()
print(json.dumps({
    "generation_time": {k: stats[k] for k in ("mean", "min", "max", "count")},
    "usage": [(u.model_name, u.prompt_tokens, u.completion_tokens, u.total_tokens) for u in usage.by_model],
    "handled": sorted(set(counting.names)),
}))
"""


def test_afterimage_program_runs_unchanged_except_the_import(tmp_path: Path) -> None:
    """The afterimage program, with only its import line changed, produces afterimage's results and files."""
    source = AFTERIMAGE_PROGRAM.replace("from afterimage.monitoring import", "from genmon.monitoring import")
    assert source.count("genmon") == 1  # one changed line, nothing else
    script = tmp_path / "program.py"
    script.write_text(source)
    run_dir = tmp_path / "run"
    out = subprocess.run(
        [sys.executable, str(script), str(run_dir)], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["generation_time"] == {"mean": 1.6, "min": 1.2, "max": 2.0, "count": 2}
    assert result["usage"] == [["gpt-4o-mini", 100, 50, 150]]
    assert {
        "generation_time",
        "success_rate",
        "error_rate",
        "model_usage:gpt-4o-mini",
        "evaluation_time",
        "custom",
    } <= set(result["handled"])
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert {"metric", "value", "timestamp"} <= set(lines[0])
    assert lines[0]["conversation_id"] == "c1"
    log = (run_dir / "genmon.log").read_text()
    assert "slow call" in log and "ValueError" in log


def test_values_keep_their_type_in_metrics_jsonl_and_exports(tmp_path: Path) -> None:
    """An int recorded stays an int ("value": 100) in metrics.jsonl and the JSON export; a float stays a float."""
    from genmon import GenerationMonitor

    with GenerationMonitor(log_dir=tmp_path, metrics_interval=0) as monitor:
        monitor.record_metric("count", 100)
        monitor.record_metric("latency", 1.5)
        monitor.track_generation(0.5, True, model_name="m", prompt_token_count=812, completion_token_count=164)
        monitor.flush()
        exported = monitor.export_metrics(tmp_path / "out.json")[0]
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    by_metric = {line["metric"]: line["value"] for line in lines}
    assert type(by_metric["count"]) is int and by_metric["count"] == 100
    assert type(by_metric["latency"]) is float
    assert type(by_metric["prompt_token_count"]) is int and by_metric["prompt_token_count"] == 812
    data = json.loads(exported.read_text())
    assert data["count"][0]["value"] == 100 and type(data["count"][0]["value"]) is int
    assert type(data["latency"][0]["value"]) is float


def test_an_int_metric_stays_an_int_in_csv_excel_and_parquet(tmp_path: Path) -> None:
    """An int metric is written 100, not 100.0, in CSV and Excel; Parquet's one value column is int64 when every metric is.

    A metric that got a float is written as floats (the README's Formats
    section), and so is Parquet's value column once any exported metric has one.
    """
    import csv

    import openpyxl
    import pyarrow as pa
    import pyarrow.parquet as pq

    from genmon import GenerationMonitor

    out = tmp_path / "out"
    with GenerationMonitor(log_dir=tmp_path / "run", metrics_interval=0) as monitor:
        for value in (100, 3):
            monitor.record_metric("count", value)
        monitor.record_metric("latency", 1.5)
        monitor.record_metric("mixed", 1)
        monitor.record_metric("mixed", 1.5)
        monitor.export_metrics(out / "m.csv", format="csv")
        monitor.export_metrics(out / "m.xlsx", format="excel")
        monitor.export_metrics(out / "m.parquet", format="parquet")
        monitor.export_metrics(out / "m.json", format="json")
    with GenerationMonitor(log_dir=tmp_path / "ints", metrics_interval=0) as monitor:
        for value in (100, 3):
            monitor.record_metric("count", value)
        monitor.export_metrics(out / "ints.parquet", format="parquet")

    with (out / "m_count.csv").open(newline="") as file:
        assert [row["value"] for row in csv.DictReader(file)] == ["100", "3"]
    with (out / "m.csv").open(newline="") as file:
        assert [row["value"] for row in csv.DictReader(file) if row["metric"] == "count"] == ["100", "3"]
    book = openpyxl.load_workbook(out / "m.xlsx", read_only=True)
    try:
        cells = [row[1] for row in book["count"].iter_rows(min_row=2, values_only=True)]
    finally:
        book.close()
    assert cells == [100, 3] and all(type(cell) is int for cell in cells)
    ints = pq.read_table(out / "ints.parquet")
    assert ints.schema.field("value").type == pa.int64()
    assert [(type(v), v) for v in ints.column("value").to_pylist()] == [(int, 100), (int, 3)]
    # One column for every metric: float64 as soon as one exported metric holds a float.
    mixed = pq.read_table(out / "m.parquet")
    assert mixed.schema.field("value").type == pa.float64()
    assert [r["value"] for r in mixed.to_pylist() if r["metric"] == "count"] == [100.0, 3.0]
    # A metric that got one float is written as floats in the export; metrics.jsonl keeps each point's type.
    exported = json.loads((out / "m.json").read_text())
    assert [(type(p["value"]), p["value"]) for p in exported["mixed"]] == [(float, 1.0), (float, 1.5)]
    assert [(type(p["value"]), p["value"]) for p in exported["count"]] == [(int, 100), (int, 3)]
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [line["value"] for line in lines if line["metric"] == "mixed"] == [1, 1.5]
    assert [type(line["value"]) for line in lines if line["metric"] == "mixed"] == [int, float]


def test_per_metric_csv_files_keep_afterimages_names(tmp_path: Path) -> None:
    """export_metrics("run.csv", format="csv") writes run_model_usage:gpt-4o.csv, as afterimage did, and the manifest maps it."""
    from genmon import GenerationMonitor

    with GenerationMonitor(log_dir=tmp_path, metrics_interval=0) as monitor:
        monitor.track_generation(0.5, True, model_name="gpt-4o")
        monitor.record_metric("a/b", 1.0)
        written = monitor.export_metrics(tmp_path / "out" / "run.csv", format="csv")
    names = {p.name for p in written}
    assert "run_model_usage:gpt-4o.csv" in names and "run_a_b.csv" in names  # only "/" had to change
    manifest = json.loads((tmp_path / "out" / "run_manifest.json").read_text())
    assert {m["metric"]: m["file"] for m in manifest["metrics"]}["a/b"] == "run_a_b.csv"


def test_loglevel_is_exported_and_log_records_keep_afterimages_timestamp_in_data(tmp_path: Path) -> None:
    """genmon.monitoring.LogLevel exists; "Generation metrics" records carry data["timestamp"] as afterimage's did."""
    from genmon.monitoring import GenerationMonitor, LogLevel

    assert "warning" in LogLevel.__args__  # type: ignore[attr-defined]
    with GenerationMonitor(log_dir=tmp_path, metrics_interval=0) as monitor:
        monitor.track_generation(0.5, True, model_name="m")
        monitor.track_evaluation(0.1, True, "judge", {"score": 0.9})
    records = [json.loads(line) for line in (tmp_path / "genmon.log").read_text().splitlines()]
    generation = next(r for r in records if r["message"] == "Generation metrics")
    evaluation = next(r for r in records if r["message"] == "Evaluation metrics")
    assert generation["data"]["timestamp"].startswith(generation["timestamp"][:19])
    assert "timestamp" in evaluation["data"] and evaluation["data"]["evaluator_type"] == "judge"


def afterimage_members() -> list[str]:
    """afterimage's GenerationMonitor constructor and public methods, its own and inherited."""
    cls = afterimage.monitoring.GenerationMonitor
    return ["__init__", *(name for name in dir(cls) if not name.startswith("_") and callable(getattr(cls, name)))]


def incompatible(theirs: Callable[..., object], ours: Callable[..., object]) -> list[str]:
    """Why a call valid for ``theirs`` might not bind the same way to ``ours`` (empty when it always does).

    ``ours`` starts with ``theirs``' parameters: same names, order, kinds and
    defaults (a parameter required there may have a default here). It may add parameters after them, each with a default: keyword-only
    ones, or positional ones that no afterimage call reaches (afterimage takes no
    more positional arguments). Nothing may come between a parameter and
    afterimage's ``**kwargs``, where it would take a key a caller meant for them.
    """
    their_params = list(inspect.signature(theirs).parameters.values())
    our_params = list(inspect.signature(ours).parameters.values())
    problems = []
    for theirs_p, ours_p in zip(their_params, our_params, strict=False):
        if (theirs_p.name, theirs_p.kind) != (ours_p.name, ours_p.kind):
            problems.append(f"{theirs_p} became {ours_p}")
        elif theirs_p.default is inspect.Parameter.empty:
            pass  # required there: any default here binds the same calls
        elif theirs_p.default is not ours_p.default and theirs_p.default != ours_p.default:
            problems.append(f"{theirs_p.name}: default {theirs_p.default!r} became {ours_p.default!r}")
    if len(our_params) < len(their_params):
        problems.append(f"missing {[str(p) for p in their_params[len(our_params) :]]}")
    for extra in our_params[len(their_params) :]:
        if extra.default is inspect.Parameter.empty:
            problems.append(f"added {extra} without a default")
    return problems


@pytest.mark.parametrize("name", afterimage_members())
def test_the_monitor_keeps_afterimages_signatures(name: str) -> None:
    """Each afterimage GenerationMonitor method and constructor keyword exists in genmon and binds the same calls."""
    ours = getattr(genmon.monitoring.GenerationMonitor, name, None)
    assert callable(ours), f"genmon's GenerationMonitor has no {name}"
    assert incompatible(getattr(afterimage.monitoring.GenerationMonitor, name), ours) == []


def test_afterimages_surface_is_what_these_checks_expect() -> None:
    """The checks above cover afterimage 0.18.1's fourteen methods and fifteen constructor keywords."""
    assert len(afterimage_members()) == 15
    assert "track_generation" in afterimage_members() and "visualize_metrics" in afterimage_members()
    keywords = inspect.signature(afterimage.monitoring.GenerationMonitor.__init__).parameters
    assert len(keywords) == 16 and "token_usage_callback_interval_seconds" in keywords  # self and fifteen


def test_the_signature_check_catches_each_kind_of_break() -> None:
    """A renamed, reordered, re-defaulted, missing or required parameter, or one before **kwargs, is reported."""

    def theirs(a: int, b: int = 1, *, c: int = 2, **kwargs: object) -> None: ...

    def same_plus(a: int, b: int = 1, *, c: int = 2, **kwargs: object) -> None: ...

    def renamed(a: int, bee: int = 1, *, c: int = 2, **kwargs: object) -> None: ...

    def redefaulted(a: int, b: int = 5, *, c: int = 2, **kwargs: object) -> None: ...

    def made_keyword(a: int, *, b: int = 1, c: int = 2, **kwargs: object) -> None: ...

    def missing(a: int, b: int = 1, *, c: int = 2) -> None: ...

    def steals_a_key(a: int, b: int = 1, *, c: int = 2, d: int = 0, **kwargs: object) -> None: ...

    def base(a: int, b: int = 1) -> None: ...

    def positional_extra(a: int, b: int = 1, step: int | None = None, *, d: int = 0) -> None: ...

    def required_extra(a: int, b: int = 1, *, d: int) -> None: ...

    assert incompatible(theirs, same_plus) == []
    assert incompatible(base, positional_extra) == []
    assert incompatible(theirs, renamed) and incompatible(theirs, redefaulted)
    assert incompatible(theirs, made_keyword) and incompatible(theirs, missing)
    assert incompatible(theirs, steals_a_key) and incompatible(base, required_extra)


HANDLER_CLASSES = ["FileMetricHandler", "FileLogHandler", "MetricHandler", "LogHandler"]


@pytest.mark.parametrize("cls_name", HANDLER_CLASSES)
def test_the_handler_classes_keep_afterimages_methods_and_signatures(cls_name: str) -> None:
    """afterimage's handler classes and protocols: each public method (and the constructor) binds the same calls."""
    theirs = getattr(afterimage.monitoring, cls_name)
    ours = getattr(genmon.monitoring, cls_name)
    members = [
        name
        for name in dir(theirs)
        if (name == "__init__" or not name.startswith("_")) and inspect.isfunction(getattr(theirs, name))
    ]
    assert {"handle_metric", "handle_log"} & set(members)  # the protocol method itself is checked
    for name in members:
        if name == "__init__" and cls_name in ("MetricHandler", "LogHandler"):
            continue  # protocols: nothing to construct
        mine = getattr(ours, name, None)
        assert callable(mine), f"genmon's {cls_name} has no {name}"
        assert incompatible(getattr(theirs, name), mine) == [], f"{cls_name}.{name}"
