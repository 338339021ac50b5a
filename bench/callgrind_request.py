"""Driven by bench/callgrind.sh under valgrind: N requests of one kind through Django's test
client, in one process, so that callgrind counts the instructions our code path costs."""
from __future__ import annotations

import gc
import json
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central_logger.settings")
django.setup()

from django.test import Client as HttpClient  # noqa: E402

from bench.harness import load_gen  # noqa: E402

# Set here, not by central_logger.warmup.tune_gc: CODE may be a checkout from before it existed.
if os.environ.get("GC_GEN0_THRESHOLD"):
    gc.set_threshold(int(os.environ["GC_GEN0_THRESHOLD"]), *gc.get_threshold()[1:])
targets = json.load(open(os.environ.get("TARGETS", "var/bench-targets.json")))
ours = next(t for t in targets if t["name"] == "django")
kind, count = sys.argv[1], int(sys.argv[2])
if kind == "single":
    gen = load_gen()
    body = gen.dumps(next(iter(gen.LogGen(seed=11, client_id="bench-writer").logs(1)))).encode()
    client = HttpClient(HTTP_X_API_KEY=ours["write_api_key"])
    for _ in range(count):
        response = client.post("/api/v1/logs", body, content_type="application/json")
        assert response.status_code == 201, response.content[:300]
elif kind == "batch":
    gen = load_gen()
    logs = [json.loads(gen.dumps(body)) for body in gen.LogGen(seed=11, client_id="bench-writer").logs(100)]
    body = json.dumps({"logs": logs}).encode()
    client = HttpClient(HTTP_X_API_KEY=ours["write_api_key"])
    for _ in range(count):
        response = client.post("/api/v1/logs/batch", body, content_type="application/json")
        assert response.status_code == 201, response.content[:300]
else:
    client = HttpClient(HTTP_X_API_KEY=ours["api_key"])
    for _ in range(count):
        response = client.get(kind)
        assert response.status_code == 200, response.content[:300]
