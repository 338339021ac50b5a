from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from central_logger import dashboard, health, monitoring
from central_logger import schema as _schema  # noqa: F401  registers the OpenAPI auth extension
from otel.views import OtlpReceiver

urlpatterns = [
    path("health", health.health, name="health"),
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("metrics", monitoring.metrics_view, name="metrics"),
    path("api/v1/", include("central_logger.api")),
    # OpenTelemetry's standard OTLP/HTTP paths, at the root: OTEL_EXPORTER_OTLP_ENDPOINT=http://host:8000.
    path("v1/traces", OtlpReceiver.as_view({"post": "traces"}), name="otlp-traces"),
    path("v1/logs", OtlpReceiver.as_view({"post": "logs"}), name="otlp-logs"),
    path("api/v1/", include("tenants.session_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("admin/", admin.site.urls),
    # The SPA: index.html for /dashboard and every client-side route under it.
    re_path(r"^dashboard(?:/.*)?$", dashboard.index, name="dashboard"),
]

handler400 = "central_logger.errors.handler400"
handler403 = "central_logger.errors.handler403"
handler404 = "central_logger.errors.handler404"
handler500 = "central_logger.errors.handler500"
