"""genmon report merges the shards of one run by its name, tags and config, and refuses to mix two runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from genmon import GenerationMonitor
from genmon.cli.main import main
from genmon.cli.run_files import RunFileWarning, load_runs
from genmon.cli.run_identity import MixedRunsError

CONFIG = {"model": "gpt-4o", "sampling": {"temperature": 0.7}, "seed": 7}


def write_shard(directory: Path, shard: str | None, points: int, **run: Any) -> None:
    """One process's monitor writing ``points`` calls into ``directory`` (a shard when ``shard`` is given)."""
    options: dict[str, Any] = {"shard": shard} if shard is not None else {}
    with GenerationMonitor(log_dir=directory, metrics_interval=0, **options, **run) as monitor:
        for i in range(points):
            monitor.track_generation(0.1 * (i + 1), True, model_name="m", prompt_token_count=10)


def test_shards_of_one_run_are_merged_with_its_name_tags_and_config(tmp_path: Path) -> None:
    """Each shard writes run-<shard>.json beside its files; shards that agree merge into one run."""
    run = {"run_name": "nightly", "tags": {"dataset": "v3"}, "config": CONFIG}
    write_shard(tmp_path, "host-1", 5, **run)
    write_shard(tmp_path, "host-2", 7, **run)
    assert sorted(p.name for p in tmp_path.glob("run*.json")) == ["run-host-1.json", "run-host-2.json", "run.json"]
    assert orjson.loads((tmp_path / "run-host-2.json").read_bytes()).items() >= run.items()
    merged = load_runs([tmp_path])
    assert merged.store.count("generation_time") == 12
    assert merged.run_info is not None and (merged.run_info["run_name"], merged.run_info["config"]) == (
        "nightly",
        CONFIG,
    )


def test_a_shard_of_another_run_in_the_same_directory_is_refused_naming_both(tmp_path: Path) -> None:
    """A shard with another config in the directory: MixedRunsError names each run's files and what differs."""
    write_shard(tmp_path, "host-1", 5, run_name="nightly", config=CONFIG)
    write_shard(tmp_path, "host-2", 7, run_name="nightly", config={**CONFIG, "seed": 8})
    with pytest.raises(MixedRunsError) as raised:
        load_runs([tmp_path])
    message = str(raised.value)
    assert "refusing to merge 2 different runs (they differ in config.seed)" in message
    assert str(tmp_path / "run-host-1.json") in message and str(tmp_path / "run-host-2.json") in message
    assert "--merge-runs" in message


def test_a_shard_without_run_info_does_not_pass_for_the_named_run(tmp_path: Path) -> None:
    """A shard given no name, tags or config beside a named run's shard is another run, named by its data file."""
    write_shard(tmp_path, "host-1", 5, run_name="nightly")
    write_shard(tmp_path, "host-2", 7)
    with pytest.raises(MixedRunsError, match="a run with no name, tags or config in .*metrics-host-2.jsonl"):
        load_runs([tmp_path])


def test_directories_merge_when_their_run_json_agree_and_are_refused_otherwise(tmp_path: Path) -> None:
    """Several directories of one run merge; a directory of another run is refused; unnamed runs merge as before."""
    write_shard(tmp_path / "a", None, 3, run_name="job", tags={"team": "data"})
    write_shard(tmp_path / "b", None, 4, run_name="job", tags={"team": "data"})
    write_shard(tmp_path / "c", None, 5, run_name="other-job", tags={"team": "data"})
    write_shard(tmp_path / "d", None, 6)
    write_shard(tmp_path / "e", None, 7)
    assert load_runs([tmp_path / "a", tmp_path / "b"]).store.count("generation_time") == 7
    with pytest.raises(
        MixedRunsError, match=r"differ in run_name\): run 'job' in .*a/run.json, .*b/run.json; run 'other-job'"
    ):
        load_runs([tmp_path / "a", tmp_path / "b", tmp_path / "c"])
    unnamed = load_runs([tmp_path / "d", tmp_path / "e"])
    assert unnamed.store.count("generation_time") == 13 and unnamed.run_info is None


def test_genmon_report_refuses_mixed_runs_in_one_line_and_merges_them_when_told(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 1 with one line naming the runs; --merge-runs builds the report of every point with a warning."""
    write_shard(tmp_path / "run", "host-1", 5, run_name="nightly", config=CONFIG)
    write_shard(tmp_path / "run", "host-2", 7, run_name="nightly", config={**CONFIG, "seed": 8})
    assert main(["report", str(tmp_path / "run"), "--out", str(tmp_path / "out")]) == 1
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and error.startswith("genmon report: refusing to merge 2 different runs")
    assert not (tmp_path / "out").exists()
    assert main(["report", str(tmp_path / "run"), "--out", str(tmp_path / "out"), "--merge-runs"]) == 0
    assert "warning: merged 2 different runs (they differ in config.seed)" in capsys.readouterr().err
    assert (tmp_path / "out" / "report.html").exists()
    with pytest.warns(RunFileWarning, match="merged 2 different runs"):
        merged = load_runs([tmp_path / "run"], merge_runs=True)
    assert merged.store.count("generation_time") == 12 and merged.run_info is None
