"""Forms of the operator console for tenants and keys."""
from __future__ import annotations

from django import forms

from tenants.models import ALL_SCOPES, DEFAULT_SCOPES, Client


class ApiKeyIssueForm(forms.Form):
    """Issuing a key: the same inputs as `manage.py issue_api_key`; the service does the work."""

    client = forms.ModelChoiceField(queryset=Client.objects.order_by("slug"))
    name = forms.CharField(max_length=200, required=False, help_text="What the key is for, e.g. 'prod workflow'.")
    scopes = forms.MultipleChoiceField(choices=[(s, s) for s in ALL_SCOPES], initial=list(DEFAULT_SCOPES),
                                       widget=forms.CheckboxSelectMultiple,
                                       help_text="ingest: send logs; read: query them.")
    expires_in_days = forms.IntegerField(min_value=1, max_value=36500, required=False,
                                         help_text="Empty: the key never expires.")
    # A one-time token, so that reloading the result page (a re-POST) cannot issue a second key.
    issue_token = forms.CharField(widget=forms.HiddenInput)
