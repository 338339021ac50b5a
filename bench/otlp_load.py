"""OpenTelemetry ingestion throughput: POST /v1/traces, protobuf, batches of 512 spans (the SDK's
BatchSpanProcessor default), every request new spans (64 traces of 8 spans: a root with our run
attributes, chat calls with GenAI usage, tool calls), as an instrumented agent fleet sends them.

Two modes:

  # against a running server (bench/otlp.sh starts one on a scratch database and runs this):
  .venv/bin/python bench/otlp_load.py --url http://127.0.0.1:8004 --key clk_... \\
      --threads 4 --seconds 20 [--cpu-pids 1234,5678]

  # in-process, no HTTP: the export service itself, this process's CPU and its PostgreSQL
  # backend's (from /proc) per batch; needs DATABASE_URL (a scratch database: it writes)
  DJANGO_SETTINGS_MODULE=central_logger.settings_test DATABASE_URL=... \\
      .venv/bin/python bench/otlp_load.py --in-process --batches 40

`--cpu-pids`: processes whose CPU (with their children: gunicorn's master and workers, the
postmaster and its backends) is sampled from /proc before and after, to report CPU per span.
Prints one JSON line of results.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import sys
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

SPANS_PER_TRACE = 8
RESOURCE = {"service.name": "support-agent", "service.version": "2.3.1", "deployment.environment.name": "production",
            "telemetry.sdk.language": "python", "telemetry.sdk.name": "opentelemetry",
            "telemetry.sdk.version": "1.45.1", "service.instance.id": "3f1e0c3e-8f5b-4c9a-9d2f-1b2c3d4e5f60"}
CHAT = {"gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06", "gen_ai.usage.input_tokens": 1200,
        "gen_ai.usage.output_tokens": 150, "server.address": "api.openai.com",
        "gen_ai.response.id": "chatcmpl-AbCdEfGhIjKlMnOpQrStUv", "gen_ai.response.finish_reasons": ["stop"]}
TOOL = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "crm_lookup", "gen_ai.tool.call.id": "call_x1"}


def _value(v: Any) -> AnyValue:
    if isinstance(v, int):
        return AnyValue(int_value=v)
    if isinstance(v, list):
        out = AnyValue()
        out.array_value.values.extend(_value(x) for x in v)
        return out
    return AnyValue(string_value=v)


def _attrs(values: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=_value(v)) for k, v in values.items()]


def body(spans: int = 512, rng: random.Random | None = None) -> bytes:
    """One export of `spans` new spans (ids random, times now)."""
    rng = rng or random.Random()
    request = ExportTraceServiceRequest()
    group = request.resource_spans.add()
    group.resource.attributes.extend(_attrs(RESOURCE))
    scope = group.scope_spans.add()
    scope.scope.name, scope.scope.version = "support.agent", "1.0.0"
    now = time.time_ns()
    chat, tool = _attrs(CHAT), _attrs(TOOL)
    for _ in range(spans // SPANS_PER_TRACE):
        trace, root = rng.randbytes(16), rng.randbytes(8)
        scope.spans.append(Span(trace_id=trace, span_id=root, name="handle ticket", kind=Span.SPAN_KIND_SERVER,
                                start_time_unix_nano=now, end_time_unix_nano=now + 3_000_000_000,
                                attributes=_attrs({"ticket.id": f"T-{rng.randrange(10**9)}",
                                                   "ticket.category": "billing_issue", "customer.type": "VIP"})))
        for i in range(1, SPANS_PER_TRACE):
            start = now + i * 300_000_000
            scope.spans.append(Span(trace_id=trace, span_id=rng.randbytes(8), parent_span_id=root,
                                    name="chat gpt-4o" if i % 2 else "execute_tool crm_lookup",
                                    kind=Span.SPAN_KIND_CLIENT if i % 2 else Span.SPAN_KIND_INTERNAL,
                                    start_time_unix_nano=start, end_time_unix_nano=start + 250_000_000,
                                    attributes=chat if i % 2 else tool))
    return request.SerializeToString()


def _cpu_seconds(pids: list[int]) -> float:
    """CPU (user + system) of these processes and all their descendants, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = fields
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0.0, list(pids)
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += (int(stats[pid][11]) + int(stats[pid][12])) / tick
        todo.extend(children.get(pid, []))
    return total


def over_http(args: argparse.Namespace) -> dict[str, Any]:
    url = urllib.parse.urlsplit(args.url)
    count = max(args.threads * 4, int(args.seconds * 40))
    bodies = [body(args.spans, random.Random(n)) for n in range(count)]
    latencies: list[float] = []
    errors: dict[int, int] = {}
    next_body = iter(range(10**9))
    lock = threading.Lock()
    stop_at = time.monotonic() + args.seconds
    headers = {"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {args.key}"}

    def worker() -> None:
        conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=30)
        while time.monotonic() < stop_at:
            with lock:
                index = next(next_body)
            if index >= len(bodies):
                return
            started = time.perf_counter()
            conn.request("POST", "/v1/traces", body=bodies[index], headers=headers)
            response = conn.getresponse()
            response.read()
            with lock:
                latencies.append(time.perf_counter() - started)
                if response.status != 200:
                    errors[response.status] = errors.get(response.status, 0) + 1

    pids = [int(p) for p in args.cpu_pids.split(",") if p] if args.cpu_pids else []
    cpu0, wall0 = _cpu_seconds(pids), time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - wall0
    ok = len(latencies) - sum(errors.values())
    spans = ok * args.spans
    latencies.sort()
    out = {"mode": "http", "threads": args.threads, "seconds": round(wall, 2), "requests": len(latencies),
           "errors": errors, "spans_per_second": round(spans / wall), "requests_per_second": round(len(latencies) / wall, 1),
           "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
           "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1) if latencies else None,
           "ran_out_of_bodies": len(latencies) >= len(bodies)}
    if pids and spans:
        out["cpu_us_per_span"] = round((_cpu_seconds(pids) - cpu0) / spans * 1e6, 1)
    return out


def in_process(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import django

    django.setup()
    from django.db import connection

    from otel import services
    from tenants.models import Client
    from tenants.services import client_create

    client = Client.objects.filter(slug="bench-otlp").first() or client_create(slug="bench-otlp", name="bench otlp")
    bodies = [body(args.spans, random.Random(n)) for n in range(args.batches + 1)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    services.traces_export(client=client, api_key_id=None, body=bodies[0], protobuf=True)  # warm
    cpu0, pg0, wall0 = time.process_time(), _cpu_seconds([backend]), time.perf_counter()
    for item in bodies[1:]:
        services.traces_export(client=client, api_key_id=None, body=item, protobuf=True)
    n = args.batches
    app, pg, wall = (time.process_time() - cpu0) / n, (_cpu_seconds([backend]) - pg0) / n, (time.perf_counter() - wall0) / n
    return {"mode": "in-process", "batches": n, "spans_per_batch": args.spans,
            "app_cpu_ms_per_batch": round(app * 1000, 1), "postgres_cpu_ms_per_batch": round(pg * 1000, 1),
            "wall_ms_per_batch": round(wall * 1000, 1), "cpu_us_per_span": round((app + pg) / args.spans * 1e6, 1),
            "spans_per_cpu_second": round(args.spans / (app + pg))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8004")
    parser.add_argument("--key", default=os.environ.get("BENCH_OTLP_KEY", ""))
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--spans", type=int, default=512)
    parser.add_argument("--cpu-pids", default="")
    parser.add_argument("--in-process", action="store_true")
    parser.add_argument("--batches", type=int, default=40)
    args = parser.parse_args()
    print(json.dumps(in_process(args) if args.in_process else over_http(args)))


if __name__ == "__main__":
    main()
