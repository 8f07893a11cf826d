"""Safe, unique file and sheet names for arbitrary metric names.

Metric names may hold ``:`` (``model_usage:gpt-4o``), ``/``, ``\\``, ``*``,
``?``, ``[``, ``]``, spaces or any Unicode, and may be long. Files and Excel
sheets need names without those characters; two metrics must never share one,
even on case-insensitive file systems and in Excel, which ignores case.
"""

from __future__ import annotations

import hashlib
import os
import re

SHEET_NAME_LIMIT = 31  # Excel's limit
FILE_PART_LIMIT = 100
_POSIX_FILE_CHARS = re.compile("[/\x00]")
_WINDOWS_FILE_CHARS = re.compile('[<>:"/\\\\|?*\x00-\x1f]')
# Excel's forbidden sheet-name characters, and what XML 1.0 cannot carry at all (the name
# is an attribute of workbook.xml: one U+FFFE there and no reader opens the file).
_UNSAFE_SHEET_CHARS = re.compile("[:/\\\\?*\\[\\]\x00-\x1f\ufffe\uffff\ud800-\udfff]")


class NameAllocator:
    """Hands out names unique ignoring case, suffixing ``~2``, ``~3``... on a clash.

    Args:
        limit: maximum length of a name, suffix included.
        reserved: names already taken (compared ignoring case).
    """

    def __init__(self, limit: int, reserved: tuple[str, ...] = ()) -> None:
        self.limit = limit
        self._taken = {name.casefold() for name in reserved}

    def allocate(self, base: str) -> str:
        """``base`` cut to the limit, or with the lowest free ``~N`` suffix."""
        # Excel refuses a sheet name ending in an apostrophe; a cut could expose one.
        candidate = base[: self.limit].rstrip("'")
        n = 1
        while candidate.casefold() in self._taken:
            n += 1
            suffix = f"~{n}"
            candidate = base[: self.limit - len(suffix)].rstrip("'") + suffix
        self._taken.add(candidate.casefold())
        return candidate


def file_part(metric_name: str, windows: bool | None = None) -> str:
    """A file-name fragment for a metric: afterimage's (the name itself) wherever the file system allows.

    Only what cannot be in a file name changes to ``_``: ``/`` and NUL, and
    on Windows also ``< > : " \\ | ? *`` and control characters. A name
    longer than ``FILE_PART_LIMIT`` UTF-8 bytes is cut and given a hash, so
    the whole file name stays within the usual 255-byte limit.
    """
    on_windows = os.name == "nt" if windows is None else windows
    pattern = _WINDOWS_FILE_CHARS if on_windows else _POSIX_FILE_CHARS
    cleaned = pattern.sub("_", metric_name)
    if on_windows:
        cleaned = cleaned.rstrip(". ")  # Windows drops a trailing dot or space
    cleaned = cleaned or "metric"
    encoded = cleaned.encode("utf-8", "backslashreplace")
    if len(encoded) > FILE_PART_LIMIT:
        digest = hashlib.sha1(metric_name.encode("utf-8", "backslashreplace")).hexdigest()[:8]
        head = encoded[: FILE_PART_LIMIT - 9].decode("utf-8", "ignore")  # never half a character
        cleaned = f"{head}-{digest}"
    return cleaned


def sheet_base(metric_name: str) -> str:
    """A sheet-name base: no ``: / \\ ? * [ ]``, no leading or trailing apostrophe, not empty."""
    cleaned = _UNSAFE_SHEET_CHARS.sub("_", metric_name).strip("'").strip()
    return cleaned or "metric"
