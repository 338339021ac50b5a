"""Authentication that keeps ingestion working for known keys while PostgreSQL is unavailable.

Ingestion must keep accepting logs during a database outage (they go to the spool), but every
request is authenticated by looking its key up in PostgreSQL. `ResilientApiKeyAuthentication`
wraps the normal `ApiKeyAuthentication`:

* when the database answers, its verdict is final (and a key it rejects is forgotten here);
* a key it accepted is remembered in the outage key snapshot (tenants/keysnapshot.py: digest,
  ids, scopes, expiry - never the secret - in a local SQLite file shared by the host's
  processes, so a restarted worker knows it too);
* only for the actions a view declares `offline_auth_actions` (ingestion: POST /api/v1/logs and
  /logs/batch; OpenTelemetry: POST /v1/traces and /v1/logs), when the database is unreachable or too slow (or the ingestion circuit breaker
  is open), the presented secret is verified against the remembered digest in constant time,
  and the expiry is checked. Unknown keys still get the database error (a 503). Reads never
  authenticate offline: they need the database anyway, and a read must never see a key's
  revocation late.

A key revoked or a client deactivated is listed in the snapshot as soon as that commits (and
checked against PostgreSQL by every host every KEY_SNAPSHOT_SYNC_INTERVAL): from then on the
snapshot refuses it, even during an outage (401). What a host could not learn before an outage
is caught by the spool drainer, which refuses logs of keys revoked or clients deactivated
before the log was accepted (spool/drain.py).
"""
from __future__ import annotations

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.request import Request

from central_logger import dbguard
from central_logger.background import ProcessLoop
from tenants import auth_failures, keys, keysnapshot
from tenants.authentication import ApiKeyAuthentication, TenantPrincipal, presented_key
from tenants.models import ApiKey, Client


def offline_allowed(request: Request) -> bool:
    """Whether the view's action may authenticate against the snapshot (ingestion only)."""
    view = (getattr(request, "parser_context", None) or {}).get("view")
    return getattr(view, "action", None) in getattr(view, "offline_auth_actions", ())


def verify_offline(parsed: keys.ParsedKey) -> tuple[TenantPrincipal, ApiKey] | None:
    """The principal of a remembered key whose secret matches; None for a key this host does
    not know (or a wrong secret, or an expired key). Raises AuthenticationFailed for a key the
    snapshot lists as revoked or of a deactivated client: that verdict needs no database."""
    known = keysnapshot.lookup(parsed.prefix)
    if known is not None and known.refused:
        raise exceptions.AuthenticationFailed("Invalid API key.")
    if known is None or not keys.secret_matches(parsed.secret, known.digest):
        return None
    if known.expires_at is not None and known.expires_at <= timezone.now():
        return None
    client = Client(id=known.client_id, slug=known.client_slug, is_active=True)
    api_key = ApiKey(id=known.api_key_id, client=client, prefix=known.prefix, digest=known.digest,
                     scopes=list(known.scopes), expires_at=known.expires_at)
    return TenantPrincipal(client=client, scopes=frozenset(known.scopes), api_key=api_key), api_key


def _verified_here(parsed: keys.ParsedKey | None) -> bool:
    known = keysnapshot.lookup(parsed.prefix) if parsed is not None else None
    return known is not None and not known.refused


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
        if wait is not None and not _verified_here(parsed):
            raise auth_failures.TooManyFailedAuthentications(wait)
        offline = parsed is not None and offline_allowed(request)
        try:
            if offline and dbguard.circuit_open():
                known = verify_offline(parsed)  # type: ignore[arg-type]
                if known is not None:
                    return known
            result = self._online(request, parsed, offline)
        except exceptions.AuthenticationFailed:
            auth_failures.record_failure(request)
            if parsed is not None:
                keysnapshot.forget(parsed.prefix)
            raise
        if result is not None:
            keysnapshot.remember(result[1])
            dbguard.mark_success()  # the database just answered: stop skipping it
        return result

    def _online(self, request: Request, parsed: keys.ParsedKey | None,
                offline: bool) -> tuple[TenantPrincipal, ApiKey] | None:
        try:
            return super().authenticate(request)
        except (OperationalError, InterfaceError):
            dbguard.mark_failure()
            known = verify_offline(parsed) if offline and parsed is not None else None
            if known is None:
                raise
            return known


# Every host checks its snapshot against PostgreSQL this often, so a revocation or deactivation
# made on another host reaches it too (tenants/keysnapshot.py).
snapshot_sync = ProcessLoop("key-snapshot-sync", lambda: settings.KEY_SNAPSHOT_SYNC_INTERVAL, keysnapshot.sync)
