"""Accepting logs durably: PostgreSQL when it answers in time, the spool when it does not.

`log_accept_many()` is what the ingestion endpoints call. It gives every log its UUIDv7 id up
front, then tries `services.log_ingest_many()` inside one transaction bounded twice: on the
server by `SET LOCAL statement_timeout` and on the client by `dbguard.db_deadline` (the whole
request's budget, `INGEST_DB_TIMEOUT_MS`). A single log outside any transaction takes
`services.log_ingest_one_committed()`: the same transaction and bounds in one round trip.
If PostgreSQL cannot be reached or does not answer in time, the same logs, with the same ids,
go to the local spool (logs/spool.py) and the answer is 202. The spool drainer later inserts
them exactly once, by id.

Idempotency across the two stores: while the spool holds logs, an incoming event_id is also
looked up there, so a retry during (or just after) an outage answers with the spooled id
instead of creating a second log.
"""
from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.db import InterfaceError, OperationalError, connection, transaction

from central_logger import dbguard
from logs import rollup_flusher, services, spool
from logs.ids import uuid7_many
from logs.models import WorkflowLog
from tenants.models import Client

logger = logging.getLogger("central_logger.ingest")


@dataclass
class Accepted:
    results: list[services.ItemResult | None]
    spooled: bool  # True: the logs are in the spool (202), not yet in PostgreSQL


def _set_ingest_statement_timeout() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(services.ingest_timeout_sql(settings.INGEST_DB_TIMEOUT_MS))


def _to_database(client: Client, items: list[dict[str, Any] | None], load_duplicates: bool
                 ) -> list[services.ItemResult | None]:
    if len(items) == 1 and items[0] is not None:
        # The single-log endpoint: one round trip when not already in a transaction.
        stored = services.log_ingest_one_committed(client=client, fields=items[0],
                                                   timeout_ms=settings.INGEST_DB_TIMEOUT_MS)
        if stored is not None:
            return [stored]
    with transaction.atomic():
        _set_ingest_statement_timeout()
        results = services.log_ingest_many(client=client, items=items)
        if load_duplicates:
            for result in results:
                if result is not None and result.row is None and result.id is not None:
                    result.row = WorkflowLog.objects.for_client(client).filter(pk=result.id).values().first()
    return results


def _to_spool(client: Client, api_key_id: int | None, items: list[dict[str, Any] | None],
              results: list[services.ItemResult | None]) -> None:
    pending = [(index, fields) for index, fields in enumerate(items) if fields is not None]
    put = spool.spool_put(
        client_id=client.pk, api_key_id=api_key_id,
        items=[spool.SpoolItem(id=str(fields["id"]), event_id=fields.get("event_id"),
                               fields={k: v for k, v in fields.items() if k != "id"})
               for _index, fields in pending],
    )
    for (index, fields), log_id, duplicate in zip(pending, put.ids, put.duplicate):
        row = None
        if not duplicate:
            # created_at: acceptance time; the stored row gets its drain time.
            row = {"client_id": client.pk, **fields, "created_at": timezone.now()}
        results[index] = services.ItemResult(index, services.DUPLICATE if duplicate else services.CREATED,
                                             log_id, row=row)


def _spool_pending() -> bool:
    try:
        return spool.spool_has_pending()
    except sqlite3.Error:  # an unreadable spool must not stop ingestion into PostgreSQL
        logger.warning("ingest: spool unreadable; event_ids not checked against it", exc_info=True)
        return False


def log_accept_many(*, client: Client, api_key_id: int | None, items: list[dict[str, Any] | None],
                    load_duplicates: bool = False) -> Accepted:
    """Store validated logs durably (None entries are skipped); one result per entry.

    Raises spool.SpoolFull when PostgreSQL is unavailable and the spool is full.
    """
    spool.ensure_drainer()
    rollup_flusher.ensure_flusher()
    results: list[services.ItemResult | None] = [None] * len(items)
    ids = iter(uuid7_many(sum(fields is not None for fields in items)))
    items = [None if fields is None else {"id": next(ids), **fields} for fields in items]

    # Logs still waiting in the spool count for idempotency too.
    if any(f is not None and f.get("event_id") for f in items) and _spool_pending():
        spooled = spool.spool_find_event_ids(
            client_id=client.pk, event_ids=[f["event_id"] for f in items if f is not None and f.get("event_id")])
        for index, fields in enumerate(items):
            if fields is not None and fields.get("event_id") in spooled:
                results[index] = services.ItemResult(index, services.DUPLICATE, spooled[fields["event_id"]])
                items[index] = None
        if all(f is None for f in items):
            return Accepted(results, spooled=True)

    if not dbguard.circuit_open():
        try:
            stored = _to_database(client, items, load_duplicates)
        except (OperationalError, InterfaceError) as exc:
            # Unreachable, pool exhausted, statement_timeout or our own deadline: spool instead.
            dbguard.mark_failure()
            logger.warning("ingest: database unavailable (%s); spooling %d logs", exc.__class__.__name__,
                           sum(f is not None for f in items))
        else:
            dbguard.mark_success()
            for index, result in enumerate(stored):
                if result is not None:
                    results[index] = result
            return Accepted(results, spooled=False)

    _to_spool(client, api_key_id, items, results)
    return Accepted(results, spooled=True)
