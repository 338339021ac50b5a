"""OpenAPI (drf-spectacular) description of the dashboard session authentication."""
from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class _CookieScheme(OpenApiAuthenticationExtension):

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey", "in": "cookie", "name": "sessionid",
            "description": "Dashboard session (POST /api/v1/session/login). Unsafe methods also "
                           "need the X-CSRFToken header (GET /api/v1/session/csrf).",
        }


class SessionScheme(_CookieScheme):
    """The /api/v1/session endpoints (the Django user)."""

    target_class = "tenants.session_auth.DjangoUserSessionAuthentication"
    name = "sessionCookie"


class DashboardSessionScheme(_CookieScheme):
    """The read API through a dashboard session (the user's current client, `read` scope)."""

    target_class = "tenants.session_auth.DashboardSessionAuthentication"
    name = "dashboardSession"
