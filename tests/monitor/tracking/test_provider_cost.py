"""The cost a provider reports (OpenRouter's usage.cost, LiteLLM's response_cost) before the price table, and its source.

The responses come from the real OpenAI and LiteLLM clients talking to an
OpenAI-compatible server on 127.0.0.1 that answers as OpenRouter does.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any
from unittest.mock import MagicMock

import pytest

from genmon import GenerationMonitor
from genmon.monitor.tracking.usage import read_usage

Make = Callable[..., GenerationMonitor]
PRICES = {"openai/gpt-4o-mini": (1.0, 2.0)}  # USD per 1k tokens: far from any provider's figure
OPENROUTER_COST = 0.00095


def completion_body(cost: float | None, number: int = 1, prompt_tokens: int = 194) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": 2,
        "total_tokens": prompt_tokens + 2,
    }
    if cost is not None:  # OpenRouter's usage accounting: the call's cost in credits (US dollars)
        usage |= {"cost": cost, "cost_details": {"upstream_inference_cost": None}}
    return {
        "id": f"gen-{number}",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "openai/gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": usage,
    }


class Provider:
    """An OpenAI-compatible chat server on 127.0.0.1; ``cost`` is what it puts in usage.cost (None: nothing).

    Requests are numbered 1, 2, ... and each response's id is ``gen-<number>``. ``cost`` and
    ``prompt_tokens`` may be functions of that number, for different figures per call; ``served``
    maps each response id to the cost it carried.
    """

    def __init__(self) -> None:
        self.cost: float | Callable[[int], float] | None = OPENROUTER_COST
        self.prompt_tokens: Callable[[int], int] = lambda number: 194
        self.served: dict[str, float | None] = {}
        lock = threading.Lock()
        provider = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    number = len(provider.served) + 1
                    cost = provider.cost(number) if callable(provider.cost) else provider.cost
                    response = completion_body(cost, number, provider.prompt_tokens(number))
                    provider.served[response["id"]] = cost
                body = json.dumps(response).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_port}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture
def provider() -> Iterator[Provider]:
    server = Provider()
    yield server
    server.close()


def finished(monitor: GenerationMonitor) -> list[Any]:
    monitor.sync_store()
    return monitor.get_spans()


def cost_point(monitor: GenerationMonitor) -> tuple[float, dict[str, Any]]:
    monitor.sync_store()
    series = monitor.store.series("cost_usd")
    assert series is not None and len(series) == 1
    return float(series.values[0]), series.metadata()[0] or {}


def test_openrouter_cost_through_the_openai_client_wins_over_the_price_table(
    make_monitor: Make, provider: Provider
) -> None:
    """usage.cost of a response the OpenAI client parsed is the call's cost, recorded with cost_source "provider"."""
    import openai

    monitor = make_monitor(prices=PRICES)
    with openai.OpenAI(base_url=provider.base_url, api_key="test") as client:

        @monitor.track("chat", model_name="openai/gpt-4o-mini")
        def chat() -> Any:
            return client.chat.completions.create(
                model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
            )

        chat()
    [span] = finished(monitor)
    assert (span.cost_usd, span.cost_source) == (OPENROUTER_COST, "provider")
    assert (span.prompt_tokens, span.completion_tokens) == (194, 2)
    value, metadata = cost_point(monitor)
    assert value == OPENROUTER_COST and metadata["cost_source"] == "provider"
    assert metadata["model_name"] == "openai/gpt-4o-mini"


def test_openrouter_cost_in_an_async_call(make_monitor: Make, provider: Provider) -> None:
    """The async client's response carries the same cost into an async tracked call."""
    import openai

    monitor = make_monitor(prices=PRICES)

    async def run() -> None:
        client = openai.AsyncOpenAI(base_url=provider.base_url, api_key="test")
        async with client, monitor.track("chat", model_name="openai/gpt-4o-mini") as span:
            response = await client.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}])
            span.set_result(response)

    asyncio.run(run())
    [span] = finished(monitor)
    assert (span.cost_usd, span.cost_source) == (OPENROUTER_COST, "provider")


def in_threads(call: Callable[[], None], threads: int = 4, calls: int = 10) -> None:
    """``calls`` calls of ``call`` in each of ``threads`` threads; a thread's failure fails the test."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            for _ in range(calls):
                call()
        except BaseException as error:  # noqa: BLE001 - handed to the test
            failures.append(error)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert not failures, failures
    assert not any(worker.is_alive() for worker in workers)


def test_openrouter_costs_of_calls_from_threads_each_reach_their_own_span(
    make_monitor: Make, provider: Provider
) -> None:
    """4 threads x 10 tracked calls through one OpenAI client, all 4 in flight at once, each response with its
    own usage.cost: each span has its own response's cost, source "provider", and the cost points add up."""
    import openai

    from genmon.monitor.tracking.span import current_span

    provider.cost = lambda number: number * 2**-20  # binary fractions: every sum below is exact
    monitor = make_monitor(prices=PRICES)
    inside = threading.Barrier(4, timeout=60)  # each call returns once the other threads' calls are open too
    response_of: dict[str, str] = {}  # span call_id -> the id of the response its call got
    with openai.OpenAI(base_url=provider.base_url, api_key="test", max_retries=0) as client:

        @monitor.track("chat", model_name="openai/gpt-4o-mini")
        def chat() -> Any:
            response = client.chat.completions.create(
                model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
            )
            span = current_span()
            assert span is not None
            response_of[span.call_id] = response.id
            inside.wait()
            return response

        in_threads(chat)
    spans = finished(monitor)
    assert len(spans) == 40 and len(provider.served) == 40 and len(set(response_of.values())) == 40
    assert {span.cost_source for span in spans} == {"provider"}
    assert {span.call_id: span.cost_usd for span in spans} == {
        call_id: provider.served[response_id] for call_id, response_id in response_of.items()
    }
    series = monitor.store.series("cost_usd")
    assert series is not None and len(series) == 40
    assert float(series.values.sum()) == sum(range(1, 41)) * 2**-20
    assert {m["cost_source"] for m in series.metadata()} == {"provider"}


def test_litellm_costs_of_calls_from_threads_each_reach_their_own_span(
    make_monitor: Make, provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """4 threads x 5 litellm.completion calls, all 4 in flight at once, each response with its own token count:
    each span has the response_cost LiteLLM put on its own response, source "litellm"."""
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # its bundled prices, no download
    import litellm

    provider.cost = None
    provider.prompt_tokens = lambda number: 1_000 * number  # a different LiteLLM cost per call
    monitor = make_monitor(prices=PRICES)
    inside = threading.Barrier(4, timeout=60)
    cost_of: dict[str, Any] = {}  # span call_id -> its response's response_cost

    def chat() -> None:
        with monitor.track("chat", model_name="openai/gpt-4o-mini") as span:
            response = litellm.completion(
                model="openai/gpt-4o-mini",
                messages=[{"role": "user", "content": "hi"}],
                api_base=provider.base_url,
                api_key="test",
            )
            cost_of[span.call_id] = response._hidden_params["response_cost"]
            inside.wait()
            span.set_result(response)

    in_threads(chat, calls=5)
    spans = finished(monitor)
    assert len(spans) == 20 and len(set(cost_of.values())) == 20
    assert all(isinstance(cost, float) and cost > 0 for cost in cost_of.values())
    assert {span.cost_source for span in spans} == {"litellm"}
    assert {span.call_id: span.cost_usd for span in spans} == cost_of


def test_litellm_response_cost_is_used_when_the_provider_reports_none(
    make_monitor: Make, provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without usage.cost, LiteLLM's own figure (_hidden_params["response_cost"]) is used, with cost_source "litellm"."""
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # its bundled prices, no download
    import litellm

    provider.cost = None
    monitor = make_monitor(prices=PRICES)
    messages = [{"role": "user", "content": "hi"}]
    with monitor.track("chat", model_name="openai/gpt-4o-mini") as span:
        response = litellm.completion(
            model="openai/gpt-4o-mini", messages=messages, api_base=provider.base_url, api_key="test"
        )
        span.set_result(response)
    expected = response._hidden_params["response_cost"]
    assert isinstance(expected, float) and 0 < expected < 0.001  # LiteLLM's price, not PRICES' 0.198
    [record] = finished(monitor)
    assert (record.cost_usd, record.cost_source) == (expected, "litellm")
    value, metadata = cost_point(monitor)
    assert value == expected and metadata["cost_source"] == "litellm" and metadata["finish_reason"] == "stop"


def test_the_price_table_prices_what_no_one_reported(make_monitor: Make, provider: Provider) -> None:
    """A response without a cost is priced from the table: cost_source "price_table"."""
    import openai

    provider.cost = None
    monitor = make_monitor(prices=PRICES)
    with openai.OpenAI(base_url=provider.base_url, api_key="test") as client, monitor.track("chat") as span:
        span.set_result(client.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}]))
    [record] = finished(monitor)
    assert record.cost_usd == pytest.approx((194 * 1.0 + 2 * 2.0) / 1000)
    assert record.cost_source == "price_table"
    assert cost_point(monitor)[1]["cost_source"] == "price_table"


def test_set_cost_wins_over_a_reported_cost(make_monitor: Make) -> None:
    """span.set_cost is the caller's own figure: a response read before or after it does not replace it."""
    monitor = make_monitor(prices=PRICES)
    response = completion_body(OPENROUTER_COST)
    with monitor.track("chat") as span:
        span.set_result(response)
        span.set_cost(0.5)
        span.set_result(response)
    [record] = finished(monitor)
    assert (record.cost_usd, record.cost_source) == (0.5, "explicit")


@pytest.mark.parametrize(
    "response",
    [
        MagicMock(),  # answers any attribute: no number, so no cost
        {"usage": {"prompt_tokens": 3, "cost": "0.1"}},  # text is not a cost
        {"usage": {"prompt_tokens": 3, "cost": float("nan")}},
        {"usage": {"prompt_tokens": 3, "cost": -1.0}},
        {"usage": {"prompt_tokens": 3, "cost": True}},
        {"usage": {"prompt_tokens": 3}, "_hidden_params": {"response_cost": None}},  # LiteLLM could not price it
    ],
)
def test_only_a_real_cost_counts(response: Any) -> None:
    """What is not a finite number >= 0 is no cost: the price table prices the call instead."""
    usage = read_usage(response)
    assert (usage.cost_usd, usage.cost_source) == (None, None)


def test_no_cost_and_no_price_leaves_the_cost_unknown(make_monitor: Make) -> None:
    """With no reported cost and no price, a call has no cost point and no cost source."""
    monitor = make_monitor()
    with monitor.track("chat") as span:
        span.set_result({"usage": {"prompt_tokens": 3, "completion_tokens": 4}})
    [record] = finished(monitor)
    assert (record.cost_usd, record.cost_source) == (None, None)
    monitor.sync_store()
    assert monitor.store.series("cost_usd") is None
