"""What the group commit costs a lone single log (c1): this process's CPU and wall time per insert
through `ingestion.groupcommit.insert` (no other request: the log goes alone) against
`writes.insert_one_committed` called directly (the path before the group commit), 8 alternating
blocks of 200 harness logs; every row written is deleted at the end.

    BENCHMARKS=true DATABASE_URL=postgres://root@127.0.0.1:5432/bench_django BENCH_HARNESS=../benchwork \
        PYTHONPATH=. .venv/bin/python bench/single_c1_cpu.py
"""
import json
import os
import statistics
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central_logger.settings")
django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from bench.harness import load_gen  # noqa: E402
from ingestion import groupcommit  # noqa: E402
from ingestion.validation import clean_log  # noqa: E402
from logs.tenant_sql import writes  # noqa: E402
from tenants.models import Client  # noqa: E402

client = Client.objects.get(slug="bench-writer")
gen = load_gen()
bodies = [json.loads(gen.dumps(b)) for b in gen.LogGen(seed=7, client_id="bench-writer").logs(200)]
fields = [clean_log(b)[0] for b in bodies]
ids = []
def block(way, n=200):
    cpu = time.process_time(); wall = time.perf_counter()
    for f in fields[:n]:
        row = writes.stored_row(dict(f), timezone.now())
        if way == "group":
            assert groupcommit.insert(client, row)
        else:
            assert writes.insert_one_committed(client, row, row["created_at"], timeout_ms=1000)
        ids.append(row["id"])
    return (time.process_time() - cpu) / n * 1e6, (time.perf_counter() - wall) / n * 1e6
res = {"group": [], "direct": []}
for i in range(8):
    for way in (("group", "direct") if i % 2 else ("direct", "group")):
        res[way].append(block(way))
for way, vals in res.items():
    print(way, "cpu us/insert median", round(statistics.median(v[0] for v in vals), 1), "range", [round(min(v[0] for v in vals),1), round(max(v[0] for v in vals),1)],
          "wall us median", round(statistics.median(v[1] for v in vals), 1))
d = [g[0] - x[0] for g, x in zip(res["group"], res["direct"])]
print("group - direct cpu us per insert, per pair:", [round(x, 1) for x in d])
with connection.cursor() as c:
    c.execute("DELETE FROM workflow_logs WHERE client_id = %s AND id = ANY(%s)", [client.pk, ids])
print("deleted", len(ids))
