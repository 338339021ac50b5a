"""The rollups' cost per inserted log in PostgreSQL: the insert triggers and the flusher, A/B.

    python bench/rollup_cost.py <dsn A> [<dsn B>] [--rounds 10] [--logs 1000] [--client SLUG]

On each database (A and B alternate within every round; the server on this machine, so the
backend's CPU is read from /proc/<pid>/schedstat), in one transaction that is rolled back:

1. INSERT ... SELECT of `--logs` copies of the client's newest stored logs (new ids, no event
   ids, executed within the last `--spread` seconds: the statement of a batch of live logs, with
   every trigger of the table), then
2. the flusher's fold of what that insert left pending (`logs_rollup_flush` + `logs_usage_flush`;
   after the same INSERT and fold once before, unmeasured: the cells of the hour exist, as
   they do after the flusher's earlier rounds in production),
3. the same INSERT with the rollup's insert trigger disabled (inside the rolled-back transaction),

and prints per log the medians (and ranges) of the backend's CPU and the wall time of each step,
and "rollup" = (1) - (3) + (2): what the rollups cost PostgreSQL per log. The client's logs
should carry tokens and cost as real ones do (dashboard/e2e/perf_seed.py's realistic logs).
Run it under `flock /work/notes/bench.lock`.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import psycopg

def _cpu(pid: int) -> float:
    """Seconds of CPU of process `pid` so far (the scheduler's nanosecond count: /proc/<pid>/stat's
    clock ticks of 10 ms are too coarse for statements of tens of milliseconds)."""
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0]) / 1e9


def _insert_sql(conn: psycopg.Connection) -> str:
    columns = [row[0] for row in conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = 'workflow_logs'::regclass AND attnum > 0 "
        "AND NOT attisdropped ORDER BY attnum")]
    # executed_at: within the last `spread` seconds, as logs arrive from live workflows (the
    # flusher then folds logs of the same hour together, as in production)
    special = {"id": "gen_random_uuid()", "event_id": "NULL",
               "executed_at": "now() - random() * make_interval(secs => %(spread)s)"}
    copied = ", ".join(special.get(c, c) for c in columns)
    return (f"INSERT INTO workflow_logs ({', '.join(columns)}) SELECT {copied} FROM workflow_logs "
            "WHERE client_id = %(client)s ORDER BY executed_at DESC LIMIT %(logs)s")


def _timed(conn: psycopg.Connection, pid: int, sql: str, params: dict | None = None) -> tuple[float, float]:
    cpu, wall = _cpu(pid), time.perf_counter()
    conn.execute(sql, params)
    return _cpu(pid) - cpu, time.perf_counter() - wall


def one_round(conn: psycopg.Connection, pid: int, insert: str, params: dict) -> dict[str, tuple[float, float]]:
    out = {}
    flush = "SELECT logs_rollup_flush(1000000) + logs_usage_flush(1000000)"
    with conn.transaction(force_rollback=True):
        # Steady state: the flusher has folded logs of this hour already (the second of two
        # batches is measured), so its fold updates cells more than it creates them.
        conn.execute(insert, params)
        conn.execute(flush)
        out["insert"] = _timed(conn, pid, insert, params)
        out["flush"] = _timed(conn, pid, flush)
    with conn.transaction(force_rollback=True):
        conn.execute("ALTER TABLE workflow_logs DISABLE TRIGGER logs_rollup_insert")
        out["insert, no rollup trigger"] = _timed(conn, pid, insert, params)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dsn", nargs="+")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--logs", type=int, default=1000)
    parser.add_argument("--client", default="bench-other-01")
    parser.add_argument("--spread", type=float, default=60.0,
                        help="the copies' executed_at spread over the last N seconds (default 60)")
    args = parser.parse_args()
    conns = []
    for dsn in args.dsn:
        conn = psycopg.connect(dsn, autocommit=True)
        conn.execute("SET statement_timeout = 0")
        (client,) = conn.execute("SELECT id FROM tenants_client WHERE slug = %s", [args.client]).fetchone()
        (pending,) = conn.execute("SELECT (SELECT count(*) FROM logs_rollup_pending) + "
                                  "(SELECT count(*) FROM logs_usage_pending)").fetchone()
        assert pending == 0, f"{dsn}: {pending} pending rows; flush them first (manage.py flush_rollups)"
        pid = conn.info.backend_pid
        insert = _insert_sql(conn)
        one_round(conn, pid, insert, {"client": client, "logs": args.logs, "spread": args.spread})  # warm the caches
        conns.append((dsn, conn, pid, insert, {"client": client, "logs": args.logs, "spread": args.spread}))
    results: dict[str, dict[str, list[tuple[float, float]]]] = {dsn: {} for dsn in args.dsn}
    for _ in range(args.rounds):
        for dsn, conn, pid, insert, params in conns:
            for step, value in one_round(conn, pid, insert, params).items():
                results[dsn].setdefault(step, []).append(value)
    print(f"{args.rounds} rounds, {args.logs} logs per INSERT; load average {os.getloadavg()[0]:.2f}")
    for dsn, steps in results.items():
        print(dsn)
        rollup = [(a[0] - c[0] + b[0], a[1] - c[1] + b[1]) for a, b, c in
                  zip(steps["insert"], steps["flush"], steps["insert, no rollup trigger"])]
        for step, values in [*steps.items(), ("rollup = insert - no trigger + flush", rollup)]:
            cpu = [v[0] * 1e6 / args.logs for v in values]
            wall = [v[1] * 1e6 / args.logs for v in values]
            print(f"  {step:40} backend CPU {statistics.median(cpu):6.1f} µs/log ({min(cpu):.0f}-{max(cpu):.0f}), "
                  f"wall {statistics.median(wall):6.1f} µs/log ({min(wall):.0f}-{max(wall):.0f})")


if __name__ == "__main__":
    main()
