"""Django admin for dashboard memberships (who may see which client in the dashboard).

Separate from tenants/admin.py (Client and ApiKey) and registered from TenantsConfig.ready().
"""
from __future__ import annotations

from django.contrib import admin

from tenants.models import Membership


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "client", "role", "created_at")
    list_filter = ("role", "client")
    search_fields = ("user__username", "user__email", "client__slug", "client__name")
    list_select_related = ("user", "client")
    raw_id_fields = ("user", "client")
    ordering = ("client__slug", "user__username")
