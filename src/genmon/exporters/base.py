"""The exporter contract, the registry of formats, and reading a window from the store.

An exporter turns a snapshot (``list[SeriesData]``, copies taken from the
store, so no lock is held while it works) into files. Formats are registered
by name with a factory given as ``"module:Class"`` so that pyarrow, openpyxl
and friends are imported only when that format is used.

Example:
    >>> from genmon.exporters.base import get_exporter
    >>> get_exporter("xlsx").format_name
    'excel'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from genmon.monitor.store.series_data import SeriesData
from genmon.monitor.store.view import window_snapshot

__all__ = ["ExportError", "Exporter", "formats", "get_exporter", "register_exporter", "window_snapshot"]


class ExportError(OSError):
    """A file could not be written; ``path`` is the file the caller asked for."""

    def __init__(self, message: str, path: Path | str) -> None:
        super().__init__(message)
        self.path = Path(path)


@runtime_checkable
class Exporter(Protocol):
    """Writes a snapshot of the store to ``output_path`` in one format."""

    format_name: str

    def export(self, series: Sequence[SeriesData], output_path: Path) -> list[Path]:
        """Write the files atomically and return their paths (the main file first)."""
        ...


_REGISTRY: dict[str, str | Callable[[], Exporter]] = {
    "json": "genmon.exporters.json_file:JsonExporter",
    "csv": "genmon.exporters.csv_file:CsvExporter",
    "excel": "genmon.exporters.excel_file:ExcelExporter",
    "parquet": "genmon.exporters.parquet_file:ParquetExporter",
}
_ALIASES = {"xlsx": "excel"}


def export_with_spans(
    exporter: Exporter, series: Sequence[SeriesData], output_path: Path, spans: Callable[[], Iterable[Any]] | None
) -> list[Path]:
    """``exporter.export``; an exporter that writes spans beside the points (``writes_spans``) gets ``spans()`` too."""
    if spans is not None and getattr(exporter, "writes_spans", False):
        return exporter.export(series, output_path, spans=spans())  # type: ignore[call-arg]
    return exporter.export(series, output_path)


def formats() -> list[str]:
    """The registered format names and aliases, sorted."""
    return sorted([*_REGISTRY, *_ALIASES])


def register_exporter(name: str, factory: str | Callable[[], Exporter]) -> None:
    """Add (or replace) a format: ``factory`` is a callable or a ``"module:Class"`` path."""
    _REGISTRY[name.lower()] = factory


def get_exporter(format_name: str) -> Exporter:
    """A new exporter for a format name (case-insensitive); ValueError lists the formats."""
    key = format_name.lower() if isinstance(format_name, str) else format_name
    key = _ALIASES.get(key, key)
    factory = _REGISTRY.get(key)
    if factory is None:
        raise ValueError(f"Unsupported format: {format_name!r}; choose one of {', '.join(formats())}")
    if isinstance(factory, str):
        module_name, _, attribute = factory.partition(":")
        factory = getattr(importlib.import_module(module_name), attribute)
    return factory()  # type: ignore[operator]
