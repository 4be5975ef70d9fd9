"""Where a webhook may go: the rule against server-side request forgery.

- In production the URL is https. Elsewhere http is allowed to a loopback address only.
- The host is resolved and every address it resolves to is checked (a name with one public and
  one private address is refused): loopback only outside production; private, link-local,
  shared, reserved, multicast and unspecified ranges never, unless
  ``AIXIN_WEBHOOK_ALLOW_PRIVATE_NETWORKS`` is true.

The rule runs when an endpoint is registered and again before every attempt, and the attempt
connects to the address the rule passed (:func:`pinned`), not to the name again: a name that
resolves elsewhere between the check and the connection (DNS rebinding) cannot move the request.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from app.core.settings import Settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(ValueError):
    """The URL may not receive webhooks; the message says why."""


def _kind(address: Address) -> str | None:
    """What forbids ``address``, or None for a public one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "loopback"
    if address.is_unspecified or address.is_multicast or address.is_link_local:
        return "special"
    if address.is_private or address.is_reserved or not address.is_global:
        return "private"
    return None


def check_address(address: Address, settings: Settings) -> None:
    """Refuse an address the rule forbids."""
    kind = _kind(address)
    if kind == "loopback" and settings.env != "production":
        return
    if kind == "private" and settings.webhook_allow_private_networks:
        return
    if kind is not None:
        raise Refused(f"webhooks may not go to {address} ({kind} address)")


def check_form(url: str, settings: Settings) -> tuple[str, int]:
    """The host and port of ``url`` if its form is allowed (scheme, no credentials)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Refused("the URL cannot be read") from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise Refused("the URL must be https://host/…")
    if parts.username or parts.password:
        raise Refused("the URL may not carry credentials")
    if parts.scheme == "http" and settings.env == "production":
        raise Refused("webhooks go over https in production")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def resolve(host: str, port: int) -> list[Address]:
    """Every address ``host`` resolves to."""
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return [literal]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise Refused(f"the host {host} cannot be resolved") from exc
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


async def check(url: str, settings: Settings) -> list[Address]:
    """The addresses of ``url``'s host, if the rule allows them all (else :class:`Refused`)."""
    host, port = check_form(url, settings)
    addresses = await resolve(host, port)
    if not addresses:
        raise Refused(f"the host {host} has no address")
    for address in addresses:
        check_address(address, settings)
    if urlsplit(url).scheme == "http" and any(_kind(a) != "loopback" for a in addresses):
        raise Refused("http is allowed to a loopback address only; use https")
    return addresses


@dataclass(frozen=True)
class Pinned:
    """A request to ``url`` sent to one checked address, under the URL's own name."""

    url: str  # the URL with the address in place of the name
    host: str  # the Host header: the name (and port) as the URL gave it
    sni_hostname: str  # the name TLS presents and verifies the certificate against


def pinned(url: str, address: Address) -> Pinned:
    """``url`` aimed at ``address``: the connection goes there, the name stays in Host and TLS."""
    parts = urlsplit(url)
    hostname = parts.hostname or ""
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    return Pinned(parts._replace(netloc=netloc).geturl(), parts.netloc, hostname)
