"""manage.py drain_spool: move spooled logs into PostgreSQL now (the workers also do it by themselves)."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from spool.drain import spool_drain
from spool.store import spool_stats


class Command(BaseCommand):
    help = "Move logs from the local spool into the database, oldest first, exactly once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=None, help="Logs per database transaction.")
        parser.add_argument("--status", action="store_true", help="Only show what the spool holds.")

    def handle(self, *args: Any, batch_size: int | None, status: bool, **options: Any) -> None:
        if status:
            stats = spool_stats()
            self.stdout.write(f"spool: {stats.rows} logs, {stats.bytes} of {stats.max_bytes} bytes, "
                              f"{stats.dead_letters} dead letters")
            return
        report = spool_drain(batch_size=batch_size)
        if report.busy:
            raise CommandError("Another drainer is running (a service worker or another drain_spool); try again.")
        self.stdout.write(f"drained {report.inserted} logs ({report.skipped} already stored, "
                          f"{report.dead} dead letters); {report.remaining} remaining")
        if report.error:
            raise CommandError(f"The database is unavailable ({report.error}); {report.remaining} logs still spooled.")
