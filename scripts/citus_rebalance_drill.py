"""Rebalance drill: add a worker to a running Citus cluster and move shards onto it while
tenants ingest. Every acknowledged log must be stored exactly once, no answer may take longer
than 2.5 s, and no answer may be a 5xx.

Local only (127.0.0.1). Needs a cluster from scripts/citus_cluster.sh (same CITUS_DIR and
CITUS_PORT in the environment) set up with `manage.py citus_setup`. Steps:
  1. creates --tenants clients with an ingest key each (slugs drill-<run>-<n>);
  2. starts gunicorn (gunicorn.conf.py) on 127.0.0.1:--port against the coordinator;
  3. starts one scripts/loadgen.py per tenant (--rate requests/s each, unique event ids, the real
     client's 3 s timeout, no retry) for --seconds;
  4. after --settle seconds: `scripts/citus_cluster.sh add-worker`, `citus_setup --workers` with
     the new node, then `citus_rebalance_start()`, polled until it finishes;
  5. when the load ends, waits for the spool to drain, then checks every acknowledged event id.

Usage: .venv/bin/python scripts/citus_rebalance_drill.py [--tenants 4] [--rate 10] [--seconds 90]
Prints a JSON summary; exits 1 when a check fails.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = str(ROOT / ".venv" / "bin" / "python")


def sh(*args: str, env: dict[str, str]) -> str:
    return subprocess.run(args, cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout.strip()


def drill_env() -> tuple[dict[str, str], str]:
    """The environment of the drills' commands and servers (production settings, throwaway
    secrets) and the local cluster's coordinator URL (DATABASE_URL when set)."""
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="central_logger.settings")
    url = sh("scripts/citus_cluster.sh", "url", env=env)
    env.setdefault("DATABASE_URL", url)
    env.setdefault("SECRET_KEY", "drill-secret-key-not-for-production")
    env.setdefault("API_KEY_PEPPER", "drill-pepper-not-for-production")
    return env, url


def psql(url: str, sql: str) -> str:
    return subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", url, "-c", sql], check=True,
                          capture_output=True, text=True).stdout.strip()


def wait_http(port: int, seconds: float = 30) -> None:
    import http.client

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/health/live")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"gunicorn did not answer on {port}")


def rebalance(url: str, env: dict[str, str]) -> dict[str, object]:
    started = time.monotonic()
    node = sh("scripts/citus_cluster.sh", "add-worker", env=env).split()[-1]
    sh(PY, "manage.py", "citus_setup", "--workers", node, env=env)
    before = psql(url, "SELECT string_agg(nodeport || ':' || n, ' ') FROM (SELECT nodeport, count(*) n FROM citus_shards "
                       "WHERE table_name = 'workflow_logs'::regclass GROUP BY 1 ORDER BY 1) s")
    psql(url, "SELECT citus_rebalance_start()")
    while True:
        state = psql(url, "SELECT state FROM citus_rebalance_status() ORDER BY job_id DESC LIMIT 1")
        if state in ("finished", "failed", "cancelled"):
            break
        time.sleep(1)
    after = psql(url, "SELECT string_agg(nodeport || ':' || n, ' ') FROM (SELECT nodeport, count(*) n FROM citus_shards "
                      "WHERE table_name = 'workflow_logs'::regclass GROUP BY 1 ORDER BY 1) s")
    return {"new_worker": node, "state": state, "seconds": round(time.monotonic() - started, 1),
            "shards_before": before, "shards_after": after}


def check(results: list[dict], url: str, clients: dict[str, int]) -> dict[str, object]:
    acked = [r for r in results if r.get("status") in (200, 201, 202)]
    server_errors = [r for r in results if isinstance(r.get("status"), int) and r["status"] >= 500]
    slow = [r for r in results if r.get("ms", 0) > 2500]
    no_answer = [r for r in results if r.get("status") is None]
    per_event: dict[str, int] = {}
    for slug, client_id in clients.items():
        rows = psql(url, f"SELECT event_id || ' ' || count(*) FROM workflow_logs WHERE client_id = {client_id} "
                         f"GROUP BY event_id")
        for line in filter(None, rows.splitlines()):
            event_id, count = line.rsplit(" ", 1)
            per_event[event_id] = int(count)
    missing = [r["event_id"] for r in acked if per_event.get(r["event_id"], 0) == 0]
    doubled = [e for e, n in per_event.items() if n > 1]
    return {"requests": len(results), "acknowledged": len(acked), "spooled": sum(r["status"] == 202 for r in acked),
            "stored": sum(per_event.values()), "missing": len(missing), "stored_twice": len(doubled),
            "server_errors": len(server_errors), "no_answer": len(no_answer), "slower_than_2_5s": len(slow),
            "max_ms": max((r.get("ms", 0) for r in results), default=0),
            "ok": not (missing or doubled or server_errors or slow or no_answer)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=4)
    parser.add_argument("--rate", type=float, default=10.0, help="ingestion requests per second, per tenant")
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--settle", type=float, default=10.0, help="seconds of load before the new worker")
    parser.add_argument("--port", type=int, default=8525)
    args = parser.parse_args()
    env, url = drill_env()
    run = uuid.uuid4().hex[:6]
    keys, clients = {}, {}
    for n in range(args.tenants):
        slug = f"drill-{run}-{n}"
        sh(PY, "manage.py", "create_client", slug, env=env)
        keys[slug] = sh(PY, "manage.py", "issue_api_key", slug, "--scopes", "ingest,read", "--quiet", env=env)
        clients[slug] = int(psql(url, f"SELECT id FROM tenants_client WHERE slug = '{slug}'"))
    work = Path(tempfile.mkdtemp(prefix="citus-drill-"))
    env_app = dict(env, SPOOL_PATH=str(work / "spool.sqlite3"), KEY_SNAPSHOT_PATH=str(work / "keys.sqlite3"),
                   HOST="127.0.0.1", PORT=str(args.port), ALLOWED_HOSTS="127.0.0.1,localhost", DEBUG="false")
    app = subprocess.Popen([str(ROOT / ".venv" / "bin" / "gunicorn"), "-c", "gunicorn.conf.py",
                            "central_logger.wsgi"], cwd=ROOT, env=env_app,
                           stdout=open(work / "gunicorn.log", "w"), stderr=subprocess.STDOUT)
    try:
        wait_http(args.port)
        loads = [subprocess.Popen([PY, "scripts/loadgen.py", "--port", str(args.port), "--key", key, "--seconds",
                                   str(args.seconds), "--rate", str(args.rate), "--threads", "4",
                                   "--out", str(work / f"{slug}.jsonl")], cwd=ROOT)
                 for slug, key in keys.items()]
        time.sleep(args.settle)
        moved = rebalance(url, env)
        for load in loads:
            load.wait()
        time.sleep(5)  # the spool's drainer (only if anything was spooled)
        results = [json.loads(line) for slug in keys for line in (work / f"{slug}.jsonl").read_text().splitlines()
                   if line.strip()]
        summary = {"rebalance": moved, **check(results, url, clients), "work_dir": str(work)}
    finally:
        app.terminate()
        app.wait(timeout=30)
    print(json.dumps(summary, indent=2))
    sys.exit(0 if summary["ok"] and moved["state"] == "finished" else 1)


if __name__ == "__main__":
    main()
