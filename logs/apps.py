from django.apps import AppConfig


class LogsConfig(AppConfig):
    """The workflow log: its model and migrations, the shared filters and periods, and every SQL
    statement over the tenant tables (logs/tenant_sql). The other log apps build on it."""

    name = "logs"
    default_auto_field = "django.db.models.BigAutoField"
