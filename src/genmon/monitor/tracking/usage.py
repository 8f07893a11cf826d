"""Token usage read from LLM responses, and the price table that turns tokens into dollars."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from genmon.records.validation import safe_text

# Response types that never carry usage: answered without any attribute lookup.
_PLAIN = frozenset({type(None), str, bytes, int, float, bool, list, tuple})
_PROMPT_KEYS = ("prompt_tokens", "input_tokens", "prompt_token_count")
_COMPLETION_KEYS = ("completion_tokens", "output_tokens", "completion_token_count", "candidates_token_count")


class Usage(NamedTuple):
    """What a response says about itself; each field is None when the response does not say."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    model_name: str | None = None
    finish_reason: str | None = None
    cost_usd: float | None = None  # what the provider (or LiteLLM) says the call cost
    cost_source: str | None = None  # "provider" (usage.cost) or "litellm" (its response_cost)


def _get(obj: Any, key: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def _count(obj: Any, keys: tuple[str, ...]) -> int | None:
    for key in keys:
        value = _get(obj, key)
        # Only real numbers: mocks and SDK sentinels answer any attribute.
        if type(value) is int and value >= 0:
            return value
        if type(value) is float and math.isfinite(value) and value >= 0 and value.is_integer():
            return int(value)
    return None


def _cost(value: Any) -> float | None:
    if type(value) in (int, float) and math.isfinite(value) and value >= 0:
        return float(value)
    return None


def reported_cost(response: Any, usage: Any) -> tuple[float | None, str | None]:
    """The cost a response reports, and whose figure it is, or (None, None).

    OpenRouter puts the call's cost in ``usage.cost`` (credits, priced in US
    dollars); LiteLLM puts its own figure in ``response._hidden_params["response_cost"]``
    (None when it cannot price the model). The provider's own figure wins.
    """
    if usage is not None:
        cost = _cost(_get(usage, "cost"))
        if cost is not None:
            return cost, "provider"
    hidden = _get(response, "_hidden_params")
    if isinstance(hidden, Mapping):
        cost = _cost(hidden.get("response_cost"))
        if cost is not None:
            return cost, "litellm"
    return None, None


def _text(value: Any) -> str | None:
    # A response is not the caller's argument: odd text is escaped, never refused.
    return safe_text(value) if isinstance(value, str) and value else None


def read_usage(response: Any) -> Usage:
    """Token usage, model and finish reason from common response shapes.

    Reads OpenAI style ``usage.prompt_tokens`` / ``completion_tokens`` (and
    ``choices[0].finish_reason``), Anthropic style ``usage.input_tokens`` /
    ``output_tokens`` (and ``stop_reason``), Gemini style
    ``usage_metadata.prompt_token_count`` / ``candidates_token_count``, plain
    dicts with any of those keys, with or without a ``usage`` level, and
    afterimage style ``prompt_token_count`` / ``completion_token_count``; and
    the cost a provider reports (``reported_cost``).

    Example:
        >>> read_usage({"usage": {"input_tokens": 12, "output_tokens": 30, "cost": 0.002}, "model": "claude"})
        Usage(prompt_tokens=12, completion_tokens=30, model_name='claude', finish_reason=None, cost_usd=0.002, cost_source='provider')
    """
    if type(response) in _PLAIN:
        return Usage()
    usage = _get(response, "usage")
    if usage is None:
        usage = _get(response, "usage_metadata")
    source = response if usage is None else usage
    prompt = _count(source, _PROMPT_KEYS)
    completion = _count(source, _COMPLETION_KEYS)
    if usage is not None and prompt is None and completion is None:
        prompt, completion = _count(response, _PROMPT_KEYS), _count(response, _COMPLETION_KEYS)
    model = _text(_get(response, "model")) or _text(_get(response, "model_name"))
    reason = _text(_get(response, "finish_reason")) or _text(_get(response, "stop_reason"))
    if reason is None:
        choices = _get(response, "choices")
        if isinstance(choices, (list, tuple)) and choices:
            reason = _text(_get(choices[0], "finish_reason"))
    return Usage(prompt, completion, model, reason, *reported_cost(response, usage))


_VERSION_SUFFIX = re.compile(r"[-@:._]?(?:v?\d|latest\b|preview\b)")


class PriceTable:
    """USD per 1,000 prompt and completion tokens, by model; cost is derived from token counts.

    A model is looked up by its exact name, then by the longest known name it
    starts with, so ``"gpt-4o"`` also prices ``"gpt-4o-2024-08-06"``.

    Args:
        prices: model name to ``(prompt_usd_per_1k, completion_usd_per_1k)``
            or to ``{"prompt": ..., "completion": ...}``.

    Example:
        >>> PriceTable({"sim-large": (0.5, 1.5)}).cost("sim-large", 1000, 2000)
        3.5
    """

    def __init__(self, prices: Mapping[str, Any] | None = None) -> None:
        self._prices: dict[str, tuple[float, float]] = {}
        self._resolved: dict[str, tuple[float, float] | None] = {}
        if prices is not None and not isinstance(prices, Mapping):
            raise TypeError(f"prices must map model names to prices, got {type(prices).__name__} {prices!r:.80}")
        for model, price in (prices or {}).items():
            self.set(model, price)

    def set(self, model: str, price: Any) -> None:
        """Add or replace one model's price."""
        if not isinstance(model, str) or not model:
            raise TypeError(f"price table keys must be model names, got {model!r:.80}")
        if isinstance(price, Mapping):
            pair = (price.get("prompt", 0.0), price.get("completion", 0.0))
        elif isinstance(price, (tuple, list)) and len(price) == 2:
            pair = (price[0], price[1])
        else:
            raise TypeError(
                f"price of {model!r} must be (prompt, completion) USD per 1k tokens or a dict, got {price!r:.80}"
            )
        checked = []
        for part in pair:
            if isinstance(part, bool) or not isinstance(part, (int, float)) or not math.isfinite(part) or part < 0:
                raise ValueError(f"price of {model!r} must be finite numbers >= 0, got {price!r:.80}")
            checked.append(float(part))
        self._prices[model] = (checked[0], checked[1])
        self._resolved.clear()

    def __contains__(self, model: object) -> bool:
        return isinstance(model, str) and self.price(model) is not None

    def __bool__(self) -> bool:
        return bool(self._prices)

    def price(self, model: str) -> tuple[float, float] | None:
        """``(prompt, completion)`` USD per 1k tokens for ``model``, or None when unknown."""
        try:
            return self._resolved[model]
        except KeyError:
            pass
        found = self._prices.get(model)
        if found is None:
            # A dated or versioned release takes its family's price ("gpt-4o-2024-08-06"
            # as "gpt-4o"), a different model does not ("gpt-4o-mini" is not "gpt-4o").
            prefixes = [
                name for name in self._prices if _VERSION_SUFFIX.match(model, len(name)) and model.startswith(name)
            ]
            found = self._prices[max(prefixes, key=len)] if prefixes else None
        if len(self._resolved) > 10_000:  # bounded: model names come from responses
            self._resolved.clear()
        self._resolved[model] = found
        return found

    def cost(self, model: str | None, prompt_tokens: int | None, completion_tokens: int | None) -> float | None:
        """USD for one call, or None when the model is unpriced or no token count is known."""
        if model is None or (prompt_tokens is None and completion_tokens is None):
            return None
        price = self.price(model)
        if price is None:
            return None
        return ((prompt_tokens or 0) * price[0] + (completion_tokens or 0) * price[1]) / 1000.0
