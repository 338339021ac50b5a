"""manage.py bench_load_fixture: the benchmark's data and keys (see bench/README.md)."""
from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from bench import fixture
from bench.harness import load_gen
from metrics.services import rollup_rebuild
from tenants.models import ApiKey
from tenants.services import api_key_issue, api_key_revoke

KEY_NAME = "bench"


class Command(BaseCommand):
    help = ("Load N generated logs for M benchmark tenants into workflow_logs by COPY (half for "
            "bench-main, the rest spread over bench-other-NN), rebuild indexes and rollups, and "
            "issue the API keys the load driver uses (--targets writes them for load/run.py).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--logs", type=int, default=2_000_000, help="total logs (default 2,000,000)")
        parser.add_argument("--tenants", type=int, default=10,
                            help="tenants holding them: bench-main + (M-1) others (default 10)")
        parser.add_argument("--main-share", type=float, default=0.5,
                            help="fraction of the logs for bench-main (default 0.5)")
        parser.add_argument("--truncate", action="store_true",
                            help="empty workflow_logs first (only on a database whose name contains 'bench')")
        parser.add_argument("--anchor", help="newest executed_at, ISO (default: today 00:00 UTC)")
        parser.add_argument("--seed", type=int, help="generator seed (default: the harness's, 42)")
        parser.add_argument("--span-days", type=int, help="days the logs spread over (default: the harness's, 90)")
        parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="generator processes")
        parser.add_argument("--from-peer-db", metavar="DSN",
                            help="copy the logs from the peer's loaded fixture (e.g. 'host=127.0.0.1 "
                                 "user=root dbname=bench_peer') instead of generating them: same logs, faster")
        parser.add_argument("--keys-only", action="store_true", help="only (re)issue the keys / targets file")
        parser.add_argument("--targets", type=Path,
                            help="write a targets JSON for the shared driver (load/run.py --targets)")
        parser.add_argument("--django-url", default="http://127.0.0.1:8002")
        parser.add_argument("--peer-url", default="http://127.0.0.1:8001",
                            help="the peer's URL in the targets file (empty: no peer target)")
        parser.add_argument("--delete-client", action="append", default=[], metavar="SLUG",
                            help="only delete this client's logs (e.g. bench-writer after POST runs)")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["delete_client"]:
            for slug in opts["delete_client"]:
                self.stdout.write(f"deleted {fixture.delete_client_logs(slug)} logs of {slug}")
            return
        if opts["logs"] < 1 or opts["tenants"] < 1 or not 0 < opts["main_share"] <= 1:
            raise CommandError("--logs and --tenants must be >= 1 and --main-share in (0, 1].")
        others = opts["tenants"] - 1
        main_rows = round(opts["logs"] * (opts["main_share"] if others else 1))
        plan = fixture.Plan(main_rows=main_rows, other_clients=others, other_rows=opts["logs"] - main_rows)
        if opts["truncate"] and "bench" not in connection.settings_dict["NAME"]:
            raise CommandError(f"Refusing to --truncate database {connection.settings_dict['NAME']!r}: "
                               "its name does not contain 'bench'.")
        clients = fixture.ensure_clients(plan)
        if not opts["keys_only"]:
            try:
                gen = load_gen()
            except FileNotFoundError as exc:
                raise CommandError(str(exc)) from None
            try:
                anchor = dt.datetime.fromisoformat(opts["anchor"]) if opts["anchor"] else gen.default_anchor()
            except ValueError:
                raise CommandError(f"--anchor must be an ISO datetime, got {opts['anchor']!r}.") from None
            if anchor.tzinfo is not None:
                anchor = anchor.astimezone(dt.timezone.utc).replace(tzinfo=None)  # the generator is naive UTC
            summary = fixture.load(plan=plan, seed=opts["seed"] if opts["seed"] is not None else gen.DEFAULT_SEED,
                                   anchor=anchor,
                                   span_days=opts["span_days"] if opts["span_days"] is not None else gen.DEFAULT_SPAN_DAYS,
                                   jobs=max(1, opts["jobs"]), truncate=opts["truncate"],
                                   progress=self.stdout.write, source_dsn=opts["from_peer_db"])
            with connection.cursor() as cursor:
                cursor.execute("SET statement_timeout = 0")  # rebuild and VACUUM take minutes at 2M rows
            rolled = rollup_rebuild()
            self.stdout.write(f"rollups rebuilt: {rolled} rows")
            total, heap = fixture.vacuum_analyze()
            self.stdout.write(f"loaded {summary['rows']} logs at {summary['rows_per_second']} rows/s; "
                              f"table {total / 2**30:.2f} GiB (heap {heap / 2**30:.2f} GiB)")

        keys = {}
        for slug in (fixture.MAIN_CLIENT, fixture.WRITER_CLIENT):
            for old in ApiKey.objects.active().filter(client=clients[slug], name=KEY_NAME):
                api_key_revoke(prefix=old.prefix)
            keys[slug] = api_key_issue(client=clients[slug], name=KEY_NAME).plaintext
        if opts["targets"]:
            targets = []
            if opts["peer_url"]:
                targets.append({"name": "peer", "base_url": opts["peer_url"], "api_key": "bench-key-main",
                                "write_api_key": "bench-key-writer", "auth_header": "X-API-Key",
                                "batch_key": "logs"})
            targets.append({
                "name": "django", "base_url": opts["django_url"],
                "api_key": keys[fixture.MAIN_CLIENT], "write_api_key": keys[fixture.WRITER_CLIENT],
                "auth_header": "X-API-Key", "batch_key": "logs",
                "paths": {"logs": "/api/v1/logs", "batch": "/api/v1/logs/batch", "log": "/api/v1/logs/{id}",
                          "overview": "/api/v1/metrics/overview", "categories": "/api/v1/metrics/categories",
                          "health": "/health"},
                "date_format": "%Y-%m-%dT%H:%M:%SZ",
            })
            opts["targets"].parent.mkdir(parents=True, exist_ok=True)
            opts["targets"].write_text(json.dumps(targets, indent=2) + "\n")
            os.chmod(opts["targets"], 0o600)  # it holds live keys
            self.stdout.write(f"wrote {opts['targets']} (targets: {', '.join(t['name'] for t in targets)})")
        else:
            for slug, key in keys.items():
                self.stdout.write(f"{slug}: {key}")
