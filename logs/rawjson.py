"""A JSON value kept as the text it arrived in (batch ingestion: ingestion/body.py).

A batch's `payload`, `metrics`, `metadata` and unknown top-level fields are not decoded into
Python objects only to be encoded again for PostgreSQL: they travel from the request body to
the INSERT as `RawJson`, the UTF-8 bytes of one JSON value. The body's parser has checked the
syntax, the caller the UTF-8; what orjson would still refuse (a number beyond a double's range)
or what a scan of the text could misread (escapes that hide characters) is found by
`NEEDS_DECODE`, and such a value is decoded the ordinary way (`decoded()`) before anything
looks inside it. Whoever needs Python objects (scrubbing a value that has something to scrub,
the spool's drain) decodes; PostgreSQL's `jsonb` parses the text itself either way.
"""
from __future__ import annotations

from typing import Any

import orjson

# Raw text whose meaning a byte scan could miss, or that orjson (whose limits every reader of a
# stored log shares) would refuse: any `\u` escape (a hidden character, a lone surrogate, U+0000,
# which jsonb refuses), an escaped `/`, a number (after `:`, `[`, `,` or a space) with an
# exponent of three digits or more, or a run of 300 digits (numbers near or beyond a double's
# range, 1.8e308). Few real logs hold any of these (hex digests such as "3e456..." do not count:
# a quote precedes them); those that do take the decoding path, which answers as before.
NEEDS_DECODE = r"\\u|\\/|[:\[,\s]-?[0-9]+(?:\.[0-9]+)?[eE]\+?[0-9]{3}|[0-9]{300}"


class RawJson(bytes):
    """The UTF-8 text of one JSON value (an object, for the columns that hold one)."""

    __slots__ = ()

    def decoded(self) -> Any:
        """The value as Python objects (orjson: raises orjson.JSONDecodeError as orjson would)."""
        return orjson.loads(memoryview(self))  # orjson takes no bytes subclass

    def text(self) -> str:
        return self.decode()

    def fragment(self) -> orjson.Fragment:
        """For orjson.dumps: the text inserted as it is."""
        return orjson.Fragment(bytes(self))


def object_text(pieces: list[tuple[str, bytes]]) -> RawJson:
    """The JSON object of (key, raw value text) pairs, without decoding the values."""
    dumps = orjson.dumps
    return RawJson(b"{" + b",".join([dumps(key) + b":" + value for key, value in pieces]) + b"}")


def orjson_default(value: Any) -> Any:
    """orjson.dumps(default=...): a RawJson is written as the JSON it holds."""
    if isinstance(value, RawJson):
        return value.fragment()
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


class InvalidRawJson(ValueError):
    """A RawJson value orjson refuses once decoded: the log's index in its request (set by
    whoever iterates the logs), the field and orjson's message."""

    def __init__(self, field: str, message: str, index: int = 0) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message, self.index = field, message, index


def decode_fields(fields: dict[str, Any], names: tuple[str, ...]) -> None:
    """Replace the RawJson values of `fields` among `names` by their decoded objects, in place.
    Raises InvalidRawJson naming the first value orjson refuses."""
    for name in names:
        value = fields.get(name)
        if type(value) is RawJson:
            try:
                fields[name] = value.decoded()
            except orjson.JSONDecodeError as exc:
                raise InvalidRawJson(name, str(exc)) from None
