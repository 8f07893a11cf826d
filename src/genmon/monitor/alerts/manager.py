"""The monitor's alerting: periodic rule passes, isolated handler calls, the log and the counts.

``AlertManager`` joins the pieces the façade needs: the rules and their
firing state (``rules`` and ``state``), the ``CallbackRunner`` whose lanes
call alert handlers and the token usage callback, and the two periodic threads
(``genmon-alerts`` every ``metrics_interval`` seconds, ``genmon-token-usage``
every ``token_usage_callback_interval_seconds``). Every alert also goes to
the log with its level, message and data.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from genmon.monitor.alerts.handler_shapes import AlertHandlerShapes, as_alert_handler, takes_values, unwrapped
from genmon.monitor.alerts.rules import Rule, RuleCheck, ThresholdRule, builtin_rules
from genmon.monitor.alerts.state import AlertRules
from genmon.monitor.engine.callbacks import CallbackRunner
from genmon.monitor.engine.failures import HandlerErrors, handler_name
from genmon.monitor.engine.isolation import Call, is_coroutine_function
from genmon.monitor.engine.periodic import PeriodicTask
from genmon.records.resources import RESOURCE_ALIASES, resource_metric
from genmon.records.types import Alert

if TYPE_CHECKING:
    from genmon.monitor.store.metric_store import MetricStore

__all__ = ["AlertManager", "check_intervals", "threshold_decorator"]

AlertHandler = Callable[[Alert], Any]
# A call cancelled or timed out at the handler timeout settles on its lane within this:
# check_alerts() waits at most alert_handler_timeout + _SETTLE_S (the README says so).
_SETTLE_S = 0.25
LogSink = Callable[[tuple[float, str, str, dict[str, Any]]], None]


def check_intervals(metrics_interval: Any, token_usage_interval_s: Any) -> None:
    """TypeError unless both periods are seconds (``metrics_interval`` may be None: no rule passes)."""
    for argument, value in (
        ("metrics_interval", metrics_interval),
        ("token_usage_callback_interval_seconds", token_usage_interval_s),
    ):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise TypeError(f"{argument} must be seconds, got {type(value).__name__} {value!r:.80}")


class _HandlerNames:
    """Stable, unique names for handler objects (a handler list may grow at any time)."""

    def __init__(self) -> None:
        self._names: dict[int, tuple[Any, str]] = {}
        self._taken: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, handler: Any) -> str:
        with self._lock:
            entry = self._names.get(id(handler))
            if entry is None or entry[0] is not handler:
                # The entry keeps the handler alive, so its id is never reused by another object.
                entry = self._names[id(handler)] = (handler, handler_name(handler, self._taken))
            return entry[1]


class AlertManager:
    """Rules, their periodic evaluation, and delivery of alerts to the log and to handlers.

    Args:
        store: the monitor's store, read by the rules.
        clock: epoch seconds; windows and cooldowns are measured on it.
        handlers: returns the monitor's alert handler list, read at each alert
            (so a list assigned or appended later is used).
        on_alert: also called with each alert sent (the ``alert`` event).
        send_resolved: send the ``resolved`` alert of a rule that stops holding.
        errors: where rule and handler failures are counted.
        log: queues a log record ``(ts, level, message, data)`` without blocking.
        window_s: default rule window; cooldown_s: seconds between reminders.
        thresholds: afterimage's ``alert_*`` keywords for the built-in rules.
        handler_timeout_s: seconds each handler call may take.
        metrics_interval: seconds between rule passes on the ``genmon-alerts``
            thread (None or <= 0: no thread).
        token_usage_callback: called with ``token_usage_report()`` every
            ``token_usage_interval_s`` seconds (<= 0: never), isolated like a handler.

    Threads start with ``start()``; the constructor validates everything first.
    """

    def __init__(
        self,
        store: MetricStore,
        clock: Callable[[], float],
        handlers: Callable[[], list[AlertHandler]],
        errors: HandlerErrors,
        log: LogSink,
        *,
        on_alert: Callable[[Alert], None] | None = None,
        send_resolved: bool = True,
        window_s: float,
        cooldown_s: float,
        thresholds: Mapping[str, float | None] | None = None,
        handler_timeout_s: float = 5.0,
        metrics_interval: float | None = None,
        token_usage_callback: Callable[[Any], Any] | None = None,
        token_usage_interval_s: float = 60.0,
        token_usage_report: Callable[[], Any] | None = None,
    ) -> None:
        for index, handler in enumerate(handlers()):
            takes_values(handler, f"alert_handlers[{index}]")  # a shape that fits neither: refused here
        self.rules = AlertRules(
            window_s,
            cooldown_s,
            on_rule_error=lambda name, e: errors.record(f"rule:{name}", e),
            on_empty=self._on_empty,
        )
        builtins = builtin_rules(thresholds)
        # afterimage's rules watch metrics a run may never record (conversation_length): no warning for them.
        self._quiet_rules = {id(rule) for rule in builtins}
        self._warned_empty: set[tuple[str, str]] = set()
        for rule in builtins:
            self.rules.add(rule)
        self.runner = CallbackRunner(errors, handler_timeout_s, kind="alert")
        self._store = store
        self._clock = clock
        self._handlers = handlers
        self._on_alert = on_alert
        self.send_resolved = send_resolved
        self._errors = errors
        self._log = log
        self._names = _HandlerNames()
        self._shapes = AlertHandlerShapes()
        # Per handler name, the calls a check_alerts() stopped waiting for before they ended.
        self._overdue: dict[str, list[Call]] = {}
        self._overdue_lock = threading.Lock()
        self._tasks = self._periodic_tasks(
            metrics_interval, token_usage_callback, token_usage_interval_s, token_usage_report or (lambda: None)
        )

    def start(self) -> None:
        """Start the periodic threads: rule passes if ``metrics_interval > 0``, the token callback if given."""
        for task in self._tasks:
            task.start()

    def _periodic_tasks(
        self,
        metrics_interval: float | None,
        token_usage_callback: Callable[[Any], Any] | None,
        token_usage_interval_s: float,
        token_usage_report: Callable[[], Any],
    ) -> list[PeriodicTask]:
        tasks = []
        check_intervals(metrics_interval, token_usage_interval_s)
        if metrics_interval is not None and metrics_interval > 0:
            tasks.append(
                PeriodicTask("alerts", metrics_interval, self.run, lambda e: self._errors.record("alert-worker", e))
            )
        # afterimage would call the callback in a busy loop at interval 0; here it means off.
        if token_usage_callback is not None and token_usage_interval_s > 0:
            callback = token_usage_callback
            name = self._names(callback)

            def report_tokens() -> None:
                self.runner.submit(name, callback, token_usage_report())

            tasks.append(
                PeriodicTask(
                    "token-usage", token_usage_interval_s, report_tokens, lambda e: self._errors.record(name, e)
                )
            )
        return tasks

    def run(self, wait: bool = False) -> list[Alert]:
        """One pass of every rule at the clock's now; returns the alerts it fired or resolved.

        With ``wait`` (``check_alerts``, as afterimage called its handlers in
        line), it returns once every handler has returned from this pass's
        alerts, or at most ``alert_handler_timeout`` (plus 0.25 s for a timed-out
        call to settle) later, whatever the number of alerts: a hung handler
        delays it that long, once, and is timed out on its lane as usual.
        """
        calls: list[tuple[str, Call]] = []
        alerts = self.rules.evaluate(self._store, self._clock(), lambda alert: self._emit(alert, calls))
        if wait and calls:
            self._wait(calls)
        return alerts

    def _wait(self, calls: list[tuple[str, Call]]) -> None:
        """Wait for this pass's calls by one shared deadline, except those of a handler still stuck.

        A handler is stuck while its lane has a thread inside a call that
        timed out, or while a call an earlier ``check_alerts()`` gave up on has
        not ended: it already cost one wait, so its alerts are handed to it
        (on a fresh thread, as usual) without waiting again.
        """
        with self._overdue_lock:
            stuck = {name for name, _ in calls if self._stuck_locked(name)}
        deadline = time.monotonic() + self.runner.timeout_s + _SETTLE_S
        for name, call in calls:
            if name not in stuck:
                call.done.wait(max(deadline - time.monotonic(), 0.0))
        with self._overdue_lock:
            for name, call in calls:
                if not call.done.is_set():
                    self._overdue.setdefault(name, []).append(call)

    def _stuck_locked(self, name: str) -> bool:
        overdue = [call for call in self._overdue.pop(name, ()) if not call.done.is_set()]
        if overdue:
            self._overdue[name] = overdue
        return bool(overdue) or self.runner.is_hung(name)

    def _emit(self, alert: Alert, calls: list[tuple[str, Call]]) -> None:
        self._log((self._clock(), alert.level, alert.message, {"alert": alert.name, "data": alert.data}))
        if not self.send_resolved and alert.data.get("state") == "resolved":
            return  # afterimage never sent a recovery; its cadence with send_resolved=False
        for handler in list(self._handlers()):
            name = self._names(handler)
            try:
                callable_ = self._shapes(handler)
            except TypeError as error:  # appended to the live list with a shape that fits neither
                self._errors.record(name, error)
                continue
            call = self.runner.submit(name, callable_, alert)
            if call is not None:
                calls.append((name, call))
        if self._on_alert is not None:
            self._on_alert(alert)

    @staticmethod
    def decorator(handlers: list[AlertHandler], args: tuple[Any, ...]) -> Any:
        """``@monitor.on_threshold_exceeded`` (see ``threshold_decorator``)."""
        return threshold_decorator(handlers, args)

    def add_rule(self, rule: Rule) -> Rule:
        return self.rules.add(rule)

    def set_threshold(self, metric: str, value: float, **options: Any) -> ThresholdRule:
        """Alert when ``metric``'s mean (or ``statistic=``) exceeds ``value``; replaces an earlier one for it.

        mtaio's resource names (``cpu_usage``, ``memory_usage``, ``load_average``,
        ``thread_count``) watch the metric of that name when you record it, else
        the sampler's metric they stand for; a ``process/`` or ``system/`` name
        the sampler does not record is refused.
        """
        options.setdefault("name", f"threshold:{metric}")
        stands_for = resource_metric(metric) if isinstance(metric, str) else None
        if stands_for is not None and stands_for != metric:
            options.setdefault("fallback_metric", stands_for)
        rule = ThresholdRule(metric=metric, threshold=value, **options)
        self.rules.add(rule)
        return rule

    def _on_empty(self, rule: Rule, check: RuleCheck) -> None:
        # One warning per rule and metric: a threshold on a metric nobody records stays silent otherwise.
        data = check.data
        metric = str(data.get("metric", rule.name))
        key = (rule.name, metric)
        if id(rule) in self._quiet_rules or key in self._warned_empty:
            return
        self._warned_empty.add(key)
        window = data.get("window_seconds")
        span = f"{window:g} s window" if isinstance(window, (int, float)) else "window"  # rules of your own may not say
        named = metric if "alias" not in data else f"{data['alias']} (or {metric})"
        hint = ""
        if metric.startswith(("process/", "system/")):
            hint = " (resource metrics need the sampler: sample_resources=True or monitor.sample_resources())"
        message = (
            f"Alert rule {rule.name} watches {named}, which has no point in its {span}{hint}; "
            "it cannot fire until it has (warned once)"
        )
        self._log((self._clock(), "warning", message, {"rule": rule.name, "metric": metric}))

    def close(self, deadline: float) -> bool:
        """Stop the periodic threads, then let handler calls finish, all by ``deadline`` (monotonic).

        Handler calls get at most half the time left, so the log and metric
        pipelines closing after this still have time to drain.
        """
        ok = all([task.stop(deadline) for task in self._tasks])  # noqa: C419 - stop every task, not up to the first late one
        now = time.monotonic()
        return self.runner.close(now + max(deadline - now, 0.0) / 2) and ok

    def stats(self) -> dict[str, Any]:
        out = self.rules.stats()
        calls = self.runner.stats()
        out["handler_calls"] = {"calls": calls["calls"], "timeouts": calls["timed_out"], "skipped": calls["skipped"]}
        return out


def threshold_decorator(handlers: list[AlertHandler], args: tuple[Any, ...]) -> Any:
    """``@monitor.on_threshold_exceeded`` with or without names of rules or metrics to filter on.

    ``@on_threshold_exceeded`` registers the function itself;
    ``@on_threshold_exceeded("success_rate", "high_error_rate")`` registers a
    wrapper that passes on only alerts whose rule name or metric is listed.
    Either way the decorated function is returned unchanged.
    """
    if len(args) == 1 and callable(args[0]):
        takes_values(args[0], "on_threshold_exceeded handler")  # refused here when it fits no shape
        handlers.append(args[0])
        return args[0]
    if not all(isinstance(a, str) and a for a in args):
        raise TypeError("on_threshold_exceeded takes a handler, or names of rules or metrics to filter on")
    # A resource alias ("cpu_usage") also matches the sampler metric it stands for.
    wanted = frozenset(args) | {RESOURCE_ALIASES[a] for a in args if a in RESOURCE_ALIASES}

    def register(handler: AlertHandler) -> AlertHandler:
        adapted = as_alert_handler(handler, "on_threshold_exceeded handler")
        handlers.append(_filtered(adapted, wanted) if wanted else handler)
        return handler

    return register


def _filtered(handler: AlertHandler, wanted: frozenset[str]) -> AlertHandler:
    def matches(alert: Alert) -> bool:
        data = alert.data
        return alert.name in wanted or data.get("metric") in wanted or data.get("alias") in wanted

    if is_coroutine_function(handler):

        @unwrapped(handler)
        async def filtered_async(alert: Alert) -> Any:
            if matches(alert):
                return await handler(alert)
            return None

        return filtered_async

    @unwrapped(handler)
    def filtered(alert: Alert) -> Any:
        return handler(alert) if matches(alert) else None

    return filtered
