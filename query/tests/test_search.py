"""Full-text search (`q`): every query form, the field that matched and its snippet, many
languages, relevance, the 422 of a too broad search, tenant isolation, the indexer's queue,
deletions and the backfill command."""
from __future__ import annotations

import datetime as dt
import io
import threading
import time
from typing import Any

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from conftest import Tenant, database_url
from logs.models import WorkflowLog
from central_logger.background import SKIPPED
from logs import search_indexer
from logs.search_indexer import index_all
from logs.tenant_sql import search as search_sql
from logs.tests.factories import ingest, log_body

pytestmark = pytest.mark.django_db
URL = "/api/v1/logs"
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _at(hours: float) -> str:
    return (NOW - dt.timedelta(hours=hours)).isoformat()


def _trace(*thoughts: str) -> dict[str, Any]:
    return {"react_iterations": [
        {"iteration": i + 1, "thought": t, "action": "search_kb", "action_input": {"query": f"step {i + 1}"},
         "observation": ""} for i, t in enumerate(thoughts)]}


def _log(ticket: str, hours: float, *thoughts: str, **fields: Any) -> dict[str, Any]:
    payload = {"trace": _trace(*thoughts), "final_response": fields.pop("final_response", "")}
    if "private_note" in fields:
        payload["private_note"] = fields.pop("private_note")
    return log_body(ticket_id=ticket, executed_at=_at(hours), payload=payload, **fields)


@pytest.fixture
def corpus(alice: Tenant, bob: Tenant) -> dict[str, str]:
    ids = ingest(
        alice,
        _log("T-9999", 1, "The customer asks about the invoice was refunded twice", "Checking the ledger now",
             category="billing", final_response="We refunded the duplicate charge."),
        _log("T-1234", 2, "La facturación del cliente está duplicada", "Die Straße ist gesperrt, Lieferung verspätet",
             category="facturación", status="FAILED", workflow_error="Connection refused by CRM at 10.0.0.7",
             workflow_error_type="ERR_CONNECTION_REFUSED", workflow_error_node="crm_lookup"),
        _log("T-5555", 3, "データベース接続がタイムアウトしました", "العميل يطلب استرداد المبلغ",
             category="技術", final_response="ご不便をおかけしました。", status="ERROR",
             workflow_error="Timeout", workflow_error_type="TimeoutError"),
        _log("T-7777", 4, "Was the invoice refunded? The customer says no", "plain step",
             private_note="VIP customer, escalate quietly", metadata={"region": "Zürich", "tags": ["zebrafish"]}),
        _log("55-1000", 30 * 24, "an old run about a parcel", "nothing else", category="shipping"),
    )
    (bob_id,) = ingest(bob, _log("T-9999", 1, "zebrafish zebrafish zebrafish invoice", "bob only: kumquat",
                                  category="billing"))
    return {"en": ids[0], "es_de": ids[1], "ja_ar": ids[2], "note": ids[3], "old": ids[4], "bob": bob_id}


def _search(tenant: Tenant, q: str, **params: Any) -> dict[str, Any]:
    response = tenant.api.get(URL, {"q": q, **params})
    assert response.status_code == 200, response.content
    return response.json()


def _ids(body: dict[str, Any]) -> list[str]:
    return [row["id"] for row in body["data"]]


def _marked(row: dict[str, Any]) -> list[str]:
    snippet = row["match"]["snippet"]
    return [snippet[a:b] for a, b in row["match"]["highlights"]]


def test_a_word_in_a_thought_is_found_with_its_step_and_snippet(alice: Tenant, corpus: dict[str, str]) -> None:
    body = _search(alice, "ledger")
    assert _ids(body) == [corpus["en"]]
    match = body["data"][0]["match"]
    assert match["field"] == "payload.trace.react_iterations[1].thought"
    assert match["snippet"] == "Checking the ledger now"
    assert _marked(body["data"][0]) == ["ledger"]


@pytest.mark.parametrize(("q", "key", "field", "marked"), [
    ("REFUNDED", "en", "payload.final_response", "refunded"),  # case-insensitive; the final response
    ("facturacion", "es_de", "category", "facturación"),  # accents folded
    ("strasse", "es_de", "payload.trace.react_iterations[1].thought", "Straße"),  # ß = ss
    ("接続", "ja_ar", "payload.trace.react_iterations[0].thought", "接続"),  # Japanese, no spaces
    ("データベース", "ja_ar", "payload.trace.react_iterations[0].thought", "データベース"),
    ("استرداد", "ja_ar", "payload.trace.react_iterations[1].thought", "استرداد"),  # Arabic
    ("quietly", "note", "payload.private_note", "quietly"),
    ("zurich", "note", "metadata.region", "Zürich"),  # string values of metadata
    ("crm_lookup", "es_de", "workflow_error_node", "crm_lookup"),
    ("ERR_CONN", "es_de", "workflow_error_type", "ERR_CONNECTION_REFUSED"),  # a code's prefix
    ("T-99", "en", "ticket_id", "T-9999"),  # a ticket id's prefix
    ("1234", "es_de", "ticket_id", "1234"),  # a number: the ticket T-1234
])
def test_each_field_language_and_form(alice: Tenant, corpus: dict[str, str], q: str, key: str, field: str,
                                      marked: str) -> None:
    body = _search(alice, q)
    assert corpus[key] in _ids(body)
    row = next(r for r in body["data"] if r["id"] == corpus[key])
    assert row["match"]["field"] == field
    assert marked in _marked(row)


def test_phrases_exclusion_and_prefix(alice: Tenant, corpus: dict[str, str]) -> None:
    assert set(_ids(_search(alice, "invoice refunded"))) == {corpus["en"], corpus["note"]}  # any order
    assert _ids(_search(alice, '"invoice was refunded"')) == [corpus["en"]]  # a phrase
    assert _ids(_search(alice, "invoice -ledger")) == [corpus["note"]]  # excluded word
    assert _ids(_search(alice, 'customer -"was refunded"')) == [corpus["note"]]  # excluded phrase
    assert _ids(_search(alice, "refunde")) == []  # a word is whole...
    assert set(_ids(_search(alice, "refunde*"))) == {corpus["en"], corpus["note"]}  # ...unless starred
    assert _ids(_search(alice, "invoice nosuchword")) == []
    marked = _marked(_search(alice, '"invoice was refunded"')["data"][0])
    assert marked == ["invoice was refunded"]


def test_newest_first_filters_dates_and_relevance(alice: Tenant, corpus: dict[str, str]) -> None:
    assert _ids(_search(alice, "customer")) == [corpus["en"], corpus["note"]]
    assert _ids(_search(alice, "customer", start_date=_at(2.5)[:19])) == [corpus["en"]]
    assert _ids(_search(alice, "parcel", end_date=_at(24 * 29)[:19])) == [corpus["old"]]  # an old window
    assert _ids(_search(alice, "refunded OR timeout".split()[2], status="ERROR")) == [corpus["ja_ar"]]
    # Relevance: a word in the ticket/error (weight A) outranks the same word in a thought (C).
    ranked = _ids(_search(alice, "timeout", ordering="relevance"))
    assert ranked[0] == corpus["ja_ar"]


def test_pages_and_cursors_of_a_search(alice: Tenant, corpus: dict[str, str]) -> None:
    body = _search(alice, "step", page_size=2)  # every log's action input
    assert len(body["data"]) == 2 and body["pagination"]["total_is_exact"] is False
    walked, cursor = [], ""
    while True:
        body = _search(alice, "step", page_size=2, cursor=cursor)
        walked += _ids(body)
        cursor = body["pagination"]["next_cursor"]
        if not cursor:
            break
    assert walked == [corpus[k] for k in ("en", "es_de", "ja_ar", "note", "old")]
    last = _search(alice, "step", page_size=2, page=3)
    assert _ids(last) == [corpus["old"]] and last["pagination"]["total"] == 5
    assert last["pagination"]["total_is_exact"] is True


@pytest.mark.parametrize(("params", "field"), [
    ({"q": "-ledger"}, "q"), ({"q": "***"}, "q"), ({"q": " ".join(f"w{i}x" for i in range(17))}, "q"),
    ({"ordering": "relevance"}, "ordering"), ({"q": "step", "ordering": "relevance", "cursor": ""}, "ordering"),
])
def test_bad_searches_are_400_naming_the_field(alice: Tenant, corpus: dict[str, str], params: dict[str, str],
                                               field: str) -> None:
    response = alice.api.get(URL, params)
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]


def test_tenant_isolation_with_planted_words(alice: Tenant, bob: Tenant, corpus: dict[str, str]) -> None:
    # bob holds the word three times in a thought, alice once in metadata: neither sees the other.
    body = _search(alice, "zebrafish", ordering="relevance")
    assert _ids(body) == [corpus["note"]] and body["pagination"]["total"] == 1
    assert _ids(_search(alice, "kumquat")) == [] and _search(alice, "kumquat")["pagination"]["total"] == 0
    assert _ids(_search(bob, "zebrafish")) == [corpus["bob"]]
    assert _ids(_search(bob, "T-9999")) == [corpus["bob"]]
    export = alice.api.get(f"{URL}/export", {"q": "zebrafish", "format": "ndjson"})
    text = b"".join(export.streaming_content).decode()
    assert corpus["note"] in text and corpus["bob"] not in text and "kumquat" not in text


def test_export_with_q(alice: Tenant, corpus: dict[str, str]) -> None:
    response = alice.api.get(f"{URL}/export", {"q": "invoice", "format": "csv"})
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode().strip().splitlines()
    assert len(lines) == 3 and corpus["en"] in lines[1] and corpus["note"] in lines[2]


def test_the_queue_is_drained_and_deleted_logs_leave_no_doc(alice: Tenant, corpus: dict[str, str]) -> None:
    assert search_sql.dangerously_count_pending() == 0  # ingest() indexed them
    response = alice.api.post(f"{URL}/batch", {"logs": [_log("T-1", 0.5, "a fresh gooseberry")]}, format="json")
    assert search_sql.dangerously_count_pending() == 1
    assert _ids(_search(alice, "gooseberry")) == []  # not indexed yet
    assert index_all() == 1 and search_sql.dangerously_count_pending() == 0
    assert _ids(_search(alice, "gooseberry")) == response.json()["ids"]
    WorkflowLog.objects.filter(pk=corpus["en"]).delete()  # as retention's batched deletes do
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM logs_search_docs WHERE log_id = %s", [corpus["en"]])
        assert cursor.fetchone()[0] == 0
    assert _ids(_search(alice, "ledger")) == []


def test_backfill_command_indexes_existing_logs_resumably(alice: Tenant, corpus: dict[str, str]) -> None:
    with connection.cursor() as cursor:  # as if the logs were stored before search existed
        cursor.execute("DELETE FROM logs_search_docs")
    assert _ids(_search(alice, "ledger")) == []
    search_sql.dangerously_restart_backfill()
    out = io.StringIO()
    call_command("index_search", "--backfill", "--batch", "2", stdout=out)
    assert "backfill: done, 6 logs indexed" in out.getvalue()
    assert _ids(_search(alice, "ledger")) == [corpus["en"]]
    out = io.StringIO()
    call_command("index_search", "--backfill", stdout=out)
    assert "already done" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_a_search_over_its_time_budget_is_422_not_503(alice: Tenant, corpus: dict[str, str], settings: Any) -> None:
    """A real cancellation: another session holds the docs table, the search waits past its
    budget and PostgreSQL cancels it."""
    settings.SEARCH_TIME_BUDGET_MS = 300
    other = psycopg.connect(database_url(connection.settings_dict))
    locked = threading.Event()
    try:
        other.execute("BEGIN")
        other.execute("LOCK TABLE logs_search_docs IN ACCESS EXCLUSIVE MODE")
        locked.set()
        response = alice.api.get(URL, {"q": "invoice"})
    finally:
        other.rollback()
        other.close()
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "search_too_broad"
    assert "narrow the date range" in error["message"]
    assert _ids(_search(alice, "ledger")) == [corpus["en"]]  # the connection is fine afterwards


def test_a_long_id_is_found_by_its_prefix(alice: Tenant) -> None:
    ticket = "T-" + "0123456789abcdef" * 15  # 242 characters: words are indexed by their first 64
    (log_id,) = ingest(alice, _log(ticket, 1, "nothing special"))
    assert _ids(_search(alice, ticket[:12])) == [log_id]
    assert _ids(_search(alice, ticket[:120])) == [log_id]
    assert _ids(_search(alice, "T-0123456789abcdef0123456789abcdeX")) == []


@pytest.mark.django_db(transaction=True)
def test_the_indexer_yields_to_a_truncate_of_the_log_table(alice: Tenant) -> None:
    """The indexer locks the queue, then the logs; a TRUNCATE of the log table (its trigger
    empties the docs and the queue: Django's test flush, an operator) locks in the other order.
    The indexer gives its round up after a short lock wait, so the TRUNCATE is never the one
    PostgreSQL's deadlock check cancels."""
    alice.api.post("/api/v1/logs", log_body(ticket_id="T-TRUNC"), format="json")
    other = psycopg.connect(**connection.standalone_params(), autocommit=False)
    try:
        with other.cursor() as cursor:  # the truncate's first lock, held
            cursor.execute("LOCK TABLE workflow_logs IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        assert search_indexer._round() is SKIPPED
        assert time.monotonic() - started < 1.0  # before deadlock_timeout
        assert search_sql.dangerously_count_pending() == 1  # its round rolled back: still queued
    finally:
        other.rollback()
        other.close()
    assert search_indexer._round() is None  # the lock gone: indexed
    assert search_sql.dangerously_count_pending() == 0
    assert [row["ticket_id"] for row in _search(alice, "T-TRUNC")["data"]] == ["T-TRUNC"]


@pytest.mark.django_db(transaction=True)
def test_the_index_command_waits_out_a_short_lock(alice: Tenant) -> None:
    """Outside the background loop (`index_search`, tests) a batch that yielded is tried again."""
    posted = alice.api.post("/api/v1/logs", log_body(ticket_id="T-WAIT"), format="json")
    assert posted.status_code == 201, posted.content
    other = psycopg.connect(**connection.standalone_params(), autocommit=False)
    with other.cursor() as cursor:
        cursor.execute("LOCK TABLE workflow_logs IN ACCESS EXCLUSIVE MODE")
    threading.Timer(0.5, other.close).start()  # released after the first two attempts
    assert index_all() == 1
    assert [row["ticket_id"] for row in _search(alice, "T-WAIT")["data"]] == ["T-WAIT"]
