"""Reading rows as plain dicts without the ORM's per-value conversion (hot read paths)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from django.db import connections, router
from django.db.models import Model, QuerySet, UUIDField

# Columns stored as jsonb that Django reads back as text (its JSONField decodes them).
JSON_FIELDS = frozenset({"metrics", "payload", "metadata", "extra"})


def _decoded(values: dict[str, Any], json_columns: set[str] | frozenset[str],
             load: Callable[[str], Any] = orjson.loads) -> dict[str, Any]:
    """Turn the JSON columns, which Django's PostgreSQL backend hands back as text, into values
    by `load` (parsed; or `orjson.Fragment`: the text, rendered as is). SQL NULL stays None."""
    for name in json_columns:
        if isinstance(values[name], str):
            values[name] = load(values[name])
    return values


def fetch_dicts(queryset: QuerySet[Any], columns: tuple[str, ...]) -> list[dict[str, Any]]:
    """The rows of `queryset` as dicts of `columns` (what `.values(*columns)` returns).

    On PostgreSQL the ORM's per-value converters are skipped: psycopg already returns UUIDs,
    aware datetimes and numbers, and JSON columns (which Django reads as text) are parsed by
    orjson. That halves the cost of turning a page of 50 rows into dicts.
    """
    values = queryset.values(*columns)
    db = values.db
    if connections[db].vendor != "postgresql":
        return list(values)
    compiler = values.query.get_compiler(using=db)
    sql, params = compiler.as_sql()
    json_columns = JSON_FIELDS.intersection(columns)
    with connections[db].cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [_decoded(dict(zip(columns, row)), json_columns) for row in rows]


_TENANT_SELECT: dict[tuple[type[Model], tuple[str, ...], str], str] = {}


def _select_column(field: Any, quote: Callable[[str], str]) -> str:
    # UUIDs as their text: these rows are rendered, never compared, and psycopg builds a
    # uuid.UUID per value (~5k instructions each; -4.6 % for a 50-row list page, callgrind).
    return f"{quote(field.column)}::text" if isinstance(field, UUIDField) else quote(field.column)


# A second statement sent after a read in the same round trip: its SQL and parameters.
Statement = tuple[str, list[Any]]


def _tenant_rows(model: type[Model], columns: tuple[str, ...], condition: str, params: list[Any],
                 *, client_id: int, then: Statement | None = None
                 ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]] | None]:
    """Rows of `SELECT columns FROM model's table WHERE client = %s AND condition`, on the
    database the router reads `model` from. The tenant condition is part of every such
    statement, like `for_client()`; `condition` comes from code (placeholders only, every value
    in `params`). The SELECT ... WHERE prefix is built once per (model, columns, database).
    UUID columns come back as text. PostgreSQL only (other backends need the ORM's value
    converters).

    `then`: another statement, sent in the same query string after this one (one round trip
    instead of two; each costs ~100 us of this process's CPU), whose rows come back second
    (None without it). Parameters are bound on the client, as for every Django query."""
    db = router.db_for_read(model)
    connection = connections[db]
    if connection.vendor != "postgresql":
        raise NotImplementedError
    key = (model, columns, db)
    prefix = _TENANT_SELECT.get(key)
    if prefix is None:
        meta, quote = model._meta, connection.ops.quote_name
        select = ", ".join(_select_column(meta.get_field(name), quote) for name in columns)
        prefix = f"SELECT {select} FROM {quote(meta.db_table)} WHERE {quote(meta.get_field('client').column)} = %s"
        _TENANT_SELECT[key] = prefix
    sql, values = f"{prefix} AND {condition}", [client_id, *params]
    if then is not None:
        sql, values = f"{sql}; {then[0]}", [*values, *then[1]]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        rows = cursor.fetchall()
        if then is None:
            return rows, None
        cursor.nextset()
        return rows, cursor.fetchall()


def fetch_one_for_client(model: type[Model], *, client_id: int, pk: Any,
                         columns: tuple[str, ...]) -> dict[str, Any] | None:
    """One row of `model` by primary key AND tenant, as a dict of `columns`; None when absent.

    Compiling a 22-column ORM query cost about half the CPU of `GET /api/v1/logs/{id}`.
    """
    rows, _ = _tenant_rows(model, columns, f'"{model._meta.pk.column}" = %s LIMIT 1', [pk], client_id=client_id)
    if not rows:
        return None
    return _decoded(dict(zip(columns, rows[0])), JSON_FIELDS.intersection(columns))


def fetch_page_for_client(model: type[Model], *, client_id: int, where: str, params: list[Any], order_by: str,
                          columns: tuple[str, ...], offset: int = 0, limit: int | None = None,
                          json_as_text: bool = False, then: Statement | None = None
                          ) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]] | None]:
    """A page of `model`'s rows of one tenant, as dicts of `columns`: `WHERE client = %s AND
    (where) ORDER BY order_by LIMIT limit OFFSET offset` (no limit: every row).

    For the list's common filters (logs.filters.LogFilterSet.where_sql) and the errors'
    examples: compiling the ORM query of a page cost more CPU than PostgreSQL spent answering
    it. `where` and `order_by` come from code (placeholders only; every value is in `params`).

    `json_as_text`: JSON columns stay the text PostgreSQL sent, wrapped as `orjson.Fragment`,
    which the JSON renderer writes into the response as is: for rows that are only rendered
    (the list page). Parsing each row's `metrics` into a dict and serialising it again was
    ~7 % of the instructions of a 50-row page request (callgrind).

    `then`: a statement sent in the same round trip (see `_tenant_rows`); returns the page and
    that statement's rows (None without it).
    """
    condition = f"({where or 'TRUE'}) ORDER BY {order_by} LIMIT %s OFFSET %s"
    rows, then_rows = _tenant_rows(model, columns, condition, [*params, limit, offset],  # LIMIT NULL: all
                                   client_id=client_id, then=then)
    json_columns = JSON_FIELDS.intersection(columns)
    load = orjson.Fragment if json_as_text else orjson.loads
    return [_decoded(dict(zip(columns, row)), json_columns, load) for row in rows], then_rows
