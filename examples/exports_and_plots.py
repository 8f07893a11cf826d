"""Simulate two hours of LLM calls, then export them in every format and draw the charts.

Run ``python examples/exports_and_plots.py [out_dir]``; docs/overview.png was made with
``python examples/exports_and_plots.py /tmp/genmon-example --overview docs/overview.png``.
"""

from __future__ import annotations

import argparse
import random
import shutil
from pathlib import Path

from genmon import GenerationMonitor
from genmon.testing import ManualClock

MODELS = {"gpt-4o": (1.6, 420), "gpt-4o-mini": (0.7, 260)}  # mean latency (s), mean completion tokens


def simulate(monitor: GenerationMonitor, clock: ManualClock, calls: int = 1500, seed: int = 7) -> None:
    """Record ``calls`` generations (and an evaluation every fifth call), advancing the clock between them."""
    rng = random.Random(seed)
    for i in range(calls):
        clock.advance(rng.expovariate(calls / 7200.0))
        model = rng.choice(list(MODELS))
        latency_s, completion_mean = MODELS[model]
        # A rate-limit storm in the middle of the run: more failures, slower calls.
        storm = 0.45 < i / calls < 0.55
        ok = rng.random() > (0.25 if storm else 0.03)
        prompt = rng.randint(150, 1200)
        completion = max(1, int(rng.gauss(completion_mean, 80))) if ok else None
        monitor.track_generation(
            rng.lognormvariate(0, 0.45) * latency_s * (2.2 if storm else 1.0),
            ok,
            model_name=model,
            operation="chat",
            prompt_token_count=prompt,
            completion_token_count=completion,
            total_token_count=prompt + (completion or 0),
            error=None if ok else "429 rate limited",
        )
        if i % 5 == 0:
            drift = 0.1 * (i / calls)
            monitor.track_evaluation(
                rng.lognormvariate(-1.2, 0.3),
                True,
                "llm_judge",
                {
                    "relevance": min(1.0, rng.betavariate(8, 2) + drift),
                    "faithfulness": rng.betavariate(6, 3),
                    "style": rng.betavariate(4, 4) + drift,
                },
                model_name=model,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir", nargs="?", default="genmon-example")
    parser.add_argument("--overview", type=Path, help="also copy overview.png here")
    args = parser.parse_args()
    out = Path(args.out_dir)
    clock = ManualClock(1_767_261_600.0)  # 2026-01-01 10:00 UTC
    with GenerationMonitor(log_dir=out, metric_handlers=[], clock=clock) as monitor:
        simulate(monitor, clock)
        for fmt in ("json", "csv", "excel", "parquet"):
            suffix = "xlsx" if fmt == "excel" else fmt
            print(fmt, monitor.export_metrics(out / "export" / f"metrics.{suffix}", format=fmt)[0])
        print(monitor.summary(by="model_name").loc["generation_time"][["count", "p50", "p95", "p99"]])
        for path in monitor.visualize_metrics():
            print("chart", path)
        monitor.plot_metric("generation_time", window=7200).savefig(out / "plots" / "generation_time_over_time.png")
    if args.overview:
        shutil.copyfile(out / "plots" / "overview.png", args.overview)


if __name__ == "__main__":
    main()
