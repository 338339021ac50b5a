"""The /api/v1/ routes of the log apps and the alerts.

`/api/v1/logs` serves two journeys on one URL: POST stores logs (ingestion/views.py) and GET
reads them (query/views.py). Each app owns its actions; this module joins them into the one
viewset the router needs for one path, on the tenant-scoped base class.
"""
from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from alerts.views import AlertEventViewSet, AlertRuleViewSet
from central_logger.schema import EnvelopedListAutoSchema
from ingestion.views import IngestLogActions
from metrics.views import MetricsViewSet
from otel.views import ModelPriceViewSet
from query.views import ReadLogActions
from savedviews.views import SavedViewViewSet
from scrubbing.views import ScrubbingSettingsViewSet
from tenants.scoping import TenantScopedViewSet


class LogViewSet(IngestLogActions, ReadLogActions, TenantScopedViewSet):
    """Workflow logs of the caller's client."""

    schema = EnvelopedListAutoSchema()


# SimpleRouter emits list-level actions (`logs/batch`, `logs/export`) before the detail route
# (`logs/{id}`), so those names never reach the id lookup.
router = SimpleRouter(trailing_slash=False)
router.register("logs", LogViewSet, basename="logs")
router.register("metrics", MetricsViewSet, basename="metrics")
router.register("saved-views", SavedViewViewSet, basename="saved-views")
router.register("alerts/rules", AlertRuleViewSet, basename="alert-rules")
router.register("alerts/events", AlertEventViewSet, basename="alert-events")

urlpatterns = [
    *router.urls,
    path("settings/scrubbing", ScrubbingSettingsViewSet.as_view(
        {"get": "retrieve", "put": "update", "patch": "partial_update"}), name="settings-scrubbing"),
    # One small table per tenant, read and replaced whole (model names may contain slashes).
    path("model-prices", ModelPriceViewSet.as_view({"get": "list", "put": "replace"}), name="model-prices"),
]
