"""Text for Suara: mask personal data before anything is stored, normalise informal Indonesian for the models.

>>> mask_pii("min NIK saya 3273011290010003 kok gk bisa verifikasi, hub 0812-3456-7890")
'min NIK saya [NIK] kok gk bisa verifikasi, hub [TELEPON]'
>>> normalize("Min, udh 3 hari gk bisa login 😡 #KartuCakapSalahSasaran")
'min sudah 3 hari tidak bisa login marah kartu cakap salah sasaran'
"""

from __future__ import annotations

import csv
import html
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "IDENTITY_KEYS",
    "PiiSpan",
    "find_pii",
    "load_lexicon",
    "mask_payload",
    "mask_pii",
    "normalize",
    "tokenize",
]

# ============================================================================================================
# PII
# ============================================================================================================

PLACEHOLDERS: dict[str, str] = {
    "email": "[EMAIL]",
    "npwp": "[NPWP]",
    "card": "[KARTU]",
    "kk": "[KK]",
    "nik": "[NIK]",
    "phone": "[TELEPON]",
    "number": "[NOMOR]",
    "mention": "@pengguna",
}
MASKED_HANDLE = "pengguna"

IDENTITY_KEYS: frozenset[str] = frozenset(
    {
        "author",
        "author_name",
        "author_id",
        "username",
        "user_name",
        "screen_name",
        "name",
        "display_name",
        "nama",
        "email",
        "email_address",
        "phone",
        "phone_number",
        "mobile",
        "no_hp",
        "requester",
        "requester_email",
        "requester_id",
        "submitter_id",
        "from",
        "to",
        "cc",
        "bcc",
        "reply_to",
        "sender",
        "recipient",
        "address",
        "alamat",
        "location",
        "profile_image_url",
        "user_id",
        "in_reply_to_user_id",
    }
)


@dataclass(frozen=True, slots=True)
class PiiSpan:
    """One piece of personal data found in a text: ``text == source[start:end]``."""

    kind: str  # email, npwp, card, kk, nik, phone, number, mention
    start: int
    end: int
    text: str


_DOT = r"(?:\.|\s?[\[(]dot[\])]\s?)"
_EMAIL_RE = re.compile(
    r"(?<![a-z_.%+-])[a-z0-9][a-z0-9._%+-]*(?:@|\s?[\[(]at[\])]\s?)"
    rf"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:{_DOT}[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*{_DOT}[a-z]{{2,}}(?![a-z])",
    re.IGNORECASE,
)
# x.com/<handle>/status/<id>: the handle names a person and the id resolves to them.
_X_URL_RE = re.compile(
    r"(?<![\w.\]])(?:https?://)?(?:www\.|mobile\.)?(?:twitter|x)\.com/(?P<handle>\w+)"
    r"(?:/(?:web/)?status(?:es)?/(?P<id>\d+))?",
    re.IGNORECASE,
)
_X_RESERVED_PATHS = frozenset(
    {
        "i",
        "home",
        "search",
        "hashtag",
        "intent",
        "share",
        "settings",
        "explore",
        "messages",
        "notifications",
        "compose",
        "login",
        "signup",
        "tos",
        "privacy",
    }
)
_MENTION_RE = re.compile(r"(?<![\w@\]])@(\w+(?:\.\w+)*)")  # not after an e-mail or a placeholder
# Numbers that look long but are not personal: money, dates, times, thousands-grouped amounts.
_NOT_PII_RE = re.compile(
    r"(?<![@\w])(?:rp|idr)\.?\s?\d[\d.,]*"
    r"|\d[\d.,]*\s?(?:rb|ribu|jt|juta|miliar|milyar|triliun|rupiah)\b"
    r"|(?<![\d./-])(?:\d{1,2}([./-])\d{1,2}\1(?:\d{4}|\d{2})|\d{4}([./-])\d{1,2}\2\d{1,2})(?![\d]|[./-]\d)"
    r"|(?<![\d.:])(?:[01]?\d|2[0-3])[.:][0-5]\d(?:[.:][0-5]\d)?(?!\d|[.:]\d)"
    r"|(?<![\d.,+])(?<!62 )[1-9]\d{0,2}(?:(?:\.\d{3}){3,}|(?:,\d{3}){3,})(?:,\d{2})?(?!\d|[.,]\d)",
    re.IGNORECASE,
)
# A run of digits with single separators: "3273 0112 9001 0003", "+62 813-1234-5678", "(021) 555 1234".
_DIGIT_RUN_RE = re.compile(r"(?<!\d)(?:(?<![\w\]])\+\s?)?(?:\(\d{2,4}\)\s?)?\d(?:[ .\-]?\d)*")
_NON_DIGIT_RE = re.compile(r"\D")
_NPWP_FORMAT_RE = re.compile(r"\d{2}\.\d{3}\.\d{3}\.\d-\d{3}\.\d{3}")
# What a user writes just before a number says what it is ("no KK saya 3171...").
_LABEL_RE = re.compile(
    r"(?<![\w\[\]])(?:(?P<kk>no\.?\s*kk|nkk|kk|kartu\s+keluarga)|(?P<npwp>npwp)"
    r"|(?P<nik>nik|e-?ktp|ktp|nomor\s+induk)"
    r"|(?P<account>no\.?\s*rek|norek|rek|rekening|va|virtual\s+account)"
    r"|(?P<card>kartu\s+kredit|kartu\s+debit|kartu|cc|kredit|debit|visa|mastercard|jcb|amex)"
    r"|(?P<phone>hp|wa|whatsapp|telp|telepon|tlp|hub|kontak))\b"
)
_GAP_WORD_RE = re.compile(r"[^\W\d_]+")


# NIK = province, regency, district, birth date (day + 40 for women), serial: 3578014506120002.
_PROVINCES = frozenset(
    {
        "11",
        "12",
        "13",
        "14",
        "15",
        "16",
        "17",
        "18",
        "19",
        "21",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "51",
        "52",
        "53",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "72",
        "73",
        "74",
        "75",
        "76",
        "81",
        "82",
        "91",
        "92",
        "93",
        "94",
        "95",
        "96",
    }
)


def _nik_shaped(digits: str) -> bool:
    day, month = int(digits[6:8]), int(digits[8:10])
    return digits[:2] in _PROVINCES and (1 <= day <= 31 or 41 <= day <= 71) and 1 <= month <= 12


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _label_before(text: str, start: int) -> str | None:
    """The label ("nik", "kk", "rek"…) of the number at ``start``: the nearest one, at most three words before
    it and with no other number (or masked number) in between."""
    window = text[max(0, start - 80) : start].lower()
    labels = list(_LABEL_RE.finditer(window))
    if not labels:
        return None
    last = labels[-1]
    gap = window[last.end() :]
    if any(ch.isdigit() or ch in "[]@" for ch in gap) or len(_GAP_WORD_RE.findall(gap)) > 3:
        return None
    return last.lastgroup


def _classify(raw: str, label: str | None) -> tuple[str, int] | None:
    """(kind, confidence) of one digit run; confidence 3 = labelled or unmistakable, 0 = just long."""
    digits = _NON_DIGIT_RE.sub("", raw)
    if not digits.isascii():  # full-width or other script digits: same number
        digits = "".join(str(int(d)) for d in digits)
    n = len(digits)
    if label == "npwp" and n in (15, 16):
        return "npwp", 3
    if label in ("kk", "nik") and n == 16:
        return label, 3
    if label == "card" and 13 <= n <= 19:
        return "card", 3
    if label == "account" and 8 <= n <= 20:
        return "number", 3
    if _NPWP_FORMAT_RE.fullmatch(raw):
        return "npwp", 3
    if (
        (raw.startswith("+") and 8 <= n <= 15)
        or (digits.startswith("08") and 10 <= n <= 13)
        or (digits.startswith("628") and 11 <= n <= 15)
        or (raw.startswith("(0") and 8 <= n <= 12)
        or (digits[:1] == "0" and digits[1:2] in "12345679" and 9 <= n <= 12)
        or (label == "phone" and digits.startswith("8") and 9 <= n <= 12)
    ):
        return "phone", 3
    if n == 15:
        return "npwp", 1
    if n == 16 and _nik_shaped(digits):  # a NIK that happens to pass Luhn is still a NIK
        return "nik", 2
    if 13 <= n <= 19 and digits[0] in "23456789" and _luhn_ok(digits):
        return "card", 2
    if n == 16:
        return "nik", 1
    if n >= 10:
        return "number", 0
    return None


def _digit_span(text: str, start: int, end: int) -> tuple[str, int, int] | None:
    """Kind and extent of the digit run text[start:end]; a short group at either end ("gelombang 14 3273…",
    "… 0003 2 kali") is left out when the rest is then recognised for sure."""
    raw = text[start:end]
    if sum(ch.isdigit() for ch in raw) < 8:  # nothing personal is shorter
        return None
    cuts = [(0, len(raw))]
    spaces = [m.start() for m in re.finditer(" ", raw)]
    if spaces:
        first, last = spaces[0], spaces[-1]
        head_ok = len(_NON_DIGIT_RE.sub("", raw[:first])) <= 4 and raw[0].isdigit()
        tail_ok = len(raw) - last - 1 <= 4
        if head_ok:
            cuts.append((first + 1, len(raw)))
        if tail_ok:
            cuts.append((0, last))
        if head_ok and tail_ok and first < last:
            cuts.append((first + 1, last))
    best: tuple[int, str, int, int] | None = None
    for a, b in cuts:
        got = _classify(raw[a:b], _label_before(text, start + a))
        if got and (best is None or got[1] > best[0]):
            best = (got[1], got[0], start + a, start + b)
    return None if best is None else best[1:]


def _blank(text: str, found: list[tuple[int, int]], keep: list[tuple[int, int]] | None = None) -> str:
    """``text`` with found spans as "[\\0…]" and kept ones as "_…", same length, for the next step to look at.

    Found spans look like the placeholders they become, so a second pass over masked text decides as the first
    did; kept ones read as a word, so they can neither join a number nor end a label's word.
    """
    if not found and not keep:
        return text
    chars = list(text)
    for start, end in found:
        chars[start:end] = "[" + "\0" * (end - start - 2) + "]" if end - start > 1 else "\0"
    for start, end in keep or ():
        chars[start:end] = "_" * (end - start)
    return "".join(chars)


def find_pii(
    text: str, *, mentions: bool = True, official_handles: frozenset[str] = frozenset()
) -> list[PiiSpan]:
    """Personal data in ``text``, in order, never overlapping.

    Precedence: e-mail, then numbers (NPWP, card, KK, NIK, phone, any other run of 10+ digits), then @mentions
    (skipped with ``mentions=False`` and for ``official_handles``). A label just before a number ("no KK",
    "NIK", "rek") decides its kind; without one the digits do (Luhn, NIK layout, phone prefixes). In an x.com
    link to a person's post the handle and the status id are personal; an official account's post stays whole.
    Prices, dates, times, years, versions and 6-digit OTP codes are not personal and stay.

    >>> [(s.kind, s.text) for s in find_pii("wa +62 813 1234 5678, email sitirahma92@gmail.com")]
    [('phone', '+62 813 1234 5678'), ('email', 'sitirahma92@gmail.com')]
    >>> find_pii("kode OTP 845112, bayar Rp 600.000 tgl 12/10/2026 jam 08.30, gelombang 14")
    []
    """
    if not text:
        return []
    official = frozenset(h.lower().lstrip("@") for h in official_handles)
    spans: list[PiiSpan] = []
    found: list[tuple[int, int]] = []  # later steps see these as "[...]", as they would after masking
    keep: list[tuple[int, int]] = []  # money, dates, official post ids: never part of a number

    def add(kind: str, start: int, end: int) -> None:
        spans.append(PiiSpan(kind, start, end, text[start:end]))
        found.append((start, end))

    low = text.lower()
    if "@" in text or "at)" in low or "at]" in low:
        for m in _EMAIL_RE.finditer(text):
            add("email", *m.span())
    if ".com/" in low:
        for m in _X_URL_RE.finditer(_blank(text, found)):
            handle = m.group("handle").lower()
            found.append((m.start(), m.start("handle")))  # "x.com/" is no mention ("@x.com") nor a label gap
            if handle == MASKED_HANDLE:
                found.append(m.span("handle"))
            elif mentions and handle not in official and handle not in _X_RESERVED_PATHS:
                add("mention", *m.span("handle"))
            if m.group("id"):
                if mentions and handle not in official:
                    add("number", *m.span("id"))
                else:  # an official post, or the caller keeps handles: its id stays with it
                    keep.append(m.span("id"))
    keep += [m.span() for m in _NOT_PII_RE.finditer(_blank(text, found))]
    work = _blank(text, found, keep)
    for m in _DIGIT_RUN_RE.finditer(work):
        got = _digit_span(work, m.start(), m.end())
        if got:
            add(*got)
    if mentions and "@" in text:
        kept = bytearray(len(text))
        for start, end in keep:
            kept[start:end] = b"\x01" * (end - start)
        for m in _MENTION_RE.finditer(_blank(text, found)):
            start, end = m.span()
            cut = kept.find(1, start, end)  # "@budi.Rp 600.000" mentions "@budi"
            if cut >= 0:
                end = cut
            handle = text[start + 1 : end].rstrip(".").lower()
            if handle and handle != MASKED_HANDLE and handle not in official:
                add("mention", start, start + 1 + len(handle))
    spans.sort(key=lambda s: s.start)
    return spans


def mask_pii(text: str, *, mentions: bool = True, official_handles: frozenset[str] = frozenset()) -> str:
    """``text`` with each span of :func:`find_pii` replaced by its placeholder; masking twice changes nothing.

    >>> mask_pii("no KK 3171012345678901, NPWP 09.254.294.3-407.000, rek BCA 1234567890")
    'no KK [KK], NPWP [NPWP], rek BCA [NOMOR]'
    >>> mask_pii("@budi_s @KartuCakap_ID kartu 4111 1111 1111 1111 ditolak",
    ...          official_handles=frozenset({"kartucakap_id"}))
    '@pengguna @KartuCakap_ID kartu [KARTU] ditolak'
    """
    spans = find_pii(text, mentions=mentions, official_handles=official_handles)
    if not spans:
        return text
    out, pos = [], 0
    for s in spans:
        out.append(text[pos : s.start])
        if s.kind == "mention" and not s.text.startswith("@"):
            out.append(MASKED_HANDLE)  # a handle inside an x.com URL path
        else:
            out.append(PLACEHOLDERS[s.kind])
        pos = s.end
    out.append(text[pos:])
    return "".join(out)


def mask_payload(
    obj: Any,
    *,
    replace: Mapping[str, str] | None = None,
    redact_keys: frozenset[str] = IDENTITY_KEYS,
    official_handles: frozenset[str] = frozenset(),
) -> Any:
    """A masked deep copy of a JSON-like payload (dict, list, str, number, bool, None); ``obj`` is unchanged.

    A string equal to a key of ``replace`` (case-insensitive, "@" optional) becomes its value, e.g. an
    author's handle becomes the author key; anything else under a key in ``redact_keys`` becomes "[REDACTED]"
    (an official handle excepted); every other string goes through :func:`mask_pii`. Numbers stay unless
    redacted; dict keys always stay.

    >>> mask_payload({"username": "budi_s", "name": "Budi S", "text": "@budi_s NIK 3273011290010003"},
    ...              replace={"@Budi_S": "a_91c2"})
    {'username': 'a_91c2', 'name': '[REDACTED]', 'text': '@pengguna NIK [NIK]'}
    """
    table = {_handle_key(k): v for k, v in (replace or {}).items()}
    official = frozenset(_handle_key(h) for h in official_handles)
    redact = frozenset(k.lower() for k in redact_keys)

    def walk(value: Any, redacted: bool, id_field: bool = False, in_person: bool = False) -> Any:
        if isinstance(value, Mapping):
            return {
                k: walk(
                    v,
                    redacted or (isinstance(k, str) and k.lower() in redact),
                    not in_person and isinstance(k, str) and _ID_KEY_RE.search(k) is not None,
                    in_person or (isinstance(k, str) and k.lower() in _PERSON_KEYS),
                )
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return type(value)(walk(v, redacted, id_field, in_person) for v in value)
        if isinstance(value, str):
            key = _handle_key(value)
            if key in table:
                return table[key]
            if redacted:
                return value if key in official else "[REDACTED]"  # an official account is not a person
            if id_field and _is_record_id(value):
                return value  # a post or ticket id links records; a person's id sits under an identity key
            return mask_pii(value, official_handles=official_handles)
        if isinstance(value, int | float) and not isinstance(value, bool):
            if str(value) in table:
                return table[str(value)]
            return "[REDACTED]" if redacted else value
        return value  # None, bool and anything not JSON

    return walk(obj, False)


# Keys that hold record ids ("id", "conversation_id", "newest_id", "ids"): digit strings under them link posts,
# tickets and replies, so they stay unless they look like personal numbers (a NIK, a phone number, a card).
_ID_KEY_RE = re.compile(r"(?:^|_)ids?$", re.IGNORECASE)
# ...except inside objects that describe people (X's includes.users, mentions): there an id is a person's.
_PERSON_KEYS = frozenset(
    {
        "users",
        "user",
        "mentions",
        "requester",
        "submitter",
        "assignee",
        "collaborators",
        "followers",
        "people",
        "contacts",
    }
)


def _is_record_id(value: str) -> bool:
    return value.isdigit() and all(span.kind == "number" for span in find_pii(value, mentions=False))


def _handle_key(value: str) -> str:
    return value.lower().removeprefix("@")


# ============================================================================================================
# Normalisation for model input
# ============================================================================================================

_URL_RE = re.compile(r"(?:https?://|www\.)\S+|\b(?:t\.co|bit\.ly|s\.id)/\S+", re.IGNORECASE)
_NORM_MENTION_RE = re.compile(r"(?<![\w@])@\w+")
_HASHTAG_RE = re.compile(r"#(\w+)")
_CAMEL_RE = re.compile(
    r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])|_"
)
_EMOJI_WORDS: dict[str, str] = {
    **dict.fromkeys("😡🤬😠👿", "marah"),
    **dict.fromkeys("😭😢😥😞😔😿", "sedih"),
    **dict.fromkeys("💔", "kecewa"),
    **dict.fromkeys("🙏", "mohon"),
    **dict.fromkeys("👍👌💯", "bagus"),
    **dict.fromkeys("👎", "buruk"),
    **dict.fromkeys("❤♥😍🥰😘💕💖", "suka"),
    **dict.fromkeys("😊😁😄😃☺🙂", "senang"),
    **dict.fromkeys("🙄😒😤🤦", "kesal"),
    **dict.fromkeys("😂🤣😆😹", "haha"),
    **dict.fromkeys("🤔", "bingung"),
}
_EMOJI_RUN_RE = re.compile("([" + "".join(_EMOJI_WORDS) + r"])(?:\s*\1)*")
_EMOTICON_RE = re.compile(r"(?<!\S)(?:[:;=]-?[)D]+|[:=]'?-?\(+|<3+)(?!\S)")
# Variation selectors, skin tones and zero-width joiners glue emoji together; without them each maps alone.
_EMOJI_GLUE_RE = re.compile("[\ufe0e\ufe0f\u200d\U0001f3fb-\U0001f3ff]")
_TOKEN_RE = re.compile(
    r"(?i:\[(?:email|npwp|kartu|kk|nik|telepon|nomor|redacted)\])"
    r"|(?:[^\W\d_]+)?\d+(?:[.,:/]\d+)+"
    r"|[^\W_]+(?:[-'’][^\W_]+)*"
    r"|[?!]"
)
_LAUGH_RE = re.compile(
    r"(?=[wk]*w)(?=[wk]*k)[wk]{4,}|a?(?:h+a+[gk]?){2,}h*|e?(?:h+e+){2,}h*|(?:h+i+){2,}h*|(?:x+i+){2,}x*"
    r"|(?:a?w+o+k+){2,}"
)
_REPEAT_RE = re.compile(r"([^\W\d_])\1{2,}")
_REDUP_RE = re.compile(r"([^\W\d_]{2,})2(nya|an|lah|kah|mu|ku)?")
_VOWELS = frozenset("aiueo")


def tokenize(text: str) -> list[str]:
    """Words (hyphenated ones whole), numbers with their separators, PII placeholders, "?" and "!".

    >>> tokenize("NIK [NIK] gagal verif 2x?! gelombang 14, Rp 600.000 tgl 12/10/2026")
    ['NIK', '[NIK]', 'gagal', 'verif', '2x', '?', '!', 'gelombang', '14', 'Rp', '600.000', 'tgl',
     '12/10/2026']
    """
    return _TOKEN_RE.findall(text)


def _split_hashtag(m: re.Match[str]) -> str:
    return " " + _CAMEL_RE.sub(" ", m.group(1)) + " "


def _emoji_word(m: re.Match[str]) -> str:
    return " " + _EMOJI_WORDS[m.group(1)] + " "


def _emoticon_word(m: re.Match[str]) -> str:
    face = m.group()
    return " suka " if face.startswith("<") else " sedih " if "(" in face else " senang "


def normalize(text: str, *, lexicon: Mapping[str, str] | None = None) -> str:
    """``text`` as the models see it: lower case, slang made formal, noise gone; not for storage.

    URLs and @mentions are dropped (they carry no sentiment and would leak into features), hashtags become
    their words, laughter becomes "haha", elongations collapse, "kata2" becomes "kata-kata", emoji and
    emoticons that carry feeling become words (😡 "marah", 🙏 "mohon", ":(" "sedih") and other emoji go;
    negators and intensifiers stay, "?" and "!" stay as tokens, PII placeholders stay as they are. ``lexicon``
    defaults to the bundled list (:func:`load_lexicon` without a data dir); pipelines pass
    ``load_lexicon(data_dir)``.

    >>> normalize("Aplikasinya lemot bangettt, udh nunggu lamaaaa gk ada kabar wkwkwk 🙄 https://t.co/x1Y2z")
    'aplikasinya lambat banget sudah menunggu lama tidak ada kabar haha kesal'
    >>> normalize("@KartuCakap_ID hati2 min, NIK [NIK] kok blm diverif?? 🙏🙏")
    'hati-hati min nik [NIK] kok belum diverif ? mohon'
    """
    if not text:
        return ""
    lex = _lexicon_for(None) if lexicon is None else lexicon
    t = unicodedata.normalize("NFKC", html.unescape(text) if "&" in text else text)
    t = _URL_RE.sub(" ", t)
    if "@" in t:
        t = _NORM_MENTION_RE.sub(" ", t)
    if "#" in t:
        t = _HASHTAG_RE.sub(_split_hashtag, t)
    if ":" in t or "<" in t or ";" in t or "=" in t:
        t = _EMOTICON_RE.sub(_emoticon_word, t)
    if not t.isascii():
        t = _EMOJI_RUN_RE.sub(_emoji_word, _EMOJI_GLUE_RE.sub("", t))
    out: list[str] = []
    for tok in _TOKEN_RE.findall(t.lower()):
        first = tok[0]
        if first == "[":
            out.append(tok.upper())
            continue
        if first in "?!":
            if not out or out[-1] != tok:
                out.append(tok)
            continue
        mapped = lex.get(tok)
        if mapped is None:
            mapped = _normalize_word(tok, lex)
        if mapped:
            out.append(mapped)
    return " ".join(out)


def _normalize_word(tok: str, lex: Mapping[str, str]) -> str:
    if "'" in tok or "’" in tok:  # jum'at, do'a
        tok = tok.replace("'", "").replace("’", "")
        if tok in lex:
            return lex[tok]
    if _LAUGH_RE.fullmatch(tok):
        return "haha"
    if "2" in tok:
        m = _REDUP_RE.fullmatch(tok)
        if m:
            base = lex.get(m.group(1), m.group(1))
            if " " not in base and (_VOWELS.intersection(base) or m.group(1) in lex):
                return f"{base}-{base}{m.group(2) or ''}"
    collapsed = _REPEAT_RE.sub(r"\1", tok)
    if collapsed != tok:
        if _LAUGH_RE.fullmatch(collapsed):
            return "haha"
        return lex.get(collapsed, collapsed)
    return tok


# ============================================================================================================
# Lexicon
# ============================================================================================================

BUNDLED_LEXICON = Path(__file__).resolve().parent / "resources" / "slang_id.tsv"
SHARED_CSV = Path("lexicon") / "slang-indo-normalizer.csv"
SHARED_JSON = Path("lexicon") / "slang-louisowen6.json"

NEGATORS = frozenset({"tidak", "tak", "bukan", "belum", "jangan", "kurang", "tanpa"})
INTENSIFIERS = frozenset({"sangat", "banget", "sekali", "amat", "terlalu", "paling"})
# Read in the shared lists and found wrong for this domain or this pipeline: English words ("can", "make"),
# common words given another meaning ("kaya" rich -> "kayak", "malah" -> "bahkan", "asap" smoke -> ASAP),
# names ("ginting"), misreadings ("ngeh"/"nggeh" -> "engah", "week" -> "wig"), and words turned into a
# negation they do not contain ("buaya" -> "tidak setia", "jomblo" -> "tidak punya pacar").
_SHARED_BLOCKLIST = frozenset(
    {
        "acc",
        "can",
        "mw",
        "np",
        "re",
        "red",
        "reg",
        "ed",
        "ul",
        "pk",
        "pro",
        "bt",
        "week",
        "see",
        "so",
        "make",
        "pans",
        "most",
        "still",
        "light",
        "rights",
        "setting",
        "seting",
        "next",
        "less",
        "happy",
        "problem",
        "solve",
        "hardcore",
        "paranoid",
        "ikon",
        "trending",
        "tren",
        "ex",
        "low",
        "ay",
        "beb",
        "teh",
        "tah",
        "pa",
        "ma",
        "si",
        "ka",
        "de",
        "da",
        "ade",
        "asap",
        "aspal",
        "calo",
        "malah",
        "usah",
        "kaya",
        "ginting",
        "cino",
        "mato",
        "apo",
        "nyo",
        "ngeh",
        "nggeh",
        "ngeuh",
        "sampis",
        "nampak",
        "minta",
        "mang",
        "keles",
        "kale",
        "kelus",
        "ae",
        "aee",
        "buaya",
        "jomblo",
        "nganggur",
        "ilfil",
        "ilfeel",
        "jayus",
        "kere",
        "cekak",
        "cd",
        "tilang",
        "tipi",
        "tipiwan",
        "telkom",
        "info",
        "ngapain",
        "keburu",
        "tengok",
        "cabut",
        "urang",
        "kw",
        "lam",
        "gn",
        "mak",
        "ol",
        "mt",
        "ts",
        "pw",
        "gr",
        "spa",
        "cp",
        "pi",
        "ap",
        "hoax",
        "ha",
        "aha",
    }
)
_ENGLISH_MARKERS = frozenset(
    {
        "as",
        "far",
        "i",
        "know",
        "me",
        "if",
        "my",
        "the",
        "of",
        "on",
        "in",
        "out",
        "way",
        "first",
        "now",
        "what",
        "back",
        "follow",
        "list",
        "mailing",
        "playing",
        "watching",
        "humble",
        "opinion",
        "correct",
        "wrong",
        "fuck",
    }
)
# ga, gaa, gak, ngga, nggak, enggak, kagak, nda, ndak…: shapes of "tidak" whatever list they come from.
_NEGATION_SHAPE_RE = re.compile(r"(?:g|ng|ngg|en?gg?|kag|nd)a+k*|g?k")
_KEY_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_FORMAL_RE = re.compile(r"[a-z]+(?:[- ][a-z]+)*")


def load_lexicon(data_dir: Path | str | None = None) -> dict[str, str]:
    """slang -> formal: the bundled list, plus the shared lists in ``<data_dir>/lexicon/`` when they exist.

    Shared entries are cleaned first (see ``_clean_shared``) and never override the bundled list; a missing
    ``data_dir`` or file just means fewer entries. Cached per resolved path; each call returns a copy.

    >>> lex = load_lexicon()
    >>> lex["gk"], lex["udh"], lex["bgt"], lex["tf"], "min" in lex
    ('tidak', 'sudah', 'banget', 'transfer', False)
    """
    key = None if data_dir is None else str(Path(data_dir).expanduser().resolve())
    return dict(_lexicon_for(key))


@lru_cache(maxsize=8)
def _lexicon_for(data_dir: str | None) -> dict[str, str]:
    bundled = _read_bundled()
    merged = dict(bundled)
    if data_dir is not None:
        merged.update(_clean_shared(_read_shared(Path(data_dir)), bundled))
    return {k: v for k, v in merged.items() if k != v}


@lru_cache(maxsize=1)
def _read_bundled() -> dict[str, str]:
    """The bundled list, identity entries included: they are what the shared lists may not change."""
    out: dict[str, str] = {}
    for line in BUNDLED_LEXICON.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            slang, _, formal = line.partition("\t")
            out.setdefault(slang.strip().lower(), formal.strip().lower())
    return out


def _read_shared(data_dir: Path) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    csv_path, json_path = data_dir / SHARED_CSV, data_dir / SHARED_JSON
    if csv_path.is_file():
        with csv_path.open(encoding="utf-8", newline="") as fh:
            pairs += [(r.get("slang") or "", r.get("formal") or "") for r in csv.DictReader(fh)]
    if json_path.is_file():
        try:
            data = json.loads(json_path.read_text(encoding="utf-8"))
        except ValueError:
            data = {}
        if isinstance(data, dict):
            pairs += [(k, v) for k, v in data.items() if isinstance(k, str) and isinstance(v, str)]
    return pairs


def _clean_shared(pairs: list[tuple[str, str]], bundled: Mapping[str, str]) -> dict[str, str]:
    """Keep only the shared entries that help.

    Dropped: empty or identical values; keys that are not one word or are a single letter; keys the bundled
    list already has; the blocklist above; laughter (``normalize`` handles it); values that are not plain
    lower-case words, longer than three words, or a multi-word English phrase ("afaik" -> "as far as i
    know"); a negator ("nda" -> "indak") or intensifier rewritten to something else. Where the lists disagree
    the first entry read wins (the CSV before the JSON): they disagree on variants ("beliin": "membelikan" or
    "belikan"); the harmful ones are blocked. Values pass through the bundled list, so "gausah" -> "enggak
    usah" arrives as "tidak usah".
    """
    kept: dict[str, str] = {}
    for raw_key, raw_value in pairs:
        key = raw_key.strip().lower()
        value = unicodedata.normalize("NFKC", raw_value).strip().lower()
        if (
            len(key) < 2
            or key in bundled
            or key in _SHARED_BLOCKLIST
            or not _KEY_RE.fullmatch(key)
            or not value
            or value == key
            or not _FORMAL_RE.fullmatch(value)
            or _LAUGH_RE.fullmatch(key)
        ):
            continue
        value = " ".join(bundled.get(w, w) for w in value.split(" "))
        words = value.split(" ")
        if len(words) > 3 or (len(words) > 1 and _ENGLISH_MARKERS.intersection(words)) or value == key:
            continue
        if (key in NEGATORS or _NEGATION_SHAPE_RE.fullmatch(key)) and words[0] not in NEGATORS:
            continue
        if key in INTENSIFIERS:
            continue
        kept.setdefault(key, value)
    return kept
