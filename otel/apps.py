from django.apps import AppConfig


class OtelConfig(AppConfig):
    """OpenTelemetry in: POST /v1/traces and /v1/logs (OTLP/HTTP, protobuf and JSON). Spans are
    stored per tenant and each trace becomes a workflow run; stored durably like our own logs
    (PostgreSQL, else the spool, whose drain calls back into otel/storage.py)."""

    name = "otel"

    def ready(self) -> None:
        from otel import storage
        from spool.drain import register_kind

        register_kind(storage.KIND, storage.store_spooled)
