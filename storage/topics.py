"""Store discovered clusters (stable ids, memberships per period) and copy-paste campaigns: plain functions.

>>> with engine.begin() as conn:
...     ids = save_period_clusters(conn, date(2026, 10, 26), result.clusters)   # {position: stable id}
...     known = known_clusters(conn, date(2026, 11, 2))                          # what next week matches
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, delete, func, select

from storage.db import _chunks, _insert
from storage.schema import campaign_members, campaigns, cluster_members, clusters


def _now() -> datetime:
    return datetime.now(UTC)


def _vec(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / max(float(np.linalg.norm(x)), 1e-12)


def _weighted_centroid(sizes: Mapping[str, int], cents: Mapping[str, Any], before: str | None = None) -> Any:
    keys = [k for k in cents if before is None or k < before]
    if not keys:
        return None
    total = sum(sizes.get(k, 1) * _vec(cents[k]) for k in keys)
    return _unit(total)


# -- clusters ---------------------------------------------------------------------------------------------------
def known_clusters(conn: Connection, period_start: date) -> list[Any]:
    """Stored clusters as matching for the period starting ``period_start`` sees them.

    A cluster seen before that period contributes its centroid over the earlier periods (and its size in the
    latest of them, for growth); a cluster first seen in that very period (an earlier run of it) contributes
    its centroid there, marked ``same_period``, so a rerun gives the same ids.
    """
    from models.discovery import KnownCluster

    key = period_start.isoformat()
    out = []
    for row in conn.execute(select(clusters).order_by(clusters.c.id)):
        sizes, cents = dict(row.sizes), dict(row.period_centroids)
        earlier = _weighted_centroid(sizes, cents, before=key)
        if earlier is not None:
            last = max(k for k in cents if k < key)
            out.append(
                KnownCluster(
                    int(row.id), earlier, date.fromisoformat(row.first_seen), int(sizes.get(last, 0))
                )
            )
        elif key in cents:
            out.append(
                KnownCluster(int(row.id), _vec(cents[key]), date.fromisoformat(row.first_seen), 0, True)
            )
    return out


def save_period_clusters(
    conn: Connection, period_start: date, found: Sequence[Any], *, method: str = ""
) -> list[int]:
    """Store one period's clusters: update matched ones, create new ones, replace the period's memberships.

    ``found`` are ``models.discovery.PeriodCluster`` s; a cluster without an ``id`` gets a new one, written back
    onto it. Clusters that only existed in this period and were not found again are deleted. Returns the ids.
    """
    key = period_start.isoformat()
    now = _now()
    conn.execute(delete(cluster_members).where(cluster_members.c.period == key))
    kept: set[int] = set()
    for c in found:
        centroid = [round(float(v), 6) for v in c.centroid]
        common = {
            "label": c.label,
            "keywords": list(c.keywords),
            "representatives": list(c.representatives),
            "method": method,
            "updated_at": now,
        }
        row = None
        if c.id is not None:
            row = conn.execute(select(clusters).where(clusters.c.id == c.id)).one_or_none()
        if row is None:
            res = conn.execute(
                clusters.insert().values(
                    **common,
                    centroid=centroid,
                    period_centroids={key: centroid},
                    sizes={key: c.size},
                    first_seen=key,
                    last_seen=key,
                    novelty=float(c.novelty),
                    nearest=c.nearest,
                )
            )
            c.id = int(res.inserted_primary_key[0])
        else:
            sizes = {**dict(row.sizes), key: c.size}
            cents = {**dict(row.period_centroids), key: centroid}
            first = min(row.first_seen, key)
            values = dict(
                common,
                sizes=sizes,
                period_centroids=cents,
                centroid=[round(float(v), 6) for v in _weighted_centroid(sizes, cents)],
                first_seen=first,
                last_seen=max(row.last_seen, key),
            )
            if first == key:  # novelty and nearest describe the cluster when it first appeared
                values.update(novelty=float(c.novelty), nearest=c.nearest)
            conn.execute(clusters.update().where(clusters.c.id == c.id).values(**values))
        kept.add(c.id)
        members = [
            {"cluster_id": c.id, "item_id": i, "period": key, "similarity": float(s)}
            for i, s in zip(c.item_ids, c.similarities, strict=True)
        ]
        for chunk in _chunks(members):
            conn.execute(cluster_members.insert(), list(chunk))
    _forget_period(conn, key, kept)
    return [c.id for c in found]


def _forget_period(conn: Connection, key: str, kept: set[int]) -> None:
    """Take ``key`` out of the history of clusters this run did not find there; drop those left empty."""
    for row in conn.execute(select(clusters)).all():
        if row.id in kept or key not in dict(row.sizes):
            continue
        sizes = {k: v for k, v in dict(row.sizes).items() if k != key}
        cents = {k: v for k, v in dict(row.period_centroids).items() if k != key}
        if not sizes:
            conn.execute(delete(clusters).where(clusters.c.id == row.id))
            continue
        conn.execute(
            clusters.update()
            .where(clusters.c.id == row.id)
            .values(
                sizes=sizes,
                period_centroids=cents,
                centroid=[round(float(v), 6) for v in _weighted_centroid(sizes, cents)],
                first_seen=min(sizes),
                last_seen=max(sizes),
                updated_at=_now(),
            )
        )


def load_clusters(conn: Connection, *, period_start: date | None = None) -> list[dict[str, Any]]:
    """Stored clusters (all, or those seen in the period starting ``period_start``), with their members then.

    Each dict has id, label, keywords, representatives, sizes, first_seen, last_seen, novelty, nearest, size
    (in that period, or overall) and members (item ids, the period's when given).
    """
    key = period_start.isoformat() if period_start else None
    members: dict[int, list[int]] = {}
    stmt = select(cluster_members.c.cluster_id, cluster_members.c.item_id).order_by(
        cluster_members.c.cluster_id, cluster_members.c.similarity.desc(), cluster_members.c.item_id
    )
    if key:
        stmt = stmt.where(cluster_members.c.period == key)
    for cid, item_id in conn.execute(stmt):
        members.setdefault(int(cid), []).append(int(item_id))
    out = []
    for row in conn.execute(select(clusters).order_by(clusters.c.id)):
        sizes = dict(row.sizes)
        if key and key not in sizes:
            continue
        out.append(
            {
                "id": int(row.id),
                "label": row.label,
                "keywords": list(row.keywords),
                "representatives": list(row.representatives),
                "sizes": sizes,
                "size": sizes[key] if key else sum(sizes.values()),
                "first_seen": row.first_seen,
                "last_seen": row.last_seen,
                "is_new": bool(key and row.first_seen == key),
                "novelty": row.novelty,
                "nearest": row.nearest,
                "members": members.get(int(row.id), []),
            }
        )
    return out


# -- campaigns --------------------------------------------------------------------------------------------------
def save_campaigns(conn: Connection, found: Sequence[Any]) -> list[int]:
    """Store campaigns (``models.campaigns.Campaign``); one already stored (same fingerprint, or sharing a member)
    is updated and keeps its id. Returns the ids, in order."""
    now = _now()
    ids = []
    for camp in found:
        existing = conn.execute(
            select(campaigns.c.id).where(campaigns.c.fingerprint == camp.fingerprint)
        ).scalar_one_or_none()
        if existing is None and camp.item_ids:
            existing = conn.execute(
                select(campaign_members.c.campaign_id)
                .where(campaign_members.c.item_id.in_(list(camp.item_ids)))
                .order_by(campaign_members.c.campaign_id)
                .limit(1)
            ).scalar_one_or_none()
        values = {
            "sample_text": camp.sample_text,
            "first_seen": camp.first_seen,
            "last_seen": camp.last_seen,
            "mentions": camp.mentions,
            "unique_authors": camp.unique_authors,
            "updated_at": now,
        }
        if existing is None:
            res = conn.execute(campaigns.insert().values(fingerprint=camp.fingerprint, **values))
            cid = int(res.inserted_primary_key[0])
        else:
            cid = int(existing)
            conn.execute(campaigns.update().where(campaigns.c.id == cid).values(**values))
        stmt = _insert(conn, campaign_members).on_conflict_do_nothing(
            index_elements=["campaign_id", "item_id"]
        )
        for chunk in _chunks([{"campaign_id": cid, "item_id": i} for i in camp.item_ids]):
            conn.execute(stmt, list(chunk))
        ids.append(cid)
    return ids


def load_campaigns(conn: Connection) -> list[dict[str, Any]]:
    """Every stored campaign with its member item ids, oldest first."""
    members: dict[int, list[int]] = {}
    for cid, item_id in conn.execute(
        select(campaign_members.c.campaign_id, campaign_members.c.item_id).order_by(
            campaign_members.c.item_id
        )
    ):
        members.setdefault(int(cid), []).append(int(item_id))
    rows = conn.execute(select(campaigns).order_by(campaigns.c.first_seen, campaigns.c.id))
    return [{**dict(r._mapping), "members": members.get(int(r.id), [])} for r in rows]


def campaign_of_items(conn: Connection, item_ids: Sequence[int]) -> dict[int, int]:
    """``{item id: campaign id}`` for the items that belong to a campaign (for trend counting)."""
    out: dict[int, int] = {}
    for chunk in _chunks(list(item_ids)):
        rows = conn.execute(
            select(campaign_members.c.item_id, func.min(campaign_members.c.campaign_id))
            .where(campaign_members.c.item_id.in_(list(chunk)))
            .group_by(campaign_members.c.item_id)
        )
        out.update({int(i): int(c) for i, c in rows})
    return out
