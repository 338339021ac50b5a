"""orjson-based JSON rendering: several times faster than json for large log payloads."""
from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

import orjson
from django.utils.functional import Promise
from rest_framework.renderers import BaseRenderer

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Promise):  # lazy translation strings in DRF error messages
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, (uuid.UUID, dt.date, dt.time)):
        # The stdlib fallback below: the same text orjson writes for these natively.
        return orjson.dumps(value, option=_OPTIONS)[1:-1].decode()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(data: Any) -> bytes:
    try:
        return orjson.dumps(data, default=_default, option=_OPTIONS)
    except orjson.JSONEncodeError:
        # orjson stops at 255 levels of nesting; json has no such limit.
        return json.dumps(data, default=_default, ensure_ascii=False).encode()


class ORJSONRenderer(BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = None

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if data is None:
            return b""
        return dumps(data)
