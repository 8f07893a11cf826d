"""genmon spans as OTLP protobuf (``opentelemetry-proto``), named by the OpenTelemetry GenAI semantic conventions.

The mapping (documented as one table in the README, section "OpenTelemetry (OTLP)"):

- the span type gives ``gen_ai.operation.name``, the span kind and the span
  name (``chat gpt-4o``, ``execute_tool search``, ``invoke_agent planner``,
  ``invoke_workflow generate``); a span named after an operation (``chat``,
  ``embeddings``...) or with ``gen_ai.operation.name`` in its metadata keeps that one;
- model, response model, tokens and finish reason become ``gen_ai.request.model``,
  ``gen_ai.response.model``, ``gen_ai.usage.input_tokens`` / ``output_tokens`` and
  ``gen_ai.response.finish_reasons``;
- a failure sets ``error.type``, the ERROR status with the exception's message, and an
  ``exception`` event; success leaves the status unset, as the conventions ask;
- what the conventions lack takes the names MLflow's OTLP ingestion reads (``mlflow.spanType``,
  ``mlflow.llm.cost``) or Langfuse's (``gen_ai.usage.cost``), else ``genmon.*``;
- captured inputs and outputs become ``mlflow.spanInputs`` / ``mlflow.spanOutputs`` (JSON text);
- metadata keys become ``genmon.metadata.<key>``, except dotted keys (``gen_ai.conversation.id``,
  ``session.id``), which are taken as attribute names and win over the computed ones.

Span ids are derived from genmon's call ids (a child's parent id from its
``parent_call_id``), so a child sent before its parent still points at it
(``genmon.handlers._trace_ids``, shared with MlflowHandler).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from genmon._version import __version__
from genmon.handlers._trace_ids import span_id, trace_id

CLIENT, INTERNAL = Span.SpanKind.SPAN_KIND_CLIENT, Span.SpanKind.SPAN_KIND_INTERNAL
# genmon span type -> gen_ai.operation.name (None: no GenAI operation; the span keeps genmon's name).
OPERATIONS: dict[str, str | None] = {
    "LLM": "chat",
    "CHAT_MODEL": "chat",
    "EMBEDDING": "embeddings",
    "RETRIEVER": "retrieval",
    "TOOL": "execute_tool",
    "AGENT": "invoke_agent",
    "CHAIN": "invoke_workflow",
    "EVALUATOR": None,
    "RERANKER": None,
    "PARSER": None,
    "UNKNOWN": None,
}
# Operations whose span name is "{operation} {model}" and kind CLIENT (a call to a model).
MODEL_CALLS = frozenset({"chat", "text_completion", "generate_content", "embeddings"})
KNOWN_OPERATIONS = MODEL_CALLS | {"retrieval", "execute_tool", "invoke_agent", "create_agent", "invoke_workflow"}
_CLIENT_OPERATIONS = MODEL_CALLS | {"retrieval", "create_agent"}
_INT64 = (-(2**63), 2**63 - 1)
_SCALARS = (str, bool, int, float)


def scope() -> InstrumentationScope:
    return InstrumentationScope(name="genmon", version=__version__)


def resource(attributes: Mapping[str, Any]) -> Resource:
    return Resource(attributes=key_values(attributes.items()))


def encode_spans(spans: list[Any], resource_message: Resource, provider: str | None = None) -> tuple[bytes, int]:
    """An ``ExportTraceServiceRequest`` body for ``spans``, and how many had to be left out (could not be encoded).

    The body is empty when every span was left out.
    """
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.CopyFrom(resource_message)
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.CopyFrom(scope())
    left_out = 0
    messages = scope_spans.spans
    for record in spans:
        try:
            fill_span(messages.add(), record, provider)  # in place: building and copying costs 2.5x more
        except (TypeError, ValueError, OverflowError, UnicodeError):
            del messages[-1]
            left_out += 1  # one odd span must not cost its batch
    return (request.SerializeToString() if left_out < len(spans) else b""), left_out


def rejected_spans(answer: bytes) -> tuple[int, str]:
    """The receiver's partial success: (spans it rejected, its message); (0, "") when it accepted all."""
    try:
        response = ExportTraceServiceResponse.FromString(answer)
    except Exception:  # noqa: BLE001 - a body that is not the protobuf answer (some proxies send text)
        return 0, ""
    partial = response.partial_success
    return int(partial.rejected_spans), partial.error_message


def operation_of(span: Any) -> str | None:
    """The span's ``gen_ai.operation.name``: from its metadata, its own name, or its type."""
    given = (span.metadata or {}).get("gen_ai.operation.name")
    if isinstance(given, str) and given:
        return given
    if span.name in KNOWN_OPERATIONS:
        return str(span.name)
    return OPERATIONS.get(span.span_type)


def fill_span(message: Span, span: Any, provider: str | None = None) -> None:
    """Write one ``SpanRecord`` into an empty OTLP ``Span`` message."""
    operation = operation_of(span)
    attributes: dict[str, Any] = {}
    name = span.name
    metadata = span.metadata or {}
    if operation is not None:
        attributes["gen_ai.operation.name"] = operation
        name = _span_name(span, operation, metadata, attributes)
        if provider is not None and operation in MODEL_CALLS:
            attributes["gen_ai.provider.name"] = provider
    _genai_attributes(span, attributes)
    attributes["mlflow.spanType"] = span.span_type
    attributes["genmon.name"] = span.name
    attributes["genmon.call_id"] = span.call_id
    if span.parent_call_id is not None:
        attributes["genmon.parent_call_id"] = span.parent_call_id
    if span.component is not None:
        attributes["genmon.component"] = span.component
    # Captured inputs and outputs as JSON text under MLflow's names, which its OTLP ingestion keeps as the
    # span's inputs and outputs (gen_ai.input.messages needs the chat-message schema, which arguments are not).
    for key, value in (("mlflow.spanInputs", span.inputs), ("mlflow.spanOutputs", span.outputs)):
        if value is not None:
            attributes[key] = orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    for key, value in metadata.items():
        attributes[key if "." in key else f"genmon.metadata.{key}"] = value
    start_ns = round(span.start * 1e9)
    message.trace_id = trace_id(span)
    message.span_id = span_id(span.call_id)
    message.name = name
    message.kind = CLIENT if operation in _CLIENT_OPERATIONS else INTERNAL
    message.start_time_unix_nano = start_ns
    message.end_time_unix_nano = start_ns + max(round(span.duration_s * 1e9), 0)
    add_attributes(message.attributes, attributes.items())
    if span.parent_call_id is not None:
        message.parent_span_id = span_id(span.parent_call_id)
    elif span.parent_span_id:
        message.parent_span_id = bytes.fromhex(span.parent_span_id)
    if not span.success:
        message.status.code = Status.StatusCode.STATUS_CODE_ERROR
        message.status.message = span.exception_message or span.exception_type or "error"
        event = message.events.add()
        event.name = "exception"
        event.time_unix_nano = message.end_time_unix_nano
        add_attributes(
            event.attributes, (("exception.type", span.exception_type), ("exception.message", span.exception_message))
        )


def _span_name(span: Any, operation: str, metadata: Mapping[str, Any], attributes: dict[str, Any]) -> str:
    if operation in MODEL_CALLS:
        return f"{operation} {span.model_name}" if span.model_name else operation
    if operation == "execute_tool":
        attributes["gen_ai.tool.name"] = span.name
        return f"execute_tool {span.name}"
    if operation in ("invoke_agent", "create_agent"):
        agent = span.component or span.name
        attributes["gen_ai.agent.name"] = agent
        return f"{operation} {agent}"
    if operation == "invoke_workflow":
        attributes["gen_ai.workflow.name"] = span.name
        return f"invoke_workflow {span.name}"
    source = metadata.get("gen_ai.data_source.id")
    return f"{operation} {source}" if source else operation


def _genai_attributes(span: Any, attributes: dict[str, Any]) -> None:
    if span.model_name is not None:
        attributes["gen_ai.request.model"] = span.model_name
    if span.response_model is not None:
        attributes["gen_ai.response.model"] = span.response_model
    if span.prompt_tokens is not None:
        attributes["gen_ai.usage.input_tokens"] = span.prompt_tokens
    if span.completion_tokens is not None:
        attributes["gen_ai.usage.output_tokens"] = span.completion_tokens
    if span.finish_reason is not None:
        attributes["gen_ai.response.finish_reasons"] = [span.finish_reason]
    if span.cost_usd is not None:
        attributes["gen_ai.usage.cost"] = span.cost_usd  # Langfuse's name
        # MLflow's name, a map as MLflow stores it (its UI and trace totals read it).
        attributes["mlflow.llm.cost"] = AttributeMap(total_cost=span.cost_usd)
    if not span.success and span.exception_type:
        attributes["error.type"] = span.exception_type


class AttributeMap(dict):  # type: ignore[type-arg]
    """A value sent as an OTLP map (``kvlist_value``); other dicts are sent as JSON text."""


def add_attributes(target: Any, items: Any) -> None:
    """Append attribute pairs to a repeated ``KeyValue`` field; None values are left out."""
    for key, value in items:
        if value is not None:
            pair = target.add()
            pair.key = key
            set_value(pair.value, value)


def key_values(items: Any) -> list[KeyValue]:
    """Attribute pairs as ``KeyValue`` messages; None values are left out."""
    out = []
    for key, value in items:
        if value is not None:
            pair = KeyValue(key=str(key))
            set_value(pair.value, value)
            out.append(pair)
    return out


def set_value(target: AnyValue, value: Any) -> None:
    """Write an attribute value: text, bool, int, float, a list of one of them, an ``AttributeMap``; else JSON text."""
    kind = type(value)
    if kind is str:
        target.string_value = value
    elif kind is bool:
        target.bool_value = value
    elif kind is int:
        if _INT64[0] <= value <= _INT64[1]:
            target.int_value = value
        else:
            target.string_value = str(value)
    elif kind is float:
        target.double_value = value
    elif kind is AttributeMap:
        add_attributes(target.kvlist_value.values, value.items())
    elif kind in (list, tuple) and value and _scalar_list(value):
        values = target.array_value.values
        for item in value:
            set_value(values.add(), item)
    else:
        # Maps and mixed lists: JSON text, which every backend shows (map attributes are not everywhere yet).
        target.string_value = orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def _scalar_list(value: Any) -> bool:
    """One scalar type throughout (ints within 64 bits): an array attribute."""
    first = type(value[0])
    if first not in _SCALARS or not all(type(item) is first for item in value):
        return False
    return first is not int or all(_INT64[0] <= item <= _INT64[1] for item in value)
