"""Reads on tenants and API keys."""
from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet

from tenants.models import ApiKey, Client


def api_key_list(*, client_slug: str | None = None) -> QuerySet[ApiKey]:
    qs = ApiKey.objects.select_related("client").order_by("client__slug", "-created_at")
    if client_slug:
        qs = qs.filter(client__slug=client_slug)
    return qs


def clients_by_id(*, client_ids: set[int]) -> dict[int, Client]:
    """The existing clients among `client_ids`."""
    return {client.pk: client for client in Client.objects.filter(pk__in=client_ids)}


def api_key_states(*, key_ids: set[int]) -> dict[int, tuple[int, dt.datetime | None]]:
    """(client id, revoked_at) of each existing API key among `key_ids`."""
    return {pk: (client_id, revoked_at) for pk, client_id, revoked_at in
            ApiKey.objects.filter(pk__in=key_ids).values_list("pk", "client_id", "revoked_at")}
