"""What a unit of work is: a top-level call, or each call of a batch. The one definition behind the report and MLflow.

A call is a batch when its children are two or more wrapper calls of one
name (``attach``'s ``generate`` running one ``generate_conversation`` per
item): each of those children is then a unit of its own (and may be a batch
in turn). Model calls are never units: a call that made two LLM calls is one
unit. The report lists the slowest units; ``MlflowHandler`` makes one trace
per unit.

Spans are read through ``field(span, name)``: dicts (spans.jsonl lines) by
default, ``SpanRecord`` objects with ``field=getattr``.

Example:
    >>> spans = [{"call_id": "b", "parent_call_id": None, "name": "generate", "span_type": "CHAIN"},
    ...          {"call_id": "u1", "parent_call_id": "b", "name": "conversation", "span_type": "CHAIN"},
    ...          {"call_id": "u2", "parent_call_id": "b", "name": "conversation", "span_type": "CHAIN"}]
    >>> units, _, batches = units_of_work(spans)
    >>> sorted(u["call_id"] for u in units), [b["call_id"] for b in batches]
    (['u1', 'u2'], ['b'])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from genmon.records.model_calls import is_model_call

__all__ = ["dict_field", "is_batch", "units_of_work"]

S = TypeVar("S")
Field = Callable[[Any, str], Any]


def dict_field(span: Any, name: str) -> Any:
    """A field of a span given as a dict (a spans.jsonl line)."""
    return span.get(name)


def is_batch(children: Sequence[S], field: Field = dict_field) -> bool:
    """True when ``children`` (one call's direct children) are two or more wrapper calls of one name."""
    if len(children) < 2:
        return False
    names = {field(kid, "name") for kid in children}
    return len(names) == 1 and not any(is_model_call(field(kid, "span_type")) for kid in children)


def units_of_work(spans: Sequence[S], field: Field = dict_field) -> tuple[list[S], dict[Any, list[S]], list[S]]:
    """(the units of work, children by parent call id, the batch calls that were unfolded).

    A span whose parent is not among ``spans`` counts as top-level.
    """
    ids = {field(s, "call_id") for s in spans}
    children: dict[Any, list[S]] = {}
    roots = []
    for span in spans:
        parent = field(span, "parent_call_id")
        if parent is None or parent not in ids:
            roots.append(span)
        else:
            children.setdefault(parent, []).append(span)
    units: list[S] = []
    batches: list[S] = []
    pending = list(roots)
    while pending:
        span = pending.pop()
        kids = children.get(field(span, "call_id"), [])
        if is_batch(kids, field):
            batches.append(span)
            pending.extend(kids)
        else:
            units.append(span)
    return units, children, batches
