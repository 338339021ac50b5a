"""A tenant's model prices: the API (read, replace with the admin scope), the management
commands, and the cost they give a run."""
from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from conftest import Tenant, make_tenant
from logs.models import WorkflowLog
from otel.models import ModelPrice
from otel.tests.bodies import span, span_id, trace_id, traces_request

pytestmark = pytest.mark.django_db
URL = "/api/v1/model-prices"
TABLE = {"prices": [{"model": "gpt-4o", "input_per_million": "2.50", "output_per_million": "10"},
                    {"model": "meta-llama/Llama-3.1-70B", "input_per_million": 0.9, "output_per_million": 0.9}]}


def test_an_admin_key_replaces_the_table_and_every_key_reads_it(alice: Tenant, bob: Tenant) -> None:
    admin = make_tenant("acme", scopes=["ingest", "read", "admin"])
    response = admin.api.put(URL, TABLE, format="json")
    assert response.status_code == 200, response.content
    assert [(p["model"], p["input_per_million"]) for p in response.json()["data"]] == [
        ("gpt-4o", "2.500000"), ("meta-llama/Llama-3.1-70B", "0.900000")]
    assert admin.api.put(URL, {"prices": TABLE["prices"][:1]}, format="json").status_code == 200
    assert [p["model"] for p in admin.api.get(URL).json()["data"]] == ["gpt-4o"]
    # Without the admin scope: read only. Another tenant sees its own (empty) table.
    assert alice.api.put(URL, TABLE, format="json").status_code == 403
    assert alice.api.get(URL).json() == {"data": []}
    assert ModelPrice.objects.for_client(admin.client).count() == 1


@pytest.mark.parametrize("prices, field", [
    ([{"model": "m", "input_per_million": -1, "output_per_million": 1}], "prices"),
    ([{"model": "m", "input_per_million": "abc", "output_per_million": 1}], "prices"),
    ([{"model": "m", "input_per_million": 1, "output_per_million": 1}] * 2, "prices"),
    ([{"model": "", "input_per_million": 1, "output_per_million": 1}], "prices"),
])
def test_bad_prices_are_a_400_and_change_nothing(prices: list[dict[str, Any]], field: str) -> None:
    admin = make_tenant("acme", scopes=["read", "admin"])
    assert admin.api.put(URL, TABLE, format="json").status_code == 200
    response = admin.api.put(URL, {"prices": prices}, format="json")
    assert response.status_code == 400 and field in response.json()["error"]["details"]
    assert ModelPrice.objects.count() == 2


def test_commands_set_list_and_delete(alice: Tenant) -> None:
    out = StringIO()
    call_command("set_model_price", "alice", "gpt-4o-mini", "0.15", "0.60", stdout=out)
    assert "gpt-4o-mini: 0.150000 / 0.600000 per 1M tokens" in out.getvalue()
    out = StringIO()
    call_command("list_model_prices", "alice", stdout=out)
    assert out.getvalue() == "gpt-4o-mini\t0.150000\t0.600000\n"
    call_command("set_model_price", "alice", "gpt-4o-mini", "--delete", stdout=StringIO())
    assert not ModelPrice.objects.exists()
    for args in (("nobody", "m", "1", "1"), ("alice", "m"), ("alice", "m", "x", "1"), ("alice", "m", "--delete")):
        with pytest.raises(CommandError):
            call_command("set_model_price", *args, stdout=StringIO())


def test_a_runs_cost_uses_the_tenants_prices(alice: Tenant, bob: Tenant) -> None:
    call_command("set_model_price", "alice", "gpt-4o", "2.50", "10.00", stdout=StringIO())
    trace, root = trace_id(), span_id()
    spans = [span(trace, root, "root"),
             span(trace, span_id(), "chat", parent=root, attributes={
                 "gen_ai.operation.name": "chat", "gen_ai.response.model": "gpt-4o-2024-08-06",
                 "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 200})]
    for tenant in (alice, bob):
        assert tenant.api.post("/v1/traces", data=traces_request(spans), content_type="application/x-protobuf").status_code == 200
    assert WorkflowLog.objects.for_client(alice.client).get().metrics["cost"] == 0.0045  # 1000*2.5/1M + 200*10/1M
    assert "cost" not in WorkflowLog.objects.for_client(bob.client).get().metrics  # bob has no prices
