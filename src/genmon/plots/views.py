"""What ``GenerationMonitor.visualize_metrics`` and ``plot_metric`` do, over a read-only ``StoreView``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from genmon.exporters.views import reader_snapshot
from genmon.monitor.store.view import StoreView

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def visualize_metrics(
    view: StoreView,
    save_dir: str | Path | None = None,
    figsize: tuple[float, float] = (12, 6),
    return_figures: bool = False,
) -> list[Path] | dict[str, Figure]:
    """Save the standard charts and overview.png (default ``log_dir/plots``).

    Returns the paths written, or, with ``return_figures``, the figures by
    name (saved too, as afterimage did). Charts whose metrics are absent are
    skipped; figures not returned are dropped, never left open in pyplot.
    """
    from genmon.plots.charts import save_standard_charts

    target = view.log_dir / "plots" if save_dir is None else Path(save_dir)
    paths, figures = save_standard_charts(reader_snapshot(view, None), target, figsize)
    return figures if return_figures else paths


def plot_metric(
    view: StoreView,
    metric_name: str,
    window: timedelta | float = timedelta(hours=1),
    rolling_window: int = 10,
    figsize: tuple[float, float] = (12, 8),
) -> Figure:
    """One metric over the trailing window; ValueError if it is unknown or has no point in the window."""
    from genmon.plots.charts import plot_metric as draw

    found = reader_snapshot(view, window, [metric_name])
    if not found:
        if not view.has_metric(metric_name):
            raise ValueError(f"Metric {metric_name} not found")
        raise ValueError(f"No data for metric {metric_name} in specified window")
    return draw(found[0], rolling_window, figsize)
