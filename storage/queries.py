"""Reads for classify, digest and reclassify: plain functions over a connection."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select

from storage.db import _chunks
from storage.schema import active_models, items, labels, predictions


def pending_item_ids(
    conn: Connection, task: str, model_version: str, *, after_id: int = 0, limit: int | None = None
) -> list[int]:
    """Ids of items with no ``task`` prediction from ``model_version``, in id order (the incremental set)."""
    p = predictions.alias("p")
    stmt = (
        select(items.c.id)
        .outerjoin(p, and_(p.c.item_id == items.c.id, p.c.task == task, p.c.model_version == model_version))
        .where(p.c.id.is_(None), items.c.id > after_id)
        .order_by(items.c.id)
    )
    if limit:
        stmt = stmt.limit(limit)
    return list(conn.execute(stmt).scalars())


def item_texts(conn: Connection, ids: Sequence[int]) -> list[tuple[int, str]]:
    """(id, text) of the ids this store has, in id order; any number of ids (read in chunks)."""
    out: list[tuple[int, str]] = []
    for chunk in _chunks(sorted(set(ids))):
        rows = conn.execute(
            select(items.c.id, items.c.text).where(items.c.id.in_(list(chunk))).order_by(items.c.id)
        )
        out += [(r.id, r.text) for r in rows]
    return out


def count_items(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(items)).scalar_one())


def latest_item_time(conn: Connection) -> datetime | None:
    return conn.execute(select(func.max(items.c.created_at))).scalar_one_or_none()


def items_with_current_predictions(conn: Connection, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Items created in [start, end) with the prediction of the active model for each task (None if none), and
    ``aspects`` ({topic: sentiment}) where the active models found a topic judged apart from the item.

    Where a person reviewed the item (``suara review import``), their label stands in for the prediction:
    ``sentiment`` (confidence 1, no aspects) and ``topics`` (aspects kept for those topics only); ``reviewed``
    says so.

    Returned as plain dicts, oldest first, ready for ``digest.build``.
    """
    sent = predictions.alias("sent")
    lab_s = labels.alias("lab_s")
    lab_t = labels.alias("lab_t")
    top = predictions.alias("top")
    asp = predictions.alias("asp")
    act_s = active_models.alias("act_s")
    act_t = active_models.alias("act_t")
    stmt = (
        select(
            items.c.id,
            items.c.source,
            items.c.kind,
            items.c.author_key,
            items.c.text,
            items.c.created_at,
            items.c.url,
            items.c.thread_id,
            items.c.meta,
            sent.c.label.label("sentiment"),
            sent.c.confidence.label("sentiment_confidence"),
            sent.c.model_version.label("sentiment_model"),
            top.c.label.label("topics"),
            top.c.model_version.label("topics_model"),
            asp.c.scores.label("aspects"),
            lab_s.c.label.label("reviewed_sentiment"),
            lab_t.c.label.label("reviewed_topics"),
        )
        .select_from(items)
        .outerjoin(act_s, act_s.c.task == "sentiment")
        .outerjoin(
            sent,
            and_(
                sent.c.item_id == items.c.id,
                sent.c.task == "sentiment",
                sent.c.model_version == act_s.c.model_version,
            ),
        )
        .outerjoin(act_t, act_t.c.task == "topics")
        .outerjoin(
            top,
            and_(
                top.c.item_id == items.c.id,
                top.c.task == "topics",
                top.c.model_version == act_t.c.model_version,
            ),
        )
        .outerjoin(
            asp,
            and_(
                asp.c.item_id == items.c.id,
                asp.c.task == "aspects",
                # from the active topic and sentiment models both (models.aspects.aspect_version)
                asp.c.model_version == act_t.c.model_version + "@" + act_s.c.model_version,
            ),
        )
        .outerjoin(lab_s, and_(lab_s.c.item_id == items.c.id, lab_s.c.task == "sentiment"))
        .outerjoin(lab_t, and_(lab_t.c.item_id == items.c.id, lab_t.c.task == "topics"))
        .where(items.c.created_at >= start, items.c.created_at < end)
        .order_by(items.c.created_at, items.c.id)
    )
    return [_with_reviews(dict(r._mapping)) for r in conn.execute(stmt)]


def _with_reviews(row: dict[str, Any]) -> dict[str, Any]:
    sentiment, topics = row.pop("reviewed_sentiment"), row.pop("reviewed_topics")
    if sentiment is not None:
        row.update(sentiment=sentiment, sentiment_confidence=1.0, aspects=None)
    if topics is not None:
        row["topics"] = topics
        if isinstance(row.get("aspects"), dict):
            kept = set(topics.split(";"))
            row["aspects"] = {t: s for t, s in row["aspects"].items() if t in kept} or None
    row["reviewed"] = sentiment is not None or topics is not None
    return row


def latest_by_source(conn: Connection) -> dict[str, datetime]:
    """The newest item time per source: how fresh each source's data is."""
    rows = conn.execute(select(items.c.source, func.max(items.c.created_at)).group_by(items.c.source))
    return {s: t for s, t in rows}


def first_item_time(conn: Connection) -> datetime | None:
    """The oldest item's time: before it the store knows nothing (the digest's baselines start there)."""
    return conn.execute(select(func.min(items.c.created_at))).scalar_one_or_none()
