from django.apps import AppConfig


class ScrubbingConfig(AppConfig):
    """Scrubbing: secrets and personal data are replaced in every log before it is stored or
    spooled (scrubbing/services.py `scrub_items`, called by every ingest path), per-tenant
    settings (GET/PUT /api/v1/settings/scrubbing) and `manage.py scrub_logs` for stored logs."""

    name = "scrubbing"
    default_auto_field = "django.db.models.BigAutoField"
