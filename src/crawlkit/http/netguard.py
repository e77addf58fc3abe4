"""The SSRF guard for crawls of untrusted seeds (``--block-private``).

A host is refused when any address it resolves to is not globally routable:
loopback, private, link-local, shared, reserved, multicast or unspecified. The
check runs at connect time, on every hop (each redirect is a request of its
own), and the connection goes to the address that was checked, so a second DNS
answer cannot swap it for a private one.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any


class BlockedAddress(OSError):
    """A connection the SSRF guard refused."""


def check_ip(address: str) -> None:
    """Raise :class:`BlockedAddress` unless ``address`` is globally routable."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if not ip.is_global or ip.is_multicast:
        raise BlockedAddress(f"{address} is not a public address")


def is_ip_literal(host: str) -> bool:
    """True when ``host`` is an IPv4 or IPv6 address rather than a name."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def resolve_public(host: str, port: int) -> list[tuple[Any, ...]]:
    """``getaddrinfo`` for ``host``, refusing it if any answer is not public."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    for info in infos:
        check_ip(str(info[4][0]))
    return infos


def check_host(host: str, port: int) -> None:
    """Raise :class:`BlockedAddress` unless ``host`` (a name or an address) is public.

    For a request sent through a proxy, which connects to the target itself: the
    check is made here, on this machine's DNS answer.
    """
    if is_ip_literal(host):
        check_ip(host.strip("[]"))
    else:
        resolve_public(host, port)
