"""POSTing request bodies to one HTTP endpoint: what the HTTP and OTLP sinks share.

An ``HttpPoster`` keeps one keep-alive connection, cuts each request's socket
timeout to the time a close leaves, and sorts the answer into delivered (the
response body is returned), worth retrying (``RetryableError``, with the
server's ``Retry-After``) or refused (``PermissionError`` for 401/403,
``ValueError`` otherwise). Error texts name the endpoint without its
credentials or query, never a header.
"""

from __future__ import annotations

import base64
import http.client
from collections.abc import Mapping
from urllib.parse import SplitResult, urlsplit

from genmon.handlers._retry import RetryableError
from genmon.handlers._secrets import Redactor, check_header_values, redact_url

# 408 and 425 are "try again", 429 is rate limiting, 5xx is the server's trouble.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
# Errors that mean a reused keep-alive connection was closed by the server
# before our request reached it: retried at once on a fresh connection.
_STALE_CONNECTION = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)

Answer = tuple[int, str, "float | None", bytes]  # status, reason, Retry-After seconds, body


class HttpPoster:
    """POSTs bodies to ``endpoint`` over one reused connection; used from one thread at a time.

    Args:
        endpoint: ``http://`` or ``https://`` URL; credentials in it become a Basic header.
        headers: the caller's request headers (their values are secrets: never shown).
        timeout: socket timeout in seconds of each request (connect and each read).
        public_headers: headers that are no secret (``Content-Type``); ``headers`` override them.
        retry_statuses: HTTP statuses answered with ``RetryableError``.
    """

    def __init__(
        self,
        endpoint: str,
        headers: Mapping[str, str],
        timeout: float,
        public_headers: Mapping[str, str] | None = None,
        retry_statuses: frozenset[int] = RETRY_STATUSES,
    ) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"endpoint must be an http:// or https:// URL, got {redact_url(endpoint)!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
        check_header_values(dict(headers))
        self.endpoint = redact_url(endpoint)
        self.timeout = float(timeout)
        self.retry_statuses = retry_statuses
        self.headers = {**dict(public_headers or {}), **dict(headers)}
        if parts.username is not None:
            # Credentials in the URL become a Basic header and are never shown again.
            token = base64.b64encode(f"{parts.username}:{parts.password or ''}".encode()).decode()
            self.headers.setdefault("Authorization", f"Basic {token}")
        # Only secret values: redacting "application/json" would blank out ordinary text.
        self.redactor = Redactor([*dict(headers).values(), self.headers.get("Authorization", "")], [endpoint])
        self._url: SplitResult = parts
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._connection: http.client.HTTPConnection | None = None

    def post(self, body: bytes, budget_s: float | None) -> bytes:
        """Send ``body``; the response body of a 2xx answer, else the error the answer means.

        ``budget_s`` (the time a close leaves) caps the socket timeout.
        """
        timeout = self.timeout if budget_s is None else max(min(self.timeout, budget_s), 0.001)
        reused = self._connection is not None
        try:
            status, reason, retry_after, answer = self.request(body, timeout)
        except _STALE_CONNECTION as error:
            self.close()
            if not reused:
                raise RetryableError(f"POST {self.endpoint}: {type(error).__name__}: {error}") from None
            try:
                status, reason, retry_after, answer = self.request(body, timeout)
            except (OSError, http.client.HTTPException) as error2:
                self.close()
                raise RetryableError(f"POST {self.endpoint}: {type(error2).__name__}: {error2}") from None
        except (OSError, http.client.HTTPException) as error:
            # Timeouts, refused connections, DNS failures: the text names no header.
            self.close()
            raise RetryableError(f"POST {self.endpoint}: {type(error).__name__}: {error}") from None
        if 200 <= status < 300:
            return answer
        message = f"POST {self.endpoint}: HTTP {status} {reason}"
        if status in self.retry_statuses:
            raise RetryableError(message, retry_after)
        raise PermissionError(message) if status in (401, 403) else ValueError(message)

    def request(self, body: bytes, timeout: float) -> Answer:
        """One POST on the kept connection (opened when there is none)."""
        connection = self._connection
        if connection is None:
            cls = http.client.HTTPSConnection if self._url.scheme == "https" else http.client.HTTPConnection
            connection = cls(self._url.hostname or "", self._url.port, timeout=timeout)
            self._connection = connection
        else:
            connection.timeout = timeout
            if connection.sock is not None:
                connection.sock.settimeout(timeout)
        connection.request("POST", self._target, body=body, headers=self.headers)
        response = connection.getresponse()
        answer = response.read()  # read to the end, so the connection can be reused
        if response.will_close:
            self.close()
        return response.status, response.reason, retry_after(response.getheader("Retry-After")), answer

    def close(self) -> None:
        """Close the kept connection (the next request opens a fresh one)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


def retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header; None when absent or an HTTP date."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None  # an HTTP date: rare from collectors; the backoff applies instead
