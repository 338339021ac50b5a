"""The real OpenTelemetry Python SDK and its OTLP/HTTP exporters (protobuf, gzip, deflate, JSON)
send to a live test server; what a user then sees through our read API is checked against what
the SDK recorded."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from conftest import Tenant
from logs.models import TraceSpan, WorkflowLog
from otel.tests.helpers import RESOURCE, agent_run, span_exporter, tracer_provider

pytestmark = pytest.mark.django_db(transaction=True)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
RUN_FIELDS = ("event_id", "environment", "workflow_version", "ticket_id", "executed_at", "execution_time_seconds",
              "status", "category", "resolution_status", "customer_type", "workflow_error", "workflow_error_type",
              "workflow_error_node", "metrics", "payload", "metadata")


def recorded(**kwargs: Any) -> list[ReadableSpan]:
    """The spans of one agent run, as the SDK hands them to an exporter (in the order they end)."""
    memory = InMemorySpanExporter()
    with tracer_provider(memory, batch=False) as provider:
        agent_run(provider, **kwargs)
    return list(memory.get_finished_spans())


def the_run(tenant: Tenant, ticket: str = "T-4711") -> dict[str, Any]:
    listing = tenant.api.get("/api/v1/logs", {"ticket_id": ticket}).json()
    assert listing["pagination"]["total"] == 1, listing
    return listing["data"][0]


def run_row(tenant: Tenant) -> dict[str, Any]:
    (row,) = WorkflowLog.objects.for_client(tenant.client).values(*RUN_FIELDS)
    return row


@pytest.mark.parametrize("encoding, compression", [("protobuf", None), ("protobuf", "gzip"), ("protobuf", "deflate"),
                                                   ("json", None)])
def test_an_instrumented_agent_run_is_listed_with_its_status_time_tokens_and_error(
        live_server: Any, alice: Tenant, encoding: str, compression: str | None) -> None:
    exporter = span_exporter(live_server.url, alice.key, encoding=encoding, compression=compression)
    with tracer_provider(exporter) as provider:
        trace_id = agent_run(provider)
        assert provider.force_flush()

    run = the_run(alice)
    root = TraceSpan.objects.for_client(alice.client).get(trace_id=trace_id, parent_span_id=None)
    assert run["status"] == "FAILED"  # the root span's status ERROR
    assert run["execution_time_seconds"] == (root.end_ns - root.start_ns) / 1e9
    executed_at = dt.datetime.fromisoformat(run["executed_at"].replace("Z", "+00:00"))
    assert executed_at == EPOCH + dt.timedelta(microseconds=root.start_ns // 1000)
    assert (run["environment"], run["workflow_version"], run["category"], run["customer_type"]) == \
        ("staging", "v2.3.1", "billing_issue", "VIP")
    assert run["workflow_error"] == "Refund limit exceeded for ticket T-4711"
    assert run["workflow_error_type"] == "otel.tests.helpers.Boom"
    assert run["workflow_error_node"] == "chat gpt-4o-mini"  # where it was raised, not the root
    metrics = run["metrics"]
    assert (metrics["input_tokens"], metrics["output_tokens"], metrics["total_tokens"]) == (1500, 170, 1670)
    assert (metrics["llm_calls"], metrics["tool_calls"], metrics["spans"], metrics["failed_spans"]) == (2, 1, 4, 2)
    assert metrics["models"] == ["gpt-4o-2024-08-06", "gpt-4o-mini"]
    assert metrics["overall_confidence"] == 0.82  # the root's workflow.metrics.overall_confidence
    assert "cost" not in metrics  # no prices configured

    trace = alice.api.get(f"/api/v1/logs/{run['id']}/trace").json()
    assert trace["trace_id"] == trace_id and not trace["truncated"]
    names = {s["span_id"]: s["name"] for s in trace["spans"]}
    tree = sorted((names.get(s["parent_span_id"], ""), s["name"]) for s in trace["spans"])
    assert tree == [("", "handle ticket"), ("handle ticket", "chat gpt-4o"), ("handle ticket", "chat gpt-4o-mini"),
                    ("handle ticket", "execute_tool crm_lookup")]
    first = trace["spans"][0]
    assert first["name"] == "handle ticket" and first["offset_ms"] == 0
    assert first["duration_ms"] == pytest.approx(run["execution_time_seconds"] * 1000, abs=0.001)
    chat = next(s for s in trace["spans"] if s["name"] == "chat gpt-4o")
    assert (chat["operation"], chat["model"], chat["input_tokens"], chat["output_tokens"]) == \
        ("llm", "gpt-4o-2024-08-06", 1200, 150)
    failing = next(s for s in trace["spans"] if s["name"] == "chat gpt-4o-mini")
    assert failing["status_code"] == 2 and failing["events"][0]["name"] == "exception"
    assert failing["events"][0]["attributes"]["exception.type"] == "otel.tests.helpers.Boom"
    assert trace["resource"]["service.name"] == "support-agent"


def test_x_api_key_header_works_and_a_wrong_key_stores_nothing(live_server: Any, alice: Tenant) -> None:
    with tracer_provider(span_exporter(live_server.url, alice.key, header="x-api-key")) as provider:
        agent_run(provider, ticket="T-1", fail=False)
        assert provider.force_flush()
    assert the_run(alice, "T-1")["status"] == "SUCCESS"
    exporter = span_exporter(live_server.url, alice.key[:-4] + "AAAA")
    assert exporter.export(recorded(ticket="T-2")) is SpanExportResult.FAILURE  # 401: not retried
    assert not WorkflowLog.objects.filter(ticket_id="T-2").exists()
    assert not TraceSpan.objects.exclude(trace_id=WorkflowLog.objects.get().event_id[5:]).exists()


def test_a_reexport_changes_nothing(live_server: Any, alice: Tenant) -> None:
    spans = recorded()
    exporter = span_exporter(live_server.url, alice.key)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    before, created = run_row(alice), WorkflowLog.objects.get().created_at
    stored = list(TraceSpan.objects.values_list("span_id", "received_at").order_by("span_id"))
    for encoding in ("protobuf", "json"):
        assert span_exporter(live_server.url, alice.key, encoding=encoding).export(spans) is SpanExportResult.SUCCESS
    assert run_row(alice) == before and WorkflowLog.objects.get().created_at == created
    assert list(TraceSpan.objects.values_list("span_id", "received_at").order_by("span_id")) == stored


def test_spans_split_across_exports_in_reverse_order_give_the_same_run(
        live_server: Any, alice: Tenant, bob: Tenant) -> None:
    """Alice's exporter sends the root first, then the children newest first, one per request
    (the run exists from the root on and is updated by each child); Bob's sends them in one
    export. Same spans, same trace id, two tenants: two runs, equal field for field, and
    neither sees the other's spans."""
    spans = recorded()
    alice_exporter = span_exporter(live_server.url, alice.key)
    for span in reversed(spans):  # the root ends last, so it is first here
        assert alice_exporter.export([span]) is SpanExportResult.SUCCESS
    assert span_exporter(live_server.url, bob.key, encoding="json").export(spans) is SpanExportResult.SUCCESS

    alice_run, bob_run = run_row(alice), run_row(bob)
    assert alice_run == bob_run
    assert alice_run["metrics"]["input_tokens"] == 1500 and alice_run["workflow_error_node"] == "chat gpt-4o-mini"
    assert TraceSpan.objects.for_client(alice.client).count() == TraceSpan.objects.for_client(bob.client).count() == 4
    bob_id = bob.api.get("/api/v1/logs").json()["data"][0]["id"]
    assert alice.api.get(f"/api/v1/logs/{bob_id}/trace").status_code == 404
    assert len(bob.api.get(f"/api/v1/logs/{bob_id}/trace").json()["spans"]) == 4


def test_children_that_arrive_before_their_root_wait_for_it(live_server: Any, alice: Tenant) -> None:
    spans = recorded(fail=False)
    exporter = span_exporter(live_server.url, alice.key)
    assert exporter.export(spans[:-1]) is SpanExportResult.SUCCESS  # every child, no root
    assert not WorkflowLog.objects.exists() and TraceSpan.objects.count() == 3
    assert exporter.export(spans[-1:]) is SpanExportResult.SUCCESS
    run = the_run(alice)
    assert run["status"] == "SUCCESS" and run["metrics"]["input_tokens"] == 1500 and run["workflow_error"] is None


def test_otlp_logs_become_workflow_logs_or_events_of_their_trace(live_server: Any, alice: Tenant) -> None:
    provider = LoggerProvider(resource=Resource.create(RESOURCE))
    provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter(
        endpoint=f"{live_server.url}/v1/logs", headers={"Authorization": f"Bearer {alice.key}"})))
    try:
        # A workflow log in our shape: the record's body is the object (a map in OTLP).
        provider.get_logger("workflow").emit(
            body={"ticket_id": "T-9", "status": "partial", "category": "refund", "execution_time_seconds": 2.5,
                  "metrics": {"overall_confidence": 0.4}}, severity_text="WARN", severity_number=SeverityNumber.WARN)
        # Inside an exported trace: an event of that trace's run.
        exporter = span_exporter(live_server.url, alice.key)
        with tracer_provider(exporter) as tracing:
            tracer = tracing.get_tracer("agent")
            with tracer.start_as_current_span("handle ticket", attributes={"ticket.id": "T-10"}):
                provider.get_logger("agent").emit(body="Looked up the customer's orders", severity_text="INFO",
                                                  attributes={"orders": 3}, event_name="agent.step")
            assert tracing.force_flush()
        assert provider.force_flush()
    finally:
        provider.shutdown()

    log = the_run(alice, "T-9")
    assert (log["status"], log["category"], log["environment"], log["execution_time_seconds"]) == \
        ("PARTIAL", "refund", "staging", 2.5)
    detail = alice.api.get(f"/api/v1/logs/{log['id']}").json()
    assert detail["extra"]["_otel"]["severity_text"] == "WARN"
    assert detail["event_id"].startswith("otel-log:")
    run = the_run(alice, "T-10")
    trace = alice.api.get(f"/api/v1/logs/{run['id']}/trace").json()
    (record,) = trace["log_records"]
    assert (record["body"], record["event_name"], record["attributes"], record["severity_text"]) == \
        ("Looked up the customer's orders", "agent.step", {"orders": 3}, "INFO")
    assert record["span_id"] == trace["spans"][0]["span_id"]


@pytest.mark.parametrize("protocol, headers", [("http/protobuf", "authorization=Bearer%20{key}"),
                                               ("http/json", "x-api-key={key}")])
def test_the_readmes_three_variables_are_all_an_exporter_needs(live_server: Any, alice: Tenant, monkeypatch: Any,
                                                               protocol: str, headers: str) -> None:
    """OTEL_EXPORTER_OTLP_ENDPOINT (the base URL: the exporter appends /v1/traces),
    OTEL_EXPORTER_OTLP_HEADERS (URL-encoded, as the specification writes it) and the protocol."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", live_server.url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", headers.format(key=alice.key))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter  # type: ignore[assignment]
    with tracer_provider(OTLPSpanExporter()) as provider:
        agent_run(provider, ticket="ENV-1", fail=False)
        assert provider.force_flush()
    assert the_run(alice, "ENV-1")["metrics"]["total_tokens"] == 1670


def test_exports_of_one_trace_handled_at_the_same_moment_miss_nothing(live_server: Any, alice: Tenant) -> None:
    """The root in one export and its children in another, sent at once from two threads, for
    20 traces: the live server handles them concurrently, and every run ends up with all its
    spans' tokens (the exports of one trace are serialised by its lock, so neither derivation
    can miss the other's spans)."""
    import threading

    from otel.tests.bodies import trace_of, traces_request

    traces = [trace_of(6, ticket=f"C-{n}") for n in range(20)]
    exporter_bodies = [(traces_request(spans[:1]), traces_request(spans[1:])) for spans in traces]

    def send(body: bytes) -> None:
        import urllib.request

        request = urllib.request.Request(f"{live_server.url}/v1/traces", data=body, method="POST", headers={
            "Content-Type": "application/x-protobuf", "Authorization": f"Bearer {alice.key}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200

    for root_body, children_body in exporter_bodies:
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=lambda b=body: (barrier.wait(), send(b)))
                   for body in (root_body, children_body)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    runs = {log.ticket_id: log.metrics for log in WorkflowLog.objects.for_client(alice.client)}
    assert len(runs) == 20
    assert {ticket: (m["llm_calls"], m["input_tokens"], m["spans"]) for ticket, m in runs.items()} == \
        {f"C-{n}": (5, 50, 6) for n in range(20)}
