"""Scrubbing of logs before they are stored: the one function every ingest path calls
(`scrub_items`), and the tenant's compiled rules behind it (`rules_for`).

Rules are compiled once per tenant and process and kept under the tenant's settings version.
A process asks the database for the tenant's settings at most every SCRUBBING_SETTINGS_MAX_AGE
seconds (one indexed row) and recompiles only when the version moved; the process that saves
new settings drops its copy at once. When the settings cannot be read (the database is down:
the log is about to be spooled), the last compiled rules are used, or, if this process never
read them, the defaults, and the log is marked so the spool's drainer scrubs it again with the
tenant's own rules before storing it.
"""
from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError

from central_logger import dbguard
from logs.rawjson import InvalidRawJson
from scrubbing.engine import CustomRule, Ruleset, build_ruleset, scrub_log
from scrubbing.rawtext import settle_raw
from scrubbing.models import EmailMode, ScrubbingSettings
from tenants.models import Client

logger = logging.getLogger("central_logger.scrubbing")

# A spooled log scrubbed without the tenant's own settings: the drainer scrubs it again.
RESCRUB = "_rescrub"


@dataclass
class _Cached:
    rules: Ruleset
    read_at: float


_cache: dict[int, _Cached] = {}
_lock = threading.Lock()
# The defaults, compiled once per process (~20 ms) and shared by every tenant without settings;
# the fallback copy for tenants whose settings cannot be read.
_shared: dict[bool, Ruleset] = {}


def _defaults(*, fallback: bool = False) -> Ruleset:
    rules = _shared.get(fallback)
    if rules is None:
        rules = _shared[fallback] = build_ruleset(fallback=fallback)
    return rules


def _defaults_fallback() -> Ruleset:
    return _defaults(fallback=True)


def email_hash_key(client: Client) -> bytes:
    """The tenant's key for e-mail tokens: SCRUBBING_HASH_KEY mixed with the tenant's id."""
    return hmac.new(settings.SCRUBBING_HASH_KEY.encode(), f"client:{client.pk}".encode(), hashlib.sha256).digest()


def compile_settings(client: Client, row: ScrubbingSettings | None) -> Ruleset:
    if row is None:
        return _defaults()
    disabled = frozenset() if settings.SCRUBBING_DEFAULTS_LOCKED else frozenset(row.disabled_rules)
    return build_ruleset(
        disabled=disabled, extra_keys=tuple(row.extra_keys),
        custom=tuple(CustomRule(item["name"], item["pattern"]) for item in row.custom_patterns),
        allow_paths=tuple(row.allow_paths),
        email_hash_key=email_hash_key(client) if row.email_mode == EmailMode.HASH else None,
        version=row.version)


def _read(client: Client) -> ScrubbingSettings | None:
    return ScrubbingSettings.objects.for_client(client).first()


def rules_for(client: Client) -> Ruleset:
    """The tenant's compiled rules (cached; see the module docstring)."""
    now = time.monotonic()
    cached = _cache.get(client.pk)
    if cached is not None and now - cached.read_at < settings.SCRUBBING_SETTINGS_MAX_AGE:
        return cached.rules
    if dbguard.circuit_open():
        return cached.rules if cached is not None else _defaults_fallback()
    try:
        row = _read(client)
    except (OperationalError, InterfaceError) as exc:
        # The database is unavailable: the log goes to the spool, at once (no second timeout).
        dbguard.mark_failure()
        logger.warning("scrubbing: settings of client %s unreadable (%s)", client.pk, exc.__class__.__name__)
        return cached.rules if cached is not None else _defaults_fallback()
    version = row.version if row is not None else 0
    if cached is not None and cached.rules.version == version and not cached.rules.fallback:
        cached.read_at = now
        return cached.rules
    rules = compile_settings(client, row)
    with _lock:
        _cache[client.pk] = _Cached(rules, now)
    return rules


def forget(client: Client | None = None) -> None:
    """Drop the compiled rules of one tenant (after its settings changed) or of all (tests)."""
    with _lock:
        if client is None:
            _cache.clear()
        else:
            _cache.pop(client.pk, None)


def scrub_items(client: Client, items: list[dict[str, Any] | None]) -> None:
    """Scrub validated logs of `client` in place, before they are stored or spooled (None
    entries are skipped). Each log gets `scrubbed`: {rule id: values replaced}."""
    if all(fields is None for fields in items):
        return
    if not settings.SCRUBBING_ENABLED:
        for index, fields in enumerate(items):
            if fields is not None:
                with _at(index):
                    settle_raw(fields)
        return
    rules = rules_for(client)
    for index, fields in enumerate(items):
        if fields is not None:
            with _at(index):
                fields["scrubbed"] = scrub_log(rules, fields)
            if rules.fallback:
                fields[RESCRUB] = True


@contextlib.contextmanager
def _at(index: int) -> Iterator[None]:
    """An InvalidRawJson raised for one of a request's logs carries that log's index."""
    try:
        yield
    except InvalidRawJson as exc:
        exc.index = index
        raise


def scrub_records(client: Client, records: list[dict[str, Any]], names: tuple[str, ...]) -> None:
    """Scrub records that are not logs (an OpenTelemetry span, a log record attached to a trace)
    in place before they are stored or spooled: every string at any depth of their `names`, by
    the tenant's rules. They keep no counts and are not scrubbed again when spooled with the
    defaults while the tenant's settings were unreadable (the defaults only ever redact more)."""
    if not settings.SCRUBBING_ENABLED or not records:
        return
    rules = rules_for(client)
    for record in records:
        scrub_log(rules, record, names)


def merge_counts(old: dict[str, int] | None, new: dict[str, int]) -> dict[str, int]:
    merged = dict(old or {})
    for rule_id, count in new.items():
        merged[rule_id] = merged.get(rule_id, 0) + count
    return merged


def rescrub(client: Client, fields: dict[str, Any]) -> None:
    """Scrub a log again with the tenant's current rules (a spooled log marked RESCRUB, or a
    stored log), adding what it replaces to its `scrubbed` counts."""
    fields.pop(RESCRUB, None)
    if not settings.SCRUBBING_ENABLED:
        return
    counts = scrub_log(rules_for(client), fields)
    fields["scrubbed"] = merge_counts(fields.get("scrubbed"), counts)

