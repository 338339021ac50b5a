"""POST /v1/traces and /v1/logs: the OTLP/HTTP receivers (the paths every OTel SDK appends to
OTEL_EXPORTER_OTLP_ENDPOINT). Authentication, the `ingest` scope and the rate limits are our
API's; answers and errors follow the OTLP/HTTP specification (otel/responses.py).

GET / PUT /api/v1/model-prices: the tenant's model prices, which the runs' cost is computed with."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from central_logger.errors import api_exception_handler
from central_logger.schema import EnvelopedListAutoSchema, error_responses
from ingestion.body import read_body
from otel import prices, services
from otel.models import ModelPrice
from otel.serializers import ModelPriceListSerializer, ModelPriceSerializer, ModelPricesInSerializer
from otel.responses import export_response, status_response, wants_protobuf
from tenants.permissions import CanAdminister, CanIngest
from tenants.scoping import TenantScopedViewSet


def _api_key_id(request: Request) -> int | None:
    api_key = getattr(request.user, "api_key", None)
    return api_key.pk if api_key is not None else None


def otlp_exception_handler(exc: Exception, context: dict[str, Any]) -> HttpResponse:
    """Our envelope's status, message and headers, as a google.rpc.Status."""
    response: Response = api_exception_handler(exc, context)
    request = context["request"]
    headers = {name: value for name, value in response.items() if name.lower() in ("retry-after", "www-authenticate")}
    return status_response(status=response.status_code, envelope=response.data, headers=headers,
                           protobuf=wants_protobuf(request.META.get("CONTENT_TYPE")))


@extend_schema(exclude=True)  # described by OTLP's protobuf definitions, not by our OpenAPI schema
class OtlpReceiver(TenantScopedViewSet):
    action_permissions = {"traces": CanIngest, "logs": CanIngest}
    # Exports keep arriving during a database outage (they are spooled): a known key is verified
    # against the outage snapshot, as for our own ingestion (tenants/resilience.py).
    offline_auth_actions = frozenset({"traces", "logs"})

    def get_exception_handler(self) -> Any:
        return otlp_exception_handler

    def _export(self, request: Request, signal: str) -> HttpResponse:
        protobuf = services.is_protobuf(request.META.get("CONTENT_TYPE"))
        body = read_body(request, max_bytes=settings.OTLP_MAX_BYTES, encodings=("gzip", "deflate"))
        export = services.traces_export if signal == "traces" else services.logs_export
        done = export(client=self.client, api_key_id=_api_key_id(request), body=body, protobuf=protobuf)
        return export_response(signal=signal, protobuf=protobuf, rejected=done.rejected, message=done.message,
                               headers=done.headers)

    def traces(self, request: Request) -> HttpResponse:
        return self._export(request, "traces")

    def logs(self, request: Request) -> HttpResponse:
        return self._export(request, "logs")


class ModelPriceViewSet(TenantScopedViewSet):
    """The caller's model prices: what the cost of its OpenTelemetry runs is computed with."""

    scoped_model = ModelPrice
    action_permissions = {"replace": CanAdminister}
    schema = EnvelopedListAutoSchema()

    @extend_schema(operation_id="model_prices_list", summary="The client's model prices (per million tokens)",
                   responses={200: ModelPriceListSerializer, **error_responses(401, 403, 429, 503)})
    def list(self, request: Request) -> Response:
        return Response({"data": ModelPriceSerializer(self.get_queryset().order_by("model"), many=True).data})

    @extend_schema(operation_id="model_prices_replace", summary="Replace the client's model prices (admin scope)",
                   request=ModelPricesInSerializer,
                   responses={200: ModelPriceListSerializer, **error_responses(400, 401, 403, 429, 503)})
    def replace(self, request: Request) -> Response:
        body = ModelPricesInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            stored = prices.model_prices_replace(client=self.client, prices=body.validated_data["prices"])
        except prices.PriceError as exc:
            raise ValidationError({"prices": [str(exc)]}) from None
        return Response({"data": ModelPriceSerializer(stored, many=True).data})
