"""Reading the settings' environment strictly: a bad value stops the start with one line saying
what to set (manage.py prints it without a traceback)."""
from __future__ import annotations

import ipaddress
from typing import Any

from django.core.exceptions import ImproperlyConfigured

# The placeholders of .env.example: a copied example must not run in production with them.
PLACEHOLDER_SECRETS = ("change-me", "changeme")
NEW_SECRET = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"


def strict_bool(env: Any, name: str, default: bool) -> bool:
    """Strict boolean: anything but true/false/1/0/yes/no/on/off is a start-up error."""
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


def required_secret(env: Any, name: str, *, debug: bool, development_default: str) -> str:
    """A required secret: refused when missing or still a placeholder, unless DEBUG is on."""
    value = env.str(name, default="").strip()
    if debug:
        return value or development_default
    if not value:
        raise ImproperlyConfigured(f"{name} is required when DEBUG is off: set it to a long random value "
                                   f"(generate one with {NEW_SECRET}).")
    if value.lower().startswith(PLACEHOLDER_SECRETS):
        raise ImproperlyConfigured(
            f"{name} is still the placeholder {value!r} of .env.example: set it to a long random value "
            f"(generate one with {NEW_SECRET}); `make run` replaces the placeholders in .env by itself.")
    return value


def ip_networks(name: str, values: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    try:
        return [ipaddress.ip_network(value.strip(), strict=False) for value in values if value.strip()]
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must list addresses or networks (10.0.0.0/8): {exc}") from None


def one_of(name: str, value: str, allowed: tuple[str, ...]) -> str:
    value = value.strip().lower()
    if value not in allowed:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return value
