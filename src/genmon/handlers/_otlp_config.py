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
TRACES_PATH = "v1/traces"
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
        protocol = _signal(env, "PROTOCOL")
        if protocol is not None and protocol.strip() != PROTOCOL:
            raise ValueError(
                f"OtlpHandler speaks OTLP over {PROTOCOL}, but OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL is "
                f"{protocol.strip()!r}: set it to {PROTOCOL} or pass endpoint= (an OTLP/HTTP receiver, port 4318)"
            )
        endpoint = _traces_endpoint(env)
    merged = {**parse_pairs(_signal(env, "HEADERS") or "", "OTEL_EXPORTER_OTLP_(TRACES_)HEADERS")}
    merged.update(dict(headers or {}))
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


def _signal(env: Mapping[str, str], name: str) -> str | None:
    """The traces-specific variable when set (even empty), else the general one."""
    specific = env.get(f"OTEL_EXPORTER_OTLP_TRACES_{name}")
    return specific if specific is not None else env.get(f"OTEL_EXPORTER_OTLP_{name}")


def _traces_endpoint(env: Mapping[str, str]) -> str:
    specific = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if specific:
        return specific
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip() or DEFAULT_BASE_ENDPOINT
    return base + ("" if base.endswith("/") else "/") + TRACES_PATH


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
    _flatten("genmon.run.config", run.config, out)
    return out


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    # Nested config becomes dotted keys (config={"sampling": {"temperature": 0.7}} ->
    # genmon.run.config.sampling.temperature), which backends can filter on one by one.
    if isinstance(value, Mapping):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}", item, out)
    elif value is not None:
        out[prefix] = value
