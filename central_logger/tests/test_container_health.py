"""The container's health check (python -m central_logger.healthcheck, the Dockerfile's
HEALTHCHECK) against a real gunicorn: healthy when the spool can be written, even while
PostgreSQL is away; unhealthy when the spool's volume is not writable by the service's user,
which is what a root-owned volume did to the non-root image."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from central_logger.tests.live import ROOT, LiveServer, free_port

pytestmark = pytest.mark.django_db(transaction=True)


def healthcheck(server: LiveServer, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "central_logger.healthcheck"], cwd=ROOT, capture_output=True,
                          text=True, timeout=10,
                          env={**os.environ, "BIND": f"127.0.0.1:{server.port}", "ALLOWED_HOSTS": "localhost", **env})


@pytest.fixture
def volume() -> Iterator[Path]:
    """A directory like a fresh named volume: owned by root, mode 0755."""
    path = Path(tempfile.mkdtemp(prefix="cl-volume-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_healthy_with_a_writable_spool(tmp_path: Path, volume: Path) -> None:
    with LiveServer(tmp_path / "gunicorn.log", env={"SPOOL_PATH": str(volume / "spool.sqlite3")}) as server:
        ready = server.request(path="/health/ready").json()
        result = healthcheck(server)
    assert ready["spool"]["writable"] is True
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip() == "healthy (ready)"


def _unwritable(volume: Path) -> list[str]:
    """A command prefix under which `volume` cannot be written by the service. Root writes
    anything its mode forbids, so as root the volume is bind-mounted read-only in a private mount
    namespace (as `:ro` would); otherwise the directory's mode is enough."""
    if os.geteuid() != 0:
        volume.chmod(0o555)
        return []
    script = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" && exec "$@"'
    if subprocess.run(["unshare", "-m", "sh", "-c", script, str(volume), "true"], capture_output=True).returncode:
        pytest.skip("cannot make a read-only mount here (unshare -m needs CAP_SYS_ADMIN)")
    return ["unshare", "-m", "sh", "-c", script, str(volume)]


def test_unhealthy_when_the_service_cannot_write_its_spool_volume(tmp_path: Path, volume: Path) -> None:
    prefix = _unwritable(volume)
    env = {"SPOOL_PATH": str(volume / "spool.sqlite3")}
    with LiveServer(tmp_path / "gunicorn.log", env=env, prefix=prefix) as server:
        live = server.request(path="/health/live")
        ready = server.request(path="/health/ready")
        result = healthcheck(server)
    assert live.status == 200  # what the old HEALTHCHECK looked at: the container seemed healthy
    assert ready.status == 503 and "spool not writable" in ready.json()["reasons"]
    assert ready.json()["spool"]["writable"] is False
    assert result.returncode == 1
    assert result.stdout.startswith("unhealthy: the spool cannot be written (spool not writable)")


def test_still_healthy_while_the_database_is_away(tmp_path: Path, volume: Path) -> None:
    # Ingestion keeps accepting into the spool: restarting the container would not help.
    env = {"SPOOL_PATH": str(volume / "spool.sqlite3"), "WORKER_WARMUP_SECONDS": "0",
           "DATABASE_URL": f"postgres://nobody@127.0.0.1:{free_port()}/none"}
    with LiveServer(tmp_path / "gunicorn.log", env=env) as server:
        ready = server.request(path="/health/ready")
        result = healthcheck(server)
    assert ready.status == 503 and ready.json()["reasons"] == ["database unreachable"]
    assert result.returncode == 0 and result.stdout.strip() == "healthy (database unreachable)"


def test_the_health_check_uses_an_allowed_host(tmp_path: Path, volume: Path) -> None:
    env = {"SPOOL_PATH": str(volume / "spool.sqlite3"), "ALLOWED_HOSTS": "logs.example.com"}
    with LiveServer(tmp_path / "gunicorn.log", env=env) as server:
        assert healthcheck(server, ALLOWED_HOSTS="logs.example.com").returncode == 0
        wrong = healthcheck(server, ALLOWED_HOSTS="other.example.com")
    assert wrong.returncode == 1 and "ALLOWED_HOSTS" in wrong.stdout


def test_no_answer_is_unhealthy() -> None:
    result = subprocess.run([sys.executable, "-m", "central_logger.healthcheck", f"http://127.0.0.1:{free_port()}"],
                            cwd=ROOT, capture_output=True, text=True, timeout=10)
    assert result.returncode == 1 and result.stdout.startswith("no answer from")
