"""The report's "Slowest units of work": the slowest top-level calls as collapsible trees, slowest path open.

A unit of work is a top-level call, except that a batch is unfolded: a call
whose children are two or more wrapper calls of one name (``attach``'s
``generate`` running one ``generate_conversation`` per item) counts each
child as a unit (``genmon.records.units``, the definition MLflow's traces
share). Each unit is a ``<details>`` element; inside, the calls it
made are listed in start order, and the path through the slowest child at
each level is open and marked, so the reason a unit was slow is one click
away. Spans come as dicts (spans.jsonl lines or ``SpanRecord.to_dict()``).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from genmon.plots.units import format_seconds, format_usd, plural
from genmon.records.units import units_of_work

Span = Mapping[str, Any]
MAX_CHILDREN = 25  # per level; the rest are summed up in one line
MAX_DEPTH = 8


def number(value: Any) -> float | None:
    """A span field as a number, or None when it is missing or not one (files can hold anything)."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _duration(span: Span) -> float:
    return number(span.get("duration_s")) or 0.0


def slowest_units_html(spans: Sequence[Span], limit: int = 10) -> str:
    """The ``limit`` slowest units of work, slowest first, the first one open."""
    if not spans:
        return '<p class="muted">No tracked call (spans.jsonl) in this run.</p>'
    units, children, batches = units_of_work(spans)
    units.sort(key=lambda s: (-_duration(s), str(s.get("call_id"))))
    shown = units[:limit]
    intro = f"The {min(limit, len(units))} slowest of {plural(len(units), 'unit')} of work, slowest first"
    if batches:
        batch = max(batches, key=_duration)
        kid = children[batch.get("call_id")][0].get("name")
        intro += (
            f"; each {html.escape(str(kid))} inside {html.escape(str(batch.get('name')))} "
            f"({format_seconds(_duration(batch))}) is one unit"
        )
    intro += ". The slowest call at each level is open and marked &#9664;."
    items = "".join(_unit(span, children, opened=index == 0) for index, span in enumerate(shown))
    return f'<p class="muted">{intro}</p><div class="units">{items}</div>'


def _unit(span: Span, children: Mapping[Any, list[Span]], opened: bool) -> str:
    kids = children.get(span.get("call_id"), [])
    count = _count(span, children) - 1
    extra = f" &middot; {plural(count, 'call')} inside" if count else ""
    body = _children_html(kids, children, 1)
    attr = " open" if opened else ""
    return f"<details{attr}><summary>{_label(span)}{extra}</summary>{body}</details>"


def _count(span: Span, children: Mapping[Any, list[Span]]) -> int:
    total, pending = 0, [span]
    while pending:
        current = pending.pop()
        total += 1
        pending.extend(children.get(current.get("call_id"), []))
    return total


def _children_html(kids: Sequence[Span], children: Mapping[Any, list[Span]], depth: int) -> str:
    if not kids or depth > MAX_DEPTH:
        return ""
    slowest = max(kids, key=_duration)
    shown = sorted(kids, key=_duration, reverse=True)[:MAX_CHILDREN]
    keep = {id(k) for k in shown}
    ordered = sorted((k for k in kids if id(k) in keep), key=lambda s: number(s.get("start")) or 0.0)
    items = []
    for kid in ordered:
        marker = ' <span class="slow">&#9664; slowest</span>' if kid is slowest and len(kids) > 1 else ""
        css = ' class="failed"' if not kid.get("success", True) else ""
        grandkids = children.get(kid.get("call_id"), [])
        if grandkids and depth < MAX_DEPTH:
            attr = " open" if kid is slowest else ""
            inner = _children_html(grandkids, children, depth + 1)
            items.append(f"<li{css}><details{attr}><summary>{_label(kid)}{marker}</summary>{inner}</details></li>")
        else:
            items.append(f"<li{css}>{_label(kid)}{marker}</li>")
    hidden = len(kids) - len(ordered)
    if hidden:
        rest = sum(_duration(k) for k in kids if id(k) not in keep)
        items.append(f'<li class="muted">... and {plural(hidden, "faster call")} ({format_seconds(rest)} in all)</li>')
    return f'<ul class="tree">{"".join(items)}</ul>'


def _label(span: Span) -> str:
    details = [format_seconds(_duration(span)), str(span.get("span_type", ""))]
    if span.get("model_name"):
        details.append(str(span["model_name"]))
    tokens = [n for n in (number(span.get("prompt_tokens")), number(span.get("completion_tokens"))) if n is not None]
    if tokens:
        details.append(plural(sum(tokens), "token"))
    cost = number(span.get("cost_usd"))
    if cost is not None:
        details.append(format_usd(cost))
    if not span.get("success", True):
        details.append(f"{span.get('exception_type') or 'failed'}: {span.get('exception_message') or ''}")
    name = html.escape(str(span.get("name", "?")))
    return f"<b>{name}</b> <span class='muted'>{html.escape(' · '.join(details))}</span>"
