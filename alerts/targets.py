"""Outgoing HTTP for notifications: the security boundary between a tenant's URL and our network.

A tenant chooses where its webhook and Slack notifications go, and our servers make the request:
without care that is a server-side request forgery (SSRF) hole, a way to reach the cloud
metadata service, the database host or anything else on our private network. So:

* only `http` and `https` URLs; the host is resolved and every address it resolves to is
  checked: loopback, private (RFC 1918, unique-local IPv6, CGNAT), link-local, multicast,
  unspecified and reserved addresses are refused, cloud metadata addresses always;
  `ALERT_ALLOW_PRIVATE_TARGETS=true` lets loopback and private addresses through (receivers on
  the installation's own network; the tests' receivers on 127.0.0.1);
* the check runs when a rule is saved (a 400) and again at every send (DNS can change between
  the two: a name that resolved to a public address may later point inside). The connection
  is made to the very address that was checked, never to a second resolution of the name
  (DNS rebinding); TLS still verifies the certificate for the host name;
* redirects are not followed (http.client never does), timeouts are short, and only the first
  512 characters of the answer are kept.
"""
from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

MAX_URL_LENGTH = 2000
EXCERPT_CHARS = 512
USER_AGENT = "central-logger-alerts/1"
# Cloud metadata services (AWS, GCP, Azure, OpenStack: 169.254.169.254; AWS ECS task metadata;
# AWS IPv6; Alibaba; Oracle): refused whatever ALERT_ALLOW_PRIVATE_TARGETS says.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "169.254.170.23", "fd00:ec2::254", "100.100.100.200", "192.0.0.192",
))
CGNAT = ipaddress.ip_network("100.64.0.0/10")


class TargetRefused(ValueError):
    """The URL may not be called (its message says why, for the user)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent in the request line
    address: str  # the checked address the connection goes to


def check_url_syntax(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of an http(s) URL; TargetRefused otherwise."""
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused(f"The URL must be at most {MAX_URL_LENGTH} characters.")
    if any(ord(c) < 33 for c in url):
        raise TargetRefused("The URL must not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise TargetRefused("Not a valid URL.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise TargetRefused("Only http and https URLs are allowed.")
    if not parts.hostname:
        raise TargetRefused("The URL has no host.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80), path


def address_refusal(address: str) -> str | None:
    """Why `address` may not be called, or None when it may."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return "not a unicast address"
    private = ip.is_loopback or ip.is_private or (isinstance(ip, ipaddress.IPv4Address) and ip in CGNAT)
    if private and not settings.ALERT_ALLOW_PRIVATE_TARGETS:
        return "a loopback or private address (set ALERT_ALLOW_PRIVATE_TARGETS=true to allow it)"
    if not ip.is_global and not private:
        return "not a public address"
    return None


def resolve(url: str) -> Target:
    """The URL's parts and the first of its addresses, after checking every address it resolves
    to (one refused address refuses the URL: a name must not be able to mix in an internal one)."""
    scheme, host, port, path = check_url_syntax(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise TargetRefused(f"The host {host!r} could not be resolved.") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    for address in addresses:
        reason = address_refusal(address)
        if reason is not None:
            raise TargetRefused(f"The host {host!r} resolves to {address}, {reason}.")
    return Target(scheme, host, port, path, addresses[0])


@dataclass(frozen=True)
class Answer:
    status: int
    excerpt: str


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST `body` to `url` after checking it again (TargetRefused), to the checked address.
    Network failures raise OSError (timeouts included); any HTTP answer is returned, a redirect
    too (it is not followed)."""
    target = resolve(url)
    timeout = settings.ALERT_DELIVERY_TIMEOUT_SECONDS
    cls = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    conn = cls(target, timeout)
    try:
        conn.request("POST", target.path, body=body, headers={
            "Content-Type": "application/json", "User-Agent": USER_AGENT, **headers})
        response = conn.getresponse()
        raw = response.read(EXCERPT_CHARS * 4)  # never the whole answer
        return Answer(response.status, raw.decode("utf-8", errors="replace")[:EXCERPT_CHARS])
    except http.client.HTTPException as exc:
        raise OSError(f"bad HTTP answer: {exc.__class__.__name__}") from None
    finally:
        conn.close()
