"""End-to-end tests against the REAL Django collector.

Skipped unless both are set:
  CENTRAL_LOGGER_LIVE_URL  e.g. http://127.0.0.1:8000
  CENTRAL_LOGGER_LIVE_KEY  an API key allowed to write and read logs
"""
import json
import os
import urllib.parse
import urllib.request
import uuid

import pytest

from central_logger_sdk import CentralLogger, Status, build_log

LIVE_URL = os.environ.get("CENTRAL_LOGGER_LIVE_URL", "").rstrip("/")
LIVE_KEY = os.environ.get("CENTRAL_LOGGER_LIVE_KEY", "")

pytestmark = pytest.mark.skipif(
    not (LIVE_URL and LIVE_KEY),
    reason="set CENTRAL_LOGGER_LIVE_URL and CENTRAL_LOGGER_LIVE_KEY to run against a live collector",
)


def _get(path, **params):
    url = "%s%s?%s" % (LIVE_URL, path, urllib.parse.urlencode(params))
    req = urllib.request.Request(url, headers={"X-API-Key": LIVE_KEY, "Accept": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def _read_back(ticket_id):
    """All logs of a ticket, following pagination; returns (logs, reported total)."""
    logs, page, total = [], 1, None
    while True:
        body = _get("/api/v1/logs", ticket_id=ticket_id, page=page, page_size=100)
        pagination = body["pagination"]
        total = pagination["total"]
        logs.extend(body["data"])
        if page >= pagination["pages"] or not body["data"]:
            return logs, total
        page += 1


def _client(**kw):
    opts = dict(environment="test", flush_interval=0.05, backoff_base=0.1, backoff_max=1.0,
                flush_at_exit=False)
    opts.update(kw)
    return CentralLogger(LIVE_URL, LIVE_KEY, **opts)


def _logs(ticket_id, n):
    return [
        build_log(Status.SUCCESS, ticket_id=ticket_id, execution_time_seconds=0.1 * i,
                  category="sdk-live-test", metrics={"i": i}, event_id="%s-%d" % (ticket_id, i),
                  requester_email="live@example.com", trace={"steps": [{"node": "n", "i": i}]})
        for i in range(n)
    ]


def test_health():
    with urllib.request.urlopen(LIVE_URL + "/health", timeout=10) as resp:
        assert json.loads(resp.read())["status"] == "healthy"


def test_delivers_200_logs_exactly_once():
    ticket = "sdk-live-%s" % uuid.uuid4().hex
    logs = _logs(ticket, 200)
    client = _client(batch_size=50)
    for log in logs:
        assert client.ship_log(log)
    assert client.flush(60), client.stats()
    st = client.stats()
    assert st["sent"] == 200 and st["dropped_total"] == 0, st
    client.close(10)

    # resend everything (same event_ids): the collector must answer "duplicate"
    again = _client(batch_size=100)
    for log in logs:
        again.ship_log(log)
    assert again.flush(60)
    assert again.stats()["duplicates"] == 200, again.stats()
    again.close(10)

    stored, total = _read_back(ticket)
    assert total == 200
    event_ids = [l.get("event_id") for l in stored]
    assert len(stored) == 200 and len(set(event_ids)) == 200
    assert set(event_ids) == {l["event_id"] for l in logs}


def test_batch_with_invalid_items():
    ticket = "sdk-live-%s" % uuid.uuid4().hex
    logs = _logs(ticket, 6)
    logs[1]["status"] = "NOT_A_STATUS"
    logs[4]["executed_at"] = "not a date"
    client = _client(flush_interval=30)
    for log in logs:
        client.ship_log(log)
    assert client.flush(30)
    st = client.stats()
    assert st["sent"] == 4 and st["dropped"].get("rejected") == 2, st
    client.close(10)
    stored, total = _read_back(ticket)
    assert total == 4
    assert {l["event_id"] for l in stored} == {logs[i]["event_id"] for i in (0, 2, 3, 5)}


def test_all_invalid_batch_is_rejected_not_retried():
    client = _client(flush_interval=30)
    for _ in range(3):
        client.ship_log({"status": "BOGUS", "environment": "test",
                         "executed_at": "2024-01-01T00:00:00+00:00"})
    assert client.flush(30)
    st = client.stats()
    assert st["dropped"].get("rejected") == 3 and st["retried"] == 0, st
    client.close(10)
