# The two commands of the README: `make run` (set up and start) and `make test`.
PY        ?= python3
VENV      := .venv
BIN       := $(VENV)/bin
HOST      ?= 127.0.0.1
PORT      ?= 8000
# The test suite runs on real PostgreSQL (127.0.0.1:5432, user root, trust auth, as on CI).
TEST_DATABASE_URL ?= postgres://root@127.0.0.1:5432/central_logger

.PHONY: run setup test test-sqlite test-postgres test-sdk clean bench bench-fixture

$(BIN)/.installed: requirements.txt requirements-dev.txt sdk/python/pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet ./sdk/python
	touch $@

setup: $(BIN)/.installed

run: setup
	$(BIN)/python scripts/init_env.py
	DB_STATEMENT_TIMEOUT_MS=0 $(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/python manage.py first_run --url http://$(HOST):$(PORT)
	HOST=$(HOST) PORT=$(PORT) $(BIN)/gunicorn central_logger.wsgi -c gunicorn.conf.py

test: test-postgres test-sdk

# The server suite (includes the SDK against a real gunicorn collector on PostgreSQL).
test-postgres: setup
	DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python -m pytest

# The SDK's own suite (an in-process fake collector; standard library only).
test-sdk: setup
	$(BIN)/python -m pytest sdk/python/tests

test-sqlite: setup
	mkdir -p var && DATABASE_URL=sqlite:///$(CURDIR)/var/test.sqlite3 $(BIN)/python -m pytest

# Benchmark (bench/README.md): our fixture in bench_django (2M logs; copies the peer's rows
# from bench_peer when that database is loaded), then the peer and us under the same load.
BENCH_DJANGO_DB ?= bench_django
bench-fixture: setup
	DATABASE_URL=postgres://root@127.0.0.1:5432/$(BENCH_DJANGO_DB) SECRET_KEY=bench API_KEY_PEPPER=bench \
	  $(BIN)/python manage.py migrate --noinput -v0
	DATABASE_URL=postgres://root@127.0.0.1:5432/$(BENCH_DJANGO_DB) SECRET_KEY=bench API_KEY_PEPPER=bench \
	  $(BIN)/python manage.py bench_load_fixture --truncate --logs 2000000 --tenants 10 \
	  $(if $(BENCH_FROM_PEER),--from-peer-db "host=127.0.0.1 user=root dbname=bench_peer")

bench: setup
	bench/run.sh

clean:
	rm -rf $(VENV) staticfiles var
