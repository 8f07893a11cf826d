"""Append-only files written with unbuffered write(2) calls (the run directory's JSON-lines files)."""

from __future__ import annotations

from pathlib import Path


class AppendOnlyFile:
    """An append-only file written with unbuffered write(2) calls.

    Nothing is ever buffered in the process, so each batch reaches the
    kernel whole, and a forked child that inherits this object can never
    flush a copy of the parent's half-written buffer into the parent's file.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._raw = open(path, "ab", buffering=0)  # noqa: SIM115 - held until close()

    @property
    def closed(self) -> bool:
        return self._raw.closed

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = self._raw.write(view)
            if not written:
                raise OSError(f"could not write to {self._raw.name}")
            view = view[written:]

    def close(self) -> None:
        self._raw.close()
