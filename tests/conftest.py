"""Shared fixtures: monitors that are always closed, a leak check after every test, and what a missing program does."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from genmon import GenerationMonitor
from genmon.testing import ManualClock


def _genmon_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("genmon-")]


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Every test must leave no genmon thread running once its monitors are closed."""
    before = set(_genmon_threads())
    yield
    for thread in _genmon_threads():
        if thread not in before:
            thread.join(10)
    leaked = [t.name for t in _genmon_threads() if t not in before]
    assert not leaked, f"threads left running: {leaked}"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_800_000_000.0)


@pytest.fixture
def make_monitor(tmp_path: Path) -> Iterator[Callable[..., GenerationMonitor]]:
    """Build monitors in tmp_path (alert thread off unless asked); all are closed at teardown."""
    made: list[GenerationMonitor] = []

    def make(**kwargs: Any) -> GenerationMonitor:
        kwargs.setdefault("log_dir", tmp_path / f"run{len(made)}")
        kwargs.setdefault("metrics_interval", 0)
        monitor = GenerationMonitor(**kwargs)
        made.append(monitor)
        return monitor

    yield make
    for monitor in made:
        monitor.close()


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """rich sizes its tables to the terminal: tests read them at one known width."""
    monkeypatch.setenv("COLUMNS", "160")


@pytest.fixture
def paris_tz(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Europe/Paris (UTC+01:00, +02:00 in summer) as the local zone for the test, restored after."""
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def in_ci() -> bool:
    """True when the environment variable CI is set to anything but empty, 0, false or no (.ci/run sets CI=1)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def skip_or_fail(reason: str) -> NoReturn:
    """Skip a test whose real program (mlflow server, prometheus, chromium) is missing; under CI, fail instead.

    .ci/run installs those programs, so there a missing one is a broken
    environment, and a skip would let the tests against real servers pass
    without having run.
    """
    if in_ci():
        pytest.fail(f"{reason} (CI is set, so this fails rather than skips)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def missing_program() -> Callable[[str], NoReturn]:
    """``skip_or_fail`` for fixtures and tests that start a real program: ``missing_program("prometheus is not installed")``."""
    return skip_or_fail
