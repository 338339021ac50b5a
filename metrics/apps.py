from collections.abc import Iterator
from typing import Any

from django.apps import AppConfig


def rollup_metrics() -> Iterator[Any]:
    """The rollup's backlog at each Prometheus scrape (central_logger/monitoring.py): logs inserted
    but not yet folded in by a flusher. Metrics stay exact meanwhile (reads add them), but each
    read gets slower as this grows; with the flusher's last round (background_last_success_...)
    it is the rollup's lag."""
    from central_logger.monitoring import gauge
    from logs.tenant_sql.across_tenants import dangerously_count_pending

    yield gauge("rollup_pending_logs", "Logs not yet folded into the metrics rollup.", dangerously_count_pending())


class MetricsConfig(AppConfig):
    """The dashboard's metrics, answered from the rollup tables the log triggers keep exact."""

    name = "metrics"

    def ready(self) -> None:
        from central_logger import background, monitoring
        from metrics.flusher import flusher

        background.register(flusher)
        monitoring.register_scrape("rollup", rollup_metrics)
