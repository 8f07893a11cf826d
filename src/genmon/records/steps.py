"""Steps: where a point stands in a training or evaluation loop, kept as its ``step`` metadata.

``record_metric(..., step=n)`` (and ``record_metrics``, ``track``) check the
step in the caller's thread and put it under the point's ``"step"`` key;
readers (``MlflowHandler``, ``plot_metric``) take a whole number there as the
point's step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from genmon.records.validation import INT64_MAX

__all__ = ["check_step", "point_step", "with_step"]


def check_step(step: Any, argument: str = "step") -> int:
    """``step`` as an int: a whole number from 0 to int64's maximum (MLflow's step is an int64)."""
    if isinstance(step, bool) or not hasattr(step, "__index__"):
        raise TypeError(f"{argument} must be a whole number >= 0, got {type(step).__name__} {step!r:.80}")
    number = int(step.__index__())  # numpy integers too
    if not 0 <= number <= INT64_MAX:
        raise ValueError(f"{argument} must be a whole number from 0 to 2**63-1, got {number!r:.80}")
    return number


def point_step(metadata: Mapping[str, Any] | None) -> int | None:
    """A point's step: its ``step`` metadata when that is a whole number >= 0, else None.

    ``record_metric(..., step=n)`` puts it there; metadata recorded with a
    ``step`` of another kind (a label such as ``"warmup"``) is no step.
    """
    if not metadata:
        return None
    step = metadata.get("step")
    if type(step) is int and 0 <= step <= INT64_MAX:
        return step
    return None


def with_step(metadata: Any, step: Any, argument: str = "step") -> dict[str, Any]:
    """``metadata`` with the point's step under ``"step"``; a different ``metadata['step']`` is refused."""
    number = check_step(step, argument)
    if metadata is None:
        return {"step": number}
    if not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict or None, got {type(metadata).__name__}")
    given = metadata.get("step", number)
    if given != number or type(given) is bool:
        raise ValueError(f"{argument}={number} and metadata['step']={given!r:.80} disagree: give the step once")
    return {**metadata, "step": number}
