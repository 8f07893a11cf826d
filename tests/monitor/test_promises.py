"""What genmon promises about loss: every accepted record is written, counted as dropped with a reason, or queued.

The README's "What genmon promises" section points at these tests.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genmon import GenerationMonitor
from genmon.testing import CapturingLogHandler


class SlowHandler:
    """afterimage's per-point protocol, 10 ms a point: far slower than the generator."""

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def handle_metric(self, metric_name: str, value: float, metadata: dict[str, Any]) -> None:
        time.sleep(0.01)
        with self._lock:
            self.calls += 1


def test_a_slow_handler_at_the_close_deadline_loses_only_what_is_counted_and_is_fed_no_more(tmp_path: Path) -> None:
    """close() returns False at its deadline; the points the slow handler never got are counted and logged; no call follows."""
    slow = SlowHandler()
    logs = CapturingLogHandler()
    monitor = GenerationMonitor(log_dir=tmp_path, metric_handlers=[slow], log_handlers=[logs], metrics_interval=0)
    for i in range(5000):
        monitor.record_metric("x", float(i))
    assert monitor.close(timeout=0.5) is False
    calls_at_close = slow.calls
    for thread in threading.enumerate():
        if thread.name == "genmon-lane-SlowHandler":
            thread.join(10)  # the call in progress at the deadline ends; the lane makes no other
    assert slow.calls <= calls_at_close + 1
    sink = monitor.stats()["sinks"]["SlowHandler"]
    assert sink["received"] == 5000
    assert sink["delivered"] + sum(sink["dropped"].values()) == 5000
    left = sink["dropped"]["close_timeout"]
    assert left >= 5000 - calls_at_close - 1
    assert any(f"{left} records not delivered by the close deadline" in m for m in logs.messages("error"))


def test_the_loss_at_the_close_deadline_is_logged_exactly_once_with_its_number(tmp_path: Path) -> None:
    """One log line, not one per batch or per close call, says how many records the slow handler lost at the deadline."""
    slow = SlowHandler()
    logs = CapturingLogHandler()
    monitor = GenerationMonitor(log_dir=tmp_path, metric_handlers=[slow], log_handlers=[logs], metrics_interval=0)
    for i in range(5000):
        monitor.record_metric("x", float(i))
    assert monitor.close(timeout=0.5) is False
    monitor.close(timeout=0.5)  # a second close reports nothing again
    for thread in threading.enumerate():
        if thread.name == "genmon-lane-SlowHandler":
            thread.join(10)
    left = monitor.stats()["sinks"]["SlowHandler"]["dropped"]["close_timeout"]
    assert left > 0
    reports = [m for m in logs.messages() if "not delivered by the close deadline" in m]
    assert len(reports) == 1
    assert f"SlowHandler: {left} records not delivered by the close deadline" in reports[0]


def test_readers_work_whatever_name_reached_the_store(make_monitor, tmp_path: Path) -> None:
    """A metric name or metadata with a lone surrogate that reached the store breaks no export, summary, frame or chart."""
    monitor: GenerationMonitor = make_monitor()
    now = time.time()
    monitor.store.append_batch([("x\ud800", 1.0, now, {"k": "v\udc80"}), ("ok", 2.0, now, None)])
    monitor.record_metric("good", 3.0)
    for fmt in ("json", "csv", "excel", "parquet"):
        assert monitor.export_metrics(tmp_path / f"out.{fmt}", format=fmt)
    assert "x\\ud800" in monitor.summary().index and set(monitor.to_dataframe()["metric"]) == {"x\\ud800", "ok", "good"}
    assert monitor.visualize_metrics(save_dir=tmp_path / "plots")
    assert monitor.save_metrics().exists()
    assert orjson.loads((tmp_path / "out.json").read_bytes())["x\\ud800"][0]["k"] == "v\\udc80"


# Anything a caller might pass: text with surrogates, huge ints, NaN, nested data, objects.
ANY_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=8)
ANY_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    ANY_TEXT,
)
ANY_VALUE = st.recursive(
    ANY_SCALAR, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3), max_leaves=6
)
CALLS = st.lists(
    st.one_of(
        st.tuples(
            st.just("metric"),
            st.one_of(ANY_TEXT, st.integers()),
            ANY_VALUE,
            st.none() | st.dictionaries(ANY_TEXT, ANY_VALUE, max_size=3),
        ),
        st.tuples(
            st.just("log"),
            ANY_TEXT,
            st.dictionaries(st.text(max_size=5).filter(lambda k: k.isidentifier()), ANY_VALUE, max_size=3),
            st.none(),
        ),
    ),
    max_size=12,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(calls=CALLS)
def test_arbitrary_input_beside_good_points_loses_nothing(tmp_path_factory, calls: list[tuple[Any, ...]]) -> None:
    """Fuzz: arbitrary calls among 1,000 good points. Every good point is in metrics.jsonl; every accepted call is written or counted."""
    log_dir = tmp_path_factory.mktemp("fuzz")
    monitor = GenerationMonitor(log_dir=log_dir, metrics_interval=0)
    accepted = 0
    try:
        for i in range(1000):
            monitor.record_metric("good", float(i))
            if i % 100 == 0 and calls:
                kind, a, b, c = calls[i // 100 % len(calls)]
                try:
                    if kind == "metric":
                        monitor.record_metric(a, b, c)
                        accepted += 1
                    else:
                        monitor.log_info(a, **b)
                except (TypeError, ValueError):
                    pass  # refused at the call, naming the argument: nothing was recorded
        assert monitor.flush(30)
    finally:
        assert monitor.close(30)
    written = [orjson.loads(line) for line in (log_dir / "metrics.jsonl").read_bytes().splitlines()]
    assert [r["value"] for r in written if r["metric"] == "good"] == [float(i) for i in range(1000)]
    stats = monitor.stats()
    sink = stats["sinks"]["FileMetricHandler"]
    assert stats["recorded"] == 1000 + accepted == stats["processed"]
    assert sink["received"] == sink["delivered"] + sum(sink["dropped"].values()) == 1000 + accepted
    assert len(written) == sink["delivered"]
    logs = stats["logs"]["sinks"]["FileLogHandler"]
    assert logs["received"] == logs["delivered"] + sum(logs["dropped"].values())


def test_every_test_the_readme_promises_cite_exists() -> None:
    """Each row of the README's "What genmon promises" table cites tests by path (``file::function``), and each exists."""
    import ast
    import re

    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    section = readme.split("## What genmon promises", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| when ")]
    rows = [row for row in rows if not row.startswith("| ---")]
    assert len(rows) >= 10  # the table was found
    defined: dict[str, set[str]] = {}
    for row in rows:
        shown_by = row.rstrip(" |").rsplit(" | ", 1)[1]
        cited = re.findall(r"`([^`]+)`", shown_by)
        assert cited, f"a promise without a test: {row[:80]}"
        for reference in cited:
            path, _, function = reference.partition("::")
            assert path.startswith("tests/") and path.endswith(".py"), f"cite a test as file::function: {reference}"
            file = root / path
            assert file.is_file(), f"{reference}: no such file"
            if function:
                if path not in defined:
                    tree = ast.parse(file.read_text(encoding="utf-8"))
                    kinds = (ast.FunctionDef, ast.AsyncFunctionDef)
                    defined[path] = {node.name for node in tree.body if isinstance(node, kinds)}
                assert function in defined[path], f"{reference}: no such test in {path}"
