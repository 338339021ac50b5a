"""Isolation drill: give one tenant shards of its own (`isolate_tenant_to_new_shard ... CASCADE`,
`shard_transfer_mode => 'block_writes'`: see the README for why not logical replication) and
move them to another worker (`citus_move_shard_placement`) while its stored logs are read and a
neighbour that shared its shard keeps ingesting.

Checks:
  * the tenant's list (first page and total), a full-text search and the metrics overview answer
    the same before the split, after it and after the move; its log count in the database too;
  * every read of the tenant during the split and the move: answered within the client's 3 s,
    200 or (the moment the split replaces the shard) 503 + Retry-After, never a 500;
  * the neighbour (same shard before the split): every acknowledged log stored exactly once, no
    5xx, no answer slower than 3 s;
  * afterwards the tenant's shard of every co-located table holds that tenant alone, on the
    other worker.

Local only (127.0.0.1). Needs a cluster from scripts/citus_cluster.sh (same CITUS_DIR and
CITUS_PORT) with two workers or more, set up with `manage.py citus_setup`.

Usage: .venv/bin/python scripts/citus_isolate_drill.py [--logs 600] [--rate 5]
Prints a JSON summary; exits 1 when a check fails.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from citus_rebalance_drill import PY, ROOT, drill_env, psql, sh, wait_http  # noqa: E402
from citus_worker_down_drill import CLIENT_TIMEOUT_MS, request, spool_rows  # noqa: E402

TEXTS = ["Rückerstattung für Bestellung", "退款申请：订单", "Возврат средств по заказу", "استرداد المبلغ للطلب",
         "返金リクエスト 🙏", "", "refund approved after zebrafish review " + "x" * 3000]
FROM_TO = "start_date=2025-06-01&end_date=2025-06-30"  # the seeded logs' month
SHARD_OF = ("SELECT shardid, nodeport FROM citus_shards WHERE table_name = 'workflow_logs'::regclass AND "
            "shardid = get_shard_id_for_distribution_column('workflow_logs', {})")

# Tenants are made in one Django process: a neighbour is the first new client whose log shard is
# the tenant's (hash placement: ~one in shard-count tries).
MAKE_TENANTS = """
import json, uuid
from django.db import connection
from tenants.services import api_key_issue, client_create
run = uuid.uuid4().hex[:6]
def shard(client_id):
    with connection.cursor() as cursor:
        cursor.execute("SELECT get_shard_id_for_distribution_column('workflow_logs', %s)", [client_id])
        return cursor.fetchone()[0]
tenant = client_create(slug=f"isolate-{run}", name="Isolated tenant")
for n in range(400):
    other = client_create(slug=f"isolate-{run}-n{n}", name="Neighbour")
    if shard(other.pk) == shard(tenant.pk):
        break
    other.delete()
out = {}
for name, client in (("tenant", tenant), ("neighbour", other)):
    out[name] = {"client_id": client.pk, "key": api_key_issue(client=client, name="drill", scopes=["ingest", "read"]).plaintext}
print(json.dumps(out))
"""


def seed(port: int, key: str, count: int) -> None:
    for start in range(0, count, 100):
        logs = [{"event_id": f"seed-{uuid.uuid4().hex}", "environment": "production", "workflow_version": f"v{n % 3}",
                 "ticket_id": f"T-{n}", "executed_at": f"2025-06-{1 + n % 28:02d}T12:{n % 60:02d}:00Z",
                 "status": ["SUCCESS", "FAILED", "ERROR", "PARTIAL"][n % 4], "execution_time_seconds": 0.5 * (n % 9),
                 "category": TEXTS[n % len(TEXTS)][:100] or None, "metadata": {"note": TEXTS[n % len(TEXTS)]}}
                for n in range(start, min(start + 100, count))]
        answer = request(port, key, "POST", "/api/v1/logs/batch", json.dumps({"logs": logs}).encode())
        if answer.get("status") not in (200, 201, 207):
            raise SystemExit(f"seeding failed: {answer}")


def snapshot(port: int, key: str, url: str, client_id: int) -> dict:
    listed = request(port, key, "GET", "/api/v1/logs?page_size=100")
    found = request(port, key, "GET", "/api/v1/logs?page_size=100&q=zebrafish")
    overview = request(port, key, "GET", f"/api/v1/metrics/overview?{FROM_TO}")
    for answer in (listed, found, overview):
        if answer.get("status") != 200:
            raise SystemExit(f"a read failed: {answer}")
    return {"list_ids": [row["id"] for row in listed["body"]["data"]], "list_page": listed["body"]["pagination"],
            "search_ids": sorted(row["id"] for row in found["body"]["data"]), "overview": overview["body"],
            "stored": int(psql(url, f"SELECT count(*) FROM workflow_logs WHERE client_id = {client_id}"))}


def settled(port: int, key: str, url: str, client_id: int, expected: int, seconds: float = 90) -> dict:
    """The snapshot once the search indexer and the rollup flusher have caught up."""
    deadline = time.monotonic() + seconds
    while True:
        snap = snapshot(port, key, url, client_id)
        searchable = expected // 7 + (expected % 7 > 6)  # every 7th log mentions zebrafish
        if (len(snap["search_ids"]) == min(searchable, 100) and snap["overview"].get("total_tickets") == expected) or \
                time.monotonic() > deadline:
            return snap
        time.sleep(1)


def reader(port: int, key: str, log_id: str, out: list[dict], stop: threading.Event) -> None:
    paths = ["/api/v1/logs?page_size=20", f"/api/v1/logs/{log_id}", f"/api/v1/metrics/overview?{FROM_TO}",
             "/api/v1/logs?page_size=20&q=zebrafish"]
    while not stop.is_set():
        for path in paths:
            out.append(request(port, key, "GET", path))
        stop.wait(0.5)


def step(name: str, sql: str, url: str, timings: dict) -> str:
    started = time.monotonic()
    result = psql(url, sql)
    timings[name] = round(time.monotonic() - started, 1)
    return result


def colocated_alone(url: str, shard_id: int) -> dict:
    """Every shard co-located with `shard_id` (same hash range): its node and how many clients it holds."""
    rows = psql(url, "SELECT s.logicalrelid::regclass::text || ' ' || p.nodeport FROM pg_dist_shard s "
                     "JOIN pg_dist_placement pl USING (shardid) JOIN pg_dist_node p ON p.groupid = pl.groupid "
                     "JOIN pg_dist_shard t ON t.shardid = " + str(shard_id) + " "
                     "WHERE s.shardminvalue = t.shardminvalue AND s.shardmaxvalue = t.shardmaxvalue "
                     "AND s.logicalrelid IN (SELECT logicalrelid FROM pg_dist_partition WHERE colocationid = "
                     "(SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = 'workflow_logs'::regclass))")
    hash_range = psql(url, f"SELECT shardminvalue || '..' || shardmaxvalue FROM pg_dist_shard WHERE shardid = {shard_id}")
    return {"hash_range": hash_range, "tables_on": sorted(set(rows.splitlines()))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--logs", type=int, default=600, help="stored logs of the tenant to isolate")
    parser.add_argument("--rate", type=float, default=5.0, help="the neighbour's ingestion requests per second")
    parser.add_argument("--port", type=int, default=8527)
    args = parser.parse_args()
    env, url = drill_env()
    made = json.loads(sh(PY, "manage.py", "shell", "-c", MAKE_TENANTS, env=env).splitlines()[-1])
    tenant, neighbour = made["tenant"], made["neighbour"]
    work = Path(tempfile.mkdtemp(prefix="citus-isolate-drill-"))
    env_app = dict(env, SPOOL_PATH=str(work / "spool.sqlite3"), KEY_SNAPSHOT_PATH=str(work / "keys.sqlite3"),
                   HOST="127.0.0.1", PORT=str(args.port), ALLOWED_HOSTS="127.0.0.1,localhost", DEBUG="false")
    app = subprocess.Popen([str(ROOT / ".venv" / "bin" / "gunicorn"), "-c", "gunicorn.conf.py",
                            "central_logger.wsgi"], cwd=ROOT, env=env_app,
                           stdout=open(work / "gunicorn.log", "w"), stderr=subprocess.STDOUT)
    timings: dict[str, float] = {}
    reads: list[dict] = []
    stop = threading.Event()
    load = None
    try:
        wait_http(args.port)
        seed(args.port, tenant["key"], args.logs)
        before = settled(args.port, tenant["key"], url, tenant["client_id"], args.logs)
        old_shard, old_port = psql(url, SHARD_OF.format(tenant["client_id"])).split("|")
        load = subprocess.Popen([PY, "scripts/loadgen.py", "--port", str(args.port), "--key", neighbour["key"],
                                 "--seconds", "600", "--rate", str(args.rate), "--threads", "4",
                                 "--out", str(work / "neighbour.jsonl")], cwd=ROOT)
        probe = threading.Thread(target=reader, args=(args.port, tenant["key"], before["list_ids"][0], reads, stop), daemon=True)
        probe.start()
        time.sleep(3)
        new_shard = int(step("isolate_seconds", f"SELECT isolate_tenant_to_new_shard('workflow_logs', "
                                                f"{tenant['client_id']}, 'CASCADE', shard_transfer_mode => 'block_writes')",
                             url, timings))
        after_split = snapshot(args.port, tenant["key"], url, tenant["client_id"])
        target = psql(url, f"SELECT nodeport FROM pg_dist_node WHERE groupid > 0 AND nodeport <> {old_port} "
                           "ORDER BY groupid LIMIT 1")
        step("move_seconds", f"SELECT citus_move_shard_placement({new_shard}, '127.0.0.1', {old_port}, '127.0.0.1', "
                             f"{target})", url, timings)
        time.sleep(3)
        stop.set()
        probe.join()
        load.terminate()
        load.wait()
        after_move = snapshot(args.port, tenant["key"], url, tenant["client_id"])
        deadline = time.monotonic() + 60
        while spool_rows(work / "spool.sqlite3") and time.monotonic() < deadline:
            time.sleep(0.5)
        placement = colocated_alone(url, new_shard)
        clients_in_shard = int(psql(url, "SELECT count(DISTINCT client_id) FROM workflow_logs WHERE "
                                         f"get_shard_id_for_distribution_column('workflow_logs', client_id) = {new_shard}"))
        results = [json.loads(line) for line in (work / "neighbour.jsonl").read_text().splitlines() if line.strip()]
        stored = psql(url, f"SELECT event_id || ' ' || count(*) FROM workflow_logs WHERE client_id = "
                           f"{neighbour['client_id']} GROUP BY event_id")
        counts = {line.rsplit(" ", 1)[0]: int(line.rsplit(" ", 1)[1]) for line in stored.splitlines() if line}
    finally:
        stop.set()
        if load is not None and load.poll() is None:
            load.terminate()
            load.wait()
        app.terminate()
        app.wait(timeout=30)
    acked = [r for r in results if r.get("status") in (201, 202)]
    neighbour_summary = {
        "requests": len(results), "acknowledged": len(acked), "spooled": sum(r["status"] == 202 for r in acked),
        "missing": sum(counts.get(r["event_id"], 0) == 0 for r in acked), "stored_twice": sum(n > 1 for n in counts.values()),
        "server_errors": sum((r.get("status") or 0) >= 500 for r in results),
        "slowest_ms": max((r["ms"] for r in results), default=0)}
    read_summary = {"reads": len(reads), "answered_503_retry_after": sum(
        r.get("status") == 503 and bool(r.get("retry_after")) for r in reads),
        "other_than_200_or_503": sum(r.get("status") not in (200, 503) for r in reads),
        "slowest_ms": max((r["ms"] for r in reads), default=0)}
    same = {"after_split": after_split == before, "after_move": after_move == before}
    (work / "snapshots.json").write_text(json.dumps({"before": before, "after_split": after_split,
                                                    "after_move": after_move}, indent=1))
    same["differing"] = sorted({k for snap in (after_split, after_move) for k in before if snap[k] != before[k]})
    ok = (not same["differing"] and read_summary["other_than_200_or_503"] == 0 and read_summary["slowest_ms"] < CLIENT_TIMEOUT_MS
          and neighbour_summary["missing"] == neighbour_summary["stored_twice"] == neighbour_summary["server_errors"] == 0
          and neighbour_summary["slowest_ms"] < CLIENT_TIMEOUT_MS and clients_in_shard == 1
          and all(line.endswith(target) for line in placement["tables_on"]))
    summary = {"tenant": tenant["client_id"], "stored_logs": before["stored"], "old_shard": int(old_shard),
               "new_shard": new_shard, "moved": f"{old_port} -> {target}", **timings, "unchanged": same,
               "clients_in_new_shard": clients_in_shard, "placement": placement, "tenant_reads": read_summary,
               "neighbour_ingest": neighbour_summary, "work_dir": str(work), "ok": ok}
    print(json.dumps(summary, indent=2))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
