"""Central Logger Python SDK (standard library only).

    from central_logger_sdk import CentralLogger, build_log, Status
    central = CentralLogger("https://logs.example.com", "clk_...", environment="production")
    central.ship_log(build_log(Status.SUCCESS, ticket_id="T-1", execution_time_seconds=1.2))
"""
from .builder import (
    TOP_LEVEL_FIELDS,
    Environment,
    LogBuilder,
    Status,
    build_log,
    hash_pii,
    new_event_id,
    to_iso,
    utc_now_iso,
)
from .client import CentralLogger
from .handler import CentralLoggerHandler, status_for_level

__version__ = "0.2.0"

__all__ = [
    "CentralLogger",
    "CentralLoggerHandler",
    "Environment",
    "LogBuilder",
    "Status",
    "TOP_LEVEL_FIELDS",
    "build_log",
    "hash_pii",
    "new_event_id",
    "status_for_level",
    "to_iso",
    "utc_now_iso",
    "__version__",
]
