"""Secrets and personal data never stored, over OpenTelemetry too: a span's name, status
message, attributes and events and an attached log record's body and attributes are scrubbed
by the tenant's rules before they are stored; a record that is a workflow log is scrubbed once,
as a log (its counts say so)."""
from __future__ import annotations

from typing import Any

import orjson
import pytest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from conftest import Tenant
from logs.models import TraceLogRecord, TraceSpan, WorkflowLog
from otel.tests.bodies import T0, attrs, logs_request, span, span_id, trace_id, traces_request, value
from scrubbing.models import ScrubbingSettings

pytestmark = pytest.mark.django_db
PROTOBUF = "application/x-protobuf"
EMAIL = "jane.doe@example.com"
BEARER = "Bearer 9f8e7d6c5b4a3f2e1d0c"
CARD = "4111 1111 1111 1111"


def post(tenant: Tenant, body: bytes, path: str = "/v1/traces") -> Any:
    return tenant.api.post(path, data=body, content_type=PROTOBUF)


def test_spans_are_scrubbed_before_they_are_stored(alice: Tenant) -> None:
    trace, root = trace_id(), span_id()
    failing = span(trace, span_id(), f"lookup {EMAIL}", parent=root, error=True, attributes={
        "http.request.header.authorization": "Bearer abc", "crm.query": f"customer {EMAIL} paid with {CARD}",
        "gen_ai.usage.input_tokens": 12, "nested": {"note": f"call +44 20 7946 0958, {BEARER}"}})
    failing.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message=f"HTTP 401: {BEARER}"))
    event = failing.events.add(time_unix_nano=T0 + 1, name="exception")
    event.attributes.extend(attrs({"exception.type": "AuthError", "exception.message": f"token for {EMAIL} refused"}))
    request = traces_request([span(trace, root, "handle ticket"), failing],
                             resource={"service.name": "agent", "owner.email": EMAIL})
    assert post(alice, request).status_code == 200

    stored = TraceSpan.objects.for_client(alice.client).get(name__startswith="lookup")
    text = orjson.dumps([stored.name, stored.status_message, stored.attributes, stored.events, stored.error,
                         stored.resource]).decode()
    for secret in (EMAIL, "9f8e7d6c5b4a3f2e1d0c", "4111", "7946", "Bearer abc"):
        assert secret not in text, secret
    assert stored.name == "lookup [redacted:email]"
    assert stored.status_message == "HTTP 401: Bearer [redacted:bearer]"
    assert stored.attributes["http.request.header.authorization"] == "[redacted:authorization]"
    assert stored.attributes["gen_ai.usage.input_tokens"] == 12 and stored.input_tokens == 12
    assert stored.error["message"] == "token for [redacted:email] refused"
    run = WorkflowLog.objects.for_client(alice.client).get(event_id=f"otel:{trace.hex()}")
    assert EMAIL not in orjson.dumps([run.workflow_error, run.payload]).decode()


def test_attached_records_by_the_tenants_rules_and_workflow_logs_counted_once(alice: Tenant) -> None:
    ScrubbingSettings.objects.create(client=alice.client, custom_patterns=[{"name": "order", "pattern": "ORD-[0-9]{6}"}])
    trace = trace_id()
    attached = LogRecord(time_unix_nano=T0, trace_id=trace, span_id=span_id(), severity_text="INFO",
                         body=value(f"refund ORD-123456 for {EMAIL}"), attributes=attrs({"card": CARD}))
    workflow = LogRecord(time_unix_nano=T0, body=value(orjson.dumps({
        "ticket_id": "W-9", "status": "SUCCESS", "payload": {"final_response": f"mailed {EMAIL}"}}).decode()))
    assert post(alice, logs_request([attached, workflow]), "/v1/logs").status_code == 200

    record = TraceLogRecord.objects.for_client(alice.client).get()
    assert record.body == f"refund [redacted:order] for [redacted:email]"
    assert record.attributes == {"card": "[redacted:card]"}
    log = WorkflowLog.objects.for_client(alice.client).get(ticket_id="W-9")
    assert log.payload["final_response"] == "mailed [redacted:email]"
    assert log.scrubbed == {"email": 1}


def test_scrubbing_off_stores_spans_as_sent(alice: Tenant, settings: Any) -> None:
    settings.SCRUBBING_ENABLED = False
    trace = trace_id()
    assert post(alice, traces_request([span(trace, span_id(), f"lookup {EMAIL}")])).status_code == 200
    assert TraceSpan.objects.for_client(alice.client).get().name == f"lookup {EMAIL}"
