"""Log ingestion: from validated field values to durable rows, idempotently."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from django.db import IntegrityError, transaction

from logs.ids import uuid7
from logs.models import WorkflowLog
from logs.validation import clean_log, replace_nul
from tenants.models import Client

CREATED: Literal["created"] = "created"
DUPLICATE: Literal["duplicate"] = "duplicate"
INVALID: Literal["invalid"] = "invalid"


@dataclass
class ItemResult:
    index: int
    status: Literal["created", "duplicate", "invalid"]
    id: str | None = None
    errors: dict[str, list[str]] | None = None
    row: WorkflowLog | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "status": self.status}
        if self.id is not None:
            out["id"] = self.id
        if self.errors is not None:
            out["errors"] = self.errors
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


def _existing_ids(client: Client, event_ids: list[str]) -> dict[str, str]:
    if not event_ids:
        return {}
    rows = WorkflowLog.objects.for_client(client).filter(event_id__in=event_ids).values_list("event_id", "id")
    return {event_id: str(pk) for event_id, pk in rows}


def log_ingest_many(*, client: Client, items: list[dict[str, Any] | None]) -> list[ItemResult | None]:
    """Store validated logs (None entries are skipped) for `client`; returns a result per entry.

    A log whose `event_id` this tenant already stored is not stored again: its result is
    `duplicate` with the original id. Duplicates inside the same request map to the first.
    The tenant comes only from the argument: any client id in the body stays in `extra`.
    """
    results: list[ItemResult | None] = [None] * len(items)
    for _attempt in range(3):
        event_ids = [f["event_id"] for f in items if f is not None and f.get("event_id")]
        known = _existing_ids(client, event_ids)
        to_create: list[WorkflowLog] = []
        for index, fields in enumerate(items):
            if fields is None:
                continue
            event_id = fields.get("event_id")
            if event_id and event_id in known:
                results[index] = ItemResult(index, DUPLICATE, known[event_id])
                continue
            # An id may be pre-assigned (logs/accept.py does, so a log keeps its id if it has to
            # go to the spool instead); otherwise a fresh UUIDv7.
            row = WorkflowLog(client=client, **{"id": uuid7(), **fields})
            if event_id:
                known[event_id] = str(row.id)
            to_create.append(row)
            results[index] = ItemResult(index, CREATED, str(row.id), row=row)
        try:
            with transaction.atomic():
                WorkflowLog.objects.bulk_create(to_create)
            return results
        except IntegrityError:
            # A concurrent request stored one of these event_ids between our lookup and the
            # insert; look again (the unique constraint guarantees we now see it).
            continue
    raise IntegrityError("Could not store the logs after repeated event_id conflicts.")
