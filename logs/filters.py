"""Query-string filters of the read API (`GET /api/v1/logs`, its export, and the metrics).

Every filter runs on the queryset the view hands over, which is already scoped to the caller's
tenant (scope first, filter second). A bad value is a 400 naming the parameter, never a silently
unfiltered list: `validated_filterset()` raises a DRF ValidationError whose keys are parameter
names, and the exception handler turns it into the error envelope.

Syntax (also in the README):
* string filters take comma-separated values, OR-ed: `status=FAILED,ERROR`;
* `start_date` / `end_date`: ISO date or datetime, naive = UTC; a date-only `end_date` includes
  that whole UTC day, a datetime `end_date` is inclusive;
* `metrics.<key>=<value>` and `metrics.<key>__<op>=<value>` with op in eq ne lt lte gt gte.
  The key must match `^[A-Za-z0-9_]{1,64}$`; the value `true`/`false` is a boolean, a number is
  compared numerically, anything else is a string (eq/ne only). Keys are validated and values are
  bound as SQL parameters (see `JsonScalar`), so nothing from the query string reaches SQL text.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Any

import django_filters
from django import forms
from django.db import connection
from django.db.models import BooleanField, F, FloatField, Func, Q, QuerySet, TextField
from django.db.models.sql.compiler import SQLCompiler
from django.db.backends.base.base import BaseDatabaseWrapper
from rest_framework.exceptions import ValidationError

from logs.models import WorkflowLog
from logs.selectors import Period
from logs.validation import ENVIRONMENT_ALIASES, ENVIRONMENTS, STATUSES

MAX_VALUES_PER_FILTER = 100
MAX_VALUE_LENGTH = 255
MAX_SEARCH_LENGTH = 200
MAX_METRIC_FILTERS = 10
# PostgreSQL cannot take U+0000 in a text parameter (the query fails with a DataError), and no
# stored value contains one (ingestion replaces NULs), so a NUL in a filter value is a 400.
NUL_MESSAGE = "Null characters are not allowed."
METRIC_PREFIX = "metrics."
METRIC_KEY_RE = re.compile(r"^[A-Za-z0-9_]{1,64}$")
METRIC_OPS = ("eq", "ne", "lt", "lte", "gt", "gte")
_NUMBER_RE = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")
# A filter as SQL: a condition with %s placeholders and its parameters (see LogFilterSet.where_sql).
SqlCondition = tuple[str, list[Any]]


def _column(field_name: str) -> str:
    field = WorkflowLog._meta.get_field(field_name)
    return connection.ops.quote_name(field.column)


# --- dates ---------------------------------------------------------------------------------------

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
    """ISO date (`2025-01-31`) or datetime (`2025-01-31T12:00:00Z`, naive = UTC). Raises ValueError."""
    raw = raw.strip()
    if not raw or len(raw) > 64:
        raise ValueError
    if len(raw) == 10:
        day = dt.date.fromisoformat(raw)
        bound = DateBound(dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc), True)
        bound.as_end_exclusive()  # OverflowError for 9999-12-31 (a 400, not a 500)
        return bound
    parsed = dt.datetime.fromisoformat(raw)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    bound = DateBound(parsed.astimezone(dt.timezone.utc), False)
    bound.as_end_exclusive()  # OverflowError at the very end of year 9999 (a 400, not a 500)
    return bound


class DateBoundField(forms.Field):
    default_error_messages = {
        "invalid": "Enter an ISO-8601 date or datetime, e.g. 2025-01-31 or 2025-01-31T12:00:00Z.",
    }

    def to_python(self, value: Any) -> DateBound | None:
        if value in (None, ""):
            return None
        try:
            return parse_date_bound(str(value))
        except (ValueError, OverflowError):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


# --- multi-value string filters ------------------------------------------------------------------

class CommaSeparatedField(forms.Field):
    """`a,b,c` → ["a", "b", "c"] (stripped, empty items dropped, order kept, duplicates removed)."""

    def to_python(self, value: Any) -> list[str] | None:
        if value in (None, ""):
            return None
        if "\x00" in str(value):
            raise forms.ValidationError(NUL_MESSAGE)
        items = list(dict.fromkeys(item.strip() for item in str(value).split(",") if item.strip()))
        if not items:
            return None
        if len(items) > MAX_VALUES_PER_FILTER:
            raise forms.ValidationError(f"At most {MAX_VALUES_PER_FILTER} comma-separated values.")
        if any(len(item) > MAX_VALUE_LENGTH for item in items):
            raise forms.ValidationError(f"Each value must be at most {MAX_VALUE_LENGTH} characters.")
        return items


class StatusListField(CommaSeparatedField):
    def to_python(self, value: Any) -> list[str] | None:
        items = super().to_python(value)
        if items is None:
            return None
        upper = [item.upper() for item in items]
        # STATUSES, not Status.values: Django rebuilds that list on every access.
        unknown = [item for item, up in zip(items, upper) if up not in STATUSES]
        if unknown:
            raise forms.ValidationError(
                f"Unknown status {unknown[0]!r}; allowed: {', '.join(sorted(STATUSES))}.")
        return list(dict.fromkeys(upper))


class EnvironmentListField(CommaSeparatedField):
    def to_python(self, value: Any) -> list[str] | None:
        items = super().to_python(value)
        if items is None:
            return None
        unknown = [item for item in items if item.lower() not in ENVIRONMENT_ALIASES]
        if unknown:
            raise forms.ValidationError(
                f"Unknown environment {unknown[0]!r}; allowed: {', '.join(ENVIRONMENTS)} "
                "(aliases: prod, stage, dev, testing, ...).")
        return list(dict.fromkeys(ENVIRONMENT_ALIASES[item.lower()] for item in items))


class StrictBooleanField(forms.Field):
    """Only true/false/1/0 (any case); django-filter's default silently ignores other values."""

    def to_python(self, value: Any) -> bool | None:
        if value in (None, ""):
            return None
        lowered = str(value).strip().lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise forms.ValidationError("Must be true or false.")


class SecondsField(forms.FloatField):
    def to_python(self, value: Any) -> float | None:
        number = super().to_python(value)
        if number is not None and (not math.isfinite(number) or number < 0):
            raise forms.ValidationError("Must be a finite number of seconds, >= 0.")
        return number


class MultiValueFilter(django_filters.Filter):
    """A column filter taking comma-separated values (`IN (...)`)."""

    field_class = CommaSeparatedField

    def filter(self, qs: QuerySet[Any], value: list[str] | None) -> QuerySet[Any]:
        if not value:
            return qs
        if len(value) == 1:
            return qs.filter(**{self.field_name: value[0]})
        return qs.filter(**{f"{self.field_name}__in": value})

    def sql(self, value: list[str]) -> SqlCondition:
        # The same condition as filter() (= for one value, IN for several), for LogFilterSet.where_sql.
        column = _column(self.field_name)
        if len(value) == 1:
            return f"{column} = %s", [value[0]]
        return f"{column} IN ({', '.join(['%s'] * len(value))})", list(value)


class StatusFilter(MultiValueFilter):
    field_class = StatusListField


class EnvironmentFilter(MultiValueFilter):
    field_class = EnvironmentListField


class StartDateFilter(django_filters.Filter):
    field_class = DateBoundField

    def filter(self, qs: QuerySet[Any], value: DateBound | None) -> QuerySet[Any]:
        return qs if value is None else qs.filter(executed_at__gte=value.as_start())

    def sql(self, value: DateBound) -> SqlCondition:
        return f"{_column('executed_at')} >= %s", [value.as_start()]


class EndDateFilter(django_filters.Filter):
    field_class = DateBoundField

    def filter(self, qs: QuerySet[Any], value: DateBound | None) -> QuerySet[Any]:
        return qs if value is None else qs.filter(executed_at__lt=value.as_end_exclusive())

    def sql(self, value: DateBound) -> SqlCondition:
        return f"{_column('executed_at')} < %s", [value.as_end_exclusive()]


class SecondsFilter(django_filters.Filter):
    field_class = SecondsField

    def sql(self, value: float) -> SqlCondition:
        operator = {"gte": ">=", "lte": "<="}[self.lookup_expr]
        return f"{_column(self.field_name)} {operator} %s", [value]


class StrictBooleanFilter(django_filters.Filter):
    field_class = StrictBooleanField

    def filter(self, qs: QuerySet[Any], value: bool | None) -> QuerySet[Any]:
        return qs if value is None else qs.filter(**{self.field_name: value})

    def sql(self, value: bool) -> SqlCondition:
        return f"{_column(self.field_name)} = %s", [value]


# --- metrics.<key>[__op] -------------------------------------------------------------------------

class JsonScalar(Func):
    """`metrics -> key` as a SQL scalar of ONE JSON type: NULL when the key is absent or holds
    another type. Comparisons then mean the same thing on PostgreSQL and SQLite (jsonb alone
    would order strings below numbers, so `"high" < 0.5` would be true there).

    The key travels as a bound parameter; it is also validated against METRIC_KEY_RE upstream.
    """

    _OUTPUT = {"number": FloatField, "boolean": BooleanField, "string": TextField}

    def __init__(self, field: str, key: str, kind: str) -> None:
        super().__init__(F(field), output_field=self._OUTPUT[kind]())
        self.key = key
        self.kind = kind

    def as_sql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any) -> Any:
        raise NotImplementedError(f"metrics filters are not implemented for {connection.vendor}")

    def as_postgresql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any) -> Any:
        column, params = compiler.compile(self.source_expressions[0])
        cast = {"number": "double precision", "boolean": "boolean", "string": "text"}[self.kind]
        # CASE guarantees the cast only runs on values of the right JSON type.
        sql = f"(CASE WHEN jsonb_typeof({column} -> %s) = %s THEN ({column} ->> %s)::{cast} END)"
        return sql, (*params, self.key, self.kind, *params, self.key)

    def as_sqlite(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any) -> Any:
        column, params = compiler.compile(self.source_expressions[0])
        path = f'$."{self.key}"'
        if self.kind == "boolean":
            sql = f"(CASE json_type({column}, %s) WHEN 'true' THEN 1 WHEN 'false' THEN 0 END)"
            return sql, (*params, path)
        types = "('integer', 'real')" if self.kind == "number" else "('text')"
        sql = f"(CASE WHEN json_type({column}, %s) IN {types} THEN json_extract({column}, %s) END)"
        return sql, (*params, path, *params, path)


@dataclass(frozen=True)
class MetricCondition:
    param: str
    key: str
    op: str
    kind: str  # number | boolean | string
    value: float | bool | str

    def q(self, alias: str) -> Q:
        if self.op == "ne":
            # "not equal" includes logs that lack the key (or hold another type).
            return Q(**{f"{alias}__isnull": True}) | ~Q(**{alias: self.value})
        lookup = "" if self.op == "eq" else f"__{self.op}"
        return Q(**{f"{alias}{lookup}": self.value})


def parse_metric_param(param: str, raw: str) -> MetricCondition:
    """`metrics.overall_confidence__lt`, `0.5` → a condition. Raises ValueError with the reason."""
    spec = param[len(METRIC_PREFIX):]
    key, op = spec, "eq"
    head, sep, tail = spec.rpartition("__")
    if sep and tail in METRIC_OPS:
        key, op = head, tail
    if not METRIC_KEY_RE.match(key):
        raise ValueError("The metric key must be 1-64 letters, digits or underscores, "
                         "optionally followed by __eq, __ne, __lt, __lte, __gt or __gte.")
    value = raw.strip()
    if "\x00" in raw:
        raise ValueError(NUL_MESSAGE)
    if len(value) > MAX_VALUE_LENGTH:
        raise ValueError(f"The value must be at most {MAX_VALUE_LENGTH} characters.")
    if value.lower() in ("true", "false"):
        kind, typed = "boolean", value.lower() == "true"
    elif _NUMBER_RE.match(value) and math.isfinite(float(value)):
        kind, typed = "number", float(value)
    else:
        kind, typed = "string", raw
    if kind != "number" and op not in ("eq", "ne"):
        raise ValueError(f"__{op} needs a number; booleans and strings support only eq and ne.")
    return MetricCondition(param=param, key=key, op=op, kind=kind, value=typed)


# --- the FilterSets --------------------------------------------------------------------------------

class PresentFieldsForm(forms.Form):
    """A filter form that builds only the fields of the parameters actually sent.

    A Django form deep-copies every declared field per instance; with fifteen filters that was
    a third of a list request's CPU. A parameter that is absent cleans to nothing and filters
    nothing, so leaving its field out changes no answer.
    """

    def __init__(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
        present = data or {}
        self.base_fields = {name: field for name, field in self.base_fields.items() if name in present}
        super().__init__(data, *args, **kwargs)


class LeanFilterSet(django_filters.FilterSet):
    """A FilterSet that shares its filters between requests instead of deep-copying them.

    django-filter copies every filter per request so that it can point each at its FilterSet
    (`parent`, for `method=` filters) and model. The filters here are stateless - no `method=`,
    no model lookups - so sharing them is safe across threads; the form class is built once per
    FilterSet class.
    """

    _form_classes: dict[type, type[forms.Form]] = {}

    def __init__(self, data: Any = None, queryset: QuerySet[Any] | None = None, **kwargs: Any) -> None:
        self.is_bound = data is not None
        self.data = data or {}
        self.queryset = queryset
        self.request = kwargs.get("request")
        self.form_prefix = kwargs.get("prefix")
        self.filters = self.base_filters

    def get_form_class(self) -> type[forms.Form]:
        cls = type(self)
        form_class = LeanFilterSet._form_classes.get(cls)
        if form_class is None:
            fields = {name: filter_.field for name, filter_ in self.filters.items()}
            form_class = type(f"{cls.__name__}Form", (self._meta.form,), fields)
            LeanFilterSet._form_classes[cls] = form_class
        return form_class


class SearchFilter(django_filters.CharFilter):
    """`q`: case-insensitive substring of the ticket id, the category or the error message."""

    def filter(self, qs: QuerySet[Any], value: str | None) -> QuerySet[Any]:
        value = (value or "").strip()
        if not value:
            return qs
        return qs.filter(Q(ticket_id__icontains=value) | Q(category__icontains=value)
                         | Q(workflow_error__icontains=value))


class LogFilterForm(PresentFieldsForm):
    """Adds the cross-field and `metrics.*` checks to the generated form."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start_date"), cleaned.get("end_date")
        if start and end and start.as_start() >= end.as_end_exclusive():
            self._errors["start_date"] = self.error_class(["start_date must not be after end_date."])
        lo, hi = cleaned.get("min_execution_time"), cleaned.get("max_execution_time")
        if lo is not None and hi is not None and lo > hi:
            self._errors["min_execution_time"] = self.error_class(
                ["min_execution_time must not be greater than max_execution_time."])

        conditions: list[MetricCondition] = []
        for param in self.data:
            if not param.startswith(METRIC_PREFIX):
                continue
            values = self.data.getlist(param) if hasattr(self.data, "getlist") else [self.data[param]]
            for raw in values:
                try:
                    conditions.append(parse_metric_param(param, raw))
                except ValueError as exc:
                    self._errors.setdefault(param, self.error_class()).append(str(exc))
        if len(conditions) > MAX_METRIC_FILTERS:
            self._errors["metrics"] = self.error_class([f"At most {MAX_METRIC_FILTERS} metrics filters."])
        cleaned["metric_conditions"] = conditions
        return cleaned


class LogFilterSet(LeanFilterSet):
    """Filters of `GET /api/v1/logs` and `GET /api/v1/logs/export`."""

    environment = EnvironmentFilter(field_name="environment")
    status = StatusFilter(field_name="status")
    category = MultiValueFilter(field_name="category")
    ticket_id = MultiValueFilter(field_name="ticket_id")
    workflow_version = MultiValueFilter(field_name="workflow_version")
    resolution_status = MultiValueFilter(field_name="resolution_status")
    customer_type = MultiValueFilter(field_name="customer_type")
    workflow_error_type = MultiValueFilter(field_name="workflow_error_type")
    workflow_error_node = MultiValueFilter(field_name="workflow_error_node")
    is_system_error = StrictBooleanFilter(field_name="is_system_error")
    start_date = StartDateFilter()
    end_date = EndDateFilter()
    min_execution_time = SecondsFilter(field_name="execution_time_seconds", lookup_expr="gte")
    max_execution_time = SecondsFilter(field_name="execution_time_seconds", lookup_expr="lte")
    q = SearchFilter(max_length=MAX_SEARCH_LENGTH)

    class Meta:
        form = LogFilterForm
        fields: list[str] = []

    @classmethod
    def where_sql(cls, cleaned: dict[str, Any]) -> SqlCondition | None:
        """The parsed filters as one SQL condition (AND of each filter's `sql()`: the same rows as
        `filter_queryset`), or None when a filter sent has no SQL form (`q`, `metrics.*`).
        The list's page reads with it instead of compiling an ORM query (logs/selectors.py)."""
        parts: list[str] = []
        params: list[Any] = []
        for name, value in cleaned.items():
            if value is None or value == [] or value == "":
                continue
            to_sql = getattr(cls.base_filters.get(name), "sql", None)
            if to_sql is None:
                return None
            condition, values = to_sql(value)
            parts.append(condition)
            params.extend(values)
        return " AND ".join(parts), params

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        cleaned = dict(self.form.cleaned_data)
        conditions: list[MetricCondition] = cleaned.pop("metric_conditions", [])
        for name, value in cleaned.items():
            queryset = self.filters[name].filter(queryset, value)
        for index, condition in enumerate(conditions):
            alias = f"_metric_{index}"
            queryset = queryset.alias(**{alias: JsonScalar("metrics", condition.key, condition.kind)})
            queryset = queryset.filter(condition.q(alias))
        return queryset


class MetricsFilterSet(LeanFilterSet):
    """The optional narrowing filters of the metrics endpoints (the period is parsed separately)."""

    environment = EnvironmentFilter(field_name="environment")
    category = MultiValueFilter(field_name="category")
    workflow_version = MultiValueFilter(field_name="workflow_version")

    class Meta:
        form = PresentFieldsForm
        fields: list[str] = []


def validated_filters(filterset_class: type[django_filters.FilterSet], data: Any,
                      queryset: QuerySet[Any]) -> tuple[django_filters.FilterSet, dict[str, Any]]:
    """Validate the query string against `queryset` (already tenant-scoped), or raise a 400 naming
    the offending parameters. Returns the bound filterset, whose `.qs` (built on first use) is
    `queryset` filtered, and the parsed values of the parameters sent."""
    filterset = filterset_class(data=data, queryset=queryset)
    if not filterset.is_valid():
        raise ValidationError({name: list(messages) for name, messages in filterset.errors.items()})
    return filterset, filterset.form.cleaned_data


def validated_filterset(filterset_class: type[django_filters.FilterSet], data: Any,
                        queryset: QuerySet[Any]) -> QuerySet[Any]:
    """`validated_filters`' filtered queryset."""
    return validated_filters(filterset_class, data, queryset)[0].qs


# --- metrics period ---------------------------------------------------------------------------------

MAX_DAYS = 90
DEFAULT_DAYS = 7
MAX_RANGE_DAYS = 366
INTERVALS = ("hour", "day")


def parse_period(query: Any, *, now: dt.datetime) -> Period:
    """`days` (1..90, default 7) OR `start_date` + `end_date` (at most 366 days) → a Period.
    Raises a 400 naming the parameter."""
    start_raw, end_raw = query.get("start_date"), query.get("end_date")
    if not start_raw and not end_raw:
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

    errors: dict[str, list[str]] = {}
    if query.get("days") not in (None, ""):
        errors["days"] = ["Pass either days or start_date and end_date, not both."]
    bounds: dict[str, DateBound] = {}
    for name, raw in (("start_date", start_raw), ("end_date", end_raw)):
        if not raw:
            errors[name] = [f"{name} is required with {'end_date' if name == 'start_date' else 'start_date'}."]
            continue
        try:
            bounds[name] = parse_date_bound(str(raw))
        except (ValueError, OverflowError):
            errors[name] = [DateBoundField.default_error_messages["invalid"]]
    if not errors:
        start, end = bounds["start_date"].as_start(), bounds["end_date"].as_end_exclusive()
        if start >= end:
            errors["start_date"] = ["start_date must not be after end_date."]
        elif end - start > dt.timedelta(days=MAX_RANGE_DAYS):
            errors["end_date"] = [f"The range may span at most {MAX_RANGE_DAYS} days."]
    if errors:
        raise ValidationError(errors)
    return Period.between(start, end)


def parse_choice(query: Any, name: str, choices: tuple[str, ...], default: str) -> str:
    value = (query.get(name) or default).strip().lower()
    if value not in choices:
        raise ValidationError({name: [f"Must be one of: {', '.join(choices)}."]})
    return value


def parse_int(query: Any, name: str, *, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ValidationError({name: ["Must be an integer."]}) from None
    if not low <= value <= high:
        raise ValidationError({name: [f"Must be between {low} and {high}."]})
    return value


def collect_errors(*parsers: Any) -> list[Any]:
    """Run each zero-argument parser; raise one 400 naming every bad parameter at once."""
    results, errors = [], {}
    for parser in parsers:
        try:
            results.append(parser())
        except ValidationError as exc:
            errors.update(exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail})
            results.append(None)
    if errors:
        raise ValidationError(errors)
    return results
