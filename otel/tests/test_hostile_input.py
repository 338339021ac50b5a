"""What an OTLP receiver must survive: malformed protobuf, wrong JSON types, invalid ids, huge and
compressed-huge bodies, too many spans, other content types, other tenants' trace ids. Each is
the documented 4xx (a google.rpc.Status in the request's encoding) or a partial success, never
a 5xx, and never a run stored without its spans."""
from __future__ import annotations

import gzip
import zlib
from typing import Any

import orjson
import pytest
from google.rpc.error_details_pb2 import ErrorInfo
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from conftest import Tenant, make_tenant
from logs.models import TraceLogRecord, TraceSpan, WorkflowLog
from otel.tests import bodies
from otel.tests.bodies import T0, json_span, json_traces, span, span_id, trace_id, trace_of, traces_request

pytestmark = pytest.mark.django_db
PROTOBUF = "application/x-protobuf"


def post(tenant: Tenant, body: bytes, *, path: str = "/v1/traces", content_type: str = PROTOBUF,
         **headers: Any) -> Any:
    return tenant.api.post(path, data=body, content_type=content_type, **headers)


def status_of(response: Any) -> Status:
    assert response["Content-Type"] == PROTOBUF
    return Status.FromString(response.content)


def reason_of(status: Status) -> str:
    info = ErrorInfo()
    assert status.details[0].Unpack(info)
    return info.reason


def nothing_stored() -> bool:
    return not (TraceSpan.objects.exists() or WorkflowLog.objects.exists() or TraceLogRecord.objects.exists())


@pytest.mark.parametrize("body", [b"\xff\xff\xff\xff", b"\x0a\x05abc", b"not protobuf at all" * 10,
                                  traces_request(trace_of(3))[:-7]], ids=["garbage", "short", "text", "truncated"])
def test_malformed_protobuf_is_a_400_status(alice: Tenant, body: bytes) -> None:
    response = post(alice, body)
    assert response.status_code == 400
    status = status_of(response)
    assert status.code == 3 and "not a valid OTLP protobuf message" in status.message
    assert reason_of(status) == "invalid_otlp"
    assert nothing_stored()


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field, encoded by hand."""
    def varint(n: int) -> bytes:
        out = b""
        while True:
            out += bytes([(n & 0x7F) | (0x80 if n > 0x7F else 0)])
            n >>= 7
            if not n:
                return out
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def test_protobuf_nested_deeper_than_the_parser_allows_is_a_400(alice: Tenant) -> None:
    """An attribute value nested 500 kvlists deep (no SDK can even build it: the protobuf
    library refuses such a message), encoded by hand around a valid span."""
    value = _field(1, b"leaf")  # AnyValue.string_value
    for _ in range(500):  # AnyValue.kvlist_value(6) > KeyValueList.values(1) > KeyValue{key(1), value(2)}
        value = _field(6, _field(1, _field(1, b"k") + _field(2, value)))
    deep_span = span(trace_id(), span_id(), "deep").SerializeToString() + _field(9, _field(1, b"x") + _field(2, value))
    body = _field(1, _field(2, _field(2, deep_span)))  # resource_spans > scope_spans > spans
    response = post(alice, body)
    assert response.status_code == 400 and "not a valid OTLP protobuf message" in status_of(response).message
    assert nothing_stored()


@pytest.mark.parametrize("data, where", [
    ([], "the body: expected an object"),
    ({"resourceSpans": {}}, "resourceSpans: expected an array"),
    ({"resourceSpans": [{"scopeSpans": [{"spans": "x"}]}]}, "resourceSpans[0].scopeSpans[0].spans: expected an array"),
    (json_traces([json_span("1" * 32, "2" * 16, startTimeUnixNano={"n": 1})]),
     "spans[0].startTimeUnixNano: expected an integer"),
    (json_traces([json_span("1" * 32, "2" * 16, startTimeUnixNano="12a")]), "startTimeUnixNano: expected an integer"),
    (json_traces([json_span("1" * 32, "2" * 16, traceId=12)]), "spans[0].traceId: expected a string"),
    (json_traces([json_span("1" * 32, "2" * 16, attributes=[{"key": "n", "value": {"intValue": True}}])]),
     "attributes[0].value.intValue: expected an integer"),
    (json_traces([json_span("1" * 32, "2" * 16, kind="SPAN_KIND_WHATEVER")]), "spans[0].kind: expected an integer"),
    (json_traces([json_span("1" * 32, "2" * 16, status={"code": []})]), "status.code: expected an integer"),
])
def test_json_of_the_wrong_types_is_a_400_naming_the_path(alice: Tenant, data: Any, where: str) -> None:
    # A valid group of spans beside the bad one: nothing of the request is stored.
    if isinstance(data, dict) and data.get("resourceSpans") and isinstance(data["resourceSpans"], list):
        data["resourceSpans"].append(json_traces([json_span("3" * 32, "4" * 16)])["resourceSpans"][0])
    response = post(alice, orjson.dumps(data), content_type="application/json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    answer = response.json()
    assert answer["code"] == 3 and where in answer["message"], answer["message"]
    assert answer["details"][0]["reason"] == "invalid_otlp"
    assert answer["details"][0]["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
    assert nothing_stored()


def test_invalid_hex_ids_are_rejected_span_by_span(alice: Tenant) -> None:
    good = "ab" * 16
    spans = [json_span(good, "cd" * 8),  # the root: stored
             json_span(good, "ce" * 8, "child", parent="cd" * 8, attributes=[
                 {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "7"}},
                 {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}}]),
             json_span("zz" * 16, "cf" * 8), json_span(good[:30], "d0" * 8), json_span(good, "0" * 16),
             json_span(good, "d1" * 8, parent="xyz"), json_span("0" * 32, "d2" * 8)]
    response = post(alice, orjson.dumps(json_traces(spans)), content_type="application/json")
    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "5"
    assert "span 2: traceId must be 32 hex digits" in partial["errorMessage"]
    assert "span 4: spanId is missing or all zeros" in partial["errorMessage"]
    assert TraceSpan.objects.count() == 2
    run = WorkflowLog.objects.get()
    assert (run.ticket_id, run.metrics["input_tokens"], run.metrics["llm_calls"]) == ("J-1", 7, 1)


def test_invalid_protobuf_ids_and_times_are_rejected_with_a_protobuf_partial_success(alice: Tenant) -> None:
    trace = trace_id()
    spans = [span(trace, span_id(), "ok"), span(trace, b"\x01" * 7, "short id"), span(b"\x00" * 16, span_id(), "zero"),
             span(trace, span_id(), "ends first", start=T0, duration_ms=-5), span(trace, span_id(), "no start", start=0)]
    response = post(alice, traces_request(spans))
    assert response.status_code == 200 and response["Content-Type"] == PROTOBUF
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 4
    assert "spanId must be 8 bytes, got 7" in answer.partial_success.error_message
    assert "endTimeUnixNano is before startTimeUnixNano" in answer.partial_success.error_message
    assert list(TraceSpan.objects.values_list("name", flat=True)) == ["ok"]


def test_a_full_success_answers_an_empty_response(alice: Tenant) -> None:
    response = post(alice, traces_request(trace_of(2)))
    assert response.status_code == 200 and response.content == b""  # an empty ExportTraceServiceResponse
    json_answer = post(alice, orjson.dumps(json_traces([json_span("12" * 16, "34" * 8)])), content_type="application/json")
    assert json_answer.status_code == 200 and json_answer.json() == {}


def test_ten_thousand_spans_in_one_request_are_stored(alice: Tenant) -> None:
    spans = [s for n in range(1000) for s in trace_of(10, ticket=f"bulk-{n}")]
    body = traces_request(spans)
    response = post(alice, body)
    assert response.status_code == 200 and response.content == b""
    assert TraceSpan.objects.for_client(alice.client).count() == 10_000
    assert WorkflowLog.objects.for_client(alice.client).count() == 1000
    run = WorkflowLog.objects.get(ticket_id="bulk-7")
    assert (run.metrics["llm_calls"], run.metrics["input_tokens"], run.metrics["output_tokens"]) == (9, 90, 18)


def test_more_spans_than_the_limit_is_a_413_and_stores_nothing(alice: Tenant, settings: Any) -> None:
    settings.OTLP_MAX_ITEMS = 50
    response = post(alice, traces_request(trace_of(51)))
    assert response.status_code == 413
    status = status_of(response)
    assert reason_of(status) == "too_many_items" and "at most 50 spans" in status.message
    assert nothing_stored()


def test_a_17_mib_body_is_a_413_before_it_is_read(alice: Tenant) -> None:
    body = traces_request([span(trace_id(), span_id(), "big", attributes={"blob": "x" * (17 * 1024 * 1024)})])
    response = post(alice, body)
    assert response.status_code == 413
    status = status_of(response)
    assert status.code == 8 and reason_of(status) == "payload_too_large"
    assert nothing_stored()


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_compression_bomb_is_a_413(alice: Tenant, encoding: str) -> None:
    inflated = traces_request([span(trace_id(), span_id(), "bomb", attributes={"blob": "\x00" * (64 * 1024 * 1024)})])
    body = gzip.compress(inflated) if encoding == "gzip" else zlib.compress(inflated)
    assert len(body) < 1024 * 1024
    response = post(alice, body, HTTP_CONTENT_ENCODING=encoding)
    assert response.status_code == 413 and nothing_stored()


@pytest.mark.parametrize("content_type, encoding, status_code", [
    ("text/plain", None, 415), ("application/grpc", None, 415), ("", None, 415),
    (PROTOBUF, "br", 415), (PROTOBUF, "gzip", 400),  # gzip that is not gzip
])
def test_other_content_types_and_encodings(alice: Tenant, content_type: str, encoding: str | None,
                                           status_code: int) -> None:
    headers = {"HTTP_CONTENT_ENCODING": encoding} if encoding else {}
    response = alice.api.generic("POST", "/v1/traces", traces_request(trace_of(2)), content_type=content_type,
                                 **headers)
    assert response.status_code == status_code
    assert nothing_stored()


def test_authentication_scope_and_method(alice: Tenant, anon: Any) -> None:
    body = traces_request(trace_of(2))
    response = anon.post("/v1/traces", data=body, content_type=PROTOBUF)
    assert response.status_code == 401 and status_of(response).code == 16
    reader = make_tenant("reader", scopes=["read"])
    response = post(reader, body)
    assert response.status_code == 403 and reason_of(status_of(response)) == "permission_denied"
    response = alice.api.get("/v1/traces")
    assert response.status_code == 405 and response.json()["code"] == 12
    assert nothing_stored()


def test_over_the_rate_limit_is_a_429_with_retry_after(alice: Tenant, settings: Any) -> None:
    settings.RATE_LIMIT_INGEST = "2/min"
    body = traces_request(trace_of(2))
    assert [post(alice, body).status_code for _ in range(2)] == [200, 200]
    response = post(alice, body)
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    assert reason_of(status_of(response)) == "rate_limited"


def test_another_tenants_trace_ids_never_touch_ours(alice: Tenant, bob: Tenant) -> None:
    spans = trace_of(3, ticket="ours")
    assert post(alice, traces_request(spans)).status_code == 200
    before = WorkflowLog.objects.for_client(alice.client).values().get()
    # Bob sends the same ids (a root with other attributes, an error, more children).
    forged = [span(spans[0].trace_id, spans[0].span_id, "forged root", attributes={"ticket.id": "theirs"}, error=True)]
    forged += trace_of(4, trace=spans[0].trace_id)[1:]
    assert post(bob, traces_request(forged)).status_code == 200
    assert WorkflowLog.objects.for_client(alice.client).values().get() == before
    assert TraceSpan.objects.for_client(alice.client).count() == 3
    assert WorkflowLog.objects.for_client(bob.client).get().ticket_id == "theirs"


def test_nul_characters_are_stored_as_replacement_characters(alice: Tenant) -> None:
    trace = trace_id()
    response = post(alice, traces_request([span(trace, span_id(), "na\x00me", attributes={
        "ticket.id": "T\x00-1", "k\x00ey": ["a\x00b", {"n\x00": "\x00"}]})]))
    assert response.status_code == 200
    stored = TraceSpan.objects.get()
    assert stored.name == "na\ufffdme"
    assert stored.attributes == {"ticket.id": "T\ufffd-1", "k\ufffdey": ["a\ufffdb", {"n\ufffd": "\ufffd"}]}
    assert WorkflowLog.objects.get().ticket_id == "T\ufffd-1"


def test_log_records_with_neither_a_trace_nor_a_workflow_body_are_rejected(alice: Tenant) -> None:
    trace = trace_id()
    records = [
        LogRecord(time_unix_nano=T0, body=bodies.value("just a line")),  # no trace: rejected
        LogRecord(time_unix_nano=T0, body=bodies.value({"status": "SUCCESS", "ticket_id": "W-1"})),
        LogRecord(time_unix_nano=T0, body=bodies.value({"status": "MAYBE", "ticket_id": "W-2"})),  # not our shape
        LogRecord(time_unix_nano=T0, body=bodies.value({"status": "FAILED", "ticket_id": "W-3",
                                                        "execution_time_seconds": -1})),  # our shape, invalid
        LogRecord(time_unix_nano=T0, trace_id=trace, span_id=span_id(), severity_text="ERROR",
                  body=bodies.value('{"not": "a log"}')),
        LogRecord(time_unix_nano=T0, trace_id=b"\x01" * 3, body=bodies.value("bad id")),
    ]
    response = post(alice, bodies.logs_request(records), path="/v1/logs")
    assert response.status_code == 200
    partial = ExportLogsServiceResponse.FromString(response.content).partial_success
    assert partial.rejected_log_records == 4
    assert "log record 0: no trace id, and the body is not a workflow log" in partial.error_message
    assert "log record 3: a workflow log with invalid fields (execution_time_seconds:" in partial.error_message
    assert list(WorkflowLog.objects.values_list("ticket_id", flat=True)) == ["W-1"]
    assert TraceLogRecord.objects.get().trace_id == trace.hex()
    # A retried export stores nothing twice.
    assert post(alice, bodies.logs_request(records), path="/v1/logs").status_code == 200
    assert WorkflowLog.objects.count() == 1 and TraceLogRecord.objects.count() == 1
