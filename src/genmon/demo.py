"""``genmon demo``: a simulated async LLM generator with the monitor attached."""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from pathlib import Path

from genmon.monitor.generation_monitor import GenerationMonitor

MODELS = ("sim-large", "sim-small")


class SimulatedLLM:
    """A fake chat client: latency, token usage and occasional rate-limit errors."""

    def __init__(self, error_rate: float, seed: int) -> None:
        self.error_rate = error_rate
        self.random = random.Random(seed)

    async def complete(self, model: str, prompt_tokens: int) -> dict[str, object]:
        latency = self.random.lognormvariate(-3.2, 0.5) * (2.0 if model == "sim-large" else 1.0)
        await asyncio.sleep(latency)
        if self.random.random() < self.error_rate:
            raise RuntimeError("429 rate limited")
        completion = int(self.random.gauss(180 if model == "sim-large" else 90, 30))
        return {"usage": {"prompt_tokens": prompt_tokens, "completion_tokens": max(completion, 1)}, "finish_reason": "stop"}


async def _conversation(monitor: GenerationMonitor, llm: SimulatedLLM, index: int, gate: asyncio.Semaphore) -> None:
    async with gate:
        model = MODELS[index % len(MODELS)]
        turns = llm.random.randint(1, 4)
        for _ in range(turns):
            prompt = llm.random.randint(200, 900)
            started = time.perf_counter()
            try:
                response = await llm.complete(model, prompt)
            except RuntimeError as error:
                monitor.track_generation(
                    time.perf_counter() - started, False, model_name=model, operation="chat", error=str(error)
                )
                continue
            usage = response["usage"]
            assert isinstance(usage, dict)
            monitor.track_generation(
                time.perf_counter() - started,
                True,
                model_name=model,
                operation="chat",
                finish_reason=str(response["finish_reason"]),
                prompt_token_count=usage["prompt_tokens"],
                completion_token_count=usage["completion_tokens"],
                total_token_count=usage["prompt_tokens"] + usage["completion_tokens"],
            )
        monitor.record_metric("conversation_length", turns, {"model_name": model})


async def _generate(monitor: GenerationMonitor, conversations: int, concurrency: int, error_rate: float, seed: int) -> None:
    llm = SimulatedLLM(error_rate, seed)
    gate = asyncio.Semaphore(concurrency)
    await asyncio.gather(*(_conversation(monitor, llm, i, gate) for i in range(conversations)))


def run_demo(args: argparse.Namespace) -> int:
    if args.conversations < 1 or args.concurrency < 1:
        raise ValueError("--conversations and --concurrency must be >= 1")
    if not 0.0 <= args.error_rate <= 1.0:
        raise ValueError(f"--error-rate must be between 0 and 1, got {args.error_rate}")
    monitor = GenerationMonitor(log_dir=Path(args.out) if args.out else None, metrics_interval=0)
    with monitor:
        monitor.log_info("demo started", conversations=args.conversations)
        asyncio.run(_generate(monitor, args.conversations, args.concurrency, args.error_rate, args.seed))
        monitor.flush()
        latency = monitor.get_metrics("generation_time", window=3600)
        errors = monitor.get_metrics("error_rate", window=3600)
        usage = monitor.get_total_token_usage()
    print(f"calls: {latency['count']}  p50 {latency['p50']:.3f}s  p95 {latency['p95']:.3f}s  error rate {errors['mean']:.1%}")
    for model in usage.by_model:
        print(f"  {model.model_name}: {model.prompt_tokens} prompt + {model.completion_tokens} completion tokens")
    print(f"run directory: {monitor.log_dir}")
    return 0
