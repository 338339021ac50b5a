import logging

import pytest

from central_logger_sdk import (CentralLogger, CentralLoggerHandler, LogBuilder, Status,
                                build_log, hash_pii, status_for_level)
from conftest import make_log, wait_until
from fake_collector import API_KEY, validate_log

SECRET = "clk_topsecret1_" + "S3cr3tS3cr3tS3cr3tS3cr3tS3cr3tAB"


def test_api_key_never_in_repr_logs_or_stats(collector, make_client, sdk_logs):
    collector.stop()
    client = make_client(collector.url, api_key=SECRET, max_retry_duration=0.05, timeout=0.2, spool_dir=None)
    assert SECRET not in repr(client) and SECRET not in str(client)
    assert SECRET not in repr(client._transport)
    client.ship_log(make_log(1))
    assert wait_until(lambda: client.stats()["dropped"].get("retry_exhausted") == 1)
    collector.start()
    collector.fail_next(1, 401, code="authentication_failed")
    client.ship_log(make_log(2))
    assert client.flush(5) is False  # refused with 401
    assert sdk_logs.records  # diagnostics were emitted...
    assert SECRET not in sdk_logs.text  # ...without the key
    assert SECRET not in str(client.stats())
    assert client._redact("boom " + SECRET) == "boom ***"


def test_logging_handler_adapter(collector, make_client):
    client = make_client(collector.url)
    log = logging.getLogger("workflow.test_handler")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    handler = CentralLoggerHandler(client, defaults={"workflow_version": "1.2.3"})
    log.addHandler(handler)
    logging.getLogger("central_logger_sdk").addHandler(handler)  # must be ignored
    try:
        log.info("ticket %s done", "T-1", extra={"ticket_id": "T-1", "category": "billing",
                                                 "execution_time_seconds": 1.5, "node": "classify"})
        log.warning("partial", extra={"ticket_id": "T-2"})
        try:
            raise ValueError("bad input")
        except ValueError:
            log.exception("failed", extra={"central_log": {"ticket_id": "T-3", "status": Status.FAILED}})
        logging.getLogger("central_logger_sdk").warning("internal diagnostics are not shipped")
        assert client.flush(5)
    finally:
        log.removeHandler(handler)
        logging.getLogger("central_logger_sdk").removeHandler(handler)
    stored = {l["ticket_id"]: l for l in collector.stored()}
    assert set(stored) == {"T-1", "T-2", "T-3"}
    t1 = stored["T-1"]
    assert t1["status"] == "SUCCESS" and t1["category"] == "billing"
    assert t1["execution_time_seconds"] == 1.5 and t1["workflow_version"] == "1.2.3"
    assert t1["metadata"]["message"] == "ticket T-1 done" and t1["metadata"]["node"] == "classify"
    assert t1["executed_at"].endswith("+00:00")
    assert stored["T-2"]["status"] == "PARTIAL"
    t3 = stored["T-3"]
    assert t3["status"] == "FAILED" and t3["workflow_error_type"] == "ValueError"
    assert t3["workflow_error"] == "bad input" and "Traceback" in t3["metadata"]["traceback"]
    assert status_for_level(logging.CRITICAL) == "ERROR"


def test_build_log_is_valid_and_hashes_pii():
    log = build_log(Status.FAILED, environment="production", ticket_id="T-9",
                    execution_time_seconds=2, requester_email=" Bob@Example.com ",
                    ticket_subject="Refund please", pii_salt="s1", trace={"nodes": ["a", "b"]},
                    metrics={"tokens": 10}, is_system_error=False, workflow_error=None)
    assert validate_log(log) == {}
    assert log["executed_at"].endswith("+00:00")
    assert "requester_email" not in log and "Bob" not in str(log)
    assert log["requester_email_hash"] == hash_pii("bob@example.com", salt="s1")
    assert log["requester_email_hash"] != hash_pii("bob@example.com")  # salted
    assert len(log["ticket_subject_hash"]) == 64
    assert log["payload"] == {"trace": {"nodes": ["a", "b"]}}
    assert "workflow_error" not in log
    import hashlib
    assert hash_pii("A@B.C ", salt="x") == hashlib.sha256(b"xa@b.c").hexdigest()
    assert hash_pii(None) is None


def test_build_log_validates_arguments():
    with pytest.raises(ValueError):
        build_log("OK")
    with pytest.raises(ValueError):
        build_log(Status.SUCCESS, environment="prod")
    with pytest.raises(ValueError):
        build_log(Status.SUCCESS, execution_time_seconds=-1)
    with pytest.raises(ValueError):
        build_log(Status.SUCCESS, event_id="x" * 201)
    from datetime import datetime, timedelta, timezone
    naive = build_log(Status.SUCCESS, executed_at=datetime(2024, 5, 1, 12, 0))
    assert naive["executed_at"] == "2024-05-01T12:00:00.000000+00:00"
    paris = build_log(Status.SUCCESS, executed_at=datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))))
    assert paris["executed_at"].endswith("+02:00")


def test_log_builder():
    log = (LogBuilder(ticket_id="T-1", category="billing", pii_salt="salt")
           .metric("tokens", 1200).meta("model", "m1").trace_step("classify", ok=True)
           .requester_email("bob@example.com")
           .error(RuntimeError("timeout"), node="llm", system=True)
           .errored(execution_time_seconds=3.0, environment="test"))
    assert validate_log(log) == {}
    assert log["status"] == "ERROR" and log["metrics"] == {"tokens": 1200}
    assert log["metadata"] == {"model": "m1"}
    assert log["payload"]["trace"]["steps"] == [{"node": "classify", "ok": True}]
    assert log["requester_email_hash"] == hash_pii("bob@example.com", "salt")
    assert log["workflow_error_node"] == "llm" and log["is_system_error"] is True
