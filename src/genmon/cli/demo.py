"""``genmon demo``: the simulated async conversation generator with the monitor attached in one line.

It shows a progress bar with live figures over model calls (the same
definition as the report's cards), fires at least one alert (the
error-rate threshold is set below the simulated rate-limit rate), then
tells each step as it runs (exports in every format, the charts,
report.html, rebuilt from the files as ``genmon report`` would). Ctrl-C
stops it with a word on what was kept: the monitor drains on the way out,
so every call recorded so far is in the run directory's files.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from genmon.monitor.generation_monitor import GenerationMonitor
from genmon.simulated import PRICES, run_simulation

EXIT_INTERRUPTED = 1  # the demo did not finish: "failed" in genmon's exit codes
RATES_EVERY_S = 0.25  # the bar's figures are recomputed at most this often


def _progress(console: Any) -> Any:
    """The bar, and under it one line of figures over model calls (one line each: both fit 80 columns)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.text import Text

    class DemoProgress(Progress):
        figures = ""

        def get_renderables(self) -> Any:
            yield self.make_tasks_table(self.tasks)
            if self.figures:
                yield Text(self.figures, no_wrap=True, overflow="ellipsis")

    return DemoProgress(
        TextColumn("[bold]conversations"),
        BarColumn(bar_width=30),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def rates_text(monitor: GenerationMonitor, started: float) -> str:
    """``model calls: 352, 242/s, p95 107 ms, 8.4% failed``: over the model calls recorded so far."""
    from genmon.exporters.calls import headline
    from genmon.plots.units import format_percent, format_seconds

    calls = headline(monitor.store.snapshot(names=["generation_time", "error_rate"])).model  # the report's figures
    if calls.p95 is None:
        return ""
    elapsed = max(time.perf_counter() - started, 1e-9)
    failed = "-" if calls.error_rate is None else format_percent(calls.error_rate)
    return f"model calls: {calls.calls:,}, {calls.calls / elapsed:,.0f}/s, p95 {format_seconds(calls.p95)}, {failed} failed"


def run_demo(args: argparse.Namespace) -> int:
    from rich.console import Console

    from genmon.cli.commands import print_outputs
    from genmon.cli.run_files import load_runs
    from genmon.cli.run_report import ConsoleSteps, build_report

    console = Console(highlight=False)
    started = time.perf_counter()
    alerts: list[Any] = []
    finished = [0]
    monitor = GenerationMonitor(
        log_dir=Path(args.out) if args.out else None,
        metrics_interval=1.0,  # the alert rules also run while the job runs
        alert_handlers=[alerts.append],
        alert_max_error_rate=0.02,  # well below the simulated rate-limit rate: the demo shows an alert
        alert_cooldown=30,
        prices=PRICES,
        sample_resources=0.5,
        run_name="genmon demo",
        tags={"generator": "simulated", "models": "sim-large, sim-small"},
        config={key: getattr(args, key) for key in ("conversations", "concurrency", "error_rate", "seed")},
    )
    step = "generation"
    try:
        with monitor, _progress(console) as progress:
            task = progress.add_task("generate", total=args.conversations)
            last = [0.0]

            def on_finished(ok: bool) -> None:
                finished[0] += 1
                now = time.perf_counter()
                if now - last[0] >= RATES_EVERY_S or finished[0] == args.conversations:
                    last[0] = now
                    progress.figures = rates_text(monitor, started)
                progress.update(task, advance=1)

            monitor.log_info("demo started", conversations=args.conversations, concurrency=args.concurrency)
            generator = asyncio.run(
                run_simulation(monitor, args.conversations, args.concurrency, args.error_rate, args.seed, on_finished)
            )
            alerts += monitor.check_alerts()  # also waits until every point is stored: the bar's last figures are final
            progress.figures = rates_text(monitor, started)
        fired = sorted({a.name for a in alerts if a.data.get("state") != "resolved"})
        console.print(
            f"{args.conversations - generator.failed} conversations generated, {generator.failed} failed after "
            f"retries; alerts: {', '.join(fired) or 'none'}"
        )
        step = "the report"
        run = load_runs([monitor.log_dir])
        outputs = build_report(run, monitor.log_dir, steps=ConsoleSteps(console))
    except KeyboardInterrupt:
        print(interrupted_text(monitor.log_dir, step, finished[0], args.conversations), file=sys.stderr)
        return EXIT_INTERRUPTED
    print_outputs(console, run, outputs, title="Demo run")
    console.print(f"run directory: {monitor.log_dir}  ({time.perf_counter() - started:.1f} s)", soft_wrap=True)
    return 0


def interrupted_text(log_dir: Path, step: str, finished: int, total: int) -> str:
    """What Ctrl-C left behind, and how to get the rest."""
    files = [p.name for p in sorted(log_dir.glob("*")) if p.is_file() and p.suffix in (".jsonl", ".log", ".json")]
    kept = ", ".join(files) or "no file yet"
    if step == "generation":
        head = f"interrupted after {finished} of {total} conversations"
        detail = "every call recorded so far was written out before exiting"
    else:
        head = "interrupted while writing the exports, charts and report"
        detail = "the run's own files are complete"
    return f"genmon demo: {head}; {detail}: {log_dir} ({kept}). Rebuild the rest with: genmon report {log_dir}"
