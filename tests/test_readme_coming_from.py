"""The README's "Coming from ..." sections stay true: their genmon code runs, and their tables' genmon calls exist.

Each section (synalinks, aiconfig, MLflow tracing, mtaio) is a side-by-side
table of that system's call and genmon's, some with a code block. The code
blocks are run, each in a fresh interpreter in an empty working directory,
without keys or network (a URL on 127.0.0.1 or localhost points at a real
HTTP server on 127.0.0.1 the test starts). A block that needs a real service
or a key can be marked ``<!-- not run: reason -->`` on the line before it and
is skipped with that reason; none is today. In the tables' genmon column, every
inline code span is parsed; each name it reaches from genmon, a monitor, a
snapshot, a span or an event must exist, and each call must bind to the
callee's signature with the arguments and keywords the table shows.
"""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import http.server
import inspect
import json
import keyword
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import genmon
from genmon import Alert, GenerationMonitor, ProfileRun
from genmon.handlers import HttpHandler, MlflowHandler
from genmon.monitor.tracking.events import Event

README = Path(__file__).resolve().parents[1] / "README.md"
SYSTEMS = ("synalinks", "aiconfig", "MLflow tracing", "mtaio")
# Inline code in a genmon cell that names something other than a Python object of genmon's.
NOT_PYTHON = {"genmon.metadata.k": "the attribute's name on the MLflow span"}


def section(system: str) -> str:
    text = README.read_text()
    heading = f"\n## Coming from {system}\n"
    assert heading in text, f"README has no '## Coming from {system}' section"
    start = text.index(heading) + len(heading)
    end = text.find("\n## ", start)
    return text[start : end if end != -1 else len(text)]


def table(text: str) -> list[list[str]]:
    """The section's table as rows of cells (header first, the |---| line left out)."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not re.fullmatch(r"[|\s:-]+", line):
            rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    return rows


def genmon_snippets(text: str) -> list[str]:
    """The inline code of the table's genmon column, ``.attribute`` spans spelled out from the span before."""
    snippets: list[str] = []
    for row in table(text)[1:]:
        for code in re.findall(r"`([^`]+)`", row[1]):
            if code.startswith(".") and snippets:  # `snapshot.memory.total_bytes`, `.available_bytes`
                code = snippets[-1].rsplit(".", 1)[0] + code
            snippets.append(code)
    return snippets


def parse(code: str) -> ast.Module | None:
    """``code`` as Python: as it is, as a decorator's expression, or as a block's header."""
    for candidate in (code, code.removeprefix("@"), code + "\n    pass", code + ": pass"):
        try:
            return ast.parse(candidate)
        except SyntaxError:
            continue
    return None


def dotted(node: ast.AST) -> list[str] | None:
    """``["monitor", "profiler", "runs"]`` for ``monitor.profiler.runs``; None unless names and attributes only."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def resolve(parts: list[str], roots: dict[str, Any]) -> Any:
    target = roots[parts[0]]
    for index, name in enumerate(parts[1:], start=1):
        assert hasattr(target, name), f"{'.'.join(parts[:index])} has no attribute {name!r}"
        target = getattr(target, name)
    return target


def check_snippet(tree: ast.Module, roots: dict[str, Any]) -> int:
    """Resolve every name reached from a root and bind every call; the number of names and calls checked."""
    checked = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name not in roots:  # `capture_io=True`, `prices={...}`: the monitor's keywords
                assert name in inspect.signature(GenerationMonitor).parameters, f"GenerationMonitor has no {name}="
                checked += 1
        if isinstance(node, ast.Attribute | ast.Name):
            parts = dotted(node)
            if parts is not None and parts[0] in roots:
                resolve(parts, roots)
                checked += 1
        if isinstance(node, ast.Call):
            parts = dotted(node.func)
            if parts is None or parts[0] not in roots:
                continue
            callee = resolve(parts, roots)
            if callee is genmon.enable:
                callee = GenerationMonitor  # enable takes GenerationMonitor's arguments
            if any(isinstance(a, ast.Starred) for a in node.args):
                continue
            keywords = {k.arg: None for k in node.keywords if k.arg is not None}
            inspect.signature(callee).bind_partial(*[None] * len(node.args), **keywords)
            if dataclasses.is_dataclass(callee) and node.args and all(isinstance(a, ast.Name) for a in node.args):
                # `ProfileRun(name, start, ...)` lists the fields in order
                fields = [f.name for f in dataclasses.fields(callee)]
                assert [a.id for a in node.args] == fields[: len(node.args)], f"{parts[0]} fields are {fields}"
            checked += 1
    return checked


@pytest.fixture
def roots(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The objects the genmon column names, real ones: a monitor, its snapshot, a span, an event."""
    monitor = GenerationMonitor(log_dir=tmp_path / "run", metrics_interval=0)
    events: list[Event] = []
    monitor.on("my_event", events.append)
    monitor.emit("my_event", value=1)
    with monitor.track("x") as span:
        pass
    assert monitor.flush(10)
    yield {
        "genmon": genmon,
        "monitor": monitor,
        "snapshot": monitor.resource_snapshot(),
        "span": span,
        "event": events[0],
        "asyncio": asyncio,
        "Alert": Alert,
        "GenerationMonitor": GenerationMonitor,
        "HttpHandler": HttpHandler,
        "MlflowHandler": MlflowHandler,
        "ProfileRun": ProfileRun,
    }
    monitor.close()


@pytest.mark.parametrize("system", SYSTEMS)
def test_each_section_is_a_side_by_side_table(system: str) -> None:
    """Each "Coming from" section has a table whose columns are that system's call and genmon's."""
    rows = table(section(system))
    assert rows and rows[0][1] == "genmon" and system.startswith(rows[0][0]), rows[:1]
    assert len(rows) >= 6 and all(len(row) == 2 for row in rows)


@pytest.mark.parametrize("system", SYSTEMS)
def test_the_genmon_column_names_what_genmon_has(system: str, roots: dict[str, Any]) -> None:
    """Every genmon call in the table exists and takes the arguments shown; every attribute shown exists."""
    checked = 0
    for code in genmon_snippets(section(system)):
        if code in NOT_PYTHON or keyword.iskeyword(code):
            continue
        tree = parse(code)
        assert tree is not None, f"not Python: {code!r}"
        checked += check_snippet(tree, roots)
    assert checked >= 5  # the column holds genmon calls, not only words


class Receiver:
    """A real HTTP server on 127.0.0.1 keeping the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


# A block the test cannot run (it needs a real service or a key) is marked in the README on the line before it:
# <!-- not run: the reason -->. No block of the four sections is marked today.
NOT_RUN = re.compile(r"<!-- not run: (.+?) -->\n```python\n")
# Only loopback: a block that reaches further fails instead of sending anything out.
LOOPBACK_ONLY = """
import socket as _socket

_connect = _socket.socket.connect


def _loopback_only(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if self.family in (_socket.AF_INET, _socket.AF_INET6) and host not in ("127.0.0.1", "::1", "localhost"):
        raise OSError(f"a README block reached {host}: only 127.0.0.1 is allowed")
    return _connect(self, address)


_socket.socket.connect = _loopback_only
"""
# What the reader brings to a section's blocks (what they leave undefined), and what the test does after them.
BEFORE = {
    "synalinks": "import asyncio\n\n\nasync def program(question):\n    await asyncio.sleep(0)\n    return question.upper()\n"
}
AFTER = {"synalinks": "assert asyncio.run(answer('why')) == 'WHY'\nassert genmon.disable(30)\n"}


def code_blocks(text: str) -> list[tuple[str, str | None]]:
    """Each python block of ``text`` with the reason it is not run, or None."""
    reasons = {match.end(): match.group(1) for match in NOT_RUN.finditer(text)}
    return [(m.group(1), reasons.get(m.start(1))) for m in re.finditer(r"```python\n(.*?)```", text, flags=re.DOTALL)]


def block_cases() -> list[Any]:
    cases = []
    for system in SYSTEMS:
        for number, (code, reason) in enumerate(code_blocks(section(system)), start=1):
            marks = [pytest.mark.skip(reason=f"marked in the README: {reason}")] if reason else []
            cases.append(pytest.param(system, code, id=f"{system}-{number}", marks=marks))
    return cases


def test_a_block_marked_not_run_is_skipped_with_its_reason() -> None:
    """The marker on the line before a block gives its reason; an unmarked block has none."""
    text = "x\n<!-- not run: needs an OpenAI key -->\n```python\na = 1\n```\n\n```python\nb = 2\n```\n"
    assert code_blocks(text) == [("a = 1\n", "needs an OpenAI key"), ("b = 2\n", None)]
    assert code_blocks(section("synalinks")), "the synalinks section lost its example"


@pytest.mark.parametrize(("system", "code"), block_cases())
def test_the_code_blocks_run(system: str, code: str, receiver: Receiver, tmp_path: Path) -> None:
    """Each python block of the four sections runs as written in a fresh interpreter, in an empty working
    directory, with no key in its environment and no network beyond 127.0.0.1: a URL on 127.0.0.1 or localhost
    points at a local receiver instead."""
    port = receiver.server.server_address[1]
    local = re.sub(r"http://(127\.0\.0\.1|localhost):\d+", f"http://127.0.0.1:{port}", code)
    script = "\n".join([LOOPBACK_ONLY, BEFORE.get(system, ""), local, AFTER.get(system, "")])
    env = {
        name: value
        for name, value in os.environ.items()
        if not re.search(r"KEY|TOKEN|SECRET|PROXY|MLFLOW|OTEL|GENMON", name, flags=re.IGNORECASE)
    }
    done = subprocess.run(
        [sys.executable, "-c", script], check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"README block of {system} failed:\n{local}\n{done.stderr}"
    if system == "synalinks":  # the block's HttpHandler posted the decorated call, with its inputs and outputs
        spans = [span for body in receiver.bodies for span in body.get("spans", [])]
        (answer,) = spans
        assert (answer["name"], answer["span_type"], answer["inputs"], answer["outputs"]) == (
            "answer",
            "CHAIN",
            {"question": "why"},
            "WHY",
        )
