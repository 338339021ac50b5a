"""What a notification says, and how each channel sends it.

The webhook body (documented in the README):

    {"id": "<delivery id>", "event_id": 7, "notification": "firing" | "reminder" | "resolved" | "test",
     "state": "firing" | "resolved" | "test",
     "rule": {"id", "name", "kind"}, "value", "threshold", "operator",
     "window": {"start", "end", "minutes"}, "filters": {...}, "client": "<slug>",
     "examples": [log ids], "url": "<the dashboard's view of the matching logs>", "detail": {...}}

Signed with the channel's secret: `X-Central-Logger-Timestamp: <unix seconds>` and
`X-Central-Logger-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">`. The timestamp
is the sending time (each retry signs anew), so receivers can refuse old or replayed requests;
`id` is the same on every retry of one notification, so they can drop duplicates.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import orjson
from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from alerts import targets
from alerts.models import Kind
from logs.models import ERROR_STATUSES

UNITS = {Kind.ERROR_RATE: "%", Kind.DURATION_P95: " s"}
TITLES = {Kind.ERROR_RATE: "error rate", Kind.ERROR_COUNT: "failing runs", Kind.DURATION_P95: "p95 duration",
          Kind.METRIC_AVG: "average", Kind.NO_DATA: "runs", Kind.NEW_ERROR_TYPE: "new error types"}
SYMBOLS = {"gt": ">", "gte": "≥", "lt": "<", "lte": "≤"}


def logs_url(*, client: str, kind: str, filters: dict[str, str], start: Any, end: Any,
             statuses: list[str] | None = None, error_type: str | None = None, error_node: str | None = None) -> str:
    """The dashboard's list of the logs behind an alert: the rule's client (its slug, as in every
    dashboard route: `/dashboard/<client>/logs`; without it the dashboard would open the list of
    whichever client the reader used last), the window and the rule's filters.

    The window is half-open [start, end) to the microsecond, as the evaluator counted it; the
    list's end_date is inclusive, so the link ends one microsecond before `end` (at whole
    seconds, the link listed a log stored at `end` itself and missed the fraction of a second
    before it)."""
    query: dict[str, str] = {"start_date": _instant(start), "end_date": _instant(end - dt.timedelta(microseconds=1)),
                             **filters}
    if kind == Kind.ERROR_RATE:
        query["status"] = ",".join(ERROR_STATUSES)
    elif kind == Kind.ERROR_COUNT:
        query["status"] = ",".join(statuses or ERROR_STATUSES)
    if error_type:
        query["workflow_error_type"] = error_type
    if error_node:
        query["workflow_error_node"] = error_node
    if kind == Kind.DURATION_P95:
        query["ordering"] = "-execution_time_seconds"
    return f"{settings.PUBLIC_URL}/dashboard/{quote(client, safe='')}/logs?{urlencode(query)}"


def _instant(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso(value: Any) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if hasattr(value, "strftime") else str(value)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _number(value: float | None, kind: str) -> str:
    if value is None:
        return "no value"
    text = f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    return text + UNITS.get(kind, "")


def summary(payload: dict[str, Any]) -> str:
    """One readable sentence with the numbers: the title of every channel's message."""
    rule, kind = payload["rule"], payload["rule"]["kind"]
    label = {"firing": "FIRING", "resolved": "RESOLVED", "test": "TEST"}[payload["state"]]
    if payload.get("notification") == "reminder":
        label = "STILL FIRING"
    minutes = payload["window"]["minutes"]
    if payload["state"] == "test" and payload["value"] is None:
        what = f"a test notification (the rule has no value yet; window {minutes} min)"
    elif kind == Kind.NO_DATA:
        what = f"{_number(payload['value'], kind)} runs in the last {minutes} min"
    elif kind == Kind.NEW_ERROR_TYPE:
        pairs = payload.get("detail", {}).get("pairs") or []
        names = ", ".join(f"{t} @ {n or '-'}" for t, n in pairs[:3]) or "none"
        what = f"new error type in the last {minutes} min: {names}"
    else:
        name = f"metrics.{payload['detail'].get('metric')} average" if kind == Kind.METRIC_AVG else TITLES[kind]
        what = (f"{name} {_number(payload['value'], kind)} (threshold {SYMBOLS.get(payload['operator'], '≥')} "
                f"{_number(payload['threshold'], kind)}) over the last {minutes} min")
    scope = ", ".join(v for v in payload["filters"].values() if v)
    return f"[{label}] {rule['name']}: {what} ({payload['client']}{', ' + scope if scope else ''})"


@dataclass(frozen=True)
class Result:
    ok: bool
    retry: bool  # worth trying again later (network, 5xx, 429)
    status_code: int | None
    error: str
    excerpt: str = ""


def _http_result(answer: targets.Answer) -> Result:
    status = answer.status
    if 200 <= status < 300:
        return Result(True, False, status, "", answer.excerpt)
    if 300 <= status < 400:
        return Result(False, False, status, f"HTTP {status}: redirects are not followed", answer.excerpt)
    retry = status >= 500 or status in (408, 425, 429)
    return Result(False, retry, status, f"HTTP {status}", answer.excerpt)


def _post(url: str, body: bytes, headers: dict[str, str]) -> Result:
    try:
        return _http_result(targets.post(url, body, headers))
    except targets.TargetRefused as exc:
        return Result(False, False, None, f"refused: {exc}")
    except OSError as exc:  # connection refused, reset, timeout, TLS: try again later
        return Result(False, True, None, f"{exc.__class__.__name__}: {exc}"[:500])


def send_webhook(channel: dict[str, Any], payload: dict[str, Any]) -> Result:
    body = orjson.dumps(payload)
    timestamp = str(int(time.time()))
    return _post(channel["url"], body, {
        "X-Central-Logger-Timestamp": timestamp,
        "X-Central-Logger-Signature": signature(channel.get("secret") or "", timestamp, body),
        "X-Central-Logger-Event": str(payload.get("event_id") or ""),
    })


def slack_message(payload: dict[str, Any]) -> dict[str, Any]:
    """An incoming-webhook message: the summary, the window, examples and a link to the logs."""
    text = summary(payload)
    lines = [f"*{text}*", f"Window: {payload['window']['start']} → {payload['window']['end']} (UTC)"]
    if payload.get("examples"):
        lines.append("Examples: " + ", ".join(f"`{e}`" for e in payload["examples"][:5]))
    lines.append(f"<{payload['url']}|View the matching logs in Central Logger>")
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}]}


def send_slack(channel: dict[str, Any], payload: dict[str, Any]) -> Result:
    return _post(channel["url"], orjson.dumps(slack_message(payload)), {})


def send_email(channel: dict[str, Any], payload: dict[str, Any]) -> Result:
    text = summary(payload)
    body = "\n".join([
        text, "",
        f"Value: {payload['value']}", f"Threshold: {payload['threshold']}",
        f"Window: {payload['window']['start']} to {payload['window']['end']} (UTC)",
        f"Client: {payload['client']}",
        *(f"Filter {k}: {v}" for k, v in payload["filters"].items() if v),
        *([f"Example logs: {', '.join(payload['examples'])}"] if payload.get("examples") else []),
        "", f"Matching logs: {payload['url']}", "",
        "-- Central Logger alerts",
    ])
    try:
        connection = get_connection(timeout=settings.EMAIL_TIMEOUT)
        EmailMessage(subject=text[:200], body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[channel["to"]],
                     connection=connection).send()
    except Exception as exc:  # smtplib / socket: the server refused or is unreachable; retry
        return Result(False, True, None, f"{exc.__class__.__name__}: {exc}"[:500])
    return Result(True, False, None, "")


SENDERS = {"webhook": send_webhook, "slack": send_slack, "email": send_email}


def send(channel: dict[str, Any], payload: dict[str, Any]) -> Result:
    return SENDERS[channel["type"]](channel, payload)


def target_of(channel: dict[str, Any]) -> str:
    """Where a channel sends, for people (no secret)."""
    return channel.get("url") or channel.get("to") or ""
