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


class SearchMatchSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="Where the search matched: ticket_id, category, workflow_error_type, "
                                            "workflow_error_node, workflow_error, payload.final_response, "
                                            "payload.trace.<path> (e.g. payload.trace.react_iterations[2].thought), "
                                            "payload.private_note, metadata.<path>.")
    snippet = serializers.CharField(help_text="Up to ~200 characters of that field around the match (plain text; "
                                              "… where it was cut).")
    highlights = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField(), min_length=2, max_length=2),
        help_text="[start, end) character ranges of the matched words in `snippet`.")

    class Meta:
        ref_name = "SearchMatch"


class LogSearchRowSerializer(LogSummarySerializer):
    match = SearchMatchSerializer(required=False, allow_null=True, help_text=(
        "With `q` only: the field that matched and a snippet (null when the words matched across fields)."))

    class Meta(LogSummarySerializer.Meta):
        fields = (*LogSummarySerializer.Meta.fields, "match")
        ref_name = "LogListRow"


class LogListSerializer(serializers.Serializer):
    data = LogSearchRowSerializer(many=True)
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


class TraceEventSerializer(serializers.Serializer):
    name = serializers.CharField(allow_null=True)
    offset_ms = serializers.FloatField(help_text="Milliseconds after the trace's first span started.")
    attributes = serializers.DictField()

    class Meta:
        ref_name = "TraceEvent"


class TraceSpanSerializer(serializers.Serializer):
    span_id = serializers.CharField()
    parent_span_id = serializers.CharField(allow_null=True)
    name = serializers.CharField()
    kind = serializers.IntegerField(help_text="OTLP SpanKind: 0 unspecified, 1 internal, 2 server, 3 client, "
                                              "4 producer, 5 consumer.")
    status_code = serializers.IntegerField(help_text="0 unset, 1 ok, 2 error.")
    status_message = serializers.CharField(allow_null=True)
    operation = serializers.CharField(allow_null=True, help_text="llm (a model call), tool, agent, or null.")
    model = serializers.CharField(allow_null=True)
    input_tokens = serializers.IntegerField(allow_null=True)
    output_tokens = serializers.IntegerField(allow_null=True)
    attributes = serializers.DictField()
    events = TraceEventSerializer(many=True)
    links = serializers.ListField(child=serializers.DictField())
    scope = serializers.DictField()
    start_time = serializers.DateTimeField()
    offset_ms = serializers.FloatField(help_text="Milliseconds after the trace's first span started.")
    duration_ms = serializers.FloatField()
    service_name = serializers.CharField(allow_null=True)

    class Meta:
        ref_name = "TraceSpan"


class TraceLogRecordSerializer(serializers.Serializer):
    record_id = serializers.CharField()
    span_id = serializers.CharField(allow_null=True)
    severity_number = serializers.IntegerField()
    severity_text = serializers.CharField(allow_null=True)
    event_name = serializers.CharField(allow_null=True)
    body = serializers.JSONField(allow_null=True)
    attributes = serializers.DictField()
    scope = serializers.DictField()
    time = serializers.DateTimeField()
    offset_ms = serializers.FloatField()

    class Meta:
        ref_name = "TraceLogRecord"


class LogTraceSerializer(serializers.Serializer):
    log_id = serializers.UUIDField()
    trace_id = serializers.CharField()
    root_span_id = serializers.CharField(allow_null=True)
    start_time = serializers.DateTimeField(help_text="When the trace's first span started.")
    resource = serializers.DictField(help_text="The resource attributes of the first span (service.name, ...).")
    truncated = serializers.BooleanField(help_text="More spans or log records than OTLP_TRACE_READ_LIMIT: the "
                                                   "earliest ones are shown.")
    spans = TraceSpanSerializer(many=True)
    log_records = TraceLogRecordSerializer(many=True)

    class Meta:
        ref_name = "LogTrace"
