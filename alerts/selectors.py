"""Reads of alert rules and events for the API (scoped by the viewset: tenants/scoping.py)."""
from __future__ import annotations

import math
from typing import Any

from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError

from alerts.models import AlertEvent, AlertRule, EventState, RuleState
from logs.params import collect_errors, parse_int
from logs.periods import DATE_HELP, parse_date_bound

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def rules_with_last_event(rules: QuerySet[AlertRule], *, query: Any) -> list[AlertRule]:
    """The rules (`?state=ok|firing` narrows them), each with `last_event` (one more query)."""
    state = (query.get("state") or "").strip()
    if state:
        if state not in RuleState.values:
            raise ValidationError({"state": [f"Must be one of: {', '.join(RuleState.values)}."]})
        rules = rules.filter(state=state)
    found = list(rules.select_related("client"))
    latest = {e.rule_id: e for e in AlertEvent.objects.filter(rule__in=found).order_by("rule_id", "-created_at", "-id")
              .distinct("rule_id")}
    for rule in found:
        rule.last_event = latest.get(rule.pk)  # type: ignore[attr-defined]
    return found


def _bound(query: Any, name: str, *, end: bool) -> Any:
    raw = query.get(name)
    if raw in (None, ""):
        return None
    try:
        bound = parse_date_bound(str(raw))
    except (ValueError, OverflowError):
        raise ValidationError({name: [DATE_HELP]}) from None
    return bound.as_end_exclusive() if end else bound.as_start()


def _rule_id(query: Any) -> int | None:
    raw = query.get("rule")
    if raw in (None, ""):
        return None
    return parse_int(query, "rule", default=0, low=1, high=2**63 - 1)


def _state(query: Any) -> str | None:
    state = (query.get("state") or "").strip()
    if state and state not in EventState.values:
        raise ValidationError({"state": [f"Must be one of: {', '.join(EventState.values)}."]})
    return state or None


def event_list(events: QuerySet[AlertEvent], *, query: Any) -> tuple[list[AlertEvent], dict[str, Any]]:
    """One page of events, newest first, filtered by `rule`, `state`, `start_date`, `end_date`
    (created between; a date-only end_date includes that day); `page`, `page_size` as the log
    list. Every bad parameter is reported in one 400."""
    rule, state, start, end, page, size = collect_errors(
        lambda: _rule_id(query), lambda: _state(query),
        lambda: _bound(query, "start_date", end=False), lambda: _bound(query, "end_date", end=True),
        lambda: parse_int(query, "page", default=1, low=1, high=1_000_000),
        lambda: parse_int(query, "page_size", default=DEFAULT_PAGE_SIZE, low=1, high=MAX_PAGE_SIZE))
    if start is not None and end is not None and start >= end:
        raise ValidationError({"start_date": ["start_date must not be after end_date."]})
    if rule is not None:
        events = events.filter(rule_id=rule)
    if state is not None:
        events = events.filter(state=state)
    if start is not None:
        events = events.filter(created_at__gte=start)
    if end is not None:
        events = events.filter(created_at__lt=end)
    total = events.count()
    rows = list(events.order_by("-created_at", "-id")[(page - 1) * size: page * size])
    return rows, {"page": page, "page_size": size, "total": total, "pages": math.ceil(total / size),
                  "total_is_exact": True, "next_cursor": None}
