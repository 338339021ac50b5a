from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.services import TenantError, api_key_revoke


class Command(BaseCommand):
    help = "Revoke an API key by its prefix; it stops working at once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("prefix", help="the key's public prefix (see list_api_keys)")

    def handle(self, *args: Any, prefix: str, **options: Any) -> None:
        try:
            key = api_key_revoke(prefix=prefix)
        except TenantError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Revoked key {key.prefix} of {key.client.slug}.")
