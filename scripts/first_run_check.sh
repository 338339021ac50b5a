#!/usr/bin/env bash
# `make run` as a newcomer runs it, on a fresh clone of the committed tree: no DATABASE_URL, so
# the embedded PostgreSQL starts under var/pgdata; only what running needs is installed (no test
# toolchain); the service answers; the demo curl line it prints stores a log that the default
# 7-day overview counts; the same port again fails at once with a message; on SIGTERM the service
# and the embedded PostgreSQL both stop. Used by .ci/run; needs no PostgreSQL.
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
PORT=${PORT:-8765}
WORK=$(mktemp -d)
git clone -q "$SRC" "$WORK/central-logger"
cd "$WORK/central-logger"
LOG="$WORK/make-run.log"
# HAVE_NODE= : the dashboard build is CI's own step; this checks the Python side of the first run.
env -u DATABASE_URL setsid make run PORT="$PORT" HAVE_NODE= >"$LOG" 2>&1 &
RUN=$!
trap 'kill -TERM -- -$RUN 2>/dev/null || true; tail -40 "$LOG"' ERR
for _ in $(seq 300); do
  curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break
  kill -0 "$RUN" 2>/dev/null || { echo "make run exited early"; false; }
  sleep 1
done
curl -sf "http://127.0.0.1:$PORT/health" | grep -q '"healthy"'

for tool in playwright schemathesis pytest radon; do
  if .venv/bin/python -c "import $tool" 2>/dev/null; then
    echo "make run installed the test toolchain ($tool)"; false
  fi
done
echo "first run: only the runtime requirements were installed"

KEY=$(grep -oE 'clk_[a-z0-9]{10}_[A-Za-z0-9]{32}' "$LOG" | head -1)
# The demo command exactly as make run printed it (the lines after "Try it:").
DEMO=$(sed -n '/^Try it:/,/^More keys:/p' "$LOG" | sed '1d;$d')
bash -c "$DEMO" | grep -q '"spooled":false'
curl -sf "http://127.0.0.1:$PORT/api/v1/metrics/overview" -H "X-API-Key: $KEY" | grep -q '"total_tickets":1'
echo "first run: the demo log is stored and shows in the default 7-day overview"

START=$(date +%s)
if make run PORT="$PORT" HAVE_NODE= >"$WORK/second.log" 2>&1; then echo "a second make run on a taken port started"; false; fi
grep -q "Port $PORT on 127.0.0.1 is already in use" "$WORK/second.log"
[ $(( $(date +%s) - START )) -lt 10 ] || { echo "a taken port took too long to report"; false; }
echo "first run: a second make run on the same port fails at once with a message"

kill -TERM -- -"$RUN"
wait "$RUN" || true
if pgrep -f "postgres -D $(pwd)/var/pgdata" >/dev/null; then
  echo "the embedded PostgreSQL is still running after make run stopped"; exit 1
fi
grep -q "Embedded PostgreSQL stopped." "$LOG" && echo "first run: the service and its embedded PostgreSQL stopped cleanly"
cd / && rm -rf "$WORK"
