#!/usr/bin/env python3
"""(Vendored from the team benchmark harness, ../shared/bench/gen.py, unchanged but for this
line: the fixture command and the shared load driver must produce the same logs.)

Deterministic generator of realistic Central Logger workflow-run logs.

Each log is derived only from (seed, index, anchor), so log #i is the same
whatever order or process generates it.  `anchor` is the newest possible
`executed_at`; logs are spread uniformly over the `span_days` before it.  By
default the anchor is today 00:00 UTC, so that `days=7/90` windows in the
metrics endpoints hit real data; pass --anchor to make a run byte-identical
across days.

Library use:
    from gen import LogGen, log_to_row
    g = LogGen(seed=42)
    body = g.log(0)                 # dict, exactly what the real client POSTs
    row = log_to_row(body)          # tuple in ROW_COLUMNS order for the table

CLI:
    gen.py jsonl  -n 1000 [--seed 42] [--client-id X] > logs.jsonl
    gen.py batches -n 5000 --batch-size 100 > batches.jsonl   # {"logs":[...]} per line
    gen.py stats -n 2000                                     # size / mix summary
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
from typing import Any, Iterator

# --- vocabulary -----------------------------------------------------------

STATUSES = ["SUCCESS", "PARTIAL", "FAILED", "ERROR"]
STATUS_WEIGHTS = [85, 7, 5, 3]

CATEGORIES = [
    "PRODUCT_SUPPORT", "billing_issue", "technical_issue", "account_access",
    "shipping_inquiry", "refund_request", "warranty_claim", "feature_request",
    "bug_report", "general_inquiry",
]
CATEGORY_WEIGHTS = [24, 14, 14, 10, 9, 8, 6, 5, 5, 5]

ENVIRONMENTS = ["production", "staging", "development"]
ENV_WEIGHTS = [90, 8, 2]
VERSIONS = ["v1.0", "v1.1", "v1.2", "v2.0"]
VERSION_WEIGHTS = [10, 25, 40, 25]
RESOLUTIONS_OK = ["RESOLVED", "RESOLVED", "RESOLVED", "PENDING_CUSTOMER", "ESCALATED"]
RESOLUTIONS_BAD = ["UNRESOLVED", "ESCALATED", "NEEDS_HUMAN"]
COMPLEXITY = ["low", "medium", "high"]
PRIORITIES = ["low", "normal", "high", "urgent"]
TICKET_TYPES = ["question", "incident", "problem", "task"]
TAGS = ["vip", "refund", "hardware", "firmware", "login", "invoice", "shipping",
        "damaged", "warranty", "upgrade", "api", "mobile", "web", "sso", "export"]
ACTIONS = ["search_knowledge_base", "search_past_tickets", "vision_match_product",
           "lookup_order", "lookup_customer", "check_warranty", "draft_response",
           "verify_policy", "classify_ticket", "extract_entities"]
NODES = ["planner", "retriever", "react_agent", "vision", "responder", "validator"]
ERROR_TYPES = ["TimeoutError", "RateLimitError", "ValidationError", "APIConnectionError",
               "KeyError", "JSONDecodeError"]
AUDIT_EVENTS = ["workflow_started", "ticket_loaded", "classification_done", "retrieval_done",
                "plan_created", "react_step", "response_drafted", "validation_passed",
                "note_posted", "workflow_finished"]
PRODUCTS = ["X100 Router", "Mesh Pro 3", "CamHome 2K", "SmartPlug Mini", "Hub Max",
            "DoorBell S", "Thermo One", "AirSense 5"]

WORDS = (
    "the customer reports that device stopped working after firmware update and "
    "requests a replacement unit we checked order history warranty status and "
    "previous tickets found similar issue resolved by factory reset instructions "
    "attached image shows blinking red light on front panel which indicates "
    "network configuration failure plan is to verify serial number confirm purchase "
    "date suggest troubleshooting steps and offer rma if problem persists billing "
    "invoice refund charged twice subscription renewal account locked password reset "
    "two factor authentication email address changed shipping delayed tracking number "
    "carrier package damaged missing item courier return label policy allows thirty "
    "days knowledge base article confidence high low medium evidence matches product "
    "model text description vision similarity score threshold escalate to human agent "
    "because information insufficient ask for photo of label and receipt"
).split()

DEFAULT_SEED = 42
DEFAULT_SPAN_DAYS = 90

# Columns of workflow_logs that a log maps to (id and created_at use defaults).
ROW_COLUMNS = (
    "client_id", "environment", "workflow_version", "ticket_id", "executed_at",
    "execution_time_seconds", "status", "category", "resolution_status",
    "metrics", "payload",
)
# Top-level body fields that have no column: kept inside payload JSONB.
EXTRA_FIELDS = (
    "ticket_subject_hash", "requester_email_hash", "customer_type", "workflow_error",
    "workflow_error_type", "workflow_error_node", "is_system_error", "metadata",
)


def default_anchor() -> dt.datetime:
    now = dt.datetime.now(dt.timezone.utc)
    return dt.datetime(now.year, now.month, now.day)  # naive, UTC midnight today


# A fixed pseudo-text corpus; a text is a word-aligned slice of it, which
# costs two random draws instead of one per word.
_CORPUS_WORDS = random.Random(20250101).choices(WORDS, k=50_000)
_CORPUS = " ".join(_CORPUS_WORDS) + " "
_OFFSETS = [0]
for _w in _CORPUS_WORDS:
    _OFFSETS.append(_OFFSETS[-1] + len(_w) + 1)
del _w


def _ri(r: random.Random, lo: int, hi: int) -> int:
    """randint(lo, hi) from one r.random() draw (much cheaper than randint)."""
    return lo + int(r.random() * (hi - lo + 1))


def _text(r: random.Random, lo: int, hi: int) -> str:
    n = _ri(r, lo, hi)
    s = int(r.random() * (len(_CORPUS_WORDS) - n - 1))
    t = _CORPUS[_OFFSETS[s]:_OFFSETS[s + n] - 1]
    return t[0].upper() + t[1:] + "."


def _hex16(r: random.Random) -> str:
    return "%016x" % r.getrandbits(64)


class LogGen:
    def __init__(self, seed: int = DEFAULT_SEED, anchor: dt.datetime | None = None,
                 span_days: int = DEFAULT_SPAN_DAYS, client_id: str = "bench-main"):
        self.seed = seed
        self.anchor = anchor or default_anchor()
        self.span_s = span_days * 86400
        self.client_id = client_id

    def log(self, i: int, client_id: str | None = None) -> dict[str, Any]:
        r = random.Random(self.seed * 1_000_003 + i)
        status = r.choices(STATUSES, STATUS_WEIGHTS)[0]
        category = r.choices(CATEGORIES, CATEGORY_WEIGHTS)[0]
        ok = status == "SUCCESS"
        executed = self.anchor - dt.timedelta(seconds=r.randrange(self.span_s))
        n_iter = _ri(r, 3, 8)
        error = None
        error_type = error_node = None
        if status == "ERROR" or (status == "FAILED" and r.random() < 0.5):
            error_type = r.choice(ERROR_TYPES)
            error_node = r.choice(NODES)
            error = f"{error_type}: {_text(r, 8, 20)}"
        iterations = [
            {
                "iteration": k + 1,
                "thought": _text(r, 6, 16),
                "action": r.choice(ACTIONS),
                "action_input": {"query": _text(r, 3, 8), "top_k": r.choice([3, 5, 10])},
                "observation": _text(r, 6, 20),
                "duration_ms": _ri(r, 200, 4000),
            }
            for k in range(n_iter)
        ]
        t0 = 0
        audit = []
        for ev in AUDIT_EVENTS[: _ri(r, 5, len(AUDIT_EVENTS))]:
            t0 += _ri(r, 5, 900)
            audit.append({"event": ev, "t_ms": t0, "node": r.choice(NODES)})
        product = r.choice(PRODUCTS)
        body: dict[str, Any] = {
            "client_id": client_id or self.client_id,
            "environment": r.choices(ENVIRONMENTS, ENV_WEIGHTS)[0],
            "workflow_version": r.choices(VERSIONS, VERSION_WEIGHTS)[0],
            "ticket_id": str(_ri(r, 10_000, 9_999_999)),
            "ticket_subject_hash": _hex16(r),
            "executed_at": executed.isoformat(timespec="seconds"),
            "execution_time_seconds": round(r.lognormvariate(1.5, 0.5), 2),
            "status": status,
            "requester_email_hash": _hex16(r),
            "category": category,
            "resolution_status": r.choice(RESOLUTIONS_OK if ok else RESOLUTIONS_BAD),
            "customer_type": "VIP" if r.random() < 0.12 else None,
            "metrics": {
                "react_iterations": n_iter,
                "overall_confidence": round(r.uniform(0.4, 0.99), 3),
                "hallucination_risk": round(r.uniform(0.0, 0.4), 3),
                "product_confidence": round(r.uniform(0.3, 0.99), 3),
                "vip_compliant": r.random() < 0.95,
                "enough_information": r.random() < 0.8,
                "needs_more_info": r.random() < 0.2,
                "vision_matches": _ri(r, 0, 5),
                "text_matches": _ri(r, 0, 10),
                "past_ticket_matches": _ri(r, 0, 8),
                "plan_steps": _ri(r, 2, 7),
                "planning_confidence": round(r.uniform(0.5, 0.99), 3),
                "ticket_complexity": r.choice(COMPLEXITY),
            },
            "workflow_error": error,
            "workflow_error_type": error_type,
            "workflow_error_node": error_node,
            "is_system_error": status == "ERROR",
            "payload": {
                "trace": {
                    "react_iterations": iterations,
                    "audit_events": audit,
                    "retrieval": {
                        "text_matches": [
                            {"doc_id": f"kb-{_ri(r, 1, 5000)}", "score": round(r.random(), 3),
                             "snippet": _text(r, 5, 10)}
                            for _ in range(_ri(r, 1, 4))
                        ],
                        "past_tickets": [str(_ri(r, 10_000, 9_999_999))
                                         for _ in range(_ri(r, 0, 5))],
                        "vision_matches": [{"product": r.choice(PRODUCTS),
                                            "similarity": round(r.random(), 3)}
                                           for _ in range(_ri(r, 0, 3))],
                    },
                    "planning": {
                        "steps": [_text(r, 4, 9) for _ in range(_ri(r, 2, 5))],
                        "confidence": round(r.uniform(0.5, 0.99), 3),
                    },
                    "product": {"name": product, "sku": "SKU-%05d" % _ri(r, 0, 99999),
                                "confidence": round(r.random(), 3)},
                    "evidence": {"sources": _ri(r, 0, 6), "summary": _text(r, 6, 14)},
                },
                "final_response": _text(r, 25, 60),
                "private_note": _text(r, 8, 25),
            },
            "metadata": {
                "attachment_count": _ri(r, 0, 3),
                "has_images": r.random() < 0.3,
                "ticket_tags": r.sample(TAGS, _ri(r, 0, 4)),
                "priority": r.choice(PRIORITIES),
                "ticket_type": r.choice(TICKET_TYPES),
                "react_total_iterations": n_iter,
            },
        }
        return body

    def logs(self, n: int, start: int = 0, client_id: str | None = None) -> Iterator[dict]:
        for i in range(start, start + n):
            yield self.log(i, client_id)


try:  # orjson is ~15x faster and byte-identical for this (ASCII) data
    import orjson as _orjson

    def dumps(obj: Any) -> str:
        return _orjson.dumps(obj).decode()
except ImportError:  # pragma: no cover
    def dumps(obj: Any) -> str:
        return json.dumps(obj, separators=(",", ":"))


def log_to_row(body: dict[str, Any], client_id: str | None = None) -> tuple:
    """Map a client body to ROW_COLUMNS (metrics/payload as JSON text).

    Same mapping as the peer's log_service: fields without a column go into
    payload so nothing the client sent is lost.
    """
    payload = dict(body.get("payload") or {})
    for k in EXTRA_FIELDS:
        if k in body:
            payload[k] = body[k]
    return (
        client_id or body["client_id"], body["environment"], body.get("workflow_version"),
        body.get("ticket_id"), body["executed_at"], body.get("execution_time_seconds"),
        body.get("status"), body.get("category"), body.get("resolution_status"),
        dumps(body.get("metrics")),
        dumps(payload),
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["jsonl", "batches", "stats"])
    p.add_argument("-n", type=int, default=1000, help="number of logs")
    p.add_argument("--start", type=int, default=0, help="first log index")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--client-id", default="bench-main")
    p.add_argument("--anchor", help="newest executed_at, ISO (default: today 00:00 UTC)")
    p.add_argument("--span-days", type=int, default=DEFAULT_SPAN_DAYS)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--batch-key", default="logs", help="wrap batches as {KEY: [...]}; '' for a bare list")
    a = p.parse_args(argv)
    anchor = dt.datetime.fromisoformat(a.anchor) if a.anchor else None
    g = LogGen(seed=a.seed, anchor=anchor, span_days=a.span_days, client_id=a.client_id)
    out = sys.stdout
    if a.mode == "jsonl":
        for body in g.logs(a.n, a.start):
            out.write(dumps(body) + "\n")
    elif a.mode == "batches":
        buf: list[dict] = []
        for body in g.logs(a.n, a.start):
            buf.append(body)
            if len(buf) == a.batch_size:
                out.write(dumps({a.batch_key: buf} if a.batch_key else buf) + "\n")
                buf = []
        if buf:
            out.write(dumps({a.batch_key: buf} if a.batch_key else buf) + "\n")
    else:
        import collections
        import statistics
        import time
        t = time.perf_counter()
        bodies = [dumps(b) for b in g.logs(a.n, a.start)]
        el = time.perf_counter() - t
        sizes = sorted(len(b.encode()) for b in bodies)
        objs = [json.loads(b) for b in bodies]
        st = collections.Counter(o["status"] for o in objs)
        cat = collections.Counter(o["category"] for o in objs)
        ex = sorted(o["executed_at"] for o in objs)
        print(json.dumps({
            "n": a.n, "gen_logs_per_s": round(a.n / el),
            "bytes": {"min": sizes[0], "p10": sizes[len(sizes) // 10],
                      "median": int(statistics.median(sizes)),
                      "p90": sizes[len(sizes) * 9 // 10], "max": sizes[-1],
                      "mean": round(statistics.mean(sizes))},
            "status": {k: round(v / a.n, 3) for k, v in st.most_common()},
            "categories": {k: round(v / a.n, 3) for k, v in cat.most_common()},
            "executed_at": {"min": ex[0], "max": ex[-1]},
        }, indent=1))


if __name__ == "__main__":
    main()
