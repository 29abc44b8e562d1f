"""The review loop: people correct the predictions models are least sure of; the store keeps their labels;
models are scored on them and retrained with them.

    export_queue(engine, "review.csv", limit=200)     → ReviewExport: the least confident items, to fill in
    import_labels(engine, "review.csv", labeller="ana") → ImportResult; a file with a bad row imports nothing
    label_stats(engine)                               → labels per task and the active models' scores on them
    export_training(engine, "topics", "labels.jsonl") → rows written, in the format ``suara train`` reads

A review file is XLSX, CSV (comma or semicolon) or JSONL with ``source`` and ``source_id`` (or ``item_id``)
and the columns a reviewer fills: ``sentiment`` (negative / neutral / positive) and ``topics`` (taxonomy ids
separated by ";"). A blank cell means "not reviewed"; importing the same file twice changes nothing; a later
file's label replaces an earlier one. When several people review an item, most of them win (a tie goes to
the latest review and is *disputed*: ``export_queue(..., disputed=True)`` lists those for a deciding review);
``label_stats`` says how far reviewers agree; ``export_history`` writes every review as given.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from models.data import SENTIMENT_LABELS, jsonl_objects
from storage import db, queries
from storage import labels as store
from suara.errors import InputError

REVIEW_COLUMNS = (
    "item_id",
    "source",
    "source_id",
    "created_at",
    "text",
    "predicted_sentiment",
    "sentiment_confidence",
    "predicted_topics",
    "topics_confidence",
    "sentiment",
    "topics",
)
FILLED = ("sentiment", "topics")
REVIEW_SUFFIXES = (".xlsx", ".csv", ".jsonl")
MAX_PROBLEMS_SHOWN = 20


def _taxonomy(settings: Any = None):
    from models.taxonomy import load_taxonomy
    from suara.config import get_settings

    return load_taxonomy((settings or get_settings()).taxonomy)


# -- export ------------------------------------------------------------------------------------------------------
@dataclass
class ReviewExport:
    path: Path
    rows: int
    task: str
    model_version: str
    repeats_left_out: int = 0  # items with the same text as one in the file, or of the same campaign


def export_queue(
    engine: Engine,
    path: Path | str,
    *,
    task: str = "sentiment",
    limit: int = 200,
    start: datetime | None = None,
    end: datetime | None = None,
    sources: Sequence[str] = (),
    disputed: bool = False,
) -> ReviewExport:
    """Write the ``limit`` items whose current ``task`` prediction is least confident and that nobody has
    labelled yet, with both current predictions beside the blank columns a reviewer fills.

    One item per text (case and spacing aside) and per copy-paste campaign: a reviewer labels a template once,
    not fourteen times. ``disputed``: instead, the items whose reviewers are split evenly for ``task`` (oldest
    first), with a ``reviews`` column saying who gave which label; the file's labels are deciding reviews."""
    if task not in store.TASKS:
        raise InputError(f"unknown task {task!r}; use one of {list(store.TASKS)}")
    if limit < 1:
        raise InputError(f"--limit must be at least 1, not {limit}")
    path = Path(path)
    if path.suffix.lower() not in REVIEW_SUFFIXES:
        raise InputError(f"{path}: write the review file as .xlsx (for Excel), .csv or .jsonl")
    with engine.connect() as conn:
        version = db.get_active_model(conn, task)
        if version is None:
            raise InputError(f"the store has no {task} predictions yet; run `suara classify` first")
        if disputed:
            queue, repeats = (
                store.disputed_queue(conn, task, limit=limit, start=start, end=end, sources=sources),
                0,
            )
        else:
            candidates = store.review_queue(
                conn, task, limit=3 * limit + 50, start=start, end=end, sources=sources
            )
            queue, repeats = _one_per_text(conn, candidates, limit, store.labelled_items(conn, task))
        ids = [r["id"] for r in queue]
        current = {t: store.current_predictions(conn, ids, t) for t in store.TASKS}
    rows = []
    for r in queue:
        s, t = current["sentiment"].get(r["id"], {}), current["topics"].get(r["id"], {})
        rows.append(
            {
                "item_id": r["id"],
                "source": r["source"],
                "source_id": r["source_id"],
                "created_at": r["created_at"].isoformat(),
                "text": r["text"],
                "predicted_sentiment": s.get("label", ""),
                "sentiment_confidence": _conf(s.get("confidence")),
                "predicted_topics": t.get("label", ""),
                "topics_confidence": _conf(t.get("confidence")),
                "sentiment": "",
                "topics": "",
                **({"reviews": r["reviews"]} if disputed else {}),
            }
        )
    columns = (*REVIEW_COLUMNS, "reviews") if disputed else REVIEW_COLUMNS
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")  # written whole, then renamed: a crash leaves no half file
    if path.suffix.lower() == ".jsonl":
        part.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    elif path.suffix.lower() == ".xlsx":
        _write_xlsx(part, rows, columns)
    else:
        with part.open("w", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, fieldnames=columns)
            w.writeheader()
            w.writerows(rows)
    part.replace(path)
    return ReviewExport(path, len(rows), task, version, repeats)


def _one_per_text(
    conn: Any, candidates: list[dict[str, Any]], limit: int, labelled: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], int]:
    """The first ``limit`` candidates keeping one per text and per campaign, none like an item already
    ``labelled``; and how many were left out."""
    from storage.topics import campaign_of_items

    campaigns = campaign_of_items(conn, [r["id"] for r in (*candidates, *labelled)])

    def keys(r: dict[str, Any]) -> set[str]:
        found = {"text:" + " ".join(r["text"].lower().split())}
        if r["id"] in campaigns:
            found.add(f"campaign:{campaigns[r['id']]}")
        return found

    seen: set[str] = set().union(*(keys(r) for r in labelled))
    kept: list[dict[str, Any]] = []
    repeats = 0
    for r in candidates:
        if len(kept) == limit:
            break
        found = keys(r)
        if found & seen:
            repeats += 1
            continue
        seen |= found
        kept.append(r)
    return kept, repeats


def _write_xlsx(path: Path, rows: list[dict[str, Any]], columns: Sequence[str] = REVIEW_COLUMNS) -> None:
    """One sheet; every cell but item_id as text, so long source ids stay exact in a spreadsheet."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "review"
    sheet.append(list(columns))
    for r in rows:
        sheet.append([r[c] if c == "item_id" else str(r[c]) for c in columns])
    for row in sheet.iter_rows(min_row=2):
        for cell in row[1:]:
            cell.number_format = "@"
    sheet.freeze_panes = "A2"
    book.save(path)


def _conf(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


# -- import ------------------------------------------------------------------------------------------------------
@dataclass
class ImportResult:
    sentiment: store.LabelWrite = field(default_factory=store.LabelWrite)
    topics: store.LabelWrite = field(default_factory=store.LabelWrite)
    blank: int = 0  # rows with neither column filled: not reviewed

    def __str__(self) -> str:
        return f"sentiment: {self.sentiment}; topics: {self.topics}; {self.blank} rows left blank"


def _read_review_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise InputError(f"no such review file: {path}")
    suffix = path.suffix.lower()
    if suffix not in REVIEW_SUFFIXES:
        raise InputError(
            f"{path}: unsupported format {path.suffix!r}; use the .xlsx, .csv or .jsonl review file"
        )
    if suffix == ".xlsx":
        from collectors.files import FileMapping
        from collectors.xlsx import XlsxCollector

        rows = ((n, row) for n, row, _ in XlsxCollector(path, FileMapping()).read_rows())
        first = next(rows, None)
        if first is not None:
            _check_header(path, set(first[1]))
            yield first
            yield from rows
        return
    try:
        content = path.read_text(encoding="utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        raise InputError(
            f'{path}: not UTF-8 ({exc.reason} at byte {exc.start}); save it as "CSV UTF-8" or as .xlsx'
        ) from None
    if suffix == ".jsonl":
        yield from jsonl_objects(path, content)
        return
    first_line = content.split("\n", 1)[0]
    # A spreadsheet in an Indonesian locale saves CSV with ";" between columns.
    delimiter = max((",", ";", "\t"), key=lambda d: len(next(csv.reader([first_line], delimiter=d), [])))
    reader = csv.DictReader(io.StringIO(content, newline=""), delimiter=delimiter)
    _check_header(path, set(reader.fieldnames or []))
    for row in reader:
        yield reader.line_num, row


def _check_header(path: Path, header: set[str]) -> None:
    if not ("item_id" in header or {"source", "source_id"} <= header) or not header & set(FILLED):
        raise InputError(
            f"{path}: needs the columns source and source_id (or item_id) and sentiment and/or topics (as exported)"
        )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return str(value).strip()


def import_labels(engine: Engine, path: Path | str, *, labeller: str, settings: Any = None) -> ImportResult:
    """Check every row of a filled-in review file, then store its labels in one transaction.

    A row names its item by ``source`` and ``source_id`` (the item's identity in every copy of the store, so a
    file exported elsewhere lands on the right items), else by ``item_id``. A row whose item the store does not
    have, a sentiment that is not a label, or a topic id the taxonomy does not have makes the whole file fail
    (an ``InputError`` listing the rows), so a file is imported entirely or not at all; fix it and import it
    again."""
    from models.taxonomy import MAX_TOPICS_PER_ITEM, TaxonomyError

    path = Path(path)
    if not labeller.strip():
        raise InputError("--labeller must name who reviewed the file")
    taxonomy = _taxonomy(settings)
    problems: list[str] = []
    rows: list[dict[str, Any]] = []  # line, key or item_id, task, label
    result = ImportResult()
    seen_rows = 0
    for n, raw in _read_review_rows(path):
        seen_rows += 1
        sentiment, topics = _cell(raw.get("sentiment")).lower(), _cell(raw.get("topics"))
        if not sentiment and not topics:
            result.blank += 1
            continue
        key = (_cell(raw.get("source")), _cell(raw.get("source_id")))
        item: dict[str, Any] = {"line": n, "key": key if all(key) else None, "item_id": None}
        item["text"] = _cell(raw.get("text"))
        try:
            item["item_id"] = int(_cell(raw.get("item_id")))
        except ValueError:
            if item["key"] is None:
                problems.append(f"line {n}: item_id {raw.get('item_id')!r} is not a number")
                continue
        if sentiment:
            if sentiment not in SENTIMENT_LABELS:
                problems.append(
                    f"line {n}: sentiment {sentiment!r} is not one of {', '.join(SENTIMENT_LABELS)}"
                )
            else:
                rows.append({**item, "task": "sentiment", "label": sentiment})
        if topics:
            try:
                given = [t.strip() for t in topics.replace(",", ";").split(";") if t.strip()]
                ids = taxonomy.check_labels(given, f"line {n}")
            except TaxonomyError as exc:
                problems.append(str(exc).replace(f" the taxonomy {taxonomy.source} has", " known ids:"))
                continue
            if len(ids) > MAX_TOPICS_PER_ITEM:
                problems.append(f"line {n}: {len(ids)} topics; give at most {MAX_TOPICS_PER_ITEM}")
                continue
            if taxonomy.fallback in ids and len(ids) > 1:
                problems.append(f"line {n}: {taxonomy.fallback!r} goes alone, not with other topics")
                continue
            rows.append({**item, "task": "topics", "label": ";".join(ids)})
    if seen_rows == 0:
        raise InputError(f"{path}: no rows")
    with engine.begin() as conn:
        by_key = store.ids_by_key(conn, [r["key"] for r in rows if r["key"]])
        texts = dict(
            queries.item_texts(conn, [r["item_id"] for r in rows if r["item_id"] and r["key"] not in by_key])
        )
        for r in rows:
            problem = _resolve_item(r, by_key, texts)
            if problem:
                problems.append(f"line {r['line']}: {problem}")
        if problems:
            problems = sorted(set(problems), key=_line_number)
            shown = "\n  ".join(problems[:MAX_PROBLEMS_SHOWN])
            more = len(problems) - MAX_PROBLEMS_SHOWN
            raise InputError(
                f"{path}: {len(problems)} problem(s), nothing imported:\n  {shown}"
                + (f"\n  … and {more} more" if more > 0 else "")
            )
        for task in store.TASKS:
            part = [
                {**r, "labeller": labeller.strip(), "source": path.name} for r in rows if r["task"] == task
            ]
            setattr(result, task, store.save_labels(conn, part))
    return result


def _resolve_item(
    row: dict[str, Any], by_key: dict[tuple[str, str], int], texts: dict[int, str]
) -> str | None:
    """Set ``row["item_id"]`` to the store's item, or say why there is none.

    (source, source_id) first: an item's identity in every copy of the store. Else the item_id, when the row's
    text (if it has one) is that item's: a spreadsheet that turned a long source id into 1.84304E+18 must not
    lose the row, and an item_id from another store must not label the wrong item."""
    key = row["key"]
    if key in by_key:
        row["item_id"] = by_key[key]
        return None
    item_id = row["item_id"]
    named = f"item {'/'.join(key)}" if key else f"item {item_id}"
    if item_id is None or item_id not in texts:
        return f"{named} is not in this store"
    if row["text"] and " ".join(row["text"].split()) != " ".join(texts[item_id].split()):
        return f"{named}: item_id {item_id} has another text in this store (a file from another store?)"
    return None


def _line_number(problem: str) -> int:
    head = problem.split(":", 1)[0]
    return int(head.split()[-1]) if head.startswith("line ") else 0


# -- what the labels say about the models -----------------------------------------------------------------------
def label_stats(engine: Engine, settings: Any = None) -> dict[str, Any]:
    """Per task: how many items people labelled, with which labels, and how the active model's stored
    predictions score against them (sentiment: accuracy and macro-F1; topics: micro- and macro-F1)."""
    from models.evaluate import score
    from models.topics import split_topics, topic_scores

    out: dict[str, Any] = {}
    with engine.connect() as conn:
        counts = store.label_counts(conn)
        for task in store.TASKS:
            pairs = store.labelled_pairs(conn, task)
            entry: dict[str, Any] = {
                "labelled": sum(counts.get(task, {}).values()),
                "labels": dict(sorted(counts.get(task, {}).items())),
                "active_model": db.get_active_model(conn, task),
                "scored": len(pairs),
                "reviewers": store.reviewer_agreement(conn, task),
            }
            if pairs:
                gold, pred = zip(*pairs, strict=True)
                # macro averages over the labels that occur (in the labels or the predictions): a few reviews
                # must not be averaged with zeros for classes nobody has labelled or predicted yet
                if task == "sentiment":
                    seen = set(gold) | set(pred)
                    s = score(gold, pred, [lab for lab in SENTIMENT_LABELS if lab in seen])
                    entry["accuracy"], entry["macro_f1"] = s["accuracy"], s["macro_f1"]
                    entry["per_class_f1"] = s["per_class_f1"]
                else:
                    g, p = [split_topics(x) for x in gold], [split_topics(x) for x in pred]
                    seen = {t for row in (*g, *p) for t in row}
                    s = topic_scores(g, p, [t for t in _taxonomy(settings).ids if t in seen])
                    entry["micro_f1"], entry["macro_f1"] = s["micro_f1"], s["macro_f1"]
                    entry["per_topic_f1"] = s["per_topic_f1"]
            out[task] = entry
    return out


def export_training(engine: Engine, task: str, path: Path | str) -> int:
    """The store's labels for ``task`` as JSONL rows {id, text, sentiment | topics}: what ``suara train
    sentiment --data`` and ``suara train topics --data`` read. Texts are the store's (masked) texts."""
    from models.topics import split_topics

    if task not in store.TASKS:
        raise InputError(f"unknown task {task!r}; use one of {list(store.TASKS)}")
    with engine.connect() as conn:
        labelled = store.labelled_items(conn, task)
    if not labelled:
        raise InputError(f"the store has no {task} labels yet; import a review file first")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for r in labelled:
            value: Any = split_topics(r["label"]) if task == "topics" else r["label"]
            f.write(json.dumps({"id": f"item-{r['id']}", "text": r["text"], task: value}, ensure_ascii=False))
            f.write("\n")
    return len(labelled)


def export_history(engine: Engine, path: Path | str, *, task: str | None = None) -> int:
    """Every review as given (JSONL, oldest first): item_id, source, source_id, task, label, labeller, file,
    reviewed_at; the audit trail behind the labels that count."""
    if task is not None and task not in store.TASKS:
        raise InputError(f"unknown task {task!r}; use one of {list(store.TASKS)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    n = 0
    with engine.connect() as conn, part.open("w", encoding="utf-8") as f:
        for r in store.review_history(conn, task):
            f.write(json.dumps({**r, "reviewed_at": r["reviewed_at"].isoformat()}, ensure_ascii=False) + "\n")
            n += 1
    part.replace(path)
    return n
