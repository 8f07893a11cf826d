"""The genmon command: version, demo, usage errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from genmon import __version__
from genmon.cli.main import main


def test_version_prints_the_package_version() -> None:
    """The installed `genmon` console script prints the package version."""
    script = Path(sys.executable).with_name("genmon")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "genmon.cli"]
    out = subprocess.run([*command, "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0 and out.stdout.strip() == f"genmon {__version__}"


def test_demo_writes_a_run_directory_and_prints_it(tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    """`genmon demo` runs the simulated generator, tells each step as it runs, and prints 80 columns at most."""
    monkeypatch.setenv("COLUMNS", "80")
    run_dir = tmp_path / "demo"
    assert main(["demo", "--conversations", "40", "--concurrency", "8", "--out", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert str(run_dir) in out and "p95" in out and "generation_time" in out  # the summary table
    lines = out.splitlines()
    steps = [
        next(i for i, line in enumerate(lines) if line.startswith(f"{step}: "))
        for step in ("exports", "charts", "report")
    ]
    assert steps == sorted(steps) and steps[-1] < next(
        i for i, line in enumerate(lines) if line.startswith("Model calls: ")
    )
    assert "metrics_spans.parquet" in " ".join(lines[steps[0] : steps[1]])
    start = next(i for i, line in enumerate(lines) if line.startswith("metric "))
    end = next(i for i, line in enumerate(lines) if line.startswith("open "))  # paths are printed whole, to copy
    assert all(len(line) <= 80 for line in lines[:end] if not line.startswith("run directory")) and end - start > 5
    assert any(line.startswith("model calls: ") for line in lines)  # the line under the progress bar
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert {"generation_time", "success_rate", "error_rate", "cost_usd"} <= {line["metric"] for line in lines}
    log = [json.loads(line) for line in (run_dir / "genmon.log").read_text().splitlines()]
    assert any(record.get("alert") == "high_error_rate" for record in log)  # at least one alert fired
    assert (run_dir / "spans.jsonl").stat().st_size > 0
    for name in ("metrics.json", "metrics.csv", "metrics.xlsx", "metrics.parquet"):
        assert (run_dir / "exports" / name).stat().st_size > 0
    assert (run_dir / "plots" / "overview.png").exists() and (run_dir / "report.html").exists()


def test_the_demo_table_agrees_with_the_headline_on_model_calls(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's table rows of error_rate and generation_time count the model calls the headline counts."""
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["demo", "--conversations", "12", "--error-rate", "0.3", "--out", str(tmp_path / "demo")]) == 0
    lines = capsys.readouterr().out.splitlines()
    head = next(line for line in lines if line.startswith("Model calls: "))
    found = re.match(r"Model calls: ([\d,]+), ([\d.]+%) failed \(([\d,]+)\)", head)
    assert found, head
    calls, share, failed = found.groups()
    rows = [re.fullmatch(r"([a-z_:-]+(?: \[[A-Z_]+\])?)\s+(.*)", line) for line in lines]
    table = {row.group(1): row.group(2).split() for row in rows if row}
    assert table["error_rate"][:4] == ["%", calls, failed, share]  # unit, count, failures, share
    assert table["generation_time"][1] == calls
    assert table["error_rate [CHAIN]"][1] == "13"  # the wrappers' own row: the batch call and 12 conversations


def test_no_command_and_bad_options_exit_2(capsys) -> None:
    """Bad usage exits with code 2 and a one-line error."""
    assert main([]) == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--conversations", "many"])
    assert exit_info.value.code == 2


def test_demo_rejects_out_of_range_options(capsys) -> None:
    """An impossible error rate or count is bad usage: exit code 2 and a one-line message."""
    assert main(["demo", "--error-rate", "2"]) == 2
    assert "--error-rate" in capsys.readouterr().err
    assert main(["demo", "--conversations", "0"]) == 2
    assert "--conversations" in capsys.readouterr().err
