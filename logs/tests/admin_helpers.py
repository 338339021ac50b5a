"""Helpers for the operator console tests: logs go in through the API, as clients send them."""
from __future__ import annotations

from typing import Any

from conftest import Tenant
from logs.tests.factories import log_body


def ingest(tenant: Tenant, **overrides: Any) -> str:
    response = tenant.api.post("/api/v1/logs", log_body(**overrides), format="json")
    assert response.status_code == 201, response.content
    return str(response.json()["id"])


def ingest_many(tenant: Tenant, bodies: list[dict[str, Any]]) -> list[str]:
    ids: list[str] = []
    for start in range(0, len(bodies), 100):
        response = tenant.api.post("/api/v1/logs/batch", {"logs": bodies[start:start + 100]}, format="json")
        assert response.status_code == 201, response.content
        ids += [str(i) for i in response.json()["ids"]]
    return ids


def changelist_ticket_ids(html: str) -> list[str]:
    """Ticket ids of the result rows, in page order (the <td class="field-ticket_id"> cells)."""
    import re

    return re.findall(r'class="field-ticket_id"><a href="[^"]*">([^<]*)</a>', html)
