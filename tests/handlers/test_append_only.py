"""The run directory's files: appended whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from genmon.handlers.append_only import AppendOnlyFile


def test_a_failed_write_leaves_no_partial_line(tmp_path: Path, monkeypatch) -> None:
    """If the disk fills mid-batch, the bytes already written are cut back off and the error is raised."""
    path = tmp_path / "metrics.jsonl"
    f = AppendOnlyFile(path)
    f.write(b'{"a":1}\n')
    calls = {"n": 0}
    real_write = f._raw.write

    def write_then_fail(view):  # the kernel takes part of the batch, then the disk is full
        calls["n"] += 1
        if calls["n"] == 1:
            return real_write(view[:5])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(f, "_raw", _Wrapped(f._raw, write_then_fail))
    with pytest.raises(OSError):
        f.write(b'{"b":2}\n{"c":3}\n')
    f.close()
    assert path.read_bytes() == b'{"a":1}\n'
    assert os.path.getsize(path) == 8


class _Wrapped:
    def __init__(self, raw, write):
        self._raw, self.write = raw, write

    def __getattr__(self, name):
        return getattr(self._raw, name)


# -- runs: a batch is written about WRITE_BYTES at a time ------------------------------------------
from genmon.errors import RecordsDropped
from genmon.handlers.append_only import WRITE_BYTES, JsonLinesSink


def _encode(records: list[bytes]) -> bytes:
    if any(b"bad" in r for r in records):
        raise ValueError("cannot encode")
    return b"".join(r + b"\n" for r in records)


def _sink_recording_writes(
    tmp_path: Path, monkeypatch, fail_when: bytes | None = None
) -> tuple[JsonLinesSink, list[bytes]]:
    writes: list[bytes] = []
    real_write = AppendOnlyFile.write

    def write(self: AppendOnlyFile, data: bytes) -> None:
        writes.append(data)
        if fail_when is not None and fail_when in data:
            raise OSError(28, "No space left on device")
        real_write(self, data)

    monkeypatch.setattr(AppendOnlyFile, "write", write)
    return JsonLinesSink(tmp_path), writes


def test_a_large_batch_is_written_in_runs_of_about_write_bytes_each_in_order(tmp_path: Path, monkeypatch) -> None:
    """Lines of ~1 KB, 3 MB in all: several writes, none much past WRITE_BYTES after the first, every line once in order."""
    sink, writes = _sink_recording_writes(tmp_path, monkeypatch)
    records = [b"%06d" % i + b"x" * 1000 for i in range(3000)]
    sink._write_batch(records, _encode, str)
    sink.close()
    assert (tmp_path / "records.jsonl").read_bytes() == _encode(records)
    assert len(writes) >= 3_000_000 // (2 * WRITE_BYTES)
    assert all(len(w) <= 2 * WRITE_BYTES for w in writes[1:])  # fitted to the lines' size after the first run
    assert all(w.endswith(b"\n") for w in writes)  # each run is whole lines


def test_a_small_batch_is_one_write(tmp_path: Path, monkeypatch) -> None:
    sink, writes = _sink_recording_writes(tmp_path, monkeypatch)
    sink._write_batch([b"a", b"b", b"c"], _encode, str)
    sink.close()
    assert writes == [b"a\nb\nc\n"]


def test_a_refused_run_counts_only_its_own_records_and_the_other_runs_are_written(tmp_path: Path, monkeypatch) -> None:
    """The disk refuses the run holding record 1500: exactly that run's records are write_failed, the rest land."""
    sink, writes = _sink_recording_writes(tmp_path, monkeypatch, fail_when=b"001500x")
    records = [b"%06d" % i + b"x" * 1000 for i in range(3000)]
    with pytest.raises(RecordsDropped) as caught:
        sink._write_batch(records, _encode, str)
    sink.close()
    written = (tmp_path / "records.jsonl").read_bytes().splitlines()
    refused = next(w for w in writes if b"001500x" in w).count(b"\n")
    assert caught.value.counts == {"write_failed": refused} and 0 < refused < 3000
    assert len(written) == 3000 - refused and b"%06d" % 1500 + b"x" * 1000 not in written


def test_a_bad_record_costs_only_itself_across_runs(tmp_path: Path, monkeypatch) -> None:
    sink, _ = _sink_recording_writes(tmp_path, monkeypatch)
    records = [b"%06d" % i + b"x" * 1000 for i in range(3000)]
    records[10] = records[2500] = b"bad"
    with pytest.raises(RecordsDropped) as caught:
        sink._write_batch(records, _encode, str)
    sink.close()
    assert caught.value.counts == {"unserialisable": 2}
    assert (tmp_path / "records.jsonl").read_bytes() == _encode([r for r in records if r != b"bad"])
