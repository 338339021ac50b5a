"""Serves the dashboard SPA's index.html for /dashboard and every client-side route under it.

The JS/CSS assets are static files (STATICFILES_DIRS → whitenoise, long-cached, hashed names);
index.html itself is never cached so a new build takes effect on the next page load. Without
a build (no Node.js on the machine) the API works as always and /dashboard says how to build.
"""
from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

NOT_BUILT = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Central Logger</title></head>
<body style="font-family:system-ui;max-width:40rem;margin:4rem auto;line-height:1.5">
<h1>The dashboard is not built</h1>
<p>Build it with <code>make dashboard</code> (needs Node.js 20+), then reload this page.
The API at <a href="/api/docs/">/api/docs/</a> works without it.</p></body></html>"""

_cache: dict[str, tuple[float, bytes]] = {}


def _index_html() -> bytes | None:
    path = settings.DASHBOARD_DIST_DIR / "index.html"
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    cached = _cache.get("index")
    if cached is None or cached[0] != mtime:
        cached = (mtime, path.read_bytes())
        _cache["index"] = cached
    return cached[1]


@require_safe
def index(request: HttpRequest) -> HttpResponse:
    html = _index_html()
    if html is None:
        response = HttpResponse(NOT_BUILT, status=503, content_type="text/html; charset=utf-8")
    else:
        response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response
