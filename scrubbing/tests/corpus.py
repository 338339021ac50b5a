"""The scrubbing corpus: realistic nested traces of the ticket workflow with planted secrets and
personal data of every kind the default rules cover, and look-alikes that must survive.

`corpus_logs()` builds log bodies (as a client sends them); `PLANTED` is every value that must
be gone from whatever we store or serve (searched as plain substrings), and `LOOK_ALIKES` every
value that must still be there, unchanged. Values are spread over every scrubbed place: trace
steps (thought, action input, observation), nested tool results, metadata, metrics, unknown
top-level fields (extra), the error text, and object keys; with text around them in several
languages.
"""
from __future__ import annotations

import copy
import random
from typing import Any

# kind -> (the value as planted in text, the part that must disappear)
TEXT_SECRETS: dict[str, list[tuple[str, str]]] = {
    "bearer": [("Authorization: Bearer 9f8e7d6c5b4a3f2e1d0c9b8a", "9f8e7d6c5b4a3f2e1d0c9b8a"),
               ("curl -H 'authorization: bearer AbCdEf0123456789xyzToken'", "AbCdEf0123456789xyzToken")],
    "basic_auth": [("Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l", "YWxhZGRpbjpvcGVuc2VzYW1l")],
    "jwt": [("token=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ."
             "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
             "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ")],
    "clk_api_key": [("key clk_ab12cd34ef_Q2x9Vb7Nm4Lk8Jh6Gf5Ds3Aa1Zx0Cv9B was used",
                     "clk_ab12cd34ef_Q2x9Vb7Nm4Lk8Jh6Gf5Ds3Aa1Zx0Cv9B")],
    "aws_access_key": [("aws id AKIAIOSFODNN7EXAMPLE in env", "AKIAIOSFODNN7EXAMPLE"),
                       ("ASIAY34FZKBOKMUTVV7A temporary", "ASIAY34FZKBOKMUTVV7A")],
    "github_token": [("git clone https://ghp_16C7e42F292c6912E7710c838347Ae178B4a@github.com/acme/x",
                      "ghp_16C7e42F292c6912E7710c838347Ae178B4a"),
                     ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ",
                      "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ")],
    "gitlab_token": [("GITLAB glpat-Xy12Ab34Cd56Ef78Gh90ij", "glpat-Xy12Ab34Cd56Ef78Gh90ij")],
    "slack_token": [("slack xoxb-1234567890123-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
                     "xoxb-1234567890123-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"),
                    ("posted to https://hooks.slack.com/services/T0000AAAA/B0000BBBB/XXXXXXXXXXXXXXXXXXXXXXXX",
                     "T0000AAAA/B0000BBBB/XXXXXXXXXXXXXXXXXXXXXXXX")],
    "stripe_key": [("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc ok", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
                   ("rk_test_51H8abcdEFGHijklMNOP", "rk_test_51H8abcdEFGHijklMNOP")],
    "openai_key": [("OPENAI_API_KEY sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"),
                   ("anthropic sk-ant-api03-Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0-AAAA", "Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0")],
    "google_api_key": [("maps AIzaSyA-1234567890abcdefghijklmnopqrstu call", "AIzaSyA-1234567890abcdefghijklmnopqrstu")],
    "private_key": [("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n"
                     "VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n"
                     "-----END RSA PRIVATE KEY-----", "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun"),
                    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtz\n"
                     "(truncated)", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtz")],
    "card": [("card 4111 1111 1111 1111 exp 12/27", "4111 1111 1111 1111"),
             ("MC 5555-5555-5555-4444 declined", "5555-5555-5555-4444"),
             ("amex 378282246310005.", "378282246310005"),
             ("Karte 6011111111111117 abgelehnt", "6011111111111117"),
             ("JCB 3530111333300000", "3530111333300000"),
             ("visa 4242424242424242 (test)", "4242424242424242"),
             ("2-series 2223003122003222", "2223003122003222")],
    "iban": [("IBAN DE89 3704 0044 0532 0130 00 bitte", "3704 0044 0532 0130"),
             ("pay to GB82WEST12345698765432", "GB82WEST12345698765432"),
             ("RIB FR1420041010050500013M02606", "FR1420041010050500013M02606")],
    "email": [("customer jane.doe@example.com wrote", "jane.doe@example.com"),
              ("Kunde müller.hans@beispiel.de schrieb", "müller.hans@beispiel.de"),
              ("cc: o'brien+orders@mail.example.co.uk;", "brien+orders@mail.example.co.uk"),
              ("顧客 tanaka.yuki@example.jp からの問い合わせ", "tanaka.yuki@example.jp")],
    "phone": [("call back +44 20 7946 0958 today", "20 7946 0958"),
              ("تواصل معي على +971 50 123 4567", "50 123 4567"),
              ("US +1 (415) 555-2671 x", "(415) 555-2671"),
              ("Handy +4915123456789", "+4915123456789")],
    "url_credentials": [("DSN postgres://app:S3cr3tPassw0rd@db.internal:5432/prod", "S3cr3tPassw0rd")],
    "secret_assignment": [("login failed for password=hunter2-Xq9 on retry", "hunter2-Xq9"),
                          ('tool input {"api_key": "zz-9f8e7d6c5b4a-key"}', "zz-9f8e7d6c5b4a-key")],
}
# key -> a value that must disappear whole
KEY_SECRETS: dict[str, Any] = {
    "password": "pw-Zq81!unique", "db_passwd": "passwd-Zq82", "secret": "secret-Zq83", "access_token": "tok-Zq84",
    "api_key": "apikey-Zq85", "apiKey": "apikey-Zq86", "Authorization": "auth-Zq87 value", "Cookie": "sid=cookie-Zq88",
    "Set-Cookie": "sid=setcookie-Zq89; HttpOnly", "session": "session-Zq90", "private_key": "privkey-Zq91",
    "client_secret": "clientsecret-Zq92", "aws_secret_access_key": "accesskey-Zq93/abc+def",
    "credit_card": "cc-Zq94", "card_number": 4000056655665556, "cvv": 737, "ssn": "078-05-1120",
    "iban": "iban-Zq95", "X-API-Key": "xapikey-Zq96", "refreshToken": "refresh-Zq97",
}
# Must survive exactly as written.
LOOK_ALIKES = [
    "order 4111111111111112 shipped",           # 16 digits, not Luhn-valid
    "ORD-1234567812345670-B",                   # order number glued to letters
    "550e8400-e29b-41d4-a716-446655440000",     # UUID
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",  # SHA-256
    "2025-01-07T09:00:00+01:00",                # timestamp with an offset
    "1736240400000",                            # epoch milliseconds
    "1736240400123456",                         # epoch microseconds (16 digits, Luhn aside)
    "$1,299.99", "EUR 4.111,00", "+3.5%",       # prices and changes
    "v1.2.3", "2.14.0+build.20250107", "lodash@4.17.21",  # versions
    "TICKET-48213", "JIRA-1234", "INC0012345",  # ticket ids
    "basic understanding of the plan", "bearer token expired",  # prose
    "DE00 1234 5678 9012 3456 78",              # IBAN shape, wrong checksum
    "+49 2025",                                 # too few digits for a phone
    "0.30000000000000004",                      # a float's digits
    "user@localhost",                           # no domain
    "sk-short",
]
LOOK_ALIKE_FIELDS = {"max_tokens": 1024, "prompt_tokens": 312, "token_count": 57, "session_id": "sess_8f3a2b",
                     "tokenizer": "cl100k_base", "password_reset_required": True, "secret_santa": None}

_PHRASES = ["Customer asks about the refund for the blender.", "Der Kunde möchte die Lieferung ändern.",
            "お客様は返品を希望しています。", "El cliente pregunta por la factura.", "العميل يسأل عن الطلب.",
            "Checked the CRM and the order history.", ""]


def _planted_texts() -> list[str]:
    return [text for items in TEXT_SECRETS.values() for text, _gone in items]


def planted_values() -> list[str]:
    """Every substring that must be gone from what we store and serve."""
    values = [gone for items in TEXT_SECRETS.values() for _text, gone in items]
    # Short numbers (a CVV) would also be found inside unrelated ids: checked by key instead.
    values += [str(value) for value in KEY_SECRETS.values() if len(str(value)) >= 8]
    return values


def corpus_logs(count: int = 12, seed: int = 20) -> list[dict[str, Any]]:
    """Log bodies with every planted value and every look-alike, spread over all places."""
    rng = random.Random(seed)
    texts = _planted_texts()
    keys = list(KEY_SECRETS.items())
    logs = []
    for n in range(count):
        steps = []
        for i in range(4):
            steps.append({
                "iteration": i + 1,
                "thought": f"{rng.choice(_PHRASES)} {texts[(n * 7 + i) % len(texts)]}",
                "action": rng.choice(["lookup_customer", "http_request", "search_knowledge_base"]),
                "action_input": {"query": rng.choice(_PHRASES), "headers": dict([keys[(n * 4 + i) % len(keys)]]),
                                 "top_k": 5, **LOOK_ALIKE_FIELDS},
                "observation": {"status": 200, "body": [rng.choice(_PHRASES), texts[(n * 7 + i + 3) % len(texts)],
                                                        {"note": LOOK_ALIKES[(n + i) % len(LOOK_ALIKES)]}]},
            })
        logs.append({
            "environment": "production", "executed_at": f"2025-03-{n % 28 + 1:02d}T10:00:00Z", "status": "FAILED",
            "ticket_id": f"TICKET-{48000 + n}", "category": "billing_issue", "execution_time_seconds": 3.5,
            "workflow_error": f"HTTP 401 from CRM: {texts[(n * 3) % len(texts)]}",
            "metrics": {"overall_confidence": 0.42, "max_tokens": 1024, "react_iterations": 4},
            "payload": {"trace": {"react_iterations": steps}, "final_response": " ".join(LOOK_ALIKES)},
            "metadata": {"customer": {"contact": texts[(n * 5 + 1) % len(texts)], keys[n % len(keys)][0]: keys[n % len(keys)][1]},
                         "contacts": {"tanaka.yuki@example.jp": "primary", "TICKET-48213": "linked"},
                         "tags": ["refund", LOOK_ALIKES[n % len(LOOK_ALIKES)]]},
            "request_headers": dict(keys[(n * 2) % len(keys): (n * 2) % len(keys) + 3]),  # unknown field: extra
        })
    # Every planted text and key at least once, whatever the count.
    logs[0]["payload"]["all_texts"] = texts
    logs[0]["payload"]["all_keys"] = copy.deepcopy(KEY_SECRETS)
    logs[0]["payload"]["look_alikes"] = {**LOOK_ALIKE_FIELDS, "texts": LOOK_ALIKES}
    logs[0]["jane.doe@example.com"] = "a key that is an e-mail address"
    return logs
