"""Plots: the standard charts, an overview dashboard and single-metric plots, drawn off pyplot."""

from genmon.plots.base import Chart
from genmon.plots.charts import draw_standard_charts, plot_metric, save_standard_charts

__all__ = ["Chart", "draw_standard_charts", "plot_metric", "save_standard_charts"]
