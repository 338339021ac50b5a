"""Do random well-formed API keys slow real tenants? (issue 6, "Keys")

Local only (127.0.0.1) and bounded. Against a running collector (`--port`), a real tenant sends
single logs at a steady rate while, in a second phase, another thread fires `--keys` random
well-formed keys (`clk_<10>_<32>`, never issued, so each costs a rejected lookup) at `--key-rate`
per second. Prints the real tenant's p50/p99 without and with the flood, and the flood's answers.

The flood's sockets are bound to `--flood-source` (default 127.0.0.2: any 127.x address works on
Linux loopback), the tenant's to `--tenant-source` (127.0.0.1), so the flood is a different client
address, as it would be in reality, and the per-address budget of failed keys
(AUTH_FAILURE_RATE) applies to the flood alone. `--flood-source 127.0.0.1` puts both behind one
address (a shared NAT).

Usage: .venv/bin/python scripts/key_flood.py --port 8000 --key clk_... [--keys 10000] [--key-rate 200]
       [--flood-source 127.0.0.2] [--tenant-source 127.0.0.1]
"""
from __future__ import annotations

import argparse
import http.client
import json
import secrets
import statistics
import string
import threading
import time
from collections import Counter

BODY = json.dumps({"environment": "test", "executed_at": "2025-01-01T12:00:00Z", "status": "SUCCESS",
                   "ticket_id": "key-flood", "execution_time_seconds": 1.0}).encode()


FLOODERS = 4  # one connection each; one alone cannot keep up a few hundred requests per second


def random_key() -> str:
    prefix = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(10))
    secret = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
    return f"clk_{prefix}_{secret}"


def post(conn: http.client.HTTPConnection, key: str) -> int:
    conn.request("POST", "/api/v1/logs", BODY, {"Content-Type": "application/json", "X-API-Key": key})
    response = conn.getresponse()
    response.read()
    return response.status


def paced(rate: float, count: int, action: "callable[[], None]", stop: threading.Event) -> None:
    start = time.monotonic()
    for i in range(count):
        if stop.is_set():
            return
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        action()


def connect(port: int, source: str) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", port, timeout=5, source_address=(source, 0))


def tenant_phase(port: int, key: str, seconds: float, rate: float,
                 source: str) -> tuple[list[float], Counter[int]]:
    conn = connect(port, source)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()

    def one() -> None:
        t0 = time.perf_counter()
        try:
            statuses[post(conn, key)] += 1
        except OSError:
            statuses[0] += 1
        latencies.append((time.perf_counter() - t0) * 1000)

    paced(rate, int(seconds * rate), one, threading.Event())
    return latencies, statuses


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--key", required=True, help="a real ingest key")
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--key-rate", type=float, default=200.0)
    parser.add_argument("--tenant-rate", type=float, default=10.0)
    parser.add_argument("--flood-source", default="127.0.0.2", help="address the flood sends from")
    parser.add_argument("--tenant-source", default="127.0.0.1", help="address the real tenant sends from")
    args = parser.parse_args()
    flood_seconds = args.keys / args.key_rate

    base, base_status = tenant_phase(args.port, args.key, min(20.0, flood_seconds), args.tenant_rate,
                                     args.tenant_source)

    flood_status: Counter[int] = Counter()
    flood_latencies: list[float] = []
    stop = threading.Event()

    def flooder() -> None:
        conn = connect(args.port, args.flood_source)

        def one() -> None:
            t0 = time.perf_counter()
            try:
                flood_status[post(conn, random_key())] += 1
            except OSError:
                flood_status[0] += 1
            flood_latencies.append((time.perf_counter() - t0) * 1000)

        paced(args.key_rate / FLOODERS, args.keys // FLOODERS, one, stop)

    threads = [threading.Thread(target=flooder) for _ in range(FLOODERS)]
    for thread in threads:
        thread.start()
    during, during_status = tenant_phase(args.port, args.key, flood_seconds, args.tenant_rate, args.tenant_source)
    stop.set()  # the flood ends with the tenant's phase; what it reached is reported
    for thread in threads:
        thread.join()

    print(json.dumps({
        "random_keys_sent": sum(flood_status.values()),
        "random_key_answers": dict(flood_status),
        "random_key_p50_ms": pct(flood_latencies, 0.5) if flood_latencies else None,
        "sources": {"flood": args.flood_source, "tenant": args.tenant_source},
        "tenant_without_flood": {"requests": len(base), "p50_ms": pct(base, 0.5), "p99_ms": pct(base, 0.99),
                                 "statuses": dict(base_status)},
        "tenant_during_flood": {"requests": len(during), "p50_ms": pct(during, 0.5), "p99_ms": pct(during, 0.99),
                                "median_ms": round(statistics.median(during), 1), "statuses": dict(during_status)},
    }, indent=2))


if __name__ == "__main__":
    main()
