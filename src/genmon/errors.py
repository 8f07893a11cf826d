"""Exceptions raised by genmon."""

from __future__ import annotations


class MonitorClosedError(RuntimeError):
    """Raised by a record call made after the monitor was closed."""


class AlreadyEnabledError(RuntimeError):
    """Raised by ``genmon.enable(...)`` when a default monitor with other settings is already enabled."""


class MissingExtraError(ImportError):
    """Raised when an optional dependency is missing; names the extra to install."""

    def __init__(self, package: str, extra: str, message: str | None = None) -> None:
        super().__init__(message or f"{package} is not installed: pip install 'genmon[{extra}]'")
        self.package = package
        self.extra = extra


class RecordsDropped(Exception):
    """Raised by a sink that dropped part of a batch it was given; the monitor counts and logs it.

    A sink that writes what it can and drops the rest (a record it cannot
    encode, a batch the disk refused) raises this instead of failing the
    whole batch: the records in ``counts`` are counted under their reason
    in ``monitor.stats()["sinks"]``, the rest of the batch as delivered.

    Args:
        message: what to log (without secrets).
        counts: records dropped by reason, e.g. ``{"unserialisable": 1}``.
        report: log this one even inside the usual 10 s rate limit (say, a new metric name).

    Example:
        >>> raise RecordsDropped("1 record of 'x' could not be encoded", {"unserialisable": 1})  # doctest: +SKIP
    """

    def __init__(self, message: str, counts: dict[str, int], report: bool = False) -> None:
        super().__init__(message)
        self.counts = {reason: n for reason, n in counts.items() if n}
        self.report = report

    @property
    def count(self) -> int:
        return sum(self.counts.values())
