"""The date parameters at the edges of the calendar: a 4xx or an answer, never a 500 (issue 19).

`start_date=0001-01-01&end_date=0001-12-31` made every metrics endpoint answer 500: the previous
period (the same length just before) starts before year 1. Hypothesis fuzzes start_date /
end_date over years 1-2 and 9998-9999, as dates and as datetimes with offsets from -12:00 to
+14:00, against every metrics endpoint, the list and the export, with logs stored at both ends
of the calendar.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import Tenant
from logs.tests.factories import log_body

pytestmark = pytest.mark.django_db
ENDPOINTS = ("/api/v1/metrics/overview", "/api/v1/metrics/categories", "/api/v1/metrics/timeseries",
             "/api/v1/metrics/timeseries?interval=hour", "/api/v1/metrics/errors", "/api/v1/metrics/versions",
             "/api/v1/logs", "/api/v1/logs/export?format=ndjson")
OFFSETS = [dt.timezone(dt.timedelta(hours=h)) for h in (-12, -1, 0, 1, 14)]

_edge_days = st.one_of(
    st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(2, 12, 31)),
    st.dates(min_value=dt.date(9998, 1, 1), max_value=dt.date(9999, 12, 31)),
)


def _format(draw: Any, moment: dt.datetime) -> str:
    if draw(st.booleans()):
        return moment.date().isoformat()
    zone = draw(st.sampled_from([None, *OFFSETS]))
    return (moment.replace(tzinfo=zone) if zone else moment).isoformat()


@st.composite
def date_range(draw: Any) -> tuple[str, str]:
    """start_date and end_date near an edge: independent, or the end within 0-400 days after
    the start (mostly valid ranges, some just over the 366-day limit)."""
    start = dt.datetime.combine(draw(_edge_days), draw(st.times()))
    if draw(st.booleans()):
        end = dt.datetime.combine(draw(_edge_days), draw(st.times()))
    else:
        try:
            end = start + dt.timedelta(seconds=draw(st.integers(0, 400 * 86400)))
        except OverflowError:
            end = dt.datetime.max
    return _format(draw, start), _format(draw, end)


@pytest.fixture
def edge_tenant(alice: Tenant) -> Tenant:
    for when in ("0001-01-01T00:00:00Z", "0001-06-30T12:00:00Z", "9999-12-31T23:59:59Z", "9999-06-30T12:00:00Z"):
        response = alice.api.post("/api/v1/logs", log_body(executed_at=when), format="json")
        assert response.status_code == 201, response.content
    return alice


@pytest.mark.parametrize("start, end", [
    ("0001-01-01", "0001-12-31"),  # the request
    ("0001-01-01", "0001-01-01"),
    ("0001-01-01T00:00:00Z", "0001-01-01T00:00:01Z"),
    ("9999-01-01", "9999-12-30"),
    ("9999-12-31", "9999-12-31"),
    ("9999-12-31T00:00:00", "9999-12-31T23:59:59.999999"),
])
def test_a_period_at_either_end_of_the_calendar_is_answered(edge_tenant: Tenant, start: str, end: str) -> None:
    for path in ENDPOINTS:
        joiner = "&" if "?" in path else "?"
        response = edge_tenant.api.get(f"{path}{joiner}start_date={start}&end_date={end}")
        assert response.status_code in (200, 400), (path, response.status_code, response.content[:300])
        if path.endswith("overview") and response.status_code == 200:
            body = response.json()
            assert body["previous"]["period_end"] == body["period_start"]


def test_the_previous_period_of_year_one_starts_at_the_calendar_start(edge_tenant: Tenant) -> None:
    body = edge_tenant.api.get("/api/v1/metrics/overview?start_date=0001-01-01&end_date=0001-12-31").json()
    assert body["total_tickets"] == 2
    assert body["previous"]["period_start"] == "0001-01-01T00:00:00Z"
    assert body["previous"]["period_end"] == "0001-01-01T00:00:00Z"
    assert body["previous"]["total_tickets"] == 0


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(period=date_range(), endpoint=st.sampled_from(ENDPOINTS))
def test_date_parameters_at_the_edges_never_give_a_500(edge_tenant: Tenant, period: tuple[str, str],
                                                       endpoint: str) -> None:
    start, end = period
    joiner = "&" if "?" in endpoint else "?"
    response = edge_tenant.api.get(endpoint + joiner, {"start_date": start, "end_date": end})
    assert response.status_code in (200, 400), (endpoint, start, end, response.status_code, response.content[:300])
    if response.status_code == 400:
        assert response.json()["error"]["code"] == "validation_error"
