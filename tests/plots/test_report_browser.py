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


def load_in_chromium(page: Path, profile: Path, *flags: str) -> tuple[str, list[str]]:
    """The DOM after load and the console messages, from headless Chromium (with extra ``flags``)."""
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
        *flags,
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


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One `genmon demo` run directory, shared by the tests that load its report."""
    run = tmp_path_factory.mktemp("demo") / "run"
    assert main(["demo", "--out", str(run)]) == 0
    return run


def test_report_loads_without_console_errors_every_plot_shows_and_it_fits_under_6000_px(
    demo_run: Path, tmp_path: Path
) -> None:
    """The demo's report.html opens in Chromium with no console message, all images decoded, under 6,000 px tall."""
    run = demo_run
    dom, console = load_in_chromium(run / "report.html", tmp_path / "profile")
    assert console == []
    ok, total = images_ok(dom)
    assert total >= 9 and ok == total
    assert 1500 < page_height(dom) < 6000
    units = dom[dom.index('<div class="units">') :]
    assert units.count("<summary>") >= 10 and units.count("<details open") >= 1


# A phone's width. Headless Chromium lays a window narrower than 500 px out at 500, so the report is
# loaded in a 390 px iframe of a page beside it (reading the frame needs file access between files).
PHONE_FRAME = """<!DOCTYPE html><html><body><iframe id="report" src="{src}" style="width:390px;height:800px;border:0">
</iframe><script>window.addEventListener("load", function () {{
  var page = document.getElementById("report").contentDocument.documentElement;
  document.body.setAttribute("data-frame", page.clientWidth + "/" + page.scrollWidth);
}});</script></body></html>"""


def test_on_a_phone_the_report_is_never_wider_than_the_screen(demo_run: Path, tmp_path: Path) -> None:
    """In 390 px the charts stack one a row and wide tables scroll inside themselves: the page never scrolls sideways."""
    frame = tmp_path / "phone.html"
    frame.write_text(PHONE_FRAME.format(src=(demo_run / "report.html").resolve().as_uri()))
    dom, console = load_in_chromium(frame, tmp_path / "profile", "--allow-file-access-from-files")
    assert console == []
    match = re.search(r'data-frame="(\d+)/(\d+)"', dom)
    assert match is not None, "the frame page's load handler did not run"
    visible, content = int(match.group(1)), int(match.group(2))
    assert 300 < visible <= 390 and content == visible


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
