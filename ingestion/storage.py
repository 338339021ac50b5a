"""Storing accepted logs durably: PostgreSQL when it answers in time, the spool when it does not.

`accept()` gives every log its UUIDv7 id up front, then stores the logs with the one insert
statement (logs/tenant_sql/writes.py) inside one transaction bounded twice: on the server by
`SET LOCAL statement_timeout` and on the client by `dbguard.db_deadline` (the whole request's
budget, `INGEST_DB_TIMEOUT_MS`). A single log outside any transaction is sent as BEGIN, INSERT,
COMMIT in one round trip. If PostgreSQL cannot be reached or does not answer in time, the same
logs, with the same ids, go to the local spool (spool/store.py) and the answer is 202; the
spool's drainer later inserts them exactly once, by id.

Idempotency: a log whose `event_id` the tenant already stored is not stored again; its result
is `duplicate` with the original id, and duplicates inside one request map to the first. While
the spool holds logs, incoming event_ids are also looked up there, so a retry during (or just
after) an outage answers with the spooled id instead of creating a second log.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from central_logger import background, dbguard
from ingestion import groupcommit
from logs import partitions
from logs.ids import uuid7, uuid7_for
from logs.tenant_sql import reads, writes
from scrubbing.services import scrub_items
from spool import store as spool
from tenants.models import Client

logger = logging.getLogger("central_logger.ingest")

CREATED: Literal["created"] = "created"
DUPLICATE: Literal["duplicate"] = "duplicate"
INVALID: Literal["invalid"] = "invalid"
ROW_FIELDS = tuple(name for name in writes.COLUMNS)
T = TypeVar("T")


@dataclass
class ItemResult:
    index: int
    status: Literal["created", "duplicate", "invalid"]
    id: str | None = None
    errors: dict[str, list[str]] | None = None
    # The stored values of a log (`client_id`, not `client`), when known without another
    # query: what the single-log answer summarises.
    row: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "status": self.status}
        if self.id is not None:
            out["id"] = self.id
        if self.errors is not None:
            out["errors"] = self.errors
        return out


@dataclass
class Accepted:
    results: list[ItemResult | None]
    spooled: bool  # True: the logs are in the spool (202), not yet in PostgreSQL


def _pending_rows(items: list[dict[str, Any] | None], now: Any
                  ) -> tuple[list[tuple[int, dict[str, Any]]], dict[str, int], list[tuple[int, str]]]:
    """The rows to insert, the first index of each event_id, and the later copies of one."""
    pending: list[tuple[int, dict[str, Any]]] = []
    first_by_event: dict[str, int] = {}
    repeats: list[tuple[int, str]] = []
    for index, fields in enumerate(items):
        if fields is None:
            continue
        event_id = fields.get("event_id")
        if event_id:
            if event_id in first_by_event:
                repeats.append((index, event_id))
                continue
            first_by_event[event_id] = index
        # Plain dicts, no model instances: a model's __init__ per log cost more than the rest.
        pending.append((index, writes.stored_row(fields, now)))
    return pending, first_by_event, repeats


def store_many(client: Client, items: list[dict[str, Any] | None]) -> list[ItemResult | None]:
    """Insert validated logs (None entries are skipped) of `client` in the caller's
    transaction; one result per entry. The tenant comes only from the argument: any client id
    in a body stays in `extra`."""
    results: list[ItemResult | None] = [None] * len(items)
    now = timezone.now()
    pending, first_by_event, repeats = _pending_rows(items, now)
    for _attempt in range(3):
        inserted = writes.insert_rows(client, [row for _, row in pending], now) if pending else set()
        conflicted = []
        for index, row in pending:
            if row["id"] in inserted:
                results[index] = ItemResult(index, CREATED, str(row["id"]), row=row)
            else:
                conflicted.append((index, row))
        # Rows skipped by ON CONFLICT: their event_id is already stored; answer with that id.
        known = writes.stored_event_ids(client, [row["event_id"] for _, row in conflicted])
        pending = []
        for index, row in conflicted:
            if row["event_id"] in known:
                results[index] = ItemResult(index, DUPLICATE, known[row["event_id"]])
            else:
                # The conflicting row was deleted (retention) between our INSERT and SELECT:
                # try to store it again.
                pending.append((index, row))
        if not pending:
            break
    else:
        raise IntegrityError("Could not store the logs after repeated event_id conflicts.")
    for index, event_id in repeats:
        first = results[first_by_event[event_id]]
        assert first is not None
        results[index] = ItemResult(index, DUPLICATE, first.id)
    return results


def _store_one_committed(client: Client, fields: dict[str, Any]) -> ItemResult | None:
    """One log committed in one round trip, alone or in a group commit with the single logs other
    threads store at the same time (ingestion/groupcommit.py); None when that does not apply
    (inside a transaction: tests, or a caller's atomic block, which a COMMIT would end) or the
    log's event_id is stored already (then `store_many` in a transaction tells the duplicate)."""
    if connection.in_atomic_block or not connection.get_autocommit():
        return None
    row = writes.stored_row(fields, timezone.now())
    if not groupcommit.insert(client, row):
        return None
    return ItemResult(0, CREATED, str(row["id"]), row=row)


def _to_database(client: Client, items: list[dict[str, Any] | None], load_duplicates: bool
                 ) -> list[ItemResult | None]:
    if len(items) == 1 and items[0] is not None:
        stored = _store_one_committed(client, items[0])
        if stored is not None:
            return [stored]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(writes.ingest_timeout_sql(settings.INGEST_DB_TIMEOUT_MS))
        results = store_many(client, items)
        if load_duplicates:
            for result in results:
                if result is not None and result.row is None and result.id is not None:
                    result.row = reads.one(client, result.id, ROW_FIELDS)
    return results


def _to_spool(client: Client, api_key_id: int | None, items: list[dict[str, Any] | None],
              results: list[ItemResult | None]) -> None:
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
        results[index] = ItemResult(index, DUPLICATE if duplicate else CREATED, log_id, row=row)


def _spool_pending() -> bool:
    try:
        return spool.spool_has_pending()
    except spool.SpoolUnavailable:  # an unreadable spool must not stop ingestion into PostgreSQL
        logger.warning("ingest: spool unreadable; event_ids not checked against it", exc_info=True)
        return False


def _spooled_duplicates(client: Client, items: list[dict[str, Any] | None],
                        results: list[ItemResult | None]) -> None:
    """Logs whose event_id is still waiting in the spool are duplicates of the spooled log."""
    event_ids = [f["event_id"] for f in items if f is not None and f.get("event_id")]
    if not event_ids or not _spool_pending():
        return
    spooled = spool.spool_find_event_ids(client_id=client.pk, event_ids=event_ids)
    for index, fields in enumerate(items):
        if fields is not None and fields.get("event_id") in spooled:
            results[index] = ItemResult(index, DUPLICATE, spooled[fields["event_id"]])
            items[index] = None


def database_first(to_database: Callable[[], T], *, what: str, client_id: int | None = None) -> T | None:
    """`to_database()`'s result, or None when PostgreSQL is unavailable: unreachable, the pool
    exhausted, statement_timeout or the request's deadline, or the circuit breaker open after
    such a failure. The caller then spools what it was storing. `client_id`: the tenant whose
    rows these are, so that a Citus worker down opens that tenant's breaker only (dbguard)."""
    if dbguard.circuit_open(client_id):
        return None
    try:
        result = to_database()
    except (OperationalError, InterfaceError) as exc:
        dbguard.mark_failure(exc, client_id)
        logger.warning("ingest: database unavailable (%s); spooling %s", exc.__class__.__name__, what)
        return None
    except IntegrityError as exc:
        if not partitions.is_missing_partition(exc):
            raise
        # A partition of these dates was detached (retention) as we inserted: the spool's
        # drainer stores them once the date has a partition again.
        partitions.invalidate()
        logger.warning("ingest: no partition for a log's date at this instant; spooling %s", what)
        return None
    dbguard.mark_success(client_id)
    return result


def store_or_spool(*, client: Client, api_key_id: int | None, kind: str, fields: dict[str, Any],
                   to_database: Callable[[], Any]) -> bool:
    """Store something other than workflow logs durably, by the same rules: `to_database()` in
    one transaction bounded by the ingestion budget (INGEST_DB_TIMEOUT_MS), else `fields` as one
    spool record of `kind`, which the drain later stores with the function registered for that
    kind (spool/drain.py). Returns True when spooled.

    Raises spool.SpoolFull and spool.SpoolUnavailable as `accept` does."""
    background.ensure_all()

    def in_one_transaction() -> bool:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(writes.ingest_timeout_sql(settings.INGEST_DB_TIMEOUT_MS))
            to_database()
        return True

    if database_first(in_one_transaction, what=f"a {kind} record", client_id=client.pk):
        return False
    spool.spool_put(client_id=client.pk, api_key_id=api_key_id,
                    items=[spool.SpoolItem(id=str(uuid7()), event_id=None, fields=fields, kind=kind)])
    return True


def accept(*, client: Client, api_key_id: int | None, items: list[dict[str, Any] | None],
           load_duplicates: bool = False) -> Accepted:
    """Scrub validated logs (scrubbing/services.py), then store them durably (None entries
    are skipped); one result per entry. Every ingest path stores through here.

    Raises spool.SpoolFull when PostgreSQL is unavailable and the spool is full, and
    spool.SpoolUnavailable when neither store could take the logs."""
    background.ensure_all()  # the spool drainer and rollup flusher, where no gunicorn hook started them
    # Secrets and personal data go before anything is written anywhere, PostgreSQL or the spool.
    scrub_items(client, items)
    results: list[ItemResult | None] = [None] * len(items)
    # Each id carries its log's executed_at (the partition key): a lookup by id reads one partition.
    ids = iter(uuid7_for([fields["executed_at"] for fields in items if fields is not None]))
    items = [None if fields is None else {"id": next(ids), **fields} for fields in items]
    _spooled_duplicates(client, items, results)
    if all(f is None for f in items):
        return Accepted(results, spooled=True)
    stored = database_first(lambda: _to_database(client, items, load_duplicates),
                            what=f"{sum(f is not None for f in items)} logs", client_id=client.pk)
    if stored is not None:
        for index, result in enumerate(stored):
            if result is not None:
                results[index] = result
        return Accepted(results, spooled=False)
    _to_spool(client, api_key_id, items, results)
    return Accepted(results, spooled=True)
