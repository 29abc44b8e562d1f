"""The pipeline's steps as plain functions over an engine: what the flows and the CLI both call.

    collect_file(engine, "sample.jsonl")       → CollectResult (new / updated / unchanged / quarantined)
    run_collector(engine, collector)            → CollectResult, page by page from the saved checkpoint
    classify_pending(engine)                    → ClassifyResult (items classified, model version)
    write_digest(engine, period="week", ...)    → DigestFiles (Markdown and HTML paths)

Each records what it did in the ``runs`` table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from collectors.base import PagedCollector
from collectors.files import FileCollector, FileMapping
from collectors.xlsx import XlsxCollector
from digest.build import DigestData, Period, ReviewCheck, build_digest, history_start
from models import registry
from models.sentiment import Prediction, SentimentModel, split_runtime
from models.topics import sentiment_pass, split_topics, topic_prediction_rows
from storage import db, queries
from storage import labels as review_store
from storage import reclassify as rq
from storage.ingest import IngestResult, ingest
from storage.reclassify import Scope
from suara.config import Settings, get_settings
from suara.errors import InputError

if TYPE_CHECKING:
    from models.topics import TopicModel

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


def predict_rows(
    model: SentimentModel, items: Sequence[tuple[int, str]], preds: Sequence[Prediction] | None = None
) -> list[dict[str, Any]]:
    """Prediction rows for (item id, text) pairs, ready for ``storage.db.save_predictions``."""
    if preds is None:
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


def classify_ids(
    engine: Engine,
    model: SentimentModel,
    ids: Sequence[int],
    run_id: int | None = None,
    topic_model: TopicModel | None = None,
) -> tuple[int, int]:
    """Classify these items with ``model`` and store the predictions (one transaction per batch).

    With a ``topic_model`` that reads this model's vectors, the same encoder pass gives the items' topics too,
    and items with two or more topics that praise one and blame another get a sentiment per topic
    (``models.aspects``), all stored in the same transaction. Returns (sentiment rows, topic rows)."""
    from models.aspects import aspect_rows

    with engine.begin() as conn:
        items = queries.item_texts(conn, ids)
        preds, vectors = sentiment_pass(model, topic_model, [text for _, text in items])
        sentiment_rows = predict_rows(model, items, preds)
        rows = list(sentiment_rows)
        topic_rows: list[dict[str, Any]] = []
        if topic_model is not None and vectors is not None:  # topics only when they come from this pass
            topic_rows = topic_prediction_rows(topic_model, items, embeddings=vectors)
            rows += topic_rows + aspect_rows(model, topic_model, items, topic_rows, sentiment_rows)
        for r in rows:
            r["run_id"] = run_id
        db.save_predictions(conn, rows)
    return len(items), len(topic_rows)


@dataclass
class ClassifyResult:
    classified: int
    model_version: str
    batches: int = 0
    topics_classified: int = 0
    topics_model_version: str | None = None
    topics_activated: bool = False  # a topic model named by ``topics_ref`` became the store's active one


def pending_batches(engine: Engine, model_version: str, batch_size: int) -> list[list[int]]:
    with engine.connect() as conn:
        ids = queries.pending_item_ids(conn, "sentiment", model_version)
    return [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)]


def classify_pending(
    engine: Engine,
    *,
    model_ref: str | None = None,
    batch_size: int = 1000,
    topics: bool = True,
    settings: Settings | None = None,
    topics_ref: str | None = None,
) -> ClassifyResult:
    """Classify every item that has no prediction from the models in use (incremental): sentiment, then topics.

    When the topic model reads the sentiment model's vectors, each batch's topics come from the sentiment pass;
    the topics left after it (items classified for sentiment earlier) reuse the loaded sentiment encoder.
    ``topics_ref``: another topic model (say, one retrained with the store's labels) instead of the active one;
    it gives every stored item its topics (resumable: a rerun continues) and then becomes the active one."""
    settings = settings or get_settings()
    model = sentiment_model(engine, model_ref, settings=settings)
    topic_model = active_topic_model(engine, settings, topics_ref) if topics else None
    batches = pending_batches(engine, model.version, batch_size)
    with recorded_run(engine, "classify", {"model": model.version, "batch_size": batch_size}) as counts:
        done = shared = 0
        for batch in batches:
            n, t = classify_ids(engine, model, batch, counts["run_id"], topic_model)
            done, shared = done + n, shared + t
        counts.update(classified=done, batches=len(batches))
        result = ClassifyResult(done, model.version, len(batches))
        if topic_model is not None:
            rest, result.topics_model_version = classify_topics(
                engine, batch_size, settings, model, topic_model
            )
            result.topics_classified = shared + rest
            if topics_ref:
                result.topics_activated = activate_when_complete(engine, "topics", topic_model.version)
            counts.update(
                topics_classified=result.topics_classified, topics_model=result.topics_model_version
            )
    return result


@lru_cache(maxsize=4)
def load_topic_model(ref: str, model_dir: str | None) -> TopicModel:
    """A topic model loads once per process, like ``load_model``."""
    from models.topics import TopicModel

    return TopicModel.from_pretrained(ref, model_dir=Path(model_dir) if model_dir else None)


def active_topic_model(
    engine: Engine, settings: Settings | None = None, ref: str | None = None
) -> TopicModel:
    """``ref`` if given, else the store's active topic model, else the default (``settings.topics_model``);
    the first one used on a store becomes active; loaded once per process."""
    from models import topics

    settings = settings or get_settings()
    model_dir = str(settings.model_dir)
    return topics.active_topic_model(
        engine, model_ref=ref, default=settings.topics_model, load=lambda r: load_topic_model(r, model_dir)
    )


def activate_when_complete(engine: Engine, task: str, version: str) -> bool:
    """Make ``version`` the active ``task`` model once every stored item has its prediction; True if it is."""
    with engine.begin() as conn:
        if queries.pending_item_ids(conn, task, version, limit=1):
            return False
        db.set_active_model(conn, task, version)
    return True


def classify_topics(
    engine: Engine,
    batch_size: int,
    settings: Settings,
    sentiment: SentimentModel | None = None,
    topic_model: TopicModel | None = None,
) -> tuple[int, str]:
    """Topic predictions for every item without one from ``topic_model`` (default: the active topic model,
    the released one at first).

    ``sentiment``: a loaded sentiment model; when the topic model reads its encoder (``shares_encoder``), that
    one is used instead of loading the encoder a second time."""
    from models.topics import classify_topics_pending, shares_encoder

    topic_model = topic_model or active_topic_model(engine, settings)
    embedder = sentiment.as_embedder() if shares_encoder(sentiment, topic_model) else None
    return classify_topics_pending(engine, batch_size=batch_size, embedder=embedder, model=topic_model)


# -- digest -----------------------------------------------------------------------------------------------------
@dataclass
class DigestFiles:
    markdown: Path
    html: Path
    data: DigestData = field(repr=False)
    index: Path | None = None  # the archive page listing every digest in the directory
    charts: dict[str, bytes] = field(default_factory=dict, repr=False)


def default_last_day(period: str, tz: str, today: date | None = None) -> date:
    """Yesterday for a daily digest; the last complete Monday–Sunday week for a weekly one."""
    today = today or datetime.now(ZoneInfo(tz)).date()
    if period == "day":
        return today - timedelta(days=1)
    return today - timedelta(days=today.isoweekday())  # last Sunday


def build_for(
    engine: Engine,
    period: Period,
    tz: str,
    *,
    clusters: Sequence[Mapping[str, Any]] | None = None,
    topic_names: Mapping[str, Mapping[str, str]] | None = None,
    now: datetime | None = None,
) -> DigestData:
    """The digest data of ``period``: its rows, the history before it (trailing baseline, spikes), freshness.

    ``clusters`` are discovery's clusters as dicts (id, keywords, examples, size, previous_size, first_seen,
    is_new); ``topic_names`` default to the taxonomy's (ids are shown where there is none); ``now`` is the
    generation time printed in the footer (tests fix it).
    """
    from digest.topics import load_topic_names

    zone = ZoneInfo(tz)
    start, end = period.bounds(tz)
    since = datetime.combine(history_start(period), datetime.min.time(), zone)
    previous_start, _ = period.previous().bounds(tz)
    with engine.connect() as conn:
        rows = queries.items_with_current_predictions(conn, since, end)
        freshness = queries.latest_by_source(conn)
        first = queries.first_item_time(conn)
        if clusters is None:
            clusters = stored_clusters(conn, period)
        checked = review_store.agreement(conn)
    history = [r for r in rows if r["created_at"] < start]
    return build_digest(
        [r for r in rows if r["created_at"] >= start],
        [r for r in history if r["created_at"] >= previous_start],
        period=period,
        generated_at=now or datetime.now(UTC),
        freshness=freshness,
        history=history,
        first_day=first.astimezone(zone).date() if first else None,
        clusters=clusters,
        topic_names=load_topic_names() if topic_names is None else topic_names,
        tz=tz,
        review=ReviewCheck(*checked["sentiment"], *checked["topics"]),
    )


def stored_clusters(conn: Any, period: Period) -> list[dict[str, Any]]:
    """Discovery's clusters seen in ``period`` (``suara discover`` stores them), shaped for the digest build:
    size now and in the previous period, keywords, and the masked texts of the most central members."""
    from storage import topics as cluster_store

    previous = {
        c["id"]: c["size"] for c in cluster_store.load_clusters(conn, period_start=period.previous().start)
    }
    found = cluster_store.load_clusters(conn, period_start=period.start)
    texts = dict(queries.item_texts(conn, [i for c in found for i in c["representatives"]]))
    return [
        {
            **c,
            "previous_size": previous.get(c["id"], 0),
            "examples": [texts[i] for i in c["representatives"] if i in texts],
        }
        for c in found
    ]


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
    clusters: Sequence[Mapping[str, Any]] | None = None,
) -> DigestFiles:
    """Build the digest of the period ending ``last_day``; write ``digest-<date>.md``, ``.html`` and the
    archive's ``index.html``."""
    from digest.deliver import write_files

    settings = settings or get_settings()
    tz = settings.timezone
    p = Period.ending(period, last_day or default_last_day(period, tz))
    with recorded_run(
        engine, "digest", {"period": period, "last_day": p.end.isoformat(), "lang": lang}
    ) as counts:
        data = build_for(engine, p, tz, clusters=clusters)
        paths = write_files(data, out_dir, digest_filename(p), lang=lang)
        counts.update(items=data.total.count, markdown=str(paths.markdown), html=str(paths.html))
    return DigestFiles(paths.markdown, paths.html, data, paths.index, paths.charts)


def deliver_digest(
    engine: Engine,
    files: DigestFiles,
    *,
    to: Sequence[str] | str = ("file",),
    lang: str = "id",
    settings: Settings | None = None,
    sleep: Callable[[float], None] | None = None,
) -> list[Any]:
    """Send written digest files to the channels in ``to``; each result says what happened (never raises for
    a channel that fails: the files are already in the archive). Recorded as a ``deliver`` run."""
    from digest import deliver as dl

    config = dl.DeliveryConfig.from_settings(settings or get_settings())
    channels = dl.parse_channels(to)
    paths = dl.DigestPaths(files.markdown, files.html, files.index or files.html, files.charts)
    extra = {"sleep": sleep} if sleep else {}
    return _record_deliveries(
        engine,
        "deliver",
        {"channels": channels, "html": str(files.html)},
        lambda: dl.deliver(files.data, paths, channels, config, lang=lang, **extra),
    )


def _record_deliveries(engine: Engine, flow: str, params: dict[str, Any], send: Callable[[], list]) -> list:
    with engine.begin() as conn:
        run_id = db.start_run(conn, flow, params)
    results = send()
    failed = [str(r) for r in results if not r.ok]
    with engine.begin() as conn:
        db.finish_run(
            conn,
            run_id,
            status="failed" if failed else "completed",
            counts={r.channel: ("ok" if r.ok else "failed") for r in results},
            errors=failed,
        )
    return results


def run_digest(
    engine: Engine,
    *,
    period: str = "week",
    last_day: date | None = None,
    out_dir: Path | str,
    lang: str = "id",
    to: Sequence[str] | str = ("file",),
    settings: Settings | None = None,
    sleep: Callable[[float], None] | None = None,
) -> tuple[DigestFiles, list[Any]]:
    """``suara digest``: write the files, then deliver them; a delivery failure never loses the files."""
    from digest.deliver import parse_channels

    channels = parse_channels(to)  # a typo in --to fails before any work
    files = write_digest(
        engine, period=period, last_day=last_day, out_dir=out_dir, lang=lang, settings=settings
    )
    return files, deliver_digest(engine, files, to=channels, lang=lang, settings=settings, sleep=sleep)


def alert_spikes(
    engine: Engine,
    *,
    day: date | None = None,
    out_dir: Path | str,
    lang: str = "id",
    to: Sequence[str] | str = ("file",),
    settings: Settings | None = None,
    sleep: Callable[[float], None] | None = None,
) -> tuple[DigestData, list[Any]]:
    """Look for spikes on ``day`` (default yesterday) and send a short alert when there are any."""
    from digest import alerts
    from digest import deliver as dl

    settings = settings or get_settings()
    channels = dl.parse_channels(to)
    data = build_for(
        engine, Period.ending("day", day or default_last_day("day", settings.timezone)), settings.timezone
    )
    if not data.spikes:
        return data, []
    config = dl.DeliveryConfig.from_settings(settings)
    extra = {"sleep": sleep} if sleep else {}
    return data, _record_deliveries(
        engine,
        "alert",
        {"channels": channels, "day": data.period.end.isoformat(), "spikes": len(data.spikes)},
        lambda: alerts.deliver_alert(data, channels, config, out_dir=out_dir, lang=lang, **extra),
    )


def latest_local_day(engine: Engine, tz: str) -> date | None:
    """The local date of the newest item (the demo digests the week that ends there)."""
    with engine.connect() as conn:
        latest = queries.latest_item_time(conn)
    return latest.astimezone(ZoneInfo(tz)).date() if latest else None


# -- reclassify -------------------------------------------------------------------------------------------------
# A new model version relabels stored items without touching the old version's predictions. The plan splits the
# items in scope into id ranges; each range is one chunk (one task, one transaction). What is already stored
# under the new version is the progress marker, so a rerun after a crash or cancel does only the rest. The model
# is a sentiment model or a topic model; its task says which predictions it adds and which version it replaces.
NO_LABEL = "—"  # the old version never classified this item
_LABEL_ORDER = ("negative", "neutral", "positive")
TOPICS = "topics"


@dataclass
class ReclassifyDiff:
    """What a new version changes, built chunk by chunk; ``merge`` joins the parts that shards built.

    >>> diff.add([{"id": 7, "text": "otp gk masuk2", "old_label": "neutral", "new_label": "negative",
    ...            "confidence": 0.91, "topics": "aplikasi_sistem"}])
    >>> diff.matrix[("neutral", "negative")], diff.relabelled
    (1, 1)

    For a topic model (``task="topics"``) the labels are topic lists ("a;b"): the matrix is of main topics
    (the first), an item is re-labelled when its set of topics changes, and ``volumes`` counts the items that
    have each topic before and after.
    """

    old_version: str | None
    new_version: str
    max_examples: int = 5
    task: str = "sentiment"
    compared: int = 0
    relabelled: int = 0
    unlabelled_before: int = 0
    with_topics: int = 0
    matrix: Counter[tuple[str, str]] = field(default_factory=Counter)
    changes: Counter[tuple[str, str]] = field(default_factory=Counter)  # old → new label of re-labelled items
    topics_old: Counter[tuple[str, str]] = field(default_factory=Counter)
    topics_new: Counter[tuple[str, str]] = field(default_factory=Counter)
    volumes_old: Counter[str] = field(default_factory=Counter)
    volumes_new: Counter[str] = field(default_factory=Counter)
    examples: dict[tuple[str, str], list[tuple[float, int, str]]] = field(default_factory=dict)

    def add(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for r in rows:
            if self.task == TOPICS:
                self._add_topics(r)
                continue
            old, new = r["old_label"], r["new_label"]
            self.compared += 1
            self.matrix[(old or NO_LABEL, new)] += 1
            if old is None:
                self.unlabelled_before += 1
            elif old != new:
                self._changed(old, new, r)
            if r.get("topics") is not None:
                self.with_topics += 1
                for topic in filter(None, str(r["topics"]).split(";")):
                    self.topics_old[(topic, old or NO_LABEL)] += 1
                    self.topics_new[(topic, new)] += 1

    def _add_topics(self, r: Mapping[str, Any]) -> None:
        old, new = r["old_label"], r["new_label"] or ""
        old_topics, new_topics = split_topics(old), split_topics(new)
        self.compared += 1
        self.matrix[
            (old_topics[0] if old_topics else NO_LABEL, new_topics[0] if new_topics else NO_LABEL)
        ] += 1
        self.volumes_old.update(old_topics)
        self.volumes_new.update(new_topics)
        if old is None:
            self.unlabelled_before += 1
        elif set(old_topics) != set(new_topics):
            self._changed(old, new, r)

    def _changed(self, old: str, new: str, r: Mapping[str, Any]) -> None:
        self.relabelled += 1
        self.changes[(old, new)] += 1
        self._keep_example((old, new), float(r.get("confidence") or 0.0), int(r["id"]), r["text"])

    def _keep_example(self, pair: tuple[str, str], confidence: float, item_id: int, text: str) -> None:
        kept = self.examples.setdefault(pair, [])
        kept.append((confidence, item_id, text))
        kept.sort(key=lambda e: (-e[0], e[1]))  # the most confident first: the clearest cases to read
        del kept[self.max_examples :]

    def merge(self, other: ReclassifyDiff) -> ReclassifyDiff:
        self.compared += other.compared
        self.relabelled += other.relabelled
        self.unlabelled_before += other.unlabelled_before
        self.with_topics += other.with_topics
        for mine, theirs in (
            (self.matrix, other.matrix),
            (self.changes, other.changes),
            (self.topics_old, other.topics_old),
            (self.topics_new, other.topics_new),
            (self.volumes_old, other.volumes_old),
            (self.volumes_new, other.volumes_new),
        ):
            mine.update(theirs)
        for pair, kept in other.examples.items():
            for example in kept:
                self._keep_example(pair, *example)
        return self

    def labels(self) -> tuple[list[str], list[str]]:
        """Row labels (old, with NO_LABEL last) and column labels (new) of the change matrix."""

        def order(labels: set[str]) -> list[str]:
            known = [x for x in _LABEL_ORDER if x in labels]
            return (
                known + sorted(labels - set(known) - {NO_LABEL}) + ([NO_LABEL] if NO_LABEL in labels else [])
            )

        return order({o for o, _ in self.matrix}), order({n for _, n in self.matrix})

    def topic_moves(self, top: int = 5) -> list[dict[str, Any]]:
        """Topics whose sentiment volumes move most: per label the count before and after."""
        topics = {t for t, _ in self.topics_old} | {t for t, _ in self.topics_new}
        moves = []
        for topic in topics:
            labels = {lab for t, lab in self.topics_old if t == topic} | {
                lab for t, lab in self.topics_new if t == topic
            }
            by_label = {lab: (self.topics_old[(topic, lab)], self.topics_new[(topic, lab)]) for lab in labels}
            moved = sum(abs(new - old) for old, new in by_label.values()) // 2
            items = sum(old for old, _ in by_label.values())
            moves.append({"topic": topic, "items": items, "moved": moved, "by_label": by_label})
        moves.sort(key=lambda m: (-m["moved"], m["topic"]))
        return [m for m in moves if m["moved"]][:top]

    def volumes(self) -> list[dict[str, Any]]:
        """Per topic, the items that have it before and after (a topic model's diff), largest change first."""
        rows = [
            {"topic": t, "before": self.volumes_old[t], "after": self.volumes_new[t]}
            for t in set(self.volumes_old) | set(self.volumes_new)
        ]
        return sorted(rows, key=lambda v: (-abs(v["after"] - v["before"]), -v["after"], v["topic"]))

    def as_dict(self) -> dict[str, Any]:
        found = {
            "task": self.task,
            "old_version": self.old_version,
            "new_version": self.new_version,
            "compared": self.compared,
            "relabelled": self.relabelled,
            "unlabelled_before": self.unlabelled_before,
            "matrix": {f"{o} -> {n}": c for (o, n), c in sorted(self.matrix.items())},
        }
        if self.task == TOPICS:
            return found | {"volumes": {v["topic"]: [v["before"], v["after"]] for v in self.volumes()}}
        return found | {
            "topic_moves": [
                {**m, "by_label": {k: list(v) for k, v in m["by_label"].items()}} for m in self.topic_moves()
            ],
        }

    def markdown(self, *, scope: str = "", dry_run: bool = False, note: str = "") -> str:
        """The diff artifact: counts, the old → new matrix, the topics that move most, examples."""
        topics = self.task == TOPICS
        share = f" ({100 * self.relabelled / self.compared:.1f}%)" if self.compared else ""
        lines = [
            " ".join(
                ["# Reclassification" + (" of topics" if topics else "")]
                + (["(dry run: nothing written)"] if dry_run else [])
            ),
            "",
            f"`{self.old_version or 'none'}` → `{self.new_version}`" + (f" · {scope}" if scope else ""),
            "",
            "| | items |",
            "|---|---|",
            f"| compared | {self.compared:,} |",
            f"| {'topics changed' if topics else 're-labelled'} | {self.relabelled:,}{share} |",
            f"| not classified by the old version | {self.unlabelled_before:,} |",
        ]
        if note:
            lines += ["", note]
        rows, cols = self.labels()
        title = "Main topic changes (the first topic; " if topics else "Label changes ("
        lines += ["", f"## {title}rows: old, columns: new)", ""]
        if self.matrix:
            lines += [
                "| old \\ new | " + " | ".join(cols) + " |",
                "|---|" + "---|" * len(cols),
                *(f"| {o} | " + " | ".join(f"{self.matrix[(o, n)]:,}" for n in cols) + " |" for o in rows),
            ]
        else:
            lines.append("No items in scope.")
        lines += self._topics_markdown() if topics else self._moves_markdown()
        lines += ["", "## Examples (masked text from the store)", ""]
        pairs = sorted(self.examples, key=lambda p: (-self.changes[p], p))  # the commonest change first
        picked = [
            (p, self.examples[p][i])
            for i in range(self.max_examples)
            for p in pairs
            if i < len(self.examples[p])
        ][: self.max_examples]
        if not picked:
            lines.append("No item changes label.")
        else:
            lines += ["| item | old → new | confidence | text |", "|---|---|---|---|"]
            for (old, new), (conf, item_id, text) in picked:
                lines.append(f"| {item_id} | {old} → {new} | {conf:.2f} | {_cell(text)} |")
        return "\n".join(lines) + "\n"

    def _moves_markdown(self) -> list[str]:
        lines = ["", "## Topics whose volume moves most", ""]
        moves = self.topic_moves()
        if not self.with_topics:
            lines.append(
                "No topic predictions in scope yet (no active topic model): topic moves are not shown."
            )
        elif not moves:
            lines.append("No topic's sentiment volumes move.")
        else:
            lines += ["| topic | items | moved | per label (old → new) |", "|---|---|---|---|"]
            for m in moves:
                per = ", ".join(f"{lab} {o} → {n}" for lab, (o, n) in sorted(m["by_label"].items()) if o != n)
                lines.append(f"| {m['topic']} | {m['items']:,} | {m['moved']:,} | {per} |")
        return lines

    def _topics_markdown(self) -> list[str]:
        lines = ["", "## Items per topic (an item counts once for each of its topics)", ""]
        volumes = self.volumes()
        if not volumes:
            return [*lines, "No topics in scope."]
        lines += ["| topic | before | after | change |", "|---|---|---|---|"]
        for v in volumes:
            before, after = v["before"], v["after"]
            pct = f" ({100 * (after - before) / before:+.0f}%)" if before else ""
            lines.append(f"| {v['topic']} | {before:,} | {after:,} | {after - before:+,}{pct} |")
        return lines


def _cell(text: str, width: int = 160) -> str:
    flat = " ".join(text.split()).replace("|", "\\|")
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@dataclass(frozen=True)
class ReclassifyPlan:
    """What a reclassification will do: the model directory (and runtime), the version it replaces, the chunks
    left. ``task``: the model's, "sentiment" or "topics"."""

    model_path: str
    new_version: str
    old_version: str | None
    scope: Scope
    in_scope: int
    done_before: int
    chunks: list[tuple[int, int]]
    dry_run: bool = False
    task: str = "sentiment"
    # The other task's active version when planned: where its posts mix praise and complaint, the new version's
    # per-topic sentiment (``models.aspects``) is stored for the pair, as classification does.
    partner: str | None = None


def model_task(ref: str, model_dir: Path | str | None = None) -> str:
    """The task of a model (name, version or directory; a runtime suffix allowed), from its ``config.json``."""
    path = registry.resolve(split_runtime(ref)[0], Path(model_dir) if model_dir else None)
    return registry.ModelInfo.read(path).task


def load_reclassifier(model_path: str, model_dir: str | None) -> SentimentModel | TopicModel:
    """The model a plan names: a sentiment model (with its runtime suffix, if any) or a topic model; loaded
    once per process."""
    path, runtime = split_runtime(model_path)
    if model_task(path) == TOPICS:
        if runtime:
            raise InputError(f"+{runtime} is a runtime for sentiment transformers, not for a topic model")
        return load_topic_model(path, model_dir)
    return load_model(model_path, model_dir)


def plan_reclassify(
    engine: Engine,
    model_ref: str,
    scope: Scope | None = None,
    *,
    batch_size: int = 1000,
    dry_run: bool = False,
    settings: Settings | None = None,
) -> ReclassifyPlan:
    """Resolve the model (a name resolves once, here, so a model trained mid-run changes nothing) and split
    the items in scope into chunks: every item for a dry run, only those without the new version otherwise.

    ``model_ref``: a sentiment model (``name+onnx-int8`` runs it on that runtime) or a topic model."""
    settings = settings or get_settings()
    scope = scope or Scope()
    name, runtime = split_runtime(model_ref)
    path = str(registry.resolve(name, settings.model_dir)) + (f"+{runtime}" if runtime else "")
    model = load_reclassifier(path, str(settings.model_dir))
    task = model.task
    with engine.begin() as conn:
        rq.refresh_statistics(conn)
    with engine.connect() as conn:
        old = db.get_active_model(conn, task)
        partner = db.get_active_model(conn, "sentiment" if task == TOPICS else TOPICS)
        in_scope = rq.count_in_scope(conn, scope)
        pending_for = None if dry_run else (task, model.version)
        chunks = rq.id_ranges(conn, scope, batch_size, pending_for=pending_for)
        pending = in_scope if dry_run else rq.count_in_scope(conn, scope, pending_for=pending_for)
    return ReclassifyPlan(
        path, model.version, old, scope, in_scope, in_scope - pending, chunks, dry_run, task, partner
    )


def prediction_rows(
    model: SentimentModel | TopicModel, items: Sequence[tuple[int, str]]
) -> list[dict[str, Any]]:
    """Prediction rows of either kind of model for (item id, text) pairs."""
    if model.task == TOPICS:
        return topic_prediction_rows(model, items)  # type: ignore[arg-type]
    return predict_rows(model, items)  # type: ignore[arg-type]


def reclassify_chunk(
    engine: Engine,
    model: SentimentModel | TopicModel,
    scope: Scope,
    first: int,
    last: int,
    run_id: int | None = None,
    partner: str | None = None,
    model_dir: str | None = None,
) -> int:
    """Predict the items of one chunk still without ``model``'s version and store them (one transaction).

    ``partner``: the other task's model version in use; posts that mix praise and complaint get their per-topic
    sentiment for the new pair in the same transaction (the partner is loaded only when the chunk has one)."""
    with engine.begin() as conn:
        todo = rq.pending_texts(conn, scope, model.task, model.version, first, last)
        rows = prediction_rows(model, todo)
        predicted = len(rows)
        if partner and todo:
            rows += _reclassified_aspects(conn, model, partner, todo, rows, model_dir)
        for r in rows:
            r["run_id"] = run_id
        db.save_predictions(conn, rows)
        return predicted


def _reclassified_aspects(
    conn: Any,
    model: SentimentModel | TopicModel,
    partner: str,
    items: Sequence[tuple[int, str]],
    rows: list[dict[str, Any]],
    model_dir: str | None,
) -> list[dict[str, Any]]:
    """``models.aspects`` rows for the new version with the partner's stored predictions of these items."""
    from models.aspects import aspect_rows, may_split

    other_task = "sentiment" if model.task == TOPICS else TOPICS
    stored = review_store.current_predictions(conn, [item_id for item_id, _ in items], other_task, partner)
    partner_rows = [{"item_id": i, "label": p["label"]} for i, p in stored.items()]
    topic_rows, sentiment_rows = (rows, partner_rows) if model.task == TOPICS else (partner_rows, rows)
    topics_of = {r["item_id"]: split_topics(r["label"]) for r in topic_rows}
    if not any(may_split(text, topics_of.get(item_id, [])) for item_id, text in items):
        return []  # nothing to split: the partner is not even loaded
    model_dir = model_dir if model_dir is not None else str(get_settings().model_dir)
    if model.task == TOPICS:
        return aspect_rows(load_model(partner, model_dir), model, items, topic_rows, sentiment_rows)
    return aspect_rows(model, load_topic_model(partner, model_dir), items, topic_rows, sentiment_rows)


def dry_reclassify_chunk(
    engine: Engine,
    model: SentimentModel | TopicModel,
    scope: Scope,
    old_version: str | None,
    first: int,
    last: int,
    max_examples: int = 5,
) -> ReclassifyDiff:
    """What one chunk would change, computed in memory; nothing is written."""
    with engine.connect() as conn:
        rows = rq.scope_rows(conn, scope, model.task, old_version, first, last)
    new = prediction_rows(model, [(r["id"], r["text"]) for r in rows])
    for r, p in zip(rows, new, strict=True):
        r.update(new_label=p["label"], confidence=p["confidence"])
    diff = ReclassifyDiff(old_version, model.version, max_examples, model.task)
    diff.add(rows)
    return diff


def reclassify_diff(
    engine: Engine,
    scope: Scope,
    old_version: str | None,
    new_version: str,
    max_examples: int = 5,
    task: str = "sentiment",
) -> ReclassifyDiff:
    """The diff of what is stored: every item in scope that has the new version, against the old one."""
    diff = ReclassifyDiff(old_version, new_version, max_examples, task)
    with engine.connect() as conn:
        diff.add(rq.label_pairs(conn, scope, task, old_version, new_version))
    return diff


def pending_in_scope(engine: Engine, scope: Scope, version: str, task: str = "sentiment") -> int:
    with engine.begin() as conn:
        rq.refresh_statistics(conn)  # the run has just written many rows of this version
        return rq.count_in_scope(conn, scope, pending_for=(task, version))


def activate_model(engine: Engine, version: str, task: str = "sentiment") -> None:
    with engine.begin() as conn:
        db.set_active_model(conn, task, version)


@dataclass
class ReclassifyResult:
    plan: ReclassifyPlan
    diff: ReclassifyDiff
    predicted: int = 0
    complete: bool = False
    activated: bool = False

    def note(self) -> str:
        """What the reader of the diff should know besides the numbers."""
        p = self.plan
        if p.dry_run:
            return "Dry run: computed in memory, nothing was written."
        lines = [f"{self.predicted:,} predicted now, {p.done_before:,} already stored by an earlier run."]
        if not self.complete:
            lines.append("Not complete: run it again to continue where it stopped.")
        if self.activated:
            lines.append(
                f"`{p.new_version}` is now the active {p.task} model; items outside this scope get its "
                "predictions on the next classify run."
            )
            if p.partner:
                lines.append(
                    f"Posts that praise one topic and blame another have their per-topic sentiment stored for "
                    f"this version with `{p.partner}`; outside the scope the digest gives their topics the "
                    "post's own sentiment until they are reclassified."
                )
        return " ".join(lines)

    def markdown(self) -> str:
        return self.diff.markdown(
            scope=self.plan.scope.describe(), dry_run=self.plan.dry_run, note=self.note()
        )

    def as_dict(self) -> dict[str, Any]:
        p = self.plan
        return {
            "task": p.task,
            "model_version": p.new_version,
            "previous_version": p.old_version,
            "dry_run": p.dry_run,
            "in_scope": p.in_scope,
            "done_before": p.done_before,
            "predicted": self.predicted,
            "chunks": len(p.chunks),
            "complete": self.complete,
            "activated": self.activated,
            **{
                k: v
                for k, v in self.diff.as_dict().items()
                if k not in ("old_version", "new_version", "task")
            },
        }


def finish_reclassify(
    engine: Engine, plan: ReclassifyPlan, predicted: int, *, activate: bool = False, max_examples: int = 5
) -> ReclassifyResult:
    """After the chunks of a real run: check that nothing in scope is left, activate if asked, build the diff."""
    complete = pending_in_scope(engine, plan.scope, plan.new_version, plan.task) == 0
    activated = activate and complete
    if activated:
        activate_model(engine, plan.new_version, plan.task)
    diff = reclassify_diff(engine, plan.scope, plan.old_version, plan.new_version, max_examples, plan.task)
    return ReclassifyResult(plan, diff, predicted, complete, activated)


def reclassify(
    engine: Engine,
    model_ref: str,
    scope: Scope | None = None,
    *,
    dry_run: bool = False,
    batch_size: int = 1000,
    activate: bool = False,
    max_examples: int = 5,
    on_chunk: Callable[[int, int], None] | None = None,
    settings: Settings | None = None,
) -> ReclassifyResult:
    """Relabel the items in scope with ``model_ref`` under its own version, chunk by chunk, resumable.

    ``model_ref``: a sentiment model or a topic model (its task says which predictions it adds). ``dry_run``
    writes nothing and reports what would change; ``activate`` makes the new version current, only once every
    item in scope has it. ``on_chunk(done_chunks, predicted)`` follows progress.
    """
    settings = settings or get_settings()
    plan = plan_reclassify(
        engine, model_ref, scope, batch_size=batch_size, dry_run=dry_run, settings=settings
    )
    model = load_reclassifier(plan.model_path, str(settings.model_dir))
    if dry_run:
        diff = ReclassifyDiff(plan.old_version, plan.new_version, max_examples, plan.task)
        for i, (first, last) in enumerate(plan.chunks, 1):
            diff.merge(
                dry_reclassify_chunk(engine, model, plan.scope, plan.old_version, first, last, max_examples)
            )
            if on_chunk:
                on_chunk(i, diff.compared)
        return ReclassifyResult(plan, diff, 0, complete=True)
    params = {
        "task": plan.task,
        "model": plan.new_version,
        "previous": plan.old_version,
        "scope": plan.scope.describe(),
    }
    with recorded_run(engine, "reclassify", params) as counts:
        predicted = 0
        for i, (first, last) in enumerate(plan.chunks, 1):
            predicted += reclassify_chunk(
                engine,
                model,
                plan.scope,
                first,
                last,
                counts["run_id"],
                plan.partner,
                str(settings.model_dir),
            )
            counts.update(predicted=predicted, chunks=i)
            if on_chunk:
                on_chunk(i, predicted)
        result = finish_reclassify(engine, plan, predicted, activate=activate, max_examples=max_examples)
        counts.update(complete=result.complete, activated=result.activated, relabelled=result.diff.relabelled)
    return result


def reclassify_scope(
    since: str | None = None,
    until: str | None = None,
    sources: Sequence[str] | None = None,
    *,
    tz: str | None = None,
) -> Scope:
    """The scope of ``suara reclassify --since 2026-11-01 --until 2026-11-15 --source x``: whole local days."""
    days = []
    for flag, value in (("--since", since), ("--until", until)):
        try:
            days.append(date.fromisoformat(value) if value else None)
        except ValueError:
            raise InputError(f"{flag} {value!r} is not a date; write YYYY-MM-DD") from None
    if days[0] and days[1] and days[0] > days[1]:
        raise InputError(f"--since {since} is after --until {until}")
    return Scope.from_days(days[0], days[1], sources, tz or get_settings().timezone)
