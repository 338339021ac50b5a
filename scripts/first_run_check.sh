#!/usr/bin/env bash
# `make run` as a newcomer runs it: no DATABASE_URL, so the embedded PostgreSQL starts under
# var/pgdata; the service answers, the demo key it prints stores a log and reads it back; on
# SIGTERM the service and the embedded PostgreSQL both stop. Used by .ci/run; needs no PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-8765}
LOG=$(mktemp)
env -u DATABASE_URL setsid make run PORT="$PORT" >"$LOG" 2>&1 &
RUN=$!
trap 'kill -TERM -- -$RUN 2>/dev/null || true; cat "$LOG" | tail -40' ERR
for _ in $(seq 180); do
  curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break
  kill -0 "$RUN" 2>/dev/null || { echo "make run exited early"; false; }
  sleep 1
done
curl -sf "http://127.0.0.1:$PORT/health" | grep -q '"healthy"'
KEY=$(grep -oE 'clk_[a-z0-9]{10}_[A-Za-z0-9]{32}' "$LOG" | head -1 || true)
if [ -n "$KEY" ]; then  # a fresh database: the demo client's key was printed
  ID=$(curl -sf -X POST "http://127.0.0.1:$PORT/api/v1/logs" -H "X-API-Key: $KEY" -H 'Content-Type: application/json' \
       -d '{"environment":"production","executed_at":"2026-01-01T12:00:00Z","status":"SUCCESS","ticket_id":"first-run"}' \
       | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  curl -sf "http://127.0.0.1:$PORT/api/v1/logs/$ID" -H "X-API-Key: $KEY" | grep -q '"first-run"'
  echo "first run: demo key stored and read log $ID"
fi
kill -TERM -- -"$RUN"
wait "$RUN" || true
if pgrep -f "postgres -D $(pwd)/var/pgdata" >/dev/null; then
  echo "the embedded PostgreSQL is still running after make run stopped"; exit 1
fi
grep -q "Embedded PostgreSQL stopped." "$LOG" && echo "first run: the service and its embedded PostgreSQL stopped cleanly"
