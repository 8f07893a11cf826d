"""LoopCallback: Keras- and synalinks-shaped loop callbacks record their logs with the step, with no framework."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from genmon import GenerationMonitor, LoopCallback
from genmon.records.steps import point_step

Make = Callable[..., GenerationMonitor]


def stepped(monitor: GenerationMonitor, name: str) -> list[tuple[int | None, float]]:
    monitor.sync_store()
    series = monitor.store.series(name)
    if series is None:
        return []
    return sorted(
        (point_step(meta), float(value)) for meta, value in zip(series.metadata(), series.values, strict=True)
    )


def fit(callback: Any, epochs: int, batches: int) -> None:
    """The order Keras's and synalinks' fit() call a callback in, validation included."""
    callback.set_params({"epochs": epochs, "steps": batches, "verbose": 0})
    callback.set_model(object())
    callback.set_program(object())
    callback.on_train_begin()
    for epoch in range(epochs):
        callback.on_epoch_begin(epoch)
        for batch in range(batches):
            callback.on_train_batch_begin(batch)
            callback.on_train_batch_end(batch, logs={"loss": 1.0 / (epoch * batches + batch + 1)})
        callback.on_test_begin()
        callback.on_test_batch_begin(0)
        callback.on_test_batch_end(0, logs={"loss": 0.5})
        callback.on_test_end(logs={"loss": 0.5})  # fit's own validation: its figures come as val_* below
        callback.on_epoch_end(epoch, {"loss": 0.1 * (epochs - epoch), "val_loss": 0.2 * (epochs - epoch)})
    callback.on_train_end(logs={"loss": 0.1})


def test_fit_records_epoch_logs_at_their_epoch(make_monitor: Make) -> None:
    """on_epoch_end(epoch, logs) records each log at step epoch; validation inside fit is not recorded twice."""
    monitor = make_monitor()
    fit(LoopCallback(monitor), epochs=3, batches=4)
    assert stepped(monitor, "loss") == [(0, 0.30000000000000004), (1, 0.2), (2, 0.1)]
    assert [step for step, _ in stepped(monitor, "val_loss")] == [0, 1, 2]
    assert stepped(monitor, "test/loss") == []
    assert stepped(monitor, "batch/loss") == []  # batches are off by default


def test_every_n_batches_counts_batches_across_epochs(make_monitor: Make) -> None:
    """Batch logs go under batch/ at the count of batches trained so far, every n-th one."""
    monitor = make_monitor()
    fit(LoopCallback(monitor, prefix="train/", every_n_batches=3), epochs=2, batches=4)
    assert [step for step, _ in stepped(monitor, "train/batch/loss")] == [0, 3, 6]
    assert stepped(monitor, "train/batch/loss")[1] == (3, 0.25)  # epoch 0, batch 3: the 4th batch trained
    assert [step for step, _ in stepped(monitor, "train/loss")] == [0, 1]


def test_evaluations_outside_training_are_numbered(make_monitor: Make) -> None:
    """evaluate() calls on_test_end(logs) alone: each evaluation's logs under test/, at steps 0, 1, 2."""
    monitor = make_monitor()
    callback = LoopCallback(monitor)
    for accuracy in (0.7, 0.8, 0.9):
        callback.on_test_begin()
        callback.on_test_end({"accuracy": accuracy})
    assert stepped(monitor, "test/accuracy") == [(0, 0.7), (1, 0.8), (2, 0.9)]


def test_what_is_not_a_finite_number_is_left_out_with_one_warning(make_monitor: Make) -> None:
    """Text, None and NaN are left out; each such key is warned about once in the monitor's log."""
    monitor = make_monitor()
    callback = LoopCallback(monitor, metadata={"run": "a"})
    for step in range(3):
        recorded = callback.log(step, {"reward": 0.5, "note": "ok", "loss": float("nan"), "best": None})
        assert recorded == {"reward": 0.5}
    assert callback.log(3, None) == {}
    monitor.sync_store()
    series = monitor.store.series("reward")
    assert series is not None and series.metadata()[0] == {"run": "a", "step": 0}
    assert monitor.store.series("note") is None and monitor.store.series("loss") is None
    monitor.close()
    log = [json.loads(line) for line in (monitor.log_dir / "genmon.log").read_text().splitlines()]
    warned = sorted(record["metric"] for record in log if record["level"] == "warning")
    assert warned == ["best", "loss", "note"]
    assert any("loss at step 0: not finite" in record["message"] for record in log)


def test_batch_hooks_from_a_thread_pool(make_monitor: Make) -> None:
    """synalinks dispatches batch hooks to a thread pool when a callback is async_safe: no batch is lost or doubled."""
    monitor = make_monitor()
    callback = LoopCallback(monitor, every_n_batches=1)
    assert callback.async_safe is True
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda batch: callback.on_train_batch_end(batch, logs={"loss": 1.0}), range(200)))
    assert [step for step, _ in stepped(monitor, "batch/loss")] == list(range(200))


def test_an_async_loop_logs_its_steps(make_monitor: Make) -> None:
    """A loop of coroutines calls log(step, logs) like any other."""
    monitor = make_monitor()
    callback = LoopCallback(monitor, prefix="eval/")

    async def evaluate(step: int) -> None:
        await asyncio.sleep(0)
        callback.log(step, {"score": step / 10})

    async def run() -> None:
        await asyncio.gather(*(evaluate(step) for step in range(5)))

    asyncio.run(run())
    assert stepped(monitor, "eval/score") == [(step, step / 10) for step in range(5)]


def test_bad_arguments_are_refused_at_construction(make_monitor: Make) -> None:
    """A monitor without record_metrics, a negative batch period or a bad step is refused where it is given."""
    monitor = make_monitor()
    with pytest.raises(TypeError, match="record_metrics"):
        LoopCallback(object())
    with pytest.raises(ValueError, match="every_n_batches"):
        LoopCallback(monitor, every_n_batches=-1)
    with pytest.raises(TypeError, match="prefix"):
        LoopCallback(monitor, prefix=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="step"):
        LoopCallback(monitor).log(-1, {"loss": 1.0})
    with pytest.raises(TypeError, match="logs"):
        LoopCallback(monitor).log(0, [("loss", 1.0)])  # type: ignore[arg-type]
