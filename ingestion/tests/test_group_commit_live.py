"""Single logs posted at the same time share transactions (ingestion/groupcommit.py), through a
real gunicorn worker and real threads: every log stored once with the id its answer gave,
duplicates answered as duplicates, a row held up by another transaction not holding up its
neighbours, and an outage still spooling every log at once.
"""
from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection

from central_logger.tests.live import LiveServer
from central_logger.tests.tcp_proxy import TcpProxy
from conftest import make_tenant
from logs.tests.factories import recent_log

pytestmark = pytest.mark.django_db(transaction=True)
# Realistic logs: several languages, an empty field, a long value.
TEXTS = ["Rückerstattung für Bestellung Nr. 4711", "退款申请：订单未送达", "طلب استرداد المبلغ", "",
         "Заказ не доставлен " * 40, "refund 🙂 please"]


def post(port: int, key: str, body: dict[str, Any], event_id: str | None = None) -> tuple[int, dict[str, Any], float]:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    if event_id is not None:
        headers["Idempotency-Key"] = event_id
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/api/v1/logs", body=json.dumps(body).encode(), headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read()), time.monotonic() - started
    finally:
        conn.close()


def server_port(server: LiveServer) -> int:
    return server.port


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run each call in a thread of its own, all released together; their results in order."""
    results: list[Any] = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def stored(client_id: int) -> dict[str, tuple[str, str]]:
    """id -> (ticket_id, the inserting transaction) of the tenant's stored logs."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT id::text, ticket_id, xmin::text FROM workflow_logs WHERE client_id = %s", [client_id])
        return {pk: (ticket, xmin) for pk, ticket, xmin in cursor.fetchall()}


@pytest.fixture
def server(transactional_db: Any, tmp_path: Path) -> Iterator[LiveServer]:
    """The production ingestion budget (1 s), for the tests of what happens when it runs out."""
    with LiveServer(tmp_path / "server.log", env={
            "GUNICORN_THREADS": "32", "RATE_LIMIT_INGEST": "", "KEY_SNAPSHOT_PATH": str(tmp_path / "keys.sqlite3"),
            "INGEST_DB_TIMEOUT_MS": "1000", "DB_CIRCUIT_OPEN_SECONDS": "0"}) as live:
        yield live


@pytest.fixture
def roomy_server(transactional_db: Any, tmp_path: Path) -> Iterator[LiveServer]:
    """The test settings' budget (10 s): 56 requests at once on one worker of a busy CI machine
    must not spool for want of time, since what is tested is who gets which answer."""
    with LiveServer(tmp_path / "server.log", env={
            "GUNICORN_THREADS": "32", "RATE_LIMIT_INGEST": "", "KEY_SNAPSHOT_PATH": str(tmp_path / "keys.sqlite3")}) as live:
        yield live


def test_concurrent_single_logs_are_each_stored_once_with_their_own_answer(roomy_server: LiveServer) -> None:
    server = roomy_server
    tenant, other = make_tenant("group-a"), make_tenant("group-b")
    calls: list[Callable[[], Any]] = []
    for i in range(40):
        body = recent_log(1, ticket_id=f"T-{i}", payload={"final_response": TEXTS[i % len(TEXTS)], "trace": {}})
        # Every fourth with an idempotency key; a few of the other tenant's mixed in.
        key = other.key if i % 10 == 9 else tenant.key
        calls.append(lambda body=body, key=key, i=i: post(server_port(server), key, body, f"evt-{i}" if i % 4 == 0 else None))
    # Eight event ids posted twice at the same instant: one is stored, the other is its duplicate.
    for i in range(8):
        body = recent_log(2, ticket_id=f"D-{i}")
        calls += [lambda body=body, i=i: post(server_port(server), tenant.key, body, f"dup-{i}")] * 2
    results = at_once(calls)

    assert all(not isinstance(r, Exception) for r in results), results
    singles, pairs = results[:40], results[40:]
    assert [status for status, _, _ in singles] == [201] * 40, [r[:2] for r in singles]
    rows = {**stored(tenant.client.pk), **stored(other.client.pk)}
    for i, (_status, body, _) in enumerate(singles):
        assert body["duplicate"] is False and body["spooled"] is False
        assert rows[body["id"]][0] == f"T-{i}", (i, body)  # the answer's id is this log's
    for i in range(8):
        (s1, b1, _), (s2, b2, _) = pairs[2 * i], pairs[2 * i + 1]
        assert sorted([s1, s2]) == [200, 201], (i, s1, s2)
        assert b1["id"] == b2["id"] and rows[b1["id"]][0] == f"D-{i}"
        assert {b1["duplicate"], b2["duplicate"]} == {True, False}
    assert len(rows) == 48  # nothing stored twice, nothing lost
    assert len(stored(other.client.pk)) == 4  # the other tenant's logs under its own id
    # Shared commits: fewer transactions than logs (each transaction id is its rows' xmin).
    transactions = {xmin for _, xmin in rows.values()}
    assert len(transactions) < len(rows), len(transactions)


def test_a_row_held_by_another_transaction_does_not_hold_up_its_neighbours(server: LiveServer) -> None:
    tenant = make_tenant("group-held")
    assert post(server_port(server), tenant.key, recent_log(1))[0] == 201  # the worker is warm
    # Another session claims event id "held" and keeps its transaction open: a log with that id
    # waits on the claim until statement_timeout (INGEST_DB_TIMEOUT_MS), as would a retry racing
    # the first attempt in another process.
    with psycopg.connect(**connection.standalone_params()) as holder:
        holder.execute("INSERT INTO logs_event_ids (client_id, event_id, log_id, executed_at) VALUES (%s, 'held', %s, now())",
                       [tenant.client.pk, uuid.uuid4()])
        calls: list[Callable[[], Any]] = [lambda: post(server_port(server), tenant.key, recent_log(1, ticket_id="H"), "held")]
        calls += [lambda i=i: post(server_port(server), tenant.key, recent_log(1, ticket_id=f"N-{i}")) for i in range(24)]
        results = at_once(calls)
        holder.rollback()
    assert all(not isinstance(r, Exception) for r in results), (results, server.log[-5000:])
    (held_status, held, held_seconds), neighbours = results[0], results[1:]
    # The held log: spooled (202) within its budget, with its own id. Its neighbours: committed.
    assert held_status == 202 and held["spooled"] is True and held_seconds < 3.0, (held_status, held, held_seconds)
    assert [status for status, _, _ in neighbours] == [201] * 24, [r[:2] for r in neighbours]
    rows = stored(tenant.client.pk)
    assert {rows[body["id"]][0] for _, body, _ in neighbours} == {f"N-{i}" for i in range(24)}
    assert all(seconds < 3.0 for _, _, seconds in neighbours)


def test_a_group_whose_row_waits_on_a_lock_is_stored_row_by_row(transactional_db: Any, tmp_path: Path) -> None:
    """One commit slot, held by a log waiting on event id "first" while the others queue; once
    it goes, the queued logs go as one group, which meets event id "held" claimed elsewhere: the
    group gives up after GROUP_LOCK_TIMEOUT_MS and each log is stored alone, so only the held log
    waits (and is spooled), its neighbours are committed."""
    tenant = make_tenant("group-lock")
    with LiveServer(tmp_path / "server.log", env={
            "GUNICORN_THREADS": "32", "RATE_LIMIT_INGEST": "", "KEY_SNAPSHOT_PATH": str(tmp_path / "keys.sqlite3"),
            "INGEST_DB_TIMEOUT_MS": "1000", "DB_CIRCUIT_OPEN_SECONDS": "0", "INGEST_GROUP_COMMIT_SLOTS": "1"}) as server:
        port = server_port(server)
        assert post(port, tenant.key, recent_log(1))[0] == 201
        claim = "INSERT INTO logs_event_ids (client_id, event_id, log_id, executed_at) VALUES (%s, %s, %s, now())"
        with psycopg.connect(**connection.standalone_params()) as first, \
                psycopg.connect(**connection.standalone_params()) as held:
            first.execute(claim, [tenant.client.pk, "first", uuid.uuid4()])
            held.execute(claim, [tenant.client.pk, "held", uuid.uuid4()])
            blocker: list[Any] = []
            thread = threading.Thread(target=lambda: blocker.append(post(port, tenant.key, recent_log(1), "first")))
            thread.start()
            time.sleep(0.3)  # it has the slot, waiting on "first"

            def release_first() -> None:
                time.sleep(0.3)  # the others have queued
                first.rollback()

            calls: list[Callable[[], Any]] = [release_first,
                                              lambda: post(port, tenant.key, recent_log(1, ticket_id="H"), "held")]
            calls += [lambda i=i: post(port, tenant.key, recent_log(1, ticket_id=f"L-{i}")) for i in range(12)]
            results = at_once(calls)[1:]
            thread.join(10)
            held.rollback()
        log = server.log
    assert blocker[0][0] == 201, blocker
    assert all(not isinstance(r, Exception) for r in results), results
    (held_status, held_body, held_seconds), neighbours = results[0], results[1:]
    assert held_status == 202 and held_body["spooled"] is True and held_seconds < 3.0
    assert [status for status, _, _ in neighbours] == [201] * 12, [r[:2] for r in neighbours]
    rows = stored(tenant.client.pk)
    assert {rows[body["id"]][0] for _, body, _ in neighbours} == {f"L-{i}" for i in range(12)}
    assert "(LockNotAvailable); storing each alone" in log, log[-3000:]


def test_an_outage_spools_every_concurrent_log_quickly(transactional_db: Any, tmp_path: Path) -> None:
    db = connection.settings_dict
    proxy = TcpProxy((db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))).resume()
    tenant = make_tenant("group-outage")
    url = f"postgres://{db['USER'] or 'postgres'}@127.0.0.1:{proxy.port}/{db['NAME']}"
    try:
        with LiveServer(tmp_path / "server.log", env={
                "DATABASE_URL": url, "GUNICORN_THREADS": "32", "RATE_LIMIT_INGEST": "",
                "KEY_SNAPSHOT_PATH": str(tmp_path / "keys.sqlite3"), "INGEST_DB_TIMEOUT_MS": "1000",
                "SPOOL_DRAIN_INTERVAL": "0.2"}) as server:
            assert post(server_port(server), tenant.key, recent_log(1))[0] == 201  # the key is remembered
            proxy.cut()
            results = at_once([lambda i=i: post(server_port(server), tenant.key, recent_log(1, ticket_id=f"O-{i}"),
                                                f"out-{i}" if i % 2 else None) for i in range(24)])
            assert all(not isinstance(r, Exception) for r in results), results
            assert [status for status, _, _ in results] == [202] * 24, [r[:2] for r in results]
            assert all(seconds < 3.0 for _, _, seconds in results), [r[2] for r in results]
            ids = {body["id"]: f"O-{i}" for i, (_, body, _) in enumerate(results)}
            assert len(ids) == 24
            proxy.resume()  # the drainer stores the spooled logs, each once, with its id
            deadline = time.monotonic() + 20
            while len(stored(tenant.client.pk)) < 25 and time.monotonic() < deadline:
                time.sleep(0.2)
    finally:
        proxy.cut()
    rows = stored(tenant.client.pk)
    assert len(rows) == 25 and all(rows[pk][0] == ticket for pk, ticket in ids.items())
