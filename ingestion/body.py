"""Reading an ingestion request body safely: size, encoding, content type, JSON, depth.

Ingestion reads the raw body itself instead of DRF's `request.data` so that every limit is
checked before the work it protects: the declared length before reading, the decompressed size
while inflating (a gzip bomb stops at the limit), strict JSON by orjson, then the nesting depth.
A batch body (`read_batch_body`) is parsed by msgspec with each log's values left as JSON text
(logs/rawjson.py), and falls back to orjson for anything that parser cannot answer alike.
"""
from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass
from typing import Any

import msgspec
import orjson
from django.conf import settings
from rest_framework.request import Request

from central_logger.errors import BadRequest, LengthRequired, PayloadTooLarge, UnsupportedMediaType

# Every byte but a quote or a bracket, for bytes.translate(delete=...).
_NOT_QUOTE_OR_BRACKET = bytes(sorted(set(range(256)) - set(b'"[]{}')))
# Objects and arrays nest alike: one kind of bracket is enough to measure depth.
_ONE_BRACKET_KIND = bytes.maketrans(b"{}", b"[]")
_QUOTED = re.compile(rb'"[^"]*"')


@dataclass(frozen=True)
class JsonBody:
    data: Any
    has_nul: bool  # the body contains an escaped U+0000 somewhere (see validation.replace_nul)
    # True: `data` is {"logs": [{field: msgspec.Raw}]}, each log's values still JSON text
    # (read_batch_body); validation.clean_raw_log decodes what it checks.
    raw_values: bool = False


# A batch body with each log's values left as text: parsing skips over the payloads instead of
# building their objects (~4 µs per realistic log instead of ~12 µs for orjson.loads).
_BATCH_DECODER = msgspec.json.Decoder(dict[str, list[dict[str, msgspec.Raw]]])


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"Request body exceeds the limit of {limit} bytes.", details={"limit_bytes": limit})


def json_depth_exceeds(raw: bytes, limit: int) -> bool:
    """True when the JSON text (already parsed, so known valid) nests deeper than `limit`.

    Reduced to its quotes and brackets with C-speed bytes operations (objects' braces become
    brackets: the text is valid, so only nesting matters), then the innermost pairs are peeled
    off one level per pass (`bytes.replace` removes the `[]` pairs present before the pass, not
    the ones it creates), so a 100,000-deep attack stops after `limit` passes. Measured on a
    batch of 100 realistic logs (480 KB): 0.67 ms, against 1.15 ms with a regular expression
    per pass and 12 ms for a regex that skips strings.
    """
    if b"\\" in raw:
        # In valid JSON a backslash only starts an escape inside a string: drop escaped
        # backslashes first, then escaped quotes, so every remaining quote delimits a string.
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    skeleton = raw.translate(_ONE_BRACKET_KIND, _NOT_QUOTE_OR_BRACKET)  # strings become "" unless they hold brackets
    if skeleton.count(b"[") <= limit:  # not even `limit` openings in all
        return False
    brackets = skeleton.replace(b'""', b"")
    if b'"' in brackets:  # some string holds a bracket: remove string contents properly
        brackets = _QUOTED.sub(b"", skeleton)
    for _ in range(limit):
        if not brackets:
            return False
        brackets = brackets.replace(b"[]", b"")
    return bool(brackets)


def _check_media_type(django_request: Any) -> None:
    content_type = (django_request.content_type or "").lower()
    if content_type != "application/json" and not (content_type.startswith("application/") and content_type.endswith("+json")):
        raise UnsupportedMediaType(
            f"Content-Type must be application/json, got {content_type or 'none'!r}.",
            details={"content_type": content_type},
        )
    charset = (django_request.content_params or {}).get("charset", "utf-8").lower()
    if charset.replace("-", "") != "utf8":
        raise UnsupportedMediaType("JSON bodies must be UTF-8.", details={"charset": charset})


def _declared_length(meta: dict[str, Any], max_bytes: int, encodings: tuple[str, ...]) -> tuple[int, str]:
    """The body's declared length and content encoding, both checked before anything is read."""
    declared = meta.get("CONTENT_LENGTH")
    if not declared:
        raise LengthRequired("A Content-Length header is required.")
    try:
        length = int(declared)
    except ValueError:
        raise BadRequest("Invalid Content-Length header.") from None
    if length < 0:
        raise BadRequest("Invalid Content-Length header.")
    encoding = meta.get("HTTP_CONTENT_ENCODING", "identity").strip().lower()
    if encoding not in ("identity", "", *encodings):
        raise UnsupportedMediaType(f"Unsupported Content-Encoding {encoding!r}; use {' or '.join(encodings)} or none.",
                                   details={"content_encoding": encoding})
    if length > max_bytes:
        raise _too_large(max_bytes)
    return length, encoding


def _inflate(raw: bytes, max_bytes: int, encoding: str) -> bytes:
    """gunzip (or inflate), stopping at the limit: a bomb never inflates past max_bytes + 1."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
    try:
        raw = inflater.decompress(raw, max_bytes + 1)
    except zlib.error:
        raise BadRequest(f"The body is not valid {encoding} data.") from None
    if len(raw) > max_bytes or inflater.unconsumed_tail:
        raise _too_large(max_bytes)
    return raw


def read_body(request: Request, *, max_bytes: int, encodings: tuple[str, ...] = ("gzip",)) -> bytes:
    """The request's body, decompressed: the declared length checked before reading (411 without
    one, 413 over `max_bytes`), the content encoding (`encodings`, else 415) and the size after
    decompression (413)."""
    django_request = request._request
    length, encoding = _declared_length(django_request.META, max_bytes, encodings)
    raw = django_request.read(length)
    if len(raw) < length:
        raise BadRequest("The request body is shorter than its Content-Length.")
    if encoding in ("gzip", "deflate"):
        raw = _inflate(raw, max_bytes, encoding)
    return raw


def _not_unicode(raw: bytes) -> dict[str, list[str]] | None:
    """For a body orjson refused: the fields (`category`, `logs[2].payload`) whose text is not
    Unicode, i.e. invalid UTF-8 bytes or an escaped lone surrogate, which PostgreSQL's text
    and jsonb refuse as well. A slow path, for refused bodies only: the standard library's
    parser, which lets both through (bytes as surrogate escapes), finds them."""
    try:
        data = json.loads(raw.decode("utf-8", "surrogateescape"))
    except (ValueError, RecursionError):  # not JSON for another reason: orjson's message says it
        return None
    logs = data.get("logs") if isinstance(data, dict) else None
    objects = list(enumerate(logs)) if isinstance(logs, list) else [(None, data)]
    where = {}
    for index, log in objects:
        for key, value in log.items() if isinstance(log, dict) else ():
            try:
                json.dumps([key, value], ensure_ascii=False).encode()
            except UnicodeEncodeError:
                where[key if index is None else f"logs[{index}].{key}"] = [
                    "Not valid Unicode text: invalid UTF-8 bytes or an escaped lone surrogate (\\ud800-\\udfff)."]
    return where or None


def _parse(raw: bytes) -> JsonBody:
    if not raw:
        raise BadRequest("The request body is empty.", code="invalid_json")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"Invalid JSON: {exc}", code="invalid_json", details=_not_unicode(raw)) from None
    depth = settings.MAX_JSON_DEPTH
    if json_depth_exceeds(raw, depth):
        raise BadRequest(f"JSON nesting exceeds the limit of {depth} levels.", code="json_too_deep",
                         details={"max_depth": depth})
    return JsonBody(data=data, has_nul=b"\\u0000" in raw)


def parse_batch(raw: bytes) -> JsonBody:
    """A batch body as {"logs": [{field: raw JSON text}]} when it has that shape, else as
    `_parse` reads any body (which also answers every malformed one, with orjson's message).
    The text is checked for what the parser lets through: UTF-8 (the parser does not look
    inside the values it skips), nesting depth; an escaped U+0000 takes `_parse`'s road, which
    replaces it (validation.replace_nul)."""
    if not raw or b"\\u0000" in raw:
        return _parse(raw)
    try:
        data = _BATCH_DECODER.decode(raw)
    except (msgspec.DecodeError, RecursionError):  # malformed, not {"logs": [objects]}: the general road tells
        return _parse(raw)
    try:
        raw.decode()
    except UnicodeDecodeError:  # orjson refuses it too; `_parse` says where
        return _parse(raw)
    depth = settings.MAX_JSON_DEPTH
    if json_depth_exceeds(raw, depth):
        raise BadRequest(f"JSON nesting exceeds the limit of {depth} levels.", code="json_too_deep",
                         details={"max_depth": depth})
    return JsonBody(data=data, has_nul=False, raw_values=True)


def read_batch_body(request: Request, *, max_bytes: int) -> JsonBody:
    """A batch request's JSON body (`read_json_body`'s limits), each log's values kept as text."""
    _check_media_type(request._request)
    return parse_batch(read_body(request, max_bytes=max_bytes))


def read_json_body(request: Request, *, max_bytes: int) -> JsonBody:
    """The request's JSON body, every limit checked before the work it protects."""
    _check_media_type(request._request)
    return _parse(read_body(request, max_bytes=max_bytes))
