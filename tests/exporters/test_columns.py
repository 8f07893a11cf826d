"""Shared column building: local ISO times, UTC offsets, metadata columns, the formula guard."""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa
import pytest
from export_data import DST_CHANGE

from genmon.exporters.columns import (
    arrow_column,
    iso_strings,
    long_table,
    neutralise_array,
    neutralise_text,
    utc_offsets,
)
from genmon.monitor.store.metric_store import MetricStore
from genmon.records.timefmt import IsoFormatter


@pytest.mark.usefixtures("paris_tz")
def test_iso_strings_match_the_metrics_file_formatter_across_dst_changes() -> None:
    """Vectorised ISO text equals IsoFormatter's for times around both DST changes and sub-second fractions."""
    autumn = 1_792_890_000.0  # 2026-10-25 01:00 UTC: back to +01:00
    rng = np.random.default_rng(3)
    ts = np.sort(
        np.concatenate(
            [
                DST_CHANGE + rng.uniform(-7200, 7200, 500),
                autumn + rng.uniform(-7200, 7200, 500),
                [DST_CHANGE - 1e-6, DST_CHANGE, autumn - 0.999999, autumn, 0.5, 1.7e9 + 0.9999995],
            ]
        )
    )
    iso = IsoFormatter()
    assert iso_strings(ts).to_pylist() == [iso(t) for t in ts.tolist()]


@pytest.mark.usefixtures("paris_tz")
def test_utc_offsets_follow_the_local_zone_per_point() -> None:
    """Each point gets the offset time.localtime gives for it, even in an unsorted long table."""
    ts = np.array([DST_CHANGE + 10, DST_CHANGE - 10, DST_CHANGE - 1, DST_CHANGE, 1.7e9])
    assert utc_offsets(ts).tolist() == [time.localtime(int(t)).tm_gmtoff for t in ts]
    assert utc_offsets(ts).tolist()[:4] == [7200, 3600, 3600, 7200]


def test_neutralise_guards_only_text_that_starts_like_a_formula() -> None:
    """= + - @ tab and carriage return at the start get a quote; other text, nulls and numbers are untouched."""
    risky = ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"]
    safe = ["a=1", "plain", "", "1-2"]
    assert [neutralise_text(t) for t in risky] == ["'" + t for t in risky]
    assert [neutralise_text(t) for t in safe] == safe
    array = pa.array([*risky, *safe, None])
    assert neutralise_array(array).to_pylist() == ["'" + t for t in risky] + safe + [None]
    numbers = pa.array([-1.0, 2.0])
    assert neutralise_array(numbers) is numbers


def test_arrow_columns_keep_types_and_fall_back_to_text_for_mixed_keys() -> None:
    """Ints stay ints, nested values become JSON, and a key holding a number and text becomes text."""
    assert arrow_column([None, 1, 2]).type == pa.int64()
    assert arrow_column([None, True]).type == pa.bool_()
    assert arrow_column([[1, 2], {"a": 1}]).to_pylist() == ["[1,2]", '{"a":1}']
    assert arrow_column([1, "a", True, None, 2**70]).to_pylist() == ["1", "a", "true", None, str(2**70)]


def test_long_table_spreads_metadata_over_points_by_code() -> None:
    """Each row gets its own point's metadata, across series with different tables and keys."""
    store = MetricStore()
    store.append_batch(
        [
            ("a", 1.0, 10.0, {"k": "x"}),
            ("b", 2.0, 11.0, {"j": 5}),
            ("a", 3.0, 12.0, None),
            ("a", 4.0, 13.0, {"k": "y", "j": 7}),
        ]
    )
    data = long_table(store.snapshot(), timestamps="epoch")
    assert data.table.to_pylist() == [
        {"metric": "a", "timestamp": 10.0, "value": 1.0, "k": "x", "j": None},
        {"metric": "a", "timestamp": 12.0, "value": 3.0, "k": None, "j": None},
        {"metric": "a", "timestamp": 13.0, "value": 4.0, "k": "y", "j": 7},
        {"metric": "b", "timestamp": 11.0, "value": 2.0, "k": None, "j": 5},
    ]
    assert data.metric_table(1).column_names == ["timestamp", "value", "j"]
