"""/api/v1/saved-views: the signed-in dashboard user's saved views in the current client (their
own and the shared ones). Thin: scope (TenantScopedViewSet), validate, call savedviews.services."""
from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from central_logger.schema import error_responses
from savedviews import services
from savedviews.models import SavedView
from savedviews.serializers import SavedViewSerializer
from tenants.models import SCOPE_ADMIN
from tenants.scoping import TenantScopedViewSet

TAGS = ["saved views"]
ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The saved view's id.")


class IsDashboardUser(BasePermission):
    """Saved views belong to people: a dashboard session, not an API key."""

    message = "Saved views belong to dashboard users; sign in to the dashboard."

    def has_permission(self, request: Request, view: Any) -> bool:
        return getattr(request.user, "user", None) is not None


class SavedViewViewSet(TenantScopedViewSet):
    scoped_model = SavedView
    serializer_class = SavedViewSerializer
    action_permissions = {name: IsDashboardUser for name in ("list", "create", "partial_update", "destroy")}

    def _visible(self) -> Any:
        return self.get_queryset().visible_to(self.request.user.user).select_related("owner")

    def _one(self) -> SavedView:
        """A view the caller can see, by the URL's id; anything else (another user's private
        view, another client's, a malformed id) is a 404."""
        pk = str(self.kwargs.get("pk", ""))
        view = self._visible().filter(pk=int(pk)).first() if pk.isdigit() else None
        if view is None:
            raise Http404
        return view

    def _out(self, view: SavedView, code: int = status.HTTP_200_OK) -> Response:
        return Response(SavedViewSerializer(view, context={"user": self.request.user.user}).data, status=code)

    @extend_schema(operation_id="saved_views_list", tags=TAGS, summary="Your saved views and the client's shared ones",
                   responses={200: SavedViewSerializer(many=True), **error_responses(401, 403, 429, 503)})
    def list(self, request: Request) -> Response:
        views = self._visible()
        return Response(SavedViewSerializer(views, many=True, context={"user": request.user.user}).data)

    @extend_schema(operation_id="saved_views_create", tags=TAGS, summary="Save a view",
                   request=SavedViewSerializer,
                   responses={201: SavedViewSerializer, **error_responses(400, 401, 403, 429, 503)})
    def create(self, request: Request) -> Response:
        form = SavedViewSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        view = services.saved_view_create(client=self.client, user=request.user.user, data=form.validated_data)
        return self._out(view, status.HTTP_201_CREATED)

    @extend_schema(operation_id="saved_views_update", tags=TAGS, summary="Rename, change or (un)share your view",
                   parameters=[ID], request=SavedViewSerializer,
                   responses={200: SavedViewSerializer, **error_responses(400, 401, 403, 404, 429, 503)})
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        view = self._one()
        form = SavedViewSerializer(view, data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        changed = {key: value for key, value in form.validated_data.items() if key in request.data}
        return self._out(services.saved_view_update(view=view, user=request.user.user, data=changed))

    @extend_schema(operation_id="saved_views_delete", tags=TAGS, summary="Delete a view",
                   parameters=[ID], request=None,
                   responses={204: None, **error_responses(401, 403, 404, 429, 503)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        services.saved_view_delete(view=self._one(), user=request.user.user,
                                   is_admin=request.user.has_scope(SCOPE_ADMIN))
        return Response(status=status.HTTP_204_NO_CONTENT)
