"""When a remote sink retries, and for how long it may close: the retry error, the backoff, the close budget."""

from __future__ import annotations

import random
import time
from typing import Any


def close_timeout(context: Any, timeout_s: float | None) -> float | None:
    """The time a handler's close may take: its own ``timeout_s``, or more while its monitor's close allows.

    ``context`` is the ``HandlerContext`` the handler was bound to (or None).
    The monitor's lanes already pass the time left of ``monitor.close(timeout)``;
    this also covers a sink closed directly while its monitor is closing. The
    monitor still returns at its deadline whatever the sink does.
    """
    deadline = None if context is None else context.close_deadline()
    if deadline is None or timeout_s is None:
        return timeout_s
    return max(timeout_s, deadline - time.monotonic())


class RetryableError(Exception):
    """A failure worth retrying: connection refused or reset, timeout, HTTP 429 or 5xx.

    Args:
        message: what failed; must never contain a secret (no headers, no credentials).
        retry_after_s: the server's ``Retry-After``, used as the least delay before the next try.
    """

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def backoff_delay(
    attempt: int, base_s: float, cap_s: float, rng: random.Random, retry_after_s: float | None = None
) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based): exponential, capped, jittered.

    "Equal jitter": half the capped exponential delay plus a random part of
    the other half, so many clients failing together spread out but none
    hammers a recovering server with near-zero delays.
    """
    ceiling = min(cap_s, base_s * (2 ** (attempt - 1)))
    delay = ceiling / 2 + rng.uniform(0, ceiling / 2)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, cap_s))
    return delay


def _check_positive(value: Any, argument: str, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{argument} must be a number, got {type(value).__name__}")
    if not (value >= 0 if allow_zero else value > 0):
        raise ValueError(f"{argument} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return float(value)
