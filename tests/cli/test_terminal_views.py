"""Terminal views at 80 columns: the summary table, `genmon tail`, and what `genmon demo` says on Ctrl-C."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

from genmon import GenerationMonitor
from genmon.cli.main import main
from genmon.cli.run_report import summary_table
from genmon.cli.tail import RunFollower, render
from genmon.monitor.store.metric_store import MetricStore
from genmon.testing import ManualClock

LONG_NAMES = ("system/network_recv_bytes_per_s", "system/memory_available_bytes", "completion_token_count")


def printed(renderable: Any, width: int = 80) -> str:
    console = Console(width=width, color_system=None, highlight=False)
    with console.capture() as capture:
        console.print(renderable)
    return capture.get()


def demo_like_store() -> MetricStore:
    """Call metrics with their kinds (seconds, 0/1, tokens, $, counters) and resource gauges with long names."""
    store = MetricStore()
    rng = np.random.default_rng(1)
    points = []
    for i in range(200):
        ts = 1_800_000_000.0 + i
        meta = {"model_name": "sim-large", "span_type": "LLM"}
        points += [
            ("generation_time", float(rng.lognormal(-3, 0.5)), ts, meta),
            ("error_rate", float(i % 10 == 0), ts, meta),
            ("completion_token_count", float(rng.integers(20, 400)), ts, meta),
            ("cost_usd", float(rng.uniform(0.0001, 0.004)), ts, meta),
            ("model_usage:sim-large", 1.0, ts, meta),
            ("system/network_recv_bytes_per_s", float(rng.uniform(1e3, 5e3)), ts, None),
            ("system/memory_available_bytes", 19.8e9, ts, None),
            ("process/rss_bytes", 44_800_000.0, ts, None),
        ]
    store.append_batch(points)
    return store


def test_the_summary_table_fits_80_columns_and_never_cuts_a_name() -> None:
    """At 80 columns every line fits, every name is whole on one line, with unit and total columns."""
    text = printed(summary_table(demo_like_store().snapshot(), width=80))
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines) and "…" not in text
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:] if line.strip() and not line.startswith("─")}
    assert set(LONG_NAMES) <= set(rows)
    header = lines[1].split() if lines[0].startswith("Summary") else lines[0].split()
    assert header[:4] == ["metric", "unit", "count", "total"]
    assert rows["generation_time"][0] == "ms"
    assert rows["cost_usd"][0] == "$" and rows["completion_token_count"][0] == "tokens"
    assert rows["process/rss_bytes"][:3] == ["MB", "200", "44.8"]  # humanised, no total for a gauge
    assert rows["system/memory_available_bytes"][0] == "GB"
    assert rows["error_rate"] == ["%", "200", "20", "10.0%"]  # count, failures, share: no percentiles
    assert rows["model_usage:sim-large"] == ["200", "200"]  # a counter: count and total only


def test_the_summary_table_keeps_long_names_whole_by_leaving_columns_out() -> None:
    """A 45-character name still prints whole at 80 columns: optional columns go first."""
    store = MetricStore()
    name = "evaluation_score_faithfulness_to_the_sources_v2"
    store.append_batch([(name, 0.5 + i / 100, 1.8e9 + i, None) for i in range(30)])
    text = printed(summary_table(store.snapshot(), width=80))
    assert all(len(line) <= 80 for line in text.splitlines())
    assert any(line.startswith(name + " ") for line in text.splitlines())


def write_run(directory: Path, clock: ManualClock) -> None:
    with GenerationMonitor(log_dir=directory, metrics_interval=0, clock=clock, alert_max_error_rate=0.05) as monitor:
        for i in range(20):
            clock.advance(0.5)
            monitor.track_generation(0.2 + i / 100, i % 4 != 0, model_name="sim-small", operation="chat",
                                     prompt_token_count=120, completion_token_count=30, total_token_count=150)  # fmt: skip
            monitor.record_metric("system/network_recv_bytes_per_s", 1500.0)
        monitor.track_generation(2.5, True, operation="generate", span_type="CHAIN")
        monitor.check_alerts()  # a quarter of the calls failed: high_error_rate fires


def test_tail_puts_alerts_and_the_error_rate_first_and_fits_80_columns(tmp_path: Path) -> None:
    """On a 24-row terminal the alerts and the model-call error rate are in the first lines; no name is cut."""
    write_run(tmp_path / "run", ManualClock(1_800_000_000.0))
    follower = RunFollower(tmp_path / "run")
    follower.poll()
    text = printed(render(follower, 3600, follower.store.last_timestamp() or 0.0, 80))
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines) and "…" not in text
    alert = next(i for i, line in enumerate(lines) if "high_error_rate" in line)
    calls = next(i for i, line in enumerate(lines) if line.startswith("model calls: 20,"))
    table = next(i for i, line in enumerate(lines) if line.startswith("metric "))
    assert alert < calls < table < 24 and "25.0% failed" in lines[calls]
    assert any(line.startswith("system/network_recv_bytes_per_s ") for line in lines)
    assert "CHAIN 1 call" in text  # the wrapper apart, not in the model calls


def test_tail_rates_are_not_diluted_by_the_idle_time_since_the_run_ended(tmp_path: Path) -> None:
    """A run that wrote 20 calls over 10 s and ended 30 s ago shows 2/s, not 20 over the time since it started."""
    started = time.time() - 40.0
    write_run(tmp_path / "run", ManualClock(started))
    follower = RunFollower(tmp_path / "run")
    follower.poll()
    newest = follower.store.last_timestamp()
    assert newest is not None
    text = printed(render(follower, 300, newest + 30.0, 120, wall_now=newest + 30.0), width=120)
    calls = next(line for line in text.splitlines() if line.startswith("model calls: "))
    assert "model calls: 20, 2.11/s," in calls  # 20 calls from the first point to the last: 9.5 s
    assert "idle for 30 s" in text


def test_ctrl_c_during_the_demo_says_what_was_kept(tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while generating exits 1 and names the run directory, its files and how to build the rest."""

    async def interrupted(monitor: GenerationMonitor, *args: Any) -> None:
        for _ in range(3):
            monitor.track_generation(0.1, True, model_name="sim-small")
        raise KeyboardInterrupt

    monkeypatch.setattr("genmon.cli.demo.run_simulation", interrupted)
    run = tmp_path / "demo"
    assert main(["demo", "--conversations", "5", "--out", str(run)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("genmon demo: interrupted after 0 of 5 conversations;") and len(err.splitlines()) == 1
    assert str(run) in err and "metrics.jsonl" in err and f"genmon report {run}" in err
    metrics = [json.loads(line)["metric"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert metrics.count("generation_time") == 3  # drained on the way out


def test_ctrl_c_while_the_report_is_built_says_the_run_files_are_complete(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch, make_monitor: Callable[..., GenerationMonitor]
) -> None:
    """Ctrl-C during the charts exits 1 and says the run's files are complete and how to rebuild the report."""

    def stop(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("genmon.cli.run_report.plot_run", stop)
    run = tmp_path / "demo"
    assert main(["demo", "--conversations", "3", "--out", str(run)]) == 1
    err = capsys.readouterr().err
    assert "interrupted while writing the exports, charts and report; the run's own files are complete" in err
    assert (run / "spans.jsonl").exists() and not (run / "report.html").exists()
