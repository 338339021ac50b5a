from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from logs.tenant_sql import citus


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise CommandError(f"--workers: {text!r} is not HOST:PORT")
    return host, int(port)


def node_connection_timeout_ms() -> int:
    """Half the ingestion budget (500 ms by default), at least 200 ms: a connection to a live
    worker takes milliseconds (a few more with TLS), and an unreachable one is then reported by
    the coordinator with time left in the request to spool its log (logs/tenant_sql/citus.py)."""
    return max(settings.INGEST_DB_TIMEOUT_MS // 2, 200)


class Command(BaseCommand):
    help = ("Distribute the tenant tables over a Citus cluster (run on the coordinator after migrate): "
            "create the extension, register the workers, distribute the log table and every table of "
            "its tenant by client_id, co-located, and make the tenants and their keys reference tables. "
            "Idempotent: known workers and distributed tables are skipped. Existing rows are copied "
            "to the workers.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--workers", default="", help="HOST:PORT,... of the worker nodes to register.")
        parser.add_argument("--coordinator", default="",
                            help="HOST:PORT the workers reach the coordinator at (default: this database's host "
                                 "and port; only used the first time).")
        parser.add_argument("--shard-count", type=int, default=None,
                            help="Shards of the log table and its co-located tables (default: citus.shard_count, "
                                 "32); only used when the log table is distributed, i.e. the first time.")

    def handle(self, *args: Any, workers: str = "", coordinator: str = "", shard_count: int | None = None,
               **options: Any) -> None:
        if shard_count is not None and not 1 <= shard_count <= 64000:
            raise CommandError("--shard-count must be between 1 and 64000")
        nodes = [_host_port(part) for part in workers.split(",") if part.strip()]
        settings_dict = connection.settings_dict
        coord = _host_port(coordinator) if coordinator else (
            settings_dict["HOST"] or "127.0.0.1", int(settings_dict["PORT"] or 5432))
        report = citus.Report()
        try:
            citus.ensure_extension()
        except citus.CitusUnavailable as exc:
            raise CommandError(str(exc)) from exc
        # Nodes are registered outside the transaction that distributes the tables.
        citus.add_nodes(coord, nodes, report)
        if not citus.worker_count():
            raise CommandError("no worker node is registered: pass --workers HOST:PORT,...")
        with transaction.atomic():
            citus.dangerously_distribute(shard_count=shard_count, report=report)
        citus.persist_settings(settings_dict["NAME"], node_connection_timeout_ms=node_connection_timeout_ms())
        citus.forget()
        self._report(report, int(options.get("verbosity", 1)))

    def _report(self, report: citus.Report, verbosity: int) -> None:
        if verbosity < 1:
            return
        lines = [f"added node {node}" for node in report.added_nodes]
        lines += [f"reference table {table} ({report.moved_rows.get(table, 0)} rows)" for table in report.reference]
        lines += [f"distributed {table} by client_id ({report.moved_rows.get(table, 0)} rows copied)"
                  for table in report.distributed]
        lines += [f"adapted {name}" for name in report.functions]
        for line in lines:
            self.stdout.write(line)
        placements = ", ".join(f"{host}:{port} {n} shards" for host, port, n in citus.shard_placements())
        self.stdout.write(("Citus is set up" if lines else "Nothing to do: Citus was set up already")
                          + f"; the log table: {placements}.")
