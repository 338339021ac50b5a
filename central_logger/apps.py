from __future__ import annotations

from django.contrib.admin.apps import AdminConfig


class OperatorAdminConfig(AdminConfig):
    """django.contrib.admin with our AdminSite as `admin.site` (so `@admin.register` uses it)."""

    default_site = "central_logger.admin_site.OperatorAdminSite"
