"""The indexer's word builder (`search.document`, with its ASCII fast path) against the
semantics it replaced: the general tokenizer (`search.words` + `search.codes`) field by field.
The oracle below is the builder as it was before the fast path, kept only here; the two must
give the same `tsvector` literal for every log (same lexemes, positions, weights, order)."""
from __future__ import annotations

import unicodedata
from typing import Any

import pytest

from logs import search


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value[:search.MAX_STRING]] if value else []
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return [text for item in items for text in _strings(item)]


def _fields(log: dict[str, Any]) -> list[tuple[str, str]]:
    out = [("A", str(log[c])[:search.MAX_STRING]) for c in ("ticket_id", "category", "workflow_error_type",
                                                              "workflow_error_node", "workflow_error") if log.get(c)]
    payload = log.get("payload") if isinstance(log.get("payload"), dict) else {}
    for key, weight in (("final_response", "B"), ("trace", "C"), ("private_note", "D")):
        out += [(weight, text) for text in _strings(payload.get(key))]
    return out + [("D", text) for text in _strings(log.get("metadata"))]


def oracle_document(log: dict[str, Any]) -> str:
    """The builder before the fast path (every field through `words` and `codes`)."""
    positions: dict[str, list[str]] = {}
    position, budget = 1, search.MAX_TEXT_PER_LOG
    for weight, text in _fields(log):
        if budget <= 0:
            break
        text = unicodedata.normalize("NFC", text[:budget])
        budget -= len(text)
        found = list(search.words(text))
        entries = [(word.lexeme, position + offset) for offset, word in enumerate(found)]
        entries += [(code, position + index) for index, _last, code in search.codes(text, found)]
        for lexeme, at in entries:
            seen = positions.setdefault(lexeme, [])
            if len(seen) < search.MAX_POSITIONS_PER_WORD:
                seen.append(f"{min(at, search.MAX_POSITION)}{weight}")
        position += len(found) + 1
    return " ".join(f"{search._quote(lexeme)}:{','.join(at)}" for lexeme, at in positions.items())


def _log(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"ticket_id": "", "category": "", "workflow_error_type": "", "workflow_error_node": "",
                            "workflow_error": "", "payload": {}, "metadata": {}}
    return base | fields


LOGS = {
    "spanish": _log(ticket_id="T-1234", category="facturación", payload={
        "final_response": "¡Hola! Su facturación está duplicada; la corregimos en 24 h.",
        "trace": {"react_iterations": [{"thought": "El cliente pidió el reembolso (pedido nº 5512).",
                                        "action": "buscar_pedido", "action_input": {"id": "PED-5512-ES"},
                                        "observation": ""}]}}),
    "german": _log(category="Lieferung", workflow_error="Die Straße ist gesperrt: Gerät überhitzt",
                   workflow_error_type="ERR_CONN_REFUSED", workflow_error_node="crm.lookup/v2",
                   payload={"trace": ["Größe prüfen", "STRASSE vs. Straße", "Ärger mit der Ölheizung"]}),
    "japanese": _log(payload={"final_response": "ご不便をおかけしました。再起動してください。",
                              "trace": {"steps": ["データベース接続がタイムアウトしました", "ｶﾀｶﾅ half width",
                                                  "ＦＵＬＬ－ＷＩＤＴＨ ＡＢＣ１２３", "接", "東京2026年"]}}),
    "arabic": _log(payload={"private_note": "العميل يطلب استرداد المبلغ", "trace": ["مُحَمَّد يكتب", "رقم ٤٥٦ و 789"]},
                   metadata={"region": "الرياض", "tags": ["vip", "عاجل"]}),
    "codes and ids": _log(ticket_id="T-9999", workflow_error_type="TimeoutError", payload={"trace": [
        "see ERR_CONN_REFUSED at api.v2.example.com:8443/path#frag and a-b--c d__e f..g",
        "uuid 0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b, v2.1.3-rc.4, x-y_z.w:u/v#t-s_r.q:p/o",
        "Ticket T-99 and t_99. Trailing joiner- and _leading, 12:30:45, 3.14159, a/b/c/d/e/f/g/h/i/j/k",
        "it's O'Brien's \\ back\\slash 'quoted' \"double\""]}),
    "long values": _log(category="x" * 100, payload={"trace": {
        "blob": "A" * 70 + "-" + "b" * 70 + "_" + "c" * 10,
        "hash": "deadbeef" * 40,
        "essay": " ".join(f"word{i % 300} common" for i in range(20_000)),
        "more": "tail words after the position limit " * 50,
        "huge": "z " * 30_000}}),
    "empty fields": _log(payload={"final_response": "", "trace": {"a": "", "b": [], "c": {}, "d": None, "e": 0,
                                                                   "f": [None, "", {"g": ""}]}}, metadata={"k": ""}),
    "not a dict payload": _log(payload=["a list", "of words"], metadata="plain metadata string"),
    "numbers and booleans": _log(ticket_id=123456, payload={"trace": [1, 2.5, True, "only-this text"]},
                                 metadata={"n": 7, "nested": [{"deep": ["Zürich", {"deeper": "ÀÉÎÕÜ ﬁne ǅ"}]}]}),
    "mixed scripts": _log(payload={"trace": ["Error: 接続エラー in node_7 (Ошибка соединения) — ελληνικά, हिन्दी",
                                             "Kelvin \u212a and Å and e\u0301 composed, İstanbul, ß",
                                             "emoji 🙂 then word, tab\tand\nnewline"]}),
}


@pytest.mark.parametrize("name", list(LOGS))
def test_document_matches_the_general_tokenizer(name: str) -> None:
    assert search.document(LOGS[name]) == oracle_document(LOGS[name])


def test_document_lexemes_positions_and_weights() -> None:
    literal = search.document(_log(ticket_id="T-9999", payload={"trace": ["Die Straße: ERR_CONN refused"]},
                                   metadata={"r": "Zürich"}))
    entries = dict(entry.split(":", 1) for entry in literal.split(" "))
    assert entries == {"'t'": "1A", "'9999'": "2A", "'t_9999'": "1A", "'die'": "4C", "'strasse'": "5C",
                       "'err'": "6C", "'conn'": "7C", "'refused'": "8C", "'err_conn'": "6C", "'zurich'": "10D"}


def test_document_caps_positions_per_word_and_position_numbers() -> None:
    literal = search.document(_log(payload={"trace": ["same " * 3_000] * 7 + ["last"]}))
    entries = dict(entry.split(":", 1) for entry in literal.split(" "))
    same = entries["'same'"].split(",")
    assert len(same) == search.MAX_POSITIONS_PER_WORD and same[:2] == ["1C", "2C"]
    assert entries["'last'"] == f"{search.MAX_POSITION}C"


def test_document_of_nothing_searchable_is_empty() -> None:
    assert search.document(LOGS["empty fields"]) == ""
