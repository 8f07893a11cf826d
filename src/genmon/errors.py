"""Exceptions raised by genmon."""

from __future__ import annotations


class MonitorClosedError(RuntimeError):
    """Raised by a record call made after the monitor was closed."""


class MissingExtraError(ImportError):
    """Raised when an optional dependency is missing; names the extra to install."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(f"{package} is not installed: pip install 'genmon[{extra}]'")
        self.package = package
        self.extra = extra
