"""Near-duplicate campaigns: copy-paste and template posts grouped by MinHash over normalised text shingles.

A campaign is many near-identical posts (several authors, or one author posting again and again); it is one
voice, not a groundswell. ``trend_weights`` lets counts treat it so.

>>> found = find_campaigns(items)         # items: dicts with id, text, author_key, created_at
>>> [(c.mentions, c.unique_authors) for c in found]
[(14, 14)]
>>> trend_weights(items, found)[item_id]  # each of the 14 posts counts 1/14 of a mention
0.0714
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models.text import normalize

_NOISE_RE = re.compile(r"[^\w\s]|\d")


@dataclass(frozen=True)
class CampaignArgs:
    shingle_size: int = 5  # characters
    threshold: float = 0.6  # Jaccard similarity of shingle sets for two posts to be copies
    num_perm: int = 128
    min_mentions: int = 5
    min_authors: int = 3  # fewer distinct authors: one person repeating themselves, not a campaign
    min_chars: int = 30  # shorter texts ("gak bisa login") repeat by chance


@dataclass(frozen=True)
class Campaign:
    fingerprint: str  # stable: the hash of the earliest member's normalised text
    item_ids: tuple[int, ...]
    unique_authors: int
    first_seen: datetime
    last_seen: datetime
    sample_text: str

    @property
    def mentions(self) -> int:
        return len(self.item_ids)


def canonical(text: str) -> str:
    """Text reduced to what a copy keeps: normalised, without punctuation, digits, emoji or extra spaces."""
    return " ".join(_NOISE_RE.sub(" ", normalize(text)).split())


def shingles(text: str, k: int = 5) -> set[str]:
    """Character ``k``-grams of the canonical text (a tiny edit changes only a few of them)."""
    t = canonical(text)
    if len(t) <= k:
        return {t} if t else set()
    return {t[i : i + k] for i in range(len(t) - k + 1)}


def find_campaigns(items: Sequence[Mapping[str, Any]], args: CampaignArgs = CampaignArgs()) -> list[Campaign]:
    """Groups of near-identical texts with at least ``min_mentions`` posts by ``min_authors`` authors.

    ``items`` need ``id``, ``text``, ``author_key`` and ``created_at``. Candidate pairs come from MinHash LSH;
    each is confirmed by the exact Jaccard similarity of the shingle sets, and confirmed pairs are joined
    transitively (a template posted with small edits forms one group). Deterministic for the same items.
    """
    from datasketch import MinHash, MinHashLSH

    rows = sorted(items, key=lambda r: (r["created_at"], r["id"]))
    sets = [shingles(r["text"], args.shingle_size) for r in rows]
    lsh = MinHashLSH(threshold=args.threshold, num_perm=args.num_perm)
    hashes = []
    for i, s in enumerate(sets):
        m = MinHash(num_perm=args.num_perm, seed=1)
        m.update_batch([x.encode("utf-8") for x in s])
        hashes.append(m)
        if len(canonical(rows[i]["text"])) >= args.min_chars:
            lsh.insert(i, m)
    parent = list(range(len(rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, m in enumerate(hashes):
        if len(canonical(rows[i]["text"])) < args.min_chars:
            continue
        for j in lsh.query(m):
            if j <= i:
                continue
            inter = len(sets[i] & sets[j])
            if inter / max(len(sets[i] | sets[j]), 1) >= args.threshold:
                parent[find(j)] = find(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(rows)):
        groups.setdefault(find(i), []).append(i)
    out = []
    for members in groups.values():
        authors = {rows[i].get("author_key") or f"item:{rows[i]['id']}" for i in members}
        if len(members) < args.min_mentions or len(authors) < args.min_authors:
            continue
        first = rows[members[0]]
        out.append(
            Campaign(
                fingerprint=hashlib.sha256(canonical(first["text"]).encode()).hexdigest()[:32],
                item_ids=tuple(int(rows[i]["id"]) for i in members),
                unique_authors=len(authors),
                first_seen=first["created_at"],
                last_seen=rows[members[-1]]["created_at"],
                sample_text=first["text"],
            )
        )
    return out


def trend_weights(
    items: Sequence[Mapping[str, Any]],
    campaigns: Sequence[Campaign] | Mapping[int, Any] = (),
    *,
    per_campaign: float = 1.0,
) -> dict[int, float]:
    """How much each item counts in a trend: 1, but a campaign's posts share ``per_campaign`` between them.

    ``campaigns`` are found ``Campaign`` s or a ``{item id: campaign id}`` map (as ``storage.topics`` gives);
    an item with a ``campaign_id`` key counts as that campaign's too. 14 copies of one post then count as one
    mention, however many accounts posted them.

    >>> trend_weights([{"id": 1}, {"id": 2, "campaign_id": 7}, {"id": 3, "campaign_id": 7}])
    {1: 1.0, 2: 0.5, 3: 0.5}
    """
    if isinstance(campaigns, Mapping):
        of_item = {int(k): v for k, v in campaigns.items()}
    else:
        of_item = {i: c.fingerprint for c in campaigns for i in c.item_ids}
    camp = {
        int(r["id"]): r.get("campaign_id") if r.get("campaign_id") is not None else of_item.get(int(r["id"]))
        for r in items
    }
    sizes: dict[Any, int] = {}
    for c in camp.values():
        if c is not None:
            sizes[c] = sizes.get(c, 0) + 1
    return {i: (1.0 if c is None else per_campaign / sizes[c]) for i, c in camp.items()}


def weighted_count(items: Sequence[Mapping[str, Any]], weights: Mapping[int, float]) -> float:
    """The campaign-aware count of ``items``: the sum of their trend weights (1 each when unknown)."""
    return round(sum(weights.get(int(r["id"]), 1.0) for r in items), 4)


def detect_campaigns(
    engine: Any, *, start: datetime, end: datetime, args: CampaignArgs = CampaignArgs()
) -> list[Campaign]:
    """Find the campaigns among items created in [start, end) and store them (ids kept across reruns)."""
    from sqlalchemy import select

    from storage import topics as store
    from storage.schema import items as items_table

    with engine.connect() as conn:
        rows = [
            dict(r._mapping)
            for r in conn.execute(
                select(
                    items_table.c.id, items_table.c.text, items_table.c.author_key, items_table.c.created_at
                )
                .where(items_table.c.created_at >= start, items_table.c.created_at < end)
                .order_by(items_table.c.created_at, items_table.c.id)
            )
        ]
    found = find_campaigns(rows, args)
    with engine.begin() as conn:
        store.save_campaigns(conn, found)
    return found
