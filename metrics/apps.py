from django.apps import AppConfig


class MetricsConfig(AppConfig):
    """The dashboard's metrics, answered from the rollup tables the log triggers keep exact."""

    name = "metrics"

    def ready(self) -> None:
        from central_logger import background
        from metrics.flusher import flusher

        background.register(flusher)
