"""flush() and close() say whether the logs were delivered; the spool is on by default where the
user has a writable state directory, so a script that ends while the collector is down keeps its
logs for the next run instead of losing them."""
import os
import stat

from conftest import make_log, run_script
from fake_collector import API_KEY


def test_flush_reports_delivery_since_the_previous_flush(collector, make_client):
    client = make_client(collector.url, flush_interval=30)
    for i in range(5):
        client.ship_log(make_log(i))
    assert client.flush(5) is True
    collector.fail_next(1, 401, code="authentication_failed")  # e.g. the key was revoked
    client.ship_log(make_log(5))
    assert client.flush(5) is False
    assert client.stats()["dropped"] == {"rejected": 1}
    client.ship_log(make_log(6))
    assert client.flush(5) is True  # the loss was reported once; this log was delivered
    assert len(collector.stored()) == 6


def test_close_reports_a_rejected_key(collector, make_client):
    client = make_client(collector.url, api_key="clk_revokedkey_" + "r" * 32)
    client.ship_log(make_log(1))
    assert client.close(5) is False
    assert collector.stored() == []


def test_a_disabled_client_reports_nothing_lost(make_client):
    client = make_client("http://127.0.0.1:9", enabled=False)
    client.ship_log(make_log(1))
    assert client.flush(1) is True and client.stats()["dropped"] == {"disabled": 1}


def test_the_spool_is_on_by_default_private_and_per_collector_and_key(collector, make_client, _private_state_dir):
    first = make_client(collector.url)
    other_key = make_client(collector.url, api_key="clk_otherkey00_" + "k" * 32)
    other_url = make_client("http://127.0.0.1:9")
    dirs = [c.stats()["spool_dir"] for c in (first, other_key, other_url)]
    assert all(d and d.startswith(str(_private_state_dir / "central-logger-sdk" / "spool")) for d in dirs)
    assert len(set(dirs)) == 3  # logs are replayed only with the key and to the collector they were for
    assert stat.S_IMODE(os.stat(dirs[0]).st_mode) == 0o700
    assert make_client(collector.url, spool_dir=None).stats()["spool_dir"] is None  # opting out


def test_a_script_ending_while_the_collector_is_down_keeps_its_logs_for_the_next_run(collector, _private_state_dir):
    url = collector.url
    collector.stop()
    proc, took = run_script(f"""
        from central_logger_sdk import CentralLogger
        c = CentralLogger({url!r}, {API_KEY!r}, environment="test")
        for i in range(20):
            c.ship_log({{"status": "SUCCESS", "ticket_id": "script-%d" % i}})
        # the script ends: no flush, no close
    """)
    assert proc.returncode == 0, proc.stderr
    assert took < 4, took  # spooled at the first refused attempt, not after close_timeout (5 s)
    (spool,) = (_private_state_dir / "central-logger-sdk" / "spool").iterdir()
    files = [p for p in spool.iterdir() if p.suffix == ".jsonl"]
    assert sum(len(p.read_bytes().splitlines()) for p in files) == 20
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)

    collector.start()  # the same port: the collector is back; the next run delivers
    proc, _ = run_script(f"""
        from central_logger_sdk import CentralLogger
        c = CentralLogger({url!r}, {API_KEY!r}, environment="test")
        print(c.flush(10))
    """)
    assert proc.stdout.strip() == "True", proc.stderr
    assert sorted(log["ticket_id"] for log in collector.stored()) == sorted("script-%d" % i for i in range(20))
    assert not [p for p in spool.iterdir() if p.suffix == ".jsonl"]


def test_without_a_writable_user_directory_there_is_no_spool(collector, tmp_path):
    url = collector.url
    collector.stop()
    proc, _ = run_script(f"""
        import logging
        logging.basicConfig(level=logging.INFO)
        from central_logger_sdk import CentralLogger
        c = CentralLogger({url!r}, {API_KEY!r}, environment="test", close_timeout=0.5)
        c.ship_log({{"status": "SUCCESS"}})
        print(c.stats()["spool_dir"], c.close())
    """, XDG_STATE_HOME="", HOME=str(tmp_path / "nonexistent"))
    assert proc.stdout.strip() == "None False", (proc.stdout, proc.stderr)
    assert not (tmp_path / "nonexistent").exists()  # a missing home is not created
    assert "no writable user directory for a spool" in proc.stderr
