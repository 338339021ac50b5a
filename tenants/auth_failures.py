"""A budget of failed API-key authentications per source (AUTH_FAILURE_RATE), checked before any lookup.

Random well-formed keys (`clk_<10>_<32>`, never issued) each cost a key lookup (a query, or a
cache read) and a full request cycle before their 401; a flood of them took the CPU real tenants
needed (README, Reliability). So every failed authentication is counted per source address, in
the same sliding window as the per-key rate limits (the `auth_failures` budget of
central_logger/ratelimit.py: local memory,
or Redis with REDIS_URL so every process and host shares the count). When a source is over its
budget, the process that noticed remembers it *in its own memory* until the window lets another
failure through; meanwhile that source's requests are answered `429 rate_limited` + Retry-After
before the key is looked up or hashed. Other processes learn it on their next failure from that
source (one more lookup each, not one per request).

Costs: a valid key from an address that is not blocked pays one truthiness check of an (almost
always empty) dict; no cache round trip. A failure pays one cache read and one increment.

What a blocked source may still do: present a key this host has already verified (the
outage snapshot of tenants/resilience.py, in memory or in the local spool file). A real tenant
behind the same NAT as a misbehaving client keeps ingesting (its client posts each log once,
with no retry: a 429 would lose the log), while a never-seen key from that source waits.

A source is the client address from central_logger/client_ip.py; IPv6 addresses count per /64,
since one host usually owns a whole /64.
"""
from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time

from django.http import HttpRequest

from central_logger import ratelimit
from central_logger.client_ip import client_ip
from central_logger.errors import ApiError
from central_logger.monitoring import RATE_LIMITED

logger = logging.getLogger("central_logger.auth")

# source -> time.time() until which this process refuses it. Bounded, so an attacker with many
# addresses cannot grow it without limit (past the cap the oldest entries go first).
_blocked: dict[str, float] = {}
_MAX_BLOCKED = 10_000
_lock = threading.Lock()


class TooManyFailedAuthentications(ApiError):
    status_code = 429
    default_code = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__("Too many failed authentications from this address; retry later.",
                         details={"retry_after": retry_after})


def source_of(request: HttpRequest) -> str:
    ip = client_ip(request)
    if ":" in ip:  # IPv6: the /64 (client_ip returns a normalised address or "unknown")
        try:
            return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
        except ValueError:
            return ip
    return ip


def retry_after(request: HttpRequest) -> int | None:
    """Seconds this request's source must wait, or None. Memory only: no cache, no database."""
    if not _blocked:  # the usual case: nobody is blocked, the address is not even computed
        return None
    source = source_of(request)
    until = _blocked.get(source)
    if until is None:
        return None
    left = until - time.time()
    if left <= 0:
        _blocked.pop(source, None)
        return None
    RATE_LIMITED.labels("auth_failures").inc()  # the caller refuses the request
    return max(1, math.ceil(left))


def record_failure(request: HttpRequest) -> None:
    """Count a failed authentication from this request's source; block it once over the budget."""
    if ratelimit.AUTH_FAILURES.rate() is None:
        return
    source = source_of(request)
    try:
        wait = ratelimit.AUTH_FAILURES.record(source)
    except Exception:  # a broken cache must not turn a 401 into a 500
        logger.warning("auth failure counter unavailable", exc_info=False)
        return
    if wait is not None:
        _block(source, wait)


def _block(source: str, seconds: float) -> None:
    now = time.time()
    with _lock:
        if len(_blocked) >= _MAX_BLOCKED:
            for expired in [s for s, until in _blocked.items() if until <= now]:
                del _blocked[expired]
            while len(_blocked) >= _MAX_BLOCKED:
                del _blocked[next(iter(_blocked))]
        _blocked.pop(source, None)  # re-insert: dict order is then the blocking order
        _blocked[source] = now + seconds
    logger.warning("auth: source %s blocked for %.0f s after too many failed API keys", source, seconds)


def reset() -> None:
    """Forget every block of this process (tests)."""
    with _lock:
        _blocked.clear()
