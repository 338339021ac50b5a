from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.selectors import api_key_list
from tenants.services import TenantError, client_get


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


class Command(BaseCommand):
    help = "List API keys (never their secrets), optionally for one client."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("client_slug", nargs="?", default=None)

    def handle(self, *args: Any, client_slug: str | None, **options: Any) -> None:
        if client_slug:
            try:
                client_get(slug=client_slug)
            except TenantError as exc:
                raise CommandError(str(exc)) from None
        rows = [("PREFIX", "NAME", "CLIENT", "SCOPES", "CREATED", "LAST USED", "EXPIRES", "STATUS")]
        for key in api_key_list(client_slug=client_slug):
            rows.append((key.prefix, key.name or "-", key.client.slug, ",".join(key.scopes), _when(key.created_at),
                         _when(key.last_used_at), _when(key.expires_at), key.status))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        if len(rows) == 1:
            self.stdout.write("(no keys)")
