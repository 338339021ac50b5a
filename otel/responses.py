"""OTLP/HTTP answers, in the encoding of the request (the specification's rule).

Success: `200` with an Export{Trace,Logs}ServiceResponse, whose `partial_success` says how many
items were rejected and why. Failure: the HTTP status of our error envelope, with a
`google.rpc.Status` body (gRPC code, message, and one `google.rpc.ErrorInfo` detail whose
`reason` is our envelope's code and whose `metadata` its details), plus the same headers
(`Retry-After` on 429 and 503).
"""
from __future__ import annotations

from typing import Any

import orjson
from django.http import HttpResponse
from google.protobuf.any_pb2 import Any as AnyMessage
from google.rpc.error_details_pb2 import ErrorInfo
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsPartialSuccess,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
DOMAIN = "central-logger"
# HTTP status -> gRPC status code (google.rpc.Code), as OTLP pairs them.
GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 411: 3, 413: 8, 415: 3, 429: 8, 500: 13, 503: 14}


def wants_protobuf(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() == PROTOBUF


def export_response(*, signal: str, protobuf: bool, rejected: int, message: str,
                    headers: dict[str, str] | None = None) -> HttpResponse:
    """200 with the export's answer; `partial_success` only when something was rejected."""
    if protobuf:
        if signal == "traces":
            answer: Any = ExportTraceServiceResponse()
            if rejected or message:
                answer.partial_success.CopyFrom(ExportTracePartialSuccess(rejected_spans=rejected, error_message=message))
        else:
            answer = ExportLogsServiceResponse()
            if rejected or message:
                answer.partial_success.CopyFrom(
                    ExportLogsPartialSuccess(rejected_log_records=rejected, error_message=message))
        body, content_type = answer.SerializeToString(), PROTOBUF
    else:
        count = "rejectedSpans" if signal == "traces" else "rejectedLogRecords"
        data = {"partialSuccess": {count: str(rejected), "errorMessage": message}} if rejected or message else {}
        body, content_type = orjson.dumps(data), JSON
    response = HttpResponse(body, status=200, content_type=content_type)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _metadata(details: dict[str, Any]) -> dict[str, str]:
    return {str(k): v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in details.items()}


def status_response(*, status: int, envelope: dict[str, Any], headers: dict[str, str], protobuf: bool) -> HttpResponse:
    """An error as a google.rpc.Status in the request's encoding, with the envelope's headers."""
    error = envelope.get("error", {})
    code, message, details = error.get("code", "error"), error.get("message", ""), error.get("details") or {}
    grpc_code = GRPC_CODES.get(status, 2)
    if protobuf:
        info = AnyMessage()
        info.Pack(ErrorInfo(reason=code, domain=DOMAIN, metadata=_metadata(details)))
        body, content_type = Status(code=grpc_code, message=message, details=[info]).SerializeToString(), PROTOBUF
    else:
        body = orjson.dumps({"code": grpc_code, "message": message, "details": [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": code, "domain": DOMAIN,
             "metadata": _metadata(details)}]})
        content_type = JSON
    response = HttpResponse(body, status=status, content_type=content_type)
    for name, value in headers.items():
        response[name] = value
    return response
