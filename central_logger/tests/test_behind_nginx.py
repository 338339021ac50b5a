"""Behind the shipped deploy/nginx.conf, a browser signs in to the operator console and to the
dashboard: the proxy passes the Host the browser used (with its port), so Django's CSRF origin
check sees the same origin the browser sent."""
from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from central_logger.tests.live import NGINX, LiveServer, NginxFront
from tenants.memberships import dashboard_user_add
from tenants.services import client_create

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx-light)")]
PASSWORD = "a-long-Passw0rd-for-tests"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Browser:
    """Cookies, and the Origin header a browser sends with every POST."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)

    def cookie(self, name: str) -> str:
        return next(c.value for c in self.jar if c.name == name)

    def open(self, path: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, str, Any]:
        request = urllib.request.Request(self.origin + path, data=data, headers=headers or {})
        if data is not None:
            request.add_header("Origin", self.origin)
            request.add_header("Referer", self.origin + path)
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, response.read().decode(), response.headers
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), error.headers


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[NginxFront]:
    with LiveServer(tmp_path / "gunicorn.log", env={"TRUSTED_PROXY_COUNT": "1"}) as app, \
            NginxFront(app, tmp_path) as front:
        yield front


def test_an_operator_signs_in_to_the_admin_through_nginx(proxied: NginxFront) -> None:
    get_user_model().objects.create_superuser("operator", "op@example.com", PASSWORD)
    browser = Browser(proxied.url)
    status, page, _ = browser.open("/admin/login/?next=/admin/")
    assert status == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "username": "operator", "password": PASSWORD,
                                   "next": "/admin/"}).encode()
    status, page, headers = browser.open("/admin/login/?next=/admin/", form,
                                         {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 302, page[:2000]  # 403 "Origin checking failed" when the proxy dropped the port
    assert headers["Location"] == "/admin/"
    status, page, _ = browser.open("/admin/")
    assert status == 200 and "operator" in page


def test_a_dashboard_user_signs_in_through_nginx(proxied: NginxFront) -> None:
    client_create(slug="acme", name="Acme")
    dashboard_user_add(client_slug="acme", username="dana", password=PASSWORD)
    browser = Browser(proxied.url)
    assert browser.open("/api/v1/session/csrf")[0] == 200
    body = json.dumps({"username": "dana", "password": PASSWORD}).encode()
    status, answer, _ = browser.open("/api/v1/session/login", body, {"Content-Type": "application/json",
                                                                     "X-CSRFToken": browser.cookie("csrftoken")})
    assert status == 200, answer
    status, answer, _ = browser.open("/api/v1/session")
    assert status == 200 and json.loads(answer)["current_client"]["slug"] == "acme"
    status, answer, _ = browser.open("/api/v1/metrics/overview?days=7")
    assert status == 200 and json.loads(answer)["total_tickets"] == 0

