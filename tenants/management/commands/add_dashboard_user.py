from __future__ import annotations

import getpass
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.memberships import dashboard_user_add
from tenants.models import Role
from tenants.services import TenantError


class Command(BaseCommand):
    help = ("Give a user access to a client's dashboard, creating the user if needed. A new user's "
            "password is asked for interactively, or generated and printed once with --no-input.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("client_slug", help="the client (tenant) the user may see")
        parser.add_argument("username")
        parser.add_argument("--email", default="", help="e-mail address (new users; updates an existing one)")
        parser.add_argument("--role", default=Role.VIEWER, choices=Role.values, help="default: viewer")
        parser.add_argument("--no-input", "--noinput", dest="interactive", action="store_false",
                            help="don't prompt: generate a password for a new user and print it once")

    def handle(self, *args: Any, client_slug: str, username: str, email: str, role: str,
               interactive: bool, **options: Any) -> None:
        password = None
        try:
            if interactive and not self._user_exists(username):
                password = self._ask_password()
            result = dashboard_user_add(client_slug=client_slug, username=username, email=email, role=role,
                                        password=password, generate=not interactive)
        except TenantError as exc:
            raise CommandError(str(exc)) from None
        m = result.membership
        who = f"{'Created user' if result.user_created else 'User'} {m.user.username}"
        what = "now has" if result.membership_created else "has"
        self.stdout.write(f"{who} {what} {m.role} access to client {m.client.slug}.")
        if result.generated_password:
            self.stdout.write("Password (shown only once):")
            self.stdout.write(result.generated_password)

    @staticmethod
    def _user_exists(username: str) -> bool:
        from django.contrib.auth import get_user_model

        return get_user_model().objects.filter(username=username.strip()).exists()

    def _ask_password(self) -> str:
        if not sys.stdin.isatty():
            raise CommandError("No terminal to ask for a password; use --no-input to generate one.")
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password (again): "):
            raise CommandError("The passwords do not match.")
        if not first:
            raise CommandError("The password must not be empty.")
        return first
