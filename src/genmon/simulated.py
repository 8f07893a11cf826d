"""A simulated LLM client and an async conversation generator: realistic load, no server, no key.

``SimulatedLLM.complete`` answers like an OpenAI chat completion (``usage``,
``model``, ``choices[0].finish_reason``) after a lognormal latency, and fails
now and then with a ``RateLimitError`` (HTTP 429). ``ConversationGenerator``
knows nothing about genmon: it generates multi-turn conversations
concurrently, retries rate limits with exponential backoff and jitter, and
scores each conversation. ``monitor.attach(generator)`` turns its calls into
spans: ``generate`` and ``generate_conversation`` (CHAIN),
``evaluate_conversation`` (EVALUATOR) and every ``client.complete`` attempt
(LLM, with token usage read from the response).

``genmon demo`` and ``examples/async_generator.py`` run it.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MODELS = ("sim-large", "sim-small")
# USD per 1,000 prompt and completion tokens (made up, in the range of real price lists).
PRICES = {"sim-large": (0.0025, 0.01), "sim-small": (0.00015, 0.0006)}
TOPICS = ("tax law", "sourdough", "orbital mechanics", "jazz harmony", "sql indexes", "tide pools", "chess openings")


class RateLimitError(RuntimeError):
    """The simulated provider's HTTP 429."""

    status_code = 429


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


@dataclass(frozen=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True)
class Choice:
    message: Message
    finish_reason: str


@dataclass(frozen=True)
class ChatCompletion:
    """The shape of an OpenAI chat completion, as far as monitoring reads it."""

    id: str
    model: str
    choices: list[Choice]
    usage: Usage


@dataclass
class Conversation:
    index: int
    model: str
    topic: str
    messages: list[dict[str, str]] = field(default_factory=list)
    score: float | None = None


class SimulatedLLM:
    """A fake async chat client with latency, token usage and occasional rate limits.

    Args:
        error_rate: share of calls that raise ``RateLimitError``.
        seed: seeds latency, lengths and failures (one run is reproducible
            up to the interleaving of concurrent calls).
        latency_s: median latency of ``sim-small``; ``sim-large`` takes twice as long.
    """

    def __init__(self, error_rate: float = 0.1, seed: int = 7, latency_s: float = 0.03) -> None:
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError(f"error_rate must be between 0 and 1, got {error_rate}")
        self.error_rate = error_rate
        self.latency_s = latency_s
        self.calls = 0
        self._random = random.Random(seed)

    async def complete(
        self, messages: list[dict[str, str]], model: str = "sim-small", max_tokens: int = 400
    ) -> ChatCompletion:
        """Answer the last message after a lognormal latency, or raise ``RateLimitError``."""
        self.calls += 1
        rnd = self._random
        scale = 2.0 if model == "sim-large" else 1.0
        await asyncio.sleep(self.latency_s * scale * rnd.lognormvariate(0.0, 0.5))
        if rnd.random() < self.error_rate:
            raise RateLimitError(f"429 Too Many Requests: rate limit reached for {model}")
        prompt_tokens = sum(len(m["content"].split()) for m in messages) * 4 // 3 + 12 * len(messages)
        wanted = int(rnd.gauss(220 if model == "sim-large" else 120, 60))
        completion_tokens = min(max(wanted, 8), max_tokens)
        reason = "length" if completion_tokens == max_tokens else "stop"
        text = " ".join(
            rnd.choice(("well", "so", "indeed", "note", "first", "then")) for _ in range(completion_tokens // 8)
        )
        return ChatCompletion(
            id=f"sim-{self.calls}",
            model=model,
            choices=[Choice(Message("assistant", text), reason)],
            usage=Usage(prompt_tokens, completion_tokens, prompt_tokens + completion_tokens),
        )


class ConversationGenerator:
    """Generates multi-turn conversations concurrently over an LLM client.

    Args:
        client: anything with ``async complete(messages, model=...)`` returning a chat completion.
        models: models the conversations are spread over.
        concurrency: conversations in flight at once.
        max_retries: retries of a rate-limited call before the conversation fails.
        backoff_s: first retry delay; it doubles on each retry, with jitter.
        seed: seeds topics, turn counts and jitter.
    """

    def __init__(
        self,
        client: Any,
        *,
        models: tuple[str, ...] = MODELS,
        concurrency: int = 8,
        max_retries: int = 4,
        backoff_s: float = 0.01,
        seed: int = 7,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self.client = client
        self.models = models
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.failed = 0
        self._random = random.Random(seed + 1)

    async def generate(self, count: int, on_finished: Callable[[bool], None] | None = None) -> list[Conversation]:
        """Generate ``count`` conversations, ``concurrency`` at a time; failed ones are left out.

        ``on_finished(ok)`` is called as each conversation ends (for a progress bar).
        """
        gate = asyncio.Semaphore(self.concurrency)

        async def one(index: int) -> Conversation:
            async with gate:
                ok = False
                try:
                    conversation = await self.generate_conversation(index)
                    ok = True
                    return conversation
                finally:
                    if on_finished is not None:
                        on_finished(ok)

        results = await asyncio.gather(*(one(i) for i in range(count)), return_exceptions=True)
        done = [r for r in results if isinstance(r, Conversation)]
        self.failed += count - len(done)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, RateLimitError):
                raise result  # a bug, not load: never hide it
        return done

    async def generate_conversation(self, index: int) -> Conversation:
        """One conversation of 1 to 4 turns on a random topic, scored at the end."""
        rnd = self._random
        conversation = Conversation(index, self.models[index % len(self.models)], rnd.choice(TOPICS))
        messages = [{"role": "system", "content": f"You are an expert in {conversation.topic}. Answer precisely."}]
        for turn in range(rnd.randint(1, 4)):
            question = f"Question {turn + 1} about {conversation.topic}: " + " ".join(["why"] * rnd.randint(5, 40))
            messages.append({"role": "user", "content": question})
            reply = await self._reply(messages, conversation.model)
            messages.append({"role": "assistant", "content": reply.choices[0].message.content})
        conversation.messages = messages
        conversation.score = self.evaluate_conversation(conversation)
        return conversation

    async def _reply(self, messages: list[dict[str, str]], model: str) -> ChatCompletion:
        for attempt in range(self.max_retries + 1):
            try:
                response: ChatCompletion = await self.client.complete(messages=list(messages), model=model)
                return response
            except RateLimitError:
                if attempt == self.max_retries:
                    raise
                await asyncio.sleep(self.backoff_s * 2**attempt * (1.0 + self._random.random()))
        raise AssertionError("unreachable")  # pragma: no cover

    def evaluate_conversation(self, conversation: Conversation) -> float:
        """A cheap quality score in [0, 1]: longer, balanced answers score higher."""
        answers = [m["content"] for m in conversation.messages if m["role"] == "assistant"]
        if not answers:
            return 0.0
        words = sum(len(a.split()) for a in answers) / len(answers)
        return round(min(words / 30.0, 1.0) * 0.8 + 0.2 * (len(answers) > 1), 3)


async def run_simulation(
    monitor: Any,
    conversations: int = 120,
    concurrency: int = 8,
    error_rate: float = 0.1,
    seed: int = 7,
    on_finished: Callable[[bool], None] | None = None,
) -> ConversationGenerator:
    """Build the client and generator, attach ``monitor`` in one line, generate; returns the generator."""
    generator = ConversationGenerator(SimulatedLLM(error_rate, seed), concurrency=concurrency, seed=seed)
    monitor.attach(generator)
    done = await generator.generate(conversations, on_finished)
    for conversation in done:
        monitor.record_metric(
            "conversation_length", len(conversation.messages) // 2, {"model_name": conversation.model}
        )
    return generator
