from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from retention.services import DEFAULT_BATCH_SIZE, PartitionDrop, PruneResult, logs_prune
from tenants.models import Client
from tenants.services import TenantError, client_get


class Command(BaseCommand):
    help = ("Remove logs older than each client's retention period (its retention_days, else "
            "DEFAULT_RETENTION_DAYS; neither = keep forever): whole time partitions where every log in them "
            "is due (detached concurrently, then dropped), the rest in small batches. Safe to run from cron.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--client", metavar="SLUG", help="Only this client.")
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, metavar="N",
                            help=f"Logs deleted per statement/transaction (default {DEFAULT_BATCH_SIZE}).")

    def handle(self, *args: Any, client: str | None, dry_run: bool, batch_size: int, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        target = None
        if client:
            try:
                target = client_get(slug=client)
            except TenantError as exc:
                raise CommandError(str(exc)) from None
            if target.effective_retention_days is None:
                self.stdout.write(f"{target.slug}: no retention period (keeps logs forever); nothing to do.")
                return

        slugs = dict(Client.objects.values_list("pk", "slug"))

        def report(result: PruneResult) -> None:
            verb = "would remove" if result.dry_run else "removed"
            batches = "" if result.dry_run else f" in {result.batches} batch{'es' if result.batches != 1 else ''}"
            traces = f" (and {result.trace_rows} OpenTelemetry spans and log records)" if result.trace_rows else ""
            whole = f" ({result.dropped} with whole partitions)" if result.dropped else ""
            self.stdout.write(f"{result.client.slug}: {verb} {result.deleted} logs older than "
                              f"{result.cutoff:%Y-%m-%d %H:%M:%S} UTC ({result.retention_days} days){batches}{whole}"
                              f"{traces}")

        def report_drop(drop: PartitionDrop) -> None:
            verb = "would drop" if drop.dry_run else "dropped"
            per_client = ", ".join(f"{slugs.get(pk, pk)} {n}" for pk, n in sorted(
                drop.logs_by_client.items(), key=lambda item: str(slugs.get(item[0], item[0]))))
            steps = ", ".join(f"{step} {seconds * 1000:.0f}" for step, seconds in drop.steps.items())
            timing = "" if drop.dry_run else f" in {drop.seconds * 1000:.0f} ms ({steps})"
            self.stdout.write(f"partition {drop.partition.name} {drop.partition.label()}: {verb}, "
                              f"{sum(drop.logs_by_client.values())} logs ({per_client or 'empty'}){timing}")

        results = logs_prune(client=target, dry_run=dry_run, batch_size=batch_size, on_result=report,
                             on_drop=report_drop)
        total = sum(r.deleted for r in results)
        if dry_run:
            self.stdout.write(f"Dry run: {total} logs would be removed from {len(results)} clients; nothing deleted.")
        else:
            self.stdout.write(f"Removed {total} logs from {len(results)} clients.")
