"""genmon/__init__.py: the package docstring shows a newcomer where to start, and every public name is documented."""

from __future__ import annotations

import importlib.util
import inspect
import re
from importlib.metadata import entry_points
from typing import Any

import genmon
from genmon import GenerationMonitor

# Where a reader starts (issue 10): the façade and afterimage's import path for it,
# the default-monitor functions, the command's package, and the two public helpers
# that stay where they are (genmon.testing, genmon.simulated).
ENTRY_POINTS = (
    "GenerationMonitor",
    "genmon.monitoring",
    "genmon.enable",
    "genmon.track",
    "genmon.attach",
    "genmon.emit",
    "genmon.testing",
    "genmon.simulated",
    "genmon.cli",
)


def named(docstring: str) -> set[str]:
    """The names a docstring spells as literals (``name``)."""
    return set(re.findall(r"``([\w.]+)``", docstring))


def resolves(dotted: str) -> bool:
    """True when ``genmon.x.y`` is a module of genmon or a public name of the package."""
    if importlib.util.find_spec(dotted) is not None:
        return True
    package, _, name = dotted.rpartition(".")
    return package == "genmon" and name in genmon.__all__


def test_the_package_docstring_names_where_to_start() -> None:
    """genmon's docstring names the façade, genmon.monitoring, enable/track/attach/emit, testing, simulated and the cli."""
    docstring = inspect.getdoc(genmon)
    assert docstring, "genmon/__init__.py has no module docstring"
    assert sorted(set(ENTRY_POINTS) - named(docstring)) == []
    assert "``genmon`` command" in docstring


def test_every_genmon_name_in_the_package_docstring_exists() -> None:
    """Each ``genmon.…`` the docstring names is a module or a public name, and the command lives where it says."""
    dotted = sorted(name for name in named(inspect.getdoc(genmon) or "") if name.startswith("genmon."))
    assert dotted, "the docstring names no genmon module"
    assert [name for name in dotted if not resolves(name)] == []
    [script] = entry_points(group="console_scripts", name="genmon")
    assert script.module.startswith("genmon.cli.")


def own_doc(value: Any) -> str:
    """The docstring a name or attribute carries itself (a property's getter's; never one inherited or generated)."""
    if isinstance(value, property):
        value = value.fget
    value = getattr(value, "__func__", value)  # staticmethod, classmethod
    doc = (getattr(value, "__doc__", None) or "").strip()
    if inspect.isclass(value) and doc.startswith(f"{value.__name__}("):
        return ""  # what dataclasses and NamedTuple write for a class that has none
    return doc


def test_every_public_name_of_genmon_is_documented() -> None:
    """Each class and function in genmon.__all__ has a docstring (constants and type aliases have none to give)."""
    public = {name: getattr(genmon, name) for name in genmon.__all__}
    documentable = {name: value for name, value in public.items() if inspect.isclass(value) or inspect.isroutine(value)}
    assert "GenerationMonitor" in documentable and "track" in documentable
    assert sorted(name for name, value in documentable.items() if not own_doc(value)) == []


def test_every_public_method_of_the_monitor_is_documented() -> None:
    """Each public method, property and attribute descriptor of GenerationMonitor (its mixins' too) has a docstring."""
    members = {name: inspect.getattr_static(GenerationMonitor, name) for name in dir(GenerationMonitor)}
    public = {name: value for name, value in members.items() if not name.startswith("_")}
    assert {"record_metric", "track_generation", "shutdown", "store"} <= set(public)
    assert sorted(name for name, value in public.items() if not own_doc(value)) == []
