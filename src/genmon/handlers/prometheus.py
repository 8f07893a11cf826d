"""Prometheus: a collector fed by the monitor, served over HTTP or pushed to a Pushgateway.

``PrometheusCollector`` is a metric handler (it runs on its own lane and
folds each batch into running totals) and a prometheus_client ``Collector``
(``collect()`` turns those totals into metric families at scrape time), so
a scrape never reads the store and recording never touches prometheus_client.

How a genmon metric maps to Prometheus (``namespace`` prefix, default ``genmon_``):

| genmon metric name | Prometheus type | samples |
| --- | --- | --- |
| starts with ``model_usage:`` or ``finish_reason:`` | counter (calls per model / reason) | ``_total`` |
| contains ``token`` | histogram (token buckets) | ``_bucket``, ``_count``, ``_sum`` |
| contains ``time``, ``duration``, ``latency`` or ``seconds`` | histogram (second buckets) | same |
| ends with ``_count`` or ``_total``, or contains ``cost`` | counter (sum of the values) | ``_total`` |
| ends with ``_rate`` (0/1 per event) | summary | ``_count`` (events), ``_sum`` (hits) |
| anything else (resources, scores, lengths) | gauge (last value) | the name |

``kinds={"name": "counter"}`` and ``buckets={"name": [...]}`` override it.
Names are sanitised to ``[a-zA-Z_:][a-zA-Z0-9_:]*`` (``process/rss_bytes``
becomes ``genmon_process_rss_bytes``). Metadata keys in ``label_keys``
become labels; each metric keeps at most ``max_label_sets`` label sets and
folds points with further ones into a set whose labels read ``__overflow__``
(counted in ``stats()``), so a run cannot blow up Prometheus' cardinality.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from genmon.handlers._extras import import_extra

TIME_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
TOKEN_BUCKETS: tuple[float, ...] = (1, 10, 50, 100, 250, 500, 1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000)
DEFAULT_LABEL_KEYS: tuple[str, ...] = ("model_name", "operation", "component")
KINDS: tuple[str, ...] = ("counter", "gauge", "histogram", "summary")
OVERFLOW = "__overflow__"
_INVALID_METRIC_CHARS = re.compile(r"[^a-zA-Z0-9_:]")
_INVALID_LABEL_CHARS = re.compile(r"[^a-zA-Z0-9_]")


def sanitize_metric_name(name: str) -> str:
    """A valid Prometheus metric name: other characters become ``_``; a leading digit gets a ``_`` first."""
    clean = _INVALID_METRIC_CHARS.sub("_", name) or "_"
    return "_" + clean if clean[0].isdigit() else clean


def sanitize_label_name(name: str) -> str:
    """A valid label name (``[a-zA-Z_][a-zA-Z0-9_]*``, never the reserved ``__`` prefix)."""
    clean = _INVALID_LABEL_CHARS.sub("_", name) or "_"
    if clean[0].isdigit():
        clean = "_" + clean
    return "l" + clean if clean.startswith("__") else clean


def default_kind(name: str) -> str:
    """The Prometheus type a genmon metric gets by its name (see the module docstring's table)."""
    lowered = name.lower()
    if lowered.startswith(("model_usage:", "finish_reason:")):
        return "counter"  # 1 per call: the count of calls per model / finish reason
    if "token" in lowered or any(word in lowered for word in ("time", "duration", "latency", "seconds")):
        return "histogram"
    if lowered.endswith(("_count", "_total")) or "cost" in lowered:
        return "counter"
    if lowered.endswith("_rate"):
        return "summary"
    return "gauge"


class _Child:
    """One label set's running figures."""

    __slots__ = ("bucket_counts", "count", "last", "total")

    def __init__(self, n_buckets: int) -> None:
        self.count = 0
        self.total = 0.0
        self.last = 0.0
        self.bucket_counts = [0] * n_buckets  # per bucket, not cumulative (summed at collect)


class _Family:
    """One genmon metric: its Prometheus name, type, buckets and label sets."""

    def __init__(self, name: str, prom_name: str, kind: str, buckets: Sequence[float]) -> None:
        self.name = name
        self.prom_name = prom_name
        self.kind = kind
        self.buckets = tuple(sorted(float(b) for b in buckets if math.isfinite(b)))
        self.children: dict[tuple[str, ...], _Child] = {}

    def observe(self, key: tuple[str, ...], value: float, max_label_sets: int, overflow_key: tuple[str, ...]) -> bool:
        """Fold one value in; returns True when its label set overflowed."""
        child = self.children.get(key)
        overflowed = False
        if child is None:
            if len(self.children) >= max_label_sets and key != overflow_key:
                overflowed = True
                key = overflow_key
                child = self.children.get(key)
            if child is None:
                child = self.children[key] = _Child(len(self.buckets) + 1 if self.kind == "histogram" else 0)
        child.count += 1
        child.total += value
        child.last = value
        if self.kind == "histogram":
            index = _bucket_index(self.buckets, value)
            child.bucket_counts[index] += 1
        return overflowed


def _bucket_index(bounds: tuple[float, ...], value: float) -> int:
    # Upper bounds are inclusive (le); the last slot is +Inf.
    low, high = 0, len(bounds)
    while low < high:
        mid = (low + high) // 2
        if value <= bounds[mid]:
            high = mid
        else:
            low = mid + 1
    return low


class PrometheusCollector:
    """Exposes the monitor's metrics to Prometheus; a metric handler and a ``Collector``.

    Pass it in ``metric_handlers`` (it then counts from the first point), or
    let ``monitor.serve_prometheus()`` / ``monitor.push_prometheus()`` add one.

    Args:
        namespace: prefix of every metric name (``""`` for none).
        label_keys: metadata keys exposed as labels (keep them low-cardinality).
        max_label_sets: label sets per metric at most; further ones fold into ``__overflow__``.
        kinds: per genmon metric name, "counter", "gauge", "histogram" or "summary".
        buckets: per genmon metric name, histogram upper bounds.
        default_time_buckets, default_token_buckets: buckets of the name-based histograms.

    Example:
        >>> from prometheus_client import CollectorRegistry
        >>> collector = PrometheusCollector()
        >>> registry = CollectorRegistry()
        >>> registry.register(collector)
        >>> collector.handle_batch([("generation_time", 0.7, 0.0, {"model_name": "m"})])
    """

    name = "prometheus"

    def __init__(
        self,
        namespace: str = "genmon",
        label_keys: Iterable[str] = DEFAULT_LABEL_KEYS,
        max_label_sets: int = 100,
        kinds: Mapping[str, str] | None = None,
        buckets: Mapping[str, Sequence[float]] | None = None,
        default_time_buckets: Sequence[float] = TIME_BUCKETS,
        default_token_buckets: Sequence[float] = TOKEN_BUCKETS,
    ) -> None:
        self._core = import_extra("prometheus_client.core", "prometheus-client", "prometheus")
        self.namespace = sanitize_metric_name(namespace) + "_" if namespace else ""
        self.label_keys = tuple(label_keys)
        self.label_names = tuple(sanitize_label_name(k) for k in self.label_keys)
        if len(set(self.label_names)) != len(self.label_names):
            raise ValueError(f"label_keys must stay distinct once sanitised, got {self.label_keys!r}")
        if isinstance(max_label_sets, bool) or not isinstance(max_label_sets, int) or max_label_sets < 1:
            raise ValueError(f"max_label_sets must be an int >= 1, got {max_label_sets!r}")
        self.max_label_sets = max_label_sets
        self._kinds = dict(kinds or {})
        for metric, kind in self._kinds.items():
            if kind not in KINDS:
                raise ValueError(f"kinds[{metric!r}] must be one of {', '.join(KINDS)}; got {kind!r}")
        self._buckets = {k: tuple(v) for k, v in (buckets or {}).items()}
        self._time_buckets = tuple(default_time_buckets)
        self._token_buckets = tuple(default_token_buckets)
        self._families: dict[str, _Family] = {}
        self._prom_names: set[str] = set()
        self._overflow_key = (OVERFLOW,) * len(self.label_keys)
        self._lock = threading.Lock()
        self.points = 0
        self.overflowed = 0

    # -- the handler side (its lane thread) ---------------------------------------------------
    def handle_batch(self, points: list[tuple[str, float, float, dict[str, Any] | None]]) -> None:
        """Fold a batch of points into the running figures."""
        keys = self.label_keys
        empty = ("",) * len(keys)
        with self._lock:
            families = self._families
            for name, value, _ts, meta in points:
                family = families.get(name)
                if family is None:
                    family = self._new_family(name)
                key = empty if not meta else tuple(_label_value(meta.get(k)) for k in keys)
                if family.observe(key, value, self.max_label_sets, self._overflow_key):
                    self.overflowed += 1
            self.points += len(points)

    def handle_metric(self, metric_name: str, value: float, metadata: dict[str, Any] | None = None) -> None:
        """One point (afterimage's protocol)."""
        self.handle_batch([(metric_name, value, 0.0, metadata)])

    def _new_family(self, name: str) -> _Family:
        kind = self._kinds.get(name) or default_kind(name)
        prom_name = self.namespace + sanitize_metric_name(name)
        if kind == "counter" and prom_name.endswith("_total"):
            prom_name = prom_name[: -len("_total")]  # exposed as <name>_total either way
        base, n = prom_name, 1
        while prom_name in self._prom_names:  # two genmon names that sanitise alike
            n += 1
            prom_name = f"{base}_{n}"
        self._prom_names.add(prom_name)
        bounds = self._buckets.get(name) or (self._token_buckets if "token" in name.lower() else self._time_buckets)
        family = self._families[name] = _Family(name, prom_name, kind, bounds)
        return family

    # -- the Collector side (scrape threads) --------------------------------------------------
    def collect(self) -> Iterator[Any]:
        """The metric families, built from the running figures at scrape time."""
        core = self._core
        names = list(self.label_names)
        with self._lock:
            snapshot = [(f, [(k, _copy(c)) for k, c in f.children.items()]) for f in self._families.values()]
            overflowed = self.overflowed
        for family, children in snapshot:
            doc = f"genmon metric {family.name!r}"
            if family.kind == "counter":
                out = core.CounterMetricFamily(family.prom_name, doc, labels=names)
                for key, child in children:
                    out.add_metric(list(key), child.total)
            elif family.kind == "summary":
                out = core.SummaryMetricFamily(family.prom_name, doc, labels=names)
                for key, child in children:
                    out.add_metric(list(key), child.count, child.total)
            elif family.kind == "histogram":
                out = core.HistogramMetricFamily(family.prom_name, doc, labels=names)
                for key, child in children:
                    out.add_metric(list(key), _cumulative(family.buckets, child.bucket_counts), child.total)
            else:
                out = core.GaugeMetricFamily(family.prom_name, doc, labels=names)
                for key, child in children:
                    out.add_metric(list(key), child.last)
            yield out
        yield core.CounterMetricFamily(
            f"{self.namespace}prometheus_overflowed_points",
            "points whose label set exceeded max_label_sets and were folded into __overflow__",
            value=overflowed,
        )

    def describe(self) -> list[Any]:
        # No up-front description: the families appear as metrics are recorded.
        return []

    def register(self, registry: Any) -> PrometheusCollector:
        """Register into a prometheus_client ``CollectorRegistry`` and return self."""
        registry.register(self)
        return self

    def stats(self) -> dict[str, Any]:
        """points folded in, metrics seen, label sets per metric, overflowed points."""
        with self._lock:
            return {
                "points": self.points,
                "metrics": len(self._families),
                "label_sets": {f.name: len(f.children) for f in self._families.values()},
                "overflowed": self.overflowed,
            }


def _label_value(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return text[:200]  # a huge value must not bloat every scrape


def _copy(child: _Child) -> _Child:
    copy = _Child(0)
    copy.count, copy.total, copy.last, copy.bucket_counts = (
        child.count,
        child.total,
        child.last,
        list(child.bucket_counts),
    )
    return copy


def _cumulative(bounds: tuple[float, ...], counts: list[int]) -> list[tuple[str, float]]:
    out, running = [], 0
    for bound, count in zip(bounds, counts, strict=False):
        running += count
        out.append((_float_text(bound), float(running)))
    out.append(("+Inf", float(running + counts[-1])))
    return out


def _float_text(bound: float) -> str:
    return repr(float(bound))
