from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from alerts.evaluator import evaluate_all


class Command(BaseCommand):
    help = ("Evaluate every alert rule once now (what the evaluator thread does every "
            "ALERT_EVAL_INTERVAL_SECONDS); notifications are queued for the delivery worker.")

    def handle(self, *args: Any, **options: Any) -> None:
        summary = evaluate_all(interval=0)
        if not summary.ran:
            raise CommandError("Another process is evaluating the alert rules right now; nothing done.")
        self.stdout.write(f"evaluated {summary.rules} rules in {summary.seconds:.3f}s: {summary.events} events, "
                          f"{summary.failures} failures")
        for error in summary.errors:
            self.stderr.write(error)
