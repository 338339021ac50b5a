from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.services import TenantError, api_key_issue, client_get, parse_scopes


class Command(BaseCommand):
    help = "Issue an API key for a client. The full key is printed once and never shown again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("client_slug")
        parser.add_argument("--name", default="", help="what the key is for, e.g. 'prod workflow'")
        parser.add_argument("--scopes", default="ingest,read", help="comma-separated: ingest,read (default both)")
        parser.add_argument("--expires-in-days", type=int, default=None, help="expire the key after N days")
        parser.add_argument("--quiet", action="store_true", help="print only the key")

    def handle(self, *args: Any, client_slug: str, name: str, scopes: str, expires_in_days: int | None,
               quiet: bool, **options: Any) -> None:
        try:
            client = client_get(slug=client_slug)
            issued = api_key_issue(client=client, name=name, scopes=parse_scopes(scopes),
                                   expires_in_days=expires_in_days)
        except TenantError as exc:
            raise CommandError(str(exc)) from None
        if quiet:
            self.stdout.write(issued.plaintext)
            return
        key = issued.api_key
        expiry = key.expires_at.isoformat() if key.expires_at else "never"
        self.stdout.write(f"Issued key {key.prefix} for {client.slug} (scopes: {','.join(key.scopes)}; expires: {expiry}).")
        self.stdout.write("Store it now; it is shown only once:")
        self.stdout.write(issued.plaintext)
