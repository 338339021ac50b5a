"""Query-string filters of the read API (`GET /api/v1/logs`, its export) and of the metrics.

Each filter is declared once, here: the parameter, the form field that parses and validates its
value (a bad value is a 400 naming the parameter, never a silently unfiltered list), and the
column and comparison it stands for. The SQL condition is derived from that declaration
(`ColumnFilter.condition`) and run by logs/tenant_sql after the tenant condition: scope first,
filter second. There is no second (ORM) road to keep equal to it.

Syntax (also in the README):
* string filters take comma-separated values, OR-ed: `status=FAILED,ERROR`;
* `start_date` / `end_date`: ISO date or datetime, naive = UTC; a date-only `end_date` includes
  that whole UTC day, a datetime `end_date` is inclusive;
* `metrics.<key>=<value>` and `metrics.<key>__<op>=<value>` with op in eq ne lt lte gt gte.
  The key must match `^[A-Za-z0-9_]{1,64}$`; the value `true`/`false` is a boolean, a number is
  compared numerically, anything else is a string (eq/ne only). Keys and values are bound as SQL
  parameters, so nothing from the query string reaches SQL text.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import django_filters
from django import forms
from rest_framework.exceptions import ValidationError

from logs.models import ENVIRONMENT_ALIASES, ENVIRONMENTS, STATUS_SET, STATUSES
from logs.periods import DATE_HELP, DateBound, parse_date_bound
from logs.tenant_sql import issues as issue_sql

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
FINGERPRINT_RE = re.compile(r"^[0-9a-fA-F]{16}$")
_NUMBER_RE = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")
_OPERATORS = {"eq": "=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
# A condition in SQL: text with %s placeholders, and its parameters.
Condition = tuple[str, list[Any]]


# --- form fields: parsing and validation of one parameter ----------------------------------------

class DateBoundField(forms.Field):
    default_error_messages = {"invalid": DATE_HELP}

    def to_python(self, value: Any) -> DateBound | None:
        if value in (None, ""):
            return None
        try:
            return parse_date_bound(str(value))
        except (ValueError, OverflowError):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


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
        unknown = [item for item, up in zip(items, upper) if up not in STATUS_SET]
        if unknown:
            raise forms.ValidationError(f"Unknown status {unknown[0]!r}; allowed: {', '.join(sorted(STATUSES))}.")
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


# --- the declarations -----------------------------------------------------------------------------

class ColumnFilter(django_filters.Filter):
    """One parameter compared with one column. `lookup`: "in" (any of the parsed values: `=`
    for one, `IN` for several), "eq", "gte", "lte" or "lt"; `prepare` turns the parsed value
    into the compared one (a date bound into its instant)."""

    field_class: type[forms.Field] = CommaSeparatedField

    def __init__(self, column: str, *, lookup: str = "in", field_class: type[forms.Field] | None = None,
                 prepare: Callable[[Any], Any] | None = None, **kwargs: Any) -> None:
        super().__init__(field_name=column, lookup_expr=lookup, **kwargs)
        if field_class is not None:
            self.field_class = field_class
        self.prepare = prepare

    def condition(self, value: Any) -> Condition:
        column, lookup = self.field_name, self.lookup_expr
        if self.prepare is not None:
            value = self.prepare(value)
        if lookup == "in":
            if len(value) == 1:
                return f"{column} = %s", [value[0]]
            return f"{column} IN ({', '.join(['%s'] * len(value))})", list(value)
        return f"{column} {_OPERATORS[lookup]} %s", [value]


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SearchFilter(django_filters.Filter):
    """`q`: case-insensitive substring of the ticket id, the category or the error message
    (`UPPER(x) LIKE UPPER(%term%)`, which the trigram index on the error text serves)."""

    field_class = forms.CharField  # stripped; Django's validator refuses NUL characters
    COLUMNS = ("ticket_id", "category", "workflow_error")

    def condition(self, value: str) -> Condition:
        pattern = f"%{_escape_like(value)}%"
        sql = " OR ".join(f"UPPER({column}) LIKE UPPER(%s)" for column in self.COLUMNS)
        return f"({sql})", [pattern] * len(self.COLUMNS)


class FingerprintField(forms.CharField):
    default_error_messages = {"invalid": "Must be an error issue's fingerprint: 16 hexadecimal digits."}

    def to_python(self, value: Any) -> str | None:
        text = super().to_python(value)
        if not text:
            return None
        if not FINGERPRINT_RE.match(text):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return text.lower()


class ErrorIssueFilter(django_filters.Filter):
    """`error_issue`: the failing logs of one error issue (metrics/issues.py), by the fingerprint
    expression of the partial index `wl_client_error_issue` (migration 0017), predicate included,
    so the list is an index range scan."""

    field_class = FingerprintField

    def condition(self, value: str) -> Condition:
        return f"{issue_sql.FAILING} AND {issue_sql.FINGERPRINT} = %s", [value]


@dataclass(frozen=True)
class MetricCondition:
    """`metrics.<key>[__op]=<value>`: `metrics -> key` compared as ONE JSON type: a key that is
    absent or holds another type never matches (except `ne`, which matches it), so `"high" <
    0.5` is not true as jsonb's cross-type ordering would have it."""

    param: str
    key: str
    op: str
    kind: str  # number | boolean | string
    value: float | bool | str

    _CASTS = {"number": "double precision", "boolean": "boolean", "string": "text"}

    def condition(self) -> Condition:
        # CASE guarantees the cast only runs on values of the right JSON type.
        scalar = (f"(CASE WHEN jsonb_typeof(metrics -> %s) = %s "
                  f"THEN (metrics ->> %s)::{self._CASTS[self.kind]} END)")
        params = [self.key, self.kind, self.key]
        if self.op == "ne":  # "not equal" includes logs that lack the key (or hold another type)
            return f"({scalar} IS NULL OR {scalar} <> %s)", [*params, *params, self.value]
        return f"{scalar} {_OPERATORS[self.op]} %s", [*params, self.value]


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


# --- FilterSets: the parameters of each endpoint ---------------------------------------------------

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
    """A FilterSet that validates the query string and turns it into one SQL condition.

    Its filters are stateless declarations, shared between requests (django-filter would
    deep-copy them per request); the form class is built once per FilterSet class.
    """

    _form_classes: dict[type, type[forms.Form]] = {}

    def __init__(self, data: Any = None, **kwargs: Any) -> None:
        self.is_bound = data is not None
        self.data = data or {}
        self.queryset = None
        self.request = None
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

    @classmethod
    def condition(cls, cleaned: dict[str, Any]) -> Condition:
        """The parsed parameters as one SQL condition (AND of each filter's); "" when none."""
        parts: list[str] = []
        params: list[Any] = []
        for name, value in cleaned.items():
            if name == "metric_conditions":
                conditions = [metric.condition() for metric in value]
            elif value is None or value == [] or value == "":
                continue
            else:
                conditions = [cls.base_filters[name].condition(value)]
            for sql, values in conditions:
                parts.append(sql)
                params.extend(values)
        return " AND ".join(parts), params


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
        cleaned["metric_conditions"] = self._metric_conditions()
        return cleaned

    def _metric_conditions(self) -> list[MetricCondition]:
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
        return conditions


def _start(bound: DateBound) -> Any:
    return bound.as_start()


def _end(bound: DateBound) -> Any:
    return bound.as_end_exclusive()


# One declaration per filter, shared by the FilterSets that accept it.
ENVIRONMENT = ColumnFilter("environment", field_class=EnvironmentListField)
CATEGORY = ColumnFilter("category")
WORKFLOW_VERSION = ColumnFilter("workflow_version")


class LogFilterSet(LeanFilterSet):
    """Filters of `GET /api/v1/logs` and `GET /api/v1/logs/export`."""

    environment = ENVIRONMENT
    status = ColumnFilter("status", field_class=StatusListField)
    category = CATEGORY
    ticket_id = ColumnFilter("ticket_id")
    workflow_version = WORKFLOW_VERSION
    resolution_status = ColumnFilter("resolution_status")
    customer_type = ColumnFilter("customer_type")
    workflow_error_type = ColumnFilter("workflow_error_type")
    workflow_error_node = ColumnFilter("workflow_error_node")
    is_system_error = ColumnFilter("is_system_error", lookup="eq", field_class=StrictBooleanField)
    start_date = ColumnFilter("executed_at", lookup="gte", field_class=DateBoundField, prepare=_start)
    end_date = ColumnFilter("executed_at", lookup="lt", field_class=DateBoundField, prepare=_end)
    min_execution_time = ColumnFilter("execution_time_seconds", lookup="gte", field_class=SecondsField)
    max_execution_time = ColumnFilter("execution_time_seconds", lookup="lte", field_class=SecondsField)
    q = SearchFilter(max_length=MAX_SEARCH_LENGTH, required=False)
    error_issue = ErrorIssueFilter(required=False)

    class Meta:
        form = LogFilterForm
        fields: list[str] = []


class MetricsFilterSet(LeanFilterSet):
    """The optional narrowing filters of the metrics endpoints (the period is parsed apart)."""

    environment = ENVIRONMENT
    category = CATEGORY
    workflow_version = WORKFLOW_VERSION

    class Meta:
        form = PresentFieldsForm
        fields: list[str] = []


def validated_filters(filterset_class: type[LeanFilterSet], data: Any) -> dict[str, Any]:
    """The parsed values of the parameters sent, or a 400 naming each bad parameter."""
    filterset = filterset_class(data=data)
    if not filterset.is_valid():
        raise ValidationError({name: list(messages) for name, messages in filterset.errors.items()})
    return filterset.form.cleaned_data
