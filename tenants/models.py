from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

SCOPE_INGEST = "ingest"
SCOPE_READ = "read"
# Changing a tenant's own configuration through the API (alert rules, scrubbing settings, ...).
SCOPE_ADMIN = "admin"
ALL_SCOPES = (SCOPE_INGEST, SCOPE_READ, SCOPE_ADMIN)
# What a key gets when no scopes are asked for: a workflow's key ships and reads logs.
DEFAULT_SCOPES = (SCOPE_INGEST, SCOPE_READ)

slug_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$",
    "Use 1-64 lowercase letters, digits and hyphens (not at either end).",
)


class Client(models.Model):
    """A tenant: every log, key and query belongs to exactly one client."""

    slug = models.CharField(max_length=64, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    # When it was last deactivated (None while active): the spool drainer refuses logs accepted
    # after it, which a host that had not heard of the deactivation may have spooled.
    deactivated_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Logs older than this many days are removed by `manage.py prune_logs`; empty = keep forever.
    retention_days = models.PositiveIntegerField(null=True, blank=True, validators=[MinValueValidator(1)])
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    @property
    def effective_retention_days(self) -> int | None:
        """Its own retention_days, else DEFAULT_RETENTION_DAYS; None: keep logs forever."""
        return self.retention_days or settings.DEFAULT_RETENTION_DAYS


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def active(self) -> ApiKeyQuerySet:
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiKey(models.Model):
    """An API key of a client. Only an HMAC digest of the secret is stored (see tenants/keys.py)."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=200, blank=True)
    # Public identifier, part of the key itself; the lookup column for authentication.
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    digest = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix} ({self.client.slug})" if self.client_id else self.prefix

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        return "active"

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class Role(models.TextChoices):
    VIEWER = "viewer"
    ADMIN = "admin"


class Membership(models.Model):
    """A dashboard user's access to one client. A user may belong to several clients.

    Both roles read the same data; `admin` marks the people a tenant names as its own
    administrators: their sessions also get the `admin` scope, which changing the client's own
    configuration (alert rules, scrubbing settings) needs.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["client__slug"]
        constraints = [
            models.UniqueConstraint(fields=["user", "client"], name="membership_user_client_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.client} ({self.role})"
