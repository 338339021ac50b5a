#!/usr/bin/env bash
# The metrics endpoints the shared harness has no scenario for (ours only): wrk at 16 connections
# against bench_django (`make bench-fixture` first; keys from var/bench-targets.json, written by
# `make bench` or `manage.py bench_load_fixture --keys-only --targets var/bench-targets.json`).
# Each endpoint is run BENCH_RUNS times (default 3, DUR seconds each), rounds interleaved; medians.
set -euo pipefail
cd "$(dirname "$0")/.."
HARNESS=${BENCH_HARNESS:-$(cd .. && pwd)/benchwork}
# The bench app (its manage.py commands) is installed only when asked for.
export BENCHMARKS=true
export SECRET_KEY=bench-secret-not-for-production API_KEY_PEPPER=bench-pepper-not-for-production
export DATABASE_URL=postgres://root@127.0.0.1:5432/bench_django REDIS_URL=redis://127.0.0.1:6379/12
export CACHE_KEY_PREFIX=bench-django GUNICORN_ACCESSLOG="" RATE_LIMIT_INGEST=100000000/min RATE_LIMIT_READ=100000000/min PORT=8002
# Dead rows left by earlier POST runs slow the planner's probes of the rollup's indexes.
psql -h 127.0.0.1 -U root -q -d bench_django -c "VACUUM (ANALYZE) workflow_logs, logs_rollup, logs_rollup_pending"
KEY=$(python3 -c "import json;print([t for t in json.load(open('var/bench-targets.json')) if t['name']=='django'][0]['api_key'])")
.venv/bin/gunicorn central_logger.wsgi -c gunicorn.conf.py --pid var/extra.pid >/tmp/extra-gunicorn.log 2>&1 &
GPID=$!
trap 'kill $GPID 2>/dev/null || true' EXIT
for _ in $(seq 30); do curl -sf http://127.0.0.1:8002/health >/dev/null && break; sleep 1; done
RUNS=${BENCH_RUNS:-3}
RAW=$(mktemp -d)
run() {  # conc path run-index: one wrk run, its JSON kept for the medians
  local slug; slug=$(printf '%s' "$2" | tr -c 'a-zA-Z0-9' '_')
  BENCH_METHOD=GET BENCH_MODE=path BENCH_PATH="$2" BENCH_HEADERS="X-API-Key: $KEY" BENCH_OUT="$RAW/$slug.$3.json" \
    wrk -t2 -c$1 -d${DUR:-15}s --timeout 30s -s "$HARNESS/load/wrk/bench.lua" http://127.0.0.1:8002 >/dev/null
}
PATHS=("/api/v1/metrics/timeseries" "/api/v1/metrics/timeseries?days=90" "/api/v1/metrics/errors"
       "/api/v1/metrics/errors?days=90" "/api/v1/metrics/versions" "/api/v1/metrics/overview"
       "/api/v1/metrics/timeseries?days=90&interval=hour")
# Rounds interleave the endpoints, so a noisy stretch of the machine touches all of them alike.
for i in $(seq "$RUNS"); do
  for path in "${PATHS[@]}"; do run 16 "$path" "$i"; done
done
python3 - "$RAW" "$RUNS" "${PATHS[@]}" <<'PY'
import json, statistics, sys
raw, runs, paths = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def lat(r, q):
    l = r.get("latency_us", r.get("latency", {}))
    for k in (f"p{q}", str(q), q):
        if isinstance(l, dict) and k in l: return l[k] / 1000
    return float("nan")
print(f"Medians of {runs} runs, c16.\n")
print("| path | conc | req/s | p50 ms | p99 ms | statuses (all runs) |")
print("|---|---|---:|---:|---:|---|")
for path in paths:
    slug = "".join(c if c.isalnum() else "_" for c in path)
    rs = [json.load(open(f"{raw}/{slug}.{i}.json")) for i in range(1, runs + 1)]
    statuses = {}
    for r in rs:
        for k, v in (r.get("status") or {}).items(): statuses[k] = statuses.get(k, 0) + v
    rate = statistics.median(r["requests"] / (r["duration_us"] / 1e6) for r in rs)
    print(f"| {path} | c16 | {rate:.1f} | {statistics.median(lat(r, 50) for r in rs):.1f} | "
          f"{statistics.median(lat(r, 99) for r in rs):.1f} | {statuses} |")
PY
rm -rf "$RAW"
