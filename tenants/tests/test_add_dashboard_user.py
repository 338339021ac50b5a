"""manage.py add_dashboard_user."""
from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from tenants.models import Membership

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("add_dashboard_user", *args, stdout=out)
    return out.getvalue()


def test_creates_user_with_generated_password_printed_once(alice: Any) -> None:
    output = run("alice", "carol", "--email", "carol@example.com", "--no-input")
    lines = output.strip().splitlines()
    assert lines[0] == "Created user carol now has viewer access to client alice."
    assert lines[1] == "Password (shown only once):"
    password = lines[2]
    assert len(password) >= 20
    user = get_user_model().objects.get(username="carol")
    assert user.email == "carol@example.com"
    assert user.check_password(password) and password not in user.password
    assert Membership.objects.get(user=user).client == alice.client


def test_existing_user_gets_another_membership_and_keeps_password(alice: Any, bob: Any) -> None:
    get_user_model().objects.create_user("carol", password="an old good password 1")
    output = run("bob", "carol", "--role", "admin", "--no-input")
    assert output.strip() == "User carol now has admin access to client bob."
    user = get_user_model().objects.get(username="carol")
    assert user.check_password("an old good password 1")
    assert list(user.memberships.values_list("client__slug", "role")) == [("bob", "admin")]


def test_running_again_updates_the_role(alice: Any) -> None:
    run("alice", "carol", "--no-input")
    output = run("alice", "carol", "--role", "admin", "--no-input")
    assert output.strip() == "User carol has admin access to client alice."
    assert Membership.objects.get().role == "admin"


def test_unknown_client_is_an_error(db: Any) -> None:
    with pytest.raises(CommandError, match="No client with slug 'nope'"):
        run("nope", "carol", "--no-input")
    assert not get_user_model().objects.exists()


def test_unknown_role_is_an_error(alice: Any) -> None:
    with pytest.raises(CommandError):
        run("alice", "carol", "--role", "owner", "--no-input")
    assert not Membership.objects.exists()


def test_interactive_password_is_validated(alice: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    answers = iter(["123", "123"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    with pytest.raises(CommandError, match="Password rejected"):
        run("alice", "carol")
    assert not get_user_model().objects.exists()


def test_interactive_password_is_used(alice: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "a long enough passphrase 7")
    output = run("alice", "carol")
    assert "Password" not in output
    assert get_user_model().objects.get(username="carol").check_password("a long enough passphrase 7")


def test_mismatched_passwords_are_an_error(alice: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    answers = iter(["a long enough passphrase 7", "another long passphrase 8"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    with pytest.raises(CommandError, match="do not match"):
        run("alice", "carol")


def test_without_a_terminal_asks_for_no_input(alice: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(CommandError, match="--no-input"):
        run("alice", "carol")
