"""report.html in a real browser: headless Chromium loads it with no console error and every plot decoded."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest

from genmon.cli.main import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(autouse=True)
def chromium(missing_program: Callable[[str], NoReturn]) -> None:
    """Every test here needs the browser: skipped without it, failed under CI (.ci/run installs it)."""
    if CHROMIUM is None:
        missing_program("chromium is not installed (.ci/run installs Debian's chromium package)")


def load_in_chromium(page: Path, profile: Path) -> tuple[str, list[str]]:
    """The DOM after load and the console messages, from headless Chromium."""
    assert CHROMIUM is not None, "chromium is not installed (.ci/run installs Debian's chromium package)"
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
        "--window-size=1280,800",  # a laptop screen: the charts sit two a row
        "--dump-dom",
        page.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return done.stdout, console


def images_ok(dom: str) -> tuple[int, int]:
    match = re.search(r'data-images-ok="(\d+)/(\d+)"', dom)
    assert match is not None, "the page's load handler did not run"
    return int(match.group(1)), int(match.group(2))


def page_height(dom: str) -> int:
    match = re.search(r'data-height="(\d+)"', dom)
    assert match is not None, "the page's load handler did not run"
    return int(match.group(1))


def test_report_loads_without_console_errors_every_plot_shows_and_it_fits_under_6000_px(tmp_path: Path) -> None:
    """The demo's report.html opens in Chromium with no console message, all images decoded, under 6,000 px tall."""
    run = tmp_path / "run"
    assert main(["demo", "--out", str(run)]) == 0
    dom, console = load_in_chromium(run / "report.html", tmp_path / "profile")
    assert console == []
    ok, total = images_ok(dom)
    assert total >= 9 and ok == total
    assert 1500 < page_height(dom) < 6000
    units = dom[dom.index('<div class="units">') :]
    assert units.count("<summary>") >= 10 and units.count("<details open") >= 1


def test_the_browser_check_catches_script_errors_and_broken_images(tmp_path: Path) -> None:
    """The same check fails on a page with a script error and an image that does not decode."""
    page = tmp_path / "broken.html"
    from genmon.plots.report_html import PAGE_SCRIPT

    page.write_text(
        f"<!DOCTYPE html><html><head><script>{PAGE_SCRIPT}</script></head><body>"
        '<img src="data:image/png;base64,AAAA"><script>notDefined();</script></body></html>'
    )
    dom, console = load_in_chromium(page, tmp_path / "profile")
    assert any("notDefined" in line for line in console)
    assert images_ok(dom) == (0, 1)
