"""A real browser on the log detail page: headless Chromium (Debian's package) via Playwright.

Skipped when /usr/bin/chromium or the playwright package is missing; `.ci/run` installs both.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from conftest import make_tenant
from logs.tests.admin_helpers import ingest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium at /usr/bin/chromium"),
    pytest.mark.django_db(transaction=True),
]


def _release_live_server_connections(live_server: Any) -> None:
    """Let the test database be dropped at the end of the session.

    pytest-django's live server lives for the whole session, and its request threads (one per
    browser connection) may still hold a database connection, or have returned it to psycopg's
    pool, when the test database is dropped. This is the only test using it: stop it (stopping
    twice is harmless), close the pool, and wait for the server's sessions to end.
    """
    import time

    from django.db import connection, connections

    live_server.stop()
    for _ in range(100):
        for each in connections.all():
            each.close_pool()
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND pid <> pg_backend_pid()")
            if cursor.fetchone()[0] == 0:
                break
        time.sleep(0.05)
    connection.close()


@pytest.fixture
def browser_page(live_server: Any, monkeypatch: Any) -> Any:
    # Playwright's sync API runs an event loop in this thread; Django's ORM (used by the test's own
    # setup, not by the live server thread) would otherwise refuse to run next to it.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            yield page
        finally:
            browser.close()
            _release_live_server_connections(live_server)



def test_log_detail_in_a_real_browser(live_server: Any, django_user_model: Any, browser_page: Any) -> None:
    django_user_model.objects.create_superuser("operator", "op@example.com", "pw-operator-browser-1")
    alice = make_tenant("alice")
    trace = {"react_iterations": [
        {"iteration": 1, "thought": "Find the order " + HOSTILE, "action": "lookup_order",
         "action_input": {"order": "42"}, "observation": "Order 42 shipped"},
        {"iteration": 2, "thought": "Tell the customer", "action": "reply", "action_input": "template:shipped",
         "observation": "sent"},
    ]}
    log_id = ingest(alice, ticket_id="T-BROWSER", status="FAILED", workflow_error=HOSTILE,
                    payload={"trace": trace, "final_response": HOSTILE}, metadata={"note": HOSTILE})
    page = browser_page

    # Log in through the real form, then open the log from the list.
    page.goto(f"{live_server.url}/admin/login/?next=/admin/logs/workflowlog/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", "pw-operator-browser-1")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/logs/workflowlog/")
    assert page.locator("td.field-status_badge .cl-status").inner_text() == "FAILED"
    page.click("text=T-BROWSER")
    page.wait_for_url(f"**/admin/logs/workflowlog/{log_id}/change/")

    # Hostile strings are text, never markup: no script ran, no <img> was created.
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("#content img[src=x]").count() == 0
    assert HOSTILE in page.locator(".field-workflow_error_html .readonly").inner_text()

    # The ReAct iterations, step by step, in order.
    steps = page.locator("ol.cl-steps > li.cl-step")
    assert steps.count() == 2
    first = steps.nth(0)
    assert first.locator("summary").inner_text() == "Iteration 1"
    labels = [t.strip().lower() for t in first.locator("dt").all_inner_texts()]
    assert labels == ["thought", "action", "input", "observation"]
    assert first.locator("dd").nth(0).inner_text() == "Find the order " + HOSTILE
    assert '"order": "42"' in first.locator("dd").nth(2).inner_text()

    # JSON blocks collapse and expand; the raw trace starts collapsed.
    trace_block = page.locator(".field-trace_json details.cl-json")
    assert not trace_block.locator("pre").is_visible()
    trace_block.locator("summary").click()
    assert trace_block.locator("pre").is_visible()
    assert '"react_iterations": [' in trace_block.locator("pre").inner_text()
    payload_pre = page.locator(".field-payload_json details.cl-json pre")
    assert payload_pre.is_visible() and "<script>window.__pwned = 1</script>" in payload_pre.inner_text()
    metadata_block = page.locator(".field-metadata_json details.cl-json")
    metadata_block.locator("summary").click()
    assert not metadata_block.locator("pre").is_visible()

    # The stylesheet loaded (badges are coloured, not plain text).
    colour = page.locator(".field-status_badge .cl-status").evaluate("e => getComputedStyle(e).color")
    assert colour == "rgb(255, 255, 255)"
    shot = os.environ.get("ADMIN_BROWSER_SCREENSHOT")
    if shot:
        page.screenshot(path=shot, full_page=True)
