"""The span in flight: what ``with monitor.track(...) as span`` gives the body, and the current span.

The enclosing call is found through a ``ContextVar``: it holds across
``await``, asyncio tasks inherit it when they are created, and a thread sees
it only when started with the context passed on
(``contextvars.copy_context().run``, ``asyncio.to_thread``, or an executor
given a copied context).
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Any, Protocol

from genmon.monitor.tracking.capture import Pending, snapshot
from genmon.monitor.tracking.usage import read_usage
from genmon.records.validation import check_metadata, check_text, check_value


class SpanTemplate(Protocol):
    """What a span starts from: ``track``'s arguments."""

    operation: str
    span_type: str
    model_name: str | None
    component: str | None
    metadata: dict[str, Any] | None


CURRENT: ContextVar[Span | None] = ContextVar("genmon_current_span", default=None)
RESERVED_KEYS = frozenset({"operation", "span_type", "model_name", "component"})


def current_span() -> Span | None:
    """The innermost tracked call running in this context, or None."""
    return CURRENT.get()


def _token_count(value: Any, argument: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError(f"{argument} must be a count of tokens, got {value!r}")
    number = check_value(value, argument)
    if number < 0 or (isinstance(number, float) and not number.is_integer()):
        raise ValueError(f"{argument} must be a whole number >= 0, got {value!r}")
    return int(number)


class Span:
    """A tracked call in flight: what ``with monitor.track(...) as span`` gives the body.

    The body can attach what it learns: ``set_usage``, ``set_result``,
    ``set_cost``, ``set_model``, ``set_metadata``, ``set_inputs`` and
    ``set_outputs``. After the block, ``duration_s`` and ``success`` are set too.
    """

    __slots__ = (
        "_child_usage",
        "_parent",
        "_t0",
        "_token",
        "call_id",
        "completion_tokens",
        "component",
        "cost_source",
        "cost_usd",
        "duration_s",
        "finish_reason",
        "inputs",
        "metadata",
        "model_name",
        "name",
        "outputs",
        "parent_call_id",
        "parent_span_id",
        "prompt_tokens",
        "response_model",
        "span_type",
        "start",
        "success",
        "trace_id",
    )
    _token: Token[Span | None]
    _t0: float

    def __init__(self, tracker: SpanTemplate, call_id: str, parent_call_id: str | None, start: float) -> None:
        self.call_id = call_id
        self.parent_call_id = parent_call_id
        self.name = tracker.operation
        self.span_type = tracker.span_type
        self.model_name = tracker.model_name
        self.component = tracker.component
        self.metadata = tracker.metadata  # shared until set_metadata copies it
        self.start = start
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None
        self.cost_usd: float | None = None
        self.cost_source: str | None = None  # "explicit", "provider", "litellm"; "price_table" when recorded
        self.finish_reason: str | None = None
        self.response_model: str | None = None
        # Set by the recorder: the call tree's trace, and the application's span a root started in.
        self.trace_id: str | None = None
        self.parent_span_id: str | None = None
        self.duration_s: float | None = None
        self.success: bool | None = None
        # What went in and came out, serialised on the span worker (see genmon.monitor.tracking.capture).
        self.inputs: Pending | None = None
        self.outputs: Pending | None = None
        self._parent: Span | None = None
        # Set when a call made inside this one reported token usage: this
        # span then does not read usage from its own result (often the very
        # same response), which would count the tokens twice.
        self._child_usage = False

    @property
    def operation(self) -> str:
        return self.name

    def set_usage(self, prompt_tokens: int | None = None, completion_tokens: int | None = None) -> None:
        """Token counts of this call (either may be left out)."""
        if (
            type(prompt_tokens) is int
            and type(completion_tokens) is int
            and 0 <= prompt_tokens <= 2**53
            and 0 <= completion_tokens <= 2**53
        ):  # the common call, two plain counts: what _token_count returns for them
            self.prompt_tokens, self.completion_tokens = prompt_tokens, completion_tokens
            return
        prompt = _token_count(prompt_tokens, "prompt_tokens")
        completion = _token_count(completion_tokens, "completion_tokens")
        if prompt is not None:
            self.prompt_tokens = prompt
        if completion is not None:
            self.completion_tokens = completion

    def set_result(self, response: Any) -> Any:
        """Read token usage, model and finish reason from an LLM response; return the response.

        Understands OpenAI, Anthropic and Gemini response objects, plain
        dicts with their keys, and afterimage's ``prompt_token_count``
        (see ``genmon.monitor.tracking.usage.read_usage``), and the cost
        OpenRouter (``usage.cost``) or LiteLLM (``_hidden_params["response_cost"]``)
        reports, unless ``set_cost`` set one. Fields the response does not
        carry are left as they are.
        """
        usage = read_usage(response)
        if usage.prompt_tokens is not None:
            self.prompt_tokens = usage.prompt_tokens
        if usage.completion_tokens is not None:
            self.completion_tokens = usage.completion_tokens
        if usage.model_name is not None:
            self.response_model = usage.model_name
            if self.model_name is None:
                self.model_name = usage.model_name
        if usage.finish_reason is not None:
            self.finish_reason = usage.finish_reason
        if usage.cost_usd is not None and self.cost_source != "explicit":
            self.cost_usd, self.cost_source = usage.cost_usd, usage.cost_source
        return response

    def set_cost(self, usd: float) -> None:
        """The call's cost in USD (overrides the cost a response reports and the price table)."""
        cost = check_value(usd, "usd")
        if cost < 0:
            raise ValueError(f"usd must be >= 0, got {usd!r}")
        self.cost_usd, self.cost_source = cost, "explicit"

    def set_model(self, model_name: str) -> None:
        if not isinstance(model_name, str) or not model_name:
            raise TypeError(f"model_name must be a non-empty string, got {model_name!r:.80}")
        self.model_name = check_text(model_name, "model_name")

    def set_metadata(self, **items: Any) -> None:
        """Add JSON-serialisable metadata to this span (and to its points)."""
        _, checked = check_metadata(items, 0.0)
        clash = RESERVED_KEYS.intersection(checked or ())
        if clash:
            raise ValueError(f"metadata keys {sorted(clash)} are set by track's own arguments")
        self.metadata = {**(self.metadata or {}), **(checked or {})}

    def set_inputs(self, inputs: Any) -> None:
        """What went into this call (any value; serialised, redacted and truncated on the span worker).

        Kept by reference until then (a list or dict is copied one level deep):
        an object mutated after the call can show its later state.
        """
        self.inputs = Pending("value", snapshot(inputs))

    def set_outputs(self, outputs: Any) -> None:
        """What came out of this call; a tracked function's return value is not captured over it."""
        self.outputs = Pending("value", snapshot(outputs))

    def __repr__(self) -> str:
        return f"<Span {self.name!r} {self.span_type} call_id={self.call_id} parent={self.parent_call_id}>"
