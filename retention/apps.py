from django.apps import AppConfig


class RetentionConfig(AppConfig):
    """Retention: removing each client's logs older than its period."""

    name = "retention"
