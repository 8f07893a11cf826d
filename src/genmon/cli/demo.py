"""``genmon demo``: the simulated async conversation generator with the monitor attached in one line.

It shows a progress bar with live rates, fires at least one alert (the
error-rate threshold is set below the simulated rate-limit rate), and leaves
a complete run directory: metrics.jsonl, genmon.log, spans.jsonl, exports in
every format, the charts and report.html, rebuilt from the files as
``genmon report`` would.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

from genmon.monitor.generation_monitor import GenerationMonitor
from genmon.simulated import PRICES, run_simulation


def _progress(console: Any) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[bold]conversations"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[rates]}"),
        console=console,
        transient=False,
    )


def _rates(monitor: GenerationMonitor, started: float) -> str:
    calls = monitor.get_metrics("generation_time", window=3600)
    errors = monitor.get_metrics("error_rate", window=60)
    elapsed = max(time.perf_counter() - started, 1e-9)
    return f"{calls['count'] / elapsed:6.1f} calls/s  p95 {calls['p95'] * 1000:5.0f} ms  errors {errors['mean']:5.1%}"


def run_demo(args: argparse.Namespace) -> int:
    from rich.console import Console

    from genmon.cli.commands import print_outputs
    from genmon.cli.run_files import load_runs
    from genmon.cli.run_report import build_report

    console = Console(highlight=False)
    started = time.perf_counter()
    alerts: list[Any] = []
    monitor = GenerationMonitor(
        log_dir=Path(args.out) if args.out else None,
        metrics_interval=1.0,  # the alert rules also run while the job runs
        alert_handlers=[alerts.append],
        alert_max_error_rate=0.02,  # well below the simulated rate-limit rate: the demo shows an alert
        alert_cooldown=30,
        prices=PRICES,
        sample_resources=0.5,
    )
    with monitor, _progress(console) as progress:
        task = progress.add_task("generate", total=args.conversations, rates="")

        def finished(ok: bool) -> None:
            progress.update(task, advance=1, rates=_rates(monitor, started))

        monitor.log_info("demo started", conversations=args.conversations, concurrency=args.concurrency)
        generator = asyncio.run(
            run_simulation(monitor, args.conversations, args.concurrency, args.error_rate, args.seed, finished)
        )
        alerts += monitor.check_alerts()
    fired = sorted({a.name for a in alerts if a.data.get("state") != "resolved"})
    console.print(
        f"{args.conversations - generator.failed} conversations generated, {generator.failed} failed after retries; "
        f"alerts: {', '.join(fired) or 'none'}"
    )
    run = load_runs([monitor.log_dir])
    outputs = build_report(run, monitor.log_dir)
    print_outputs(console, run, outputs, title="Demo run")
    console.print(f"run directory: {monitor.log_dir}  ({time.perf_counter() - started:.1f} s)", soft_wrap=True)
    return 0
