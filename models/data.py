"""Labelled data readers: SmSA-style TSV, ``text,label`` CSV and JSONL (``text`` + ``label``/``sentiment``).

>>> texts, labels = load_labelled("../shared/data/sentiment/smsa/valid.tsv")
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from suara.errors import InputError

SENTIMENT_LABELS = ("negative", "neutral", "positive")


def jsonl_objects(path: Path, content: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of a JSONL file's ``content``; a line that is not a JSON
    object is an ``InputError`` naming the file and line."""
    for n, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: line {n} is not JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise InputError(f"{path}: line {n} is not a JSON object")
        yield n, obj


def load_labelled(
    path: Path | str, *, labels: tuple[str, ...] = SENTIMENT_LABELS
) -> tuple[list[str], list[str]]:
    """Texts and labels from ``path``; a row with an unknown label or no text is an ``InputError`` naming it."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such data file: {path}")
    try:
        content = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    rows: list[tuple[str, str, str]] = []  # (where, text, label)
    suffix = path.suffix.lower()
    if suffix == ".tsv":
        for n, line in enumerate(content.splitlines(), start=1):
            if line.strip():
                text, _, label = line.rpartition("\t")
                rows.append((f"line {n}", text, label.strip()))
    elif suffix == ".csv":
        reader = csv.DictReader(content.splitlines())
        missing = {"text", "label"} - set(reader.fieldnames or [])
        if missing:
            raise InputError(f"{path}: needs columns text and label; missing {sorted(missing)}")
        for row in reader:
            rows.append((f"line {reader.line_num}", row["text"] or "", (row["label"] or "").strip()))
    elif suffix in (".jsonl", ".ndjson"):
        for n, obj in jsonl_objects(path, content):
            rows.append(
                (f"line {n}", str(obj.get("text") or ""), str(obj.get("label") or obj.get("sentiment") or ""))
            )
    else:
        raise InputError(f"{path}: unsupported data format {suffix!r}; use .tsv, .csv or .jsonl")
    texts, out_labels = [], []
    for where, text, label in rows:
        if label not in labels:
            raise InputError(f"{path}: {where} has label {label!r}; expected one of {list(labels)}")
        if not text.strip():
            raise InputError(f"{path}: {where} has no text")
        texts.append(text)
        out_labels.append(label)
    if not texts:
        raise InputError(f"{path}: no labelled rows")
    return texts, out_labels
