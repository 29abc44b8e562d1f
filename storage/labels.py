"""Human labels: what a reviewer said an item's sentiment or topics are (the review loop).

>>> queue = review_queue(conn, "sentiment", limit=100)        # least confident current predictions first
>>> save_labels(conn, [{"item_id": 7, "task": "sentiment", "label": "neutral", "labeller": "ana",
...                     "source": "review-2026-11-28.csv"}]).new
1

One row per (item, task): a later review of the same item replaces the label, the same label again changes
nothing. Labels outlive model versions; they are what models are scored on and retrained with in the product's
own domain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select, tuple_

from storage.db import _chunks, _insert
from storage.schema import active_models, items, labels, predictions

TASKS = ("sentiment", "topics")


@dataclass
class LabelWrite:
    new: int = 0
    updated: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return f"{self.new} new, {self.updated} changed, {self.unchanged} unchanged"


def save_labels(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> LabelWrite:
    """Upsert (item_id, task, label, labeller, source) rows; the caller has validated them."""
    out = LabelWrite()
    if not rows:
        return out
    latest: dict[tuple[int, str], Mapping[str, Any]] = {}
    for r in rows:  # a file that labels an item twice: its last row wins, as a later file's would
        latest[(int(r["item_id"]), str(r["task"]))] = r
    now = datetime.now(UTC)
    for chunk in _chunks(list(latest.items())):
        ids = sorted({item_id for (item_id, _), _ in chunk})
        have = {
            (r.item_id, r.task): r.label
            for r in conn.execute(
                select(labels.c.item_id, labels.c.task, labels.c.label).where(labels.c.item_id.in_(ids))
            )
        }
        write = []
        for key, r in chunk:
            old = have.get(key)
            if old == r["label"]:
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
                    "label": r["label"],
                    "labeller": r["labeller"],
                    "source": r["source"],
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


def current_predictions(conn: Connection, ids: Sequence[int], task: str) -> dict[int, dict[str, Any]]:
    """The active model's ``task`` prediction (label, confidence, version) for each of ``ids`` that has one."""
    out: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(sorted(set(ids))):
        stmt = select(
            predictions.c.item_id, predictions.c.label, predictions.c.confidence, predictions.c.model_version
        ).where(
            predictions.c.item_id.in_(list(chunk)),
            predictions.c.task == task,
            predictions.c.model_version == _active_version(task),
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
    if start is not None:
        stmt = stmt.where(items.c.created_at >= start)
    if end is not None:
        stmt = stmt.where(items.c.created_at < end)
    if sources:
        stmt = stmt.where(items.c.source.in_(list(sources)))
    return [dict(r._mapping) for r in conn.execute(stmt)]


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
