"""Keeping secrets out of captured inputs and outputs: the default redaction of span inputs and outputs."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["REDACTED", "SECRET_KEYS", "redact_secrets"]

REDACTED = "<redacted>"  # the text the sinks' error redaction uses too (genmon.handlers._secrets)
# Keys whose values are secrets wherever they appear (compared lower-cased, any run of other characters read as "_").
SECRET_KEYS = frozenset(
    {
        "api_key",
        "apikey",
        "authorization",
        "proxy_authorization",
        "password",
        "passwd",
        "secret",
        "client_secret",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "x_api_key",
        "private_key",
        "cookie",
        "set_cookie",
    }
)
_SEPARATORS = re.compile(r"[^a-z0-9]+")


def redact_secrets(value: Any) -> Any:
    """The values of secret-looking keys (``api_key``, ``Authorization``, ``password``, ``token``...) at any depth
    of a JSON-ready value become ``"<redacted>"``; returns a new structure and leaves the input as it was.

    Example:
        >>> redact_secrets({"prompt": "hi", "headers": {"Authorization": "Bearer s3cret"}})
        {'prompt': 'hi', 'headers': {'Authorization': '<redacted>'}}
    """
    if isinstance(value, dict):
        return {k: REDACTED if _is_secret_key(k) else redact_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_secrets(v) for v in value]
    return value


def _is_secret_key(key: Any) -> bool:
    return _SEPARATORS.sub("_", str(key).lower()).strip("_") in SECRET_KEYS
