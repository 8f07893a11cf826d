"""The afterimage driver runs off the network: no_network refuses every address but loopback in its process."""

from __future__ import annotations

from afterimage_runs import Runs

# What no_network.self_check() tries, in its order, after every scenario has run.
SELF_CHECK_HOSTS = ["192.0.2.1", "192.0.2.1", "example.com"]


def test_the_driver_cannot_reach_a_remote_address_but_can_reach_loopback(runs: Runs) -> None:
    """Inside driver.py a remote connect, create_connection and name lookup raise NetworkBlocked; 127.0.0.1 connects.

    Unguarded, each would end otherwise (a timeout, an unreachable network, a
    resolver error, or a connection on a machine that is online).
    """
    guard = runs.results["network_guard"]
    assert guard["connect_remote"] == "NetworkBlocked"
    assert guard["create_connection_remote"] == "NetworkBlocked"
    assert guard["lookup_remote"] == "NetworkBlocked"
    assert guard["connect_loopback"] == "connected"


def test_no_scenario_tried_to_reach_the_network(runs: Runs) -> None:
    """The only hosts the guard refused are the self-check's own: afterimage's generators and both monitors tried none."""
    assert runs.results["network_guard"]["blocked_hosts"] == SELF_CHECK_HOSTS
