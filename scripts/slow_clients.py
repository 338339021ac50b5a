"""Slow clients must not starve the service: hundreds of trickling connections vs a normal client.

Local only (127.0.0.1), bounded (--seconds, at most 600). Run against a service that is already
up (e.g. `make run`, or the chaos/soak gunicorn), with a key that has the ingest and read scopes:

    .venv/bin/python scripts/slow_clients.py --port 8000 --key clk_... \
        [--slowloris 200] [--slow-body 50] [--short-body 0] [--seconds 25]

Three kinds of slow connection, each kept open for the whole run (one that the server closes is
reopened at once, as an attacker would):
* slowloris: a POST's request line and headers, one byte per second, never finished;
* slow body: complete headers with a valid key, then the body one byte per second;
* short body: complete headers whose Content-Length is 100 bytes more than the body that follows
  at once, then nothing (the connection stays open).

A normal client meanwhile sends single-log POSTs (--rate per second) and list reads
(--read-rate per second), each on a new connection with the real client's 3-second timeout and
no retry; first for a baseline (--baseline seconds, no slow connections), then with the slow
connections open. Prints a JSON summary: per phase the POSTs' and reads' outcomes and latencies,
and how long the server let each kind of slow connection hold on before closing it. Passes (exit
0) when, with the slow connections open, at least 95 % of the POSTs got a 2xx and 95 % of the
reads a 200 (the target of issue 19).
"""
from __future__ import annotations

import argparse
import http.client
import json
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

HOST = "127.0.0.1"
LOG = (b'{"environment": "production", "status": "SUCCESS", "executed_at": "2025-01-01T00:00:00Z", '
       b'"ticket_id": "slow-test", "execution_time_seconds": 1.5}')
KINDS = ("slowloris", "slow_body", "short_body")


def percentile(values: list[float], p: float) -> float | None:
    values = sorted(values)
    return round(values[min(int(len(values) * p), len(values) - 1)], 1) if values else None


@dataclass
class Outcomes:
    """What the normal client saw in one phase."""

    posts: list[tuple[int | None, float]] = field(default_factory=list)  # (status or None, ms)
    reads: list[tuple[int | None, float]] = field(default_factory=list)

    @staticmethod
    def _summary(rows: list[tuple[int | None, float]], ok: range) -> dict[str, Any]:
        good = [ms for status, ms in rows if status is not None and status in ok]
        statuses: dict[str, int] = {}
        for status, _ms in rows:
            statuses[str(status) if status is not None else "error/timeout"] = statuses.get(
                str(status) if status is not None else "error/timeout", 0) + 1
        return {"requests": len(rows), "ok": len(good),
                "ok_share": round(len(good) / len(rows), 3) if rows else None, "statuses": statuses,
                "p50_ms": percentile(good, 0.5), "p99_ms": percentile(good, 0.99)}

    def summary(self) -> dict[str, Any]:
        return {"posts": self._summary(self.posts, range(200, 300)), "reads": self._summary(self.reads, range(200, 201))}


def _request(port: int, key: str, method: str, path: str, body: bytes | None) -> tuple[int | None, float]:
    started = time.monotonic()
    try:
        conn = http.client.HTTPConnection(HOST, port, timeout=3)
        headers = {"X-API-Key": key}
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        conn.close()
        return response.status, (time.monotonic() - started) * 1000
    except (OSError, http.client.HTTPException):
        return None, (time.monotonic() - started) * 1000


def normal_client(port: int, key: str, seconds: float, rate: float, read_rate: float) -> Outcomes:
    """POSTs at `rate`/s and reads at `read_rate`/s, each on its own thread so a slow answer
    never delays the next request (the real clients are independent services)."""
    out = Outcomes()
    lock = threading.Lock()
    threads: list[threading.Thread] = []

    def one(kind: str) -> None:
        if kind == "post":
            result = _request(port, key, "POST", "/api/v1/logs", LOG)
        else:
            result = _request(port, key, "GET", "/api/v1/logs?page_size=10", None)
        with lock:
            (out.posts if kind == "post" else out.reads).append(result)

    schedule = sorted([(i / rate, "post") for i in range(int(seconds * rate))]
                      + ([(i / read_rate, "read") for i in range(int(seconds * read_rate))] if read_rate else []))
    start = time.monotonic()
    for at, kind in schedule:
        time.sleep(max(0.0, start + at - time.monotonic()))
        thread = threading.Thread(target=one, args=(kind,), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(5)
    return out


@dataclass
class SlowStats:
    opened: int = 0
    closed_by_server: int = 0
    held_seconds: list[float] = field(default_factory=list)  # until the server closed it
    lock: threading.Lock = field(default_factory=threading.Lock)

    def summary(self) -> dict[str, Any]:
        held = self.held_seconds
        return {"opened": self.opened, "closed_by_server": self.closed_by_server,
                "held_until_closed_s": {"p50": percentile(held, 0.5), "max": round(max(held), 1)}
                if held else None}


def _slow_request(kind: str, key: str) -> tuple[bytes, bytes]:
    """(what is sent at once, what trickles at one byte per second)."""
    if kind == "slowloris":
        return b"", (f"POST /api/v1/logs HTTP/1.1\r\nHost: {HOST}\r\nX-API-Key: {key}\r\n"
                     "Content-Type: application/json\r\n" + "X-Padding: " + "a" * 10_000).encode()
    headers = (f"POST /api/v1/logs HTTP/1.1\r\nHost: {HOST}\r\nX-API-Key: {key}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(LOG) + 100}\r\n\r\n").encode()
    if kind == "slow_body":
        return headers, LOG + b" " * 100
    return headers + LOG, b""  # short body: 100 bytes never come


def _closed(sock: socket.socket) -> bool:
    """Whether the server has closed (or answered and closed) this connection."""
    try:
        sock.setblocking(False)
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return False
        except OSError:
            return True
        return data == b"" or b"\r\n\r\n" in data
    finally:
        sock.setblocking(True)


def slow_connection(port: int, key: str, kind: str, stop: threading.Event, stats: SlowStats) -> None:
    """Keep one slow connection of `kind` open until `stop`, reopening it when the server closes it."""
    at_once, trickle = _slow_request(kind, key)
    while not stop.is_set():
        try:
            sock = socket.create_connection((HOST, port), timeout=5)
        except OSError:
            stop.wait(0.5)
            continue
        opened = time.monotonic()
        with stats.lock:
            stats.opened += 1
        try:
            if at_once:
                sock.sendall(at_once)
            position = 0
            while not stop.wait(1.0):
                if _closed(sock):
                    with stats.lock:
                        stats.closed_by_server += 1
                        stats.held_seconds.append(time.monotonic() - opened)
                    break
                if position < len(trickle):
                    sock.send(trickle[position:position + 1])
                    position += 1
        except OSError:
            with stats.lock:
                stats.closed_by_server += 1
                stats.held_seconds.append(time.monotonic() - opened)
        finally:
            sock.close()


def run(port: int, key: str, *, slow: dict[str, int], seconds: float, baseline: float = 5.0,
        rate: float = 5.0, read_rate: float = 2.0) -> dict[str, Any]:
    """The whole measurement (scripts and tests call this): a baseline, then the normal client
    with the slow connections open for `seconds`."""
    seconds = min(seconds, 600)
    before = normal_client(port, key, baseline, rate, read_rate) if baseline > 0 else Outcomes()
    stop = threading.Event()
    stats = {kind: SlowStats() for kind in KINDS}
    threads = [threading.Thread(target=slow_connection, args=(port, key, kind, stop, stats[kind]), daemon=True)
               for kind in KINDS for _ in range(slow.get(kind, 0))]
    for thread in threads:
        thread.start()
    time.sleep(2)  # every slow connection is open and trickling
    loaded = normal_client(port, key, seconds, rate, read_rate)
    stop.set()
    for thread in threads:
        thread.join(3)
    result: dict[str, Any] = {
        "slow_connections": {kind: n for kind, n in slow.items() if n},
        "seconds": seconds,
        "baseline": before.summary(),
        "with_slow_clients": loaded.summary(),
        "slow": {kind: stats[kind].summary() for kind in KINDS if slow.get(kind)},
    }
    posts, reads = result["with_slow_clients"]["posts"], result["with_slow_clients"]["reads"]
    result["pass"] = bool((posts["ok_share"] or 0) >= 0.95 and (not read_rate or (reads["ok_share"] or 0) >= 0.95))
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--key", required=True, help="a key with the ingest and read scopes")
    parser.add_argument("--slowloris", type=int, default=200)
    parser.add_argument("--slow-body", type=int, default=50)
    parser.add_argument("--short-body", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=25, help="with the slow connections open")
    parser.add_argument("--baseline", type=float, default=5, help="seconds measured first, without them")
    parser.add_argument("--rate", type=float, default=5, help="normal POSTs per second")
    parser.add_argument("--read-rate", type=float, default=2, help="normal reads per second")
    args = parser.parse_args()
    result = run(args.port, args.key, slow={"slowloris": args.slowloris, "slow_body": args.slow_body,
                                            "short_body": args.short_body},
                 seconds=args.seconds, baseline=args.baseline, rate=args.rate, read_rate=args.read_rate)
    print(json.dumps(result, indent=2))
    sys.exit(0 if result["pass"] else 1)


if __name__ == "__main__":
    main()
