from conftest import make_log


def test_queue_overflow_drops_and_counts(collector, make_client):
    client = make_client(collector.url, max_queue_size=10, flush_interval=60, batch_size=100)
    results = [client.ship_log(make_log(i)) for i in range(25)]
    assert results == [True] * 10 + [False] * 15
    st = client.stats()
    assert st["queued"] == 10 and st["dropped"] == {"queue_full": 15}
    assert client.flush(5) is False  # the 10 queued were delivered, the 15 dropped were not
    assert len(collector.stored()) == 10
    assert client.stats()["queued"] == 0
