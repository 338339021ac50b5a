from __future__ import annotations

import multiprocessing
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from logs import search_indexer, search_workers
from logs.tenant_sql import citus
from logs.tenant_sql import search as sql


class Command(BaseCommand):
    help = ("Make logs searchable. Without options: index every queued log (new and changed logs are queued "
            "by the database). --backfill: also index the logs stored before search existed, newest first, "
            "resumable (it continues where a previous run stopped; --restart begins again), printing progress; "
            "it runs while the service serves. --follow: keep indexing the queue until interrupted. Each app "
            "process's background thread does the same every SEARCH_INDEX_INTERVAL seconds (one at a time "
            "across processes, advisory lock class 727004).")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--backfill", action="store_true", help="Index the logs stored before search existed.")
        parser.add_argument("--restart", action="store_true", help="With --backfill: start again from the newest.")
        parser.add_argument("--follow", action="store_true", help="Keep indexing new logs until interrupted.")
        parser.add_argument("--batch", type=int, default=search_indexer.BATCH, help="Logs per transaction.")
        parser.add_argument("--processes", type=int, default=1,
                            help="Index the queue with this many processes (each takes the logs whose id hashes to "
                                 "its slot; this process holds the runner lock meanwhile).")

    def handle(self, *args: Any, backfill: bool = False, restart: bool = False, follow: bool = False,
               batch: int = search_indexer.BATCH, processes: int = 1, **options: Any) -> None:
        if batch < 1:
            raise CommandError("--batch must be at least 1.")
        if processes < 1:
            raise CommandError("--processes must be at least 1.")
        if backfill and citus.is_active_cached():
            raise CommandError("The search backfill does not run on a Citus cluster yet (it reads every tenant's "
                               "logs in one statement); logs stored after citus_setup are indexed as they arrive.")
        if not sql.try_runner_lock():
            raise CommandError("Another process is indexing (advisory lock 727004); try again when it is done.")
        try:
            if processes > 1 and not citus.is_active_cached():
                self.stdout.write(f"queue: indexed {self._parallel(processes, batch)} logs with {processes} processes")
            self.stdout.write(f"queue: indexed {search_indexer.index_all()} logs")
            if backfill:
                self._backfill(restart, batch)
            while follow:
                if not search_indexer.index_batch(batch):
                    time.sleep(1.0)
        finally:
            sql.release_runner_lock()

    def _parallel(self, processes: int, batch: int) -> int:
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            return sum(pool.map(search_workers.index_slot, [(k, processes, batch) for k in range(processes)]))

    def _backfill(self, restart: bool, batch: int) -> None:
        if restart:
            sql.dangerously_restart_backfill()
        total, started = sql.dangerously_count_logs(), time.monotonic()
        *_, done, indexed = sql.dangerously_backfill_state()
        if done:
            self.stdout.write(f"backfill: already done ({indexed} logs); --restart to index every log again")
            return
        shown = 0.0
        while (moved := search_indexer.backfill_batch(batch)) is not None:
            indexed += moved
            search_indexer.index_all()  # logs stored meanwhile are searchable first
            if time.monotonic() - shown >= 2.0:
                shown = time.monotonic()
                rate = indexed / max(shown - started, 1e-6)
                self.stdout.write(f"backfill: {indexed} of ~{total} logs ({rate:.0f}/s)")
        self.stdout.write(f"backfill: done, {indexed} logs indexed in {time.monotonic() - started:.1f} s")
