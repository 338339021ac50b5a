"""Shapes of the /api/v1/session endpoints (input validation and the OpenAPI schema)."""
from __future__ import annotations

from rest_framework import serializers

from tenants.models import Role


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150, trim_whitespace=True)
    password = serializers.CharField(max_length=1024, trim_whitespace=False)


class ClientSwitchSerializer(serializers.Serializer):
    client = serializers.CharField(max_length=64, help_text="Slug of one of your clients.")


class SessionClientSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)


class SessionUserSerializer(serializers.Serializer):
    username = serializers.CharField()
    email = serializers.CharField(allow_blank=True)


class SessionStateSerializer(serializers.Serializer):
    user = SessionUserSerializer()
    memberships = SessionClientSerializer(many=True)
    current_client = SessionClientSerializer(allow_null=True, help_text="null when the user has no client.")
    session_expires_at = serializers.DateTimeField(help_text="When this sign-in ends (SESSION_COOKIE_AGE).")


class CsrfSerializer(serializers.Serializer):
    csrf_token = serializers.CharField(help_text="Also set as the csrftoken cookie; send it as X-CSRFToken.")
