"""The container's health check (Dockerfile HEALTHCHECK):

    python -m central_logger.healthcheck        exit 0 healthy, 1 unhealthy; one line either way

Healthy means this instance can keep the promise of a 2xx: the process answers, and its spool
can be written (when PostgreSQL is away, accepted logs wait there). It reads /health/ready:

* 200 ready → healthy;
* 503 with the spool writable (the database is unreachable, or the spool is full while the
  database takes the logs) → still healthy: ingestion goes on, restarting would not help, and
  readiness, /metrics and the logs say what is wrong;
* the spool not writable (a volume mounted root-owned or read-only), no answer, or anything
  else → unhealthy.

Standard library only, so a check costs a fraction of a second and no Django start-up. The Host
header is the first of ALLOWED_HOSTS, so a deployment that serves only its public name passes.
"""
from __future__ import annotations

import http.client
import json
import sys

from central_logger import listen

TIMEOUT_SECONDS = 2.0


def _host_header() -> str:
    for host in listen.configured("ALLOWED_HOSTS", "localhost").split(","):
        host = host.strip()
        if host and host != "*":
            return "localhost" + host if host.startswith(".") else host  # ".example.com" allows x.example.com
    return "localhost"


def check(base_url: str | None = None) -> tuple[bool, str]:
    """(healthy, one line saying why)."""
    base = base_url or listen.url()
    if not base.startswith("http://"):
        return False, f"cannot check {base}: a TCP address is needed (set HOST/PORT, not a unix socket)"
    host, _, port = base.removeprefix("http://").rpartition(":")
    conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=TIMEOUT_SECONDS)
    try:
        conn.request("GET", "/health/ready", headers={"Host": _host_header(), "Accept": "application/json"})
        response = conn.getresponse()
        status, raw = response.status, response.read()
    except OSError as exc:
        return False, f"no answer from {base}: {exc}"
    finally:
        conn.close()
    try:
        body = json.loads(raw)
    except ValueError:
        return False, f"/health/ready answered {status} without JSON"
    spool = body.get("spool") or {}
    reasons = ", ".join(body.get("reasons") or []) or "ready"
    if status not in (200, 503):
        return False, f"/health/ready answered {status}: {(body.get('error') or {}).get('message', raw[:200])}"
    if spool.get("writable") is not True:
        return False, f"unhealthy: the spool cannot be written ({reasons}); accepted logs would have nowhere to wait"
    return True, f"healthy ({reasons})"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    healthy, line = check(args[0] if args else None)
    print(line)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
