"""Writes of saved views: create, change, delete, with who may do what.

* Anyone signed in to the dashboard saves views in the client they are looking at.
* Only the owner changes a view (its name, page, query, sharing).
* The owner deletes it; so may a member with the `admin` role when it is shared (to tidy the
  client's shared list).
A view the caller cannot see (another user's private view, another client's) is not found.
"""
from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from rest_framework.exceptions import PermissionDenied, ValidationError

from savedviews.models import SavedView
from tenants.models import Client

MAX_VIEWS_PER_USER = 100
_NAME_TAKEN = "You already have a view with this name."


def saved_view_create(*, client: Client, user: Any, data: dict[str, Any]) -> SavedView:
    if SavedView.objects.for_client(client).filter(owner=user).count() >= MAX_VIEWS_PER_USER:
        raise ValidationError({"name": [f"At most {MAX_VIEWS_PER_USER} saved views per person and client."]})
    try:
        with transaction.atomic():
            return SavedView.objects.create(client=client, owner=user, **data)
    except IntegrityError:
        raise ValidationError({"name": [_NAME_TAKEN]}) from None


def saved_view_update(*, view: SavedView, user: Any, data: dict[str, Any]) -> SavedView:
    if view.owner_id != user.pk:
        raise PermissionDenied("Only the person who saved this view can change it.")
    for field, value in data.items():
        setattr(view, field, value)
    try:
        with transaction.atomic():
            view.save()
    except IntegrityError:
        raise ValidationError({"name": [_NAME_TAKEN]}) from None
    return view


def saved_view_delete(*, view: SavedView, user: Any, is_admin: bool) -> None:
    if view.owner_id != user.pk and not (view.shared and is_admin):
        raise PermissionDenied("Only the person who saved this view (or an admin, for a shared view) can delete it.")
    view.delete()
