"""Operator console: clients and API keys (issue once, revoke, never reveal).

The console app extends the client pages with each client's log activity (console/admin.py).
"""
from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from tenants.admin_forms import ApiKeyIssueForm
from tenants.models import ApiKey, Client
from tenants.services import TenantError, api_key_issue, api_key_revoke, client_set_active

KEY_STATUS_COLOURS = {"active": "#1e7e34", "expired": "#b36b00", "revoked": "#c62828"}
_ISSUE_TOKENS = "apikey_issue_tokens"


def key_status_badge(api_key: ApiKey) -> SafeString:
    status = api_key.status
    return format_html('<span class="cl-status" style="background:{}">{}</span>',
                       KEY_STATUS_COLOURS.get(status, "#555"), status)


# --- clients ------------------------------------------------------------------------------------

class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("prefix", "name", "scopes_display", "created_at", "last_used_at", "expires_at", "status_badge")
    readonly_fields = fields
    verbose_name_plural = "API keys (issue new ones under API keys › Add)"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="scopes")
    def scopes_display(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes)

    @admin.display(description="status")
    def status_badge(self, obj: ApiKey) -> SafeString:
        return key_status_badge(obj)


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "is_active", "retention", "created_at")
    list_filter = ("is_active",)
    search_fields = ("slug", "name")
    fields = ("slug", "name", "is_active", "retention_days", "created_at", "updated_at")
    readonly_fields = ("created_at", "updated_at")
    inlines = (ApiKeyInline,)
    list_per_page = 50

    class Media:
        css = {"all": ("tenants/admin.css",)}

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        default = settings.DEFAULT_RETENTION_DAYS
        form.base_fields["retention_days"].help_text = (
            "Logs older than this many days are deleted by `manage.py prune_logs`. Empty: "
            + (f"the default, {default} days (DEFAULT_RETENTION_DAYS)." if default else "keep forever.")
        )
        return form

    def save_model(self, request: HttpRequest, obj: Client, form: Any, change: bool) -> None:
        """A change of *active* goes through `client_set_active`, which records when and tells
        the key cache and the outage key snapshot."""
        if not (change and "is_active" in form.changed_data):
            super().save_model(request, obj, form, change)
            return
        active = obj.is_active
        obj.is_active = not active
        super().save_model(request, obj, form, change)
        client_set_active(client=obj, active=active)

    # Deleting a client from the admin would cascade over its (possibly millions of) logs in one
    # request and one transaction. Deactivate it instead; its keys stop working at once.
    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="retention")
    def retention(self, obj: Client) -> str:
        days = obj.effective_retention_days
        if days is None:
            return "forever"
        return f"{days} d" if obj.retention_days else f"{days} d (default)"


# --- API keys -------------------------------------------------------------------------------------

class KeyStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("active", "active"), ("expired", "expired"), ("revoked", "revoked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> QuerySet[ApiKey]:
        now = timezone.now()
        if self.value() == "active":
            return queryset.active()  # type: ignore[attr-defined]
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are issued through `api_key_issue` (the full key is shown once) and revoked through
    `api_key_revoke`; the digest is never displayed or editable. After issue only the name and
    the expiry can change (to rename a key or cut its life short); the secret and scopes cannot.
    """

    list_display = ("prefix", "client", "name", "scopes_display", "created_at", "last_used_at", "expires_at",
                    "status_badge")
    list_filter = (KeyStatusFilter, "client")
    list_select_related = ("client",)
    search_fields = ("prefix", "name", "client__slug")
    actions = ("revoke_keys",)
    fields = ("client", "prefix", "name", "scopes_display", "created_at", "last_used_at", "expires_at",
              "revoked_at", "status_badge")
    readonly_fields = ("client", "prefix", "scopes_display", "created_at", "last_used_at", "revoked_at",
                       "status_badge")

    class Media:
        css = {"all": ("tenants/admin.css",)}

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revocation is one-way and keeps the record; nothing deletes a key

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and obj.revoked_at is not None:
            return self.fields  # a revoked key is history
        return self.readonly_fields

    @admin.display(description="scopes")
    def scopes_display(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes)

    @admin.display(description="status")
    def status_badge(self, obj: ApiKey) -> SafeString:
        return key_status_badge(obj)

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        revoked = 0
        for api_key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(prefix=api_key.prefix)
            revoked += 1
        skipped = queryset.count() - revoked
        self.message_user(request, f"Revoked {revoked} API key{'s' if revoked != 1 else ''}."
                          + (f" {skipped} already revoked." if skipped else ""), messages.SUCCESS)

    # --- issuing -----------------------------------------------------------------------------
    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
                 ) -> HttpResponse:
        """Issue a key. The result page shows the full key once; it is rendered in answer to the
        POST (never stored, not even in the session) and is not cacheable. The one-time
        `issue_token` makes a reload of that page (a re-POST) issue nothing and show nothing.
        """
        if not self.has_add_permission(request):
            raise PermissionDenied
        issued = None
        status = 200
        if request.method == "POST":
            form = ApiKeyIssueForm(request.POST)
            if form.is_valid():
                tokens = request.session.get(_ISSUE_TOKENS, [])
                token = form.cleaned_data["issue_token"]
                if token not in tokens:
                    form.add_error(None, "This form was already submitted: the key it issued was shown once "
                                         "and cannot be shown again. Issue a new key if you lost it.")
                    form.data = form.data.copy()
                    form.data["issue_token"] = self._new_token(request)
                    status = 409
                else:
                    request.session[_ISSUE_TOKENS] = [t for t in tokens if t != token]
                    try:
                        issued = api_key_issue(client=form.cleaned_data["client"], name=form.cleaned_data["name"],
                                               scopes=form.cleaned_data["scopes"],
                                               expires_in_days=form.cleaned_data["expires_in_days"])
                    except TenantError as exc:
                        form.add_error(None, str(exc))
                    else:
                        self.log_addition(request, issued.api_key, [{"added": {}}])
        else:
            initial = {"issue_token": self._new_token(request)}
            if request.GET.get("client", "").isdigit():
                initial["client"] = request.GET["client"]
            form = ApiKeyIssueForm(initial=initial)

        context = {
            **self.admin_site.each_context(request),
            "title": "API key issued" if issued else "Issue an API key",
            "opts": self.model._meta,
            "form": form,
            "issued": issued,
            "media": self.media + form.media,
            **(extra_context or {}),
        }
        response = TemplateResponse(request, "admin/tenants/apikey/issue.html", context, status=status)
        if issued:
            response["Cache-Control"] = "no-store"
        return response

    @staticmethod
    def _new_token(request: HttpRequest) -> str:
        token = secrets.token_urlsafe(16)
        # Keep the few most recent (several tabs may be open); older ones simply expire.
        request.session[_ISSUE_TOKENS] = [*request.session.get(_ISSUE_TOKENS, [])[-9:], token]
        return token
