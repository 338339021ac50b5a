"""Time-ordered UUIDs (RFC 9562 version 7) for log ids.

Random v4 ids scatter inserts across the whole primary-key index; v7 ids start with the
millisecond timestamp, so new rows land at the right edge of the B-tree, like a sequence,
which keeps ingestion speed flat as the table grows. Python 3.11 has no uuid7(), hence this.

A log's id carries the millisecond of its `executed_at` (`uuid7_for`), the key the log table is
partitioned by: a lookup by id alone knows which partition to read (`executed_range`). Logs
stored before partitioning, and logs dated before 1970, have ids of their arrival time; a
lookup that misses the derived range therefore asks every partition once more.
"""
from __future__ import annotations

import datetime as dt
import os
import time
import uuid


def _from(ms: int, rand: int) -> uuid.UUID:
    value = (ms & ((1 << 48) - 1)) << 80  # 48-bit unix_ts_ms
    value |= 0x7 << 76  # version
    value |= ((rand >> 62) & 0xFFF) << 64  # 12 bits rand_a
    value |= 0b10 << 62  # variant
    value |= rand & ((1 << 62) - 1)  # 62 bits rand_b
    return uuid.UUID(int=value)


def uuid7() -> uuid.UUID:
    return _from(time.time_ns() // 1_000_000, int.from_bytes(os.urandom(10), "big"))


def uuid7_many(n: int) -> list[uuid.UUID]:
    """`n` ids of the same millisecond, from one read of the random source (a batch of 100 logs
    would otherwise make 100 getrandom() system calls)."""
    ms = time.time_ns() // 1_000_000
    pool = os.urandom(10 * n)
    return [_from(ms, int.from_bytes(pool[i:i + 10], "big")) for i in range(0, 10 * n, 10)]


_MAX_MS = 1 << 48


def _ms_of(when: dt.datetime, fallback: int) -> int:
    ms = (when - _EPOCH) // _ONE_MS
    return ms if 0 <= ms < _MAX_MS else fallback


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_ONE_MS = dt.timedelta(milliseconds=1)


def uuid7_for(times: list[dt.datetime]) -> list[uuid.UUID]:
    """One id per log, carrying the millisecond of its executed_at (aware datetimes), from one
    read of the random source. A time outside what 48 bits of milliseconds since 1970 can hold
    gets the current millisecond instead."""
    now = time.time_ns() // 1_000_000
    pool = os.urandom(10 * len(times))
    return [_from(_ms_of(when, now), int.from_bytes(pool[10 * i:10 * i + 10], "big")) for i, when in enumerate(times)]


def executed_range(log_id: uuid.UUID) -> tuple[dt.datetime, dt.datetime] | None:
    """The millisecond [start, end) that a version-7 id carries (None for other versions)."""
    if log_id.version != 7:
        return None
    try:
        start = _EPOCH + (log_id.int >> 80) * _ONE_MS
        return start, start + _ONE_MS
    except OverflowError:  # past year 9999: no datetime holds the end
        return None
