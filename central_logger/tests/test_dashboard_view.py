"""/dashboard/...: the SPA's index.html for every client-side route, with the session inlined."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.test import override_settings

from tenants.models import Client
from tenants.tests.dashboard_helpers import Browser, make_user, signed_in

pytestmark = pytest.mark.django_db

INDEX = b'<!doctype html><html><head><title>CL</title></head><body><div id="root"></div></body></html>'


@pytest.fixture
def dist(tmp_path: Path) -> Any:
    (tmp_path / "index.html").write_bytes(INDEX)
    cache.clear()
    with override_settings(DASHBOARD_DIST_DIR=tmp_path):
        yield tmp_path


def _state(html: bytes) -> Any:
    match = re.search(rb'<script id="session-state" type="application/json">(.*?)</script>', html)
    return json.loads(match.group(1)) if match else None


@pytest.mark.parametrize("path", ["/dashboard", "/dashboard/", "/dashboard/logs", "/dashboard/logs/0193f0c2-aaaa?x=1"])
def test_every_dashboard_path_serves_index_html(dist: Path, path: str) -> None:
    response = Browser().get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert b'<div id="root">' in response.content
    assert response["Cache-Control"] == "no-cache, private"
    assert "csrftoken" in response.cookies  # the login form can POST straight away


def test_signed_out_page_has_no_session_state(dist: Path) -> None:
    assert _state(Browser().get("/dashboard/").content) is None


def test_signed_in_page_inlines_the_session_state(dist: Path, alice: Any) -> None:
    make_user("carol", "alice")
    Client.objects.filter(slug="alice").update(name="</script><script>alert(1)</script>")
    browser = signed_in("carol")
    html = browser.get("/dashboard/overview").content
    assert b"</script><script>alert(1)" not in html  # escaped inside the JSON
    state = _state(html)
    assert state["user"]["username"] == "carol"
    assert state["current_client"] == {"slug": "alice", "name": "</script><script>alert(1)</script>", "role": "viewer"}
    assert state == browser.get("/api/v1/session").json()


def test_index_is_re_read_after_a_new_build(dist: Path) -> None:
    assert b"<title>CL</title>" in Browser().get("/dashboard/").content
    index = dist / "index.html"
    index.write_bytes(INDEX.replace(b"CL", b"CL v2"))
    import os

    stat = index.stat()
    os.utime(index, (stat.st_atime, stat.st_mtime + 5))
    assert b"<title>CL v2</title>" in Browser().get("/dashboard/").content


def test_without_a_build_the_page_says_how_to_build_and_the_api_still_works(tmp_path: Path, alice: Any) -> None:
    with override_settings(DASHBOARD_DIST_DIR=tmp_path / "missing"):
        response = Browser().get("/dashboard/logs")
    assert response.status_code == 503
    assert b"make dashboard" in response.content
    assert Browser().get("/health").status_code == 200


def test_only_safe_methods(dist: Path) -> None:
    assert Browser().post("/dashboard/").status_code in (403, 405)
