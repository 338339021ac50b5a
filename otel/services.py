"""OTLP exports, from a request body to what is stored and what is answered.

`traces_export()` (POST /v1/traces) and `logs_export()` (POST /v1/logs) hold the policy: decode
(otel/decode.py, otel/decode_json.py), the item limit, `prepare()` (the one step before anything
is stored), durable storage, and the answer. A spooled export is answered like a stored one,
`200` (what every OTLP client treats as success: the data is on disk and reaches PostgreSQL
later, as our own 202 promises), with the header `X-Central-Logger-Spooled: true`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from central_logger.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from ingestion import storage as ingest_storage
from ingestion.services import unavailable_as_503
from otel import decode, decode_json, storage
from otel.prepare import Prepared, prepare
from otel.responses import JSON, PROTOBUF
from tenants.models import Client

SPOOLED_HEADER = "X-Central-Logger-Spooled"


@dataclass(frozen=True)
class Exported:
    """What a receiver answers: how many items were rejected and why, and whether the export
    waits in the spool."""

    rejected: int
    message: str
    spooled: bool

    @property
    def headers(self) -> dict[str, str]:
        return {SPOOLED_HEADER: "true"} if self.spooled else {}


def is_protobuf(content_type: str | None) -> bool:
    """The request's encoding: protobuf or JSON (415 for anything else)."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media == PROTOBUF:
        return True
    if media == JSON:
        return False
    raise UnsupportedMediaType(f"Content-Type must be {PROTOBUF} or {JSON}, got {media or 'none'!r}.",
                               details={"content_type": media})


def _decoded(body: bytes, protobuf: bool, from_protobuf: Callable[[bytes], list[dict[str, Any]]],
             from_json: Callable[[bytes], list[dict[str, Any]]], noun: str) -> list[dict[str, Any]]:
    try:
        items = from_protobuf(body) if protobuf else from_json(body)
    except decode.DecodeFailed as exc:
        raise BadRequest(str(exc), code="invalid_otlp") from None
    limit = settings.OTLP_MAX_ITEMS
    if len(items) > limit:
        raise PayloadTooLarge(f"An export holds at most {limit} {noun}; got {len(items)}.", code="too_many_items",
                              details={"limit": limit})
    return items


def traces_export(*, client: Client, api_key_id: int | None, body: bytes, protobuf: bool) -> Exported:
    spans = _decoded(body, protobuf, decode.spans_from_protobuf, decode_json.spans, "spans")
    prepared = prepare(client=client, spans=spans)
    with unavailable_as_503():
        spooled = storage.store(client=client, api_key_id=api_key_id, prepared=prepared)
    return Exported(prepared.rejected, prepared.message("spans"), spooled)


def _store_logs(client: Client, api_key_id: int | None, prepared: Prepared) -> bool:
    """Workflow logs through ingestion's own storage; every other record with its trace."""
    spooled = storage.store(client=client, api_key_id=api_key_id, prepared=prepared)
    if prepared.logs:
        # Each has an event_id (its own, or a digest of the record): an export retried after a
        # failure here stores no log twice.
        spooled = ingest_storage.accept(client=client, api_key_id=api_key_id, items=list(prepared.logs)).spooled \
            or spooled
    return spooled


def logs_export(*, client: Client, api_key_id: int | None, body: bytes, protobuf: bool) -> Exported:
    records = _decoded(body, protobuf, decode.records_from_protobuf, decode_json.log_records, "log records")
    prepared = prepare(client=client, records=records)
    with unavailable_as_503():
        spooled = _store_logs(client, api_key_id, prepared)
    return Exported(prepared.rejected, prepared.message("log records"), spooled)
