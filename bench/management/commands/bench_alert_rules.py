from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bench import alert_rules


class Command(BaseCommand):
    help = ("Alert evaluation cost: N rules of every kind over the loaded benchmark fixture, evaluated in full "
            "rounds at a fixed time and one by one (bench/alert_rules.py; bench/README.md, 'Alerts').")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rules", type=int, default=1000)
        parser.add_argument("--now", required=True, help="evaluation time, ISO (the fixture's --anchor)")
        parser.add_argument("--rounds", type=int, default=3)
        parser.add_argument("--keep", action="store_true", help="keep the rules and their events")
        parser.add_argument("--json", type=Path, help="write the figures here too")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            now = dt.datetime.fromisoformat(opts["now"].replace("Z", "+00:00"))
        except ValueError:
            raise CommandError("--now must be an ISO datetime") from None
        if now.tzinfo is None:
            now = now.replace(tzinfo=dt.timezone.utc)
        results = alert_rules.run(count=opts["rules"], now=now, rounds=opts["rounds"], keep=opts["keep"],
                                  write=self.stdout.write)
        if opts["json"]:
            opts["json"].write_text(json.dumps(results, indent=2) + "\n")
