"""Drive afterimage 0.18.1's own generators with afterimage's monitor and with genmon's; write what each saw.

Run as ``python driver.py OUT_DIR`` (the tests in this folder do it once per
session, in a subprocess: ``import afterimage`` takes seconds and changes
process-wide state, matplotlib's style among them). Each scenario runs once
per monitor kind, in ``OUT_DIR/<scenario>/<kind>/``, and its observations go
to ``OUT_DIR/results.json``; the exported files and charts stay on disk for
the tests to read back.

The LLM is faked the way afterimage's own tests fake it
(``llm_providers.LLMFactory.create = MagicMock(...)``); some calls fail, so
error and success rates are neither 0 nor 1. Everything is deterministic:
one worker (``max_concurrency=1``), a seeded ``random`` for the number of
turns, failures chosen by call number or by prompt text, and the monitor
drained before every read (genmon: ``flush()``; afterimage has no flush, so
a probe handler appended last counts what its worker has handed out). No
network: ``no_network`` refuses every address but loopback in this process,
from before afterimage is imported.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import random
import sys
import threading
import time
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import no_network  # beside this file: the script's folder is on sys.path

# Before afterimage is imported: nothing it (or genmon) does may reach the network.
no_network.install()

import afterimage.monitoring
from afterimage.async_conversation_generator import AsyncConversationGenerator
from afterimage.base import BaseStoppingCallback
from afterimage.callbacks.stopping_callbacks import BudgetStoppingCallback, RateLimitStoppingCallback
from afterimage.common import GeneratedInstructions
from afterimage.persona_generator import PersonaGenerator
from afterimage.providers import llm_providers
from afterimage.providers.llm_providers import ChatSession, LLMResponse
from afterimage.storage import JSONLStorage

import genmon.monitoring

KINDS = ("afterimage", "genmon")
DRAIN_TIMEOUT_S = 30.0
# Built-in alert thresholds that the scenarios cross (or not) with either monitor.
ALERT_KEYWORDS: dict[str, Any] = {
    "alert_min_success_rate": 0.95,
    "alert_max_prompt_token_mean": 5,
    "alert_max_conversation_length_mean": 1.0,
}
# genmon's keywords for afterimage's alerts: every pass while a rule holds, no recovery alert, any error alerts.
AFTERIMAGE_ALERT_CADENCE: dict[str, Any] = {"alert_cooldown": 0, "send_resolved": False, "alert_max_error_rate": 0}
BUDGET_TOKENS = 200


# -- the fake LLM, built as afterimage's tests build theirs ------------------------------------------


class Script:
    """Numbers every chat call of a scenario and fails the ones listed."""

    def __init__(self, fail_sends: Iterable[int] = (), fail_chats: Iterable[int] = ()) -> None:
        self.sends = 0
        self.chats = 0
        self.fail_sends = set(fail_sends)
        self.fail_chats = set(fail_chats)


def response(text: str, n: int, model: str) -> LLMResponse:
    prompt, completion = 10 + n % 3, 5 + n % 4
    return LLMResponse(
        text=text,
        prompt_token_count=prompt,
        completion_token_count=completion,
        total_token_count=prompt + completion,
        finish_reason="length" if n % 4 == 3 else "stop",
        model_name=model,
        raw_response=None,
    )


class FakeChatSession(ChatSession):
    def __init__(self, script: Script, model: str) -> None:
        super().__init__()
        self.script, self.model = script, model

    async def asend_message(self, message: Any, temperature: float = 0.7, **kwargs: Any) -> LLMResponse:
        self.script.sends += 1
        n = self.script.sends
        if n in self.script.fail_sends:
            raise RuntimeError(f"429 Too Many Requests (fake call {n})")
        return response(f"reply {n}", n, self.model)


class FakeLLMProvider:
    """afterimage's MockLLMProvider with a script: chats and prompts, some of them failing."""

    def __init__(self, script: Script, system_instruction: str | None = None, **kwargs: Any) -> None:
        self.script = script
        # Two models, so token usage has two rows: the simulated user and the assistant.
        self.model = "mock-user" if system_instruction and "user" in system_instruction else "mock-assistant"

    async def agenerate_content(self, prompt: str, **kwargs: Any) -> LLMResponse:
        return response("<user_system_prompt>You are a curious user.</user_system_prompt>", 1, "mock-user")

    async def astart_chat(self, **kwargs: Any) -> ChatSession:
        self.script.chats += 1
        if self.script.chats in self.script.fail_chats:
            raise ConnectionError(f"503 Service Unavailable (fake chat {self.script.chats})")
        return FakeChatSession(self.script, self.model)


class InstructionCallback:
    """afterimage's test MockInstructionCallback, leaving the correspondent prompt to the generator."""

    monitor = None

    def __init__(self) -> None:
        self.calls = 0

    def set_monitor(self, monitor: Any) -> None:
        self.monitor = monitor

    async def acreate_correspondent_prompt(self, respondent_prompt: str) -> None:
        return None  # the generator's create_correspondent_prompt runs (and is tracked)

    async def acall(self, correspondent_prompt: str) -> GeneratedInstructions:
        self.calls += 1
        return GeneratedInstructions(
            instructions=[f"Question {self.calls}?"],
            context="",
            context_id=f"c{self.calls % 2}",
            persona="A curious user",
        )


PERSONAS = "\n".join(f"Persona {i}: {{tag}} persona number {i}." for i in range(1, 6))


class FakePersonaLLM:
    """afterimage's MockPersonaLLM: persona lists; a prompt naming persona 3 fails, one naming persona 5 is unusable."""

    def _answer(self, prompt: str) -> LLMResponse:
        if "persona number 3" in prompt:
            raise TimeoutError("504 Gateway Timeout (fake)")
        if "persona number 5" in prompt:
            return response("Persona 1: only one", 2, "mock-persona")  # fails the five-persona contract
        tag = "Derived" if "persona number" in prompt else "Base"
        return response(PERSONAS.format(tag=tag), len(prompt), "mock-persona")

    def generate_content(self, prompt: str, **kwargs: Any) -> LLMResponse:
        return self._answer(prompt)

    async def agenerate_content(self, prompt: str, **kwargs: Any) -> LLMResponse:
        return self._answer(prompt)


# -- draining and observing a monitor ------------------------------------------------------------------


class Probe:
    """A metric and log handler appended after construction: captures everything and counts it."""

    def __init__(self) -> None:
        self.points: list[list[Any]] = []
        self.logs: list[dict[str, Any]] = []
        self.changed = threading.Condition()

    def handle_metric(self, metric_name: str, value: float, metadata: dict[str, Any]) -> None:
        with self.changed:
            self.points.append([metric_name, value, dict(metadata)])
            self.changed.notify_all()

    def handle_log(self, message: dict[str, Any]) -> None:
        with self.changed:
            self.logs.append(dict(message))
            self.changed.notify_all()


class Run:
    """One monitor of one scenario, with its directory, probe and observations."""

    def __init__(self, out: Path, scenario: str, kind: str, **keywords: Any) -> None:
        self.kind, self.dir = kind, out / scenario / kind
        self.dir.mkdir(parents=True, exist_ok=True)
        module = afterimage.monitoring if kind == "afterimage" else genmon.monitoring
        keywords.setdefault("metrics_interval", 0)  # no periodic pass: alerts come from check_alerts() only
        self.monitor = module.GenerationMonitor(log_dir=self.dir / "logs", **keywords)
        self.probe = Probe()
        # Appended after construction, as users do, and before anything is recorded: it sees every record.
        self.monitor.metric_handlers.append(self.probe)
        self.monitor.log_handlers.append(self.probe)
        self.result: dict[str, Any] = {"kind": kind}

    def drain(self) -> None:
        """Everything recorded so far is in the store and has reached every handler."""
        if self.kind != "afterimage":
            if not self.monitor.flush(DRAIN_TIMEOUT_S):
                raise RuntimeError("genmon flush timed out")
            return
        # afterimage: the probe is the last handler of each list, so once it has seen as many records as were
        # put on a queue (its workers never call task_done, so unfinished_tasks counts every put), the worker
        # has stored them and every handler before the probe has them.
        metric_q, log_q = self.monitor.metric_queue, self.monitor.log_queue
        with self.probe.changed:
            done = self.probe.changed.wait_for(
                lambda: (
                    len(self.probe.points) >= metric_q.unfinished_tasks
                    and len(self.probe.logs) >= log_q.unfinished_tasks
                ),
                DRAIN_TIMEOUT_S,
            )
        if not done:
            raise RuntimeError("afterimage's workers did not catch up")

    def observe(self, alert_passes: int = 2, files: bool = False, charts: bool = False) -> None:
        """Read what the tests compare (reads, alerts; exports and charts when asked), then close."""
        self.drain()
        monitor, result = self.monitor, self.result
        usage = monitor.get_total_token_usage()
        result["token_usage"] = {
            "by_model": [[u.model_name, u.prompt_tokens, u.completion_tokens, u.total_tokens] for u in usage.by_model],
            "totals": [usage.total_prompt_tokens, usage.total_completion_tokens, usage.total_tokens],
        }
        result["get_metrics"] = {
            name: dict(monitor.get_metrics(name))
            for name in ("generation_time", "success_rate", "error_rate", "prompt_token_count", "no_such_metric")
        }
        result["get_metrics_truthy"] = {
            name: bool(monitor.get_metrics(name)) for name in ("success_rate", "no_such_metric")
        }
        result["alert_passes"] = []
        for _ in range(alert_passes):
            heard: list[Any] = []
            monitor.alert_handlers = [heard.append]  # reassigned after construction, as afterimage's test does
            returned = monitor.check_alerts()
            result["alert_passes"].append(
                {
                    "returned": None if returned is None else [alert_dict(a) for a in returned],
                    "heard": [alert_dict(a) for a in heard],
                }
            )
        if files:
            self._files()
        if charts:
            plots = self.dir / "plots"
            returned = monitor.visualize_metrics(save_dir=plots)
            result["visualize"] = {
                "returned": None if returned is None else sorted(Path(p).name for p in returned),
                "files": sorted(p.name for p in plots.iterdir()),
            }
        generator_plots = self.dir / "logs" / "plots"  # the orchestrator calls visualize_metrics() itself
        result["generator_plots"] = (
            sorted(p.name for p in generator_plots.iterdir()) if generator_plots.exists() else []
        )
        self.drain()
        result["points"] = self.probe.points
        result["logs"] = self.probe.logs
        result["log_dir_files"] = sorted(p.name for p in (self.dir / "logs").iterdir())
        if self.kind != "afterimage":
            result["closed_cleanly"] = monitor.close()
        # afterimage's shutdown() waits up to a second for each worker's queue poll, and drops what is still
        # queued; its daemon threads end with this process instead.

    def _files(self) -> None:
        monitor = self.monitor
        exports: dict[str, Any] = {}
        for fmt, name in (("json", "m.json"), ("csv", "m.csv"), ("excel", "m.xlsx"), ("parquet", "m.parquet")):
            target = self.dir / "export" / fmt
            target.mkdir(parents=True, exist_ok=True)
            try:
                returned = monitor.export_metrics(target / name, format=fmt)
                exports[fmt] = {"returned": None if returned is None else sorted(Path(p).name for p in returned)}
            except Exception as error:  # noqa: BLE001 - a failure is an observation here
                exports[fmt] = {"error": f"{type(error).__name__}: {error}"}
            exports[fmt]["files"] = sorted(p.name for p in target.iterdir())
        self.result["exports"] = exports
        self.result["save_metrics"] = Path(monitor.save_metrics()).name


def alert_dict(alert: Any) -> dict[str, Any]:
    return {"name": alert.name, "message": alert.message, "level": alert.level, "data": alert.data}


class DrainBeforeCheck(BaseStoppingCallback):
    """Listed first, so the stopping callbacks after it read a monitor that has caught up (as if its worker kept up)."""

    def __init__(self, run: Run) -> None:
        self.run = run

    async def should_stop(self, state: Any) -> bool:
        self.run.drain()
        return False


# -- scenarios ------------------------------------------------------------------------------------------


def patch_llm(factory: Any) -> None:
    llm_providers.LLMFactory.create = MagicMock(side_effect=factory)


def conversation_generator(run: Run, script: Script) -> AsyncConversationGenerator:
    patch_llm(lambda **kw: FakeLLMProvider(script, **kw))
    return AsyncConversationGenerator(
        respondent_prompt="You are a helpful assistant.",
        api_key="mock_key",
        instruction_generator_callback=InstructionCallback(),
        storage=JSONLStorage(conversations_path=run.dir / "conversations.jsonl"),
        monitor=run.monitor,
    )


def generated(run: Run) -> int:
    path = run.dir / "conversations.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


def conversations(out: Path, kind: str) -> dict[str, Any]:
    """Up to eight dialogs of one to three turns, stopped by BudgetStoppingCallback; two chat calls and one model creation fail."""
    run = Run(out, "conversations", kind, **ALERT_KEYWORDS)
    generator = conversation_generator(run, Script(fail_sends={4, 9}, fail_chats={7}))
    random.seed(20260101)
    stop = [DrainBeforeCheck(run), BudgetStoppingCallback(max_total_tokens=BUDGET_TOKENS)]
    asyncio.run(generator.generate(num_dialogs=8, max_turns=3, stopping_criteria=stop, max_concurrency=1))
    run.result["generated"] = generated(run)
    run.observe(files=True)
    return run.result


def personas(out: Path, kind: str) -> dict[str, Any]:
    """Personas from three texts, one level deeper; one chain call times out, one breaks the five-persona contract."""
    run = Run(out, "personas", kind, **ALERT_KEYWORDS)
    patch_llm(lambda **kw: FakePersonaLLM())
    generator = PersonaGenerator(
        api_key="mock_key",
        storage=JSONLStorage(documents_path=run.dir / "documents.jsonl"),
        monitor=run.monitor,
        max_concurrency=1,
    )
    run.result["sync_personas"] = generator.generate_from_text("A support desk handbook.")
    asyncio.run(
        generator.generate_from_documents(["Billing FAQ.", "Onboarding guide.", "Admin manual."], n_iterations=1)
    )
    run.observe(files=True, charts=True)
    return run.result


def rate_limit(out: Path, kind: str, max_error_rate: float = 0.5) -> dict[str, Any]:
    """The issue's case: RateLimitStoppingCallback(max_error_rate, min_samples=3) over 12 dialogs, one failed call early."""
    run = Run(out, "rate_limit" if max_error_rate == 0.5 else f"rate_limit_{max_error_rate:g}", kind)
    generator = conversation_generator(run, Script(fail_sends={2}))
    stop = [DrainBeforeCheck(run), RateLimitStoppingCallback(max_error_rate=max_error_rate, min_samples=3)]
    asyncio.run(generator.generate(num_dialogs=12, max_turns=1, stopping_criteria=stop, max_concurrency=1))
    run.result["generated"] = generated(run)
    run.observe(alert_passes=1)
    return run.result


class Capture:
    """A metric and log handler set by reassigning the lists after construction."""

    def __init__(self) -> None:
        self.points: list[list[Any]] = []
        self.logs: list[dict[str, Any]] = []

    def handle_metric(self, metric_name: str, value: float, metadata: dict[str, Any]) -> None:
        self.points.append([metric_name, value])

    def handle_log(self, message: dict[str, Any]) -> None:
        self.logs.append(dict(message))


def reassigned(out: Path, kind: str) -> dict[str, Any]:
    """Three dialogs through generator.go(); metric_handlers and log_handlers reassigned to new lists; three more."""
    run = Run(out, "reassigned", kind, **ALERT_KEYWORDS)
    generator = conversation_generator(run, Script(fail_sends={3}))

    async def dialogs(first: int) -> None:
        for i in range(first, first + 3):
            try:
                await generator.go(turns=1, first_question=f"Question {i}?")
            except RuntimeError:
                pass  # the fake's failing call: the generator has tracked it

    asyncio.run(dialogs(0))
    run.drain()
    before, logs_before = len(run.probe.points), len(run.probe.logs)
    jsonl = run.dir / "logs" / "metrics.jsonl"
    lines_before = len(jsonl.read_text().splitlines())
    capture = Capture()
    run.monitor.metric_handlers = [capture, run.probe]  # the probe stays last: afterimage's drain counts on it
    run.monitor.log_handlers = [capture, run.probe]
    asyncio.run(dialogs(3))
    run.drain()
    run.result.update(
        points_before=before,
        jsonl_lines_before=lines_before,
        jsonl_lines_after=len(jsonl.read_text().splitlines()),
        captured_points=capture.points,
        captured_logs=[r.get("message") for r in capture.logs],
        probe_after=[p[:2] for p in run.probe.points[before:]],
        probe_logs_after=[r.get("message") for r in run.probe.logs[logs_before:]],
    )
    run.observe(alert_passes=1)
    return run.result


def direct(out: Path, kind: str, **keywords: Any) -> dict[str, Any]:
    """afterimage's monitor API called directly: evaluations, an int value, logs, and the alert cadence over three passes.

    No model name, so no metric name has a ':' and afterimage's Excel export works.
    """
    run = Run(out, "direct_compat" if keywords else "direct", kind, alert_min_success_rate=0.5, **keywords)
    monitor = run.monitor
    before_any_point: list[Any] = []
    monitor.alert_handlers = [before_any_point.append]
    monitor.check_alerts()  # nothing recorded yet
    run.result["alerts_before_any_point"] = [alert_dict(a) for a in before_any_point]
    monitor.alert_handlers = []
    monitor.track_evaluation(0.2, True, "judge", {"coherence": 0.8, "helpfulness": {"score": 0.6, "feedback": "ok"}})
    monitor.track_evaluation(0.3, False, "judge", {"coherence": 0.1}, error="judge timed out", model_name="mock-judge",
                             prompt_token_count=7, completion_token_count=3, total_token_count=10)  # fmt: skip
    monitor.record_metric("queue_depth", 3)
    monitor.log_warning("slow judge", seconds=2)
    monitor.log_error("judge failed", error=ValueError("bad json"), attempt=2)
    for success in (False, False, True):
        monitor.track_generation(0.1, success, error=None if success else "boom")
    passes: list[Any] = []
    heard: list[Any] = []
    monitor.alert_handlers.append(heard.append)  # appended after construction

    def check() -> None:
        run.drain()
        returned = monitor.check_alerts()
        passes.append(
            {
                "returned": None if returned is None else [alert_dict(a) for a in returned],
                "heard": [alert_dict(a) for a in heard],
            }
        )
        heard.clear()

    check()  # firing: success rate 1/3 < 0.5
    check()  # still firing
    for _ in range(7):
        monitor.track_generation(0.1, True)
    check()  # success rate recovered: 8/10
    run.result["direct_passes"] = passes
    run.observe(alert_passes=0, files=not keywords, charts=not keywords)
    return run.result


def attempt(scenario: Any, out: Path, kind: str, **keywords: Any) -> dict[str, Any]:
    """Run one scenario with one monitor; a crash is reported to the tests, which fail with its traceback."""
    started = time.perf_counter()
    try:
        result = scenario(out, kind, **keywords)
    except Exception:  # noqa: BLE001
        result = {"kind": kind, "crashed": traceback.format_exc()}
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


def main(out: Path) -> None:
    results: dict[str, Any] = {"afterimage_version": importlib.metadata.version("afterimage")}
    for scenario in (conversations, personas, rate_limit, reassigned, direct):
        results[scenario.__name__] = {kind: attempt(scenario, out, kind) for kind in KINDS}
    # genmon with the keywords that give afterimage's behaviour back.
    results["rate_limit_any_error"] = {"genmon": attempt(rate_limit, out, "genmon", max_error_rate=1e-9)}
    results["direct_compat"] = {"genmon": attempt(direct, out, "genmon", **AFTERIMAGE_ALERT_CADENCE)}
    # After the scenarios, so blocked_hosts lists every host they tried to reach (none is expected).
    results["network_guard"] = no_network.self_check()
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
