#!/usr/bin/env bash
# Instructions per request (or per log of a 100-log batch) of our server's code path, counted by
# valgrind's callgrind: repeatable to ~1 % whatever else the machine runs, where wall-clock A/B
# runs on this machine differ by 10-20 %. It counts this process only (Django's test client, the
# view, psycopg, redis-py), not PostgreSQL's work. Runs 30 and 130 requests (10 and 40 batches)
# and divides the difference, so start-up cancels out. About a minute per figure.
#
#   bench/callgrind.sh '/api/v1/logs?status=FAILED&page_size=50'
#   bench/callgrind.sh batch                                  # per log of a 100-log batch
#   bench/callgrind.sh single                                 # per single-log POST
#   CODE=../before bench/callgrind.sh batch                   # another checkout, same fixture
#   GC_GEN0_THRESHOLD=700 bench/callgrind.sh batch            # Python's default collector
#
# Needs the bench_django fixture and var/bench-targets.json (make bench-fixture) and valgrind
# (apt-get install valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
KIND=${1:?a GET path, or batch}
CODE=$(cd "${CODE:-.}" && pwd)
export PYTHONPATH="$CODE:$ROOT" TARGETS="$ROOT/var/bench-targets.json"
# The bench app (its manage.py commands) is installed only when asked for.
export BENCHMARKS=true
export SECRET_KEY=${SECRET_KEY:-bench-secret-not-for-production}
export API_KEY_PEPPER=${API_KEY_PEPPER:-bench-pepper-not-for-production}
export DATABASE_URL=postgres://root@127.0.0.1:5432/${BENCH_DJANGO_DB:-bench_django} ALLOWED_HOSTS='*'
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/12} CACHE_KEY_PREFIX=${CACHE_KEY_PREFIX:-bench-django}
# Nothing may expire or time out at valgrind's ~50x slower pace: the key cache, the ingestion
# deadline, the background flusher and drainer.
export API_KEY_CACHE_SECONDS=100000 INGEST_DB_TIMEOUT_MS=600000 DB_STATEMENT_TIMEOUT_MS=0
export ROLLUP_FLUSH_INTERVAL=0 SPOOL_DRAIN_INTERVAL=0
# Every other background loop too: at valgrind's pace each ticks hundreds of times per run (the
# search indexer also indexes every log the run stores), and a longer run ticks more, so the
# difference of two runs would count them as the request's work.
export SEARCH_INDEX_INTERVAL=0 LOG_PARTITION_MAINTENANCE_INTERVAL=0 KEY_SNAPSHOT_SYNC_INTERVAL=0
export ALERT_EVAL_INTERVAL_SECONDS=0 ALERT_DELIVERY_INTERVAL_SECONDS=0
export RATE_LIMIT_INGEST=100000000/min RATE_LIMIT_READ=100000000/min
export GC_GEN0_THRESHOLD=${GC_GEN0_THRESHOLD:-5000}  # as gunicorn.conf.py sets it in a worker
out=$(mktemp -d)
count() {
    valgrind --tool=callgrind --callgrind-out-file="$out/cg.$1" "$ROOT/.venv/bin/python" \
        "$ROOT/bench/callgrind_request.py" "$KIND" "$1" 2>&1 >/dev/null \
        | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
if [ "$KIND" = batch ]; then
    few=$(count 10)
    many=$(count 40)
    echo "$(( (many - few) / 3000 )) instructions per log ($KIND, $CODE)"
else
    few=$(count 30)
    many=$(count 130)
    per=$(( (many - few) / 100 ))
    echo "$per instructions per request ($KIND, $CODE)"
fi
rm -rf "$out"
