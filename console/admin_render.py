"""HTML for the log detail page of the operator console: pretty JSON and ReAct trace steps.

Everything a client sent is hostile text: it only ever reaches the page through
`format_html`/templates with autoescaping, or through `with_markers`, which escapes the whole
text first and then only wraps the scrubbing markers (made of `[a-z0-9_.:-]` and brackets,
which escaping leaves as they are) in a styled <mark>.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.template.loader import render_to_string
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe

from scrubbing.rules import MARKER

STATUS_COLOURS = {
    "SUCCESS": "#1e7e34",
    "PARTIAL": "#b36b00",
    "FAILED": "#c62828",
    "ERROR": "#6a1b9a",
}

# Key names seen for each part of a ReAct step, in order of preference. Clients differ
# (LangChain says tool/tool_input, ours says action/action_input), and a trace the page cannot
# read must still be shown, raw, rather than break the page.
_THOUGHT = ("thought", "reasoning", "think", "thoughts")
_ACTION = ("action", "tool", "tool_name", "action_name")
_INPUT = ("action_input", "input", "tool_input", "args", "arguments", "parameters")
_OBSERVATION = ("observation", "result", "output", "tool_output", "response")
_STEP_LISTS = ("react_iterations", "iterations", "steps", "react_steps")


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def with_markers(text: str) -> SafeString:
    """`text` escaped, with each scrubbing marker ([redacted:email], [email:...]) styled so nobody
    takes it for what the client sent."""
    escaped = str(conditional_escape(text))
    return mark_safe(MARKER.sub(  # noqa: S308 - escaped above; markers contain no HTML
        lambda m: f'<mark class="cl-redacted" title="removed by scrubbing before the log was stored">{m.group()}</mark>',
        escaped))


def scrubbed_note(scrubbed: dict[str, int] | None) -> str:
    """"3 values redacted (email 2, key:password 1)"."""
    if scrubbed is None:
        return "not scrubbed (stored before scrubbing, or with scrubbing off)"
    total = sum(scrubbed.values())
    if not total:
        return "nothing redacted"
    parts = ", ".join(f"{rule} {count}" for rule, count in sorted(scrubbed.items(), key=lambda item: -item[1]))
    return f"{total} value{'s' if total != 1 else ''} redacted ({parts})"


def status_badge(status: str) -> SafeString:
    colour = STATUS_COLOURS.get(status, "#555")
    return format_html('<span class="cl-status" style="background:{}">{}</span>', colour, status)


def json_block(title: str, value: Any, *, open_: bool = False) -> SafeString:
    """A collapsible <details> block with the value pretty-printed (escaped)."""
    if value in (None, {}, []):
        return format_html('<span class="cl-empty">{}</span>', "(empty)")
    text = pretty_json(value)
    size = f"{len(text.encode()):,} bytes"
    return format_html('<details class="cl-json"{}><summary>{} <small>{}</small></summary><pre>{}</pre></details>',
                       " open" if open_ else "", title, size, with_markers(text))


@dataclass
class Part:
    label: str
    text: str
    is_json: bool

    @property
    def html(self) -> SafeString:
        return with_markers(self.text)


@dataclass
class Step:
    number: Any
    parts: list[Part] = field(default_factory=list)


def _part(label: str, value: Any) -> Part:
    if isinstance(value, str):
        return Part(label, value, False)
    return Part(label, pretty_json(value), True)


def _first(item: dict[str, Any], names: tuple[str, ...]) -> tuple[str | None, Any]:
    for name in names:
        if name in item:
            return name, item[name]
    return None, None


def trace_of(payload: Any) -> Any:
    return payload.get("trace") if isinstance(payload, dict) else None


def react_steps(trace: Any) -> list[Step] | None:
    """The ReAct iterations of a trace as steps, or None when the trace has no such list."""
    items: Any = None
    if isinstance(trace, list):
        items = trace
    elif isinstance(trace, dict):
        for name in _STEP_LISTS:
            if isinstance(trace.get(name), list):
                items = trace[name]
                break
    if not items:
        return None
    steps = []
    for index, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            steps.append(Step(index, [_part("step", item)]))
            continue
        step = Step(item.get("iteration", item.get("step", index)))
        used = {"iteration", "step"}
        for label, names in (("thought", _THOUGHT), ("action", _ACTION), ("input", _INPUT),
                             ("observation", _OBSERVATION)):
            key, value = _first(item, names)
            if key is not None:
                used.add(key)
                step.parts.append(_part(label, value))
        for key, value in item.items():  # anything else the client put in a step
            if key not in used:
                step.parts.append(_part(str(key), value))
        steps.append(step)
    return steps


def trace_steps_html(payload: Any) -> SafeString:
    trace = trace_of(payload)
    steps = react_steps(trace)
    return SafeString(render_to_string("admin/logs/workflowlog/trace_steps.html",
                                       {"steps": steps, "has_trace": trace is not None}))
