from django.apps import AppConfig


class SavedViewsConfig(AppConfig):
    """Named dashboard views (a page and its filters) that a dashboard user keeps, privately or
    shared with the other members of the client."""

    name = "savedviews"
    verbose_name = "saved views"
