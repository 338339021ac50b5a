"""Behind the shipped nginx configurations (deploy/nginx.conf; deploy/nginx-tls.conf with a
certificate), a browser signs in to the operator console and to the dashboard: the proxy passes
the Host the browser used (with its port) and the scheme, so Django's CSRF origin check sees the
origin the browser sent."""
from __future__ import annotations

import json
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from central_logger.tests.live import NGINX, ROOT, LiveServer, NginxFront, self_signed_certificate
from central_logger.tests.live import request as http_request
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

    def __init__(self, origin: str, cafile: Path | None = None) -> None:
        self.origin = origin
        self.jar = CookieJar()
        handlers: list[Any] = [urllib.request.HTTPCookieProcessor(self.jar), NoRedirect]
        if cafile is not None:
            handlers.append(urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=str(cafile))))
        self.opener = urllib.request.build_opener(*handlers)

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


@dataclass
class Proxied:
    front: NginxFront
    cafile: Path | None

    def browser(self) -> Browser:
        return Browser(self.front.url, self.cafile)


@pytest.fixture(params=["http", "tls"])
def proxied(request: Any, tmp_path: Path) -> Iterator[Proxied]:
    tls = request.param == "tls"
    env = {"TRUSTED_PROXY_COUNT": "1"}
    if tls:  # what docker-compose.tls.yml sets
        env.update({"SECURE_COOKIES": "true", "TRUST_X_FORWARDED_PROTO": "true"})
    certs = self_signed_certificate(tmp_path / "tls") if tls else None
    conf = ROOT / "deploy" / ("nginx-tls.conf" if tls else "nginx.conf")
    with LiveServer(tmp_path / "gunicorn.log", env=env) as app, \
            NginxFront(app, tmp_path, conf=conf, tls_dir=certs) as front:
        yield Proxied(front, certs / "fullchain.pem" if certs else None)


def test_an_operator_signs_in_to_the_admin_through_nginx(proxied: Proxied) -> None:
    get_user_model().objects.create_superuser("operator", "op@example.com", PASSWORD)
    browser = proxied.browser()
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


def test_a_dashboard_user_signs_in_through_nginx(proxied: Proxied) -> None:
    client_create(slug="acme", name="Acme")
    dashboard_user_add(client_slug="acme", username="dana", password=PASSWORD)
    browser = proxied.browser()
    assert browser.open("/api/v1/session/csrf")[0] == 200
    body = json.dumps({"username": "dana", "password": PASSWORD}).encode()
    status, answer, _ = browser.open("/api/v1/session/login", body, {"Content-Type": "application/json",
                                                                     "X-CSRFToken": browser.cookie("csrftoken")})
    assert status == 200, answer
    status, answer, _ = browser.open("/api/v1/session")
    assert status == 200 and json.loads(answer)["current_client"]["slug"] == "acme"
    status, answer, _ = browser.open("/api/v1/metrics/overview?days=7")
    assert status == 200 and json.loads(answer)["total_tickets"] == 0



def test_tls_redirects_plain_http_and_passes_the_same_proxy_settings(tmp_path: Path) -> None:
    plain, tls = ((ROOT / "deploy" / name).read_text() for name in ("nginx.conf", "nginx-tls.conf"))

    def proxy_lines(text: str) -> list[str]:
        return [line.split("#")[0].strip() for line in text.splitlines()
                if line.strip().startswith(("proxy_", "client_", "location / { proxy_pass"))]

    assert proxy_lines(plain) == proxy_lines(tls)  # one behaviour, with or without TLS
    with LiveServer(tmp_path / "gunicorn.log") as app, \
            NginxFront(app, tmp_path, conf=ROOT / "deploy" / "nginx-tls.conf",
                       tls_dir=self_signed_certificate(tmp_path / "tls")) as front:
        for port in (80, 8000):
            answer = http_request(f"http://127.0.0.1:{front.ports[port]}", path="/api/v1/logs?page=2")
            assert answer.status == 301 and answer.headers["Location"] == "https://127.0.0.1/api/v1/logs?page=2"
