from rest_framework.routers import SimpleRouter

from logs.views import LogViewSet, MetricsViewSet

# SimpleRouter emits list-level actions (`logs/batch`, `logs/export`) before the detail route
# (`logs/{id}`), so those names never reach the id lookup.
router = SimpleRouter(trailing_slash=False)
router.register("logs", LogViewSet, basename="logs")
router.register("metrics", MetricsViewSet, basename="metrics")

urlpatterns = router.urls
