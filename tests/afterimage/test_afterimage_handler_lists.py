"""Handler lists changed after construction, as afterimage programs change them: what genmon still gets wrong.

Found while comparing with afterimage; these need no afterimage install.
"""

from __future__ import annotations

from typing import Any

from genmon import GenerationMonitor
from genmon.testing import LifecycleRecordingHandler

ClosingHandler = LifecycleRecordingHandler  # records its flush and close calls


def test_flush_after_a_handler_was_removed_counts_no_error(make_monitor: Any) -> None:
    """metric_handlers.clear() (or reassigning the list), then flush() three times: no handler error is counted for the removed handler."""
    removed = ClosingHandler("removed")
    monitor: GenerationMonitor = make_monitor(metric_handlers=[removed])
    monitor.record_metric("x", 1.0)
    assert monitor.flush(10)
    monitor.metric_handlers.clear()
    monitor.record_metric("x", 2.0)
    for _ in range(3):
        assert monitor.flush(10)
    assert removed.values("x") == [1.0]
    assert monitor.errors.snapshot().get("removed", 0) == 0
