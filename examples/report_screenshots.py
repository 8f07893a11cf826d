"""Screenshots of report.html and its charts for the demo, a 2-second, a one-point and a 2-hour run, to look at them.

Run ``python examples/report_screenshots.py [out_dir]`` (default
``genmon-screenshots``); it needs Chromium (``chromium`` on the PATH).
The demo run is ``genmon demo``'s own; the others are simulated on a manual
clock (no waiting), written as a run directory and rebuilt with
``genmon report``'s code. Headless Chromium takes full-page PNGs of each
report.html at a desktop width (1280 px) and a narrow one (500 px). The charts
are PNG files already: they are copied beside the screenshots, so the whole
look of a run is in ``out_dir/shots/<run>/``.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

from genmon import GenerationMonitor
from genmon.cli.main import main as genmon_cli
from genmon.cli.run_files import load_runs
from genmon.cli.run_report import build_report
from genmon.monitor.tracking import track as track_module
from genmon.simulated import PRICES
from genmon.testing import ManualClock

START = 1_767_261_626.5  # 2026-01-01 10:00:26.5 UTC: the old axis showed "26.5 ... 29.0" for a 2-second run
# A laptop screen, where the charts sit two a row; a narrow window (headless Chromium lays out nothing narrower).
WIDTHS = {"desktop": 1280, "narrow": 500}


class RateLimited(RuntimeError):
    pass


def conversation(monitor: GenerationMonitor, clock: ManualClock, rng: random.Random, step_s: float) -> None:
    """One unit of work: 1-3 model calls (the first may fail), then an evaluator."""
    with monitor.track("generate_conversation", span_type="CHAIN"):
        for _ in range(rng.randint(1, 3)):
            model = rng.choice(list(PRICES))
            try:
                with monitor.track("complete", model_name=model) as span:
                    clock.advance(rng.lognormvariate(0, 0.4) * step_s * (2 if model == "sim-large" else 1))
                    if rng.random() < 0.12:
                        raise RateLimited("429 rate limited")
                    span.set_usage(prompt_tokens=rng.randint(100, 400), completion_tokens=rng.randint(20, 300))
            except RateLimited:
                pass
        with monitor.track("evaluate_conversation", span_type="EVALUATOR"):
            clock.advance(0.00002)


def two_seconds(monitor: GenerationMonitor, clock: ManualClock) -> None:
    """A batch call over 8 conversations, about 2 s in all."""
    rng = random.Random(2)
    with monitor.track("generate", span_type="CHAIN"):
        for _ in range(8):
            conversation(monitor, clock, rng, 0.1)


def one_point(monitor: GenerationMonitor, clock: ManualClock) -> None:
    """A single track_generation call."""
    monitor.track_generation(0.42, True, model_name="sim-small", operation="chat", prompt_token_count=120,
                             completion_token_count=30, total_token_count=150)  # fmt: skip


def two_hours(monitor: GenerationMonitor, clock: ManualClock) -> None:
    """Two hours of conversations, one every 12 s on average, with a rate-limit storm in the middle."""
    rng = random.Random(7)
    while clock() < START + 7200:
        clock.advance(rng.expovariate(1 / 12))
        storm = 0.45 < (clock() - START) / 7200 < 0.55
        conversation(monitor, clock, rng, 2.0 if storm else 0.8)


RUNS: dict[str, Callable[[GenerationMonitor, ManualClock], None]] = {
    "two_seconds": two_seconds,
    "one_point": one_point,
    "two_hours": two_hours,
}


def chromium(*arguments: str, profile: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        raise SystemExit("chromium is not installed (Debian: apt-get install chromium)")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--virtual-time-budget=5000"]  # fmt: skip
    return subprocess.run([binary, *flags, *arguments], capture_output=True, text=True, timeout=180, check=False)


def screenshot(page: Path, png: Path, width: int, profile: Path) -> int:
    """A full-page PNG of ``page`` at ``width`` px; returns the page's height in px."""
    dom = chromium(f"--window-size={width},800", "--dump-dom", page.resolve().as_uri(), profile=profile).stdout
    found = re.search(r'data-height="(\d+)"', dom)  # set by the report's load handler
    height = int(found.group(1)) if found else 4000
    chromium(f"--window-size={width},{height}", f"--screenshot={png.resolve()}", page.resolve().as_uri(),
             profile=profile)  # fmt: skip
    return height


def simulated(name: str, run: Path) -> None:
    simulate = RUNS[name]
    clock = ManualClock(START)
    # track() times a call with time.perf_counter, not the monitor's clock: without this the simulated
    # latencies would be the few microseconds the loop really takes.
    with (
        mock.patch.object(track_module, "time", SimpleNamespace(perf_counter=clock)),
        GenerationMonitor(log_dir=run, metrics_interval=0, clock=clock, prices=PRICES, run_name=name) as monitor,
    ):
        simulate(monitor, clock)
    build_report(load_runs([run]), run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir", nargs="?", default="genmon-screenshots", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as profile:
        for name in ["demo", *RUNS]:
            run = args.out_dir / name
            shutil.rmtree(run, ignore_errors=True)
            if name == "demo":
                if genmon_cli(["demo", "--out", str(run)]) != 0:
                    raise SystemExit("genmon demo failed")
            else:
                simulated(name, run)
            shots = args.out_dir / "shots" / name
            shutil.rmtree(shots, ignore_errors=True)
            shots.mkdir(parents=True)
            for chart in sorted((run / "plots").glob("*.png")):
                shutil.copyfile(chart, shots / chart.name)
            for kind, width in WIDTHS.items():
                png = shots / f"report-{kind}.png"
                height = screenshot(run / "report.html", png, width, Path(profile))
                print(f"{name}: {png} ({width} x {height} px)")


if __name__ == "__main__":
    main()
