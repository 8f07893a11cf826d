"""Exporters: write store snapshots as JSON, CSV, Excel or Parquet; pandas views of them."""

from genmon.exporters.base import Exporter, ExportError, formats, get_exporter, register_exporter, window_snapshot

__all__ = ["ExportError", "Exporter", "formats", "get_exporter", "register_exporter", "window_snapshot"]
