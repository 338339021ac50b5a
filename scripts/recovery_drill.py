"""Recovery drill: how long after PostgreSQL comes back is the service serving normally again?

Bounded (about 3 minutes) and local only (127.0.0.1). Like scripts/chaos.py it needs root and the
PostgreSQL 15 server packages, and uses a private cluster (default `15 recovery` on port 5497;
the shared cluster is never touched). It starts gunicorn (gunicorn.conf.py) on 127.0.0.1:8497,
then probes it every 100 ms with a single-log POST and a list read (each on its own connection,
3 s timeout, no retry: the real client), and for each outage length (default 20 s and 35 s):

  1. stops PostgreSQL (pg_ctlcluster stop -m fast) for that long, then starts it and waits until
     it accepts connections (`back`);
  2. keeps probing for 40 s more.

Recovery time of a kind = from `back` until the first probe sent after which every probe of that
kind answered normally (POST: 201, stored directly rather than 202 spooled; read: 200). Target
(issue 19): within 2 s for both, whatever the outage length. Also reported: the outcomes during
each outage (POSTs must stay 2xx: 202 spooled; reads 503 with Retry-After) and any probe that
took longer than the client's 3 s.

Usage: .venv/bin/python scripts/recovery_drill.py [--outages 20,35] [--app-root DIR] [--keep-cluster]
Prints a JSON summary; exits 1 when a recovery took longer than --target seconds (default 2).
"""
from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import chaos  # noqa: E402

LOG = (b'{"environment": "production", "status": "SUCCESS", "executed_at": "2025-06-01T12:00:00Z", '
       b'"ticket_id": "drill", "execution_time_seconds": 1.5}')
AFTER_SECONDS = 40.0


class Prober:
    """A POST and a read every `interval` seconds, each on its own thread and connection."""

    def __init__(self, port: int, key: str, interval: float = 0.1) -> None:
        self.port, self.key, self.interval = port, key, interval
        self.rows: list[dict[str, object]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _one(self, kind: str) -> None:
        sent = time.time()
        status, error = None, None
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=3)
            if kind == "post":
                conn.request("POST", "/api/v1/logs", body=LOG,
                             headers={"X-API-Key": self.key, "Content-Type": "application/json"})
            else:
                conn.request("GET", "/api/v1/logs?page_size=5", headers={"X-API-Key": self.key})
            response = conn.getresponse()
            response.read()
            status = response.status
            conn.close()
        except Exception as exc:  # timeouts, refused and reset connections
            error = exc.__class__.__name__
        with self._lock:
            self.rows.append({"kind": kind, "sent": sent, "ms": round((time.time() - sent) * 1000, 1),
                              "status": status, "error": error})

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            for kind in ("post", "read"):
                threading.Thread(target=self._one, args=(kind,), daemon=True).start()
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        time.sleep(3.5)  # the last probes finish or time out

    def between(self, start: float, end: float) -> list[dict[str, object]]:
        with self._lock:
            return sorted((r for r in self.rows if start <= r["sent"] < end), key=lambda r: r["sent"])  # type: ignore[operator]


NORMAL = {"post": 201, "read": 200}


def recovery_seconds(rows: list[dict[str, object]], kind: str, back: float) -> float | None:
    """From `back` to the first probe of `kind` after which every probe answered normally."""
    mine = [r for r in rows if r["kind"] == kind]
    recovered: float | None = None
    for row in mine:
        if row["status"] == NORMAL[kind]:
            if recovered is None:
                recovered = float(row["sent"])  # type: ignore[arg-type]
        else:
            recovered = None
    return None if recovered is None else round(max(0.0, recovered - back), 2)


def outcomes(rows: list[dict[str, object]], kind: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        if row["kind"] == kind:
            label = str(row["status"] or row["error"])
            counts[label] = counts.get(label, 0) + 1
    return counts


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--outages", default="20,35", help="comma-separated outage lengths in seconds")
    parser.add_argument("--target", type=float, default=2.0, help="seconds within which service must be normal")
    chaos.add_cluster_arguments(parser, cluster="recovery", pg_port=5497, app_port=8497)
    args = parser.parse_args()
    chaos.configure(cluster=args.cluster, pg_port=args.pg_port, app_port=args.app_port,
                    work=chaos.ROOT / "var" / "recovery", app_root=args.app_root.resolve())
    env, key = chaos.prepare("drill")
    gunicorn = chaos.start_gunicorn(env)
    prober = Prober(args.app_port, key)
    results = []
    try:
        prober.start()
        time.sleep(5)
        for seconds in [float(s) for s in args.outages.split(",")]:
            chaos.log(f"PostgreSQL stop for {seconds:g} s")
            down = time.time()
            chaos.pg_ctl("stop", "-m", "fast")
            time.sleep(seconds)
            chaos.pg_ctl("start")
            chaos.wait_pg()
            back = time.time()
            chaos.log("PostgreSQL accepts connections again")
            time.sleep(AFTER_SECONDS)
            after = prober.between(back, back + AFTER_SECONDS - 3.5)
            during = prober.between(down, back)
            results.append({
                "outage_seconds": seconds,
                "recovery_seconds": {kind: recovery_seconds(after, kind, back) for kind in NORMAL},
                "during_outage": {kind: outcomes(during, kind) for kind in NORMAL},
                "after_back": {kind: outcomes(after, kind) for kind in NORMAL},
                "over_3s": sum(1 for r in during + after if r["error"] in ("TimeoutError", "timeout")),
            })
    finally:
        prober.stop()
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
        if not args.keep_cluster:
            chaos.pg_ctl("stop", "-m", "fast", check=False)
    worst = [r["recovery_seconds"][kind] for r in results for kind in NORMAL]  # type: ignore[index]
    ok = all(value is not None and value <= args.target for value in worst)
    summary = {"outages": results, "target_seconds": args.target, "pass": ok}
    print(json.dumps(summary, indent=2))
    (chaos.WORK / "summary.json").write_text(json.dumps(summary, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
