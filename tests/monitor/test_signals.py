"""SIGTERM (docker stop, Kubernetes, systemd) drains what is queued, then does what it would have done."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CHILD = textwrap.dedent(
    """
    import os, signal, sys, threading, time
    from pathlib import Path
    from genmon import FileMetricHandler, GenerationMonitor

    log_dir, mode = Path(sys.argv[1]), sys.argv[2]
    # A program started as a background job of a shell without job control inherits SIGINT
    # ignored, and Python then keeps it ignored: this child is an ordinary foreground program.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if mode == "app-handler":
        def app_handler(signum, frame):
            (log_dir / "app-handler-ran").write_text("yes")
            sys.exit(3)
        signal.signal(signal.SIGTERM, app_handler)

    class SlowStart:
        # Holds the worker on its first batch, so the points recorded meanwhile stay queued.
        runs_inline = True
        def __init__(self):
            self.first = True
        def handle_batch(self, points):
            if self.first:
                self.first = False
                time.sleep(1.0)

    monitor = GenerationMonitor(
        log_dir=log_dir,
        metric_handlers=[SlowStart(), FileMetricHandler(log_dir)],
        metrics_interval=0,
        shutdown_timeout=60,
        handle_signals=mode != "off",
    )
    monitor.record_metric("first", 0.0)
    for i in range(200_000):
        monitor.record_metric("x", float(i))
    print(monitor.stats()["queued"], flush=True)  # the parent sends SIGTERM now
    time.sleep(60)
    """
)


def run_until_sigterm(tmp_path: Path, mode: str, signum: int = signal.SIGTERM) -> tuple[int, int, int]:
    """(exit code, points queued when the signal was sent, lines in metrics.jsonl)."""
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    child = subprocess.Popen([sys.executable, str(script), str(tmp_path), mode], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    queued = int(child.stdout.readline())
    child.send_signal(signum)
    code = child.wait(120)
    child.stdout.close()
    metrics = tmp_path / "metrics.jsonl"
    lines = len(metrics.read_bytes().splitlines()) if metrics.exists() else 0
    return code, queued, lines


def test_sigterm_drains_the_queue_then_ends_the_process_by_the_signal(tmp_path: Path) -> None:
    """200k points queued at SIGTERM all reach metrics.jsonl; the process still ends by SIGTERM."""
    code, queued, lines = run_until_sigterm(tmp_path, "default")
    assert queued > 100_000  # most of the points were still queued when the signal came
    assert lines == 200_001
    assert code == -signal.SIGTERM


def test_sigterm_with_an_application_handler_flushes_then_chains_to_it(tmp_path: Path) -> None:
    """An application's own SIGTERM handler is kept: genmon flushes, then calls it (here it exits 3)."""
    code, queued, lines = run_until_sigterm(tmp_path, "app-handler")
    assert queued > 100_000
    assert lines == 200_001
    assert code == 3 and (tmp_path / "app-handler-ran").read_text() == "yes"


def test_handle_signals_false_leaves_sigterm_alone(tmp_path: Path) -> None:
    """With handle_signals=False the signal kills the process as before: what was queued is lost."""
    code, _, lines = run_until_sigterm(tmp_path, "off")
    assert code == -signal.SIGTERM
    assert lines < 200_001


def test_signal_handlers_are_installed_only_from_the_main_thread() -> None:
    """Building a monitor in another thread never touches the process's signal handlers."""
    import threading

    from genmon.monitor import lifecycle

    results: list[bool] = []
    thread = threading.Thread(target=lambda: results.append(lifecycle.install_signal_handlers()))
    thread.start()
    thread.join(10)
    assert results == [False]


@pytest.mark.parametrize("handler", [signal.SIG_IGN])
def test_an_ignored_signal_stays_ignored(tmp_path: Path, handler: object) -> None:
    """A process that ignores SIGTERM keeps ignoring it after a monitor is built."""
    code = subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                "from genmon import GenerationMonitor\n"
                f"m = GenerationMonitor(log_dir={str(tmp_path)!r}, metrics_interval=0)\n"
                "assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN\n"
                "m.close()\n"
            ),
        ],
        check=False,
        timeout=120,
    ).returncode
    assert code == 0


def test_ctrl_c_drains_through_the_exit_hook(tmp_path: Path) -> None:
    """SIGINT keeps Python's KeyboardInterrupt: the program unwinds, the exit hook drains, the queue reaches the file."""
    code, queued, lines = run_until_sigterm(tmp_path, "default", signal.SIGINT)
    assert queued > 100_000
    assert lines == 200_001
    assert code == -signal.SIGINT  # Python re-raises SIGINT after its clean-up


HUNG_MONITORS = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from genmon import GenerationMonitor
    from genmon.testing import BlockingHandler

    log_dir, count, timeout = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    hung = [BlockingHandler() for _ in range(count)]  # never released
    monitors = [
        GenerationMonitor(log_dir=log_dir / str(i), metric_handlers=[h], metrics_interval=0, shutdown_timeout=timeout)
        for i, h in enumerate(hung)
    ]
    for monitor in monitors:
        monitor.record_metric("x", 1.0)
    for handler in hung:
        handler.entered.wait()
    print("hung", flush=True)  # the parent sends SIGTERM now
    time.sleep(600)
    """
)


def test_sigterm_drains_several_monitors_within_one_shutdown_timeout(tmp_path: Path) -> None:
    """Six monitors, each with a hung handler: the SIGTERM drain shares one deadline, not one timeout per monitor.

    The bound is itself the requirement. A close with a hung metric handler
    waits for it until 80% of its timeout (the log sinks get the rest), so
    one monitor after another the six take at least 6 x 1.6 s = 9.6 s.
    Together they take about one timeout, plus what a close may run past it
    to log its loss (an abort's short join) and the slack of a loaded
    machine: under 3 timeouts (6 s) is generous for that, and still well
    short of what a drain one monitor at a time needs.
    """
    import time

    count, timeout_s = 6, 2.0
    script = tmp_path / "child.py"
    script.write_text(HUNG_MONITORS)
    child = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path), str(count), str(timeout_s)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline() == "hung\n"
    sent = time.monotonic()
    child.send_signal(signal.SIGTERM)
    code = child.wait(120)
    took = time.monotonic() - sent
    child.stdout.close()
    assert code == -signal.SIGTERM
    assert took < 3 * timeout_s, f"the drain took {took:.1f} s for {count} monitors of {timeout_s} s"
    for i in range(count):  # every monitor's close ran to its deadline and logged its loss
        assert "1 records not delivered by the close deadline" in (tmp_path / str(i) / "genmon.log").read_text()
