"""Flow parameters as pydantic models: they become the run form in the Prefect UI.

Secrets are never parameters (parameters are stored with every run): collectors read them at run time from
Prefect Secret blocks or the environment, see ``flows.secret_blocks``.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field


class StoreParams(BaseModel):
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SUARA_DATABASE_URL")


class ShardParams(BaseModel):
    """Where batch tasks run: in the flow's process (default), on a local Dask cluster, or on a running one."""

    dask_workers: int = Field(
        default=0, ge=0, description="run batches on a local Dask cluster of this many processes (0: no Dask)"
    )
    dask_address: str | None = Field(
        default=None, description="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786"
    )


# -- collect ----------------------------------------------------------------------------------------------------
class CollectFileParams(StoreParams):
    path: str = Field(description="CSV, JSONL or XLSX export to import")
    mapping: dict[str, str] | None = Field(default=None, description="field → column, e.g. {'text': 'isi'}")
    sheet: str | None = Field(default=None, description="XLSX sheet name (default: the first)")


class CollectXParams(StoreParams):
    queries: list[str] | None = Field(default=None, description="X search queries; default SUARA_X_QUERIES")
    max_posts: int | None = Field(
        default=None,
        ge=10,
        description="read at most this many posts per query; default SUARA_X_MAX_POSTS_PER_RUN",
    )


class CollectZendeskParams(StoreParams):
    max_pages: int | None = Field(default=None, ge=1, description="stop after this many export pages")
    comments: bool = Field(default=True, description="also read customer comments (one request per ticket)")


class CollectFreshdeskParams(StoreParams):
    max_pages: int | None = Field(default=None, ge=1, description="stop after this many pages")
    conversations: bool = Field(
        default=True, description="also read customer replies (one request per ticket)"
    )


class CollectImapParams(StoreParams):
    folder: str | None = Field(default=None, description="mailbox folder; default SUARA_IMAP_FOLDER")


# -- classify / reclassify --------------------------------------------------------------------------------------
class ClassifyParams(StoreParams, ShardParams):
    model: str | None = Field(default=None, description="name, version or path; default: the active model")
    batch_size: int = Field(
        default=1000, ge=1, description="items per task (keep ≥ 1000: tasks cost 5–10 ms)"
    )
    topics: bool = Field(default=True, description="also give topics from the active topic model")


class ReclassifyParams(StoreParams, ShardParams):
    model: str = Field(
        description="the new sentiment or topic model: name, version or path, e.g. sentiment-tfidf, topics-e5"
    )
    since: date | None = Field(default=None, description="first day of items to relabel (local time)")
    until: date | None = Field(default=None, description="last day of items to relabel, included")
    sources: list[str] | None = Field(default=None, description="only these sources, e.g. ['x', 'zendesk']")
    dry_run: bool = Field(default=False, description="write nothing; report what would change")
    batch_size: int = Field(default=1000, ge=1, description="items per chunk (keep ≥ 1000 in production)")
    activate: bool = Field(
        default=False, description="make the new version current once every item in scope has it"
    )
    examples: int = Field(default=5, ge=0, le=50, description="changed items shown in the diff")


# -- digest -----------------------------------------------------------------------------------------------------
class DigestParams(StoreParams):
    period: Literal["day", "week"] = "week"
    last_day: date | None = Field(
        default=None, description="last day included; default: yesterday / last Sunday"
    )
    out_dir: str | None = Field(default=None, description="directory; default SUARA_OUT_DIR")
    lang: Literal["id", "en"] = "id"
    to: list[Literal["file", "slack", "email"]] = Field(
        default=["file"], description="where it goes: the file archive, Slack, e-mail"
    )


# -- review -----------------------------------------------------------------------------------------------------
class ReviewParams(StoreParams):
    task: Literal["sentiment", "topics"] = Field(
        default="sentiment", description="rank by this task's confidence (least sure first)"
    )
    limit: int = Field(default=200, ge=1, le=10_000, description="items in the review file")
    days: int = Field(default=7, ge=1, description="items created in the last this many days (local time)")
    last_day: date | None = Field(default=None, description="last day included; default: yesterday")
    out_dir: str | None = Field(default=None, description="directory; default SUARA_OUT_DIR (under review/)")
    file_format: Literal["xlsx", "csv"] = Field(
        default="xlsx", description="xlsx for Excel (keeps long ids exact), or csv"
    )


class PipelineParams(StoreParams):
    source_file: str | None = Field(default=None, description="export to import; default: the bundled sample")
    model: str | None = None
    batch_size: int = Field(default=1000, ge=1)
    period: Literal["day", "week"] = "week"
    last_day: date | None = Field(default=None, description="default: the day of the newest item")
    out_dir: str = "out"
    lang: Literal["id", "en"] = "id"
