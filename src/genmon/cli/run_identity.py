"""Which run a directory's files belong to, so that only one run's shards are merged.

A run is known by its name, tags and config (``GenerationMonitor(run_name=,
tags=, config=)``). A directory's unsharded files (``metrics.jsonl``,
``genmon.log``, ``spans.jsonl``) belong to the run in its ``run.json``; the
files of shard ``S`` (``metrics-S.jsonl``...) to the run in ``run-S.json``,
which every shard given a name, tags or config writes. Files with neither
belong to a run with no name, tags or config. ``genmon report`` merges files
of one run, and refuses to merge two runs unless told to (``--merge-runs``).

Example:
    >>> sources = run_sources(Path("runs/big-job"), [])  # doctest: +SKIP
    >>> check_one_run(sources, merge_runs=False)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from genmon.monitor.settings import RUN_FILE, shard_run_file

_IDENTITY_KEYS = ("run_name", "tags", "config")
_SHARDED = (("metrics-", ".jsonl"), ("spans-", ".jsonl"), ("genmon-", ".log"))
_UNSHARDED = ("metrics.jsonl", "spans.jsonl", "genmon.log", "afterimage.log")


class MixedRunsError(ValueError):
    """The files given belong to different runs (different names, tags or configs)."""


@dataclass(frozen=True)
class RunSource:
    """Files that belong to one run: where that is said (a run file, else the data file), and the run."""

    path: Path
    info: Mapping[str, Any] | None  # run.json's content; None: no run name, tags or config

    def identity(self) -> bytes:
        """The run's name, tags and config as canonical JSON (what must agree for files to merge)."""
        info = self.info or {}
        return orjson.dumps({key: info.get(key) or None for key in _IDENTITY_KEYS}, option=orjson.OPT_SORT_KEYS)


def run_sources(directory: Path, problems: list[str]) -> list[RunSource]:
    """The runs a directory's files belong to: its unsharded files' and each shard's."""
    shards = {
        path.name[len(prefix) : -len(suffix)]
        for prefix, suffix in _SHARDED
        for path in directory.glob(f"{prefix}*{suffix}")
        if path.is_file()
    }
    stem, suffix = RUN_FILE.rsplit(".", 1)
    shards |= {path.name[len(stem) + 1 : -len(suffix) - 1] for path in directory.glob(f"{stem}-*.{suffix}")}
    sources = []
    unsharded = [directory / name for name in _UNSHARDED if (directory / name).is_file()]
    if unsharded:
        sources.append(_source(directory / RUN_FILE, unsharded[0], problems))
    for shard in sorted(shards):
        data = next(
            (directory / f"{p}{shard}{s}" for p, s in _SHARDED if (directory / f"{p}{shard}{s}").is_file()), None
        )
        sources.append(_source(directory / shard_run_file(shard), data, problems))
    return sources


def read_run_file(path: Path, problems: list[str]) -> dict[str, Any] | None:
    """A run file's name, tags and config, or None when it is missing (or unreadable: said in ``problems``)."""
    if not path.is_file():
        return None
    try:
        info = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as error:
        problems.append(f"{path}: unreadable ({error}); the run's name, tags and config are left out")
        return None
    return info if isinstance(info, dict) else None


def _source(run_file: Path, data_file: Path | None, problems: list[str]) -> RunSource:
    info = read_run_file(run_file, problems)
    return RunSource(run_file if info is not None or data_file is None else data_file, info)


def check_one_run(sources: Sequence[RunSource], merge_runs: bool) -> tuple[dict[str, Any] | None, str | None]:
    """(the run's info, a warning) for files of one run; raise ``MixedRunsError`` for several unless ``merge_runs``.

    Merged anyway, several runs have no one name, tags or config: the info is None and the warning says why.
    """
    groups: dict[bytes, list[RunSource]] = {}
    for source in sources:
        groups.setdefault(source.identity(), []).append(source)
    if len(groups) <= 1:
        first = next((s.info for s in sources if s.info is not None), None)
        return (dict(first) if first is not None else None), None
    described = "; ".join(_describe(group) for group in groups.values())
    differ = ", ".join(_differences([group[0].info or {} for group in groups.values()]))
    if not merge_runs:
        raise MixedRunsError(
            f"refusing to merge {len(groups)} different runs (they differ in {differ}): {described}. "
            "Report one run at a time, or pass --merge-runs to merge them anyway"
        )
    return None, f"merged {len(groups)} different runs (they differ in {differ}): {described}; no run name shown"


def _describe(group: Sequence[RunSource]) -> str:
    info = group[0].info
    name = f"run {info.get('run_name')!r}" if info and info.get("run_name") else "a run"
    if info is None:
        name = "a run with no name, tags or config"
    paths = ", ".join(str(s.path) for s in group[:4]) + (f" and {len(group) - 4} more" if len(group) > 4 else "")
    return f"{name} in {paths}"


def _differences(infos: Sequence[Mapping[str, Any]]) -> list[str]:
    """The dotted keys (``run_name``, ``tags.dataset``, ``config.seed``) whose values are not the same in all."""
    flat = [_flatten(info) for info in infos]
    keys = sorted({key for entry in flat for key in entry})
    return [
        key for key in keys if len({orjson.dumps(entry.get(key), option=orjson.OPT_SORT_KEYS) for entry in flat}) > 1
    ]


def _flatten(info: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"run_name": info.get("run_name")}
    for part in ("tags", "config"):
        value = info.get(part)
        for key, item in value.items() if isinstance(value, Mapping) else ():
            out[f"{part}.{key}"] = item
    return out
