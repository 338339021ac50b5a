"""GET/PUT/PATCH /api/v1/settings/scrubbing: the caller's client's scrubbing settings (the
`admin` scope: an API key with it, or a dashboard member with the admin role)."""
from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from central_logger.schema import error_responses
from scrubbing.serializers import ScrubbingSettingsInSerializer, ScrubbingSettingsSerializer
from scrubbing.tenant_settings import scrubbing_settings_get, scrubbing_settings_update
from scrubbing.validation import SettingsInvalid
from tenants.permissions import CanAdminister
from tenants.scoping import TenantScopedViewSet

ERRORS = error_responses(400, 401, 403, 429, 503)


def _actor(request: Request) -> str:
    api_key = getattr(request.user, "api_key", None)
    if api_key is not None:
        return f"api key {api_key.prefix}"
    user = getattr(request.user, "user", None)
    return f"user {user.get_username()}" if user is not None else str(request.user)


class ScrubbingSettingsViewSet(TenantScopedViewSet):
    """The caller's client's scrubbing settings: which default rules apply, added key names and
    patterns, paths left untouched, e-mails redacted or hashed."""

    action_permissions: dict[str, Any] = {"retrieve": CanAdminister, "update": CanAdminister,
                                          "partial_update": CanAdminister}

    @extend_schema(operation_id="settings_scrubbing_get", summary="The scrubbing settings",
                   responses={200: ScrubbingSettingsSerializer, **ERRORS})
    def retrieve(self, request: Request) -> Response:
        return Response(scrubbing_settings_get(client=self.client))

    def _save(self, request: Request, *, partial: bool) -> Response:
        try:
            data = scrubbing_settings_update(client=self.client, data=request.data, partial=partial,
                                             actor=_actor(request))
        except SettingsInvalid as exc:
            raise ValidationError(exc.errors) from None
        return Response(data)

    @extend_schema(operation_id="settings_scrubbing_put", summary="Replace the scrubbing settings",
                   description="Omitted fields go back to their defaults. An invalid or too slow custom "
                               "pattern is a 400 naming it (custom_patterns[i].pattern).",
                   request=ScrubbingSettingsInSerializer, responses={200: ScrubbingSettingsSerializer, **ERRORS})
    def update(self, request: Request) -> Response:
        return self._save(request, partial=False)

    @extend_schema(operation_id="settings_scrubbing_patch", summary="Change some scrubbing settings",
                   description="Only the fields given change.",
                   request=ScrubbingSettingsInSerializer, responses={200: ScrubbingSettingsSerializer, **ERRORS})
    def partial_update(self, request: Request) -> Response:
        return self._save(request, partial=True)
