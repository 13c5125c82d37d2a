"""SSRF protection for store webhook URLs: which URLs and which addresses we may call.

Checked twice: when a store saves the URL (a clear 422), and at send time, where the HTTP client
only ever connects to addresses this module vetted (`VettingResolver`), so a DNS answer that
changes between the check and the connect (DNS rebinding) cannot reach an internal address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Final

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_CGNAT: Final = ipaddress.ip_network("100.64.0.0/10")
_NAT64: Final = ipaddress.ip_network("64:ff9b::/96")
# Cloud metadata services; all are also non-global, named here so the intent is explicit.
METADATA_ADDRESSES: Final = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
MAX_URL_CHARS: Final = 2048
SAVE_TIME_RESOLVE_S: Final = 3.0


class UnsafeURL(ValueError):
    """The URL or the address it resolves to may not be called. `reason` is short and safe."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ForbiddenAddress(OSError):
    """Raised by the resolver: the host resolved to an address we refuse to connect to."""


def is_forbidden(address: IPAddress) -> bool:
    """Loopback, private, link-local, CGNAT, multicast, reserved, unspecified or metadata."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or (
            ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if address in _NAT64 else None
        )
        if embedded is not None:
            return is_forbidden(embedded)
    return (
        address in METADATA_ADDRESSES
        or address in _CGNAT
        or address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def check_url(raw: str, *, dev: bool) -> URL:
    """The parsed URL, or UnsafeURL: https only (http too in dev), no credentials, no
    forbidden literal address (allowed in dev)."""
    if len(raw) > MAX_URL_CHARS:
        raise UnsafeURL(f"url is longer than {MAX_URL_CHARS} characters")
    try:
        url = URL(raw)
    except ValueError:
        raise UnsafeURL("url is not a valid URL") from None
    allowed = ("https", "http") if dev else ("https",)
    if url.scheme not in allowed:
        raise UnsafeURL("url must use https" if not dev else "url must use http or https")
    if not url.host:
        raise UnsafeURL("url has no host")
    if url.user is not None or url.password is not None:
        raise UnsafeURL("url must not carry credentials")
    if url.fragment:
        raise UnsafeURL("url must not have a fragment")
    if not dev:
        literal = _literal_address(url.host)
        if literal is not None and is_forbidden(literal):
            raise UnsafeURL("url points to a private or reserved address")
        if url.host.rstrip(".").lower() == "localhost" or url.host.endswith(".localhost"):
            raise UnsafeURL("url points to a private or reserved address")
    return url


async def check_resolves_public(url: URL, *, dev: bool) -> None:
    """At save time: refuse a name that resolves to a forbidden address. A name that does not
    resolve yet is accepted (it is checked again at every send)."""
    if dev or url.host is None or _literal_address(url.host) is not None:
        return
    resolver = VettingResolver(allow_private=False)
    try:
        async with asyncio.timeout(SAVE_TIME_RESOLVE_S):
            await resolver.resolve(url.host, url.port or 443, socket.AF_UNSPEC)
    except ForbiddenAddress:
        raise UnsafeURL("url resolves to a private or reserved address") from None
    except OSError:  # includes TimeoutError: DNS slow or away, decided at send time
        return
    finally:
        await resolver.close()


class VettingResolver(AbstractResolver):
    """Resolves like aiohttp's default, then refuses the whole answer if any address is
    forbidden; the connector connects only to the addresses returned here."""

    def __init__(self, *, allow_private: bool) -> None:
        self._inner = DefaultResolver()
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not self._allow_private:
            for result in results:
                if is_forbidden(ipaddress.ip_address(result["host"].split("%", 1)[0])):
                    raise ForbiddenAddress("host resolves to a forbidden address")
        return results

    async def close(self) -> None:
        await self._inner.close()


def check_literal_host(host: str, *, allow_private: bool) -> None:
    """At send time, for IP-literal hosts (aiohttp does not resolve them).

    Raises ForbiddenAddress."""
    literal = _literal_address(host)
    if literal is not None and not allow_private and is_forbidden(literal):
        raise ForbiddenAddress("host is a forbidden address")


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
