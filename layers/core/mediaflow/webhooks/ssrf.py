"""Where a webhook may be delivered: public addresses only, checked at registration and at every delivery.

Hosts are resolved once and the connection goes to the address that was checked, so a DNS answer that
changes between the check and the connect (rebinding) cannot redirect a delivery. IP literals in any
spelling inet_aton accepts (``2852039166``, ``0251.0376.0251.0376``, ``0xA9FEA9FE``, ``127.1``) are
parsed the way a socket library would before they are judged.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from mediaflow.errors import MediaflowError

Resolver = Callable[[str, int], list[str]]
CGNAT = ipaddress.ip_network("100.64.0.0/10")
EXTRA_BLOCKED = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
    "240.0.0.0/4", "64:ff9b::/96", "64:ff9b:1::/48", "2001:db8::/32", "fd00:ec2::254/128",
)]


class UnsafeWebhookUrl(MediaflowError):
    """The URL points at an address mediaflow never delivers to (or is not https)."""

    code = "UnsafeWebhookUrl"
    http_status = 422


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str


def parse_ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host string denotes when it is an IP literal in any accepted spelling, else None."""
    text = host.strip("[]")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if ":" in text:
        return None
    parts = text.split(".")
    if not 1 <= len(parts) <= 4 or any(not part for part in parts):
        return None
    values = []
    for part in parts:
        try:
            if part.lower().startswith("0x"):
                values.append(int(part, 16))
            elif len(part) > 1 and part.startswith("0"):
                values.append(int(part, 8))
            else:
                values.append(int(part, 10))
        except ValueError:
            return None
    *head, last = values
    if any(value > 255 for value in head) or last >= 256 ** (5 - len(values)):
        return None
    number = 0
    for value in head:
        number = number * 256 + value
    number = number * 256 ** (5 - len(values)) + last
    return ipaddress.IPv4Address(number) if number < 2**32 else None


def is_forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Loopback, private, link-local, CGNAT, unspecified, multicast, reserved or documentation ranges,
    and IPv6 addresses that embed such an IPv4 address (mapped, 6to4, Teredo)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_forbidden(address.ipv4_mapped)
        embedded = address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None and is_forbidden(embedded):
            return True
        if address.is_site_local:
            return True
    elif address in CGNAT:
        return True
    if (address.is_private or address.is_loopback or address.is_link_local or address.is_multicast
            or address.is_reserved or address.is_unspecified):
        return True
    return any(address in network for network in EXTRA_BLOCKED if network.version == address.version)


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


def check_url(url: str, *, allow_loopback_http: bool = False, resolver: Resolver = system_resolver) -> Target:
    """Refuse anything but https to public addresses; returns the address to connect to.

    ``allow_loopback_http`` (a local-development setting) allows http and https to loopback only.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeWebhookUrl(f"not a URL: {error}", field="url") from error
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeWebhookUrl("the URL needs an https scheme and a host", field="url")
    if parts.username or parts.password:
        raise UnsafeWebhookUrl("credentials in the URL are not allowed", field="url")
    host = parts.hostname
    port = port or (443 if parts.scheme == "https" else 80)
    literal = parse_ip_literal(host)
    try:
        addresses = [str(literal)] if literal is not None else resolver(host, port)
    except OSError as error:
        raise UnsafeWebhookUrl(f"cannot resolve {host}: {error}", field="url") from error
    if not addresses:
        raise UnsafeWebhookUrl(f"{host} has no address", field="url")
    parsed = [ipaddress.ip_address(address.split("%")[0]) for address in addresses]
    loopback_only = all(address.is_loopback or (isinstance(address, ipaddress.IPv6Address)
                        and address.ipv4_mapped is not None and address.ipv4_mapped.is_loopback)
                        for address in parsed)
    if allow_loopback_http and loopback_only:
        return Target(parts.scheme, host, port, _path(parts.path, parts.query), str(parsed[0]))
    if parts.scheme != "https":
        raise UnsafeWebhookUrl("the URL must use https", field="url")
    for address in parsed:
        if is_forbidden(address):
            raise UnsafeWebhookUrl(f"{host} resolves to {address}, which is not a public address", field="url")
    return Target(parts.scheme, host, port, _path(parts.path, parts.query), str(parsed[0]))


class PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address that passed the SSRF check, whatever DNS says now."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to the checked address, with the certificate verified for the URL's host name."""

    def __init__(self, target: Target, timeout: float, context: ssl.SSLContext | None = None) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=context or ssl.create_default_context())
        self._address = target.address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


def pinned_connection(target: Target, timeout: float,
                      context: ssl.SSLContext | None = None) -> http.client.HTTPConnection:
    """A connection to ``target``'s checked address (https or, for loopback allowances, http)."""
    if target.scheme == "https":
        return PinnedHTTPSConnection(target, timeout, context)
    return PinnedHTTPConnection(target, timeout)


def _path(path: str, query: str) -> str:
    return (path or "/") + (f"?{query}" if query else "")
