"""The spool's group commit: requests spooling at the same time share one SQLite transaction,
each still gets exactly its own answer (ids, duplicates, SpoolFull), and a request that no
commit takes within SPOOL_BUSY_TIMEOUT stores nothing."""
from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest

from spool import store

THREADS = 12


def _item(event_id: str | None = None, size: int = 10) -> store.SpoolItem:
    return store.SpoolItem(id=str(uuid.uuid4()), event_id=event_id,
                           fields={"environment": "production", "status": "SUCCESS", "extra": {},
                                   "executed_at": "2026-11-29T00:00:00+00:00", "payload": {"text": "x" * size}})


def _spooled_ids() -> set[str]:
    return {row[0] for row in store.connection().execute("SELECT id FROM spooled_logs")}


def _hold_first_commit(monkeypatch: Any, release: threading.Event) -> list[int]:
    """The first group commit waits for `release`; returns the list of group sizes written."""
    sizes: list[int] = []
    real = store._commit

    def commit(group: list[Any]) -> None:
        if not sizes:
            assert release.wait(10)
        sizes.append(len(group))
        real(group)

    monkeypatch.setattr(store, "_commit", commit)
    return sizes


def _wait_for_queue(length: int) -> None:
    deadline = time.monotonic() + 10
    while len(store._queue) < length:
        assert time.monotonic() < deadline, len(store._queue)
        time.sleep(0.005)


def _run_concurrently(calls: list[Any]) -> tuple[list[Any], list[threading.Thread]]:
    """Run each call in its own thread: the first until it holds the commit lock (and waits in
    the held first commit), then the others, which queue behind it. Returns the list their
    results or exceptions are written to, and the threads."""
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        try:
            results[index] = calls[index]()
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            results[index] = exc
        finally:
            store.close_connections()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    threads[0].start()
    deadline = time.monotonic() + 10
    while not store._commit_lock.locked():
        assert time.monotonic() < deadline
        time.sleep(0.005)
    for thread in threads[1:]:
        thread.start()
    return results, threads


def _in_one_group(monkeypatch: Any, calls: list[Any]) -> tuple[list[int], list[Any]]:
    """Run `calls` at once: the first holds the commit until all the others are queued behind
    it, so they are written together. Returns the group sizes written and each call's result."""
    release = threading.Event()
    sizes = _hold_first_commit(monkeypatch, release)
    results, threads = _run_concurrently(calls)
    _wait_for_queue(len(calls) - 1)  # the first is being written; the others wait in the queue
    release.set()
    for thread in threads:
        thread.join(10)
    return sizes, results


def test_concurrent_puts_share_one_transaction_and_each_gets_its_own_ids(monkeypatch: Any) -> None:
    items = [[_item(), _item()] for _ in range(THREADS)]
    sizes, results = _in_one_group(monkeypatch, [
        lambda batch=batch: store.spool_put(client_id=1, api_key_id=7, items=batch) for batch in items])

    assert sizes == [1, THREADS - 1]  # two transactions for twelve requests
    for batch, result in zip(items, results):
        assert result.ids == [item.id for item in batch] and result.duplicate == [False, False]
    assert _spooled_ids() == {item.id for batch in items for item in batch}
    assert store.spool_stats().rows == 2 * THREADS


def test_the_same_event_id_in_one_group_is_stored_once(monkeypatch: Any) -> None:
    first, again, other_tenant = _item("evt-1"), _item("evt-1"), _item("evt-1")
    sizes, results = _in_one_group(monkeypatch, [
        lambda: store.spool_put(client_id=1, api_key_id=None, items=[_item()]),  # holds the commit
        lambda: store.spool_put(client_id=1, api_key_id=None, items=[first]),
        lambda: store.spool_put(client_id=1, api_key_id=None, items=[again]),
        lambda: store.spool_put(client_id=2, api_key_id=None, items=[other_tenant]),
    ])

    assert sizes == [1, 3]
    created, duplicate = sorted(results[1:3], key=lambda r: r.duplicate[0])
    assert created.duplicate == [False] and duplicate.duplicate == [True]
    assert duplicate.ids == created.ids  # the retry answers the id of the stored one
    assert results[3].ids == [other_tenant.id] and results[3].duplicate == [False]
    assert _spooled_ids() == {results[0].ids[0], created.ids[0], other_tenant.id}


def test_a_put_that_does_not_fit_fails_alone(monkeypatch: Any, settings: Any) -> None:
    settings.SPOOL_MAX_BYTES = 5_000
    small, large, small_again = _item(), _item(size=20_000), _item()
    sizes, results = _in_one_group(monkeypatch, [
        lambda item=item: store.spool_put(client_id=1, api_key_id=None, items=[item])
        for item in (_item(), small, large, small_again)])

    assert sizes == [1, 3]
    assert isinstance(results[2], store.SpoolFull)
    assert results[1].ids == [small.id] and results[3].ids == [small_again.id]
    assert large.id not in _spooled_ids() and {small.id, small_again.id} <= _spooled_ids()


def test_a_put_no_commit_takes_in_time_stores_nothing(monkeypatch: Any, settings: Any) -> None:
    settings.SPOOL_BUSY_TIMEOUT = 0.2
    release = threading.Event()
    _hold_first_commit(monkeypatch, release)
    held = _item()
    results, threads = _run_concurrently([lambda: store.spool_put(client_id=1, api_key_id=None, items=[held])])

    late = _item()
    started = time.monotonic()
    with pytest.raises(store.SpoolUnavailable):
        store.spool_put(client_id=1, api_key_id=None, items=[late])
    assert time.monotonic() - started < 2
    assert store._queue == []  # it left the queue: no later commit writes it

    release.set()
    threads[0].join(10)
    assert results[0].ids == [held.id]
    assert _spooled_ids() == {held.id}
