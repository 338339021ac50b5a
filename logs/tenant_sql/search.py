"""The statements of full-text search (migration 0019, logs/search.py): the indexer's queue
and docs (across tenants, `dangerously_`), and a tenant's search pages.

A search page joins the tenant's matching docs to its logs, so the list's filters (status,
dates, ...) and columns apply unchanged: `tsquery` is the literal built by logs/search.py, sent
as a parameter and cast (never parsed again by PostgreSQL's text-search parser).
"""
from __future__ import annotations

import datetime as dt
import time
from typing import Any

import orjson
from django.db import connection, connections, router, transaction
from django.db.models import UUIDField

from central_logger import locks
from logs.models import WorkflowLog
from logs.tenant_sql import citus
from tenants.models import Client

DOCS = "logs_search_docs"
PENDING = "logs_search_pending"
BACKFILL = "logs_search_backfill"
TABLE = WorkflowLog._meta.db_table
# The columns the words of a log are built from (logs/search.py `fields`).
SOURCE = ("client_id", "id::text", "executed_at", "status", "ticket_id", "category", "workflow_error_type",
          "workflow_error_node", "workflow_error", "payload::text", "metadata::text")
SOURCE_NAMES = ("client_id", "id", "executed_at", "status", "ticket_id", "category", "workflow_error_type",
                "workflow_error_node", "workflow_error", "payload", "metadata")


def _source_rows(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        log = dict(zip(SOURCE_NAMES, row))
        for name in ("payload", "metadata"):
            log[name] = orjson.loads(log[name]) if log[name] else None
        out.append(log)
    return out


# --- the indexer (every tenant) ---------------------------------------------------------------------

def dangerously_take_pending(limit: int, slot: tuple[int, int] | None = None) -> list[dict[str, Any]]:
    """Up to `limit` queued logs of any tenants, removed from the queue, with their searchable
    columns; call inside a transaction that also stores their docs (a crash puts them back).
    Newest first, by the id index (ids are time-ordered): after a bulk load or an outage the
    recent logs are searchable first, and no scan walks over the dead rows of earlier batches
    (a plain LIMIT did: a seq scan from the table's start, slower with every batch of a backlog).
    The logs are locked FOR KEY SHARE, so a concurrent delete waits for this transaction and
    then removes the doc it stored (no doc outlives its log).
    `slot` = (k, n): only the logs whose id hashes to k of n (parallel indexers of one runner,
    see search_indexer.index_slot): every queue row of one log goes to the same slot, so two
    processes never index the same log at once (the later commit could store the older text)."""
    assert connection.in_atomic_block
    _yield_to_others()
    if citus.is_active_cached():
        rows = _take_pending_per_client(limit)
    else:
        where, args = ("", [limit]) if slot is None else (_SLOT, [slot[1], slot[0], limit])
        with connection.cursor() as cursor:
            cursor.execute(_TAKE.format(client="", client_q=where, client_w=""), args)
            rows = cursor.fetchall()
    # A log queued twice (stored, then updated) is indexed once.
    return list({(log["client_id"], log["id"]): log for log in _source_rows(rows)}.values())


_TAKE = (f"WITH taken AS (DELETE FROM {PENDING} p WHERE {{client}}p.ctid = ANY(ARRAY("
         f"SELECT q.ctid FROM {PENDING} q {{client_q}}ORDER BY q.log_id DESC LIMIT %s FOR UPDATE SKIP LOCKED)) "
         "RETURNING p.client_id, p.log_id, p.executed_at) "
         f"SELECT {', '.join('w.' + c for c in SOURCE)} FROM taken t "
         f"JOIN {TABLE} w ON {{client_w}}w.client_id = t.client_id AND w.id = t.log_id "
         "AND w.executed_at = t.executed_at FOR KEY SHARE OF w")


_SLOT = "WHERE (hashtext(q.log_id::text) & 2147483647) %% %s = %s "
# How long the indexer waits for a lock before giving its round up. It locks the queue, then the
# logs; a TRUNCATE of the log table (its trigger empties the docs and the queue) locks in the
# other order, and PostgreSQL's deadlock check (after deadlock_timeout, 1 s) may then cancel
# either. Waiting less than that makes the background indexer the one that yields, every time.
LOCK_TIMEOUT_MS = 200


def _yield_to_others() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = %s", [f"{LOCK_TIMEOUT_MS}ms"])


def _take_pending_per_client(limit: int) -> list[tuple[Any, ...]]:
    """On a Citus cluster a statement that locks rows must name its tenant (it then runs on the
    worker that holds it): the queue is taken one client at a time."""
    rows: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT client_id FROM {PENDING} ORDER BY 1")
        for (client_id,) in cursor.fetchall():
            if len(rows) >= limit:
                break
            cursor.execute(_TAKE.format(client="p.client_id = %s AND ", client_q="WHERE q.client_id = %s ",
                                        client_w="w.client_id = %s AND "),
                           [client_id, client_id, limit - len(rows), client_id])
            rows += cursor.fetchall()
    return rows


def dangerously_store_docs(docs: list[tuple[int, str, dt.datetime, str, str]]) -> None:
    """Insert or replace the docs (client_id, log id, executed_at, status, tsvector literal)."""
    if not docs:
        return
    clients, ids, times, statuses, texts = (list(column) for column in zip(*docs))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {DOCS} (client_id, log_id, executed_at, status, doc) "
            "SELECT c, i, e, s, d::tsvector FROM unnest(%s::bigint[], %s::uuid[], %s::timestamptz[], %s::text[], "
            "%s::text[]) AS u(c, i, e, s, d) ON CONFLICT (client_id, log_id) DO UPDATE "
            "SET executed_at = EXCLUDED.executed_at, status = EXCLUDED.status, doc = EXCLUDED.doc",
            [clients, ids, times, statuses, texts])


def dangerously_count_pending() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {PENDING}")
        return int(cursor.fetchone()[0])


def dangerously_backfill_state() -> tuple[dt.datetime | None, str | None, bool, int]:
    """(after executed_at, after id, done, logs indexed so far) of the backfill."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT after_executed_at, after_id::text, done, indexed FROM {BACKFILL} WHERE id = 1")
        row = cursor.fetchone()
        return (None, None, True, 0) if row is None else row


def dangerously_restart_backfill() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {BACKFILL} SET after_executed_at = NULL, after_id = NULL, done = false, indexed = 0")


def dangerously_take_backfill(limit: int) -> list[dict[str, Any]]:
    """The next `limit` logs of the backfill (every tenant, newest first, after the saved
    position), locked FOR KEY SHARE like the queue's; the state row is locked too, so two
    backfills never take the same logs. Inside the transaction that stores their docs and
    `dangerously_advance_backfill`."""
    assert connection.in_atomic_block
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT after_executed_at, after_id, done FROM {BACKFILL} WHERE id = 1 FOR UPDATE")
        row = cursor.fetchone()
        if row is None or row[2]:
            return []
        after = "" if row[0] is None else "WHERE (executed_at, id) < (%s, %s) "
        cursor.execute(f"SELECT {', '.join(SOURCE)} FROM {TABLE} {after}ORDER BY executed_at DESC, id DESC "
                       "LIMIT %s FOR KEY SHARE", [*([row[0], row[1]] if row[0] is not None else []), limit])
        return _source_rows(cursor.fetchall())


def dangerously_advance_backfill(last: dict[str, Any] | None, count: int) -> None:
    """Save the position after `last` (None: the backfill is done)."""
    with connection.cursor() as cursor:
        if last is None:
            cursor.execute(f"UPDATE {BACKFILL} SET done = true WHERE id = 1")
        else:
            cursor.execute(f"UPDATE {BACKFILL} SET after_executed_at = %s, after_id = %s, indexed = indexed + %s "
                           "WHERE id = 1", [last["executed_at"], last["id"], count])


def dangerously_count_logs() -> int:
    """The planner's estimate of every tenant's logs (progress of the backfill)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(sum(c.reltuples::bigint), 0) FROM pg_inherits i "
                       "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass AND c.reltuples > 0",
                       [TABLE])
        return int(cursor.fetchone()[0])


def dangerously_forget_docs_of(table: str) -> int:
    """Delete the docs and queue rows of the logs in the detached partition `table` (its rows
    leave without a DELETE, so the trigger does not see them)."""
    quoted = connection.ops.quote_name(table)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 0")
        cursor.execute(f"DELETE FROM {DOCS} d USING {quoted} t WHERE d.client_id = t.client_id AND d.log_id = t.id")
        removed = cursor.rowcount
        cursor.execute(f"DELETE FROM {PENDING} p USING {quoted} t WHERE p.log_id = t.id AND p.client_id = t.client_id")
        return removed


def try_runner_lock() -> bool:
    """The indexer's session lock (one runner across processes), if free."""
    return locks.try_lock(locks.SEARCH_INDEXER)


def release_runner_lock() -> None:
    locks.unlock(locks.SEARCH_INDEXER)


# --- a tenant's search ------------------------------------------------------------------------------

def _columns(columns: tuple[str, ...], quote: Any) -> str:
    meta = WorkflowLog._meta
    return ", ".join(f"{TABLE}.{quote(f.column)}::text" if isinstance(f, UUIDField) else f"{TABLE}.{quote(f.column)}"
                     for f in (meta.get_field(name) for name in columns))


def _fetch_within(db: str, timeout_ms: int, sql: str, args: list[Any]) -> list[tuple[Any, ...]]:
    """The rows of `sql` under `timeout_ms`, in a savepoint: a cancellation (QueryCanceled,
    raised as Django's OperationalError) leaves the caller's transaction usable."""
    with transaction.atomic(using=db), connections[db].cursor() as cursor:
        cursor.execute("SELECT set_config('statement_timeout', %s, true)", [f"{max(1, int(timeout_ms))}ms"])
        cursor.execute(sql, args)
        rows = cursor.fetchall()
        cursor.execute("SET LOCAL statement_timeout TO DEFAULT")
        return rows


def search_page(client: Client, *, tsquery: str, condition: str, params: list[Any], columns: tuple[str, ...],
                lo: dt.datetime | None, hi: dt.datetime | None, order_by: str | None, limit: int, offset: int = 0,
                timeout_ms: int) -> list[tuple[Any, ...]]:
    """Relevance and the orderings other than newest first (newest first: `newest_docs`).
    Rows (`columns`) of the logs of `client` whose doc matches `tsquery`, executed in
    [lo, hi) (None: open), matching `condition` (over the log's columns, unqualified), in
    `order_by` (the list's ORDER BY; None: best ts_rank_cd first, then newest); at most `limit`
    after `offset`. Runs under `timeout_ms` in a savepoint: a cancellation (QueryCanceled,
    raised as Django's OperationalError) leaves the caller's transaction usable."""
    db = router.db_for_read(WorkflowLog)
    conn = connections[db]
    bounds, values = "", []
    for op, value in ((">=", lo), ("<", hi)):
        if value is not None:
            bounds += f" AND d.executed_at {op} %s"
            values.append(value)
    relevance = order_by is None
    if relevance:
        order_by = f"ts_rank_cd(m.doc, %s::tsquery) DESC, {TABLE}.executed_at DESC, {TABLE}.id DESC"
    sql = (f"SELECT {_columns(columns, conn.ops.quote_name)} FROM {TABLE} JOIN ("
           f"SELECT d.log_id AS m_id, d.executed_at AS m_at{', d.doc' if relevance else ''} FROM {DOCS} d "
           f"WHERE d.client_id = %s AND d.doc @@ %s::tsquery{bounds}) AS m "
           f"ON {TABLE}.id = m.m_id AND {TABLE}.executed_at = m.m_at "
           f"WHERE {TABLE}.client_id = %s AND ({condition or 'TRUE'}) ORDER BY {order_by} LIMIT %s OFFSET %s")
    args = [client.pk, tsquery, *values, client.pk, *params, *([tsquery] if relevance else []), limit, offset]
    return _fetch_within(db, timeout_ms, sql, args)


def newest_docs(client: Client, *, tsquery: str, lo: dt.datetime | None, hi: dt.datetime | None,
                before: tuple[dt.datetime, str] | None, limit: int, timeout_ms: int, walk: bool,
                statuses: list[str] | None = None, candidates: str | None = None) -> list[tuple[dt.datetime, str]]:
    """(executed_at, log id) of the newest `limit` docs of `client` matching `tsquery` in
    [lo, hi), before the position `before`, of a log whose status is one of `statuses` (None:
    any; a doc stored before its status was kept, NULL, passes: the caller tests the log).
    `walk`: along the docs' (client, executed_at DESC) index, testing each doc, stopping at
    `limit` (fast for a common word, a scan of the window for a rare one); with `statuses`, one
    such walk per status along the (client, status, executed_at DESC) index, merged, so a doc of
    another status is never read. Otherwise every match is collected by the words index first,
    then sorted (fast for a rare word, slow for a common one); `candidates` (a query with a
    phrase: the AND of all its words, which the words index answers without reading a doc):
    those are collected and sorted, and `tsquery` (the positions) is tested on them newest
    first, only until the page is full. The caller chooses
    (query/search.py). Under `timeout_ms`, in a savepoint (see search_page)."""
    db = router.db_for_read(WorkflowLog)
    conditions, values = _bounds(lo, hi, before)
    select = f"SELECT d.executed_at, d.log_id::text FROM {DOCS} d WHERE d.client_id = %s AND d.doc @@ %s::tsquery"
    newest = " ORDER BY d.executed_at DESC, d.log_id DESC LIMIT %s"
    if walk and statuses:
        branches, args = [], []
        for status in [*statuses, None]:
            branches.append(f"({select} AND d.status {'IS NULL' if status is None else '= %s'}{conditions}{newest})")
            args += [client.pk, tsquery, *([] if status is None else [status]), *values, limit]
        sql = f"SELECT * FROM ({' UNION ALL '.join(branches)}) m ORDER BY 1 DESC, 2 DESC LIMIT %s"
        return _fetch_within(db, timeout_ms, sql, [*args, limit])
    if statuses:
        conditions += " AND (d.status = ANY(%s) OR d.status IS NULL)"
        values.append(statuses)
    if walk:
        sql = f"{select}{conditions}{newest}"
    elif candidates is not None:
        # The docs holding every word (exact in the words index: no doc is read for it), newest
        # first; the phrase's positions are tested on those only until the page is full.
        sql = (f"WITH m AS MATERIALIZED (SELECT d.executed_at, d.log_id FROM {DOCS} d WHERE d.client_id = %s "
               f"AND d.doc @@ %s::tsquery{conditions}) SELECT m.executed_at, m.log_id::text "
               f"FROM (SELECT * FROM m ORDER BY 1 DESC, 2 DESC) m WHERE (SELECT x.doc @@ %s::tsquery FROM {DOCS} x "
               "WHERE x.client_id = %s AND x.log_id = m.log_id) LIMIT %s")
        return _fetch_within(db, timeout_ms, sql, [client.pk, candidates, *values, tsquery, client.pk, limit])
    else:
        sql = f"WITH m AS MATERIALIZED ({select}{conditions}) SELECT * FROM m ORDER BY 1 DESC, 2 DESC LIMIT %s"
    return _fetch_within(db, timeout_ms, sql, [client.pk, tsquery, *values, limit])


def _bounds(lo: dt.datetime | None, hi: dt.datetime | None, before: tuple[dt.datetime, str] | None
            ) -> tuple[str, list[Any]]:
    conditions, values = "", []
    for sql, value in (("d.executed_at >= %s", lo), ("d.executed_at < %s", hi)):
        if value is not None:
            conditions += f" AND {sql}"
            values.append(value)
    if before is not None:
        conditions += " AND (d.executed_at, d.log_id) < (%s, %s::uuid)"
        values += [before[0], before[1]]
    return conditions, values


_FREQUENCIES: dict[str, Any] = {"at": -1e9, "words": {}}
FREQUENCIES_SECONDS = 600.0


def dangerously_word_frequencies() -> dict[str, float]:
    """The share of docs (every tenant's) holding each of the most common words, from the
    planner's statistics of `doc` (ANALYZE keeps ~10 x default_statistics_target of them);
    a word not listed is rarer than all of them. Read at most every FREQUENCIES_SECONDS per
    process. Empty on a Citus coordinator (its shell table has no statistics). Every tenant's
    words: only for choosing a plan (query/search.py), never shown."""
    now = time.monotonic()
    if now - _FREQUENCIES["at"] >= FREQUENCIES_SECONDS:
        with connections[router.db_for_read(WorkflowLog)].cursor() as cursor:
            cursor.execute("SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats "
                           "WHERE tablename = %s AND attname = 'doc' AND schemaname = current_schema()", [DOCS])
            row = cursor.fetchone()
        _FREQUENCIES.update(at=now, words=dict(zip(row[0], row[1])) if row and row[0] else {})
    return _FREQUENCIES["words"]


def texts(client: Client, ids: list[str], lo: dt.datetime, hi: dt.datetime) -> list[dict[str, Any]]:
    """The searchable columns of the logs `ids` of `client` (the page's, for its snippets)."""
    if not ids:
        return []
    with connections[router.db_for_read(WorkflowLog)].cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(SOURCE)} FROM {TABLE} WHERE client_id = %s AND id = ANY(%s::uuid[]) "
                       "AND executed_at >= %s AND executed_at <= %s", [client.pk, ids, lo, hi])
        return _source_rows(cursor.fetchall())
