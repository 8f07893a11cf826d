"""Append-only files written with unbuffered write(2) calls (the run directory's JSON-lines files)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genmon.errors import RecordsDropped
from genmon.records.validation import ENCODING_ERRORS, json_options, safe_text


def encode_json_lines(records: list[Any]) -> bytes:
    """One JSON object a line, with the options the record calls check against (``json_options``)."""
    import orjson  # loaded with the first batch, not at `import genmon`

    options = json_options()
    return b"".join(orjson.dumps(r, option=options, default=str) + b"\n" for r in records)


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
        """Append ``data`` whole, or (on a full disk) nothing: a partial write is cut back off."""
        view = memoryview(data)
        done = 0
        try:
            while view:
                written = self._raw.write(view)
                if not written:
                    raise OSError(f"could not write to {self._raw.name}")
                done += written
                view = view[written:]
        except OSError:
            # Half a line followed by the next batch would be a broken line mid-file: cut
            # off what this call wrote (asked of the file only then, not on every batch).
            if done:
                fd = self._raw.fileno()
                os.ftruncate(fd, max(os.fstat(fd).st_size - done, 0))
            raise

    def close(self) -> None:
        self._raw.close()


class JsonLinesSink:
    """What the run directory's JSON-lines sinks share: a file opened on first write, one per shard.

    Subclasses set ``default_name`` and call ``_write_batch(records, encode, label)``
    once per batch. One bad record never takes its batch with it: when a
    batch fails to encode, it is encoded again record by record, the good
    records are written in order and the bad ones dropped; a write the disk
    refuses drops the batch. Either way the sink raises ``RecordsDropped``
    after writing what it could, so the monitor counts every record
    (``stats()["sinks"]``) and logs each metric name the first time one of
    its records could not be encoded.
    """

    runs_inline = True
    default_name = "records.jsonl"

    def __init__(self, log_dir: str | Path, filename: str | None = None, base_name: str | None = None) -> None:
        self.log_dir = Path(log_dir)
        name = filename or self.default_name
        self.path = self.log_dir / name
        self._base_name = base_name or name
        self._file: AppendOnlyFile | None = None
        self._reported: set[str] = set()  # names whose unserialisable records were logged already

    def for_shard(self, shard: str) -> JsonLinesSink:
        """The sink one process of a job spread over several uses: ``<stem>-<shard><suffix>`` beside this file."""
        base = Path(self._base_name)
        return type(self)(self.log_dir, filename=f"{base.stem}-{shard}{base.suffix}", base_name=self._base_name)

    def _write(self, data: bytes) -> None:
        if self._file is None or self._file.closed:
            self._file = AppendOnlyFile(self.path)
        self._file.write(data)

    def _write_batch(
        self,
        records: list[Any],
        encode: Callable[[list[Any]], bytes],
        label: Callable[[Any], str],
        weight: Callable[[list[Any]], int] = len,
    ) -> None:
        """Encode and append ``records`` with one write; drop and report what cannot be (see the class docstring).

        ``weight`` counts the records a list holds (a point group holds several).
        """
        bad: list[tuple[Any, BaseException]] = []
        try:
            data = encode(records)
        except ENCODING_ERRORS:
            parts = []
            for record in records:
                try:
                    parts.append(encode([record]))
                except ENCODING_ERRORS as error:
                    bad.append((record, error))
            data = b"".join(parts)
        counts: dict[str, int] = {}
        problems: list[str] = []
        report = False
        if bad:
            counts["unserialisable"] = weight([record for record, _ in bad])
            names = sorted({safe_text(label(record)) for record, _ in bad})
            new = [name for name in names if name not in self._reported]
            if new and len(self._reported) < 1000:  # each name logged once, within a bound
                self._reported.update(new)
                report = True
            problems.append(
                f"{counts['unserialisable']} records could not be encoded ({bad[0][1]}), names: {', '.join(names[:10])}"
            )
        if data:
            try:
                self._write(data)
            except OSError as error:
                counts["write_failed"] = weight(records) - counts.get("unserialisable", 0)
                problems.append(f"{counts['write_failed']} records not written: {error.strerror or error}")
        if counts:
            raise RecordsDropped(f"{self.path.name}: " + "; ".join(problems), counts, report=report)

    def flush(self, timeout_s: float = 5.0) -> None:
        """Nothing is buffered in the process: every batch is one write(2)."""

    def close(self, timeout_s: float = 5.0) -> None:
        if self._file is not None:
            self._file.close()
