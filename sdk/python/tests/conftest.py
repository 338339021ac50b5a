import logging
import os
import subprocess
import sys
import textwrap
import time

import pytest

from central_logger_sdk import CentralLogger, build_log, Status
from fake_collector import API_KEY, FakeCollector


def wait_until(predicate, timeout=10.0, interval=0.005):
    """Poll a condition (no fixed sleeps in tests): True as soon as it holds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def make_log(i=0, **fields):
    log = build_log(Status.SUCCESS, ticket_id="T-%d" % i, execution_time_seconds=0.5,
                    category="billing", metrics={"i": i})
    log.update(fields)
    return log


# Fast, deterministic defaults for tests: tiny intervals and backoff, seeded jitter.
FAST = dict(
    environment="test",
    flush_interval=0.02,
    timeout=1.0,
    backoff_base=0.01,
    backoff_max=0.05,
    close_timeout=3.0,
    flush_at_exit=False,
)


@pytest.fixture(autouse=True)
def _private_state_dir(tmp_path, monkeypatch):
    """The default spool goes under $XDG_STATE_HOME: each test (and the scripts it runs) gets
    its own, never the real user's."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state"


@pytest.fixture
def collector():
    fc = FakeCollector().start()
    yield fc
    fc.stop()


@pytest.fixture
def make_client():
    import random

    clients = []

    def factory(url, api_key=API_KEY, **kw):
        opts = dict(FAST)
        opts.setdefault("rng", random.Random(42))
        opts.update(kw)
        c = CentralLogger(url, api_key, **opts)
        clients.append(c)
        return c

    yield factory
    for c in clients:
        c.close(timeout=1.0)


@pytest.fixture
def sdk_logs(caplog):
    caplog.set_level(logging.DEBUG, logger="central_logger_sdk")
    return caplog


SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


def run_script(body, timeout=20, **env):
    """Run `body` in a fresh interpreter with the SDK importable; (process, seconds taken)."""
    script = textwrap.dedent(body)
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", script], env=dict(os.environ, PYTHONPATH=SRC, **env),
                          timeout=timeout, capture_output=True, text=True)
    return proc, time.monotonic() - t0
