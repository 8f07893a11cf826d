"""A run's name, tags and config: validated at construction, written to run.json, shown to sinks."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from genmon import GenerationMonitor, RunInfo


def test_run_name_tags_and_config_are_kept_and_written_to_run_json(make_monitor) -> None:
    """run.json holds the name, tags, config and start; monitor.run gives them back."""
    monitor: GenerationMonitor = make_monitor(
        run_name="nightly-42", tags={"dataset": "v3", "team": "data"}, config={"temperature": 0.7, "models": ["a", "b"]}
    )
    assert monitor.run == RunInfo(
        "nightly-42", {"dataset": "v3", "team": "data"}, {"temperature": 0.7, "models": ["a", "b"]}
    )
    written = orjson.loads((monitor.log_dir / "run.json").read_bytes())
    assert written["run_name"] == "nightly-42" and written["tags"]["dataset"] == "v3"
    assert written["config"] == {"temperature": 0.7, "models": ["a", "b"]} and "started_at" in written


def test_a_run_without_name_tags_or_config_writes_no_run_json(make_monitor) -> None:
    """Nothing to say, no file."""
    monitor: GenerationMonitor = make_monitor()
    assert monitor.run == RunInfo() and not (monitor.log_dir / "run.json").exists()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"run_name": ""}, TypeError, "run_name must be a non-empty string"),
        ({"run_name": "x\ud800"}, ValueError, "run_name holds a lone surrogate"),
        ({"tags": {"a": 1}}, TypeError, "tags must map non-empty text to text"),
        ({"tags": ["a"]}, TypeError, "tags must be a mapping"),
        ({"config": {"lr": object()}}, TypeError, r"config\['lr'\] must be JSON-serialisable"),
        ({"config": {1: "x"}}, TypeError, "config keys must be non-empty text"),
    ],
)
def test_bad_run_metadata_is_refused_naming_the_argument(tmp_path: Path, kwargs, error, message) -> None:
    """A bad run_name, tags or config fails the constructor, before any thread starts or file is made."""
    with pytest.raises(error, match=message):
        GenerationMonitor(log_dir=tmp_path / "run", metrics_interval=0, **kwargs)
    assert not (tmp_path / "run").exists()


def test_shards_share_one_run_json(tmp_path: Path) -> None:
    """Two processes' monitors in one directory: the first writes run.json, the second leaves it."""
    first = GenerationMonitor(log_dir=tmp_path, metrics_interval=0, shard="a", run_name="job")
    second = GenerationMonitor(log_dir=tmp_path, metrics_interval=0, shard="b", run_name="job")
    try:
        assert orjson.loads((tmp_path / "run.json").read_bytes())["run_name"] == "job"
    finally:
        first.close()
        second.close()
