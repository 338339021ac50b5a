"""The plans of a newest-first search (query/search.py) give the same page: walking the newest
docs, collecting them window by window, or in one statement over the whole range; with the
status filter tested on the docs (migration 0021) and the log's own status staying the final
word (a doc stored before it carried a status, or whose status is stale, never shows a wrong
row); and the plan is chosen from the planner's word statistics."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection

from conftest import CITUS_TEST_URL, Tenant
from logs.tenant_sql import search as search_sql
from logs.tests.factories import ingest, log_body
from query import search

pytestmark = pytest.mark.django_db
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
STATUSES = ("SUCCESS", "FAILED", "ERROR", "PARTIAL")


@pytest.fixture
def logs(alice: Tenant) -> list[str]:
    """40 logs over 60 days, newest first; every one says "common", every 7th "scarce",
    statuses in turn, categories alternating."""
    bodies = []
    for i in range(40):
        words = "common ground " + ("scarce Straße " if i % 7 == 0 else "") + f"step {i}"
        bodies.append(log_body(ticket_id=f"P-{i}", executed_at=(NOW - dt.timedelta(hours=1 + 36 * i)).isoformat(),
                               status=STATUSES[i % 4], category=("billing", "shipping")[i % 2],
                               payload={"trace": {"react_iterations": [{"thought": words}]}, "final_response": ""}))
    return ingest(alice, *bodies)


def _page(alice: Tenant, q: str, monkeypatch: Any, plan: str, **filters: Any) -> list[str]:
    monkeypatch.setattr(search, "WALK_SHARE", 0.0 if plan == "walk" else 2.0)
    monkeypatch.setattr(search, "ONE_STATEMENT_SHARE", 2.0 if plan == "one statement" else 0.0)
    response = alice.api.get("/api/v1/logs", {"q": q, "page_size": 5, **filters})
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["data"]]


@pytest.mark.parametrize("q, filters, expected", [
    ("common", {}, [0, 1, 2, 3, 4]),
    ("common", {"status": "FAILED,ERROR"}, [1, 2, 5, 6, 9]),
    ("scarce", {"status": "FAILED,ERROR"}, [14, 21]),
    ('"common ground"', {"category": "shipping", "status": "FAILED"}, [1, 5, 9, 13, 17]),
    ("strasse", {"start_date": (NOW - dt.timedelta(days=30)).date().isoformat()}, [0, 7, 14]),
    ('"ground common"', {}, []),
])
@pytest.mark.parametrize("plan", ["walk", "windows", "one statement"])
def test_every_plan_gives_the_same_page(alice: Tenant, logs: list[str], monkeypatch: Any, plan: str, q: str,
                                        filters: dict[str, Any], expected: list[int]) -> None:
    assert _page(alice, q, monkeypatch, plan, **filters) == [logs[i] for i in expected]


def test_the_log_status_decides_when_the_doc_has_none_or_a_stale_one(alice: Tenant, logs: list[str],
                                                                     monkeypatch: Any) -> None:
    with connection.cursor() as cursor:
        # log 1 (FAILED): a doc from before migration 0021; log 2 (ERROR): its doc still says
        # FAILED, the log has since become SUCCESS (not re-indexed yet).
        cursor.execute("UPDATE logs_search_docs SET status = NULL WHERE log_id = %s", [logs[1]])
        cursor.execute("UPDATE workflow_logs SET status = 'SUCCESS' WHERE id = %s", [logs[2]])
        cursor.execute("UPDATE logs_search_docs SET status = 'FAILED' WHERE log_id = %s", [logs[2]])
    for plan in ("walk", "windows", "one statement"):
        assert _page(alice, "common", monkeypatch, plan, status="FAILED,ERROR") == [logs[i] for i in (1, 5, 6, 9, 10)]


@pytest.mark.skipif(bool(CITUS_TEST_URL), reason="a Citus coordinator keeps no word statistics (its plans are chosen "
                                                  "by timing alone, as the tests above check)")
def test_the_plan_follows_the_word_statistics(alice: Tenant, logs: list[str], monkeypatch: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE logs_search_docs")
    monkeypatch.setitem(search_sql._FREQUENCIES, "at", -1e9)
    monkeypatch.setitem(search_sql._FREQUENCIES, "words", {})
    frequencies = search_sql.dangerously_word_frequencies()
    assert frequencies["common"] == pytest.approx(1.0) and frequencies["scarce"] == pytest.approx(6 / 40)
    assert search._share(search.parse_q('common "ground common"')) == pytest.approx(1.0)
    assert search._share(search.parse_q("common scarce")) == pytest.approx(6 / 40)
    assert search._share(search.parse_q("common P-1")) == 0.0  # a code: a prefix, unknown, treated as rare
    assert search._share(search.parse_q("zzqxv")) == 0.0
    calls: list[bool] = []
    real = search_sql.newest_docs
    monkeypatch.setattr(search_sql, "newest_docs", lambda *a, **kw: calls.append(kw["walk"]) or real(*a, **kw))
    assert alice.api.get("/api/v1/logs", {"q": "common"}).status_code == 200
    assert calls and all(calls)  # a word in every doc: walked from the start
    calls.clear()
    assert alice.api.get("/api/v1/logs", {"q": "zzqxv"}).status_code == 200
    assert calls == [False]  # absent from the statistics: one statement over the whole range


def test_a_phrase_is_collected_by_its_words_then_tested_for_order() -> None:
    query = search.parse_q('"Invoice was refunded" -ledger T-99 接続エラー')
    assert query.candidates() == ("('invoice' & 'was' & 'refunded') & ('t_99':*) & ('接続' & '続エ' & 'エラ' & 'ラー')")
    assert search.parse_q("invoice -ledger T-99").candidates() is None  # no phrase: the query itself is exact
