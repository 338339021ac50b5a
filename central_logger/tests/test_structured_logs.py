"""LOG_FORMAT=json: every line gunicorn and the app write is one JSON object; each request adds a
line with its id, tenant, route, method, status and duration; the id is echoed in X-Request-ID
and carried by every line written during the request."""
from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from central_logger.tests.live import LiveServer
from logs.tests.factories import log_body
from tenants.services import api_key_issue, client_create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def json_server(tmp_path: Path) -> Iterator[LiveServer]:
    with LiveServer(tmp_path / "out.log", env={"LOG_FORMAT": "json", "AUTH_FAILURE_RATE": "2/min"}) as server:
        yield server


def lines(server: LiveServer, wait_for: str | None = None) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 5
    while wait_for and wait_for not in server.log and time.monotonic() < deadline:
        time.sleep(0.05)
    return [json.loads(line) for line in server.log.splitlines() if line.strip()]


def test_each_request_is_one_json_line_with_id_tenant_route_status_and_duration(json_server: LiveServer) -> None:
    client = client_create(slug="acme-corp", name="Acme")
    key = api_key_issue(client=client).plaintext
    posted = json_server.request("POST", "/api/v1/logs", body=json.dumps(log_body(ticket_id="T-1")).encode(),
                                 headers={"X-API-Key": key, "Content-Type": "application/json"})
    assert posted.status == 201
    rid = posted.headers[("X-Request-ID")]
    assert re.fullmatch(r"[0-9a-f]{32}", rid)
    log_id = posted.json()["id"]
    read = json_server.request(path=f"/api/v1/logs/{log_id}", headers={"X-API-Key": key})
    assert read.status == 200

    requests = {line["request_id"]: line for line in lines(json_server, wait_for=read.headers["X-Request-ID"])
                if line.get("event") == "request"}
    post_line = requests[rid]
    assert post_line["tenant"] == "acme-corp" and post_line["method"] == "POST"
    assert post_line["route"] == "/api/v1/logs" and post_line["path"] == "/api/v1/logs"
    assert post_line["status"] == 201 and 0 < post_line["duration_ms"] < 10_000
    assert post_line["level"] == "INFO" and post_line["logger"] == "central_logger.request"
    assert post_line["time"].endswith("+00:00")
    detail = requests[read.headers["X-Request-ID"]]
    assert log_id not in detail["route"] and detail["route"] == "/api/v1/logs/<pk>"  # the pattern, bounded
    assert detail["path"] == f"/api/v1/logs/{log_id}" and detail["status"] == 200


def test_every_line_is_json_gunicorns_own_included(json_server: LiveServer) -> None:
    json_server.request(path="/health/live")
    parsed = lines(json_server, wait_for='"/health/live"')
    assert any(line["logger"] == "gunicorn.error" and "Listening at" in line["message"] for line in parsed)
    assert any(line.get("route") == "/health/live" for line in parsed)


def test_a_callers_request_id_is_kept_and_a_malformed_one_replaced(json_server: LiveServer) -> None:
    kept = json_server.request(path="/health/live", headers={"X-Request-ID": "edge-7f3a9c21:42"})
    assert kept.headers["X-Request-ID"] == "edge-7f3a9c21:42"
    replaced = json_server.request(path="/health/live", headers={"X-Request-ID": "<script>alert(1)</script>"})
    assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["X-Request-ID"])
    assert any(line.get("request_id") == "edge-7f3a9c21:42" and line.get("event") == "request"
               for line in lines(json_server, wait_for="edge-7f3a9c21:42"))


def test_lines_written_during_a_request_carry_its_id(json_server: LiveServer) -> None:
    # Unknown keys from one address past AUTH_FAILURE_RATE: the block is logged during a request.
    answers = [json_server.request(path="/api/v1/logs", headers={"X-API-Key": "clk_aaaaaaaaaa_" + "b" * 32})
               for _ in range(3)]
    assert answers[-1].status == 429
    ids = {a.headers["X-Request-ID"] for a in answers}
    parsed = lines(json_server, wait_for=answers[-1].headers["X-Request-ID"])
    blocked = [line for line in parsed if line["logger"] == "central_logger.auth"]
    assert blocked and all(line["request_id"] in ids for line in blocked), blocked
    assert "blocked" in blocked[0]["message"]
    refused = [line for line in parsed if line["logger"] == "django.request"]  # Django's 4xx warnings
    assert refused and all(line["request_id"] in ids for line in refused)


def test_the_plain_format_keeps_gunicorns_access_log_and_still_echoes_the_id(tmp_path: Path) -> None:
    with LiveServer(tmp_path / "out.log", env={"LOG_FORMAT": "plain", "GUNICORN_ACCESSLOG": "-"}) as server:
        answer = server.request(path="/health/live")
        time.sleep(0.3)
        output = server.log
    assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["X-Request-ID"])
    assert '"GET /health/live HTTP/1.1" 200' in output and '"event"' not in output
