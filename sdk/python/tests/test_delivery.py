import re

from central_logger_sdk import CentralLogger
from conftest import make_log, wait_until
from fake_collector import API_KEY


def test_normal_delivery_in_batches(collector, make_client):
    client = make_client(collector.url, batch_size=100)
    for i in range(250):
        assert client.ship_log(make_log(i)) is True
    assert client.flush(10)
    stored = collector.stored()
    assert len(stored) == 250
    assert sorted(l["metrics"]["i"] for l in stored) == list(range(250))
    st = client.stats()
    assert st["sent"] == 250 and st["queued"] == 0 and st["dropped_total"] == 0
    assert all(len(r["event_ids"]) <= 100 for r in collector.requests)
    assert any(r["gzip"] for r in collector.requests)  # bodies > 1 KB are gzipped


def test_event_id_environment_and_executed_at_defaults(collector, make_client):
    client = make_client(collector.url, environment="staging")
    client.ship_log({"status": "SUCCESS", "ticket_id": "A"})
    client.ship_log({"status": "SUCCESS", "ticket_id": "B", "event_id": "my-id-1", "environment": "test"})
    assert client.flush(5)
    by_ticket = {l["ticket_id"]: l for l in collector.stored()}
    assert re.fullmatch(r"[0-9a-f]{32}", by_ticket["A"]["event_id"])
    assert by_ticket["A"]["environment"] == "staging"
    assert by_ticket["A"]["executed_at"].endswith("+00:00")
    assert by_ticket["B"]["event_id"] == "my-id-1"
    assert by_ticket["B"]["environment"] == "test"


def test_caller_dict_is_copied(collector, make_client):
    client = make_client(collector.url, flush_interval=30)
    log = make_log(1)
    client.ship_log(log)
    log["ticket_id"] = "changed-after-ship"
    assert "event_id" not in log  # the caller's dict is not modified
    assert client.flush(5)
    assert collector.stored()[0]["ticket_id"] == "T-1"


def test_flush_interval_sends_partial_batches_without_flush(collector, make_client):
    client = make_client(collector.url, flush_interval=0.05, batch_size=100)
    client.ship_log(make_log(1))
    assert collector.wait_stored(1, timeout=5)


def test_bearer_is_not_needed_but_key_header_is_sent(collector, make_client):
    client = make_client(collector.url, api_key="clk_wrongwrong_" + "x" * 32)
    client.ship_log(make_log(1))
    assert client.flush(5) is False  # settled, but not delivered: the collector refused the key
    assert collector.stored() == []
    assert client.stats()["dropped"] == {"rejected": 1}


def test_context_manager_delivers_on_exit(collector):
    with CentralLogger(collector.url, API_KEY, environment="test", flush_interval=30,
                       flush_at_exit=False) as client:
        for i in range(5):
            client.log(make_log(i))  # alias
    assert len(collector.stored()) == 5
    assert client.stats()["closed"] is True
    assert client.ship_log(make_log(6)) is False
    assert client.stats()["dropped"]["closed"] == 1


def test_disabled_client_does_nothing(collector):
    client = CentralLogger(collector.url, API_KEY, enabled=False, flush_at_exit=False)
    assert client.ship_log(make_log(1)) is False
    assert client.flush(0.1) is True
    st = client.stats()
    assert st["dropped"] == {"disabled": 1} and st["worker_alive"] is False
    assert client.close(0.1) is True
    assert collector.requests == []


def test_never_raises_on_bad_input(collector, make_client, sdk_logs):
    client = make_client(collector.url)
    assert client.ship_log(None) is False
    assert client.ship_log("not a dict") is False
    circular = make_log(1)
    circular["metadata"] = {}
    circular["metadata"]["self"] = circular["metadata"]
    assert client.ship_log(circular) is True  # only the worker can find out
    assert client.ship_log(make_log(2, metadata={"when": __import__("datetime").datetime(2024, 1, 1)}))
    assert client.flush(5) is False  # settled; the circular log could not be delivered
    st = client.stats()
    assert st["dropped"]["invalid"] == 2
    assert st["dropped"]["unserializable"] == 1
    assert st["sent"] == 1
    assert collector.stored()[0]["metadata"]["when"] == "2024-01-01T00:00:00+00:00"


def test_misconfiguration_disables_instead_of_raising(sdk_logs):
    client = CentralLogger("ftp://nowhere", "clk_secretsecret_" + "y" * 32, flush_at_exit=False)
    assert client.ship_log(make_log(1)) is False
    assert client.stats()["dropped"] == {"misconfigured": 1}
    assert "secretsecret" not in sdk_logs.text
    client2 = CentralLogger("http://127.0.0.1:9", "bad\nkey", flush_at_exit=False)
    assert client2.stats()["dropped_total"] == 0 and not client2.ship_log({})


def test_url_prefix_is_kept(collector, make_client):
    # a collector mounted under a prefix is reachable as http://host/prefix
    client = make_client(collector.url + "/", batch_size=10)
    client.ship_log(make_log(1))
    assert client.flush(5)
    assert len(collector.stored()) == 1
