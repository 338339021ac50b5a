"""Validation of a tenant's scrubbing settings (the API and the admin call the same function).

`clean_settings()` returns the cleaned values or raises `SettingsInvalid` with every problem
keyed by the field it concerns (`custom_patterns[1].pattern`), which the API answers as a 400.

A tenant's regular expression runs on every log it sends, so it is refused unless it is
cheap whatever the input: RE2 syntax (no backreferences or lookaround: matching is linear in
the text, never backtracking), a bounded compiled size, no empty match (it would insert a
marker between every character), a measured run over a test text of ordinary and adversarial
pieces within a time budget, and it must not match most of ordinary text (a `.*` would erase
every log).
"""
from __future__ import annotations

import re
import time
from typing import Any

import re2
from django.conf import settings

from scrubbing.engine import SCRUBBED_FIELDS
from scrubbing.models import EmailMode
from scrubbing.rules import DEFAULT_RULE_IDS, normalise_key_name

FIELDS = ("disabled_rules", "extra_keys", "custom_patterns", "allow_paths", "email_mode")
MAX_EXTRA_KEYS = 100
MAX_PATTERNS = 20
MAX_PATTERN_LENGTH = 1000
MAX_PROGRAM_SIZE = 5000  # RE2 instructions; `[a-z]{1,1000}` is ~2,000, `(a{100}){100}` is refused
MAX_ALLOW_PATHS = 100
MAX_PATH_LENGTH = 300
PATTERN_BUDGET_SECONDS = 0.05  # for the whole test text below, about 600 logs' worth
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
KEY_NAME = re.compile(r"^[\w.\- ]{1,64}$")
PATH_PART = re.compile(r"^(?:\*|[^.*\s][^.]{0,99})$")

_ORDINARY = ("The customer asked about order 4521 placed on 2025-01-07; we checked the tracking page and "
             "replied with the refund policy. Confidence 0.87, 3 iterations, version v1.2.3. ") * 20
_ADVERSARIAL = ("a" * 20_000 + "0" * 20_000 + "ab" * 10_000 + " " * 10_000 + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaa!" * 500
                + "\u00e9\u4e2d\u0434" * 3_000 + "-" * 10_000)
SAMPLE = (_ORDINARY * 20 + _ADVERSARIAL) * 2
_PIECES = [SAMPLE[offset:offset + 4096].encode() for offset in range(0, len(SAMPLE), 4096)]


class SettingsInvalid(Exception):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


def _strings(value: Any, field: str, errors: dict[str, list[str]], limit: int) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        errors.setdefault(field, []).append("Must be a list of strings.")
        return []
    if len(value) > limit:
        errors.setdefault(field, []).append(f"At most {limit} entries.")
    return list(dict.fromkeys(value))  # duplicates dropped, order kept


def _disabled_rules(value: Any, errors: dict[str, list[str]]) -> list[str]:
    rules = _strings(value, "disabled_rules", errors, len(DEFAULT_RULE_IDS))
    unknown = [rule for rule in rules if rule not in DEFAULT_RULE_IDS]
    if unknown:
        errors.setdefault("disabled_rules", []).append(
            f"Unknown rule(s) {', '.join(map(repr, unknown))}; the default rules are listed in `rules`.")
    if rules and settings.SCRUBBING_DEFAULTS_LOCKED:
        errors.setdefault("disabled_rules", []).append(
            "The operator does not allow turning default rules off on this server (SCRUBBING_DEFAULTS_LOCKED).")
    return rules


def _extra_keys(value: Any, errors: dict[str, list[str]]) -> list[str]:
    keys = _strings(value, "extra_keys", errors, MAX_EXTRA_KEYS)
    for index, key in enumerate(keys):
        if not KEY_NAME.match(key) or not normalise_key_name(key):
            errors.setdefault(f"extra_keys[{index}]", []).append(
                "1-64 letters, digits, '_', '-', '.' or spaces, with at least one letter or digit.")
    return keys


def pattern_problem(pattern: str) -> str | None:
    """Why a tenant's regular expression is refused, or None."""
    if not 0 < len(pattern) <= MAX_PATTERN_LENGTH:
        return f"Must be 1-{MAX_PATTERN_LENGTH} characters."
    options = re2.Options()
    options.max_mem = 8 << 20
    options.log_errors = False
    try:
        compiled = re2.compile(f"(?m:{pattern})", options)
    except re2.error as exc:
        return f"Invalid regular expression (RE2 syntax: no backreferences or lookaround): {exc}."
    if compiled.programsize > MAX_PROGRAM_SIZE:
        return f"Too complex: {compiled.programsize} RE2 instructions, at most {MAX_PROGRAM_SIZE}."
    if compiled.fullmatch("") is not None:
        return "Must not match an empty string."
    # The cost per log: a search of each 4 KB piece of the test text (one log's worth).
    started = time.perf_counter()
    for piece in _PIECES:
        compiled.search(piece)
    elapsed = time.perf_counter() - started
    if elapsed > PATTERN_BUDGET_SECONDS:
        return (f"Too slow: {elapsed * 1000:.0f} ms over the {len(SAMPLE) // 1000} KB test text, at most "
                f"{PATTERN_BUDGET_SECONDS * 1000:.0f} ms.")
    spans = [match.span() for match in compiled.finditer(_ORDINARY)]
    if any(start == end for start, end in spans):
        return "Must not match an empty string."
    if sum(end - start for start, end in spans) > len(_ORDINARY) // 2:
        return "Matches most of ordinary text; it would erase whole logs. Make it more specific."
    return None


def _custom_patterns(value: Any, errors: dict[str, list[str]]) -> list[dict[str, str]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        errors.setdefault("custom_patterns", []).append('Must be a list of {"name": ..., "pattern": ...} objects.')
        return []
    if len(value) > MAX_PATTERNS:
        errors.setdefault("custom_patterns", []).append(f"At most {MAX_PATTERNS} patterns.")
    cleaned, names = [], set()
    for index, item in enumerate(value):
        name, pattern = item.get("name"), item.get("pattern")
        unknown = set(item) - {"name", "pattern"}
        if unknown:
            errors.setdefault(f"custom_patterns[{index}]", []).append(f"Unknown field(s): {', '.join(sorted(unknown))}.")
        if not isinstance(name, str) or not NAME.match(name):
            errors.setdefault(f"custom_patterns[{index}].name", []).append(
                "1-40 lowercase letters, digits and '_', starting with a letter.")
        elif name in names or name in DEFAULT_RULE_IDS:
            errors.setdefault(f"custom_patterns[{index}].name", []).append(f"The name {name!r} is taken.")
        names.add(name)
        problem = "Must be a string." if not isinstance(pattern, str) else pattern_problem(pattern)
        if problem:
            errors.setdefault(f"custom_patterns[{index}].pattern", []).append(problem)
        cleaned.append({"name": name, "pattern": pattern})
    return cleaned


def _allow_paths(value: Any, errors: dict[str, list[str]]) -> list[str]:
    paths = _strings(value, "allow_paths", errors, MAX_ALLOW_PATHS)
    for index, path in enumerate(paths):
        parts = path.split(".")
        if len(path) > MAX_PATH_LENGTH or not all(PATH_PART.match(part) for part in parts):
            errors.setdefault(f"allow_paths[{index}]", []).append(
                "Dot-separated keys ('*' for any key or array item), at most 300 characters.")
        elif parts[0] not in SCRUBBED_FIELDS:
            errors.setdefault(f"allow_paths[{index}]", []).append(
                f"Must start with a scrubbed field: {', '.join(SCRUBBED_FIELDS)}.")
        elif len(parts) > 1 and parts[0] not in ("metrics", "payload", "metadata", "extra"):
            errors.setdefault(f"allow_paths[{index}]", []).append(f"{parts[0]} is a text field: it has no keys.")
    return paths


def clean_settings(data: Any, *, current: dict[str, Any]) -> dict[str, Any]:
    """The new settings: `current` with the fields of `data` validated and applied."""
    if not isinstance(data, dict):
        raise SettingsInvalid({"non_field_errors": ["Expected a JSON object."]})
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(data) - set(FIELDS))
    for name in unknown:
        errors[name] = [f"Unknown field; the settings are {', '.join(FIELDS)}."]
    out = dict(current)
    cleaners = {"disabled_rules": _disabled_rules, "extra_keys": _extra_keys, "custom_patterns": _custom_patterns,
                "allow_paths": _allow_paths}
    for name, clean in cleaners.items():
        if name in data:
            out[name] = clean(data[name], errors)
    if "email_mode" in data:
        if data["email_mode"] not in EmailMode.values:
            errors["email_mode"] = [f"One of {', '.join(EmailMode.values)}."]
        else:
            out["email_mode"] = data["email_mode"]
    if errors:
        raise SettingsInvalid(errors)
    return out
