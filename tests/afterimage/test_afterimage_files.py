"""The files each monitor wrote for afterimage's generators, read back: metrics.jsonl, every export format, charts.

Layout differences the README documents are allowed (genmon's combined CSV
and manifest, metadata columns kept, ISO timestamps with their offset, a
summary sheet); values, names and counts must match.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from afterimage_runs import RATES, TIMED, Runs, has_offset, jsonl

FILE_SCENARIOS = ["conversations", "personas", "direct"]


def _same_points(a: dict[str, list[dict[str, Any]]], g: dict[str, list[dict[str, Any]]]) -> None:
    """afterimage's {metric: [records]} and genmon's hold the same metrics, counts and values; genmon's keys are a superset."""
    assert set(a) == set(g)
    for name in set(a) - RATES:
        assert len(a[name]) == len(g[name]), name
        if name not in TIMED:
            assert [r["value"] for r in a[name]] == [r["value"] for r in g[name]], name
        for theirs, mine in zip(a[name], g[name], strict=True):
            assert set(theirs) <= set(mine), (name, theirs, mine)
            assert not has_offset(theirs["timestamp"].replace(" ", "T")) and has_offset(mine["timestamp"])


def _grouped(lines: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        record = {k: v for k, v in line.items() if k != "metric"}
        grouped.setdefault(line["metric"], []).append(record)
    return grouped


@pytest.mark.parametrize("scenario", FILE_SCENARIOS)
def test_metrics_jsonl_holds_the_same_points_with_afterimages_keys(runs: Runs, scenario: str) -> None:
    """metrics.jsonl: the same metrics, counts and values; afterimage's keys on every line; timestamps with their offset."""
    a = _grouped(jsonl(runs.path(scenario, "afterimage", "logs", "metrics.jsonl")))
    g = _grouped(jsonl(runs.path(scenario, "genmon", "logs", "metrics.jsonl")))
    _same_points(a, g)


@pytest.mark.parametrize("scenario", FILE_SCENARIOS)
def test_values_keep_their_json_type_as_in_afterimage(runs: Runs, scenario: str) -> None:
    """An int afterimage wrote as 10 is 10 in genmon's metrics.jsonl too, a float stays a float."""
    a = _grouped(jsonl(runs.path(scenario, "afterimage", "logs", "metrics.jsonl")))
    g = _grouped(jsonl(runs.path(scenario, "genmon", "logs", "metrics.jsonl")))
    for name in set(a) - RATES:
        assert [type(r["value"]) for r in a[name]] == [type(r["value"]) for r in g[name]], name
    assert type(g["prompt_token_count"][0]["value"]) is int


@pytest.mark.parametrize("scenario", FILE_SCENARIOS)
def test_the_json_export_reads_back_the_same_points(runs: Runs, scenario: str) -> None:
    """export_metrics(format="json") and save_metrics(): afterimage's {metric: [records]} layout with the same points."""
    afterimage, genmon = runs.pair(scenario)
    assert afterimage["exports"]["json"]["files"] == genmon["exports"]["json"]["files"] == ["m.json"]
    a = json.loads(runs.path(scenario, "afterimage", "export", "json", "m.json").read_text())
    g = json.loads(runs.path(scenario, "genmon", "export", "json", "m.json").read_text())
    _same_points(a, g)
    saved_a = json.loads(runs.path(scenario, "afterimage", "logs", afterimage["save_metrics"]).read_text())
    saved_g = json.loads(runs.path(scenario, "genmon", "logs", genmon["save_metrics"]).read_text())
    _same_points(saved_a, saved_g)


@pytest.mark.parametrize("scenario", FILE_SCENARIOS)
def test_csv_per_metric_files_keep_afterimages_names_and_values(runs: Runs, scenario: str) -> None:
    """export_metrics("m.csv", format="csv"): afterimage's m_<metric>.csv files (':' kept) with the same values; genmon adds m.csv and a manifest."""
    afterimage, genmon = runs.pair(scenario)
    a_files, g_files = afterimage["exports"]["csv"]["files"], genmon["exports"]["csv"]["files"]
    assert set(g_files) == set(a_files) | {"m.csv", "m_manifest.json"}
    assert genmon["exports"]["csv"]["returned"] == g_files and afterimage["exports"]["csv"]["returned"] is None
    combined = pd.read_csv(runs.path(scenario, "genmon", "export", "csv", "m.csv"))
    for name in a_files:
        metric = name.removeprefix("m_").removesuffix(".csv")
        a = pd.read_csv(runs.path(scenario, "afterimage", "export", "csv", name))
        g = pd.read_csv(runs.path(scenario, "genmon", "export", "csv", name))
        assert list(a.columns) == ["timestamp", "value"]  # afterimage wrote no metadata column
        assert list(g.columns[:2]) == ["timestamp", "value"]
        assert combined[combined["metric"] == metric]["value"].tolist() == g["value"].tolist()
        if metric in RATES:
            continue
        assert len(a) == len(g), metric
        if metric not in TIMED:
            assert a["value"].tolist() == g["value"].tolist(), metric
        assert has_offset(g["timestamp"][0]) and not has_offset(a["timestamp"][0])
    manifest = json.loads(runs.path(scenario, "genmon", "export", "csv", "m_manifest.json").read_text())
    assert {m["file"] for m in manifest["metrics"]} == set(a_files)


def test_the_excel_export_has_afterimages_sheets_and_values(runs: Runs) -> None:
    """export_metrics(format="excel") with plain metric names: afterimage's sheets and values, after genmon's summary sheet."""
    afterimage, genmon = runs.pair("direct")
    assert "error" not in afterimage["exports"]["excel"] and genmon["exports"]["excel"]["returned"] == ["m.xlsx"]
    a = pd.read_excel(runs.path("direct", "afterimage", "export", "excel", "m.xlsx"), sheet_name=None)
    g = pd.read_excel(runs.path("direct", "genmon", "export", "excel", "m.xlsx"), sheet_name=None)
    assert list(g) == ["summary", *a]
    for sheet, frame in a.items():
        assert list(frame.columns) == ["timestamp", "value"]
        assert list(g[sheet].columns[:2]) == ["timestamp", "value"]
        if sheet not in RATES:
            assert frame["value"].tolist() == g[sheet]["value"].tolist(), sheet
    assert g["summary"].set_index("metric")["points"].to_dict()["queue_depth"] == 1


@pytest.mark.parametrize("scenario", ["conversations", "personas"])
def test_the_excel_export_works_where_afterimage_raised_on_colons(runs: Runs, scenario: str) -> None:
    """afterimage's Excel export raised on model_usage:<model> (':' is not allowed in a sheet name); genmon maps it to a safe sheet."""
    afterimage, genmon = runs.pair(scenario)
    assert afterimage["exports"]["excel"]["error"].startswith("ValueError: Invalid character : found in sheet title")
    assert genmon["exports"]["excel"]["returned"] == ["m.xlsx"]
    summary = pd.read_excel(runs.path(scenario, "genmon", "export", "excel", "m.xlsx"), sheet_name="summary")
    sheets = summary.dropna(subset=["metric"]).set_index("metric")["sheet"].to_dict()
    usage = [name for name in sheets if name.startswith("model_usage:")]
    assert usage and all(":" not in sheets[name] for name in usage)


@pytest.mark.parametrize("scenario", FILE_SCENARIOS)
def test_the_parquet_export_reads_back_the_same_points(runs: Runs, scenario: str) -> None:
    """export_metrics(format="parquet"): one long table in both; genmon names the column metric (afterimage: metric_name) and keeps metadata."""
    a = pd.read_parquet(runs.path(scenario, "afterimage", "export", "parquet", "m.parquet"))
    g = pd.read_parquet(runs.path(scenario, "genmon", "export", "parquet", "m.parquet"))
    assert list(a.columns) == ["metric_name", "timestamp", "value"]
    assert list(g.columns[:3]) == ["metric", "timestamp", "value"] and len(g.columns) > 3
    assert set(a["metric_name"]) == set(g["metric"])
    assert g["timestamp"].dt.tz is not None and a["timestamp"].dt.tz is None
    for metric in set(a["metric_name"]) - RATES:
        mine, theirs = g[g["metric"] == metric]["value"].tolist(), a[a["metric_name"] == metric]["value"].tolist()
        assert len(mine) == len(theirs), metric
        if metric not in TIMED:
            assert mine == theirs, metric


@pytest.mark.parametrize("scenario", ["personas", "direct"])
def test_visualize_metrics_writes_afterimages_charts_and_an_overview(runs: Runs, scenario: str) -> None:
    """visualize_metrics(save_dir=...) writes afterimage's chart files plus overview.png and the per-model charts; returns their paths (afterimage: None)."""
    afterimage, genmon = runs.pair(scenario)
    a, g = afterimage["visualize"], genmon["visualize"]
    assert a["returned"] is None and g["returned"] == g["files"]
    assert _beyond_afterimages(set(g["files"]), set(a["files"]))
    assert {"success_error_rate.png", "generation_time.png", "total_token_count.png"} <= set(a["files"])
    if scenario == "direct":
        assert {"evaluation_scores.png", "evaluation_time.png"} <= set(a["files"])
    for name in g["files"]:
        assert Path(runs.path(scenario, "genmon", "plots", name)).stat().st_size > 1000


@pytest.mark.parametrize("scenario", ["conversations", "rate_limit"])
def test_the_generators_own_visualize_call_writes_the_same_charts(runs: Runs, scenario: str) -> None:
    """afterimage's orchestrator calls monitor.visualize_metrics() after a run: log_dir/plots gets afterimage's charts plus overview.png."""
    afterimage, genmon = runs.pair(scenario)
    assert afterimage["generator_plots"]
    assert _beyond_afterimages(set(genmon["generator_plots"]), set(afterimage["generator_plots"]))


# Charts genmon draws beyond afterimage's: the overview, and per model when the run has model calls.
PER_MODEL_CHARTS = {"latency_by_model.png", "error_rate_by_model.png", "tokens_by_model.png", "cost_by_model.png"}


def _beyond_afterimages(genmons: set[str], afterimages: set[str]) -> bool:
    """Every chart afterimage wrote, overview.png, and nothing else but the per-model charts."""
    extra = genmons - afterimages
    return afterimages <= genmons and "overview.png" in extra and extra <= {"overview.png", *PER_MODEL_CHARTS}


@pytest.mark.parametrize("scenario", FILE_SCENARIOS)
def test_the_log_file_is_genmon_log(runs: Runs, scenario: str) -> None:
    """log_dir holds metrics.jsonl in both; the log file is genmon.log (JSON lines) where afterimage wrote afterimage.log."""
    afterimage, genmon = runs.pair(scenario)
    assert {"metrics.jsonl", "afterimage.log"} <= set(afterimage["log_dir_files"])
    assert {"metrics.jsonl", "genmon.log"} <= set(genmon["log_dir_files"])
    first = runs.path(scenario, "genmon", "logs", "genmon.log").read_text().splitlines()[0]
    assert json.loads(first)["level"]


def test_evaluation_scores_without_feedback_keep_feedback_null_as_afterimage(runs: Runs) -> None:
    """track_evaluation(scores={"coherence": 0.8}): the point's metadata and metrics.jsonl line carry "feedback": null, as afterimage's."""
    a = _grouped(jsonl(runs.path("direct", "afterimage", "logs", "metrics.jsonl")))
    g = _grouped(jsonl(runs.path("direct", "genmon", "logs", "metrics.jsonl")))
    assert a["evaluation_score_coherence"][0]["feedback"] is None
    assert "feedback" in g["evaluation_score_coherence"][0]
