"""The price table's API shapes (GET / PUT /api/v1/model-prices)."""
from __future__ import annotations

from rest_framework import serializers

from otel.models import ModelPrice


class ModelPriceSerializer(serializers.ModelSerializer):
    input_per_million = serializers.DecimalField(max_digits=14, decimal_places=6, min_value=0,
                                                 help_text="Price of a million input tokens.")
    output_per_million = serializers.DecimalField(max_digits=14, decimal_places=6, min_value=0,
                                                  help_text="Price of a million output tokens.")

    class Meta:
        model = ModelPrice
        fields = ("model", "input_per_million", "output_per_million", "updated_at")
        read_only_fields = ("updated_at",)
        ref_name = "ModelPrice"


class ModelPriceListSerializer(serializers.Serializer):
    data = ModelPriceSerializer(many=True)

    class Meta:
        ref_name = "ModelPriceList"


class ModelPricesInSerializer(serializers.Serializer):
    prices = ModelPriceSerializer(many=True, help_text="The whole table: models not listed lose their price.")

    class Meta:
        ref_name = "ModelPricesIn"
