"""The first run, as a newcomer meets it: .env.example copied to .env, `make run`'s steps, the
demo it offers."""
from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command

from central_logger.tests.live import ROOT, LiveServer

EXAMPLE = ROOT / ".env.example"


def _env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.lstrip().startswith("#"):
            values[key.strip()] = value.strip()
    return values


def _manage_check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "API_KEY_PEPPER", "DEBUG")}
    clean.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
                          env={**clean, "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", **env}, timeout=60)


def test_the_examples_placeholder_secrets_are_refused_in_production_with_one_clear_line() -> None:
    values = _env_file(EXAMPLE)
    assert values["SECRET_KEY"].startswith("change-me") and values["DEBUG"] == "false"
    result = _manage_check(values)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "SECRET_KEY is still the placeholder 'change-me' of .env.example" in lines[0]
    assert "secrets.token_urlsafe" in lines[0]
    # the pepper is refused the same way
    result = _manage_check({**values, "SECRET_KEY": "x" * 50})
    assert result.returncode == 1 and "API_KEY_PEPPER is still the placeholder" in result.stderr


@pytest.mark.parametrize("name, value", [("LOG_FORMAT", "xml"), ("METRICS_ALLOWED_IPS", "10.0.0.0/33"),
                                         ("DEBUG", "maybe")])
def test_a_bad_setting_stops_every_command_with_one_line_naming_it(name: str, value: str) -> None:
    result = _manage_check({"SECRET_KEY": "x" * 50, "API_KEY_PEPPER": "y" * 50, name: value})
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and f"Configuration error: {name}" in result.stderr


def test_placeholders_are_accepted_for_local_debugging() -> None:
    assert _manage_check({"SECRET_KEY": "change-me", "API_KEY_PEPPER": "change-me-too", "DEBUG": "true"}).returncode == 0


def test_make_runs_first_step_turns_a_copied_example_into_a_working_env(tmp_path: Path) -> None:
    copied = tmp_path / ".env"
    copied.write_text(EXAMPLE.read_text())
    out = subprocess.run([sys.executable, "scripts/init_env.py", str(copied)], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert "Replaced the placeholder SECRET_KEY and API_KEY_PEPPER" in out
    before, after = EXAMPLE.read_text().splitlines(), copied.read_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after) if a != b]
    assert [b.split("=")[0] for _a, b in changed] == ["SECRET_KEY", "API_KEY_PEPPER"] and len(before) == len(after)
    values = _env_file(copied)
    assert len(values["SECRET_KEY"]) >= 50 and values["SECRET_KEY"] != values["API_KEY_PEPPER"]
    assert _manage_check(values).returncode == 0
    # real secrets are never touched again
    text = copied.read_text()
    subprocess.run([sys.executable, "scripts/init_env.py", str(copied)], cwd=ROOT, check=True, capture_output=True)
    assert copied.read_text() == text


def test_the_example_sets_each_variable_once() -> None:
    names = [line.partition("=")[0].strip() for line in EXAMPLE.read_text().splitlines()
             if "=" in line and not line.startswith("#")]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


# --- the demo make run offers -------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_the_demo_log_make_run_offers_shows_in_the_default_overview(tmp_path: Path) -> None:
    with LiveServer(tmp_path / "gunicorn.log") as server:
        out = io.StringIO()
        call_command("first_run", url=server.url, stdout=out)
        printed = out.getvalue()
        key = re.search(r"clk_[a-z0-9]{10}_[A-Za-z0-9]{32}", printed).group(0)
        curl = printed.split("Try it:\n", 1)[1].split("\nMore keys:", 1)[0]
        assert curl.strip().startswith(f"curl -s -X POST {server.url}/api/v1/logs")
        stored = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, check=True, timeout=30)
        assert json.loads(stored.stdout)["spooled"] is False, stored.stdout
        # The dashboard's first view: the last 7 days.
        overview = server.request(path="/api/v1/metrics/overview", headers={"X-API-Key": key}).json()
    assert overview["total_tickets"] == 1 and overview["status_counts"]["SUCCESS"] == 1, overview


def test_first_run_announces_the_port_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BIND", raising=False)
    monkeypatch.setenv("HOST", "0.0.0.0")
    monkeypatch.setenv("PORT", "8123")
    from central_logger import listen

    assert listen.url() == "http://127.0.0.1:8123" and listen.bind() == "0.0.0.0:8123"


def test_port_from_a_dot_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from central_logger import listen

    for name in ("BIND", "HOST", "PORT"):
        monkeypatch.delenv(name, raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text("SECRET_KEY=x\nPORT=8456\n")
    monkeypatch.setattr(listen, "ENV_FILE", env_file)
    assert listen.bind() == "127.0.0.1:8456"
    monkeypatch.setenv("PORT", "8457")  # the environment wins, as in the settings
    assert listen.bind() == "127.0.0.1:8457"


# --- make run and make test fail at once, with one line -------------------------------------------

def _make(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True,
                            timeout=timeout, env={**os.environ, **(env or {})})
    return result, time.monotonic() - started


def test_make_run_on_a_port_in_use_fails_at_once_with_a_message() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result, took = _make("run", f"PORT={port}", env={"HOST": "127.0.0.1"})
    assert result.returncode != 0
    assert f"Port {port} on 127.0.0.1 is already in use" in result.stderr, result.stderr
    assert f"make run PORT={port + 1}" in result.stderr
    assert "Embedded PostgreSQL" not in result.stdout  # nothing was started
    assert took < 30, took  # installing nothing new; no gunicorn bind retries


def test_make_test_against_an_unreachable_database_fails_in_seconds_with_one_line() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result, took = _make("test", env={"TEST_DATABASE_URL": f"postgres://root@127.0.0.1:{port}/central_logger"})
    assert result.returncode != 0
    ours = [line for line in result.stderr.splitlines() if not line.startswith("make")]
    assert len(ours) == 1, result.stderr
    assert ours[0].startswith(f"PostgreSQL at 127.0.0.1:{port} (TEST_DATABASE_URL) is not reachable: start it")
    assert "passed" not in result.stdout and "error" not in result.stdout.lower()  # pytest never ran
    assert took < 20, took
