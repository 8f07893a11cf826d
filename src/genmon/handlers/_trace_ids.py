"""Trace and span ids of genmon calls, the same in every sink that sends traces (OTLP, MLflow).

- A span id is 8 bytes of BLAKE2b of the call id: a child computes its
  parent's id without waiting for the parent to finish.
- A call tree's trace id is the one its root call carries
  (``SpanRecord.trace_id``: the application's OpenTelemetry trace when the
  call started inside one, else a random one). A record without one (built
  by hand) is anchored at its nearest call id.
- A trace that starts at a call other than a root (MlflowHandler's one trace
  per unit of work) is anchored at that call: 16 bytes of BLAKE2b of its call id.

The same call therefore has the same span id in Tempo (OTLP) and in MLflow,
and a whole call tree the same trace id when MLflow keeps it as one trace.
"""

from __future__ import annotations

import hashlib
from typing import Any


def span_id(call_id: str) -> bytes:
    """The 8-byte span id of a genmon call id (stable: a child computes its parent's)."""
    return hashlib.blake2b(call_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()


def anchored_trace_id(call_id: str) -> bytes:
    """The 16-byte id of a trace that starts at ``call_id``."""
    return hashlib.blake2b(call_id.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def trace_id(span: Any) -> bytes:
    """The span's 16-byte trace id: carried by the record, else derived from its call tree's nearest id."""
    if span.trace_id:
        return bytes.fromhex(span.trace_id)
    # Records built by hand carry none: a root and its direct children still share one.
    return anchored_trace_id(span.parent_call_id or span.call_id)
