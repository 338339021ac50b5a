"""/api/docs/ (Swagger UI) and /api/redoc/ (ReDoc) work without internet: served by a production
build (collectstatic, production settings) through gunicorn, each page references only our own
origin, and every file it references is served."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from central_logger.tests.live import ROOT, LiveServer

pytestmark = pytest.mark.django_db(transaction=True)


class References(HTMLParser):
    """Every URL a page makes the browser load (src, href) and the text of its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(data)


@pytest.fixture(scope="module")
def production_server(tmp_path_factory: Any, django_db_setup: Any, django_db_blocker: Any) -> Iterator[LiveServer]:
    static_root = tmp_path_factory.mktemp("static")
    env = {"STATIC_ROOT": str(static_root)}
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, check=True,
                   env={**os.environ, **env, "DJANGO_SETTINGS_MODULE": "central_logger.settings",
                        "DATABASE_URL": "postgres://unused@127.0.0.1/unused"})
    with django_db_blocker.unblock():
        server = LiveServer(tmp_path_factory.mktemp("log") / "gunicorn.log",
                            settings_module="central_logger.settings", env=env)
    with server:
        yield server


def _external(text: str) -> list[str]:
    return re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^\s\"'<>)]*", text, re.I)


@pytest.mark.parametrize("page", ["/api/docs/", "/api/redoc/"])
def test_the_api_docs_load_only_our_own_files(production_server: LiveServer, page: str) -> None:
    answer = production_server.request(path=page)
    assert answer.status == 200
    html = answer.body.decode()
    refs = References()
    refs.feed(html)
    assert refs.urls, html
    # Nothing from another origin: no CDN, no web fonts, no validator badge.
    assert not _external(html), _external(html)
    for url in refs.urls:
        assert url.startswith("/") and not url.startswith("//"), url
        fetched = production_server.request(path=url)
        assert fetched.status == 200, url
        if url.endswith(".js") and "static" not in url:  # our own init script, if served apart
            assert not _external(fetched.body.decode()), url
    scripts = [u for u in refs.urls if ".js" in u]
    assert any("swagger-ui-bundle" in u or "redoc.standalone" in u for u in scripts), scripts


def test_the_docs_read_the_schema_from_this_server(production_server: LiveServer) -> None:
    answer = production_server.request(path="/api/schema/", headers={"Accept": "application/json"})
    assert answer.status == 200
    assert b"/api/v1/logs" in answer.body
