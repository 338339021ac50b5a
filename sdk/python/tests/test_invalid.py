from conftest import make_log


def test_mixed_batch_207_counts_rejected_and_never_resends(collector, make_client, sdk_logs):
    client = make_client(collector.url, flush_interval=30)
    logs = [make_log(i, event_id="ev-%d" % i) for i in range(10)]
    logs[2]["status"] = "MAYBE"
    logs[5]["environment"] = "prod"
    logs[7]["executed_at"] = "2024-01-01T00:00:00"  # no offset
    for log in logs:
        client.ship_log(log)
    assert client.flush(5) is False  # 3 of the 10 were not delivered
    assert [r["status"] for r in collector.requests] == [207]
    assert len(collector.stored()) == 7
    st = client.stats()
    assert st["sent"] == 7 and st["dropped"] == {"rejected": 3}
    # the warning names the field errors
    assert "status" in sdk_logs.text and "executed_at" in sdk_logs.text and "MAYBE" in sdk_logs.text
    assert "environment" in sdk_logs.text and "ev-2" in sdk_logs.text
    # more traffic later never carries the rejected logs again
    client.ship_log(make_log(11))
    assert client.flush(5)  # this one was: a flush reports on the logs since the previous one
    assert len(collector.requests) == 2
    assert len(collector.requests[1]["event_ids"]) == 1
    assert not set(collector.requests[1]["event_ids"]) & {"ev-2", "ev-5", "ev-7"}


def test_all_invalid_batch_400_with_results(collector, make_client, sdk_logs):
    client = make_client(collector.url, flush_interval=30)
    for i in range(4):
        client.ship_log(make_log(i, status="bogus"))
    assert client.flush(5) is False
    assert [r["status"] for r in collector.requests] == [400]
    assert client.stats()["dropped"] == {"rejected": 4}
    assert "rejected 4 invalid" in sdk_logs.text


def test_400_without_details_rejects_whole_batch(collector, make_client, sdk_logs):
    collector.fail_next(1, 400, code="parse_error")
    client = make_client(collector.url, flush_interval=30)
    for i in range(3):
        client.ship_log(make_log(i))
    assert client.flush(5) is False
    assert [r["status"] for r in collector.requests] == [400]
    assert client.stats()["dropped"] == {"rejected": 3}
    assert "parse_error" in sdk_logs.text
