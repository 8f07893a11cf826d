"""A call's points as one group: every reader and file sees exactly what the same points one by one give.

The group path is an optimisation (issue 12): these tests pin that it changes
no line, no stored value, no total and no count, and that a call the common
path cannot vouch for still gets the full check and its clear error.
"""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest

from genmon import GenerationMonitor
from genmon.handlers.metrics_file import FileMetricHandler
from genmon.monitor.store.metric_store import MetricStore
from genmon.monitor.tracking.generation import common_generation_points, generation_points, remember_generation
from genmon.monitor.tracking.token_totals import TokenTotals
from genmon.records.point_groups import expand, point_group

KWARGS = {
    "model_name": "gpt-4o",
    "finish_reason": "stop",
    "prompt_token_count": 120,
    "completion_token_count": 80,
    "total_token_count": 200,
    "metadata": {"operation": "chat"},
}


def mixed_batch(seed: int) -> list[Any]:
    """Points and groups of two sets of names, int and float values, shared and absent metadata."""
    rng = random.Random(seed)
    metas = [None, {"model_name": "a"}, {"model_name": "b", "n": 3}]
    batch: list[Any] = []
    t = 1_700_000_000.0 + rng.random()
    for _ in range(200):
        t += rng.choice([0.0, 1e-6, 0.3])
        meta = rng.choice(metas)
        if rng.random() < 0.5:
            batch.append(("generation_time", rng.choice([rng.random(), rng.randint(0, 9)]), t, meta))
        else:
            names = rng.choice([("generation_time", "prompt_token_count"), ("x%s", "prompt_token_count", "y")])
            batch.append(point_group(names, tuple(rng.choice([1.5, 2, 1e300]) for _ in names), t, meta))
    return batch


@pytest.mark.parametrize("seed", range(5))
def test_metrics_jsonl_writes_a_group_as_its_points(tmp_path, seed: int) -> None:
    handler = FileMetricHandler(tmp_path)
    batch = mixed_batch(seed)
    try:
        assert handler.format_lines(batch) == handler.format_lines(expand(batch))
        one_by_one = "".join(handler.format_lines([p]) for p in expand(batch))
        assert handler.format_lines(batch) == one_by_one
    finally:
        handler.close()


@pytest.mark.parametrize("meta", [None, {"model_name": "gpt-4o", "op": "a%b"}])
def test_a_batch_of_one_metric_is_written_as_point_by_point(tmp_path, meta) -> None:
    """The one-metric fast path (numpy microseconds, a template per second) writes the loop's text exactly."""
    handler = FileMetricHandler(tmp_path)
    rng = random.Random(7)
    t0 = 1_700_000_000.0
    points = [
        ("lat%", rng.choice([rng.random() * 100, rng.randint(-9, 9), 5e-324]), t0 + i * 0.013, meta) for i in range(400)
    ]
    try:
        assert handler.format_lines(points) == "".join(handler.format_lines([p]) for p in points)
    finally:
        handler.close()


@pytest.mark.parametrize("seed", range(3))
def test_the_store_holds_a_group_as_its_points(seed: int) -> None:
    """The same series; a metric's points at one same time may come in another order (the store keeps time order)."""
    batch = [(r[0], r[1], r[2] + i * 1e-3, *r[3:]) for i, r in enumerate(mixed_batch(seed))]  # no two at one time
    grouped, flat = MetricStore(), MetricStore()
    grouped.append_batch(batch[:120])
    grouped.append_batch(batch[120:])
    flat.append_batch(expand(batch))
    assert grouped.names() == flat.names()
    for name in flat.names():
        a, b = grouped.series(name), flat.series(name)
        assert a is not None and b is not None
        assert a.timestamps.tolist() == b.timestamps.tolist() and a.values.tolist() == b.values.tolist()
        assert list(grouped.names()) == list(flat.names())
        assert a.integral == b.integral and a.metadata() == b.metadata()


def test_token_totals_read_a_groups_counts() -> None:
    batch = mixed_batch(1) + [point_group(("prompt_token_count", "completion_token_count"), (5, 7), 1.0, None)]
    grouped, flat = TokenTotals(), TokenTotals()
    grouped.add(batch)
    flat.add(expand(batch))
    assert grouped.report() == flat.report() and grouped.report().total_prompt_tokens > 0


def test_a_repeated_call_takes_the_common_path_and_gets_the_full_paths_points() -> None:
    _, points = generation_points(0.5, True, KWARGS, 10.0)
    remember_generation(KWARGS, points)
    common = common_generation_points(0.5, True, KWARGS, 10.0)
    assert common is not None and expand([common[0]]) == points
    failed = common_generation_points(0.7, False, KWARGS, 11.0)
    assert failed is not None and expand([failed[0]]) == generation_points(0.7, False, KWARGS, 11.0)[1]


@pytest.mark.parametrize(
    "change",
    [
        {"prompt_token_count": 1.5},  # a float count: the full check
        {"prompt_token_count": None},
        {"model_name": 7},  # a number compares equal across types: never vouched for
        {"metadata": {"operation": 1}},
        {"metadata": {"operation": ["chat"]}},
        {"error": "boom"},
        {"timestamp": 5.0},
        {"metadata": {"operation": "chat", "timestamp": "2026-01-01T00:00:00+00:00"}},  # sets the time
    ],
)
def test_a_call_the_common_path_cannot_vouch_for_takes_the_full_check(change: dict[str, Any]) -> None:
    _, points = generation_points(0.5, True, KWARGS, 10.0)
    remember_generation(KWARGS, points)
    changed = {**KWARGS, **change}
    assert common_generation_points(0.5, True, changed, 10.0) is None
    try:  # a call like this one, checked in full, must not teach the common path to skip the check
        remember_generation(changed, generation_points(0.5, True, changed, 10.0)[1])
    except (TypeError, ValueError):
        pass  # refused by the full check: nothing to remember
    assert common_generation_points(0.5, True, changed, 10.0) is None


def test_a_call_of_keywords_not_seen_before_is_checked_in_full_first() -> None:
    _, points = generation_points(0.5, True, KWARGS, 10.0)
    remember_generation(KWARGS, points)
    other = {**KWARGS, "operation": "summarise"}  # another keyword: another shape
    assert common_generation_points(0.5, True, other, 10.0) is None
    remember_generation(other, generation_points(0.5, True, other, 10.0)[1])
    common = common_generation_points(0.5, True, other, 10.0)
    assert common is not None and expand([common[0]]) == generation_points(0.5, True, other, 10.0)[1]


def test_bad_arguments_after_good_calls_are_refused_naming_them(tmp_path) -> None:
    monitor = GenerationMonitor(log_dir=tmp_path, metrics_interval=0)
    try:
        for _ in range(3):
            monitor.track_generation(0.5, True, **KWARGS)
        with pytest.raises(TypeError, match="prompt_token_count"):
            monitor.track_generation(0.5, True, **{**KWARGS, "prompt_token_count": "many"})
        with pytest.raises((TypeError, ValueError), match="duration"):
            monitor.track_generation(float("nan"), True, **KWARGS)
        assert monitor.flush(30)
        stats = monitor.stats()
        assert stats["recorded"] == stats["processed"] == 3 * 8  # the refused calls recorded nothing
    finally:
        assert monitor.close(30)


def test_groups_are_counted_by_their_points_under_every_drop_policy(make_monitor) -> None:
    """A stalled worker, a 10-item queue: drops, stats and the store count a call's 8 points, never 1."""
    from tests.monitor.engine.test_queueing import stall_worker

    for policy in ("drop_newest", "drop_oldest"):
        monitor, blocker, _ = stall_worker(make_monitor, max_queue_size=10, on_full=policy)
        for _ in range(25):
            monitor.track_generation(0.5, True, **KWARGS)
        stats = monitor.stats()
        assert stats["dropped"] == {policy: 15 * 8} and stats["queued"] == 10 * 8
        blocker.released.set()
        assert monitor.flush(30)
        stats = monitor.stats()
        assert stats["recorded"] == 1 + 25 * 8 == stats["processed"] + 15 * 8
        assert monitor.store.count("generation_time") == 10


def test_handlers_that_take_points_get_each_point_of_a_group(tmp_path) -> None:
    """A user handler with handle_metric sees the call's points one by one, in order, on its own lane."""
    seen: list[tuple[str, Any]] = []
    lock = threading.Lock()

    class Handler:
        def handle_metric(self, metric_name: str, value: float, metadata: dict[str, Any]) -> None:
            with lock:
                seen.append((metric_name, value))

    monitor = GenerationMonitor(log_dir=tmp_path, metric_handlers=[Handler()], metrics_interval=0)
    try:
        for _ in range(2):
            monitor.track_generation(0.5, True, **KWARGS)
        assert monitor.flush(30)
    finally:
        assert monitor.close(30)
    names = [name for name, _ in seen]
    assert names == 2 * [
        "generation_time",
        "success_rate",
        "error_rate",
        "model_usage:gpt-4o",
        "finish_reason:stop",
        "prompt_token_count",
        "completion_token_count",
        "total_token_count",
    ]
    assert seen[5] == ("prompt_token_count", 120) and type(seen[5][1]) is int


def test_batch_handlers_get_point_tuples_with_metadata_dicts(tmp_path) -> None:
    """Groups and packed metadata never reach a user's handle_batch: it gets 4-tuples whose metadata is a dict."""
    batches: list[list[Any]] = []

    class BatchHandler:
        def handle_batch(self, points: list[Any]) -> None:
            batches.append(list(points))

    monitor = GenerationMonitor(log_dir=tmp_path, metric_handlers=[BatchHandler()], metrics_interval=0)
    try:
        for _ in range(3):
            monitor.track_generation(0.5, True, **KWARGS)
            monitor.record_metric("x", 1.0, {"model_name": "gpt-4o", "operation": "chat"})
        with monitor.track("chat", model_name="m"):
            pass
        assert monitor.flush(30)
    finally:
        assert monitor.close(30)
    points = [p for batch in batches for p in batch]
    assert len(points) == 3 * 9 + 4  # the tracked call: time, success, error, model_usage
    assert all(len(p) == 4 and (p[3] is None or type(p[3]) is dict) for p in points)
    assert {p[3]["operation"] for p in points if p[0] == "x"} == {"chat"}


@pytest.mark.parametrize("packed", [False, True])
def test_a_loop_of_one_kind_of_call_is_written_and_totalled_as_its_points(tmp_path, packed: bool) -> None:
    """Groups of one set of names and one metadata (the C-level paths): the same lines and totals as point by point."""
    from genmon.records.validation import check_metadata, pack_metadata

    _, meta = check_metadata({"model_name": "gpt-4o", "op": "50%"}, 1.0)
    shared = pack_metadata(meta) if packed else meta
    names = ("generation_time", "prompt_token_count", "completion_token_count", "model_usage:gpt-4o")
    t0 = 1_700_000_000.0
    groups = [point_group(names, (0.1 * i, i, 2 * i, 1.0), t0 + i * 0.011, shared) for i in range(300)]
    handler = FileMetricHandler(tmp_path)
    try:
        assert handler.format_lines(groups) == "".join(handler.format_lines([p]) for p in expand(groups))
    finally:
        handler.close()
    grouped, flat = TokenTotals(), TokenTotals()
    grouped.add(groups)
    flat.add(expand(groups))
    assert grouped.report() == flat.report()
    assert grouped.report().total_prompt_tokens == sum(range(300))


def test_the_log_worker_builds_a_common_calls_record_as_the_caller_did() -> None:
    """(ts, level, message, keywords, duration, success) becomes afterimage's record, its time as IsoFormatter writes it."""
    from genmon.records.log_records import LogRecords
    from genmon.records.timefmt import IsoFormatter

    rng = random.Random(3)
    stamps = sorted(1_700_000_000 + rng.random() * 4 for _ in range(500)) + [1_700_000_007.9999999999]
    records = LogRecords()([(t, "info", "Generation metrics", dict(KWARGS), 0.5, True) for t in stamps])
    iso = IsoFormatter()
    assert [r["timestamp"] for r in records] == [iso(t) for t in stamps]
    assert records[0] == {
        "message": "Generation metrics",
        "data": {"timestamp": iso(stamps[0]), "duration": 0.5, "success": True, **KWARGS},
        "level": "info",
        "timestamp": iso(stamps[0]),
    }
    assert list(records[0]) == ["message", "data", "level", "timestamp"]


def test_tracked_calls_with_a_cost_are_written_and_stored_as_their_points(tmp_path) -> None:
    """A batch of (group, cost point) pairs, a loop of tracked calls with a price: the same lines and series as point by point."""
    from genmon.records.validation import check_metadata, pack_metadata

    _, meta = check_metadata({"operation": "chat", "model_name": "m"}, 1.0)
    _, cost_meta = check_metadata({"operation": "chat", "model_name": "m", "cost_source": "price_table"}, 1.0)
    meta, cost_meta = pack_metadata(meta), pack_metadata(cost_meta)
    names = ("generation_time", "success_rate", "prompt_token_count")
    batch: list[Any] = []
    for i in range(200):
        t = 1_700_000_000.0 + i * 0.013
        batch += [point_group(names, (0.01 * i, 1.0, i), t, meta), ("cost_usd", 1e-5 * i, t, cost_meta)]
    handler = FileMetricHandler(tmp_path)
    try:
        assert handler.format_lines(batch) == "".join(handler.format_lines([p]) for p in expand(batch))
    finally:
        handler.close()
    grouped, flat = MetricStore(), MetricStore()
    grouped.append_batch(batch)
    flat.append_batch(expand(batch))
    for name in flat.names():
        a, b = grouped.series(name), flat.series(name)
        assert a is not None and b is not None
        assert a.values.tolist() == b.values.tolist() and a.metadata() == b.metadata()
    assert grouped.names() == flat.names()  # metrics in the order first recorded


@pytest.mark.parametrize(
    "column",
    [
        lambda i: 1.0,  # one object in every group: written into the batch's template
        lambda i: float(1),  # equal values, other objects: each its own repr
        lambda i: -0.0 if i % 2 else 0.0,  # equal, yet written differently
        lambda i: 1 if i % 3 else 1.0,  # equal, yet an int and a float
    ],
)
def test_values_one_object_across_a_batch_are_written_as_each_point_is(tmp_path, column) -> None:
    """metrics.jsonl takes the repr of a value that is one object throughout once per batch: the same lines."""
    names = ("generation_time", "success_rate", "error_rate", "prompt_token_count")
    constant_count = 120
    groups = [
        point_group(names, (0.001 * i, 1.0, column(i), constant_count), 1_700_000_000.0 + i * 0.013, None)
        for i in range(200)
    ]
    handler = FileMetricHandler(tmp_path)
    try:
        assert handler.format_lines(groups) == "".join(handler.format_lines([p]) for p in expand(groups))
        every_value_fixed = [point_group(names, (0.5, 1.0, 0.0, 7), 1.0 + i, None) for i in range(40)]
        assert handler.format_lines(every_value_fixed) == "".join(
            handler.format_lines([p]) for p in expand(every_value_fixed)
        )
    finally:
        handler.close()


def test_file_metrics_delivered_counts_points_as_received_does(tmp_path) -> None:
    """metrics.jsonl takes point groups as they are: what it delivered is counted in points, like what it received."""
    monitor = GenerationMonitor(log_dir=tmp_path, metrics_interval=0)
    try:
        for _ in range(100):
            monitor.track_generation(0.5, True, **KWARGS)
        assert monitor.flush(10)
        sink = monitor.stats()["sinks"]["FileMetricHandler"]
    finally:
        monitor.close()
    assert sink["received"] == sink["delivered"] > 100 and sink["dropped"] == {}
