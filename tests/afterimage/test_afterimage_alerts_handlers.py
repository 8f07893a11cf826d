"""Alerts, and handler lists appended to or reassigned after construction, under afterimage's monitor and genmon's.

driver.py reassigns ``monitor.alert_handlers = [capture]`` before each
``check_alerts()`` (as afterimage's own test does), appends a probe to
``metric_handlers`` and ``log_handlers`` right after construction, and in
the "reassigned" scenario replaces both lists mid-run.
"""

from __future__ import annotations

from typing import Any

import pytest
from afterimage_runs import RATES, Runs, by_metric, counts, jsonl

ALERT_SCENARIOS = ["conversations", "personas", "reassigned"]
STATS = ("mean", "min", "max", "count")


def _names(alerts: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(a["name"], a["level"]) for a in alerts]


def _without_error_rate(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in alerts if a["name"] != "high_error_rate"]


@pytest.mark.parametrize("scenario", ALERT_SCENARIOS)
def test_check_alerts_tells_the_same_handlers_the_same_alerts(runs: Runs, scenario: str) -> None:
    """After check_alerts() a reassigned alert handler has the same alerts (name, level, message, window stats) in both.

    high_error_rate apart: it follows error_rate (test_high_error_rate_follows_the_true_rate_in_genmon).
    """
    afterimage, genmon = runs.pair(scenario)
    a, g = (
        _without_error_rate(afterimage["alert_passes"][0]["heard"]),
        _without_error_rate(genmon["alert_passes"][0]["heard"]),
    )
    assert _names(a) == _names(g) and a
    for theirs, mine in zip(a, g, strict=True):
        assert theirs["message"] == mine["message"]
        assert {k: theirs["data"][k] for k in STATS} == pytest.approx({k: mine["data"][k] for k in STATS})


@pytest.mark.parametrize("scenario", ALERT_SCENARIOS)
def test_check_alerts_returns_none_in_afterimage_and_the_alerts_heard_in_genmon(runs: Runs, scenario: str) -> None:
    """afterimage's check_alerts() returned None; genmon's returns the alerts its handlers had already received."""
    afterimage, genmon = runs.pair(scenario)
    assert afterimage["alert_passes"][0]["returned"] is None
    assert genmon["alert_passes"][0]["returned"] == genmon["alert_passes"][0]["heard"]


@pytest.mark.parametrize("scenario", ALERT_SCENARIOS)
def test_high_error_rate_follows_the_true_rate_in_genmon(runs: Runs, scenario: str) -> None:
    """high_error_rate fired at 100% with afterimage after any failure; genmon fires only when the true rate is above 0.2."""
    afterimage, genmon = runs.pair(scenario)
    a = [x for x in afterimage["alert_passes"][0]["heard"] if x["name"] == "high_error_rate"]
    g = [x for x in genmon["alert_passes"][0]["heard"] if x["name"] == "high_error_rate"]
    assert [x["message"] for x in a] == ["Error rate increased to 100.0%"]
    true_rate = genmon["get_metrics"]["error_rate"]["mean"]
    assert 0 < true_rate < 1
    assert [x["data"]["mean"] for x in g] == ([pytest.approx(true_rate)] if true_rate > 0.2 else [])


@pytest.mark.parametrize("scenario", ["conversations", "personas"])
def test_a_second_check_repeats_every_alert_in_afterimage_and_none_in_genmon(runs: Runs, scenario: str) -> None:
    """afterimage re-sent every alert on each pass while a rule held; genmon waits alert_cooldown (5 minutes) before a reminder."""
    afterimage, genmon = runs.pair(scenario)
    assert afterimage["alert_passes"][1]["heard"] == afterimage["alert_passes"][0]["heard"]
    assert genmon["alert_passes"][1] == {"returned": [], "heard": []}


def test_alert_cooldown_0_send_resolved_false_and_alert_max_error_rate_0_give_afterimages_alerts(runs: Runs) -> None:
    """With those three keywords genmon's handlers hear afterimage's alerts on every pass: firing, still firing, recovered."""
    afterimage, _ = runs.pair("direct")
    compat = runs.run("direct_compat", "genmon")
    assert [_names(p["heard"]) for p in compat["direct_passes"]] == [
        _names(p["heard"]) for p in afterimage["direct_passes"]
    ]
    assert _names(afterimage["direct_passes"][2]["heard"]) == [("high_error_rate", "error")]


def test_by_default_genmon_sends_one_alert_then_a_resolved_one(runs: Runs) -> None:
    """Default genmon: the first pass fires, the second (within the cooldown) is silent, the recovery sends level-info 'resolved' alerts."""
    _, genmon = runs.pair("direct")
    passes = [p["heard"] for p in genmon["direct_passes"]]
    assert _names(passes[0]) == [("low_success_rate", "warning"), ("high_error_rate", "error")]
    assert passes[1] == []
    assert _names(passes[2]) == [("low_success_rate", "info"), ("high_error_rate", "info")]
    assert {a["data"]["state"] for a in passes[2]} == {"resolved"}


def test_an_empty_monitor_fires_no_alert_in_genmon_where_afterimage_reported_a_0_percent_success_rate(
    runs: Runs,
) -> None:
    """check_alerts() before any point: afterimage sent low_success_rate ("Success rate dropped to 0.0%"), genmon sends nothing."""
    afterimage, genmon = runs.pair("direct")
    assert [(a["name"], a["message"]) for a in afterimage["alerts_before_any_point"]] == [
        ("low_success_rate", "Success rate dropped to 0.0%")
    ]
    assert genmon["alerts_before_any_point"] == []
    assert runs.run("direct_compat", "genmon")["alerts_before_any_point"] == []


def test_check_alerts_returns_resolved_alerts_even_when_they_are_not_sent(runs: Runs) -> None:
    """With send_resolved=False, handlers hear no recovery, but check_alerts() still returns the resolved alert."""
    compat = runs.run("direct_compat", "genmon")
    last = compat["direct_passes"][2]
    assert ("low_success_rate", "info") in _names(last["returned"])
    assert ("low_success_rate", "info") not in _names(last["heard"])


@pytest.mark.parametrize("scenario", ["conversations", "personas", "direct"])
@pytest.mark.parametrize("kind", ["afterimage", "genmon"])
def test_a_handler_appended_after_construction_gets_every_point(runs: Runs, scenario: str, kind: str) -> None:
    """monitor.metric_handlers.append(h) right after construction: h gets exactly the points metrics.jsonl holds."""
    result = runs.run(scenario, kind)
    lines = jsonl(runs.path(scenario, kind, "logs", "metrics.jsonl"))
    assert [[p[0], p[1]] for p in result["points"]] == [[line["metric"], line["value"]] for line in lines]


def test_reassigned_metric_and_log_handlers_take_over_in_both(runs: Runs) -> None:
    """metric_handlers = [...] and log_handlers = [...] mid-run: the new handlers get what follows, metrics.jsonl gets nothing more."""
    afterimage, genmon = runs.pair("reassigned")
    for result in (afterimage, genmon):
        assert result["captured_points"] == result["probe_after"] and result["captured_points"]
        # The reassigned log handler heard every record after it came (not two empty lists compared).
        assert result["captured_logs"] == result["probe_logs_after"] and result["captured_logs"]
        assert result["jsonl_lines_after"] == result["jsonl_lines_before"] == result["points_before"]
    a, g = counts(afterimage["captured_points"]), counts(genmon["captured_points"])
    assert {k: v for k, v in a.items() if k not in RATES} == {k: v for k, v in g.items() if k not in RATES}
    assert afterimage["captured_logs"] == genmon["captured_logs"]
    assert (
        by_metric(afterimage["captured_points"])["total_token_count"]
        == by_metric(genmon["captured_points"])["total_token_count"]
    )


def _plain_logs(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in result["logs"] if "alert" not in r]


@pytest.mark.parametrize("scenario", ["conversations", "personas", "direct"])
def test_log_records_match_apart_from_alert_records_and_timestamps(runs: Runs, scenario: str) -> None:
    """Log handlers get afterimage's records in order with its keys; genmon adds a top-level timestamp and the alerts.

    One level differs on purpose: a failed track_generation/track_evaluation call is an ``error``
    record in genmon, where afterimage logged every call at ``info``.
    """
    afterimage, genmon = runs.pair(scenario)
    a, g = afterimage["logs"], _plain_logs(genmon)

    def afterimage_level_in_genmon(record: dict[str, Any]) -> str:
        data = record.get("data") or {}
        failed = record["message"] in ("Generation metrics", "Evaluation metrics") and (
            not data.get("success") or data.get("error")
        )
        return "error" if failed else record["level"]

    assert [(r["message"], afterimage_level_in_genmon(r)) for r in a] == [(r["message"], r["level"]) for r in g]
    assert any(r["level"] == "error" for r in g) or scenario == "direct"  # the failed calls are there to compare
    for theirs, mine in zip(a, g, strict=True):
        assert set(mine) == set(theirs) | {"timestamp"}
        if "data" in theirs:
            assert set(mine["data"]) == set(theirs["data"])
    alerts = [r for r in genmon["logs"] if "alert" in r]
    heard = [a["name"] for p in genmon.get("alert_passes", []) for a in p["heard"]]
    heard += [a["name"] for p in genmon.get("direct_passes", []) for a in p["heard"]]
    assert [r["alert"] for r in alerts] == heard  # every alert is also a log record, only in genmon
