"""The monitor in a notebook: a readable repr and an HTML view with the headline figures over model calls."""

from __future__ import annotations

import re
from collections.abc import Callable

from genmon import GenerationMonitor
from genmon.testing import ManualClock


def test_repr_names_the_run_its_state_and_its_counts(make_monitor: Callable[..., GenerationMonitor]) -> None:
    """repr() gives the run name, open or closed, the log directory and what was recorded, stored and dropped."""
    monitor = make_monitor(run_name="nightly", metric_handlers=[])
    monitor.record_metric("latency", 0.5)
    assert monitor.flush(10)
    text = repr(monitor)
    assert text.startswith("<GenerationMonitor 'nightly' open, log_dir=") and text.endswith(">")
    assert "1 point recorded, 1 stored, 0 dropped" in text
    monitor.close()
    assert " closed, " in repr(monitor)


def test_repr_html_shows_cards_over_model_calls_wrappers_apart_and_tables(
    make_monitor: Callable[..., GenerationMonitor],
) -> None:
    """_repr_html_ has the cards (model calls, error rate, latency), the wrapper line, the per-model table."""
    clock = ManualClock(1_800_000_000.0)
    monitor = make_monitor(clock=clock, run_name="nightly", tags={"dataset": "v3"}, config={"temperature": 0.7})
    with monitor.track("generate", span_type="CHAIN"):
        for i in range(4):
            clock.advance(1)
            monitor.track_generation(0.2 + i / 10, i != 0, model_name="gpt-4o", operation="chat")
    html = monitor._repr_html_()
    assert (
        "<b>GenerationMonitor nightly</b>" in html and "dataset=v3" in html and "temperature=<code>0.7</code>" in html
    )
    card = re.search(r'<div class="card">model calls<b>(\d+)</b>', html)
    assert card is not None and card.group(1) == "4"  # the CHAIN wrapper is not a model call
    assert '<div class="card">error rate<b>25.0%</b>' in html
    assert "Wrappers, counted apart from model calls: CHAIN 1 call (generate)" in html
    assert "<h4>Model calls by model</h4>" in html and "<td>gpt-4o</td>" in html
    assert "<summary>Slowest units of work</summary>" in html and "<summary>Every metric (" in html


def test_repr_html_of_an_empty_monitor_says_so(make_monitor: Callable[..., GenerationMonitor]) -> None:
    """A monitor that recorded nothing shows that, not empty cards."""
    assert "Nothing recorded yet." in make_monitor(metric_handlers=[])._repr_html_()
