"""Scrubbing a log whose JSON objects are still the text they arrived in (logs/rawjson.py).

The prefilter's RE2 pass runs over that text as it is: when no rule can match and nothing in it
needs decoding (the same pass answers both), the log is stored as it came and its JSON is never
decoded. Otherwise its raw values are decoded (orjson's checks apply; InvalidRawJson names the
field it refuses) and the log is scrubbed like any other (scrubbing/engine.py).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
import re2

from logs.rawjson import NEEDS_DECODE, RawJson, decode_fields

if TYPE_CHECKING:
    from scrubbing.engine import Ruleset

# JSON_FIELDS of scrubbing/engine.py: the columns that may hold a RawJson.
_JSON_FIELDS = ("metrics", "payload", "metadata", "extra")
_SCREEN = re2.compile(NEEDS_DECODE)


def has_raw(fields: dict[str, Any]) -> bool:
    return any(type(fields.get(name)) is RawJson for name in _JSON_FIELDS)


def raw_unchanged(rules: Ruleset, fields: dict[str, Any], names: tuple[str, ...]) -> bool:
    """True when one pass over the log's text shows that no rule can change anything and no raw
    value needs decoding: the log goes on as it came. False: its RawJson values are decoded now
    (raises InvalidRawJson) and the caller scrubs it like any other log. A tenant with an
    allow-list (paths inside the JSON) always takes the decoding road."""
    if not rules.allow:
        decoded, raw = [], []
        for name in names:
            value = fields.get(name)
            if type(value) is RawJson:
                raw.append(value)
            elif value is not None:
                decoded.append(value)
        try:
            # One text: the other values' JSON, then each raw text as it came.
            text = b",".join([orjson.dumps(decoded), *raw])
        except TypeError:  # an integer beyond 64 bits elsewhere in the log
            text = None
        if text is not None and not rules.fires(text):
            return True
    decode_fields(fields, names)
    return False


def settle_raw(fields: dict[str, Any]) -> None:
    """With scrubbing off: decode the RawJson values that need it (raises InvalidRawJson)."""
    for name in _JSON_FIELDS:
        value = fields.get(name)
        if type(value) is RawJson and _SCREEN.search(value):
            decode_fields(fields, (name,))
