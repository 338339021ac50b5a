"""A short-lived shared cache of API-key rows, so most requests skip the key query.

Semantics (also in the README, "API key lookup cache"):

* The cached value is the key row with its client, keyed by the key's public prefix and the
  digest of its secret (a request finds it only by presenting the right secret). The
  presented secret is still compared with the stored digest on every request, expiry is
  still checked against the clock on every request, so the cache never lets a wrong secret
  or an expired key in.
* With Redis, the lookup also counts the key's rate limit in the same round trip (one Lua
  script, central_logger/ratelimit.py): a cached key costs one Redis round trip per request.
* Revocation is immediate: `api_key_revoke` writes the revoked row into the cache after its
  transaction commits (not a delete: a request that read the row just before the revocation
  cannot put the live row back, because filling the cache uses `add`, which never
  overwrites). Every process reading the same cache sees the revocation on its next request.
* The cache is Django's `default` cache. Across processes that is only true when it is shared:
  with `REDIS_URL` set it is Redis, and revocation from `manage.py revoke_api_key`, the admin or
  another app server reaches every worker at once. Without Redis the default cache is local
  memory of one process, which a revocation in another process cannot reach; that is why
  `API_KEY_CACHE_SECONDS` defaults to 0 (off) when `REDIS_URL` is not set.
* Deactivating a client (`client_set_active`) writes each of its keys' rows the same way, so it
  is immediate too. Other changes (an expiry edited in the admin) are seen within
  `API_KEY_CACHE_SECONDS`.
* When the cache is unreachable the lookup falls back to the database (never a 500); a
  revocation that could not be written to the cache is logged, and the cached row expires
  within `API_KEY_CACHE_SECONDS`.
"""
from __future__ import annotations

import datetime as dt
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from central_logger import ratelimit
from central_logger.monitoring import API_KEY_CACHE
from central_logger.ratelimit import Admission
from tenants.models import ApiKey

log = logging.getLogger(__name__)
_PREFIX = "clk:apikey:v2:"
# Per process: key prefix -> monotonic time before which this process does not ask the shared
# marker again (touch_due). Plain dict operations are atomic under the GIL.
_touch_asked_until: dict[str, float] = {}


def _ttl() -> int:
    return int(settings.API_KEY_CACHE_SECONDS)


def _cache_key(prefix: str, digest: str) -> str:
    # The digest of the secret is part of the name: only a request presenting the right secret
    # finds the row, which is what lets the key's rate limit be counted in the same Redis round
    # trip (ratelimit.cached_row_and_admit) without a forged secret spending the quota.
    return f"{_PREFIX}{prefix}:{digest}"


def get_key(prefix: str, digest: str, *, scope: str | None = None) -> tuple[ApiKey | None, Admission | None]:
    """The key row (with its client) for `prefix`, from the cache or the database, looked up
    with `digest`, the digest of the presented secret (see `_cache_key`).

    With `scope` and a Redis cache, a cached row comes back with the key's rate-limit decision
    for that scope, taken in the same round trip (`Admission`); otherwise the Admission is None
    and the rate limit is checked later, as for any request.
    """
    ttl = _ttl()
    if ttl > 0:
        name = _cache_key(prefix, digest)
        admission = None
        try:
            if scope is not None and ratelimit.redis_backed():
                cached, admission = ratelimit.cached_row_and_admit(name, scope, prefix)
            else:
                cached = cache.get(name)
        except Exception:  # cache down: the database is the source of truth
            log.warning("API key cache unavailable; reading the key from the database", exc_info=True)
            cached, ttl = None, 0
        API_KEY_CACHE.labels("hit" if cached is not None else "miss").inc()
        if cached is not None:
            return cached, admission
    api_key = ApiKey.objects.select_related("client").filter(prefix=prefix).first()
    if api_key is not None and ttl > 0:
        try:
            # add(), not set(): never overwrite a revoked row written meanwhile. Under the
            # stored digest: the name the right secret will look for.
            cache.add(_cache_key(prefix, api_key.digest), api_key, ttl)
        except Exception:
            log.warning("API key cache unavailable; not caching", exc_info=True)
    return api_key, None


def publish_rows(api_keys: list[ApiKey]) -> None:
    """Make every process sharing the cache see these key rows as they are now (revoked, or of a
    deactivated client), once the change commits."""
    if _ttl() <= 0 or not api_keys:
        return

    def write() -> None:
        try:
            cache.set_many({_cache_key(key.prefix, key.digest): key for key in api_keys}, _ttl())
        except Exception:
            log.error("Could not publish the change of API keys %s to the cache; cached copies "
                      "expire within %ss", ", ".join(key.prefix for key in api_keys), _ttl(), exc_info=True)

    transaction.on_commit(write)


def touch_due(api_key: ApiKey) -> bool:
    """Whether this request should record `last_used_at` (see `api_key_touch`).

    A cached row carries the `last_used_at` of when it was cached, so without this gate every
    request would try the (no-op) UPDATE once that value is a minute old, until the entry
    expires. One shared marker per key and interval lets exactly one request through.
    """
    ttl = _ttl()
    interval = int(settings.API_KEY_LAST_USED_INTERVAL)
    if ttl <= 0 or interval <= 0:
        return True
    if api_key.last_used_at is not None and timezone.now() - api_key.last_used_at < dt.timedelta(seconds=interval):
        return False  # recorded recently: no need to ask the cache (the common case)
    # The cached row's last_used_at stays old until the entry expires; without this memo every
    # request of that stretch would ask the shared marker (a Redis round trip) and be told no.
    now = time.monotonic()
    if _touch_asked_until.get(api_key.prefix, 0.0) > now:
        return False
    try:
        added = bool(cache.add(f"{_PREFIX}touched:{api_key.prefix}", 1, interval))
    except Exception:
        return True
    _touch_asked_until[api_key.prefix] = now + interval
    return added


def forget_touches() -> None:
    """Tests: forget which keys this process asked about."""
    _touch_asked_until.clear()
