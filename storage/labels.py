"""Human labels: what a reviewer said an item's sentiment or topics are (the review loop).

>>> queue = review_queue(conn, "sentiment", limit=100)        # least confident current predictions first
>>> save_labels(conn, [{"item_id": 7, "task": "sentiment", "label": "neutral", "labeller": "ana",
...                     "source": "review-2026-11-28.csv"}]).new
1

Every review is kept (``label_reviews``: who said what, from which file, when); ``labels`` holds the one label
per (item, task) that counts: each reviewer's latest review votes, most votes win, a tie goes to the most
recent review (and is *disputed* until a deciding review). With one reviewer a later review replaces the
label; a reviewer repeating their own latest label changes nothing. Labels outlive model versions; they are what
models are scored on and retrained with in the product's own domain.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select, tuple_

from storage.db import _chunks, _insert
from storage.schema import active_models, items, label_reviews, labels, predictions

TASKS = ("sentiment", "topics")


@dataclass
class LabelWrite:
    new: int = 0  # items that had no label for the task
    updated: int = 0  # items whose label changed
    unchanged: int = 0  # the label that counts stays (the same review again, or a reviewer agreeing)
    disputed: int = 0  # items of these rows whose reviewers are now split evenly (a deciding review helps)

    def __str__(self) -> str:
        text = f"{self.new} new, {self.updated} changed, {self.unchanged} unchanged"
        return text + (f", {self.disputed} disputed" if self.disputed else "")


@dataclass(frozen=True)
class Review:
    id: int  # order of arrival; rows not yet stored get ids above every stored one
    label: str
    labeller: str
    source: str


def deciding_label(reviews: Sequence[Review]) -> tuple[Review, bool]:
    """The review whose label counts among an item's ``reviews`` (any order), and whether it is disputed.

    Each reviewer's latest review votes; the label with most votes wins; a tie goes to the label reviewed most
    recently, and is a dispute. One reviewer: their latest label, never disputed."""
    latest: dict[str, Review] = {}
    for r in sorted(reviews, key=lambda r: r.id):
        latest[r.labeller] = r
    votes: dict[str, list[Review]] = {}
    for r in latest.values():
        votes.setdefault(r.label, []).append(r)
    most = max(len(v) for v in votes.values())
    tied = [max(v, key=lambda r: r.id) for v in votes.values() if len(v) == most]
    return max(tied, key=lambda r: r.id), len(tied) > 1


def _reviews_of(conn: Connection, keys: Sequence[tuple[int, str]]) -> dict[tuple[int, str], list[Review]]:
    found: dict[tuple[int, str], list[Review]] = {}
    for chunk in _chunks(sorted(set(keys))):
        stmt = select(
            label_reviews.c.id,
            label_reviews.c.item_id,
            label_reviews.c.task,
            label_reviews.c.label,
            label_reviews.c.labeller,
            label_reviews.c.source,
        ).where(tuple_(label_reviews.c.item_id, label_reviews.c.task).in_(list(chunk)))
        for r in conn.execute(stmt):
            found.setdefault((r.item_id, r.task), []).append(Review(r.id, r.label, r.labeller, r.source))
    return found


def save_labels(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> LabelWrite:
    """Record (item_id, task, label, labeller, source) reviews and update the label that counts; the caller has
    validated them.

    A reviewer's review that repeats their own latest label for the item is not recorded again, so importing a
    file twice (or an old file again after someone else reviewed its items) changes nothing."""
    out = LabelWrite()
    if not rows:
        return out
    latest: dict[tuple[int, str, str], Mapping[str, Any]] = {}
    for r in rows:  # a file that labels an item twice: its last row wins, as a later file's would
        latest[(int(r["item_id"]), str(r["task"]), str(r["labeller"]))] = r
    now = datetime.now(UTC)
    for chunk in _chunks(list(latest.items())):
        keys = sorted({(item_id, task) for (item_id, task, _), _ in chunk})
        reviews = _reviews_of(conn, keys)
        stmt = select(labels.c.item_id, labels.c.task, labels.c.label).where(  # keys: at most one chunk
            tuple_(labels.c.item_id, labels.c.task).in_(keys)
        )
        have = {(r.item_id, r.task): r.label for r in conn.execute(stmt)}
        fresh: list[dict[str, Any]] = []
        touched: set[tuple[int, str]] = set()
        next_id = 1 + max((v.id for rs in reviews.values() for v in rs), default=0)
        for (item_id, task, labeller), r in chunk:
            key = (item_id, task)
            own = [v for v in reviews.get(key, []) if v.labeller == labeller]
            if own and max(own, key=lambda v: v.id).label == r["label"]:
                out.unchanged += 1
                continue
            reviews.setdefault(key, []).append(Review(next_id, r["label"], labeller, r["source"]))
            next_id += 1
            touched.add(key)
            fresh.append(
                {
                    "item_id": item_id,
                    "task": task,
                    "label": r["label"],
                    "labeller": labeller,
                    "source": r["source"],
                    "created_at": now,
                }
            )
        if fresh:
            conn.execute(label_reviews.insert(), fresh)
        write = []
        for key in sorted(touched):
            decided, disputed = deciding_label(reviews[key])
            out.disputed += disputed
            old = have.get(key)
            if old == decided.label:
                out.unchanged += 1
                continue
            if old is None:
                out.new += 1
            else:
                out.updated += 1
            write.append(
                {
                    "item_id": key[0],
                    "task": key[1],
                    "label": decided.label,
                    "labeller": decided.labeller,
                    "source": decided.source,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        if write:
            stmt = _insert(conn, labels)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["item_id", "task"],
                    set_={c: stmt.excluded[c] for c in ("label", "labeller", "source", "updated_at")},
                ),
                write,
            )
    return out


def ids_by_key(conn: Connection, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """{(source, source_id): item id} for the keys this store has: an item's identity in every store."""
    found: dict[tuple[str, str], int] = {}
    for chunk in _chunks(sorted(set(keys))):
        stmt = select(items.c.source, items.c.source_id, items.c.id).where(
            tuple_(items.c.source, items.c.source_id).in_(list(chunk))
        )
        found.update({(r.source, r.source_id): r.id for r in conn.execute(stmt)})
    return found


def labelled_items(conn: Connection, task: str) -> list[dict[str, Any]]:
    """Every labelled item for ``task``: id, text, label, labeller, source; in item id order."""
    stmt = (
        select(items.c.id, items.c.text, labels.c.label, labels.c.labeller, labels.c.source)
        .join(labels, labels.c.item_id == items.c.id)
        .where(labels.c.task == task)
        .order_by(items.c.id)
    )
    return [dict(r._mapping) for r in conn.execute(stmt)]


def label_counts(conn: Connection) -> dict[str, dict[str, int]]:
    """{task: {label: count}}."""
    out: dict[str, dict[str, int]] = {}
    stmt = select(labels.c.task, labels.c.label, func.count()).group_by(labels.c.task, labels.c.label)
    for task, label, n in conn.execute(stmt):
        out.setdefault(task, {})[label] = int(n)
    return out


def _active_version(task: str):
    return select(active_models.c.model_version).where(active_models.c.task == task).scalar_subquery()


def current_predictions(
    conn: Connection, ids: Sequence[int], task: str, version: str | None = None
) -> dict[int, dict[str, Any]]:
    """The ``task`` prediction (label, confidence, version) of the active model, or of ``version``, for each of
    ``ids`` that has one."""
    out: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(sorted(set(ids))):
        stmt = select(
            predictions.c.item_id, predictions.c.label, predictions.c.confidence, predictions.c.model_version
        ).where(
            predictions.c.item_id.in_(list(chunk)),
            predictions.c.task == task,
            predictions.c.model_version == (version or _active_version(task)),
        )
        for r in conn.execute(stmt):
            out[r.item_id] = {"label": r.label, "confidence": r.confidence, "model_version": r.model_version}
    return out


def review_queue(
    conn: Connection,
    task: str,
    *,
    limit: int,
    start: datetime | None = None,
    end: datetime | None = None,
    sources: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Items worth a human look for ``task``: those with a prediction of the active model and no human label
    yet, least confident first (ties by id), created in [start, end) and from ``sources`` when given.

    Returned dicts: id, source, source_id, created_at, text, and ``confidence`` of the ``task`` prediction."""
    p = predictions.alias("p")
    lab = labels.alias("lab")
    stmt = (
        select(
            items.c.id, items.c.source, items.c.source_id, items.c.created_at, items.c.text, p.c.confidence
        )
        .select_from(
            items.join(
                p,
                and_(p.c.item_id == items.c.id, p.c.task == task, p.c.model_version == _active_version(task)),
            ).outerjoin(lab, and_(lab.c.item_id == items.c.id, lab.c.task == task))
        )
        .where(lab.c.id.is_(None))
        .order_by(func.coalesce(p.c.confidence, 0.0), items.c.id)
        .limit(limit)
    )
    return [dict(r._mapping) for r in conn.execute(_scoped(stmt, start, end, sources))]


def _scoped(stmt: Any, start: datetime | None, end: datetime | None, sources: Sequence[str]) -> Any:
    """``stmt`` restricted to items created in [start, end) and from ``sources``, where given."""
    if start is not None:
        stmt = stmt.where(items.c.created_at >= start)
    if end is not None:
        stmt = stmt.where(items.c.created_at < end)
    if sources:
        stmt = stmt.where(items.c.source.in_(list(sources)))
    return stmt


def labelled_pairs(conn: Connection, task: str) -> list[tuple[str, str]]:
    """(person's label, active model's predicted label) for each labelled item the active model has
    classified, in item id order."""
    labelled = labelled_items(conn, task)
    current = current_predictions(conn, [r["id"] for r in labelled], task)
    return [(r["label"], current[r["id"]]["label"]) for r in labelled if r["id"] in current]


def agreement(conn: Connection) -> dict[str, tuple[int, int]]:
    """{task: (labelled items with a current prediction, how many of them it gets right)}: for sentiment the
    same label; for topics the reviewer's first (main) topic among the predicted ones."""
    out: dict[str, tuple[int, int]] = {}
    for task in TASKS:
        pairs = labelled_pairs(conn, task)
        if task == "topics":
            right = sum(gold.split(";")[0] in pred.split(";") for gold, pred in pairs)
        else:
            right = sum(gold == pred for gold, pred in pairs)
        out[task] = (len(pairs), right)
    return out


def latest_reviews(conn: Connection, task: str) -> dict[int, dict[str, str]]:
    """{item id: {labeller: their latest label}} for the items two or more people reviewed for ``task``."""
    multi = (
        select(label_reviews.c.item_id)
        .where(label_reviews.c.task == task)
        .group_by(label_reviews.c.item_id)
        .having(func.count(func.distinct(label_reviews.c.labeller)) > 1)
    )
    stmt = (
        select(label_reviews.c.item_id, label_reviews.c.labeller, label_reviews.c.label)
        .where(label_reviews.c.task == task, label_reviews.c.item_id.in_(multi))
        .order_by(label_reviews.c.id)
    )
    out: dict[int, dict[str, str]] = {}
    for r in conn.execute(stmt):
        out.setdefault(r.item_id, {})[r.labeller] = r.label
    return out


def cohen_kappa(pairs: Sequence[tuple[str, str]]) -> float | None:
    """Cohen's kappa of two raters' labels: 1 = always agree, 0 = as often as chance would; ``None`` when
    chance agreement is certain (both gave one and the same label throughout)."""
    if not pairs:
        return None
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    first: dict[str, int] = {}
    second: dict[str, int] = {}
    for a, b in pairs:
        first[a] = first.get(a, 0) + 1
        second[b] = second.get(b, 0) + 1
    chance = sum(first[k] * second.get(k, 0) for k in first) / (n * n)
    return None if chance >= 1 else (observed - chance) / (1 - chance)


def reviewer_agreement(conn: Connection, task: str) -> dict[str, Any]:
    """How far reviewers agree on the items two or more of them reviewed (each one's latest label).

    ``items``: such items; ``all_agree``: how many of them every reviewer labelled alike; ``disputed``: how
    many have no majority label; ``pairs``: per pair of reviewers, the items both reviewed, how many alike and
    Cohen's kappa (for topics, on the main topic; ``jaccard``: mean overlap of the topic sets)."""
    reviewed = latest_reviews(conn, task)
    by_pair: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for votes in reviewed.values():
        names = sorted(votes)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                by_pair.setdefault((a, b), []).append((votes[a], votes[b]))
    pairs = []
    for (a, b), labels_ in sorted(by_pair.items()):
        entry: dict[str, Any] = {
            "reviewers": [a, b],
            "items": len(labels_),
            "alike": sum(x == y for x, y in labels_),
        }
        if task == "topics":
            main = [(x.split(";")[0], y.split(";")[0]) for x, y in labels_]
            entry["main_topic_alike"] = sum(x == y for x, y in main)
            entry["kappa_main_topic"] = _round(cohen_kappa(main))
            entry["jaccard"] = _round(sum(_jaccard(x, y) for x, y in labels_) / len(labels_))
        else:
            entry["kappa"] = _round(cohen_kappa(labels_))
        pairs.append(entry)
    disputed = sum(_split(votes) for votes in reviewed.values())
    return {
        "items": len(reviewed),
        "all_agree": sum(len(set(v.values())) == 1 for v in reviewed.values()),
        "disputed": disputed,
        "pairs": pairs,
    }


def disputed_items(conn: Connection, task: str) -> dict[int, dict[str, str]]:
    """{item id: {labeller: latest label}} for the items whose reviewers are split evenly for ``task``: a
    deciding review settles each."""
    return {item_id: votes for item_id, votes in latest_reviews(conn, task).items() if _split(votes)}


def _split(votes: Mapping[str, str]) -> bool:
    """Whether reviewers' latest labels ``{labeller: label}`` have no majority."""
    return deciding_label([Review(i, lab, who, "") for i, (who, lab) in enumerate(votes.items())])[1]


def disputed_queue(
    conn: Connection,
    task: str,
    *,
    limit: int,
    start: datetime | None = None,
    end: datetime | None = None,
    sources: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """The disputed items (created in [start, end), from ``sources``), oldest first, as review-queue rows
    (id, source, source_id, created_at, text) with ``reviews``: "ana: neutral | budi: negative"."""
    split = disputed_items(conn, task)
    out: list[dict[str, Any]] = []
    for chunk in _chunks(sorted(split)):
        stmt = select(items.c.id, items.c.source, items.c.source_id, items.c.created_at, items.c.text).where(
            items.c.id.in_(list(chunk))
        )
        for r in conn.execute(_scoped(stmt, start, end, sources).order_by(items.c.id)):
            votes = split[r.id]
            out.append({**r._mapping, "reviews": " | ".join(f"{who}: {votes[who]}" for who in sorted(votes))})
        if len(out) >= limit:  # chunks come in id order: the rest are newer
            break
    return out[:limit]


def _jaccard(a: str, b: str) -> float:
    x, y = set(a.split(";")), set(b.split(";"))
    return len(x & y) / len(x | y)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def review_history(conn: Connection, task: str | None = None) -> Iterator[dict[str, Any]]:
    """Every review (of ``task``, or all), oldest first: item_id, source, source_id, task, label, labeller,
    file, reviewed_at."""
    stmt = (
        select(
            label_reviews.c.item_id,
            items.c.source,
            items.c.source_id,
            label_reviews.c.task,
            label_reviews.c.label,
            label_reviews.c.labeller,
            label_reviews.c.source.label("file"),
            label_reviews.c.created_at.label("reviewed_at"),
        )
        .join(items, items.c.id == label_reviews.c.item_id)
        .order_by(label_reviews.c.id)
    )
    if task is not None:
        stmt = stmt.where(label_reviews.c.task == task)
    for r in conn.execute(stmt.execution_options(yield_per=1000)):
        yield dict(r._mapping)
