#!/usr/bin/env bash
# Single logs against their limit, in one run: the peer, this checkout (A), optionally another
# checkout (B, e.g. main before a change) and PostgreSQL's per-row ceiling (`bench_db_ceiling
# --method single`: one log per transaction on 16 connections, no HTTP), round after round, so
# every ratio is taken within one round and the spread over the rounds is shown.
#
#   bench/single.sh                                  # peer, this checkout, the ceiling
#   B_DIR=../before bench/single.sh                  # ... and another checkout (port 8003)
#
# Each round: post_single at c16, then at c1 (the harness's driver, peer / A / B interleaved),
# then the ceiling. The group commit's counters of A (its /metrics) give the mean rows per
# transaction at each concurrency. Knobs: BENCH_ROUNDS (3), BENCH_DURATION (10 s per run),
# CEILING_SECONDS (10), BENCH_HARNESS, BENCH_DJANGO_DB, BENCH_PEER_DB, BENCH_OUT (a directory).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
HARNESS=${BENCH_HARNESS:-$(cd .. && pwd)/benchwork}
B_DIR=${B_DIR:+$(cd "$B_DIR" && pwd)}
ROUNDS=${BENCH_ROUNDS:-3}
DURATION=${BENCH_DURATION:-10}
CEILING_SECONDS=${CEILING_SECONDS:-10}
OUT=${BENCH_OUT:-/tmp/bench-single-$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$OUT" var
export BENCHMARKS=true
export SECRET_KEY=${SECRET_KEY:-bench-secret-not-for-production}
export API_KEY_PEPPER=${API_KEY_PEPPER:-bench-pepper-not-for-production}
export DATABASE_URL=postgres://root@127.0.0.1:5432/${BENCH_DJANGO_DB:-bench_django}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/12} CACHE_KEY_PREFIX=${CACHE_KEY_PREFIX:-bench-django}
export GUNICORN_ACCESSLOG="" RATE_LIMIT_INGEST=100000000/min RATE_LIMIT_READ=100000000/min

.venv/bin/python manage.py bench_load_fixture --keys-only --targets var/bench-targets.json \
    --django-url http://127.0.0.1:8002 --peer-url http://127.0.0.1:8001 >/dev/null
psql -h 127.0.0.1 -U root -q -d "${BENCH_DJANGO_DB:-bench_django}" \
    -c "VACUUM (ANALYZE) workflow_logs, logs_rollup, logs_rollup_pending"
B_DIR="$B_DIR" .venv/bin/python - <<'PY'
import json, os
targets = json.load(open("var/bench-targets.json"))
ours = next(t for t in targets if t["name"] == "django")
chosen = [t for t in targets if t["name"] == "peer"] + [dict(ours, name="A")]
if os.environ["B_DIR"]:
    chosen.append(dict(ours, name="B", base_url="http://127.0.0.1:8003"))
json.dump(chosen, open("var/bench-single-targets.json", "w"), indent=1)
PY

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
PORT=8002 .venv/bin/gunicorn central_logger.wsgi -c gunicorn.conf.py >"$OUT/a.log" 2>&1 & pids+=($!)
if [ -n "$B_DIR" ]; then
    (cd "$B_DIR" && PORT=8003 "$ROOT/.venv/bin/gunicorn" central_logger.wsgi -c gunicorn.conf.py) >"$OUT/b.log" 2>&1 &
    pids+=($!)
fi
PORT=8001 PIDFILE="$OUT/peer.pid" VENV="$HARNESS/.venv" \
    DATABASE_URL=postgresql+psycopg2://root@127.0.0.1:5432/${BENCH_PEER_DB:-bench_peer} "$HARNESS/peer/run.sh" \
    >"$OUT/peer.log" 2>&1 & pids+=($!)
for _ in $(seq 60); do
    curl -sf http://127.0.0.1:8002/health >/dev/null && curl -sf http://127.0.0.1:8001/health >/dev/null \
        && { [ -z "$B_DIR" ] || curl -sf http://127.0.0.1:8003/health >/dev/null; } && break
    sleep 1
done

# Rows and transactions of A's group commit so far (summed over its workers).
group_counters() {
    curl -sf http://127.0.0.1:8002/metrics | awk '
        /^central_logger_ingest_group_commits_total/ {c += $2}
        /^central_logger_ingest_group_commit_rows_total/ {r += $2}
        END {printf "%d %d\n", r, c}'
}
for round in $(seq "$ROUNDS"); do
    for scenario in post_single post_single@c1; do
        before=$(group_counters)
        "$HARNESS/.venv/bin/python" "$HARNESS/load/run.py" --targets var/bench-single-targets.json \
            --scenarios "$scenario" --runs 1 --duration "$DURATION" --warmup 2 \
            --out "$OUT/round$round-${scenario//@/-}.json" 2>>"$OUT/driver.log" >/dev/null
        echo "$round $scenario $before $(group_counters)" >>"$OUT/groups.txt"
    done
    .venv/bin/python manage.py bench_db_ceiling --method single --connections 16 --seconds "$CEILING_SECONDS" \
        --runs 1 | tee -a "$OUT/ceiling.txt" | grep '^run'
done
.venv/bin/python bench/single_summary.py "$OUT" | tee "$OUT/summary.md"
# The POSTs wrote to bench-writer: remove those rows (ours and the peer's).
.venv/bin/python manage.py bench_load_fixture --delete-client bench-writer >/dev/null
"$HARNESS/.venv/bin/python" "$HARNESS/load/fixture.py" --db "${BENCH_PEER_DB:-bench_peer}" --delete-client bench-writer >/dev/null
