"""``LoopCallback``: a training or evaluation loop's ``logs`` recorded with their step.

It has the methods Keras and synalinks call on a callback (``on_epoch_end(epoch,
logs)``, ``on_train_batch_end(batch, logs)``, ``set_params``, ``set_model``,
``set_program``...) without importing either: pass it in ``callbacks=[...]``,
or call ``log(step, logs)`` from a loop of your own.

Each finite number in ``logs`` becomes a point named after its key (with the
callback's prefix) at that step: the step is in the point's metadata, so
MLflow gets it as the metric step, ``plot_metric`` draws the metric against
steps, and exports have a ``step`` column. What is not a number (text,
lists, None) and what is not finite (a NaN loss) is left out, with one
warning per key in the monitor's log.
"""

from __future__ import annotations

import itertools
import math
import numbers
import threading
from collections.abc import Mapping
from typing import Any

__all__ = ["LoopCallback"]


class LoopCallback:
    """Records the ``logs`` dicts of a loop with their step; Keras- and synalinks-shaped, with no dependency.

    - ``on_epoch_end(epoch, logs)``: ``logs`` at step ``epoch`` (``loss``, ``val_loss``...).
    - ``on_train_batch_end(batch, logs)``: with ``every_n_batches=n``, every n-th
      batch's logs under ``batch/<key>``, at the count of batches trained so
      far (Keras numbers batches from 0 in every epoch; this count goes on).
    - ``on_test_end(logs)`` of an evaluation outside training: ``test/<key>``
      at the count of such evaluations (inside ``fit`` the epoch's ``val_``
      keys say the same).
    - ``log(step, logs)``: any loop of your own.

    Args:
        monitor: what records the points: a ``GenerationMonitor`` (its
            ``record_metrics(metrics, metadata, step=...)`` and ``log_warning``).
        prefix: put before every metric name (``"train/"``).
        every_n_batches: record batch logs every n batches; 0 (default) never.
        metadata: JSON-serialisable metadata added to every point (``{"run": "a"}``).

    Example:
        >>> callback = LoopCallback(monitor, prefix="train/")  # doctest: +SKIP
        >>> program.fit(x, y, epochs=5, callbacks=[callback])  # synalinks or Keras  # doctest: +SKIP
        >>> callback.log(7, {"reward": 0.8})  # or from a loop of your own  # doctest: +SKIP
    """

    # Keras and synalinks may call batch hooks from a thread pool when a callback says
    # it is safe; recording is thread-safe and never blocks on I/O.
    async_safe = True

    def __init__(
        self, monitor: Any, *, prefix: str = "", every_n_batches: int = 0, metadata: dict[str, Any] | None = None
    ) -> None:
        if not callable(getattr(monitor, "record_metrics", None)):
            raise TypeError(f"monitor must have record_metrics (a GenerationMonitor), got {type(monitor).__name__}")
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a string, got {type(prefix).__name__} {prefix!r:.80}")
        if type(every_n_batches) is not int or every_n_batches < 0:
            raise ValueError(f"every_n_batches must be an int >= 0, got {every_n_batches!r:.80}")
        if metadata is not None and not isinstance(metadata, dict):
            raise TypeError(f"metadata must be a dict or None, got {type(metadata).__name__}")
        self.monitor = monitor
        self.prefix = prefix
        self.every_n_batches = every_n_batches
        self.metadata = metadata
        self.params: Any = None
        self.model: Any = None
        self.program: Any = None
        self._batches = itertools.count()  # next() is atomic under the GIL: hooks may run on several threads
        self._evaluations = itertools.count()
        self._training = False
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    # -- the generic entry --------------------------------------------------------
    def log(self, step: int, logs: Mapping[str, Any] | None, prefix: str | None = None) -> dict[str, float]:
        """Record each finite number of ``logs`` at ``step``; return what was recorded."""
        if logs is None:
            return {}
        if not isinstance(logs, Mapping):
            raise TypeError(f"logs must be a mapping of name to number, got {type(logs).__name__}")
        head = self.prefix + (prefix or "")
        values: dict[str, float] = {}
        for key, value in logs.items():
            if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value):
                values[f"{head}{key}"] = float(value)
            else:
                self._warn_once(f"{head}{key}", value, step)
        if values:
            self.monitor.record_metrics(values, self.metadata, step=step)
        return values

    def _warn_once(self, name: str, value: Any, step: int) -> None:
        with self._lock:
            if name in self._warned:
                return
            self._warned.add(name)
        kind = "not finite" if isinstance(value, numbers.Real) else f"a {type(value).__name__}, not a number"
        warn = getattr(self.monitor, "log_warning", None)
        if callable(warn):
            warn(f"LoopCallback left out {name} at step {step}: {kind} (warned once)", metric=name, step=step)

    # -- Keras and synalinks ------------------------------------------------------
    def set_params(self, params: Any) -> None:
        self.params = params

    def set_model(self, model: Any) -> None:
        self.model = model

    def set_program(self, program: Any) -> None:
        self.program = program

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        self._training = True

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        self._training = False

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self.log(epoch, logs)

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        seen = next(self._batches)
        if self.every_n_batches and seen % self.every_n_batches == 0:
            self.log(seen, logs, "batch/")

    on_batch_end = on_train_batch_end  # Keras's older name for the same hook

    def on_test_end(self, logs: Mapping[str, Any] | None = None) -> None:
        if not self._training:  # inside fit, the epoch's logs carry these as val_*
            self.log(next(self._evaluations), logs, "test/")

    def _ignore(self, *args: Any, **kwargs: Any) -> None:
        """A hook this callback has nothing to record for."""

    on_epoch_begin = on_train_batch_begin = on_batch_begin = _ignore
    on_test_begin = on_test_batch_begin = on_test_batch_end = _ignore
    on_predict_begin = on_predict_end = on_predict_batch_begin = on_predict_batch_end = _ignore
