"""API key format, generation and hashing.

A key looks like ``clk_<prefix>_<secret>``:

* ``clk_`` makes leaked keys recognisable to secret scanners;
* ``<prefix>`` (10 lowercase base36 characters) is public: it identifies the key in listings,
  in admin and in the database lookup;
* ``<secret>`` (32 base62 characters, about 190 bits of randomness) is never stored.

We store HMAC-SHA256(API_KEY_PEPPER, secret). A slow password hash (PBKDF2, argon2) exists to
protect low-entropy human passwords against guessing; a 190-bit random secret cannot be guessed,
so a fast keyed hash is just as safe and costs microseconds instead of ~100 ms per request.
The pepper (kept out of the database) means a stolen database dump is useless on its own.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass

from django.conf import settings

KEY_TAG = "clk"
PREFIX_LENGTH = 10
SECRET_LENGTH = 32
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits
KEY_PATTERN = re.compile(rf"^{KEY_TAG}_([a-z0-9]{{{PREFIX_LENGTH}}})_([A-Za-z0-9]{{{SECRET_LENGTH}}})$")


@dataclass(frozen=True)
class ParsedKey:
    prefix: str
    secret: str


def generate_key() -> tuple[str, ParsedKey]:
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
    secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(SECRET_LENGTH))
    return f"{KEY_TAG}_{prefix}_{secret}", ParsedKey(prefix, secret)


def parse_key(raw: str) -> ParsedKey | None:
    """Split a presented key; None when it is not well-formed (rejected before any query)."""
    match = KEY_PATTERN.match(raw)
    if match is None:
        return None
    return ParsedKey(match.group(1), match.group(2))


def digest_secret(secret: str) -> str:
    return hmac.new(settings.API_KEY_PEPPER.encode(), secret.encode(), hashlib.sha256).hexdigest()


def secret_matches(secret: str, stored_digest: str) -> bool:
    """Constant-time comparison of a presented secret against a stored digest."""
    return digest_matches(digest_secret(secret), stored_digest)


def digest_matches(presented_digest: str, stored_digest: str) -> bool:
    """`secret_matches` for a presented secret already digested."""
    return hmac.compare_digest(presented_digest, stored_digest)
