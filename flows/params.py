"""Flow parameters as pydantic models: they become the run form in the Prefect UI."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field


class StoreParams(BaseModel):
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SUARA_DATABASE_URL")


class CollectFileParams(StoreParams):
    path: str = Field(description="CSV or JSONL export to import")
    mapping: dict[str, str] | None = Field(default=None, description="field → column, e.g. {'text': 'isi'}")


class ClassifyParams(StoreParams):
    model: str | None = Field(default=None, description="name, version or path; default: the active model")
    batch_size: int = Field(
        default=1000, ge=1, description="items per task (keep ≥ 1000: tasks cost 5–10 ms)"
    )


class DigestParams(StoreParams):
    period: Literal["day", "week"] = "week"
    last_day: date | None = Field(
        default=None, description="last day included; default: yesterday / last Sunday"
    )
    out_dir: str = "out"
    lang: Literal["id", "en"] = "id"


class PipelineParams(StoreParams):
    source_file: str | None = Field(default=None, description="export to import; default: the bundled sample")
    model: str | None = None
    batch_size: int = Field(default=1000, ge=1)
    period: Literal["day", "week"] = "week"
    last_day: date | None = Field(default=None, description="default: the day of the newest item")
    out_dir: str = "out"
    lang: Literal["id", "en"] = "id"
