"""A real program the tests start (mlflow server, prometheus, chromium) that is missing: a skip here, a failure under CI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest


@pytest.mark.parametrize("value", ["1", "true", "yes"])
def test_under_ci_a_missing_program_fails_the_test(
    missing_program: Callable[[str], NoReturn], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """With CI set (.ci/run exports CI=1; GitHub sets CI=true), the fixture's call fails, naming the program."""
    monkeypatch.setenv("CI", value)
    # Caught as BaseException: a skip raised by mistake must fail this test, not skip it.
    with pytest.raises(BaseException) as raised:
        missing_program("the prometheus binary is not installed")
    assert raised.type is pytest.fail.Exception
    assert str(raised.value).startswith("the prometheus binary is not installed")


@pytest.mark.parametrize("value", [None, "", "0", "false"])
def test_outside_ci_a_missing_program_skips_the_test(
    missing_program: Callable[[str], NoReturn], monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    """Without CI (unset, empty, 0 or false) the same call skips, with the same reason."""
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    with pytest.raises(BaseException) as raised:
        missing_program("chromium is not installed")
    assert (raised.type, str(raised.value)) == (pytest.skip.Exception, "chromium is not installed")


def test_ci_run_sets_ci() -> None:
    """.ci/run exports CI=1 before the tests, so there the real servers' tests cannot pass by skipping."""
    script = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "export CI=1" in script and script.index("export CI=1") < script.index("python -m pytest")
