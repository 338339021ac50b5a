"""API key authentication for DRF: the only way a request gets a tenant."""
from __future__ import annotations

from dataclasses import dataclass, field

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from central_logger import ratelimit
from central_logger.ratelimit import Admission
from tenants import keycache, keys
from tenants.models import ApiKey, Client
from tenants.services import api_key_touch


@dataclass
class TenantPrincipal:
    """`request.user` of an API request: who is calling, for which client, with which scopes.

    Views never read a client id from the URL, the body or the query string: the tenant is
    always `request.user.client`, set here from the key (see tenants/scoping.py).
    """

    client: Client
    scopes: frozenset[str]
    api_key: ApiKey | None = None
    # The rate-limit decision taken with the key lookup, if any (central_logger/ratelimit.py).
    admission: Admission | None = None
    is_authenticated: bool = field(default=True, init=False)
    is_active: bool = field(default=True, init=False)

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def __str__(self) -> str:
        return f"{self.client.slug}:{self.api_key.prefix if self.api_key else 'session'}"


def presented_key(request: Request) -> str | None:
    """The key from `X-API-Key`, else from `Authorization: Bearer`; None when neither is used."""
    raw = request.META.get("HTTP_X_API_KEY")
    if raw is None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        raw = value
    # WSGI joins repeated headers with a comma; a key never contains one.
    return raw.strip()


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Authenticates `X-API-Key: clk_...` or `Authorization: Bearer clk_...`.

    * no key presented → None (DRF then answers 401 for endpoints that need auth);
    * malformed key → 401 without touching the database;
    * unknown, revoked or expired key, or inactive client → 401, all with the same message so
      an attacker learns nothing about which keys exist;
    * otherwise `(TenantPrincipal, ApiKey)`, after one indexed query (key + client), or none
      when the key row is in the shared key cache (API_KEY_CACHE_SECONDS).
    """

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[TenantPrincipal, ApiKey] | None:
        raw = presented_key(request)
        if raw is None:
            return None
        parsed = keys.parse_key(raw)
        if parsed is None:
            raise exceptions.AuthenticationFailed("Invalid API key.")
        # Usually from the shared key cache (tenants/keycache.py): revocation is still immediate.
        # With Redis, a cached key's rate limit is decided in the same round trip.
        digest = keys.digest_secret(parsed.secret)
        api_key, admission = keycache.get_key(parsed.prefix, digest, scope=ratelimit.scope_of(request.method))
        if api_key is None or not keys.digest_matches(digest, api_key.digest):
            raise exceptions.AuthenticationFailed("Invalid API key.")
        if api_key.revoked_at is not None or (
            api_key.expires_at is not None and api_key.expires_at <= timezone.now()
        ):
            raise exceptions.AuthenticationFailed("Invalid API key.")
        if not api_key.client.is_active:
            raise exceptions.AuthenticationFailed("Invalid API key.")
        if keycache.touch_due(api_key):
            api_key_touch(api_key=api_key)
        principal = TenantPrincipal(client=api_key.client, scopes=frozenset(api_key.scopes), api_key=api_key,
                                    admission=admission)
        return principal, api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api", X-API-Key'
