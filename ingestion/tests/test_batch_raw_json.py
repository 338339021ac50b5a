"""Batch logs keep their JSON objects as the text they arrived in (logs/rawjson.py): what is
stored is the same as when every value was decoded and encoded again, and hostile text gets the
same answers, now naming the field: invalid UTF-8, lone surrogates, U+0000 (replaced, as
before), numbers beyond a double's range, deep nesting, huge strings, non-English text."""
from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import Tenant
from ingestion.validation import clean_raw_log
from logs.models import WorkflowLog
from logs.rawjson import RawJson
from logs.tests.factories import log_body
from spool.tests.test_spool import database_down, drain, warm_up

pytestmark = pytest.mark.django_db
BATCH_URL = "/api/v1/logs/batch"


def post(tenant: Tenant, body: bytes) -> Any:
    return tenant.api.generic("POST", BATCH_URL, body, content_type="application/json")


def batch(*logs: dict[str, Any], ensure_ascii: bool = False) -> bytes:
    return json.dumps({"logs": list(logs)}, ensure_ascii=ensure_ascii).encode()


def with_payload(text: str, log: dict[str, Any] | None = None) -> bytes:
    """A log whose payload's JSON text is `text`, byte for byte (for values json.dumps cannot write)."""
    marker = "__PAYLOAD__"
    return batch(log or log_body(), log_body(payload=marker)).replace(b'"__PAYLOAD__"', text.encode("utf-8", "surrogatepass"))


def error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content[:400]
    body = response.json()["error"]
    assert body["code"] == code
    return body


REALISTIC = {
    "trace": {"steps": [{"node": "classify", "output": "Ελληνικά · 日本語のチケット · émoji 🚀", "ms": 12.5},
                        {"node": "reply", "output": "x" * 200_000, "tokens": 18446744073709551615}]},
    "empty": {}, "nothing": None, "list": [], "neg": -0.25, "flag": False,
    "quote\"and\\backslash": "line\nbreak\ttab",
}


@pytest.mark.parametrize("ensure_ascii", [False, True], ids=["utf8", "escaped"])
def test_json_objects_are_stored_as_sent(alice: Tenant, ensure_ascii: bool) -> None:
    # ensure_ascii: every non-ASCII character arrives as a \\u escape, which takes the decoding road.
    logs = [log_body(payload=REALISTIC, metrics={"tokens": 1234, "cost_usd": 0.0123}, metadata={"lang": "ja-JP"},
                     custom_field={"nested": ["ü", 1, None]}, ticket_id="Ünïcödé-Ticket"),
            log_body(payload={}, metrics=None, metadata=None)]
    response = post(alice, batch(*logs, ensure_ascii=ensure_ascii))
    assert response.status_code == 201, response.content[:300]
    first, second = (WorkflowLog.objects.get(pk=pk) for pk in response.json()["ids"])
    assert first.payload == REALISTIC and first.metrics == {"tokens": 1234, "cost_usd": 0.0123}
    assert first.metadata == {"lang": "ja-JP"} and first.ticket_id == "Ünïcödé-Ticket"
    assert first.extra == {"client_id": "whatever-the-client-says", "custom_field": {"nested": ["ü", 1, None]}}
    assert second.payload == {} and second.metrics == {} and second.metadata is None


def test_clean_raw_log_keeps_the_objects_as_text() -> None:
    raw = json.dumps(log_body(payload={"a": [1, 2]}, other={"b": "c"})).encode()
    import msgspec

    fields, errors = clean_raw_log(msgspec.json.decode(raw, type=dict[str, msgspec.Raw]))
    assert errors is None and fields is not None
    assert type(fields["payload"]) is RawJson and json.loads(fields["payload"]) == {"a": [1, 2]}
    assert type(fields["extra"]) is RawJson and json.loads(fields["extra"]) == {
        "client_id": "whatever-the-client-says", "other": {"b": "c"}}


@pytest.mark.parametrize("payload", ["[1, 2]", '"text"', "42"])
def test_a_payload_that_is_not_an_object_is_that_logs_error(alice: Tenant, payload: str) -> None:
    response = post(alice, with_payload(payload))
    assert response.status_code == 207, response.content[:300]
    results = response.json()["results"]
    assert results[0]["status"] == "created" and results[1]["errors"] == {"payload": ["Must be a JSON object."]}


@pytest.mark.parametrize("bad", [b"\xff\xfe", b"\xed\xa0\x80", b"\xc3"], ids=["invalid", "cesu8-surrogate", "truncated"])
def test_invalid_utf8_in_a_payload_is_400_naming_it(alice: Tenant, bad: bytes) -> None:
    body = batch(log_body(), log_body(payload={"note": "__BAD__"})).replace(b"__BAD__", bad)
    details = error(post(alice, body), 400, "invalid_json")["details"]
    assert list(details) == ["logs[1].payload"]
    assert WorkflowLog.objects.count() == 0


@pytest.mark.parametrize("text", ['{"note": "\\ud800"}', '{"note": "a\\udfffb"}', '{"\\udc00key": 1}'],
                         ids=["high", "low", "in-a-key"])
def test_a_lone_surrogate_is_400_naming_the_field(alice: Tenant, text: str) -> None:
    details = error(post(alice, with_payload(text)), 400, "invalid_json")["details"]
    assert list(details) == ["logs[1].payload"]
    assert WorkflowLog.objects.count() == 0


def test_an_escaped_surrogate_pair_is_one_character(alice: Tenant) -> None:
    response = post(alice, with_payload('{"emoji": "\\ud83d\\ude80"}'))
    assert response.status_code == 201
    assert WorkflowLog.objects.get(pk=response.json()["ids"][1]).payload == {"emoji": "🚀"}


def test_nul_in_keys_and_values_of_the_json_is_replaced_and_recorded(alice: Tenant) -> None:
    response = post(alice, with_payload('{"a\\u0000b": "c\\u0000d", "deep": [{"x": "\\u0000"}]}'))
    assert response.status_code == 201, response.content[:300]
    stored = WorkflowLog.objects.get(pk=response.json()["ids"][1])
    assert stored.payload == {"a\ufffdb": "c\ufffdd", "deep": [{"x": "\ufffd"}]}
    # The key's path, its value's path (the same), the nested value's: as for every body with a NUL.
    assert stored.extra["_sanitized"]["nul_replaced_at"] == ["payload.a\ufffdb", "payload.a\ufffdb",
                                                             "payload.deep[0].x"]


@pytest.mark.parametrize("number", ["1e400", "-1E+309", "1.5e999", "9" * 400])
@pytest.mark.parametrize("scrubbing", [True, False], ids=["scrubbing", "no-scrubbing"])
def test_a_number_beyond_a_double_is_400_naming_the_field(alice: Tenant, settings: Any, number: str,
                                                          scrubbing: bool) -> None:
    # orjson, which every reader of a stored log uses, refuses them; jsonb would store them.
    settings.SCRUBBING_ENABLED = scrubbing
    details = error(post(alice, with_payload('{"big": %s}' % number)), 400, "invalid_json")["details"]
    assert list(details) == ["logs[1].payload"]
    assert WorkflowLog.objects.count() == 0


def test_a_top_level_number_beyond_a_double_is_that_logs_error(alice: Tenant) -> None:
    body = batch(log_body(), log_body(execution_time_seconds=1.0)).replace(b'"execution_time_seconds": 1.0',
                                                                           b'"execution_time_seconds": 1e400')
    response = post(alice, body)
    assert response.status_code == 207
    assert list(response.json()["results"][1]["errors"]) == ["execution_time_seconds"]


@pytest.mark.parametrize("number", ["1e300", "12345678901234567890123", "1.0E-400", "0.000001"])
def test_large_but_representable_numbers_are_stored(alice: Tenant, number: str) -> None:
    response = post(alice, with_payload('{"n": %s}' % number))
    assert response.status_code == 201, response.content[:300]
    # jsonb keeps numbers as numeric; a payload that took the decoding road holds orjson's double.
    assert float(WorkflowLog.objects.get(pk=response.json()["ids"][1]).payload["n"]) == pytest.approx(float(number))


def test_deep_nesting_in_a_payload_is_400(alice: Tenant, settings: Any) -> None:
    depth = settings.MAX_JSON_DEPTH
    error(post(alice, with_payload("[" * depth + "]" * depth)), 400, "json_too_deep")
    # Beyond orjson's own limit (1,024) the parser's message answers, as for a single log.
    error(post(alice, with_payload("[" * 100_000 + "]" * 100_000)), 400, "invalid_json")
    assert post(alice, with_payload('{"a": ' + "[" * (depth - 6) + "]" * (depth - 6) + "}")).status_code == 201


def test_secrets_in_a_raw_payload_are_scrubbed(alice: Tenant) -> None:
    payload = {"note": "mail jane.doe@example.com", "api_key": "sk-proj-abcdefghijklmnopqrstuvwxyz012345"}
    response = post(alice, batch(log_body(payload=payload), log_body()))
    assert response.status_code == 201
    stored = WorkflowLog.objects.get(pk=response.json()["ids"][0])
    assert stored.payload == {"note": "mail [redacted:email]", "api_key": "[redacted:api_key]"}
    assert stored.scrubbed == {"email": 1, "key:api_key": 1}


def test_a_secret_behind_escapes_is_scrubbed(alice: Tenant) -> None:
    # "api\\u005fkey" is api_key and "\\u0040" an @: a scan of the raw text alone would miss both.
    response = post(alice, with_payload('{"api\\u005fkey": "secret-value-123", "to": "jane\\u0040example.com"}'))
    assert response.status_code == 201
    stored = WorkflowLog.objects.get(pk=response.json()["ids"][1])
    assert stored.payload == {"api_key": "[redacted:api_key]", "to": "[redacted:email]"}


def test_raw_json_goes_to_the_spool_and_back_unchanged(alice: Tenant) -> None:
    warm_up(alice)
    logs = [log_body(payload=REALISTIC, metrics={"tokens": 7}, extra_field="Ελληνικά"), log_body()]
    with database_down():
        response = post(alice, batch(*logs))
    assert response.status_code == 202 and response.json()["spooled"] is True
    drain()
    stored = WorkflowLog.objects.get(pk=response.json()["ids"][0])
    assert stored.payload == REALISTIC and stored.metrics == {"tokens": 7}
    assert stored.extra.pop("_spooled")["accepted_at"]  # the spool's own mark, as for every spooled log
    assert stored.extra == {"client_id": "whatever-the-client-says", "extra_field": "Ελληνικά"}
