"""Model prices in the operator console: per client, editable (the same validation as the
management command and the API, otel/prices.py)."""
from __future__ import annotations

from django.contrib import admin

from otel.models import ModelPrice


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = ("client", "model", "input_per_million", "output_per_million", "updated_at")
    list_filter = ("client",)
    search_fields = ("client__slug", "model")
    list_select_related = ("client",)
    raw_id_fields = ("client",)
    ordering = ("client__slug", "model")
