from django.apps import AppConfig


class AlertsConfig(AppConfig):
    """Alert rules over a tenant's logs: evaluated by one process, notified by a queue."""

    name = "alerts"

    def ready(self) -> None:
        from alerts.delivery import deliverer
        from alerts.evaluator import evaluator
        from central_logger import background

        background.register(evaluator)
        background.register(deliverer)
