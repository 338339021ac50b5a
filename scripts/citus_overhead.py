"""The cost of the Citus cluster against one node on the same machine: the same gunicorn
(gunicorn.conf.py) in front of (A) one PostgreSQL database without Citus and (B) a coordinator
with its workers, measured interleaved (A, B, A, B, ...) so that both see the same machine.

Each round, for each kind of request and each target: a closed loop of --threads clients for
--seconds (each sends its next request when the previous one answered): single-log POSTs, batches
of 100 logs, list pages, metrics overviews. Reports requests/s and the median and p95 answer time
per target and kind, and the ratio B/A of each round (median and spread over the rounds).

Local only. Both databases must be migrated, B set up with `citus_setup`. Run it under
`flock /work/notes/bench.lock` on a shared machine:

    flock /work/notes/bench.lock .venv/bin/python scripts/citus_overhead.py \\
        --single postgres://root@127.0.0.1:9700/bench_single --cluster $(scripts/citus_cluster.sh url)
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = str(ROOT / ".venv" / "bin" / "python")
sys.path.insert(0, str(ROOT / "scripts"))
from citus_rebalance_drill import wait_http  # noqa: E402
from loadgen import log_body  # noqa: E402

KINDS = ("single", "batch", "list", "metrics")


def request_for(kind: str, n: int) -> tuple[str, str, bytes | None]:
    if kind == "single":
        return "POST", "/api/v1/logs", log_body(f"oh-{uuid.uuid4().hex}", n)
    if kind == "batch":
        logs = [json.loads(log_body(f"oh-{uuid.uuid4().hex}", n * 100 + i)) for i in range(100)]
        return "POST", "/api/v1/logs/batch", json.dumps({"logs": logs}).encode()
    if kind == "list":
        return "GET", "/api/v1/logs?page_size=50&status=FAILED", None
    return "GET", "/api/v1/metrics/overview?days=30", None


def closed_loop(port: int, key: str, kind: str, seconds: float, threads: int) -> dict[str, float]:
    times: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(seed: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        n = seed * 1_000_000
        while time.monotonic() < stop_at:
            n += 1
            method, path, body = request_for(kind, n)
            started = time.monotonic()
            conn.request(method, path, body, {"X-API-Key": key, "Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            with lock:
                times.append(time.monotonic() - started)
                errors[0] += response.status >= 300 and response.status != 207
    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    times.sort()
    return {"rps": len(times) / seconds, "median_ms": 1000 * statistics.median(times),
            "p95_ms": 1000 * times[int(0.95 * (len(times) - 1))], "errors": errors[0]}


def start(url: str, port: int, work: Path) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, DATABASE_URL=url, DJANGO_SETTINGS_MODULE="central_logger.settings", HOST="127.0.0.1",
               PORT=str(port), ALLOWED_HOSTS="127.0.0.1,localhost", DEBUG="false",
               SECRET_KEY=os.environ.get("SECRET_KEY", "overhead-secret-not-for-production"),
               API_KEY_PEPPER=os.environ.get("API_KEY_PEPPER", "overhead-pepper-not-for-production"),
               RATE_LIMIT_INGEST="off", RATE_LIMIT_READ="off",  # the service's own limits, not the database's
               SPOOL_PATH=str(work / f"spool-{port}.sqlite3"), KEY_SNAPSHOT_PATH=str(work / f"keys-{port}.sqlite3"))
    slug = f"overhead-{uuid.uuid4().hex[:6]}"
    subprocess.run([PY, "manage.py", "create_client", slug], cwd=ROOT, env=env, check=True, capture_output=True)
    key = subprocess.run([PY, "manage.py", "issue_api_key", slug, "--quiet"], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout.strip()
    app = subprocess.Popen([str(ROOT / ".venv" / "bin" / "gunicorn"), "-c", "gunicorn.conf.py", "central_logger.wsgi"],
                           cwd=ROOT, env=env, stdout=open(work / f"gunicorn-{port}.log", "w"), stderr=subprocess.STDOUT)
    wait_http(port)
    return app, key


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--single", required=True, help="DATABASE_URL of the one-node database (A)")
    parser.add_argument("--cluster", required=True, help="DATABASE_URL of the Citus coordinator (B)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--kinds", default=",".join(KINDS))
    args = parser.parse_args()
    kinds = [kind for kind in args.kinds.split(",") if kind in KINDS]
    work = Path(tempfile.mkdtemp(prefix="citus-overhead-"))
    (app_a, key_a), (app_b, key_b) = start(args.single, 8531, work), start(args.cluster, 8532, work)
    runs: dict[str, dict[str, list[dict[str, float]]]] = {k: {"A": [], "B": []} for k in kinds}
    try:
        for kind in ("single",):  # a little data for the reads before anything is measured
            closed_loop(8531, key_a, kind, 3, args.threads)
            closed_loop(8532, key_b, kind, 3, args.threads)
        for _ in range(args.rounds):
            for kind in kinds:
                runs[kind]["A"].append(closed_loop(8531, key_a, kind, args.seconds, args.threads))
                runs[kind]["B"].append(closed_loop(8532, key_b, kind, args.seconds, args.threads))
    finally:
        for app in (app_a, app_b):
            app.terminate()
            app.wait(timeout=30)
    summary = {}
    for kind, by in runs.items():
        ratios = [b["rps"] / a["rps"] for a, b in zip(by["A"], by["B"])]
        latency = [b["median_ms"] / a["median_ms"] for a, b in zip(by["A"], by["B"])]
        summary[kind] = {
            "A_rps": [round(r["rps"], 1) for r in by["A"]], "B_rps": [round(r["rps"], 1) for r in by["B"]],
            "A_median_ms": [round(r["median_ms"], 1) for r in by["A"]],
            "B_median_ms": [round(r["median_ms"], 1) for r in by["B"]],
            "B_over_A_rps": {"median": round(statistics.median(ratios), 2), "min": round(min(ratios), 2),
                             "max": round(max(ratios), 2)},
            "B_over_A_median_latency": {"median": round(statistics.median(latency), 2),
                                        "min": round(min(latency), 2), "max": round(max(latency), 2)},
            "errors": sum(r["errors"] for r in by["A"] + by["B"]),
        }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
