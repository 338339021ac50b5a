"""Input and output of /api/v1/saved-views."""
from __future__ import annotations

from rest_framework import serializers

from savedviews.models import Page, SavedView

MAX_QUERY_LENGTH = 2000


class SavedViewSerializer(serializers.ModelSerializer):
    name = serializers.CharField(max_length=100, trim_whitespace=True, allow_blank=False)
    page = serializers.ChoiceField(choices=Page.choices)
    query = serializers.CharField(max_length=MAX_QUERY_LENGTH, allow_blank=True, required=False, default="",
                                  trim_whitespace=True,
                                  help_text="The page's URL query string, without the '?'.")
    shared = serializers.BooleanField(required=False, default=False)
    owner = serializers.SerializerMethodField(help_text="Username of the person who saved it.")
    mine = serializers.SerializerMethodField(help_text="Whether the caller saved it (and may change it).")

    class Meta:
        model = SavedView
        fields = ["id", "name", "page", "query", "shared", "owner", "mine", "created_at", "updated_at"]
        read_only_fields = ["id", "owner", "mine", "created_at", "updated_at"]
        ref_name = "SavedView"

    def validate_query(self, value: str) -> str:
        value = value.removeprefix("?")
        if "\x00" in value or "#" in value:
            raise serializers.ValidationError("A query string without null characters or '#'.")
        return value

    def get_owner(self, view: SavedView) -> str:
        return view.owner.get_username()

    def get_mine(self, view: SavedView) -> bool:
        user = self.context.get("user")
        return user is not None and view.owner_id == user.pk
