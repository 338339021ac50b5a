"""One evaluator across processes: real processes on the test database compete for the round."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from alerts.evaluator import LOCK_KEYS
from alerts.models import AlertEvent, AlertRule
from conftest import database_url
from logs.tests.factories import ingest, log_body

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]

# Each process runs rounds for `seconds` and prints how many rules it evaluated.
ROUNDS = """
import sys, time, django
django.setup()
from alerts.evaluator import evaluate_all
evaluated, deadline = 0, time.monotonic() + float(sys.argv[1])
while time.monotonic() < deadline:
    summary = evaluate_all(interval=3600)
    evaluated += summary.rules
print(evaluated)
"""


def _env() -> dict[str, str]:
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "central_logger.settings_test",
            "DATABASE_URL": database_url(connection.settings_dict), "ALERT_ALLOW_PRIVATE_TARGETS": "true"}


def _rules(tenant: Any, n: int) -> None:
    ingest(tenant, *(log_body(executed_at=(timezone.now() - dt.timedelta(minutes=1)).isoformat(), status="FAILED")
                     for _ in range(3)))
    AlertRule.objects.bulk_create([
        AlertRule(client=tenant.client, name=f"rule {i}", kind="error_count", threshold=1, window_minutes=10,
                  statuses=["FAILED", "ERROR"], channels=[{"type": "email", "to": "ops@example.com"}])
        for i in range(n)])


def test_two_processes_evaluate_each_rule_once(transactional_db: Any) -> None:
    from conftest import make_tenant

    _rules(make_tenant("racers"), 60)
    procs = [subprocess.Popen([sys.executable, "-c", ROUNDS, "4"], cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    counts = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        counts.append(int(out.strip().splitlines()[-1]))
    # Rounds ran in both processes over 4 s; the freshness rule (an hour here) and the lock
    # together let each rule be evaluated once, by one of them.
    assert sum(counts) == 60, counts
    assert AlertEvent.objects.count() == 60
    assert AlertRule.objects.filter(state="firing").count() == 60


def test_a_round_is_skipped_while_another_process_holds_the_lock(transactional_db: Any) -> None:
    from conftest import make_tenant

    _rules(make_tenant("waiters"), 3)
    command = [sys.executable, "manage.py", "evaluate_alerts"]
    with psycopg.connect(database_url(connection.settings_dict)) as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", LOCK_KEYS)  # a round in progress elsewhere
        busy = subprocess.run(command, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
        assert busy.returncode == 1 and "Another process is evaluating" in busy.stderr
        assert AlertRule.objects.filter(last_evaluated_at__isnull=False).count() == 0
    done = subprocess.run(command, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("evaluated 3 rules in ") and "3 events, 0 failures" in done.stdout


def test_partition_maintenance_does_not_hold_up_the_alert_round(transactional_db: Any) -> None:
    """Each cross-process runner has a lock of its own: the partition maintainer's runner lock
    (logs/tenant_sql/partitions.py, class 727002, key 1) held elsewhere leaves the alert round free
    (they once shared the keys, so either waited out the other's whole round)."""
    from conftest import make_tenant

    _rules(make_tenant("beside-maintenance"), 2)
    with psycopg.connect(database_url(connection.settings_dict)) as other:
        other.execute("SELECT pg_advisory_lock(727002, 1)")  # a partition maintenance round in progress
        done = subprocess.run([sys.executable, "manage.py", "evaluate_alerts"], cwd=ROOT, env=_env(),
                              capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("evaluated 2 rules in ")
