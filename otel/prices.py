"""A tenant's model prices (per million tokens): what the cost of an OpenTelemetry run is
computed with. One service for the API, the admin and the management commands."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.db import transaction

from otel.models import ModelPrice
from tenants.models import Client

MAX_PRICE = Decimal("99999999")


class PriceError(ValueError):
    """A price that cannot be stored; the message says why."""


def _amount(value: object, name: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise PriceError(f"{name} must be a number, got {value!r}.") from None
    if not amount.is_finite() or amount < 0 or amount > MAX_PRICE:
        raise PriceError(f"{name} must be between 0 and {MAX_PRICE}.")
    return amount.quantize(Decimal("0.000001"))


def model_price_set(*, client: Client, model: str, input_per_million: object,
                    output_per_million: object) -> ModelPrice:
    """Create or change the price of `model` for `client`. Runs get the new price as their
    spans next arrive; runs already complete keep the cost they were stored with."""
    model = model.strip()
    if not model or len(model) > 255:
        raise PriceError("model must be 1-255 characters.")
    values = {"input_per_million": _amount(input_per_million, "input_per_million"),
              "output_per_million": _amount(output_per_million, "output_per_million")}
    with transaction.atomic():
        price, _created = ModelPrice.objects.update_or_create(client=client, model=model, defaults=values)
    return price


def model_price_delete(*, client: Client, model: str) -> bool:
    deleted, _ = ModelPrice.objects.for_client(client).filter(model=model.strip()).delete()
    return bool(deleted)


def model_prices(*, client: Client) -> list[ModelPrice]:
    return list(ModelPrice.objects.for_client(client).order_by("model"))


def model_prices_replace(*, client: Client, prices: list[dict[str, object]]) -> list[ModelPrice]:
    """Make `prices` the whole price table of `client`, in one transaction (all or nothing)."""
    seen: set[str] = set()
    for index, item in enumerate(prices):
        model = str(item.get("model") or "").strip()
        if model in seen:
            raise PriceError(f"prices[{index}]: {model!r} is listed twice.")
        seen.add(model)
    with transaction.atomic():
        ModelPrice.objects.for_client(client).exclude(model__in=seen).delete()
        for item in prices:
            model_price_set(client=client, model=str(item.get("model") or ""),
                            input_per_million=item.get("input_per_million"),
                            output_per_million=item.get("output_per_million"))
    return model_prices(client=client)
