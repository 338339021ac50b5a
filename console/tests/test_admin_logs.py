"""The log pages of the operator console, through Django's test client."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conftest import Tenant
from logs.models import WorkflowLog
from logs.tests.admin_helpers import changelist_ticket_ids, ingest, ingest_many
from logs.tests.factories import log_body

pytestmark = pytest.mark.django_db
LIST = "/admin/logs/workflowlog/"
HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned=2">'


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    cache.clear()


@pytest.fixture
def staff(django_user_model: Any, client: Any) -> Any:
    """A staff user with only the view permission on logs (an operator, not a superuser)."""
    user = django_user_model.objects.create_user("operator", password="pw-operator-1", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_workflowlog"))
    client.force_login(user)
    return client


def day(n: int, hour: int = 12) -> str:
    return f"2025-03-{n:02d}T{hour:02d}:00:00Z"


@pytest.fixture
def logs(alice: Tenant, bob: Tenant) -> dict[str, str]:
    """Five logs of alice and one of bob, on known days, statuses, categories and versions."""
    ids = {}
    ids["a1"] = ingest(alice, ticket_id="T-100", executed_at=day(1), status="SUCCESS", category="billing")
    ids["a2"] = ingest(alice, ticket_id="T-101", executed_at=day(2), status="FAILED", category="billing",
                       workflow_error="Timeout calling CRM", workflow_error_type="TimeoutError")
    ids["a3"] = ingest(alice, ticket_id="T-200", executed_at=day(3), status="ERROR", category="shipping",
                       environment="staging", workflow_error="KeyError: 'order'", workflow_error_type="KeyError")
    ids["a4"] = ingest(alice, ticket_id="X-1", executed_at=day(4), status="PARTIAL", category="shipping",
                       workflow_version="v2.0")
    ids["a5"] = ingest(alice, ticket_id="T-1000", executed_at=day(5), status="SUCCESS", category="refund")
    ids["b1"] = ingest(bob, ticket_id="B-1", executed_at=day(6), status="FAILED", category="billing",
                       workflow_error="timeout again", workflow_error_type="TimeoutError")
    return ids


def tickets(response: Any) -> list[str]:
    assert response.status_code == 200, response.content[:500]
    return changelist_ticket_ids(response.content.decode())


def test_changelist_lists_every_tenants_logs_newest_first(admin_client: Any, logs: dict[str, str]) -> None:
    response = admin_client.get(LIST)
    assert tickets(response) == ["B-1", "T-1000", "X-1", "T-200", "T-101", "T-100"]
    html = response.content.decode()
    assert "6 workflow logs" in html  # a small table is counted exactly
    assert 'class="cl-status" style="background:#c62828">FAILED<' in html  # coloured badge
    assert "<td class=\"field-execution_time\">5.20 s</td>" in html


@pytest.mark.parametrize(("query", "expected"), [
    ("status__exact=FAILED", ["B-1", "T-101"]),
    ("environment__exact=staging", ["T-200"]),
    ("category=shipping", ["X-1", "T-200"]),
    ("workflow_version=v2.0", ["X-1"]),
    ("workflow_error_type=TimeoutError", ["B-1", "T-101"]),
    ("executed_from=2025-03-02&executed_to=2025-03-04", ["X-1", "T-200", "T-101"]),  # "to" is inclusive
    ("executed_from=2025-03-05T00:00:00Z", ["B-1", "T-1000"]),
    ("executed_at__year=2025&executed_at__month=3&executed_at__day=3", ["T-200"]),
    ("status__exact=FAILED&category=billing&executed_to=2025-03-05", ["T-101"]),
])
def test_filters(admin_client: Any, logs: dict[str, str], query: str, expected: list[str]) -> None:
    assert tickets(admin_client.get(f"{LIST}?{query}")) == expected


def test_client_filter(admin_client: Any, logs: dict[str, str], bob: Tenant) -> None:
    assert tickets(admin_client.get(f"{LIST}?client__id__exact={bob.client.pk}")) == ["B-1"]


def test_relative_date_presets(admin_client: Any, alice: Tenant) -> None:
    now = timezone.now()
    ingest(alice, ticket_id="recent", executed_at=(now - dt.timedelta(minutes=30)).isoformat())
    ingest(alice, ticket_id="yesterday", executed_at=(now - dt.timedelta(hours=30)).isoformat())
    assert tickets(admin_client.get(f"{LIST}?executed_from=-1h")) == ["recent"]
    assert tickets(admin_client.get(f"{LIST}?executed_from=-7d")) == ["recent", "yesterday"]
    html = admin_client.get(LIST).content.decode()
    assert "?executed_from=-24h" in html and "Last 24 hours" in html


def test_bad_date_is_reported_not_a_crash(admin_client: Any, logs: dict[str, str]) -> None:
    response = admin_client.get(f"{LIST}?executed_from=yesterday-ish")
    assert response.status_code == 302 and "e=1" in response["Location"]  # Django's "bad filter" page


def test_filter_choices_come_from_recent_logs(admin_client: Any, logs: dict[str, str]) -> None:
    html = admin_client.get(LIST).content.decode()
    for value in ("category=billing", "category=refund", "category=shipping", "workflow_version=v2.0",
                  "workflow_error_type=KeyError", "workflow_error_type=TimeoutError"):
        assert f"?{value}" in html


@pytest.mark.parametrize(("term", "expected"), [
    ("T-10", ["T-1000", "T-101", "T-100"]),  # ticket id prefix
    ("T-101", ["T-101"]),
    ("X-1", ["X-1"]),
    ("timeout", ["B-1", "T-101"]),  # error text, case-insensitive
    ("KeyError: 'order'", ["T-200"]),
    ("nothing-like-this", []),
])
def test_search(admin_client: Any, logs: dict[str, str], term: str, expected: list[str]) -> None:
    assert tickets(admin_client.get(LIST, {"q": term})) == expected


def test_search_by_log_id_is_an_exact_lookup(admin_client: Any, logs: dict[str, str]) -> None:
    assert tickets(admin_client.get(LIST, {"q": logs["a3"]})) == ["T-200"]
    assert tickets(admin_client.get(LIST, {"q": logs["a3"].upper()})) == ["T-200"]
    with CaptureQueriesContext(connection) as ctx:
        admin_client.get(LIST, {"q": logs["a3"]})
    main = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith('SELECT "workflow_logs"."id", ')]
    assert len(main) == 1 and "LIKE" not in main[0]  # a primary key lookup, nothing else
    assert '"workflow_logs"."payload"' not in main[0]  # the list never reads the heavy JSON


def test_changelist_query_count_does_not_grow_with_rows(admin_client: Any, alice: Tenant) -> None:
    ingest_many(alice, [log_body(ticket_id=str(i)) for i in range(3)])
    with CaptureQueriesContext(connection) as small:
        admin_client.get(LIST)
    cache.clear()
    ingest_many(alice, [log_body(ticket_id=str(i)) for i in range(40)])
    with CaptureQueriesContext(connection) as large:
        response = admin_client.get(LIST)
    assert len(tickets(response)) == 43
    assert len(large.captured_queries) == len(small.captured_queries)
    sqls = [q["sql"] for q in large.captured_queries]
    assert not any("DISTINCT" in sql and "workflow_logs" in sql for sql in sqls)
    assert not any(re.search(r'SELECT COUNT\(\*\) AS "__count" FROM "workflow_logs"\s*$', sql) for sql in sqls)


def test_pagination_says_more_than_when_the_count_is_capped(admin_client: Any, logs: dict[str, str],
                                                             monkeypatch: Any) -> None:
    monkeypatch.setattr("console.admin_list.COUNT_CAP", 4)
    html = admin_client.get(f"{LIST}?category=billing&category=billing").content.decode()
    assert "3 workflow logs" in html  # under the cap: exact
    html = admin_client.get(f"{LIST}?executed_from=2025-01-01").content.decode()
    assert "more than 4 workflow logs" in html


def test_unfiltered_count_is_the_planner_estimate(admin_client: Any, logs: dict[str, str], monkeypatch: Any) -> None:
    monkeypatch.setattr("console.admin_list.COUNT_CAP", 2)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE workflow_logs")
    html = admin_client.get(LIST).content.decode()
    assert "about 6 workflow logs (estimated)" in html


# --- detail page ---------------------------------------------------------------------------------

def hostile_log(tenant: Tenant) -> str:
    trace = {"react_iterations": [
        {"iteration": 1, "thought": "Check the order " + HOSTILE, "action": "lookup_order",
         "action_input": {"order": "42", "note": HOSTILE}, "observation": "Order 42 is <b>late</b>"},
        {"iteration": 2, "thought": "Refund it", "action": "refund", "action_input": "42",
         "observation": {"ok": True}, "tokens": 128},
    ]}
    return ingest(tenant, ticket_id="T-XSS", status="FAILED", workflow_error=HOSTILE,
                  payload={"trace": trace, "final_response": HOSTILE},
                  metrics={"overall_confidence": 0.5, "label": HOSTILE},
                  metadata={"priority": "high", "tags": [HOSTILE]}, shiny_new_field={"nested": HOSTILE})


def test_detail_shows_pretty_json_and_react_steps_escaped(admin_client: Any, alice: Tenant) -> None:
    log_id = hostile_log(alice)
    response = admin_client.get(f"{LIST}{log_id}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>window.__pwned" not in html and "<img src=x" not in html and "<b>late</b>" not in html
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in html
    # Every JSON part is a collapsible, pretty-printed block.
    for title in ("metrics", "payload", "payload.trace", "metadata", "extra"):
        assert re.search(rf'<details class="cl-json"( open)?><summary>{re.escape(title)} <small>', html), title
    assert '&quot;overall_confidence&quot;: 0.5' in html  # indented JSON, escaped quotes
    assert '&quot;shiny_new_field&quot;: {\n    &quot;nested&quot;' in html
    # Steps in order: thought, action, input, observation, then whatever else a step carries.
    steps = html[html.index('<ol class="cl-steps">'):html.index("</ol>")]
    assert steps.count('<li class="cl-step">') == 2
    labels = re.findall(r'<dt class="cl-step-([a-z]+)">', steps)
    assert labels == ["thought", "action", "input", "observation", "thought", "action", "input", "observation",
                      "tokens"]
    assert "Iteration 1" in steps and "Iteration 2" in steps
    assert "Order 42 is &lt;b&gt;late&lt;/b&gt;" in steps
    assert "lookup_order" in steps and "&quot;order&quot;: &quot;42&quot;" in steps


@pytest.mark.parametrize(("trace", "expected"), [
    ("just a string", 'no list of ReAct iterations'),
    ({"something": "else"}, 'no list of ReAct iterations'),
    ([{"tool": "search", "tool_input": "q", "output": "r"}, "free text step"], '<li class="cl-step">'),
    ({"steps": [{"reasoning": "r1"}]}, "Iteration 1"),
])
def test_detail_is_robust_to_other_trace_shapes(admin_client: Any, alice: Tenant, trace: Any, expected: str) -> None:
    log_id = ingest(alice, payload={"trace": trace})
    response = admin_client.get(f"{LIST}{log_id}/change/")
    assert response.status_code == 200
    assert expected in response.content.decode()


def test_detail_without_trace(admin_client: Any, alice: Tenant) -> None:
    log_id = ingest(alice, payload={"final_response": "ok"}, metadata=...)
    html = admin_client.get(f"{LIST}{log_id}/change/").content.decode()
    assert "This log has no trace." in html


# --- read-only, permissions ------------------------------------------------------------------------

def test_logs_are_read_only_even_for_superusers(admin_client: Any, logs: dict[str, str]) -> None:
    assert admin_client.get(f"{LIST}add/").status_code == 403
    url = f"{LIST}{logs['a1']}/change/"
    html = admin_client.get(url).content.decode()
    assert 'name="_save"' not in html  # a view page, no save button
    response = admin_client.post(url, {"ticket_id": "changed", "status": "ERROR"})
    assert response.status_code == 403
    assert WorkflowLog.objects.get(pk=logs["a1"]).ticket_id == "T-100"


def test_superuser_can_delete_a_log(admin_client: Any, logs: dict[str, str]) -> None:
    response = admin_client.post(f"{LIST}{logs['a1']}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not WorkflowLog.objects.filter(pk=logs["a1"]).exists()
    assert WorkflowLog.objects.count() == 5


def test_staff_with_view_permission_reads_but_cannot_delete(staff: Any, logs: dict[str, str]) -> None:
    response = staff.get(LIST)
    assert tickets(response) == ["B-1", "T-1000", "X-1", "T-200", "T-101", "T-100"]
    assert "delete_selected" not in response.content.decode()
    assert staff.get(f"{LIST}{logs['a2']}/change/").status_code == 200
    assert staff.post(f"{LIST}{logs['a2']}/delete/", {"post": "yes"}).status_code == 403
    response = staff.post(LIST, {"action": "delete_selected", "_selected_action": [logs["a2"]], "post": "yes"})
    assert WorkflowLog.objects.filter(pk=logs["a2"]).exists()


def test_staff_without_the_log_permission_cannot_see_logs(django_user_model: Any, client: Any,
                                                          logs: dict[str, str]) -> None:
    user = django_user_model.objects.create_user("nolog", password="pw-nolog-1", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_client"))
    client.force_login(user)
    assert client.get(LIST).status_code == 403
    assert client.get(f"{LIST}{logs['a1']}/change/").status_code == 403
    index = client.get("/admin/").content.decode()
    assert "/admin/tenants/client/" in index and LIST not in index


def test_anonymous_is_sent_to_login(client: Any, logs: dict[str, str]) -> None:
    response = client.get(LIST)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_bounded_count_gives_up_after_the_timeout(logs: dict[str, str], monkeypatch: Any) -> None:
    from central_logger import counting

    def sql(queryset: Any) -> Any:
        return queryset.values("pk").query.sql_with_params()

    slow = WorkflowLog.objects.extra(where=["pg_sleep(0.05) IS NOT NULL"])  # 6 rows x 50 ms
    assert counting.count_at_most(connection, *sql(slow), 10, timeout_ms=20) is None
    failed = WorkflowLog.objects.filter(status="FAILED")
    assert counting.count_at_most(connection, *sql(failed), 10, timeout_ms=20) == 2  # connection still usable
    assert counting.plan_rows(connection, *sql(WorkflowLog.objects.all())) >= 1


def test_slow_filtered_count_shows_the_plan_estimate(admin_client: Any, logs: dict[str, str],
                                                     monkeypatch: Any) -> None:
    monkeypatch.setattr("central_logger.counting.count_at_most", lambda *args, **kwargs: None)
    monkeypatch.setattr("central_logger.counting.plan_rows", lambda *args: 3)
    response = admin_client.get(f"{LIST}?status__exact=FAILED")
    assert tickets(response) == ["B-1", "T-101"]  # the list itself is unaffected
    assert "about 3 workflow logs (estimated)" in response.content.decode()
