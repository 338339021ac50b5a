"""Background loops log their state changes, not every failed round (issue 19).

During a database outage the rollup flusher used to log a full traceback every second in every
worker. Now: one line when the database becomes unavailable, one a minute while it stays so,
one when the loop runs again; a traceback only for an error that is not the database.
"""
from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from django.db import OperationalError

from central_logger import background
from central_logger.background import ProcessLoop
from metrics.flusher import flusher
from spool import drain as spool_drain
from spool.tests.test_spool import URL, database_down, warm_up
from conftest import Tenant
from logs.tests.factories import log_body

LOGGER = "central_logger.background"


def lines(caplog: Any) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == LOGGER]


def run_loop(loop: ProcessLoop, seconds: float) -> None:
    loop.ensure()
    try:
        time.sleep(seconds)
    finally:
        loop.stop()


@pytest.mark.django_db(transaction=True)
def test_the_rollup_flusher_logs_an_outage_once_and_its_end_once(settings: Any, caplog: Any) -> None:
    settings.ROLLUP_FLUSH_INTERVAL = 0.02
    caplog.set_level(logging.INFO, logger=LOGGER)
    flusher.ensure()
    try:
        with database_down():
            time.sleep(1.0)  # about 50 failed rounds
        time.sleep(0.5)
    finally:
        flusher.stop()
    logged = lines(caplog)
    assert len(logged) == 2, logged
    assert logged[0].startswith("rollup-flusher: database unavailable (OperationalError: down)")
    assert logged[1].startswith("rollup-flusher: back after")
    assert not any(record.exc_info for record in caplog.records if record.name == LOGGER)


@pytest.mark.django_db(transaction=True)
def test_the_drainer_logs_an_outage_once(alice: Tenant, settings: Any, caplog: Any) -> None:
    warm_up(alice)
    with database_down():
        assert alice.api.post(URL, log_body(), format="json").status_code == 202
    settings.SPOOL_DRAIN_INTERVAL = 0.02
    caplog.set_level(logging.INFO, logger=LOGGER)
    with database_down():
        run_loop(spool_drain.drainer, 0.6)
    logged = lines(caplog)
    assert len(logged) == 1 and logged[0].startswith("spool-drainer: database unavailable"), logged
    assert "1 logs waiting in the spool" in logged[0]


def test_a_long_outage_is_recalled_once_a_minute_and_a_bug_gets_its_traceback(monkeypatch: Any,
                                                                              caplog: Any) -> None:
    monkeypatch.setattr(background, "STILL_FAILING_EVERY", 0.2)
    failures: list[BaseException] = [OperationalError("connection refused")] * 30 + [KeyError("oops")] * 3
    rounds = iter(failures)

    def round_() -> None:
        error = next(rounds, None)
        if error is not None:
            raise error

    caplog.set_level(logging.INFO, logger=LOGGER)
    run_loop(ProcessLoop("test-loop", lambda: 0.02, round_), 1.2)
    logged = lines(caplog)
    assert logged[0] == "test-loop: database unavailable (OperationalError: connection refused); retrying every 0.02s"
    still = [line for line in logged if line.startswith("test-loop: still failing after")]
    assert 1 <= len(still) <= 4  # 30 rounds of 20 ms at one line per 200 ms
    bug = [record for record in caplog.records if record.getMessage().startswith("test-loop: failed")]
    assert len(bug) == 1 and bug[0].exc_info  # a different failure: reported once, with its traceback
    assert logged[-1].startswith("test-loop: back after")


def test_a_round_that_did_not_get_to_try_changes_nothing(caplog: Any) -> None:
    """Two workers' drainers take turns holding the spool's lock: the rounds that find it busy
    are neither a failure nor a recovery, so the outage is still one line."""
    turns = iter(range(40))

    def round_() -> object:
        if next(turns, 1) % 2:
            return background.SKIPPED
        raise background.DatabaseUnavailable("OperationalError; 5 logs waiting in the spool")

    caplog.set_level(logging.INFO, logger=LOGGER)
    run_loop(ProcessLoop("drainer-like", lambda: 0.01, round_), 0.6)
    assert len(lines(caplog)) == 1, lines(caplog)


def test_every_runner_has_an_advisory_lock_key_of_its_own() -> None:
    """Two runners on one key wait out each other's rounds (the alerts evaluator and the
    partition runner once did); the rollup's class is per client and must not be reused."""
    from central_logger import locks

    assert len(set(locks.KEYS)) == len(locks.KEYS)
    assert all(key[0] != locks.ROLLUP_CLASS for key in locks.KEYS)
