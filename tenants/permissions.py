"""Scope permissions: a key without the scope an endpoint needs gets 403."""
from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from tenants.models import SCOPE_INGEST, SCOPE_READ


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
