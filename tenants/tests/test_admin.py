"""Clients and API keys in the operator console, through Django's test client."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from conftest import Tenant
from logs.tests.factories import log_body
from tenants import keys
from tenants.models import ApiKey

pytestmark = pytest.mark.django_db
CLIENTS = "/admin/tenants/client/"
KEYS = "/admin/tenants/apikey/"
ISSUE = "/admin/tenants/apikey/add/"


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    cache.clear()


def row_of(html: str, slug: str) -> str:
    start = html.index(f">{slug}</a></th>")
    return html[start:html.index("</tr>", start)]


def cell(row: str, name: str) -> str:
    match = re.search(rf'<td class="field-{name}[^"]*">(.*?)</td>', row, re.S)
    assert match, name
    return match.group(1).strip()


# --- clients ---------------------------------------------------------------------------------------

def test_client_search_by_slug_and_name(admin_client: Any, alice: Tenant, bob: Tenant) -> None:
    html = admin_client.get(CLIENTS, {"q": "ali"}).content.decode()
    assert ">alice</a>" in html and ">bob</a>" not in html
    alice.client.name = "Wonderland Ltd"
    alice.client.save()
    html = admin_client.get(CLIENTS, {"q": "wonderland"}).content.decode()
    assert ">alice</a>" in html and ">bob</a>" not in html


def test_client_page_shows_keys_without_secrets_and_edits_retention(admin_client: Any, alice: Tenant) -> None:
    api_key = alice.client.api_keys.get()
    url = f"{CLIENTS}{alice.client.pk}/change/"
    html = admin_client.get(url).content.decode()
    assert api_key.prefix in html and "ingest, read" in html and ">active<" in html
    assert api_key.digest not in html and alice.key.split("_")[2] not in html
    response = admin_client.post(url, {"slug": "alice", "name": "Alice", "is_active": "on", "retention_days": "30",
                                       "api_keys-TOTAL_FORMS": "1", "api_keys-INITIAL_FORMS": "1",
                                       "api_keys-MIN_NUM_FORMS": "0", "api_keys-MAX_NUM_FORMS": "1000",
                                       "api_keys-0-id": str(api_key.pk), "api_keys-0-client": str(alice.client.pk)})
    assert response.status_code == 302, response.content.decode()[:2000]
    alice.client.refresh_from_db()
    assert alice.client.retention_days == 30
    assert cell(row_of(admin_client.get(CLIENTS).content.decode(), "alice"), "retention") == "30 d"


def test_unticking_active_deactivates_the_client_and_stops_its_keys(admin_client: Any, alice: Tenant,
                                                                    django_capture_on_commit_callbacks: Any) -> None:
    from tenants import keysnapshot

    api_key = alice.client.api_keys.get()
    assert alice.api.post("/api/v1/logs", log_body(), format="json").status_code == 201  # remembered
    form = {"slug": "alice", "name": "Alice", "retention_days": "",
            "api_keys-TOTAL_FORMS": "1", "api_keys-INITIAL_FORMS": "1", "api_keys-MIN_NUM_FORMS": "0",
            "api_keys-MAX_NUM_FORMS": "1000", "api_keys-0-id": str(api_key.pk),
            "api_keys-0-client": str(alice.client.pk)}
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"{CLIENTS}{alice.client.pk}/change/", form)  # is_active unticked
    assert response.status_code == 302
    alice.client.refresh_from_db()
    assert alice.client.is_active is False and alice.client.deactivated_at is not None
    assert keysnapshot.lookup(api_key.prefix).refused  # type: ignore[union-attr]
    assert alice.api.post("/api/v1/logs", log_body(), format="json").status_code == 401
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(f"{CLIENTS}{alice.client.pk}/change/", {**form, "is_active": "on"})
    alice.client.refresh_from_db()
    assert alice.client.is_active is True and alice.client.deactivated_at is None
    assert not keysnapshot.lookup(api_key.prefix).refused  # type: ignore[union-attr]


def test_clients_cannot_be_deleted_from_the_admin(admin_client: Any, alice: Tenant) -> None:
    assert admin_client.post(f"{CLIENTS}{alice.client.pk}/delete/", {"post": "yes"}).status_code == 403
    assert alice.client.__class__.objects.filter(pk=alice.client.pk).exists()


# --- issuing keys --------------------------------------------------------------------------------------

def issue_form(admin_client: Any) -> str:
    html = admin_client.get(ISSUE).content.decode()
    token = re.search(r'name="issue_token" value="([^"]+)"', html)
    assert token
    return token.group(1)


def test_issuing_a_key_shows_it_once_and_stores_only_its_hash(admin_client: Any, alice: Tenant) -> None:
    token = issue_form(admin_client)
    data = {"client": alice.client.pk, "name": "from admin", "scopes": ["read"], "expires_in_days": "30",
            "issue_token": token}
    response = admin_client.post(ISSUE, data)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    plaintext = re.search(r'<code class="cl-key" id="issued-key">(clk_[a-z0-9]{10}_[A-Za-z0-9]{32})</code>', html)
    assert plaintext, html
    key = plaintext.group(1)
    assert 'id="copy-key"' in html and "tenants/copy_key.js" in html
    parsed = keys.parse_key(key)
    assert parsed is not None
    stored = ApiKey.objects.get(prefix=parsed.prefix)
    assert (stored.client, stored.name, stored.scopes) == (alice.client, "from admin", ["read"])
    assert stored.digest == keys.digest_secret(parsed.secret) and parsed.secret not in stored.digest
    assert 29 <= (stored.expires_at - timezone.now()).days <= 30
    # The key works against the API (read scope: ingest is refused with 403, not 401).
    api = alice.api.__class__()
    api.credentials(HTTP_X_API_KEY=key)
    assert api.post("/api/v1/logs", log_body(), format="json").status_code == 403

    # Reloading the result page re-POSTs the same form: nothing is issued, nothing shown.
    again = admin_client.post(ISSUE, data)
    assert again.status_code == 409
    assert key not in again.content.decode() and "already submitted" in again.content.decode()
    assert ApiKey.objects.filter(client=alice.client).count() == 2  # the fixture's key + this one
    # And no page shows it again.
    for url in (KEYS, f"{KEYS}{stored.pk}/change/", f"{CLIENTS}{alice.client.pk}/change/"):
        page = admin_client.get(url).content.decode()
        assert parsed.prefix in page and parsed.secret not in page and stored.digest not in page


def test_issue_form_validates_input(admin_client: Any, alice: Tenant) -> None:
    token = issue_form(admin_client)
    response = admin_client.post(ISSUE, {"client": alice.client.pk, "scopes": ["superuser"], "expires_in_days": "0",
                                         "issue_token": token})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Select a valid choice" in html and "greater than or equal to 1" in html
    assert "cl-key" not in html
    assert ApiKey.objects.filter(client=alice.client).count() == 1
    # The token was not spent on an invalid form: the corrected form issues the key.
    response = admin_client.post(ISSUE, {"client": alice.client.pk, "scopes": ["ingest", "read"], "issue_token": token})
    assert 'class="cl-key"' in response.content.decode()
    assert ApiKey.objects.filter(client=alice.client).count() == 2
    assert ApiKey.objects.filter(client=alice.client, name="").exclude(name="test").get().expires_at is None


def test_a_stored_key_cannot_be_changed_except_name_and_expiry(admin_client: Any, alice: Tenant) -> None:
    api_key = alice.client.api_keys.get()
    url = f"{KEYS}{api_key.pk}/change/"
    html = admin_client.get(url).content.decode()
    assert 'name="name"' in html and 'name="expires_at_0"' in html
    for field in ("digest", "prefix", "scopes", "client"):
        assert f'name="{field}"' not in html
    admin_client.post(url, {"name": "renamed", "expires_at_0": "", "expires_at_1": "",
                            "digest": "0" * 64, "prefix": "hijacked00", "scopes": '["read"]'})
    api_key.refresh_from_db()
    assert api_key.name == "renamed"
    assert (api_key.prefix, api_key.scopes) == (alice.client.api_keys.get().prefix, ["ingest", "read"])
    assert keys.secret_matches(alice.key.split("_")[2], api_key.digest)
    assert admin_client.post(f"{KEYS}{api_key.pk}/delete/", {"post": "yes"}).status_code == 403


# --- revoking ------------------------------------------------------------------------------------------

def test_revoke_action_single_key(admin_client: Any, alice: Tenant, bob: Tenant) -> None:
    key = alice.client.api_keys.get()
    response = admin_client.post(KEYS, {"action": "revoke_keys", "_selected_action": [key.pk]}, follow=True)
    assert "Revoked 1 API key." in response.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is not None and key.status == "revoked"
    assert alice.api.post("/api/v1/logs", log_body(), format="json").status_code == 401  # at once
    assert bob.api.post("/api/v1/logs", log_body(), format="json").status_code == 201  # others untouched
    html = admin_client.get(KEYS).content.decode()
    assert 'style="background:#c62828">revoked<' in html and 'style="background:#1e7e34">active<' in html


def test_revoke_action_bulk_and_already_revoked(admin_client: Any, alice: Tenant, bob: Tenant) -> None:
    ids = list(ApiKey.objects.values_list("pk", flat=True))
    admin_client.post(KEYS, {"action": "revoke_keys", "_selected_action": [ids[0]]})
    response = admin_client.post(KEYS, {"action": "revoke_keys", "_selected_action": ids}, follow=True)
    assert "Revoked 1 API key. 1 already revoked." in response.content.decode()
    assert ApiKey.objects.filter(revoked_at__isnull=True).count() == 0
    assert alice.api.post("/api/v1/logs", log_body(), format="json").status_code == 401
    assert bob.api.post("/api/v1/logs", log_body(), format="json").status_code == 401


def test_key_list_filters_by_status(admin_client: Any, alice: Tenant, bob: Tenant) -> None:
    ApiKey.objects.filter(client=bob.client).update(expires_at=timezone.now() - dt.timedelta(days=1))
    html = admin_client.get(KEYS, {"status": "expired"}).content.decode()
    assert bob.client.api_keys.get().prefix in html and alice.client.api_keys.get().prefix not in html
    html = admin_client.get(KEYS, {"status": "active"}).content.decode()
    assert alice.client.api_keys.get().prefix in html and bob.client.api_keys.get().prefix not in html


def test_staff_without_key_permissions_cannot_issue_or_revoke(django_user_model: Any, client: Any,
                                                              alice: Tenant) -> None:
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("viewer", password="pw-viewer-1", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_apikey"))
    client.force_login(user)
    assert client.get(KEYS).status_code == 200
    assert client.get(ISSUE).status_code == 403
    key = alice.client.api_keys.get()
    client.post(KEYS, {"action": "revoke_keys", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.revoked_at is None
