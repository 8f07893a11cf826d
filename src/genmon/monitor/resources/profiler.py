"""The profiler: ``monitor.profile(name)`` times a block or function and its memory delta.

Each profiled run records ``profile/<name>/duration_s`` and
``profile/<name>/memory_delta_bytes`` as metrics and adds to the per-name
figures ``monitor.get_profile()`` returns. Memory is measured with
tracemalloc when it is tracing (Python allocations, exact), otherwise with
the process's resident set size (whole process, coarse: pages, other threads
and concurrent tasks all count).
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any, Self, TypeVar

from genmon.records.validation import check_name

F = TypeVar("F", bound=Callable[..., Any])
# The open ``with`` blocks of this context: (scope, (start, memory)) pairs, innermost last.
_OPEN: ContextVar[tuple[tuple[ProfileScope, tuple[float, float]], ...]] = ContextVar("genmon_profile_open", default=())
MAX_SAMPLES = 10_000  # durations kept per name for the p95


class _Figures:
    __slots__ = ("count", "max_s", "memory_total", "recent", "total_s")

    def __init__(self) -> None:
        self.count = 0
        self.total_s = 0.0
        self.max_s = 0.0
        self.memory_total = 0.0
        self.recent: deque[float] = deque(maxlen=MAX_SAMPLES)


class Profiler:
    """Per-name timing and memory figures, fed by ``ProfileScope``.

    Args:
        record: receives each run's points as a mapping (the monitor's ``record_metrics``).
    """

    def __init__(self, record: Callable[[Mapping[str, float]], None] | None = None) -> None:
        self._record = record
        self._figures: dict[str, _Figures] = {}
        self._lock = threading.Lock()
        self._process: Any = None

    def scope(self, name: str) -> ProfileScope:
        return ProfileScope(self, check_name(name, "name"))

    def memory_now(self) -> tuple[float, str]:
        """Current memory in bytes and where it came from ("tracemalloc" or "rss")."""
        import tracemalloc  # loaded with the first profiled run, not at `import genmon`

        if tracemalloc.is_tracing():
            return float(tracemalloc.get_traced_memory()[0]), "tracemalloc"
        if self._process is None:
            import psutil

            self._process = psutil.Process()
        return float(self._process.memory_info().rss), "rss"

    def add(self, name: str, duration_s: float, memory_delta: float) -> None:
        with self._lock:
            figures = self._figures.get(name)
            if figures is None:
                figures = self._figures[name] = _Figures()
            figures.count += 1
            figures.total_s += duration_s
            figures.max_s = max(figures.max_s, duration_s)
            figures.memory_total += memory_delta
            figures.recent.append(duration_s)
        if self._record is not None:
            self._record({f"profile/{name}/duration_s": duration_s, f"profile/{name}/memory_delta_bytes": memory_delta})

    def report(self) -> dict[str, dict[str, float]]:
        """Per name: count, total_s, mean_s, p95_s (over the last 10,000 runs), max_s, memory_delta_mean_bytes."""
        import numpy as np

        with self._lock:
            snapshot = {
                name: (f.count, f.total_s, f.max_s, f.memory_total, list(f.recent)) for name, f in self._figures.items()
            }
        out = {}
        for name, (count, total, high, memory, recent) in sorted(snapshot.items()):
            out[name] = {
                "count": count,
                "total_s": total,
                "mean_s": total / count,
                "p95_s": float(np.percentile(recent, 95)),
                "max_s": high,
                "memory_delta_mean_bytes": memory / count,
            }
        return out


class ProfileScope:
    """A context manager, async context manager and decorator that profiles under one name.

    Safe to share and to re-enter: the starts of open ``with`` blocks live in
    a ContextVar (so interleaved asyncio tasks and threads each see their
    own), and decorated functions keep theirs in local variables.
    """

    __slots__ = ("name", "profiler")

    def __init__(self, profiler: Profiler, name: str) -> None:
        self.profiler = profiler
        self.name = name

    def _begin(self) -> tuple[float, float]:
        memory, _ = self.profiler.memory_now()
        return time.perf_counter(), memory

    def _end(self, started: tuple[float, float], failing: bool = False) -> None:
        duration = time.perf_counter() - started[0]
        memory, _ = self.profiler.memory_now()
        try:
            self.profiler.add(self.name, duration, memory - started[1])
        except Exception:
            if not failing:  # recording after close raises, but never in place of the block's own exception
                raise

    def _push(self) -> None:
        _OPEN.set((*_OPEN.get(), (self, self._begin())))

    def _pop(self, failing: bool) -> None:
        stack = _OPEN.get()
        for i in range(len(stack) - 1, -1, -1):
            if stack[i][0] is self:
                _OPEN.set(stack[:i] + stack[i + 1 :])
                self._end(stack[i][1], failing)
                return

    def __enter__(self) -> Self:
        self._push()
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self._pop(exc is not None)

    async def __aenter__(self) -> Self:
        self._push()
        return self

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self._pop(exc is not None)

    def __call__(self, fn: F) -> F:
        """Decorate a sync or async function."""
        begin, end = self._begin, self._end
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def profiled_async(*args: Any, **kwargs: Any) -> Any:
                started = begin()
                try:
                    result = await fn(*args, **kwargs)
                except BaseException:
                    end(started, True)
                    raise
                end(started)
                return result

            return profiled_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def profiled(*args: Any, **kwargs: Any) -> Any:
            started = begin()
            try:
                result = fn(*args, **kwargs)
            except BaseException:
                end(started, True)
                raise
            end(started)
            return result

        return profiled  # type: ignore[return-value]
