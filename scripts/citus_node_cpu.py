"""CPU per request on each node of a local Citus cluster: what the coordinator and the workers
spend for one single-log POST, one batch of 100, one list page, one metrics overview (the
README's paper model of N machines is computed from these).

The requests go through the real views (Django's test client, in this process: no HTTP server,
one thread, one database connection; the background loops are off and the rollup flush and the
search indexing that follow the writes are run and counted explicitly). Each node's CPU is read
from /proc: every live process of its postmaster plus what the postmaster's exited children
used (utime + stime, cutime + cstime). CPU time, not wall time: other work on the box barely
moves it (say the load average all the same).

Local only. A cluster from scripts/citus_cluster.sh (same CITUS_DIR, CITUS_PORT), migrated and
set up with `citus_setup`. Run it under `flock /work/notes/bench.lock`:

    flock /work/notes/bench.lock .venv/bin/python scripts/citus_node_cpu.py [--requests 300]

Prints a JSON summary: per kind, µs of CPU per request on the coordinator, on all workers
together, and in this (the app's) process.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
TICK = os.sysconf("SC_CLK_TCK")


def node_dirs() -> dict[str, Path]:
    base = Path(os.environ.get("CITUS_DIR", ROOT / "var" / "citus"))
    return {d.name: d / "data" for d in sorted(base.iterdir()) if (d / "data" / "postmaster.pid").exists()}


def cpu_seconds(data_dir: Path) -> float:
    """CPU of a PostgreSQL server so far: its postmaster (with its reaped children) and every child alive."""
    postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    total = 0.0
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(postmaster)], capture_output=True,
                              text=True).stdout.split()
    for pid in [postmaster, *map(int, children)]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # exited meanwhile: counted in the postmaster's cutime
            continue
        utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
        total += (utime + stime + (cutime + cstime if pid == postmaster else 0)) / TICK
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300, help="requests of each kind (batches: a tenth)")
    args = parser.parse_args()
    url = subprocess.run([str(ROOT / "scripts" / "citus_cluster.sh"), "url"], capture_output=True, text=True,
                         check=True).stdout.strip()
    os.environ.setdefault("DATABASE_URL", url)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central_logger.settings")
    os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production")
    os.environ.setdefault("API_KEY_PEPPER", "bench-pepper-not-for-production")
    for name in ("SPOOL_DRAIN_INTERVAL", "ROLLUP_FLUSH_INTERVAL", "SEARCH_INDEX_INTERVAL",
                 "LOG_PARTITION_MAINTENANCE_INTERVAL", "ALERT_EVAL_INTERVAL_SECONDS", "ALERT_DELIVERY_INTERVAL_SECONDS"):
        os.environ[name] = "0"  # no background loop: each request's work is counted where it is done
    os.environ.setdefault("SPOOL_PATH", f"/tmp/citus-node-cpu-{uuid.uuid4().hex[:6]}.sqlite3")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
    os.environ.setdefault("RATE_LIMIT_INGEST", "1000000/min")
    os.environ.setdefault("RATE_LIMIT_READ", "1000000/min")
    import django

    django.setup()
    from rest_framework.test import APIClient

    from loadgen import log_body
    from logs.search_indexer import index_all
    from metrics.flusher import flush_all
    from tenants.services import api_key_issue, client_create

    run = uuid.uuid4().hex[:6]
    client = client_create(slug=f"cpu-{run}", name="CPU per node")
    api = APIClient()
    api.credentials(HTTP_X_API_KEY=api_key_issue(client=client, name="bench", scopes=["ingest", "read"]).plaintext)
    nodes = node_dirs()

    def single(n: int) -> None:
        assert api.post("/api/v1/logs", data=log_body(f"cpu-{run}-{n}", n), content_type="application/json"
                        ).status_code == 201

    def batch(n: int) -> None:
        logs = [json.loads(log_body(f"cpu-{run}-b{n}-{i}", i)) for i in range(100)]
        assert api.post("/api/v1/logs/batch", data={"logs": logs}, format="json").status_code in (200, 201, 207)

    def listing(n: int) -> None:
        assert api.get("/api/v1/logs", {"page_size": 50, "status": "SUCCESS"}).status_code == 200

    def overview(n: int) -> None:
        # The 30 days around the logs' date (loadgen's logs are of 2025-06-01).
        assert api.get("/api/v1/metrics/overview", {"start_date": "2025-05-17", "end_date": "2025-06-15"}
                       ).status_code == 200

    def after_writes() -> None:  # what the background loops would do for these logs
        flush_all()
        index_all()

    kinds = [("single log POST", single, args.requests, True), ("batch of 100 POST", batch, args.requests // 10, True),
             ("list page (status filter)", listing, args.requests, False),
             ("metrics overview (30 days)", overview, args.requests, False)]
    for _kind, work, _count, _ in kinds:  # warm: connections, caches, plans
        for n in range(3):
            work(10**6 + n)
    after_writes()
    results = {}
    for kind, work, count, writes in kinds:
        before = {name: cpu_seconds(d) for name, d in nodes.items()}
        app_before, wall = time.process_time(), time.monotonic()
        for n in range(count):
            work(n)
        if writes:
            after_writes()
        app = time.process_time() - app_before
        spent = {name: cpu_seconds(d) - before[name] for name, d in nodes.items()}
        workers = sum(v for name, v in spent.items() if name != "coordinator")
        results[kind] = {"requests": count, "coordinator_us": round(spent["coordinator"] / count * 1e6),
                         "workers_us": round(workers / count * 1e6), "app_us": round(app / count * 1e6),
                         "wall_ms": round((time.monotonic() - wall) / count * 1e3, 1),
                         "per_worker_us": {name: round(v / count * 1e6) for name, v in spent.items()
                                           if name != "coordinator"}}
    print(json.dumps({"load_average": os.getloadavg(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
