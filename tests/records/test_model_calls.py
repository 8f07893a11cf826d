"""One definition of a model call, and every headline figure (bar, cards, tail, charts, summary) counting by it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from genmon import GenerationMonitor
from genmon.cli.demo import rates_text
from genmon.cli.tail import RunFollower, render
from genmon.exporters.calls import by_model, by_operation, headline
from genmon.monitor.store.metric_store import MetricStore
from genmon.plots.html_parts import cards
from genmon.records.model_calls import (
    call_kind,
    call_kinds,
    is_call_metric,
    is_model_call,
    model_call_mask,
    model_calls,
)
from genmon.testing import ManualClock

MODEL_CALLS, FAILED = 14, 5


class RateLimited(RuntimeError):
    pass


def mixed_run(monitor: GenerationMonitor, clock: ManualClock) -> None:
    """A batch CHAIN over 4 conversations (3 LLM calls each, one failing, and an EVALUATOR), plus 3 track_generation calls.

    Model calls: 12 LLM spans (4 failed) and 2 track_generation calls without a span type (1 failed) = 14, 5 failed.
    Wrappers: 5 CHAIN spans, 4 EVALUATOR spans and one track_generation call marked span_type="AGENT".
    """
    with monitor.track("generate", span_type="CHAIN"):
        for conversation in range(4):
            with monitor.track("generate_conversation", span_type="CHAIN"):
                for attempt in range(3):
                    clock.advance(0.5)
                    try:
                        with monitor.track("complete", model_name="m-large" if conversation % 2 else "m-small") as span:
                            if attempt == 0:
                                raise RateLimited("429")
                            span.set_usage(prompt_tokens=100, completion_tokens=20)
                    except RateLimited:
                        pass
                with monitor.track("evaluate", span_type="EVALUATOR"):
                    pass
    monitor.track_generation(1.5, True, model_name="m-small", operation="chat")
    monitor.track_generation(2.5, False, model_name="m-small", operation="chat", error="timeout")
    monitor.track_generation(9.0, True, operation="plan", span_type="AGENT")


@pytest.fixture
def mixed(make_monitor: Callable[..., GenerationMonitor]) -> GenerationMonitor:
    clock = ManualClock(1_800_000_000.0)
    monitor = make_monitor(clock=clock)
    mixed_run(monitor, clock)
    assert monitor.flush(10)
    return monitor


def test_what_is_a_model_call() -> None:
    """No span type (track_generation), LLM and CHAT_MODEL in any case are model calls; every other type is a wrapper."""
    assert [is_model_call(t) for t in (None, "LLM", "llm", "CHAT_MODEL", "chat_model")] == [True] * 5
    assert [is_model_call(t) for t in ("CHAIN", "AGENT", "EVALUATOR", "TOOL", "RETRIEVER", 3)] == [False] * 6
    assert [call_kind(t) for t in (None, "llm", "chain")] == ["model", "model", "CHAIN"]
    assert is_call_metric("generation_time") and is_call_metric("model_usage:gpt-4o")
    assert not is_call_metric("process/rss_bytes") and not is_call_metric("judge_score")


def test_point_helpers_select_model_calls_by_their_metadata() -> None:
    """The mask, the kinds and the selection read each point's span_type; the input series is left as it was."""
    store = MetricStore()
    store.append_batch(
        [
            ("generation_time", 0.1, 1.0, {"span_type": "LLM"}),
            ("generation_time", 2.5, 2.0, {"span_type": "CHAIN"}),
            ("generation_time", 0.2, 3.0, None),
            ("generation_time", 0.3, 4.0, {"span_type": "CHAT_MODEL", "model_name": "m"}),
        ]
    )
    series = store.series("generation_time")
    assert series is not None
    assert model_call_mask(series).tolist() == [True, False, True, True]
    assert call_kinds(series).tolist() == ["model", "CHAIN", "model", "model"]
    selected = model_calls(series)
    assert selected.values.tolist() == [0.1, 0.2, 0.3] and len(series) == 4
    assert selected.metadata()[2] == {"span_type": "CHAT_MODEL", "model_name": "m"}


def test_headline_counts_model_calls_and_keeps_wrappers_apart_by_span_type(mixed: GenerationMonitor) -> None:
    """14 model calls with 5 failures; CHAIN, EVALUATOR and AGENT calls are counted apart with their operations."""
    figures = headline(mixed.store.snapshot())
    assert (figures.model.calls, figures.model.errors) == (MODEL_CALLS, FAILED)
    assert figures.model.error_rate == pytest.approx(FAILED / MODEL_CALLS)
    assert [(w.label, w.calls, w.operations) for w in figures.wrappers] == [
        ("AGENT", 1, ("plan",)),
        ("CHAIN", 5, ("generate", "generate_conversation")),
        ("EVALUATOR", 4, ("evaluate",)),
    ]
    times = mixed.store.series("generation_time")
    assert times is not None
    expected = np.percentile(model_calls(times).values, [50, 95, 99]).tolist()
    assert [figures.model.p50, figures.model.p95, figures.model.p99] == pytest.approx(expected)
    assert figures.total_tokens == 8 * 120  # tokens and cost count every call: wrappers record none here


def test_per_model_and_per_operation_rows_are_sorted_and_never_blank(mixed: GenerationMonitor) -> None:
    """Models sorted by name over model calls only; operations with model calls first, then wrappers by span type."""
    rows, unnamed = by_model(mixed.store.snapshot())
    assert [(r.label, r.calls, r.errors) for r in rows] == [("m-large", 6, 2), ("m-small", 8, 3)]
    assert unnamed == 0
    operations = [(r.span_type, r.label, r.calls) for r in by_operation(mixed.store.snapshot())]
    assert operations == [
        ("model call", "chat", 2),
        ("model call", "complete", 12),
        ("AGENT", "plan", 1),
        ("CHAIN", "generate", 1),
        ("CHAIN", "generate_conversation", 4),
        ("EVALUATOR", "evaluate", 4),
    ]


def test_bar_cards_tail_charts_and_summary_agree_on_the_model_calls(mixed: GenerationMonitor, tmp_path: Path) -> None:
    """The demo's bar, the report cards, tail, the latency and rate charts and summary(by='call_kind') all count 14 calls."""
    bar = rates_text(mixed, time.perf_counter() - 1.0)
    assert bar.startswith(f"model calls: {MODEL_CALLS},") and "35.7% failed" in bar
    card = cards(headline(mixed.store.snapshot()))
    assert card["model calls"][0] == str(MODEL_CALLS) and card["error rate"][0] == "35.7%"
    follower = RunFollower(mixed.log_dir)
    follower.poll()
    from rich.console import Console

    console = Console(width=200, color_system=None)
    with console.capture() as capture:
        console.print(render(follower, 3600, follower.store.last_timestamp() or 0.0, 200))
    assert f"model calls: {MODEL_CALLS}," in capture.get() and "35.7% failed" in capture.get()
    figures = mixed.visualize_metrics(save_dir=tmp_path / "charts", figsize=(6, 3), return_figures=True)
    assert figures["generation_time"].axes[0].get_title(loc="left") == f"Model call latency ({MODEL_CALLS} calls)"
    rates_title = figures["success_error_rate"].axes[0].get_title(loc="left")
    assert rates_title == f"Success and error rates of model calls ({MODEL_CALLS} calls)"
    frame = mixed.summary(by="call_kind")
    assert frame.loc[("generation_time", "model"), "count"] == MODEL_CALLS
    assert frame.loc[("error_rate", "model"), "sum"] == FAILED
    assert frame.loc[("generation_time", "CHAIN"), "count"] == 5
    assert frame.loc[("generation_time", "EVALUATOR"), "count"] == 4
    assert frame.loc[("generation_time", "AGENT"), "count"] == 1


def test_summary_without_by_computes_call_metrics_over_model_calls_and_labels_wrappers(
    mixed: GenerationMonitor,
) -> None:
    """summary().loc['error_rate'] is the headline's figure; each wrapper span type's points are '<metric> [TYPE]' rows."""
    frame = mixed.summary()
    figures = headline(mixed.store.snapshot())
    assert frame.loc["generation_time", "count"] == figures.model.calls == MODEL_CALLS
    assert frame.loc["generation_time", "p95"] == pytest.approx(figures.model.p95)
    assert frame.loc["error_rate", "sum"] == FAILED
    assert frame.loc["error_rate", "mean"] == pytest.approx(figures.model.error_rate)
    assert frame.loc["model_usage:m-small", "count"] == 6 + 2  # 2 conversations x 3 attempts, plus 2 track_generation
    assert frame.loc["generation_time [CHAIN]", "count"] == 5
    assert frame.loc["generation_time [EVALUATOR]", "count"] == 4
    assert frame.loc["generation_time [AGENT]", "sum"] == pytest.approx(9.0)
    labels = list(frame.index)
    wrappers = [label for label in labels if label.endswith("]")]
    assert labels[-len(wrappers) :] == wrappers  # wrapper rows come after every other row
    assert [label.split(" [")[1] for label in wrappers] == sorted(label.split(" [")[1] for label in wrappers)
    total = mixed.summary(by="call_kind")["count"].groupby(level=0).sum()
    assert frame["count"].groupby(lambda label: label.split(" [")[0]).sum().to_dict() == total.to_dict()
