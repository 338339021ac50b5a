"""Authentication that keeps working for known keys while PostgreSQL is unavailable.

Ingestion must keep accepting logs during a database outage (they go to the spool), but every
request is authenticated by looking its key up in PostgreSQL. `ResilientApiKeyAuthentication`
wraps the normal `ApiKeyAuthentication`:

* when the database answers, its verdict is final (and a key it rejects is forgotten here);
* a key it accepted is remembered: digest, key and client ids, scopes, expiry - never the
  secret - in process memory and in a local SQLite file (`KEY_SNAPSHOT_PATH`, beside the
  spool by default), so a restarted worker knows it too;
* when the database is unreachable or too slow (or the ingestion circuit breaker is open), the
  presented secret is verified against the remembered digest with a constant-time comparison,
  and the expiry is checked. Unknown keys still get the database error (a 503).

Revocation cannot happen during an outage (it needs the database); a key revoked before the
outage but still remembered by some worker is caught by the spool drainer, which refuses logs
whose key was revoked before they were accepted (spool/drain.py).
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass

import orjson
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.request import Request

from central_logger import dbguard
from tenants import auth_failures, keys
from tenants.authentication import ApiKeyAuthentication, TenantPrincipal, presented_key
from tenants.models import ApiKey, Client

logger = logging.getLogger("central_logger.auth")


@dataclass(frozen=True)
class KnownKey:
    prefix: str
    digest: str
    api_key_id: int
    client_id: int
    client_slug: str
    scopes: tuple[str, ...]
    expires_at: dt.datetime | None

    def principal(self) -> tuple[TenantPrincipal, ApiKey]:
        client = Client(id=self.client_id, slug=self.client_slug, is_active=True)
        api_key = ApiKey(id=self.api_key_id, client=client, prefix=self.prefix, digest=self.digest,
                         scopes=list(self.scopes), expires_at=self.expires_at)
        return TenantPrincipal(client=client, scopes=frozenset(self.scopes), api_key=api_key), api_key


_lock = threading.Lock()
_memory: dict[str, tuple[KnownKey, float]] = {}  # prefix -> (key, monotonic time persisted)
_local = threading.local()  # per thread: {path: sqlite3 connection}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS key_snapshot (
    prefix TEXT PRIMARY KEY, digest TEXT NOT NULL, api_key_id INTEGER NOT NULL,
    client_id INTEGER NOT NULL, client_slug TEXT NOT NULL, scopes TEXT NOT NULL,
    expires_at TEXT, saved_at TEXT NOT NULL
)
"""


def _snapshot() -> sqlite3.Connection:
    """This thread's connection to the snapshot file (created on first use)."""
    path = str(settings.KEY_SNAPSHOT_PATH)
    conns: dict[str, sqlite3.Connection] = getattr(_local, "conns", None) or {}
    _local.conns = conns
    conn = conns.get(path)
    if conn is None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        conn = sqlite3.connect(path, timeout=1.0, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(_SCHEMA)
        conns[path] = conn
    return conn


def close_snapshot() -> None:
    """Close this thread's snapshot connections (tests reopen the file, as a restart would)."""
    for conn in (getattr(_local, "conns", None) or {}).values():
        conn.close()
    _local.conns = {}


def remember(api_key: ApiKey) -> None:
    known = KnownKey(api_key.prefix, api_key.digest, api_key.pk, api_key.client_id, api_key.client.slug,
                     tuple(api_key.scopes), api_key.expires_at)
    now = time.monotonic()
    previous = _memory.get(known.prefix)
    if previous is not None and previous[0] == known and now - previous[1] < settings.KEY_SNAPSHOT_INTERVAL:
        return
    with _lock:
        _memory[known.prefix] = (known, now)
    try:
        _snapshot().execute(
            "INSERT OR REPLACE INTO key_snapshot (prefix, digest, api_key_id, client_id, client_slug, scopes, "
            "expires_at, saved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (known.prefix, known.digest, known.api_key_id, known.client_id, known.client_slug,
             orjson.dumps(list(known.scopes)).decode(),
             known.expires_at.isoformat() if known.expires_at else None, timezone.now().isoformat()),
        )
    except Exception:  # the snapshot is a convenience; never fail a request for it
        logger.warning("auth: could not persist the key snapshot", exc_info=True)


def forget(prefix: str) -> None:
    if _lookup(prefix) is None:  # the common case (a wrong key): no write at all
        return
    with _lock:
        _memory.pop(prefix, None)
    try:
        _snapshot().execute("DELETE FROM key_snapshot WHERE prefix = ?", (prefix,))
    except Exception:
        logger.warning("auth: could not update the key snapshot", exc_info=True)


def forget_all() -> None:
    """Drop the in-memory snapshot (tests; the snapshot file is per test)."""
    with _lock:
        _memory.clear()


def _lookup(prefix: str) -> KnownKey | None:
    hit = _memory.get(prefix)
    if hit is not None:
        return hit[0]
    try:
        row = _snapshot().execute(
            "SELECT prefix, digest, api_key_id, client_id, client_slug, scopes, expires_at FROM key_snapshot "
            "WHERE prefix = ?", (prefix,)).fetchone()
    except Exception:
        return None
    if row is None:
        return None
    expires = dt.datetime.fromisoformat(row[6]) if row[6] else None
    return KnownKey(row[0], row[1], row[2], row[3], row[4], tuple(orjson.loads(row[5])), expires)


def verify_offline(parsed: keys.ParsedKey) -> tuple[TenantPrincipal, ApiKey] | None:
    known = _lookup(parsed.prefix)
    if known is None or not keys.secret_matches(parsed.secret, known.digest):
        return None
    if known.expires_at is not None and known.expires_at <= timezone.now():
        return None
    return known.principal()


class ResilientApiKeyAuthentication(ApiKeyAuthentication):
    """ApiKeyAuthentication that falls back on the last known good keys during a database outage,
    and refuses sources over their budget of failed keys before any lookup (auth_failures.py)."""

    def authenticate(self, request: Request) -> tuple[TenantPrincipal, ApiKey] | None:
        raw = presented_key(request)
        if raw is None:
            return None
        parsed = keys.parse_key(raw)
        wait = auth_failures.retry_after(request)
        # A source over its budget of failed keys gets no lookup and no HMAC, unless it presents
        # a key this host has verified before (a real tenant behind the same address).
        if wait is not None and (parsed is None or _lookup(parsed.prefix) is None):
            raise auth_failures.TooManyFailedAuthentications(wait)
        if parsed is not None and dbguard.circuit_open():
            offline = verify_offline(parsed)
            if offline is not None:
                return offline
        try:
            result = super().authenticate(request)
        except exceptions.AuthenticationFailed:
            auth_failures.record_failure(request)
            if parsed is not None:
                forget(parsed.prefix)
            raise
        except (OperationalError, InterfaceError):
            dbguard.mark_failure()
            offline = verify_offline(parsed) if parsed is not None else None
            if offline is None:
                raise
            return offline
        if result is not None:
            remember(result[1])
            dbguard.mark_success()  # the database just answered: stop skipping it
        return result

