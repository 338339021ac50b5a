#!/usr/bin/env bash
# OpenTelemetry ingestion under load: gunicorn (this checkout, production settings) on a scratch
# database, bench/otlp_load.py posting protobuf exports of 512 new spans from N threads, and the
# CPU of gunicorn and PostgreSQL (every process of each) per span. Run it in a quiet window:
#
#   bench/otlp.sh                                  # 4 threads, 20 s, 3 rounds
#   OTLP_THREADS=8 OTLP_SECONDS=30 OTLP_ROUNDS=5 bench/otlp.sh
#
# Knobs: BENCH_OTLP_DB (bench_otlp: dropped and re-created), OTLP_PORT (8004), WEB_CONCURRENCY
# (2), OTLP_THREADS, OTLP_SECONDS, OTLP_ROUNDS, OTLP_OUT (JSON lines, default under /tmp).
set -euo pipefail
cd "$(dirname "$0")/.."
DB=${BENCH_OTLP_DB:-bench_otlp}
PORT=${OTLP_PORT:-8004}
OUT=${OTLP_OUT:-/tmp/otlp-$(date -u +%Y%m%d-%H%M%S).jsonl}
case "$DB" in *bench*) ;; *) echo "BENCH_OTLP_DB must contain 'bench' (it is dropped)"; exit 1 ;; esac
export DATABASE_URL=postgres://root@127.0.0.1:5432/$DB
export SECRET_KEY=${SECRET_KEY:-bench-secret-not-for-production} API_KEY_PEPPER=${API_KEY_PEPPER:-bench-pepper}
export GUNICORN_ACCESSLOG="" RATE_LIMIT_INGEST=100000000/min SPOOL_PATH=var/bench-otlp-spool.sqlite3
export WEB_CONCURRENCY=${WEB_CONCURRENCY:-2} DB_STATEMENT_TIMEOUT_MS=0

dropdb -h 127.0.0.1 -U root --if-exists "$DB"
createdb -h 127.0.0.1 -U root "$DB"
.venv/bin/python manage.py migrate --noinput -v0
.venv/bin/python manage.py create_client bench-otlp >/dev/null
KEY=$(.venv/bin/python manage.py issue_api_key bench-otlp --scopes ingest --quiet)

mkdir -p var
PORT=$PORT .venv/bin/gunicorn central_logger.wsgi -c gunicorn.conf.py >var/bench-otlp.log 2>&1 &
GUNICORN=$!
trap 'kill $GUNICORN 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health/live" >/dev/null && break; sleep 0.1; done
BACKEND=$(psql -h 127.0.0.1 -U root -d "$DB" -Atc "SELECT pg_backend_pid()")
POSTMASTER=$(ps -o ppid= -p "$BACKEND" 2>/dev/null | tr -d ' ' || true)
[ -n "$POSTMASTER" ] || POSTMASTER=$(pgrep -o -x postgres || true)

for round in $(seq "${OTLP_ROUNDS:-3}"); do
    .venv/bin/python bench/otlp_load.py --url "http://127.0.0.1:$PORT" --key "$KEY" \
        --threads "${OTLP_THREADS:-4}" --seconds "${OTLP_SECONDS:-20}" --cpu-pids "$GUNICORN,$POSTMASTER" | tee -a "$OUT"
done
psql -h 127.0.0.1 -U root -d "$DB" -Atc \
    "SELECT 'stored: ' || (SELECT count(*) FROM trace_spans) || ' spans, ' || (SELECT count(*) FROM workflow_logs) || ' runs'"
echo "results: $OUT  (the CPU per span includes every PostgreSQL process, other databases' too: run it quiet)"
