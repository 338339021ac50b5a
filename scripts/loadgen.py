"""Steady HTTP load against a local Central Logger (used by scripts/chaos.py and scripts/soak.py).

Runs as its own process (the "second process" of the reliability scripts). Each request is one
log with a unique event_id, sent once with the real client's 3-second timeout and no retry.
Every outcome is written as one JSON line: {"kind", "event_id", "status", "id", "retry_after", "ms",
"error", "t"}.
Only 127.0.0.1 is accepted as a target, and the run stops by itself after --seconds.
"""
from __future__ import annotations

import argparse
import http.client
import json
import random
import threading
import time
import uuid


def log_body(event_id: str, n: int) -> bytes:
    return json.dumps({
        "event_id": event_id, "environment": "production", "workflow_version": "v1",
        "ticket_id": f"T-{n}", "executed_at": "2025-06-01T12:00:00Z", "status": random.choice(
            ["SUCCESS", "SUCCESS", "SUCCESS", "FAILED", "PARTIAL"]),
        "execution_time_seconds": round(random.uniform(0.5, 30), 3), "category": random.choice(
            ["billing", "shipping", "refund", "login"]),
        "metrics": {"confidence": round(random.random(), 3), "iterations": random.randint(1, 6)},
        "payload": {"trace": {"react_iterations": [{"iteration": i, "thought": "x" * 200} for i in range(3)]}},
    }).encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--rate", type=float, default=40.0, help="ingestion requests per second, total")
    parser.add_argument("--read-rate", type=float, default=0.0, help="read requests per second, total")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--out", required=True)
    parser.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args()

    lock = threading.Lock()
    out = open(args.out, "w", buffering=1)
    stop_at = time.monotonic() + min(args.seconds, 3600)
    counter = iter(range(10**9))

    def record(**row: object) -> None:
        with lock:
            out.write(json.dumps(row) + "\n")

    def request(kind: str, method: str, path: str, body: bytes | None, event_id: str | None) -> None:
        started = time.monotonic()
        status, log_id, error, retry_after = None, None, None, None
        try:
            conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=args.timeout)
            headers = {"X-API-Key": args.key}
            if body is not None:
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            status = response.status
            retry_after = response.getheader("Retry-After")
            if kind == "ingest" and 200 <= status < 300:
                log_id = json.loads(raw)["id"]
            conn.close()
        except Exception as exc:  # timeouts, refused and reset connections: never an acknowledgement
            error = exc.__class__.__name__
        record(kind=kind, event_id=event_id, status=status, id=log_id, retry_after=retry_after,
               ms=round((time.monotonic() - started) * 1000, 1), error=error, t=round(time.time(), 3))

    def worker(rate: float, kind: str) -> None:
        interval = args.threads / rate
        next_at = time.monotonic() + random.uniform(0, interval)
        while time.monotonic() < stop_at:
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            next_at += interval
            if kind == "ingest":
                n = next(counter)
                event_id = f"load-{uuid.uuid4().hex}"
                request("ingest", "POST", "/api/v1/logs", log_body(event_id, n), event_id)
            else:
                request("read", "GET", random.choice(["/api/v1/logs?page_size=20", "/health"]), None, None)

    threads = [threading.Thread(target=worker, args=(args.rate, "ingest")) for _ in range(args.threads)]
    if args.read_rate > 0:
        threads += [threading.Thread(target=worker, args=(args.read_rate, "read")) for _ in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.close()


if __name__ == "__main__":
    main()
