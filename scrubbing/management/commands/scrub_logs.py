from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from logs.periods import parse_date_bound
from scrubbing.backfill import DEFAULT_BATCH_SIZE, Progress, scrub_stored_logs
from tenants.models import Client
from tenants.services import TenantError, client_get

PROGRESS_EVERY_SECONDS = 2.0


class Command(BaseCommand):
    help = ("Apply each client's current scrubbing rules to its stored logs, in batches (each its own short "
            "transaction). Resumable: run it again and it continues where it stopped.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--client", metavar="SLUG", help="Only this client (default: every client).")
        parser.add_argument("--since", metavar="DATE", help="Only logs executed at or after this date or datetime (UTC).")
        parser.add_argument("--dry-run", action="store_true", help="Report what would change; write nothing.")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, metavar="N",
                            help=f"Logs per batch and transaction (default {DEFAULT_BATCH_SIZE}).")
        parser.add_argument("--restart", action="store_true", help="Start over instead of resuming a stopped run.")

    def handle(self, *args: Any, client: str | None, since: str | None, dry_run: bool, batch_size: int,
               restart: bool, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        since_at = self._since(since)
        if client:
            try:
                clients = [client_get(slug=client)]
            except TenantError as exc:
                raise CommandError(str(exc)) from None
        else:
            clients = list(Client.objects.order_by("slug"))
        totals = [0, 0, 0]
        for target in clients:
            progress = self._one(target, since_at, dry_run, batch_size, restart)
            totals[0] += progress.scanned - progress.resumed_from
            totals[1] += progress.changed
            totals[2] += sum(progress.replaced.values())
        verb = "would change" if dry_run else "changed"
        self.stdout.write(f"{'Dry run: ' if dry_run else ''}scanned {totals[0]:,} logs of {len(clients)} clients, "
                          f"{verb} {totals[1]:,}, {totals[2]:,} values {'to replace' if dry_run else 'replaced'}.")

    def _since(self, value: str | None) -> dt.datetime | None:
        if not value:
            return None
        try:
            return parse_date_bound(value).as_start()
        except (ValueError, OverflowError):
            raise CommandError(f"--since: {value!r} is not an ISO date or datetime (2025-01-31, "
                               "2025-01-31T12:00:00Z).") from None

    def _one(self, target: Client, since: dt.datetime | None, dry_run: bool, batch_size: int,
             restart: bool) -> Progress:
        last = [time.monotonic()]

        def report(progress: Progress) -> None:
            if time.monotonic() - last[0] >= PROGRESS_EVERY_SECONDS:
                last[0] = time.monotonic()
                self.stdout.write(progress.line(target.slug))

        progress = scrub_stored_logs(client=target, since=since, dry_run=dry_run, batch_size=batch_size,
                                     restart=restart, report=report)
        if progress.resumed_from:
            self.stdout.write(f"{target.slug}: resumed after {progress.resumed_from:,} logs scanned by a stopped run")
        rules = ", ".join(f"{rule} {count:,}" for rule, count in sorted(progress.replaced.items(), key=lambda i: -i[1]))
        self.stdout.write(f"{progress.line(target.slug)}{' (dry run)' if dry_run else ''}"
                          f"{f': {rules}' if rules else ''}")
        return progress
