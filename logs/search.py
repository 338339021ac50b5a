"""Full-text search of logs: what is searchable, how text becomes words, and the query language.

One tokenizer serves the index (the `tsvector` of each log, built by logs/search_indexer.py),
the query (a `tsquery`) and the snippet (logs/search_snippets.py), so the three always agree.
It is Python, not PostgreSQL's parser, because the parser keeps a Japanese sentence as one
"word", splits `ERR_CONN` but keeps `T-9999` whole, and folds no accents; here:

* text is NFKC-normalised (full-width letters become ASCII), case-folded (`ß` -> `ss`) and loses
  its accents and Arabic vowel marks (`é` -> `e`, `ü` -> `u`, `مُحَمَّد` -> `محمد`);
* a word is a run of letters and digits: hyphens, underscores and every other sign split words;
* Chinese, Japanese and Korean text has no spaces: each run of those scripts becomes its
  overlapping character pairs (`接続エラー` -> `接続 続エ エラ ラー`), at consecutive positions,
  so a query for any two or more characters of it is a phrase of pairs;
* codes and ids (`T-9999`, `ERR_CONN_REFUSED`, `api.v2`) are also indexed whole, with `_`
  between their words, from each of their words on (`err_conn_refused`, `conn_refused`), so a
  prefix of a code (`ERR_CONN`, `T-99`) is one small range of the index, not a phrase of
  common words.

The lexemes are written as a `tsvector` literal (`'word':3C`) with positions (phrases) and a
weight per field (relevance): A ticket, category and error; B final response; C trace; D
private note and metadata. The searched fields, in the order a match is reported: see FIELDS.
"""
from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

# Letters and digits of the scripts written without spaces.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\uac00-\ud7af\u3005"
# Combining marks that belong to a word (accents, Arabic harakat): \w does not match them.
_MARKS = "\u0300-\u036f\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed"
TOKEN_RE = re.compile(rf"([{_CJK}]+)|(?:[^\W_{_CJK}]|[{_MARKS}])+")  # group 1: a CJK run
CJK_ANY = re.compile(rf"[{_CJK}]")
# Two words with one joiner between them: the text may hold a code (a quick test, in C).
JOINED_RE = re.compile(rf"[^\W_{_CJK}][-_.:/#][^\W_{_CJK}]")
# One of these between two words joins them into a code (`T-9999`, `ERR_CONN`, `v2.1`).
CODE_JOINERS = frozenset("-_.:/#")
MAX_WORD = 64  # longer runs (hashes, base64, long ids) are indexed by their first 64 characters
MAX_CODE_PARTS = 8
MAX_POSITION = 16383  # tsvector positions stop there
MAX_POSITIONS_PER_WORD = 256  # tsvector keeps at most this many positions per lexeme
MAX_TEXT_PER_LOG = 200_000  # characters indexed per log (a 3-6 KB payload is far below)
MAX_STRING = 20_000


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", text).casefold()


_FOLDED: dict[str, str] = {}
FOLD_CACHE = 200_000  # words; the indexer folds the same words over and over (4x faster)


def fold(text: str) -> str:
    """Case, width and accents folded (not for CJK runs: their marks are letters)."""
    folded = _FOLDED.get(text)
    if folded is None:
        if len(_FOLDED) >= FOLD_CACHE:
            _FOLDED.clear()
        folded = _FOLDED[text] = _fold(text)
    return folded


def _fold_cjk(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


class Word(NamedTuple):
    lexeme: str
    start: int  # offsets in the text given to `words`
    end: int
    cjk: bool


def words(text: str) -> list[Word]:
    """The words of `text` in order; a CJK run yields its character pairs (a lone character
    itself), each pair's offsets covering its two characters."""
    if not CJK_ANY.search(text):  # most text: one comprehension, no generator (the indexer's hot path)
        return [Word(lexeme, m.start(), m.end(), False) for m in TOKEN_RE.finditer(text)
                if (lexeme := fold(m[0])[:MAX_WORD])]
    return list(_mixed_words(text))


def _mixed_words(text: str) -> Iterator[Word]:
    for match in TOKEN_RE.finditer(text):
        token, start = match.group(), match.start()
        if match.lastindex == 1:
            folded = _fold_cjk(token)
            if len(folded) != len(token):  # a half-width form widened: offsets stay approximate
                yield Word(folded, start, match.end(), True)
                continue
            if len(token) == 1:
                yield Word(folded, start, start + 1, True)
            for i in range(len(token) - 1):
                yield Word(folded[i:i + 2], start + i, start + i + 2, True)
        else:
            lexeme = fold(token)[:MAX_WORD]
            if lexeme:
                yield Word(lexeme, start, match.end(), False)


def codes(text: str, found: list[Word]) -> Iterator[tuple[int, int, str]]:
    """(index in `found` of its first and last word, code lexeme) of every code in `text`: words
    joined by one of CODE_JOINERS, from each of their words on (`a_b_c`, `b_c`)."""
    if not JOINED_RE.search(text):
        return
    i = 0
    while i < len(found):
        j = i
        while (j + 1 < len(found) and not found[j].cjk and not found[j + 1].cjk
               and found[j + 1].start - found[j].end == 1 and text[found[j].end] in CODE_JOINERS):
            j += 1
        if j > i:
            chain = found[i:j + 1][:MAX_CODE_PARTS]
            for k in range(len(chain) - 1):
                yield i + k, i + len(chain) - 1, "_".join(w.lexeme for w in chain[k:])[:MAX_WORD]
        i = j + 1


# --- the searchable fields of a log -------------------------------------------------------------

WEIGHTS = {"ticket_id": "A", "category": "A", "workflow_error_type": "A", "workflow_error_node": "A",
           "workflow_error": "A", "payload.final_response": "B", "payload.trace": "C",
           "payload.private_note": "D", "metadata": "D"}


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(path, string) of every string inside `value`, depth first, in document order."""
    if isinstance(value, str):
        if value:
            yield path, value[:MAX_STRING]
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def fields(log: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(field path, weight, text) of everything searchable in `log` (a dict with the columns
    ticket_id, category, workflow_error*, payload and metadata as values), in report order."""
    for column in ("ticket_id", "category", "workflow_error_type", "workflow_error_node", "workflow_error"):
        if log.get(column):
            yield column, "A", str(log[column])[:MAX_STRING]
    payload = log.get("payload") if isinstance(log.get("payload"), dict) else {}
    for key, weight in (("final_response", "B"), ("trace", "C"), ("private_note", "D")):
        for path, text in _strings(payload.get(key), f"payload.{key}"):
            yield path, weight, text
    for path, text in _strings(log.get("metadata"), "metadata"):
        yield path, "D", text


def _quote(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


# The indexer's fast path for ASCII text (99 % of the strings of real logs): lowered once, its
# words found by one C pass each, no per-character or per-word Python work beyond the dict
# append. It must give the same lexemes and positions as `words` + `codes` (the general path,
# which non-ASCII text takes): for ASCII, NFKC/NFC are the identity, casefold is lower(), a
# word is [a-z0-9]+ and a code's joiner is one of CODE_JOINERS (logs/tests/test_search_document.py).
_ASCII_WORD_RE = re.compile(rf"([a-z0-9]{{1,{MAX_WORD}}})[a-z0-9]*")
# Each word with the joiner after it when a word follows that joiner directly (a code goes on).
_ASCII_CHAIN_RE = re.compile(rf"([a-z0-9]{{1,{MAX_WORD}}})[a-z0-9]*([-_.:/#](?=[a-z0-9]))?")
_ASCII_JOINED_RE = re.compile(r"[a-z0-9][-_.:/#][a-z0-9]")
# "12C" for every position and weight, formatted once (the hot loop only slices).
_TAGS = {weight: [f"{at}{weight}" for at in range(MAX_POSITION + 1)] for weight in "ABCD"}


def _tags(weight: str, position: int, count: int) -> list[str]:
    """The position tags of `count` words from `position` on (past MAX_POSITION: MAX_POSITION)."""
    tags = _TAGS[weight]
    out = tags[position:position + count]
    if len(out) < count:
        out += [tags[MAX_POSITION]] * (count - len(out))
    return out


def _ascii_codes(pairs: list[tuple[str, str]]) -> list[tuple[int, str]]:
    """(index of its first word, lexeme) of every code among `pairs` (word, joiner after it)."""
    out: list[tuple[int, str]] = []
    i, count = 0, len(pairs)
    while i < count:
        if not pairs[i][1]:
            i += 1
            continue
        j = i + 1
        while pairs[j][1]:  # the joiner's look-ahead guarantees a next word
            j += 1
        chain = [word for word, _ in pairs[i:j + 1][:MAX_CODE_PARTS]]
        out += [(i + k, "_".join(chain[k:])[:MAX_WORD]) for k in range(len(chain) - 1)]
        i = j + 1
    return out


def _field_words(text: str) -> tuple[list[str], list[tuple[int, str]]]:
    """(lexemes in order, (index, code lexeme) of its codes) of one field's NFC text."""
    if text.isascii():
        lowered = text.lower()
        if not _ASCII_JOINED_RE.search(lowered):
            return _ASCII_WORD_RE.findall(lowered), []
        pairs = _ASCII_CHAIN_RE.findall(lowered)
        return [word for word, _ in pairs], _ascii_codes(pairs)
    found = words(text)
    return [w.lexeme for w in found], [(index, code) for index, _last, code in codes(text, found)]


def _collect(value: Any, out: list[str]) -> None:
    """Every non-empty string inside `value` (cut at MAX_STRING), in document order (`_strings`
    without the paths: the index needs none)."""
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else (value,)
    for item in items:
        if isinstance(item, str):
            if item:
                out.append(item[:MAX_STRING])
        elif isinstance(item, (dict, list)):
            _collect(item, out)


def _weighted_texts(log: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(weight, texts) in the order of `fields`."""
    columns = [str(log[c])[:MAX_STRING] for c in ("ticket_id", "category", "workflow_error_type",
                                                  "workflow_error_node", "workflow_error") if log.get(c)]
    out = [("A", columns)]
    payload = log.get("payload") if isinstance(log.get("payload"), dict) else {}
    for key, weight in (("final_response", "B"), ("trace", "C"), ("private_note", "D")):
        texts: list[str] = []
        _collect(payload.get(key), texts)
        out.append((weight, texts))
    texts = []
    _collect(log.get("metadata"), texts)
    out.append(("D", texts))
    return out


def document(log: dict[str, Any]) -> str:
    """The `tsvector` literal of `log` ('' when nothing is searchable): each field's words at
    consecutive positions (a gap of one between fields, so no phrase spans two), then its codes
    at their first word's position, with the field's weight; at most MAX_POSITIONS_PER_WORD
    positions per lexeme, the first ones."""
    positions: defaultdict[str, list[str]] = defaultdict(list)
    position, budget = 1, MAX_TEXT_PER_LOG
    for weight, texts in _weighted_texts(log):
        for text in texts:
            if budget <= 0:
                break
            text = text[:budget]
            if not text.isascii():
                text = unicodedata.normalize("NFC", text)
            budget -= len(text)
            lexemes, found_codes = _field_words(text)
            tags = _tags(weight, position, len(lexemes))
            for lexeme, tag in zip(lexemes, tags):
                positions[lexeme].append(tag)
            for index, code in found_codes:
                positions[code].append(tags[index])
            position += len(lexemes) + 1
    # A lexeme is letters, digits and "_" (a quote or backslash only if some fold made one).
    plain = not any("'" in lexeme or "\\" in lexeme for lexeme in positions)
    return " ".join([f"'{lexeme}':{','.join(tags[:MAX_POSITIONS_PER_WORD])}" if plain else
                     f"{_quote(lexeme)}:{','.join(tags[:MAX_POSITIONS_PER_WORD])}"
                     for lexeme, tags in positions.items()])


# --- the query language -------------------------------------------------------------------------

MAX_QUERY_TERMS = 16
QUERY_RE = re.compile(r'(-?)"([^"]*)"?|(\S+)')
HELP = ('Words match whole words in any order; "quoted words" match as a phrase; -word excludes; '
        "word* matches words that start with it; ids and codes (T-9999, ERR_CONN, 12345) match as prefixes.")


class QueryError(ValueError):
    """A `q` that holds nothing to search for (the message is for the user)."""


@dataclass(frozen=True)
class Term:
    """One term of a query: consecutive words (a phrase when more than one), and whether the
    last one is a prefix; `code`: the code lexeme to look up instead (ids and codes)."""

    words: tuple[str, ...]
    prefix: bool
    negated: bool
    code: str | None = None

    def tsquery(self) -> str:
        if self.code is not None:
            return f"{_quote(self.code)}:*"
        parts = [_quote(w) for w in self.words]
        if self.prefix:
            parts[-1] += ":*"
        return " <-> ".join(parts) if len(parts) > 1 else parts[0]


@dataclass(frozen=True)
class Query:
    terms: tuple[Term, ...]

    @property
    def positive(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if not t.negated)

    def tsquery(self) -> str:
        parts = [f"!({t.tsquery()})" if t.negated else f"({t.tsquery()})" for t in self.terms]
        return " & ".join(parts)

    def candidates(self) -> str | None:
        """With a phrase: the AND of every word of the positive terms, in any order (the words
        index answers it exactly, without reading the docs' positions); None without a phrase."""
        phrases = [t for t in self.positive if t.code is None and len(t.words) > 1]
        if not phrases:
            return None
        parts = []
        for term in self.positive:
            if term in phrases:
                words = [_quote(w) for w in term.words]
                words[-1] += ":*" if term.prefix else ""
                parts.append(f"({' & '.join(words)})")
            else:
                parts.append(f"({term.tsquery()})")
        return " & ".join(parts)


def _is_prefix(found: list[Word], star: bool) -> bool:
    """A lone CJK character (the pairs that start with it), a word with a digit (an id or a
    number: ticket 12345 finds 123456 too), or an explicit `word*`."""
    if len(found) == 1 and (found[0].cjk and len(found[0].lexeme) == 1 or any(ch.isdigit() for ch in found[0].lexeme)):
        return True
    return star


def _term(text: str, *, phrase: bool, negated: bool) -> Term | None:
    star = not phrase and text.endswith("*")
    text = unicodedata.normalize("NFC", text.rstrip("*") if star else text)
    found = list(words(text))
    if not found:
        return None
    lexemes = tuple(w.lexeme for w in found)
    if phrase:
        return Term(lexemes, False, negated)
    code = next((c for i, _, c in codes(text, found) if i == 0), None)
    if code is not None and len(found) <= MAX_CODE_PARTS:
        return Term(lexemes, True, negated, code=code)  # T-9999, ERR_CONN: a prefix of the code
    return Term(lexemes, _is_prefix(found, star), negated)


def parse(q: str) -> Query:
    """The terms of `q`; QueryError when it has no word to look for."""
    terms: list[Term] = []
    for match in QUERY_RE.finditer(q):
        if match.group(3) is not None:
            raw = match.group(3)
            negated = raw.startswith("-") and len(raw) > 1
            term = _term(raw[1:] if negated else raw, phrase=False, negated=negated)
        else:
            term = _term(match.group(2), phrase=True, negated=bool(match.group(1)))
        if term is not None and term not in terms:
            terms.append(term)
    if len(terms) > MAX_QUERY_TERMS:
        raise QueryError(f"At most {MAX_QUERY_TERMS} words or phrases.")
    if not any(not t.negated for t in terms):
        raise QueryError("Nothing to search for: give at least one word that is not excluded. " + HELP)
    return Query(tuple(terms))
