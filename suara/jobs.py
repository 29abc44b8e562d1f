"""The pipeline's steps as plain functions over an engine: what the flows and the CLI both call.

    collect_file(engine, "sample.jsonl")       → CollectResult (new / updated / unchanged / quarantined)
    run_collector(engine, collector)            → CollectResult, page by page from the saved checkpoint
    classify_pending(engine)                    → ClassifyResult (items classified, model version)
    write_digest(engine, period="week", ...)    → DigestFiles (Markdown and HTML paths)

Each records what it did in the ``runs`` table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from collectors.base import PagedCollector
from collectors.files import FileCollector, FileMapping
from collectors.xlsx import XlsxCollector
from digest.build import DigestData, Period, build_digest
from digest.render import render_html, render_markdown
from models.sentiment import SentimentModel
from storage import db, queries
from storage.ingest import IngestResult, ingest
from suara.config import Settings, get_settings

SAMPLE_FILE = Path(__file__).resolve().parent / "sample" / "feedback.jsonl"


def engine_for(settings: Settings | None = None) -> Engine:
    return db.get_engine((settings or get_settings()).database_url)


@contextmanager
def recorded_run(engine: Engine, flow: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Record a ``runs`` row around a step; the step fills the yielded dict with its counts."""
    with engine.begin() as conn:
        run_id = db.start_run(conn, flow, params)
    counts: dict[str, Any] = {"run_id": run_id}
    try:
        yield counts
    except Exception as exc:
        with engine.begin() as conn:
            db.finish_run(
                conn, run_id, status="failed", counts=_plain(counts), errors=[f"{type(exc).__name__}: {exc}"]
            )
        raise
    with engine.begin() as conn:
        db.finish_run(conn, run_id, status="completed", counts=_plain(counts))


def _plain(counts: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in counts.items() if k != "run_id"}


# -- collect ----------------------------------------------------------------------------------------------------
def collect_file(
    engine: Engine,
    path: Path | str,
    mapping: FileMapping | None = None,
    *,
    sheet: str | None = None,
    settings: Settings | None = None,
) -> CollectResult:
    """Import a CSV/JSONL export; importing the same file again adds nothing."""
    return run_collector(engine, file_collector(path, mapping, sheet=sheet), settings=settings)


def file_collector(
    path: Path | str, mapping: FileMapping | None = None, *, sheet: str | None = None
) -> FileCollector:
    """The collector for an export by its suffix: CSV/JSONL, or an XLSX workbook (first sheet or ``sheet``)."""
    if Path(path).suffix.lower() in XlsxCollector.suffixes:
        return XlsxCollector(path, mapping or FileMapping(), sheet=sheet)
    return FileCollector(path, mapping or FileMapping())


@dataclass
class CollectResult(IngestResult):
    """What one collection run did: the one-line summary a user sees."""

    source: str = ""
    skipped: int = 0  # read but not feedback of its own (agent replies, private notes, re-read boundaries)
    pages: int = 0
    checkpoint: str | None = None
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.source}: {self.new} new, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.quarantined} quarantined, {self.skipped} skipped, {self.pages} pages"
        )


def run_collector(
    engine: Engine,
    collector: PagedCollector,
    *,
    settings: Settings | None = None,
    on_page: Callable[[CollectResult], None] | None = None,
) -> CollectResult:
    """Read a paged source from its checkpoint; each page is stored in its own transaction together with the
    checkpoint it makes safe, so a crash after page k keeps pages 1..k and a rerun loses and duplicates nothing.
    """
    settings = settings or get_settings()
    result = CollectResult(source=collector.source)
    params = {"source": collector.source, "checkpoint": collector.checkpoint_name}
    with recorded_run(engine, f"collect-{collector.source}", params) as counts:
        with engine.begin() as conn:
            cursor, _ = db.get_checkpoint(conn, collector.checkpoint_name)
            salt = db.author_salt(
                conn, settings.author_salt.get_secret_value() if settings.author_salt else None
            )
        result.checkpoint = cursor
        for page in collector.pages(cursor):
            with engine.begin() as conn:
                result.add(
                    ingest(
                        conn,
                        page.records,
                        salt=salt,
                        official_handles=settings.official_handle_set(),
                        run_id=counts["run_id"],
                    )
                )
                if page.checkpoint is not None:
                    db.set_checkpoint(conn, collector.checkpoint_name, page.checkpoint, dict(page.meta))
                    result.checkpoint = page.checkpoint
            result.pages += 1
            result.skipped += sum(int(v) for v in dict(page.meta.get("skipped") or {}).values())
            result.notes.extend(str(n) for n in page.meta.get("notes", ()))
            counts.update(
                new=result.new,
                updated=result.updated,
                unchanged=result.unchanged,
                quarantined=result.quarantined,
                pages=result.pages,
            )
            if on_page:
                on_page(result)
    return result


# -- classify ---------------------------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def load_model(ref: str, model_dir: str | None) -> SentimentModel:
    """A model loads once per process (workers reuse it across batches)."""
    return SentimentModel.from_pretrained(ref, model_dir=Path(model_dir) if model_dir else None)


def sentiment_model(
    engine: Engine, ref: str | None = None, *, settings: Settings | None = None, activate_if_none: bool = True
) -> SentimentModel:
    """The model to classify with: ``ref`` if given, else the store's active version, else the default.

    The first model used on an empty store becomes its active version, so the digest has a current set.
    """
    settings = settings or get_settings()
    model_dir = str(settings.model_dir)
    with engine.begin() as conn:
        active = db.get_active_model(conn, "sentiment")
        model = load_model(ref or active or settings.sentiment_model, model_dir)
        if active is None and activate_if_none:
            db.set_active_model(conn, "sentiment", model.version)
    return model


def predict_rows(model: SentimentModel, items: Sequence[tuple[int, str]]) -> list[dict[str, Any]]:
    """Prediction rows for (item id, text) pairs, ready for ``storage.db.save_predictions``."""
    preds = model.predict_detailed([text for _, text in items])
    return [
        {
            "item_id": item_id,
            "task": "sentiment",
            "model_version": model.version,
            "label": p.label,
            "scores": p.scores,
            "confidence": round(p.confidence, 6),
        }
        for (item_id, _), p in zip(items, preds, strict=True)
    ]


def classify_ids(engine: Engine, model: SentimentModel, ids: Sequence[int], run_id: int | None = None) -> int:
    """Classify these items with ``model`` and store the predictions (one transaction per batch)."""
    with engine.begin() as conn:
        rows = predict_rows(model, queries.item_texts(conn, ids))
        for r in rows:
            r["run_id"] = run_id
        return db.save_predictions(conn, rows)


@dataclass
class ClassifyResult:
    classified: int
    model_version: str
    batches: int = 0


def pending_batches(engine: Engine, model_version: str, batch_size: int) -> list[list[int]]:
    with engine.connect() as conn:
        ids = queries.pending_item_ids(conn, "sentiment", model_version)
    return [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)]


def classify_pending(
    engine: Engine, *, model_ref: str | None = None, batch_size: int = 1000, settings: Settings | None = None
) -> ClassifyResult:
    """Classify every item that has no prediction from the model in use (incremental)."""
    model = sentiment_model(engine, model_ref, settings=settings)
    batches = pending_batches(engine, model.version, batch_size)
    with recorded_run(engine, "classify", {"model": model.version, "batch_size": batch_size}) as counts:
        done = sum(classify_ids(engine, model, batch, counts["run_id"]) for batch in batches)
        counts.update(classified=done, batches=len(batches))
    return ClassifyResult(done, model.version, len(batches))


# -- digest -----------------------------------------------------------------------------------------------------
@dataclass
class DigestFiles:
    markdown: Path
    html: Path
    data: DigestData = field(repr=False)


def default_last_day(period: str, tz: str, today: date | None = None) -> date:
    """Yesterday for a daily digest; the last complete Monday–Sunday week for a weekly one."""
    today = today or datetime.now(ZoneInfo(tz)).date()
    if period == "day":
        return today - timedelta(days=1)
    return today - timedelta(days=today.isoweekday())  # last Sunday


def build_for(engine: Engine, period: Period, tz: str) -> DigestData:
    with engine.connect() as conn:
        rows = queries.items_with_current_predictions(conn, *period.bounds(tz))
        previous = queries.items_with_current_predictions(conn, *period.previous().bounds(tz))
        freshness = queries.latest_by_source(conn)
    return build_digest(rows, previous, period=period, generated_at=datetime.now(UTC), freshness=freshness)


def digest_filename(period: Period) -> str:
    suffix = "" if period.kind == "week" else f"-{period.kind}"
    return f"digest-{period.end.isoformat()}{suffix}"


def write_digest(
    engine: Engine,
    *,
    period: str = "week",
    last_day: date | None = None,
    out_dir: Path | str,
    lang: str = "id",
    settings: Settings | None = None,
) -> DigestFiles:
    """Build the digest of the period ending ``last_day`` and write ``digest-<date>.md`` and ``.html``."""
    settings = settings or get_settings()
    tz = settings.timezone
    p = Period.ending(period, last_day or default_last_day(period, tz))
    with recorded_run(
        engine, "digest", {"period": period, "last_day": p.end.isoformat(), "lang": lang}
    ) as counts:
        data = build_for(engine, p, tz)
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        md = out / f"{digest_filename(p)}.md"
        page = out / f"{digest_filename(p)}.html"
        md.write_text(render_markdown(data, lang=lang, tz=tz), encoding="utf-8")
        page.write_text(render_html(data, lang=lang, tz=tz), encoding="utf-8")
        counts.update(items=data.total.count, markdown=str(md), html=str(page))
    return DigestFiles(md, page, data)


def latest_local_day(engine: Engine, tz: str) -> date | None:
    """The local date of the newest item (the demo digests the week that ends there)."""
    with engine.connect() as conn:
        latest = queries.latest_item_time(conn)
    return latest.astimezone(ZoneInfo(tz)).date() if latest else None
