from django.apps import AppConfig


class IngestionConfig(AppConfig):
    """Ingestion: POST /api/v1/logs and /api/v1/logs/batch, stored durably (PostgreSQL or the spool)."""

    name = "ingestion"
