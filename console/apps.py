from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The operator console (Django admin) over every tenant's logs."""

    name = "console"

    def ready(self) -> None:
        # After tenants' admin: the client pages gain their log activity.
        from console import admin_clients  # noqa: F401
