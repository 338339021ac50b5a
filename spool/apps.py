from __future__ import annotations

from collections.abc import Iterator
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


def spool_metrics() -> Iterator[Any]:
    """The spool's state at each Prometheus scrape (central_logger/monitoring.py): per node, the
    same for every worker, so read from the file rather than tracked."""
    import datetime as dt

    from central_logger.monitoring import gauge
    from spool.store import spool_oldest_accepted_at, spool_stats, spool_writable

    yield gauge("spool_writable", "The spool can be written by this service (1) or not (0).",
                1 if spool_writable() else 0)
    stats = spool_stats()
    oldest = spool_oldest_accepted_at()
    age = (dt.datetime.now(dt.timezone.utc) - oldest).total_seconds() if oldest else 0.0
    yield gauge("spool_logs", "Logs waiting in the spool for PostgreSQL.", stats.rows)
    yield gauge("spool_bytes", "Bytes of the logs waiting in the spool.", stats.bytes)
    yield gauge("spool_max_bytes", "SPOOL_MAX_BYTES: when spool_bytes reaches it, ingestion answers 503.",
                stats.max_bytes)
    yield gauge("spool_oldest_age_seconds", "How long the oldest log in the spool has waited (0: empty).", age)
    yield gauge("spool_dead_letters", "Spooled logs PostgreSQL refused, kept for an operator.", stats.dead_letters)


class SpoolConfig(AppConfig):
    """The durable spool: logs accepted while PostgreSQL is unavailable wait here, on disk."""

    name = "spool"

    def ready(self) -> None:
        from central_logger import background, health, monitoring, warmup
        from spool.drain import drainer
        from spool.store import connection

        background.register(drainer)
        health.register_readiness_check("spool", spool_readiness)
        monitoring.register_scrape("spool", spool_metrics)
        # A new worker opens the file (creating its schema, WAL) before it accepts, not under load.
        warmup.register_preparation("spool", connection)
