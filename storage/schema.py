"""The tables. One definition serves SQLite and PostgreSQL; ``storage.migrations`` creates and evolves them.

Every item keeps its source, source id and (masked) raw payload; every prediction carries the model version
that made it. Timestamps are stored and returned as timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

metadata = MetaData()

# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
PK = BigInteger().with_variant(Integer(), "sqlite")
JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on both backends (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: Suara stores timezone-aware datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


items = Table(
    "items",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("source", String(32), nullable=False),
    Column("source_id", String(191), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("author_key", String(64)),
    Column("text", Text, nullable=False),
    Column("language", String(16)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("collected_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("url", Text),
    Column("thread_id", String(191)),
    Column("parent_id", String(191)),
    Column("meta", JSONType, nullable=False),
    Column("raw", JSONType, nullable=False),
    Column("content_hash", String(64), nullable=False),
    UniqueConstraint("source", "source_id", name="uq_items_source_source_id"),
    Index("ix_items_created_at", "created_at"),
    Index("ix_items_thread", "source", "thread_id"),
)

predictions = Table(
    "predictions",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("item_id", PK, ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column("task", String(16), nullable=False),
    Column("model_version", String(191), nullable=False),
    # sentiment: one label; topics: topic ids joined with ";" ("" when none)
    Column("label", Text, nullable=False),
    Column("scores", JSONType, nullable=False),
    Column("confidence", Float),
    Column("created_at", UTCDateTime, nullable=False),
    Column("run_id", PK),
    UniqueConstraint("item_id", "task", "model_version", name="uq_predictions_item_task_version"),
    # "items without a prediction of version V" and reclassify's range reads walk (task, version, item_id);
    # it replaced ix_predictions_task_version (its prefix) in migration 0003
    Index("ix_predictions_task_version_item", "task", "model_version", "item_id"),
)

active_models = Table(
    "active_models",
    metadata,
    Column("task", String(16), primary_key=True),
    Column("model_version", String(191), nullable=False),
    Column("activated_at", UTCDateTime, nullable=False),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("name", String(191), primary_key=True),
    Column("cursor", Text),
    Column("meta", JSONType, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("source", String(32), nullable=False),
    Column("source_ref", String(191)),
    Column("reason", Text, nullable=False),
    # The rejected input as text, PII-masked like everything else in the store.
    Column("raw", Text, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("run_id", PK),
    UniqueConstraint("source", "fingerprint", name="uq_quarantine_source_fingerprint"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("flow", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("params", JSONType, nullable=False),
    Column("counts", JSONType, nullable=False),
    Column("errors", JSONType, nullable=False),
)

store_meta = Table(
    "store_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("name", String(191), primary_key=True),
    Column("applied_at", UTCDateTime, nullable=False),
)

# -- topics: discovered clusters and copy-paste campaigns (issue 5) ---------------------------------------------
# A cluster's id is its stable id ("issue #17"): a later period's cluster that matches its centroid keeps it.
# ``sizes`` and ``period_centroids`` are keyed by the period's first day (ISO date); ``centroid`` is their
# size-weighted mean, the vector later periods are matched against. Vectors are JSON lists of floats.
clusters = Table(
    "clusters",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("label", Text, nullable=False),
    Column("keywords", JSONType, nullable=False),
    Column("representatives", JSONType, nullable=False),  # item ids closest to the centroid, latest period
    Column("centroid", JSONType, nullable=False),
    Column("period_centroids", JSONType, nullable=False),
    Column("sizes", JSONType, nullable=False),
    Column("first_seen", String(10), nullable=False),  # first day of the first period it was seen in
    Column("last_seen", String(10), nullable=False),
    Column("novelty", Float, nullable=False),  # at first sight: 1 − similarity to the nearest topic/cluster
    Column("nearest", String(191), nullable=False),
    Column("method", String(32), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

cluster_members = Table(
    "cluster_members",
    metadata,
    Column("cluster_id", PK, ForeignKey("clusters.id", ondelete="CASCADE"), primary_key=True),
    Column("item_id", PK, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("period", String(10), primary_key=True),
    Column("similarity", Float, nullable=False),
    Index("ix_cluster_members_period", "period"),
    Index("ix_cluster_members_item", "item_id"),
)

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("fingerprint", String(64), nullable=False),
    Column("sample_text", Text, nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    Column("mentions", Integer, nullable=False),
    Column("unique_authors", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("fingerprint", name="uq_campaigns_fingerprint"),
)

campaign_members = Table(
    "campaign_members",
    metadata,
    Column("campaign_id", PK, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("item_id", PK, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_campaign_members_item", "item_id"),
)


# -- human labels (the review loop) ------------------------------------------------------------------------------
# What a person said an item's sentiment or topics are: one row per (item, task), the label that counts, decided
# from ``label_reviews`` below (with one reviewer, their latest review).
# ``label`` is written like a prediction's (a sentiment label; topic ids joined with ";"); ``source`` names the
# review file it came from. Training can add these to its data; ``suara review stats`` scores models on them.
labels = Table(
    "labels",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("item_id", PK, ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column("task", String(16), nullable=False),
    Column("label", Text, nullable=False),
    Column("labeller", String(191), nullable=False),
    Column("source", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("item_id", "task", name="uq_labels_item_task"),
    Index("ix_labels_task", "task"),
)

# Every review as given, append-only: who said what about an item, from which file, when. ``labels`` holds the
# label that counts, decided from these rows (each reviewer's latest; most reviewers win, a tie goes to the most
# recent review), so two people can review one item, their agreement can be measured, and nothing is lost.
label_reviews = Table(
    "label_reviews",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("item_id", PK, ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column("task", String(16), nullable=False),
    Column("label", Text, nullable=False),
    Column("labeller", String(191), nullable=False),
    Column("source", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_label_reviews_item_task", "item_id", "task"),
    Index("ix_label_reviews_task", "task"),
)
