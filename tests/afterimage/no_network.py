"""Keep a process off the network: only loopback addresses and Unix sockets may be reached.

driver.py installs it before importing afterimage, so neither afterimage
(its import, its providers, anything it pulls in) nor genmon can reach a
real LLM, a telemetry endpoint or a name server: the comparison needs no
network, and a scenario that tried would fail with ``NetworkBlocked``
instead of passing on a machine that happens to be online. Python-level
sockets only (``socket.socket``, ``getaddrinfo``, and so ``asyncio``,
``http.client``, ``urllib``, ``httpx``); a C extension that opens its own
sockets is not covered.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class NetworkBlocked(ConnectionRefusedError):
    """A connection, datagram or name lookup for a host that is not loopback."""


attempts: list[str] = []  # every refused host, so the driver can report what tried
_real: dict[str, Any] = {}


def is_loopback(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _check(address: Any) -> None:
    # AF_INET and AF_INET6 addresses are tuples (host, port, ...); a Unix socket's is a path.
    if isinstance(address, tuple) and not is_loopback(address[0]):
        attempts.append(str(address[0]))
        raise NetworkBlocked(f"network access blocked in the afterimage driver: {address!r}")


def _connect(self: socket.socket, address: Any) -> None:
    _check(address)
    _real["connect"](self, address)


def _connect_ex(self: socket.socket, address: Any) -> int:
    _check(address)
    return int(_real["connect_ex"](self, address))


def _sendto(self: socket.socket, data: Any, *flags_and_address: Any) -> int:
    _check(flags_and_address[-1])  # sendto(data, address) or sendto(data, flags, address)
    return int(_real["sendto"](self, data, *flags_and_address))


def _getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    # None asks for the local host's own address (a server binding): no lookup leaves the machine.
    if host is not None and not is_loopback(host):
        attempts.append(str(host))
        raise NetworkBlocked(f"name lookup blocked in the afterimage driver: {host!r}")
    return _real["getaddrinfo"](host, *args, **kwargs)


def install() -> None:
    """Patch ``socket`` for the rest of this process (the driver's own subprocess: nothing to undo)."""
    if _real:
        return
    for name, replacement in (("connect", _connect), ("connect_ex", _connect_ex), ("sendto", _sendto)):
        _real[name] = getattr(socket.socket, name)
        setattr(socket.socket, name, replacement)
    _real["getaddrinfo"] = socket.getaddrinfo
    socket.getaddrinfo = _getaddrinfo


def _connect_and_close(address: tuple[str, int]) -> None:
    with socket.socket() as sock:
        sock.settimeout(2)
        sock.connect(address)


def self_check() -> dict[str, Any]:
    """Try a remote connect, a remote name lookup and a loopback connect; say what each did."""
    outcomes: dict[str, Any] = {}
    tries = {
        # 192.0.2.1 is TEST-NET-1 (RFC 5737): never routed, so nothing is reached even unguarded.
        "connect_remote": lambda: _connect_and_close(("192.0.2.1", 80)),
        "create_connection_remote": lambda: socket.create_connection(("192.0.2.1", 80), timeout=2).close(),
        "lookup_remote": lambda: socket.getaddrinfo("example.com", 443),
    }
    for name, attempt in tries.items():
        try:
            attempt()
            outcomes[name] = "connected"
        except Exception as error:  # noqa: BLE001 - the outcome is the observation
            outcomes[name] = type(error).__name__
    with socket.create_server(("127.0.0.1", 0)) as server, socket.create_connection(server.getsockname(), timeout=5):
        outcomes["connect_loopback"] = "connected"
    outcomes["blocked_hosts"] = list(attempts)
    attempts.clear()
    return outcomes
