"""Encoders of `GET /api/v1/logs/export`: rows in, bytes out, in chunks, in constant memory.

CSV: a header row of the summary columns (without the `metrics` object) followed by one
`metrics.<key>` column per metric key (the union over the exported logs, sorted); scalar metrics
as text, nested ones as JSON. Strings that a spreadsheet would run as a formula (starting with
`=`, `+`, `-`, `@`, tab or CR) are prefixed with `'` (OWASP's CSV-injection advice).
NDJSON: one complete log (LogDetail) per line.
"""
from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from central_logger.renderers import dumps
from logs.models import SUMMARY_FIELDS

CSV_BASE_COLUMNS = tuple(name for name in SUMMARY_FIELDS if name != "metrics")
FLUSH_BYTES = 64 * 1024
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """csv.writer's file: `write` hands back the encoded line instead of storing it."""

    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, (dict, list)):
        return dumps(value).decode()
    if isinstance(value, str):
        return "'" + value if value.startswith(_FORMULA_START) else value
    return value  # numbers, UUIDs


def _buffered(lines: Iterable[str | bytes]) -> Iterator[bytes]:
    """Join small lines into ~64 KiB chunks: fewer, larger writes to the socket."""
    buffer: list[bytes] = []
    size = 0
    for line in lines:
        data = line.encode() if isinstance(line, str) else line
        buffer.append(data)
        size += len(data)
        if size >= FLUSH_BYTES:
            yield b"".join(buffer)
            buffer, size = [], 0
    if buffer:
        yield b"".join(buffer)


def csv_stream(rows: Iterable[dict[str, Any]], metric_keys: list[str]) -> Iterator[bytes]:
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow([*CSV_BASE_COLUMNS, *(f"metrics.{key}" for key in metric_keys)])
        for row in rows:
            metrics = row.get("metrics") if isinstance(row.get("metrics"), dict) else {}
            yield writer.writerow([
                *(_cell(row[name]) for name in CSV_BASE_COLUMNS),
                *(_cell(metrics.get(key)) for key in metric_keys),
            ])

    return _buffered(lines())


def ndjson_stream(rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    return _buffered(dumps(row) + b"\n" for row in rows)
