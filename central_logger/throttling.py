"""Per-API-key rate limits: `RATE_LIMIT_INGEST` for writes, `RATE_LIMIT_READ` for reads.

A sliding-window counter (the previous window's count, weighted by how much of it still
overlaps, plus the current window's count): with Redis one atomic round trip (a Lua script)
per request, whatever the rate; with another cache two reads and one increment. DRF's SimpleRateThrottle keeps a list of every request timestamp
in the cache, which at 6000/min means pickling a 6000-element list on every request.

The counters live in the default cache: local memory (per process) unless REDIS_URL is set,
which shares them across processes and hosts. Keys are the API key's public prefix, so one
tenant's traffic never touches another tenant's counters. If the cache itself fails (Redis
down), requests are let through: a broken rate limiter must not take ingestion down with it.
Rates are read on every request (not at import, as DRF does), so they can change in tests
and deployments alike. `admit`/`record` are also the counter of failed authentications per
source (tenants/auth_failures.py).
"""
from __future__ import annotations

import logging
import math
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger("central_logger.throttling")

_PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600,
            "d": 86400, "day": 86400}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def parse_rate(rate: str) -> tuple[int, int] | None:
    """'6000/min' -> (6000, 60); '' or 'none' -> None (unlimited)."""
    rate = (rate or "").strip().lower()
    if rate in ("", "none", "0", "off"):
        return None
    try:
        count, period = rate.split("/")
        return int(count), _PERIODS[period.strip()]
    except (ValueError, KeyError):
        raise ImproperlyConfigured(f"Invalid rate {rate!r}; use e.g. 6000/min (sec, min, hour, day).") from None


# Check-then-increment of the sliding window, atomic in Redis: KEYS = current, previous window;
# ARGV = limit, elapsed fraction of the current window, expiry. A refused request is not counted.
_SLIDING_WINDOW_LUA = """
local mine = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
if previous * (1 - tonumber(ARGV[2])) + mine + 1 > tonumber(ARGV[1]) then
    return {0, mine, previous}
end
if redis.call('INCR', KEYS[1]) == 1 then
    redis.call('EXPIRE', KEYS[1], ARGV[3])
end
return {1, mine, previous}
"""
_script: Any = None


def _sliding_window_script(client: Any) -> Any:
    """The script object (EVALSHA by its digest, loaded into Redis on first use); every call
    passes its own client, so one object serves all threads and pools."""
    global _script
    if _script is None:
        _script = client.register_script(_SLIDING_WINDOW_LUA)
    return _script


def _identity(request: Request) -> str | None:
    user = request.user
    api_key = getattr(user, "api_key", None)
    if api_key is not None:
        return f"k:{api_key.prefix}"
    if getattr(user, "is_authenticated", False) and getattr(user, "pk", None) is not None:
        return f"u:{user.pk}"  # a dashboard session
    client = getattr(user, "client", None)
    return f"c:{client.pk}" if client is not None else None


def _window(base: str, window: int) -> tuple[str, int, int, float]:
    """(key of the current window, its count, the previous window's count, fraction elapsed)."""
    now = time.time()
    current = int(now // window)
    counts = cache.get_many([f"{base}{current}", f"{base}{current - 1}"])
    return (f"{base}{current}", int(counts.get(f"{base}{current}", 0)), int(counts.get(f"{base}{current - 1}", 0)),
            (now % window) / window)


def _bump(key: str, window: int) -> None:
    try:
        cache.incr(key)
    except ValueError:  # first event of this window
        if not cache.add(key, 1, timeout=window * 2 + 1):
            cache.incr(key)


def _wait_time(limit: int, window: int, elapsed: float, mine: int, previous: int) -> float:
    """Seconds until one more event fits under `limit`."""
    if mine + 1 > limit or previous == 0:
        return window * (1 - elapsed)  # the current window alone is full: wait for the next
    # The previous window's weight must fall until one more event fits.
    needed = 1 - (limit - 1 - mine) / previous
    return max((needed - elapsed) * window, 1.0)


def _admit_redis(base: str, limit: int, window: int) -> float | None:
    """`admit` in one atomic round trip (the Lua script above)."""
    backend = caches["default"]
    now = time.time()
    current = int(now // window)
    elapsed = (now % window) / window
    client = backend._cache.get_client(write=True)
    allowed, mine, previous = _sliding_window_script(client)(
        keys=[backend.make_key(f"{base}{current}"), backend.make_key(f"{base}{current - 1}")],
        args=[limit, repr(elapsed), window * 2 + 1], client=client)
    return None if allowed else _wait_time(limit, window, elapsed, int(mine), int(previous))


def admit(base: str, limit: int, window: int) -> float | None:
    """Count one event under `base` if it fits: None, else the seconds to wait (not counted)."""
    if isinstance(caches["default"], RedisCache):
        return _admit_redis(base, limit, window)
    key, mine, previous, elapsed = _window(base, window)
    if previous * (1 - elapsed) + mine + 1 > limit:
        return _wait_time(limit, window, elapsed, mine, previous)
    _bump(key, window)
    return None


def record(base: str, limit: int, window: int) -> float | None:
    """Count one event that already happened; the seconds until another fits when none does now."""
    key, mine, previous, elapsed = _window(base, window)
    _bump(key, window)
    mine += 1
    if previous * (1 - elapsed) + mine + 1 > limit:
        return _wait_time(limit, window, elapsed, mine, previous)
    return None


class ApiKeyRateThrottle(BaseThrottle):
    """Writes (POST, ...) count against RATE_LIMIT_INGEST, reads (GET) against RATE_LIMIT_READ."""

    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        scope = "read" if request.method in SAFE_METHODS else "ingest"
        rate = parse_rate(settings.RATE_LIMIT_READ if scope == "read" else settings.RATE_LIMIT_INGEST)
        ident = _identity(request)
        if rate is None or ident is None:  # unlimited, or unauthenticated (that is a 401 anyway)
            return True
        limit, window = rate
        try:
            self._wait = admit(f"rl:{scope}:{ident}:", limit, window)
        except Exception:
            logger.warning("rate limit cache unavailable; letting the request through", exc_info=False)
            return True
        return self._wait is None

    def wait(self) -> float | None:
        return math.ceil(self._wait) if self._wait is not None else None
