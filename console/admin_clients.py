"""The client pages of the operator console, with each client's log activity.

tenants/admin.py registers clients without knowing about logs; the console replaces that
registration with this subclass, which adds the logs of the last 24 hours and 7 days and the
latest log per client.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import Count, DateTimeField, OuterRef, Q, QuerySet, Subquery, Value
from django.http import HttpRequest
from django.utils import timezone

from logs.models import WorkflowLog
from logs.tenant_sql import across_tenants, citus
from tenants.admin import ClientAdmin
from tenants.models import Client


def log_activity(client_ids: list[int], *, now: dt.datetime) -> dict[int, tuple[int, int]]:
    """(logs in the last 24 h, in the last 7 d) per client, in ONE grouped query for a page of
    clients: only the last 7 days of those clients in the (client, executed_at) index (an
    index-only range scan), never the whole table and never a query per row."""
    rows = (WorkflowLog.objects.dangerously_all_tenants()
            .filter(client_id__in=client_ids, executed_at__gte=now - dt.timedelta(days=7))
            .order_by().values("client_id")
            .annotate(week=Count("pk"), day=Count("pk", filter=Q(executed_at__gte=now - dt.timedelta(days=1)))))
    return {row["client_id"]: (row["day"], row["week"]) for row in rows}


class ClientChangeList(ChangeList):
    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        activity = log_activity([c.pk for c in self.result_list], now=timezone.now())
        for client in self.result_list:
            client.logs_day, client.logs_week = activity.get(client.pk, (0, 0))
        if citus.is_active_cached():  # the newest log of the page's clients (get_queryset says why)
            latest = across_tenants.dangerously_latest_logs([c.pk for c in self.result_list])
            for client in self.result_list:
                client.latest_log = latest.get(client.pk)


class ClientWithActivityAdmin(ClientAdmin):
    list_display = ("slug", "name", "is_active", "retention", "logs_last_24h", "logs_last_7d", "latest_log_at",
                    "created_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Client]:
        # The newest log per client: one LIMIT 1 probe of the (client, executed_at) index per row.
        # Citus refuses that correlated subquery (the clients are a reference table there): the
        # page's clients get theirs in one statement after (ClientChangeList), and sorting by it
        # changes nothing on the cluster.
        if citus.is_active_cached():
            return super().get_queryset(request).annotate(latest_log=Value(None, output_field=DateTimeField()))
        latest = (WorkflowLog.objects.dangerously_all_tenants().filter(client=OuterRef("pk"))
                  .order_by("-executed_at", "-id").values("executed_at")[:1])
        return super().get_queryset(request).annotate(latest_log=Subquery(latest))

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return ClientChangeList

    @admin.display(description="logs 24 h")
    def logs_last_24h(self, obj: Client) -> int:
        return getattr(obj, "logs_day", 0)

    @admin.display(description="logs 7 d")
    def logs_last_7d(self, obj: Client) -> int:
        return getattr(obj, "logs_week", 0)

    @admin.display(description="latest log", ordering="latest_log")
    def latest_log_at(self, obj: Client) -> Any:
        return obj.latest_log or "-"


admin.site.unregister(Client)
admin.site.register(Client, ClientWithActivityAdmin)
