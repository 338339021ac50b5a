from __future__ import annotations

from typing import Any

from django.apps import AppConfig


def spool_readiness() -> dict[str, Any]:
    """The spool can take logs: writable by this process, readable, and not full. `writable` is
    what the container's health check reads (central_logger/healthcheck.py)."""
    from spool.store import spool_path, spool_stats, spool_writable

    if not spool_writable():
        return {"ok": False, "reason": "spool not writable", "writable": False, "path": spool_path()}
    try:
        stats = spool_stats()
    except Exception as exc:  # an unusable spool is a readiness failure, not a 500
        return {"ok": False, "reason": "spool unavailable", "writable": False, "error": exc.__class__.__name__}
    return {"ok": not stats.full, "reason": "spool full", "writable": True, "rows": stats.rows, "bytes": stats.bytes,
            "max_bytes": stats.max_bytes, "full": stats.full, "dead_letters": stats.dead_letters}


class SpoolConfig(AppConfig):
    """The durable spool: logs accepted while PostgreSQL is unavailable wait here, on disk."""

    name = "spool"

    def ready(self) -> None:
        from central_logger import background, health, warmup
        from spool.drain import drainer
        from spool.store import connection

        background.register(drainer)
        health.register_readiness_check("spool", spool_readiness)
        # A new worker opens the file (creating its schema, WAL) before it accepts, not under load.
        warmup.register_preparation("spool", connection)
