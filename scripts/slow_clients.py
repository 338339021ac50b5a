"""Slow clients must not starve ingestion: N connections trickling 1 byte/s vs normal ingestion p99.

Local only (127.0.0.1), bounded (--seconds, default 40). Run against a service that is already
up (e.g. `make run`, or the chaos/soak gunicorn), with a key:

    .venv/bin/python scripts/slow_clients.py --port 8000 --key clk_... [--slow 50] [--seconds 40]

It measures normal single-log ingestion (5 requests/s) for a baseline period, then opens --slow
connections that each send a POST's headers and body one byte per second, and measures the
same ingestion again. Prints both p50/p99 and whether the p99 with slow clients stays < 500 ms.
"""
from __future__ import annotations

import argparse
import http.client
import json
import socket
import threading
import time


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(int(len(values) * p), len(values) - 1)] if values else float("nan")


def measure(port: int, key: str, seconds: float, rate: float = 5.0) -> list[float]:
    body = json.dumps({"environment": "production", "status": "SUCCESS", "executed_at": "2025-01-01T00:00:00Z",
                       "ticket_id": "slow-test"}).encode()
    latencies: list[float] = []
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        started = time.monotonic()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
            conn.request("POST", "/api/v1/logs", body=body,
                         headers={"X-API-Key": key, "Content-Type": "application/json"})
            status = conn.getresponse().status
            conn.close()
            latencies.append((time.monotonic() - started) * 1000 if status < 300 else 3000.0)
        except Exception:
            latencies.append(3000.0)
        time.sleep(max(0.0, 1 / rate - (time.monotonic() - started)))
    return latencies


def trickle(port: int, key: str, stop: threading.Event) -> None:
    body = b'{"environment": "production", "status": "SUCCESS", "executed_at": "2025-01-01T00:00:00Z"}'
    request = (f"POST /api/v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {key}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body) + 1000}\r\n\r\n").encode() + body + b" " * 1000
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        for byte in request:
            if stop.is_set():
                break
            sock.send(bytes([byte]))
            stop.wait(1.0)
        sock.close()
    except OSError:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--key", required=True)
    parser.add_argument("--slow", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=40)
    args = parser.parse_args()
    half = min(args.seconds, 600) / 2

    baseline = measure(args.port, args.key, half / 2)
    stop = threading.Event()
    slow = [threading.Thread(target=trickle, args=(args.port, args.key, stop), daemon=True) for _ in range(args.slow)]
    for thread in slow:
        thread.start()
    time.sleep(2)  # every slow connection is open and trickling
    loaded = measure(args.port, args.key, half)
    stop.set()
    result = {
        "slow_connections": args.slow,
        "baseline": {"requests": len(baseline), "p50_ms": round(percentile(baseline, 0.5), 1),
                     "p99_ms": round(percentile(baseline, 0.99), 1)},
        "with_slow_clients": {"requests": len(loaded), "p50_ms": round(percentile(loaded, 0.5), 1),
                              "p99_ms": round(percentile(loaded, 0.99), 1),
                              "failed_or_timed_out": sum(1 for ms in loaded if ms >= 3000)},
    }
    result["pass"] = result["with_slow_clients"]["p99_ms"] < 500  # type: ignore[index]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
