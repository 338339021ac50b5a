# The two commands of the README: `make run` (set up and start) and `make test`.
# Both use the PostgreSQL of DATABASE_URL / TEST_DATABASE_URL (environment or .env) when set,
# else an embedded PostgreSQL under var/pgdata, started for the command and stopped after it
# (central_logger/devdb.py).
PY        ?= python3
VENV      := .venv
BIN       := $(VENV)/bin
DEVDB     := $(BIN)/python -m central_logger.devdb
# The dashboard's end-to-end run gets a fresh database of its own (dropped and re-created).
E2E_DATABASE_URL ?= postgres://root@127.0.0.1:5432/central_logger_e2e

.PHONY: run serve setup setup-run test test-server test-sdk complexity clean bench bench-fixture dashboard dashboard-if-node dashboard-api dashboard-check-api dashboard-test dashboard-e2e

# What running needs (requirements.txt); `make run` installs only this.
$(BIN)/.installed-run: requirements.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

# Plus the test toolchain (Playwright, schemathesis, ...) and the SDK, for `make test` (editable:
# the server suite drives the SDK's current source, not a copy installed once).
$(BIN)/.installed: $(BIN)/.installed-run requirements-dev.txt sdk/python/pyproject.toml
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet -e ./sdk/python
	touch $@

setup-run: $(BIN)/.installed-run
setup: $(BIN)/.installed

# HOST, PORT (or BIND) come from the environment, the make command line or .env
# (central_logger/listen.py); a port already taken fails here, at once.
run: setup-run
	$(BIN)/python -m central_logger.listen --check
	@$(MAKE) --no-print-directory dashboard-if-node
	$(BIN)/python scripts/init_env.py
	$(DEVDB) -- $(MAKE) --no-print-directory serve

# What `make run` does once a database is there.
serve:
	DB_STATEMENT_TIMEOUT_MS=0 $(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/python manage.py first_run
	$(BIN)/gunicorn central_logger.wsgi -c gunicorn.conf.py

test: setup
	$(DEVDB) --url-variable TEST_DATABASE_URL -- $(MAKE) --no-print-directory test-server test-sdk

# The server suite (includes the SDK against a real gunicorn collector), on TEST_DATABASE_URL.
test-server:
	DATABASE_URL="$$TEST_DATABASE_URL" $(BIN)/python -m pytest

# The SDK's own suite (an in-process fake collector; standard library only).
test-sdk:
	$(BIN)/python -m pytest sdk/python/tests

# Cyclomatic complexity of the request path (README, Development): no function above C (15).
complexity: setup
	$(BIN)/radon cc -s -n C -e "*/tests/*,*/migrations/*" central_logger tenants logs scrubbing spool ingestion otel metrics query retention console alerts savedviews

# Benchmark (bench/README.md): our fixture in bench_django (2M logs; copies the peer's rows
# from bench_peer when that database is loaded), then the peer and us under the same load.
BENCH_DJANGO_DB ?= bench_django
bench-fixture: setup
	@createdb -h 127.0.0.1 -U root $(BENCH_DJANGO_DB) 2>/dev/null || true
	BENCHMARKS=true DATABASE_URL=postgres://root@127.0.0.1:5432/$(BENCH_DJANGO_DB) SECRET_KEY=bench API_KEY_PEPPER=bench \
	  $(BIN)/python manage.py migrate --noinput -v0
	BENCHMARKS=true DATABASE_URL=postgres://root@127.0.0.1:5432/$(BENCH_DJANGO_DB) SECRET_KEY=bench API_KEY_PEPPER=bench \
	  $(BIN)/python manage.py bench_load_fixture --truncate --logs 2000000 --tenants 10 \
	  $(if $(BENCH_FROM_PEER),--from-peer-db "host=127.0.0.1 user=root dbname=bench_peer")

bench: setup
	bench/run.sh

# --- Dashboard (dashboard/: React + Vite; needs Node.js >= 20.19) ---------------------------------
DASHBOARD_SOURCES := $(shell find dashboard/src dashboard/public -type f 2>/dev/null) dashboard/index.html \
	dashboard/vite.config.ts dashboard/tsconfig.json dashboard/package-lock.json
HAVE_NODE := $(shell node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a==20&&b>=19)?0:1)' 2>/dev/null && command -v npm >/dev/null && echo yes)

dashboard/node_modules/.package-lock.json: dashboard/package-lock.json
	cd dashboard && npm ci --no-audit --no-fund
	touch $@

dashboard/dist/index.html: dashboard/node_modules/.package-lock.json $(DASHBOARD_SOURCES)
	cd dashboard && npm run build

dashboard: dashboard/dist/index.html

# `make run` builds the dashboard when Node.js is there; without it (or if the build fails) the
# API still starts and /dashboard/ explains how to build.
dashboard-if-node:
ifeq ($(HAVE_NODE),yes)
	@$(MAKE) --no-print-directory dashboard || echo "WARNING: the dashboard build failed; the API still runs (see /dashboard/)."
else
	@echo "Node.js >= 20.19 not found: skipping the dashboard build (the API works without it)."
endif

# Regenerate the OpenAPI schema and the dashboard's typed client from the Django code.
dashboard-api: setup dashboard/node_modules/.package-lock.json
	# Generating the schema connects to no database; the settings only need a PostgreSQL URL.
	DATABASE_URL=postgres://schema@127.0.0.1:1/unused DJANGO_SETTINGS_MODULE=central_logger.settings_test \
	  $(BIN)/python manage.py spectacular --validate --file dashboard/openapi.yaml
	cd dashboard && npm run gen:api

# CI: the committed schema and client must be what the code generates (no drift).
dashboard-check-api: dashboard-api
	git diff --exit-code -- dashboard/openapi.yaml dashboard/src/api/schema.d.ts

dashboard-test: dashboard/node_modules/.package-lock.json
	cd dashboard && npm test

# End-to-end in headless Chromium against a live server; screenshots in dashboard/e2e/screenshots/.
dashboard-e2e: setup dashboard
	cd dashboard && CL_PYTHON=$(CURDIR)/$(BIN)/python E2E_DATABASE_URL=$(E2E_DATABASE_URL) npm run e2e

clean:
	rm -rf $(VENV) staticfiles var dashboard/node_modules dashboard/dist
