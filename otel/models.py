from __future__ import annotations

from django.db import models

from tenants.models import Client


class ModelPriceQuerySet(models.QuerySet["ModelPrice"]):
    def for_client(self, client: Client) -> ModelPriceQuerySet:
        """The tenant scope."""
        return self.filter(client=client)


class ModelPrice(models.Model):
    """A tenant's price of one model, per million tokens, in the tenant's currency: the cost of
    an OpenTelemetry run is its model calls' tokens at these prices (otel/runs.py). A name also
    prices the dated versions it starts (`gpt-4o` prices `gpt-4o-2024-08-06`)."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+", db_index=False)
    model = models.CharField(max_length=255)
    input_per_million = models.DecimalField(max_digits=14, decimal_places=6)
    output_per_million = models.DecimalField(max_digits=14, decimal_places=6)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ModelPriceQuerySet.as_manager()

    class Meta:
        db_table = "otel_model_prices"
        ordering = ["model"]
        constraints = [
            # One price per model and tenant; also serves the tenant's look-up of all its prices.
            models.UniqueConstraint(fields=["client", "model"], name="otel_price_client_model_uniq"),
            models.CheckConstraint(condition=models.Q(input_per_million__gte=0, output_per_million__gte=0),
                                   name="otel_price_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.model}: {self.input_per_million} / {self.output_per_million} per 1M tokens"
