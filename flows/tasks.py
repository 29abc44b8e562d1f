"""Tasks: thin wrappers around ``suara.jobs``. Retries only where there is I/O that can fail transiently."""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from collectors.files import FileMapping
from suara import jobs
from suara.config import get_settings


def engine(database_url: str | None):
    return jobs.db.get_engine(database_url or get_settings().database_url)


@task(retries=2, retry_delay_seconds=[2, 10], cache_policy=NO_CACHE)
def collect_file(path: str, mapping: dict[str, str] | None, database_url: str | None) -> dict[str, int]:
    result = jobs.collect_file(engine(database_url), path, FileMapping.parse(mapping))
    return result.as_dict()


@task(cache_policy=NO_CACHE)
def plan_classification(
    database_url: str | None, model: str | None, batch_size: int
) -> tuple[str, list[list[int]]]:
    """The model version to use and the batches of pending item ids (one task per batch, never per post)."""
    eng = engine(database_url)
    m = jobs.sentiment_model(eng, model)
    return m.version, jobs.pending_batches(eng, m.version, batch_size)


@task(cache_policy=NO_CACHE)
def classify_batch(
    database_url: str | None, model_version: str, ids: list[int], run_id: int | None = None
) -> int:
    eng = engine(database_url)
    return jobs.classify_ids(eng, jobs.sentiment_model(eng, model_version), ids, run_id)


@task(retries=1, retry_delay_seconds=[5], cache_policy=NO_CACHE)
def write_digest(
    database_url: str | None, period: str, last_day: date | None, out_dir: str, lang: str
) -> dict[str, Any]:
    eng = engine(database_url)
    files = jobs.write_digest(eng, period=period, last_day=last_day, out_dir=out_dir, lang=lang)
    markdown = files.markdown.read_text(encoding="utf-8")
    create_markdown_artifact(
        key=f"digest-{period}",
        markdown=markdown,
        description=f"Suara {period} digest ending {files.data.period.end}",
    )
    return {"markdown": str(files.markdown), "html": str(files.html), "items": files.data.total.count}


@task(cache_policy=NO_CACHE)
def newest_day(database_url: str | None) -> date | None:
    return jobs.latest_local_day(engine(database_url), get_settings().timezone)
