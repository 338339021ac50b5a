"""`manage.py scrub_logs`: the tenant's current rules applied to logs already stored.

A tenant turns scrubbing on late, or adds a rule: its stored logs are read in batches in
(executed_at, id) order, each batch locked, scrubbed with the same `scrub_log` as ingestion
and written back (only the logs that changed) in its own short transaction, so ingestion and
reads go on meanwhile. Scrubbing is idempotent (a marker is never matched again), so a batch
done twice changes nothing.

Resumable: after each batch the run's position (the last log's executed_at and id) is saved
in a `ScrubRun` row. Running the same command again (same client and --since, same rules)
continues from there; changed rules, or --restart, start over. --dry-run reads and reports
what would change, writes nothing and saves no position.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from logs.tenant_sql import rewrite
from scrubbing import services
from scrubbing.engine import scrub_log
from scrubbing.models import ScrubbingSettings, ScrubRun
from scrubbing.rules import KEY_RULES, VALUE_RULES
from tenants.models import Client

DEFAULT_BATCH_SIZE = 500


@dataclass
class Progress:
    total: int
    scanned: int = 0
    changed: int = 0
    replaced: dict[str, int] = field(default_factory=dict)
    resumed_from: int = 0

    def line(self, slug: str) -> str:
        share = f" ({100 * self.scanned / self.total:.0f}%)" if self.total else ""
        return (f"{slug}: {self.scanned:,}/{self.total:,} logs scanned{share}, {self.changed:,} changed, "
                f"{sum(self.replaced.values()):,} values replaced")


def rules_digest(client: Client) -> tuple[int, str]:
    """The tenant's settings version and a digest of every rule in force (defaults included),
    so a saved position is only reused under the very same rules."""
    row = ScrubbingSettings.objects.for_client(client).first()
    described = {
        "settings": None if row is None else [row.disabled_rules, row.extra_keys, row.custom_patterns,
                                               row.allow_paths, row.email_mode],
        "locked": settings.SCRUBBING_DEFAULTS_LOCKED,
        "defaults": [(rule.id, rule.candidate) for rule in VALUE_RULES] + [(rule.id, rule.words) for rule in KEY_RULES],
    }
    digest = hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()
    return (row.version if row else 0), digest


def _checkpoint(client: Client, since: dt.datetime | None, restart: bool) -> ScrubRun:
    version, digest = rules_digest(client)
    run = (ScrubRun.objects.for_client(client).filter(since=since, finished_at__isnull=True, rules_digest=digest)
           .order_by("-started_at").first())
    if run is None or restart:
        run = ScrubRun.objects.create(client=client, since=since, settings_version=version, rules_digest=digest)
    return run


def _total(client: Client, since: dt.datetime | None) -> int:
    """How many logs the run covers, for its progress; 0 (unknown) when counting takes longer
    than the statement timeout (DB_STATEMENT_TIMEOUT_MS) on a very large tenant."""
    try:
        with transaction.atomic():
            return rewrite.count_logs(client, since=since)
    except DatabaseError:
        return 0


def scrub_stored_logs(*, client: Client, since: dt.datetime | None = None, dry_run: bool = False,
                      batch_size: int = DEFAULT_BATCH_SIZE, restart: bool = False,
                      report: Callable[[Progress], None] = lambda progress: None) -> Progress:
    """Apply the tenant's current rules to its stored logs executed since `since` (all: None)."""
    services.forget(client)
    rules = services.rules_for(client)
    run = None if dry_run else _checkpoint(client, since, restart)
    after = None
    if run is not None and run.after_id is not None:
        after = (run.after_executed_at, run.after_id)
    progress = Progress(total=_total(client, since))
    if run is not None:
        progress.scanned = progress.resumed_from = run.scanned
        progress.changed = run.changed
    while True:
        with transaction.atomic():
            rows = rewrite.batch(client, since=since, after=after, limit=batch_size, lock=not dry_run)
            if not rows:
                break
            changed, replaced = [], 0
            for row in rows:
                counts = scrub_log(rules, row)
                if counts:
                    row["scrubbed"] = services.merge_counts(row.get("scrubbed"), counts)
                    changed.append(row)
                    progress.replaced = services.merge_counts(progress.replaced, counts)
                    replaced += sum(counts.values())
            if not dry_run:
                rewrite.update_columns(client, changed)
            after = (rows[-1]["executed_at"], rows[-1]["id"])
            progress.scanned += len(rows)
            progress.changed += len(changed)
            if run is not None:
                run.after_executed_at, run.after_id = after
                run.scanned, run.changed = progress.scanned, progress.changed
                run.replaced += replaced
                run.save(update_fields=["after_executed_at", "after_id", "scanned", "changed", "replaced", "updated_at"])
        report(progress)
    if run is not None:
        run.finished_at = timezone.now()
        run.save(update_fields=["finished_at", "updated_at"])
    return progress
