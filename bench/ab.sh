#!/usr/bin/env bash
# Two variants of this server (and the peer) under the same load, in one interleaved harness run:
# the way to tell a 5-15 % change from this machine's noise (its speed drifts by up to 2x within
# a day, so runs minutes apart do not compare). Each variant is a checkout (a `git worktree` of
# the commit to compare) and/or extra environment:
#
#   git worktree add ../before HEAD~1
#   B_DIR=../before bench/ab.sh                          # this checkout (A) against HEAD~1 (B)
#   A_ENV="WEB_CONCURRENCY=2" B_ENV="WEB_CONCURRENCY=4" BENCH_SCENARIOS=list_failed bench/ab.sh
#
# Both variants use this checkout's virtualenv and the bench_django fixture (migrate it to the
# newer variant first), unless B_DJANGO_DB names another database for B (a variant whose schema
# differs, e.g. before and after a migration that rebuilds the log table: give each a copy made
# with `createdb -T bench_django`); B then gets its own keys. Knobs as for run.sh:
# BENCH_HARNESS, BENCH_SCENARIOS (default list_failed), BENCH_RUNS (3), BENCH_DURATION (10),
# BENCH_OUT (JSON + .md, default under /tmp); AB_PEER=0 leaves the peer out (A and B only: a
# third of the time saved when only the ratio of A to B is wanted).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
HARNESS=${BENCH_HARNESS:-$(cd .. && pwd)/benchwork}
A_DIR=$(cd "${A_DIR:-.}" && pwd)
B_DIR=$(cd "${B_DIR:?B_DIR: the checkout to compare with}" && pwd)
# The bench app (its manage.py commands) is installed only when asked for.
export BENCHMARKS=true
export SECRET_KEY=${SECRET_KEY:-bench-secret-not-for-production}
export API_KEY_PEPPER=${API_KEY_PEPPER:-bench-pepper-not-for-production}
export DATABASE_URL=postgres://root@127.0.0.1:5432/${BENCH_DJANGO_DB:-bench_django}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/12} CACHE_KEY_PREFIX=${CACHE_KEY_PREFIX:-bench-django}
export GUNICORN_ACCESSLOG="" RATE_LIMIT_INGEST=100000000/min RATE_LIMIT_READ=100000000/min

mkdir -p var
.venv/bin/python manage.py bench_load_fixture --keys-only --targets var/bench-targets.json \
    --django-url http://127.0.0.1:8002 --peer-url http://127.0.0.1:8001 >/dev/null
psql -h 127.0.0.1 -U root -q -d "${BENCH_DJANGO_DB:-bench_django}" \
    -c "VACUUM (ANALYZE) workflow_logs, logs_rollup, logs_rollup_pending"
B_URL=$DATABASE_URL
cp var/bench-targets.json var/bench-targets-b.json
if [ -n "${B_DJANGO_DB:-}" ]; then
    B_URL=postgres://root@127.0.0.1:5432/$B_DJANGO_DB
    # With B's own code: B's database has B's schema (a newer model may name a column it lacks).
    (cd "$B_DIR" && DATABASE_URL=$B_URL "$ROOT/.venv/bin/python" manage.py bench_load_fixture --keys-only \
        --targets "$ROOT/var/bench-targets-b.json" --django-url http://127.0.0.1:8003 --peer-url "" >/dev/null)
    psql -h 127.0.0.1 -U root -q -d "$B_DJANGO_DB" -c "VACUUM (ANALYZE) workflow_logs, logs_rollup, logs_rollup_pending"
fi
# The targets: the peer, A (port 8002) and B (port 8003; same keys unless B has its own database).
.venv/bin/python - <<'PY'
import json
import os
targets = json.load(open("var/bench-targets.json"))
ours = next(t for t in targets if t["name"] == "django")
b = next(t for t in json.load(open("var/bench-targets-b.json")) if t["name"] == "django")
peer = [t for t in targets if t["name"] == "peer" and os.environ.get("AB_PEER", "1") != "0"]
json.dump(peer + [dict(ours, name="A"), dict(b, name="B", base_url="http://127.0.0.1:8003")],
          open("var/bench-ab-targets.json", "w"), indent=1)
PY

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
(cd "$A_DIR" && env ${A_ENV:-} PORT=8002 "$ROOT/.venv/bin/gunicorn" central_logger.wsgi -c gunicorn.conf.py) \
    >var/bench-ab-a.log 2>&1 & pids+=($!)
(cd "$B_DIR" && env DATABASE_URL="$B_URL" ${B_ENV:-} PORT=8003 "$ROOT/.venv/bin/gunicorn" central_logger.wsgi -c gunicorn.conf.py) \
    >var/bench-ab-b.log 2>&1 & pids+=($!)
PEER_URL=http://127.0.0.1:8001/health
[ "${AB_PEER:-1}" = 0 ] && PEER_URL=http://127.0.0.1:8002/health
if [ "${AB_PEER:-1}" != 0 ] && ! curl -sf $PEER_URL >/dev/null; then
    PORT=8001 PIDFILE="$ROOT/var/bench-peer.pid" VENV="$HARNESS/.venv" \
        DATABASE_URL=postgresql+psycopg2://root@127.0.0.1:5432/${BENCH_PEER_DB:-bench_peer} "$HARNESS/peer/run.sh" \
        >var/bench-ab-peer.log 2>&1 & pids+=($!)
fi
for _ in $(seq 60); do
    curl -sf http://127.0.0.1:8002/health >/dev/null && curl -sf http://127.0.0.1:8003/health >/dev/null \
        && curl -sf $PEER_URL >/dev/null && break
    sleep 1
done
"$HARNESS/.venv/bin/python" "$HARNESS/load/run.py" --targets var/bench-ab-targets.json \
    --scenarios "${BENCH_SCENARIOS:-list_failed}" --runs "${BENCH_RUNS:-3}" --duration "${BENCH_DURATION:-10}" \
    --out "${BENCH_OUT:-/tmp/bench-ab-$(date -u +%Y%m%d-%H%M%S).json}" | grep -E '^\| '
# POST scenarios wrote to bench-writer on all three: remove those rows.
.venv/bin/python manage.py bench_load_fixture --delete-client bench-writer >/dev/null
if [ -n "${B_DJANGO_DB:-}" ]; then
    (cd "$B_DIR" && DATABASE_URL=$B_URL "$ROOT/.venv/bin/python" manage.py bench_load_fixture --delete-client bench-writer >/dev/null)
fi
if [ "${AB_PEER:-1}" != 0 ]; then
    "$HARNESS/.venv/bin/python" "$HARNESS/load/fixture.py" --db "${BENCH_PEER_DB:-bench_peer}" --delete-client bench-writer >/dev/null
fi
