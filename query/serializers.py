"""Documentation of the list's answer (components LogList and Pagination), and the detail's
answer built from a row."""
from __future__ import annotations

from typing import Any

from rest_framework import serializers

from logs.serializers import LogSummarySerializer


def log_detail(values: dict[str, Any]) -> dict[str, Any]:
    """The complete log (summary + trace/payload, metadata, extra and the hashes) from its
    DETAIL_FIELDS values."""
    return {**values, "id": str(values["id"])}


class PaginationSerializer(serializers.Serializer):
    page = serializers.IntegerField(allow_null=True, help_text="Null in cursor mode.")
    page_size = serializers.IntegerField()
    total = serializers.IntegerField(
        allow_null=True, help_text="Exact up to LIST_COUNT_EXACT_LIMIT, else an estimate; null in cursor mode.")
    pages = serializers.IntegerField(allow_null=True, help_text="ceil(total / page_size); null in cursor mode.")
    total_is_exact = serializers.BooleanField()
    next_cursor = serializers.CharField(
        allow_null=True, help_text="Cursor mode: pass as `cursor` for the next page; null at the end (and in page mode).")

    class Meta:
        ref_name = "Pagination"


class LogListSerializer(serializers.Serializer):
    data = LogSummarySerializer(many=True)
    pagination = PaginationSerializer()

    class Meta:
        ref_name = "LogList"




class LogChangesSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Opaque; differs from the previous answer once a log of your client was "
                                            "stored, deleted or updated since (within about a second).")

    class Meta:
        ref_name = "LogChanges"


class FieldValueSerializer(serializers.Serializer):
    value = serializers.CharField()
    count = serializers.IntegerField()

    class Meta:
        ref_name = "FieldValue"


class LogValuesSerializer(serializers.Serializer):
    field = serializers.CharField()
    values = FieldValueSerializer(many=True)

    class Meta:
        ref_name = "LogValues"
