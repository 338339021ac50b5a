#!/usr/bin/env bash
# `make bench`: the peer and this server under the same load, in the same run (see bench/README.md).
#
# Needs: the shared harness copied somewhere writable with its venv (BENCH_HARNESS, default
# ../benchwork: `cp -r ../shared/bench ../benchwork && cd ../benchwork && python3 -m venv .venv &&
# .venv/bin/pip install -r requirements.txt -r peer/requirements.txt`), wrk, the peer's fixture in
# bench_peer (harness load/fixture.py) and ours in bench_django (`make bench-fixture`).
set -euo pipefail
cd "$(dirname "$0")/.."
HARNESS=${BENCH_HARNESS:-$(cd .. && pwd)/benchwork}
DJANGO_DB=${BENCH_DJANGO_DB:-bench_django}
PEER_DB=${BENCH_PEER_DB:-bench_peer}
DJANGO_PORT=${BENCH_DJANGO_PORT:-8002}
PEER_PORT=${BENCH_PEER_PORT:-8001}
SCENARIOS=${BENCH_SCENARIOS:-health,get_by_id,list_failed,list_range,overview_90d,categories,get_by_id@c1,list_failed@c1,overview_90d@c1,categories@c1,post_single,post_batch}
RUNS=${BENCH_RUNS:-3}
DURATION=${BENCH_DURATION:-20}
STAMP=$(date -u +%Y%m%d-%H%M%S)
OUT=${BENCH_OUT:-bench/results/load-$STAMP.json}
TARGETS=${BENCH_TARGETS:-var/bench-targets.json}

# The bench app (its manage.py commands) is installed only when asked for.
export BENCHMARKS=true
export SECRET_KEY=${SECRET_KEY:-bench-secret-not-for-production}
export API_KEY_PEPPER=${API_KEY_PEPPER:-bench-pepper-not-for-production}
export DATABASE_URL=postgres://root@127.0.0.1:5432/$DJANGO_DB
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/12}
export CACHE_KEY_PREFIX=${CACHE_KEY_PREFIX:-bench-django}
export GUNICORN_ACCESSLOG=""
# The benchmark measures throughput, not the per-key rate limiter (which still runs).
export RATE_LIMIT_INGEST=${RATE_LIMIT_INGEST:-100000000/min}
export RATE_LIMIT_READ=${RATE_LIMIT_READ:-100000000/min}
export PORT=$DJANGO_PORT

mkdir -p var bench/results
.venv/bin/python manage.py migrate --noinput -v0
# Fresh keys for bench-main / bench-writer, and the driver's targets file (peer + django).
# BENCH_PEER=0: measure this server alone (e.g. the growth check on another database).
WITH_PEER=${BENCH_PEER:-1}
PEER_ARGS=(--peer-url "")
[ "$WITH_PEER" = 1 ] && PEER_ARGS=(--peer-url "http://127.0.0.1:$PEER_PORT")
.venv/bin/python manage.py bench_load_fixture --keys-only --targets "$TARGETS" \
    --django-url "http://127.0.0.1:$DJANGO_PORT" "${PEER_ARGS[@]}"

# This machine's PostgreSQL runs with autovacuum off: clear the dead rows earlier runs left
# (their POST scenarios' deletes, the rollup's updates) so every run starts from the same state.
psql -h 127.0.0.1 -U root -q -d "$DJANGO_DB" -c "VACUUM (ANALYZE) workflow_logs, logs_rollup, logs_rollup_pending"
[ "$WITH_PEER" = 1 ] && psql -h 127.0.0.1 -U root -q -d "$PEER_DB" -c "VACUUM (ANALYZE) workflow_logs"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
.venv/bin/gunicorn central_logger.wsgi -c gunicorn.conf.py --pid var/bench-django.pid &
pids+=($!)
if [ "$WITH_PEER" = 1 ] && ! curl -sf "http://127.0.0.1:$PEER_PORT/health" >/dev/null; then
    PORT=$PEER_PORT PIDFILE=$(pwd)/var/bench-peer.pid VENV="$HARNESS/.venv" \
        DATABASE_URL=postgresql+psycopg2://root@127.0.0.1:5432/$PEER_DB "$HARNESS/peer/run.sh" &
    pids+=($!)
fi
for _ in $(seq 60); do
    curl -sf "http://127.0.0.1:$DJANGO_PORT/health" >/dev/null && \
        { [ "$WITH_PEER" != 1 ] || curl -sf "http://127.0.0.1:$PEER_PORT/health" >/dev/null; } && break
    sleep 1
done

"$HARNESS/.venv/bin/python" "$HARNESS/load/run.py" --targets "$TARGETS" --scenarios "$SCENARIOS" \
    --runs "$RUNS" --duration "$DURATION" --out "$OUT"

# The POST scenarios wrote to bench-writer on both sides: remove those rows so the next run
# starts from the same fixture.
.venv/bin/python manage.py bench_load_fixture --delete-client bench-writer
if [ "$WITH_PEER" = 1 ]; then
    "$HARNESS/.venv/bin/python" "$HARNESS/load/fixture.py" --db "$PEER_DB" --delete-client bench-writer
fi
