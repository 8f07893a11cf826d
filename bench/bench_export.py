"""Export benchmark: 1,000,000 points with 2 metadata keys to parquet, csv and json; 100,000 to Excel.

Each format is timed end to end (snapshot from the store, columns, file
written) and compared in the same run with its floor: a bare
``pyarrow.parquet.write_table`` / ``pyarrow.csv.write_csv`` of an equivalent
prebuilt table, ``orjson.dumps`` of prebuilt point dicts, and openpyxl's
write-only mode for Excel. Targets from issue 4: parquet <= 0.5 s, csv <= 1 s,
json <= 1.5 s, Excel (100k) <= 4 s. Medians of ``--repeat`` runs.

    python bench/bench_export.py [--points 1000000] [--excel-points 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from genmon.exporters import get_exporter
from genmon.monitor.store.metric_store import MetricStore

METRICS = ("generation_time", "prompt_token_count", "completion_token_count", "total_token_count", "success_rate")
MODELS = ("gpt-4o", "gpt-4o-mini", "claude-sonnet")
OPERATIONS = ("chat", "summarise", "judge", "tool_call")
TARGETS_S = {"parquet": 0.5, "csv": 1.0, "json": 1.5, "excel": 4.0}


def filled_store(points: int) -> MetricStore:
    """A store holding ``points`` points over five metrics, each with model_name and operation."""
    store = MetricStore(max_points_per_metric=None)
    rng = np.random.default_rng(1)
    metas = [{"model_name": m, "operation": o} for m in MODELS for o in OPERATIONS]
    ts = 1_767_261_600.0 + np.arange(points) * 0.0037
    values = rng.lognormal(0, 0.5, points).tolist()
    which = rng.integers(0, len(metas), points).tolist()
    names = [METRICS[i % len(METRICS)] for i in range(points)]
    batch = [(n, v, t, metas[k]) for n, v, t, k in zip(names, values, ts.tolist(), which)]
    for start in range(0, points, 100_000):
        store.append_batch(batch[start : start + 100_000])
    return store


def median_time(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def prebuilt_table(points: int) -> pa.Table:
    """The long table a floor writes: the same columns, already built (timestamps as ISO text)."""
    rng = np.random.default_rng(2)
    return pa.table(
        {
            "metric": pa.array([METRICS[i % len(METRICS)] for i in range(points)]),
            "timestamp": pa.array(["2026-01-01T11:00:00.000000+01:00"] * points),
            "value": pa.array(rng.lognormal(0, 0.5, points)),
            "model_name": pa.array([MODELS[i % 3] for i in range(points)]),
            "operation": pa.array([OPERATIONS[i % 4] for i in range(points)]),
        }
    )


def openpyxl_floor(points: int, path: Path) -> None:
    import datetime as dt

    import openpyxl

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("generation_time")
    sheet.append(["timestamp", "value", "model_name", "operation"])
    stamp = dt.datetime(2026, 1, 1, 11)
    for i in range(points):
        sheet.append([stamp, i * 0.5, MODELS[i % 3], OPERATIONS[i % 4]])
    workbook.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--excel-points", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    store = filled_store(args.points)
    small = filled_store(args.excel_points)
    table = prebuilt_table(args.points)
    rows = table.to_pylist()
    by_metric: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        by_metric.setdefault(str(row.pop("metric")), []).append(row)

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        floors = {
            "parquet": median_time(lambda: pq.write_table(table, out / "floor.parquet"), args.repeat),
            "csv": median_time(lambda: pa_csv.write_csv(table, out / "floor.csv"), args.repeat),
            "json": median_time(lambda: (out / "floor.json").write_bytes(orjson.dumps(by_metric)), args.repeat),
            "excel": median_time(lambda: openpyxl_floor(args.excel_points, out / "floor.xlsx"), 1),
        }
        print(f"{'format':8} {'points':>10} {'genmon s':>9} {'floor s':>8} {'ratio':>6} {'target s':>9}  result")
        for name in ("parquet", "csv", "json", "excel"):
            source = small if name == "excel" else store
            exporter = get_exporter(name)
            suffix = "xlsx" if name == "excel" else name

            def run(exporter: object = exporter, source: MetricStore = source, suffix: str = suffix) -> None:
                exporter.export(source.snapshot(), out / f"export.{suffix}")  # type: ignore[attr-defined]

            seconds = median_time(run, args.repeat)
            points = args.excel_points if name == "excel" else args.points
            verdict = "ok" if seconds <= TARGETS_S[name] else "OVER TARGET"
            print(
                f"{name:8} {points:>10,} {seconds:>9.3f} {floors[name]:>8.3f} {seconds / floors[name]:>6.2f} "
                f"{TARGETS_S[name]:>9.1f}  {verdict}"
            )
        print("floors: parquet/csv = bare pyarrow write of a prebuilt table (ISO text timestamps);")
        print("        json = orjson.dumps of prebuilt point dicts + write; excel = openpyxl write-only, 4 columns")
        print("genmon csv writes the data twice (combined long table + one file per metric)")


if __name__ == "__main__":
    main()
