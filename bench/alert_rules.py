"""What evaluating alert rules costs: N rules (default 1,000) of every kind over the benchmark
fixture's tenants, evaluated in full rounds as the evaluator does them, and each rule alone.

The rules are a deterministic mix (random.Random(7)) shaped like what tenants write: every kind,
windows from 5 minutes to 24 hours, a third without filters, the rest narrowed by environment,
category, workflow version or customer type (the last two outside the rollup's dimensions
often enough to exercise the window scans), error types and nodes taken from the data. The
round runs at a fixed `--now` (the fixture's anchor), so the windows hold the same logs on every
run. Rules, events and deliveries it writes are deleted afterwards unless `--keep`.
"""
from __future__ import annotations

import datetime as dt
import random
import statistics
import time
from collections import defaultdict
from typing import Any

from django.db import connection

from alerts.evaluator import evaluate_all
from alerts.measure import Reader, measure
from alerts.models import AlertEvent, AlertRule, Kind
from tenants.models import Client

PREFIX = "bench:"
WINDOWS = (5, 15, 60, 360, 1440)
KINDS = ((Kind.ERROR_RATE, 25), (Kind.ERROR_COUNT, 15), (Kind.DURATION_P95, 15), (Kind.METRIC_AVG, 15),
         (Kind.NO_DATA, 15), (Kind.NEW_ERROR_TYPE, 15))
METRICS = ("hallucination_risk", "overall_confidence", "planning_confidence", "react_iterations")


def _values(client: Client) -> dict[str, list[Any]]:
    """A tenant's categories, versions, customer types and error pairs (from its last day)."""
    out: dict[str, list[Any]] = {}
    with connection.cursor() as cursor:
        for column in ("category", "workflow_version", "customer_type"):
            cursor.execute(f"SELECT DISTINCT {column} FROM workflow_logs WHERE client_id = %s AND executed_at > "
                           f"(SELECT max(executed_at) FROM workflow_logs WHERE client_id = %s) - interval '1 day' "
                           f"AND {column} IS NOT NULL", [client.pk, client.pk])
            out[column] = sorted(r[0] for r in cursor.fetchall())
        cursor.execute("SELECT DISTINCT workflow_error_type, workflow_error_node FROM workflow_logs WHERE client_id = %s "
                       "AND workflow_error_type IS NOT NULL LIMIT 50", [client.pk])
        out["pairs"] = sorted(cursor.fetchall(), key=str)
    return out


def _filters(rng: random.Random, values: dict[str, list[Any]]) -> dict[str, str]:
    choice = rng.random()
    if choice < 0.35 or not values["category"]:
        return {}
    if choice < 0.55:
        return {"environment": "production"}
    if choice < 0.75:
        return {"category": rng.choice(values["category"])}
    if choice < 0.9 and values["workflow_version"]:
        return {"workflow_version": rng.choice(values["workflow_version"])}
    if values["customer_type"]:
        return {"customer_type": rng.choice(values["customer_type"]), "environment": "production"}
    return {}


def _rule(rng: random.Random, client: Client, values: dict[str, list[Any]], i: int) -> AlertRule:
    kind = rng.choices([k for k, _ in KINDS], weights=[w for _, w in KINDS])[0]
    rule = AlertRule(client=client, name=f"{PREFIX}{i}", kind=kind, window_minutes=rng.choice(WINDOWS),
                     filters=_filters(rng, values), min_runs=10, statuses=["FAILED", "ERROR"],
                     channels=[{"type": "email", "to": "bench@example.com"}], threshold=None)
    if kind == Kind.ERROR_RATE:
        rule.threshold = rng.choice((5.0, 10.0, 25.0))
    elif kind == Kind.ERROR_COUNT:
        rule.threshold = float(rng.choice((5, 20, 100)))
        if values["pairs"] and rng.random() < 0.4:
            rule.error_type, rule.error_node = rng.choice(values["pairs"])
    elif kind == Kind.DURATION_P95:
        rule.threshold = rng.choice((10.0, 30.0, 60.0))
    elif kind == Kind.METRIC_AVG:
        rule.metric, rule.operator = rng.choice(METRICS), rng.choice(("gt", "lt"))
        rule.threshold = 0.5
    return rule


def seed_rules(count: int) -> list[AlertRule]:
    AlertRule.objects.filter(name__startswith=PREFIX).delete()
    clients = list(Client.objects.filter(slug__startswith="bench-").exclude(slug="bench-writer").order_by("slug"))
    values = {c.pk: _values(c) for c in clients}
    rng = random.Random(7)
    rules = [_rule(rng, clients[i % len(clients)], values[clients[i % len(clients)].pk], i) for i in range(count)]
    return AlertRule.objects.bulk_create(rules)


def per_rule(rules: list[AlertRule], now: dt.datetime) -> dict[str, list[float]]:
    """Milliseconds of each rule measured alone (its own reads, nothing shared), by kind and path."""
    costs: dict[str, list[float]] = defaultdict(list)
    for rule in AlertRule.objects.filter(pk__in=[r.pk for r in rules]).select_related("client"):
        started = time.perf_counter()
        measure(rule, now, Reader())
        elapsed = (time.perf_counter() - started) * 1000
        costs[rule.kind].append(elapsed)
        costs["all"].append(elapsed)
        if rule.window_minutes == 1440:
            costs[f"{rule.kind} 24 h"].append(elapsed)
    return costs


def run(*, count: int, now: dt.datetime, rounds: int, keep: bool, write: Any) -> dict[str, Any]:
    started = time.perf_counter()
    rules = seed_rules(count)
    write(f"{len(rules)} rules over {Client.objects.filter(slug__startswith='bench-').count()} clients "
          f"created in {time.perf_counter() - started:.1f}s; evaluating at {now.isoformat()}")
    results: dict[str, Any] = {"rules": len(rules), "rounds": []}
    for i in range(rounds):
        cpu, wall = time.process_time(), time.perf_counter()
        summary = evaluate_all(now=now + dt.timedelta(seconds=i), interval=0)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        results["rounds"].append({"wall_s": round(wall, 3), "process_cpu_s": round(cpu, 3), "rules": summary.rules,
                                  "events": summary.events, "failures": summary.failures})
        write(f"round {i + 1}: {summary.rules} rules in {wall:.3f}s wall, {cpu:.3f}s of this process's CPU; "
              f"{summary.events} events, {summary.failures} failures")
    costs = per_rule(rules, now)
    results["per_rule_ms"] = {}
    for name in sorted(costs):
        values = sorted(costs[name])
        row = {"n": len(values), "median": round(statistics.median(values), 2),
               "p95": round(values[int(0.95 * (len(values) - 1))], 2), "max": round(values[-1], 2),
               "sum_s": round(sum(values) / 1000, 3)}
        results["per_rule_ms"][name] = row
        write(f"  {name:<28} n={row['n']:<4} median {row['median']:>7.2f} ms  p95 {row['p95']:>7.2f} ms  "
              f"max {row['max']:>7.2f} ms  total {row['sum_s']:.3f}s")
    if not keep:
        AlertEvent.objects.filter(rule_name__startswith=PREFIX).delete()
        AlertRule.objects.filter(name__startswith=PREFIX).delete()
    return results
