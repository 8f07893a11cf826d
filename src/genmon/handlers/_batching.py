"""The engine every remote sink shares: a bounded buffer, a sender thread, batching, retries.

A sink (HTTP, MLflow) hands records to a ``BatchSender`` and supplies one
function, ``send(batch, budget_s)``, that delivers a batch or raises. The
sender thread takes batches of up to ``batch_size`` records when the batch
is full, when the oldest buffered record has waited ``flush_interval_s``, or
when a flush or close asks for it. ``RetryableError`` is retried with
exponential backoff and jitter up to ``max_retries`` times; any other
exception rejects the batch at once. Every record accepted is eventually
counted exactly once as sent or as dropped (by reason), so
``received == sent + dropped + buffered + in_flight`` holds at any time.

A sink that delivers a batch in several calls may set ``delivered`` (the
number of the batch's records that got through) on the exception it
raises; only the rest is counted as dropped.

``flush(timeout_s)`` and ``close(timeout_s)`` never wait past their deadline:
during a close each attempt gets the time left as its budget (sinks use it
as their socket timeout), no attempt starts after the deadline, and what is
still buffered then is dropped and counted as ``close_timeout`` (a request
in flight by its outcome; ``write_off()`` counts it as ``close_timeout`` too).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from genmon.errors import RecordsDropped
from genmon.handlers._batch_items import DROP_REASONS, ErrorReport, Send, SendAbandoned, SinkError, Task, count_records
from genmon.handlers._retry import RetryableError, _check_positive, backoff_delay
from genmon.monitor.engine.failures import THREAD_PREFIX

logger = logging.getLogger("genmon.handlers")


class BatchSender:
    """A bounded buffer drained in batches by one named daemon thread, with retries.

    Args:
        name: thread name suffix (``genmon-<name>``) and the name in error reports.
        send: ``send(batch, budget_s)`` delivers a batch or raises; ``budget_s``
            is the time left before a close deadline (None when unbounded).
        batch_size: records per batch at most.
        flush_interval_s: the longest a record waits in the buffer before it is sent.
        max_buffer: records buffered at most; beyond it new records are dropped
            (``buffer_full``) instead of growing memory without bound.
        max_retries: retries of a batch after its first failed attempt.
        backoff_s, max_backoff_s: first retry delay and the cap of the exponential growth.
        on_error: called with each given-up batch's last error (reporting only).
        rng: the jitter's random source (tests pass a seeded one).
    """

    def __init__(
        self,
        name: str,
        send: Send,
        *,
        batch_size: int = 500,
        flush_interval_s: float = 5.0,
        max_buffer: int = 10_000,
        max_retries: int = 5,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        on_error: ErrorReport | None = None,
        redact: Callable[[str], str] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        if isinstance(max_buffer, bool) or not isinstance(max_buffer, int) or max_buffer < batch_size:
            raise ValueError(f"max_buffer must be an int >= batch_size ({batch_size}), got {max_buffer!r}")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f"max_retries must be an int >= 0, got {max_retries!r}")
        self.name = name
        self.batch_size = batch_size
        self.flush_interval_s = _check_positive(flush_interval_s, "flush_interval")
        self.max_buffer = max_buffer
        self.max_retries = max_retries
        self.backoff_s = _check_positive(backoff_s, "backoff", allow_zero=True)
        self.max_backoff_s = _check_positive(max_backoff_s, "max_backoff", allow_zero=True)
        self._send = send
        self._on_error = on_error
        self._redact = redact or (lambda text: text)
        self._rng = rng or random.Random()
        self._cond = threading.Condition(threading.Lock())
        self._buffer: deque[Any] = deque()
        self._oldest_at = 0.0  # monotonic time the oldest buffered record arrived
        self._thread: threading.Thread | None = None
        # Records are resolved (sent or dropped) in the order they were accepted,
        # so two counters are enough for flush to know what it waits for.
        self._accepted = 0
        self._resolved = 0
        self._flush_target = 0
        self._eager = False  # set by close: send without waiting, exit when empty
        self._deadline: float | None = None  # the running close's deadline (monotonic)
        self._abandoned = False
        self._in_flight = 0  # records (not tasks) in the batch being sent
        self._in_flight_batch: list[Any] | None = None  # None again once written off
        self._tasks_buffered = 0  # tasks in the buffer: stats count records only
        self._left_out = 0
        self.received = 0
        self.sent = 0
        self.batches_sent = 0
        self.retries = 0
        self.failed_attempts = 0
        self.dropped: dict[str, int] = dict.fromkeys(DROP_REASONS, 0)
        self.last_error: str | None = None
        self._last_log = -1e18

    # -- producers ---------------------------------------------------------------
    def put_many(self, records: Iterable[Any]) -> None:
        """Buffer records without waiting; those beyond ``max_buffer`` are dropped and counted."""
        items = records if isinstance(records, list) else list(records)
        with self._cond:
            was_empty = not self._buffer
            n = len(items)
            # Never negative: queued tasks may already fill the buffer past max_buffer.
            taken = max(0, min(n, self.max_buffer - len(self._buffer)))
            self.received += n
            if taken < n:
                self.dropped["buffer_full"] += n - taken
                items = items[:taken]
            if not taken:
                return
            self._buffer.extend(items)
            self._accepted += taken
            if was_empty:
                self._oldest_at = time.monotonic()
            self._start_locked()
            if was_empty or len(self._buffer) >= self.batch_size:
                self._cond.notify_all()

    def put(self, record: Any) -> None:
        """Buffer one record (see ``put_many``)."""
        self.put_many((record,))

    def put_task(self, payload: Any) -> None:
        """Queue a ``Task`` behind the records buffered so far; it is never dropped for room."""
        with self._cond:
            was_empty = not self._buffer
            self._buffer.append(Task(payload))
            self._tasks_buffered += 1
            self._accepted += 1
            if was_empty:
                self._oldest_at = time.monotonic()
            self._start_locked()
            self._cond.notify_all()

    def _start_locked(self) -> None:
        if self._thread is None:
            # A put after close restarts the thread in eager mode: it sends the
            # late records right away (no old deadline) and exits once empty.
            self._abandoned = False
            self._deadline = None
            self._thread = threading.Thread(target=self._run, name=f"{THREAD_PREFIX}{self.name}", daemon=True)
            self._thread.start()

    # -- lifecycle -----------------------------------------------------------------
    def flush(self, timeout_s: float | None = None) -> bool:
        """Send everything buffered before the call; True if it was all resolved in time.

        Resolved means sent, or dropped after the retry bound: a flush does
        not wait for a server that keeps failing longer than the retries last.
        """
        deadline = None if timeout_s is None else time.monotonic() + max(timeout_s, 0.0)
        with self._cond:
            target = self._accepted
            if self._resolved >= target:
                return True
            self._flush_target = max(self._flush_target, target)
            self._cond.notify_all()
            while self._resolved < target:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def close(self, timeout_s: float | None = None) -> bool:
        """Send what is buffered, then stop the thread; never waits past ``timeout_s``.

        Returns True when every record was resolved (sent or dropped after
        retries) in time. At the deadline the buffered remainder is dropped
        and counted as ``close_timeout``; an attempt still in flight is
        counted by its outcome when it returns. Calling it again waits again.
        """
        deadline = None if timeout_s is None else time.monotonic() + max(timeout_s, 0.0)
        with self._cond:
            self._eager = True
            self._deadline = deadline
            thread = self._thread
            self._cond.notify_all()
        if thread is not None:
            thread.join(None if deadline is None else max(deadline - time.monotonic(), 0.0))
        with self._cond:
            if thread is not None and thread.is_alive():
                self._abandoned = True
                in_flight = self._in_flight
                left = self._drop_buffer_locked()
                self._cond.notify_all()
            else:
                return self._resolved == self._accepted
        # Outside the lock: the report may log. No line says "0 records dropped".
        if left:
            message = f"{self.name}: {left} buffered records dropped at the close deadline"
            if in_flight:
                message += f" ({in_flight} more in a request still in flight, counted by its outcome)"
        elif in_flight:
            message = f"{self.name}: {in_flight} records in a request still in flight at the close deadline (counted by its outcome)"
        else:
            return False
        self._report(RecordsDropped(message, {"close_timeout": left}, report=True), "close_timeout", left)
        return False

    def write_off(self) -> int:
        """Give up on every record still held, as ``close_timeout``; how many. Nothing is sent after it.

        The records of a request in flight count too: it may never return, and
        the monitor that gave up on this sink reports its loss now.
        """
        with self._cond:
            self._abandoned = True
            lost = self._drop_buffer_locked()
            batch = self._in_flight_batch
            if batch is not None:
                self._in_flight_batch = None  # the sender thread counts it no more when it returns
                lost += self._drop_locked(batch, 0, "close_timeout")
                self._in_flight = 0
            self._cond.notify_all()
        return lost

    def join(self, timeout_s: float | None = None) -> bool:
        """Wait for the sender thread to end (after a close); True if it has."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
            return not thread.is_alive()
        return True

    def stats(self) -> dict[str, Any]:
        """Counts: received, sent, dropped by reason, buffered, in flight, retries, last error."""
        with self._cond:
            return {
                "received": self.received,
                "sent": self.sent,
                "batches_sent": self.batches_sent,
                "dropped": dict(self.dropped),
                "dropped_total": sum(self.dropped.values()),
                "buffered": len(self._buffer) - self._tasks_buffered,
                "in_flight": self._in_flight,
                "retries": self.retries,
                "failed_attempts": self.failed_attempts,
                "last_error": self.last_error,
            }

    # -- the sender thread -------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                batch = self._next_batch_locked()
                if batch is None:
                    # Cleared under the lock: a put that comes after this sees no
                    # sender and starts one, so no record is left stranded.
                    self._thread = None
                    return
                self._in_flight = count_records(batch)
                self._in_flight_batch = batch
            outcome, error = self._deliver(batch)
            with self._cond:
                if self._in_flight_batch is None:  # written off meanwhile: counted already
                    continue
                self._in_flight_batch = None
                self._in_flight = 0
                if outcome == "sent":
                    # A send that had to leave records out (they could not be encoded) says how many.
                    left_out = min(max(self._left_out, 0), count_records(batch))
                    self.sent += count_records(batch) - left_out
                    self.dropped["unserialisable"] += left_out
                    self.batches_sent += 1
                    self._resolved += len(batch)
                    lost = 0
                else:
                    # A sink that delivers a batch in steps says how many records got through.
                    delivered = max(int(getattr(error, "delivered", 0) or 0), 0)
                    lost = self._drop_locked(batch, delivered, outcome)
                self._cond.notify_all()
            if error is not None and outcome != "sent":
                self._report(error, outcome, lost)

    def _next_batch_locked(self) -> list[Any] | None:
        while True:
            if self._abandoned:
                return None
            pending = len(self._buffer)
            if pending:
                waited = time.monotonic() - self._oldest_at
                flushing = self._flush_target > self._resolved
                if pending >= self.batch_size or self._eager or flushing or waited >= self.flush_interval_s:
                    size = min(pending, self.batch_size)
                    batch = [self._buffer.popleft() for _ in range(size)]
                    if self._tasks_buffered:
                        self._tasks_buffered -= size - count_records(batch)
                    if self._buffer:
                        self._oldest_at = time.monotonic()
                    return batch
                self._cond.wait(self.flush_interval_s - waited)
            elif self._eager:
                return None
            else:
                self._cond.wait()

    def _budget(self) -> float | None:
        return None if self._deadline is None else self._deadline - time.monotonic()

    def _deliver(self, batch: list[Any]) -> tuple[str, BaseException | None]:
        attempt = 0
        while True:
            budget = self._budget()
            if self._abandoned or (budget is not None and budget <= 0):
                return "close_timeout", None
            try:
                left_out = self._send(batch, budget)
                self._left_out = left_out if isinstance(left_out, int) else 0
                return "sent", None
            except SendAbandoned as error:
                return "close_timeout", error
            except RetryableError as error:
                self._note_failure(error)
                attempt += 1
                if attempt > self.max_retries:
                    return "retries_exhausted", error
                self.retries += 1
                delay = backoff_delay(attempt, self.backoff_s, self.max_backoff_s, self._rng, error.retry_after_s)
                if not self._sleep(delay):
                    return "close_timeout", error
            except Exception as error:  # noqa: BLE001 - a rejected batch is counted, never raised
                self._note_failure(error)
                return "rejected", error

    def _sleep(self, delay: float) -> bool:
        """Wait ``delay`` seconds (less if a close deadline comes first); False if abandoned or past it."""
        end = time.monotonic() + delay
        with self._cond:
            while True:
                now = time.monotonic()
                limit = end if self._deadline is None else min(end, self._deadline)
                if self._abandoned:
                    return False
                if now >= limit:
                    return self._deadline is None or now < self._deadline
                # Woken by puts and flushes too; only the delay or the deadline ends the wait.
                self._cond.wait(limit - now)

    def _note_failure(self, error: BaseException) -> None:
        text = self._redact(f"{type(error).__name__}: {error}")
        with self._cond:
            self.failed_attempts += 1
            self.last_error = text

    def _drop_buffer_locked(self) -> int:
        """Drop everything buffered as ``close_timeout``; the number of records."""
        items = list(self._buffer)
        self._buffer.clear()
        self._tasks_buffered = 0
        return self._drop_locked(items, 0, "close_timeout")

    def _drop_locked(self, items: list[Any], delivered: int, reason: str) -> int:
        """Resolve ``items``: ``delivered`` of their records count as sent, the other records as dropped (returned)."""
        records = count_records(items)
        delivered = min(delivered, records)
        self.sent += delivered
        self.dropped[reason] += records - delivered
        self._resolved += len(items)
        return records - delivered

    def _report(self, error: BaseException, reason: str, count: int) -> None:
        text = self._redact(str(error))
        if not isinstance(error, RecordsDropped):
            # Whatever raised it, the text may quote a header or a URL: only the redacted text travels on.
            error = SinkError(f"{type(error).__name__}: {text}")
        if self._on_error is not None:
            try:
                self._on_error(error)
            except Exception:  # noqa: BLE001 - reporting must never kill the sender
                logger.debug("%s: error report failed", self.name)
        now = time.monotonic()
        if now - self._last_log >= 10.0:  # at most one warning per 10 s per sink
            self._last_log = now
            shown = self._redact(str(error))
            if count:
                logger.warning("%s dropped %d records (%s): %s", self.name, count, reason, shown)
            else:  # a failed set-up or finish task, or a batch that all got through in steps: nothing lost
                logger.warning("%s (%s, no records dropped): %s", self.name, reason, shown)
