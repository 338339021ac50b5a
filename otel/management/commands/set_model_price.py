from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from otel.prices import PriceError, model_price_delete, model_price_set
from tenants.models import Client


class Command(BaseCommand):
    help = ("Set (or with --delete remove) a client's price of one model, per million input and output "
            "tokens: the cost of its OpenTelemetry runs. A name also prices the dated versions it starts "
            "(gpt-4o prices gpt-4o-2024-08-06).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("client", help="the client's slug")
        parser.add_argument("model", help="model name as instrumentations report it, e.g. gpt-4o")
        parser.add_argument("input_per_million", nargs="?", help="price of a million input tokens")
        parser.add_argument("output_per_million", nargs="?", help="price of a million output tokens")
        parser.add_argument("--delete", action="store_true", help="remove the model's price")

    def handle(self, *args: Any, client: str, model: str, input_per_million: str | None,
               output_per_million: str | None, delete: bool, **options: Any) -> None:
        found = Client.objects.filter(slug=client).first()
        if found is None:
            raise CommandError(f"Unknown client {client!r}.")
        if delete:
            if not model_price_delete(client=found, model=model):
                raise CommandError(f"{client} has no price for {model!r}.")
            self.stdout.write(f"Removed the price of {model} for {client}.")
            return
        if input_per_million is None or output_per_million is None:
            raise CommandError("Give both prices (input and output, per million tokens), or --delete.")
        try:
            price = model_price_set(client=found, model=model, input_per_million=input_per_million,
                                    output_per_million=output_per_million)
        except PriceError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{client}: {price}.")
