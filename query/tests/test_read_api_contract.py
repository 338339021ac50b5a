"""Cross-cutting checks of the read API: auth on every endpoint, tenant isolation on every
endpoint, the OpenAPI schema (valid, no warnings) and real responses conforming to it, CORS."""
from __future__ import annotations

import copy
from io import StringIO
from typing import Any

import jsonschema
import pytest
from django.core.management import call_command
from django.test import override_settings
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from conftest import Tenant, make_tenant
from logs.tests.factories import READ_ENDPOINTS, ingest, recent_log

pytestmark = pytest.mark.django_db

@pytest.fixture
def bob_log(bob: Tenant) -> str:
    (log_id,) = ingest(bob, recent_log(0.01, status="FAILED", workflow_error_type="TimeoutError",
                                    workflow_error_node="crm_lookup", workflow_error="bob's secret error"))
    return log_id


# --- auth ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", READ_ENDPOINTS)
def test_every_read_endpoint_needs_a_key(anon: APIClient, bob_log: str, path: str) -> None:
    response = anon.get(path.format(id=bob_log))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    bad = APIClient()
    bad.credentials(HTTP_X_API_KEY="clk_nope_nope")
    response = bad.get(path.format(id=bob_log))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


@pytest.mark.parametrize("path", READ_ENDPOINTS)
def test_every_read_endpoint_needs_the_read_scope(bob_log: str, path: str) -> None:
    writer = make_tenant("writer", scopes=["ingest"])
    response = writer.api.get(path.format(id=bob_log))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_bearer_token_works_for_reads(bob: Tenant, bob_log: str) -> None:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {bob.key}")
    assert api.get("/api/v1/logs").json()["data"][0]["id"] == bob_log


# --- tenant isolation -------------------------------------------------------------------------------

def test_no_endpoint_shows_or_counts_another_tenants_logs(alice: Tenant, bob_log: str) -> None:
    api = alice.api
    assert api.get("/api/v1/logs").json()["data"] == []
    assert api.get("/api/v1/logs").json()["pagination"]["total"] == 0
    assert api.get("/api/v1/logs", {"cursor": ""}).json()["data"] == []
    assert api.get(f"/api/v1/logs/{bob_log}").status_code == 404
    export = b"".join(api.get("/api/v1/logs/export", {"format": "ndjson"}).streaming_content)
    assert export == b""
    csv_body = b"".join(api.get("/api/v1/logs/export").streaming_content).decode()
    assert bob_log not in csv_body and csv_body.count("\n") == 1
    assert api.get("/api/v1/metrics/overview").json()["total_tickets"] == 0
    assert api.get("/api/v1/metrics/categories").json()["data"] == []
    assert sum(b["count"] for b in api.get("/api/v1/metrics/timeseries").json()["data"]) == 0
    assert api.get("/api/v1/metrics/errors").json()["data"] == []
    assert api.get("/api/v1/metrics/versions").json()["data"] == []


# --- OpenAPI -------------------------------------------------------------------------------------

def test_schema_is_valid_without_warnings() -> None:
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", stdout=out)
    assert '"ApiKeyAuth"' in out.getvalue() and '"ErrorEnvelope"' in out.getvalue()


def test_schema_endpoints_are_served(anon: APIClient) -> None:
    schema = anon.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert anon.get("/api/docs/").status_code == 200
    assert anon.get("/api/redoc/").status_code == 200


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema → JSON Schema: `nullable` becomes a null alternative, and objects with
    declared properties reject undeclared ones (so the schema must describe every field)."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _json_schema(value) for key, value in node.items()}
    if node.get("type") == "object" and "properties" in node:
        node.setdefault("additionalProperties", False)
    if node.pop("nullable", False):
        node = {"anyOf": [node, {"type": "null"}]}
    return node


def assert_conforms(openapi: dict[str, Any], component: str, data: Any) -> None:
    components = _json_schema(copy.deepcopy(openapi["components"]["schemas"]))
    schema = {"$ref": f"#/components/schemas/{component}", "components": {"schemas": components}}
    jsonschema.validate(data, schema, format_checker=jsonschema.FormatChecker())


def _operation_response(openapi: dict[str, Any], path: str, status: int) -> str:
    content = openapi["paths"][path]["get"]["responses"][str(status)]["content"]
    return content["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]


def test_real_responses_conform_to_the_schema(openapi: dict[str, Any], alice: Tenant, bob: Tenant) -> None:
    ingest(alice,
           recent_log(1, status="SUCCESS", execution_time_seconds=None, category=None, metadata=None),
           recent_log(30, status="FAILED", workflow_error_type="KeyError", workflow_error_node="parse",
                   workflow_error="boom", is_system_error=None, workflow_version=None))
    api = alice.api
    listing = api.get("/api/v1/logs", {"page_size": 1})
    assert _operation_response(openapi, "/api/v1/logs", 200) == "LogList"
    assert_conforms(openapi, "LogList", listing.json())
    assert_conforms(openapi, "LogList", api.get("/api/v1/logs", {"cursor": "", "page_size": 1}).json())
    log_id = listing.json()["data"][0]["id"]
    assert _operation_response(openapi, "/api/v1/logs/{id}", 200) == "LogDetail"
    detail = api.get(f"/api/v1/logs/{log_id}").json()
    assert_conforms(openapi, "LogDetail", detail)
    with pytest.raises(jsonschema.ValidationError):  # the check is strict: undocumented fields fail
        assert_conforms(openapi, "LogDetail", {**detail, "surprise": 1})
    with pytest.raises(jsonschema.ValidationError):
        assert_conforms(openapi, "LogDetail", {k: v for k, v in detail.items() if k != "payload"})
    for name, component in [("overview", "MetricsOverview"), ("categories", "MetricsCategories"),
                            ("timeseries", "MetricsTimeseries"), ("errors", "MetricsErrors"),
                            ("versions", "MetricsVersions")]:
        path = f"/api/v1/metrics/{name}"
        assert _operation_response(openapi, path, 200) == component
        assert_conforms(openapi, component, api.get(path).json())
    assert_conforms(openapi, "MetricsTimeseries", api.get("/api/v1/metrics/timeseries", {"interval": "hour"}).json())

    # the error envelope, as documented for each status
    for path, client, status in [("/api/v1/logs?status=nope", api, 400), ("/api/v1/logs", APIClient(), 401),
                                 ("/api/v1/logs/00000000-0000-0000-0000-000000000000", api, 404),
                                 ("/api/v1/metrics/overview", make_tenant("w", ["ingest"]).api, 403)]:
        response = client.get(path)
        assert response.status_code == status
        template = path.split("?")[0].replace("00000000-0000-0000-0000-000000000000", "{id}")
        assert _operation_response(openapi, template, status) == "ErrorEnvelope"
        assert_conforms(openapi, "ErrorEnvelope", response.json())


def test_every_read_operation_documents_the_envelope_and_parameters(openapi: dict[str, Any]) -> None:
    for path in READ_ENDPOINTS:
        operation = openapi["paths"][path]["get"]
        for status in ("400", "401", "403", "429", "503"):
            if path.endswith("{id}") and status == "400":
                continue
            assert status in operation["responses"], (path, status)
        assert {"ApiKeyAuth": []} in operation["security"] and {"BearerAuth": []} in operation["security"]
    list_params = {p["name"] for p in openapi["paths"]["/api/v1/logs"]["get"]["parameters"]}
    assert list_params >= {"environment", "status", "category", "ticket_id", "workflow_version", "resolution_status",
                           "customer_type", "workflow_error_type", "workflow_error_node", "is_system_error",
                           "start_date", "end_date", "min_execution_time", "max_execution_time", "q",
                           "ordering", "page", "page_size", "cursor"}
    assert "metrics.<key>" in openapi["paths"]["/api/v1/logs"]["get"]["description"]


# --- CORS ----------------------------------------------------------------------------------------

@override_settings(CORS_ALLOWED_ORIGINS=["https://dash.example.com"])
def test_cors_allows_only_configured_origins(alice: Tenant) -> None:
    allowed = alice.api.get("/api/v1/metrics/overview", HTTP_ORIGIN="https://dash.example.com")
    assert allowed.status_code == 200
    assert allowed["Access-Control-Allow-Origin"] == "https://dash.example.com"
    preflight = APIClient().options("/api/v1/logs", HTTP_ORIGIN="https://dash.example.com",
                                    HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
                                    HTTP_ACCESS_CONTROL_REQUEST_HEADERS="x-api-key")
    assert preflight["Access-Control-Allow-Origin"] == "https://dash.example.com"
    assert "x-api-key" in preflight["Access-Control-Allow-Headers"]
    denied = alice.api.get("/api/v1/logs", HTTP_ORIGIN="https://evil.example.com")
    assert "Access-Control-Allow-Origin" not in denied
