"""afterimage 0.18.1 itself as a test client: its generators run once per session, with each monitor, in a subprocess."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest
from afterimage_runs import AFTERIMAGE_VERSION, Runs, run_driver


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """driver.py's observations of every scenario under afterimage's monitor and genmon's (one run per session)."""
    try:
        version = importlib.metadata.version("afterimage")
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(
            f"afterimage is not installed: pip install -e '.[test]' (the test extra pins afterimage=={AFTERIMAGE_VERSION})"
        )
    assert version == AFTERIMAGE_VERSION, (
        f"these comparisons are pinned to afterimage {AFTERIMAGE_VERSION}, found {version}"
    )
    out: Path = tmp_path_factory.mktemp("afterimage")
    return run_driver(out)
