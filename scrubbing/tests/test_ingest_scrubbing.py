"""Scrubbing end to end, through the interfaces users touch: the corpus posted as single logs and
batches is gone from the stored rows, the API's detail, both export formats and the operator
console; look-alikes are all still there; the spool file never holds a planted value."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from conftest import Tenant, make_tenant
from logs.models import WorkflowLog
from scrubbing.models import ScrubbingSettings
from scrubbing.tests.corpus import LOOK_ALIKES, corpus_logs, planted_values
from spool.tests.test_spool import database_down, drain, warm_up

pytestmark = pytest.mark.django_db


def stored_text(client_id: int) -> str:
    """Every stored column of the client's logs, as PostgreSQL holds them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(w)::text FROM workflow_logs w WHERE client_id = %s", [client_id])
        return "\n".join(row[0] for row in cursor.fetchall())


def assert_clean(text: str, where: str) -> None:
    left = [value for value in planted_values() if value in text]
    assert not left, f"{where}: {left}"


def post_corpus(tenant: Tenant) -> list[str]:
    logs = corpus_logs()
    ids = [tenant.api.post("/api/v1/logs", logs[0], format="json").json()["id"]]
    response = tenant.api.post("/api/v1/logs/batch", {"logs": logs[1:]}, format="json")
    assert response.status_code == 201, response.content[:500]
    return ids + response.json()["ids"]


def test_the_corpus_is_gone_from_storage_api_export_and_console(alice: Tenant, admin_client: Any) -> None:
    ids = post_corpus(alice)
    stored = stored_text(alice.client.pk)
    assert_clean(stored, "stored rows")
    # jsonb re-serialises with ", " and ": ": compare look-alikes through the API's JSON instead
    details = [alice.api.get(f"/api/v1/logs/{log_id}") for log_id in ids]
    assert all(response.status_code == 200 for response in details)
    detail_text = json.dumps([response.json() for response in details], ensure_ascii=False)
    assert_clean(detail_text, "GET /api/v1/logs/{id}")
    original = json.dumps(corpus_logs(), ensure_ascii=False)
    for look_alike in LOOK_ALIKES:
        assert detail_text.count(look_alike) == original.count(look_alike), look_alike
    assert all(response.json()["scrubbed"] for response in details)

    for fmt in ("ndjson", "csv"):
        response = alice.api.get("/api/v1/logs/export", {"format": fmt})
        assert response.status_code == 200
        assert_clean(b"".join(response.streaming_content).decode(), f"export {fmt}")
    listing = alice.api.get("/api/v1/logs", {"page_size": 50})
    assert_clean(listing.content.decode(), "GET /api/v1/logs")

    for log_id in ids:
        page = admin_client.get(f"/admin/logs/workflowlog/{log_id}/change/")
        assert page.status_code == 200
        html = page.content.decode()
        assert_clean(html, "admin log page")
        assert "values redacted" in html and 'class="cl-redacted"' in html


def test_the_single_log_answer_is_scrubbed_too(alice: Tenant) -> None:
    body = corpus_logs(1)[0]
    data = alice.api.post("/api/v1/logs", body, format="json").json()
    assert "[redacted:" in data["workflow_error"]
    assert_clean(json.dumps(data, ensure_ascii=False), "201 answer")


def test_logs_are_scrubbed_before_the_spool_and_the_spool_file_holds_no_secret(alice: Tenant) -> None:
    warm_up(alice)
    with database_down():
        logs = corpus_logs()
        single = alice.api.post("/api/v1/logs", logs[0], format="json")
        batch = alice.api.post("/api/v1/logs/batch", {"logs": logs[1:]}, format="json")
    assert single.status_code == 202 and batch.status_code == 202
    files = [Path(settings.SPOOL_PATH + suffix) for suffix in ("", "-wal")]
    spool_bytes = b"".join(path.read_bytes() for path in files if path.exists())
    assert b"[redacted:email]" in spool_bytes  # the logs are in there...
    left = [value for value in planted_values() if value.encode() in spool_bytes]
    assert not left, left  # ...without a single planted value
    assert drain().startswith(f"drained {len(logs)} logs")
    assert_clean(stored_text(alice.client.pk), "drained rows")


def test_a_worker_that_never_read_the_settings_spools_with_the_defaults_and_the_drain_applies_the_tenants_rules(
        alice: Tenant) -> None:
    ScrubbingSettings.objects.create(client=alice.client, custom_patterns=[{"name": "order_ref", "pattern": "ORD-[0-9]{6}"}])
    warm_up(alice)  # knows the key, not yet the settings (warm_up is a connectivity check)
    with database_down():
        response = alice.api.post("/api/v1/logs", {"environment": "prod", "status": "SUCCESS",
                                                   "executed_at": "2025-01-01", "workflow_error":
                                                   "ORD-123456 of jane@example.com"}, format="json")
    assert response.status_code == 202
    assert response.json()["workflow_error"] == "ORD-123456 of [redacted:email]"  # defaults only, for now
    drain()
    row = WorkflowLog.objects.get(pk=response.json()["id"])
    assert row.workflow_error == "[redacted:order_ref] of [redacted:email]"
    assert row.scrubbed == {"email": 1, "custom:order_ref": 1}


def test_a_settings_change_applies_to_the_next_log(alice: Tenant) -> None:
    admin = make_tenant("alice-admin", scopes=["ingest", "read", "admin"])
    body = {"environment": "prod", "status": "SUCCESS", "executed_at": "2025-01-01",
            "payload": {"note": "call +44 20 7946 0958", "ref": "ORD-123456"}}
    first = admin.api.post("/api/v1/logs", body, format="json").json()
    response = admin.api.put("/api/v1/settings/scrubbing", {
        "disabled_rules": ["phone"], "custom_patterns": [{"name": "order_ref", "pattern": "ORD-[0-9]{6}"}]},
        format="json")
    assert response.status_code == 200, response.content
    second = admin.api.post("/api/v1/logs", body, format="json").json()
    payloads = {row.id.hex: row.payload for row in WorkflowLog.objects.filter(client=admin.client)}
    assert payloads[first["id"].replace("-", "")] == {"note": "call [redacted:phone]", "ref": "ORD-123456"}
    assert payloads[second["id"].replace("-", "")] == {"note": "call +44 20 7946 0958", "ref": "[redacted:order_ref]"}


def test_scrubbing_off_stores_logs_as_sent(alice: Tenant, settings: Any) -> None:
    settings.SCRUBBING_ENABLED = False
    data = alice.api.post("/api/v1/logs", {"environment": "prod", "status": "SUCCESS", "executed_at": "2025-01-01",
                                           "workflow_error": "jane@example.com"}, format="json").json()
    row = WorkflowLog.objects.get(pk=data["id"])
    assert row.workflow_error == "jane@example.com" and row.scrubbed is None
