"""Window statistics from sealed block summaries plus raw edge points.

Whole blocks contribute their precomputed count, sum, mean, M2, min, max and
sorted values; only the raw points at the window's edges are scanned. Exact
percentiles over large windows select ranks with a sampled bracket: a few
binary searches per block instead of a sort of every point.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import Any

import numpy as np

from genmon.monitor.store.series import Block, Series
from genmon.records.types import STAT_KEYS, WindowStats, empty_stats

__all__ = ["STAT_KEYS", "WindowParts", "WindowStats", "empty_stats", "window_parts"]

QUANTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99}

# Up to this many points a window is simply sorted; beyond it ranks are selected.
_SORT_LIMIT = 65536
_SAMPLE_STEP = 32


class WindowParts:
    """The pieces of one metric that fall in a window, in time order."""

    __slots__ = ("blocks", "last", "raw")

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.raw: list[np.ndarray] = []
        self.last: float | None = None

    def add_block(self, block: Block) -> None:
        self.blocks.append(block)
        self.last = float(block.values[-1])

    def add_raw(self, values: np.ndarray) -> None:
        if len(values):
            self.raw.append(values)
            self.last = float(values[-1])

    def count(self) -> int:
        return sum(len(b) for b in self.blocks) + sum(len(r) for r in self.raw)

    def values(self) -> np.ndarray:
        """Every value in the window (a copy), block order preserved."""
        arrays = [b.values for b in self.blocks] + self.raw
        return np.concatenate(arrays) if arrays else np.zeros(0)

    def stats(self) -> WindowStats:
        n = self.count()
        if n == 0:
            return empty_stats()
        counts = np.array([len(b) for b in self.blocks] + [len(r) for r in self.raw], dtype=np.float64)
        sums = np.array([b.total for b in self.blocks] + [float(r.sum()) for r in self.raw])
        means = sums / counts
        m2s = np.array(
            [b.m2 for b in self.blocks]
            + [float(((r - m) ** 2).sum()) for r, m in zip(self.raw, means[len(self.blocks) :])]
        )
        lows = [b.low for b in self.blocks] + [float(r.min()) for r in self.raw]
        highs = [b.high for b in self.blocks] + [float(r.max()) for r in self.raw]
        total = float(sums.sum())
        mean = total / n
        m2 = float(m2s.sum() + (counts * (means - mean) ** 2).sum())
        stats = WindowStats(
            mean=mean,
            min=min(lows),
            max=max(highs),
            count=n,
            sum=total,
            std=math.sqrt(max(m2, 0.0) / n),
            last=self.last,
        )
        stats.update(zip(QUANTILES, self.quantiles(list(QUANTILES.values()), n)))
        return stats

    def quantiles(self, qs: list[float], n: int) -> list[float]:
        """Exact quantiles with linear interpolation (numpy's default method)."""
        if n <= _SORT_LIMIT:
            ordered = np.sort(self.values())
            return [_interpolate(q, n, lambda r: ordered[r : r + 2]) for q in qs]
        parts = [b.sorted_values for b in self.blocks] + [np.sort(r) for r in self.raw]
        selector = _RankSelector(parts, n)  # type: ignore[arg-type]
        return [_interpolate(q, n, selector.pair) for q in qs]


def window_parts(series: Series, start: float) -> WindowParts:
    """The sealed blocks of ``series`` wholly inside the window, and its raw points at the edges."""
    parts = WindowParts()
    first = max(bisect_right(series.block_starts, start) - 1, 0)
    for block in series.blocks[first:]:
        if block.ts[-1] < start:
            continue
        if block.ts[0] >= start and block.sorted_values is not None:
            parts.add_block(block)
        else:
            i = int(np.searchsorted(block.ts, start, side="left"))
            parts.add_raw(block.values[i:])
    n = series.tail_n
    if n:
        i = int(np.searchsorted(series.tail_ts[:n], start, side="left"))
        if i < n:
            parts.add_raw(series.tail_values[i:n].copy())
    return parts


def _interpolate(q: float, n: int, pair_at: Any) -> float:
    position = q * (n - 1)
    rank = math.floor(position)
    frac = position - rank
    pair = pair_at(rank)
    low = float(pair[0])
    if frac == 0.0 or len(pair) < 2:
        return low
    return low + (float(pair[1]) - low) * frac


class _RankSelector:
    """Selects the r-th smallest value across several sorted arrays.

    A sample of every ``_SAMPLE_STEP``-th value of each part brackets the
    rank; the bracket is provably wide enough (see ``_bracket``), so only the
    values inside it are partitioned.
    """

    def __init__(self, parts: list[np.ndarray], n: int) -> None:
        self.parts = parts
        self.n = n
        sample = np.concatenate([p[::_SAMPLE_STEP] for p in parts])
        sample.sort()
        self.sample = sample

    def _bracket(self, rank: int, last_rank: int) -> tuple[float, float]:
        # In one part with c sampled values below x, between s*(c-1)+1 and
        # s*c values are below x; summing over P parts bounds the rank of a
        # sample value within (s-1)*P of s times its sample index.
        s, p = _SAMPLE_STEP, len(self.parts)
        lo_index = rank // s
        hi_index = (last_rank + (s - 1) * p) // s + 1
        lo = float(self.sample[lo_index])
        hi = float(self.sample[hi_index]) if hi_index < len(self.sample) else math.inf
        return lo, hi

    def pair(self, rank: int) -> np.ndarray:
        """Values at ranks ``rank`` and ``rank + 1`` (one value at the top rank)."""
        last_rank = min(rank + 1, self.n - 1)
        lo, hi = self._bracket(rank, last_rank)
        below = 0
        chunks = []
        for part in self.parts:
            i = int(np.searchsorted(part, lo, side="left"))
            j = len(part) if hi == math.inf else int(np.searchsorted(part, hi, side="right"))
            below += i
            chunks.append(part[i:j])
        inside = np.concatenate(chunks)
        k, k_last = rank - below, last_rank - below
        if k < 0 or k_last >= len(inside):  # pragma: no cover - excluded by _bracket's bound
            inside, k, k_last = np.concatenate(self.parts), rank, last_rank
        selected = np.partition(inside, sorted({k, k_last}))
        return selected[k : k_last + 1]
