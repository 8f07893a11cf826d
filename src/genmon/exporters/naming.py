"""Safe, unique file and sheet names for arbitrary metric names.

Metric names may hold ``:`` (``model_usage:gpt-4o``), ``/``, ``\\``, ``*``,
``?``, ``[``, ``]``, spaces or any Unicode, and may be long. Files and Excel
sheets need names without those characters; two metrics must never share one,
even on case-insensitive file systems and in Excel, which ignores case.
"""

from __future__ import annotations

import hashlib
import re

SHEET_NAME_LIMIT = 31  # Excel's limit
FILE_PART_LIMIT = 100
_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._-]")
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


def file_part(metric_name: str) -> str:
    """A file-name fragment for a metric: unsafe characters become ``_``; long names get a hash."""
    cleaned = _UNSAFE_FILE_CHARS.sub("_", metric_name).strip(".") or "metric"
    if len(cleaned) > FILE_PART_LIMIT:
        digest = hashlib.sha1(metric_name.encode()).hexdigest()[:8]
        cleaned = f"{cleaned[: FILE_PART_LIMIT - 9]}-{digest}"
    return cleaned


def sheet_base(metric_name: str) -> str:
    """A sheet-name base: no ``: / \\ ? * [ ]``, no leading or trailing apostrophe, not empty."""
    cleaned = _UNSAFE_SHEET_CHARS.sub("_", metric_name).strip("'").strip()
    return cleaned or "metric"
