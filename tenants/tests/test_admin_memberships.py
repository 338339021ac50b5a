"""Operators manage dashboard memberships in the admin."""
from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client as HttpClient

from tenants.models import Membership
from tenants.tests.dashboard_helpers import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator() -> HttpClient:
    user = get_user_model().objects.create_superuser("root", "root@example.com", "an operator password 1")
    http = HttpClient()
    http.force_login(user)
    return http


def test_memberships_are_listed_and_searchable(operator: HttpClient, alice: Any, bob: Any) -> None:
    make_user("carol", "alice", role="admin")
    make_user("dave", "bob")
    page = operator.get("/admin/tenants/membership/")
    assert page.status_code == 200
    assert b"carol" in page.content and b"dave" in page.content
    found = operator.get("/admin/tenants/membership/", {"q": "carol"})
    assert b"carol" in found.content and b"dave" not in found.content


def test_operator_adds_a_membership(operator: HttpClient, alice: Any) -> None:
    user = get_user_model().objects.create_user("erin", password="a long enough passphrase 7")
    response = operator.post("/admin/tenants/membership/add/", {"user": user.pk, "client": alice.client.pk, "role": "viewer"})
    assert response.status_code == 302
    assert Membership.objects.get(user=user).client == alice.client


def test_the_same_membership_twice_is_refused(operator: HttpClient, alice: Any) -> None:
    user = make_user("carol", "alice")
    response = operator.post("/admin/tenants/membership/add/", {"user": user.pk, "client": alice.client.pk, "role": "admin"})
    assert response.status_code == 200  # the form again, with the error
    assert Membership.objects.filter(user=user).count() == 1
