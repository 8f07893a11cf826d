"""What the remote sinks (HTTP, MLflow) share: a batching lane of their own, flush, a copy per forked child."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from genmon.errors import RecordsDropped
from genmon.handlers._batching import BatchSender, SinkError


class RemoteSink:
    """Base of the sinks that deliver through a ``BatchSender`` thread.

    A subclass keeps the keywords it was built with (``_keep_config(locals())``
    first thing in ``__init__``) and calls ``_start_sender`` once its state is
    ready; it provides ``_record_error`` for given-up batches.
    """

    name: str
    _config: dict[str, Any]
    _sender: BatchSender

    def _keep_config(self, arguments: dict[str, Any]) -> None:
        # A forked child has the parent's sink object but not its thread: it
        # builds a fresh sink from the same keywords (for_shard).
        self._config = {k: v for k, v in arguments.items() if k not in ("self", "__class__")}

    def _start_sender(self, kind: str, send: Callable[[list[Any], float | None], int | None]) -> None:
        """Start the lane with the batching keywords the sink was built with (``_keep_config``)."""
        config = self._config
        self._sender = BatchSender(
            f"{kind}-{self.name}",
            send,
            batch_size=config["batch_size"],
            flush_interval_s=config["flush_interval"],
            max_buffer=config["max_buffer"],
            max_retries=config["max_retries"],
            backoff_s=config["backoff"],
            max_backoff_s=config["max_backoff"],
            on_error=self._record_error,
            redact=self._redactor,
        )

    _context: Any = None
    close_budget_s: float | None = None

    # Error texts the sink stores or logs pass through this; a sink with secrets sets a Redactor.
    _redactor: Callable[[str], str] = staticmethod(lambda text: text)

    def bind_monitor(self, context: Any) -> None:
        """Report given-up batches in the monitor's handler errors and log (called by the monitor)."""
        self._context = context

    def _record_error(self, error: BaseException) -> None:
        text = str(error)
        if not isinstance(error, RecordsDropped) and self._redactor(text) != text:
            # A sink's own failure (a step, an upload) may quote a URL with its credentials.
            error = SinkError(f"{type(error).__name__}: {self._redactor(text)}")
        if self._context is not None:
            self._context.errors.record(self.name, error, report=bool(getattr(error, "report", False)))

    def loss_stats(self) -> dict[str, Any]:
        """What became of the records this sink accepted: sent, dropped by reason, still buffered or in flight."""
        stats = self._sender.stats()
        return {key: stats[key] for key in ("received", "sent", "dropped", "buffered", "in_flight")}

    def write_off(self) -> int:
        """The monitor's close deadline passed: what this sink still holds is dropped as ``close_timeout``; how many."""
        return self._sender.write_off()

    def for_shard(self, shard: str) -> Any:
        """A fresh sink for a forked child process: the same keywords, its own buffer and thread."""
        return type(self)(**self._config)

    def flush(self, timeout_s: float | None = 5.0) -> bool:
        """Deliver what is buffered; True when all of it was delivered or dropped within ``timeout_s``."""
        return self._sender.flush(timeout_s)

    def stats(self) -> dict[str, Any]:
        """received, sent, batches_sent, dropped (by reason), dropped_total, buffered, in_flight, retries, last_error."""
        return self._sender.stats()

    def handle_span(self, span: Any) -> None:
        """One finished span (``SpanRecord``)."""
        self.handle_span_batch([span])

    def handle_span_batch(self, spans: list[Any]) -> None:  # pragma: no cover - each sink has its own
        raise NotImplementedError
