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
