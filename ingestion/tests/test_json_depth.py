"""The nesting-depth check of ingestion bodies agrees with the parsed structure's real depth,
whatever the strings hold (brackets, quotes, backslashes, escapes)."""
from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings, strategies as st

from ingestion.body import json_depth_exceeds

TRICKY = st.text(alphabet=st.sampled_from(list('ab[]{}"\\/\n\u00e9:,')), max_size=8)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | TRICKY,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TRICKY, inner, max_size=4),
    max_leaves=40,
)


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    return 0


@settings(max_examples=400, deadline=None)
@given(JSON, st.integers(min_value=0, max_value=8))
def test_matches_the_real_depth(value: Any, limit: int) -> None:
    raw = orjson.dumps(value)
    assert json_depth_exceeds(raw, limit) == (depth(value) > limit)


def test_brackets_and_escapes_inside_strings_do_not_count() -> None:
    raw = orjson.dumps({"a": "[[[[{{{{", "b": ['\\"]]]', "\\\\[", '"{']})
    assert not json_depth_exceeds(raw, 2)
    assert json_depth_exceeds(raw, 1)


def test_a_very_deep_body_is_caught_after_limit_passes() -> None:
    raw = b"[" * 900 + b"]" * 900
    assert json_depth_exceeds(raw, 64)
    assert not json_depth_exceeds(raw, 900)
