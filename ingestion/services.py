"""Ingestion: from a request body to stored logs and the answer's status and content.

`log_ingest()` (POST /api/v1/logs) and `log_ingest_batch()` (POST /api/v1/logs/batch) hold the
whole policy: validation (ingestion/validation.py), idempotency keys, storage into PostgreSQL or
the spool (ingestion/storage.py), and which status code each outcome gets. The views only read
the body and hand over the caller's client.
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import ValidationError

from central_logger.errors import BadRequest, ServiceUnavailable
from central_logger.monitoring import LOGS_INGESTED
from ingestion import storage
from ingestion.body import JsonBody
from ingestion.storage import CREATED, DUPLICATE, INVALID, ItemResult
from ingestion.validation import EVENT_ID_MAX, clean_log, clean_raw_log, replace_nul
from logs.models import SUMMARY_FIELDS
from logs.rawjson import InvalidRawJson
from spool import store as spool
from tenants.models import Client

logger = logging.getLogger("central_logger.ingest")
# Fields a connectivity check may carry (the real client's ping: client_id, environment, test).
CONNECTIVITY_FIELDS = frozenset({"client_id", "environment", "test", "workflow_version"})


@dataclass(frozen=True)
class Outcome:
    """What the endpoint answers: the status code and the body."""

    status: int
    data: dict[str, Any]


def log_summary(row: dict[str, Any]) -> dict[str, Any]:
    """The summary of one log from its stored values (a row or the ingested fields)."""
    out = {name: row.get(name) for name in SUMMARY_FIELDS}
    out["id"] = str(row["id"])
    return out


def log_prepare(raw: Any, *, has_nul: bool = False, event_id: str | None = None
                ) -> tuple[dict[str, Any] | None, dict[str, list[str]] | None]:
    """Validate one raw log; NUL characters are replaced (and recorded in `extra._sanitized`)."""
    sanitized: list[str] = []
    if has_nul:
        raw, sanitized = replace_nul(raw)
    fields, errors = clean_log(raw)
    if fields is None:
        return None, errors
    if event_id is not None:
        fields["event_id"] = event_id
    if sanitized:
        fields["extra"]["_sanitized"] = {"nul_replaced_at": sanitized}
    return fields, None


@contextlib.contextmanager
def unavailable_as_503(*, refused: int = 0) -> Iterator[None]:
    """What neither PostgreSQL nor the spool could take, said honestly: 503 + Retry-After.
    `refused` is how many of our logs that answer turns away (the ingestion counter)."""
    retry = {"retry_after": settings.RETRY_AFTER_SECONDS}
    try:
        yield
    except spool.SpoolFull:
        _count_refused(refused)
        raise ServiceUnavailable("The database is unavailable and the local spool is full; retry later.",
                                 code="spool_full", details=retry) from None
    except spool.SpoolUnavailable as exc:
        _count_refused(refused)
        logger.error("ingest: database and spool both unavailable (%s)", exc)
        raise ServiceUnavailable("The database and the local spool are unavailable; retry later.",
                                 code="service_unavailable", details=retry) from None


def _count_refused(refused: int) -> None:
    if refused:
        LOGS_INGESTED.labels("refused").inc(refused)


def _accept(client: Client, api_key_id: int | None, items: list[dict[str, Any] | None], *,
            load_duplicates: bool = False) -> storage.Accepted:
    with unavailable_as_503(refused=sum(fields is not None for fields in items)):
        accepted = storage.accept(client=client, api_key_id=api_key_id, items=items, load_duplicates=load_duplicates)
    duplicates = sum(r is not None and r.status == DUPLICATE for r in accepted.results)
    new = sum(r is not None and r.status == CREATED for r in accepted.results)
    if duplicates:
        LOGS_INGESTED.labels("duplicate").inc(duplicates)
    if new:
        LOGS_INGESTED.labels("spooled" if accepted.spooled else "stored").inc(new)
    return accepted


def _idempotency_key(header: str | None) -> str | None:
    if header is None:
        return None
    if not 0 < len(header.strip()) <= EVENT_ID_MAX:
        raise BadRequest("Idempotency-Key must be 1-200 characters.", code="validation_error",
                         details={"Idempotency-Key": ["Must be 1-200 characters."]})
    return header.strip()


def is_connectivity_check(body: dict[str, Any]) -> bool:
    return body.get("test") is True and set(body) <= CONNECTIVITY_FIELDS


def log_ingest(*, client: Client, api_key_id: int | None, body: JsonBody, idempotency_key: str | None) -> Outcome:
    """One log: 201 stored, 202 spooled, 200 a duplicate (or a connectivity check)."""
    if not isinstance(body.data, dict):
        raise ValidationError({"non_field_errors": ["The body must be a JSON object (one log)."]})
    if is_connectivity_check(body.data):
        return Outcome(status.HTTP_200_OK, {"status": "ok", "test": True})
    event_id = _idempotency_key(idempotency_key)
    fields, errors = log_prepare(body.data, has_nul=body.has_nul, event_id=event_id)
    if errors:
        LOGS_INGESTED.labels("rejected").inc()
        raise ValidationError(errors)
    accepted = _accept(client, api_key_id, [fields], load_duplicates=True)
    (result,) = accepted.results
    assert result is not None and result.id is not None
    duplicate = result.status == DUPLICATE
    row = result.row
    if row is None:  # a duplicate of a log that is still in the spool
        spooled_fields = spool.spool_load(client_id=client.pk, log_id=result.id) or fields
        row = {**spooled_fields, "id": result.id, "created_at": timezone.now()}
    data = {**log_summary(row), "duplicate": duplicate, "spooled": accepted.spooled}
    if duplicate:
        return Outcome(status.HTTP_200_OK, data)
    return Outcome(status.HTTP_202_ACCEPTED if accepted.spooled else status.HTTP_201_CREATED, data)


def _batch_logs(body: JsonBody) -> list[Any]:
    logs = body.data.get("logs") if isinstance(body.data, dict) else None
    if not isinstance(logs, list):
        raise ValidationError({"logs": ['Expected {"logs": [...]}: a list of log objects.']})
    limit = settings.MAX_BATCH_SIZE
    if not logs:
        raise ValidationError({"logs": ["The batch is empty."]})
    if len(logs) > limit:
        raise BadRequest(f"A batch holds at most {limit} logs; got {len(logs)}.", code="batch_too_large",
                         details={"logs": [f"At most {limit} logs per batch."], "limit": limit})
    return logs


def _batch_status(invalid: int, created: int, spooled: bool) -> int:
    if invalid:
        return status.HTTP_207_MULTI_STATUS
    if spooled and created:
        return status.HTTP_202_ACCEPTED
    return status.HTTP_201_CREATED if created else status.HTTP_200_OK


def _batch_prepare(body: JsonBody, logs: list[Any]
                   ) -> tuple[list[dict[str, Any] | None], dict[int, dict[str, list[str]]]]:
    """Each log validated on its own: the fields of each (None if invalid), the errors by index."""
    prepared: list[dict[str, Any] | None] = []
    invalid: dict[int, dict[str, list[str]]] = {}
    for index, raw in enumerate(logs):
        fields, errors = clean_raw_log(raw) if body.raw_values else log_prepare(raw, has_nul=body.has_nul)
        prepared.append(fields)
        if errors:
            invalid[index] = errors
    return prepared, invalid


def log_ingest_batch(*, client: Client, api_key_id: int | None, body: JsonBody) -> Outcome:
    """A batch: each log judged on its own. 201 all stored (or duplicates), 200 all duplicates,
    202 spooled, 207 some invalid (the valid ones stored), 400 none valid (nothing stored)."""
    logs = _batch_logs(body)
    prepared, invalid = _batch_prepare(body, logs)
    stored: dict[int, ItemResult] = {}
    spooled = False
    if len(invalid) < len(logs):
        try:
            accepted = _accept(client, api_key_id, prepared)
        except InvalidRawJson as exc:
            # A value kept as text that orjson refuses once decoded (a number beyond a double's
            # range): the same answer as a body orjson refuses, naming the value. Nothing stored.
            raise BadRequest(f"Invalid JSON in logs[{exc.index}].{exc.field}: {exc.message}", code="invalid_json",
                             details={f"logs[{exc.index}].{exc.field}": [exc.message]}) from None
        spooled = accepted.spooled
        stored = {r.index: r for r in accepted.results if r is not None}
    if invalid:
        LOGS_INGESTED.labels("rejected").inc(len(invalid))
    results = [stored.get(i) or ItemResult(i, INVALID, errors=invalid[i]) for i in range(len(logs))]
    payload = [r.as_dict() for r in results]
    if len(invalid) == len(logs):
        raise BadRequest("No valid log in the batch; nothing was stored.", code="validation_error",
                         details={"results": payload})
    created = sum(r.status == CREATED for r in results)
    duplicates = sum(r.status == DUPLICATE for r in results)
    data = {"ids": [r.id for r in results], "count": created + duplicates, "created": created,
            "duplicates": duplicates, "rejected": len(invalid), "spooled": spooled, "results": payload}
    return Outcome(_batch_status(len(invalid), created, spooled), data)
