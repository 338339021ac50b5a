from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from alerts.delivery import deliver_due


class Command(BaseCommand):
    help = ("Send every due alert notification once now (what the delivery thread does every "
            "ALERT_DELIVERY_INTERVAL_SECONDS); failures stay queued for their retry.")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"attempted {deliver_due()} notifications")
