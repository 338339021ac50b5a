"""The attribute names we read, in one place: the OpenTelemetry GenAI semantic conventions, the
names OpenLLMetry (traceloop) and OpenInference use for the same things, and our own run
attributes. The README's mapping table lists them.
"""
from __future__ import annotations

from typing import Any

# Our run attributes (on the root span; the resource is read as a fallback).
ROOT_MARK = "workflow.root"  # true: this span is the run's root, whatever its parent
TICKET_ID = "ticket.id"
CATEGORY = "ticket.category"
CUSTOMER_TYPE = "customer.type"
STATUS = "workflow.status"  # SUCCESS / PARTIAL / FAILED / ERROR, overrides the span status
RESOLUTION = "ticket.resolution"
METRICS_PREFIX = "workflow.metrics."  # workflow.metrics.<key> = value -> metrics.<key>
ENVIRONMENT = ("deployment.environment.name", "deployment.environment")
VERSION = "service.version"
SERVICE = "service.name"

# What a span does.
OPERATION = "gen_ai.operation.name"
MODEL_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "embeddings"})
TOOL_OPERATIONS = frozenset({"execute_tool"})
AGENT_OPERATIONS = frozenset({"invoke_agent", "create_agent", "invoke_workflow"})
OPENINFERENCE_KIND = "openinference.span.kind"  # LLM, EMBEDDING, TOOL, AGENT, CHAIN, ...
TRACELOOP_KIND = "traceloop.span.kind"  # workflow, task, agent, tool
TRACELOOP_REQUEST_TYPE = "llm.request.type"  # chat, completion, embedding

MODEL = ("gen_ai.response.model", "gen_ai.request.model", "llm.model_name")
INPUT_TOKENS = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt")
OUTPUT_TOKENS = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion")
EXCEPTION_EVENT = "exception"

# A span's parent is in another process (W3C trace context from a caller): OTLP's span flags.
HAS_IS_REMOTE, IS_REMOTE = 0x100, 0x200


def first(attributes: dict[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        value = attributes.get(name)
        if value is not None and value != "":
            return value
    return None


def token_count(value: Any) -> int | None:
    """A token count as instrumentations send it: an integer, or its decimal text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and 0 <= value < 2**63 else None


def operation(attributes: dict[str, Any]) -> str | None:
    """llm (a model call), tool, agent, or None."""
    op = attributes.get(OPERATION)
    oi_kind = str(attributes.get(OPENINFERENCE_KIND) or "").upper()
    tl_kind = str(attributes.get(TRACELOOP_KIND) or "").lower()
    if op in MODEL_OPERATIONS or oi_kind in ("LLM", "EMBEDDING") or attributes.get(TRACELOOP_REQUEST_TYPE):
        return "llm"
    if op in TOOL_OPERATIONS or oi_kind == "TOOL" or tl_kind == "tool":
        return "tool"
    if op in AGENT_OPERATIONS or oi_kind == "AGENT" or tl_kind in ("agent", "workflow"):
        return "agent"
    if op is None and (first(attributes, MODEL) is not None or first(attributes, INPUT_TOKENS) is not None):
        return "llm"
    return None


def is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def root_rank(span: dict[str, Any]) -> int | None:
    """0: marked as the run's root; 1: top level in this service (no parent, or a remote one)."""
    if is_true(span["attributes"].get(ROOT_MARK)):
        return 0
    flags = span["flags"]
    if not span["parent_span_id"] or (flags & HAS_IS_REMOTE and flags & IS_REMOTE):
        return 1
    return None


def first_exception(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    for event in events:
        if event["name"] == EXCEPTION_EVENT:
            attrs = event["attributes"]
            return {"type": _text(attrs.get("exception.type")), "message": _text(attrs.get("exception.message")),
                    "time_ns": event["time_ns"]}
    return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
