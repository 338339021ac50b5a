"""The client's address, for everything that limits per source (login throttles, failed API keys).

`REMOTE_ADDR` unless `TRUSTED_PROXY_COUNT` says how many reverse proxies we run in front of the
app. Each proxy appends the address it received the request from to `X-Forwarded-For`
(nginx: `$proxy_add_x_forwarded_for`), so with N trusted proxies the client is the N-th entry
from the right; everything left of it was written by the client and is never believed (else an
attacker picks a fresh "address" per request). Only set it when the app cannot be reached
without passing through those proxies.
"""
from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    remote = request.META.get("REMOTE_ADDR") or "unknown"
    hops = settings.TRUSTED_PROXY_COUNT
    if hops <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < hops:  # did not come through all our proxies: only the peer is known
        return remote
    candidate = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:  # our own proxy wrote garbage? then the peer is all we know
        return remote
