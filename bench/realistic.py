"""Logs of realistic variety for the dashboard's performance and screenshot data.

The base log is the shared harness's generator (bench/harness.py `load_gen()`: its LogGen,
deterministic per index), which already draws every log's own status, timestamp (to the
second, over the span), category, version, times, trace and metrics. What a tenant's real data
has and that generator does not, added here, deterministically per index as well:

* error messages as real services write them: a few templates per error type, filled with
  numbers, ids, quoted values and URLs (so the error issues group them, one issue per template
  × node, ~120 in all), and a regression that exists only in v2.0 (new in that version);
* text in other languages and scripts (German, French, Spanish, Japanese, Chinese, Arabic,
  Russian, Hindi, emoji) in the reasoning, the answers and some error messages;
* a long tail of categories (30 in all: multilingual names, one 90 characters long) and more
  customer types;
* tokens and cost in `metrics` (prompt, completion, total tokens; cost in USD), for the
  latency-and-cost page;
* rare long values: a 242-character ticket id, URLs and tokens in observations.

Every log then goes through ingestion's own `clean_log()` (bench/fixture.py's COPY path), so
what is loaded is what the API would have stored.
"""
from __future__ import annotations

import datetime as dt
import random
from typing import Any

from bench.harness import load_gen

SEED = 26
ERROR_TEMPLATES = {
    "TimeoutError": [
        "TimeoutError: {node} call to {url} timed out after {secs}s (attempt {n} of 3)",
        "TimeoutError: no answer from the order service for ticket {ticket} within {ms} ms",
        "TimeoutError: LLM completion for request {uuid} exceeded {secs}s",
    ],
    "RateLimitError": [
        "RateLimitError: 429 Too Many Requests from {url}; retry after {n}s",
        "RateLimitError: tokens per minute exhausted for model '{model}' ({tokens} requested)",
    ],
    "ValidationError": [
        "ValidationError: field '{field}' of the drafted answer is invalid: expected {n} characters at most",
        "ValidationError: ticket {ticket} has no requester e-mail (got \"{email}\")",
        "ValidationError: Das Feld '{field}' fehlt in der Antwort von {node} (Zeile {n})",
    ],
    "APIConnectionError": [
        "APIConnectionError: connection refused by {url}",
        "APIConnectionError: TLS handshake with {host} failed after {ms} ms",
    ],
    "KeyError": [
        "KeyError: '{field}'",
        "KeyError: 'product_sku' missing in retrieval result {uuid}",
    ],
    "JSONDecodeError": [
        "JSONDecodeError: Expecting value: line {n} column {col} (char {chars})",
        "JSONDecodeError: Unterminated string starting at: line 1 column {col} — 応答の解析に失敗しました",
    ],
}
REGRESSION = ("ToolSchemaError", "react_agent",
              "ToolSchemaError: tool '{tool}' returned field 'items' as a list, expected an object (order {n})")
FIELDS = ["email", "order_id", "subject", "product_sku", "refund_amount", "locale"]
MODELS = ["gpt-4o-mini", "claude-sonnet", "llama-3-70b"]
HOSTS = ["crm.internal", "orders.api.example.com", "kb.example.org", "vision.svc.local"]
LANGUAGES = [
    ("de", "Der Kunde meldet, dass das Gerät nach dem Firmware-Update nicht mehr startet; wir prüfen die Garantie.",
     "Bitte halten Sie die Reset-Taste zehn Sekunden lang gedrückt und richten Sie den Router neu ein."),
    ("fr", "Le client signale une double facturation de son abonnement ; vérifier l'historique des paiements.",
     "Nous avons remboursé le second prélèvement ; il apparaîtra sous trois à cinq jours ouvrés."),
    ("es", "El cliente indica que el paquete llegó dañado; solicitar una foto de la etiqueta.",
     "Lamentamos el inconveniente: le enviamos una etiqueta de devolución gratuita hoy mismo."),
    ("ja", "お客様はファームウェア更新後にデバイスが起動しないと報告しています。保証状況を確認します。",
     "リセットボタンを10秒間押し続けてから、ルーターを再設定してください。"),
    ("zh", "客户反映订阅被重复扣费，需要核对付款记录并发起退款。",
     "我们已退还第二笔扣款，预计三到五个工作日内到账。"),
    ("ar", "يفيد العميل بأن الطرد وصل تالفًا؛ نطلب صورة للملصق والإيصال.",
     "نعتذر عن الإزعاج، سنرسل لك ملصق إرجاع مجانيًا اليوم."),
    ("ru", "Клиент сообщает, что не может войти в аккаунт после смены адреса электронной почты.",
     "Мы сбросили двухфакторную аутентификацию; войдите снова по ссылке из письма."),
    ("hi", "ग्राहक का कहना है कि रिफंड अभी तक नहीं मिला है; भुगतान इतिहास की जाँच करें।",
     "आपका रिफंड संसाधित हो गया है और तीन से पाँच कार्य दिवसों में दिखाई देगा।"),
    ("emoji", "Customer is upset 😡 about the delay 📦 — shipment stuck in customs 🛃 for 9 days.",
     "So sorry about the wait 🙏 — we've expedited a replacement 🚚 that arrives tomorrow ✅."),
]
EXTRA_CATEGORIES = [
    "réclamation_garantie", "配送の問題", "возврат_средств", "facturación", "account_deletion", "data_export_request",
    "api_integration", "sso_configuration", "mobile_app_crash", "hardware_rma", "price_match", "gift_card",
    "subscription_upgrade", "subscription_cancel", "order_modification", "address_change", "invoice_copy",
    "tax_exemption", "partner_program",
    "enterprise_customer_escalation_requiring_manual_review_by_tier_two_support_and_legal_team",
]
CUSTOMER_TYPES = ["standard", "standard", "standard", "enterprise", "trial", "VIP"]
LONG_TICKET = "TCK-" + "-".join(f"{k:04d}" for k in range(48))[:238]  # 242 characters, one unbroken value


def _fill(template: str, r: random.Random, node: str) -> str:
    values = {
        "node": node, "url": f"https://{r.choice(HOSTS)}/v{r.randint(1, 3)}/orders/{r.randint(10_000, 99_999)}",
        "host": r.choice(HOSTS), "secs": f"{r.uniform(5, 60):.1f}", "ms": r.randint(500, 30_000),
        "n": r.randint(1, 999), "col": r.randint(1, 400), "chars": r.randint(1, 20_000),
        "ticket": r.randint(10_000, 9_999_999), "uuid": "%032x" % r.getrandbits(128),
        "model": r.choice(MODELS), "tokens": r.randint(1_000, 120_000), "field": r.choice(FIELDS),
        "email": f"user{r.randint(1, 9999)}@example.com", "tool": r.choice(["lookup_order", "check_warranty"]),
    }
    return template.format(**values)


def _errors(body: dict[str, Any], r: random.Random) -> None:
    """Realistic messages for the failing logs; a v2.0-only regression."""
    if body["workflow_version"] == "v2.0" and body["status"] == "SUCCESS" and r.random() < 0.03:
        error_type, node, template = REGRESSION
        body.update(status="FAILED", resolution_status="NEEDS_HUMAN", workflow_error_type=error_type,
                    workflow_error_node=node, workflow_error=_fill(template, r, node), is_system_error=False)
        return
    error_type = body.get("workflow_error_type")
    if error_type in ERROR_TEMPLATES:
        node = body["workflow_error_node"]
        body["workflow_error"] = _fill(r.choice(ERROR_TEMPLATES[error_type]), r, node)


def _usage(body: dict[str, Any], r: random.Random) -> None:
    iterations = body["metrics"]["react_iterations"]
    prompt = iterations * r.randint(900, 2_400)
    completion = iterations * r.randint(80, 400)
    body["metrics"].update(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion,
                           cost_usd=round(prompt * 0.15e-6 + completion * 0.6e-6, 6))


def _language(body: dict[str, Any], r: random.Random) -> None:
    _code, thought, answer = r.choice(LANGUAGES)
    steps = body["payload"]["trace"]["react_iterations"]
    steps[0]["thought"] = thought
    steps[-1]["observation"] = f"{steps[-1]['observation']} {thought}"
    body["payload"]["final_response"] = answer


def _long_values(body: dict[str, Any], r: random.Random) -> None:
    body["ticket_id"] = LONG_TICKET
    step = body["payload"]["trace"]["react_iterations"][-1]
    step["observation"] = ("Fetched https://kb.example.org/articles/" + "x" * 180 + "?session=" + "%064x" % r.getrandbits(256))


def realistic_log(gen: Any, i: int, *, client_id: str) -> dict[str, Any]:
    """Log #i of the harness's generator, with the variety above (deterministic per i)."""
    body = gen.log(i, client_id)
    r = random.Random(SEED * 1_000_003 + i)
    _errors(body, r)
    _usage(body, r)
    if r.random() < 0.15:
        _language(body, r)
    if r.random() < 0.12:
        body["category"] = r.choice(EXTRA_CATEGORIES)
    if body.get("customer_type") is None and r.random() < 0.6:
        body["customer_type"] = r.choice(CUSTOMER_TYPES)
    if r.random() < 0.001:
        _long_values(body, r)
    return body


def generator(*, anchor: dt.datetime, span_days: int = 90, seed: int = SEED) -> Any:
    """The harness's LogGen, anchored at `anchor` (the newest possible executed_at)."""
    return load_gen().LogGen(seed=seed, anchor=anchor.replace(tzinfo=None), span_days=span_days)
