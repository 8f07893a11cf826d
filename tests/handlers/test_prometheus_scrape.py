"""Against a real Prometheus (Debian's 2.42): it scrapes genmon's endpoint, and every README query answers right.

One Prometheus server runs for the whole session, on 127.0.0.1, with its
storage in a temporary directory; it finds genmon's endpoint through a
file_sd target file that each test rewrites with its own port. Prometheus
negotiates OpenMetrics with prometheus_client's server (the scrape's
Accept header prefers it), which is what the old names did not survive.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from genmon import GenerationMonitor

README = Path(__file__).resolve().parents[2] / "README.md"
BINARY = shutil.which("prometheus")
Series = frozenset[tuple[str, str]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:  # Prometheus says why in the body (a bad query: 400 or 422)
        pytest.fail(f"{url}: {error.code} {error.read().decode(errors='replace')}")


class PrometheusProcess:
    """A Prometheus process scraping every second the targets that ``scrape(port)`` names."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.directory = directory
        self.targets = directory / "targets.json"
        self.targets.write_text("[]")
        config = directory / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: genmon\n    file_sd_configs:\n"
            f"      - files: [{json.dumps(str(self.targets))}]\n"
        )
        self.log_path = directory / "prometheus.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed by stop()
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=directory,
            start_new_session=True,
        )
        self._wait("to be ready", lambda: self._ready())

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def _wait(self, what: str, done: Any, timeout_s: float = 60.0) -> Any:
        # An external server's progress: there is no event to wait on, so poll its API up to a deadline.
        deadline = time.monotonic() + timeout_s
        while True:
            result = done()
            if result:
                return result
            if self.process.poll() is not None or time.monotonic() > deadline:
                self._log.flush()
                pytest.fail(f"Prometheus did not get {what}: {self.log_path.read_text()[-3000:]}")
            time.sleep(0.1)

    def scrape(self, port: int) -> str:
        """Make ``127.0.0.1:port`` Prometheus's only target; return its ``instance`` label."""
        instance = f"127.0.0.1:{port}"
        staged = self.targets.with_suffix(".tmp")
        staged.write_text(json.dumps([{"targets": [instance]}]))
        os.replace(staged, self.targets)  # Prometheus watches the file: it must never see half of it
        return instance

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """An instant query through /api/v1/query, at ``at`` (epoch seconds) or now."""
        params = {"query": expr, **({"time": repr(at)} if at is not None else {})}
        answer = _get(f"{self.url}/api/v1/query?{urllib.parse.urlencode(params)}")
        assert answer["status"] == "success", answer
        return list(answer["data"]["result"])

    def scraped_after(self, instance: str, after: float) -> float:
        """Wait for a successful scrape of ``instance`` that started after ``after``; return its timestamp."""

        def scraped() -> float | None:
            # The last sample of `up` is the last scrape: its time, and 1 when the scrape succeeded.
            found = self.query(f'up{{instance="{instance}"}}[1m]')
            stamp, up = found[0]["values"][-1] if found else (0.0, "0")
            return float(stamp) if up == "1" and float(stamp) > after else None

        return float(self._wait(f"a scrape of {instance}", scraped))

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(10)
        self._log.close()


@pytest.fixture(scope="session")
def prometheus(
    tmp_path_factory: pytest.TempPathFactory, missing_program: Callable[[str], NoReturn]
) -> Iterator[PrometheusProcess]:
    """One Prometheus server for the session, stopped at its end."""
    if BINARY is None:
        missing_program("the prometheus binary is not installed (bash .ci/run installs Debian's prometheus)")
    server = PrometheusProcess(BINARY, tmp_path_factory.mktemp("prometheus"))
    try:
        yield server
    finally:
        server.stop()


def _readme_queries() -> list[str]:
    """The PromQL lines of the README's ```promql blocks (comments and blank lines left out)."""
    blocks = re.findall(r"```promql\n(.*?)```", README.read_text(), re.DOTALL)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip() and line[0] != "#"]


def _record_calls(monitor: GenerationMonitor) -> None:
    """Four calls to two models (one failed), their cost and the process's memory."""
    gpt = {"model_name": "gpt-4o", "operation": "chat", "span_type": "LLM"}
    claude = {"model_name": "claude-sonnet", "operation": "chat", "span_type": "LLM"}
    tokens = {"prompt_token_count": 100, "completion_token_count": 20}
    monitor.track_generation(0.3, True, **gpt, finish_reason="stop", **tokens)
    monitor.track_generation(
        0.6, True, **gpt, finish_reason="length", prompt_token_count=300, completion_token_count=80
    )
    monitor.track_generation(2.0, False, **gpt, error_type="RateLimitError")
    monitor.track_generation(
        1.2, True, **claude, finish_reason="stop", prompt_token_count=50, completion_token_count=10
    )
    monitor.record_metric("cost_usd", 0.01, gpt)
    monitor.record_metric("cost_usd", 0.03, gpt)
    monitor.record_metric("cost_usd", 0.005, claude)
    monitor.record_metric("process/rss_bytes", 2_000_000)


def _answer(prometheus: PrometheusProcess, expr: str, at: float, instance: str) -> dict[Series, float]:
    """A query's series (labels without job and instance, which must be ours) and their values."""
    out = {}
    for series in prometheus.query(expr, at):
        labels = dict(series["metric"])
        assert labels.pop("instance", instance) == instance and labels.pop("job", "genmon") == "genmon"
        out[frozenset(labels.items())] = float(series["value"][1])
    return out


def _series(**labels: str) -> Series:
    return frozenset(labels.items())


def test_every_readme_query_returns_the_expected_series_and_values(
    prometheus: PrometheusProcess, tmp_path: Path
) -> None:
    """Prometheus scrapes genmon over OpenMetrics and each README query gives the series and values of the calls recorded."""
    with GenerationMonitor(log_dir=tmp_path, metrics_interval=0) as monitor:
        server = monitor.serve_prometheus(0)
        # Twice before Prometheus first scrapes, so that every series starts at twice the
        # increase measured afterwards: see the rate factor below.
        _record_calls(monitor)
        _record_calls(monitor)
        assert monitor.flush(10)
        since = time.time()  # an earlier test may have served on this port: its samples do not count
        instance = prometheus.scrape(server.port)
        prometheus.scraped_after(instance, since)
        _record_calls(monitor)
        assert monitor.flush(10)
        at = prometheus.scraped_after(instance, time.time())

        # OpenMetrics was negotiated: only its parser knows units, and names the counter family without _total.
        metadata = _get(f"{prometheus.url}/api/v1/metadata")["data"]
        duration = metadata["genmon_llm_operation_duration_seconds"][0]
        assert (duration["type"], duration["unit"]) == ("histogram", "seconds")
        assert metadata["genmon_llm_calls"][0]["type"] == "counter"
        assert not [name for name in metadata if ":" in name]

        # rate() and increase() extrapolate (extrapolatedRate in Prometheus's promql/functions.go). At the
        # end nothing is added: the last sample is at the query time. At the start, the window begins
        # long before the first sample, and the first value (twice the increase) puts the counter's zero
        # further back than 1.1 sample intervals, so half an interval is added: the increase is scaled by
        # (sampled + interval / 2) / sampled = 1 + 1 / (2 (n - 1)) for n samples. Every LLM series came
        # in the same first scrape, so all have the same n, and ratios of rates need no factor at all.
        samples = prometheus.query('{__name__=~"genmon_llm_.+"}[5m]', at)
        counts = {len(series["values"]) for series in samples}
        assert len(samples) == 4 + 2 * 18 + 4 + 2  # calls, 2 histograms (16 buckets, sum, count), tokens, cost
        assert len(counts) == 1 and min(counts) >= 2
        n = counts.pop()
        factor = 1 + 1 / (2 * (n - 1))
        per_s = factor / 300  # an increase of 1 over [5m], as rate() gives it

        gpt, claude = "gpt-4o", "claude-sonnet"
        expected: dict[str, dict[Series, float]] = {
            "sum by (model, outcome) (rate(genmon_llm_calls_total[5m]))": {
                _series(model=gpt, outcome="success"): 2 * per_s,
                _series(model=gpt, outcome="error"): 1 * per_s,
                _series(model=claude, outcome="success"): 1 * per_s,
            },
            'sum(rate(genmon_llm_calls_total{outcome="error"}[5m])) / sum(rate(genmon_llm_calls_total[5m]))': {
                _series(): 0.25
            },
            'sum by (model, error_type) (rate(genmon_llm_calls_total{outcome="error"}[5m]))': {
                _series(model=gpt, error_type="RateLimitError"): per_s
            },
            'sum by (finish_reason) (rate(genmon_llm_calls_total{outcome="success"}[5m]))': {
                _series(finish_reason="stop"): 2 * per_s,
                _series(finish_reason="length"): per_s,
            },
            # gpt-4o: 0.3, 0.6 and 2.0 s; the 95th percentile falls in the (1, 2.5] bucket: 1 + 1.5 * (2.85 - 2).
            "histogram_quantile(0.95, sum by (le, model) (rate(genmon_llm_operation_duration_seconds_bucket[5m])))": {
                _series(model=gpt): 2.275,
                _series(model=claude): 1 + 1.5 * 0.95,
            },
            "sum by (model) (rate(genmon_llm_operation_duration_seconds_sum[5m]))"
            " / sum by (model) (rate(genmon_llm_operation_duration_seconds_count[5m]))": {
                _series(model=gpt): (0.3 + 0.6 + 2.0) / 3,
                _series(model=claude): 1.2,
            },
            "sum by (model, token_type) (rate(genmon_llm_token_usage_total[5m]))": {
                _series(model=gpt, token_type="input"): 400 * per_s,
                _series(model=gpt, token_type="output"): 100 * per_s,
                _series(model=claude, token_type="input"): 50 * per_s,
                _series(model=claude, token_type="output"): 10 * per_s,
            },
            "sum by (model) (increase(genmon_llm_cost_usd_total[1h]))": {
                _series(model=gpt): 0.04 * factor,
                _series(model=claude): 0.005 * factor,
            },
            "sum by (model) (genmon_llm_cost_usd_total)": {_series(model=gpt): 0.12, _series(model=claude): 0.015},
            "genmon_process_rss_bytes": {_series(__name__="genmon_process_rss_bytes"): 2_000_000},
            "genmon_prometheus_overflowed_points_total": {
                _series(__name__="genmon_prometheus_overflowed_points_total"): 0
            },
        }
        assert sorted(_readme_queries()) == sorted(expected)  # the README shows these queries and no other
        for expr, series in expected.items():
            answer = _answer(prometheus, expr, at, instance)
            assert answer.keys() == series.keys(), expr
            for labels, value in series.items():
                assert answer[labels] == pytest.approx(value, rel=1e-9), (expr, dict(labels))


def test_span_type_llm_counts_nested_model_calls_and_not_their_wrapper_in_prometheus(
    prometheus: PrometheusProcess, tmp_path: Path
) -> None:
    """The README's advice: with a CHAIN around model calls, {span_type="LLM"} counts the model calls alone."""
    with GenerationMonitor(log_dir=tmp_path, metrics_interval=0) as monitor:
        # Its own namespace: the README's queries in the other test never see these series.
        server = monitor.serve_prometheus(0, namespace="nested")
        with monitor.track("generate_conversation", span_type="CHAIN"):
            for model in ("gpt-4o", "gpt-4o", "claude-sonnet"):
                with monitor.track("chat", model_name=model) as span:
                    span.set_usage(prompt_tokens=100, completion_tokens=20)
            with pytest.raises(TimeoutError), monitor.track("chat", model_name="gpt-4o"):
                raise TimeoutError("slow")
        assert monitor.flush(10)
        since = time.time()
        instance = prometheus.scrape(server.port)
        at = prometheus.scraped_after(instance, since)
    every = _answer(prometheus, "sum by (span_type) (nested_llm_calls_total)", at, instance)
    assert every == {_series(span_type="LLM"): 4, _series(span_type="CHAIN"): 1}  # without the filter: 5 calls
    llm = 'sum by (model, outcome) (nested_llm_calls_total{span_type="LLM"})'
    assert _answer(prometheus, llm, at, instance) == {
        _series(model="gpt-4o", outcome="success"): 2,
        _series(model="gpt-4o", outcome="error"): 1,
        _series(model="claude-sonnet", outcome="success"): 1,
    }
    ratio = (
        'sum(nested_llm_calls_total{span_type="LLM", outcome="error"}) / sum(nested_llm_calls_total{span_type="LLM"})'
    )
    assert _answer(prometheus, ratio, at, instance) == {_series(): 0.25}  # not 1/5 with the wrapper counted
    latency = 'sum by (model) (nested_llm_operation_duration_seconds_count{span_type="LLM"})'
    assert _answer(prometheus, latency, at, instance) == {_series(model="gpt-4o"): 3, _series(model="claude-sonnet"): 1}


def test_ten_thousand_models_stay_within_max_label_sets_in_prometheus(
    prometheus: PrometheusProcess, tmp_path: Path
) -> None:
    """Calls to 10,000 models make one bounded family per metric in Prometheus, with every call counted."""
    with GenerationMonitor(log_dir=tmp_path, metrics_interval=0) as monitor:
        # Its own namespace: the README's queries in the other test never see these series.
        server = monitor.serve_prometheus(0, namespace="bounded", max_label_sets=50)
        for i in range(10_000):
            monitor.track_generation(0.5, i % 10 != 0, model_name=f"model-{i}")
        assert monitor.flush(10)
        since = time.time()
        instance = prometheus.scrape(server.port)
        at = prometheus.scraped_after(instance, since)
    calls = _answer(prometheus, "sum by (model, outcome) (bounded_llm_calls_total)", at, instance)
    assert len(calls) == 50 + 2  # 50 models, then one overflow set per outcome
    assert calls[_series(model="__overflow__", outcome="success")] == 9_950 - 995
    assert calls[_series(model="__overflow__", outcome="error")] == 995
    assert sum(calls.values()) == 10_000
    # 52 call series, 51 histograms of 15 buckets + Inf + count + sum, the overflow counter.
    assert _answer(prometheus, 'count({__name__=~"bounded_.+"})', at, instance) == {_series(): 52 + 51 * 18 + 1}
    overflowed = _answer(prometheus, "bounded_prometheus_overflowed_points_total", at, instance)
    assert list(overflowed.values()) == [2 * 9_950]  # the call and its duration, per call past the bound
