"""``genmon demo``: the simulated async conversation generator with the monitor attached in one line."""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

from genmon.monitor.generation_monitor import GenerationMonitor
from genmon.simulated import PRICES, run_simulation


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(int(q / 100 * len(ordered)), len(ordered) - 1)]


def write_outputs(monitor: GenerationMonitor) -> list[Path]:
    """Exports (parquet, csv, json) and the standard plots into the run directory."""
    written: list[Path] = []
    exports = monitor.log_dir / "exports"
    for fmt, name in (("parquet", "metrics.parquet"), ("csv", "metrics.csv"), ("json", "metrics.json")):
        written += monitor.export_metrics(exports / name, format=fmt)[:1]
    plots = monitor.log_dir / "plots"
    monitor.visualize_metrics(plots)
    return [*written, plots]


def run_demo(args: argparse.Namespace) -> int:
    if args.conversations < 1 or args.concurrency < 1:
        raise ValueError("--conversations and --concurrency must be >= 1")
    if not 0.0 <= args.error_rate <= 1.0:
        raise ValueError(f"--error-rate must be between 0 and 1, got {args.error_rate}")
    started = time.perf_counter()
    alerts: list[Any] = []
    monitor = GenerationMonitor(
        log_dir=Path(args.out) if args.out else None,
        metrics_interval=0,  # the rules run once at the end (check_alerts)
        alert_handlers=[alerts.append],
        alert_max_error_rate=0.05,
        prices=PRICES,
        sample_resources=0.25,
    )
    with monitor:
        monitor.log_info("demo started", conversations=args.conversations, concurrency=args.concurrency)
        generator = asyncio.run(
            run_simulation(monitor, args.conversations, args.concurrency, args.error_rate, args.seed)
        )
        monitor.sync_store()
        fired = monitor.check_alerts()
        spans = monitor.get_spans()
        cost = monitor.get_metrics("cost_usd", window=86400)
        usage = monitor.get_total_token_usage()
        outputs = write_outputs(monitor)
    llm = [s for s in spans if s.span_type == "LLM"]
    latencies = [s.duration_s for s in llm]
    retried = sum(not s.success for s in llm)
    print(
        f"{len(spans)} spans: {len(llm)} LLM calls ({retried} rate-limited and retried), "
        f"{args.conversations - generator.failed} conversations done, {generator.failed} failed"
    )
    print(f"LLM latency p50 {_percentile(latencies, 50):.3f}s  p95 {_percentile(latencies, 95):.3f}s")
    for model in usage.by_model:
        print(f"  {model.model_name}: {model.prompt_tokens} prompt + {model.completion_tokens} completion tokens")
    print(f"cost ${cost['sum']:.4f}  alerts: {', '.join(a.name for a in fired) or 'none'}")
    for path in outputs:
        print(f"  wrote {path}")
    print(f"run directory: {monitor.log_dir}  ({time.perf_counter() - started:.1f} s)")
    return 0
