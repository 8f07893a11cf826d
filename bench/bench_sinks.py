"""Benchmark the remote sinks against floors measured in the same run.

    python bench/bench_sinks.py

- HttpHandler: points/s from handle_batch to a local HTTP server (batches
  of 500), against a floor that POSTs the same number of pre-built JSON
  bodies with http.client on one kept-alive connection.
- HttpHandler.handle_batch alone (what the monitor's lane pays per point),
  against deque.extend of the same tuples.
- PrometheusCollector.handle_batch per point, against prometheus_client's
  own Histogram.labels(...).observe.
- A scrape (collect + exposition) of 50 metrics x 10 label sets.
"""

from __future__ import annotations

import collections
import http.client
import http.server
import statistics
import threading
import time
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from genmon.handlers.http import HttpHandler
from genmon.handlers.prometheus import PrometheusCollector

N = 200_000
BATCH = 500


class Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def points(n: int) -> list[tuple[str, float, float, dict[str, Any] | None]]:
    meta = {"model_name": "gpt-4o", "operation": "chat"}
    # 1,000 points a second, as a busy generator records them.
    return [("generation_time", 0.5 + (i % 100) / 100, 1_800_000_000.0 + i / 1000, meta) for i in range(n)]


def best(fn: Any, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/ingest"
    data = points(N)

    # End to end through the sink.
    runs = []
    for _ in range(3):
        sink = HttpHandler(url, batch_size=BATCH, max_buffer=N, flush_interval=60)
        start = time.perf_counter()
        for i in range(0, N, 4096):
            sink.handle_batch(data[i : i + 4096])
        assert sink.flush(120)
        runs.append(time.perf_counter() - start)
        assert sink.close(10) and sink.stats()["sent"] == N
    sink_rate = N / statistics.median(runs)

    # Floor: the same bodies, pre-built, POSTed on one connection.
    builder = HttpHandler(url)
    build = best(lambda: [builder.payload(data[i : i + BATCH]) for i in range(0, N, BATCH)], 3)
    bodies = [builder.payload(data[i : i + BATCH]) for i in range(0, N, BATCH)]

    def post_all() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
        for body in bodies:
            conn.request("POST", "/ingest", body=body, headers={"Content-Type": "application/json"})
            conn.getresponse().read()
        conn.close()

    floor_rate = N / best(post_all, 3)

    # A sink that never sends (one batch of N, no timer): only handle_batch's cost is timed, and
    # closing it with no time left drops what it holds, on purpose (its drop report says so).
    put_sink = HttpHandler(url, batch_size=N, max_buffer=N * 10, flush_interval=3600)
    put_time = best(lambda: [put_sink.handle_batch(data[i : i + 4096]) for i in range(0, N, 4096)], 3)
    print("(the put-cost sink is closed now without sending: the drop report below is expected)")
    put_sink._sender.close(0)  # drop what was buffered: only the put cost was measured
    put_sink._sender.join(10)
    deque_time = best(lambda: [collections.deque().extend(data[i : i + 4096]) for i in range(0, N, 4096)], 3)

    print(f"HTTP sink end to end     : {sink_rate:>12,.0f} points/s  (batches of {BATCH}, local server)")
    print(f"  floor: bare POSTs       : {floor_rate:>12,.0f} points/s  (same bodies pre-built, one connection)")
    print(f"  ratio                   : {sink_rate / floor_rate:>12.2f}")
    print(f"  of which payload build  : {build / N * 1e9:>12.0f} ns/point (dicts, ISO times, orjson)")
    print(
        f"HTTP handle_batch per pt : {put_time / N * 1e9:>12.0f} ns     (floor deque.extend: {deque_time / N * 1e9:.0f} ns)"
    )

    # Prometheus.
    collector = PrometheusCollector()
    per_point = best(lambda: collector.handle_batch(data), 3) / N
    registry = CollectorRegistry()
    hist = Histogram("floor_generation_time", "floor", ["model_name", "operation"], registry=registry)

    def observe_all() -> None:
        for _name, value, _ts, meta in data:
            hist.labels(meta["model_name"], meta["operation"]).observe(value)

    floor_point = best(observe_all, 3) / N
    print(
        f"Prometheus fold per point: {per_point * 1e9:>12.0f} ns     (floor Histogram.labels().observe: {floor_point * 1e9:.0f} ns)"
    )

    wide = PrometheusCollector()
    wide.handle_batch([(f"metric_{m}_time", 1.0, 0.0, {"model_name": f"m{k}"}) for m in range(50) for k in range(10)])
    scrape_registry = CollectorRegistry()
    scrape_registry.register(wide)
    scrape = best(lambda: generate_latest(scrape_registry), 10)
    print(
        f"Scrape 50 metrics x 10 label sets (histograms): {scrape * 1e3:.1f} ms, {len(generate_latest(scrape_registry)):,} bytes"
    )
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
