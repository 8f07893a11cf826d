"""Which trace a root tracked call belongs to: the application's OpenTelemetry trace, or a fresh one.

Called in the caller's thread when a tracked call starts with no tracked call
around it (children take their parent's trace). It never imports
OpenTelemetry: an application that does not use it pays one dict lookup and
a random number.
"""

from __future__ import annotations

import sys
from random import getrandbits

_modules = sys.modules


def root_trace() -> tuple[str, str | None]:
    """``(trace_id, parent_span_id)`` in hex for a root call starting here.

    When the application has imported ``opentelemetry.trace`` and a valid
    span is current in this context, the call joins that span's trace with
    that span as parent. Otherwise it starts a fresh trace (no parent).
    """
    trace = _modules.get("opentelemetry.trace")
    if trace is None:
        # ~170 ns; an f-string "{:032x}" of the same number costs twice as much.
        # The random module reseeds itself in a forked child, so shards never share trace ids.
        return (getrandbits(128) or 1).to_bytes(16).hex(), None
    try:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            return f"{context.trace_id:032x}", f"{context.span_id:016x}"
    except Exception:  # noqa: BLE001, S110 - a half-imported or odd OpenTelemetry must never fail a call
        pass
    return (getrandbits(128) or 1).to_bytes(16).hex(), None
