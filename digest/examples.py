"""Choosing the posts a digest quotes as proof: representative, de-duplicated, one per author.

>>> [e.text for e in pick_examples(rows, "negative", limit=2)]
['OTP gak masuk2', 'Tolong usut salah sasaran!']
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models.text import mask_pii

MAX_EXAMPLES = 5
# Two texts that share this much of their words are one message (copy-paste campaigns vary a word or an emoji).
NEAR_DUPLICATE = 0.8

_WORD = re.compile(r"[^\W_]+")
_PLACEHOLDER = re.compile(r"\[[A-Z]+\]")


@dataclass(frozen=True)
class Example:
    text: str
    source: str
    kind: str
    created_at: datetime
    url: str | None
    confidence: float | None


def words(text: str) -> list[str]:
    """Lower-case words without numbers and PII placeholders (``[NOMOR]``, ``3x`` stays): copies that differ
    only in a number are one message, and numbers say nothing about the topic."""
    return [w for w in _WORD.findall(_PLACEHOLDER.sub(" ", text).lower()) if not w.isdigit()]


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def centrality(rows: Sequence[Mapping[str, Any]]) -> list[float]:
    """Cosine of each text's word counts with the sum of the *other* texts: how typical it is of the group."""
    bags = [Counter(words(r["text"])) for r in rows]
    total: Counter = Counter()
    for bag in bags:
        total.update(bag)
    out = []
    for bag in bags:
        rest = {w: c - bag.get(w, 0) for w, c in total.items()}
        dot = sum(c * rest[w] for w, c in bag.items())
        norm = math.sqrt(sum(c * c for c in bag.values())) * math.sqrt(sum(c * c for c in rest.values()))
        out.append(dot / norm if norm else 0.0)
    return out


def _distinct(candidates: Sequence[Mapping[str, Any]], limit: int) -> list[Example]:
    """The first ``limit`` candidates that are neither a near-copy of an earlier one nor by the same author."""
    seen_authors: set[str] = set()
    seen: list[frozenset[str]] = []
    out: list[Example] = []
    for r in candidates:
        bag = frozenset(words(r["text"]))
        author = r.get("author_key")
        if (author and author in seen_authors) or any(_jaccard(bag, s) >= NEAR_DUPLICATE for s in seen):
            continue
        seen.append(bag)
        if author:
            seen_authors.add(author)
        out.append(
            Example(
                r["text"],
                r["source"],
                r["kind"],
                r["created_at"],
                r.get("url"),
                r.get("sentiment_confidence"),
            )
        )
        if len(out) == limit:
            break
    return out


def pick_examples(
    rows: Sequence[Mapping[str, Any]], sentiment: str, limit: int = MAX_EXAMPLES
) -> list[Example]:
    """The most confident items of a sentiment, one per author, no repeated (copy-paste) texts."""
    candidates = sorted(
        (r for r in rows if r.get("sentiment") == sentiment),
        key=lambda r: (-(r.get("sentiment_confidence") or 0.0), r["created_at"]),
    )
    return _distinct(candidates, limit)


def pick_representative(rows: Sequence[Mapping[str, Any]], limit: int = 3) -> list[Example]:
    """The most central posts of a group (a topic's complaints), the model's confidence breaking near-ties.

    Centrality is measured within the group, so a post that says what most others say comes first; a copy-paste
    campaign cannot fill the list because near-copies and second posts by one author are skipped.
    """
    scores = centrality(rows)
    order = sorted(
        range(len(rows)),
        key=lambda i: (
            -(round(scores[i], 2) + 0.1 * (rows[i].get("sentiment_confidence") or 0.0)),
            rows[i]["created_at"],
            rows[i].get("id", 0),
        ),
    )
    return _distinct([rows[i] for i in order], limit)


def masked(text: str) -> str:
    """Text from outside the store (discovery examples) masked once more before it is quoted: idempotent on
    stored text, and a handle that slipped through becomes ``@pengguna`` like any other."""
    return mask_pii(text)
