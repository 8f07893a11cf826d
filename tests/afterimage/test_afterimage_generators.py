"""afterimage's own generators record the same metrics, tokens and statistics with genmon's monitor as with afterimage's.

The scenarios are in driver.py: a conversation generator stopped by
BudgetStoppingCallback, a persona generator, RateLimitStoppingCallback,
handler lists reassigned mid-run, and afterimage's monitor API called
directly. Some fake LLM calls fail in each.
"""

from __future__ import annotations

from typing import Any

import pytest
from afterimage_runs import RATES, TIMED, Runs, by_metric, comparable, counts, has_offset, metadata_by_metric

GENERATOR_SCENARIOS = ["conversations", "personas", "reassigned"]
ALL_SCENARIOS = [*GENERATOR_SCENARIOS, "direct"]


def test_afterimage_0_18_1_ran_every_scenario_with_both_monitors(runs: Runs) -> None:
    """The driver used afterimage 0.18.1 from PyPI, and every scenario ran to its end under both monitors."""
    assert runs.results["afterimage_version"] == "0.18.1"
    for scenario in [*ALL_SCENARIOS, "rate_limit"]:
        afterimage, genmon = runs.pair(scenario)
        assert afterimage["points"] and genmon["points"], scenario
        assert genmon["closed_cleanly"] is True, scenario
    assert "Error in generation" in runs.stderr  # the fake's failures went through afterimage's own error path


@pytest.mark.parametrize("scenario", ALL_SCENARIOS)
def test_the_same_metric_names_and_counts_apart_from_the_error_rates(runs: Runs, scenario: str) -> None:
    """Both monitors saw the same metric names with the same number of points each, except error_rate and evaluation_error_rate."""
    afterimage, genmon = runs.pair(scenario)
    a, g = counts(afterimage["points"]), counts(genmon["points"])
    assert set(a) == set(g)
    assert {name: n for name, n in a.items() if name not in RATES} == {
        name: n for name, n in g.items() if name not in RATES
    }
    assert "success_rate" in a and "generation_time" in a


@pytest.mark.parametrize("scenario", ALL_SCENARIOS)
def test_error_rate_is_a_true_rate_in_genmon_and_counts_the_same_errors(runs: Runs, scenario: str) -> None:
    """Both count each failure as a 1; genmon adds a 0 for every other tracked call, so its mean is failures / calls."""
    afterimage, genmon = runs.pair(scenario)
    a, g = by_metric(afterimage["points"]), by_metric(genmon["points"])
    assert sum(a["error_rate"]) == sum(g["error_rate"]) > 0
    tracked_failures = a["success_rate"].count(0.0)
    # afterimage's error_rate points: one per failed call, one per error=None given, and the orchestrator's own
    # record_metric("error_rate", 1.0) per failed dialog; genmon's: one per call plus the orchestrator's.
    orchestrator_points = len(a["error_rate"]) - tracked_failures - a["error_rate"].count(0.0)
    assert len(g["error_rate"]) == len(g["success_rate"]) + orchestrator_points
    assert genmon["get_metrics"]["error_rate"]["mean"] == pytest.approx(sum(g["error_rate"]) / len(g["error_rate"]))
    assert afterimage["get_metrics"]["error_rate"]["mean"] > genmon["get_metrics"]["error_rate"]["mean"]


@pytest.mark.parametrize("scenario", ALL_SCENARIOS)
def test_the_same_values_in_the_same_order(runs: Runs, scenario: str) -> None:
    """Every metric that is not a duration or an error rate has the same values in the same order under both monitors."""
    afterimage, genmon = runs.pair(scenario)
    a, g = comparable(by_metric(afterimage["points"])), comparable(by_metric(genmon["points"]))
    assert a == g
    for name in TIMED & set(a):
        assert all(v >= 0 for v in g[name])


@pytest.mark.parametrize("scenario", ALL_SCENARIOS)
def test_handlers_see_afterimages_metadata_and_more(runs: Runs, scenario: str) -> None:
    """Each point's metadata under genmon holds afterimage's keys and values (timestamps apart) plus the call's own keys."""
    afterimage, genmon = runs.pair(scenario)
    a, g = metadata_by_metric(afterimage["points"]), metadata_by_metric(genmon["points"])
    for name in set(a) - RATES:
        for mine, theirs in zip(g[name], a[name], strict=True):
            # The timestamps differ by construction.
            expected = {k: v for k, v in theirs.items() if k != "timestamp"}
            assert expected.items() <= mine.items(), (name, theirs, mine)
            # Handlers get ISO-8601 text in both; genmon's carries the UTC offset, afterimage's was naive local time.
            assert not has_offset(theirs["timestamp"]) and has_offset(mine["timestamp"])
    token_meta = g["prompt_token_count"][0]
    assert "model_name" in token_meta


@pytest.mark.parametrize("scenario", ALL_SCENARIOS)
def test_the_same_token_totals(runs: Runs, scenario: str) -> None:
    """get_total_token_usage() gives the same per-model rows and totals under both monitors."""
    afterimage, genmon = runs.pair(scenario)
    assert afterimage["token_usage"] == genmon["token_usage"]
    assert afterimage["token_usage"]["totals"][2] > 0


@pytest.mark.parametrize("scenario", ALL_SCENARIOS)
def test_get_metrics_for_success_rate_and_generation_time(runs: Runs, scenario: str) -> None:
    """get_metrics gives afterimage's mean, min, max and count for success_rate, and the same count for generation_time."""
    afterimage, genmon = runs.pair(scenario)
    keys = ("mean", "min", "max", "count")
    a, g = afterimage["get_metrics"], genmon["get_metrics"]
    assert {k: a["success_rate"][k] for k in keys} == pytest.approx({k: g["success_rate"][k] for k in keys})
    assert 0 < g["success_rate"]["mean"] < 1
    assert a["generation_time"]["count"] == g["generation_time"]["count"]
    assert g["generation_time"]["min"] <= g["generation_time"]["mean"] <= g["generation_time"]["max"]
    assert {k: a["prompt_token_count"][k] for k in keys} == pytest.approx({k: g["prompt_token_count"][k] for k in keys})
    if scenario == "direct":  # durations given by the caller, not measured: the same values
        assert {k: a["generation_time"][k] for k in keys} == pytest.approx({k: g["generation_time"][k] for k in keys})


def test_get_metrics_of_an_unknown_metric_is_zeros_in_both_but_falsy_in_genmon(runs: Runs) -> None:
    """An unknown metric gives mean/min/max/count 0 in both; afterimage's dict was truthy, genmon's result is falsy."""
    afterimage, genmon = runs.pair("conversations")
    keys = ("mean", "min", "max", "count")
    assert {k: genmon["get_metrics"]["no_such_metric"][k] for k in keys} == afterimage["get_metrics"]["no_such_metric"]
    assert afterimage["get_metrics_truthy"] == {"success_rate": True, "no_such_metric": True}
    assert genmon["get_metrics_truthy"] == {"success_rate": True, "no_such_metric": False}


def test_get_metrics_min_and_max_of_int_points_are_floats_in_genmon(runs: Runs) -> None:
    """afterimage returned the recorded int as min/max (10); genmon returns the equal float (10.0)."""
    afterimage, genmon = runs.pair("conversations")
    a, g = afterimage["get_metrics"]["prompt_token_count"], genmon["get_metrics"]["prompt_token_count"]
    assert type(a["min"]) is int and type(g["min"]) is float and a["min"] == g["min"]


def test_budget_stopping_callback_stops_both_at_the_same_dialog(runs: Runs) -> None:
    """BudgetStoppingCallback reads get_total_token_usage(): both monitors stop the generator after the same dialog."""
    afterimage, genmon = runs.pair("conversations")
    assert afterimage["generated"] == genmon["generated"]
    assert 1 < genmon["generated"] < 8  # stopped by the budget, not by num_dialogs=8
    assert genmon["token_usage"]["totals"][2] >= 200


def test_rate_limit_stopping_callback_stops_afterimage_at_3_and_runs_genmon_to_12(runs: Runs) -> None:
    """RateLimitStoppingCallback(max_error_rate=0.5, min_samples=3) with one failed call: 3 dialogs with afterimage, all 12 with genmon."""
    afterimage, genmon = runs.pair("rate_limit")
    assert afterimage["generated"] == 3
    assert genmon["generated"] == 12
    # afterimage's error_rate held only the failures (mean 1.0); genmon's is the true rate, far below 0.5.
    assert afterimage["get_metrics"]["error_rate"]["mean"] == 1.0
    assert genmon["get_metrics"]["error_rate"]["mean"] < 0.5


def test_a_tiny_max_error_rate_gives_afterimages_rate_limit_stop_back(runs: Runs) -> None:
    """RateLimitStoppingCallback(max_error_rate=1e-9, min_samples=3) stops genmon's run after 3 dialogs, as afterimage's 0.5 did."""
    genmon = runs.run("rate_limit_any_error", "genmon")
    afterimage, _ = runs.pair("rate_limit")
    assert genmon["generated"] == afterimage["generated"] == 3


def test_the_persona_generator_returns_the_same_personas(runs: Runs) -> None:
    """The persona generator's own output does not depend on the monitor."""
    afterimage, genmon = runs.pair("personas")
    assert afterimage["sync_personas"] == genmon["sync_personas"]
    assert len(genmon["sync_personas"]) == 5


def _operations(result: dict[str, Any]) -> list[Any]:
    return [meta.get("operation") for name, _, meta in result["points"] if name == "generation_time"]


def test_genmon_keeps_the_operation_of_each_tracked_call(runs: Runs) -> None:
    """afterimage dropped track_generation's metadata={"operation": ...} from the points; genmon keeps it on each."""
    afterimage, genmon = runs.pair("conversations")
    assert set(_operations(afterimage)) == {None}
    assert {
        "correspondent_prompt_generation",
        "answer_generation",
        "question_generation",
        "conversation_generation",
    } <= set(_operations(genmon))
