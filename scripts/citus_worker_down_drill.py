"""Worker-down drill: stop one Citus worker (as if its machine died) while tenants ingest and read,
then start it again.

Checks:
  * tenants whose shards are on the live workers: every log answered 201 (stored at once);
  * tenants on the stopped worker: 201, 202 (spooled) or 503 with Retry-After; never a 5xx
    other than that 503, never an answer slower than the client's 3 s timeout;
  * reads of a tenant on the stopped worker (list, detail, metrics overview): 503 + Retry-After
    JSON within 3 s; the same reads of a live-worker tenant: 200;
  * after the worker is back and the load ends, the spool drains: every acknowledged (201, 202)
    event id is stored exactly once.

Local only (127.0.0.1). Needs a cluster from scripts/citus_cluster.sh (same CITUS_DIR and
CITUS_PORT in the environment) with at least two workers, set up with `manage.py citus_setup`.
Steps:
  1. creates tenants (slugs drill-<run>-<n>) until --tenants of them sit on the worker to stop and
     as many on the others, each with an ingest+read key, and stores one log of each (to read);
  2. starts gunicorn (gunicorn.conf.py) on 127.0.0.1:--port against the coordinator;
  3. one scripts/loadgen.py per tenant (--rate requests/s each, unique event ids, 3 s timeout,
     no retry) for --seconds; a prober reads list, detail and metrics of one tenant of each kind
     every second;
  4. after --settle seconds: `pg_ctl stop -m immediate` on the last worker; --down seconds later
     `pg_ctl start` again;
  5. when the load ends, waits (at most --drain-wait seconds) for the spool to be empty, then checks.

Usage: .venv/bin/python scripts/citus_worker_down_drill.py [--tenants 2] [--rate 5] [--seconds 60]
Prints a JSON summary; exits 1 when a check fails.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from citus_rebalance_drill import PY, ROOT, drill_env, psql, sh, wait_http  # noqa: E402

PG_BIN = "/usr/lib/postgresql/15/bin"
CLIENT_TIMEOUT_MS = 3000


def pg_ctl(*args: str) -> None:
    cmd = [f"{PG_BIN}/pg_ctl", *args]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    subprocess.run(cmd, check=True, capture_output=True)


def worker_of(url: str, client_id: int) -> int:
    return int(psql(url, "SELECT nodeport FROM citus_shards WHERE table_name = 'workflow_logs'::regclass AND "
                         f"shardid = get_shard_id_for_distribution_column('workflow_logs', {client_id})"))


def make_tenants(url: str, env: dict[str, str], per_side: int, down_port: int) -> dict[str, dict]:
    """Tenants until `per_side` are on the worker to stop and `per_side` on the others."""
    run = uuid.uuid4().hex[:6]
    tenants: dict[str, dict] = {}
    dead = live = 0
    for n in range(200):
        if dead >= per_side and live >= per_side:
            break
        slug = f"drill-{run}-{n}"
        sh(PY, "manage.py", "create_client", slug, env=env)
        client_id = int(psql(url, f"SELECT id FROM tenants_client WHERE slug = '{slug}'"))
        on_dead = worker_of(url, client_id) == down_port
        if (on_dead and dead >= per_side) or (not on_dead and live >= per_side):
            continue  # a tenant without a key and without load: left as it is
        key = sh(PY, "manage.py", "issue_api_key", slug, "--scopes", "ingest,read", "--quiet", env=env)
        tenants[slug] = {"client_id": client_id, "key": key, "dead": on_dead}
        dead, live = dead + on_dead, live + (not on_dead)
    return tenants


def request(port: int, key: str, method: str, path: str, body: bytes | None = None) -> dict:
    started = time.monotonic()
    row: dict = {"path": path.split("?")[0]}
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT_MS / 1000)
        headers = {"X-API-Key": key, **({"Content-Type": "application/json"} if body else {})}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        row.update(status=response.status, retry_after=response.getheader("Retry-After"),
                   json=response.getheader("Content-Type", "").startswith("application/json"))
        if response.status in (200, 201, 202, 503):
            row["body"] = json.loads(raw)
        conn.close()
    except Exception as exc:  # noqa: BLE001 - a timeout or a reset is a result of the drill
        row["error"] = exc.__class__.__name__
    row["ms"] = round((time.monotonic() - started) * 1000, 1)
    return row


def seed_log(port: int, key: str) -> str:
    event_id = f"seed-{uuid.uuid4().hex}"
    body = json.dumps({"event_id": event_id, "environment": "production", "workflow_version": "v1",
                       "ticket_id": "T-seed", "executed_at": "2025-06-01T12:00:00Z", "status": "SUCCESS",
                       "execution_time_seconds": 1.5, "category": "billing"}).encode()
    answer = request(port, key, "POST", "/api/v1/logs", body)
    if answer.get("status") not in (201, 202):  # 202: a cold first request may spool
        raise SystemExit(f"seeding a log failed: {answer}")
    deadline = time.monotonic() + 30
    while request(port, key, "GET", f"/api/v1/logs/{answer['body']['id']}").get("status") != 200:
        if time.monotonic() > deadline:
            raise SystemExit(f"the seeded log {answer['body']['id']} is not readable")
        time.sleep(0.5)
    return answer["body"]["id"]


def probe(port: int, tenant: dict, log_id: str, out: list[dict], window: dict, stop: threading.Event) -> None:
    """List, detail and metrics of one tenant, once a second, each answer tagged with whether the
    worker was down when it was asked."""
    paths = ["/api/v1/logs?page_size=20", f"/api/v1/logs/{log_id}",
             "/api/v1/metrics/overview?start_date=2025-06-01&end_date=2025-06-30"]
    while not stop.is_set():
        for path in paths:
            asked = time.time()
            row = request(port, tenant["key"], "GET", path)
            row["down"] = window.get("stopped", 1e18) <= asked and asked < window.get("started", 1e18)
            row["dead_tenant"] = tenant["dead"]
            out.append(row)
        stop.wait(1.0)


def spool_rows(path: Path) -> int:
    if not path.exists():
        return 0
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT count(*) FROM spooled_logs").fetchone()[0]
    finally:
        conn.close()


def stored_counts(url: str, tenants: dict[str, dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for tenant in tenants.values():
        rows = psql(url, f"SELECT event_id || ' ' || count(*) FROM workflow_logs WHERE client_id = "
                         f"{tenant['client_id']} AND event_id LIKE 'load-%' GROUP BY event_id")
        for line in filter(None, rows.splitlines()):
            event_id, count = line.rsplit(" ", 1)
            counts[event_id] = int(count)
    return counts


def check_ingest(results: list[dict], counts: dict[str, int]) -> dict:
    live = [r for r in results if not r["dead"]]
    dead = [r for r in results if r["dead"]]
    acked = [r for r in results if r.get("status") in (201, 202)]

    def by_status(rows: list[dict]) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in rows:
            out[str(r.get("status"))] = out.get(str(r.get("status")), 0) + 1
        return dict(sorted(out.items()))

    bad_dead = [r for r in dead if r.get("status") not in (201, 202, 503)
                or (r["status"] == 503 and not r.get("retry_after"))]
    missing = [r["event_id"] for r in acked if counts.get(r["event_id"], 0) == 0]
    twice = [e for e, n in counts.items() if n > 1]
    unacked_stored = [r for r in results if r.get("status") not in (201, 202) and counts.get(r["event_id"], 0)]
    return {
        "requests": len(results), "live_tenants": by_status(live), "dead_tenants": by_status(dead),
        "acknowledged": len(acked), "stored": sum(counts.values()), "missing": len(missing),
        "stored_twice": len(twice), "stored_without_ack": len(unacked_stored),
        "slowest_ms_live": max((r["ms"] for r in live), default=0),
        "slowest_ms_dead": max((r["ms"] for r in dead), default=0),
        "ok": not (missing or twice or bad_dead or any(r.get("status") != 201 for r in live)
                   or any(r["ms"] >= CLIENT_TIMEOUT_MS for r in results)),
    }


def check_reads(reads: list[dict]) -> dict:
    summary: dict[str, dict[str, int]] = {}
    ok = True
    for r in reads:
        key = f"{'dead' if r['dead_tenant'] else 'live'} tenant, worker {'down' if r['down'] else 'up'}"
        kind = "list" if r["path"].endswith("/logs") else "metrics" if "metrics" in r["path"] else "detail"
        label = f"{kind} {r.get('status')}"
        summary.setdefault(key, {})
        summary[key][label] = summary[key].get(label, 0) + 1
        if r["ms"] >= CLIENT_TIMEOUT_MS or r.get("status") is None:
            ok = False
        elif r["dead_tenant"] and r["down"]:
            # Right after the stop a request may still be answered from before; else 503 + JSON + Retry-After.
            ok &= r["status"] == 200 or (r["status"] == 503 and bool(r.get("retry_after")) and r["json"]
                                         and r["body"]["error"]["code"] == "database_unavailable")
        elif not r["down"] or not r["dead_tenant"]:
            # A live tenant always; a dead one before the stop and after the worker is back. A
            # read in the second after the start may still meet the worker starting up.
            ok &= r["status"] == 200 or r["status"] == 503 and r["dead_tenant"]
    return {"by_tenant": summary, "slowest_ms": max((r["ms"] for r in reads), default=0), "ok": ok}


def run_load(args: argparse.Namespace, env: dict[str, str], url: str, tenants: dict[str, dict],
             work: Path) -> tuple[dict, list[dict]]:
    down = f"{os.environ.get('CITUS_DIR', str(ROOT / 'var' / 'citus'))}/worker{args.worker}/data"
    loads = [subprocess.Popen([PY, "scripts/loadgen.py", "--port", str(args.port), "--key", t["key"], "--seconds",
                               str(args.seconds), "--rate", str(args.rate), "--threads", "4",
                               "--out", str(work / f"{slug}.jsonl")], cwd=ROOT)
             for slug, t in tenants.items()]
    window: dict = {}
    reads: list[dict] = []
    stop = threading.Event()
    probes = [threading.Thread(target=probe, args=(args.port, t, t["seed"], reads, window, stop), daemon=True)
              for t in (next(t for t in tenants.values() if t["dead"]), next(t for t in tenants.values()
                                                                            if not t["dead"]))]
    for thread in probes:
        thread.start()
    time.sleep(args.settle)
    window["stopped"] = time.time()
    pg_ctl("stop", "-w", "-m", "immediate", "-D", down)
    time.sleep(args.down)
    window["started"] = time.time()
    pg_ctl("start", "-w", "-t", "60", "-D", down, "-l", str(Path(down).parent / "server.log"))
    window["up"] = time.time()
    for load in loads:
        load.wait()
    stop.set()
    for thread in probes:
        thread.join(timeout=10)
    return {"down_seconds": round(window["started"] - window["stopped"], 1),
            "restart_seconds": round(window["up"] - window["started"], 1)}, reads


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=2, help="tenants on the worker to stop, and as many on the others")
    parser.add_argument("--rate", type=float, default=5.0, help="ingestion requests per second, per tenant")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=10.0, help="seconds of load before the worker stops")
    parser.add_argument("--down", type=float, default=25.0, help="seconds the worker stays down")
    parser.add_argument("--drain-wait", type=float, default=60.0)
    parser.add_argument("--port", type=int, default=8526)
    args = parser.parse_args()
    env, url = drill_env()
    ports = [int(p) for p in psql(url, "SELECT nodeport FROM pg_dist_node WHERE groupid > 0 ORDER BY groupid").split()]
    if len(ports) < 2:
        raise SystemExit("the drill needs two workers or more")
    args.worker = len(ports)  # the last worker (scripts/citus_cluster.sh names them worker1..N)
    tenants = make_tenants(url, env, args.tenants, ports[-1])
    work = Path(tempfile.mkdtemp(prefix="citus-down-drill-"))
    spool = work / "spool.sqlite3"
    env_app = dict(env, SPOOL_PATH=str(spool), KEY_SNAPSHOT_PATH=str(work / "keys.sqlite3"),
                   HOST="127.0.0.1", PORT=str(args.port), ALLOWED_HOSTS="127.0.0.1,localhost", DEBUG="false")
    app = subprocess.Popen([str(ROOT / ".venv" / "bin" / "gunicorn"), "-c", "gunicorn.conf.py",
                            "central_logger.wsgi"], cwd=ROOT, env=env_app,
                           stdout=open(work / "gunicorn.log", "w"), stderr=subprocess.STDOUT)
    try:
        wait_http(args.port)
        for tenant in tenants.values():
            tenant["seed"] = seed_log(args.port, tenant["key"])
        outage, reads = run_load(args, env, url, tenants, work)
        load_end = time.monotonic()
        while spool_rows(spool) and time.monotonic() < load_end + args.drain_wait:
            time.sleep(0.5)
        outage["spool_left"] = spool_rows(spool)
        outage["spool_empty_after_load_s"] = round(time.monotonic() - load_end, 1)
        results = []
        for slug, tenant in tenants.items():
            for line in (work / f"{slug}.jsonl").read_text().splitlines():
                if line.strip():
                    results.append({**json.loads(line), "dead": tenant["dead"]})
        ingest = check_ingest(results, stored_counts(url, tenants))
        read = check_reads(reads)
    finally:
        app.terminate()
        app.wait(timeout=30)
    summary = {"worker": f"127.0.0.1:{ports[-1]}", "outage": outage, "ingest": ingest, "reads": read,
               "work_dir": str(work), "ok": ingest["ok"] and read["ok"] and not outage["spool_left"]}
    print(json.dumps(summary, indent=2))
    sys.exit(0 if summary["ok"] else 1)


if __name__ == "__main__":
    main()
