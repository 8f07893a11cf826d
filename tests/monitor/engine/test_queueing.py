"""Full-queue policies: exact drop counts, a bounded block, and markers that are never dropped."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from genmon import MonitorClosedError
from genmon.monitor.engine.queueing import BoundedQueue, Control
from genmon.testing import CapturingLogHandler


class InlineBlocker:
    """An inline metric sink that holds the metric worker inside its first batch until released."""

    runs_inline = True

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.released = threading.Event()

    def handle_batch(self, points: list[Any]) -> None:
        self.entered.set()
        self.released.wait(30)


def stall_worker(make_monitor, **kwargs):
    blocker = InlineBlocker()
    logs = CapturingLogHandler()
    monitor = make_monitor(metric_handlers=[blocker], log_handlers=[logs], **kwargs)
    monitor.record_metric("first", 0.0)
    assert blocker.entered.wait(10)
    return monitor, blocker, logs


@pytest.mark.parametrize("policy", ["drop_newest", "drop_oldest"])
def test_drop_policies_count_every_drop_exactly(make_monitor, policy: str) -> None:
    """With the worker stalled, 250 puts into a 100-slot queue drop exactly 150, newest or oldest."""
    monitor, blocker, logs = stall_worker(make_monitor, max_queue_size=100, on_full=policy)
    for i in range(250):
        monitor.record_metric("x", i)
    assert monitor.stats()["dropped"] == {policy: 150}
    blocker.released.set()
    assert monitor.flush(10)
    data = monitor.store.series("x")
    assert data is not None
    expected = range(100) if policy == "drop_newest" else range(150, 250)
    assert data.values.tolist() == list(map(float, expected))
    stats = monitor.stats()
    assert stats["processed"] == 101
    assert stats["recorded"] == 251  # every accepted point, whichever one the policy dropped
    drop_logs = [r for r in logs.records if r["message"].startswith("Queue full")]
    assert len(drop_logs) == 1 and drop_logs[0]["reason"] == policy  # logged once per interval


def test_block_policy_waits_for_room_and_loses_nothing(make_monitor) -> None:
    """A producer blocked on a full queue resumes when the worker drains; nothing is dropped."""
    monitor, blocker, _ = stall_worker(make_monitor, max_queue_size=10, on_full="block", block_timeout=60)
    done = threading.Event()

    def produce() -> None:
        for i in range(50):
            monitor.record_metric("x", i)
        done.set()

    producer = threading.Thread(target=produce)
    producer.start()
    assert not done.wait(0.2)  # stuck behind the stalled worker: the queue is bounded
    blocker.released.set()
    producer.join(30)
    assert done.is_set()
    assert monitor.flush(10)
    assert monitor.store.count("x") == 50 and monitor.stats()["dropped"] == {}


def test_block_policy_gives_up_after_its_timeout_and_counts_it(make_monitor) -> None:
    """A dead worker cannot hang a caller: after block_timeout the record is dropped and counted."""
    monitor, blocker, _ = stall_worker(make_monitor, max_queue_size=5, on_full="block", block_timeout=0.01)
    for i in range(8):
        monitor.record_metric("x", i)
    assert monitor.stats()["dropped"] == {"block_timeout": 3}
    blocker.released.set()
    assert monitor.flush(10)
    assert monitor.store.count("x") == 5


def test_drop_oldest_never_drops_a_flush_marker() -> None:
    """A marker taken out by drop_oldest is put back, so a pending flush still completes."""
    q = BoundedQueue(2, "drop_oldest")
    marker = Control("flush")
    q.put_control(marker)
    q.put(1)
    q.put(2)
    q.put(3)
    items = [q.get_nowait() for _ in range(q.qsize())]
    assert marker in items
    assert [x for x in items if x is not marker] == [2, 3] and q.dropped == {"drop_oldest": 1}


def test_closed_queue_refuses_puts() -> None:
    """After close every put raises MonitorClosedError, whatever the policy."""
    for policy in ("block", "drop_oldest", "drop_newest"):
        q = BoundedQueue(10, policy)
        q.close()
        with pytest.raises(MonitorClosedError):
            q.put(1)


def test_a_dropped_call_counts_every_point_it_carried(make_monitor) -> None:
    """track_generation queues its points as one item: dropping it counts each of its points."""
    monitor, blocker, _ = stall_worker(make_monitor, max_queue_size=1, on_full="drop_newest")
    monitor.record_metric("fills", 1.0)
    monitor.track_generation(1.0, True, model_name="m", prompt_token_count=3)  # 5 points
    assert monitor.stats()["dropped"] == {"drop_newest": 5}
    blocker.released.set()
    assert monitor.flush(10)


def test_a_full_handler_backlog_is_counted_and_logged(make_monitor) -> None:
    """A lane whose handler cannot keep up drops whole batches, counts them and logs it."""
    from genmon.testing import BlockingHandler

    slow = BlockingHandler("slow")
    logs = CapturingLogHandler()
    monitor = make_monitor(metric_handlers=[slow], log_handlers=[logs])
    lane = monitor._rt.metrics.lanes[0]
    lane._lane._max_pending = 1
    monitor.record_metric("x", 0.0)
    assert slow.entered.wait(10)
    for i in range(3):
        monitor.record_metric("x", float(i))
        assert monitor.sync_store(10)  # one batch per record
    stats = monitor.stats()
    assert stats["sinks"]["slow"]["dropped"] == {"backlog_full": 2} and stats["handler_errors"]["slow"] >= 1
    slow.release()
    assert monitor.flush(10)
    assert any("backlog full" in m for m in logs.messages("error"))


@pytest.mark.parametrize("policy", ["block", "drop_newest", "drop_oldest"])
def test_recorded_is_processed_plus_dropped_plus_queued_under_every_policy(make_monitor, policy: str) -> None:
    """recorded counts every accepted point under each on_full policy, and equals processed + dropped + queued."""
    monitor, blocker, _ = stall_worker(make_monitor, max_queue_size=10, on_full=policy, block_timeout=0.01)
    accepted = 1  # "first"
    for i in range(12):
        monitor.record_metric("x", float(i))
        accepted += 1
        monitor.track_generation(0.1, True, model_name="m", prompt_token_count=3)  # one item of 5 points
        accepted += 5
    stats = monitor.stats()
    assert stats["recorded"] == accepted
    assert stats["processed"] + sum(stats["dropped"].values()) + stats["queued"] == accepted
    assert sum(stats["dropped"].values()) > 0 and stats["queued"] > 0
    blocker.released.set()
    assert monitor.flush(10)
    stats = monitor.stats()
    assert stats["queued"] == 0 and stats["recorded"] == accepted
    assert stats["processed"] == monitor.store.count()  # no retention: the store holds what was processed
    assert stats["processed"] + sum(stats["dropped"].values()) == accepted


@pytest.mark.parametrize("policy", ["drop_newest", "drop_oldest", "block"])
def test_put_several_counts_an_item_by_its_points_as_put_does(policy: str) -> None:
    """A tracked call's group put with put_several is queued, dropped and refused exactly like put."""
    group = (("a", "b", "c"), (1.0, 2.0, 3.0), 1.0, None, 3)
    by_put, by_several = BoundedQueue(2, policy, block_timeout_s=0.01), BoundedQueue(2, policy, block_timeout_s=0.01)
    for _ in range(4):
        by_put.put(group)
        by_several.put_several(group, 3)
    assert by_several.queued_points() == by_put.queued_points() == 6
    assert by_several.dropped == by_put.dropped and sum(by_put.dropped.values()) == 6
    by_several.close()
    with pytest.raises(MonitorClosedError):
        by_several.put_several(group, 3)


def test_a_dropped_tracked_call_counts_every_point_it_carried(make_monitor) -> None:
    monitor, blocker, _ = stall_worker(make_monitor, max_queue_size=1, on_full="drop_newest")
    monitor.record_metric("fills", 1.0)
    with monitor.track("chat", model_name="m") as span:
        span.set_usage(prompt_tokens=3, completion_tokens=4)  # 7 points, put with put_several
    assert monitor.stats()["dropped"] == {"drop_newest": 7}
    blocker.released.set()
    assert monitor.flush(10)
