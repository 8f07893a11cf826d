"""The recent-span store: what ``monitor.get_spans`` reads.

Finished spans travel like metric points: the producer puts a ``SpanRecord``
on the span queue, and the span worker appends each batch here, writes
spans.jsonl and hands the batch to every handler that has ``handle_span``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from typing import Any

from genmon.records.spans import ANY, SpanRecord, check_span_type

MAX_RECENT_SPANS = 100_000


class SpanStore:
    """The most recent finished spans, bounded, readable from any thread.

    Args:
        maxlen: spans kept; the oldest are forgotten first.
    """

    def __init__(self, maxlen: int = MAX_RECENT_SPANS) -> None:
        self._spans: deque[SpanRecord] = deque(maxlen=maxlen)
        # The span worker appends while readers copy: a deque mutated during
        # iteration raises, so both sides take this lock (never during I/O).
        self._lock = threading.Lock()

    def append_batch(self, spans: Iterable[SpanRecord]) -> None:
        with self._lock:
            self._spans.extend(spans)

    def __len__(self) -> int:
        return len(self._spans)

    def query(
        self,
        name: str | None = None,
        parent_call_id: Any = ANY,
        span_type: str | None = None,
        start_ts: float | None = None,
        limit: int | None = None,
    ) -> list[SpanRecord]:
        """Spans matching every given filter in the order they finished; ``limit`` keeps the last ones."""
        with self._lock:
            spans = list(self._spans)
        if start_ts is not None:
            spans = [s for s in spans if s.start >= start_ts]
        if name is not None:
            spans = [s for s in spans if s.name == name]
        if parent_call_id is not ANY:
            spans = [s for s in spans if s.parent_call_id == parent_call_id]
        if span_type is not None:
            canonical = check_span_type(span_type)
            spans = [s for s in spans if s.span_type == canonical]
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
                raise ValueError(f"limit must be an int >= 0 or None, got {limit!r}")
            spans = spans[len(spans) - limit :] if limit else []
        return spans
