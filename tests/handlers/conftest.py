"""Fixtures for the sink tests: a real HTTP server on 127.0.0.1 that records requests, and a shared `mlflow server`."""

from __future__ import annotations

import http.server
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class RecordingServer:
    """A local HTTP server: answers with queued statuses (then 200), can hang, records every request."""

    url: str
    port: int
    requests: list[RecordedRequest] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered first, one per request
    hang: threading.Event = field(default_factory=threading.Event)  # set: requests wait for `release`
    release: threading.Event = field(default_factory=threading.Event)
    entered: threading.Event = field(default_factory=threading.Event)  # a request is hanging
    extra_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes = b""  # the body of every answer
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self) -> list[bytes]:
        with self.lock:
            return [r.body for r in self.requests]


def _handler_class(state: RecordingServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if state.hang.is_set():
                state.entered.set()
                state.release.wait()
            with state.lock:
                state.requests.append(RecordedRequest(self.command, self.path, dict(self.headers), body))
                status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            for key, value in state.extra_headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(state.response_body)))
            self.end_headers()
            if state.response_body:
                self.wfile.write(state.response_body)

        do_POST = do_PUT = do_GET = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def http_server() -> Iterator[RecordingServer]:
    """A recording HTTP server on 127.0.0.1 (port 0), released and shut down at test end."""
    state = RecordingServer(url="", port=0)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(state))
    server.daemon_threads = True
    state.port = server.server_address[1]
    state.url = f"http://127.0.0.1:{state.port}/ingest"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="test-http-server", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- one real `mlflow server` for the whole test run -------------------------------------------
def _mlflow_command() -> list[str] | None:
    beside = Path(sys.executable).with_name("mlflow")
    found = str(beside) if beside.exists() else shutil.which("mlflow")
    return [found] if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def shared_mlflow_server(
    tmp_path_factory: pytest.TempPathFactory, missing_program: Callable[[str], NoReturn]
) -> Iterator[str]:
    """`mlflow server` on 127.0.0.1 (a free port, sqlite in a temporary directory), shared by every test of the run.

    Starting one takes 10-20 s (it creates its tables), so tests share it and
    keep apart by creating an experiment each. Ready when /health answers;
    the whole process group is ended at the end of the run.
    """
    if importlib.util.find_spec("mlflow") is None:
        missing_program("mlflow is not installed (pip install -e '.[test]')")
    command = _mlflow_command()
    if command is None:
        missing_program("the mlflow command is not installed")
    root = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    log = open(root / "server.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            *command,
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{root / 'server.db'}",
            "--artifacts-destination",
            str(root / "artifacts"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=root,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"mlflow server did not start: {(root / 'server.log').read_text()[-3000:]}")
            time.sleep(0.2)  # polling a child process' readiness: no event to wait on
        yield url
    finally:
        # The server runs worker processes in its own session: end the whole group we started.
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(10)
        log.close()
