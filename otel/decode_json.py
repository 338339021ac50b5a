"""The OTLP JSON mapping (OTLP/HTTP with `Content-Type: application/json`) into the shapes of
otel/decode.py.

What the specification says and we hold to: keys in lowerCamelCase (unknown keys are ignored);
trace and span ids as hex strings (not base64); enums as integers (their proto names are
accepted too); 64-bit integers as decimal strings or JSON numbers; bytes values in base64. A
value of the wrong JSON type anywhere (a string for `spans`, an object for a time) means the body
is not an OTLP request: DecodeFailed naming the path, and nothing of it is stored. An id that is a
string but not hex of the right length only invalidates its span or record.
"""
from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from otel.decode import MAX_NS, DecodeFailed, float_value, times_invalid

_NUMBER = (int, float)
SPAN_KINDS = {"SPAN_KIND_UNSPECIFIED": 0, "SPAN_KIND_INTERNAL": 1, "SPAN_KIND_SERVER": 2, "SPAN_KIND_CLIENT": 3,
              "SPAN_KIND_PRODUCER": 4, "SPAN_KIND_CONSUMER": 5}
STATUS_CODES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}
SEVERITY_NUMBERS = {"SEVERITY_NUMBER_UNSPECIFIED": 0, **{
    f"SEVERITY_NUMBER_{level}{'' if step == 1 else step}": base + step - 1
    for base, level in ((1, "TRACE"), (5, "DEBUG"), (9, "INFO"), (13, "WARN"), (17, "ERROR"), (21, "FATAL"))
    for step in range(1, 5)}}
_HEX = frozenset("0123456789abcdef")


def _fail(path: str, expected: str) -> DecodeFailed:
    return DecodeFailed(f"{path}: expected {expected}.")


def _obj(value: Any, path: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(path, "an object")
    return value


def _arr(value: Any, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail(path, "an array")
    return value


def _str(value: Any, path: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _fail(path, "a string")
    return value


def _int(value: Any, path: str, *, unsigned: bool = False) -> int:
    """A 64-bit integer: a JSON number without a fraction, or a decimal string."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise _fail(path, "an integer")
    if isinstance(value, str):
        text = value.strip()
        if not text.lstrip("-").isdigit() or not text.isascii():
            raise _fail(path, "an integer (a decimal string or a number)")
        value = int(text)
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    elif not isinstance(value, int):
        raise _fail(path, "an integer")
    low = 0 if unsigned else -(2**63)
    if not low <= value < 2**64:
        raise _fail(path, "a 64-bit integer in range")
    return value


def _enum(value: Any, path: str, names: dict[str, int]) -> int:
    if isinstance(value, str) and value in names:
        return names[value]
    return _int(value, path)


def _id(value: Any, size: int, path: str, name: str, *, optional: bool = False) -> tuple[str, str | None]:
    text = _str(value, path).lower()
    if not text or text == "0" * size * 2:
        return "", None if optional else f"{name} is missing or all zeros"
    if len(text) != size * 2 or not set(text) <= _HEX:
        return text[:64], f"{name} must be {size * 2} hex digits"
    return text, None


def any_value(value: Any, path: str) -> Any:
    node = _obj(value, path)
    if "stringValue" in node:
        return _str(node["stringValue"], path + ".stringValue")
    if "intValue" in node:
        return _int(node["intValue"], path + ".intValue")
    if "boolValue" in node:
        if not isinstance(node["boolValue"], bool):
            raise _fail(path + ".boolValue", "a boolean")
        return node["boolValue"]
    if "doubleValue" in node:
        return _double(node["doubleValue"], path + ".doubleValue")
    if "arrayValue" in node:
        values = _arr(_obj(node["arrayValue"], path + ".arrayValue").get("values"), path + ".arrayValue.values")
        return [any_value(v, f"{path}.arrayValue.values[{i}]") for i, v in enumerate(values)]
    if "kvlistValue" in node:
        inner = path + ".kvlistValue.values"
        return attributes(_obj(node["kvlistValue"], path + ".kvlistValue").get("values"), inner)
    if "bytesValue" in node:
        try:
            raw = base64.b64decode(_str(node["bytesValue"], path + ".bytesValue"), validate=True)
        except binascii.Error:
            raise _fail(path + ".bytesValue", "base64") from None
        return base64.b64encode(raw).decode()
    return None


def _double(value: Any, path: str) -> float | str:
    if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
        return value
    if isinstance(value, bool) or not isinstance(value, _NUMBER):
        raise _fail(path, "a number")
    return float_value(float(value))


def attributes(value: Any, path: str) -> dict[str, Any]:
    out = {}
    for index, pair in enumerate(_arr(value, path)):
        where = f"{path}[{index}]"
        kv = _obj(pair, where)
        out[_str(kv.get("key"), where + ".key")] = any_value(kv.get("value"), where + ".value")
    return out


def _scope(value: Any, path: str) -> dict[str, Any]:
    node = _obj(value, path)
    out: dict[str, Any] = {"name": _str(node.get("name"), path + ".name"),
                           "version": _str(node.get("version"), path + ".version")}
    if node.get("attributes"):
        out["attributes"] = attributes(node["attributes"], path + ".attributes")
    return out


def _each(value: Any, path: str, make: Any) -> list[dict[str, Any]]:
    """`make(node, path)` of every object of an array."""
    return [make(_obj(item, f"{path}[{index}]"), f"{path}[{index}]") for index, item in enumerate(_arr(value, path))]


def _event(node: dict[str, Any], where: str) -> dict[str, Any]:
    return {"time_ns": _int(node.get("timeUnixNano"), where + ".timeUnixNano", unsigned=True),
            "name": _str(node.get("name"), where + ".name"),
            "attributes": attributes(node.get("attributes"), where + ".attributes")}


def _link(node: dict[str, Any], where: str) -> dict[str, Any]:
    return {"trace_id": _str(node.get("traceId"), where + ".traceId").lower(),
            "span_id": _str(node.get("spanId"), where + ".spanId").lower(),
            "attributes": attributes(node.get("attributes"), where + ".attributes")}


def _span(value: Any, path: str, resource: dict[str, Any], scope: dict[str, Any]) -> dict[str, Any]:
    node = _obj(value, path)
    trace_id, bad_trace = _id(node.get("traceId"), 16, path + ".traceId", "traceId")
    span_id, bad_span = _id(node.get("spanId"), 8, path + ".spanId", "spanId")
    parent, bad_parent = _id(node.get("parentSpanId"), 8, path + ".parentSpanId", "parentSpanId", optional=True)
    start = _int(node.get("startTimeUnixNano"), path + ".startTimeUnixNano", unsigned=True)
    end = _int(node.get("endTimeUnixNano"), path + ".endTimeUnixNano", unsigned=True)
    status = _obj(node.get("status"), path + ".status")
    return {
        "trace_id": trace_id, "span_id": span_id, "parent_span_id": parent,
        "flags": _int(node.get("flags"), path + ".flags", unsigned=True),
        "name": _str(node.get("name"), path + ".name"),
        "kind": _enum(node.get("kind"), path + ".kind", SPAN_KINDS),
        "start_ns": start, "end_ns": end,
        "status_code": _enum(status.get("code"), path + ".status.code", STATUS_CODES),
        "status_message": _str(status.get("message"), path + ".status.message"),
        "attributes": attributes(node.get("attributes"), path + ".attributes"),
        "events": _each(node.get("events"), path + ".events", _event),
        "links": _each(node.get("links"), path + ".links", _link),
        "resource": resource, "scope": scope,
        "invalid": bad_trace or bad_span or bad_parent or times_invalid(start, end),
    }


def _load(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise DecodeFailed(f"The body is not valid JSON ({exc}).") from None
    return _obj(data, "the body")


def _groups(data: dict[str, Any], outer: str, inner: str, items: str):  # type: ignore[no-untyped-def]
    """(path, resource, scope, items) of every scope group of an export request."""
    for r_index, group in enumerate(_arr(data.get(outer), outer)):
        r_path = f"{outer}[{r_index}]"
        r_node = _obj(group, r_path)
        resource_node = _obj(r_node.get("resource"), r_path + ".resource")
        resource = attributes(resource_node.get("attributes"), r_path + ".resource.attributes")
        for s_index, scope_group in enumerate(_arr(r_node.get(inner), f"{r_path}.{inner}")):
            s_path = f"{r_path}.{inner}[{s_index}]"
            s_node = _obj(scope_group, s_path)
            scope = _scope(s_node.get("scope"), s_path + ".scope")
            yield s_path, resource, scope, _arr(s_node.get(items), f"{s_path}.{items}")


def spans(body: bytes) -> list[dict[str, Any]]:
    """The spans of an ExportTraceServiceRequest in the JSON mapping. Raises DecodeFailed."""
    out = []
    for path, resource, scope, items in _groups(_load(body), "resourceSpans", "scopeSpans", "spans"):
        out.extend(_span(span, f"{path}.spans[{i}]", resource, scope) for i, span in enumerate(items))
    return out


def _record(value: Any, path: str, resource: dict[str, Any], scope: dict[str, Any]) -> dict[str, Any]:
    node = _obj(value, path)
    trace_id, bad_trace = _id(node.get("traceId"), 16, path + ".traceId", "traceId", optional=True)
    span_id, bad_span = _id(node.get("spanId"), 8, path + ".spanId", "spanId", optional=True)
    observed = _int(node.get("observedTimeUnixNano"), path + ".observedTimeUnixNano", unsigned=True)
    time_ns = _int(node.get("timeUnixNano"), path + ".timeUnixNano", unsigned=True) or observed
    return {
        "trace_id": trace_id, "span_id": span_id, "time_ns": time_ns, "observed_ns": observed,
        "severity_number": _enum(node.get("severityNumber"), path + ".severityNumber", SEVERITY_NUMBERS),
        "severity_text": _str(node.get("severityText"), path + ".severityText"),
        "event_name": _str(node.get("eventName"), path + ".eventName"),
        "body": any_value(node["body"], path + ".body") if node.get("body") is not None else None,
        "attributes": attributes(node.get("attributes"), path + ".attributes"),
        "resource": resource, "scope": scope,
        "invalid": bad_trace or bad_span or ("a time is beyond the year 2262" if time_ns > MAX_NS else None),
    }


def log_records(body: bytes) -> list[dict[str, Any]]:
    """The log records of an ExportLogsServiceRequest in the JSON mapping. Raises DecodeFailed."""
    out = []
    for path, resource, scope, items in _groups(_load(body), "resourceLogs", "scopeLogs", "logRecords"):
        out.extend(_record(record, f"{path}.logRecords[{i}]", resource, scope) for i, record in enumerate(items))
    return out
