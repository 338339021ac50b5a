from __future__ import annotations

import time
import uuid

from logs.ids import uuid7, uuid7_many


def _ms(value: uuid.UUID) -> int:
    return value.int >> 80


def test_uuid7_many_gives_distinct_version_7_ids_of_the_current_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    ids = uuid7_many(500)
    after = time.time_ns() // 1_000_000
    assert len(ids) == len(set(ids)) == 500
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    assert all(before <= _ms(i) <= after for i in ids)
    # the random bits really differ (not one random value reused with a counter)
    assert len({i.int & ((1 << 62) - 1) for i in ids}) == 500
    assert uuid7_many(0) == []


def test_uuid7_ids_sort_by_time() -> None:
    first = uuid7()
    time.sleep(0.002)
    batch = uuid7_many(3)
    time.sleep(0.002)
    last = uuid7()
    assert all(first < i < last for i in batch)
    assert first.version == last.version == 7
