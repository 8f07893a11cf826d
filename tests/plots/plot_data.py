"""A simulated run for plot tests (imported by conftest and tests)."""

from __future__ import annotations

import random

from genmon import GenerationMonitor
from genmon.testing import ManualClock

START = 1_767_261_600.0  # 2026-01-01 10:00 UTC, 11:00 in Paris


def simulate(monitor: GenerationMonitor, clock: ManualClock, calls: int = 120, seed: int = 1) -> None:
    """Generations with tokens and an evaluation every fourth call, a few seconds apart."""
    rng = random.Random(seed)
    for i in range(calls):
        clock.advance(rng.uniform(1, 6))
        ok = rng.random() > 0.1
        prompt = rng.randint(100, 900)
        completion = rng.randint(20, 400)
        monitor.track_generation(
            rng.lognormvariate(0, 0.4),
            ok,
            model_name=rng.choice(["big", "small"]),
            prompt_token_count=prompt,
            completion_token_count=completion,
            total_token_count=prompt + completion,
        )
        if i % 4 == 0:
            scores = {"relevance": rng.random(), "style": rng.random()}
            monitor.track_evaluation(rng.uniform(0.1, 0.5), True, "judge", scores)
