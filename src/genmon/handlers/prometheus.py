"""Prometheus: a collector fed by the monitor, served over HTTP or pushed to a Pushgateway.

``PrometheusCollector`` is a metric handler (it runs on its own lane and
folds each batch into running totals) and a prometheus_client ``Collector``
(``collect()`` turns those totals into metric families at scrape time), so
a scrape never reads the store and recording never touches prometheus_client.

Names, types and labels follow ``genmon.handlers.prometheus_names``: the
calls, latency, tokens and cost of tracked calls become four families
labelled by model, operation, span type and component
(``genmon_llm_calls_total{outcome="success"}``,
``genmon_llm_operation_duration_seconds``, ``genmon_llm_token_usage_total``,
``genmon_llm_cost_usd_total``); other metrics keep their own name with a
unit suffix. Each family keeps at most ``max_label_sets`` label sets and
folds points with further ones into a set whose labels read
``__overflow__`` (``outcome`` and ``token_type`` are kept), counted in
``genmon_prometheus_overflowed_points_total``, so no run can blow up
Prometheus's cardinality, however many models it calls.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from genmon.handlers._extras import import_extra
from genmon.handlers.prometheus_names import (
    CALL_LABEL_KEYS,
    DEFAULT_LABEL_KEYS,
    KINDS,
    LLM_CALLS,
    LLM_FAMILIES,
    LLM_POINTS,
    OVERFLOW,
    OVERFLOW_FAMILY,
    REDUNDANT,
    REDUNDANT_PREFIXES,
    TIME_BUCKETS,
    TOKEN_BUCKETS,
    FamilySpec,
    default_kind,
    generic_family,
    is_seconds,
    is_tokens,
    label_names_for,
    sample_names,
    sanitize_label_name,
    sanitize_metric_name,
)

__all__ = [
    "DEFAULT_LABEL_KEYS",
    "OVERFLOW",
    "TIME_BUCKETS",
    "TOKEN_BUCKETS",
    "PrometheusCollector",
    "default_kind",
    "sanitize_label_name",
    "sanitize_metric_name",
]


class _Child:
    """One label set's running figures."""

    __slots__ = ("bucket_counts", "count", "last", "total")

    def __init__(self, n_buckets: int) -> None:
        self.count = 0
        self.total = 0.0
        self.last = 0.0
        self.bucket_counts = [0] * n_buckets  # per bucket, not cumulative (summed at collect)

    def copy(self) -> _Child:
        copy = _Child(0)
        copy.count, copy.total, copy.last, copy.bucket_counts = (
            self.count,
            self.total,
            self.last,
            list(self.bucket_counts),
        )
        return copy


class _Family:
    """One exposed family: its name, type, buckets, label names and label sets."""

    def __init__(
        self,
        spec: FamilySpec,
        prom_name: str,
        meta_keys: tuple[str, ...],
        label_names: tuple[str, ...],
        buckets: Any,
        le_text: Callable[[float], str],
    ) -> None:
        self.spec = spec
        self.prom_name = prom_name  # counters without _total, as prometheus_client's families take them
        self.kind = spec.kind
        # OpenMetrics wants the unit as the name's suffix; a renamed family (name_2) goes without.
        self.unit = spec.unit if spec.unit and prom_name.endswith("_" + spec.unit) else ""
        self.meta_keys = meta_keys
        self.label_names = label_names
        self.empty = ("",) * len(meta_keys)
        self.overflow = (OVERFLOW,) * len(meta_keys)
        self.buckets = tuple(sorted(float(b) for b in buckets if math.isfinite(b))) if self.kind == "histogram" else ()
        self.le_texts = (*(le_text(b) for b in self.buckets), "+Inf")
        self.children: dict[tuple[str, ...], _Child] = {}

    def observe(self, labels: tuple[str, ...], fixed: tuple[str, ...], value: float, max_label_sets: int) -> bool:
        """Fold one value in; returns True when its label set overflowed."""
        key = labels + fixed if fixed else labels
        child = self.children.get(key)
        overflowed = False
        if child is None:
            if len(self.children) >= max_label_sets and labels != self.overflow:
                overflowed = True
                key = self.overflow + fixed
                child = self.children.get(key)
            if child is None:
                child = self.children[key] = _Child(len(self.buckets) + 1 if self.kind == "histogram" else 0)
        child.count += 1
        child.total += value
        child.last = value
        if self.kind == "histogram":
            child.bucket_counts[_bucket_index(self.buckets, value)] += 1
        return overflowed


class _Route:
    """Where one genmon metric's points go: a family, and its fixed label's value (None: from the value)."""

    __slots__ = ("family", "fixed")

    def __init__(self, family: _Family, fixed: str | None) -> None:
        self.family = family
        self.fixed: tuple[str, ...] | None = None if fixed is None else ((fixed,) if fixed else ())


_SUCCESS, _ERROR = ("success",), ("error",)


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
        label_keys: metadata keys exposed as labels (keep them low-cardinality);
            ``model_name`` is labelled ``model``. A mapping names each key's label.
        max_label_sets: label sets per family at most; further ones fold into ``__overflow__``.
        kinds: per genmon metric name, "counter", "gauge", "histogram" or "summary";
            a name given here leaves the LLM families and keeps its own name.
        buckets: per genmon metric name, histogram upper bounds
            (``buckets={"generation_time": [...]}`` sets the latency histogram's).
        default_time_buckets, default_token_buckets: buckets of the histograms in seconds and in tokens.

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
        label_keys: Iterable[str] | Mapping[str, str] = DEFAULT_LABEL_KEYS,
        max_label_sets: int = 100,
        kinds: Mapping[str, str] | None = None,
        buckets: Mapping[str, Sequence[float]] | None = None,
        default_time_buckets: Sequence[float] = TIME_BUCKETS,
        default_token_buckets: Sequence[float] = TOKEN_BUCKETS,
    ) -> None:
        self._core = import_extra("prometheus_client.core", "prometheus-client", "prometheus")
        self.namespace = sanitize_metric_name(namespace) + "_" if namespace else ""
        self.label_keys, self.label_names = label_names_for(label_keys)
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
        # le as prometheus_client's own Histogram writes it (Go's float format): one spelling in every format.
        self._le_text = import_extra("prometheus_client.utils", "prometheus-client", "prometheus").floatToGoString
        self._families: dict[str, _Family] = {}  # by exposed name (counters without _total)
        self._routes: dict[str, _Route | None] = {}  # by genmon metric name; None: not exposed
        # Every name the LLM families and the overflow counter may write is taken from the start,
        # so a user metric that sanitises alike is renamed instead of clashing at scrape time.
        self._taken: set[str] = set()
        for spec in (*LLM_FAMILIES, OVERFLOW_FAMILY):
            self._taken.update(sample_names(self.namespace + spec.name, spec.kind))
        self._lock = threading.Lock()
        self.points = 0
        self.skipped = 0
        self.overflowed = 0

    # -- the handler side (its lane thread) ---------------------------------------------------
    def handle_batch(self, points: list[tuple[str, float, float, dict[str, Any] | None]]) -> None:
        """Fold a batch of points into the running figures."""
        with self._lock:
            routes = self._routes
            max_label_sets = self.max_label_sets
            for name, value, _ts, meta in points:
                route = routes.get(name)
                if route is None:
                    if name in routes or name.startswith(REDUNDANT_PREFIXES):
                        self.skipped += 1
                        continue
                    route = routes[name] = self._new_route(name)
                    if route is None:
                        self.skipped += 1
                        continue
                family = route.family
                labels = family.empty if not meta else tuple(_label_value(meta.get(k)) for k in family.meta_keys)
                fixed = route.fixed
                if fixed is None:  # a call: success_rate is 1 on success, 0 on failure
                    fixed = _SUCCESS if value >= 0.5 else _ERROR
                if family.observe(labels, fixed, value, max_label_sets):
                    self.overflowed += 1
            self.points += len(points)

    def handle_metric(self, metric_name: str, value: float, metadata: dict[str, Any] | None = None) -> None:
        """One point (afterimage's protocol)."""
        self.handle_batch([(metric_name, value, 0.0, metadata)])

    def _new_route(self, name: str) -> _Route | None:
        kind = self._kinds.get(name)
        if kind is None:
            if name in REDUNDANT:
                return None
            llm = LLM_POINTS.get(name)
            if llm is not None:
                spec, fixed = llm
                prom_name = self.namespace + spec.name
                family = self._families.get(prom_name) or self._new_family(spec, prom_name, name)
                return _Route(family, fixed)
            kind = default_kind(name)
        spec = generic_family(name, kind)
        return _Route(self._new_family(spec, self._unique_name(spec), name), "")

    def _unique_name(self, spec: FamilySpec) -> str:
        base = self.namespace + spec.name
        prom_name, n = base, 1
        while self._taken.intersection(sample_names(prom_name, spec.kind)):  # two genmon names alike once sanitised
            n += 1
            prom_name = f"{base}_{n}"
        self._taken.update(sample_names(prom_name, spec.kind))
        return prom_name

    def _new_family(self, spec: FamilySpec, prom_name: str, genmon_name: str) -> _Family:
        meta_keys, label_names = self.label_keys, self.label_names
        if spec is LLM_CALLS:  # a call's finish reason and error type, unless label_keys has them already
            extra = [(k, n) for k in CALL_LABEL_KEYS if (n := sanitize_label_name(k)) not in label_names]
            meta_keys = meta_keys + tuple(k for k, _ in extra)
            label_names = label_names + tuple(n for _, n in extra)
        if spec.fixed_label:
            label_names = (*label_names, spec.fixed_label)
        bounds = self._buckets.get(genmon_name)
        if bounds is None:
            tokens = is_tokens(genmon_name) and not is_seconds(genmon_name)
            bounds = self._token_buckets if tokens else self._time_buckets
        family = _Family(spec, prom_name, meta_keys, label_names, bounds, self._le_text)
        self._families[prom_name] = family
        return family

    # -- the Collector side (scrape threads) --------------------------------------------------
    def collect(self) -> Iterator[Any]:
        """The metric families, built from the running figures at scrape time."""
        core = self._core
        with self._lock:
            snapshot = [(f, [(k, c.copy()) for k, c in f.children.items()]) for f in self._families.values()]
            overflowed = self.overflowed
        for family, children in snapshot:
            yield _exposed(core, family, children)
        yield core.CounterMetricFamily(self.namespace + OVERFLOW_FAMILY.name, OVERFLOW_FAMILY.help, value=overflowed)

    def describe(self) -> list[Any]:
        # No up-front description: the families appear as metrics are recorded.
        return []

    def register(self, registry: Any) -> PrometheusCollector:
        """Register into a prometheus_client ``CollectorRegistry`` and return self."""
        registry.register(self)
        return self

    def stats(self) -> dict[str, Any]:
        """Points folded in, points not exposed (redundant), families, label sets per exposed name, overflowed points."""
        with self._lock:
            return {
                "points": self.points,
                "skipped": self.skipped,
                "metrics": len(self._families),
                "label_sets": {_exposed_name(f): len(f.children) for f in self._families.values()},
                "overflowed": self.overflowed,
            }


def _exposed_name(family: _Family) -> str:
    return family.prom_name + "_total" if family.kind == "counter" else family.prom_name


def _exposed(core: Any, family: _Family, children: list[tuple[tuple[str, ...], _Child]]) -> Any:
    names = list(family.label_names)
    kind, name, doc, unit = family.kind, family.prom_name, family.spec.help, family.unit
    if kind == "counter":
        out = core.CounterMetricFamily(name, doc, labels=names, unit=unit)
        counts = family.spec.counts_points
        for key, child in children:
            out.add_metric(list(key), float(child.count) if counts else child.total)
    elif kind == "summary":
        out = core.SummaryMetricFamily(name, doc, labels=names, unit=unit)
        for key, child in children:
            out.add_metric(list(key), child.count, child.total)
    elif kind == "histogram":
        out = core.HistogramMetricFamily(name, doc, labels=names, unit=unit)
        for key, child in children:
            buckets = _cumulative(family.le_texts, child.bucket_counts)
            out.add_metric(list(key), buckets, child.total)
    else:
        out = core.GaugeMetricFamily(name, doc, labels=names, unit=unit)
        for key, child in children:
            out.add_metric(list(key), child.last)
    return out


def _label_value(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return text[:200]  # a huge value must not bloat every scrape


def _cumulative(le_texts: tuple[str, ...], counts: list[int]) -> list[tuple[str, float]]:
    out, running = [], 0
    for le, count in zip(le_texts, counts, strict=True):
        running += count
        out.append((le, float(running)))
    return out
