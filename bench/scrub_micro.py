"""In-process microbenchmark of the scrubber: CPU time to scrub one log of the harness's
generator (3-6 KB), clean and with planted personal data and secrets, with the default rules.

    .venv/bin/python bench/scrub_micro.py [--logs 200] [--repeat 25]

For each log, the minimum over `--repeat` runs on fresh copies (the noise of a shared machine
only ever adds time), then the median over logs. CPU time of this thread (process_time_ns),
Python's collector set as in a gunicorn worker (GC_GEN0_THRESHOLD).
"""
from __future__ import annotations

import argparse
import copy
import gc
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central_logger.settings")
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("DATABASE_URL", "postgres://bench@127.0.0.1:5432/unused")  # never connected

import django  # noqa: E402

django.setup()

from bench.harness import load_gen  # noqa: E402
from ingestion.validation import clean_log  # noqa: E402
from scrubbing.engine import build_ruleset, scrub_log  # noqa: E402

PLANTED = {
    "observation": " The customer jane.doe@example.com called from +44 20 7946 0958 about card 4111 1111 1111 1111.",
    "api_key": "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "workflow_error": "HTTP 401 from CRM: Authorization: Bearer 9f8e7d6c5b4a3f2e1d0c9b8a",
}


def planted(body: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(body)
    steps = body["payload"]["trace"]["react_iterations"]
    steps[0]["observation"] += PLANTED["observation"]
    steps[-1]["action_input"]["api_key"] = PLANTED["api_key"]
    body["workflow_error"] = PLANTED["workflow_error"]
    return body


def measure(bodies: list[dict[str, Any]], repeat: int) -> tuple[float, int]:
    rules = build_ruleset()
    per_log, sizes = [], []
    for body in bodies:
        fields, errors = clean_log(body)
        assert fields is not None, errors
        blob = orjson.dumps(fields, option=orjson.OPT_NON_STR_KEYS, default=str)
        sizes.append(len(orjson.dumps(body)))
        copies = [orjson.loads(blob) for _ in range(repeat)]
        best = None
        for candidate in copies:
            started = time.process_time_ns()
            scrub_log(rules, candidate)
            spent = time.process_time_ns() - started
            best = spent if best is None else min(best, spent)
        per_log.append(best)
    return statistics.median(per_log) / 1000, int(statistics.median(sizes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=25)
    args = parser.parse_args()
    gc.set_threshold(int(os.environ.get("GC_GEN0_THRESHOLD", "5000")), *gc.get_threshold()[1:])
    gen = load_gen()
    bodies = [orjson.loads(gen.dumps(body)) for body in gen.LogGen(seed=11, client_id="bench-writer").logs(args.logs)]
    for name, sample in (("clean", bodies), ("planted", [planted(body) for body in bodies])):
        median_us, size = measure(sample, args.repeat)
        print(f"{name:8s} {len(sample)} logs, median {size:,} bytes: median {median_us:.1f} us CPU per log")


if __name__ == "__main__":
    main()
