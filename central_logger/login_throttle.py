"""Brute-force protection for the admin login: failed attempts counted per (username, IP).

After ADMIN_LOGIN_MAX_ATTEMPTS failures within ADMIN_LOGIN_LOCKOUT_SECONDS (counted from the
first failure), that username is locked out from that IP for ADMIN_LOGIN_LOCKOUT_SECONDS; while
locked, even the right password is refused, so guessing gains nothing. Keying on username + IP
(not username alone) means an attacker cannot lock a real operator out from everywhere.

The counters live in Django's cache. With the default per-process memory cache each gunicorn
worker counts on its own (the effective limit is multiplied by the worker count); set REDIS_URL
so every process shares them.
"""
from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache

_PREFIX = "admin-login"


def _key(kind: str, username: str, ip: str) -> str:
    # Usernames are free text; hash them so any value makes a valid, bounded cache key.
    ident = hashlib.sha256(f"{username.strip().lower()}\x00{ip}".encode()).hexdigest()[:32]
    return f"{_PREFIX}:{kind}:{ident}"


def is_locked_out(username: str, ip: str) -> bool:
    return cache.get(_key("lock", username, ip)) is not None


def record_failure(username: str, ip: str) -> bool:
    """Count a failed attempt; True when this failure triggers the lockout."""
    window = settings.ADMIN_LOGIN_LOCKOUT_SECONDS
    key = _key("fail", username, ip)
    cache.add(key, 0, timeout=window)  # starts the window; no-op when it already runs
    try:
        failures = cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.set(key, 1, timeout=window)
        failures = 1
    if failures >= settings.ADMIN_LOGIN_MAX_ATTEMPTS:
        cache.set(_key("lock", username, ip), 1, timeout=window)
        cache.delete(key)
        return True
    return False


def record_success(username: str, ip: str) -> None:
    cache.delete(_key("fail", username, ip))
