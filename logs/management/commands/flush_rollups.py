from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from logs import rollups


class Command(BaseCommand):
    help = ("Fold every pending log into the metrics rollup (PostgreSQL) now. The app's background "
            "flusher does this every ROLLUP_FLUSH_INTERVAL seconds; run this where it is off (0).")

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("Rollups exist only on PostgreSQL; on SQLite metrics read the table directly.")
        moved = rollups.flush_all()
        self.stdout.write(f"Folded {moved} pending logs into the rollup; {rollups.pending_count()} pending.")
