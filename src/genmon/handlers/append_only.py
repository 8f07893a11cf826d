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


def json_texts(values: list[Any], option: int | None = None) -> list[bytes]:
    """orjson's text for each value, as it writes it inside a record (``option``: ``json_options()``).

    One dump of the list, split at its commas, when no value's text holds a
    comma; else a dump per value.
    """
    import orjson

    options = json_options() if option is None else option
    texts = orjson.dumps(values, option=options, default=str)[1:-1].split(b",")
    if len(texts) == len(values):
        return texts
    return [orjson.dumps(value, option=options, default=str) for value in values]


class AppendOnlyFile:
    """An append-only file written with unbuffered write(2) calls.

    Nothing is ever buffered in the process, so each write's lines reach
    the kernel whole, and a forked child that inherits this object can never
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


# A write's size. The lines of a batch of 4,096 tracked calls come to 5 MB: encoded
# whole, each batch is two fresh mappings of that size (the text, then its bytes),
# and the page faults of filling them cost the worker ~3 us a call, more than the
# write. Runs of ~512 KB reuse memory the allocator already holds (0.07 faults a
# call; 1 MB runs had 0.66), and a batch of plain points is still one write.
WRITE_BYTES = 512 * 1024


class JsonLinesSink:
    """What the run directory's JSON-lines sinks share: a file opened on first write, one per shard.

    Subclasses set ``default_name`` and call ``_write_batch(records, encode, label)``
    once per batch. The batch is encoded and written in runs of records of
    about ``WRITE_BYTES`` each, one write(2) a run: a whole batch as one
    buffer (megabytes for a batch of tracked calls) would be a fresh mapping
    of memory every time, and the page faults of filling it cost more than
    the write (see ``WRITE_BYTES``). One bad record never takes its run
    with it: when a run fails to encode, it is encoded again record by
    record, the good records are written in order and the bad ones dropped;
    a write the disk refuses drops that run. Either way the sink raises
    ``RecordsDropped`` after writing what it could, so the monitor counts
    every record (``stats()["sinks"]``) and logs each metric name the first
    time one of its records could not be encoded.
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
        self._run = 256  # records a write takes, fitted to WRITE_BYTES as the lines' size is seen

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
        """Encode and append ``records`` a run at a time; drop and report what cannot be (see the class docstring).

        ``weight`` counts the records a list holds (a point group holds several).
        """
        counts: dict[str, int] = {}
        problems: list[str] = []
        report = False
        start, total = 0, len(records)
        while start < total:
            run = records if start == 0 and self._run >= total else records[start : start + self._run]
            start += len(run)
            written, new_names = self._write_run(run, encode, label, weight, counts, problems)
            report = report or new_names
            if written:  # the next run takes about WRITE_BYTES of lines like these
                self._run = min(max(len(run) * WRITE_BYTES // written, 16), 1 << 16)
        if counts:
            raise RecordsDropped(f"{self.path.name}: " + "; ".join(problems), counts, report=report)

    def _write_run(
        self,
        records: list[Any],
        encode: Callable[[list[Any]], bytes],
        label: Callable[[Any], str],
        weight: Callable[[list[Any]], int],
        counts: dict[str, int],
        problems: list[str],
    ) -> tuple[int, bool]:
        """Encode and append one run with one write, adding what was dropped to ``counts``.

        Returns the bytes encoded, and whether a name not reported before could not be encoded.
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
        report = False
        if bad:
            dropped = weight([record for record, _ in bad])
            counts["unserialisable"] = counts.get("unserialisable", 0) + dropped
            names = sorted({safe_text(label(record)) for record, _ in bad})
            new = [name for name in names if name not in self._reported]
            if new and len(self._reported) < 1000:  # each name logged once, within a bound
                self._reported.update(new)
                report = True
            problems.append(f"{dropped} records could not be encoded ({bad[0][1]}), names: {', '.join(names[:10])}")
        if data:
            try:
                self._write(data)
            except OSError as error:
                failed = weight(records) - (weight([record for record, _ in bad]) if bad else 0)
                counts["write_failed"] = counts.get("write_failed", 0) + failed
                problems.append(f"{failed} records not written: {error.strerror or error}")
        return len(data), report

    def flush(self, timeout_s: float = 5.0) -> None:
        """Nothing is buffered in the process: every run of lines is one write(2)."""

    def close(self, timeout_s: float = 5.0) -> None:
        if self._file is not None:
            self._file.close()
