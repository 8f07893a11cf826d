"""The package's shape: imports flow one way through the layers, no import circle, no oversized module.

Every import counts, including those inside functions and under
``TYPE_CHECKING``: a lazy import is still a dependency a reader must follow.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
MAX_MODULE_LINES = 400

# Rooms from the top down: (rank, room, module prefixes). A module may import
# its own room and any room of a greater rank; never up, never a sibling of
# its own rank (alerts and tracking stay independent of each other).
ROOMS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (0, "cli", ("genmon.cli",)),
    (1, "api", ("genmon", "genmon.monitoring", "genmon.testing", "genmon.simulated")),
    (2, "facade", ("genmon.monitor",)),  # the façade and its wiring: the monitor package's own modules
    (3, "handlers", ("genmon.handlers",)),
    (4, "plots", ("genmon.plots",)),
    (5, "exporters", ("genmon.exporters",)),
    (6, "alerts", ("genmon.monitor.alerts",)),
    (6, "tracking", ("genmon.monitor.tracking",)),
    (6, "resources", ("genmon.monitor.resources",)),
    (7, "engine", ("genmon.monitor.engine",)),
    (7, "store", ("genmon.monitor.store",)),
    (8, "records", ("genmon.records", "genmon.errors", "genmon._version")),
)


def room_of(module: str) -> tuple[int, str]:
    """The (rank, room) of a module: the room with the longest matching prefix."""
    best: tuple[int, int, str] | None = None
    for rank, room, prefixes in ROOMS:
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                # "genmon" itself matches only the package's root modules, never a subpackage.
                if prefix == "genmon" and module.count(".") > 0 and module not in ("genmon",):
                    continue
                if best is None or len(prefix) > best[0]:
                    best = (len(prefix), rank, room)
    if best is None:
        raise AssertionError(f"{module} is in no room of the architecture: add it to ROOMS")
    return best[1], best[2]


def module_names(root: Path) -> dict[str, Path]:
    """Every module under ``root`` (a ``src`` directory) by dotted name; packages by their own name."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def imports_of(module: str, path: Path, known: Iterable[str]) -> set[str]:
    """The genmon modules ``module`` imports, anywhere in its file."""
    known = set(known)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import mod` depends on pkg.mod when it is a module, else on pkg.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != module:
                found.add(target)
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    names = module_names(root)
    return {module: imports_of(module, path, names) for module, path in names.items() if module.startswith("genmon")}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Imports that go up a layer or sideways into a sibling room, as readable lines."""
    bad = []
    for module, targets in sorted(graph.items()):
        rank, room = room_of(module)
        for target in sorted(targets):
            target_rank, target_room = room_of(target)
            if target_room != room and target_rank <= rank:
                bad.append(f"{module} ({room}, layer {rank}) imports {target} ({target_room}, layer {target_rank})")
    return bad


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    cycles.append(sorted(group))
    return cycles


def test_imports_flow_down_the_layers() -> None:
    """No module imports a layer above its own or a sibling room of its layer."""
    assert upward_imports(import_graph(SRC)) == []


def test_there_is_no_import_circle() -> None:
    """No group of modules imports itself round, TYPE_CHECKING and function-level imports included."""
    assert import_cycles(import_graph(SRC)) == []


def test_no_module_is_over_400_lines() -> None:
    """Every module of src/ stays small enough to read at once."""
    long = {
        str(path.relative_to(SRC)): n
        for path in SRC.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_the_checks_catch_an_upward_import_and_a_circle(tmp_path: Path) -> None:
    """Planted violations are reported: an exporter importing the façade, and two store modules importing each other."""
    root = tmp_path / "src"
    files = {
        "genmon/__init__.py": "",
        "genmon/exporters/__init__.py": "",
        "genmon/exporters/csv_file.py": "def f():\n    from genmon.monitor.generation_monitor import GenerationMonitor\n",
        "genmon/monitor/__init__.py": "",
        "genmon/monitor/generation_monitor.py": "from genmon.exporters import csv_file\n",
        "genmon/monitor/store/__init__.py": "",
        "genmon/monitor/store/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from genmon.monitor.store.b import B\n",
        "genmon/monitor/store/b.py": "from genmon.monitor.store import a\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    graph = import_graph(root)
    assert upward_imports(graph) == [
        "genmon.exporters.csv_file (exporters, layer 5) imports genmon.monitor.generation_monitor (facade, layer 2)"
    ]
    assert sorted(map(tuple, import_cycles(graph))) == [
        ("genmon.exporters.csv_file", "genmon.monitor.generation_monitor"),
        ("genmon.monitor.store.a", "genmon.monitor.store.b"),
    ]


@pytest.mark.parametrize(
    ("module", "room"),
    [
        ("genmon", "api"),
        ("genmon.testing", "api"),
        ("genmon.cli.demo", "cli"),
        ("genmon.monitor", "facade"),
        ("genmon.monitor.runtime", "facade"),
        ("genmon.monitor.engine.isolation", "engine"),
        ("genmon.records.spans", "records"),
        ("genmon.errors", "records"),
    ],
)
def test_rooms(module: str, room: str) -> None:
    """Modules fall in the room their package says."""
    assert room_of(module)[1] == room


# The README's and the subpackage docstrings' layer numbers (top down), as rooms.
README_LAYERS: dict[int, set[str]] = {
    1: {"cli"},
    2: {"api", "facade"},
    3: {"handlers", "plots", "exporters"},
    4: {"engine", "store", "alerts", "tracking", "resources"},
    5: {"records"},
}
SUBPACKAGES = ("engine", "store", "alerts", "tracking", "resources")


def allowed_rooms(docstring: str) -> set[str]:
    """The rooms a subpackage docstring's "Imports ..." sentence names: rooms, genmon modules and layer numbers."""
    found = re.search(r"\bImports (.*?)(?:\.(?:\s|$)|;)", " ".join(docstring.split()))
    assert found, "the docstring says nothing of what the subpackage may import"
    sentence = found.group(1)  # to the sentence's end or a semicolon (not a dot inside a name)
    rooms = {room for _, room, _ in ROOMS}
    named: set[str] = set()
    for token in re.findall(r"``([\w.]+)``", sentence):
        named.add(token if token in rooms else room_of(token)[1])
    for number in re.findall(r"layer (\d)", sentence):
        named |= README_LAYERS[int(number)]
    return named


@pytest.mark.parametrize("subpackage", SUBPACKAGES)
def test_each_subpackage_says_what_it_may_import_and_imports_nothing_else(subpackage: str) -> None:
    """Each monitor/<room>/__init__ docstring names the rooms it may import: lower rooms of ROOMS, and all it imports."""
    module = f"genmon.monitor.{subpackage}"
    docstring = ast.get_docstring(ast.parse((SRC / "genmon/monitor" / subpackage / "__init__.py").read_text()))
    assert docstring, f"{module} has no docstring"
    allowed = allowed_rooms(docstring)
    rank, room = room_of(module)
    assert allowed, f"{module}'s docstring names no room it may import"
    # The docstring agrees with ROOMS: only rooms below its own.
    assert {name: rank_of for rank_of, name, _ in ROOMS if name in allowed and rank_of <= rank} == {}
    graph = import_graph(SRC)
    imported = {
        f"{source} imports {target}"
        for source, targets in graph.items()
        if source == module or source.startswith(module + ".")
        for target in targets
        if room_of(target)[1] not in allowed | {room}
    }
    assert imported == set()


def test_the_imports_sentence_is_read_as_rooms() -> None:
    """The docstring reader maps room names, genmon modules and layer numbers to rooms."""
    assert allowed_rooms("Owns x. Imports ``engine``, ``store`` and layer 5.") == {"engine", "store", "records"}
    assert allowed_rooms("Imports only layer 5 (``genmon.records``, ``genmon.errors``).") == {"records"}
    assert allowed_rooms("Imports ``genmon.monitor.engine.queueing`` only; calls ``record_metrics``.") == {"engine"}


MAX_FACADE_LINES = 350


def test_the_facade_is_at_most_350_lines() -> None:
    """generation_monitor.py, the façade, reads at once: 350 lines at most (its readers live in monitor/views.py)."""
    lines = len((SRC / "genmon/monitor/generation_monitor.py").read_text().splitlines())
    assert lines <= MAX_FACADE_LINES


# Folders of tests/ that mirror no package: afterimage's own programs run under genmon.
TESTS_NOT_MIRRORED = {"afterimage"}


def test_tests_mirror_the_package_layout() -> None:
    """Every folder under tests/ (but tests/afterimage) is a package of src/genmon at the same path."""
    tests = SRC.parent / "tests"
    folders = {
        path.relative_to(tests)
        for path in tests.rglob("*")
        if path.is_dir() and path.name != "__pycache__" and not path.name.startswith(".")
    }
    unmirrored = sorted(
        str(folder)
        for folder in folders
        if folder.parts[0] not in TESTS_NOT_MIRRORED and not (SRC / "genmon" / folder / "__init__.py").is_file()
    )
    assert unmirrored == []


READERS = ("exporters", "plots", "handlers", "cli")
# Private names of other objects a reader may touch, each with its reason: (module, expression).
PRIVATE_ACCESS_ALLOWED = {
    # argparse names no public type for what add_subparsers() returns.
    ("genmon.cli.main", "argparse._SubParsersAction"),
    # MLflow's TracingClient has no public call that uploads a started trace's spans to its
    # artifact store (an older tracking store); MLflow's own exporter calls this one.
    ("genmon.handlers._mlflow_traces", "self.tracing._upload_trace_data"),
}


def private(name: str) -> bool:
    """A leading underscore that is not a dunder."""
    return name.startswith("_") and not name.endswith("__")


def private_accesses(module: str, path: Path) -> set[tuple[str, str]]:
    """``x._name`` where x is not self or cls, getattr-style calls with a private name, private names imported from another package."""
    package = module.split(".")[1] if module.count(".") else module
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.endswith("__"):
            if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                found.add((module, ast.unparse(node)))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr", "delattr")
            and len(node.args) > 1
        ):
            name = node.args[1]
            if isinstance(name, ast.Constant) and isinstance(name.value, str) and private(name.value):
                found.add((module, ast.unparse(node)))
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("genmon.")
            and node.module.split(".")[1] != package
        ):
            found |= {(module, f"from {node.module} import {a.name}") for a in node.names if private(a.name)}
    return found


def test_readers_touch_no_private_attribute_of_another_object() -> None:
    """exporters, plots, handlers and cli read through public names only (listed exceptions give their reason)."""
    found = set()
    for module, path in module_names(SRC).items():
        if module.split(".")[1:2] and module.split(".")[1] in READERS:
            found |= private_accesses(module, path)
    assert found - PRIVATE_ACCESS_ALLOWED == set()
    assert PRIVATE_ACCESS_ALLOWED - found == set(), "an exception no longer needed: remove it from the list"


def test_the_private_access_check_catches_a_reader_reaching_in(tmp_path: Path) -> None:
    """Planted reaches are reported: monitor._rt, getattr(view, "_store"), a private name from another package."""
    path = tmp_path / "reader.py"
    path.write_text(
        "from genmon.monitor.store.view import _private\n"
        "from genmon.exporters.naming import _ok_same_package\n"
        "def read(monitor, view, self):\n"
        "    self._fine, monitor.__class__\n"
        "    return monitor._rt.store, getattr(view, '_store')\n"
    )
    assert private_accesses("genmon.exporters.reader", path) == {
        ("genmon.exporters.reader", "monitor._rt"),
        ("genmon.exporters.reader", "getattr(view, '_store')"),
        ("genmon.exporters.reader", "from genmon.monitor.store.view import _private"),
    }


README = SRC.parent / "README.md"


def readme_section(title: str) -> str:
    """The text of README's ``## title`` section, without its heading."""
    found = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README.read_text(), re.DOTALL | re.MULTILINE)
    assert found, f"README has no section {title!r}"
    return found.group(1)


def spans(text: str) -> list[str]:
    """The inline code spans of a piece of Markdown (fenced blocks left out)."""
    return re.findall(r"`([^`\n]+)`", re.sub(r"^```.*?^```", "", text, flags=re.DOTALL | re.MULTILINE))


def is_path(span: str) -> bool:
    return "/" in span or span.endswith(".py")


def table_rows(section: str) -> list[list[str]]:
    """The cells of each body row of the section's table."""
    rows = [line.strip().strip("|").split("|") for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row] for row in rows[2:]]  # past the header and the |---| line


def where_paths(cell: str) -> list[str]:
    """The paths of a "where" cell: "`monitor/engine/`, `store/`" means monitor/engine/ and monitor/store/."""
    paths = [span for span in spans(cell) if is_path(span)]
    first = paths[0].rstrip("/").split("/") if paths else []
    prefix = "/".join(first[:-1]) + "/" if len(first) > 1 else ""
    return paths[:1] + [prefix + path if path.count("/") <= 1 and "*" not in path else path for path in paths[1:]]


def exists(path: str) -> bool:
    """A README path, from src/genmon (``monitor/store/view.py``) or the repository (``tests/…``), globs matching something."""
    for root in (SRC / "genmon", SRC.parent):
        if any(root.glob(path.rstrip("/"))):
            return True
    return False


def defined_names(folder: Path) -> set[str]:
    """Module and package names under ``folder``, and the names its modules define at top level."""
    names: set[str] = set()
    for path in folder.rglob("*.py") if folder.is_dir() else [folder]:
        names.add(path.parent.name if path.name == "__init__.py" else path.stem)
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                names |= {target.id for target in node.targets if isinstance(target, ast.Name)}
    return names


def test_every_path_the_readme_architecture_names_exists() -> None:
    """Each path in "How genmon is built" (table, text, where-to-add list) is a file or folder of the repository."""
    section = readme_section("How genmon is built")
    text = "\n".join(line for line in section.splitlines() if not line.startswith("|"))
    named = [span for span in spans(text) if is_path(span)]
    for row in table_rows(section):
        named += where_paths(row[1])
    assert len(named) > 20 and "monitor/store/" in named  # the table's "`store/`" read under monitor/
    assert sorted({path for path in named if not exists(path)}) == []


def test_every_module_a_readme_table_row_names_is_in_its_folders() -> None:
    """Each bare lower-case name in a row's "what it owns" is a module (or function) of that row's folders; each type exists."""
    types = defined_names(SRC / "genmon")  # a row may name a type of another layer: `HandlerContext` handlers get
    missing = []
    for row in table_rows(readme_section("How genmon is built")):
        folders = [match for path in where_paths(row[1]) for match in (SRC / "genmon").glob(path.rstrip("/"))]
        known = set().union(*map(defined_names, folders)) | {"genmon"}  # the command's own name
        names = [span.split(".")[-1] for span in spans(row[2]) if re.fullmatch(r"[\w.]+", span)]
        missing += [f"layer {row[0]}: {name}" for name in names if name not in (types if name[0].isupper() else known)]
    assert missing == []


def test_the_readme_path_reader_reads_a_where_cell() -> None:
    """A where cell's later bare folders sit beside its first path; files and top-level folders stay as written."""
    assert where_paths("`monitor/engine/`, `store/`, `alerts/`") == [
        "monitor/engine/",
        "monitor/store/",
        "monitor/alerts/",
    ]
    assert where_paths("`handlers/`, `plots/`") == ["handlers/", "plots/"]
    assert where_paths("`records/`, `errors.py`") == ["records/", "errors.py"]
    assert spans("a `x/y.py` b\n```\n`not/this`\n```\n") == ["x/y.py"]
