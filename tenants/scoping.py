"""Tenant scoping: the one road from a request to its client's rows.

`request_client(request)` is the only way a view learns its tenant: the client of the API key or
of the dashboard session (tenants/authentication.py, tenants/session_auth.py); nothing is read
from the URL, the body or the query string. `TenantScopedViewSet` is the only base class for
endpoints over tenant data: its `client` is that client, and its `get_queryset()` /
`get_object()` (for tenant models read through the ORM) start from
`Model.objects.for_client(client)`. They cannot be overridden (a subclass that tries fails at
import time), so a new endpoint cannot forget the scope. Reads and writes of logs take
`self.client` to logs/tenant_sql, whose every statement starts with that tenant's condition.
Another tenant's object is simply not found: a 404, never a 403.
"""
from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, QuerySet
from django.http import Http404
from rest_framework import exceptions, viewsets
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request

from tenants.models import Client
from tenants.permissions import CanRead


def request_client(request: Request) -> Client:
    client = getattr(request.user, "client", None)
    if not isinstance(client, Client):
        raise exceptions.NotAuthenticated()
    return client


class TenantScopedViewSet(viewsets.GenericViewSet):
    # For tenant models read through the ORM: their manager's for_client() is the scope.
    scoped_model: type[Model] | None = None
    lookup_value_regex = "[^/]+"
    # The scope permission each action needs (classes and mixins each add theirs); others: read.
    action_permissions: dict[str, type[BasePermission]] = {}
    # Actions that may authenticate a known key against the outage snapshot while PostgreSQL is
    # down (tenants/resilience.py): none but ingestion's, which declares its own.
    offline_auth_actions: frozenset[str] = frozenset()

    _sealed = ("client", "get_queryset", "get_object", "get_permissions")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in cls._sealed:
            if name in cls.__dict__:
                raise TypeError(f"{cls.__name__} must not override {name}(); the tenant scope is decided "
                                "once, in tenants/scoping.py.")

    @property
    def client(self) -> Client:
        """The caller's client: every read and write of this viewset is scoped to it."""
        return request_client(self.request)

    def get_permissions(self) -> list[Any]:
        needed: dict[str, type[BasePermission]] = {}
        for klass in reversed(type(self).__mro__):
            needed.update(klass.__dict__.get("action_permissions", {}))
        return [IsAuthenticated(), needed.get(self.action or "", CanRead)()]

    def get_queryset(self) -> QuerySet[Any]:
        if self.scoped_model is None:
            raise TypeError(f"{type(self).__name__} reads through logs/tenant_sql, not a queryset.")
        if getattr(self, "swagger_fake_view", False):  # schema generation has no tenant
            return self.scoped_model.objects.none()  # type: ignore[attr-defined]
        return self.scoped_model.objects.for_client(self.client)  # type: ignore[attr-defined]

    def lookup_uuid(self) -> uuid.UUID:
        """The URL's id; a malformed one is as absent as another tenant's object (404)."""
        raw = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field, "")
        try:
            return uuid.UUID(str(raw))
        except ValueError:
            raise Http404 from None

    def get_object(self) -> Any:
        pk = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field)
        try:
            obj = self.get_queryset().filter(pk=pk).first()
        except (ValueError, TypeError, DjangoValidationError):  # a malformed id: absent
            obj = None
        if obj is None:
            raise Http404
        self.check_object_permissions(self.request, obj)
        return obj
