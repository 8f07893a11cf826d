"""A copy of one metric's points, handed to readers (exporters, plots, reports) outside the store's lock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class SeriesData:
    """A copy of one metric's points, safe to use without the store's lock."""

    name: str
    timestamps: np.ndarray  # float64 epoch seconds, ascending
    values: np.ndarray  # float64
    codes: np.ndarray  # int32 index into metadata_table per point
    metadata_table: tuple[dict[str, Any] | None, ...]
    integral: bool = False  # every point was recorded as an int: written as ints

    def typed_values(self) -> np.ndarray:
        """The values as recorded: int64 for a metric recorded only as ints, else float64."""
        return self.values.astype(np.int64) if self.integral else self.values

    def __len__(self) -> int:
        return len(self.timestamps)

    def metadata(self) -> list[dict[str, Any] | None]:
        """The metadata dict of each point (shared objects: do not mutate)."""
        table = self.metadata_table
        return [table[code] for code in self.codes.tolist()]

    def metadata_keys(self) -> list[str]:
        """Every metadata key used by a point of this series, in first-seen order."""
        used = np.unique(self.codes)
        keys: dict[str, None] = {}
        for code in used.tolist():
            entry = self.metadata_table[code]
            if entry:
                keys.update(dict.fromkeys(entry))
        return list(keys)

    def metadata_column(self, key: str) -> np.ndarray:
        """An object array with each point's value for ``key`` (None where absent)."""
        per_code = np.empty(len(self.metadata_table), dtype=object)
        for code, entry in enumerate(self.metadata_table):
            per_code[code] = entry.get(key) if entry else None
        return per_code[self.codes]
