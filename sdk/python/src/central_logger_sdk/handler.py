"""logging.Handler adapter: turn LogRecords into Central Logger logs."""
from __future__ import annotations

import logging
import traceback
from datetime import datetime, timezone
from typing import Any, Dict, Mapping, Optional

from .builder import TOP_LEVEL_FIELDS, Status

__all__ = ["CentralLoggerHandler", "status_for_level"]

# Attributes every LogRecord has; anything else came from ``extra=``.
_STD_ATTRS = frozenset(
    vars(logging.LogRecord("n", logging.INFO, "p", 1, "m", None, None)).keys()
) | {"message", "asctime", "taskName"}


def status_for_level(levelno: int) -> str:
    """ERROR/CRITICAL -> ERROR, WARNING -> PARTIAL, INFO/DEBUG -> SUCCESS."""
    if levelno >= logging.ERROR:
        return Status.ERROR
    if levelno >= logging.WARNING:
        return Status.PARTIAL
    return Status.SUCCESS


class CentralLoggerHandler(logging.Handler):
    """Ship every record of a ``logging`` logger through a CentralLogger.

    * Fields passed with ``extra={...}`` that are top-level log fields
      (``ticket_id``, ``category``, ``status``, ``metrics``, ``payload``...) go
      to the top level; other extra fields go to ``metadata``. A dict passed as
      ``extra={"central_log": {...}}`` is merged into the top level as-is.
    * ``status`` defaults from the level (see :func:`status_for_level`).
    * ``metadata`` gets ``message``, ``logger`` and ``level``; with
      ``exc_info`` the log gets ``workflow_error``/``workflow_error_type`` and
      ``metadata["traceback"]``.
    * Records of the SDK's own logger (``central_logger_sdk``) are ignored,
      so a delivery problem can never feed back into itself.
    """

    def __init__(
        self,
        central_logger: Any,
        level: int = logging.NOTSET,
        *,
        defaults: Optional[Mapping[str, Any]] = None,
        max_traceback_chars: int = 20_000,
    ) -> None:
        super().__init__(level)
        self.central_logger = central_logger
        self.defaults = dict(defaults or {})
        self.max_traceback_chars = max_traceback_chars

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if record.name == "central_logger_sdk" or record.name.startswith("central_logger_sdk."):
                return
            self.central_logger.ship_log(self.record_to_log(record))
        except Exception:
            pass  # never raise into the caller, never print

    def record_to_log(self, record: logging.LogRecord) -> Dict[str, Any]:
        log: Dict[str, Any] = dict(self.defaults)
        metadata: Dict[str, Any] = dict(log.get("metadata") or {})
        for key, value in record.__dict__.items():
            if key in _STD_ATTRS:
                continue
            if key == "central_log" and isinstance(value, Mapping):
                log.update(value)
            elif key in TOP_LEVEL_FIELDS and key != "metadata":
                log[key] = value
            elif key == "metadata" and isinstance(value, Mapping):
                metadata.update(value)
            else:
                metadata[key] = value
        metadata.setdefault("message", record.getMessage())
        metadata.setdefault("logger", record.name)
        metadata.setdefault("level", record.levelname)
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            log.setdefault("workflow_error", str(exc) or type(exc).__name__)
            log.setdefault("workflow_error_type", type(exc).__name__)
            tb = "".join(traceback.format_exception(*record.exc_info))
            metadata.setdefault("traceback", tb[-self.max_traceback_chars:])
        if isinstance(log.get("metadata"), Mapping):
            metadata = {**log["metadata"], **metadata}
        log["metadata"] = metadata
        log.setdefault("status", status_for_level(record.levelno))
        log.setdefault(
            "executed_at", datetime.fromtimestamp(record.created, timezone.utc).isoformat()
        )
        return log
