"""Monitor an async LLM conversation generator in one line: spans, metrics, alerts, exports, plots.

The generator (``genmon.simulated.ConversationGenerator``) knows nothing
about genmon: it talks to a simulated chat client with realistic latency,
token usage and occasional HTTP 429 rate limits, which it retries with
exponential backoff. ``monitor.attach(generator)`` is the one line that
monitors it: every conversation, evaluation and LLM attempt becomes a span
with its parent, duration, tokens and cost.

Run it: ``python examples/async_generator.py [RUN_DIR]``.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from genmon import GenerationMonitor
from genmon.monitor.tracking.events import Event
from genmon.simulated import PRICES, ConversationGenerator, SimulatedLLM


def print_tree(monitor: GenerationMonitor, root_id: str, depth: int = 0) -> None:
    """Print the span tree under one call, children in the order they finished."""
    for span in monitor.get_spans(parent_call_id=root_id):
        status = "ok" if span.success else f"{span.exception_type}"
        tokens = f" {span.total_tokens} tokens" if span.total_tokens else ""
        print(f"{'  ' * depth}- {span.name} [{span.span_type}] {span.duration_s * 1000:.0f} ms {status}{tokens}")
        print_tree(monitor, span.call_id, depth + 1)


async def generate(monitor: GenerationMonitor) -> ConversationGenerator:
    generator = ConversationGenerator(SimulatedLLM(error_rate=0.12, seed=11), concurrency=8)
    monitor.attach(generator)  # the one line: spans for generate*, evaluate* and client.complete
    with monitor.profile("generation"):
        conversations = await generator.generate(80)
    for conversation in conversations:
        monitor.record_metric(
            "conversation_length", len(conversation.messages) // 2, {"model_name": conversation.model}
        )
    return generator


def main(run_dir: Path | None = None) -> None:
    rate_limited: list[str] = []
    with GenerationMonitor(
        log_dir=run_dir,
        metrics_interval=0,  # rules run on demand below; a long job would keep the default
        alert_max_error_rate=0.02,  # retried 429s count as errors: this fires
        prices=PRICES,
        sample_resources=0.5,
    ) as monitor:
        monitor.on("generation_error", lambda event: rate_limited.append(event.data["exception_message"]))

        @monitor.on("alert")
        def page(event: Event) -> None:  # runs on a callback thread, never in the generator
            assert event.alert is not None
            print(f"ALERT {event.alert.level}: {event.alert.message}")

        @monitor.on("close")
        async def closed(event: Event) -> None:
            print(f"monitor closed, everything persisted: {event.data['ok']}")

        generator = asyncio.run(generate(monitor))
        monitor.check_alerts()  # waits for the store, runs the rules, calls the alert handlers
        monitor.flush()  # files, handlers and callbacks are up to date

        llm = monitor.get_metrics("generation_time", window=3600)
        print(
            f"{len(monitor.get_spans())} spans, {generator.client.calls} LLM attempts, {len(rate_limited)} rate limited"
        )
        print(f"all tracked calls: p50 {llm['p50'] * 1000:.0f} ms, p95 {llm['p95'] * 1000:.0f} ms")
        print(f"cost: ${monitor.get_metrics('cost_usd', window=3600)['sum']:.4f}")
        for model in monitor.get_total_token_usage().by_model:
            print(f"  {model.model_name}: {model.total_tokens} tokens")
        print(f"rss: {monitor.get_metrics('process/rss_bytes', window=3600)['last'] / 2**20:.0f} MiB")
        print(f"profile: {monitor.get_profile()['generation']}")

        slowest = max(monitor.get_spans(name="generate_conversation"), key=lambda s: s.duration_s)
        print(f"slowest conversation, {slowest.duration_s * 1000:.0f} ms:")
        print_tree(monitor, slowest.call_id, 1)

        exports = monitor.log_dir / "exports"
        for fmt in ("parquet", "csv", "json", "excel"):
            suffix = "xlsx" if fmt == "excel" else fmt
            monitor.export_metrics(exports / f"metrics.{suffix}", format=fmt)
        monitor.visualize_metrics(monitor.log_dir / "plots")
        print(f"run directory: {monitor.log_dir} (metrics.jsonl, spans.jsonl, genmon.log, exports/, plots/)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
