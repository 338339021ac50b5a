"""The hot reads of `workflow_logs` (a list page with its rollup count, the detail by id) are
prepared on the server: planning them over every time partition cost PostgreSQL more than
running them (bench/README.md, "the cost of time partitions, found"). Same answers prepared or
not; a generic plan of the detail still reads one partition (pruned when it runs)."""
from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conftest import Tenant
from logs.tests.factories import log_body

UTC = dt.timezone.utc
URL = "/api/v1/logs"
LANGUAGES = ("Zahlung fehlgeschlagen", "支払いに失敗しました", "الدفع فشل", "Платёж не прошёл", "", "x" * 400)


def _store(tenant: Tenant, count: int) -> list[dict[str, Any]]:
    """Logs over the last ~100 days (four or five monthly partitions), every status, long and
    empty values in several languages."""
    r = random.Random(24)
    now = dt.datetime.now(UTC)
    bodies = [log_body(executed_at=(now - dt.timedelta(days=r.uniform(0, 100))).isoformat(),
                       status=r.choice(["SUCCESS", "FAILED", "ERROR", "PARTIAL"]),
                       ticket_id=f"T-{i}-{r.choice(LANGUAGES)}"[:100], category=r.choice(["billing", "", "退款"]))
              for i in range(count)]
    response = tenant.api.post(f"{URL}/batch", {"logs": bodies}, format="json")
    assert response.status_code == 201, response.content
    return bodies


def _prepared() -> dict[str, tuple[int, int]]:
    """statement text -> (generic plans, custom plans) of this connection's prepared reads."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements "
                       "WHERE statement LIKE '%%FROM \"workflow_logs\"%%'")
        return {statement: (generic, custom) for statement, generic, custom in cursor.fetchall()}


@pytest.mark.django_db
def test_list_pages_and_details_are_prepared_and_answer_as_unprepared(alice: Tenant, settings: Any) -> None:
    _store(alice, 60)
    queries = [(URL, {"status": "FAILED", "page_size": 7}), (URL, {"page_size": 5, "page": 2}),
               (URL, {"category": "退款", "ordering": "execution_time_seconds"})]
    settings.DB_PREPARED_STATEMENTS = False
    unprepared = [alice.api.get(url, params).json() for url, params in queries]
    ids = [row["id"] for row in unprepared[1]["data"]]
    details = [alice.api.get(f"{URL}/{log_id}").json() for log_id in ids]
    assert _prepared() == {}
    settings.DB_PREPARED_STATEMENTS = True
    for _ in range(7):  # past psycopg's and PostgreSQL's thresholds: a generic plan is tried
        assert [alice.api.get(url, params).json() for url, params in queries] == unprepared
        assert [alice.api.get(f"{URL}/{log_id}").json() for log_id in ids] == details
    prepared = _prepared()
    # Two first pages and one detail statement; page 2 answers the same but its text (OFFSET 5)
    # is a one-off that must not take a place in the connection's cache of prepared statements.
    assert len(prepared) == 3 and not [statement for statement in prepared if "OFFSET 5" in statement], prepared
    for statement, (generic, custom) in prepared.items():
        # PostgreSQL plans the first five executions for their values, then settles on the
        # generic plan (no planning at all) unless it looks dearer: it must not, or every
        # request is planned again (a LIMIT bound as a parameter did that).
        assert custom == 5 and generic > 0, (statement, generic, custom)


@pytest.mark.django_db
def test_a_page_and_its_rollup_count_still_take_one_round_trip(alice: Tenant) -> None:
    _store(alice, 30)
    with CaptureQueriesContext(connection) as captured:
        body = alice.api.get(URL, {"status": "FAILED", "page_size": 2}).json()
    sql = [query["sql"] for query in captured.captured_queries]  # before the next request resets them
    failed = alice.api.get(URL, {"status": "FAILED", "page_size": 100}).json()
    assert body["pagination"]["total"] == len(failed["data"]) > 2 and body["pagination"]["total_is_exact"]
    # The API key's look-up, then the page and the count, pipelined (both logged and counted).
    assert len(sql) == 3 and "FROM \"workflow_logs\"" in sql[1] and "logs_list_count" in sql[2], sql


@pytest.mark.django_db
def test_the_generic_plan_of_a_detail_reads_one_partition(alice: Tenant) -> None:
    _store(alice, 20)
    log_id = alice.api.get(URL, {"page_size": 1}).json()["data"][0]["id"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'workflow_logs'::regclass")
        assert cursor.fetchone()[0] >= 4
        cursor.execute("SET plan_cache_mode = force_generic_plan")
        try:
            cursor.execute("PREPARE detail(bigint, uuid, timestamptz, timestamptz) AS SELECT id FROM workflow_logs "
                           "WHERE client_id = $1 AND id = $2 AND executed_at >= $3 AND executed_at < $4 LIMIT 1")
            cursor.execute("SELECT executed_at FROM workflow_logs WHERE id = %s", [log_id])
            (executed_at,) = cursor.fetchone()
            cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE detail(%s, %s, %s, %s)",
                           [alice.client.pk, log_id, executed_at, executed_at + dt.timedelta(milliseconds=1)])
            plan = "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("DEALLOCATE ALL")
            cursor.execute("RESET plan_cache_mode")
    assert "Subplans Removed" in plan, plan  # pruned at run time, not planned away
    assert plan.count(" Scan ") == 1 and "never executed" not in plan, plan
