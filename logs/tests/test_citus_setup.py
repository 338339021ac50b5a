"""`manage.py citus_setup` on a server that cannot run Citus: one clear line and exit status 1,
nothing changed (the cluster itself: test_citus.py)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from conftest import CITUS_TEST_URL, database_url

pytestmark = pytest.mark.skipif(bool(CITUS_TEST_URL), reason="the database under test is a Citus cluster")
ROOT = Path(__file__).resolve().parents[2]


def test_without_citus_it_says_why_and_changes_nothing(db: Any) -> None:
    with pytest.raises(CommandError, match=r"Citus is installed but not loaded|the Citus extension is not installed"):
        call_command("citus_setup", workers="127.0.0.1:9")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_extension WHERE extname = 'citus'")
        assert cursor.fetchone()[0] == 0


def test_the_command_exits_1_with_one_line(db: Any) -> None:
    env = {**os.environ, "DATABASE_URL": database_url(connection.settings_dict),
           "DJANGO_SETTINGS_MODULE": "central_logger.settings_test"}
    result = subprocess.run([sys.executable, "manage.py", "citus_setup", "--workers", "127.0.0.1:9"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("CommandError:") and "Citus" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_worker_that_is_not_host_port_is_refused(db: Any) -> None:
    with pytest.raises(CommandError, match="is not HOST:PORT"):
        call_command("citus_setup", workers="127.0.0.1")
