"""`workflow_logs` becomes a table partitioned by range of `executed_at` (logs/partitions.py).

The primary key becomes `(id, executed_at)` (ids stay unique: UUIDv7, from the log's time);
idempotency's unique `(client_id, event_id)` is `logs_event_ids` (0013), and the table's own
unique index on it goes. Servers of the previous release cannot write to the partitioned table
(their insert names that index): apply this once every server runs this release (0013 says how).

An install with logs keeps them where they are: the existing table becomes the partition
`workflow_logs_min_<date>` for everything before the next interval boundary (no row is copied;
it is dropped whole once every tenant's retention has passed its newest log, and retention
deletes inside it meanwhile), and partitions are created from that boundary on. Before the
switch, without blocking anyone, the primary key's new index is built CONCURRENTLY. The switch itself is
one short transaction under an ACCESS EXCLUSIVE lock, whose only step proportional to the table
is the ATTACH's check of the rows' dates (a sequential read of the table); ingestion waits for
it up to INGEST_DB_TIMEOUT_MS and then spools (202), reads answer 503 meanwhile, and both resume
by themselves. An empty table (a new install) is simply replaced.

Progress is printed for the slow steps. bench/partition_bench.py measures it at 1M rows.
"""
from __future__ import annotations

import datetime as dt
import sys
import time

from django.conf import settings
from django.db import OperationalError, migrations, transaction

UTC = dt.timezone.utc
EVENT_UNIQUE = "wl_client_event_id_uniq"
NEW_KEY = "wl_legacy_id_executed"

TRIGGERS = r"""
CREATE TRIGGER logs_rollup_insert AFTER INSERT ON workflow_logs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION logs_rollup_on_insert();
CREATE TRIGGER logs_rollup_delete AFTER DELETE ON workflow_logs
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION logs_rollup_on_delete();
CREATE TRIGGER logs_rollup_update AFTER UPDATE ON workflow_logs
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION logs_rollup_on_update();
CREATE TRIGGER logs_rollup_truncate AFTER TRUNCATE ON workflow_logs
    FOR EACH STATEMENT EXECUTE FUNCTION logs_rollup_on_truncate();
CREATE TRIGGER logs_event_ids_delete AFTER DELETE ON workflow_logs
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION logs_event_ids_on_delete();
"""
OLD_TRIGGERS = ("logs_rollup_insert", "logs_rollup_delete", "logs_rollup_update", "logs_rollup_truncate",
                "logs_event_ids_delete", "logs_event_ids_copy")


def _say(message: str) -> None:
    sys.stdout.write(f"\n  workflow_logs: {message}")
    sys.stdout.flush()


def _floor(when: dt.datetime, interval: str) -> dt.datetime:
    if interval == "month":
        return dt.datetime(when.year, when.month, 1, tzinfo=UTC)
    day = dt.datetime(when.year, when.month, when.day, tzinfo=UTC)
    return day - dt.timedelta(days=day.weekday())


def _step(start: dt.datetime, interval: str) -> dt.datetime:
    if interval == "month":
        months = start.year * 12 + start.month
        return dt.datetime(months // 12, months % 12 + 1, 1, tzinfo=UTC)
    return start + dt.timedelta(weeks=1)


def _name(lo: dt.datetime | None, hi: dt.datetime | None) -> str:
    return f"workflow_logs_{'min' if lo is None else f'{lo:%Y%m%d}'}_{'max' if hi is None else f'{hi:%Y%m%d}'}"


def _literal(value: dt.datetime | None, infinite: str) -> str:
    return infinite if value is None else f"'{value.isoformat()}'"


def _partition(cursor, lo: dt.datetime | None, hi: dt.datetime | None) -> None:
    cursor.execute(f"CREATE TABLE {_name(lo, hi)} PARTITION OF workflow_logs FOR VALUES FROM "
                   f"({_literal(lo, 'MINVALUE')}) TO ({_literal(hi, 'MAXVALUE')})")


def _prepare_existing(connection) -> None:
    """Outside any transaction: the new primary key's index, built without blocking anyone."""
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        started = time.monotonic()
        _say("building the index (id, executed_at) CONCURRENTLY ...")
        cursor.execute(f"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {NEW_KEY} ON workflow_logs (id, executed_at)")
        _say(f"index built in {time.monotonic() - started:.1f} s")
        cursor.execute("RESET statement_timeout")


def _replace_table(cursor, old_name: str, partitioning: str, *, skip: tuple[str, ...]) -> tuple[list, list]:
    """Rename workflow_logs to `old_name` and create a new, empty workflow_logs like it; returns
    the old table's index definitions (but its primary key and `skip`) and foreign keys, to
    give the new one."""
    cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                   "AND tablename = 'workflow_logs' AND indexname <> 'workflow_logs_pkey' "
                   "AND NOT indexname = ANY(%s) ORDER BY indexname", [list(skip)])
    indexes = cursor.fetchall()
    cursor.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                   "WHERE conrelid = 'workflow_logs'::regclass AND contype = 'f'")
    foreign_keys = cursor.fetchall()
    cursor.execute(f"ALTER TABLE workflow_logs RENAME TO {old_name}")
    cursor.execute(f"CREATE TABLE workflow_logs (LIKE {old_name} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
                   f"INCLUDING STORAGE INCLUDING COMPRESSION){partitioning}")
    return indexes, foreign_keys


def _swap(connection, *, has_rows: bool, now: dt.datetime) -> None:
    """The switch, in one transaction: the old table becomes a partition (or goes, if empty)."""
    interval, ahead = settings.LOG_PARTITION_INTERVAL, settings.LOG_PARTITIONS_AHEAD
    current = _floor(now, interval)
    bound = _step(current, interval) if has_rows else current  # the old table keeps the current interval
    end = current
    for _ in range(ahead + 1):
        end = _step(end, interval)
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 0")
        cursor.execute("SET LOCAL lock_timeout = '5s'")
        cursor.execute("LOCK TABLE workflow_logs IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        for trigger in OLD_TRIGGERS:
            cursor.execute(f"DROP TRIGGER IF EXISTS {trigger} ON workflow_logs")
        indexes, foreign_keys = _replace_table(cursor, "workflow_logs_legacy", " PARTITION BY RANGE (executed_at)",
                                               skip=(EVENT_UNIQUE, NEW_KEY))
        if has_rows:
            cursor.execute("ALTER TABLE workflow_logs_legacy DROP CONSTRAINT workflow_logs_pkey")
            cursor.execute(f"ALTER TABLE workflow_logs_legacy ADD CONSTRAINT workflow_logs_legacy_pkey "
                           f"PRIMARY KEY USING INDEX {NEW_KEY}")
            cursor.execute(f"DROP INDEX IF EXISTS {EVENT_UNIQUE}")
            for i, (name, _definition) in enumerate(indexes):
                cursor.execute(f'ALTER INDEX "{name}" RENAME TO workflow_logs_legacy_{i}')
        else:
            cursor.execute("DROP TABLE workflow_logs_legacy")
        cursor.execute("ALTER TABLE workflow_logs ADD CONSTRAINT workflow_logs_pkey PRIMARY KEY (id, executed_at)")
        for name, definition in foreign_keys:
            cursor.execute(f'ALTER TABLE workflow_logs ADD CONSTRAINT "{name}" {definition}')
        for _name_, definition in indexes:  # on the parent, with the old names (Django's state)
            cursor.execute(definition)
        moved = 0
        if has_rows:
            # Logs dated after the boundary (a clock ahead) wait in a temporary table meanwhile.
            cursor.execute("CREATE TEMPORARY TABLE logs_moving ON COMMIT DROP AS "
                           "SELECT * FROM workflow_logs_legacy WHERE executed_at >= %s", [bound])
            cursor.execute("DELETE FROM workflow_logs_legacy WHERE executed_at >= %s", [bound])
            moved = cursor.rowcount
            _say(f"checking the dates of the existing logs (ATTACH) ...")
            cursor.execute(f"ALTER TABLE workflow_logs ATTACH PARTITION workflow_logs_legacy "
                           f"FOR VALUES FROM (MINVALUE) TO ({_literal(bound, '')})")
            cursor.execute(f"ALTER TABLE workflow_logs_legacy RENAME TO {_name(None, bound)}")
        lo = bound
        while lo < end:
            _partition(cursor, lo, _step(lo, interval))
            lo = _step(lo, interval)
        if moved:
            cursor.execute("SELECT 1 FROM logs_moving WHERE executed_at >= %s LIMIT 1", [end])
            if cursor.fetchone():
                _partition(cursor, end, None)
            # No triggers yet: the rollup and the event ids count these logs already.
            cursor.execute("INSERT INTO workflow_logs SELECT * FROM logs_moving")
        cursor.execute(TRIGGERS)
        cursor.execute("COMMENT ON TABLE workflow_logs IS 'Workflow logs, partitioned by range of executed_at "
                       "(logs/partitions.py).'")
        if has_rows:
            _say(f"switched in {time.monotonic() - started:.1f} s (under the lock); {moved} future-dated logs moved")


def forward(apps, schema_editor) -> None:  # noqa: ANN001 - migration signature
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = 'workflow_logs'::regclass")
        if cursor.fetchone()[0] == "p":
            return  # already partitioned
        cursor.execute("SELECT EXISTS (SELECT 1 FROM workflow_logs)")
        has_rows = cursor.fetchone()[0]
    if has_rows:
        _prepare_existing(connection)
    for attempt in range(1, 11):
        try:
            _swap(connection, has_rows=has_rows, now=dt.datetime.now(UTC))
            break
        except OperationalError as exc:  # a lock timeout behind a long query: try again
            if "lock timeout" not in str(exc) or attempt == 10:
                raise
            _say(f"lock not granted within 5 s (attempt {attempt}); retrying")
    if has_rows:
        sys.stdout.write("\n")


def backward(apps, schema_editor) -> None:  # noqa: ANN001 - migration signature
    """Back to one plain table (copies every row: for development databases)."""
    with transaction.atomic(using=schema_editor.connection.alias), schema_editor.connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 0")
        cursor.execute("LOCK TABLE workflow_logs IN ACCESS EXCLUSIVE MODE")
        indexes, foreign_keys = _replace_table(cursor, "workflow_logs_partitioned", "", skip=())
        cursor.execute("INSERT INTO workflow_logs SELECT * FROM workflow_logs_partitioned")
        cursor.execute("DROP TABLE workflow_logs_partitioned")
        cursor.execute("ALTER TABLE workflow_logs ADD CONSTRAINT workflow_logs_pkey PRIMARY KEY (id)")
        for name, definition in foreign_keys:
            cursor.execute(f'ALTER TABLE workflow_logs ADD CONSTRAINT "{name}" {definition}')
        for _name_, definition in indexes:
            cursor.execute(definition)
        cursor.execute(f"CREATE UNIQUE INDEX {EVENT_UNIQUE} ON workflow_logs (client_id, event_id) "
                       "WHERE event_id IS NOT NULL")
        cursor.execute(TRIGGERS)
        # As after 0013: the event ids of inserts that do not claim them are mirrored.
        cursor.execute("CREATE TRIGGER logs_event_ids_copy AFTER INSERT ON workflow_logs REFERENCING NEW TABLE "
                       "AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION logs_event_ids_copy()")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY
    dependencies = [("logs", "0013_event_ids")]
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.RemoveConstraint(model_name="workflowlog", name=EVENT_UNIQUE)],
            database_operations=[migrations.RunPython(forward, backward)],
        ),
    ]
