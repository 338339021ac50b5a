"""manage.py bench_db_ceiling: PostgreSQL's own ceiling for our table (see bench/ceiling.py)."""
from __future__ import annotations

import statistics
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bench import ceiling
from bench.harness import load_gen
from tenants.models import Client


class Command(BaseCommand):
    help = ("Write the harness's post_batch bodies (40 batches of 100 logs) straight into workflow_logs on "
            "N connections, with no HTTP server, and report logs/s and PostgreSQL's CPU per log; "
            "every row written is deleted afterwards.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--method", choices=["insert", "copy", "single"], action="append",
                            help="insert: the batch endpoint's statement (default); copy: a text COPY; single: "
                                 "one log per transaction, as the single-log endpoint commits one (the harness's "
                                 "post_single bodies). Repeatable.")
        parser.add_argument("--connections", type=int, default=4, help="connections, one thread each (default 4)")
        parser.add_argument("--seconds", type=float, default=15.0, help="length of each run (default 15)")
        parser.add_argument("--runs", type=int, default=3, help="runs per method, interleaved (default 3)")
        parser.add_argument("--client", default="bench-writer",
                            help="the client the rows are written for (default bench-writer, as the harness)")

    def handle(self, *args: Any, **options: Any) -> None:
        client = Client.objects.filter(slug=options["client"]).first()
        if client is None:
            raise CommandError(f"No client {options['client']!r} (manage.py bench_load_fixture creates bench-writer).")
        try:
            gen = load_gen()
        except FileNotFoundError as exc:
            raise CommandError(str(exc)) from exc
        methods = options["method"] or ["insert"]
        batches = ceiling.prepare_batches(client, ceiling.harness_batches(gen, client.slug))
        singles = ceiling.prepare_batches(client, ceiling.harness_single_bodies(gen, client.slug)) \
            if "single" in methods else []
        results: dict[str, list[ceiling.Ceiling]] = {method: [] for method in methods}
        for run in range(1, options["runs"] + 1):
            for method in methods:
                result = ceiling.measure(client=client, method=method,
                                         batches=singles if method == "single" else batches,
                                         connections=options["connections"], seconds=options["seconds"])
                results[method].append(result)
                self.stdout.write(f"run {run}: {result.describe()}")
        for method, runs in results.items():
            self.stdout.write(f"median {method}: {statistics.median(r.logs_per_second for r in runs):,.0f} logs/s")
