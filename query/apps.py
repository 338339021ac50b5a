from django.apps import AppConfig


class QueryConfig(AppConfig):
    """The read API: the filtered list of logs, one log, the export."""

    name = "query"
