"""One metric's points: a run of immutable sealed blocks plus a growable tail.

Each series keeps its points sorted by time in sealed blocks of ``BLOCK_SIZE``
points plus one growable tail. A sealed block is immutable: it holds its
timestamps, values and metadata codes, a sorted copy of its values and its
summary (count, sum, mean, M2, min, max), which window statistics combine
(see ``genmon.monitor.store.window``).

Metadata is dictionary-encoded per series: each point carries an int32 code
into a table of distinct metadata dicts (code 0 is "no metadata").
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

import numpy as np
import orjson

from genmon.records.validation import safe_metadata, safe_text, unpack_metadata

BLOCK_SIZE = 16384
_ZERO_CODE = np.zeros((), dtype=np.int32)
_FIRST_TAIL_CAPACITY = 64


class Block:
    """An immutable run of points; sealed blocks also carry a sorted copy and a summary."""

    __slots__ = ("codes", "high", "low", "m2", "mean", "sorted_values", "total", "ts", "values")

    def __init__(self, ts: np.ndarray, values: np.ndarray, codes: np.ndarray, *, seal: bool) -> None:
        self.ts = ts
        self.values = values
        self.codes = codes
        self.sorted_values: np.ndarray | None = None
        if seal:
            self.sorted_values = np.sort(values)
            self.total = float(values.sum())
            self.mean = self.total / len(values)
            self.m2 = float(((values - self.mean) ** 2).sum())
            self.low = float(self.sorted_values[0])
            self.high = float(self.sorted_values[-1])

    def __len__(self) -> int:
        return len(self.ts)


class Series:
    """One metric's points. All methods are called with the store's lock held."""

    def __init__(self, name: str) -> None:
        self.name = safe_text(name)  # what readers see: always valid UTF-8, whatever reached the store
        # Every value recorded was an int (token counts): files and exports write them as ints, as recorded.
        self.integral = True
        self.blocks: list[Block] = []
        self.block_starts: list[float] = []
        self.tail_ts = np.empty(_FIRST_TAIL_CAPACITY)
        self.tail_values = np.empty(_FIRST_TAIL_CAPACITY)
        self.tail_codes = np.empty(_FIRST_TAIL_CAPACITY, dtype=np.int32)
        self.tail_n = 0
        self.count = 0
        self.meta_table: list[dict[str, Any] | None] = [None]
        self.meta_codes: dict[Any, int] = {}
        self.meta_ids: dict[int, tuple[dict[str, Any], int]] = {}

    # -- metadata encoding -------------------------------------------------
    def encode(self, metadata: list[dict[str, Any] | None]) -> np.ndarray:
        n = len(metadata)
        first = metadata[0] if n else None
        if metadata.count(first) == n:  # one metadata for the whole batch (counted in C): coded once
            code = self._code(first) if first else 0
            return np.zeros(n, dtype=np.int32) if code == 0 else np.full(n, code, dtype=np.int32)
        codes = [0] * n
        last: Any = None
        last_code = 0
        for i, meta in enumerate(metadata):
            if not meta:
                continue
            if meta is not last:  # a run of points with one shared dict (interned): no lookup at all
                last, last_code = meta, self._code(meta)
            codes[i] = last_code
        return np.array(codes, dtype=np.int32)

    def _code(self, meta: dict[str, Any]) -> int:
        """The code of one metadata dict in this series' table, added when new."""
        # Points of one call, and of calls with the same small metadata, share one dict:
        # answered by identity, without hashing its content again.
        by_id = self.meta_ids
        hit = by_id.get(id(meta))
        if hit is not None and hit[0] is meta:
            return hit[1]
        packed = type(meta) is tuple  # packed text metadata: its items already (validation.pack_metadata)
        try:
            key: Any = meta if packed else tuple(meta.items())
            hash(key)
        except TypeError:  # unhashable values (lists, dicts): fall back to canonical JSON
            key = _canonical(meta)
        code = self.meta_codes.get(key)
        if code is None:
            code = self.meta_codes[key] = len(self.meta_table)
            self.meta_table.append(safe_metadata((unpack_metadata(meta) or {}) if packed else meta))
        if len(by_id) > 4096:
            by_id.clear()  # bounded: unique-per-point metadata only ever hits by content
        by_id[id(meta)] = (meta, code)  # the entry keeps the dict alive, so its id is never reused
        return code

    # -- appending ---------------------------------------------------------
    def last_ts(self) -> float:
        if self.tail_n:
            return float(self.tail_ts[self.tail_n - 1])
        if self.blocks:
            return float(self.blocks[-1].ts[-1])
        return -np.inf

    def append(self, ts: np.ndarray, values: np.ndarray, codes: np.ndarray) -> None:
        if len(ts) > 1 and np.any(ts[1:] < ts[:-1]):
            order = np.argsort(ts, kind="stable")
            ts, values, codes = ts[order], values[order], codes[order]
        if self.count and ts[0] < self.last_ts():
            # Points stamped by different threads can arrive slightly out of
            # order, and metadata may set a past time: re-merge the overlap.
            old_ts, old_values, old_codes = self._truncate_after(float(ts[0]))
            ts = np.concatenate((old_ts, ts))
            values = np.concatenate((old_values, values))
            codes = np.concatenate((old_codes, codes))
            order = np.argsort(ts, kind="stable")
            ts, values, codes = ts[order], values[order], codes[order]
        self._append_sorted(ts, values, codes)

    def _append_sorted(self, ts: np.ndarray, values: np.ndarray, codes: np.ndarray) -> None:
        start = 0
        total = len(ts)
        while start < total:
            room = BLOCK_SIZE - self.tail_n
            take = min(room, total - start)
            self._reserve(self.tail_n + take)
            end = self.tail_n + take
            self.tail_ts[self.tail_n : end] = ts[start : start + take]
            self.tail_values[self.tail_n : end] = values[start : start + take]
            self.tail_codes[self.tail_n : end] = codes[start : start + take]
            self.tail_n = end
            self.count += take
            start += take
            if self.tail_n == BLOCK_SIZE:
                self._seal_tail()

    def _reserve(self, needed: int) -> None:
        capacity = len(self.tail_ts)
        if needed <= capacity:
            return
        while capacity < needed:
            capacity = min(capacity * 2, BLOCK_SIZE)
        for attr in ("tail_ts", "tail_values", "tail_codes"):
            old = getattr(self, attr)
            new = np.empty(capacity, dtype=old.dtype)
            new[: self.tail_n] = old[: self.tail_n]
            setattr(self, attr, new)

    def _seal_tail(self) -> None:
        n = self.tail_n
        codes = self.tail_codes[:n]
        # A block of points without metadata (most metrics) holds its codes as a read-only
        # view of one zero: 4 bytes a point saved, and every reader still sees an array.
        codes = np.broadcast_to(_ZERO_CODE, n) if not codes.any() else codes.copy()
        block = Block(self.tail_ts[:n].copy(), self.tail_values[:n].copy(), codes, seal=True)
        self.blocks.append(block)
        self.block_starts.append(float(block.ts[0]))
        self.tail_n = 0

    def _truncate_after(self, cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Remove and return the points stamped after ``cutoff``."""
        tail_first = self.tail_ts[0] if self.tail_n else np.inf
        if cutoff >= tail_first or not self.blocks:
            k = int(np.searchsorted(self.tail_ts[: self.tail_n], cutoff, side="right"))
            removed = (
                self.tail_ts[k : self.tail_n].copy(),
                self.tail_values[k : self.tail_n].copy(),
                self.tail_codes[k : self.tail_n].copy(),
            )
            self.count -= self.tail_n - k
            self.tail_n = k
            return removed
        # The cutoff falls inside the sealed blocks: unseal from that block on.
        b = max(bisect_right(self.block_starts, cutoff) - 1, 0)
        parts = self.blocks[b:]
        n = self.tail_n
        ts = np.concatenate([p.ts for p in parts] + [self.tail_ts[:n]])
        values = np.concatenate([p.values for p in parts] + [self.tail_values[:n]])
        codes = np.concatenate([p.codes for p in parts] + [self.tail_codes[:n]])
        del self.blocks[b:]
        del self.block_starts[b:]
        self.count -= len(ts)
        self.tail_n = 0
        k = int(np.searchsorted(ts, cutoff, side="right"))
        self._append_sorted(ts[:k], values[:k], codes[:k])
        return ts[k:], values[k:], codes[k:]

    # -- eviction ----------------------------------------------------------
    def evict(self, before: float | None, max_points: int | None) -> None:
        """Drop points stamped before ``before`` and, oldest first, any beyond ``max_points``."""
        drop = 0
        if before is not None and self.count and self._first_ts() < before:
            drop = self._count_before(before)
        if max_points is not None and self.count - drop > max_points:
            drop = self.count - max_points
        if drop:
            self._drop_oldest(drop)

    def _first_ts(self) -> float:
        if self.blocks:
            return float(self.blocks[0].ts[0])
        return float(self.tail_ts[0])

    def _count_before(self, cutoff: float) -> int:
        counted = 0
        for block in self.blocks:
            if block.ts[-1] < cutoff:
                counted += len(block)
                continue
            return counted + int(np.searchsorted(block.ts, cutoff, side="left"))
        return counted + int(np.searchsorted(self.tail_ts[: self.tail_n], cutoff, side="left"))

    def _drop_oldest(self, drop: int) -> None:
        self.count -= drop
        while drop and self.blocks:
            first = self.blocks[0]
            if len(first) <= drop:
                drop -= len(first)
                del self.blocks[0]
                del self.block_starts[0]
                continue
            # A partly evicted block keeps views of its arrays and loses its
            # summary: window queries treat it as raw points.
            trimmed = Block(first.ts[drop:], first.values[drop:], first.codes[drop:], seal=False)
            self.blocks[0] = trimmed
            self.block_starts[0] = float(trimmed.ts[0])
            return
        if drop:
            n = self.tail_n - drop
            for arr in (self.tail_ts, self.tail_values, self.tail_codes):
                arr[:n] = arr[drop : self.tail_n].copy()
            self.tail_n = n
        self._compact_metadata_if_sparse()

    def _compact_metadata_if_sparse(self) -> None:
        # Unique-per-point metadata (request ids) would otherwise keep every
        # evicted dict alive: rebuild the table when most of it is unused.
        if len(self.meta_table) <= max(1024, 2 * self.count):
            return
        parts = [(b.codes) for b in self.blocks] + [self.tail_codes[: self.tail_n]]
        live = np.unique(np.concatenate(parts)) if self.count else np.zeros(0, dtype=np.int32)
        remap = np.zeros(len(self.meta_table), dtype=np.int32)
        table: list[dict[str, Any] | None] = [None]
        index: dict[Any, int] = {}
        reverse = {code: key for key, code in self.meta_codes.items()}
        for code in live.tolist():
            if code == 0:
                continue
            remap[code] = len(table)
            index[reverse[code]] = len(table)
            table.append(self.meta_table[code])
        self.blocks = [_remap_block(b, remap) for b in self.blocks]
        self.tail_codes[: self.tail_n] = remap[self.tail_codes[: self.tail_n]]
        self.meta_table, self.meta_codes = table, index
        self.meta_ids.clear()

    # -- reading -----------------------------------------------------------
    def copy_range(self, start: float | None, end: float | None) -> tuple[np.ndarray, ...]:
        n = self.tail_n
        chunks = [(b.ts, b.values, b.codes) for b in self.blocks]
        chunks.append((self.tail_ts[:n], self.tail_values[:n], self.tail_codes[:n]))
        if start is not None:
            first = max(bisect_right(self.block_starts, start) - 1, 0)
            chunks = chunks[first:]
        ts = np.concatenate([c[0] for c in chunks])
        values = np.concatenate([c[1] for c in chunks])
        codes = np.concatenate([c[2] for c in chunks])
        lo = 0 if start is None else int(np.searchsorted(ts, start, side="left"))
        hi = len(ts) if end is None else int(np.searchsorted(ts, end, side="right"))
        return ts[lo:hi], values[lo:hi], codes[lo:hi]

    def nbytes(self) -> int:
        total = self.tail_ts.nbytes + self.tail_values.nbytes + self.tail_codes.nbytes
        for b in self.blocks:
            total += b.ts.nbytes + b.values.nbytes + b.codes.nbytes
            if b.sorted_values is not None:
                total += b.sorted_values.nbytes
        return total


def _remap_block(block: Block, remap: np.ndarray) -> Block:
    new = Block.__new__(Block)
    for slot in Block.__slots__:
        if hasattr(block, slot):
            setattr(new, slot, getattr(block, slot))
    new.codes = remap[block.codes]
    return new


def _canonical(meta: dict[str, Any]) -> Any:
    try:
        return orjson.dumps(meta, option=orjson.OPT_SORT_KEYS, default=str)
    except (TypeError, ValueError, RecursionError):  # nothing the record calls let through; never fail the store
        return repr(meta)
