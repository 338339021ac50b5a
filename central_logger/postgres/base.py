"""Django's PostgreSQL backend, reading timestamptz with psycopg's C loader.

Django registers its own timestamptz loader, a Python subclass of psycopg's pure-Python one, so
every timestamp of every row is parsed in Python: about half the CPU of reading a 50-row list
page (two timestamps a row). With USE_TZ and the session in UTC (Django sets both here), the
C loader returns the same aware UTC datetimes, so each cursor gets it instead. Everything else
is Django's backend (ENGINE = "central_logger.postgres"; vendor "postgresql").
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db.backends.postgresql import base

try:
    from psycopg.postgres import adapters, types
    from psycopg.pq import Format

    _TIMESTAMPTZ_OID = types["timestamptz"].oid
    _LOADER = adapters.get_loader(_TIMESTAMPTZ_OID, Format.TEXT)
    # Only the compiled implementation is worth swapping in (psycopg[binary] or [c]).
    _C_LOADER = _LOADER if not _LOADER.__module__.startswith("psycopg.") else None
except ImportError:  # pragma: no cover - psycopg is a dependency
    _C_LOADER = None


class DatabaseWrapper(base.DatabaseWrapper):
    def create_cursor(self, name: str | None = None) -> Any:
        return self._fast_timestamps(super().create_cursor(name))

    def _fast_timestamps(self, cursor: Any) -> Any:
        if _C_LOADER is not None and settings.USE_TZ and self.timezone is dt.timezone.utc:
            cursor.adapters.register_loader(_TIMESTAMPTZ_OID, _C_LOADER)
        return cursor
