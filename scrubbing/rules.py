"""The default scrubbing rules: what they find, how each candidate is confirmed, what replaces it.

Two kinds of rule:

* **Key rules**: an object key whose name ends with one of these words (case-insensitive; words
  split at `_`, `-`, `.`, spaces and camelCase, and compared glued together, so `apiKey`,
  `X-API-Key` and `stripe_api_key` all end with `apikey`) has its whole value replaced.
  `max_tokens`, `token_count` or `session_id` do not end with a rule's word and are kept.
* **Value rules**: a pattern inside any string. Each rule has a *candidate* pattern, run by RE2
  (linear time, whatever the input) over all the strings of a log at once, and a `refine`
  function that confirms a candidate with the exact boundaries and checksums (Luhn for cards,
  mod 97 for IBANs, base64 `user:password` for Basic credentials) on that small piece of text
  only. Only the matched part of a string is replaced; the rest of the text is kept.

Every replacement names what was there: `[redacted:email]`, `[redacted:card]`,
`[redacted:password]`; e-mail addresses may instead become a keyed hash (`[email:…]`, see
scrubbing/engine.py). A marker is never matched again, so scrubbing twice changes nothing.
"""
from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

# (start, end) of the text to replace, and the rule's tag.
Span = tuple[int, int]
Refine = Callable[[str, int, int], Iterator[Span]]

MARKER = re.compile(r"\[(?:redacted:[a-z0-9_.:-]{1,64}|email:[0-9a-f]{16})\]")


@dataclass(frozen=True)
class ValueRule:
    id: str
    description: str
    example: str  # "text as sent -> text as stored", for the README and the settings endpoint
    candidate: str  # RE2 syntax: a superset of what the rule replaces, found in linear time
    refine: Refine
    # RE2 syntax: fires on the JSON text of any value the candidate would match a string of
    # (escapes considered); none: the candidate itself, which has no character JSON escapes.
    trigger: str = ""
    tag: str = ""

    @property
    def marker(self) -> str:
        return f"[redacted:{self.tag or self.id}]"


@dataclass(frozen=True)
class KeyRule:
    id: str  # "key:password"
    words: tuple[str, ...]  # glued lowercase names: a key whose last words glue to one of these
    example: str

    @property
    def name(self) -> str:
        return self.id.split(":", 1)[1]

    @property
    def marker(self) -> str:
        return f"[redacted:{self.name}]"


# --- checks ----------------------------------------------------------------------------------------

def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _iin_ok(digits: str) -> bool:
    """The number starts like a payment card of its length (issuer ranges of Visa, Mastercard,
    Amex, Discover, JCB, Diners, UnionPay, Maestro, Mir): epoch timestamps in ms/us/ns (which
    start with 1) and most order numbers do not."""
    n = len(digits)
    two, four = int(digits[:2]), int(digits[:4])
    if digits[0] == "4":
        return n in (13, 16, 19)
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return n == 16
    if two in (34, 37):
        return n == 15
    if 2200 <= four <= 2204 or 3528 <= four <= 3589 or two in (36, 38, 39) or 300 <= int(digits[:3]) <= 305:
        return 14 <= n <= 19
    return (two == 50 or 56 <= two <= 69) and 12 <= n <= 19


def card_ok(text: str) -> bool:
    digits = text.replace(" ", "").replace("-", "")
    return 13 <= len(digits) <= 19 and digits.isdigit() and _iin_ok(digits) and luhn_ok(digits)


# IBAN length per country (ISO 13616 registry).
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
    "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25,
    "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18,
    "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33,
    "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}


def iban_ok(compact: str) -> bool:
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


# --- refine functions: exact spans inside a candidate [start, end) of `text` -------------------------
# Each looks at most a few characters beyond the candidate (boundaries), so its cost is that of
# the candidate: bounded by the input's length, never worse.

def _alnum_at(text: str, index: int) -> bool:
    return 0 <= index < len(text) and (text[index].isalnum() or text[index] == "_")


def _bounded(text: str, start: int, end: int) -> Iterator[Span]:
    """The candidate itself, when it is not glued to a longer word on either side."""
    if not _alnum_at(text, start - 1) and not _alnum_at(text, end):
        yield start, end


_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]{1,64}@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.){1,8}[^\W\d_]{2,24}(?![\w-])")


def _email(text: str, start: int, end: int) -> Iterator[Span]:
    for match in _EMAIL.finditer(text, start, end + 1):
        yield match.span()


# + country code, then digit groups with single separators or an area code in parentheses;
# possessive groups: no backtracking over the ways to split a run of digits.
_PHONE = re.compile(r"(?<![\w+])\+[1-9]\d{0,3}+(?:[ .\-]?+(?:\(\d{1,5}+\)|\d{1,5}+)){1,7}+(?![\w])")


def _phone(text: str, start: int, end: int) -> Iterator[Span]:
    position = start
    while (match := _PHONE.search(text, position, end + 1)) is not None:
        digits = sum(char.isdigit() for char in match.group())
        if 8 <= digits <= 15:
            yield match.span()
        position = match.end()


_CARD = re.compile(
    r"(?<![\w.])(?<!\d-)(?:\d{13,19}|\d{4}([ \-])\d{4}\1\d{4}\1\d{4}(?:\1\d{3})?|\d{4}([ \-])\d{6}\2\d{4,5})"
    r"(?!\w)(?!\.\d)(?!-\d)")


def _card(text: str, start: int, end: int) -> Iterator[Span]:
    position = start
    while (match := _CARD.search(text, position, end + 2)) is not None:
        if card_ok(match.group()):
            yield match.span()
            position = match.end()
        else:  # a longer group run may hide a card that starts one group later
            position = match.start() + 1


_IBAN_START = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}")


def _iban(text: str, start: int, end: int) -> Iterator[Span]:
    for match in _IBAN_START.finditer(text, start, end):
        length = IBAN_LENGTHS.get(match.group()[:2])
        if length is None:
            continue
        chars, index = [], match.start()
        while index < len(text) and len(chars) < length:
            char = text[index]
            if char == " " and chars and index + 1 < len(text) and text[index + 1] != " ":
                index += 1
                continue
            if not (char.isascii() and char.isalnum()):
                break
            chars.append(char)
            index += 1
        if len(chars) == length and not _alnum_at(text, index) and iban_ok("".join(chars).upper()):
            yield match.start(), index


def _jwt(text: str, start: int, end: int) -> Iterator[Span]:
    if not _alnum_at(text, start - 1) and text[start - 1:start] != "-":
        yield start, end


_CREDENTIAL = re.compile(r"\s+([A-Za-z0-9\-._~+/]+=*)")


def _bearer(text: str, start: int, end: int) -> Iterator[Span]:
    """`Bearer <token>`: the token only, when it looks like one (8+ characters with a digit, a
    capital or a symbol; prose such as "bearer authentication" is kept)."""
    match = _CREDENTIAL.match(text, start + 6, end)
    if match is None:
        return
    token = match.group(1).rstrip(".,;:")
    if len(token) >= 8 and not all(char.islower() or char == "-" for char in token):
        yield match.start(1), match.start(1) + len(token)


def _basic(text: str, start: int, end: int) -> Iterator[Span]:
    """`Basic <base64 of user:password>`: confirmed by decoding it."""
    match = _CREDENTIAL.match(text, start + 5, end)
    if match is None:
        return
    token = match.group(1)
    try:
        decoded = base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError):
        return
    if b":" in decoded:
        yield match.start(1), match.end(1)


_PEM_END = re.compile(r"-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")
_PEM_BODY = re.compile(r"[A-Za-z0-9+/=\s\\:,.\-]*")
PEM_MAX = 64 * 1024


def _private_key(text: str, start: int, end: int) -> Iterator[Span]:
    """From BEGIN to its END line; a key cut off before its END line to the end of its body."""
    limit = min(len(text), end + PEM_MAX)
    value_end = text.find("\x00", end, limit)  # never past the value (see engine.SEPARATOR)
    limit = value_end if value_end >= 0 else limit
    closing = _PEM_END.search(text, end, limit)
    if closing is not None:
        yield start, closing.end()
    else:
        yield start, _PEM_BODY.match(text, end, limit).end()  # type: ignore[union-attr]


_URL_CREDENTIALS = re.compile(r"://[^/\s:@]{1,256}:([^/\s@]{1,256})@")


def _url_password(text: str, start: int, end: int) -> Iterator[Span]:
    match = _URL_CREDENTIALS.match(text, start, end)
    if match is not None and not MARKER.search(match.group()):
        yield match.span(1)


_ASSIGNMENT = re.compile(r"[:=]\s{0,3}[\"']?([^\s\"',;&\x00]{1,512})")


def _assignment(text: str, start: int, end: int) -> Iterator[Span]:
    """`password=…`, `access_token: …`, `"api_key": "…"` inside free text: the value only."""
    match = _ASSIGNMENT.search(text, start, min(len(text), end + 520))
    if match is not None and match.start() <= end + 1 and not MARKER.fullmatch(match.group(1)):
        yield match.span(1)


# --- the rules, in priority order (when two matches overlap, the earlier rule wins) -----------------

VALUE_RULES: tuple[ValueRule, ...] = (
    ValueRule("private_key", "PEM private keys (RSA, EC, OpenSSH, PGP, PKCS#8), BEGIN to END",
              "-----BEGIN RSA PRIVATE KEY-----\\nMIIE...\\n-----END RSA PRIVATE KEY----- -> [redacted:private_key]",
              r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----", _private_key),
    ValueRule("jwt", "JSON Web Tokens (three base64url parts, the first two starting eyJ)",
              "token eyJhbGciOi...eyJzdWIi...sig -> token [redacted:jwt]",
              r"eyJ[A-Za-z0-9_\-]{4,}\.eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*", _jwt),
    ValueRule("clk_api_key", "Central Logger API keys (clk_...)",
              "clk_ab12cd34ef_... -> [redacted:clk_api_key]", r"clk_[a-z0-9]{10}_[A-Za-z0-9]{8,}", _bounded),
    ValueRule("aws_access_key", "AWS access key ids (AKIA..., ASIA...)",
              "AKIAIOSFODNN7EXAMPLE -> [redacted:aws_access_key]",
              r"(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|ASCA)[A-Z0-9]{16}", _bounded),
    ValueRule("github_token", "GitHub tokens (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_)",
              "ghp_16C7e42F292c6912E7710c838347Ae178B4a -> [redacted:github_token]",
              r"gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}", _bounded),
    ValueRule("gitlab_token", "GitLab tokens (glpat-, gldt-, glrt-, glptt-, ...)",
              "glpat-xxxxxxxxxxxxxxxxxxxx -> [redacted:gitlab_token]",
              r"gl(?:pat|dt|rt|ptt|soat|cbt|ffct|imt)-[A-Za-z0-9_\-]{20,}", _bounded),
    ValueRule("slack_token", "Slack tokens (xoxb-, xoxp-, ...) and incoming-webhook URLs",
              "xoxb-123456789012-... -> [redacted:slack_token]",
              r"xox[abposre]-[A-Za-z0-9\-]{10,}|https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9/_]+",
              _bounded),
    ValueRule("stripe_key", "Stripe secret and restricted keys (sk_live_, rk_test_, ...) and webhook secrets",
              "sk_live_4eC39HqLyjWDarjtT1zdp7dc -> [redacted:stripe_key]",
              r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}|whsec_[A-Za-z0-9]{20,}", _bounded),
    ValueRule("openai_key", "OpenAI- and Anthropic-style keys (sk-..., sk-proj-..., sk-ant-...)",
              "sk-proj-Abc123... -> [redacted:openai_key]", r"sk-[A-Za-z0-9_\-]{20,}", _bounded),
    ValueRule("google_api_key", "Google API keys (AIza...)",
              "AIzaSyA-1234567890abcdefghijklmnopqrstu -> [redacted:google_api_key]",
              r"AIza[0-9A-Za-z_\-]{35}", _bounded),
    ValueRule("bearer", "the credential of a Bearer authorization header",
              "Authorization: Bearer 9f8e7d6c5b4a -> Authorization: Bearer [redacted:bearer]",
              r"(?i)\bbearer\s+[A-Za-z0-9\-._~+/]+=*", _bearer, trigger=r"(?i)bearer(?:\s|\\[tnrf]|\\u000b)+[A-Za-z0-9\-._~+/]"),
    ValueRule("basic_auth", "the credential of a Basic authorization header (base64 of user:password)",
              "Basic dXNlcjpodW50ZXIy -> Basic [redacted:basic_auth]",
              r"(?i)\bbasic\s+[A-Za-z0-9+/]+=*", _basic, trigger=r"(?i)basic(?:\s|\\[tnrf]|\\u000b)+[A-Za-z0-9+/]"),
    ValueRule("url_credentials", "the password in a URL (scheme://user:password@host)",
              "postgres://app:s3cret@db:5432/x -> postgres://app:[redacted:url_credentials]@db:5432/x",
              r"://[^/\s:@]+:[^/\s@]+@", _url_password),
    ValueRule("secret_assignment", "the value after password=, secret:, token=, api_key= ... in free text",
              "login failed: password=hunter2 -> login failed: password=[redacted:secret_assignment]",
              r"(?i)(?:password|passwd|pwd|secret|token|api[_\-]?key|access[_\-]?key|client[_\-]?secret)[\"']?\s{0,3}[:=]",
              _assignment,
              trigger=r"(?i)(?:password|passwd|pwd|secret|token|api[_\-]?key|access[_\-]?key|client[_\-]?secret)"
                      r"(?:\\?[\"']|\s|\\[tnrf]|\\u000b)*[:=]"),
    ValueRule("card", "payment card numbers: 13-19 digits (alone or in groups of 4), issuer prefix and Luhn "
              "checksum valid", "card 4111 1111 1111 1111 -> card [redacted:card]",
              r"[0-9](?:[0-9]|[ \-][0-9]){12,}", _card, trigger=r"(?:^|[^0-9.])[0-9](?:[0-9]|[ \-][0-9]){12,}"),
    ValueRule("iban", "IBANs with a valid country length and mod-97 checksum",
              "DE89 3704 0044 0532 0130 00 -> [redacted:iban]", r"[A-Z]{2}[0-9]{2}(?:[ ]?[A-Za-z0-9]){10,}", _iban),
    ValueRule("email", "e-mail addresses", "write to jane.doe@example.com -> write to [redacted:email]",
              r"[\pL\pN\pM_.%+\-]+@[\pL\pN\pM_.%+@\-]+", _email),
    ValueRule("phone", "phone numbers in international format (+, country code, 8-15 digits)",
              "call +49 151 23456789 -> call [redacted:phone]", r"\+[1-9][0-9 ().\-]*", _phone,
              trigger=r"\+[1-9](?:[ ().\-]{0,2}[0-9]){7,}"),
)
VALUE_RULE_IDS = frozenset(rule.id for rule in VALUE_RULES)

KEY_RULES: tuple[KeyRule, ...] = (
    KeyRule("key:password", ("password", "passwords", "passwd", "pwd"), '"db_password": "x" -> "[redacted:password]"'),
    KeyRule("key:secret", ("secret", "secrets"), '"webhookSecret": "x" -> "[redacted:secret]"'),
    KeyRule("key:token", ("token",), '"access_token": "x" -> "[redacted:token]" (max_tokens is kept)'),
    KeyRule("key:api_key", ("apikey",), '"X-API-Key": "x" -> "[redacted:api_key]"'),
    KeyRule("key:authorization", ("authorization",), '"Authorization": "Bearer x" -> "[redacted:authorization]"'),
    KeyRule("key:cookie", ("cookie", "cookies"), '"Cookie": "sid=x" -> "[redacted:cookie]"'),
    KeyRule("key:set_cookie", ("setcookie",), '"Set-Cookie": "sid=x" -> "[redacted:set_cookie]"'),
    KeyRule("key:session", ("session",), '"session": "x" -> "[redacted:session]" (session_id is kept)'),
    KeyRule("key:private_key", ("privatekey",), '"private_key": "x" -> "[redacted:private_key]"'),
    KeyRule("key:client_secret", ("clientsecret",), '"client_secret": "x" -> "[redacted:client_secret]"'),
    KeyRule("key:access_key", ("accesskey",), '"aws_secret_access_key": "x" -> "[redacted:access_key]"'),
    KeyRule("key:credit_card", ("creditcard", "cardnumber"), '"card_number": 4111... -> "[redacted:credit_card]"'),
    KeyRule("key:cvv", ("cvv", "cvc", "cvv2", "cvc2"), '"cvv": 123 -> "[redacted:cvv]"'),
    KeyRule("key:ssn", ("ssn",), '"customer_ssn": "078-05-1120" -> "[redacted:ssn]"'),
    KeyRule("key:iban", ("iban",), '"iban": "x" -> "[redacted:iban]"'),
)
KEY_RULE_IDS = frozenset(rule.id for rule in KEY_RULES)
DEFAULT_RULE_IDS = VALUE_RULE_IDS | KEY_RULE_IDS

_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+|[^\W\d_]+")


def key_suffixes(key: str) -> set[str]:
    """The glued lowercase forms of the key's last 1, 2, ... words: `stripe_apiKey` ->
    {"key", "apikey", "stripeapikey"}."""
    words = [word.lower() for word in _WORDS.findall(key)]
    return {"".join(words[i:]) for i in range(len(words))}


_NOT_MARKER = re.compile(r"[^a-z0-9_.-]+")


def marker_name(name: str) -> str:
    """A tenant's rule or key name as it appears in its marker: [redacted:customer_dob]."""
    return _NOT_MARKER.sub("_", name.lower())[:64] or "custom"


def key_trigger(glued: str) -> str:
    """RE2: fires on the JSON text of an object with a key whose last words glue to `glued`
    (any separators or escapes between its letters, then the key's closing quote and colon)."""
    return "".join(re.escape(char) + "[^A-Za-z0-9]*" for char in glued[:-1]) + re.escape(glued[-1]) + r'"\s*:'


def normalise_key_name(name: str) -> str:
    """A key name as rules compare it: its words glued, lower case (`Customer-DOB` -> customerdob)."""
    return "".join(word.lower() for word in _WORDS.findall(name))
