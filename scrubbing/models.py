from __future__ import annotations

from django.db import models

from tenants.models import Client


class TenantScopedQuerySet(models.QuerySet[models.Model]):
    def for_client(self, client: Client) -> TenantScopedQuerySet:
        """The tenant scope (tenants/scoping.py reads every tenant model through it)."""
        return self.filter(client=client)


class EmailMode(models.TextChoices):
    REDACT = "redact", "replace by [redacted:email]"
    HASH = "hash", "replace by a keyed hash [email:…] (same address, same token)"


class ScrubbingSettings(models.Model):
    """A tenant's changes to the default scrubbing rules. No row: the defaults.

    `version` grows with every change; each process keeps the tenant's compiled rules under
    the version it read (scrubbing/services.py) and recompiles when it differs."""

    client = models.OneToOneField(Client, on_delete=models.CASCADE, related_name="scrubbing_settings")
    # Ids of default rules turned off ("phone", "key:session"); ignored while
    # SCRUBBING_DEFAULTS_LOCKED is on.
    disabled_rules = models.JSONField(default=list, blank=True)
    # More key names whose values are replaced whole, matched like the default ones.
    extra_keys = models.JSONField(default=list, blank=True)
    # [{"name": "order_ref", "pattern": "ORD-[0-9]{6}"}]: RE2 syntax, validated on save.
    custom_patterns = models.JSONField(default=list, blank=True)
    # Paths left untouched: "ticket_subject_hash", "payload.trace.*.observation".
    allow_paths = models.JSONField(default=list, blank=True)
    email_mode = models.CharField(max_length=8, choices=EmailMode.choices, default=EmailMode.REDACT)
    version = models.PositiveBigIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=200, blank=True)

    objects = TenantScopedQuerySet.as_manager()

    class Meta:
        verbose_name = "scrubbing settings"
        verbose_name_plural = "scrubbing settings"

    def __str__(self) -> str:
        return f"scrubbing settings of {self.client}"


class ScrubRun(models.Model):
    """Where `manage.py scrub_logs` got to for one client, so a stopped run resumes: the last
    log it finished (in executed_at, id order), under the settings version it applied."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    since = models.DateTimeField(null=True, blank=True)
    settings_version = models.PositiveBigIntegerField()
    rules_digest = models.CharField(max_length=64, help_text="Which rules (defaults included) the run applies.")
    after_executed_at = models.DateTimeField(null=True, blank=True)
    after_id = models.UUIDField(null=True, blank=True)
    scanned = models.PositiveBigIntegerField(default=0)
    changed = models.PositiveBigIntegerField(default=0)
    replaced = models.PositiveBigIntegerField(default=0)
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = TenantScopedQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["client", "-started_at"], name="scrubrun_client_started")]

    def __str__(self) -> str:
        return f"scrub_logs of {self.client} since {self.since or 'the beginning'}"
