"""The firing state that turns rule verdicts into alerts an on-call person can live with.

One alert when a rule starts holding, a reminder at most every cooldown
while it keeps holding, and one ``resolved`` alert (level info) when it
stops. afterimage fired on every pass while a condition held.

Example:
    >>> from genmon.monitor.alerts.rules import ThresholdRule
    >>> from genmon.monitor.store.metric_store import MetricStore
    >>> store = MetricStore()
    >>> store.append_batch([("latency", 2.5, 100.0, None)])
    >>> rules = AlertRules(window_s=60, cooldown_s=300)
    >>> _ = rules.add(ThresholdRule("slow", "latency", 2.0))
    >>> [a.name for a in rules.evaluate(store, now=110.0)]
    ['slow']
    >>> rules.evaluate(store, now=120.0)  # still holding, inside the cooldown
    []
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from genmon.monitor.alerts.rules import Rule, RuleCheck
from genmon.records.types import Alert

if TYPE_CHECKING:
    from genmon.monitor.store.metric_store import MetricStore

__all__ = ["AlertRules"]


class _Firing:
    __slots__ = ("last_sent", "sent", "since")

    def __init__(self, now: float) -> None:
        self.since = now
        self.last_sent = now
        self.sent = 1


class AlertRules:
    """The monitor's rules and their firing state; thread-safe.

    Args:
        window_s: the window of rules that name none.
        cooldown_s: seconds between reminders of a rule that keeps holding
            (0 reminds on every pass, as afterimage did).
        on_rule_error: called as ``(rule_name, error)`` when a rule raises;
            the other rules still run.
        on_empty: called as ``(rule, check)`` when a rule's window held no
            point to compare (its ``data["value"]`` is None).
    """

    def __init__(
        self,
        window_s: float,
        cooldown_s: float,
        on_rule_error: Callable[[str, BaseException], None] | None = None,
        on_empty: Callable[[Rule, RuleCheck], None] | None = None,
    ) -> None:
        if not window_s > 0:
            raise ValueError(f"alert_window must be > 0 seconds, got {window_s!r}")
        self.window_s = float(window_s)
        self.cooldown_s = float(cooldown_s)
        self._on_rule_error = on_rule_error
        self._on_empty = on_empty
        self._rules: dict[str, Rule] = {}
        self._firing: dict[str, _Firing] = {}
        self._counts: dict[str, list[int]] = {}  # name -> [fired, resolved]
        self._lock = threading.Lock()

    def add(self, rule: Rule) -> Rule:
        """Add a rule; one with the same name is replaced in place and its state forgotten."""
        if not isinstance(rule, Rule):
            raise TypeError(f"rule must offer name, level, cooldown_s and check(), got {type(rule).__name__}")
        with self._lock:
            self._rules[rule.name] = rule
            self._firing.pop(rule.name, None)
        return rule

    def remove(self, name: str) -> bool:
        """Remove the rule called ``name``; False if there was none."""
        with self._lock:
            self._firing.pop(name, None)
            return self._rules.pop(name, None) is not None

    def rules(self) -> list[Rule]:
        """The rules in evaluation order."""
        with self._lock:
            return list(self._rules.values())

    def firing(self) -> list[str]:
        """Names of the rules currently firing."""
        with self._lock:
            return list(self._firing)

    def evaluate(self, store: MetricStore, now: float, emit: Callable[[Alert], None] | None = None) -> list[Alert]:
        """Check every rule at ``now`` and return the alerts due: new, reminders and resolved.

        ``emit`` is called with each alert under the rules' lock, so two
        concurrent passes deliver a rule's alerts in the order they happened.
        """
        alerts: list[Alert] = []
        with self._lock:
            for rule in list(self._rules.values()):
                try:
                    check = rule.check(store, now, self.window_s)
                except Exception as error:  # noqa: BLE001 - one broken rule must not silence the others
                    if self._on_rule_error is not None:
                        self._on_rule_error(rule.name, error)
                    continue
                if self._on_empty is not None and "value" in check.data and check.data["value"] is None:
                    self._on_empty(rule, check)
                alert = self._transition(rule, check, now)
                if alert is not None:
                    alerts.append(alert)
                    if emit is not None:
                        emit(alert)
        return alerts

    def _transition(self, rule: Rule, check: RuleCheck, now: float) -> Alert | None:
        state = self._firing.get(rule.name)
        counts = self._counts.setdefault(rule.name, [0, 0])
        if check.holds:
            if state is None:
                state = self._firing[rule.name] = _Firing(now)
            else:
                cooldown = rule.cooldown_s
                if now - state.last_sent < (self.cooldown_s if cooldown is None else cooldown):
                    return None
                state.last_sent = now
                state.sent += 1
            counts[0] += 1
            data = {**check.data, "state": "firing", "firing_since": state.since, "notification": state.sent}
            return Alert(rule.name, check.message, rule.level, datetime.fromtimestamp(now), data)
        if state is None:
            return None
        del self._firing[rule.name]
        counts[1] += 1
        data = {**check.data, "state": "resolved", "firing_since": state.since, "firing_seconds": now - state.since}
        return Alert(rule.name, check.resolved_message, "info", datetime.fromtimestamp(now), data)

    def stats(self) -> dict[str, Any]:
        """Alerts fired (reminders included) and resolved, in total and per rule, and those firing now."""
        with self._lock:
            by_name = {name: {"fired": c[0], "resolved": c[1]} for name, c in self._counts.items() if c[0] or c[1]}
            return {
                "fired": sum(c[0] for c in self._counts.values()),
                "resolved": sum(c[1] for c in self._counts.values()),
                "firing": list(self._firing),
                "by_name": by_name,
            }
