"""/api/v1/saved-views: a dashboard user's named views, private or shared within the client."""
from __future__ import annotations

from typing import Any

import pytest

from savedviews.models import SavedView
from tenants.tests.dashboard_helpers import Browser, make_user, signed_in

pytestmark = pytest.mark.django_db
URL = "/api/v1/saved-views"


def patch_json(browser: Browser, path: str, data: Any, **extra: Any) -> Any:
    return browser.patch(path, data, format="json", HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value, **extra)


def delete(browser: Browser, path: str, **extra: Any) -> Any:
    return browser.delete(path, HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value, **extra)


@pytest.fixture
def people(alice: Any, bob: Any) -> dict[str, Browser]:
    make_user("ana", "alice")
    make_user("ann", "alice", role="admin")
    make_user("max", "alice", "bob")
    return {name: signed_in(name) for name in ("ana", "ann", "max")}


def save(browser: Browser, client: str | None = None, **fields: Any) -> dict[str, Any]:
    headers = {"HTTP_X_DASHBOARD_CLIENT": client} if client else {}
    response = browser.post_json(URL, {"page": "logs", "query": "status=FAILED", **fields}, **headers)
    assert response.status_code == 201, response.content
    return response.json()


def names(browser: Browser, **extra: Any) -> list[tuple[str, str, bool]]:
    response = browser.get(URL, **extra)
    assert response.status_code == 200, response.content
    return [(v["name"], v["owner"], v["mine"]) for v in response.json()]


def test_private_and_shared_views_of_a_client(people: dict[str, Browser]) -> None:
    ana, ann, max_ = people["ana"], people["ann"], people["max"]
    mine = save(ana, name="  Failed today ", query="?status=FAILED,ERROR&start_date=2025-03-12")
    assert (mine["name"], mine["query"], mine["shared"], mine["mine"], mine["owner"]) == (
        "Failed today", "status=FAILED,ERROR&start_date=2025-03-12", False, True, "ana")
    save(ana, name="Team: slow runs", page="logs", query="ordering=-execution_time_seconds", shared=True)
    save(ann, name="Admin's own", page="issues", query="range=30d")
    assert names(ana) == [("Failed today", "ana", True), ("Team: slow runs", "ana", True)]
    assert names(ann) == [("Admin's own", "ann", True), ("Team: slow runs", "ana", False)]
    assert names(max_) == [("Team: slow runs", "ana", False)]
    # the same person in another client sees that client's views only
    assert names(max_, HTTP_X_DASHBOARD_CLIENT="bob") == []
    save(max_, "bob", name="Bob's")
    assert names(max_, HTTP_X_DASHBOARD_CLIENT="bob") == [("Bob's", "max", True)]
    assert names(ana) == [("Failed today", "ana", True), ("Team: slow runs", "ana", True)]


def test_only_the_owner_changes_a_view_and_private_ones_are_invisible(people: dict[str, Browser]) -> None:
    ana, ann, max_ = people["ana"], people["ann"], people["max"]
    private = save(ana, name="Mine")
    shared = save(ana, name="Ours", shared=True)
    assert patch_json(max_, f"{URL}/{private['id']}", {"name": "x"}).status_code == 404
    assert delete(max_, f"{URL}/{private['id']}").status_code == 404
    refused = patch_json(max_, f"{URL}/{shared['id']}", {"name": "x"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
    assert delete(max_, f"{URL}/{shared['id']}").status_code == 403
    renamed = patch_json(ana, f"{URL}/{private['id']}", {"name": "Renamed", "shared": True})
    assert renamed.status_code == 200 and (renamed.json()["name"], renamed.json()["shared"]) == ("Renamed", True)
    assert renamed.json()["query"] == "status=FAILED"  # untouched by a partial update
    # an admin of the client may remove a shared view, not change it
    assert patch_json(ann, f"{URL}/{shared['id']}", {"query": ""}).status_code == 403
    assert delete(ann, f"{URL}/{shared['id']}").status_code == 204
    assert delete(ana, f"{URL}/{private['id']}").status_code == 204
    assert not SavedView.objects.exists()
    assert delete(ana, f"{URL}/not-an-id").status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"name": "", "page": "logs"}, "name"),
    ({"name": "x" * 101, "page": "logs"}, "name"),
    ({"name": "x", "page": "admin"}, "page"),
    ({"name": "x", "page": "logs", "query": "a=b#frag"}, "query"),
    ({"name": "x", "page": "logs", "query": "q=" + "x" * 2000}, "query"),
    ({"page": "logs"}, "name"),
])
def test_bad_input_is_a_400_naming_the_field(people: dict[str, Browser], body: dict[str, Any], field: str) -> None:
    response = people["ana"].post_json(URL, body)
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["details"]


def test_names_are_unique_per_person_and_client(people: dict[str, Browser]) -> None:
    save(people["ana"], name="Twice")
    again = people["ana"].post_json(URL, {"name": "Twice", "page": "overview"})
    assert again.status_code == 400 and "name" in again.json()["error"]["details"]
    save(people["max"], name="Twice")  # another person may use it


def test_needs_a_dashboard_session_and_csrf(people: dict[str, Browser], alice: Any) -> None:
    assert Browser().get(URL).status_code == 401
    keyed = Browser()
    keyed.credentials(HTTP_X_API_KEY=alice.key)
    refused = keyed.get(URL)
    assert refused.status_code == 403 and "dashboard" in refused.json()["error"]["message"]
    no_token = people["ana"].post(URL, {"name": "x", "page": "logs"}, format="json")
    assert no_token.status_code == 403
