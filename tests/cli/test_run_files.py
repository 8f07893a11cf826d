"""Reading finished runs from their files: genmon and afterimage layouts, shards, damaged lines."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from genmon import GenerationMonitor
from genmon.cli.run_files import RunFileWarning, RunNotFoundError, load_runs


def write_run(directory: Path, points: int = 20) -> None:
    with GenerationMonitor(log_dir=directory, metrics_interval=0) as monitor:
        for i in range(points):
            monitor.track_generation(
                0.1 * (i + 1), i % 5 != 0, model_name="m", prompt_token_count=10 + i, operation="chat"
            )
        monitor.log_warning("halfway", step=1)


def test_a_genmon_run_reads_back_exactly(tmp_path: Path) -> None:
    """Every point, its value, time and metadata come back from metrics.jsonl; logs come back too."""
    write_run(tmp_path)
    run = load_runs([tmp_path])
    data = run.store.series("generation_time")
    assert data is not None and len(data) == 20
    assert data.values.tolist() == pytest.approx([0.1 * (i + 1) for i in range(20)])
    assert data.metadata()[0] == {"model_name": "m", "operation": "chat"}
    assert run.store.window_stats("error_rate", 0.0)["mean"] == pytest.approx(0.2)
    assert any(r["message"] == "halfway" for r in run.logs)


def test_truncated_last_line_is_skipped_with_a_warning(tmp_path: Path) -> None:
    """A crash mid-write leaves half a line at the end: it is skipped with a warning and nothing else is lost."""
    write_run(tmp_path)
    path = tmp_path / "metrics.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines) + lines[0][: len(lines[0]) // 2])
    with pytest.warns(RunFileWarning, match=r"metrics.jsonl:\d+: truncated last line"):
        run = load_runs([tmp_path])
    assert run.store.count() == len(lines)


def test_malformed_line_is_reported_with_file_and_line_number(tmp_path: Path) -> None:
    """A garbled line in the middle is reported with its file and line number; the others are read."""
    write_run(tmp_path)
    path = tmp_path / "metrics.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    lines.insert(3, "{not json\n")
    lines.insert(5, '{"metric": "x", "value": "NaN-ish", "timestamp": "2026-01-01T00:00:00+00:00"}\n')
    path.write_text("".join(lines))
    with pytest.warns(RunFileWarning) as caught:
        run = load_runs([tmp_path])
    messages = [str(w.message) for w in caught]
    assert any(f"{path}:4: malformed JSON line" in m for m in messages)
    assert any(f"{path}:6: not a metric line" in m for m in messages)
    assert run.store.count() == len(lines) - 2


def test_an_afterimage_run_with_naive_local_timestamps_is_read(tmp_path: Path) -> None:
    """afterimage's metrics.jsonl (naive local ISO timestamps) and afterimage.log lines are understood."""
    stamp = datetime(2026, 3, 1, 12, 0, 0, 123456)
    (tmp_path / "metrics.jsonl").write_text(
        json.dumps({"metric": "generation_time", "value": 1.5, "timestamp": stamp.isoformat()})
        + "\n"
        + json.dumps({"metric": "prompt_token_count", "value": 12, "model_name": "x", "timestamp": stamp.isoformat()})
        + "\n"
    )
    (tmp_path / "afterimage.log").write_text(
        '2026-03-01 12:00:01,000 - {"message": "Generation metrics", "level": "info"}\n'
    )
    run = load_runs([tmp_path])
    data = run.store.series("generation_time")
    assert data is not None and data.timestamps.tolist() == [stamp.timestamp()]  # naive = local time
    assert run.store.series("prompt_token_count").metadata() == [{"model_name": "x"}]  # type: ignore[union-attr]
    assert run.logs[0]["message"] == "Generation metrics"


def test_shard_files_and_several_directories_are_merged(tmp_path: Path) -> None:
    """metrics-<shard>.jsonl files and several run directories merge into one view."""
    write_run(tmp_path / "a", points=5)
    write_run(tmp_path / "b", points=7)
    (tmp_path / "a" / "metrics.jsonl").rename(tmp_path / "a" / "metrics-host-1.jsonl")
    run = load_runs([tmp_path / "a", tmp_path / "b"])
    assert run.store.count("generation_time") == 12


def test_missing_and_empty_directories_are_clear_errors(tmp_path: Path) -> None:
    """A missing directory or one without run files raises RunNotFoundError naming it."""
    with pytest.raises(RunNotFoundError, match="not found"):
        load_runs([tmp_path / "nope"])
    with pytest.raises(RunNotFoundError, match="no run files"):
        load_runs([tmp_path])


def test_bad_span_and_log_lines_are_skipped_with_their_line(tmp_path: Path) -> None:
    """A span line with a non-numeric duration is reported with its file and line; the report still builds."""
    from genmon.cli.run_report import build_report

    write_run(tmp_path)
    with open(tmp_path / "spans.jsonl", "a") as f:
        f.write(json.dumps({"call_id": "x", "name": "bad", "start": "soon", "duration_s": "slow"}) + "\n")
        f.write(
            json.dumps({"call_id": "y", "name": "ok", "start": 1.8e9, "duration_s": 0.5, "prompt_tokens": "n/a"}) + "\n"
        )
    with open(tmp_path / "genmon.log", "a") as f:
        f.write(json.dumps({"message": "odd", "timestamp": 12, "alert": "x"}) + "\n")
    with pytest.warns(RunFileWarning, match=r"spans.jsonl:1: not a span line"):
        run = load_runs([tmp_path])
    assert [s["name"] for s in run.spans] == ["ok"]
    assert build_report(run, tmp_path / "out").report.exists()


def test_the_run_name_tags_and_config_are_read_from_run_json(tmp_path: Path) -> None:
    """run.json's name, tags and config come back as run_info; a run without one has None, an unreadable one warns."""
    with GenerationMonitor(
        log_dir=tmp_path / "named", run_name="nightly", tags={"dataset": "v3"}, config={"t": 0.7}
    ) as m:
        m.record_metric("x", 1.0)
    info = load_runs([tmp_path / "named"]).run_info
    assert info is not None and (info["run_name"], info["tags"], info["config"]) == (
        "nightly",
        {"dataset": "v3"},
        {"t": 0.7},
    )
    with GenerationMonitor(log_dir=tmp_path / "plain") as m:
        m.record_metric("x", 1.0)
    assert load_runs([tmp_path / "plain"]).run_info is None
    (tmp_path / "plain" / "run.json").write_text("{not json")
    with pytest.warns(RunFileWarning, match="run.json: unreadable"):
        assert load_runs([tmp_path / "plain"]).run_info is None
