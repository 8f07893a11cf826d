"""The log file: one JSON object a line with message, level, timestamp and data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genmon.handlers.append_only import JsonLinesSink, encode_json_lines

LOG_FILE = "genmon.log"


class FileLogHandler(JsonLinesSink):
    """Appends log records to ``log_dir/genmon.log``, one JSON object a line.

    Unlike afterimage's, it creates no ``logging.Logger`` (those are never
    freed); it writes the file directly and closes it with the monitor.
    """

    default_name = LOG_FILE

    def __init__(self, log_dir: str | Path, filename: str | None = None, base_name: str | None = None) -> None:
        super().__init__(log_dir, filename, base_name)
        self.log_file = self.path

    def handle_batch(self, records: list[dict[str, Any]]) -> None:
        """Append a batch of records with one write; a record that cannot be encoded is dropped and reported."""
        self._write_batch(records, encode_json_lines, lambda r: str(r.get("message", "")))

    def handle_log(self, message: dict[str, Any]) -> None:
        """Append one record (afterimage's protocol)."""
        self.handle_batch([message])
