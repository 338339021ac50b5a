"""manage.py scrub_logs: the current rules applied to stored logs, in batches, resumable, with
the metrics rollup exact and no recount for payload-only changes."""
from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from conftest import Tenant
from logs.models import WorkflowLog
from logs.tests.factories import ingest, log_body
from scrubbing.models import ScrubbingSettings, ScrubRun
from scrubbing.tests.corpus import corpus_logs, planted_values

pytestmark = pytest.mark.django_db


def scrub_logs(*args: str) -> str:
    out = StringIO()
    call_command("scrub_logs", *args, stdout=out)
    return out.getvalue()


def rollup_state(client_id: int) -> tuple[Any, ...]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT version FROM logs_rollup_version WHERE client_id = %s", [client_id])
        version = cursor.fetchone()
        cursor.execute("SELECT kind, grain, bucket, dim1, dim2, status, bin, n FROM logs_rollup WHERE client_id = %s "
                       "ORDER BY 1, 2, 3, 4, 5, 6, 7", [client_id])
        return version, cursor.fetchall()


def stored_unscrubbed(tenant: Tenant, bodies: list[dict[str, Any]], settings: Any) -> list[str]:
    settings.SCRUBBING_ENABLED = False  # as if stored before scrubbing existed
    ids = ingest(tenant, *bodies)
    settings.SCRUBBING_ENABLED = True
    return ids


def test_scrub_logs_applies_the_rules_to_stored_logs(alice: Tenant, bob: Tenant, settings: Any) -> None:
    stored_unscrubbed(alice, corpus_logs(), settings)
    stored_unscrubbed(bob, [log_body(workflow_error="mail bob@example.com")], settings)
    call_command("flush_rollups", stdout=StringIO())
    before = rollup_state(alice.client.pk)

    dry = scrub_logs("--client", "alice", "--dry-run")
    assert "alice: 12/12 logs scanned (100%), 12 changed" in dry and "(dry run)" in dry
    assert WorkflowLog.objects.filter(client=alice.client, scrubbed__isnull=False).count() == 0

    out = scrub_logs("--client", "alice", "--batch-size", "5")
    assert "alice: 12/12 logs scanned (100%), 12 changed" in out
    text = "\n".join(str(row) for row in WorkflowLog.objects.filter(client=alice.client).values())
    assert not [value for value in planted_values() if value in text]
    # Same counts. The corpus's failures carry secrets in their messages: redacted, each moves to
    # the error issue of its new message (rollup kind F, logs migration 0016), so their days are
    # recounted; every other kind's rows are what they were.
    after = rollup_state(alice.client.pk)
    assert [row for row in after[1] if row[0] != "F"] == [row for row in before[1] if row[0] != "F"]
    assert sum(row[7] for row in after[1] if row[0] == "F") == sum(row[7] for row in before[1] if row[0] == "F")
    assert WorkflowLog.objects.get(client=bob.client).workflow_error == "mail bob@example.com"  # another tenant
    # Again: nothing left to change.
    assert "0 changed" in scrub_logs("--client", "alice")


def test_scrub_logs_resumes_where_a_stopped_run_ended(alice: Tenant, settings: Any) -> None:
    bodies = [log_body(ticket_id=f"T-{i}", executed_at=f"2025-01-{i + 1:02d}T00:00:00Z",
                       workflow_error=f"user{i}@example.com") for i in range(6)]
    stored_unscrubbed(alice, bodies, settings)
    from scrubbing import backfill

    calls = []

    def stop_after_two_batches(progress: Any) -> None:
        calls.append(progress.scanned)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        backfill.scrub_stored_logs(client=alice.client, batch_size=2, report=stop_after_two_batches)
    assert WorkflowLog.objects.filter(workflow_error__startswith="[redacted").count() == 4
    out = scrub_logs("--client", "alice", "--batch-size", "2")
    assert "resumed after 4 logs" in out and "alice: 6/6 logs scanned (100%), 6 changed" in out
    assert WorkflowLog.objects.filter(workflow_error__startswith="[redacted").count() == 6
    assert ScrubRun.objects.get(client=alice.client, finished_at__isnull=False).scanned == 6


def test_since_and_new_rules(alice: Tenant, settings: Any) -> None:
    ingest(alice, log_body(executed_at="2025-01-01T00:00:00Z", workflow_error="ORD-123456"),
           log_body(executed_at="2025-02-01T00:00:00Z", workflow_error="ORD-654321"))
    ScrubbingSettings.objects.create(client=alice.client, custom_patterns=[{"name": "order", "pattern": "ORD-[0-9]{6}"}])
    out = scrub_logs("--client", "alice", "--since", "2025-01-15")
    assert "alice: 1/1 logs scanned (100%), 1 changed, 1 values replaced: custom:order 1" in out
    assert sorted(WorkflowLog.objects.values_list("workflow_error", flat=True)) == ["ORD-123456", "[redacted:order]"]
    row = WorkflowLog.objects.get(workflow_error="[redacted:order]")
    assert row.scrubbed == {"custom:order": 1}


def test_an_update_of_rollup_dimensions_still_recounts(alice: Tenant) -> None:
    ingest(alice, log_body(status="SUCCESS"))
    call_command("flush_rollups", stdout=StringIO())
    WorkflowLog.objects.filter(client=alice.client).update(status="FAILED")
    _version, rows = rollup_state(alice.client.pk)
    assert {row[5] for row in rows if row[0] == "S"} == {"FAILED"}


def test_bad_arguments(alice: Tenant) -> None:
    with pytest.raises(CommandError):
        scrub_logs("--client", "nobody")
    with pytest.raises(CommandError):
        scrub_logs("--since", "yesterday")
