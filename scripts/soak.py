"""Soak test: mixed ingestion and reads for a bounded time; error rate, worker memory, exactly-once.

Local only (127.0.0.1) and bounded (default 10 minutes; --minutes to shorten). Uses its own
scratch database on the shared PostgreSQL (DATABASE_URL's server, database
`central_logger_soak`, dropped and recreated) and its own spool file, starts gunicorn
(gunicorn.conf.py) on 127.0.0.1:8498, and drives it from a second process (scripts/loadgen.py).
Every 10 s it samples each worker's RSS. At the end: error rate, p50/p99/max latency per kind,
RSS growth per worker, and whether every acknowledged log is stored exactly once.

Usage: .venv/bin/python scripts/soak.py [--minutes 10] [--rate 30] [--read-rate 10]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chaos import ROOT, PY, sh, start_gunicorn as _start, worker_pids  # noqa: E402

import chaos  # noqa: E402

PG = os.environ.get("SOAK_PG", "host=127.0.0.1 port=5432 user=root")
DB = "central_logger_soak"
WORK = ROOT / "var" / "soak"


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(int(len(values) * p), len(values) - 1)] if values else 0.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--read-rate", type=float, default=10.0)
    args = parser.parse_args()
    seconds = min(args.minutes, 60) * 60

    WORK.mkdir(parents=True, exist_ok=True)
    for name in ("spool.sqlite3", "spool.sqlite3-wal", "spool.sqlite3-shm", "gunicorn.log"):
        (WORK / name).unlink(missing_ok=True)
    import psycopg

    with psycopg.connect(PG + " dbname=postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB}")
        conn.execute(f"CREATE DATABASE {DB}")
    host = dict(part.split("=") for part in PG.split())
    env = chaos.app_env()
    env.update({"DATABASE_URL": f"postgres://{host['user']}@{host['host']}:{host['port']}/{DB}",
                "SPOOL_PATH": str(WORK / "spool.sqlite3"), "PORT": "8498", "RATE_LIMIT_READ": "100000/min"})
    sh(PY, "manage.py", "migrate", "--noinput", "-v0", env={**env, "DB_STATEMENT_TIMEOUT_MS": "0"})
    sh(PY, "manage.py", "create_client", "soak", env=env)
    key = sh(PY, "manage.py", "issue_api_key", "soak", "--quiet", env=env).strip()

    chaos.APP_PORT = 8498
    chaos.WORK = WORK
    gunicorn = _start(env)
    results = WORK / "requests.jsonl"
    load = subprocess.Popen([PY, str(ROOT / "scripts" / "loadgen.py"), "--port", "8498", "--key", key,
                             "--seconds", str(seconds), "--rate", str(args.rate), "--read-rate", str(args.read_rate),
                             "--out", str(results)])
    samples: list[dict[str, object]] = []
    started = time.monotonic()
    try:
        while load.poll() is None:
            samples.append({"t": round(time.monotonic() - started),
                            "rss_kib": {pid: rss_kib(pid) for pid in worker_pids(gunicorn.pid)}})
            time.sleep(10)
        time.sleep(3)  # let the last spooled logs (if any) drain
    finally:
        if load.poll() is None:
            load.kill()
        gunicorn.terminate()
        gunicorn.wait(timeout=30)

    rows = [json.loads(line) for line in results.read_text().splitlines()]
    ingest = [r for r in rows if r["kind"] == "ingest"]
    reads = [r for r in rows if r["kind"] == "read"]
    acked = [r["id"] for r in ingest if r["status"] and 200 <= r["status"] < 300]
    with psycopg.connect(PG + f" dbname={DB}") as conn:
        stored = [row[0] for row in conn.execute("SELECT id::text FROM workflow_logs")]
    counts: dict[str, int] = {}
    for log_id in stored:
        counts[log_id] = counts.get(log_id, 0) + 1
    first = {pid: kib for pid, kib in samples[1]["rss_kib"].items()} if len(samples) > 1 else {}  # type: ignore[union-attr]
    last = samples[-1]["rss_kib"] if samples else {}
    summary = {
        "duration_s": round(seconds),
        "requests": len(rows),
        "ingest": {"requests": len(ingest), "errors": sum(1 for r in ingest if not (r["status"] and r["status"] < 400)),
                   "p50_ms": percentile([r["ms"] for r in ingest], 0.5),
                   "p99_ms": percentile([r["ms"] for r in ingest], 0.99),
                   "max_ms": max((r["ms"] for r in ingest), default=0)},
        "reads": {"requests": len(reads), "errors": sum(1 for r in reads if not (r["status"] and r["status"] < 500)),
                  "p50_ms": percentile([r["ms"] for r in reads], 0.5),
                  "p99_ms": percentile([r["ms"] for r in reads], 0.99)},
        "acknowledged": len(acked),
        "stored": len(stored),
        "acknowledged_missing": sum(1 for i in acked if counts.get(i, 0) == 0),
        "stored_more_than_once": sum(1 for n in counts.values() if n > 1),
        "worker_rss_kib_first_sample": first,
        "worker_rss_kib_last_sample": last,
        "rss_samples": samples,
    }
    (WORK / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps({k: v for k, v in summary.items() if k != "rss_samples"}, indent=2))
    ok = summary["acknowledged_missing"] == 0 and summary["stored_more_than_once"] == 0 \
        and summary["ingest"]["errors"] == 0  # type: ignore[index]
    print("SOAK: PASS" if ok else "SOAK: FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
