"""Tenant scoping: the one road from a request to its client's rows.

`request_client(request)` is the only way a view learns its tenant, and `TenantScopedViewSet`
is the only base class for endpoints over tenant data. Its `get_queryset()`/`get_object()`
start from `Model.objects.for_client(client)` and cannot be overridden (a subclass that tries
fails at import time), so a new endpoint cannot forget the scope; subclasses narrow the
already-scoped queryset in `narrow_queryset()`. Another tenant's object is simply not in the
queryset, which makes it a 404, never a 403.
"""
from __future__ import annotations

import uuid
from typing import Any

from django.db import connections, router
from django.db.models import Model, QuerySet
from django.http import Http404
from django.utils.functional import SimpleLazyObject
from rest_framework import exceptions, viewsets
from rest_framework.request import Request

from central_logger.rows import fetch_dicts, fetch_one_for_client
from tenants.models import Client


def request_client(request: Request) -> Client:
    client = getattr(request.user, "client", None)
    if not isinstance(client, Client):
        raise exceptions.NotAuthenticated()
    return client


class TenantScopedViewSet(viewsets.GenericViewSet):
    scoped_model: type[Model]
    lookup_value_regex = "[^/]+"

    _sealed = ("get_queryset", "lazy_queryset", "get_object", "get_object_values", "unnarrowed_client")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in cls._sealed:
            if name in cls.__dict__:
                raise TypeError(f"{cls.__name__} must not override {name}(); narrow the scoped "
                                "queryset in narrow_queryset() instead (see tenants/scoping.py).")

    def narrow_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no tenant
            return self.scoped_model.objects.none()  # type: ignore[attr-defined]
        scoped = self.scoped_model.objects.for_client(request_client(self.request))  # type: ignore[attr-defined]
        return self.narrow_queryset(scoped)

    def lazy_queryset(self) -> QuerySet[Any]:
        """`get_queryset()`, built on first use. For reads that validate filters against the
        scope but are often answered without it (by the rollup or a hand-written statement via
        `unnarrowed_client()`): building an ORM filter costs CPU that such a request never uses."""
        return SimpleLazyObject(self.get_queryset)  # type: ignore[return-value]

    def _lookup_pk(self) -> uuid.UUID:
        raw = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field, "")
        try:
            return uuid.UUID(str(raw))
        except ValueError:
            raise Http404 from None  # a malformed id is as absent as another tenant's

    def get_object(self) -> Any:
        obj = self.get_queryset().filter(pk=self._lookup_pk()).first()
        if obj is None:
            raise Http404
        self.check_object_permissions(self.request, obj)
        return obj

    def get_object_values(self, columns: tuple[str, ...]) -> dict[str, Any]:
        """The object as a dict of `columns` (no model instance: the cheaper read for an API
        answer), from the same scoped queryset as get_object()."""
        pk = self._lookup_pk()
        client = self.unnarrowed_client()
        if client is not None and connections[router.db_for_read(self.scoped_model)].vendor == "postgresql":
            # Nothing narrows the scope: the same tenant + id condition, precompiled.
            row = fetch_one_for_client(self.scoped_model, client_id=client.pk, pk=pk, columns=columns)
        else:
            rows = fetch_dicts(self.get_queryset().filter(pk=pk)[:1], columns)
            row = rows[0] if rows else None
        if row is None:
            raise Http404
        self.check_object_permissions(self.request, row)
        return row

    def unnarrowed_client(self) -> Client | None:
        """The caller's client when this viewset's scope is the whole tenant (nothing narrows
        it), for reads answered by per-client statements or aggregates rather than by
        get_queryset() (the detail's precompiled statement, the metrics rollup, list totals);
        None when a narrower scope must be honoured, so those reads use the scoped queryset."""
        if type(self).narrow_queryset is TenantScopedViewSet.narrow_queryset:
            return request_client(self.request)
        return None
