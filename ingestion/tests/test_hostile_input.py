"""Hostile input: every payload is a clear 4xx in the envelope or a faithfully stored log, never a
5xx, and the service keeps answering afterwards. (More cases live in test_ingest.py: NaN and
Infinity, nesting 100 / 2,000 / 100,000 deep, the gzip bomb, NUL replacement, lone surrogates,
non-object bodies, mass assignment.)"""
from __future__ import annotations

import gzip
import io
import json
import string
from typing import Any

import pytest
from django.test.client import ClientHandler
from django.test import override_settings

from conftest import Tenant
from logs.models import WorkflowLog
from logs.tests.factories import log_body

pytestmark = pytest.mark.django_db
URL = "/api/v1/logs"
BATCH_URL = "/api/v1/logs/batch"


def post_raw(tenant: Tenant, body: bytes, url: str = URL, content_type: str = "application/json", **extra: Any) -> Any:
    return tenant.api.generic("POST", url, body, content_type=content_type, **extra)


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    if code:
        assert error["code"] == code
    return error


@pytest.fixture(autouse=True)
def still_answering(alice: Tenant, settings: Any) -> Any:
    """After each hostile request, an ordinary log is still accepted."""
    # These tests are about input handling, not the database budget: a 1M-element array takes
    # longer than the 1.5 s ingestion timeout on a loaded CI machine and would be (correctly)
    # spooled with a 202 instead of stored with a 201.
    settings.INGEST_DB_TIMEOUT_MS = 60_000
    yield
    assert alice.api.post(URL, log_body(), format="json").status_code == 201


def body_with(raw_metadata: str) -> bytes:
    return json.dumps(log_body()).replace('"metadata": {', f'"metadata": {{"x": {raw_metadata}, ', 1).encode()


# --- encodings ------------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    b'{"environment": "production", "status": "SUCCESS", "category": "\xff\xfe"}',  # invalid UTF-8
    b'{"category": "\xed\xa0\x80"}',  # an encoded surrogate (CESU-8)
    '{"status": "SUCCESS"}'.encode("utf-16"),  # UTF-16 with its BOM
    '{"status": "SUCCESS"}'.encode("utf-16-le"),  # UTF-16 without a BOM
    b"\xef\xbb\xbf" + json.dumps(log_body()).encode(),  # UTF-8 BOM
])
def test_bodies_that_are_not_plain_utf8_are_400(alice: Tenant, body: bytes) -> None:
    assert_error(post_raw(alice, body), 400, "invalid_json")


def test_utf16_declared_charset_is_415(alice: Tenant) -> None:
    assert_error(post_raw(alice, b"{}", content_type="application/json; charset=utf-16"), 415)


# --- sizes ------------------------------------------------------------------------------------------

def test_one_mebibyte_plus_one_byte_is_413_and_exactly_one_mebibyte_is_not(alice: Tenant, settings: Any) -> None:
    limit = settings.MAX_LOG_BYTES
    assert limit == 1024 * 1024
    base = json.dumps(log_body(metadata={"pad": ""})).encode()
    pad = limit - len(base)
    exact = base.replace(b'"pad": ""', b'"pad": "' + b"x" * pad + b'"')
    assert len(exact) == limit
    assert post_raw(alice, exact).status_code == 201
    over = exact.replace(b'"pad": "', b'"pad": "x', 1)
    assert len(over) == limit + 1
    assert assert_error(post_raw(alice, over), 413, "payload_too_large")["details"]["limit_bytes"] == limit


def test_a_declared_100_mib_body_is_413_before_it_is_read(alice: Tenant) -> None:
    response = post_raw(alice, b"{}", CONTENT_LENGTH=str(100 * 1024 * 1024))
    assert_error(response, 413, "payload_too_large")


def test_an_actual_100_mib_batch_body_is_413(alice: Tenant) -> None:
    body = b'{"logs": [' + b" " * (100 * 1024 * 1024) + b"]}"
    assert_error(post_raw(alice, body, url=BATCH_URL), 413, "payload_too_large")


def _wsgi_post(tenant: Tenant, body: bytes, declared: str | None) -> tuple[str, bytes]:
    """Through Django's WSGI request handling with a raw input stream (the test client always sends
    an honest Content-Length); ClientHandler is WSGIHandler minus closing the test's connection."""
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": URL, "SERVER_NAME": "testserver", "SERVER_PORT": "80",
        "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body), "wsgi.errors": io.StringIO(),
        "CONTENT_TYPE": "application/json", "HTTP_X_API_KEY": tenant.key,
    }
    if declared is not None:
        environ["CONTENT_LENGTH"] = declared
    response = ClientHandler()(environ)
    return str(response.status_code), response.content


def test_content_length_longer_than_the_body_is_400(alice: Tenant) -> None:
    status, body = _wsgi_post(alice, json.dumps(log_body()).encode(), declared="100000")
    assert status.startswith("400") and json.loads(body)["error"]["message"].startswith("The request body is shorter")


@pytest.mark.parametrize("declared", ["abc", "-1", "1e3"])
def test_malformed_content_length_is_400(alice: Tenant, declared: str) -> None:
    status, body = _wsgi_post(alice, b"{}", declared=declared)
    assert status.startswith("400"), body
    assert json.loads(body)["error"]["code"] == "bad_request"


def test_chunked_body_without_length_is_411(alice: Tenant) -> None:
    status, body = _wsgi_post(alice, json.dumps(log_body()).encode(), declared=None)
    assert status.startswith("411") and json.loads(body)["error"]["code"] == "length_required"


def test_100000_key_object_within_the_limit_is_stored(alice: Tenant) -> None:
    alphabet = string.ascii_letters + string.digits
    keys = [a + b + c for a in alphabet for b in alphabet for c in alphabet][:100_000]
    wide = "{" + ",".join(f'"{k}":0' for k in keys) + "}"
    body = body_with(wide)
    assert len(body) < 1024 * 1024
    response = post_raw(alice, body)
    assert response.status_code == 201
    assert len(WorkflowLog.objects.get(pk=response.json()["id"]).metadata["x"]) == 100_000


def test_million_element_array_within_the_batch_limit_is_stored(alice: Tenant) -> None:
    log = json.dumps(log_body()).replace('"metadata": {', '"metadata": {"x": [' + ",".join(["0"] * 1_000_000) + "], ", 1)
    body = ('{"logs": [' + log + "]}").encode()
    assert len(body) < 10 * 1024 * 1024
    response = post_raw(alice, body, url=BATCH_URL)
    assert response.status_code == 201
    assert len(WorkflowLog.objects.get(pk=response.json()["ids"][0]).metadata["x"]) == 1_000_000


def test_gzip_body_inflating_past_the_limit_is_413_even_in_batches(alice: Tenant) -> None:
    bomb = gzip.compress(b'{"logs": ["' + b"0" * (20 * 1024 * 1024) + b'"]}')
    assert_error(post_raw(alice, bomb, url=BATCH_URL, HTTP_CONTENT_ENCODING="gzip"), 413, "payload_too_large")


def test_corrupt_gzip_is_400(alice: Tenant) -> None:
    assert_error(post_raw(alice, b"\x1f\x8b not gzip at all", HTTP_CONTENT_ENCODING="gzip"), 400, "bad_request")


# --- numbers ------------------------------------------------------------------------------------------

def test_two_to_the_63_is_stored_exactly(alice: Tenant) -> None:
    response = post_raw(alice, body_with(str(2**63)))
    assert response.status_code == 201
    assert WorkflowLog.objects.get(pk=response.json()["id"]).metadata["x"] == 2**63


@pytest.mark.parametrize("digits", [4300, 4301, 100_000])
def test_huge_integers_are_400_not_a_crash(alice: Tenant, digits: int) -> None:
    # beyond the double range: orjson refuses them (Python's own int parser would hit its
    # 4,300-digit limit with a ValueError, the classic 500)
    assert_error(post_raw(alice, body_with("9" * digits)), 400, "invalid_json")


@pytest.mark.parametrize("literal", ["NaN", "-Infinity", "1e999", "-1e999"])
def test_non_finite_numbers_anywhere_are_400(alice: Tenant, literal: str) -> None:
    assert_error(post_raw(alice, body_with(literal)), 400, "invalid_json")


# --- timestamps -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, stored", [
    ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00+00:00"),
    ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59+00:00"),
    ("2025-01-01T12:00:00", "2025-01-01T12:00:00+00:00"),
    ("2025-01-01T12:00:00+05:30", "2025-01-01T06:30:00+00:00"),
    ("2025-01-01", "2025-01-01T00:00:00+00:00"),
])
def test_extreme_and_offset_timestamps_are_stored_in_utc(alice: Tenant, value: str, stored: str) -> None:
    response = alice.api.post(URL, log_body(executed_at=value), format="json")
    assert response.status_code == 201
    assert WorkflowLog.objects.get(pk=response.json()["id"]).executed_at.isoformat() == stored


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2025-02-30T00:00:00Z",
                                   "2025-13-01", "10000-01-01T00:00:00Z", "2025-01-01T25:00:00Z", "x" * 100])
def test_impossible_timestamps_are_400_naming_the_field(alice: Tenant, value: str) -> None:
    error = assert_error(alice.api.post(URL, log_body(executed_at=value), format="json"), 400, "validation_error")
    assert "executed_at" in error["details"]


@override_settings(NAIVE_TIMESTAMP_TIMEZONE="Asia/Tokyo")
def test_year_one_naive_in_a_zone_ahead_of_utc_is_400(alice: Tenant) -> None:
    error = assert_error(alice.api.post(URL, log_body(executed_at="0001-01-01T00:00:00"), format="json"), 400)
    assert "executed_at" in error["details"]


# --- structure ----------------------------------------------------------------------------------------------

def test_duplicate_keys_last_one_wins(alice: Tenant) -> None:
    body = json.dumps(log_body(status="FAILED"))[:-1] + ', "status": "SUCCESS"}'
    response = post_raw(alice, body.encode())
    assert response.status_code == 201
    assert WorkflowLog.objects.get(pk=response.json()["id"]).status == "SUCCESS"


@pytest.mark.parametrize("body", [b"[]", b"null", b'"str"', b"true", b"1"])
def test_non_object_batch_bodies_are_400(alice: Tenant, body: bytes) -> None:
    assert_error(post_raw(alice, body, url=BATCH_URL), 400)


@pytest.mark.parametrize("item", [None, [], "str", 1, True])
def test_non_object_batch_items_are_per_item_errors(alice: Tenant, item: Any) -> None:
    response = alice.api.post(BATCH_URL, {"logs": [log_body(), item]}, format="json")
    assert response.status_code == 207
    assert response.json()["results"][1]["status"] == "invalid"


def test_mass_assignment_fields_change_nothing(alice: Tenant, bob: Tenant) -> None:
    body = log_body(client=bob.client.pk, client_id=bob.client.pk, id="00000000-0000-7000-8000-000000000000",
                    created_at="1999-01-01T00:00:00Z", api_key=bob.key, duplicate=True, spooled=True)
    response = alice.api.post(URL, body, format="json")
    assert response.status_code == 201
    data = response.json()
    assert data["duplicate"] is False and data["spooled"] is False
    row = WorkflowLog.objects.get(pk=data["id"])
    assert row.client_id == alice.client.pk and str(row.id) != body["id"] and row.created_at.year > 2000
    assert row.extra["api_key"] == "[redacted:api_key]"


def test_nul_in_a_batch_is_replaced_and_recorded_per_log(alice: Tenant) -> None:
    response = alice.api.post(BATCH_URL, {"logs": [log_body(ticket_id="a\u0000b"), log_body()]}, format="json")
    assert response.status_code == 201
    first = WorkflowLog.objects.get(pk=response.json()["ids"][0])
    assert first.ticket_id == "a\ufffdb" and first.extra["_sanitized"]["nul_replaced_at"] == ["ticket_id"]


# --- headers and keys ----------------------------------------------------------------------------------------

def test_two_api_key_headers_are_401(alice: Tenant) -> None:
    # WSGI joins repeated headers with a comma; a key never contains one.
    alice.api.credentials(HTTP_X_API_KEY=f"{alice.key},{alice.key}")
    assert_error(alice.api.post(URL, log_body(), format="json"), 401, "authentication_failed")
    alice.api.credentials(HTTP_X_API_KEY=alice.key)


@pytest.mark.parametrize("padding", [" ", "\t", "  \t "])
def test_key_with_surrounding_whitespace_is_accepted(alice: Tenant, padding: str) -> None:
    alice.api.credentials(HTTP_X_API_KEY=padding + alice.key + padding)
    assert alice.api.post(URL, log_body(), format="json").status_code == 201
    alice.api.credentials(HTTP_X_API_KEY=alice.key)


@pytest.mark.parametrize("header", ["x" * 100_000, "clk_" + "a" * 100_000, "\u202eclk_x", "clk_abc\x00def"])
def test_hostile_key_headers_are_401(alice: Tenant, header: str) -> None:
    alice.api.credentials(HTTP_X_API_KEY=header)
    assert_error(alice.api.post(URL, log_body(), format="json"), 401)
    alice.api.credentials(HTTP_X_API_KEY=alice.key)


def test_long_idempotency_key_is_400(alice: Tenant) -> None:
    response = alice.api.post(URL, log_body(), format="json", HTTP_IDEMPOTENCY_KEY="k" * 100_000)
    assert_error(response, 400, "validation_error")


def test_rtl_ansi_and_script_are_stored_verbatim(alice: Tenant) -> None:
    hostile = "\u202egnp.exe <script>alert(1)</script> \x1b[2J\x1b[31mred\x07 \u200b\ufeff"
    response = alice.api.post(URL, log_body(category=hostile[:200], workflow_error=hostile,
                                            metadata={hostile: hostile}), format="json")
    assert response.status_code == 201
    row = WorkflowLog.objects.get(pk=response.json()["id"])
    assert row.workflow_error == hostile and row.metadata == {hostile: hostile}
    assert response.json()["workflow_error"] == hostile  # JSON-escaped on the wire, never interpreted
