"""Parsing of query-string parameters shared by the read API and the metrics: each bad value is
a 400 naming its parameter, and `collect_errors` reports every bad parameter of a request at once."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework.exceptions import ValidationError


def parse_int(query: Any, name: str, *, default: int, low: int, high: int | None = None) -> int:
    raw = query.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ValidationError({name: ["Must be an integer."]}) from None
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ValidationError({name: [f"Must be {bound}."]})
    return value


def parse_choice(query: Any, name: str, choices: tuple[str, ...], default: str) -> str:
    value = (query.get(name) or default).strip().lower()
    if value not in choices:
        raise ValidationError({name: [f"Must be one of: {', '.join(choices)}."]})
    return value


def parse_text(query: Any, name: str, *, max_length: int = 100) -> str:
    """A required, non-empty text parameter (stripped), at most `max_length` characters."""
    value = str(query.get(name) or "").strip()
    if not value:
        raise ValidationError({name: ["This parameter is required."]})
    if len(value) > max_length or "\x00" in value:
        raise ValidationError({name: [f"Must be at most {max_length} characters, without null characters."]})
    return value


def collect_errors(*parsers: Callable[[], Any]) -> list[Any]:
    """Run each zero-argument parser; raise one 400 naming every bad parameter at once."""
    results, errors = [], {}
    for parser in parsers:
        try:
            results.append(parser())
        except ValidationError as exc:
            errors.update(exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail})
            results.append(None)
    if errors:
        raise ValidationError(errors)
    return results
