"""OtlpHandler settings: its keywords first, then the standard ``OTEL_*`` environment variables, then defaults.

The variables are those of the OpenTelemetry specification
(https://opentelemetry.io/docs/specs/otel/protocol/exporter/), read the way
it says: a signal-specific variable (``..._TRACES_...``) replaces the general
one, ``OTEL_EXPORTER_OTLP_ENDPOINT`` is a base URL that gets ``/v1/traces``
appended while ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is used as is,
timeouts are milliseconds, header and resource values are percent-decoded.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

DEFAULT_BASE_ENDPOINT = "http://localhost:4318"
PATHS = {"TRACES": "v1/traces", "METRICS": "v1/metrics"}
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_SERVICE_NAME = "genmon"
PROTOCOL = "http/protobuf"


@dataclass(frozen=True)
class OtlpSettings:
    """What the handler sends where: resolved once, at construction."""

    traces_endpoint: str
    headers: dict[str, str]
    timeout_s: float
    compression: str | None  # "gzip" or None
    resource: dict[str, Any]  # service.name, OTEL_RESOURCE_ATTRIBUTES, host and process


def resolve(
    endpoint: str | None,
    headers: Mapping[str, str] | None,
    timeout: float | None,
    compression: str | None,
    service_name: str | None,
    resource_attributes: Mapping[str, Any] | None,
    environ: Mapping[str, str] | None = None,
) -> OtlpSettings:
    """Settings from the keywords, falling back to the environment (``os.environ`` unless given)."""
    env = os.environ if environ is None else environ
    if endpoint is None:
        _check_protocol(env, "TRACES", "endpoint")
        endpoint = _signal_endpoint(env, "TRACES")
    merged = _headers(env, "TRACES", headers)
    if timeout is None:
        timeout = _timeout_s(env)
    if compression is None:
        compression = (_signal(env, "COMPRESSION") or "none").strip().lower()
    if compression not in ("gzip", "none"):
        raise ValueError(f"compression must be 'gzip' or 'none', got {compression!r}")
    return OtlpSettings(
        endpoint,
        merged,
        timeout,
        None if compression == "none" else compression,
        _resource(env, service_name, resource_attributes),
    )


def parse_pairs(text: str, variable: str) -> dict[str, str]:
    """``key1=value1,key2=value2`` (W3C Baggage style, values percent-decoded); errors never quote a value."""
    pairs: dict[str, str] = {}
    for position, item in enumerate(text.split(","), 1):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            # The value may be a token: say where the entry is, never what it holds.
            raise ValueError(f"{variable}: entry {position} is not key=value")
        pairs[unquote(key.strip())] = unquote(value.strip())
    return pairs


def resolve_metrics(
    endpoint: str | None,
    metrics_endpoint: str | None,
    headers: Mapping[str, str] | None,
    environ: Mapping[str, str] | None = None,
) -> tuple[str, dict[str, str]]:
    """Where metrics go and with which headers: ``metrics_endpoint``, else next to a ``.../v1/traces``
    ``endpoint``, else ``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`` or the base endpoint + ``/v1/metrics``."""
    env = os.environ if environ is None else environ
    if metrics_endpoint is None and endpoint is not None:
        base, _, last = endpoint.rstrip("/").rpartition("/v1/")
        if last != "traces":
            raise ValueError("with metrics=True and an endpoint not ending in /v1/traces, pass metrics_endpoint=")
        metrics_endpoint = f"{base}/v1/metrics"
    if metrics_endpoint is None:
        _check_protocol(env, "METRICS", "metrics_endpoint")
        metrics_endpoint = _signal_endpoint(env, "METRICS")
    return metrics_endpoint, _headers(env, "METRICS", headers)


def _signal(env: Mapping[str, str], name: str, signal: str = "TRACES") -> str | None:
    """The signal-specific variable when set (even empty), else the general one."""
    specific = env.get(f"OTEL_EXPORTER_OTLP_{signal}_{name}")
    return specific if specific is not None else env.get(f"OTEL_EXPORTER_OTLP_{name}")


def _check_protocol(env: Mapping[str, str], signal: str, keyword: str) -> None:
    protocol = _signal(env, "PROTOCOL", signal)
    if protocol is not None and protocol.strip() != PROTOCOL:
        raise ValueError(
            f"OtlpHandler speaks OTLP over {PROTOCOL}, but OTEL_EXPORTER_OTLP_({signal}_)PROTOCOL is "
            f"{protocol.strip()!r}: set it to {PROTOCOL} or pass {keyword}= (an OTLP/HTTP receiver, port 4318)"
        )


def _signal_endpoint(env: Mapping[str, str], signal: str) -> str:
    specific = env.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT", "").strip()
    if specific:
        return specific
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip() or DEFAULT_BASE_ENDPOINT
    return base + ("" if base.endswith("/") else "/") + PATHS[signal]


def _headers(env: Mapping[str, str], signal: str, keyword: Mapping[str, str] | None) -> dict[str, str]:
    merged = parse_pairs(_signal(env, "HEADERS", signal) or "", f"OTEL_EXPORTER_OTLP_({signal}_)HEADERS")
    merged.update(dict(keyword or {}))
    return merged


def _timeout_s(env: Mapping[str, str]) -> float:
    raw = _signal(env, "TIMEOUT")
    if raw is None or not raw.strip():
        return DEFAULT_TIMEOUT_S
    try:
        millis = float(raw)
    except ValueError:
        raise ValueError(f"OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT must be milliseconds, got {raw!r}") from None
    if not millis > 0:
        raise ValueError(f"OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT must be > 0 milliseconds, got {raw!r}")
    return millis / 1000.0


def _resource(env: Mapping[str, str], service_name: str | None, attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "service.name": DEFAULT_SERVICE_NAME,
        "host.name": socket.gethostname(),
        "process.pid": os.getpid(),
    }
    resource.update(parse_pairs(env.get("OTEL_RESOURCE_ATTRIBUTES", ""), "OTEL_RESOURCE_ATTRIBUTES"))
    env_service = env.get("OTEL_SERVICE_NAME", "").strip()
    if env_service:
        resource["service.name"] = env_service
    resource.update(dict(attributes or {}))
    if service_name is not None:
        resource["service.name"] = service_name
    return resource


def run_attributes(run: Any) -> dict[str, Any]:
    """A monitor's ``RunInfo`` as resource attributes: ``genmon.run.name``, ``.tags.<k>``, ``.config.<k>``."""
    out: dict[str, Any] = {}
    if run is None:
        return out
    if run.run_name is not None:
        out["genmon.run.name"] = run.run_name
    for key, value in run.tags.items():
        out[f"genmon.run.tags.{key}"] = value
    # Nested config becomes dotted keys (genmon.run.config.sampling.temperature), which backends filter on one by one.
    for key, value in run.flat_config().items():
        if value is not None:
            out[f"genmon.run.config.{key}"] = value
    return out
