#!/usr/bin/env python3
"""Benchmark the Central Logger SDK.

1. Caller-side cost of ``ship_log`` (median / p99 / p99.9 / max, microseconds)
   over N calls with a realistic ~4.6 KB log, while the worker is really
   shipping to a collector in the background.
2. End-to-end throughput (logs/s): ship M logs, ``flush()``, and verify the
   collector stored them all (read back via GET /api/v1/logs?ticket_id=...).

By default the collector is the test fake (tests/fake_collector.py) run in a
separate process. Against a real collector:

    python sdk/python/bench_ship.py --url http://127.0.0.1:8000 --key clk_...
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "src"))  # works without installing too

from central_logger_sdk import CentralLogger, LogBuilder  # noqa: E402


def realistic_log(ticket_id: str, i: int) -> dict:
    """A ~4.6 KB log resembling an AI ticket workflow run."""
    b = (LogBuilder(ticket_id=ticket_id, category="billing", workflow_version="2.14.0",
                    resolution_status="auto_resolved", customer_type="enterprise", pii_salt="bench")
         .requester_email("jane.doe@example.com").ticket_subject("Invoice #4411 charged twice")
         .metric("prompt_tokens", 3120).metric("completion_tokens", 412).metric("cost_usd", 0.0213)
         .metric("llm_calls", 6).meta("region", "eu-west-1").meta("worker", "wf-7").meta("run", i))
    for n, node in enumerate(["ingest", "classify", "retrieve_kb", "draft_reply", "policy_check",
                              "tone_check", "finalize", "send"]):
        b.trace_step(node, started_at="2025-01-01T00:00:%02d.000000+00:00" % n,
                     duration_ms=120 + 37 * n, model="gpt-x" if n % 2 else None,
                     input_summary="customer asks about duplicate charge on invoice 4411 " * 3,
                     output_summary="classified as billing/duplicate_charge with confidence 0.93 " * 3,
                     tokens={"in": 300 + n, "out": 40 + n})
    return b.success(execution_time_seconds=4.2)


def start_fake_collector():
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "tests", "fake_collector.py"), "0"],
                            stdout=subprocess.PIPE, text=True)
    url = proc.stdout.readline().strip()
    sys.path.insert(0, os.path.join(HERE, "tests"))
    from fake_collector import API_KEY
    return proc, url, API_KEY


def count_stored(url: str, key: str, ticket_id: str) -> int:
    q = urllib.parse.urlencode({"ticket_id": ticket_id, "page_size": 1})
    req = urllib.request.Request("%s/api/v1/logs?%s" % (url.rstrip("/"), q), headers={"X-API-Key": key})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())["pagination"]["total"]


def bench_caller(url: str, key: str, calls: int) -> dict:
    ticket = "bench-caller-%s" % uuid.uuid4().hex[:12]
    log = realistic_log(ticket, 0)
    client = CentralLogger(url, key, environment="test", max_queue_size=calls + 1,
                           flush_at_exit=False)
    samples = [0] * calls
    clock = time.perf_counter_ns
    ship = client.ship_log
    for i in range(calls):
        t0 = clock()
        ship(log)
        samples[i] = clock() - t0
    client.close(120)
    samples.sort()
    pick = lambda q: samples[min(len(samples) - 1, int(len(samples) * q))] / 1000.0  # noqa: E731
    return {
        "calls": calls,
        "log_bytes": len(json.dumps(log, separators=(",", ":"))),
        "median_us": round(statistics.median(samples) / 1000.0, 2),
        "p99_us": round(pick(0.99), 2),
        "p999_us": round(pick(0.999), 2),
        "max_us": round(samples[-1] / 1000.0, 1),
        "dropped": client.stats()["dropped_total"],
    }


def bench_e2e(url: str, key: str, n: int, batch_size: int) -> dict:
    ticket = "bench-e2e-%s" % uuid.uuid4().hex[:12]
    logs = [realistic_log(ticket, i) for i in range(n)]
    client = CentralLogger(url, key, environment="test", batch_size=batch_size,
                           max_queue_size=n + 1, flush_at_exit=False, timeout=30)
    t0, cpu0 = time.perf_counter(), time.process_time()
    for log in logs:
        client.ship_log(log)
    ok = client.flush(600)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    st = client.stats()
    client.close(10)
    stored = count_stored(url, key, ticket)
    return {"logs": n, "flushed": ok, "seconds": round(elapsed, 2),
            "logs_per_second": round(n / elapsed),
            "client_cpu_us_per_log": round(cpu / n * 1e6, 1),  # load-independent cost
            "sent": st["sent"], "stored": stored,
            "batches": st["batches"], "retried": st["retried"], "dropped": st["dropped_total"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="real collector base URL (default: spawn the fake collector)")
    ap.add_argument("--key", help="API key for --url")
    ap.add_argument("--calls", type=int, default=100_000, help="ship_log calls to time")
    ap.add_argument("--e2e-logs", type=int, default=20_000, help="logs for the throughput run")
    ap.add_argument("--batch-size", type=int, default=100)
    args = ap.parse_args()

    proc = None
    if args.url:
        if not args.key:
            ap.error("--key is required with --url")
        url, key, target = args.url, args.key, args.url
    else:
        proc, url, key = start_fake_collector()
        target = "fake collector (separate process)"
    try:
        print("collector: %s" % target)
        print("python: %s, cpus: %s, load average: %s" % (
            sys.version.split()[0], os.cpu_count(), " ".join("%.1f" % x for x in os.getloadavg())))
        caller = bench_caller(url, key, args.calls)
        print("ship_log caller cost: %s" % json.dumps(caller))
        e2e = bench_e2e(url, key, args.e2e_logs, args.batch_size)
        print("end-to-end: %s" % json.dumps(e2e))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(5)


if __name__ == "__main__":
    main()
