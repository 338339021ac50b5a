"""Helpers for dashboard-session tests: users with memberships, and a browser-like API client."""
from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient

from tenants.memberships import dashboard_user_add

PASSWORD = "correct horse battery staple"


def make_user(username: str, *client_slugs: str, role: str = "viewer") -> Any:
    user = None
    for slug in client_slugs:
        user = dashboard_user_add(client_slug=slug, username=username, role=role, password=PASSWORD,
                                  email=f"{username}@example.com").membership.user
    return user


class Browser(APIClient):
    """An APIClient that behaves like the SPA: CSRF enforced, token fetched and sent on POSTs."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(enforce_csrf_checks=True, **kwargs)

    def csrf(self) -> str:
        response = self.get("/api/v1/session/csrf")
        assert response.status_code == 200
        token = response.cookies["csrftoken"].value
        assert response.json()["csrf_token"]
        return token

    def post_json(self, path: str, data: Any = None, **extra: Any) -> Any:
        token = self.cookies["csrftoken"].value if "csrftoken" in self.cookies else self.csrf()
        return self.post(path, data, format="json", HTTP_X_CSRFTOKEN=token, **extra)

    def sign_in(self, username: str, password: str = PASSWORD, **extra: Any) -> Any:
        return self.post_json("/api/v1/session/login", {"username": username, "password": password}, **extra)


def signed_in(username: str) -> Browser:
    browser = Browser()
    response = browser.sign_in(username)
    assert response.status_code == 200, response.content
    return browser
