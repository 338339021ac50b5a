"""How a PostgreSQL database of the settings is configured (the primary and the replica alike)."""
from __future__ import annotations

from typing import Any

from central_logger.dbguard import DeadlineConnection


def configure_postgres(database: dict[str, Any], *, connect_timeout: int, pool: dict[str, Any] | None,
                       statement_timeout_ms: int, conn_max_age: int) -> None:
    """Our backend (psycopg's C timestamp loader, prepared statements; central_logger/postgres),
    the connect timeout, a default statement_timeout (0: none), and psycopg's pool: a request
    waits at most its `timeout` for a connection, then the API answers 503 + Retry-After
    instead of hanging (central_logger/errors.py). Without a pool, persistent connections."""
    database["ENGINE"] = "central_logger.postgres"
    options = database.setdefault("OPTIONS", {})
    if not database.get("HOST") and options.get("host"):
        # A unix socket given as ?host=/dir (as the embedded server's URL does): a HOST like any other.
        database["HOST"] = options.pop("host")
    options.setdefault("connect_timeout", connect_timeout)
    if statement_timeout_ms:
        options["options"] = f"-c statement_timeout={statement_timeout_ms}"
    if pool is not None:
        # Every socket wait honours the request's deadline, even if the server is frozen.
        options["pool"] = {**pool, "connection_class": DeadlineConnection}
        database["CONN_MAX_AGE"] = 0
    else:
        database["CONN_MAX_AGE"] = conn_max_age
        database["CONN_HEALTH_CHECKS"] = True
