"""Atomic multi-file writes: stage every file as a temporary in its directory, then rename.

A reader never sees half a file, and an export that fails part way leaves
none of its files behind: nothing is renamed until every file is complete.

Example:
    >>> import pathlib, tempfile
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> with StagedFiles() as staged:
    ...     _ = staged.path_for(out).write_text("done")
    >>> out.read_text()
    'done'
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from types import TracebackType
from typing import Self

from genmon.exporters.base import ExportError


class StagedFiles:
    """A context manager: ``path_for(final)`` gives a temporary path; on success all are renamed."""

    def __init__(self) -> None:
        self._staged: list[tuple[Path, Path]] = []

    def path_for(self, final: Path) -> Path:
        """A new empty temporary file beside ``final`` to write ``final``'s content to."""
        final = Path(final)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ExportError(f"cannot write {final}: {exc.strerror or exc}", final) from exc
        for _ in range(100):
            temporary = final.with_name(f".{final.name[:60]}.{secrets.token_hex(6)}.tmp")
            try:
                # Not mkstemp: its 0600 mode would stick to the export; 0666 lets the umask decide.
                fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:  # a random name already taken: draw another
                continue
            except OSError as exc:
                raise ExportError(f"cannot write {final}: {exc.strerror or exc}", final) from exc
            os.close(fd)
            break
        else:
            raise ExportError(f"cannot write {final}: no free temporary name", final)
        self._staged.append((temporary, final))
        return temporary

    def commit(self) -> list[Path]:
        """Rename every staged file onto its final path; on failure undo and raise."""
        done: list[Path] = []
        for temporary, final in self._staged:
            try:
                # rename(2) is atomic within a directory; os.replace also overwrites on Windows.
                os.replace(temporary, final)
            except OSError as exc:
                for path in done:
                    path.unlink(missing_ok=True)
                self.discard()
                raise ExportError(f"cannot write {final}: {exc.strerror or exc}", final) from exc
            done.append(final)
        self._staged.clear()
        return done

    def discard(self) -> None:
        """Remove every staged temporary file that still exists."""
        for temporary, _ in self._staged:
            temporary.unlink(missing_ok=True)
        self._staged.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


def wrap_os_error(exc: OSError, final: Path) -> ExportError:
    """An ExportError naming the file the caller asked for, from an error on its temporary."""
    if isinstance(exc, ExportError):
        return exc
    return ExportError(f"cannot write {final}: {exc.strerror or exc}", final)
