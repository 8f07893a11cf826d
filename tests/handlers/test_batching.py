"""BatchSender, the lane every remote sink shares: what it logs when it gives a batch up."""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

import pytest

from genmon.handlers._batching import BatchSender

COUNTED = re.compile(r"(\d+) (?:buffered )?records")


class PartlyDelivered(Exception):
    """A send that got ``delivered`` records of its batch through before it failed."""

    def __init__(self, delivered: int) -> None:
        super().__init__("the connection dropped part way")
        self.delivered = delivered


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "genmon.handlers" and r.levelno >= logging.WARNING]


def _counts(messages: list[str]) -> list[int]:
    return [int(n) for message in messages for n in COUNTED.findall(message)]


def test_a_give_up_that_loses_nothing_never_logs_a_zero_count(caplog: pytest.LogCaptureFixture) -> None:
    """A failed set-up task, a batch that got through in steps, a close with only a request in flight: no "0 records"."""
    caplog.set_level(logging.WARNING, logger="genmon.handlers")

    def fail_tasks(batch: list[Any], budget_s: float | None) -> None:
        raise RuntimeError("set-up failed")

    set_up = BatchSender("set-up", fail_tasks, max_retries=0)
    set_up.put_task("create the run")
    assert set_up.close(30)

    def all_in_steps(batch: list[Any], budget_s: float | None) -> None:
        raise PartlyDelivered(len(batch))

    steps = BatchSender("steps", all_in_steps, max_retries=0)
    steps.put_many([1, 2, 3])
    assert steps.close(30)

    entered, release = threading.Event(), threading.Event()

    def hang(batch: list[Any], budget_s: float | None) -> None:
        entered.set()
        release.wait()

    hung = BatchSender("hung", hang, batch_size=2, max_buffer=2)
    hung.put_many([1, 2])
    assert entered.wait(30)
    assert hung.close(0.0) is False  # the request holds both records; none is buffered
    release.set()
    assert hung.join(30)

    messages = _warnings(caplog)
    assert len(messages) == 3  # each give-up is still said
    assert 0 not in _counts(messages), messages
    assert set_up.stats()["dropped_total"] == steps.stats()["dropped_total"] == hung.stats()["dropped_total"] == 0


def test_a_real_drop_is_logged_with_the_number_of_records_lost(caplog: pytest.LogCaptureFixture) -> None:
    """A batch of 3 that got 1 record through before it failed logs "dropped 2 records", the number stats() counts."""
    caplog.set_level(logging.WARNING, logger="genmon.handlers")

    def one_then_fail(batch: list[Any], budget_s: float | None) -> None:
        raise PartlyDelivered(1)

    sender = BatchSender("partial", one_then_fail, max_retries=0)
    sender.put_many(["a", "b", "c"])
    assert sender.close(30)
    assert sender.stats()["dropped"]["rejected"] == 2 and sender.stats()["sent"] == 1
    assert _warnings(caplog) == [
        "partial dropped 2 records (rejected): PartlyDelivered: the connection dropped part way"
    ]
