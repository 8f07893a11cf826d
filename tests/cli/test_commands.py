"""genmon report, export, plot and tail on finished runs: outputs, exit codes and one-line errors."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from genmon import GenerationMonitor
from genmon.cli.main import main, parse_window
from genmon.testing import ManualClock


def make_run(directory: Path) -> Path:
    clock = ManualClock(1_800_000_000.0)
    with GenerationMonitor(log_dir=directory, metrics_interval=0, clock=clock, alert_cooldown=0) as monitor:
        for i in range(60):
            with monitor.track("chat", model_name="m-large" if i % 2 else "m-small") as span:
                span.set_usage(prompt_tokens=100 + i, completion_tokens=20)
            monitor.track_generation(
                0.5 + i / 100,
                i % 2 != 0,
                model_name="m-large",
                operation="summarise",
                prompt_token_count=300,
                completion_token_count=50,
                total_token_count=350,
            )
            clock.advance(1)
        monitor.check_alerts()  # a quarter of the calls failed: low_success_rate fires
    return directory


class Structure(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, int] = {}
        self.headings: list[str] = []
        self.sources: list[str] = []
        self.alts: list[str] = []
        self._in_h2 = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag in ("img", "script", "link"):
            self.sources += [value for name, value in attrs if name in ("src", "href")]
        if tag == "img":
            self.alts += [value for name, value in attrs if name == "alt"]
        self._in_h2 = tag == "h2"

    def handle_data(self, data: str) -> None:
        if self._in_h2:
            self.headings.append(data.strip())
            self._in_h2 = False


def test_report_rebuilds_exports_plots_and_html_from_files(tmp_path: Path, capsys) -> None:
    """genmon report writes all four exports, the charts and a report.html with every section."""
    run = make_run(tmp_path / "run")
    out = tmp_path / "out"
    assert main(["report", str(run), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "generation_time" in printed and str(out / "report.html") in printed
    for name in ("metrics.json", "metrics.csv", "metrics.xlsx", "metrics.parquet"):
        assert (out / "exports" / name).stat().st_size > 0
    table = pq.read_table(out / "exports" / "metrics.parquet").to_pandas()
    assert (table["metric"] == "generation_time").sum() == 120
    assert pq.read_table(out / "exports" / "metrics_spans.parquet").num_rows == 60  # the tracked calls, beside
    assert (out / "plots" / "overview.png").exists()
    parser = Structure()
    parser.feed((out / "report.html").read_text())
    pngs = {p.stem for p in (out / "plots").glob("*.png")}
    assert sorted(parser.alts) == sorted(
        pngs - {"overview"}
    )  # every chart exactly once; the overview would repeat them
    assert parser.sources and all(src.startswith("data:image/png;base64,") for src in parser.sources)  # self-contained
    assert parser.headings == [
        "Charts",
        "Model calls by model",
        "Calls by operation",
        "Alerts",
        "Slowest units of work",
        "Every metric",
    ]
    html = (out / "report.html").read_text()
    assert "low_success_rate" in html and "m-large" in html and "summarise" in html


def test_export_with_a_window_keeps_the_end_of_the_run(tmp_path: Path) -> None:
    """genmon export --window keeps the points of the run's last window (ending at its last point)."""
    run = make_run(tmp_path / "run")
    target = tmp_path / "last.csv"
    assert main(["export", str(run), "--format", "csv", "--window", "10s", "--out", str(target)]) == 0
    frame = pd.read_csv(target)
    times = pd.to_datetime(frame[frame["metric"] == "generation_time"]["timestamp"], utc=True)
    assert 10 <= len(times) <= 22 and (times.max() - times.min()).total_seconds() <= 10


def test_plot_writes_the_standard_charts(tmp_path: Path, capsys) -> None:
    """genmon plot draws the charts into RUN_DIR/plots and prints their paths."""
    run = make_run(tmp_path / "run")
    assert main(["plot", str(run)]) == 0
    paths = capsys.readouterr().out.split()
    assert paths and all(Path(p).exists() and Path(p).parent == run / "plots" for p in paths)


def test_tail_once_shows_rates_percentiles_tokens_and_alerts(tmp_path: Path, capsys) -> None:
    """genmon tail --once prints the key metrics with percentiles, totals and the recent alerts."""
    run = make_run(tmp_path / "run")
    assert main(["tail", str(run), "--once", "--window", "1h"]) == 0
    out = capsys.readouterr().out
    assert "generation_time" in out and "p95" in out and "total_token_count" in out
    assert "low_success_rate" in out


def test_tail_once_shows_the_runs_tags_and_config_each_on_one_line_of_80_columns(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    """genmon tail shows the run's tags and flattened config on one line each; what does not fit is counted, never wrapped."""
    monkeypatch.setenv("COLUMNS", "80")
    run = tmp_path / "run"
    config = {"sampling": {"temperature": 0.7, "top_p": 0.9}, "prompt": "p" * 60}
    config.update({f"knob_{i:02d}": i for i in range(20)})
    tags = {"team": "search", "env": "staging"}
    clock = ManualClock(1_800_000_000.0)
    with GenerationMonitor(
        log_dir=run, metrics_interval=0, clock=clock, run_name="nightly-eval", tags=tags, config=config
    ) as monitor:
        monitor.track_generation(0.5, True, model_name="m-large")
    assert main(["tail", str(run), "--once"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(len(line) <= 80 for line in lines)
    assert "nightly-eval" in lines[0]
    assert [line for line in lines if line.startswith("tags: ")] == ["tags: env=staging, team=search"]
    (config_line,) = [line for line in lines if line.startswith("config: ")]
    shown = config_line.removeprefix("config: ").split(", ")
    left_out = int(shown.pop().removeprefix("… +").removesuffix(" more"))
    flat = sorted(
        [f"knob_{i:02d}={i}" for i in range(20)]
        + ["prompt=" + "p" * 60, "sampling.temperature=0.7", "sampling.top_p=0.9"]
    )
    assert shown == flat[: len(shown)] and shown and len(shown) + left_out == len(flat)


def test_tail_follows_lines_as_they_are_appended(tmp_path: Path) -> None:
    """The follower reads only complete new lines; a half-written line waits for its end."""
    from genmon.cli.tail import RunFollower

    run = make_run(tmp_path / "run")
    follower = RunFollower(run)
    first = follower.poll()
    assert first > 0 and follower.poll() == 0
    line = json.dumps({"metric": "late", "value": 2.0, "timestamp": "2027-01-15T08:00:00+00:00"})
    with open(run / "metrics.jsonl", "a") as f:
        f.write(line[:10])
    assert follower.poll() == 0
    with open(run / "metrics.jsonl", "a") as f:
        f.write(line[10:] + "\n")
    assert follower.poll() == 1 and follower.counts["late"] == 1


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["report", "{tmp}/missing"], 1, "run directory not found"),
        (["report", "{tmp}/empty"], 1, "no run files"),
        (["export", "{run}", "--format", "csv", "--window", "soon"], 2, "bad window"),
        (["plot", "{tmp}/missing"], 1, "run directory not found"),
        (["tail", "{tmp}/missing", "--once"], 1, "run directory not found"),
    ],
)
def test_errors_are_one_line_with_exit_codes(tmp_path: Path, capsys, argv, code, message) -> None:
    """Missing directories and empty runs exit 1, a bad window exits 2, each with one clear line."""
    (tmp_path / "empty").mkdir()
    run = make_run(tmp_path / "run")
    args = [a.format(tmp=tmp_path, run=run) for a in argv]
    assert main(args) == code
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_every_command_has_help_with_examples(capsys) -> None:
    """--help of each command shows examples and the exit codes."""
    for command in ("demo", "report", "export", "plot", "tail"):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        out = capsys.readouterr().out
        assert "Examples:" in out and "Exit codes" in out


def test_parse_window_units() -> None:
    """Windows accept ms, s, m, h, d and plain seconds."""
    assert [parse_window(w) for w in ("250ms", "90s", "15m", "1h", "2d", "30")] == [0.25, 90, 900, 3600, 172800, 30]
