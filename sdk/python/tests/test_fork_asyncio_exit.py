import asyncio
import os
import time

import pytest

from conftest import make_log, run_script, wait_until
from fake_collector import API_KEY

@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_forked_child_gets_its_own_worker(collector, make_client):
    client = make_client(collector.url, flush_interval=30, batch_size=100)
    client.ship_log(make_log(0, ticket_id="parent-before"))
    assert client.flush(5)
    # logs queued in the parent at fork time must not be sent by the child too
    client.ship_log(make_log(1, ticket_id="parent-queued"))
    assert client.stats()["queued"] == 1
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            st = client.stats()
            ok = st["queued"] == 0 and st["sent"] == 0 and not st["worker_alive"]
            for i in range(5):
                ok = client.ship_log(make_log(i, ticket_id="child")) and ok
            ok = client.flush(5) and ok
            st = client.stats()
            ok = ok and st["worker_alive"] and st["sent"] == 5
            client.close(2)
            code = 0 if ok else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert client.flush(5)
    tickets = sorted(l["ticket_id"] for l in collector.stored())
    assert tickets == ["child"] * 5 + ["parent-before", "parent-queued"]
    assert client.stats()["sent"] == 2


def test_asyncio_loop_is_never_blocked(collector, make_client):
    collector.slow_next(3, 0.5)  # a slow collector...
    client = make_client(collector.url, timeout=0.1, batch_size=10)

    async def main():
        loop = asyncio.get_running_loop()
        lags = []

        async def ticker():
            for _ in range(20):
                t0 = loop.time()
                await asyncio.sleep(0.005)
                lags.append(loop.time() - t0 - 0.005)

        async def worker(n):
            for i in range(50):
                client.ship_log(make_log(n * 100 + i))
                await asyncio.sleep(0)

        await asyncio.gather(ticker(), *(worker(n) for n in range(4)))
        assert await client.aflush(10)
        return lags

    lags = asyncio.run(main())
    assert max(lags) < 0.1  # ...never stalls the event loop
    ids = collector.stored_event_ids()
    assert len(ids) == 200 and len(set(ids)) == 200


def test_async_context_manager(collector):
    from central_logger_sdk import CentralLogger

    async def main():
        async with CentralLogger(collector.url, API_KEY, environment="test",
                                 flush_at_exit=False) as client:
            client.ship_log(make_log(1))
        return client

    client = asyncio.run(main())
    assert client.stats()["closed"] and len(collector.stored()) == 1


def test_atexit_flushes_pending_logs(collector):
    proc, _ = run_script(f"""
        from central_logger_sdk import CentralLogger
        c = CentralLogger({collector.url!r}, {API_KEY!r}, environment="test", flush_interval=60)
        for i in range(30):
            c.ship_log({{"status": "SUCCESS", "ticket_id": "exit-%d" % i}})
        # no flush, no close: the atexit hook delivers
    """)
    assert proc.returncode == 0, proc.stderr
    assert len(collector.stored()) == 30


def test_atexit_is_bounded_when_collector_is_down(collector):
    collector.stop()
    proc, elapsed = run_script(f"""
        from central_logger_sdk import CentralLogger
        c = CentralLogger({collector.url!r}, {API_KEY!r}, environment="test",
                          close_timeout=0.5, backoff_base=0.05, backoff_max=0.1)
        for i in range(30):
            c.ship_log({{"status": "SUCCESS"}})
    """)
    assert proc.returncode == 0, proc.stderr
    assert elapsed < 5  # close_timeout 0.5 s + interpreter start-up
    assert API_KEY not in proc.stderr and API_KEY not in proc.stdout


def test_stuck_request_does_not_hold_close_beyond_timeout(collector, make_client, tmp_path):
    collector.slow_next(1, 5.0)
    client = make_client(collector.url, timeout=10.0, spool_dir=str(tmp_path))
    client.ship_log(make_log(1))
    assert collector.wait_requests(0) and wait_until(lambda: client.stats()["in_flight"] == 1)
    t0 = time.monotonic()
    client.close(timeout=0.3)
    assert time.monotonic() - t0 < 2.0
    st = client.stats()
    assert st["spooled"] == 1 and st["dropped_total"] == 0
