"""The indexer's word builder on the benchmark's realistic logs (bench/realistic.py: the real
workflow's trace, error messages, thirty categories, nine languages and scripts, rare very long
values), as the indexer receives them (after ingestion's `clean_log`, payload and metadata read
back from JSON): the fast path gives exactly the literal of the general tokenizer."""
from __future__ import annotations

import datetime as dt
import random
from typing import Any

import orjson
import pytest

from bench import realistic
from bench.harness import harness_dirs
from bench.realistic import generator, realistic_log
from ingestion.validation import clean_log
from logs import search
from logs.tests.test_search_document import oracle_document

COLUMNS = ("ticket_id", "category", "workflow_error_type", "workflow_error_node", "workflow_error")


@pytest.mark.skipif(not any((d / "gen.py").is_file() for d in harness_dirs()),
                    reason="the shared benchmark harness (gen.py) is not beside the checkout; set BENCH_HARNESS")
def test_fast_builder_equals_the_general_tokenizer_on_realistic_logs() -> None:
    gen = generator(anchor=dt.datetime(2026, 12, 3, 12, 0))
    bodies: list[dict[str, Any]] = [realistic_log(gen, i, client_id="builder") for i in range(0, 2100, 7)]
    realistic._long_values(bodies[0], random.Random(1))  # the generator's 1-in-1,000 very long values
    non_ascii = 0
    # Every 7th of 2,100 logs: the 15 % with text in other languages are among them.
    for i, body in enumerate(bodies):
        fields, errors = clean_log(body)
        assert fields is not None, errors
        log = {c: fields.get(c) for c in COLUMNS} | {name: orjson.loads(orjson.dumps(fields.get(name)))
                                                      for name in ("payload", "metadata")}
        literal = search.document(log)
        assert literal and literal == oracle_document(log), f"log #{i}"
        non_ascii += not literal.isascii()
    assert non_ascii >= 20  # the multilingual logs were part of the comparison
