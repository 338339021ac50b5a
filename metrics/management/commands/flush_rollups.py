from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from logs.tenant_sql.across_tenants import dangerously_count_pending
from metrics.flusher import flush_all


class Command(BaseCommand):
    help = ("Fold every pending log into the metrics rollup now. The app's background flusher does "
            "this every ROLLUP_FLUSH_INTERVAL seconds; run this where it is off (0).")

    def handle(self, *args: Any, **options: Any) -> None:
        moved = flush_all()
        self.stdout.write(f"Folded {moved} pending rows into the rollups; {dangerously_count_pending()} logs pending.")
