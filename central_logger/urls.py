from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from central_logger import health
from central_logger import schema as _schema  # noqa: F401  registers the OpenAPI auth extension

urlpatterns = [
    path("health", health.health, name="health"),
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("api/v1/", include("logs.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("admin/", admin.site.urls),
]

handler400 = "central_logger.errors.handler400"
handler403 = "central_logger.errors.handler403"
handler404 = "central_logger.errors.handler404"
handler500 = "central_logger.errors.handler500"
