"""What the Dockerfile and docker-compose.yml promise (the README's Deployment section), read from
the files themselves; Docker's engine is not needed. The parts that run outside a container run
for real: the image's build-time collectstatic with the image's environment, and, where the
docker-compose CLI is installed, its validation of both compose files."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from central_logger.tests.live import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the final stage, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", "\n".join(l for l in DOCKERFILE.splitlines() if not l.lstrip().startswith("#")))
    final = text[text.rindex("\nFROM "):]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in final.splitlines() if line.strip()]


def compose(name: str = "docker-compose.yml") -> dict[str, Any]:
    return yaml.safe_load((ROOT / name).read_text())


def test_the_image_runs_as_a_user_that_owns_its_spool_directory_and_nothing_else() -> None:
    steps = instructions()
    user = [args.strip() for op, args in steps if op == "USER"]
    assert user and user[-1].isdigit() and user[-1] != "0"
    runs = " && ".join(args for op, args in steps if op == "RUN")
    assert "mkdir -p /app/var" in runs
    assert re.search(rf"chown {user[-1]}(:\d+)? /app/var(\s|$)", runs), runs
    assert "chown -R" not in runs  # the code stays root's
    env = " ".join(args for op, args in steps if op == "ENV")
    assert "SPOOL_PATH=/app/var/" in env


def test_the_image_checks_its_health_with_the_spool_and_does_not_migrate_at_start() -> None:
    steps = dict(instructions())
    assert '"-m", "central_logger.healthcheck"' in steps["HEALTHCHECK"]
    assert "migrate" not in steps["CMD"] and "gunicorn" in steps["CMD"]
    assert "requirements.txt" in steps["COPY"] or "requirements.txt" in DOCKERFILE
    assert "requirements-dev" not in DOCKERFILE


def test_the_images_build_time_collectstatic_works_with_the_images_environment(tmp_path: Path) -> None:
    run = next(args for op, args in instructions() if op == "RUN" and "collectstatic" in args)
    words = shlex.split(run)
    env = dict(w.split("=", 1) for w in words[:words.index("python")])
    command = words[words.index("python"):]
    clean = {k: v for k, v in os.environ.items()
             if k not in ("DATABASE_URL", "SECRET_KEY", "API_KEY_PEPPER", "DJANGO_SETTINGS_MODULE", "DEBUG")}
    result = subprocess.run([sys.executable, *command[1:]], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**clean, **env, "STATIC_ROOT": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "staticfiles.json").exists()


def test_compose_migrates_once_before_the_app_starts() -> None:
    services = compose()["services"]
    migrate, app = services["migrate"], services["app"]
    assert migrate["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert migrate["restart"] == "no"
    assert app["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert "command" not in app  # the image's CMD: gunicorn only
    assert migrate["image"] == app["image"]


def test_compose_keeps_the_spool_restarts_rotates_logs_and_limits_resources() -> None:
    services = compose()["services"]
    assert "spool:/app/var" in services["app"]["volumes"]
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert services["app"]["depends_on"]["redis"] == {"condition": "service_healthy"}
    assert services["app"]["healthcheck"]["test"] == ["CMD", "python", "-m", "central_logger.healthcheck"]
    for name, service in services.items():
        assert service["logging"]["options"]["max-size"], name
        if name != "migrate":
            assert service["restart"] == "unless-stopped", name
            assert service["deploy"]["resources"]["limits"]["memory"], name


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="the docker-compose CLI is not installed")
@pytest.mark.parametrize("files", [["docker-compose.yml"], ["docker-compose.yml", "docker-compose.tls.yml"]])
def test_docker_compose_accepts_the_files(files: list[str]) -> None:
    secrets = {"SECRET_KEY": "s" * 50, "API_KEY_PEPPER": "p" * 50, "POSTGRES_PASSWORD": "pg"}
    args = [arg for name in files for arg in ("-f", name)]
    result = subprocess.run(["docker-compose", *args, "config", "-q"], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, **secrets}, timeout=60)
    assert result.returncode == 0, result.stderr
    missing = subprocess.run(["docker-compose", *args, "config", "-q"], cwd=ROOT, capture_output=True, text=True,
                             env={k: v for k, v in os.environ.items() if k not in secrets}, timeout=60)
    assert missing.returncode != 0 and "set " in missing.stderr  # the secrets are required, never defaulted
