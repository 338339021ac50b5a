"""Writes on tenants and API keys. The manage.py commands and the admin call these."""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from central_logger import dbguard
from tenants import keycache, keys, keysnapshot
from tenants.models import ALL_SCOPES, DEFAULT_SCOPES, ApiKey, Client, slug_validator

logger = logging.getLogger("central_logger.tenants")


class TenantError(Exception):
    """A user-facing error of a tenant operation (bad slug, unknown key, ...)."""


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    plaintext: str  # shown once, never stored


def client_create(*, slug: str, name: str = "") -> Client:
    try:
        slug_validator(slug)
    except ValidationError as exc:
        raise TenantError(f"Invalid slug {slug!r}: {exc.messages[0]}") from None
    try:
        with transaction.atomic():
            return Client.objects.create(slug=slug, name=name or slug)
    except IntegrityError:
        raise TenantError(f"A client with slug {slug!r} already exists.") from None


def client_get(*, slug: str) -> Client:
    try:
        return Client.objects.get(slug=slug)
    except Client.DoesNotExist:
        raise TenantError(f"No client with slug {slug!r}.") from None


def parse_scopes(raw: str | list[str] | tuple[str, ...]) -> list[str]:
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    scopes = sorted({s.strip().lower() for s in items if s.strip()})
    unknown = [s for s in scopes if s not in ALL_SCOPES]
    if unknown or not scopes:
        raise TenantError(f"Scopes must be a comma-separated subset of {','.join(ALL_SCOPES)}; got {raw!r}.")
    return scopes


def api_key_issue(*, client: Client, name: str = "", scopes: list[str] | None = None,
                  expires_in_days: int | None = None) -> IssuedKey:
    scopes = parse_scopes(scopes if scopes is not None else list(DEFAULT_SCOPES))
    if expires_in_days is not None and expires_in_days <= 0:
        raise TenantError("--expires-in-days must be a positive number of days.")
    expires_at = timezone.now() + dt.timedelta(days=expires_in_days) if expires_in_days else None
    for _ in range(5):  # a prefix collision is astronomically rare; retry rather than fail
        plaintext, parsed = keys.generate_key()
        try:
            with transaction.atomic():
                api_key = ApiKey.objects.create(
                    client=client, name=name, prefix=parsed.prefix, digest=keys.digest_secret(parsed.secret),
                    scopes=scopes, expires_at=expires_at,
                )
            return IssuedKey(api_key=api_key, plaintext=plaintext)
        except IntegrityError:
            continue
    raise TenantError("Could not generate a unique key prefix; try again.")


def api_key_revoke(*, prefix: str) -> ApiKey:
    """Revoke a key; it stops working at once."""
    try:
        api_key = ApiKey.objects.select_related("client").get(prefix=prefix.strip())
    except ApiKey.DoesNotExist:
        raise TenantError(f"No API key with prefix {prefix!r}.") from None
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    # Overwrite any cached copy of the key in every process sharing the cache (tenants/keycache.py),
    # and list it in this host's outage key snapshot (tenants/keysnapshot.py).
    keycache.publish_rows([api_key])
    transaction.on_commit(lambda: keysnapshot.key_revoked(api_key.prefix))
    return api_key


def client_set_active(*, client: Client, active: bool) -> Client:
    """Deactivate a client (its keys stop working at once, ingestion during an outage included)
    or activate it again. The admin's *active* checkbox calls this."""
    if client.is_active == active:
        return client
    client.is_active = active
    client.deactivated_at = None if active else timezone.now()
    with transaction.atomic():
        client.save(update_fields=["is_active", "deactivated_at", "updated_at"])
        keycache.publish_rows(list(client.api_keys.select_related("client")))
        transaction.on_commit(lambda: (keysnapshot.client_reactivated if active
                                       else keysnapshot.client_deactivated)(client.pk))
    return client


def api_key_touch(*, api_key: ApiKey) -> None:
    """Record use, at most once per API_KEY_LAST_USED_INTERVAL per key (not a write per request)."""
    now = timezone.now()
    interval = dt.timedelta(seconds=settings.API_KEY_LAST_USED_INTERVAL)
    if api_key.last_used_at is not None and now - api_key.last_used_at < interval:
        return
    try:
        # In a transaction (a test's, a caller's), a savepoint, so that its failure below leaves
        # the transaction usable; a request is in none: one statement, no BEGIN/COMMIT around it.
        with transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext():
            ApiKey.objects.filter(pk=api_key.pk).exclude(last_used_at__gte=now - interval).update(last_used_at=now)
    except OperationalError as exc:
        if not dbguard.node_failure(exc):
            raise
        # On a Citus cluster the key table is a reference table (a copy on every node): while one
        # worker is down every write to it fails, also for the tenants of the live workers. A
        # date shown in the admin is not worth their request: it is written at the next use.
        logger.warning("api key %s: last use not recorded (a database node is unreachable)", api_key.prefix)
        return
    api_key.last_used_at = now
