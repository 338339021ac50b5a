"""The scrubber: one tenant's compiled rules (`Ruleset`) and `scrub_log()`, which applies them
to one log in place and returns how many values each rule replaced.

How a log is scrubbed, in three passes over its values:

1. A walk collects every string (object keys included) of the scrubbed fields in a fixed
   order and applies the key rules on the way (the value of a secret-named key is replaced
   whole, without looking inside); integers that are valid card numbers are replaced too.
2. The strings are joined with a separator no rule can cross, and one RE2 `Set` pass over the
   whole text says which value rules can match at all (usually none, or one or two). Only
   those rules' candidate patterns are searched, and each candidate is confirmed by the rule's
   `refine` on that piece of text alone. Overlapping matches keep the earlier rule.
3. Only when something was found, a second walk in the same order writes the new strings back.

Everything is linear in the size of the log: RE2 never backtracks, and each `refine` looks at
its candidate and a few characters around it (rules.py).
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import re2

from logs.rawjson import NEEDS_DECODE
from scrubbing.paths import END as _END
from scrubbing.rawtext import has_raw, raw_unchanged
from scrubbing.paths import allow_trie
from scrubbing.rules import (
    KEY_RULES,
    MARKER,
    VALUE_RULES,
    Span,
    ValueRule,
    card_ok,
    key_suffixes,
    key_trigger,
    marker_name,
    normalise_key_name,
)

# Top-level string fields that are scrubbed (environment and status are enums, event_id is the
# client's idempotency key), then the JSON fields, in walk order.
TEXT_FIELDS = ("ticket_id", "workflow_version", "category", "resolution_status", "customer_type", "workflow_error",
               "workflow_error_type", "workflow_error_node", "ticket_subject_hash", "requester_email_hash")
JSON_FIELDS = ("metrics", "payload", "metadata", "extra")
SCRUBBED_FIELDS = TEXT_FIELDS + JSON_FIELDS
# Joins the strings of a log: no default candidate pattern matches a NUL, and the newlines make
# a custom pattern's ^ and $ (multi-line mode) match at each value's start and end.
SEPARATOR = "\n\x00\n"
_KEY_CACHE_MAX = 20_000
_MISS = object()
PREFILTER_DEPTH = 5
_CARD_INT_MIN, _CARD_INT_MAX = 10 ** 12, 10 ** 19
CARD_MARKER = "[redacted:card]"


def _whole(text: str, start: int, end: int) -> Iterator[Span]:
    if end > start:
        yield start, end


@dataclass(frozen=True)
class CustomRule:
    """A tenant's regular expression: whatever it matches is replaced by [redacted:<name>]."""

    name: str
    pattern: str

    @property
    def id(self) -> str:
        return f"custom:{self.name}"

    @property
    def marker(self) -> str:
        return f"[redacted:{marker_name(self.name)}]"

    @property
    def candidate(self) -> str:
        return f"(?m:{self.pattern})"

    @staticmethod
    def refine(text: str, start: int, end: int) -> Iterator[Span]:
        return _whole(text, start, end)


Rule = ValueRule | CustomRule


@dataclass
class Ruleset:
    """One tenant's rules, compiled once and shared by every request of the process."""

    value_rules: tuple[Rule, ...]
    key_rules: dict[str, tuple[str, str]]  # glued key word -> (rule id, marker)
    allow: dict[str, Any] = field(default_factory=dict)
    email_hash_key: bytes | None = None  # set: e-mails become [email:<keyed hash>]
    version: int = 0
    fallback: bool = False  # the tenant's settings could not be read; defaults apply

    def __post_init__(self) -> None:
        self.int_cards = any(rule.id == "card" for rule in self.value_rules)
        options = re2.Options()
        options.max_mem = 64 << 20
        self._regexes = [re2.compile(rule.candidate, options) for rule in self.value_rules]
        # The default rules' candidates in one Set: one pass says which of them can match.
        # A tenant's own patterns are always searched on their own (RE2's search falls back
        # from its DFA to its NFA when a pattern is too big for the DFA; a Set cannot).
        self._custom = [i for i, rule in enumerate(self.value_rules) if isinstance(rule, CustomRule)]
        defaults = [rule for rule in self.value_rules if not isinstance(rule, CustomRule)]
        self._set: Any = None
        if defaults:
            self._set = re2.Set.SearchSet(options)
            for rule in defaults:
                self._set.Add(rule.candidate)
            self._set.Compile()
        self._prefilter = self._compile_prefilter()
        # Key name -> its rule or None, filled as keys are met (they repeat across logs).
        self.known_keys: dict[str, tuple[str, str] | None] = {}

    def _compile_prefilter(self) -> Any:
        """One RE2 pattern that fires on the JSON text of any value some rule could change (the
        rules' triggers and the key names). A tenant's own patterns can match anything, JSON
        escapes included: with them, every value is walked."""
        if any(isinstance(rule, CustomRule) for rule in self.value_rules):
            return None
        triggers = [rule.trigger or rule.candidate for rule in self.value_rules]  # type: ignore[union-attr]
        triggers += ["(?i)" + key_trigger(word) for word in self.key_rules]
        if not triggers:
            return None
        options = re2.Options()
        options.max_mem = 64 << 20
        # A Set rather than one alternation: its Match is a single call into RE2, without the
        # Python wrapper's match objects (a search per nested value would cost more than the
        # scan itself).
        prefilter = re2.Set.SearchSet(options)
        prefilter.Add("|".join(f"(?:{trigger})" for trigger in triggers))  # index 0: a rule may match
        prefilter.Add(NEEDS_DECODE)  # 1: raw text to decode first (logs/rawjson.py), in the same pass
        prefilter.Compile()
        return prefilter

    def nothing_in(self, value: Any) -> bool:
        """True when no rule can change anything in `value` (a JSON object or array): one RE2
        pass over its JSON text, instead of walking it in Python."""
        if self._prefilter is None:
            return False
        try:
            text = orjson.dumps(value)
        except TypeError:  # an integer beyond 64 bits: walk it
            return False
        return 0 not in (self._prefilter.Match(text) or ())

    def fires(self, text: bytes) -> bool:
        """The prefilter fires on `text` (a rule may match, or raw text needs decoding), or none."""
        return self._prefilter is None or bool(self._prefilter.Match(text))

    def key_rule(self, key: str) -> tuple[str, str] | None:
        """(rule id, marker) when the key names a secret."""
        found = None
        if self.key_rules:
            for suffix in sorted(key_suffixes(key), key=len, reverse=True):  # the most specific name
                if suffix in self.key_rules:
                    found = self.key_rules[suffix]
                    break
        if len(self.known_keys) >= _KEY_CACHE_MAX:
            self.known_keys.clear()
        self.known_keys[key] = found
        return found

    def email_token(self, address: str) -> str:
        assert self.email_hash_key is not None
        digest = hmac.new(self.email_hash_key, address.lower().encode(), hashlib.sha256).hexdigest()
        return f"[email:{digest[:16]}]"

    def matches(self, text: str) -> list[tuple[int, int, int]]:
        """(start, end, rule index) of every confirmed match in `text`, without overlaps."""
        encoded = text.encode()
        fired = list((self._set.Match(encoded) if self._set is not None else None) or ()) + self._custom
        if not fired:
            return []
        subject: str | bytes = encoded if len(encoded) == len(text) else text  # ASCII: byte offsets are offsets
        found = []
        for index in fired:  # default rules come first in value_rules, so Set indices are theirs
            rule = self.value_rules[index]
            covered = -1
            for candidate in self._regexes[index].finditer(subject):
                if candidate.start() < covered:  # inside this rule's previous match: replaced already
                    continue
                for start, end in rule.refine(text, *candidate.span()):
                    found.append((start, end, index))
                    covered = max(covered, end)
        found.sort(key=lambda item: (item[0], item[2]))
        kept: list[tuple[int, int, int]] = []
        for start, end, index in found:
            if kept and start < kept[-1][1]:
                continue
            kept.append((start, end, index))
        return kept


def build_ruleset(*, disabled: frozenset[str] = frozenset(), extra_keys: tuple[str, ...] = (),
                  custom: tuple[CustomRule, ...] = (), allow_paths: tuple[str, ...] = (),
                  email_hash_key: bytes | None = None, version: int = 0, fallback: bool = False) -> Ruleset:
    key_rules: dict[str, tuple[str, str]] = {}
    for rule in KEY_RULES:
        if rule.id not in disabled:
            for word in rule.words:
                key_rules[word] = (rule.id, rule.marker)
    for name in extra_keys:
        glued = normalise_key_name(name)
        if glued:
            key_rules.setdefault(glued, (f"key:{name}", f"[redacted:{marker_name(name)}]"))
    values = tuple(rule for rule in VALUE_RULES if rule.id not in disabled) + tuple(custom)
    return Ruleset(values, key_rules, allow_trie(list(allow_paths)), email_hash_key, version, fallback)


# --- one log ------------------------------------------------------------------------------------------

class _Walk:
    """One log's scrub: its strings in walk order, where each one lives (container and key or
    index; keys marked with a third item) and the counts per rule."""

    __slots__ = ("rules", "strings", "slots", "counts", "keys")

    def __init__(self, rules: Ruleset) -> None:
        self.rules = rules
        self.strings: list[str] = []
        self.slots: list[tuple[Any, ...]] = []
        self.counts: dict[str, int] = {}
        self.keys = rules.known_keys

    def count(self, rule_id: str) -> None:
        self.counts[rule_id] = self.counts.get(rule_id, 0) + 1

    def secret(self, node: dict[str, Any], key: str, value: Any, rule: tuple[str, str]) -> None:
        """Replace the value of a secret-named key whole (booleans and null carry no secret)."""
        if value is None or value is True or value is False or (type(value) is str and MARKER.fullmatch(value)):
            return
        node[key] = rule[1]
        self.count(rule[0])

    def number(self, container: Any, slot: Any, value: int) -> None:
        """An integer that is a valid card number becomes the card marker."""
        if _CARD_INT_MIN <= value < _CARD_INT_MAX and self.rules.int_cards and card_ok(str(value)):
            container[slot] = CARD_MARKER
            self.count("card")

    def collect(self, node: Any, allow: Any, depth: int = 0) -> None:
        """Collect the strings of `node`. Near the top (PREFILTER_DEPTH), a nested object or
        array whose JSON text no rule can match is skipped whole: a log's secrets sit in a
        few of its branches, and one RE2 pass is cheaper than walking a branch in Python."""
        if type(node) is dict:
            self._collect_dict(node, allow, depth)
            return
        strings, slots = self.strings, self.slots
        sub = None if allow is None else allow.get("*")
        if sub is _END:
            return
        prefilter = depth < PREFILTER_DEPTH
        for index, value in enumerate(node):
            kind = type(value)
            if kind is str:
                strings.append(value)
                slots.append((node, index))
            elif kind is dict or kind is list:
                if not (prefilter and self.rules.nothing_in(value)):
                    self.collect(value, sub, depth + 1)
            elif kind is int:
                self.number(node, index, value)

    def _collect_dict(self, node: dict[str, Any], allow: Any, depth: int) -> None:
        strings, slots, keys, key_rule = self.strings, self.slots, self.keys, self.rules.key_rule
        for key, value in node.items():
            strings.append(key)
            slots.append((node, key, True))
            sub = None
            if allow is not None:
                sub = allow.get(key, allow.get("*"))
                if sub is _END:
                    continue
            rule = keys.get(key, _MISS)
            if rule is _MISS:
                rule = key_rule(key)
            if rule is not None:
                self.secret(node, key, value, rule)
                continue
            kind = type(value)
            if kind is str:
                strings.append(value)
                slots.append((node, key))
            elif kind is dict or kind is list:
                if not (depth < PREFILTER_DEPTH and self.rules.nothing_in(value)):
                    self.collect(value, sub, depth + 1)
            elif kind is int:
                self.number(node, key, value)


def _rename(node: dict[str, Any], old: str, new: str) -> None:
    """Rename a key in place, keeping the order; a name taken already gets ` #2`, ` #3`, ..."""
    base, n = new, 2
    while new in node:
        new, n = f"{base} #{n}", n + 1
    items = [(new if key == old else key, value) for key, value in node.items()]
    node.clear()
    node.update(items)


def _new_strings(rules: Ruleset, strings: list[str], counts: dict[str, int]) -> dict[int, str]:
    """Index in `strings` -> its scrubbed text, for the strings a value rule changed."""
    text = SEPARATOR.join(strings)
    found = rules.matches(text)
    if not found:
        return {}
    pieces: dict[int, list[tuple[int, int, str]]] = {}
    width = len(SEPARATOR)
    # Matches come in order: the separators before each are counted once, left to right.
    counted, separators, value_start = 0, 0, 0
    for start, end, index in found:
        rule = rules.value_rules[index]
        last = text.rfind(SEPARATOR, counted, start)
        if last >= 0:
            separators += text.count(SEPARATOR, counted, start)
            value_start = last + width
        counted = start
        position, base = separators, value_start
        if not isinstance(rule, CustomRule):  # a default rule never leaves its value
            end = min(end, base + len(strings[position]))
        # A custom pattern may run on past its value (`[^x]+`): each value it covers is
        # replaced in its own right; the separators between them are not text.
        while position < len(strings) and base < end:
            piece_start, piece_end = max(start, base), min(end, base + len(strings[position]))
            if piece_end > piece_start:
                if rule.id == "email" and rules.email_hash_key is not None:
                    marker = rules.email_token(text[piece_start:piece_end])
                else:
                    marker = rule.marker
                pieces.setdefault(position, []).append((piece_start - base, piece_end - base, marker))
                counts[rule.id] = counts.get(rule.id, 0) + 1
            base += len(strings[position]) + width
            position += 1
    new = {}
    for position, parts in pieces.items():
        value, out, last = strings[position], [], 0
        for start, end, marker in parts:
            out += (value[last:start], marker)
            last = end
        out.append(value[last:])
        new[position] = "".join(out)
    return new


def _scrubbed_values(fields: dict[str, Any], allow: dict[str, Any] | None,
                     names: tuple[str, ...]) -> list[tuple[str, Any]]:
    """(name, value) of the log's fields that are scrubbed and not allow-listed whole."""
    return [(name, value) for name in names
            if (value := fields.get(name)) is not None and (allow is None or allow.get(name) is not _END)]


def _collect_log(walk: _Walk, fields: dict[str, Any], values: list[tuple[str, Any]]) -> None:
    allow = walk.rules.allow or None
    for name, value in values:
        if type(value) is str:
            walk.strings.append(value)
            walk.slots.append((fields, name))
        elif type(value) in (dict, list) and not walk.rules.nothing_in(value):
            walk.collect(value, None if allow is None else allow.get(name))


def _write_back(walk: _Walk, new: dict[int, str]) -> None:
    renames = []
    for position, text in new.items():
        slot = walk.slots[position]
        if len(slot) == 3:
            renames.append((slot[0], walk.strings[position], text))
        else:
            slot[0][slot[1]] = text
    for node, old, text in renames:  # after the values: a rename rebuilds the object
        _rename(node, old, text)


def scrub_log(rules: Ruleset, fields: dict[str, Any], names: tuple[str, ...] = SCRUBBED_FIELDS) -> dict[str, int]:
    """Scrub one log's fields in place (the top-level values and JSON objects of SCRUBBED_FIELDS,
    or of `names` for a record that is not a log); returns {rule id: values replaced}. Values a
    rule already replaced are left as they are, so scrubbing twice changes nothing the second time.
    JSON still held as text (RawJson) is decoded only when the scan says it must be."""
    if has_raw(fields) and raw_unchanged(rules, fields, names):
        return {}
    values = _scrubbed_values(fields, rules.allow or None, names)
    # The common case first: one RE2 pass over the JSON text of everything scrubbed says that
    # no rule can match anywhere in the log.
    if rules.nothing_in([value for _name, value in values]):
        return {}
    walk = _Walk(rules)
    _collect_log(walk, fields, values)
    _write_back(walk, _new_strings(rules, walk.strings, walk.counts))
    return walk.counts
