"""The weekly review queue: the items the active model was least sure of, as a file for a person to label.

    review_queue(ReviewParams(task="topics", limit=100))

Writes ``review/review-<task>-<last day>.xlsx`` (or ``.csv``) under the output directory (a rerun for the same days rewrites
the same file; items labelled in between drop out) and a ``review-queue`` artifact saying where it is. The
labels come back with ``suara review import``. When reviewers are split on any item, it also writes
``review/review-disputed-<task>-<last day>.xlsx`` listing those items with who said what, for a deciding review.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from prefect import flow

from flows import tasks
from flows.params import ReviewParams
from suara.config import get_settings


@flow(name="review-queue", log_prints=True)
def review_queue(params: ReviewParams | None = None) -> dict[str, object]:
    params = params or ReviewParams()
    until = params.last_day or datetime.now(ZoneInfo(get_settings().timezone)).date() - timedelta(days=1)
    since = until - timedelta(days=params.days - 1)
    exported = tasks.export_review_queue(
        params.database_url, params.task, params.limit, since, until, params.out_dir, params.file_format
    )
    tasks.publish_review_queue(exported, since, until)
    print(f"review queue: {exported['rows']} items in {exported['path']}")
    return exported
