"""bench_alert_rules: the rule mix is created over the bench tenants, evaluated, measured, and
removed afterwards (the figures themselves are in bench/README.md)."""
from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from alerts.models import AlertEvent, AlertRule
from conftest import make_tenant
from logs.tests.factories import ingest, log_body

pytestmark = pytest.mark.django_db


def test_the_rule_mix_is_evaluated_measured_and_removed(tmp_path: Any) -> None:
    now = timezone.now().replace(microsecond=0)
    for slug in ("bench-main", "bench-other-01"):
        tenant = make_tenant(slug)
        ingest(tenant, *(log_body(executed_at=(now - dt.timedelta(minutes=i)).isoformat(), status=status,
                                  workflow_error_type="TimeoutError" if status == "FAILED" else None,
                                  metrics={"hallucination_risk": 0.9})
                         for i, status in enumerate(["FAILED", "SUCCESS"] * 10)))
    out = StringIO()
    call_command("bench_alert_rules", rules=60, now=now.isoformat(), rounds=2, json=tmp_path / "r.json",
                 stdout=out)
    text = out.getvalue()
    assert "60 rules over 2 clients" in text and "round 2: 60 rules" in text and "0 failures" in text
    assert '"per_rule_ms"' in (tmp_path / "r.json").read_text()
    assert not AlertRule.objects.exists() and not AlertEvent.objects.exists()
