"""End to end through HTTP: two real app servers (gunicorn, two workers each, every one running
the evaluator and delivery threads with a 1-second interval) on the test database, logs ingested
over HTTP, rules created over HTTP, notifications received by real HTTP receivers on loopback.

PostgreSQL only: the servers must see the rows this test commits (transactional tests).
"""
from __future__ import annotations

import collections
import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pytest

from alerts.tests.conftest import SECRET
from alerts.tests.live import INTERVAL, LiveServer
from alerts.tests.receivers import Receiver
from logs.tests.factories import log_body
from tenants.services import api_key_issue, client_create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def servers(django_db_setup: Any, django_db_blocker: Any) -> Iterator[tuple[LiveServer, LiveServer]]:
    with django_db_blocker.unblock():
        first = LiveServer()
        try:
            second = LiveServer()
        except Exception:
            first.stop()
            raise
    yield first, second
    first.stop()
    second.stop()


@pytest.fixture
def key(transactional_db: Any) -> str:
    client = client_create(slug="e2e-alerts")
    return api_key_issue(client=client, name="e2e", scopes=["ingest", "read", "admin"]).plaintext


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def stamp(seconds_ago: float = 0.0) -> str:
    return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=seconds_ago)).isoformat()


def ingest(server: LiveServer, key: str, *logs: dict[str, Any]) -> None:
    status, body = server.call("POST", "/api/v1/logs/batch", key, {"logs": list(logs)})
    assert status == 201, body


def create(server: LiveServer, key: str, receiver: Receiver, **rule: Any) -> dict[str, Any]:
    body = {"name": "rule", "window_minutes": 10, "min_runs": 3,
            "channels": [{"type": "webhook", "url": receiver.url, "secret": SECRET}], **rule}
    status, created = server.call("POST", "/api/v1/alerts/rules", key, body)
    assert status == 201, created
    return created


def events(server: LiveServer, key: str, rule_id: int) -> list[dict[str, Any]]:
    status, body = server.call("GET", f"/api/v1/alerts/events?rule={rule_id}", key)
    assert status == 200, body
    return body["data"]


def test_a_failure_burst_fires_a_signed_webhook_and_successes_resolve_it(
        servers: tuple[LiveServer, LiveServer], key: str, receiver: Receiver) -> None:
    a, b = servers
    rule = create(a, key, receiver, name="Error rate", kind="error_rate", threshold=50)
    time.sleep(2 * INTERVAL)  # evaluated while quiet: ok, nothing sent
    assert receiver.received == []
    ingest(b, key, *(log_body(executed_at=stamp(5), status="FAILED", workflow_error_type="TimeoutError")
                     for _ in range(3)))
    sent = time.monotonic()
    (hit,) = receiver.wait_for(lambda got: len(got) >= 1, timeout=10)
    assert hit.at - sent <= 3 * INTERVAL, f"arrived {hit.at - sent:.2f}s after the failures"
    assert hit.signature_ok(SECRET)
    body = hit.json()
    assert (body["state"], body["value"], body["rule"]["id"]) == ("firing", 100.0, rule["id"])
    assert len(body["examples"]) == 3
    ingest(a, key, *(log_body(executed_at=stamp(2)) for _ in range(5)))  # 3 of 8 = 37.5 % < 50 %
    got = receiver.wait_for(lambda got: len(got) >= 2, timeout=10)
    resolved = got[1].json()
    assert (resolved["state"], resolved["value"]) == ("resolved", 37.5) and got[1].signature_ok(SECRET)
    time.sleep(2 * INTERVAL)
    assert len(receiver.received) == 2  # nothing twice, from any of the four processes
    assert [e["state"] for e in events(a, key, rule["id"])] == ["resolved", "firing"]


def test_no_data_fires_when_ingestion_stops(servers: tuple[LiveServer, LiveServer], key: str,
                                            receiver: Receiver) -> None:
    a, _ = servers
    ingest(a, key, log_body(executed_at=stamp(52)))  # the last run, 52 s ago; the window is 1 minute
    rule = create(a, key, receiver, name="Quiet", kind="no_data", window_minutes=1)
    time.sleep(2 * INTERVAL)
    assert receiver.received == []
    (hit,) = receiver.wait_for(lambda got: len(got) >= 1, timeout=20)
    assert (hit.json()["state"], hit.json()["value"], hit.json()["rule"]["kind"]) == ("firing", 0.0, "no_data")
    ingest(a, key, log_body(executed_at=stamp()))
    got = receiver.wait_for(lambda got: len(got) >= 2, timeout=10)
    assert got[1].json()["state"] == "resolved"
    assert [e["state"] for e in events(a, key, rule["id"])] == ["resolved", "firing"]


def test_a_rule_on_hallucination_risk_fires(servers: tuple[LiveServer, LiveServer], key: str,
                                            receiver: Receiver) -> None:
    a, b = servers
    create(b, key, receiver, name="Hallucinations", kind="metric_avg", metric="metrics.hallucination_risk",
           operator="gte", threshold=0.6)
    ingest(a, key, *(log_body(executed_at=stamp(3), metrics={"hallucination_risk": risk}) for risk in (0.5, 0.7, 0.9)))
    (hit,) = receiver.wait_for(lambda got: len(got) >= 1, timeout=10)
    body = hit.json()
    assert body["state"] == "firing" and body["value"] == pytest.approx(0.7)
    assert body["detail"] == {"runs": 3, "metric": "hallucination_risk"}


def test_new_error_type_fires_once_per_new_pair(servers: tuple[LiveServer, LiveServer], key: str,
                                                receiver: Receiver) -> None:
    a, b = servers
    failing = {"status": "FAILED"}
    ingest(a, key, log_body(executed_at=stamp(2 * 86400), workflow_error_type="TimeoutError",
                            workflow_error_node="crm", **failing))
    create(a, key, receiver, name="New errors", kind="new_error_type", window_minutes=5)
    ingest(b, key, log_body(executed_at=stamp(2), workflow_error_type="TimeoutError", workflow_error_node="crm",
                            **failing),
           *(log_body(executed_at=stamp(2), workflow_error_type="KeyError", workflow_error_node="parser", **failing)
             for _ in range(3)))
    receiver.wait_for(lambda got: len(got) >= 1, timeout=10)
    time.sleep(3 * INTERVAL)  # more rounds: the pair is still new, and already announced
    ingest(a, key, log_body(executed_at=stamp(1), workflow_error_type="ValueError", workflow_error_node=None,
                            **failing))
    got = receiver.wait_for(lambda got: len(got) >= 2, timeout=10)
    time.sleep(3 * INTERVAL)
    pairs = [r.json()["detail"]["pairs"] for r in receiver.received]
    assert pairs == [[["KeyError", "parser"]], [["ValueError", None]]], pairs
    assert all(r.signature_ok(SECRET) for r in got)


def test_two_app_servers_never_send_one_notification_twice(servers: tuple[LiveServer, LiveServer], key: str,
                                                          receiver: Receiver) -> None:
    a, b = servers
    receiver.delay = 0.3  # slow receivers: sends overlap with the other processes' rounds
    other = Receiver(delay=0.3)
    try:
        for i in range(8):
            create(a if i % 2 else b, key, receiver, name=f"count {i}", kind="error_count", threshold=1,
                   channels=[{"type": "webhook", "url": receiver.url, "secret": SECRET},
                             {"type": "slack", "url": other.url}])
        ingest(a, key, log_body(executed_at=stamp(2), status="ERROR"))
        receiver.wait_for(lambda got: len(got) >= 8, timeout=20)
        other.wait_for(lambda got: len(got) >= 8, timeout=20)
        time.sleep(3 * INTERVAL)
        ids = collections.Counter(r.json()["id"] for r in receiver.received)
        assert len(ids) == 8 and set(ids.values()) == {1}, ids
        texts = collections.Counter(r.json()["text"] for r in other.received)
        assert len(texts) == 8 and set(texts.values()) == {1}, texts
    finally:
        other.close()


def test_a_receiver_answering_500_then_200_gets_it_once_with_the_retry_recorded(
        servers: tuple[LiveServer, LiveServer], key: str, receiver: Receiver) -> None:
    a, _ = servers
    receiver.answers = [500]
    rule = create(a, key, receiver, name="Flaky receiver", kind="error_count", threshold=2)
    ingest(a, key, *(log_body(executed_at=stamp(2), status="FAILED") for _ in range(2)))
    got = receiver.wait_for(lambda got: len(got) >= 2, timeout=15)
    assert got[0].body == got[1].body  # the same notification, signed again
    time.sleep(2 * INTERVAL)
    assert len(receiver.received) == 2
    deadline = time.monotonic() + 5
    while (event := events(a, key, rule["id"])[0])["delivery_status"] != "delivered" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert (event["delivery_status"], event["delivery_attempts"], event["delivery_last_error"]) == (
        "delivered", 2, "HTTP 500")


def test_a_metadata_or_private_address_is_refused(servers: tuple[LiveServer, LiveServer], key: str,
                                                  receiver: Receiver) -> None:
    a, _ = servers  # these servers allow private targets (ALERT_ALLOW_PRIVATE_TARGETS): metadata never
    status, body = a.call("POST", "/api/v1/alerts/rules", key, {
        "name": "steal", "kind": "no_data", "window_minutes": 5,
        "channels": [{"type": "webhook", "url": "http://169.254.169.254/latest/meta-data/", "secret": SECRET}]})
    assert status == 400 and "a cloud metadata address" in body["error"]["details"]["channels"]["0"]["url"][0]
