"""Which field of a log matched a search, and a short snippet of it with the matches marked.

Computed for the rows of a result page only (at most a page of logs), from the same words as
the index (logs/search.py), so what is marked is what matched: the first field, in the order of
`search.fields` (ticket, category, error, final response, trace steps, private note, metadata),
that holds the most of the query's terms. The snippet is plain text; `highlights` are the
[start, end) character ranges of the matches in it, for the client to mark (no HTML travels).
"""
from __future__ import annotations

import unicodedata
from typing import Any

from logs import search

SNIPPET_CHARS = 200
CONTEXT_BEFORE = 60
ELLIPSIS = "…"


def _hits(term: search.Term, text: str, found: list[search.Word]) -> list[tuple[int, int]]:
    if term.code is not None:
        return [(found[first].start, found[last].end) for first, last, code in search.codes(text, found)
                if code.startswith(term.code)]
    n, spans = len(term.words), []
    for i in range(len(found) - n + 1):
        if all(found[i + k].lexeme == term.words[k] for k in range(n - 1)):
            last = found[i + n - 1].lexeme
            if last == term.words[-1] or (term.prefix and last.startswith(term.words[-1])):
                spans.append((found[i].start, found[i + n - 1].end))
    return spans


def _snippet(text: str, spans: list[tuple[int, int]]) -> tuple[str, list[list[int]]]:
    first = min(spans)[0]
    start = max(0, first - CONTEXT_BEFORE)
    if start > 0:  # begin at a word
        space = text.find(" ", start, first)
        start = space + 1 if space != -1 else start
    end = min(len(text), start + SNIPPET_CHARS)
    lead = ELLIPSIS if start > 0 else ""
    body = " ".join(text[start:end].split("\n"))
    marks = [[a - start + len(lead), min(b, end) - start + len(lead)] for a, b in sorted(spans) if start <= a < end]
    return lead + body + (ELLIPSIS if end < len(text) else ""), marks


def match(log: dict[str, Any], query: search.Query) -> dict[str, Any] | None:
    """{field, snippet, highlights} of the best-matching field of `log`; None when no field
    holds a term (the log matched only through a term spread over two fields)."""
    best: tuple[int, str, str, list[tuple[int, int]]] | None = None
    # A quick test before the words of each field are made (most fields hold none of the terms):
    # ASCII text folds to its lower case, so a term's first word must be in it.
    firsts = [t.code.split("_")[0] if t.code else t.words[0] for t in query.positive]
    for path, _weight, raw in search.fields(log):
        if raw.isascii():
            lowered = raw.lower()
            if not any(first in lowered for first in firsts):
                continue
        text = unicodedata.normalize("NFC", raw)
        found = list(search.words(text))
        spans: list[tuple[int, int]] = []
        terms = 0
        for term in query.positive:
            hits = _hits(term, text, found)
            terms += bool(hits)
            spans.extend(hits)
        if terms and (best is None or terms > best[0]):
            best = (terms, path, text, spans)
            if terms == len(query.positive):
                break
    if best is None:
        return None
    snippet, highlights = _snippet(best[2], best[3])
    return {"field": best[1], "snippet": snippet, "highlights": highlights}
