"""Optional extras load lazily, and a missing one names the extra to install."""

from __future__ import annotations

import subprocess
import sys

import pytest

import genmon.handlers
from genmon.errors import MissingExtraError


def test_import_genmon_loads_no_optional_sink_or_extra() -> None:
    """`import genmon` (and `genmon.handlers`) imports neither mlflow, prometheus_client, opentelemetry nor the remote sinks."""
    code = (
        "import sys, genmon, genmon.handlers\n"
        "heavy = ['mlflow', 'prometheus_client', 'opentelemetry', 'google.protobuf', 'genmon.handlers.http',\n"
        "         'genmon.handlers.mlflow_handler', 'genmon.handlers.otlp', 'genmon.handlers.prometheus',\n"
        "         'genmon.handlers.logging_bridge']\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"


def test_every_exported_name_resolves_and_all_is_sorted() -> None:
    """genmon.handlers.__all__ is sorted and each name imports (an unknown name is an AttributeError)."""
    assert genmon.handlers.__all__ == sorted(genmon.handlers.__all__)
    for name in genmon.handlers.__all__:
        assert getattr(genmon.handlers, name) is not None
    with pytest.raises(AttributeError):
        genmon.handlers.NoSuchHandler  # noqa: B018


def test_missing_prometheus_client_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without prometheus_client, building the collector raises MissingExtraError naming genmon[prometheus]."""
    monkeypatch.setitem(sys.modules, "prometheus_client.core", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'genmon\[prometheus\]'") as info:
        genmon.handlers.PrometheusCollector()
    assert isinstance(info.value, ImportError) and info.value.extra == "prometheus"
