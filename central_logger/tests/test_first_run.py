"""The first run, as a newcomer meets it: .env.example copied to .env, `make run`'s steps, the
demo it offers."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from central_logger.tests.live import ROOT

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
