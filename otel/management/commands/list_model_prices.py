from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from otel.prices import model_prices
from tenants.models import Client


class Command(BaseCommand):
    help = "List a client's model prices (per million input / output tokens)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("client", help="the client's slug")

    def handle(self, *args: Any, client: str, **options: Any) -> None:
        found = Client.objects.filter(slug=client).first()
        if found is None:
            raise CommandError(f"Unknown client {client!r}.")
        prices = model_prices(client=found)
        for price in prices:
            self.stdout.write(f"{price.model}\t{price.input_per_million}\t{price.output_per_million}")
        if not prices:
            self.stdout.write(f"{client} has no model prices: its runs carry tokens but no cost.")
