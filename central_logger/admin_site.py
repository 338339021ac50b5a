"""The operator console: Django's AdminSite with a throttled login."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse

from central_logger.ratelimit import ADMIN_LOGIN, login_identity
from central_logger.client_ip import client_ip


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    """Refuses a locked-out (username, IP) before checking the password, and counts failures."""

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "locked_out": "Too many failed login attempts. Try again in %(minutes)s minutes.",
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        ip = client_ip(self.request) if self.request else "unknown"
        ident = login_identity(username, ip)
        if username and ADMIN_LOGIN.retry_after(ident) is not None:
            raise self._locked_out()
        try:
            cleaned = super().clean()
        except ValidationError:
            if username and ADMIN_LOGIN.failed(ident):
                raise self._locked_out() from None
            raise
        ADMIN_LOGIN.succeeded(ident)
        return cleaned

    def _locked_out(self) -> ValidationError:
        if self.request is not None:
            self.request.admin_login_locked_out = True  # type: ignore[attr-defined]
        minutes = max(1, round(settings.ADMIN_LOGIN_LOCKOUT_SECONDS / 60))
        return ValidationError(self.error_messages["locked_out"], code="locked_out",
                               params={"minutes": minutes})


class OperatorAdminSite(admin.AdminSite):
    site_header = "Central Logger operator console"
    site_title = "Central Logger"
    index_title = "Clients, API keys and logs"
    login_form = ThrottledAdminAuthenticationForm

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        response = super().login(request, extra_context)
        if getattr(request, "admin_login_locked_out", False):
            response.status_code = 429
            response["Retry-After"] = str(settings.ADMIN_LOGIN_LOCKOUT_SECONDS)
        return response
