"""The service's PostgreSQL advisory locks: one table of their keys, so two runners never share
a key by accident (the alerts evaluator once held the partition runner's and each waited out
the other's round), and the session-lock calls every runner makes.

A key is (class, key). The rollup's triggers and flusher take 727001 per client in SQL (logs
migrations 0005 onwards), with the client's id as the second key."""
from __future__ import annotations

from django.db import connection

ROLLUP_CLASS = 727001
PARTITION_RUNNER = (727002, 1)  # the partition maintenance round (logs/tenant_sql/partitions.py)
PARTITION_DDL = (727002, 2)     # any partition DDL, transaction-scoped
ALERTS_EVALUATOR = (727003, 1)  # alerts/evaluator.py
SEARCH_INDEXER = (727004, 0)    # logs/search_indexer.py

KEYS = (PARTITION_RUNNER, PARTITION_DDL, ALERTS_EVALUATOR, SEARCH_INDEXER)


def try_lock(key: tuple[int, int]) -> bool:
    """`key`'s session lock on the default connection, if it is free (release with `unlock`)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", list(key))
        return bool(cursor.fetchone()[0])


def unlock(key: tuple[int, int]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", list(key))
