"""Contract fuzzing: schemathesis generates requests from our own OpenAPI schema (the one served at
`/api/schema/`) and holds every answer to it.

Requests go through Django's real WSGI handler (every middleware, the DRF exception handler, the
error envelope), in-process and inside the test's database transaction. For every operation:

- `test_operations_honour_the_contract`: FUZZ_EXAMPLES (default 20) generated requests, valid and
  deliberately invalid (schemathesis' positive and negative modes; plus the schema's examples), sent
  with a key that has both scopes, to a tenant with logs (so lists, exports and metrics return real
  rows). Checks: no 5xx; the status code is documented for the operation; the content type and the
  body match the documented response (a 201/200/202/207 ingestion answer as much as a 400 envelope);
  documented headers; and schemathesis' `ignored_auth` (the operation refuses the same request
  without a key and with a wrong one).
- `test_auth_is_enforced_for_generated_requests`: FUZZ_AUTH_EXAMPLES (default 5) requests per
  operation, each sent without a key (→ 401), with a key lacking the operation's scope (→ 403) and
  with another tenant's key (→ nothing of the first tenant: no id, no marker, zero counts).

Two schemathesis checks are not run, deliberately (see the README, "Contract fuzzing"):
`positive_data_acceptance` and `negative_data_rejection` require the schema to describe the exact
set of accepted inputs, which OpenAPI 3.0 cannot do for this API: cross-parameter rules (`days` OR
`start_date`+`end_date`, start <= end, at most 366 days, min <= max execution time), server-issued
cursor tokens, and deliberate leniency the real client relies on (case-insensitive enums, ISO-8601
beyond RFC 3339, naive timestamps as UTC). The schema states every rule it can express (bounds,
lengths, enums, formats, patterns, closed objects) and the descriptions state the rest.

FUZZ_COVERAGE=1 adds schemathesis' coverage phase (boundary values of every parameter, every
undocumented method); about 10x slower, so not in the default run.
"""
from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings as hypothesis_settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance
from werkzeug.test import Client as WsgiClient

from alerts.models import AlertEvent, AlertRule
from conftest import make_tenant
from logs.tests.factories import ingest, log_body
from tenants.models import SCOPE_ADMIN, SCOPE_INGEST, SCOPE_READ

pytestmark = pytest.mark.django_db

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))
FUZZ_AUTH_EXAMPLES = int(os.environ.get("FUZZ_AUTH_EXAMPLES", "5"))
WRITE_OPERATIONS = frozenset({"POST /api/v1/logs", "POST /api/v1/logs/batch", "PUT /api/v1/model-prices"})
SECURITY_HEADERS = ("x-api-key", "authorization")

_django = get_wsgi_application()


def wsgi_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """Django's WSGI handler, minus the per-request `close_old_connections` (as Django's own test
    client does): closing the connection would end the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        response = _django(environ, start_response)
        try:
            return [b"".join(response)]  # drain streaming answers (export) inside the transaction
        finally:
            response.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


# The schema users get, loaded through the same app (no database needed to serve it).
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app)
# The dashboard's sign-in endpoints authenticate with a session, not a key (their auth is tested
# in tenants/tests/test_session.py); the key-based auth checks below skip them.
key_schema = schema.exclude(path_regex="^/api/v1/session")
if os.environ.get("FUZZ_COVERAGE") != "1":
    schema.config.phases.update(phases=["examples", "fuzzing"])

FUZZ_SETTINGS = {
    "derandomize": True,  # the same requests on every run and every machine
    "database": None,  # no .hypothesis directory; nothing carried between runs
    "deadline": None,  # shared 2-core CI machines: a slow request is not a failure here
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                              HealthCheck.filter_too_much, HealthCheck.data_too_large],
}
# Strictness checks that need a schema able to express every acceptance rule (module docstring).
NOT_EXPRESSIBLE_IN_OPENAPI = [negative_data_rejection, positive_data_acceptance]


@dataclass
class World:
    key: str  # ingest + read + admin, tenant "fuzz" (has logs and model prices)
    read_only_key: str
    ingest_only_key: str
    other_key: str  # ingest + read, tenant "other" (no logs)
    secret_ids: list[str]  # the fuzz tenant's log ids
    secret_markers: list[str]  # strings only the fuzz tenant's logs contain


@pytest.fixture
def world(db: Any, settings: Any) -> World:
    # Rate limits would turn the fuzzer's burst into (documented, conforming) 429s and stop it
    # from reaching the endpoints; the autouse fixture in conftest.py clears the counters.
    settings.RATE_LIMIT_READ = ""
    settings.RATE_LIMIT_INGEST = ""
    fuzz = make_tenant("fuzz")
    recent = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=6)  # inside every metrics period
    stamp = recent.strftime("%Y-%m-%dT%H:%M:%SZ")
    secret_ids = ingest(
        fuzz,
        log_body(executed_at=stamp, ticket_id="FUZZ-SECRET-1", category="fuzzsecretcategory",
                 metrics={"overall_confidence": 0.91, "needs_more_info": False, "react_iterations": 3}),
        log_body(executed_at=stamp, ticket_id="FUZZ-SECRET-2", category="fuzzsecretcategory", status="FAILED",
                 workflow_version="v9.9-fuzzsecret", workflow_error="fuzzsecret timeout calling CRM",
                 workflow_error_type="TimeoutError", workflow_error_node="crm_lookup", is_system_error=True,
                 execution_time_seconds=31.5, metrics={"overall_confidence": 0.2, "needs_more_info": True}),
        log_body(executed_at=stamp, ticket_id="FUZZ-SECRET-3", status="PARTIAL", environment="staging",
                 execution_time_seconds=None, metrics={"input_tokens": 30, "output_tokens": 7, "total_tokens": 37}),
        log_body(ticket_id="FUZZ-SECRET-4", event_id="fuzz-secret-event"),  # 2025, outside the metrics periods
    )
    rule = AlertRule.objects.create(client=fuzz.client, name="fuzzsecret rule", kind="error_rate", threshold=50,
                                    window_minutes=60, channels=[{"type": "email", "to": "fuzzsecret@example.com"}])
    AlertEvent.objects.create(client=fuzz.client, rule=rule, rule_name=rule.name, kind=rule.kind, state="firing",
                              value=100, threshold=50, operator="gte", window_start=recent, window_end=recent,
                              filters={"category": "fuzzsecretcategory"})

    from otel.prices import model_price_set

    model_price_set(client=fuzz.client, model="fuzzsecret-model", input_per_million=1, output_per_million=2)
    return World(
        key=make_tenant_key(fuzz.client, [SCOPE_INGEST, SCOPE_READ, SCOPE_ADMIN]),
        read_only_key=make_tenant_key(fuzz.client, [SCOPE_READ]),
        ingest_only_key=make_tenant_key(fuzz.client, [SCOPE_INGEST]),
        other_key=make_tenant("other").key,
        secret_ids=secret_ids,
        secret_markers=["FUZZ-SECRET", "fuzzsecret", "fuzz-secret-event"],
    )


def make_tenant_key(client: Any, scopes: list[str]) -> str:
    from tenants.services import api_key_issue

    return api_key_issue(client=client, name="+".join(scopes), scopes=scopes).plaintext


@schema.parametrize()
@hypothesis_settings(max_examples=FUZZ_EXAMPLES, **FUZZ_SETTINGS)
def test_operations_honour_the_contract(case: Any, world: World) -> None:
    case.call_and_validate(app=wsgi_app, headers={"X-API-Key": world.key},
                           excluded_checks=NOT_EXPRESSIBLE_IN_OPENAPI)


def _without_key(case: Any) -> None:
    if case.headers:
        for name in [h for h in case.headers if h.lower() in SECURITY_HEADERS]:
            del case.headers[name]


def _error_code(response: Any) -> str:
    return json.loads(response.content)["error"]["code"]


@key_schema.parametrize()
@hypothesis_settings(max_examples=FUZZ_AUTH_EXAMPLES, **FUZZ_SETTINGS)
def test_auth_is_enforced_for_generated_requests(case: Any, world: World) -> None:
    _without_key(case)  # schemathesis may generate an X-API-Key/Authorization of its own
    label = f"{case.method.upper()} {case.operation.path}"

    anonymous = case.call(app=wsgi_app)
    assert anonymous.status_code == 401, (label, anonymous.status_code, anonymous.content[:300])
    assert _error_code(anonymous) == "not_authenticated"
    case.validate_response(anonymous, excluded_checks=NOT_EXPRESSIBLE_IN_OPENAPI)

    wrong_scope = world.read_only_key if label in WRITE_OPERATIONS else world.ingest_only_key
    forbidden = case.call(app=wsgi_app, headers={"X-API-Key": wrong_scope})
    assert forbidden.status_code == 403, (label, forbidden.status_code, forbidden.content[:300])
    assert _error_code(forbidden) == "permission_denied"
    case.validate_response(forbidden, excluded_checks=NOT_EXPRESSIBLE_IN_OPENAPI)

    other = case.call(app=wsgi_app, headers={"X-API-Key": world.other_key})
    assert other.status_code < 500, (label, other.status_code)
    text = other.content.decode("utf-8", errors="replace")
    # Hypothesis also draws string constants of this module, the markers included: what the
    # request itself sent and the answer echoes (a stored log's category) is no leak.
    sent = repr((case.body, case.query, case.path_parameters))
    for secret in [*world.secret_ids, *world.secret_markers]:
        assert secret not in text or secret in sent, (label, secret)
    # The coverage phase (FUZZ_COVERAGE=1) also sends undocumented methods (OPTIONS, ...) to the
    # operation's path; the row/count oracle is about the operation's own answer.
    own_method = case.method.upper() == case.operation.method.upper()
    if other.status_code == 200 and own_method and label not in WRITE_OPERATIONS:
        assert_reveals_no_logs(label, other)


def assert_reveals_no_logs(label: str, response: Any) -> None:
    """The other tenant has no logs (ingestion cases run in their own test's transaction), so any
    row or non-zero count it is shown would belong to the fuzz tenant."""
    if label == "GET /api/v1/logs/export":
        lines = [line for line in response.content.decode().splitlines() if line.strip()]
        assert len(lines) <= 1, lines[:3]  # CSV: the header row only; NDJSON: nothing
        if lines:
            assert lines[0].startswith("id,"), lines[0]
        return
    body = json.loads(response.content)
    if label == "GET /api/v1/logs":
        assert body["data"] == []
        assert body["pagination"]["total"] in (0, None)
    elif label == "GET /api/v1/metrics/overview":
        assert body["total_tickets"] == 0 and body["previous"]["total_tickets"] == 0
        assert sum(body["status_counts"].values()) == 0
    elif label == "GET /api/v1/metrics/timeseries":
        assert all(row["count"] == 0 for row in body["data"])
    elif label == "GET /api/v1/metrics/usage":
        assert body["runs"] == body["total_tokens"] == body["previous"]["runs"] == 0
        assert all(row["runs"] == 0 for row in body.get("data", [])) and body.get("keys", []) == []
    elif label == "GET /api/v1/metrics/versions/compare":
        assert body["a"]["count"] == body["b"]["count"] == body["a"]["sample_size"] == body["b"]["sample_size"] == 0
    elif label == "GET /api/v1/logs/changes":
        assert body["token"] == "0.0"  # no rollup version, nothing pending: nothing of theirs
    elif label == "GET /api/v1/logs/values":
        assert body["values"] == []
    elif label.startswith("GET /api/v1/metrics/") or label == "GET /api/v1/model-prices":
        assert body["data"] == []
    elif label in ("GET /api/v1/alerts/rules", "GET /api/v1/alerts/events"):
        assert body["data"] == []
    elif label == "POST /api/v1/alerts/rules/preview":
        # Computed over the other tenant's own (empty) logs: only "no data" can fire there.
        assert body["fired"] == 0 or body["firing_windows"] == body["windows"], body
    else:  # GET /api/v1/logs/{id}: a random id is nobody's; 200 would be a leak
        raise AssertionError(f"{label} answered 200 to another tenant: {body}")


# --- the fixture's own rows through the fuzzed contract ---------------------------------------------

def test_real_log_details_conform_and_stay_private(world: World) -> None:
    """Generated ids are random (404); the fixture's real ids must come back complete and
    schema-conforming to their owner and be a 404 envelope to anyone else."""
    operation = schema["/api/v1/logs/{id}"]["GET"]
    for log_id in world.secret_ids:
        case = operation.Case(path_parameters={"id": log_id})
        mine = case.call_and_validate(app=wsgi_app, headers={"X-API-Key": world.key},
                                      excluded_checks=NOT_EXPRESSIBLE_IN_OPENAPI)
        assert mine.status_code == 200 and json.loads(mine.content)["id"] == log_id
        theirs = case.call(app=wsgi_app, headers={"X-API-Key": world.other_key})
        assert theirs.status_code == 404 and _error_code(theirs) == "not_found"
        case.validate_response(theirs, excluded_checks=NOT_EXPRESSIBLE_IN_OPENAPI)


def test_the_fixture_gives_the_fuzzer_real_content(world: World) -> None:
    """Guards the fuzz test's premise: with the fixture's key, list and metrics are not empty."""
    client = WsgiClient(wsgi_app)
    headers = {"X-API-Key": world.key}
    listing = client.get("/api/v1/logs", headers=headers).get_json()
    assert listing["pagination"]["total"] == 4
    overview = client.get("/api/v1/metrics/overview", headers=headers).get_json()
    assert overview["total_tickets"] == 3  # the 2025 log is outside the last 7 days
    assert overview["status_counts"] == {"SUCCESS": 1, "PARTIAL": 1, "FAILED": 1, "ERROR": 0}
    errors = client.get("/api/v1/metrics/errors", headers=headers).get_json()
    assert [(g["workflow_error_type"], g["count"]) for g in errors["data"]] == [("TimeoutError", 1)]


# --- methods the schema does not document ---------------------------------------------------------

UNDOCUMENTED_METHODS = ("PUT", "PATCH", "DELETE", "TRACE")


def _documented(path: str) -> set[str]:
    return {method.upper() for method in schema.raw_schema["paths"][path]}


@pytest.mark.parametrize("path", ["/api/v1/logs", "/api/v1/logs/batch", "/api/v1/logs/export",
                                  "/api/v1/metrics/overview"])
def test_options_answers_with_the_allowed_methods(world: World, path: str) -> None:
    """`OPTIONS /api/v1/logs` was a 500 (DRF's metadata introspects a serializer the ingestion
    view does not have); found by schemathesis' coverage phase."""
    response = WsgiClient(wsgi_app).options(path, headers={"X-API-Key": world.key})
    assert response.status_code == 200, response.get_data()[:300]
    allowed = {m.strip() for m in response.headers["Allow"].split(",")}
    assert allowed - {"OPTIONS", "HEAD"} == _documented(path)
    assert response.get_json()["schema"] == "/api/schema/"
    assert WsgiClient(wsgi_app).options(path).status_code == 401


def test_undocumented_methods_are_405_envelopes(world: World) -> None:
    client = WsgiClient(wsgi_app)
    detail = f"/api/v1/logs/{world.secret_ids[0]}"
    rule = AlertRule.objects.get()
    for path in schema.raw_schema["paths"]:
        url = path.replace("{id}", str(rule.pk)) if path.startswith("/api/v1/alerts/") else (
            detail if "{id}" in path else path)
        for method in UNDOCUMENTED_METHODS:
            if method in _documented(path):
                continue
            response = client.open(url, method=method, headers={"X-API-Key": world.key})
            assert response.status_code == 405, (method, url, response.status_code)
            assert response.get_json()["error"]["code"] == "method_not_allowed"
            assert response.headers.get("Allow"), (method, url)


def test_served_schema_is_the_generated_one() -> None:
    """The fuzzer reads `/api/schema/`; it must be exactly what drf-spectacular generates."""
    generated = json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True), default=str))
    assert schema.raw_schema["paths"].keys() == generated["paths"].keys()
    assert schema.raw_schema["components"] == generated["components"]
    # 12 log API paths (14 operations: /api/v1/logs has GET and POST, /api/v1/model-prices GET and
    # PUT), 5 alerts paths (rules, rules/{id}, rules/{id}/test, rules/preview, events), the
    # scrubbing settings (GET, PUT, PATCH), the dashboard's investigation paths (logs/changes,
    # logs/values, metrics/issues, metrics/issues/{fingerprint}, metrics/versions/compare) and
    # saved views (GET, POST; PATCH, DELETE) + 5 dashboard session paths. The OTLP receivers
    # (/v1/traces, /v1/logs) are not in it: OTLP's protobuf definitions are.
    assert len(schema.raw_schema["paths"]) == 30


# --- regressions found by the fuzzer --------------------------------------------------------------

@pytest.mark.parametrize("path, query", [
    ("/api/v1/logs", {"workflow_version": "v1\x00"}),
    ("/api/v1/logs/export", {"category": "a,b\x00c"}),
    ("/api/v1/metrics/overview", {"environment": "prod\x00"}),
    ("/api/v1/metrics/categories", {"workflow_version": "\x00"}),
    ("/api/v1/logs", {"metrics.customer_tier": "gold\x00"}),
])
def test_nul_in_a_filter_value_is_a_400_not_a_503(world: World, path: str, query: dict[str, str]) -> None:
    """A NUL in a filter value reached PostgreSQL, which cannot take it in a text parameter; the
    DataError was answered as `503 database_unavailable` (a retryable outage that was neither).
    Now it is a 400 naming the parameter, on every database."""
    response = WsgiClient(wsgi_app).get(path, query_string=query, headers={"X-API-Key": world.key})
    assert response.status_code == 400, response.get_data()[:300]
    body = response.get_json()
    assert body["error"]["code"] == "validation_error"
    (name,) = query
    assert any("Null characters are not allowed." in message for message in body["error"]["details"][name])
