"""Which `Host` names fakerek answers, and which origins are its own: what keeps web pages from
driving a server that checks no credentials.

A page the developer has open in a browser can send requests to fakerek's port. With DNS
rebinding, the page's own name (attacker.example) comes to resolve to 127.0.0.1, and the browser
then sends the page's requests to fakerek as same-origin ones: only their `Host`
(`attacker.example:4567`) tells them apart. So fakerek answers a Host that is a loopback name or
address (`localhost`, `*.localhost`, 127.0.0.0/8, `::1`), the address it binds (any address
when it binds them all: an address cannot be rebound), or a name of `--allowed-hosts`. The port
in a Host plays no part.

An origin is fakerek's own when it is on the port the request was sent to and names the host the
request did, or a host allowed by name (loopback, the bound address, a name or `*.name` of
`--allowed-hosts`): the only pages the console and the control API take changes from. The
wildcards (any address when binding them all, `*`) accept a Host, never a page: an address or a
name they let through may be another machine's, serving an attacker's page on the same port.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from typing import NamedTuple
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
LOOPBACK_NAME = "localhost"


class Address(NamedTuple):
    name: str  # lower case, without a final dot; an IPv6 address without its brackets
    port: int | None


class Origin(NamedTuple):
    scheme: str
    address: Address  # its port filled in from the scheme when the origin leaves it out

    def __str__(self) -> str:
        """The origin as a browser writes it: no default port."""
        name = self.address.name
        shown = f"[{name}]" if ":" in name else name
        if self.address.port != DEFAULT_PORTS.get(self.scheme):
            shown += f":{self.address.port}"
        return f"{self.scheme}://{shown}"


def _name(text: str) -> str:
    text = text.lower()
    return text[:-1] if text.endswith(".") else text


def _port(text: str) -> int | None:
    if not text.isdigit() or int(text) > 65535:
        raise ValueError(text)
    return int(text)


def parse_host(value: str) -> Address | None:
    """A Host header's `name[:port]` or `[IPv6][:port]`; None when it is neither."""
    value = value.strip()
    if value.startswith("["):
        name, bracket, rest = value[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return None
        port_text = rest[1:]
    else:
        name, _, port_text = value.partition(":")
    try:
        port = _port(port_text) if port_text else None
    except ValueError:
        return None
    name = _name(name)
    return Address(name, port) if name else None


def parse_origin(value: str) -> Origin | None:
    """An `Origin` header (or the scheme and host of a `Referer`) of an http(s) page; None for
    `null`, other schemes and anything malformed."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    if parts.query or parts.fragment or parts.username is not None:
        return None
    return Origin(scheme, Address(_name(parts.hostname), port or DEFAULT_PORTS[scheme]))


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def is_loopback(name: str) -> bool:
    """`localhost`, a name under `.localhost` (browsers resolve both to loopback themselves),
    or a loopback address."""
    if name == LOOPBACK_NAME or name.endswith("." + LOOPBACK_NAME):
        return True
    ip = _ip(name)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip is not None and ip.is_loopback


class HostRules:
    """The names a request may reach fakerek by: loopback, the bound address, `--allowed-hosts`
    (exact names, `*.name` for the subdomains of name, `*` for any)."""

    def __init__(self, bind: str, allowed: Iterable[str]):
        self.bind = _name(bind.strip("[]"))
        bound = _ip(self.bind)
        self.any_address = bound is not None and bound.is_unspecified
        names = {_name(entry.strip("[]")) for entry in allowed}
        self.any_name = "*" in names
        self.suffixes = tuple(name[1:] for name in names if name.startswith("*."))
        self.names = frozenset(name for name in names if not name.startswith("*"))
        # the answer for a Host, kept: a server is reached by a handful of them
        self.allows_host = functools.lru_cache(maxsize=1024)(self._allows_host)

    def allows(self, name: str) -> bool:
        return self.any_name or self.names_it(name) or (self.any_address and _ip(name) is not None)

    def names_it(self, name: str) -> bool:
        """`name` is allowed by name, not by a wildcard."""
        return (
            is_loopback(name)
            or name == self.bind
            or name in self.names
            or name.endswith(self.suffixes)
        )

    def _allows_host(self, host: str | None) -> bool:
        """A request's Host header is acceptable. One without Host (HTTP/1.0) is: no browser
        sends such a request."""
        if host is None:
            return True
        found = parse_host(host)
        return found is not None and self.allows(found.name)

    def is_own(self, origin: str, host: str | None) -> bool:
        """`origin` is one of fakerek's own pages for a request sent with this Host: on the port
        the request was sent to, the host the request names or one allowed by name."""
        found = parse_origin(origin)
        here = parse_host(host) if host is not None else None
        if found is None or here is None:
            return False
        port = here.port or DEFAULT_PORTS[found.scheme]
        name = found.address.name
        return found.address.port == port and (
            self.names_it(name) or (name == here.name and self.allows(name))
        )
