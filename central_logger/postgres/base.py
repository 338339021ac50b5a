"""Django's PostgreSQL backend, reading timestamptz with psycopg's C loader.

Django registers its own timestamptz loader, a Python subclass of psycopg's pure-Python one, so
every timestamp of every row is parsed in Python: about half the CPU of reading a 50-row list
page (two timestamps a row). With USE_TZ and the session in UTC (Django sets both here), the
C loader returns the same aware UTC datetimes, so each cursor gets it instead. Everything else
is Django's backend (ENGINE = "central_logger.postgres"; vendor "postgresql"), plus
`fetch_prepared()` for statements worth preparing on the server.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db.backends.postgresql import base
from django.db.backends.postgresql.operations import DatabaseOperations as _Operations
from django.db.backends.base.base import NO_DB_ALIAS
from django.db.utils import DatabaseErrorWrapper
from django.utils.functional import cached_property

import psycopg
from psycopg.postgres import adapters, types
from psycopg.pq import Format

from central_logger.postgres.pool import RecoveringPool

_TIMESTAMPTZ_OID = types["timestamptz"].oid
_LOADER = adapters.get_loader(_TIMESTAMPTZ_OID, Format.TEXT)
# Only the compiled implementation is worth swapping in (psycopg[binary] or [c]).
_C_LOADER = _LOADER if not _LOADER.__module__.startswith("psycopg.") else None


_NEVER = 2**62


class _PreparingCursor(psycopg.Cursor):
    """A server-binding cursor whose statements are prepared (`prepare`: psycopg's argument)
    even when executed through Django's cursor wrapper, which logs and counts them but passes
    no such argument."""

    prepare: bool | None = True

    def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: bool | None = None,
                ) -> Any:
        return super().execute(query, params, prepare=self.prepare if prepare is None else prepare, binary=binary)


class _ErrorWrapper(DatabaseErrorWrapper):
    """Django's error translation, which also tells the replica router when the replica's
    connection fails (central_logger/replica.py retries the request on the primary)."""

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        if exc_type is not None and issubclass(exc_type, (psycopg.OperationalError, psycopg.InterfaceError)):
            from central_logger import replica  # the router module imports Django's db

            replica.note_failure(self.wrapper.alias)
        super().__exit__(exc_type, exc_value, traceback)


class DatabaseOperations(_Operations):
    def last_executed_query(self, cursor: Any, sql: str, params: Any) -> str | None:
        """Logged queries (DEBUG, tests) show a prepared statement with its values, as Django
        shows server-side bound ones; psycopg keeps no text of its own for them."""
        text = super().last_executed_query(cursor, sql, params)
        if text is None and isinstance(cursor, _PreparingCursor):
            return self.compose_sql(sql, params)
        return text


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    @cached_property
    def wrap_database_errors(self) -> DatabaseErrorWrapper:
        return _ErrorWrapper(self)

    @property
    def pool(self) -> Any:
        """Django's pool (OPTIONS["pool"]), as a RecoveringPool (central_logger/postgres/pool.py)."""
        options = self.settings_dict["OPTIONS"].get("pool")
        if self.alias == NO_DB_ALIAS or not options:
            return None
        if self.alias not in self._connection_pools:
            kwargs = {**self.get_connection_params(), "autocommit": True}  # Django sets it properly later
            check = RecoveringPool.check_connection if self.settings_dict["CONN_HEALTH_CHECKS"] else None
            pool = RecoveringPool(kwargs=kwargs, open=False, configure=self._configure_connection, check=check,
                                  **(options if isinstance(options, dict) else {}))
            self._connection_pools.setdefault(self.alias, pool)  # the first thread to get here wins
        return self._connection_pools[self.alias]

    def create_cursor(self, name: str | None = None) -> Any:
        return self._fast_timestamps(super().create_cursor(name))

    def _fast_timestamps(self, cursor: Any) -> Any:
        if _C_LOADER is not None and settings.USE_TZ and self.timezone is dt.timezone.utc:
            cursor.adapters.register_loader(_TIMESTAMPTZ_OID, _C_LOADER)
        return cursor

    def standalone_params(self) -> dict[str, Any]:
        """Keyword arguments for a psycopg connection of its own, beside Django's: the same
        server and credentials, without Django's pool, cursor factory and adapters context
        (benchmark writers, tests holding a lock from another session)."""
        return {k: v for k, v in self.get_connection_params().items()
                if k not in ("pool", "cursor_factory", "context")}

    def fetch_prepared(self, sql: str, params: dict[str, Any] | list[Any] | tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """Every row of `sql`, bound and prepared on the server (once per connection and
        statement text), so PostgreSQL stops planning it on every request: for the hot
        statements of the metrics rollup (logs/tenant_sql/rollup.py) and of the log reads
        (logs/tenant_sql/reads.py: planning a statement over the time partitions of
        `workflow_logs` costs more than running it). Django turns psycopg's automatic
        preparation off for the sake of connection poolers; DB_PREPARED_STATEMENTS=false does
        the same here (PgBouncer in transaction mode before 1.21). Placeholders need casts
        where the type matters, as with any server-side binding."""
        (rows,) = self.fetch_prepared_many([(sql, params)])
        return rows

    def fetch_prepared_many(self, statements: list[tuple[str, Any]], *, prepare_first: bool = True
                            ) -> list[list[tuple[Any, ...]]]:
        """The rows of each (sql, params), as `fetch_prepared`, all sent in one round trip
        (psycopg's pipeline mode) when there are several: a page and its count cost one round
        trip, as the multi-statement query string they replace did. `prepare_first=False`: the
        first statement is a one-off (a deep page: its OFFSET is in its text), sent unprepared
        so it does not push hot statements out of psycopg's cache of prepared ones."""
        self.ensure_connection()
        self.validate_thread_sharing()
        self.validate_no_broken_transaction()
        prepare = bool(settings.DB_PREPARED_STATEMENTS)
        if prepare and self.connection.prepare_threshold is None:
            # Django's None turns preparation off even when asked for; a threshold no query
            # reaches keeps every other statement unprepared, as Django wants.
            self.connection.prepare_threshold = _NEVER

        def cursor(index: int) -> Any:
            raw = self._fast_timestamps(_PreparingCursor(self.connection))
            raw.prepare = prepare and (prepare_first or index > 0)
            return self._prepare_cursor(raw)  # Django's wrapper: logged, counted, errors translated

        if len(statements) == 1 or not psycopg.Pipeline.is_supported():  # pipelines need libpq 14+
            results = []
            for index, (sql, params) in enumerate(statements):
                with cursor(index) as one:
                    one.execute(sql, params)
                    results.append(one.fetchall())
            return results
        cursors = [cursor(index) for index in range(len(statements))]
        try:
            with self.wrap_database_errors:
                # Fetched after the block: leaving it sends the statements and one Sync together
                # and reads every result in one round trip. Fetching inside the block cost a
                # second one (the results, then leaving's Sync and its answer) and more socket
                # waits than sending the statements one by one (bench/README.md, issue 24).
                with self.connection.pipeline():
                    for each, (sql, params) in zip(cursors, statements):
                        each.execute(sql, params)
                return [each.fetchall() for each in cursors]
        finally:
            for each in cursors:
                each.close()
