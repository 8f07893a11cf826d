"""Keeping secrets out of what sinks store and log: header values, URL credentials, query strings.

An error raised deep in ``http.client`` or a proxy may quote the request it
refused (``Invalid header value b'Bearer <token>\\n'``, a URL with its
query). Every error text a sink stores (``stats()["last_error"]``), logs or
reports goes through a ``Redactor`` that knows the sink's secrets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import quote, unquote, urlsplit

REDACTED = "<redacted>"
_MIN_SECRET = 4  # shorter fragments would blank out ordinary words


def redact_url(url: str) -> str:
    """``scheme://host:port/path`` without credentials, query or fragment (they may hold tokens)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def check_header_values(headers: Mapping[str, str]) -> None:
    """Refuse a header value with CR or LF (a token read from a file keeps its newline): ``http.client`` would
    reject every request later, quoting the value in its error."""
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(f"headers must map str to str, got {type(name).__name__} to {type(value).__name__}")
        if "\r" in value or "\n" in value:
            raise ValueError(f"header {name!r} has a CR or LF in its value (strip the token you read?)")


class Redactor:
    """Replaces every known secret in a text with ``<redacted>``, in the forms errors quote it in.

    Args:
        secrets: header values, URL passwords, query strings...
        urls: URLs whose credentials, query, fragment and path-with-query are secret.

    Example:
        >>> Redactor(["Bearer s3cret-token"])("Invalid header value b'Bearer s3cret-token'")
        "Invalid header value b'<redacted>'"
    """

    def __init__(self, secrets: Iterable[str] = (), urls: Iterable[str] = ()) -> None:
        found: set[str] = set()
        for secret in secrets:
            found.update(_forms(secret))
            words = secret.split()
            if len(words) > 1:  # "Bearer <token>": the token alone too
                found.update(_forms(words[-1]))
        for url in urls:
            parts = urlsplit(url)
            for piece in (parts.password, parts.username, parts.query, parts.fragment):
                if piece:
                    found.update(_forms(piece))
                    found.update(_forms(unquote(piece)))
            if parts.query:
                found.update(_forms(f"{parts.path}?{parts.query}"))
            if parts.username or parts.password or parts.query or parts.fragment:
                found.add(url)
        # Longest first, so a secret's part never leaves the rest of it showing.
        self._secrets = sorted((s for s in found if len(s) >= _MIN_SECRET), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text


def _forms(secret: str) -> set[str]:
    """The secret as errors may print it: as is, repr-escaped, as bytes repr, URL-quoted."""
    return {secret, repr(secret)[1:-1], repr(secret.encode("utf-8", "backslashreplace"))[2:-1], quote(secret, safe="")}
