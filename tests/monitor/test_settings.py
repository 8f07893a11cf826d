"""The constructor's keyword handling lives in ``genmon.monitor.settings``: every keyword is read and checked there."""

from __future__ import annotations

import ast
import inspect
import textwrap
import threading
import traceback
from pathlib import Path
from typing import Any

import pytest

import genmon.monitor.settings as settings_module
from genmon import GenerationMonitor
from genmon.monitor.settings import Settings

PARAMETERS = [name for name in inspect.signature(GenerationMonitor.__init__).parameters if name != "self"]
# Truthiness switches, as afterimage-style code passes them (bool() of any value): no value is wrong.
FLAGS = {"log_to_logging", "send_resolved", "handle_signals"}
# A value of the wrong type or range for every other keyword.
BAD_VALUES: dict[str, Any] = {
    "log_dir": 12.5,
    "metric_handlers": "metrics.jsonl",
    "log_handlers": 3,
    "alert_handlers": [5],
    "metrics_interval": "60",
    "shutdown_timeout": "5",
    "alert_min_success_rate": "high",
    "alert_max_generation_time_seconds": "slow",
    "alert_max_error_rate": float("nan"),
    "alert_max_prompt_token_mean": "x",
    "alert_max_completion_token_mean": "x",
    "alert_max_total_token_mean": "x",
    "alert_max_conversation_length_mean": "x",
    "token_usage_callback": 5,
    "token_usage_callback_interval_seconds": "60",
    "alert_window": -1,
    "alert_cooldown": "5m",
    "alert_handler_timeout": "x",
    "max_queue_size": 0,
    "on_full": "wait",
    "block_timeout": "x",
    "retention": 0,
    "max_points_per_metric": 0,
    "clock": 5,
    "sample_resources": -1,
    "prices": 5,
    "callback_timeout": "x",
    "shard": "",
    "run_name": 5,
    "tags": 5,
    "config": 5,
    "capture_io": "yes",
    "capture_max_chars": -1,
    "capture_redact": 5,
}


class ReadKeys(dict[str, Any]):
    """A keyword mapping that notes which keys were read."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.read.add(key)
        return super().get(key, default)


def test_from_keywords_reads_every_constructor_keyword_and_no_other(tmp_path: Path) -> None:
    """Settings.from_keywords consumes each GenerationMonitor.__init__ parameter, so none is handled elsewhere."""
    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(GenerationMonitor.__init__).parameters.items()
        if name != "self"
    }
    keywords = ReadKeys(defaults, log_dir=tmp_path / "run", metric_handlers=[], log_handlers=[])
    settings = Settings.from_keywords(keywords)
    assert set(PARAMETERS) - keywords.read == set()
    assert keywords.read - set(PARAMETERS) == set()
    assert settings.handle_signals is True


def test_the_constructor_uses_its_keywords_only_through_settings() -> None:
    """GenerationMonitor.__init__ hands its locals() to Settings.from_keywords and reads no parameter itself."""
    source = textwrap.dedent(inspect.getsource(GenerationMonitor.__init__))
    function = ast.parse(source).body[0]
    assert isinstance(function, ast.FunctionDef)
    used = {
        node.id
        for statement in function.body
        for node in ast.walk(statement)
        if isinstance(node, ast.Name) and node.id in PARAMETERS
    }
    assert used == set()
    assert "Settings.from_keywords(locals())" in source


def test_every_keyword_has_a_bad_value_case_or_is_a_flag() -> None:
    """The table below covers every constructor keyword: a new keyword needs a case (or is a switch)."""
    assert sorted(set(BAD_VALUES) | FLAGS) == sorted(PARAMETERS)


@pytest.mark.parametrize("keyword", sorted(BAD_VALUES))
def test_a_bad_keyword_fails_in_settings_before_anything_starts(keyword: str, tmp_path: Path) -> None:
    """A wrong value raises from Settings.from_keywords: no run directory made, no thread started."""
    log_dir = tmp_path / "run"
    keywords: dict[str, Any] = {"log_dir": log_dir, "metric_handlers": [], "log_handlers": [], "metrics_interval": 0}
    keywords[keyword] = BAD_VALUES[keyword]
    threads_before = set(threading.enumerate())
    with pytest.raises((TypeError, ValueError)) as raised:
        GenerationMonitor(**keywords)
    frames = traceback.extract_tb(raised.value.__traceback__)
    assert any(frame.filename == settings_module.__file__ and frame.name == "from_keywords" for frame in frames), (
        f"{keyword}: raised outside Settings.from_keywords: {[(f.filename, f.name) for f in frames]}"
    )
    assert not log_dir.exists()
    assert set(threading.enumerate()) - threads_before == set()
