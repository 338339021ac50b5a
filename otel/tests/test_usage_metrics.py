"""Tokens and cost over a period (GET /api/v1/metrics/usage): the runs' usage summed, with the
previous period, the metrics filters, other tenants and odd values left out."""
from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from conftest import Tenant
from logs import partitions
from logs.tests.factories import log_body
from otel.tests.bodies import span, span_id, trace_id, traces_request

pytestmark = pytest.mark.django_db


def send_run(tenant: Tenant, *, days_ago: float, tokens: tuple[int, int], model: str = "gpt-4o",
             environment: str = "production") -> None:
    start = int((timezone.now() - dt.timedelta(days=days_ago)).timestamp() * 1e9)
    trace, root = trace_id(), span_id()
    spans = [span(trace, root, "root", start=start),
             span(trace, span_id(), "chat", parent=root, start=start, attributes={
                 "gen_ai.operation.name": "chat", "gen_ai.request.model": model,
                 "gen_ai.usage.input_tokens": tokens[0], "gen_ai.usage.output_tokens": tokens[1]})]
    body = traces_request(spans, {"service.name": "a", "deployment.environment.name": environment})
    assert tenant.api.post("/v1/traces", data=body, content_type="application/x-protobuf").status_code == 200


def test_usage_sums_tokens_and_cost_of_the_period_and_the_previous_one(alice: Tenant, bob: Tenant) -> None:
    call_command("set_model_price", "alice", "gpt-4o", "2.50", "10.00", stdout=StringIO())
    send_run(alice, days_ago=0.1, tokens=(1000, 200))               # cost 0.0045
    send_run(alice, days_ago=1, tokens=(3000, 100), model="llama")  # no price: no cost
    send_run(alice, days_ago=2, tokens=(500, 50), environment="staging")
    send_run(alice, days_ago=10, tokens=(7, 3))                      # the previous 7 days
    send_run(bob, days_ago=0.1, tokens=(999_999, 1))
    # Our own logs: no usage, or a metrics value that is not a number, never break the sums.
    recent = (timezone.now() - dt.timedelta(hours=3)).isoformat()
    assert alice.api.post("/api/v1/logs", log_body(executed_at=recent, metrics={"total_tokens": "many", "input_tokens": "x"}),
                          format="json").status_code == 201

    usage = alice.api.get("/api/v1/metrics/usage", {"days": 7}).json()
    assert (usage["runs"], usage["input_tokens"], usage["output_tokens"], usage["total_tokens"]) == (3, 4500, 350, 4850)
    assert usage["cost"] == pytest.approx(0.0045 + 0.00175)  # the staging run: 500*2.5/1M + 50*10/1M
    assert (usage["previous"]["runs"], usage["previous"]["total_tokens"]) == (1, 10)
    assert usage["previous"]["cost"] == pytest.approx(0.0000475, abs=1e-6)  # 7*2.5/1M + 3*10/1M, 6 decimals
    staging = alice.api.get("/api/v1/metrics/usage", {"days": 7, "environment": "staging"}).json()
    assert (staging["runs"], staging["total_tokens"]) == (1, 550)
    assert alice.api.get("/api/v1/metrics/usage", {"days": 1, "environment": "development"}).json()["cost"] is None
    assert bob.api.get("/api/v1/metrics/usage").json()["input_tokens"] == 999_999


def test_usage_reads_only_the_runs_with_usage_through_their_index(alice: Tenant) -> None:
    now = timezone.now()
    partitions.ensure_covered([now - dt.timedelta(minutes=20_000), now])  # a raw INSERT makes none itself
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO workflow_logs (id, client_id, environment, executed_at, status, metrics, payload, "
                       "extra, created_at) SELECT gen_random_uuid(), %s, 'production', now() - g * interval '1 minute', "
                       "'SUCCESS', '{}', '{}', '{}', now() FROM generate_series(1, 20000) AS g", [alice.client.pk])
        cursor.execute("ANALYZE workflow_logs")
        cursor.execute("EXPLAIN SELECT count(*) FROM workflow_logs WHERE client_id = %s AND executed_at >= now() "
                       "- interval '7 days' AND executed_at < now() AND metrics ? 'total_tokens'", [alice.client.pk])
        plan = "\n".join(row[0] for row in cursor.fetchall())
        # The partitions' own indexes of the partial index wl_client_usage (issue 24).
        cursor.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                       "WHERE i.inhparent = 'wl_client_usage'::regclass")
        usage_indexes = {name for (name,) in cursor.fetchall()} | {"wl_client_usage"}
    assert any(f" {name} " in plan for name in usage_indexes), plan
