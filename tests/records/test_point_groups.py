"""Point groups: a call's points as one record, told apart from a point, counted and expanded in order."""

from __future__ import annotations

from genmon.records.point_groups import GROUP_FIELDS, count_points, expand, holds_several, point_group, points_in

META = {"model_name": "gpt-4o"}


def test_a_group_holds_its_points_and_expands_to_them_in_order() -> None:
    group = point_group(("a", "b", "c"), (1.0, 2, 3.5), 10.0, META)
    point = ("x", 0.5, 11.0, None)
    batch = [point, group, point]
    assert GROUP_FIELDS in map(len, batch) and GROUP_FIELDS not in map(len, [point, point])  # told apart in C
    assert count_points(batch) == 5 and points_in(group) == 3 and points_in(point) == 1
    assert expand(batch) == [point, ("a", 1.0, 10.0, META), ("b", 2, 10.0, META), ("c", 3.5, 10.0, META), point]
    assert expand(batch)[2][1].__class__ is int  # values keep their type


def test_a_group_of_one_name_is_a_plain_point() -> None:
    """So a batch whose record count equals its point count holds no group (the pipeline relies on it)."""
    assert point_group(("a",), (1.0,), 10.0, None) == ("a", 1.0, 10.0, None)


def test_lists_count_the_points_of_their_groups() -> None:
    item = [point_group(("a", "b"), (1.0, 2.0), 1.0, None), ("cost_usd", 0.1, 1.0, None)]
    assert holds_several(item) and points_in(item) == 3 and points_in([]) == 0
    assert not holds_several(("x", 1.0, 1.0, None)) and not holds_several(7)
    assert points_in(7) == 1  # anything else on a queue is one record


def test_packed_metadata_lets_the_collector_untrack_a_queued_point() -> None:
    """A tuple holding a dict stays tracked for good; one holding packed text metadata is untracked at its first collection."""
    import gc

    from genmon.records.validation import check_metadata, pack_metadata, unpack_metadata

    _, meta = check_metadata({"model_name": "packed-test", "operation": "chat"}, 1.0)
    packed = pack_metadata(meta)
    assert packed == tuple(meta.items()) and unpack_metadata(packed) is meta
    with_dict, with_packed = ("x", 1.0, 2.0, meta), ("x", 1.0, 2.0, packed)
    gc.collect()
    gc.collect()
    assert gc.is_tracked(with_dict) and not gc.is_tracked(with_packed)
    _, numeric = check_metadata({"model_name": "packed-test", "n": 1}, 1.0)
    assert pack_metadata(numeric) is numeric  # numbers compare equal across types: kept as the dict
    assert unpack_metadata(None) is None and unpack_metadata(numeric) is numeric
