"""monitor.attach: one line to monitor a sync or async generator."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

from genmon import GenerationMonitor
from genmon.monitor.tracking.attach import detach, span_type_for
from genmon.simulated import PRICES, ConversationGenerator, RateLimitError, SimulatedLLM

Make = Callable[..., GenerationMonitor]


class EchoClient:
    """A sync LLM client returning an OpenAI-shaped dict."""

    def complete(self, prompt: str, model: str = "echo-1") -> dict[str, Any]:
        return {"model": model, "usage": {"prompt_tokens": len(prompt), "completion_tokens": 5}, "text": prompt[::-1]}


class SyncGenerator:
    """A plain sync generator holding a client; it knows nothing of genmon."""

    def __init__(self) -> None:
        self.client = EchoClient()
        self.settings = {"temperature": 0.2}

    def generate(self, prompts: list[str]) -> list[str]:
        return [self.generate_one(p) for p in prompts]

    def generate_one(self, prompt: str) -> str:
        if prompt == "fail":
            raise ValueError("bad prompt")
        return str(self.client.complete(prompt, model="echo-2")["text"])

    def evaluate(self, text: str) -> float:
        return float(len(text))

    def stream(self, prompt: str) -> Any:
        yield prompt  # a generator function: left alone

    def helper(self) -> str:
        return "not a generation method"


class AfterimageStyleGenerator:
    """Like afterimage's generators: takes monitor= and reports to it itself."""

    def __init__(self, monitor: Any = None) -> None:
        self.monitor = monitor

    def generate(self) -> None:
        self.monitor.track_generation(0.25, True, model_name="m1", prompt_token_count=7)


def test_span_types_follow_method_names() -> None:
    """Method names map to span types; other names are not generation methods."""
    assert span_type_for("generate_conversation") == "CHAIN"
    assert span_type_for("evaluate") == "EVALUATOR"
    assert span_type_for("acomplete") == "LLM"
    assert span_type_for("chat") == "CHAT_MODEL"
    assert span_type_for("generated_at") is None and span_type_for("helper") is None


def test_attach_wraps_a_sync_generator_and_its_client(make_monitor: Make) -> None:
    """Generation methods and the client's complete become spans with parents, types, model and usage."""
    monitor = make_monitor()
    generator = SyncGenerator()
    assert monitor.attach(generator) is generator
    assert generator.generate(["ab", "cde"]) == ["ba", "edc"]
    assert generator.evaluate("xyz") == 3.0
    assert list(generator.stream("s")) == ["s"] and generator.helper() == "not a generation method"
    monitor.sync_store()
    spans = monitor.get_spans()
    by_id = {s.call_id: s for s in spans}
    (root,) = monitor.get_spans(name="generate")
    assert (root.span_type, root.component, root.parent_call_id) == ("CHAIN", "SyncGenerator", None)
    ones = monitor.get_spans(name="generate_one")
    assert len(ones) == 2 and all(s.parent_call_id == root.call_id for s in ones)
    calls = monitor.get_spans(name="complete")
    assert [(c.span_type, c.component, c.model_name) for c in calls] == [("LLM", "EchoClient", "echo-2")] * 2
    assert [c.prompt_tokens for c in calls] == [2, 3]
    assert {by_id[str(c.parent_call_id)].name for c in calls} == {"generate_one"}
    assert monitor.get_spans(name="evaluate")[0].span_type == "EVALUATOR"
    assert {s.name for s in spans} == {"generate", "generate_one", "complete", "evaluate"}
    assert "generate" not in vars(SyncGenerator()) and not hasattr(SyncGenerator.generate, "__genmon_attached__")


def test_attached_methods_reraise_and_record_failures(make_monitor: Make) -> None:
    """An exception inside an attached method propagates unchanged and its span is a failure."""
    monitor = make_monitor()
    generator = monitor.attach(SyncGenerator())
    with pytest.raises(ValueError, match="bad prompt"):
        generator.generate(["ok", "fail"])
    monitor.sync_store()
    assert [s.success for s in monitor.get_spans(name="generate_one")] == [True, False]
    assert monitor.get_spans(name="generate")[0].exception_type == "ValueError"


def test_attach_an_async_generator_with_retries(make_monitor: Make) -> None:
    """The simulated async generator: every attempt is an LLM span under its conversation, with tokens and cost."""
    monitor = make_monitor(prices=PRICES)
    generator = ConversationGenerator(SimulatedLLM(error_rate=0.3, seed=3, latency_s=0.0), concurrency=4, backoff_s=0.0)
    monitor.attach(generator)
    done = asyncio.run(generator.generate(10))
    monitor.sync_store()
    (root,) = monitor.get_spans(name="generate")
    conversations = monitor.get_spans(name="generate_conversation")
    assert len(conversations) == 10 and all(c.parent_call_id == root.call_id for c in conversations)
    ids = {c.call_id for c in conversations}
    attempts = monitor.get_spans(name="complete")
    assert attempts and all(a.parent_call_id in ids for a in attempts)
    failed = [a for a in attempts if not a.success]
    assert failed and all(a.exception_type == "RateLimitError" for a in failed)
    ok = [a for a in attempts if a.success]
    assert all(a.prompt_tokens and a.completion_tokens and a.cost_usd and a.model_name in PRICES for a in ok)
    assert len(monitor.get_spans(name="evaluate_conversation")) == len(done)
    assert monitor.get_metrics("cost_usd")["sum"] == pytest.approx(sum(a.cost_usd for a in ok))  # type: ignore[misc]
    assert generator.client.calls == len(attempts)
    assert issubclass(RateLimitError, RuntimeError)


def test_generator_with_a_monitor_attribute_gets_the_monitor(make_monitor: Make) -> None:
    """An afterimage-style generator gets its monitor attribute set and is not wrapped."""
    monitor = make_monitor()
    generator = AfterimageStyleGenerator()
    monitor.attach(generator)
    assert generator.monitor is monitor and "generate" not in vars(generator)
    generator.generate()
    monitor.sync_store()
    assert monitor.get_metrics("prompt_token_count")["sum"] == 7 and monitor.get_spans() == []


def test_attach_twice_wraps_once_and_detach_restores(make_monitor: Make) -> None:
    """A second attach adds no second wrapper; detach removes the wrappers from the object and its clients."""
    monitor = make_monitor()
    generator = SyncGenerator()
    monitor.attach(generator)
    monitor.attach(generator)
    generator.generate_one("a")
    monitor.sync_store()
    assert len(monitor.get_spans(name="generate_one")) == 1 and len(monitor.get_spans(name="complete")) == 1
    assert detach(generator) == 4  # generate, generate_one, evaluate and the client's complete
    generator.generate_one("b")
    monitor.sync_store()
    assert len(monitor.get_spans()) == 2


def test_explicit_methods_and_span_type(make_monitor: Make) -> None:
    """methods= tracks exactly the named methods, with the given span type; an unknown name raises."""
    monitor = make_monitor()
    generator = AfterimageStyleGenerator(monitor)
    monitor.attach(SyncGenerator(), methods=["helper"], span_type="TOOL").helper()
    monitor.attach(generator, methods=["generate"], span_type="AGENT").generate()
    monitor.sync_store()
    assert [(s.name, s.span_type) for s in monitor.get_spans()] == [("helper", "TOOL"), ("generate", "AGENT")]
    with pytest.raises(AttributeError):
        monitor.attach(SyncGenerator(), methods=["missing"])


def test_nothing_to_attach_raises(make_monitor: Make) -> None:
    """An object with no generation method and no monitor attribute is refused with a hint."""
    monitor = make_monitor()
    with pytest.raises(ValueError, match="methods="):
        monitor.attach(object())


def test_a_wrapper_returning_its_clients_response_does_not_count_tokens_twice(make_monitor) -> None:
    """attach tracks the generator method and the client call; the tokens of one response count once."""

    class Client:
        def complete(self, model: str = "m") -> dict:
            return {"usage": {"prompt_tokens": 100, "completion_tokens": 50}}

    class Generator:
        def __init__(self) -> None:
            self.client = Client()

        def generate(self) -> dict:
            return self.client.complete(model="m")

    monitor = make_monitor(prices={"m": (1.0, 1.0)})
    generator = monitor.attach(Generator())
    for _ in range(10):
        generator.generate()
    assert monitor.flush(10)
    report = monitor.get_total_token_usage()
    assert (report.total_prompt_tokens, report.total_completion_tokens) == (1000, 500)
    assert monitor.get_metrics("cost_usd")["sum"] == pytest.approx(10 * 0.15)


class Module:
    """A program's module: a generation method and a client it calls."""

    def __init__(self, name: str, client: EchoClient) -> None:
        self.name = name
        self.client = client
        self.program: Any = None  # points back up: a cycle the walk must not follow

    def run(self, prompt: str) -> str:
        return str(self.client.complete(prompt)["text"])


class Program:
    """A program whose modules (in a list and a dict) hold LLM clients, one client shared by two modules."""

    def __init__(self) -> None:
        shared = EchoClient()
        self.modules = [Module("a", shared), Module("b", shared)]
        self.extra = {"c": Module("c", EchoClient())}
        self.worker = threading.Thread(target=lambda: None)  # the standard library's: never looked into
        self.lock = threading.Lock()
        for module in (*self.modules, *self.extra.values()):
            module.program = self

    def generate(self, prompt: str) -> list[str]:
        return [m.run(prompt) for m in (*self.modules, *self.extra.values())]


def _counts(monitor: GenerationMonitor) -> dict[str, int]:
    counts: dict[str, int] = {}
    for span in monitor.get_spans():
        counts[span.name] = counts.get(span.name, 0) + 1
    return counts


def test_depth_reaches_the_clients_of_a_programs_modules_once_each(make_monitor: Make) -> None:
    """depth=2: the modules' run and their clients' complete are tracked; shared objects and cycles wrapped once."""
    monitor = make_monitor()
    program = Program()
    monitor.attach(program, depth=2)
    assert program.generate("xy") == ["yx", "yx", "yx"]
    assert monitor.flush(10)
    assert _counts(monitor) == {"generate": 1, "run": 3, "complete": 3}
    (root,) = monitor.get_spans(name="generate")
    runs = monitor.get_spans(name="run")
    assert {s.parent_call_id for s in runs} == {root.call_id}
    assert {s.parent_call_id for s in monitor.get_spans(name="complete")} == {s.call_id for s in runs}
    assert {s.component for s in runs} == {"Module"}
    assert "run" not in vars(program.worker)  # a Thread's run is not a generation method to wrap
    # the shared client holds one wrapper, not two stacked
    shared_complete = program.modules[0].client.complete
    assert shared_complete.__genmon_attached__ and not hasattr(shared_complete.__wrapped__, "__genmon_attached__")


def test_default_depth_tracks_only_the_clients_held_directly(make_monitor: Make) -> None:
    """depth=1 (the default) is attach as it was: the object's methods and the clients it holds itself."""
    monitor = make_monitor()
    program = Program()
    monitor.attach(program)
    program.generate("a")
    assert monitor.flush(10)
    assert _counts(monitor) == {"generate": 1}
    monitor.attach(SyncGenerator(), depth=0).generate_one("z")
    assert monitor.flush(10)
    assert "complete" not in _counts(monitor)  # depth=0: not even the held client


def test_attaching_again_deeper_wraps_nothing_twice_and_detach_removes_every_level(make_monitor: Make) -> None:
    """A second, deeper attach adds only what was not tracked; detach undoes every level."""
    monitor = make_monitor()
    program = Program()
    monitor.attach(program, depth=1)
    monitor.attach(program, depth=3)
    monitor.attach(program, depth=3)
    program.generate("q")
    assert monitor.flush(10)
    assert _counts(monitor) == {"generate": 1, "run": 3, "complete": 3}
    assert detach(program) == 1 + 3 + 2  # generate, three runs, two distinct clients
    program.generate("q")
    assert monitor.flush(10)
    assert _counts(monitor) == {"generate": 1, "run": 3, "complete": 3}


def test_a_nested_object_with_a_monitor_attribute_gets_the_monitor(make_monitor: Make) -> None:
    """Below the top, an afterimage-style generator reports itself: it gets the monitor and is not wrapped."""

    class Pipeline:
        def __init__(self) -> None:
            self.stage = AfterimageStyleGenerator()

        def run(self) -> None:
            self.stage.generate()

    monitor = make_monitor()
    pipeline = monitor.attach(Pipeline(), depth=2)
    assert pipeline.stage.monitor is monitor and "generate" not in vars(pipeline.stage)
    pipeline.run()
    assert monitor.flush(10)
    assert _counts(monitor) == {"run": 1} and monitor.get_metrics("prompt_token_count")["sum"] == 7
    with pytest.raises(ValueError, match="depth"):
        monitor.attach(Pipeline(), depth=True)  # type: ignore[arg-type]
