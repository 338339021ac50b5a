"""Saved views: a dashboard page and its query string under a name, per client and user."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from tenants.models import Client


class Page(models.TextChoices):
    """The dashboard pages a view can open (their path under /dashboard/<client>/)."""

    OVERVIEW = "overview"
    LOGS = "logs"
    ISSUES = "issues"
    VERSIONS = "versions"
    LATENCY = "latency"
    CATEGORIES = "categories"


class SavedViewQuerySet(models.QuerySet["SavedView"]):
    def for_client(self, client: Client) -> SavedViewQuerySet:
        """The tenant scope (TenantScopedViewSet.get_queryset)."""
        return self.filter(client=client)

    def visible_to(self, user: Any) -> SavedViewQuerySet:
        """Within a client: the views shared with its members, and the user's own."""
        return self.filter(Q(shared=True) | Q(owner=user))


class SavedView(models.Model):
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="saved_views")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    name = models.CharField(max_length=100)
    page = models.CharField(max_length=20, choices=Page.choices)
    # The page's URL query string without the "?" (filters, period, sort, page number).
    query = models.TextField(blank=True, default="")
    shared = models.BooleanField(default=False, help_text="Visible to every member of the client.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SavedViewQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            # The navigation's list: a client's shared views and the caller's own.
            models.Index(fields=["client", "owner"], name="savedview_client_owner"),
            models.Index(fields=["client", "shared"], name="savedview_client_shared"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["client", "owner", "name"], name="savedview_owner_name_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.client.slug}, {self.page})"
