"""What a batch of 100 logs costs PostgreSQL, piece by piece: triggers, the error-issue index,
partitions touched, relation locks (issue 24's batch ingestion against the plain table).

    python bench/insert_cost.py <dsn> [--rounds 5] [--batches 40] [--client SLUG] [--variants a,b,...]

On a scratch copy of a benchmark database (variants change its schema for their turn and
restore it: ALTER TABLE ... DISABLE TRIGGER, DROP INDEX / CREATE INDEX). The batch: 100 of the
client's stored logs (new ids, no event ids, as the harness's batches), inserted by one
`INSERT ... SELECT` per transaction, rolled back (a commit's WAL flush is not CPU of the
statement; locks are released alike). Each variant runs `--batches` transactions per round, the
variants alternate within every round; per variant the median over rounds of the backend's CPU
(/proc/<pid>/schedstat) per log, its range, and the relation locks one batch takes (all, and how
many of them PostgreSQL's 16 fast-path slots held). Run it under `flock /work/notes/bench.lock`.
"""
from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ERROR_INDEX = importlib.import_module("logs.migrations.0017_error_issue_index")

# executed_at of the batch's rows: all within the last hour (live logs: one partition) or a
# quarter of them in each of the last four months (the harness's batches span 90 days)
SPREADS = {"1 partition": "now() - make_interval(secs => b.i * 30)",
           "4 partitions": "now() - make_interval(days => ((b.i % 4) * 30)::int, secs => b.i * 30)"}

# name: (spread, setup, teardown)
VARIANTS = {
    "all (4 partitions)": ("4 partitions", "", ""),
    "all (1 partition)": ("1 partition", "", ""),
    "no rollup trigger": ("4 partitions", "ALTER TABLE workflow_logs DISABLE TRIGGER logs_rollup_insert",
                          "ALTER TABLE workflow_logs ENABLE TRIGGER logs_rollup_insert"),
    "no search trigger": ("4 partitions", "ALTER TABLE workflow_logs DISABLE TRIGGER logs_search_insert",
                          "ALTER TABLE workflow_logs ENABLE TRIGGER logs_search_insert"),
    "no error-issue index": ("4 partitions", f"DROP INDEX {ERROR_INDEX.NAME}",
                             f"CREATE INDEX {ERROR_INDEX.NAME} ON workflow_logs {ERROR_INDEX.COLUMNS}"),
}


def _cpu(pid: int) -> float:
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0]) / 1e9


def _statement(conn: psycopg.Connection, spread: str) -> str:
    columns = [row[0] for row in conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = 'workflow_logs'::regclass AND attnum > 0 "
        "AND NOT attisdropped ORDER BY attnum")]
    special = {"id": "gen_random_uuid()", "event_id": "NULL", "executed_at": spread}
    values = ", ".join(special.get(c, f"b.{c}") for c in columns)
    return f"INSERT INTO workflow_logs ({', '.join(columns)}) SELECT {values} FROM bench_batch b"


def run_variant(conn: psycopg.Connection, pid: int, statement: str, batches: int) -> tuple[float, int, int]:
    """(CPU seconds of `batches` inserts, relation locks of one batch, of them fast-path)."""
    cpu = 0.0
    for k in range(batches):
        with conn.transaction(force_rollback=True):
            before = _cpu(pid)
            conn.execute(statement)
            cpu += _cpu(pid) - before
            if k == 0:
                locks, fast = conn.execute(
                    "SELECT count(*), count(*) FILTER (WHERE fastpath) FROM pg_locks "
                    "WHERE pid = pg_backend_pid() AND locktype = 'relation'").fetchone()
    return cpu, locks, fast


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dsn")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--client", default="bench-other-01")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    names = args.variants.split(",")
    conn = psycopg.connect(args.dsn, autocommit=True)
    conn.execute("SET statement_timeout = 0")
    pid = conn.info.backend_pid
    conn.execute("CREATE TEMP TABLE bench_batch AS SELECT row_number() OVER () AS i, w.* FROM workflow_logs w "
                 "WHERE client_id = (SELECT id FROM tenants_client WHERE slug = %s) "
                 "ORDER BY executed_at DESC LIMIT 100", [args.client])
    statements = {spread: _statement(conn, sql) for spread, sql in SPREADS.items()}
    results: dict[str, list[float]] = {name: [] for name in names}
    locks: dict[str, tuple[int, int]] = {}
    for round_ in range(args.rounds + 1):  # round 0 warms the caches, not counted
        for name in names:
            spread, setup, teardown = VARIANTS[name]
            if setup:
                conn.execute(setup)
            try:
                cpu, *locks[name] = run_variant(conn, pid, statements[spread], args.batches)
            finally:
                if teardown:
                    conn.execute(teardown)
            if round_:
                results[name].append(cpu * 1e6 / (args.batches * 100))
    print(f"{args.rounds} rounds of {args.batches} batches of 100 logs; load average {os.getloadavg()[0]:.2f}")
    base = statistics.median(results[names[0]])
    for name in names:
        values = results[name]
        median = statistics.median(values)
        print(f"  {name:24} backend CPU {median:6.1f} µs/log ({min(values):.1f}-{max(values):.1f}), "
              f"{median / base:.3f} of '{names[0]}'; relation locks per batch {locks[name][0]} "
              f"({locks[name][1]} fast-path)")


if __name__ == "__main__":
    main()
