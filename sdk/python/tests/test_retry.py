import collections
import random
import threading
import time

from central_logger_sdk.client import _parse_retry_after
from conftest import make_log, wait_until
from fake_collector import API_KEY


def _assert_exactly_once(collector, n):
    ids = collector.stored_event_ids()
    assert len(ids) == n
    assert len(set(ids)) == n


def test_503_is_retried_then_delivered_once(collector, make_client):
    collector.fail_next(3, 503)
    client = make_client(collector.url)
    for i in range(20):
        client.ship_log(make_log(i))
    assert client.flush(10)
    _assert_exactly_once(collector, 20)
    st = client.stats()
    assert st["retried_batches"] == 3 and st["retried"] == 60 and st["sent"] == 20


def test_408_and_500_are_retried(collector, make_client):
    collector.fail_next(1, 408, code="request_timeout")
    collector.fail_next(1, 500, code="internal_error")
    client = make_client(collector.url)
    client.ship_log(make_log(1))
    assert client.flush(10)
    _assert_exactly_once(collector, 1)
    assert [r["status"] for r in collector.requests] == [408, 500, 201]


def test_429_retry_after_is_honoured(collector, make_client):
    collector.fail_next(1, 429, retry_after="1", code="throttled")
    client = make_client(collector.url, backoff_max=0.01)
    client.ship_log(make_log(1))
    assert client.flush(10)
    _assert_exactly_once(collector, 1)
    first, second = collector.requests[0]["t"], collector.requests[1]["t"]
    assert second - first >= 0.95  # waited for Retry-After, not for the 10 ms backoff


def test_4xx_other_than_408_429_is_never_retried(collector, make_client, sdk_logs):
    client = make_client(collector.url, api_key="clk_zzzzzzzzzz_" + "Q" * 32)
    for i in range(3):
        client.ship_log(make_log(i))
    assert client.flush(5) is False
    assert [r["status"] for r in collector.requests] == [401]
    assert client.stats()["dropped"] == {"rejected": 3}
    assert "HTTP 401" in sdk_logs.text and "authentication_failed" in sdk_logs.text
    for status in (403, 404, 422):
        collector.fail_next(1, status, code="nope")
    good = make_client(collector.url)
    for i in range(3):
        good.ship_log(make_log(i))
        assert good.flush(5) is False  # each refused (403, 404, 422), each reported once
    assert good.stats()["dropped"] == {"rejected": 3}
    assert [r["status"] for r in collector.requests[1:]] == [403, 404, 422]


def test_timeouts_are_retried_idempotently(collector, make_client):
    # the collector stores the batch but answers after the client gave up
    collector.slow_next(2, 0.6)
    client = make_client(collector.url, timeout=0.15)
    for i in range(10):
        client.ship_log(make_log(i))
    assert client.flush(10)
    assert wait_until(lambda: len(collector.requests) >= 3)
    _assert_exactly_once(collector, 10)
    st = client.stats()
    assert st["retried_batches"] >= 2 and st["sent"] == 10


def test_collector_outage_while_logging_exactly_once(collector, make_client):
    """Collector stopped for ~2 s while a producer keeps logging, then
    restarted on the same port: every log is stored exactly once."""
    client = make_client(collector.url, batch_size=50, max_queue_size=5000)
    for i in range(50):
        client.ship_log(make_log(i))
    assert client.flush(5)
    collector.stop()
    stop = threading.Event()
    shipped = collections.Counter()

    def producer():
        i = 50
        while not stop.is_set():
            shipped[client.ship_log(make_log(i))] += 1
            i += 1
            if i % 10 == 0:
                stop.wait(0.02)

    t = threading.Thread(target=producer)
    t.start()
    outage_start = time.monotonic()
    assert wait_until(lambda: client.stats()["retried_batches"] >= 5)
    assert wait_until(lambda: time.monotonic() - outage_start >= 2.0, timeout=5)
    assert client.stats()["healthy"] is False
    collector.start()  # same port
    assert wait_until(lambda: client.stats()["healthy"])
    stop.set()
    t.join()
    assert client.flush(20)
    total = 50 + shipped[True]
    assert shipped[False] == 0
    _assert_exactly_once(collector, total)
    assert client.stats()["dropped_total"] == 0
    assert client.stats()["sent"] == total


def test_retry_exhausted_drops_without_spool(make_client, sdk_logs):
    client = make_client("http://127.0.0.1:9", max_retry_duration=0.1, timeout=0.2, spool_dir=None)
    client.ship_log(make_log(1))
    assert wait_until(lambda: client.stats()["dropped"].get("retry_exhausted") == 1)
    assert "cannot deliver" in sdk_logs.text


def test_backoff_full_jitter_bounds():
    from central_logger_sdk import CentralLogger

    c = CentralLogger("http://127.0.0.1:9", API_KEY, enabled=False, backoff_base=0.5,
                      backoff_factor=2, backoff_max=30, rng=random.Random(1), flush_at_exit=False)
    for attempt, cap in [(1, 0.5), (2, 1.0), (3, 2.0), (6, 16.0), (7, 30.0), (20, 30.0)]:
        delays = [c._retry_delay(attempt, None) for _ in range(200)]
        assert all(0 <= d <= cap for d in delays)
        assert max(delays) > cap * 0.8  # jitter spreads over the whole range
    assert c._retry_delay(3, 7.0) == 7.0  # Retry-After wins
    assert c._retry_delay(3, 10_000.0) == 300.0  # but is capped by max_retry_after


def test_parse_retry_after():
    assert _parse_retry_after("3") == 3.0
    assert _parse_retry_after(" 0 ") == 0.0
    assert _parse_retry_after(None) is None
    assert _parse_retry_after("garbage") is None
    assert _parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    future = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 60))
    assert 50 < _parse_retry_after(future) <= 60


def test_split_on_payload_too_large(make_client):
    from fake_collector import FakeCollector

    with FakeCollector(max_body_bytes=3000) as small:
        client = make_client(small.url, compress=False, batch_size=20)
        for i in range(20):
            client.ship_log(make_log(i))
        assert client.flush(10)
        _assert_exactly_once(small, 20)
        assert 413 in [r["status"] for r in small.requests]
        big = make_log(99, metadata={"blob": "x" * 5000})
        client.ship_log(big)  # alone and still too large: rejected, not retried forever
        assert client.flush(5) is False
        assert client.stats()["dropped"] == {"rejected": 1}


def test_split_on_batch_too_large(make_client):
    from fake_collector import FakeCollector

    with FakeCollector(max_batch=10) as strict:
        client = make_client(strict.url, batch_size=40, flush_interval=30)
        for i in range(40):
            client.ship_log(make_log(i))
        assert client.flush(10)
        _assert_exactly_once(strict, 40)
        assert client.stats()["dropped_total"] == 0


def test_max_batch_bytes_chunks_before_sending(collector, make_client):
    client = make_client(collector.url, max_batch_bytes=600, compress=False, flush_interval=30)
    for i in range(10):
        client.ship_log(make_log(i))
    assert client.flush(5)
    _assert_exactly_once(collector, 10)
    assert len(collector.requests) >= 3 and all(r["status"] == 201 for r in collector.requests)
