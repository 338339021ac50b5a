"""Serves the dashboard SPA's index.html for /dashboard and every client-side route under it.

The JS/CSS assets are static files (STATICFILES_DIRS → whitenoise, long-cached, hashed names);
index.html itself is never cached so a new build takes effect on the next page load. Without
a build (no Node.js on the machine) the API works as always and /dashboard says how to build.
"""
from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe

from central_logger.renderers import dumps

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


def _bootstrap(request: HttpRequest) -> bytes:
    """The signed-in user's session state, inlined so the first screen needs no extra request.

    It is only what GET /api/v1/session would answer to the same cookie; the API still checks
    the session on every call. `<` is escaped so the JSON cannot close the script element.
    """
    from tenants.session_views import session_payload  # the dashboard is optional: import late

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_active:
        return b""
    state = session_payload(user=user, session=request.session)
    if state["current_client"] is None:
        return b""
    data = dumps(state).replace(b"<", b"\\u003c")
    return b'<script id="session-state" type="application/json">' + data + b"</script>"


@require_safe
@ensure_csrf_cookie  # the login form can POST at once, without a /csrf round trip
def index(request: HttpRequest) -> HttpResponse:
    html = _index_html()
    if html is None:
        response = HttpResponse(NOT_BUILT, status=503, content_type="text/html; charset=utf-8")
    else:
        html = html.replace(b"</head>", _bootstrap(request) + b"</head>", 1)
        response = HttpResponse(html, content_type="text/html; charset=utf-8")
    # Per-user content: never stored by shared caches; revalidated so a new build shows at once.
    response["Cache-Control"] = "no-cache, private"
    patch_vary_headers(response, ["Cookie"])
    return response
