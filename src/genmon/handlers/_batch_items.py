"""What passes between a remote sink and its ``BatchSender``: the ``send`` it supplies, tasks among the records,
the errors that say how a batch ended."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# send(batch, budget_s) delivers a batch or raises; it may return how many records it had to
# leave out because they could not be encoded (counted as dropped, "unserialisable").
Send = Callable[[list[Any], "float | None"], "int | None"]
ErrorReport = Callable[[BaseException], None]

DROP_REASONS: tuple[str, ...] = ("buffer_full", "retries_exhausted", "rejected", "close_timeout", "unserialisable")


class SendAbandoned(Exception):
    """Raised by a sink's ``send`` that was given up on by a close: its batch counts as ``close_timeout``."""


class SinkError(Exception):
    """What a sink reports about a batch it gave up on: the original error's type and its redacted text."""


class Task:
    """A control item (set up, finish) run by the sink in order with the records, never counted as one."""

    __slots__ = ("payload",)

    def __init__(self, payload: Any) -> None:
        self.payload = payload


def count_records(batch: list[Any]) -> int:
    return sum(1 for item in batch if not isinstance(item, Task))
