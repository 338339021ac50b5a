"""Dashboard sessions as a second way into the read API (after API keys).

A signed-in Django user (session cookie) is turned into the same `TenantPrincipal` an API
key produces, for the user's *current* client, with the `read` scope (and `admin` for a member
with the `admin` role, who may change the client's own settings). Everything
downstream — `tenants.scoping.request_client`, `TenantScopedViewSet`, the scope permissions —
is therefore unchanged: a session cannot see another tenant's rows any more than a key can,
and it can never ingest (no `ingest` scope).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from tenants.authentication import TenantPrincipal
from tenants.memberships import current_membership, memberships_of
from tenants.models import SCOPE_ADMIN, SCOPE_READ, Role

# The dashboard names the client of its URL in this header (see DashboardSessionAuthentication).
CLIENT_HEADER = "HTTP_X_DASHBOARD_CLIENT"
# A dashboard session reads; a member with the `admin` role may also change the client's settings.
SESSION_SCOPES = {Role.VIEWER: frozenset({SCOPE_READ}), Role.ADMIN: frozenset({SCOPE_READ, SCOPE_ADMIN})}


@dataclass
class SessionPrincipal(TenantPrincipal):
    """A TenantPrincipal that also knows the signed-in user.

    `pk` is the user's, so per-caller machinery (the read rate limit in
    central_logger/ratelimit.py) counts each dashboard user on their own, as it counts each key.
    """

    user: Any = None

    @property
    def pk(self) -> Any:
        return self.user.pk if self.user is not None else None

    def __str__(self) -> str:
        return f"{self.client.slug}:user:{self.user.get_username() if self.user else '?'}"


class DjangoUserSessionAuthentication(authentication.SessionAuthentication):
    """For the /api/v1/session endpoints: `request.user` is the Django user itself.

    `authenticate_header` makes "not signed in" a 401 (plain SessionAuthentication gives 403).
    """

    def authenticate_header(self, request: Request) -> str:
        return 'Session realm="dashboard"'


class DashboardSessionAuthentication(DjangoUserSessionAuthentication):
    """Session + CSRF (for unsafe methods) → `TenantPrincipal(current client, {"read"})`.

    * no signed-in user, or a user with no membership in an active client → None (DRF then
      answers 401 through the API-key class's `WWW-Authenticate`);
    * the client is the one named by the `X-Dashboard-Client` header (a slug) when the request
      carries it: the dashboard sends the client of its URL (`/dashboard/<slug>/...`), so two tabs
      on two clients never see each other's data. A slug that is not one of the user's
      memberships is a 404, as another tenant's object is. The header only chooses among the
      memberships the session already grants: it widens nothing;
    * without the header, the current client is the one stored in the session if the user is
      still a member of it, else the first membership (see `tenants.memberships.current_membership`);
    * unsafe methods must carry the CSRF token (`X-CSRFToken`), else 403 — cookies are sent by
      the browser automatically, so without this any site could make a user's browser call us.
    """

    def authenticate(self, request: Request) -> tuple[SessionPrincipal, None] | None:
        user = getattr(request._request, "user", None)
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        self.enforce_csrf(request)
        memberships = memberships_of(user=user)
        wanted = request.META.get(CLIENT_HEADER)
        if wanted is not None and memberships:
            membership = next((m for m in memberships if m.client.slug == wanted.strip()), None)
            if membership is None:
                raise exceptions.NotFound("Not one of your clients.")
        else:
            membership = current_membership(memberships=memberships, session=request._request.session)
        if membership is None:
            return None
        principal = SessionPrincipal(client=membership.client, scopes=SESSION_SCOPES[membership.role], user=user)
        return principal, None
