"""The mapping from a trace's spans to its run (otel/runs.py), case by case, with the numbers
computed by hand."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from otel.runs import derive_run

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
T0 = 1_764_000_000_123_456_789


def span(span_id: str, name: str = "s", *, parent: str | None = "root", root_rank: int | None = None,
         start: int = T0, ms: int = 10, status: int = 0, message: str | None = None, operation: str | None = None,
         model: str | None = None, tokens: tuple[int | None, int | None] = (None, None),
         error: dict[str, Any] | None = None, attributes: dict[str, Any] | None = None,
         resource: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"trace_id": TRACE, "span_id": span_id, "parent_span_id": parent, "name": name, "start_ns": start,
            "end_ns": start + ms * 1_000_000, "status_code": status, "status_message": message,
            "root_rank": root_rank, "operation": operation, "model": model, "input_tokens": tokens[0],
            "output_tokens": tokens[1], "error": error, "attributes": attributes or {}, "resource": resource or {},
            "scope": {"name": "t"}}


def root(**kwargs: Any) -> dict[str, Any]:
    return span("root", "handle", parent=None, root_rank=1, ms=2500, **kwargs)


def test_no_root_yet_no_run() -> None:
    assert derive_run(TRACE, [span("a"), span("b")], {}) is None


def test_root_fields_and_fallbacks() -> None:
    run = derive_run(TRACE, [root(resource={"service.version": "9", "deployment.environment": "PRD"})], {})
    assert run is not None
    assert run["executed_at"] == dt.datetime(2025, 11, 24, 16, 0, 0, 123456, tzinfo=dt.timezone.utc)
    assert run["execution_time_seconds"] == 2.5
    assert (run["status"], run["ticket_id"], run["environment"], run["workflow_version"]) == \
        ("SUCCESS", TRACE, "production", "9")
    assert run["event_id"] == f"otel:{TRACE}" and run["workflow_error"] is None
    assert run["metrics"] == {"llm_calls": 0, "tool_calls": 0, "input_tokens": 0, "output_tokens": 0,
                              "total_tokens": 0, "models": [], "spans": 1, "failed_spans": 0}
    unknown = derive_run(TRACE, [root(resource={"deployment.environment.name": "qa-7"})], {})
    assert unknown is not None and unknown["environment"] == "production"


def test_root_attributes_win_over_the_resource_for_ticket_fields() -> None:
    run = derive_run(TRACE, [root(attributes={"ticket.id": 12345, "ticket.category": "refund", "customer.type": "B2B",
                                              "ticket.resolution": "RESOLVED"},
                                  resource={"ticket.category": "other", "customer.type": "x"})], {})
    assert run is not None
    assert (run["ticket_id"], run["category"], run["customer_type"], run["resolution_status"]) == \
        ("12345", "refund", "B2B", "RESOLVED")


def test_workflow_status_overrides_the_span_status() -> None:
    for given, span_status, expected in (("partial", 0, "PARTIAL"), ("ERROR", 0, "ERROR"), ("Success", 2, "SUCCESS"),
                                         ("bogus", 2, "FAILED"), (None, 1, "SUCCESS")):
        attrs = {"workflow.status": given} if given else {}
        run = derive_run(TRACE, [root(attributes=attrs, status=span_status)], {})
        assert run is not None and run["status"] == expected, given


def test_a_marked_root_wins_over_the_top_level_span() -> None:
    marked = span("agent", "agent run", parent="root", root_rank=0, start=T0 + 5_000_000, ms=100,
                  attributes={"ticket.id": "M-1"})
    run = derive_run(TRACE, [root(), marked], {})
    assert run is not None and (run["ticket_id"], run["execution_time_seconds"]) == ("M-1", 0.1)
    assert run["payload"]["otel"]["root_span_id"] == "agent"


def test_the_error_is_the_roots_exception_at_the_span_that_raised_it() -> None:
    raised = {"type": "TimeoutError", "message": "CRM timed out", "time_ns": T0 + 100}
    spans = [root(status=2, error={**raised, "time_ns": T0 + 900}),
             span("tool", "execute_tool crm", status=2, error=raised, operation="tool"),
             span("other", "earlier, caught", error={"type": "KeyError", "message": "x", "time_ns": T0 + 1})]
    run = derive_run(TRACE, spans, {})
    assert run is not None
    assert (run["status"], run["workflow_error_type"], run["workflow_error"], run["workflow_error_node"]) == \
        ("FAILED", "TimeoutError", "CRM timed out", "execute_tool crm")


def test_without_an_exception_on_the_root_the_first_one_recorded_counts() -> None:
    spans = [root(status=2), span("late", "late", error={"type": "B", "message": "b", "time_ns": T0 + 50}),
             span("early", "early", error={"type": "A", "message": "a", "time_ns": T0 + 10})]
    run = derive_run(TRACE, spans, {})
    assert run is not None and (run["workflow_error_type"], run["workflow_error_node"]) == ("A", "early")
    bare = derive_run(TRACE, [root(status=2, message="gave up"), span("x", "step", status=2, message="bad input")], {})
    assert bare is not None
    assert (bare["workflow_error"], bare["workflow_error_type"], bare["workflow_error_node"]) == \
        ("bad input", None, "step")


def test_a_successful_run_carries_no_error_even_with_failed_children() -> None:
    spans = [root(), span("t", "tool", status=2, error={"type": "E", "message": "m", "time_ns": T0})]
    run = derive_run(TRACE, spans, {})
    assert run is not None and run["status"] == "SUCCESS" and run["workflow_error_type"] is None
    assert run["metrics"]["failed_spans"] == 1


def test_usage_counts_model_calls_and_not_agent_totals_twice() -> None:
    spans = [root(), span("agent", "invoke_agent", operation="agent", tokens=(999, 99)),
             span("c1", "chat", operation="llm", model="gpt-4o-2024-08-06", tokens=(1000, 200)),
             span("c2", "chat", operation="llm", model="claude-3-5-sonnet", tokens=(500, None)),
             span("e", "embed", operation="llm", model="text-embedding-3-small"),
             span("t1", "tool", operation="tool"), span("t2", "tool", operation="tool")]
    run = derive_run(TRACE, spans, {})
    assert run is not None
    metrics = run["metrics"]
    assert (metrics["llm_calls"], metrics["tool_calls"]) == (3, 2)
    assert (metrics["input_tokens"], metrics["output_tokens"], metrics["total_tokens"]) == (1500, 200, 1700)
    assert metrics["models"] == ["claude-3-5-sonnet", "gpt-4o-2024-08-06", "text-embedding-3-small"]
    only_agent = derive_run(TRACE, [root(), span("agent", "invoke_agent", operation="agent", tokens=(7, 3))], {})
    assert only_agent is not None and only_agent["metrics"]["total_tokens"] == 10


def test_cost_from_the_tenants_prices_with_dated_model_names() -> None:
    prices = {"gpt-4o": (Decimal("2.50"), Decimal("10.00")), "gpt-4o-mini": (Decimal("0.15"), Decimal("0.60"))}
    spans = [root(), span("a", operation="llm", model="gpt-4o-2024-08-06", tokens=(1000, 200)),
             span("b", operation="llm", model="gpt-4o-mini-2024-07-18", tokens=(10_000, 1000)),
             span("c", operation="llm", model="mistral-large", tokens=(50, 5))]
    run = derive_run(TRACE, spans, prices)
    assert run is not None
    # 1000 * 2.50/1M + 200 * 10/1M = 0.0045; 10000 * 0.15/1M + 1000 * 0.60/1M = 0.0021
    assert run["metrics"]["cost"] == 0.0066
    assert run["metrics"]["unpriced_models"] == ["mistral-large"]
    unpriced = derive_run(TRACE, [root(), span("c", operation="llm", model="mistral-large", tokens=(5, 5))], prices)
    assert unpriced is not None and "cost" not in unpriced["metrics"]


def test_custom_metrics_from_the_root_and_derived_ones_win() -> None:
    run = derive_run(TRACE, [root(attributes={"workflow.metrics.overall_confidence": 0.4,
                                              "workflow.metrics.needs_more_info": True,
                                              "workflow.metrics.llm_calls": 99, "workflow.metrics.": 1})], {})
    assert run is not None
    assert run["metrics"]["overall_confidence"] == 0.4 and run["metrics"]["needs_more_info"] is True
    assert run["metrics"]["llm_calls"] == 0 and "" not in run["metrics"]


def test_the_same_spans_in_any_order_give_the_same_run() -> None:
    spans = [root(status=2, error={"type": "E", "message": "m", "time_ns": T0 + 9}),
             span("a", "chat", operation="llm", model="m", tokens=(3, 4)),
             span("b", "tool", operation="tool", error={"type": "E", "message": "m", "time_ns": T0 + 1})]
    assert derive_run(TRACE, spans, {}) == derive_run(TRACE, spans[::-1], {}) == derive_run(TRACE, spans[1:] + spans[:1], {})
