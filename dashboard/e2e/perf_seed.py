"""Fill one client with N synthetic workflow logs straight in PostgreSQL (for e2e/perf.mjs).

Shaped like the real workflow's logs (status 85/7/5/3 %, ten categories, four versions, metrics
with overall_confidence and needs_more_info, a ReAct trace), spread uniformly over the last 90
days. INSERT ... SELECT generate_series in chunks: a million rows take about a minute, where the
HTTP API would take much longer; ingestion speed is not what this measures.

    python perf_seed.py <database-url> <client-slug> <n>
"""
from __future__ import annotations

import json
import sys
import time

import psycopg

TRACE = json.dumps({
    "trace": {
        "react_iterations": [
            {"iteration": k, "thought": "Check the order history and the warranty status of the device.",
             "action": action, "action_input": {"query": "firmware update blinking red light", "top_k": 5},
             "observation": "Found a similar issue resolved by factory reset instructions.", "duration_ms": 800 + k}
            for k, action in enumerate(["search_knowledge_base", "lookup_order", "draft_response"], 1)
        ],
        "retrieval": {"text_matches": [{"doc_id": "kb-1201", "score": 0.87, "snippet": "Factory reset."}]},
        "planning": {"steps": ["Verify serial number.", "Suggest troubleshooting steps."], "confidence": 0.91},
        "product": {"name": "Mesh Pro 3", "sku": "SKU-00421", "confidence": 0.66},
        "evidence": {"sources": 3, "summary": "Knowledge base article matches product model."},
    },
    "final_response": "Please hold the reset button for ten seconds, then set the router up again.",
    "private_note": "Offered an RMA if the reset does not help.",
})

CHUNK = 100_000

SQL = """
INSERT INTO workflow_logs (id, client_id, environment, workflow_version, ticket_id, executed_at,
    execution_time_seconds, status, category, resolution_status, customer_type, workflow_error,
    workflow_error_type, workflow_error_node, is_system_error, metrics, payload, metadata, extra, created_at)
SELECT gen_random_uuid(), %(client)s,
    CASE WHEN r.e < 0.90 THEN 'production' WHEN r.e < 0.98 THEN 'staging' ELSE 'development' END,
    (ARRAY['v1.0','v1.1','v1.2','v2.0'])[1 + floor(r.v * 4)::int],
    (10000 + g)::text,
    now() - r.t * interval '90 days',
    round((0.5 + 12 * r.d * r.d)::numeric, 2)::float8,
    r.status,
    (ARRAY['PRODUCT_SUPPORT','billing_issue','technical_issue','account_access','shipping_inquiry',
           'refund_request','warranty_claim','feature_request','bug_report','general_inquiry'])[1 + floor(r.c * 10)::int],
    CASE WHEN r.status = 'SUCCESS' THEN 'RESOLVED' ELSE 'ESCALATED' END,
    CASE WHEN r.c < 0.12 THEN 'VIP' END,
    CASE WHEN r.status IN ('FAILED','ERROR') THEN 'TimeoutError: the upstream call took too long' END,
    CASE WHEN r.status IN ('FAILED','ERROR') THEN (ARRAY['TimeoutError','RateLimitError','ValidationError'])[1 + floor(r.v * 3)::int] END,
    CASE WHEN r.status IN ('FAILED','ERROR') THEN (ARRAY['planner','retriever','react_agent','responder'])[1 + floor(r.e * 4)::int] END,
    r.status = 'ERROR',
    jsonb_build_object('overall_confidence', round((0.4 + 0.59 * r.d)::numeric, 3), 'needs_more_info', r.c < 0.2,
                       'react_iterations', 3, 'plan_steps', 2 + floor(r.v * 5)::int, 'vip_compliant', true),
    %(payload)s::jsonb,
    jsonb_build_object('priority', 'normal'),
    '{}'::jsonb,
    now()
FROM generate_series(%(start)s::bigint, %(stop)s::bigint) AS g,
LATERAL (SELECT random() AS e, random() AS v, random() AS t, random() AS d, random() AS c, random() AS s) AS raw,
LATERAL (SELECT raw.*, CASE WHEN raw.s < 0.85 THEN 'SUCCESS' WHEN raw.s < 0.92 THEN 'PARTIAL'
                              WHEN raw.s < 0.97 THEN 'FAILED' ELSE 'ERROR' END AS status) AS r
"""


def main() -> None:
    url, slug, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with psycopg.connect(url, autocommit=True) as conn:
        client = conn.execute("SELECT id FROM tenants_client WHERE slug = %s", (slug,)).fetchone()[0]
        have = conn.execute("SELECT count(*) FROM workflow_logs WHERE client_id = %s", (client,)).fetchone()[0]
        started = time.time()
        for start in range(have, n, CHUNK):
            stop = min(start + CHUNK, n) - 1
            conn.execute(SQL, {"client": client, "payload": TRACE, "start": start, "stop": stop})
            print(f"  {stop + 1:>9,} logs ({time.time() - started:.0f} s)", flush=True)
        if have < n:
            conn.execute("VACUUM ANALYZE workflow_logs")
        print(f"client {slug}: {max(have, n):,} logs")


if __name__ == "__main__":
    main()
