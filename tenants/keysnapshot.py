"""The outage key snapshot: the keys this host has verified, for ingestion while PostgreSQL is down.

A local SQLite file (`KEY_SNAPSHOT_PATH`, beside the spool by default), shared by every process
of the host: digest, key and client ids, scopes, expiry of each key verified online - never the
secret (tenants/resilience.py reads it). Beside the keys it keeps two lists that always win over
them: revoked keys and deactivated clients.

* Revocation and deactivation reach it as soon as they commit, on this host (the services call
  `key_revoked` / `client_deactivated`; the admin and the manage.py commands go through them),
  and no later than `KEY_SNAPSHOT_SYNC_INTERVAL` on every other host: each worker checks the
  keys of its snapshot against PostgreSQL that often (`sync`, a background loop).
* A key remembered by a request that read it just before its revocation committed cannot come
  back: the lists are checked at every lookup, and revoked keys stay listed (revocation is
  one-way); a reactivated client leaves its list.
* Whatever still slips through (a host that could not sync before the outage) is refused by the
  spool drainer, which does not store logs of keys revoked or clients deactivated before the
  log was accepted (spool/drain.py).
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
from django.utils import timezone

from tenants.models import ApiKey

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
    refused: bool = False  # revoked, or its client deactivated: never accepted offline


_saved: dict[str, tuple[KnownKey, float]] = {}  # prefix -> (key, monotonic time written), per process
_local = threading.local()  # per thread: {path: sqlite3 connection}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS key_snapshot (
    prefix TEXT PRIMARY KEY, digest TEXT NOT NULL, api_key_id INTEGER NOT NULL,
    client_id INTEGER NOT NULL, client_slug TEXT NOT NULL, scopes TEXT NOT NULL,
    expires_at TEXT, saved_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS revoked_keys (prefix TEXT PRIMARY KEY, revoked_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS inactive_clients (client_id INTEGER PRIMARY KEY, deactivated_at TEXT NOT NULL);
"""
_LOOKUP = """
SELECT k.prefix, k.digest, k.api_key_id, k.client_id, k.client_slug, k.scopes, k.expires_at,
       r.prefix IS NOT NULL OR c.client_id IS NOT NULL
  FROM key_snapshot k
  LEFT JOIN revoked_keys r ON r.prefix = k.prefix
  LEFT JOIN inactive_clients c ON c.client_id = k.client_id
 WHERE k.prefix = ?
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
        conn.executescript(_SCHEMA)
        conns[path] = conn
    return conn


def close() -> None:
    """Close this thread's snapshot connections (tests reopen the file, as a restart would)."""
    for conn in (getattr(_local, "conns", None) or {}).values():
        conn.close()
    _local.conns = {}


def forget_all() -> None:
    """Forget which keys this process wrote recently (tests; the snapshot file is per test)."""
    _saved.clear()


def _write(sql: str, params: tuple[object, ...]) -> None:
    try:
        _snapshot().execute(sql, params)
    except Exception:  # the snapshot is a convenience; never fail a request for it
        logger.warning("auth: could not update the key snapshot", exc_info=True)


def remember(api_key: ApiKey) -> None:
    """Record a key PostgreSQL has just accepted (at most every KEY_SNAPSHOT_INTERVAL per process)."""
    known = KnownKey(api_key.prefix, api_key.digest, api_key.pk, api_key.client_id, api_key.client.slug,
                     tuple(api_key.scopes), api_key.expires_at)
    now = time.monotonic()
    previous = _saved.get(known.prefix)
    if previous is not None and previous[0] == known and now - previous[1] < settings.KEY_SNAPSHOT_INTERVAL:
        return
    _saved[known.prefix] = (known, now)
    _write("INSERT OR REPLACE INTO key_snapshot (prefix, digest, api_key_id, client_id, client_slug, scopes, "
           "expires_at, saved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
           (known.prefix, known.digest, known.api_key_id, known.client_id, known.client_slug,
            orjson.dumps(list(known.scopes)).decode(),
            known.expires_at.isoformat() if known.expires_at else None, timezone.now().isoformat()))


def forget(prefix: str) -> None:
    """PostgreSQL refused this key: drop it (the common case, a wrong key, writes nothing)."""
    known = lookup(prefix)
    if known is None or known.refused:
        return
    _saved.pop(prefix, None)
    _write("DELETE FROM key_snapshot WHERE prefix = ?", (prefix,))


def lookup(prefix: str) -> KnownKey | None:
    """The remembered key (`refused` when it is revoked or its client deactivated), or None."""
    try:
        row = _snapshot().execute(_LOOKUP, (prefix,)).fetchone()
    except Exception:
        return None
    if row is None:
        return None
    expires = dt.datetime.fromisoformat(row[6]) if row[6] else None
    return KnownKey(row[0], row[1], row[2], row[3], row[4], tuple(orjson.loads(row[5])), expires, bool(row[7]))


def key_revoked(prefix: str) -> None:
    _saved.pop(prefix, None)
    _write("INSERT OR IGNORE INTO revoked_keys (prefix, revoked_at) VALUES (?, ?)",
           (prefix, timezone.now().isoformat()))


def client_deactivated(client_id: int) -> None:
    _write("INSERT OR IGNORE INTO inactive_clients (client_id, deactivated_at) VALUES (?, ?)",
           (client_id, timezone.now().isoformat()))


def client_reactivated(client_id: int) -> None:
    _write("DELETE FROM inactive_clients WHERE client_id = ?", (client_id,))


def sync() -> int:
    """Check every remembered key against PostgreSQL: list the revoked ones and deactivated
    clients, unlist reactivated clients, drop keys that no longer exist. Returns how many
    keys or clients changed state here."""
    conn = _snapshot()
    prefixes = [row[0] for row in conn.execute("SELECT prefix FROM key_snapshot")]
    if not prefixes:
        return 0
    rows = {prefix: (revoked, client_id, active) for prefix, revoked, client_id, active in
            ApiKey.objects.filter(prefix__in=prefixes).values_list("prefix", "revoked_at", "client_id",
                                                                  "client__is_active")}
    listed_keys = {row[0] for row in conn.execute("SELECT prefix FROM revoked_keys")}
    listed_clients = {row[0] for row in conn.execute("SELECT client_id FROM inactive_clients")}
    changed = 0
    for prefix in prefixes:
        if prefix not in rows:  # its client was deleted
            _write("DELETE FROM key_snapshot WHERE prefix = ?", (prefix,))
            changed += 1
            continue
        revoked, client_id, active = rows[prefix]
        if revoked is not None and prefix not in listed_keys:
            key_revoked(prefix)
            changed += 1
        if not active and client_id not in listed_clients:
            client_deactivated(client_id)
            listed_clients.add(client_id)
            changed += 1
        elif active and client_id in listed_clients:
            client_reactivated(client_id)
            listed_clients.discard(client_id)
            changed += 1
    return changed

