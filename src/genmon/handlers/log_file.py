"""The log file: one JSON object a line with message, level, timestamp and data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from genmon.handlers.append_only import AppendOnlyFile

LOG_FILE = "genmon.log"
_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


class FileLogHandler:
    """Appends log records to ``log_dir/genmon.log``, one JSON object a line.

    Unlike afterimage's, it creates no ``logging.Logger`` (those are never
    freed); it writes the file directly and closes it with the monitor.
    """

    runs_inline = True

    def __init__(self, log_dir: str | Path, filename: str = LOG_FILE, base_name: str | None = None) -> None:
        self.log_dir = Path(log_dir)
        self.log_file = self.log_dir / filename
        self._base_name = base_name or filename
        self._file: AppendOnlyFile | None = None

    def for_shard(self, shard: str) -> FileLogHandler:
        """A sink for one process of a job spread over several: ``<stem>-<shard><suffix>`` beside this file."""
        base = Path(self._base_name)
        return FileLogHandler(self.log_dir, filename=f"{base.stem}-{shard}{base.suffix}", base_name=self._base_name)

    def _open(self) -> AppendOnlyFile:
        if self._file is None or self._file.closed:
            self._file = AppendOnlyFile(self.log_file)
        return self._file

    def handle_batch(self, records: list[dict[str, Any]]) -> None:
        """Append a batch of records with one write and one flush."""
        self._open().write(b"".join(orjson.dumps(r, option=_JSON_OPTIONS, default=str) + b"\n" for r in records))

    def handle_log(self, message: dict[str, Any]) -> None:
        """Append one record (afterimage's protocol)."""
        self.handle_batch([message])

    def flush(self, timeout_s: float = 5.0) -> None:
        """Nothing is buffered in the process: every batch is one write(2)."""

    def close(self, timeout_s: float = 5.0) -> None:
        if self._file is not None:
            self._file.close()
