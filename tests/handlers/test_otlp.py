"""OtlpHandler against real receivers: a local HTTP server decoding the protobuf, and a real `mlflow server`."""

from __future__ import annotations

import gzip
import json
import logging
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.proto")

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from genmon import GenerationMonitor
from genmon.errors import MissingExtraError
from genmon.handlers import FileMetricHandler, OtlpHandler
from genmon.handlers._otlp_encoding import span_id
from genmon.records.spans import SpanRecord
from genmon.testing import ManualClock

from .conftest import RecordingServer

SECRET = "s3cr3t-otlp-token"
OTEL_VARIABLES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
)


@pytest.fixture(autouse=True)
def no_otel_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's own OTEL_* variables must not steer these tests: each test sets what it needs."""
    for variable in OTEL_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


# -- decoding what a receiver got ---------------------------------------------------------------
def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


def _attributes(items: Any) -> dict[str, Any]:
    pairs: list[KeyValue] = list(items)
    out = {kv.key: _value(kv.value) for kv in pairs}
    assert len(out) == len(pairs), "an attribute key was sent twice"
    return out


def _requests(server: RecordingServer) -> list[ExportTraceServiceRequest]:
    return [ExportTraceServiceRequest.FromString(body) for body in server.bodies()]


def _spans(server: RecordingServer) -> dict[str, Span]:
    return {s.name: s for r in _requests(server) for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans}


def _decoded(sink: OtlpHandler, records: list[SpanRecord]) -> dict[str, Span]:
    request = ExportTraceServiceRequest.FromString(sink.payload(records))
    return {s.name: s for s in request.resource_spans[0].scope_spans[0].spans}


def _record(name: str, span_type: str = "LLM", **fields: Any) -> SpanRecord:
    base: dict[str, Any] = {"call_id": f"id-{name}", "parent_call_id": None, "name": name, "span_type": span_type}
    base.update(start=1_800_000_000.0, duration_s=0.5, success=True)
    return SpanRecord(**{**base, **fields})


# -- what a span becomes -------------------------------------------------------------------------
def test_every_mapped_field_reaches_the_receiver_as_otlp_protobuf(
    http_server: RecordingServer, tmp_path: Path, clock: ManualClock
) -> None:
    """A local receiver decodes each span with opentelemetry-proto: names, kinds, ids, times, GenAI and genmon attributes."""
    sink = OtlpHandler(http_server.url, service_name="generator", provider_name="openai")
    with GenerationMonitor(
        log_dir=tmp_path,
        metric_handlers=[sink],
        metrics_interval=0,
        clock=clock,
        run_name="nightly",
        tags={"dataset": "v3"},
        config={"temperature": 0.7, "sampling": {"top_p": 0.9}, "stops": ["END"]},
    ) as monitor:
        with monitor.track("generate", span_type="CHAIN", component="Writer", topic="tax"):
            clock.advance(1)
            with monitor.track("answer", model_name="gpt-4o", **{"gen_ai.conversation.id": "conv-1"}) as span:
                span.set_result(
                    {
                        "model": "gpt-4o-2024-08-06",
                        "usage": {"prompt_tokens": 120, "completion_tokens": 40},
                        "choices": [{"finish_reason": "stop"}],
                    }
                )
                span.set_cost(0.0021)
            with pytest.raises(TimeoutError), monitor.track("search", span_type="TOOL"):
                raise TimeoutError("upstream took too long")
        assert monitor.flush(30)
        monitor.sync_store()
        records = {s.name: s for s in monitor.get_spans()}
    (request,) = _requests(http_server)
    assert http_server.requests[0].path == "/ingest"
    assert http_server.requests[0].headers["Content-Type"] == "application/x-protobuf"
    (resource_spans,) = request.resource_spans
    resource = _attributes(resource_spans.resource.attributes)
    assert resource["service.name"] == "generator" and resource["genmon.run.name"] == "nightly"
    assert resource["genmon.run.tags.dataset"] == "v3" and resource["genmon.run.config.temperature"] == 0.7
    assert resource["genmon.run.config.sampling.top_p"] == 0.9 and resource["genmon.run.config.stops"] == ["END"]
    assert isinstance(resource["process.pid"], int) and resource["host.name"]
    (scope_spans,) = resource_spans.scope_spans
    assert scope_spans.scope.name == "genmon" and scope_spans.scope.version
    spans = _spans(http_server)
    assert set(spans) == {"invoke_workflow generate", "chat gpt-4o", "execute_tool search"}
    root, chat, tool = spans["invoke_workflow generate"], spans["chat gpt-4o"], spans["execute_tool search"]

    # Ids: one trace (the record's), children point at the root's span id.
    trace = bytes.fromhex(records["generate"].trace_id)
    assert root.trace_id == chat.trace_id == tool.trace_id == trace
    assert root.span_id == span_id(records["generate"].call_id) and root.parent_span_id == b""
    assert chat.parent_span_id == tool.parent_span_id == root.span_id
    assert len({root.span_id, chat.span_id, tool.span_id}) == 3
    # Kinds and times from genmon's clock.
    assert (root.kind, chat.kind, tool.kind) == (
        Span.SPAN_KIND_INTERNAL,
        Span.SPAN_KIND_CLIENT,
        Span.SPAN_KIND_INTERNAL,
    )
    for name, span in (("generate", root), ("answer", chat), ("search", tool)):
        record = records[name]
        assert span.start_time_unix_nano == round(record.start * 1e9)
        assert span.end_time_unix_nano - span.start_time_unix_nano == round(record.duration_s * 1e9)
    assert chat.start_time_unix_nano == root.start_time_unix_nano + 1_000_000_000

    assert _attributes(chat.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.usage.input_tokens": 120,
        "gen_ai.usage.output_tokens": 40,
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.usage.cost": 0.0021,
        "mlflow.llm.cost": {"total_cost": 0.0021},
        "mlflow.spanType": "LLM",
        "gen_ai.conversation.id": "conv-1",
        "genmon.name": "answer",
        "genmon.call_id": records["answer"].call_id,
        "genmon.parent_call_id": records["generate"].call_id,
    }
    assert chat.status.code == Status.STATUS_CODE_UNSET and not chat.events
    assert _attributes(root.attributes) == {
        "gen_ai.operation.name": "invoke_workflow",
        "gen_ai.workflow.name": "generate",
        "mlflow.spanType": "CHAIN",
        "genmon.name": "generate",
        "genmon.call_id": records["generate"].call_id,
        "genmon.component": "Writer",
        "genmon.metadata.topic": "tax",
    }
    tool_attributes = _attributes(tool.attributes)
    assert tool_attributes["gen_ai.tool.name"] == "search" and tool_attributes["error.type"] == "TimeoutError"
    assert tool_attributes["mlflow.spanType"] == "TOOL"
    assert (tool.status.code, tool.status.message) == (Status.STATUS_CODE_ERROR, "upstream took too long")
    (event,) = tool.events
    assert event.name == "exception" and event.time_unix_nano == tool.end_time_unix_nano
    assert _attributes(event.attributes) == {
        "exception.type": "TimeoutError",
        "exception.message": "upstream took too long",
    }
    assert sink.stats()["sent"] == 3 and sink.stats()["dropped_total"] == 0


@pytest.mark.parametrize(
    ("span_type", "name", "model", "component", "operation", "span_name", "kind", "named"),
    [
        ("LLM", "complete", "m1", None, "chat", "chat m1", Span.SPAN_KIND_CLIENT, {}),
        ("CHAT_MODEL", "talk", None, None, "chat", "chat", Span.SPAN_KIND_CLIENT, {}),
        ("LLM", "text_completion", "m1", None, "text_completion", "text_completion m1", Span.SPAN_KIND_CLIENT, {}),
        ("EMBEDDING", "embed", "e5", None, "embeddings", "embeddings e5", Span.SPAN_KIND_CLIENT, {}),
        ("RETRIEVER", "lookup", None, None, "retrieval", "retrieval", Span.SPAN_KIND_CLIENT, {}),
        ("TOOL", "search", None, None, "execute_tool", "execute_tool search", Span.SPAN_KIND_INTERNAL,
         {"gen_ai.tool.name": "search"}),
        ("AGENT", "run", None, "planner", "invoke_agent", "invoke_agent planner", Span.SPAN_KIND_INTERNAL,
         {"gen_ai.agent.name": "planner"}),
        ("AGENT", "plan", None, None, "invoke_agent", "invoke_agent plan", Span.SPAN_KIND_INTERNAL,
         {"gen_ai.agent.name": "plan"}),
        ("CHAIN", "conversation", None, None, "invoke_workflow", "invoke_workflow conversation",
         Span.SPAN_KIND_INTERNAL, {"gen_ai.workflow.name": "conversation"}),
        ("EVALUATOR", "judge", "m1", None, None, "judge", Span.SPAN_KIND_INTERNAL, {}),
        ("RERANKER", "rerank", None, None, None, "rerank", Span.SPAN_KIND_INTERNAL, {}),
        ("PARSER", "parse", None, None, None, "parse", Span.SPAN_KIND_INTERNAL, {}),
        ("UNKNOWN", "step", None, None, None, "step", Span.SPAN_KIND_INTERNAL, {}),
    ],
)  # fmt: skip
def test_span_types_map_to_genai_operations_names_and_kinds(
    span_type: str,
    name: str,
    model: str | None,
    component: str | None,
    operation: str | None,
    span_name: str,
    kind: int,
    named: dict[str, str],
) -> None:
    """Each genmon span type has its gen_ai.operation.name, span name and kind; mlflow.spanType keeps the type."""
    sink = OtlpHandler("http://127.0.0.1:1/v1/traces")
    (span,) = _decoded(sink, [_record(name, span_type, model_name=model, component=component)]).values()
    attributes = _attributes(span.attributes)
    assert (span.name, span.kind) == (span_name, kind)
    assert attributes.get("gen_ai.operation.name") == operation
    assert attributes["mlflow.spanType"] == span_type and attributes["genmon.name"] == name
    for key, value in named.items():
        assert attributes[key] == value


def test_metadata_keeps_its_types_and_dotted_keys_are_attribute_names() -> None:
    """Scalars and scalar lists keep their types, maps and mixed lists become JSON; a dotted key overrides a computed one."""
    sink = OtlpHandler("http://127.0.0.1:1/v1/traces")
    metadata = {
        "n": 3,
        "ratio": 0.5,
        "flag": True,
        "tags": ["a", "b"],
        "scores": [1, 2],
        "mixed": [1, "a"],
        "nested": {"k": [1, 2]},
        "empty": [],
        "nothing": None,
        "gen_ai.operation.name": "generate_content",
        "gen_ai.data_source.id": "kb-7",
        "session.id": "s-1",
    }
    spans = _decoded(
        sink,
        [
            _record("ask", model_name="gemini", metadata=metadata),
            _record("find", "RETRIEVER", metadata={"gen_ai.data_source.id": "kb-7"}),
        ],
    )
    attributes = _attributes(spans["generate_content gemini"].attributes)
    assert attributes["gen_ai.operation.name"] == "generate_content" and attributes["session.id"] == "s-1"
    assert attributes["gen_ai.data_source.id"] == "kb-7" and attributes["gen_ai.request.model"] == "gemini"
    assert (attributes["genmon.metadata.n"], attributes["genmon.metadata.ratio"]) == (3, 0.5)
    assert attributes["genmon.metadata.flag"] is True
    assert (attributes["genmon.metadata.tags"], attributes["genmon.metadata.scores"]) == (["a", "b"], [1, 2])
    assert attributes["genmon.metadata.mixed"] == '[1,"a"]'
    assert attributes["genmon.metadata.nested"] == '{"k":[1,2]}' and attributes["genmon.metadata.empty"] == "[]"
    assert "genmon.metadata.nothing" not in attributes
    # A retrieval span is named after its data source when the metadata names one.
    assert _attributes(spans["retrieval kb-7"].attributes)["gen_ai.operation.name"] == "retrieval"


def test_captured_inputs_and_outputs_are_sent_as_mlflow_span_inputs_and_outputs() -> None:
    """Inputs and outputs travel as JSON text under MLflow's keys; a span without them has neither attribute."""
    sink = OtlpHandler("http://127.0.0.1:9/v1/traces")
    try:
        spans = _decoded(
            sink,
            [
                _record("chat", inputs={"messages": [{"role": "user", "content": "hi"}]}, outputs="hello"),
                _record("bare", span_type="TOOL"),
            ],
        )
    finally:
        sink.close(1)
    chat = _attributes(spans["chat"].attributes)
    assert json.loads(chat["mlflow.spanInputs"]) == {"messages": [{"role": "user", "content": "hi"}]}
    assert json.loads(chat["mlflow.spanOutputs"]) == "hello"
    bare = _attributes(spans["execute_tool bare"].attributes)
    assert "mlflow.spanInputs" not in bare and "mlflow.spanOutputs" not in bare


def test_records_built_without_trace_ids_still_share_one_with_their_parent() -> None:
    """A hand-built root and its direct child (no trace_id) get one derived trace id; a joined root keeps its app parent."""
    sink = OtlpHandler("http://127.0.0.1:1/v1/traces")
    spans = _decoded(
        sink,
        [
            _record("root", "CHAIN", call_id="r"),
            _record("leaf", "UNKNOWN", call_id="c", parent_call_id="r"),
            _record("joined", "UNKNOWN", call_id="j", trace_id="ab" * 16, parent_span_id="cd" * 8),
        ],
    )
    root, leaf, joined = spans["invoke_workflow root"], spans["leaf"], spans["joined"]
    assert root.trace_id == leaf.trace_id and len(root.trace_id) == 16
    assert leaf.parent_span_id == root.span_id == span_id("r")
    assert (joined.trace_id, joined.parent_span_id) == (bytes.fromhex("ab" * 16), bytes.fromhex("cd" * 8))


def test_a_call_inside_an_application_span_is_exported_into_its_trace(
    http_server: RecordingServer, tmp_path: Path
) -> None:
    """With the app's OpenTelemetry span current (SDK in-memory exporter), the exported genmon spans carry its trace id and parent."""
    pytest.importorskip("opentelemetry.sdk.trace")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("app")
    sink = OtlpHandler(http_server.url)
    with GenerationMonitor(log_dir=tmp_path, metric_handlers=[sink], metrics_interval=0) as monitor:
        with (
            tracer.start_as_current_span("POST /generate"),
            monitor.track("plan", span_type="AGENT"),
            monitor.track("chat", model_name="m"),
        ):
            pass
        assert monitor.flush(30)
    provider.shutdown()
    (app_span,) = exporter.get_finished_spans()
    spans = _spans(http_server)
    plan, chat = spans["invoke_agent plan"], spans["chat m"]
    app_trace = app_span.context.trace_id.to_bytes(16, "big")
    assert plan.trace_id == chat.trace_id == app_trace
    assert plan.parent_span_id == app_span.context.span_id.to_bytes(8, "big")
    assert chat.parent_span_id == plan.span_id


# -- configuration -------------------------------------------------------------------------------
def test_environment_variables_configure_endpoint_headers_timeout_compression_and_resource(
    http_server: RecordingServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """OTEL_EXPORTER_OTLP_* and OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES alone configure the sink."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{http_server.port}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-mlflow-experiment-id=7, authorization=Bearer%20tok%3D")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2500")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "batch-job")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=staging,team=data%20eng,service.name=x")
    sink = OtlpHandler()
    assert (sink.endpoint, sink.timeout, sink.compression) == (
        f"http://127.0.0.1:{http_server.port}/v1/traces",
        2.5,
        "gzip",
    )
    with GenerationMonitor(log_dir=tmp_path, metric_handlers=[sink], metrics_interval=0) as monitor:
        with monitor.track("chat"):
            pass
        assert monitor.flush(30)
    (request,) = http_server.requests
    assert request.path == "/v1/traces" and request.headers["Content-Encoding"] == "gzip"
    assert request.headers["x-mlflow-experiment-id"] == "7" and request.headers["authorization"] == "Bearer tok="
    body = ExportTraceServiceRequest.FromString(gzip.decompress(request.body))
    resource = _attributes(body.resource_spans[0].resource.attributes)
    assert resource["service.name"] == "batch-job"  # OTEL_SERVICE_NAME wins over OTEL_RESOURCE_ATTRIBUTES
    assert (resource["deployment.environment"], resource["team"]) == ("staging", "data eng")


def test_keywords_win_and_signal_specific_variables_replace_general_ones(
    http_server: RecordingServer, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A keyword beats its variable (headers key by key); ..._TRACES_ENDPOINT is used as is and ..._TRACES_HEADERS replaces ..._HEADERS."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"http://127.0.0.1:{http_server.port}/custom/path")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-general=1")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-traces=2,x-both=env")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "1000")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "9000")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    from_env = OtlpHandler(resource_attributes={"team": "kw"})
    assert (from_env.endpoint, from_env.timeout) == (f"http://127.0.0.1:{http_server.port}/custom/path", 1.0)
    assert from_env.resource_attributes["service.name"] == "from-env" and from_env.resource_attributes["team"] == "kw"
    from_env.handle_span(_record("a"))
    assert from_env.flush(30) and from_env.close(30)
    (request,) = http_server.requests
    assert request.path == "/custom/path" and request.headers["x-traces"] == "2"
    assert "x-general" not in request.headers
    keywords = OtlpHandler(
        http_server.url, headers={"x-both": "kw"}, timeout=3, service_name="from-kw", compression="none"
    )
    assert (keywords.endpoint, keywords.timeout, keywords.compression) == (http_server.url, 3.0, None)
    assert keywords.resource_attributes["service.name"] == "from-kw"
    keywords.handle_span(_record("b"))
    assert keywords.flush(30) and keywords.close(30)
    assert http_server.requests[1].headers["x-both"] == "kw" and http_server.requests[1].path == "/ingest"


def test_bad_configuration_is_refused_at_construction_without_quoting_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """A malformed header variable, a CR/LF in a header, gRPC, a bad timeout or compression fail when the sink is built."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"authorization=ok,{SECRET}")
    with pytest.raises(ValueError, match="OTEL_EXPORTER_OTLP_.*HEADERS: entry 2 is not key=value") as info:
        OtlpHandler("http://127.0.0.1:1/v1/traces")
    assert SECRET not in str(info.value)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_HEADERS")
    with pytest.raises(ValueError, match="'authorization' has a CR or LF") as info:
        OtlpHandler("http://127.0.0.1:1/v1/traces", headers={"authorization": f"Bearer {SECRET}\n"})
    assert SECRET not in str(info.value)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", f"authorization=Bearer%20{SECRET}%0A")
    with pytest.raises(ValueError, match="CR or LF") as info:
        OtlpHandler("http://127.0.0.1:1/v1/traces")
    assert SECRET not in str(info.value)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    with pytest.raises(ValueError, match="http/protobuf"):
        OtlpHandler()
    OtlpHandler("http://127.0.0.1:1/v1/traces")  # an explicit endpoint: the variable is not ours to obey
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_PROTOCOL")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="milliseconds"):
        OtlpHandler()
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TIMEOUT")
    with pytest.raises(ValueError, match="compression"):
        OtlpHandler("http://127.0.0.1:1/v1/traces", compression="br")
    with pytest.raises(ValueError, match="endpoint") as info:
        OtlpHandler(f"grpc://u:{SECRET}@h:4317")
    assert SECRET not in str(info.value)


def test_without_any_setting_spans_go_to_the_local_collector_default() -> None:
    """No keyword and no variable: http://localhost:4318/v1/traces, 10 s, service.name genmon."""
    sink = OtlpHandler()
    assert (sink.endpoint, sink.timeout, sink.compression) == ("http://localhost:4318/v1/traces", 10.0, None)
    assert sink.resource_attributes["service.name"] == "genmon"
    assert type(sink.for_shard("s1")) is OtlpHandler


@pytest.mark.parametrize("base", ["/api/public/otel", "/api/public/otel/"])
def test_a_base_endpoint_with_a_path_keeps_it_before_v1_traces(
    http_server: RecordingServer, monkeypatch: pytest.MonkeyPatch, base: str
) -> None:
    """OTEL_EXPORTER_OTLP_ENDPOINT with a path (Langfuse's /api/public/otel) is posted to <path>/v1/traces."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{http_server.port}{base}")
    sink = OtlpHandler()
    sink.handle_span(_record("chat"))
    assert sink.close(30)
    (request,) = http_server.requests
    assert request.path == "/api/public/otel/v1/traces"
    assert sink.endpoint == f"http://127.0.0.1:{http_server.port}/api/public/otel/v1/traces"
    assert list(_spans(http_server)) == ["chat"]


def test_missing_opentelemetry_proto_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without opentelemetry-proto, building the handler raises MissingExtraError naming genmon[otlp]."""
    monkeypatch.setitem(sys.modules, "opentelemetry.proto.trace.v1.trace_pb2", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'genmon\[otlp\]'") as info:
        OtlpHandler()
    assert info.value.extra == "otlp"


# -- delivery: retries, drops, bounds, secrets -------------------------------------------------
def _fast(url: str, **kwargs: Any) -> OtlpHandler:
    kwargs.setdefault("backoff", 0.01)
    kwargs.setdefault("max_backoff", 0.02)
    return OtlpHandler(url, **kwargs)


def _balanced(stats: dict[str, Any]) -> bool:
    return stats["received"] == stats["sent"] + stats["dropped_total"] + stats["buffered"] + stats["in_flight"]


def test_retryable_answers_are_retried_and_others_rejected_at_once(http_server: RecordingServer) -> None:
    """503 and 429 are retried until the receiver accepts; 500 and 400 (not retryable in OTLP) drop the batch at once."""
    http_server.statuses.extend([503, 429])
    sink = _fast(http_server.url, max_retries=3)
    sink.handle_span_batch([_record("a"), _record("b")])
    assert sink.flush(30)
    stats = sink.stats()
    assert (stats["sent"], stats["retries"], stats["dropped_total"]) == (2, 2, 0)
    http_server.statuses.extend([500, 400])
    sink.handle_span(_record("c"))
    assert sink.flush(30)
    sink.handle_span(_record("d"))
    assert sink.close(30)
    stats = sink.stats()
    assert stats["dropped"]["rejected"] == 2 and stats["retries"] == 2 and _balanced(stats)
    assert len(http_server.requests) == 5


def test_a_receiver_that_keeps_failing_costs_exactly_the_spans_it_refused(
    http_server: RecordingServer, tmp_path: Path
) -> None:
    """After max_retries the batch is dropped as retries_exhausted, counted per span, and reported to the monitor."""
    http_server.statuses.extend([503] * 3)
    sink = _fast(http_server.url, max_retries=2, name="otlp-down")
    with GenerationMonitor(log_dir=tmp_path, metric_handlers=[sink], metrics_interval=0) as monitor:
        for name in ("a", "b", "c"):
            with monitor.track(name):
                pass
        assert monitor.flush(30)
        with monitor.track("d"):
            pass
        assert monitor.close(30)
        errors = monitor.stats()["handler_errors"]
    stats = sink.stats()
    assert stats["dropped"]["retries_exhausted"] == 3 and stats["sent"] == 1 and _balanced(stats)
    assert errors.get("otlp-down")
    assert "503" in (tmp_path / "genmon.log").read_text()


def test_connection_refused_through_a_monitor_counts_every_span(closed_port: int, tmp_path: Path) -> None:
    """Nothing listening: every span is counted as dropped after the retries, none is lost silently."""
    sink = _fast(f"http://127.0.0.1:{closed_port}/v1/traces", max_retries=1)
    with GenerationMonitor(log_dir=tmp_path, metric_handlers=[sink], metrics_interval=0) as monitor:
        for i in range(7):
            with monitor.track(f"call-{i}"):
                pass
        assert monitor.close(30)
    stats = sink.stats()
    assert stats["received"] == 7 and stats["dropped"]["retries_exhausted"] == 7 and _balanced(stats)
    assert "ConnectionRefusedError" in str(stats["last_error"])


def test_a_partial_success_counts_only_the_rejected_spans_as_dropped(http_server: RecordingServer) -> None:
    """An OTLP partial success (rejected_spans=2 of 5) counts 3 sent and 2 rejected, with the receiver's message."""
    answer = ExportTraceServiceResponse(
        partial_success=ExportTracePartialSuccess(rejected_spans=2, error_message="spans too old")
    )
    http_server.response_body = answer.SerializeToString()
    sink = _fast(http_server.url)
    sink.handle_span_batch([_record(str(i)) for i in range(5)])
    assert sink.close(30)
    stats = sink.stats()
    assert (stats["sent"], stats["dropped"]["rejected"]) == (3, 2) and _balanced(stats)
    assert "spans too old" in stats["last_error"]


def test_a_span_that_cannot_be_encoded_costs_only_itself(http_server: RecordingServer) -> None:
    """A record with text protobuf cannot hold (a lone surrogate) is dropped as unserialisable; its batch is sent."""
    sink = _fast(http_server.url)
    bad = _record("bad", call_id="b", metadata={"note": "\ud800"})
    sink.handle_span_batch([_record("first", call_id="f"), bad, _record("last", call_id="l")])
    assert sink.close(30)
    stats = sink.stats()
    assert (stats["sent"], stats["dropped"]["unserialisable"]) == (2, 1) and _balanced(stats)
    (request,) = _requests(http_server)
    sent = request.resource_spans[0].scope_spans[0].spans
    assert [_attributes(span.attributes)["genmon.name"] for span in sent] == ["first", "last"]


def test_flush_and_close_hold_their_bounds_against_a_hung_receiver(http_server: RecordingServer) -> None:
    """A receiver that never answers: flush returns False at its timeout, close drops what is left as close_timeout."""
    http_server.hang.set()
    sink = OtlpHandler(http_server.url, timeout=30)
    sink.handle_span(_record("stuck"))
    assert not sink.flush(0.3)
    assert http_server.entered.wait(30)
    sink.handle_span(_record("queued"))
    assert not sink.close(0.3)
    assert sink.stats()["dropped"]["close_timeout"] == 1
    http_server.release.set()
    assert sink.close(30)  # the request in flight ends when released, and is counted by its outcome
    stats = sink.stats()
    assert (stats["sent"], stats["dropped"]["close_timeout"]) == (1, 1) and _balanced(stats)


def test_secrets_never_appear_in_repr_stats_logs_or_errors(
    http_server: RecordingServer,
    closed_port: int,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Header values (keyword or variable) and URL credentials stay out of repr, stats, warnings and the monitor's log."""
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"x-api-key={SECRET}")
    refused = _fast(
        f"http://user:{SECRET}@127.0.0.1:{closed_port}/v1/traces?token={SECRET}", max_retries=0, name="refused"
    )
    http_server.statuses.append(401)
    rejected = _fast(http_server.url, headers={"Authorization": f"Bearer {SECRET}"}, max_retries=0, name="rejected")
    with GenerationMonitor(log_dir=tmp_path, metric_handlers=[refused, rejected], metrics_interval=0) as monitor:
        with monitor.track("chat"):
            pass
        assert monitor.flush(30)
        assert monitor.close(30)
        monitor_stats = str(monitor.stats())
    texts = [
        repr(refused),
        repr(rejected),
        str(refused.stats()),
        str(rejected.stats()),
        caplog.text,
        (tmp_path / "genmon.log").read_text(),
        refused.endpoint,
        monitor_stats,
    ]
    assert refused.stats()["dropped_total"] == 1 and rejected.stats()["dropped"]["rejected"] == 1
    assert "401" in str(rejected.stats()["last_error"]) and "x-api-key" in repr(refused)
    for text in texts:
        assert SECRET not in text
    # The receiver did get them: redaction is only in what genmon shows.
    assert http_server.requests[0].headers["Authorization"] == f"Bearer {SECRET}"
    assert http_server.requests[0].headers["x-api-key"] == SECRET


def _sent_names(server: RecordingServer) -> list[str]:
    """genmon's span names (``genmon.name``) in the order the receiver got them."""
    spans = [s for r in _requests(server) for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans]
    return [_attributes(s.attributes)["genmon.name"] for s in spans]


def test_spans_are_sent_in_requests_of_batch_size(http_server: RecordingServer) -> None:
    """batch_size=10 and 35 spans buffered at once: four requests of 10, 10, 10 and 5 spans, in order."""
    sink = OtlpHandler(http_server.url, batch_size=10)
    sink.handle_span_batch([_record(f"s{i:02d}", call_id=f"c{i}") for i in range(35)])
    assert sink.close(30)
    sizes = [sum(len(ss.spans) for rs in r.resource_spans for ss in rs.scope_spans) for r in _requests(http_server)]
    assert sizes == [10, 10, 10, 5]
    assert _sent_names(http_server) == [f"s{i:02d}" for i in range(35)]
    stats = sink.stats()
    assert (stats["sent"], stats["batches_sent"], stats["dropped_total"]) == (35, 4, 0)


def test_spans_beyond_max_buffer_are_dropped_and_counted_as_buffer_full(http_server: RecordingServer) -> None:
    """max_buffer=10 and 25 spans handed over at once: 10 are sent, 15 counted as buffer_full, none lost silently."""
    sink = OtlpHandler(http_server.url, batch_size=10, max_buffer=10)
    sink.handle_span_batch([_record(f"s{i:02d}", call_id=f"c{i}") for i in range(25)])
    assert sink.close(30)
    stats = sink.stats()
    assert (stats["received"], stats["sent"], stats["dropped"]["buffer_full"]) == (25, 10, 15) and _balanced(stats)
    assert _sent_names(http_server) == [f"s{i:02d}" for i in range(10)]


def test_a_hung_receiver_holds_up_neither_the_job_nor_the_metrics_file_and_close_is_bounded(
    http_server: RecordingServer, tmp_path: Path
) -> None:
    """A receiver on 127.0.0.1 that never answers: tracked calls return, metrics.jsonl gets every point, close is bounded.

    The OTLP lane is the only one that waits: the track calls run in a thread
    joined with a 30 s bound (a track that waited on the receiver would wait
    for its 120 s socket timeout), and close(2) must return within 5x its
    timeout, far below that socket timeout.
    """
    http_server.hang.set()
    sink = OtlpHandler(http_server.url, timeout=120, batch_size=1, name="otlp-hung")
    files = FileMetricHandler(tmp_path)
    calls = 50
    monitor = GenerationMonitor(log_dir=tmp_path, metric_handlers=[files, sink], metrics_interval=0)
    with monitor.track("first", model_name="m"):
        pass
    assert not monitor.flush(0.5)  # the OTLP lane cannot finish: its receiver does not answer
    assert http_server.entered.wait(30)  # the first span's request is hanging now

    def job() -> None:
        for i in range(calls):
            with monitor.track("chat", model_name="m") as span:
                span.set_usage(prompt_tokens=10, completion_tokens=i)

    worker = threading.Thread(target=job, name="test-hung-receiver-job")
    worker.start()
    worker.join(30)
    assert not worker.is_alive(), "monitor.track waited on the hung OTLP receiver"
    started = time.monotonic()
    assert not monitor.close(2)  # the OTLP lane could not deliver: close says so...
    assert time.monotonic() - started < 10  # ...within its bound (2 s; 5x for a loaded machine)
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert sum(1 for line in lines if line["metric"] == "generation_time") == calls + 1
    assert len((tmp_path / "spans.jsonl").read_text().splitlines()) == calls + 1
    stats = sink.stats()
    assert stats["received"] == calls + 1 and stats["sent"] == 0
    # At its deadline the monitor writes the sink off: what it buffered and the request in
    # flight are counted as close_timeout, once (the receiver never answered for any of them).
    sink.close(0.5)
    stats = sink.stats()
    assert (stats["in_flight"], stats["buffered"], stats["dropped"]["close_timeout"]) == (0, 0, calls + 1)
    http_server.release.set()
    assert sink.close(30)  # released: the thread ends, and the written-off request's late outcome changes no count
    stats = sink.stats()
    assert (stats["sent"], stats["dropped"]["close_timeout"]) == (0, calls + 1) and _balanced(stats)


# -- a real receiver: `mlflow server` ------------------------------------------------------------
@pytest.fixture
def mlflow_experiment(shared_mlflow_server: str, request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(server URL, experiment id): an experiment of its own on the shared server for this test."""
    from mlflow import MlflowClient

    client = MlflowClient(shared_mlflow_server)
    yield shared_mlflow_server, client.create_experiment(f"otlp-{request.node.name}")


def test_an_mlflow_server_stores_the_spans_as_traces_with_parents_tokens_cost_and_status(
    mlflow_experiment: tuple[str, str], tmp_path: Path
) -> None:
    """Spans POSTed to mlflow server's /v1/traces read back through MlflowClient: names, parents, types, tokens, cost, status, run."""
    from mlflow import MlflowClient

    url, experiment_id = mlflow_experiment
    client = MlflowClient(url)
    run_id = client.create_run(experiment_id).info.run_id
    sink = OtlpHandler(f"{url}/v1/traces", headers={"x-mlflow-experiment-id": experiment_id, "x-mlflow-run-id": run_id})
    with GenerationMonitor(
        log_dir=tmp_path, metric_handlers=[sink], metrics_interval=0, run_name="nightly", tags={"dataset": "v3"}
    ) as monitor:
        with monitor.track("generate", span_type="CHAIN"):
            with monitor.track("answer", model_name="gpt-4o") as span:
                span.set_usage(prompt_tokens=120, completion_tokens=40)
                span.set_cost(0.0021)
            with monitor.track("answer", model_name="gpt-4o") as span:
                span.set_usage(prompt_tokens=30, completion_tokens=10)
                span.set_cost(0.0004)  # without it MLflow prices the span from its own table
        with pytest.raises(KeyError), monitor.track("lookup", span_type="TOOL"):
            raise KeyError("missing")
        assert monitor.close(60)
    stats = sink.stats()
    assert (stats["sent"], stats["dropped_total"]) == (4, 0), stats["last_error"]
    traces = {t.info.tags.get("mlflow.traceName") or t.data.spans[0].name: t for t in _traces(client, experiment_id)}
    assert set(traces) == {"invoke_workflow generate", "execute_tool lookup"}
    tree = traces["invoke_workflow generate"]
    spans = sorted(tree.data.spans, key=lambda s: s.start_time_ns)
    root, first, second = spans
    assert (root.name, first.name, second.name) == ("invoke_workflow generate", "chat gpt-4o", "chat gpt-4o")
    assert root.parent_id is None and first.parent_id == second.parent_id == root.span_id
    assert (root.span_type, first.span_type) == ("CHAIN", "LLM")
    assert first.attributes["mlflow.chat.tokenUsage"] == {"input_tokens": 120, "output_tokens": 40, "total_tokens": 160}
    assert first.attributes["mlflow.llm.cost"] == {"total_cost": 0.0021}
    assert first.attributes["mlflow.llm.model"] == "gpt-4o"
    assert tree.info.token_usage == {"input_tokens": 150, "output_tokens": 50, "total_tokens": 200}
    assert json.loads(tree.info.trace_metadata["mlflow.trace.cost"])["total_cost"] == pytest.approx(0.0025)
    assert tree.info.state.value == "OK" and tree.info.tags["genmon.run.name"] == "nightly"
    assert tree.info.tags["genmon.run.tags.dataset"] == "v3"
    failed = traces["execute_tool lookup"]
    (lookup,) = failed.data.spans
    assert failed.info.state.value == "ERROR" and lookup.span_type == "TOOL"
    assert lookup.status.status_code.value == "ERROR" and lookup.status.description == "'missing'"
    assert lookup.attributes["error.type"] == "KeyError"
    (event,) = lookup.events
    assert (event.name, event.attributes["exception.type"]) == ("exception", "KeyError")
    # x-mlflow-run-id linked both traces to the run.
    linked = client.search_traces(locations=[experiment_id], run_id=run_id)
    assert {t.info.trace_id for t in linked} == {t.info.trace_id for t in traces.values()}


def _traces(client: Any, experiment_id: str) -> list[Any]:
    return list(client.search_traces(locations=[experiment_id]))


def test_an_mlflow_server_shows_captured_inputs_and_outputs_of_spans_sent_over_otlp(
    mlflow_experiment: tuple[str, str], tmp_path: Path
) -> None:
    """mlflow server keeps mlflow.spanInputs / spanOutputs sent over OTLP as each span's inputs and outputs."""
    from mlflow import MlflowClient

    url, experiment_id = mlflow_experiment
    sink = OtlpHandler(f"{url}/v1/traces", headers={"x-mlflow-experiment-id": experiment_id})
    with GenerationMonitor(log_dir=tmp_path, metric_handlers=[sink], metrics_interval=0, capture_io=True) as monitor:

        @monitor.track("answer", model_name="gpt-4o")
        def answer(question: str, token: str) -> dict[str, str]:
            return {"text": question.upper()}

        answer("why?", token="t0k3n")
        assert monitor.close(60)
    assert sink.stats()["dropped_total"] == 0, sink.stats()["last_error"]
    (trace,) = _traces(MlflowClient(url), experiment_id)
    (span,) = trace.data.spans
    assert span.inputs == {"question": "why?", "token": "<redacted>"}
    assert span.outputs == {"text": "WHY?"}


# -- GenAI client metrics ------------------------------------------------------------------------
def _metric_requests(server: RecordingServer) -> list[Any]:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    with server.lock:
        bodies = [r.body for r in server.requests if r.path == "/v1/metrics"]
    return [ExportMetricsServiceRequest.FromString(body) for body in bodies]


def _histograms(request: Any) -> dict[str, Any]:
    (resource_metrics,) = request.resource_metrics
    (scope_metrics,) = resource_metrics.scope_metrics
    return {metric.name: metric for metric in scope_metrics.metrics}


def _points(metric: Any) -> dict[tuple[tuple[str, Any], ...], Any]:
    return {tuple(sorted(_attributes(p.attributes).items())): p for p in metric.histogram.data_points}


def _key(**attributes: Any) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k.replace("__", "."), v) for k, v in attributes.items()))


def test_genai_client_metrics_reach_the_receiver_as_cumulative_histograms(
    http_server: RecordingServer, tmp_path: Path
) -> None:
    """metrics=True sends gen_ai.client.operation.duration and .token.usage of model calls to /v1/metrics, cumulatively."""
    from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

    from genmon.handlers._otlp_metrics import DURATION_BOUNDS, TOKEN_BOUNDS

    endpoint = f"http://127.0.0.1:{http_server.port}/v1/traces"
    sink = OtlpHandler(endpoint, provider_name="openai", metrics=True, metrics_interval=3600)
    assert sink.metrics_endpoint == f"http://127.0.0.1:{http_server.port}/v1/metrics"
    with GenerationMonitor(log_dir=tmp_path, metric_handlers=[sink], metrics_interval=0, run_name="r") as monitor:
        for prompt, completion in ((100, 20), (300, 40)):
            with monitor.track("chat", model_name="gpt-4o") as span:
                span.set_usage(prompt_tokens=prompt, completion_tokens=completion)
        with pytest.raises(TimeoutError), monitor.track("chat", model_name="gpt-4o"):
            raise TimeoutError
        with monitor.track("embed", span_type="EMBEDDING", model_name="e5") as span:
            span.set_usage(prompt_tokens=8)
        with monitor.track("search", span_type="TOOL"):  # not a model call: no metric
            pass
        assert monitor.flush(30)
        monitor.sync_store()
        durations = {s.call_id: s.duration_s for s in monitor.get_spans() if s.span_type != "TOOL"}
        first = _metric_requests(http_server)[-1]
        with monitor.track("chat", model_name="gpt-4o") as span:
            span.set_usage(prompt_tokens=1, completion_tokens=1)
        assert monitor.flush(30)
        second = _metric_requests(http_server)[-1]
    assert _attributes(first.resource_metrics[0].resource.attributes)["genmon.run.name"] == "r"
    histograms = _histograms(first)
    assert set(histograms) == {"gen_ai.client.operation.duration", "gen_ai.client.token.usage"}
    duration, tokens = histograms["gen_ai.client.operation.duration"], histograms["gen_ai.client.token.usage"]
    assert (duration.unit, tokens.unit) == ("s", "{token}")
    cumulative = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
    assert duration.histogram.aggregation_temporality == tokens.histogram.aggregation_temporality == cumulative
    chat = {"gen_ai__operation__name": "chat", "gen_ai__provider__name": "openai", "gen_ai__request__model": "gpt-4o"}
    by_key = _points(duration)
    assert set(by_key) == {
        _key(**chat),
        _key(**chat, error__type="TimeoutError"),
        _key(gen_ai__operation__name="embeddings", gen_ai__provider__name="openai", gen_ai__request__model="e5"),
    }
    ok = by_key[_key(**chat)]
    assert ok.count == 2 and list(ok.explicit_bounds) == list(DURATION_BOUNDS) and len(ok.bucket_counts) == 15
    assert sum(p.sum for p in by_key.values()) == pytest.approx(sum(durations.values()))
    assert sum(p.count for p in by_key.values()) == 4
    token_points = _points(tokens)
    inputs = token_points[_key(**chat, gen_ai__token__type="input")]
    outputs = token_points[_key(**chat, gen_ai__token__type="output")]
    assert (inputs.count, inputs.sum, inputs.min, inputs.max) == (2, 400.0, 100.0, 300.0)
    assert list(inputs.explicit_bounds) == list(TOKEN_BOUNDS)
    # 100 falls in (64, 256], 300 in (256, 1024]: buckets 4 and 5.
    assert [i for i, n in enumerate(inputs.bucket_counts) for _ in range(n)] == [4, 5]
    assert (outputs.count, outputs.sum) == (2, 60.0)
    embedded = _key(
        gen_ai__operation__name="embeddings",
        gen_ai__provider__name="openai",
        gen_ai__request__model="e5",
        gen_ai__token__type="input",
    )
    assert (token_points[embedded].count, token_points[embedded].sum) == (1, 8.0)
    assert len(token_points) == 3  # no output tokens were reported for the embedding, no tokens for the failure
    # The next export carries the totals since the start.
    later = _points(_histograms(second)["gen_ai.client.token.usage"])[_key(**chat, gen_ai__token__type="input")]
    assert (later.count, later.sum, later.start_time_unix_nano) == (3, 401.0, inputs.start_time_unix_nano)
    assert later.time_unix_nano >= inputs.time_unix_nano
    stats = sink.stats()["metrics"]
    assert stats["failed_exports"] == 0 and stats["exports"] >= 2 and stats["spans_counted"] == 5


def test_a_failed_metrics_export_is_counted_and_the_next_one_makes_it_good(
    http_server: RecordingServer, tmp_path: Path
) -> None:
    """A refused metrics export costs no span: it is counted, reported, and the next export carries the same totals."""
    sink = OtlpHandler(http_server.url, metrics=True, metrics_endpoint=http_server.url + "/m", name="otlp-m")
    with GenerationMonitor(log_dir=tmp_path, metric_handlers=[sink], metrics_interval=0) as monitor:
        with monitor.track("chat", model_name="m") as span:
            span.set_usage(prompt_tokens=5)
        http_server.statuses.append(400)  # the flush's first request is the metrics export
        assert monitor.flush(30)
        stats = sink.stats()
        assert (stats["sent"], stats["dropped_total"]) == (1, 0)
        assert stats["metrics"]["failed_exports"] == 1 and "400" in stats["metrics"]["last_error"]
        assert sink.flush(30)
        assert "otlp-m" in monitor.stats()["handler_errors"]
    assert sink.stats()["metrics"]["exports"] >= 1
    (request, *_) = _metric_requests_at(http_server, "/ingest/m")
    tokens = _histograms(request)["gen_ai.client.token.usage"]
    (point,) = tokens.histogram.data_points
    assert (point.count, point.sum) == (1, 5.0)


def _metric_requests_at(server: RecordingServer, path: str) -> list[Any]:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    with server.lock:
        return [ExportMetricsServiceRequest.FromString(r.body) for r in server.requests[1:] if r.path == path]


def test_an_elapsed_metrics_interval_queues_an_export_with_the_next_spans(http_server: RecordingServer) -> None:
    """Each span batch arriving after metrics_interval queues one export; flush adds one more."""
    sink = OtlpHandler(http_server.url, metrics=True, metrics_endpoint=http_server.url, metrics_interval=1e-9)
    for name in ("a", "b", "c"):
        sink.handle_span_batch([_record(name, model_name="m")])
    assert sink.flush(30) and sink.close(30)
    stats = sink.stats()["metrics"]
    assert stats["exports"] == 5 and stats["spans_counted"] == 3  # 3 batches, the flush, the close


def test_metrics_endpoint_and_headers_follow_keywords_then_variables(
    http_server: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """metrics_endpoint wins; a .../v1/traces endpoint puts metrics beside it; else OTEL_EXPORTER_OTLP_METRICS_* or the base."""
    assert OtlpHandler("http://h:4318/v1/traces/", metrics=True).metrics_endpoint == "http://h:4318/v1/metrics"
    with pytest.raises(ValueError, match="metrics_endpoint"):
        OtlpHandler("http://h:4318/ingest", metrics=True)
    with pytest.raises(ValueError, match="metrics_interval"):
        OtlpHandler("http://h:4318/v1/traces", metrics=True, metrics_interval=0)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://base:4318/")
    assert OtlpHandler(metrics=True).metrics_endpoint == "http://base:4318/v1/metrics"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", http_server.url + "/metrics-here")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "x-metrics=1")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", http_server.url + "/traces-here")
    sink = OtlpHandler(metrics=True, headers={"x-kw": "2"})
    assert sink.metrics_endpoint == http_server.url + "/metrics-here"
    sink.handle_span(_record("chat", model_name="m"))
    assert sink.flush(30) and sink.close(30)
    paths = {r.path: r.headers for r in http_server.requests}
    assert set(paths) == {"/ingest/metrics-here", "/ingest/traces-here"}
    assert (paths["/ingest/metrics-here"]["x-metrics"], paths["/ingest/metrics-here"]["x-kw"]) == ("1", "2")
    assert "x-metrics" not in paths["/ingest/traces-here"]


def test_metric_attribute_sets_are_bounded_by_an_overflow_set() -> None:
    """Past max_attribute_sets, calls are counted in one set marked otel.metric.overflow=true: none is lost."""
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource

    from genmon.handlers._otlp_metrics import GenAiMetrics

    metrics = GenAiMetrics(max_attribute_sets=2)
    assert metrics.encode(Resource()) == b""  # nothing recorded yet: nothing to send
    metrics.add([_record(f"m{i}", "CHAT_MODEL", call_id=f"c{i}", model_name=f"model-{i}") for i in range(5)])
    request = ExportMetricsServiceRequest.FromString(metrics.encode(Resource()))
    points = _points(_histograms(request)["gen_ai.client.operation.duration"])
    assert len(points) == 3 and points[(("otel.metric.overflow", True),)].count == 3
    assert sum(p.count for p in points.values()) == 5


def test_metrics_an_mlflow_server_does_not_take_cost_no_span(
    mlflow_experiment: tuple[str, str], tmp_path: Path
) -> None:
    """mlflow server has no /v1/metrics: with metrics=True the exports fail and are counted, every span still arrives."""
    url, experiment_id = mlflow_experiment
    sink = OtlpHandler(f"{url}/v1/traces", headers={"x-mlflow-experiment-id": experiment_id}, metrics=True)
    with GenerationMonitor(log_dir=tmp_path, metric_handlers=[sink], metrics_interval=0) as monitor:
        with monitor.track("chat", model_name="m") as span:
            span.set_usage(prompt_tokens=1, completion_tokens=1)
        assert monitor.close(60)
    stats = sink.stats()
    assert (stats["sent"], stats["dropped_total"]) == (1, 0)
    assert stats["metrics"]["exports"] == 0 and stats["metrics"]["failed_exports"] >= 1
    assert "HTTP 404" in stats["metrics"]["last_error"]
