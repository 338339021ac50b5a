import os

from central_logger_sdk.spool import Spool
from conftest import make_log, wait_until


def _spool_files(path):
    return sorted(n for n in os.listdir(path) if n.endswith(".jsonl"))


def test_spool_survives_client_restart(collector, make_client, tmp_path):
    spool_dir = str(tmp_path / "spool")
    collector.stop()
    first = make_client(collector.url, spool_dir=spool_dir, batch_size=20)
    for i in range(50):
        first.ship_log(make_log(i))
    assert first.close(timeout=0.3) is True  # undeliverable, but nothing lost: spooled
    st = first.stats()
    assert st["spooled"] == 50 and st["dropped_total"] == 0
    assert _spool_files(spool_dir)
    assert not [n for n in os.listdir(spool_dir) if n.startswith(".tmp-")]

    collector.start()  # collector back; a new process (client) replays the spool at start-up
    second = make_client(collector.url, spool_dir=spool_dir)
    assert second.flush(10)
    ids = collector.stored_event_ids()
    assert len(ids) == 50 and len(set(ids)) == 50
    assert sorted(l["metrics"]["i"] for l in collector.stored()) == list(range(50))
    assert _spool_files(spool_dir) == []
    assert second.stats()["replayed"] == 50


def test_outage_longer_than_queue_goes_to_disk(collector, make_client, tmp_path):
    spool_dir = str(tmp_path / "spool")
    collector.stop()
    client = make_client(collector.url, spool_dir=spool_dir, batch_size=10, max_queue_size=30)
    for chunk in range(20):  # 200 logs through a 30-slot queue while the collector is down
        for i in range(10):
            assert client.ship_log(make_log(chunk * 10 + i)) is True
        assert wait_until(lambda: client.stats()["queued"] < 10)
    assert wait_until(lambda: client.stats()["spooled"] >= 150)
    assert client.stats()["dropped_total"] == 0
    collector.start()
    assert client.flush(15)
    ids = collector.stored_event_ids()
    assert len(ids) == 200 and len(set(ids)) == 200
    assert _spool_files(spool_dir) == []
    assert client.stats()["dropped_total"] == 0


def test_spool_file_deleted_only_after_ack(collector, make_client, tmp_path):
    spool_dir = str(tmp_path / "spool")
    Spool(spool_dir, 10**6).write([b'{"status":"SUCCESS","environment":"test",'
                                   b'"executed_at":"2024-01-01T00:00:00+00:00","event_id":"spooled-1"}'])
    collector.fail_next(2, 503)
    client = make_client(collector.url, spool_dir=spool_dir)
    assert collector.wait_requests(2)
    assert len(_spool_files(spool_dir)) == 1  # server has not acknowledged yet
    assert client.flush(10)
    assert collector.stored_event_ids() == ["spooled-1"]
    assert _spool_files(spool_dir) == []


def test_spool_writes_are_atomic_and_stale_temp_files_ignored(tmp_path):
    spool = Spool(str(tmp_path), 10**6)
    stale = tmp_path / ".tmp-00000000000000000001-1-000000-3.jsonl"
    stale.write_bytes(b"partial")
    os.utime(stale, (1, 1))
    assert spool.pending() == (0, 0, 0)  # temp files are never replayed
    assert spool.write([b'{"a":1}', b'{"a":2}'])
    files = spool.files()
    assert len(files) == 1 and files[0][1] == 2
    assert spool.read(files[0][0]) == [b'{"a":1}', b'{"a":2}']
    spool.cleanup_stale_tmp()
    assert not stale.exists()
    spool.replace(files[0][0], [b'{"a":2}'])
    assert [spool.read(p) for p, _, _ in spool.files()] == [[b'{"a":2}']]


def test_spool_full_drops_and_counts(collector, make_client, tmp_path):
    collector.stop()
    client = make_client(collector.url, spool_dir=str(tmp_path), spool_max_bytes=500, batch_size=5)
    for i in range(20):
        client.ship_log(make_log(i))
    client.close(timeout=0.2)
    st = client.stats()
    assert st["dropped"].get("spool_full", 0) > 0
    assert st["spooled"] + st["dropped"]["spool_full"] == 20
