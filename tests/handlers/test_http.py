"""HttpHandler against a real HTTP server on 127.0.0.1 started by each test."""

from __future__ import annotations

import logging
import random
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from genmon import Alert, GenerationMonitor
from genmon.handlers._retry import RetryableError, backoff_delay, close_timeout
from genmon.handlers.http import HttpHandler, redact_url
from genmon.testing import ManualClock

from .conftest import RecordingServer

SECRET = "s3cr3t-token-value"


def _points(n: int, start: float = 1_800_000_000.0) -> list[tuple[str, float, float, dict[str, Any] | None]]:
    return [("latency", float(i), start + i, {"model_name": "m"}) for i in range(n)]


def _payloads(server: RecordingServer) -> list[dict[str, Any]]:
    with server.lock:
        return [orjson.loads(r.body) for r in server.requests]


def _metric_values(server: RecordingServer) -> list[float]:
    return [m["value"] for p in _payloads(server) for m in p["metrics"]]


def test_delivers_metrics_logs_spans_and_alerts_in_the_documented_payload(
    http_server: RecordingServer, tmp_path: Path
) -> None:
    """One handler passed as metric, log and alert handler POSTs all four record kinds with its headers."""
    sink = HttpHandler(http_server.url, headers={"Authorization": f"Bearer {SECRET}"}, batch_size=1000)
    clock = ManualClock(1_800_000_000.0)
    with GenerationMonitor(
        log_dir=tmp_path,
        metric_handlers=[sink],
        log_handlers=[sink],
        alert_handlers=[sink],
        metrics_interval=0,
        clock=clock,
    ) as monitor:
        monitor.record_metric("latency", 2.5, {"model_name": "gpt-x"})
        monitor.log_info("hello", batch=3)
        with monitor.track("chat", model_name="gpt-x") as span:
            span.set_usage(prompt_tokens=10, completion_tokens=5)
        monitor.set_threshold("latency", 1.0)
        fired = monitor.check_alerts(timeout=10)
        assert [a.name for a in fired] == ["threshold:latency"]
        assert monitor.close(timeout=30)
    assert sink.close(30)
    payloads = _payloads(http_server)
    assert payloads and all(set(p) >= {"source", "sent_at", "metrics", "logs", "spans", "alerts"} for p in payloads)
    metrics = [m for p in payloads for m in p["metrics"]]
    latency = [m for m in metrics if m["metric"] == "latency"]
    assert latency == [
        {"metric": "latency", "value": 2.5, "timestamp": latency[0]["timestamp"], "metadata": {"model_name": "gpt-x"}}
    ]
    assert datetime.fromisoformat(latency[0]["timestamp"]).timestamp() == 1_800_000_000.0
    assert any(m["metric"] == "generation_time" for m in metrics)  # track() records its metrics too
    logs = [entry for p in payloads for entry in p["logs"]]
    assert {"message": "hello", "batch": 3, "level": "info"}.items() <= next(
        e for e in logs if e["message"] == "hello"
    ).items()
    spans = [s for p in payloads for s in p["spans"]]
    assert [(s["name"], s["prompt_tokens"], s["completion_tokens"], s["success"]) for s in spans] == [
        ("chat", 10, 5, True)
    ]
    alerts = [a for p in payloads for a in p["alerts"]]
    assert [(a["name"], a["level"]) for a in alerts] == [("threshold:latency", "warning")]
    assert all(r.headers["Authorization"] == f"Bearer {SECRET}" for r in http_server.requests)
    assert all(r.headers["Content-Type"] == "application/json" for r in http_server.requests)
    stats = sink.stats()
    assert stats["sent"] == stats["received"] > 0 and stats["dropped_total"] == 0


def test_every_request_carries_the_run_name_tags_and_config(http_server: RecordingServer, tmp_path: Path) -> None:
    """The monitor's run_name, tags and config travel in each request's ``run``, as run.json holds them."""
    sink = HttpHandler(http_server.url, batch_size=2)
    config = {"sampling": {"temperature": 0.7}, "models": ["a", "b"], "seed": 7}
    with GenerationMonitor(
        log_dir=tmp_path, metric_handlers=[sink], run_name="nightly", tags={"dataset": "v3"}, config=config
    ) as monitor:
        for i in range(5):
            monitor.record_metric("latency", float(i))
    assert sink.close(30)
    payloads = _payloads(http_server)
    assert len(payloads) >= 3  # batches of 2 points: the run is in every request, not only the first
    expected = {"run_name": "nightly", "tags": {"dataset": "v3"}, "config": config}
    assert all(p["run"] == expected for p in payloads)
    assert orjson.loads((tmp_path / "run.json").read_bytes()).items() >= expected.items()
    assert all(list(p)[:3] == ["source", "run", "sent_at"] for p in payloads)
    assert sorted(m["value"] for p in payloads for m in p["metrics"]) == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_a_run_without_name_tags_or_config_sends_the_body_it_always_sent(
    http_server: RecordingServer, tmp_path: Path
) -> None:
    """No run_name, tags or config: no ``run`` key, the body keeps exactly its earlier keys."""
    sink = HttpHandler(http_server.url)
    with GenerationMonitor(log_dir=tmp_path, metric_handlers=[sink]) as monitor:
        monitor.record_metric("latency", 1.0)
    assert sink.close(30)
    (payload,) = _payloads(http_server)
    assert list(payload) == ["source", "sent_at", "metrics", "logs", "spans", "alerts"]


def test_batches_hold_at_most_batch_size_records(http_server: RecordingServer) -> None:
    """35 points with batch_size 10 go out as four requests of 10, 10, 10 and 5 in order."""
    sink = HttpHandler(http_server.url, batch_size=10, flush_interval=60)
    sink.handle_batch(_points(35))
    assert sink.flush(30)
    assert [len(p["metrics"]) for p in _payloads(http_server)] == [10, 10, 10, 5]
    assert _metric_values(http_server) == [float(i) for i in range(35)]
    assert sink.close(30)


def test_flush_interval_sends_a_partial_batch_without_a_flush(http_server: RecordingServer) -> None:
    """A batch that never fills is sent once its oldest record has waited flush_interval."""
    sink = HttpHandler(http_server.url, batch_size=1000, flush_interval=0.05)
    http_server.hang.set()  # the arrival of the request is the event the test waits for
    http_server.release.set()
    sink.handle_batch(_points(3))
    assert http_server.entered.wait(10)
    assert sink.close(30)
    assert _metric_values(http_server) == [0.0, 1.0, 2.0]


def test_server_errors_are_retried_until_it_recovers(http_server: RecordingServer) -> None:
    """Three 500/503 answers are retried with backoff; the batch is then delivered once, nothing dropped."""
    http_server.statuses.extend([500, 503, 500])
    sink = HttpHandler(http_server.url, batch_size=100, backoff=0.001, max_backoff=0.01, max_retries=5)
    sink.handle_batch(_points(7))
    assert sink.flush(30)
    assert len(http_server.requests) == 4
    assert [m["value"] for m in orjson.loads(http_server.requests[-1].body)["metrics"]] == [float(i) for i in range(7)]
    stats = sink.stats()
    assert (stats["sent"], stats["retries"], stats["failed_attempts"], stats["dropped_total"]) == (7, 3, 3, 0)
    assert sink.close(30)


def test_gives_up_after_max_retries_and_counts_the_drop_exactly(http_server: RecordingServer) -> None:
    """A batch failing 1 + max_retries times is dropped and counted; the next batch still goes out."""
    http_server.statuses.extend([502, 502, 502])
    sink = HttpHandler(http_server.url, batch_size=5, backoff=0.001, max_backoff=0.01, max_retries=2)
    sink.handle_batch(_points(5))
    assert sink.flush(30)
    sink.handle_batch(_points(4, start=1_900_000_000.0))
    assert sink.flush(30)
    stats = sink.stats()
    assert stats["dropped"]["retries_exhausted"] == 5 and stats["dropped_total"] == 5
    assert stats["sent"] == 4 and stats["received"] == 9
    assert len(http_server.requests) == 4  # 3 failed attempts, then the second batch
    assert "HTTP 502" in (stats["last_error"] or "")
    assert sink.close(30)


def test_client_errors_reject_the_batch_without_retrying(http_server: RecordingServer) -> None:
    """A 400 answer drops the batch at once as rejected (retrying would not help)."""
    http_server.statuses.append(400)
    sink = HttpHandler(http_server.url, backoff=0.001)
    sink.handle_batch(_points(6))
    assert sink.flush(30)
    assert len(http_server.requests) == 1
    assert sink.stats()["dropped"] == {
        "buffer_full": 0,
        "retries_exhausted": 0,
        "rejected": 6,
        "close_timeout": 0,
        "unserialisable": 0,
    }
    assert sink.close(30)


def test_a_record_that_cannot_be_encoded_costs_only_itself(http_server: RecordingServer) -> None:
    """A lone surrogate that reached handle_batch is dropped as unserialisable; the server gets the rest of its batch."""
    sink = HttpHandler(http_server.url, batch_size=100, flush_interval=60)
    points = _points(5)
    points[2] = ("bad\ud800", 2.0, points[2][2], None)
    sink.handle_batch(points)
    sink.handle_batch([{"message": "kept", "level": "info", "timestamp": "t"}])
    assert sink.flush(30)
    (payload,) = _payloads(http_server)
    assert [m["value"] for m in payload["metrics"]] == [0.0, 1.0, 3.0, 4.0]
    assert [e["message"] for e in payload["logs"]] == ["kept"]
    stats = sink.stats()
    assert stats["dropped"]["unserialisable"] == 1 and stats["dropped_total"] == 1
    assert (stats["received"], stats["sent"]) == (6, 5)
    assert sink.close(30)


def test_retry_after_header_sets_the_least_delay(http_server: RecordingServer) -> None:
    """A 429 with Retry-After is retried and the header's delay is honoured (capped by max_backoff)."""
    http_server.statuses.append(429)
    http_server.extra_headers["Retry-After"] = "0.05"
    sink = HttpHandler(http_server.url, backoff=0.0, max_backoff=0.05)
    sink.handle_batch(_points(2))
    started = time.monotonic()
    assert sink.flush(30)
    assert time.monotonic() - started >= 0.05
    assert sink.stats()["sent"] == 2 and len(http_server.requests) == 2
    assert sink.close(30)


def test_connection_refused_through_a_monitor_counts_every_dropped_point(closed_port: int, tmp_path: Path) -> None:
    """With nothing listening, every point is retried, then dropped and counted; the monitor closes cleanly."""
    sink = HttpHandler(
        f"http://127.0.0.1:{closed_port}/x", batch_size=10, max_retries=1, backoff=0.001, max_backoff=0.002
    )
    with GenerationMonitor(log_dir=tmp_path, metric_handlers=[sink], log_handlers=[], metrics_interval=0) as monitor:
        for i in range(25):
            monitor.record_metric("latency", float(i))
        assert monitor.close(timeout=30)
    stats = sink.stats()
    assert (stats["received"], stats["sent"], stats["dropped"]["retries_exhausted"], stats["buffered"]) == (
        25,
        0,
        25,
        0,
    )
    assert stats["failed_attempts"] >= 2 and stats["failed_attempts"] % 2 == 0  # two attempts per batch
    assert "ConnectionRefusedError" in (stats["last_error"] or "")
    assert monitor.errors.snapshot().get("HttpHandler", 0) >= 1


def test_hung_server_flush_and_close_hold_their_bounds(http_server: RecordingServer) -> None:
    """Against a server that never answers, flush and close return False by their deadlines and count the loss."""
    http_server.hang.set()
    sink = HttpHandler(http_server.url, timeout=60, batch_size=10, max_buffer=20, flush_interval=60)
    sink.handle_batch(_points(10))  # a full batch: taken at once, and hangs in flight
    assert http_server.entered.wait(10)
    sink.handle_batch(_points(35, start=1_900_000_000.0))  # 20 fit in the buffer, 15 do not
    started = time.monotonic()
    assert sink.flush(0.2) is False
    assert sink.close(0.3) is False
    # The socket timeout is 60 s: returning well before it shows the deadline, not the socket, ended the wait.
    assert time.monotonic() - started < 30
    stats = sink.stats()
    assert stats["dropped"]["buffer_full"] == 15 and stats["dropped"]["close_timeout"] == 20
    assert stats["in_flight"] == 10 and stats["buffered"] == 0
    http_server.release.set()
    assert sink._sender.join(30)
    stats = sink.stats()
    # Exact accounting: the in-flight batch is counted by its outcome once the server answered.
    assert stats["received"] == 45 == stats["sent"] + stats["dropped_total"]


def test_monitor_close_is_bounded_by_its_timeout_with_a_hung_sink(http_server: RecordingServer, tmp_path: Path) -> None:
    """monitor.close(timeout) returns False on time while the HTTP sink's server hangs."""
    http_server.hang.set()
    sink = HttpHandler(http_server.url, timeout=60, batch_size=1, flush_interval=60)
    monitor = GenerationMonitor(log_dir=tmp_path, metric_handlers=[sink], log_handlers=[], metrics_interval=0)
    monitor.record_metric("latency", 1.0)
    assert monitor.sync_store(10)
    assert http_server.entered.wait(10)
    started = time.monotonic()
    assert monitor.close(timeout=0.3) is False
    assert time.monotonic() - started < 30
    http_server.release.set()
    assert sink.close(30)


def test_records_arriving_after_close_are_still_delivered(http_server: RecordingServer) -> None:
    """A handler shared by several lanes gets close() from each: records between two closes are not lost."""
    sink = HttpHandler(http_server.url, flush_interval=60)
    sink.handle_batch(_points(2))
    assert sink.close(30)
    sink.handle_batch([{"message": "late", "level": "info", "timestamp": "t"}])
    assert sink.close(30)
    assert [e["message"] for p in _payloads(http_server) for e in p["logs"]] == ["late"]
    assert sink.stats()["sent"] == 3


def test_secrets_never_appear_in_repr_stats_logs_or_errors(
    http_server: RecordingServer, closed_port: int, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Header values and URL credentials stay out of repr, stats, warnings, the monitor's log and its errors."""
    caplog.set_level(logging.DEBUG)
    headers = {"Authorization": f"Bearer {SECRET}", "X-Api-Key": SECRET}
    refused = HttpHandler(
        f"http://user:{SECRET}@127.0.0.1:{closed_port}/x?token={SECRET}", headers=headers, max_retries=0, name="refused"
    )
    http_server.statuses.extend([401, 500])
    rejected = HttpHandler(http_server.url + f"?token={SECRET}", headers=headers, max_retries=0, name="rejected")
    with GenerationMonitor(log_dir=tmp_path, metric_handlers=[refused, rejected], metrics_interval=0) as monitor:
        monitor.record_metric("latency", 1.0)
        monitor.record_metric("latency", 2.0)
        assert monitor.flush(30)
        assert monitor.close(30)
    texts = [
        repr(refused),
        repr(rejected),
        str(refused.stats()),
        str(rejected.stats()),
        caplog.text,
        (tmp_path / "genmon.log").read_text(),
        refused.endpoint,
    ]
    assert refused.stats()["dropped_total"] == 2 and rejected.stats()["dropped_total"] == 2
    assert "Authorization" in repr(refused)  # the names are shown, never the values
    for text in texts:
        assert SECRET not in text
    # The server did receive the credentials: redaction is only in what genmon shows.
    assert http_server.requests[0].headers["X-Api-Key"] == SECRET
    assert http_server.requests[0].path.endswith(f"token={SECRET}")


def test_buffer_bound_and_per_point_protocols(http_server: RecordingServer) -> None:
    """handle_metric, handle_log, handle_span and __call__(alert) all land in the payload lists."""
    sink = HttpHandler(http_server.url, flush_interval=60)
    sink.handle_metric("score", 0.5, {"timestamp": "2030-01-01T00:00:00+00:00", "judge": "j"})
    sink.handle_log({"message": "m", "level": "warning", "timestamp": "t"})
    sink(Alert("a", "too slow", "error", datetime(2030, 1, 1, 12, 0), {"value": 3.0}))
    assert sink.flush(30)
    (payload,) = _payloads(http_server)
    assert payload["metrics"] == [
        {"metric": "score", "value": 0.5, "timestamp": "2030-01-01T00:00:00+00:00", "metadata": {"judge": "j"}}
    ]
    assert payload["logs"] == [{"message": "m", "level": "warning", "timestamp": "t"}]
    assert [(a["name"], a["level"], a["data"]) for a in payload["alerts"]] == [("a", "error", {"value": 3.0})]
    assert datetime.fromisoformat(payload["alerts"][0]["timestamp"]).utcoffset() is not None
    assert sink.close(30)


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    """Retry n waits between half and all of min(cap, base * 2**(n-1)); Retry-After raises the floor."""
    rng = random.Random(7)
    for attempt in range(1, 12):
        ceiling = min(8.0, 0.5 * 2 ** (attempt - 1))
        delays = [backoff_delay(attempt, 0.5, 8.0, rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered
    assert backoff_delay(1, 0.5, 8.0, rng, retry_after_s=5.0) == 5.0
    assert backoff_delay(1, 0.5, 8.0, rng, retry_after_s=500.0) == 8.0
    assert isinstance(RetryableError("x", 1.0), Exception)


def test_invalid_arguments_are_refused() -> None:
    """A non-HTTP endpoint or a bad bound fails at construction, naming the argument, leaking no secret."""
    with pytest.raises(ValueError, match="endpoint") as info:
        HttpHandler(f"ftp://u:{SECRET}@host/x")
    assert SECRET not in str(info.value)
    with pytest.raises(ValueError, match="timeout"):
        HttpHandler("http://127.0.0.1:1/x", timeout=0)
    with pytest.raises(ValueError, match="batch_size"):
        HttpHandler("http://127.0.0.1:1/x", batch_size=0)
    assert redact_url(f"https://u:{SECRET}@h:8443/p?k={SECRET}#f") == "https://h:8443/p"


def test_a_lane_close_may_use_the_monitor_close_deadline() -> None:
    """During monitor.close(timeout) a sink's close gets the monitor's remaining time when it exceeds the lane's 5 s."""

    class Closing:
        deadline = time.monotonic() + 60

        def close_deadline(self) -> float:
            return self.deadline

    assert close_timeout(Closing(), 5.0) > 50
    assert close_timeout(None, 5.0) == 5.0
    Closing.deadline = time.monotonic() - 1  # a past close: the handler's own timeout applies
    assert close_timeout(Closing(), 5.0) == 5.0


def test_a_header_value_with_cr_or_lf_is_refused_at_construction() -> None:
    """A token read from a file keeps its newline: refused when the handler is built, naming the header, not the value."""
    with pytest.raises(ValueError, match="'Authorization' has a CR or LF") as info:
        HttpHandler("http://127.0.0.1:1/x", headers={"Authorization": f"Bearer {SECRET}\n"})
    assert SECRET not in str(info.value)


def test_error_texts_are_redacted_whatever_raised_them(
    closed_port: int, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A URL query with a space and an exception quoting a header reach no stats, log line or warning unredacted."""
    caplog.set_level(logging.DEBUG)
    spaced = HttpHandler(f"http://127.0.0.1:{closed_port}/x?token={SECRET} more", max_retries=0, name="spaced")
    quoting = HttpHandler(
        f"http://127.0.0.1:{closed_port}/y", headers={"X-Api-Key": SECRET}, max_retries=0, name="quoting"
    )

    def request(body: bytes, timeout: float) -> Any:
        raise ValueError(f"Invalid header value {('Key ' + SECRET).encode()!r} for X-Api-Key")

    monkeypatch.setattr(quoting._poster, "request", request)
    with GenerationMonitor(log_dir=tmp_path, metric_handlers=[spaced, quoting], metrics_interval=0) as monitor:
        monitor.record_metric("latency", 1.0)
        assert monitor.flush(30)
        stats = monitor.stats()
    texts = [str(spaced.stats()), str(quoting.stats()), caplog.text, (tmp_path / "genmon.log").read_text(), str(stats)]
    assert spaced.stats()["dropped_total"] == 1 and quoting.stats()["dropped_total"] == 1
    assert "<redacted>" in str(quoting.stats()["last_error"])
    for text in texts:
        assert SECRET not in text


def test_pushgateway_credentials_stay_out_of_repr_and_errors(closed_port: int) -> None:
    """A PrometheusPusher shows its gateway without user:password@, and its push errors are redacted."""
    pytest.importorskip("prometheus_client")
    from prometheus_client import CollectorRegistry

    from genmon.handlers.prometheus_export import PrometheusPusher

    pusher = PrometheusPusher(
        CollectorRegistry(), f"http://user:{SECRET}@127.0.0.1:{closed_port}", interval_s=None, timeout_s=2
    )
    assert pusher.push() is False
    assert SECRET not in repr(pusher) and SECRET not in str(pusher.stats())


def test_captured_inputs_and_outputs_reach_the_endpoint_redacted(http_server: RecordingServer, tmp_path: Path) -> None:
    """With capture_io, each span in the POSTed body carries its inputs and outputs, secrets redacted."""
    sink = HttpHandler(http_server.url, batch_size=1000)
    with GenerationMonitor(log_dir=tmp_path, metric_handlers=[sink], metrics_interval=0, capture_io=True) as monitor:

        @monitor.track("answer", span_type="CHAT_MODEL")
        def answer(question: str, api_key: str) -> dict[str, str]:
            return {"text": question[::-1]}

        answer("abc", api_key=SECRET)
        with monitor.track("plain", capture_io=False):
            pass
        assert monitor.close(30)
    assert sink.close(30)
    spans = {s["name"]: s for p in _payloads(http_server) for s in p["spans"]}
    assert spans["answer"]["inputs"] == {"question": "abc", "api_key": "<redacted>"}
    assert spans["answer"]["outputs"] == {"text": "cba"}
    assert (spans["plain"]["inputs"], spans["plain"]["outputs"]) == (None, None)
    assert all(SECRET.encode() not in body for body in http_server.bodies())
