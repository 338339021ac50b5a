"""Per-API-key rate limits: `RATE_LIMIT_INGEST` for writes, `RATE_LIMIT_READ` for reads.

A sliding-window counter (the previous window's count, weighted by how much of it still
overlaps, plus the current window's count): with Redis one atomic round trip (a Lua script)
per request, whatever the rate, and for an API key whose row is in the key cache it is the
same round trip as the key lookup (`cached_row_and_admit`); with another cache two reads and
one increment. DRF's SimpleRateThrottle keeps a list of every request timestamp in the cache,
which at 6000/min means pickling a 6000-element list on every request.

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
from dataclasses import dataclass
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


# Check-then-increment of the sliding window, atomic in Redis: `current` and `previous` window
# keys, the limit, the elapsed fraction of the current window, the expiry. A refused request is
# not counted.
_WINDOW_LUA = """
local function admit(current, previous_key, limit, elapsed, expiry)
    local mine = tonumber(redis.call('GET', current) or '0')
    local previous = tonumber(redis.call('GET', previous_key) or '0')
    if previous * (1 - elapsed) + mine + 1 > limit then
        return 0, mine, previous
    end
    if redis.call('INCR', current) == 1 then
        redis.call('EXPIRE', current, expiry)
    end
    return 1, mine, previous
end
"""
# KEYS = current, previous window; ARGV = limit, elapsed, expiry.
_SLIDING_WINDOW_LUA = _WINDOW_LUA + """
local allowed, mine, previous = admit(KEYS[1], KEYS[2], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3])
return {allowed, mine, previous}
"""
# The API-key lookup and the key's rate limit in one round trip (tenants/keycache.py): KEYS =
# the cached key row, then the windows; ARGV as above, limit < 0 for no limit. Nothing is counted
# when the row is not cached. The row's cache key holds the digest of the presented secret, so
# only a request with the right secret can find it and spend the key's quota.
_ROW_AND_WINDOW_LUA = _WINDOW_LUA + """
local row = redis.call('GET', KEYS[1])
if not row then
    return {false}
end
if tonumber(ARGV[1]) < 0 then
    return {row, 1, 0, 0}
end
local allowed, mine, previous = admit(KEYS[2], KEYS[3], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3])
return {row, allowed, mine, previous}
"""
_scripts: dict[str, Any] = {}


def _registered(client: Any, source: str) -> Any:
    """The script object (EVALSHA by its digest, loaded into Redis on first use); every call
    passes its own client, so one object serves all threads and pools."""
    script = _scripts.get(source)
    if script is None:
        script = _scripts[source] = client.register_script(source)
    return script


def scope_of(method: str) -> str:
    return "read" if method in SAFE_METHODS else "ingest"


def rate_of(scope: str) -> tuple[int, int] | None:
    return parse_rate(settings.RATE_LIMIT_READ if scope == "read" else settings.RATE_LIMIT_INGEST)


@dataclass(frozen=True)
class Admission:
    """A rate-limit decision taken together with the API-key lookup (`cached_row_and_admit`):
    for which scope, and the seconds to wait (None: admitted and counted)."""

    scope: str
    wait: float | None


def redis_backed() -> bool:
    return isinstance(caches["default"], RedisCache)


def cached_row_and_admit(cache_key: str, scope: str, prefix: str) -> tuple[Any, Admission | None]:
    """Read `cache_key` from Redis and, when it is there, count one `scope` event for the API
    key `prefix`, in one round trip. Returns (the cached value, its Admission), or (None, None)
    when the key is not cached and nothing was counted. Redis errors propagate (the caller
    treats the cache as unavailable)."""
    backend = caches["default"]
    rate = rate_of(scope)
    limit, window = rate if rate is not None else (-1, 1)
    now = time.time()
    current = int(now // window)
    elapsed = (now % window) / window
    base = _counter_base(scope, key_identity(prefix))
    client = backend._cache.get_client(write=True)
    reply = _registered(client, _ROW_AND_WINDOW_LUA)(
        keys=[backend.make_key(cache_key), backend.make_key(f"{base}{current}"),
              backend.make_key(f"{base}{current - 1}")],
        args=[limit, repr(elapsed), window * 2 + 1], client=client)
    if reply[0] is None:
        return None, None
    row, allowed, mine, previous = reply
    value = backend._cache._serializer.loads(row)
    wait = None if allowed else _wait_time(limit, window, elapsed, int(mine), int(previous))
    return value, Admission(scope, wait)


def _counter_base(scope: str, ident: str) -> str:
    return f"rl:{scope}:{ident}:"


def key_identity(prefix: str) -> str:
    return f"k:{prefix}"


def _identity(request: Request) -> str | None:
    user = request.user
    api_key = getattr(user, "api_key", None)
    if api_key is not None:
        return key_identity(api_key.prefix)
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
    allowed, mine, previous = _registered(client, _SLIDING_WINDOW_LUA)(
        keys=[backend.make_key(f"{base}{current}"), backend.make_key(f"{base}{current - 1}")],
        args=[limit, repr(elapsed), window * 2 + 1], client=client)
    return None if allowed else _wait_time(limit, window, elapsed, int(mine), int(previous))


def admit(base: str, limit: int, window: int) -> float | None:
    """Count one event under `base` if it fits: None, else the seconds to wait (not counted)."""
    if redis_backed():
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
        scope = scope_of(request.method)
        decided = getattr(request.user, "admission", None)
        if decided is not None and decided.scope == scope:
            # Counted already, in the key lookup's round trip (tenants/keycache.py).
            self._wait = decided.wait
            return self._wait is None
        rate = rate_of(scope)
        ident = _identity(request)
        if rate is None or ident is None:  # unlimited, or unauthenticated (that is a 401 anyway)
            return True
        limit, window = rate
        try:
            self._wait = admit(_counter_base(scope, ident), limit, window)
        except Exception:
            logger.warning("rate limit cache unavailable; letting the request through", exc_info=False)
            return True
        return self._wait is None

    def wait(self) -> float | None:
        return math.ceil(self._wait) if self._wait is not None else None
