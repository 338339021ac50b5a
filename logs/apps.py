from django.apps import AppConfig


class LogsConfig(AppConfig):
    """The workflow log: its model and migrations, its time partitions, the shared filters and
    periods, and every SQL statement over the tenant tables (logs/tenant_sql). The other log apps
    build on it."""

    name = "logs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from central_logger import background, health, replica
        from logs.partitions import maintainer, readiness
        from logs.search_indexer import indexer

        background.register(maintainer)
        background.register(indexer)
        health.register_readiness_check("partitions", readiness, needs_database=True)
        if replica.configured():  # the log reads of the dashboard that it may serve
            health.register_readiness_check("replica", replica.readiness)
