"""The profiler: ``monitor.profile`` times a block or function, keeps its last runs, and sums them up.

Each profiled run records ``profile/<name>/duration_s`` and
``profile/<name>/memory_delta_bytes`` as metrics, is kept as a ``ProfileRun``
(start, end, duration, memory delta, metadata, optionally the stack) among
the last ``max_runs`` of its name, and adds to the totals
``monitor.get_profile()`` returns. Memory is measured with tracemalloc when
it is tracing (Python allocations, exact), otherwise with the process's
resident set size (whole process, coarse: pages, other threads and
concurrent tasks all count).

Memory is bounded: ``max_runs`` runs per name and ``max_names`` names (runs
of further names are recorded as metrics but not kept, and counted). With
``enabled = False`` a profiled function calls straight through and a
profiled block does nothing: no clock, no memory reading, no record.
"""

from __future__ import annotations

import functools
import inspect
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Self, TypeVar

from genmon.records.validation import check_metadata, check_name

__all__ = ["ProfileRun", "ProfileScope", "Profiler"]

F = TypeVar("F", bound=Callable[..., Any])
Record = Callable[[Mapping[str, float], "dict[str, Any] | None"], None]
MAX_STACK_FRAMES = 32


@dataclass(frozen=True, slots=True)
class ProfileRun:
    """One profiled run (mtaio's ``ProfileTrace``): when, how long, how much memory, and what it carried."""

    name: str
    start: float  # epoch seconds, the monitor's clock
    end: float  # start + duration_s
    duration_s: float
    memory_delta_bytes: float
    metadata: dict[str, Any] | None = None
    stack: tuple[str, ...] | None = None  # "file:line in function", outermost first, with collect_stack
    exception_type: str | None = None  # the class of the exception the run ended with


# A run in flight: (perf_counter start, epoch start, memory at start, stack or None).
_Started = tuple[float, float, float, "tuple[str, ...] | None"]
# The open ``with`` blocks of this context: (scope, started) pairs, innermost last.
_OPEN: ContextVar[tuple[tuple[ProfileScope, _Started], ...]] = ContextVar("genmon_profile_open", default=())


class _Figures:
    __slots__ = ("count", "max_s", "memory_total", "runs", "total_s")

    def __init__(self, max_runs: int) -> None:
        self.count = 0
        self.total_s = 0.0
        self.max_s = 0.0
        self.memory_total = 0.0
        self.runs: deque[ProfileRun] = deque(maxlen=max_runs)


def _positive(value: Any, argument: str) -> int:
    if type(value) is not int or value < 1:
        raise ValueError(f"{argument} must be an int >= 1, got {value!r:.80}")
    return value


def _stack(skip: int) -> tuple[str, ...]:
    # Frames walked by hand: no source lines are read (traceback.extract_stack reads them).
    frame: Any = sys._getframe(skip)
    out: list[str] = []
    while frame is not None and len(out) < MAX_STACK_FRAMES:
        code = frame.f_code
        out.append(f"{code.co_filename}:{frame.f_lineno} in {code.co_qualname}")
        frame = frame.f_back
    out.reverse()
    return tuple(out)


class Profiler:
    """Per-name runs and totals, fed by ``ProfileScope``; thread-safe.

    Args:
        record: receives each run's points and its metadata (the monitor's ``record_metrics``).
        clock: epoch seconds for the runs' start and end.
        max_runs: runs kept per name (the p95 covers them).
        max_names: names kept at most.
        collect_stack: keep the stack each run started from.

    Attributes:
        enabled: False makes every profiled function and block a pass-through.

    Example:
        >>> profiler = Profiler(max_runs=2)
        >>> with profiler.profile("step"):
        ...     pass
        >>> profiler.report("step")["count"]
        1
    """

    def __init__(
        self,
        record: Record | None = None,
        clock: Callable[[], float] = time.time,
        *,
        max_runs: int = 1000,
        max_names: int = 1000,
        collect_stack: bool = False,
    ) -> None:
        self._record = record
        self._clock = clock
        self._max_runs = _positive(max_runs, "max_runs")
        self.max_names = _positive(max_names, "max_names")
        self.collect_stack = bool(collect_stack)
        self.enabled = True
        self.names_refused = 0  # runs of names beyond max_names: recorded, not kept
        self._figures: dict[str, _Figures] = {}
        self._lock = threading.Lock()
        self._process: Any = None

    @property
    def max_runs(self) -> int:
        """Runs kept per name; setting it keeps the most recent ones."""
        return self._max_runs

    @max_runs.setter
    def max_runs(self, value: int) -> None:
        value = _positive(value, "max_runs")
        with self._lock:
            self._max_runs = value
            for figures in self._figures.values():
                figures.runs = deque(figures.runs, maxlen=value)

    def profile(self, name: Any = None, metadata: dict[str, Any] | None = None) -> Any:
        """A ``ProfileScope`` for ``name``; given a function instead (bare ``@profile``), that function profiled."""
        if callable(name) and not isinstance(name, str):
            return ProfileScope(self, None, None)(name)
        checked = None if metadata is None else check_metadata(metadata, 0.0)[1]
        return ProfileScope(self, None if name is None else check_name(name, "name"), checked)

    def memory_now(self) -> tuple[float, str]:
        """Current memory in bytes and where it came from ("tracemalloc" or "rss")."""
        import tracemalloc  # loaded with the first profiled run, not at `import genmon`

        if tracemalloc.is_tracing():
            return float(tracemalloc.get_traced_memory()[0]), "tracemalloc"
        if self._process is None:
            import psutil

            self._process = psutil.Process()
        return float(self._process.memory_info().rss), "rss"

    def begin(self, stack_skip: int) -> _Started:
        """What a run starts from: the counters now, and the stack when collected."""
        stack = _stack(stack_skip + 1) if self.collect_stack else None
        memory, _ = self.memory_now()
        return time.perf_counter(), self._clock(), memory, stack

    def end(self, name: str, started: _Started, metadata: dict[str, Any] | None, error: BaseException | None) -> None:
        """Finish a run: keep it, add it to the totals, record its points."""
        duration = time.perf_counter() - started[0]
        memory, _ = self.memory_now()
        start = started[1]
        run = ProfileRun(
            name, start, start + duration, duration, memory - started[2], metadata, started[3],
            None if error is None else type(error).__name__,
        )  # fmt: skip
        self.add(run)
        if self._record is not None:
            points = {
                f"profile/{name}/duration_s": duration,
                f"profile/{name}/memory_delta_bytes": run.memory_delta_bytes,
            }
            self._record(points, metadata)

    def add(self, run: ProfileRun) -> None:
        """Keep ``run`` among its name's last runs and add it to the totals."""
        with self._lock:
            figures = self._figures.get(run.name)
            if figures is None:
                if len(self._figures) >= self.max_names:
                    self.names_refused += 1
                    return
                figures = self._figures[run.name] = _Figures(self._max_runs)
            figures.count += 1
            figures.total_s += run.duration_s
            figures.max_s = max(figures.max_s, run.duration_s)
            figures.memory_total += run.memory_delta_bytes
            figures.runs.append(run)

    def runs(self, name: str) -> list[ProfileRun]:
        """The last ``max_runs`` runs of ``name``, oldest first (empty for a name never profiled)."""
        with self._lock:
            figures = self._figures.get(name)
            return [] if figures is None else list(figures.runs)

    def reset(self) -> None:
        """Forget every run and total."""
        with self._lock:
            self._figures.clear()
            self.names_refused = 0

    def report(self, name: str | None = None) -> dict[str, Any]:
        """Totals of ``name`` (count, total_s, mean_s, p95_s, max_s, memory_delta_mean_bytes), or of every name.

        Count, total, mean and max cover every run; the p95 the runs kept.
        An unknown ``name`` raises ``ValueError`` listing the names profiled.
        """
        import numpy as np

        with self._lock:
            if name is not None and name not in self._figures:
                known = ", ".join(sorted(self._figures)) or "none yet"
                raise ValueError(f"no run was profiled under {name!r}; profiled: {known}")
            chosen = self._figures.items() if name is None else [(name, self._figures[name])]
            snapshot = [
                (key, f.count, f.total_s, f.max_s, f.memory_total, [r.duration_s for r in f.runs]) for key, f in chosen
            ]
        out = {}
        for key, count, total, high, memory, recent in sorted(snapshot):
            out[key] = {
                "count": count,
                "total_s": total,
                "mean_s": total / count,
                "p95_s": float(np.percentile(recent, 95)),
                "max_s": high,
                "memory_delta_mean_bytes": memory / count,
            }
        return out if name is None else out[name]


class ProfileScope:
    """A context manager, async context manager and decorator that profiles under one name.

    Safe to share and to re-enter: the starts of open ``with`` blocks live in
    a ContextVar (so interleaved asyncio tasks and threads each see their
    own), and decorated functions keep theirs in local variables. Without a
    name it decorates only, and takes the function's qualified name.
    """

    __slots__ = ("metadata", "name", "profiler")

    def __init__(self, profiler: Profiler, name: str | None, metadata: dict[str, Any] | None) -> None:
        self.profiler = profiler
        self.name = name
        self.metadata = metadata

    def _end(self, name: str, started: _Started, error: BaseException | None) -> None:
        try:
            self.profiler.end(name, started, self.metadata, error)
        except Exception:
            if error is None:  # recording after close raises, but never in place of the block's own exception
                raise

    def _push(self) -> None:
        if self.name is None:
            raise TypeError("monitor.profile() needs a name in a with block: monitor.profile('load')")
        if self.profiler.enabled:
            _OPEN.set((*_OPEN.get(), (self, self.profiler.begin(3))))

    def _pop(self, error: BaseException | None) -> None:
        stack = _OPEN.get()
        for i in range(len(stack) - 1, -1, -1):
            if stack[i][0] is self:
                _OPEN.set(stack[:i] + stack[i + 1 :])
                self._end(self.name or "", stack[i][1], error)
                return

    def __enter__(self) -> Self:
        self._push()
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self._pop(exc)

    async def __aenter__(self) -> Self:
        self._push()
        return self

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self._pop(exc)

    def __call__(self, fn: F) -> F:
        """Decorate a sync or async function."""
        if not callable(fn):
            raise TypeError(f"profile decorates a function, got {type(fn).__name__} {fn!r:.80}")
        profiler, end = self.profiler, self._end
        name = self.name or getattr(fn, "__qualname__", None) or type(fn).__name__
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def profiled_async(*args: Any, **kwargs: Any) -> Any:
                if not profiler.enabled:
                    return await fn(*args, **kwargs)
                started = profiler.begin(2)
                try:
                    result = await fn(*args, **kwargs)
                except BaseException as error:
                    end(name, started, error)
                    raise
                end(name, started, None)
                return result

            return profiled_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def profiled(*args: Any, **kwargs: Any) -> Any:
            if not profiler.enabled:
                return fn(*args, **kwargs)
            started = profiler.begin(2)
            try:
                result = fn(*args, **kwargs)
            except BaseException as error:
                end(name, started, error)
                raise
            end(name, started, None)
            return result

        return profiled  # type: ignore[return-value]
