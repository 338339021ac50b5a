"""Rate limits: one counting mechanism, with named budgets.

| budget | counted per | setting | what happens past it |
|---|---|---|---|
| `ingest` | API key (or dashboard user) | RATE_LIMIT_INGEST | 429 + Retry-After |
| `read` | API key (or dashboard user) | RATE_LIMIT_READ | 429 + Retry-After |
| `auth_failures` | source address (IPv6: /64) | AUTH_FAILURE_RATE | 429 before any key look-up (tenants/auth_failures.py) |
| `admin_login` | username + address | ADMIN_LOGIN_MAX_ATTEMPTS / ADMIN_LOGIN_LOCKOUT_SECONDS | locked out for the lockout period |
| `dashboard_login` | username + address | DASHBOARD_LOGIN_MAX_ATTEMPTS / DASHBOARD_LOGIN_WINDOW_SECONDS | locked out for the window |

The counter is a sliding window (the previous window's count, weighted by how much of it still
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
and deployments alike.

A Retry-After is the real wait: the seconds until one more event fits, counting the current
window's events and how long the previous window's keep weighing (rounded up), so a client
retrying exactly then is admitted. A lockout budget (the sign-ins) does not wait for the window
to slide: once its failures reach the limit the identity is refused, even with the right
password, until the lockout period has passed, and a success clears its count.
"""
from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from central_logger.monitoring import RATE_LIMITED

logger = logging.getLogger("central_logger.ratelimit")

_PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600,
            "d": 86400, "day": 86400}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
Rate = tuple[int, int]  # (events, window seconds)


def parse_rate(rate: str) -> Rate | None:
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


def redis_backed() -> bool:
    return isinstance(caches["default"], RedisCache)


def wait_time(limit: int, window: int, elapsed: float, mine: int, previous: int) -> float:
    """Seconds until one more event fits under `limit`, with `mine` events counted in the
    current window (`elapsed` of it gone) and `previous` in the one before."""
    if mine + 1 <= limit:
        # The previous window's weight must fall until one more event fits, within this window.
        needed = 1 - (limit - 1 - mine) / previous if previous else 0.0
        return max((needed - elapsed) * window, 0.0)
    # Not before the next window, where this window's events weigh as the previous ones.
    rest = (1 - elapsed) * window
    return rest + max(1 - (limit - 1) / mine, 0.0) * window


def _windows(window: int) -> tuple[int, float]:
    now = time.time()
    return int(now // window), (now % window) / window


@dataclass(frozen=True)
class Budget:
    """A named budget: at most `rate()` = (events, window seconds) per identity; None: no limit."""

    name: str
    rate: Callable[[], Rate | None]

    def base(self, ident: str) -> str:
        return f"rl:{self.name}:{ident}:"

    def _counts(self, ident: str, window: int) -> tuple[str, int, int, float]:
        """(key of the current window, its count, the previous window's count, fraction elapsed)."""
        current, elapsed = _windows(window)
        base = self.base(ident)
        counts = cache.get_many([f"{base}{current}", f"{base}{current - 1}"])
        return (f"{base}{current}", int(counts.get(f"{base}{current}", 0)),
                int(counts.get(f"{base}{current - 1}", 0)), elapsed)

    def _admit_redis(self, ident: str, limit: int, window: int) -> float | None:
        """`admit` in one atomic round trip (the Lua script above)."""
        backend = caches["default"]
        current, elapsed = _windows(window)
        base = self.base(ident)
        client = backend._cache.get_client(write=True)
        allowed, mine, previous = _registered(client, _SLIDING_WINDOW_LUA)(
            keys=[backend.make_key(f"{base}{current}"), backend.make_key(f"{base}{current - 1}")],
            args=[limit, repr(elapsed), window * 2 + 1], client=client)
        return None if allowed else wait_time(limit, window, elapsed, int(mine), int(previous))

    def admit(self, ident: str) -> float | None:
        """Count one event of `ident` if it fits: None, else the seconds to wait (not counted).
        Cache errors propagate (callers decide what a broken cache means for them)."""
        rate = self.rate()
        if rate is None:
            return None
        limit, window = rate
        if redis_backed():
            return self._admit_redis(ident, limit, window)
        key, mine, previous, elapsed = self._counts(ident, window)
        if previous * (1 - elapsed) + mine + 1 > limit:
            return wait_time(limit, window, elapsed, mine, previous)
        _bump(key, window)
        return None

    def record(self, ident: str) -> float | None:
        """Count one event that already happened; the seconds until another fits when none does now."""
        rate = self.rate()
        if rate is None:
            return None
        limit, window = rate
        key, mine, previous, elapsed = self._counts(ident, window)
        _bump(key, window)
        mine += 1
        if previous * (1 - elapsed) + mine + 1 > limit:
            return wait_time(limit, window, elapsed, mine, previous)
        return None

    def clear(self, ident: str) -> None:
        rate = self.rate()
        if rate is not None:
            current, _ = _windows(rate[1])
            cache.delete_many([f"{self.base(ident)}{current}", f"{self.base(ident)}{current - 1}"])


def _bump(key: str, window: int) -> None:
    try:
        cache.incr(key)
    except ValueError:  # first event of this window
        if not cache.add(key, 1, timeout=window * 2 + 1):
            cache.incr(key)


@dataclass(frozen=True)
class Lockout:
    """Failed attempts counted in a budget; when they reach its limit the identity is locked
    out for `seconds()`, checked before the attempt is even judged. A success clears the count."""

    budget: Budget
    seconds: Callable[[], int]

    def _lock_key(self, ident: str) -> str:
        return f"rl:{self.budget.name}:lock:{ident}"

    def retry_after(self, ident: str) -> int | None:
        """Seconds until `ident` may try again, or None when it may try now."""
        until = cache.get(self._lock_key(ident))
        if until is None:
            return None
        left = until - time.time()
        if left <= 0:
            return None
        RATE_LIMITED.labels(self.budget.name).inc()  # the caller refuses the attempt
        return math.ceil(left)

    def failed(self, ident: str) -> bool:
        """Count a failure; True when this failure locks the identity out."""
        if self.budget.record(ident) is None:
            return False
        seconds = self.seconds()
        cache.set(self._lock_key(ident), time.time() + seconds, timeout=seconds + 1)
        self.budget.clear(ident)
        return True

    def succeeded(self, ident: str) -> None:
        self.budget.clear(ident)


def login_identity(username: str, ip: str) -> str:
    """A sign-in's identity: the lower-cased username and the address, hashed (usernames are
    free text; a hash makes any value a valid, bounded cache key). Per (username, address): one
    attacker cannot lock a user out from everywhere, and spraying many usernames from one
    address is still limited per name."""
    return hashlib.sha256(f"{username.strip().lower()}\0{ip}".encode()).hexdigest()[:32]


def _login_rate(attempts: str, window: str) -> Callable[[], Rate]:
    return lambda: (int(getattr(settings, attempts)), int(getattr(settings, window)))


INGEST = Budget("ingest", lambda: parse_rate(settings.RATE_LIMIT_INGEST))
READ = Budget("read", lambda: parse_rate(settings.RATE_LIMIT_READ))
AUTH_FAILURES = Budget("auth_failures", lambda: parse_rate(settings.AUTH_FAILURE_RATE))
ADMIN_LOGIN = Lockout(Budget("admin_login", _login_rate("ADMIN_LOGIN_MAX_ATTEMPTS", "ADMIN_LOGIN_LOCKOUT_SECONDS")),
                      lambda: int(settings.ADMIN_LOGIN_LOCKOUT_SECONDS))
DASHBOARD_LOGIN = Lockout(
    Budget("dashboard_login", _login_rate("DASHBOARD_LOGIN_MAX_ATTEMPTS", "DASHBOARD_LOGIN_WINDOW_SECONDS")),
    lambda: int(settings.DASHBOARD_LOGIN_WINDOW_SECONDS))


# --- per-key budgets of the API ----------------------------------------------------------------

def scope_of(method: str) -> str:
    return "read" if method in SAFE_METHODS else "ingest"


def budget_of(scope: str) -> Budget:
    return READ if scope == "read" else INGEST


@dataclass(frozen=True)
class Admission:
    """A rate-limit decision taken together with the API-key lookup (`cached_row_and_admit`):
    for which scope, and the seconds to wait (None: admitted and counted)."""

    scope: str
    wait: float | None


def key_identity(prefix: str) -> str:
    return f"k:{prefix}"


def cached_row_and_admit(cache_key: str, scope: str, prefix: str) -> tuple[Any, Admission | None]:
    """Read `cache_key` from Redis and, when it is there, count one `scope` event for the API
    key `prefix`, in one round trip. Returns (the cached value, its Admission), or (None, None)
    when the key is not cached and nothing was counted. Redis errors propagate (the caller
    treats the cache as unavailable)."""
    backend = caches["default"]
    budget = budget_of(scope)
    rate = budget.rate()
    limit, window = rate if rate is not None else (-1, 1)
    current, elapsed = _windows(window)
    base = budget.base(key_identity(prefix))
    client = backend._cache.get_client(write=True)
    reply = _registered(client, _ROW_AND_WINDOW_LUA)(
        keys=[backend.make_key(cache_key), backend.make_key(f"{base}{current}"),
              backend.make_key(f"{base}{current - 1}")],
        args=[limit, repr(elapsed), window * 2 + 1], client=client)
    if reply[0] is None:
        return None, None
    row, allowed, mine, previous = reply
    value = backend._cache._serializer.loads(row)
    wait = None if allowed else wait_time(limit, window, elapsed, int(mine), int(previous))
    return value, Admission(scope, wait)


def _identity(request: Request) -> str | None:
    user = request.user
    api_key = getattr(user, "api_key", None)
    if api_key is not None:
        return key_identity(api_key.prefix)
    if getattr(user, "is_authenticated", False) and getattr(user, "pk", None) is not None:
        return f"u:{user.pk}"  # a dashboard session
    client = getattr(user, "client", None)
    return f"c:{client.pk}" if client is not None else None


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
            return self._admitted(scope)
        ident = _identity(request)
        if ident is None:  # unauthenticated: that is a 401 anyway
            return True
        try:
            self._wait = budget_of(scope).admit(ident)
        except Exception:
            logger.warning("rate limit cache unavailable; letting the request through", exc_info=False)
            return True
        return self._admitted(scope)

    def _admitted(self, scope: str) -> bool:
        if self._wait is None:
            return True
        RATE_LIMITED.labels(budget_of(scope).name).inc()
        return False

    def wait(self) -> float | None:
        return max(1, math.ceil(self._wait)) if self._wait is not None else None
