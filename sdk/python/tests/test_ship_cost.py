import statistics
import time

from conftest import make_log


def test_slow_collector_never_slows_ship_log(collector, make_client):
    """Responses delayed past the client timeout: ship_log stays sub-millisecond."""
    collector.slow_next(1000, 0.3)
    client = make_client(collector.url, timeout=0.05, batch_size=20, max_queue_size=100_000)
    log = make_log(1, payload={"trace": {"steps": [{"node": "n%d" % i, "out": "x" * 100} for i in range(30)]}})
    # Let the worker get stuck on the slow collector first (on a fast machine the 3,000 calls
    # below can finish before it has sent anything).
    client.ship_log(log)
    client.flush(timeout=0)  # a nudge: send now rather than at the flush interval
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        st = client.stats()
        if st["retried_batches"] >= 1 or st["in_flight"] > 0:
            break
        time.sleep(0.005)
    durations = []
    for i in range(3000):
        t0 = time.perf_counter_ns()
        client.ship_log(log)
        durations.append(time.perf_counter_ns() - t0)
    st = client.stats()
    assert st["retried_batches"] >= 1 or st["in_flight"] > 0  # the worker is busy failing meanwhile
    med_us = statistics.median(durations) / 1000
    p99_us = sorted(durations)[int(len(durations) * 0.99)] / 1000
    assert med_us < 100, med_us   # typically ~3 us
    assert p99_us < 1000, p99_us  # well under a millisecond
    assert st["dropped_total"] == 0
