"""Storing a prepared OTLP export durably, and keeping each trace's run up to date.

`store()` is the request path: PostgreSQL within the ingestion budget, else one spool record of
kind `otel` (ingestion/storage.py `store_or_spool`, the same rules as our own logs). The spool's
drain stores that record later with `store_spooled()`, which is the same `store_in_database()`:
one road to the tables from both.

In one transaction: the traces of the export are locked (logs/tenant_sql/traces.py
`lock_traces`), the spans and attached log records are inserted (what is stored already is
skipped), and the run of every trace that got a new span is derived again from all its stored
spans (otel/runs.py) and inserted (its root just arrived) or updated. So a run is never stored
without the spans it was derived from, a retried export changes nothing, and two exports of one
trace handled at once cannot each miss the other's spans.

Why runs are updated in place: measured before this app existed, an UPDATE of one log's
`metrics` in a day of 20,000 logs cost ~300 ms in the rollup trigger (a recount of the day);
logs migration 0011 makes the trigger recount only when a counted column really changes, and
child spans change only metrics and payload (0.1 ms). A run's status, times and error come from
its root, so they change only when the root (or, for a failed run, an earlier exception) arrives
after the run was created: rare, and then the recount keeps the metrics exact.
"""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.utils import timezone

from ingestion import storage as ingest_storage
from logs.tenant_sql import traces, writes
from otel.models import ModelPrice
from otel.prepare import Prepared
from otel.runs import Prices, derive_run, event_id
from tenants.models import Client

KIND = "otel"


def prices_of(client: Client) -> Prices:
    return {price.model: (Decimal(price.input_per_million), Decimal(price.output_per_million))
            for price in ModelPrice.objects.for_client(client)}


def refresh_runs(client: Client, trace_ids: set[str], now: Any) -> tuple[int, int]:
    """Derive the runs of these traces of `client` from their stored spans, and store them (in
    the caller's transaction, with the traces locked). Returns (runs created, runs updated)."""
    by_trace: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for span in traces.span_digests(client, sorted(trace_ids)):
        by_trace[span["trace_id"]].append(span)
    prices = prices_of(client) if any(s["model"] for spans in by_trace.values() for s in spans) else {}
    derived = {}
    for trace_id, spans in by_trace.items():
        run = derive_run(trace_id, spans, prices)
        if run is not None:
            derived[trace_id] = run
    if not derived:
        return 0, 0
    existing = writes.stored_event_ids(client, [event_id(t) for t in derived])
    updates = [{**run, "id": existing[run["event_id"]]} for run in derived.values() if run["event_id"] in existing]
    created = [writes.stored_row(run, now) for run in derived.values() if run["event_id"] not in existing]
    # Updates first: an update that recounts the rollup takes its client lock exclusively, and
    # must not wait for our own insert's shared hold of it in another transaction's cycle.
    updated = writes.update_runs(client, updates)
    inserted = len(writes.insert_rows(client, created, now)) if created else 0
    return inserted, updated


def store_in_database(client: Client, fields: dict[str, Any]) -> bool:
    """Store one prepared export (`spans` and `records` rows) of `client` in the caller's
    transaction; True when anything was new."""
    spans, records = fields.get("spans") or [], fields.get("records") or []
    now = timezone.now()
    traces.lock_traces(client, [span["trace_id"] for span in spans])
    touched = traces.insert_spans(client, spans, now)
    new_records = traces.insert_log_records(client, records, now)
    if touched:
        refresh_runs(client, touched, now)
    return bool(touched or new_records)


def store_spooled(client: Client, fields: dict[str, Any]) -> bool:
    """The spool's drain of an `otel` record (spool/drain.py): stored exactly as online."""
    return store_in_database(client, fields)


def store(*, client: Client, api_key_id: int | None, prepared: Prepared) -> bool:
    """Store the spans and trace-attached records of a prepared export durably; True when they
    went to the spool (PostgreSQL unavailable or too slow). Raises the spool's errors
    (ingestion/services.py `unavailable_as_503` turns them into 503s)."""
    if not prepared.spans and not prepared.records:
        return False
    fields = {"spans": prepared.spans, "records": prepared.records}
    return ingest_storage.store_or_spool(client=client, api_key_id=api_key_id, kind=KIND, fields=fields,
                                         to_database=lambda: store_in_database(client, fields))
