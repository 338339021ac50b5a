"""Time ranges of the read API: `start_date` / `end_date` bounds and the metrics' periods.

Every range is a half-open UTC interval [start, end): a log belongs to it when
`start <= executed_at < end`.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from rest_framework.exceptions import ValidationError

UTC = dt.timezone.utc
# The first instant datetime can hold: a previous period never starts before it.
EARLIEST = dt.datetime.min.replace(tzinfo=UTC)
MAX_DAYS = 90
DEFAULT_DAYS = 7
MAX_RANGE_DAYS = 366
DATE_HELP = "Enter an ISO-8601 date or datetime, e.g. 2025-01-31 or 2025-01-31T12:00:00Z."


@dataclass(frozen=True)
class DateBound:
    """A parsed `start_date`/`end_date`: the UTC instant, and whether only a date was given."""

    value: dt.datetime
    date_only: bool

    def as_start(self) -> dt.datetime:
        return self.value

    def as_end_exclusive(self) -> dt.datetime:
        """The exclusive upper bound: the next midnight for a date, else just after the instant."""
        if self.date_only:
            return self.value + dt.timedelta(days=1)
        return self.value + dt.timedelta(microseconds=1)


def parse_date_bound(raw: str) -> DateBound:
    """ISO date (`2025-01-31`) or datetime (`2025-01-31T12:00:00Z`, naive = UTC). Raises
    ValueError (or OverflowError at the very end of year 9999, where no end bound exists)."""
    raw = raw.strip()
    if not raw or len(raw) > 64:
        raise ValueError
    if len(raw) == 10:
        day = dt.date.fromisoformat(raw)
        bound = DateBound(dt.datetime(day.year, day.month, day.day, tzinfo=UTC), True)
    else:
        parsed = dt.datetime.fromisoformat(raw)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        bound = DateBound(parsed.astimezone(UTC), False)
    bound.as_end_exclusive()  # OverflowError for the last day of year 9999 (a 400, not a 500)
    return bound


@dataclass(frozen=True)
class Period:
    """A half-open UTC interval [start, end) and the one just before it, of the same length."""

    start: dt.datetime
    end: dt.datetime
    days: int
    previous_start: dt.datetime
    previous_end: dt.datetime

    @classmethod
    def last_days(cls, days: int, *, now: dt.datetime) -> Period:
        """The `days` UTC calendar days ending today: 00:00 UTC of (today − days + 1) → now.
        The previous period is the `days` whole UTC days before that."""
        now = now.astimezone(UTC)
        start = dt.datetime(now.year, now.month, now.day, tzinfo=UTC) - dt.timedelta(days=days - 1)
        return cls(start, now, days, start - dt.timedelta(days=days), start)

    @classmethod
    def between(cls, start: dt.datetime, end: dt.datetime) -> Period:
        """A custom range; the previous period is the same duration immediately before, cut at
        the start of the calendar (0001-01-01T00:00Z) for a range in year 1."""
        length = end - start
        previous_start = start - length if start - EARLIEST >= length else EARLIEST
        return cls(start, end, math.ceil(length / dt.timedelta(days=1)), previous_start, start)

    def fields(self) -> dict[str, Any]:
        return {"period_days": self.days, "period_start": self.start, "period_end": self.end}


def _days_period(query: Any, now: dt.datetime) -> Period:
    raw = query.get("days")
    if raw in (None, ""):
        return Period.last_days(DEFAULT_DAYS, now=now)
    try:
        days = int(str(raw).strip())
    except ValueError:
        raise ValidationError({"days": ["Must be an integer."]}) from None
    if not 1 <= days <= MAX_DAYS:
        raise ValidationError({"days": [f"Must be between 1 and {MAX_DAYS}."]})
    return Period.last_days(days, now=now)


def _range_errors(query: Any) -> tuple[dict[str, list[str]], dict[str, DateBound]]:
    errors: dict[str, list[str]] = {}
    if query.get("days") not in (None, ""):
        errors["days"] = ["Pass either days or start_date and end_date, not both."]
    bounds: dict[str, DateBound] = {}
    for name, other in (("start_date", "end_date"), ("end_date", "start_date")):
        raw = query.get(name)
        if not raw:
            errors[name] = [f"{name} is required with {other}."]
            continue
        try:
            bounds[name] = parse_date_bound(str(raw))
        except (ValueError, OverflowError):
            errors[name] = [DATE_HELP]
    return errors, bounds


def parse_period(query: Any, *, now: dt.datetime) -> Period:
    """`days` (1..90, default 7) OR `start_date` + `end_date` (at most 366 days) → a Period.
    Raises a 400 naming the parameter."""
    if not query.get("start_date") and not query.get("end_date"):
        return _days_period(query, now)
    errors, bounds = _range_errors(query)
    if not errors:
        start, end = bounds["start_date"].as_start(), bounds["end_date"].as_end_exclusive()
        if start >= end:
            errors["start_date"] = ["start_date must not be after end_date."]
        elif end - start > dt.timedelta(days=MAX_RANGE_DAYS):
            errors["end_date"] = [f"The range may span at most {MAX_RANGE_DAYS} days."]
    if errors:
        raise ValidationError(errors)
    return Period.between(start, end)
