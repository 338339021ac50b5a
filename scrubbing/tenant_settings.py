"""A tenant's scrubbing settings: read them (with the rules they give) and change them. The API
(GET/PUT/PATCH /api/v1/settings/scrubbing) and the operator console call these functions."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction

from scrubbing import services
from scrubbing.models import EmailMode, ScrubbingSettings
from scrubbing.rules import KEY_RULES, VALUE_RULES
from scrubbing.validation import FIELDS, clean_settings
from tenants.models import Client

DEFAULTS: dict[str, Any] = {"disabled_rules": [], "extra_keys": [], "custom_patterns": [], "allow_paths": [],
                            "email_mode": EmailMode.REDACT.value}


def _values(row: ScrubbingSettings | None) -> dict[str, Any]:
    if row is None:
        return dict(DEFAULTS)
    return {name: getattr(row, name) for name in FIELDS}


def rules_listing(values: dict[str, Any]) -> list[dict[str, Any]]:
    """Every default rule with whether it applies to this tenant."""
    disabled = set() if settings.SCRUBBING_DEFAULTS_LOCKED else set(values["disabled_rules"])
    listing = [{"id": rule.id, "kind": "value", "description": rule.description, "example": rule.example,
                "enabled": rule.id not in disabled} for rule in VALUE_RULES]
    listing += [{"id": rule.id, "kind": "key", "description": f"values of keys ending with {' / '.join(rule.words)}",
                 "example": rule.example, "enabled": rule.id not in disabled} for rule in KEY_RULES]
    return listing


def scrubbing_settings_get(*, client: Client) -> dict[str, Any]:
    row = ScrubbingSettings.objects.for_client(client).first()
    values = _values(row)
    return {**values, "enabled": settings.SCRUBBING_ENABLED, "defaults_locked": settings.SCRUBBING_DEFAULTS_LOCKED,
            "version": row.version if row else 0, "updated_at": row.updated_at if row else None,
            "updated_by": row.updated_by if row else "", "rules": rules_listing(values)}


def scrubbing_settings_update(*, client: Client, data: Any, partial: bool, actor: str) -> dict[str, Any]:
    """Validate and save new settings (PUT: `data` replaces them, omitted fields go back to
    their defaults; PATCH: only the fields given change). Raises validation.SettingsInvalid."""
    with transaction.atomic():
        row = ScrubbingSettings.objects.for_client(client).select_for_update().first()
        values = clean_settings(data, current=_values(row) if partial else dict(DEFAULTS))
        if row is None:
            row = ScrubbingSettings(client=client, version=1)
        else:
            row.version += 1
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_by = actor[:200]
        row.save()
        # Dropped now and again after the commit (a request in between may have re-read the
        # old row; the version check corrects any other process within the max age anyway).
        services.forget(client)
        transaction.on_commit(lambda: services.forget(client))
    return scrubbing_settings_get(client=client)
