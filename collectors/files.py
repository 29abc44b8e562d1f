"""CSV and JSONL exports from any channel (WhatsApp Business, web forms, SP4N-LAPOR!, helpdesk dumps).

A ``FileMapping`` says which column holds what. Rows without an id get one derived from their content, so the
same file imported twice, or under another name, adds nothing. A bad row (invalid JSON, invalid UTF-8, no
text, no date) becomes a ``Rejected`` record with its line number; the rest of the file goes on.

>>> list(FileCollector("keluhan.csv", FileMapping(text="isi", created_at="tanggal")).collect())
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from collectors.base import KINDS, CollectedItem, Page, Record, Rejected
from collectors.errors import SourceNotFound
from suara.errors import InputError

# Fields that describe a ticket or a post rather than say anything: kept in the item's metadata.
DEFAULT_META_FIELDS = (
    "subject",
    "status",
    "priority",
    "tags",
    "first_response_at",
    "solved_at",
    "metrics",
    "quoted_id",
    "satisfaction",
    "channel_name",
)
SUPPORTED_SUFFIXES = (".jsonl", ".ndjson", ".csv")
PAGE_SIZE = 500


@dataclass(frozen=True)
class FileMapping:
    """Which column holds what. ``source`` is a column name; ``default_source`` is used when it is absent."""

    text: str = "text"
    id: str | None = "id"
    source: str | None = "channel"
    default_source: str = "file"
    kind: str | None = "kind"
    default_kind: str = "post"
    author: str | None = "author"
    author_name: str | None = "author_name"
    created_at: str = "created_at"
    url: str | None = "url"
    thread_id: str | None = "thread_id"
    parent_id: str | None = "parent_id"
    language: str | None = "lang"
    meta_fields: tuple[str, ...] = DEFAULT_META_FIELDS
    timezone: str = "Asia/Jakarta"  # for timestamps written without an offset

    @classmethod
    def parse(cls, spec: str | Mapping[str, Any] | None) -> FileMapping:
        """From a mapping, a JSON/YAML file path, or ``"text=isi,created_at=tanggal"``.

        Unknown keys are an ``InputError`` naming them.
        """
        if spec is None or spec == "":
            return cls()
        if isinstance(spec, str):
            path = Path(spec)
            if path.suffix in (".json", ".yaml", ".yml") and path.exists():
                import yaml

                spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            else:
                pairs = [p.split("=", 1) for p in spec.split(",") if p.strip()]
                if any(len(p) != 2 for p in pairs):
                    raise InputError(
                        f"mapping {spec!r}: write it as field=column pairs, e.g. text=isi,id=no_tiket"
                    )
                spec = {k.strip(): v.strip() for k, v in pairs}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise InputError(f"mapping has unknown field(s) {unknown}; known: {sorted(known)}")
        values = {k: (tuple(v) if k == "meta_fields" else (v or None)) for k, v in spec.items()}
        return cls(**values)


def parse_timestamp(value: Any, tz: str) -> datetime:
    """ISO 8601 (with or without offset) or epoch seconds; naive times are read in ``tz``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC)
    if not isinstance(value, str) or not value.strip():
        raise ValueError("missing timestamp")
    text = value.strip().replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo(tz))


def _has_surrogates(value: Any) -> bool:
    if isinstance(value, str):
        return any("\udc80" <= ch <= "\udcff" for ch in value)
    if isinstance(value, Mapping):
        return any(_has_surrogates(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_surrogates(v) for v in value)
    return False


def _readable(value: str) -> str:
    """Undecodable bytes shown as \\xNN escapes, so a quarantined line can be read and stored."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@dataclass
class FileCollector:
    """Reads one CSV or JSONL export and yields its rows as items (or rejects, with reasons)."""

    path: Path | str
    mapping: FileMapping = field(default_factory=FileMapping)
    source: str = "file"

    suffixes: ClassVar[tuple[str, ...]] = SUPPORTED_SUFFIXES

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if not self.path.is_file():
            raise SourceNotFound(f"no such file: {self.path}")
        if self.path.suffix.lower() not in self.suffixes:
            raise InputError(
                f"{self.path.name}: unsupported file type {self.path.suffix!r}; use one of {self.suffixes}"
            )

    @property
    def checkpoint_name(self) -> str:
        return f"file:{Path(self.path).name}"

    def pages(self, cursor: str | None = None) -> Iterator[Page]:
        """Pages of records; no cursor is needed because keys make a re-import add nothing."""
        batch: list[Record] = []
        for record in self.collect():
            batch.append(record)
            if len(batch) == PAGE_SIZE:
                yield Page(batch)
                batch = []
        if batch:
            yield Page(batch)

    def collect(self) -> Iterator[Record]:
        for line_no, row, problem in self.read_rows():
            ref = f"{Path(self.path).name}:{line_no}"
            if problem is not None:
                yield Rejected(
                    self.mapping.default_source,
                    problem,
                    _readable(row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)),
                    source_ref=ref,
                )
                continue
            yield self._to_item(row, ref)

    def read_rows(self) -> Iterator[tuple[int, Any, str | None]]:
        """(line or row number, row, problem) triples; a subclass reads another format by overriding this."""
        data = Path(self.path).read_bytes().decode("utf-8", "surrogateescape")
        if data.startswith("\ufeff"):
            data = data[1:]
        if Path(self.path).suffix.lower() == ".csv":
            reader = csv.DictReader(io.StringIO(data, newline=""))
            if not reader.fieldnames or self.mapping.text not in reader.fieldnames:
                raise InputError(
                    f"{Path(self.path).name}: no column {self.mapping.text!r} for the text; "
                    f"columns are {reader.fieldnames}; set --text-column or the mapping"
                )
            for row in reader:
                line = reader.line_num
                if None in row:
                    yield line, row, "row has more fields than the header"
                elif _has_surrogates(row):
                    yield line, row, "invalid UTF-8"
                else:
                    yield line, row, None
            return
        for line_no, line in enumerate(data.splitlines(), start=1):
            if not line.strip():
                continue
            if _has_surrogates(line):
                yield line_no, line, "invalid UTF-8"
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield line_no, line, f"invalid JSON: {exc.msg} at column {exc.colno}"
                continue
            if not isinstance(row, dict):
                yield line_no, line, f"expected a JSON object, got {type(row).__name__}"
                continue
            yield line_no, row, None

    def _to_item(self, row: Mapping[str, Any], ref: str) -> Record:
        m = self.mapping

        def get(column: str | None) -> Any:
            value = row.get(column) if column else None
            return value if value not in ("", None) else None

        source = str(get(m.source) or m.default_source)
        text = get(m.text)
        raw_line = json.dumps(row, ensure_ascii=False, default=str)
        if not isinstance(text, str) or not text.strip():
            return Rejected(source, f"no text in column {m.text!r}", raw_line, source_ref=ref)
        try:
            created_at = parse_timestamp(get(m.created_at), m.timezone)
        except (ValueError, TypeError, OverflowError) as exc:
            return Rejected(source, f"bad {m.created_at!r}: {exc}", raw_line, source_ref=ref)
        kind = str(get(m.kind) or m.default_kind)
        if kind not in KINDS:
            return Rejected(source, f"unknown kind {kind!r}; expected one of {sorted(KINDS)}", raw_line, ref)
        source_id = get(m.id)
        if source_id is None:
            # Content-derived id: the same row in any file maps to the same item.
            basis = json.dumps([text, get(m.author), get(m.created_at)], ensure_ascii=False)
            source_id = "h:" + hashlib.sha256(basis.encode()).hexdigest()[:32]
        meta = {k: row[k] for k in m.meta_fields if k in row and row[k] not in ("", None)}
        return CollectedItem(
            source=source,
            source_id=str(source_id),
            kind=kind,
            text=text,
            created_at=created_at,
            author=str(get(m.author)) if get(m.author) is not None else None,
            author_name=str(get(m.author_name)) if get(m.author_name) is not None else None,
            language=get(m.language),
            url=get(m.url),
            thread_id=str(get(m.thread_id)) if get(m.thread_id) is not None else None,
            parent_id=str(get(m.parent_id)) if get(m.parent_id) is not None else None,
            meta=meta,
            raw=dict(row),
        )
