"""Login throttling for the dashboard: N failed sign-ins per (username, IP) per window.

The IP is central_logger/client_ip.py's (REMOTE_ADDR, or X-Forwarded-For behind trusted proxies).

Kept in the Django cache (Redis when REDIS_URL is set, so every process shares the count).
The counter is keyed by a hash of the lower-cased username and the client address, so one
attacker can't lock a user out from every address, and spraying many usernames from one
address is still limited per name. A locked-out pair is refused *before* the password is
checked, so guessing stops while the window lasts. A successful sign-in clears the count.
"""
from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.core.cache import cache

_PREFIX = "dash-login:"


def _key(username: str, ip: str) -> str:
    digest = hashlib.sha256(f"{username.strip().lower()}\0{ip}".encode()).hexdigest()[:32]
    return _PREFIX + digest


def login_retry_after(*, username: str, ip: str) -> int | None:
    """Seconds until this pair may try again, or None when it may try now."""
    state = cache.get(_key(username, ip))
    if not state:
        return None
    count, reset_at = state
    remaining = int(reset_at - time.time()) + 1
    if count >= settings.DASHBOARD_LOGIN_MAX_ATTEMPTS and remaining > 0:
        return remaining
    return None


def login_failed(*, username: str, ip: str) -> None:
    """Count one failure; the window starts at the first failure (fixed window)."""
    key = _key(username, ip)
    window = settings.DASHBOARD_LOGIN_WINDOW_SECONDS
    now = time.time()
    state = cache.get(key)
    if not state or state[1] <= now:
        state = (0, now + window)
    count, reset_at = state
    cache.set(key, (count + 1, reset_at), timeout=max(int(reset_at - now) + 1, 1))


def login_succeeded(*, username: str, ip: str) -> None:
    cache.delete(_key(username, ip))
