"""Tasks: thin wrappers around ``suara.jobs``.

Retries only on I/O that can fail transiently (a source, the digest files), with the delays written out, and
never on an error a retry cannot fix (a missing setting, refused credentials, a spent usage cap). Batch tasks
are not retried: classification and reclassification are resumable, the next run does what is left.
Every task takes the store's URL, not an engine, so that it can run in another process (a Dask worker).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.sync import concurrency

from collectors.errors import SourceAuthError, SourceNotFound, UsageCapExceeded
from collectors.files import FileMapping
from flows import sources
from flows.secret_blocks import secret
from storage.reclassify import Scope
from suara import jobs
from suara.config import get_settings
from suara.errors import ConfigError, InputError, ModelError

RETRY_DELAYS = [2, 5, 15]
X_API_LIMIT = "x-api"  # global concurrency limit: one X reader at a time across every worker
_NOT_WORTH_RETRYING = (ConfigError, InputError, ModelError, SourceAuthError, SourceNotFound, UsageCapExceeded)


def transient(task, task_run, state) -> bool:
    """Retry condition: retry unless the error says a retry cannot help."""
    return not isinstance(state.data, _NOT_WORTH_RETRYING)


def engine(database_url: str | None):
    return jobs.db.get_engine(database_url or get_settings().database_url)


io_task = task(
    retries=3, retry_delay_seconds=RETRY_DELAYS, retry_condition_fn=transient, cache_policy=NO_CACHE
)


# -- collect ----------------------------------------------------------------------------------------------------
@io_task
def collect_file(
    path: str, mapping: dict[str, str] | None, database_url: str | None, sheet: str | None = None
) -> dict[str, int]:
    collector = jobs.file_collector(path, FileMapping.parse(mapping), sheet=sheet)
    return jobs.run_collector(engine(database_url), collector).as_dict()


@io_task
def collect_x_query(database_url: str | None, query: str, max_posts: int | None = None) -> dict[str, int]:
    eng = engine(database_url)
    with concurrency(X_API_LIMIT, occupy=1):
        result = jobs.run_collector(eng, sources.x_collector(eng, query, max_posts))
    _notes(result)
    return result.as_dict()


@io_task
def collect_zendesk(database_url: str | None, max_pages: int | None, comments: bool) -> dict[str, int]:
    result = jobs.run_collector(engine(database_url), sources.zendesk_collector(max_pages, comments))
    _notes(result)
    return result.as_dict()


@io_task
def collect_freshdesk(database_url: str | None, max_pages: int | None, conversations: bool) -> dict[str, int]:
    result = jobs.run_collector(engine(database_url), sources.freshdesk_collector(max_pages, conversations))
    _notes(result)
    return result.as_dict()


@io_task
def collect_imap(database_url: str | None, folder: str | None) -> dict[str, int]:
    result = jobs.run_collector(engine(database_url), sources.imap_collector(folder))
    _notes(result)
    return result.as_dict()


def _notes(result: jobs.CollectResult) -> None:
    print(str(result))
    for note in result.notes:
        print(f"note: {note}")


# -- classify ---------------------------------------------------------------------------------------------------
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
    database_url: str | None,
    model_version: str,
    ids: list[int],
    run_id: int | None = None,
    topics: bool = False,
) -> tuple[int, int]:
    """Sentiment for a batch and, with ``topics`` and a topic model that reads the sentiment model's vectors,
    topics from the same encoder pass: (sentiment rows, topic rows)."""
    eng = engine(database_url)
    model = jobs.sentiment_model(eng, model_version)
    topic_model = jobs.active_topic_model(eng) if topics else None
    return jobs.classify_ids(eng, model, ids, run_id, topic_model)


@task(cache_policy=NO_CACHE)
def classify_topics(
    database_url: str | None, batch_size: int, sentiment_version: str | None = None
) -> tuple[int, str]:
    """Topics for every item without a prediction from the active topic model: (items, version). With
    ``sentiment_version``, a topic model that reads that model's vectors reuses it (loaded once per process)."""
    eng = engine(database_url)
    sentiment = jobs.sentiment_model(eng, sentiment_version) if sentiment_version else None
    return jobs.classify_topics(eng, batch_size, get_settings(), sentiment)


# -- reclassify -------------------------------------------------------------------------------------------------
def _model(model_path: str):
    return jobs.load_reclassifier(model_path, str(get_settings().model_dir))  # once per worker process


@task(cache_policy=NO_CACHE)
def plan_reclassify(
    database_url: str | None, model: str, scope: Scope, batch_size: int, dry_run: bool
) -> jobs.ReclassifyPlan:
    return jobs.plan_reclassify(engine(database_url), model, scope, batch_size=batch_size, dry_run=dry_run)


@task(cache_policy=NO_CACHE)
def reclassify_chunk(
    database_url: str | None,
    model_path: str,
    scope: Scope,
    first: int,
    last: int,
    run_id: int | None,
    partner: str | None = None,
) -> int:
    return jobs.reclassify_chunk(
        engine(database_url),
        _model(model_path),
        scope,
        first,
        last,
        run_id,
        partner,
        str(get_settings().model_dir),
    )


@task(cache_policy=NO_CACHE)
def dry_reclassify_chunk(
    database_url: str | None,
    model_path: str,
    scope: Scope,
    old_version: str | None,
    first: int,
    last: int,
    max_examples: int,
) -> jobs.ReclassifyDiff:
    return jobs.dry_reclassify_chunk(
        engine(database_url), _model(model_path), scope, old_version, first, last, max_examples
    )


@task(cache_policy=NO_CACHE)
def finish_reclassify(
    database_url: str | None, plan: jobs.ReclassifyPlan, predicted: int, activate: bool, max_examples: int
) -> jobs.ReclassifyResult:
    return jobs.finish_reclassify(
        engine(database_url), plan, predicted, activate=activate, max_examples=max_examples
    )


# -- digest and artifacts ---------------------------------------------------------------------------------------
@io_task
def write_digest(
    database_url: str | None, period: str, last_day: date | None, out_dir: str | None, lang: str
) -> jobs.DigestFiles:
    return jobs.write_digest(
        engine(database_url),
        period=period,
        last_day=last_day,
        out_dir=out_dir or get_settings().out_dir,
        lang=lang,
    )


@task(cache_policy=NO_CACHE)
def publish_digest(period: str, files: jobs.DigestFiles) -> str:
    """The digest's Markdown as the ``digest-day`` / ``digest-week`` artifact."""
    data = files.data
    return str(
        create_markdown_artifact(
            key=f"digest-{period}",
            markdown=files.markdown.read_text(encoding="utf-8"),
            description=f"Suara {period} digest ending {data.period.end} ({data.total.count} items)",
        )
    )


@task(cache_policy=NO_CACHE)
def deliver_digest(database_url: str | None, files: jobs.DigestFiles, to: list[str], lang: str) -> list[str]:
    """Send the written digest; Slack and SMTP secrets come from their Secret blocks first. Each channel is
    retried inside (``digest.deliver``); a channel that still fails fails the task after the others went."""
    from pydantic import SecretStr

    from digest.deliver import DeliveryError

    settings = get_settings()
    found = {name: secret(name) for name in ("slack_webhook_url", "smtp_password")}
    settings = settings.model_copy(update={k: SecretStr(v) for k, v in found.items() if v})
    results = jobs.deliver_digest(engine(database_url), files, to=to, lang=lang, settings=settings)
    for r in results:
        print(str(r))
    failed = [str(r) for r in results if not r.ok]
    if failed:
        raise DeliveryError("; ".join(failed))
    return [str(r) for r in results]


@task(cache_policy=NO_CACHE)
def publish_markdown(key: str, markdown: str, description: str) -> str:
    """A markdown artifact under a stable ``key``: the UI keeps every version of it as its history."""
    return str(create_markdown_artifact(key=key, markdown=markdown, description=description))


@task(cache_policy=NO_CACHE)
def newest_day(database_url: str | None) -> date | None:
    return jobs.latest_local_day(engine(database_url), get_settings().timezone)


# -- review -----------------------------------------------------------------------------------------------------
@task(cache_policy=NO_CACHE)
def export_review_queue(
    database_url: str | None,
    task_name: str,
    limit: int,
    since: date,
    until: date,
    out_dir: str | None,
    file_format: str = "xlsx",
) -> dict[str, object]:
    """The review file for [since, until] (local days) under ``out_dir/review/``, and its row count; and,
    when reviewers are split on any item (whenever it was posted), ``review-disputed-<task>-<day>`` with those
    items for a deciding review."""
    from suara import review

    settings = get_settings()
    scope = Scope.from_days(since, until, None, settings.timezone)
    folder = Path(out_dir or settings.out_dir) / "review"
    store = engine(database_url)
    result = review.export_queue(
        store,
        folder / f"review-{task_name}-{until.isoformat()}.{file_format}",
        task=task_name,
        limit=limit,
        start=scope.since,
        end=scope.until,
    )
    out: dict[str, object] = {
        "path": str(result.path),
        "rows": result.rows,
        "model_version": result.model_version,
        "disputed": 0,
    }
    disputed_path = folder / f"review-disputed-{task_name}-{until.isoformat()}.{file_format}"
    disputed = review.export_queue(store, disputed_path, task=task_name, limit=limit, disputed=True)
    if disputed.rows:
        out.update(disputed=disputed.rows, disputed_path=str(disputed.path))
    else:  # nothing to decide: no empty file for a reviewer to open
        disputed_path.unlink()
    return out


@task(cache_policy=NO_CACHE)
def publish_review_queue(exported: dict[str, object], since: date, until: date) -> str:
    """A ``review-queue`` artifact: where the file is and what to do with it."""
    return str(
        create_markdown_artifact(
            key="review-queue",
            markdown=(
                f"**{exported['rows']} items** from {since} to {until} that `{exported['model_version']}` is "
                f"least sure of: `{exported['path']}`.\n\nFill `sentiment` and/or `topics`, then "
                f"`suara review import {exported['path']} --labeller NAME`."
                + (
                    f"\n\nReviewers are split on **{exported['disputed']} items**: "
                    f"`{exported['disputed_path']}` lists them with who said what, for a deciding review "
                    "(imported the same way)."
                    if exported.get("disputed")
                    else ""
                )
            ),
            description=f"Suara review queue {since} – {until}",
        )
    )
