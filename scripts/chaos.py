"""Chaos test: never lose an acknowledged log, never keep a client waiting past 2.5 s.

Bounded (about 2 minutes) and local only (127.0.0.1). Needs root and the PostgreSQL 15 server
packages (`pg_createcluster`). It creates its OWN PostgreSQL cluster (`15 chaos`, port 5499), so
the shared cluster on 5432 is never touched, then:

  1. migrates a scratch database, creates a client and a key;
  2. starts gunicorn (gunicorn.conf.py: gthread workers) on 127.0.0.1:8499 with a fresh spool;
  3. starts scripts/loadgen.py in a second process: steady single-log ingestion, each request
     sent once with a 3 s timeout and no retry, like the real client;
  4. stops PostgreSQL for 15 s (pg_ctlcluster stop -m fast, then start);
  5. freezes PostgreSQL for 10 s (SIGSTOP to the postmaster and every backend, then SIGCONT);
  6. kill -9 one gunicorn worker;
  7. restarts gunicorn: by default the way production restarts it (SIGHUP: new workers boot,
     old ones finish their requests, the listening socket stays open); `--restart term` stops
     the master instead (SIGTERM, then a new master), which refuses connections while it boots;
  8. stops the load, waits for the spool to drain, and checks: every id answered 2xx is in the
     table exactly once; no request took longer than 2.5 s; how many logs were stored without
     an acknowledgement (the baseline stack had 16).

Usage: .venv/bin/python scripts/chaos.py [--keep-cluster] [--rate 40] [--app-port 8499]
Prints a JSON summary and exits non-zero if a property does not hold.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")
VERSION, CLUSTER, PG_PORT, APP_PORT = "15", "chaos", 5499, 8499
DB_NAME = "central_logger_chaos"
WORK = ROOT / "var" / "chaos"
# The checkout whose gunicorn runs (another one, e.g. an older commit, to measure a before).
APP_ROOT = ROOT


def configure(*, cluster: str | None = None, pg_port: int | None = None, app_port: int | None = None,
              work: Path | None = None, app_root: Path | None = None) -> None:
    """Point these helpers at another private cluster, port, work directory or checkout (the
    drills in scripts/ use their own, so that they can run beside each other)."""
    global CLUSTER, PG_PORT, APP_PORT, WORK, APP_ROOT
    CLUSTER, PG_PORT, APP_PORT = cluster or CLUSTER, pg_port or PG_PORT, app_port or APP_PORT
    WORK, APP_ROOT = work or WORK, app_root or APP_ROOT


def db_url() -> str:
    return f"postgres://postgres@127.0.0.1:{PG_PORT}/{DB_NAME}"


def sh(*cmd: str, check: bool = True, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, cwd=APP_ROOT)
    if check and result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {result.stderr.strip()}")
    return result.stdout


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def ensure_cluster() -> None:
    clusters = sh("pg_lsclusters", "--no-header")
    if f"{VERSION} {CLUSTER} " not in " ".join(clusters.split()) + " ":
        log(f"creating private cluster {VERSION}/{CLUSTER} on port {PG_PORT}")
        sh("pg_createcluster", VERSION, CLUSTER, "--port", str(PG_PORT))
        hba = Path(f"/etc/postgresql/{VERSION}/{CLUSTER}/pg_hba.conf")
        hba.write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")
    pg_ctl("start", check=False)
    wait_pg()


def pg_ctl(action: str, *extra: str, check: bool = True) -> None:
    sh("pg_ctlcluster", "--skip-systemctl-redirect", VERSION, CLUSTER, action, *extra, check=check)


def wait_pg(limit: float = 30) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(PG_PORT)]).returncode == 0:
            return
        time.sleep(0.3)
    raise SystemExit("the chaos cluster did not come up")


def pg_pids() -> list[int]:
    pidfile = Path(f"/var/lib/postgresql/{VERSION}/{CLUSTER}/postmaster.pid")
    master = int(pidfile.read_text().split()[0])
    pids = [master]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            pids.append(int(stat.parent.name))
    return pids


def app_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "SPOOL_"))}
    env.update({
        "DATABASE_URL": db_url(), "SECRET_KEY": "chaos-secret-key-" + "x" * 40, "API_KEY_PEPPER": "chaos-pepper",
        "DEBUG": "false", "SPOOL_PATH": str(WORK / "spool.sqlite3"), "HOST": "127.0.0.1", "PORT": str(APP_PORT),
        "GUNICORN_ACCESSLOG": "", "SECURE_COOKIES": "false", "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_INGEST": "100000/min",
    })
    return env


def start_gunicorn(env: dict[str, str]) -> subprocess.Popen[bytes]:
    errlog = open(WORK / "gunicorn.log", "ab")
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "gunicorn"), "central_logger.wsgi", "-c", "gunicorn.conf.py"],
                            cwd=APP_ROOT, env=env, stdout=errlog, stderr=errlog)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{APP_PORT}/health/live", timeout=1)
            return proc
        except Exception:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not start; see {WORK / 'gunicorn.log'}")


class Master:
    """A gunicorn master this script did not start (the one USR2 forked): enough of Popen."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def send_signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def poll(self) -> int | None:
        return None if Path(f"/proc/{self.pid}").exists() else 0

    def wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            time.sleep(0.1)

    def kill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)


def replace_master(old: subprocess.Popen[bytes] | Master) -> Master:
    """Deploy new code without closing the listening socket: USR2 makes the old master fork a new
    one that inherits the socket and loads the code; once its workers serve, TERM the old master
    (its workers finish their requests)."""
    before = set(worker_pids(old.pid))
    old.send_signal(signal.SIGUSR2)
    deadline = time.monotonic() + 60
    new = None
    while time.monotonic() < deadline:
        masters = [pid for pid in worker_pids(old.pid) if pid not in before and worker_pids(pid)]
        if masters:
            new = masters[0]
            break
        time.sleep(0.1)
    if new is None:
        raise SystemExit("USR2: no new master came up")
    time.sleep(1.5)  # its workers warm up before they accept (WORKER_WARMUP_SECONDS)
    old.send_signal(signal.SIGTERM)
    old.wait(timeout=30)
    return Master(new)


def worker_pids(master: int) -> list[int]:
    out = sh("pgrep", "-P", str(master), check=False)
    return [int(pid) for pid in out.split()]


def ready() -> dict[str, object]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{APP_PORT}/health/ready", timeout=2) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return json.loads(exc.read())
    except Exception:
        return {}


def prepare(client: str = "chaos") -> tuple[dict[str, str], str]:
    """A fresh scratch database on the private cluster, migrated, with a client and a key; a
    fresh work directory. Returns the app's environment and the key."""
    WORK.mkdir(parents=True, exist_ok=True)
    for name in ("spool.sqlite3", "spool.sqlite3-wal", "spool.sqlite3-shm", "spool.sqlite3.lock", "gunicorn.log",
                 "key_snapshot.sqlite3", "key_snapshot.sqlite3-wal", "key_snapshot.sqlite3-shm"):
        (WORK / name).unlink(missing_ok=True)
    ensure_cluster()
    sh("dropdb", "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "postgres", "--if-exists", DB_NAME)
    sh("createdb", "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "postgres", DB_NAME)
    env = app_env()
    sh(PY, "manage.py", "migrate", "--noinput", "-v0", env={**env, "DB_STATEMENT_TIMEOUT_MS": "0"})
    sh(PY, "manage.py", "create_client", client, env=env)
    key = sh(PY, "manage.py", "issue_api_key", client, "--quiet", env=env).strip()
    return env, key


def add_cluster_arguments(parser: argparse.ArgumentParser, *, cluster: str, pg_port: int, app_port: int) -> None:
    parser.add_argument("--cluster", default=cluster, help="name of the private PostgreSQL 15 cluster")
    parser.add_argument("--pg-port", type=int, default=pg_port, help="its port")
    parser.add_argument("--app-port", type=int, default=app_port, help="gunicorn's port on 127.0.0.1")
    parser.add_argument("--app-root", type=Path, default=ROOT,
                        help="the checkout to run (default: this one; another commit's, to measure a before)")
    parser.add_argument("--keep-cluster", action="store_true", help="leave the cluster running")


def restart_outcomes(rows: list[dict[str, object]], window: tuple[float, float]) -> dict[str, object]:
    """The requests sent from the restart signal until 3 s after the new workers served: how they
    were answered (a refused or reset connection is a lost log for a client that never retries)."""
    start, end = window
    sent = [r for r in rows if start <= float(r["t"]) - float(r["ms"]) / 1000 <= end]  # type: ignore[arg-type]
    outcomes: dict[str, int] = {}
    for r in sent:
        label = str(r["status"]) if r["status"] else str(r["error"])
        outcomes[label] = outcomes.get(label, 0) + 1
    return {"requests": len(sent), "outcomes": outcomes,
            "max_ms": max((float(r["ms"]) for r in sent), default=None)}  # type: ignore[arg-type]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=40.0)
    parser.add_argument("--restart", choices=["hup", "usr2", "term"], default="hup",
                        help="how to restart gunicorn: graceful reload (default), a new master for new code "
                             "(USR2, then TERM to the old master), or stop + start")
    add_cluster_arguments(parser, cluster=CLUSTER, pg_port=PG_PORT, app_port=APP_PORT)
    args = parser.parse_args()
    configure(cluster=args.cluster, pg_port=args.pg_port, app_port=args.app_port, app_root=args.app_root.resolve())
    env, key = prepare()

    gunicorn = start_gunicorn(env)
    results = WORK / "requests.jsonl"
    timeline: list[tuple[float, str]] = []
    total_seconds = 95
    load = subprocess.Popen([PY, str(ROOT / "scripts" / "loadgen.py"), "--port", str(APP_PORT), "--key", key,
                             "--seconds", str(total_seconds), "--rate", str(args.rate), "--out", str(results)])

    def mark(event: str) -> None:
        timeline.append((round(time.time(), 3), event))
        log(event)

    final_state: dict[str, object] = {}
    restart_window = (0.0, 0.0)
    try:
        time.sleep(8)
        mark("PostgreSQL stop (-m fast)")
        pg_ctl("stop", "-m", "fast")
        time.sleep(15)
        pg_ctl("start")
        wait_pg()
        mark("PostgreSQL started")
        time.sleep(10)
        pids = pg_pids()
        mark(f"PostgreSQL frozen (SIGSTOP to {len(pids)} processes)")
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        time.sleep(10)
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
        mark("PostgreSQL thawed (SIGCONT)")
        time.sleep(10)
        victim = worker_pids(gunicorn.pid)[0]
        mark(f"kill -9 gunicorn worker {victim}")
        os.kill(victim, signal.SIGKILL)
        time.sleep(10)
        if args.restart == "hup":
            old_workers = set(worker_pids(gunicorn.pid))
            mark("gunicorn restart (SIGHUP: graceful reload)")
            gunicorn.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and set(worker_pids(gunicorn.pid)) & old_workers:
                time.sleep(0.2)
        elif args.restart == "usr2":
            mark("gunicorn restart (USR2: a new master loads the code, then TERM to the old one)")
            gunicorn = replace_master(gunicorn)
        else:
            mark("gunicorn restart (SIGTERM, new master)")
            gunicorn.send_signal(signal.SIGTERM)
            gunicorn.wait(timeout=30)
            gunicorn = start_gunicorn(env)
        mark("gunicorn up again")
        restart_window = (timeline[-2][0], timeline[-1][0] + 3)
        load.wait(timeout=total_seconds + 30)
        mark("load finished; waiting for the spool to drain")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            state = ready()
            if state.get("status") == "ready" and state.get("spool", {}).get("rows") == 0:  # type: ignore[union-attr]
                break
            time.sleep(1)
        final_state = ready()
    finally:
        for pid in pg_pids():  # never leave PostgreSQL frozen
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        if load.poll() is None:
            load.kill()
        gunicorn.send_signal(signal.SIGTERM)
        try:
            gunicorn.wait(timeout=30)
        except subprocess.TimeoutExpired:
            gunicorn.kill()

    rows = [json.loads(line) for line in results.read_text().splitlines()]
    acked = {r["id"]: r["event_id"] for r in rows if r["status"] and 200 <= r["status"] < 300}
    not_acked_events = {r["event_id"] for r in rows if not (r["status"] and 200 <= r["status"] < 300)}
    import psycopg

    with psycopg.connect(f"host=127.0.0.1 port={PG_PORT} user=postgres dbname={DB_NAME}") as conn:
        stored = conn.execute("SELECT id::text, event_id FROM workflow_logs").fetchall()
    spool_left = final_state.get("spool", {}).get("rows")  # type: ignore[union-attr]
    stored_ids: dict[str, int] = {}
    for log_id, _event in stored:
        stored_ids[log_id] = stored_ids.get(log_id, 0) + 1
    stored_events = [event for _id, event in stored]
    missing = [i for i in acked if stored_ids.get(i, 0) == 0]
    doubled = [i for i, n in stored_ids.items() if n > 1]
    dup_events = len(stored_events) - len(set(stored_events))
    stored_unacked = len({e for e in stored_events} & not_acked_events)
    latencies = sorted(r["ms"] for r in rows)
    statuses: dict[str, int] = {}
    for r in rows:
        label = str(r["status"]) if r["status"] else r["error"]
        statuses[label] = statuses.get(label, 0) + 1
    summary = {
        "requests": len(rows),
        "outcomes": statuses,
        "acknowledged_2xx": len(acked),
        "spooled_202": sum(1 for r in rows if r["status"] == 202),
        "stored_rows": len(stored),
        "acknowledged_missing": len(missing),
        "stored_more_than_once": len(doubled) + dup_events,
        "stored_without_acknowledgement": stored_unacked,
        "latency_ms": {"p50": latencies[len(latencies) // 2], "p99": latencies[int(len(latencies) * 0.99)],
                       "max": latencies[-1]},
        "over_2500ms": sum(1 for ms in latencies if ms > 2500),
        "not_answered": sum(1 for r in rows if not r["status"]),
        "restart": restart_outcomes(rows, restart_window),
        "spool_rows_left": spool_left,
        "timeline": timeline,
    }
    print(json.dumps(summary, indent=2))
    (WORK / "summary.json").write_text(json.dumps(summary, indent=2))
    if not args.keep_cluster:
        pg_ctl("stop", "-m", "fast", check=False)
    # A request without an answer (refused, reset, timed out) is a log the real client lost.
    ok = (not missing and not doubled and not dup_events and summary["over_2500ms"] == 0
          and summary["not_answered"] == 0)
    print("CHAOS: PASS" if ok else "CHAOS: FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
