"""Dashboard users and their memberships: services (writes) and selectors (reads).

A dashboard user is a plain Django user; what they may see is decided only by their
memberships. The manage.py command and the admin call these functions; the session endpoints
and `tenants.session_auth` read through them, so there is one definition of "the clients this
user may see" and of "the user's current client".
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from tenants.models import Client, Membership, Role
from tenants.services import TenantError, client_get

# Session key holding the id of the client the user is looking at.
SESSION_CLIENT_KEY = "dashboard_client_id"


@dataclass(frozen=True)
class DashboardUserResult:
    membership: Membership
    user_created: bool
    membership_created: bool
    generated_password: str | None  # printed once by the command, never stored in clear


def parse_role(raw: str) -> str:
    role = raw.strip().lower()
    if role not in Role.values:
        raise TenantError(f"Role must be one of {', '.join(Role.values)}; got {raw!r}.")
    return role


def generate_password() -> str:
    # ~128 bits; URL-safe so it survives copy/paste from a terminal.
    return secrets.token_urlsafe(16)


def dashboard_user_add(*, client_slug: str, username: str, email: str = "", role: str = Role.VIEWER,
                       password: str | None = None, generate: bool = False) -> DashboardUserResult:
    """Create the user if needed and give them access to the client (idempotent).

    An existing user keeps their password; an existing membership gets the new role. A new
    user needs a password: `password` (validated by AUTH_PASSWORD_VALIDATORS) or `generate=True`.
    """
    role = parse_role(role)
    client = client_get(slug=client_slug)
    username = username.strip()
    if not username:
        raise TenantError("The username must not be empty.")
    User = get_user_model()
    generated: str | None = None
    with transaction.atomic():
        user = User.objects.filter(username=username).first()
        user_created = user is None
        if user is None:
            if password is None:
                if not generate:
                    raise TenantError(f"User {username!r} does not exist yet: a password is needed.")
                password = generated = generate_password()
            user = User(username=username, email=email)
            try:
                validate_password(password, user)
            except ValidationError as exc:
                raise TenantError("Password rejected: " + " ".join(exc.messages)) from None
            user.set_password(password)
            user.save()
        elif email and user.email != email:
            user.email = email
            user.save(update_fields=["email"])
        membership, membership_created = Membership.objects.select_related("client", "user").get_or_create(
            user=user, client=client, defaults={"role": role})
        if not membership_created and membership.role != role:
            membership.role = role
            membership.save(update_fields=["role"])
    return DashboardUserResult(membership, user_created, membership_created, generated)


def memberships_of(*, user: Any) -> list[Membership]:
    """The user's memberships in active clients, ordered by client slug (one query)."""
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return []
    return list(Membership.objects.select_related("client")
                .filter(user=user, client__is_active=True).order_by("client__slug"))


def current_membership(*, memberships: list[Membership], session: Any) -> Membership | None:
    """The membership of the client stored in the session, else the first one (and remember it).

    A client the user has lost access to (membership deleted, client deactivated) silently
    falls back to the first remaining one: the session can never point outside the memberships.
    """
    if not memberships:
        return None
    wanted = session.get(SESSION_CLIENT_KEY)
    for membership in memberships:
        if membership.client_id == wanted:
            return membership
    session[SESSION_CLIENT_KEY] = memberships[0].client_id
    return memberships[0]


def current_client_switch(*, user: Any, session: Any, client_slug: str) -> Membership:
    """Make `client_slug` the session's current client; not a member → TenantError (a 404)."""
    for membership in memberships_of(user=user):
        if membership.client.slug == client_slug:
            session[SESSION_CLIENT_KEY] = membership.client_id
            return membership
    raise TenantError(f"No client {client_slug!r} among your memberships.")


def client_for_membership_display(client: Client) -> dict[str, str]:
    return {"slug": client.slug, "name": client.name or client.slug}
