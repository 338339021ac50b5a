"""Scope permissions: a key without the scope an endpoint needs gets 403."""
from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from tenants.models import SCOPE_ADMIN, SCOPE_INGEST, SCOPE_READ


class _HasScope(BasePermission):
    scope = ""
    message = ""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(getattr(user, "is_authenticated", False) and hasattr(user, "has_scope")
                    and user.has_scope(self.scope))


class CanIngest(_HasScope):
    scope = SCOPE_INGEST
    message = "This API key lacks the 'ingest' scope."


class CanRead(_HasScope):
    scope = SCOPE_READ
    message = "This API key lacks the 'read' scope."


class CanAdminister(_HasScope):
    """Changing the tenant's own configuration: a key with the `admin` scope, or a dashboard
    user whose membership has the `admin` role."""

    scope = SCOPE_ADMIN
    message = "This needs the 'admin' scope (an API key with it, or a dashboard admin)."
