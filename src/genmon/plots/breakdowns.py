"""Per-model breakdowns drawn with seaborn: latency ECDF, error-rate heatmap, tokens and cost bars.

seaborn's axes-level functions draw on the Axes they are given (``ax=``)
and read no pyplot state; no theme or style is set, so matplotlib's global
settings stay untouched. Latency and error rates are over model calls
(``genmon.records.model_calls``); tokens and cost are every call's that
names a model. A run with many models shows the busiest ones and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from genmon.exporters.calls import NO_OPERATION
from genmon.monitor.store.series_data import SeriesData
from genmon.plots.base import PALETTE, Chart, style_axes
from genmon.plots.units import format_number, format_usd, plural, time_scale
from genmon.records.model_calls import model_call_mask

if TYPE_CHECKING:
    from matplotlib.axes import Axes

THOUSANDS = "{x:,.0f}"  # a tick format string: 25,000 rather than 25000
# The colour scale tops out at the built-in high_error_rate threshold (0.2) or the worst cell, whichever
# is higher: a 5% cell is not drawn as alarming as it gets.
ALARMING_PERCENT = 20.0
MAX_MODELS = 8  # one palette colour each; the busiest are drawn


def _named(series: SeriesData | None, only_model_calls: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values, model names, operations) of the points that name a model (model calls only when asked)."""
    if series is None:
        empty = np.array([], dtype=object)
        return np.array([], dtype=np.float64), empty, empty
    models = series.metadata_column("model_name")
    keep = np.array([m is not None for m in models], dtype=bool)
    if only_model_calls:
        keep &= model_call_mask(series)
    operations = series.metadata_column("operation")[keep]
    labels = np.array([NO_OPERATION if o is None else str(o) for o in operations], dtype=object)
    return series.values[keep], np.array([str(m) for m in models[keep]], dtype=object), labels


def _names_a_model(series: SeriesData | None, only_model_calls: bool) -> bool:
    """Whether ``_named`` would keep any point, decided per metadata code (no per-point Python)."""
    if series is None or not len(series):
        return False
    per_code = np.array([e is not None and e.get("model_name") is not None for e in series.metadata_table])
    keep = per_code[series.codes]
    if only_model_calls:
        keep &= model_call_mask(series)
    return bool(keep.any())


def _busiest(models: np.ndarray, limit: int = MAX_MODELS) -> list[str]:
    """The ``limit`` models with the most points, in name order."""
    names, counts = np.unique(models.astype(str), return_counts=True)
    top = names[np.argsort(-counts, kind="stable")[:limit]]
    return sorted(top.tolist())


def _shown(order: list[str], models: np.ndarray) -> str:
    total = len(np.unique(models.astype(str)))
    return "" if len(order) == total else f", the {len(order)} busiest of {total} models"


class LatencyByModelChart:
    """latency_by_model.png: the distribution of model-call latency per model, as ECDF curves."""

    name = "latency_by_model"

    def available(self, data: Mapping[str, SeriesData]) -> bool:
        return _names_a_model(data.get("generation_time"), True)

    def draw(self, ax: Axes, data: Mapping[str, SeriesData]) -> None:
        import seaborn as sns

        values, models, _ = _named(data["generation_time"], True)
        every = models
        order = _busiest(models)
        keep = np.isin(models, order)
        values, models = values[keep], models[keep]
        p99 = float(np.percentile(values, 99))
        scale, unit = time_scale(p99)
        low = float(np.percentile(values, 1))
        # Spread over orders of magnitude, outliers included (the axis runs to the slowest call): a log axis.
        log = low > 0 and float(values.max()) / low > 50
        sns.ecdfplot(
            data={"latency": values * scale, "model": models},
            x="latency",
            hue="model",
            hue_order=order,
            palette=list(PALETTE[: len(order)]),
            log_scale=log,
            linewidth=2,
            ax=ax,
        )
        for share, label in ((0.5, "p50"), (0.95, "p95")):
            ax.axhline(share, color="#999999", linewidth=1, linestyle=":")
            ax.annotate(label, (1.0, share), xycoords=("axes fraction", "data"), fontsize=8, color="#666666",
                        ha="right", va="bottom")  # fmt: skip
        ax.set_ylim(0, 1.02)
        title = f"Model call latency by model ({plural(len(values), 'call')}{_shown(order, every)})"
        style_axes(ax, title, f"Latency ({unit}{', log scale' if log else ''})", "Share of calls at or below")


class ErrorRateByModelChart:
    """error_rate_by_model.png: the error rate of model calls per model and operation, as a heatmap."""

    name = "error_rate_by_model"

    def available(self, data: Mapping[str, SeriesData]) -> bool:
        return _names_a_model(data.get("error_rate"), True)

    def draw(self, ax: Axes, data: Mapping[str, SeriesData]) -> None:
        import seaborn as sns

        values, models, operations = _named(data["error_rate"], True)
        rows = _busiest(models, 15)
        columns = sorted(set(operations.tolist()))[:12]
        rates = np.full((len(rows), len(columns)), np.nan)
        notes = np.full((len(rows), len(columns)), "", dtype=object)
        for i, model in enumerate(rows):
            for j, operation in enumerate(columns):
                cell = values[(models == model) & (operations == operation)]
                if len(cell):
                    rates[i, j] = 100.0 * float(cell.mean())
                    notes[i, j] = f"{rates[i, j]:.1f}%\n{plural(len(cell), 'call')}"
        top = float(np.nanmax(rates)) if np.isfinite(rates).any() else 0.0
        sns.heatmap(
            rates,
            ax=ax,
            cmap="Reds",
            vmin=0.0,
            vmax=max(top, ALARMING_PERCENT),
            annot=notes,
            fmt="",
            annot_kws={"fontsize": 9},
            linewidths=1,
            linecolor="white",
            xticklabels=columns,
            yticklabels=rows,
            cbar_kws={"label": "Error rate (%)"},
        )
        ax.tick_params(axis="y", labelrotation=0)
        style_axes(ax, "Error rate of model calls by model and operation", "Operation", "Model")
        ax.grid(False)


class TokensByModelChart:
    """tokens_by_model.png: prompt and completion tokens per model, as bars."""

    name = "tokens_by_model"

    def available(self, data: Mapping[str, SeriesData]) -> bool:
        return any(_names_a_model(data.get(m), False) for m in ("prompt_token_count", "completion_token_count"))

    def draw(self, ax: Axes, data: Mapping[str, SeriesData]) -> None:
        import seaborn as sns

        parts = {part: _named(data.get(f"{part}_token_count"), False) for part in ("prompt", "completion")}
        every = np.concatenate([models for _, models, _ in parts.values()])
        order = _busiest(every, 15)
        frame: dict[str, list[Any]] = {"model": [], "tokens": [], "part": []}
        for part, (values, models, _) in parts.items():
            for model in order:
                frame["model"].append(model)
                frame["tokens"].append(float(values[models == model].sum()))
                frame["part"].append(part)
        sns.barplot(data=frame, x="tokens", y="model", hue="part", order=order, hue_order=["prompt", "completion"],
                    palette=[PALETTE[0], PALETTE[1]], errorbar=None, orient="h", saturation=1.0, ax=ax)  # fmt: skip
        for container in ax.containers:
            widths = [bar.get_width() for bar in container]  # type: ignore[attr-defined]
            ax.bar_label(container, labels=[format_number(w) for w in widths], fontsize=8, padding=2)  # type: ignore[arg-type]
        ax.xaxis.set_major_formatter(THOUSANDS)
        ax.margins(x=0.12)  # room for the labels at the bars' ends
        total = sum(frame["tokens"])
        style_axes(ax, f"Tokens by model ({plural(total, 'token')} in all{_shown(order, every)})", "Tokens", "Model")
        ax.legend(title=None, fontsize=9, loc="lower right", framealpha=0.9)


class CostByModelChart:
    """cost_by_model.png: the cost of every call per model (from the price table or ``span.set_cost``), as bars."""

    name = "cost_by_model"

    def available(self, data: Mapping[str, SeriesData]) -> bool:
        return _names_a_model(data.get("cost_usd"), False)

    def draw(self, ax: Axes, data: Mapping[str, SeriesData]) -> None:
        import seaborn as sns

        values, models, _ = _named(data["cost_usd"], False)
        order = _busiest(models, 15)
        costs = [float(values[models == model].sum()) for model in order]
        sns.barplot(data={"model": order, "cost": costs}, x="cost", y="model", order=order, color=PALETTE[2],
                    errorbar=None, orient="h", saturation=1.0, ax=ax)  # fmt: skip
        for container in ax.containers:
            ax.bar_label(container, labels=[format_usd(c) for c in costs], fontsize=8, padding=2)  # type: ignore[arg-type]
        ax.margins(x=0.15)  # room for the labels at the bars' ends
        title = f"Cost by model ({format_usd(float(values.sum()))} in all{_shown(order, models)})"
        style_axes(ax, title, "Cost (USD)", "Model")


def breakdown_charts() -> list[Chart]:
    """The per-model charts, drawn after the standard ones."""
    return [LatencyByModelChart(), ErrorRateByModelChart(), TokensByModelChart(), CostByModelChart()]
