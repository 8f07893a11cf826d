"""The results of driver.py (afterimage's generators under both monitors) and helpers to compare them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

DRIVER = Path(__file__).with_name("driver.py")
AFTERIMAGE_VERSION = "0.18.1"
DRIVER_TIMEOUT_S = 240  # under pytest-timeout's 300 s for the first test, which starts it
# Durations measured by the generators: they differ from one run to the next, so only their counts are compared.
TIMED = frozenset({"generation_time", "model_creation_time"})
# The documented change: genmon records error_rate (and evaluation_error_rate) 0 or 1 on every call.
RATES = frozenset({"error_rate", "evaluation_error_rate"})


@dataclass
class Runs:
    """Everything driver.py observed, and where it left the files."""

    out: Path
    results: dict[str, Any]
    stderr: str

    def pair(self, scenario: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(afterimage's run, genmon's run) of one scenario; fails with the driver's traceback if one crashed."""
        runs = self.results[scenario]
        return self.run(scenario, "afterimage", runs), self.run(scenario, "genmon", runs)

    def run(self, scenario: str, kind: str, runs: dict[str, Any] | None = None) -> dict[str, Any]:
        result = (runs or self.results[scenario])[kind]
        if "crashed" in result:
            raise AssertionError(f"{scenario} with {kind}'s monitor crashed:\n{result['crashed']}")
        return result  # type: ignore[no-any-return]

    def path(self, scenario: str, kind: str, *parts: str) -> Path:
        folder = "rate_limit_1e-09" if scenario == "rate_limit_any_error" else scenario
        return self.out.joinpath(folder, kind, *parts)


def run_driver(out: Path) -> Runs:
    """Run driver.py once in a subprocess (afterimage's import is slow and process-wide) and load its results."""
    env = {**os.environ, "MPLBACKEND": "Agg", "AFTERIMAGE_JSONL_DIR": str(out / "jsonl")}
    done = subprocess.run(
        [sys.executable, str(DRIVER), str(out)],
        cwd=out,
        env=env,
        capture_output=True,
        text=True,
        timeout=DRIVER_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"driver.py failed ({done.returncode}):\n{done.stderr[-6000:]}")
    return Runs(out, json.loads((out / "results.json").read_text()), done.stderr)


def by_metric(points: list[list[Any]]) -> dict[str, list[Any]]:
    """Values per metric name, in recording order, from [name, value, ...] rows."""
    grouped: dict[str, list[Any]] = defaultdict(list)
    for point in points:
        grouped[point[0]].append(point[1])
    return dict(grouped)


def metadata_by_metric(points: list[list[Any]]) -> dict[str, list[dict[str, Any]]]:
    """Metadata per metric name, in recording order, from [name, value, metadata] rows."""
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for name, _, metadata in points:
        grouped[name].append(metadata)
    return dict(grouped)


def counts(points: list[list[Any]]) -> dict[str, int]:
    return {name: len(values) for name, values in by_metric(points).items()}


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def has_offset(timestamp: str) -> bool:
    """An ISO-8601 text that carries its UTC offset (genmon's files); afterimage wrote naive local time."""
    return datetime.fromisoformat(timestamp).tzinfo is not None


def comparable(grouped: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """The metrics whose values are the same in both runs: not durations, not the error rates."""
    return {name: values for name, values in grouped.items() if name not in TIMED | RATES}
