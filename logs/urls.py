from rest_framework.routers import SimpleRouter

from logs.views import LogViewSet

router = SimpleRouter(trailing_slash=False)
router.register("logs", LogViewSet, basename="logs")

urlpatterns = router.urls
