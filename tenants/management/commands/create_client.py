from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.services import TenantError, client_create


class Command(BaseCommand):
    help = "Create a client (tenant). An existing slug is an error."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="URL-safe identifier: lowercase letters, digits, hyphens")
        parser.add_argument("--name", default="", help="display name (default: the slug)")

    def handle(self, *args: Any, slug: str, name: str, **options: Any) -> None:
        try:
            client = client_create(slug=slug, name=name)
        except TenantError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Created client {client.slug} ({client.name}).")
