from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Side-effect imports: the membership admin (kept apart from tenants/admin.py, which
        # registers Client and ApiKey) and the OpenAPI description of the session auth classes.
        from tenants import admin_memberships, session_schema  # noqa: F401
        from central_logger import background
        from tenants.resilience import snapshot_sync

        background.register(snapshot_sync)
