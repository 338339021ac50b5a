#!/usr/bin/env bash
# The metrics endpoints the shared harness has no scenario for (ours only): wrk at 16 connections
# against bench_django (`make bench-fixture` first; keys from var/bench-targets.json, written by
# `make bench` or `manage.py bench_load_fixture --keys-only --targets var/bench-targets.json`).
set -euo pipefail
cd "$(dirname "$0")/.."
HARNESS=${BENCH_HARNESS:-$(cd .. && pwd)/benchwork}
export SECRET_KEY=bench-secret-not-for-production API_KEY_PEPPER=bench-pepper-not-for-production
export DATABASE_URL=postgres://root@127.0.0.1:5432/bench_django REDIS_URL=redis://127.0.0.1:6379/12
export CACHE_KEY_PREFIX=bench-django GUNICORN_ACCESSLOG="" RATE_LIMIT_INGEST=100000000/min RATE_LIMIT_READ=100000000/min PORT=8002
KEY=$(python3 -c "import json;print([t for t in json.load(open('var/bench-targets.json')) if t['name']=='django'][0]['api_key'])")
.venv/bin/gunicorn central_logger.wsgi -c gunicorn.conf.py --pid var/extra.pid >/tmp/extra-gunicorn.log 2>&1 &
GPID=$!
trap 'kill $GPID 2>/dev/null || true' EXIT
for _ in $(seq 30); do curl -sf http://127.0.0.1:8002/health >/dev/null && break; sleep 1; done
run() {  # conc path
  local out; out=$(mktemp)
  BENCH_METHOD=GET BENCH_MODE=path BENCH_PATH="$2" BENCH_HEADERS="X-API-Key: $KEY" BENCH_OUT=$out \
    wrk -t2 -c$1 -d${DUR:-15}s --timeout 30s -s "$HARNESS/load/wrk/bench.lua" http://127.0.0.1:8002 >/dev/null
  python3 - "$out" "$1" "$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); s = r["duration_us"] / 1e6
lat = r.get("latency_us", r.get("latency", {}))
def p(q):
    for k in (f"p{q}", str(q), q):
        if isinstance(lat, dict) and k in lat: return lat[k] / 1000
    return float("nan")
print(f"| {sys.argv[3]} | c{sys.argv[2]} | {r['requests']/s:.1f} | {p(50):.1f} | {p(99):.1f} | {r.get('status')} |")
PY
}
echo "| path | conc | req/s | p50 ms | p99 ms | statuses |"
for path in "/api/v1/metrics/timeseries" "/api/v1/metrics/timeseries?days=90" "/api/v1/metrics/errors" "/api/v1/metrics/errors?days=90" "/api/v1/metrics/versions" "/api/v1/metrics/overview" "/api/v1/metrics/timeseries?days=90&interval=hour"; do
  run 16 "$path"
done

