from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from central_logger import listen

from tenants.models import Client
from tenants.services import api_key_issue, client_create


class Command(BaseCommand):
    help = ("Print where the service listens and how to get an API key; on an empty database, "
            "create a 'demo' client with one key so the service can be tried at once.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default=None, help="default: where gunicorn listens (HOST, PORT or BIND)")

    def handle(self, *args: Any, url: str | None, **options: Any) -> None:
        url = url or listen.url()
        out = self.stdout.write
        out(f"\nCentral Logger will listen on {url}  (health: {url}/health, API docs: {url}/api/docs/)")
        if not Client.objects.exists():
            client = client_create(slug="demo", name="Demo")
            key = api_key_issue(client=client, name="first run").plaintext
            out("Created client 'demo' with an API key (shown only once):")
            out(f"  {key}")
            out("Try it:")
            out(f"  curl -s -X POST {url}/api/v1/logs -H 'X-API-Key: {key}' -H 'Content-Type: application/json' \\")
            # Dated now, so the log shows in the dashboard's default (last 7 days) view.
            now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            out(f"    -d '{{\"environment\":\"production\",\"executed_at\":\"{now}\",\"status\":\"SUCCESS\","
                f"\"ticket_id\":\"1\",\"execution_time_seconds\":4.2}}'")
        out("More keys:  .venv/bin/python manage.py create_client <slug> && "
            ".venv/bin/python manage.py issue_api_key <slug>")
        out("Dashboard:  .venv/bin/python manage.py add_dashboard_user <slug> <username> --no-input, "
            f"then sign in at {url}/dashboard/")
        out("Operator console: .venv/bin/python manage.py createsuperuser, then " f"{url}/admin/\n")
