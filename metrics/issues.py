"""Error issues: the failing logs of one tenant grouped as an error tracker groups them.

An issue is one error fingerprint: error type × node × the error message normalised (numbers,
ids, quoted values, URLs and e-mail addresses masked; logs migration 0016). A failing log is one with
status FAILED/ERROR or an error type, as in `metrics_errors`.

Figures of an issue (pinned by metrics/tests/test_issues.py with hand-computed numbers):
* `count`, `versions` (count per workflow version, most first) and `trend` (count per UTC
  bucket of the period, aligned with the answer's `buckets`): the failing logs of the period
  that match the filters;
* `first_seen` / `last_seen`: the first and last failing log of the issue ever stored, whatever
  the period and filters (as an error tracker shows them);
* `first_version`: the workflow version of that first log; `new_in_version`: the same version
  when the issue is new in it, i.e. that version is not the client's oldest (versions ordered by
  their first log) and the issue never occurred on an older one; else null;
* `workflow_error_type`, `workflow_error_node`, `pattern` (the normalised message) and `latest`
  come from the issue's latest failing log in the period (matching the filters).

The rollup's kind F (per fingerprint × version, per hour and day) answers the period and the
history; a filter other than workflow_version (environment, category) makes the period a scan
of the tenant's failing logs (logs/tenant_sql/issues.py); the history always comes from the
rollup.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from logs.periods import UTC, Period
from logs.tenant_sql import issues as sql
from metrics import rollup
from metrics.counts import EARLIEST, LAST_DAY
from metrics.selectors import Scope, timeseries_buckets
from tenants.models import Client

MAX_MESSAGE = 1000
EXAMPLES = 20
SORTS = ("count", "recent", "new")


@dataclass
class _Issue:
    fingerprint: str
    count: int = 0
    last: dt.datetime | None = None  # latest failing log in the period
    versions: Counter[str | None] = field(default_factory=Counter)
    trend: Counter[dt.datetime] = field(default_factory=Counter)

    def add(self, bucket: dt.datetime, version: str | None, count: int, last: dt.datetime) -> None:
        self.count += count
        self.versions[version] += count
        self.trend[bucket] += count
        if self.last is None or last > self.last:
            self.last = last


@dataclass(frozen=True)
class _History:
    first_seen: dt.datetime
    last_seen: dt.datetime
    first_version: str | None
    new_in_version: str | None


def _period_rows(scope: Scope, period: Period, interval: str) -> list[tuple[Any, ...]]:
    """(bucket, fingerprint, version, count, first, last) of the period's failing logs."""
    versions = scope.filters.get("workflow_version")
    if rollup.enabled() and scope.filters.keys() <= {"workflow_version"}:
        groups = rollup.issue_groups(scope.client, start=period.start, end=period.end, interval=interval)
        return [(bucket, fingerprint, version, g["count"], g["first_seen"], g["last_seen"])
                for (bucket, fingerprint, version), g in groups.items()
                if versions is None or version in versions]
    rows = sql.scan_issues(scope.client, condition=scope.where[0], params=scope.where[1], start=period.start,
                           end=period.end, interval=interval)
    return [(bucket.astimezone(UTC), *rest) for bucket, *rest in rows]


def _period_issues(scope: Scope, period: Period, interval: str) -> dict[str, _Issue]:
    found: dict[str, _Issue] = {}
    for bucket, fingerprint, version, count, _first, last in _period_rows(scope, period, interval):
        issue = found.get(fingerprint)
        if issue is None:
            issue = found[fingerprint] = _Issue(fingerprint)
        issue.add(bucket, version, count, last)
    return found


def _version_order(client: Client) -> dict[str | None, dt.datetime]:
    """Every workflow version of the client with the time of its first log."""
    stats = rollup.group_stats(client, start=EARLIEST, end=LAST_DAY, group="workflow_version")
    return {version: s["first_seen"] for version, s in stats.items() if s["first_seen"] is not None}


def _history(client: Client) -> dict[str, _History]:
    """Per fingerprint ever seen: first/last seen, first version, new-in version (module doc)."""
    seen: dict[str, dict[str | None, tuple[dt.datetime, dt.datetime]]] = {}
    for (fingerprint, version), g in rollup.issue_groups(client, start=EARLIEST, end=LAST_DAY,
                                                         interval=None).items():
        seen.setdefault(fingerprint, {})[version] = (g["first_seen"], g["last_seen"])
    versions = _version_order(client)
    oldest = min(versions.values(), default=None)
    out = {}
    for fingerprint, by_version in seen.items():
        first_version = min(by_version, key=lambda v: by_version[v][0])
        introduced = versions.get(first_version)
        new_in = None
        if (first_version is not None and introduced is not None and introduced != oldest
                and all(v is None or versions.get(v, introduced) >= introduced for v in by_version)):
            new_in = first_version
        out[fingerprint] = _History(
            first_seen=min(first for first, _ in by_version.values()),
            last_seen=max(last for _, last in by_version.values()),
            first_version=first_version, new_in_version=new_in)
    return out


def _latest_examples(scope: Scope, issues: list[_Issue]) -> dict[str, dict[str, Any]]:
    """Each issue's latest failing log in the period: the logs at the issues' latest instants,
    matched to their issue by fingerprint (an index probe per instant)."""
    instants = sorted({issue.last for issue in issues if issue.last is not None})
    if not instants:
        return {}
    wanted = {issue.fingerprint: issue.last for issue in issues}
    examples: dict[str, dict[str, Any]] = {}
    for row in sql.failing_logs_at(scope.client, instants=instants, condition=scope.where[0],
                                   params=scope.where[1], max_message=MAX_MESSAGE):
        if wanted.get(row["fingerprint"]) == row["executed_at"]:
            examples.setdefault(row["fingerprint"], row)
    return examples


def _example_out(row: dict[str, Any]) -> dict[str, Any]:
    return {"log_id": row["id"], "executed_at": row["executed_at"], "ticket_id": row["ticket_id"],
            "status": row["status"], "workflow_version": row["workflow_version"], "message": row["workflow_error"]}


def _issue_out(issue: _Issue, history: _History | None, example: dict[str, Any] | None,
               buckets: list[dt.datetime]) -> dict[str, Any]:
    return {
        "fingerprint": issue.fingerprint,
        "workflow_error_type": example["workflow_error_type"] if example else None,
        "workflow_error_node": example["workflow_error_node"] if example else None,
        "pattern": example["pattern"] if example else "",
        "count": issue.count,
        "first_seen": history.first_seen if history else issue.last,
        "last_seen": history.last_seen if history else issue.last,
        "first_version": history.first_version if history else None,
        "new_in_version": history.new_in_version if history else None,
        "versions": [{"workflow_version": v, "count": n}
                     for v, n in sorted(issue.versions.items(), key=lambda item: (-item[1], item[0] or ""))],
        "trend": [issue.trend.get(bucket, 0) for bucket in buckets],
        "latest": _example_out(example) if example else None,
    }


def _sort_key(sort: str, issue: _Issue, history: _History | None) -> tuple[Any, ...]:
    last = issue.last.timestamp() if issue.last else 0.0
    if sort == "new":
        return (-(history.first_seen.timestamp() if history else last), -issue.count, issue.fingerprint)
    if sort == "recent":
        return (-last, -issue.count, issue.fingerprint)
    return (-issue.count, -last, issue.fingerprint)


def metrics_issues(scope: Scope, *, period: Period, interval: str, limit: int, sort: str = "count",
                   new_in: str | None = None) -> dict[str, Any]:
    """The error issues of the period (see the module docstring): at most `limit`, sorted by
    `sort` (count: most failing logs first; recent: latest first; new: first seen last first),
    optionally only those new in the workflow version `new_in`. `total`: issues in the period
    (after `new_in`); `failing_logs`: their failing logs."""
    found = _period_issues(scope, period, interval)
    history = _history(scope.client) if found else {}
    selected = [issue for issue in found.values()
                if new_in is None or (history.get(issue.fingerprint) and history[issue.fingerprint].new_in_version == new_in)]
    selected.sort(key=lambda issue: _sort_key(sort, issue, history.get(issue.fingerprint)))
    shown = selected[:limit]
    examples = _latest_examples(scope, shown)
    buckets = timeseries_buckets(period.start, period.end, interval)
    return {
        "data": [_issue_out(issue, history.get(issue.fingerprint), examples.get(issue.fingerprint), buckets)
                 for issue in shown],
        "total": len(selected),
        "failing_logs": sum(issue.count for issue in selected),
        "interval": interval,
        "buckets": buckets,
        **period.fields(),
    }


def metrics_issue(scope: Scope, *, period: Period, interval: str, fingerprint: str) -> dict[str, Any] | None:
    """One issue: its figures in the period (count 0 when it did not occur in it), its newest
    EXAMPLES failing logs in the period, and the latest one ever (what identifies it). None
    when the client never had a failing log with this fingerprint."""
    history = _history(scope.client).get(fingerprint)
    if history is None:
        return None
    issue = _period_issues(scope, period, interval).get(fingerprint) or _Issue(fingerprint)
    examples = sql.issue_logs(scope.client, fingerprint=fingerprint, start=period.start, end=period.end,
                              condition=scope.where[0], params=scope.where[1], limit=EXAMPLES,
                              max_message=MAX_MESSAGE)
    identity = examples[0] if examples else next(iter(sql.issue_logs(
        scope.client, fingerprint=fingerprint, start=EARLIEST, end=LAST_DAY, condition="", params=[], limit=1,
        max_message=MAX_MESSAGE)), None)
    buckets = timeseries_buckets(period.start, period.end, interval)
    return {
        **_issue_out(issue, history, identity, buckets),
        "examples": [_example_out(row) for row in examples],
        "interval": interval,
        "buckets": buckets,
        **period.fields(),
    }
