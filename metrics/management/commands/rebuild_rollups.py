from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.services import rollup_rebuild
from tenants.services import TenantError, client_get


class Command(BaseCommand):
    help = ("Recount the metrics rollup and the usage rollup from the logs, for one client or all. Triggers keep them "
            "exact as logs are written and deleted; this is the backfill/repair.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--client", metavar="SLUG", help="only this client (default: every client)")

    def handle(self, *args: Any, client: str | None = None, **options: Any) -> None:
        try:
            target = client_get(slug=client) if client else None
        except TenantError as exc:
            raise CommandError(str(exc)) from None
        rows = rollup_rebuild(client=target)
        self.stdout.write(f"Rebuilt the rollup of {client or 'every client'}: {rows} rollup rows.")
