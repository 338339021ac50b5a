from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from logs import partitions
from logs.tenant_sql.partitions import partition_sizes


class Command(BaseCommand):
    help = ("Create the log table's partitions ahead (the current interval and LOG_PARTITIONS_AHEAD "
            "more), finish what an interrupted run left detached, and move the logs of a future catch-all "
            "partition that the window reached into regular ones. Each app process's background thread does "
            "this every LOG_PARTITION_MAINTENANCE_INTERVAL seconds; one runs at a time across processes.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--list", action="store_true", help="Also list every partition with its size.")

    def handle(self, *args: Any, list: bool = False, **options: Any) -> None:  # noqa: A002 - the option's name
        report = partitions.maintain()
        if report.busy:
            self.stdout.write("Another process is maintaining the partitions right now; nothing done.")
            return
        for name in report.settled:
            self.stdout.write(f"settled the detached table {name}")
        for name in report.reshaped:
            self.stdout.write(f"moved the logs of the catch-all partition {name} into regular partitions")
        for name in report.created:
            self.stdout.write(f"created {name}")
        parts = partitions.partitions()
        if list:
            sizes = dict(partition_sizes())
            for part in parts:
                pending = " (detach pending)" if part.detaching else ""
                self.stdout.write(f"  {part.name:<36} {part.label():<28} {sizes.get(part.name, 0) / 2**20:9.1f} MiB{pending}")
        missing = partitions.missing_ahead()
        state = f"missing: {', '.join(missing)}" if missing else "all present"
        self.stdout.write(f"{len(parts)} partitions ({settings.LOG_PARTITION_INTERVAL}ly, "
                          f"{settings.LOG_PARTITIONS_AHEAD} ahead); partitions ahead {state}.")
