"""Reading rows as plain dicts without the ORM's per-value conversion (hot read paths)."""
from __future__ import annotations

from typing import Any

import orjson
from django.db import connections
from django.db.models import QuerySet

# Columns stored as jsonb that Django reads back as text (its JSONField decodes them).
JSON_FIELDS = frozenset({"metrics", "payload", "metadata", "extra"})


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
    json_columns = [i for i, name in enumerate(columns) if name in JSON_FIELDS]
    with connections[db].cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    out = []
    for row in rows:
        row = list(row)
        for i in json_columns:
            if isinstance(row[i], str):
                row[i] = orjson.loads(row[i])
        out.append(dict(zip(columns, row)))
    return out
