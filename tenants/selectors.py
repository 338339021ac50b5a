"""Reads on tenants and API keys."""
from __future__ import annotations

from django.db.models import QuerySet

from tenants.models import ApiKey


def api_key_list(*, client_slug: str | None = None) -> QuerySet[ApiKey]:
    qs = ApiKey.objects.select_related("client").order_by("client__slug", "-created_at")
    if client_slug:
        qs = qs.filter(client__slug=client_slug)
    return qs
