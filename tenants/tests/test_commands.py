from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tenants.keys import KEY_PATTERN
from tenants.models import ApiKey, Client

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_client_creates_tenant() -> None:
    output = run("create_client", "acme", "--name", "Acme Corp")
    client = Client.objects.get(slug="acme")
    assert client.name == "Acme Corp" and client.is_active
    assert "acme" in output


def test_create_client_rejects_existing_slug() -> None:
    run("create_client", "acme")
    with pytest.raises(CommandError, match="already exists"):
        run("create_client", "acme")
    assert Client.objects.count() == 1


def test_create_client_rejects_invalid_slug() -> None:
    with pytest.raises(CommandError, match="Invalid slug"):
        run("create_client", "Not A Slug")


def test_issue_api_key_prints_key_once_and_stores_only_digest() -> None:
    run("create_client", "acme")
    output = run("issue_api_key", "acme", "--name", "prod workflow")
    key_lines = [line for line in output.splitlines() if KEY_PATTERN.match(line)]
    assert len(key_lines) == 1
    plaintext = key_lines[0]
    stored = ApiKey.objects.get()
    assert stored.scopes == ["ingest", "read"]
    assert stored.name == "prod workflow"
    assert plaintext.split("_")[1] == stored.prefix
    secret = plaintext.split("_")[2]
    assert secret not in stored.digest and stored.digest != secret


def test_issue_api_key_quiet_prints_only_the_key() -> None:
    run("create_client", "acme")
    output = run("issue_api_key", "acme", "--quiet", "--scopes", "ingest", "--expires-in-days", "30")
    assert KEY_PATTERN.match(output.strip())
    key = ApiKey.objects.get()
    assert key.scopes == ["ingest"]
    assert key.expires_at is not None


@pytest.mark.parametrize("args, message", [
    (["nobody"], "No client"),
    (["acme", "--scopes", "ingest,superuser"], "Scopes"),
    (["acme", "--scopes", ""], "Scopes"),
    (["acme", "--expires-in-days", "0"], "positive"),
])
def test_issue_api_key_errors(args: list[str], message: str) -> None:
    run("create_client", "acme")
    with pytest.raises(CommandError, match=message):
        run("issue_api_key", *args)
    assert ApiKey.objects.count() == 0


def test_list_api_keys_never_shows_secrets() -> None:
    run("create_client", "acme")
    run("create_client", "other")
    plaintext = run("issue_api_key", "acme", "--quiet", "--name", "ci").strip()
    run("issue_api_key", "other", "--quiet")
    output = run("list_api_keys")
    assert plaintext.split("_")[2] not in output
    assert "acme" in output and "other" in output and "active" in output
    only_acme = run("list_api_keys", "acme")
    assert "other" not in only_acme and plaintext.split("_")[1] in only_acme


def test_list_api_keys_unknown_client_fails() -> None:
    with pytest.raises(CommandError, match="No client"):
        run("list_api_keys", "nobody")


def test_revoke_api_key_marks_key_revoked() -> None:
    run("create_client", "acme")
    plaintext = run("issue_api_key", "acme", "--quiet").strip()
    prefix = plaintext.split("_")[1]
    output = run("revoke_api_key", prefix)
    assert "Revoked" in output
    assert ApiKey.objects.get().status == "revoked"
    assert "revoked" in run("list_api_keys")


def test_revoke_unknown_key_fails() -> None:
    with pytest.raises(CommandError, match="No API key"):
        run("revoke_api_key", "doesnotexist")
