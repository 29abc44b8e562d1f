"""From files to the store: masking, author keys, quarantine, and reruns that add nothing."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from collectors.base import CollectedItem
from collectors.errors import SourceNotFound
from collectors.files import FileCollector, FileMapping
from storage import schema
from storage.ingest import MAX_TEXT_CHARS, author_key, ingest
from suara.errors import InputError

NIK = "3273011290010003"
PHONE = "0812-3456-7890"
EMAIL = "sitirahma.92@gmail.com"

ROWS = [
    {
        "channel": "x",
        "id": "1843000000000000001",
        "kind": "post",
        "author": "@budi_santoso88",
        "author_name": "Budi Santoso",
        "text": f"min NIK saya {NIK} kok gk bisa verifikasi, wa {PHONE}",
        "created_at": "2026-10-06T08:15:00+07:00",
        "url": "https://x.com/budi_santoso88/status/1843000000000000001",
        "thread_id": "1843000000000000001",
        "lang": "id",
        "metrics": {"like_count": 2},
    },
    {
        "channel": "zendesk",
        "id": "ZD-48213",
        "kind": "ticket",
        "author": EMAIL,
        "author_name": "Siti Rahma",
        "subject": f"Insentif belum cair, hubungi {PHONE}",
        "text": "insentif gelombang 14 blm cair udh 3 minggu",
        "created_at": "2026-10-07T10:00:00+07:00",
        "status": "open",
        "thread_id": "ZD-48213",
    },
]


def write_jsonl(path: Path, rows: list, extra_lines: list[bytes] = ()) -> Path:
    with path.open("wb") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False).encode() + b"\n")
        for line in extra_lines:
            fh.write(line + b"\n")
    return path


def dump_store(conn) -> str:
    """Every value of every table as one string, to search for PII."""
    parts = []
    for table in schema.metadata.sorted_tables:
        for row in conn.execute(select(table)):
            parts.append(json.dumps([str(v) for v in row], ensure_ascii=False))
    return "\n".join(parts)


def run_ingest(engine, path: Path, mapping: FileMapping | None = None):
    with engine.begin() as conn:
        return ingest(conn, FileCollector(path, mapping or FileMapping()).collect(), salt="test-salt")


def test_no_pii_or_handle_anywhere_in_the_store(engine, tmp_path):
    bad = json.dumps({"id": "x9", "text": "", "author": "@budi_santoso88", "note": f"NIK {NIK}"}).encode()
    run_ingest(engine, write_jsonl(tmp_path / "a.jsonl", ROWS, [bad]))
    with engine.connect() as conn:
        everything = dump_store(conn)
        texts = conn.execute(select(schema.items.c.text).order_by(schema.items.c.id)).scalars().all()
    for secret in (NIK, PHONE, "081234567890", EMAIL, "budi_santoso88", "Budi Santoso", "Siti Rahma"):
        assert secret not in everything, secret
    assert "[NIK]" in texts[0] and "[TELEPON]" in texts[0]
    assert texts[1] == ROWS[1]["text"]  # ordinary numbers ("gelombang 14", "3 minggu") survive


def test_author_key_is_salted_stable_and_replaces_the_handle(engine, tmp_path):
    run_ingest(engine, write_jsonl(tmp_path / "a.jsonl", ROWS))
    with engine.connect() as conn:
        row = conn.execute(select(schema.items).where(schema.items.c.source == "x")).one()
    key = author_key("test-salt", "x", "@budi_santoso88")
    assert row.author_key == key == author_key("test-salt", "x", "Budi_Santoso88")
    assert author_key("other-salt", "x", "@budi_santoso88") != key
    assert row.raw["author"] == key and row.url.endswith(f"/{key}/status/1843000000000000001")
    assert row.raw["author_name"] == "[REDACTED]"
    assert row.meta == {"metrics": {"like_count": 2}}


def test_same_file_twice_or_renamed_adds_nothing(engine, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", ROWS)
    first = run_ingest(engine, path)
    assert (first.new, first.quarantined) == (2, 0)
    again = run_ingest(engine, path)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 2)
    renamed = run_ingest(engine, write_jsonl(tmp_path / "copy.jsonl", ROWS))
    assert renamed.new == 0
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.items)).scalar_one() == 2


def test_csv_without_ids_gets_content_ids_and_is_idempotent(engine, tmp_path):
    path = tmp_path / "lapor.csv"
    path.write_text(
        "isi,tanggal,pelapor\nsertifikat hilang stlh update,2026-11-02 09:00,@ani\n"
        "kapan insentif cair min?,2026-11-03 10:00,@bayu\n",
        encoding="utf-8",
    )
    mapping = FileMapping.parse("text=isi,created_at=tanggal,author=pelapor,id=,source=,kind=")
    assert run_ingest(engine, path, mapping).new == 2
    assert run_ingest(engine, path, mapping).new == 0
    with engine.connect() as conn:
        rows = conn.execute(
            select(schema.items.c.source, schema.items.c.source_id, schema.items.c.created_at)
        ).all()
    assert {r.source for r in rows} == {"file"} and all(r.source_id.startswith("h:") for r in rows)
    # naive timestamps are read in Asia/Jakarta: 09:00 WIB is 02:00 UTC
    assert datetime(2026, 11, 2, 2, 0, tzinfo=UTC) in {r.created_at for r in rows}


def test_bad_rows_are_quarantined_with_reasons_and_the_rest_is_stored(engine, tmp_path):
    lines = [
        b'{"id": "broken", "text": "kurang kurung"',  # invalid JSON
        b'{"id": "latin1", "text": "caf\xe9 lemot", "created_at": "2026-10-06T08:00:00+07:00"}',  # not UTF-8
        json.dumps({"id": "e1", "text": "   ", "created_at": "2026-10-06T08:00:00+07:00"}).encode(),
        json.dumps({"id": "d1", "text": "tanpa tanggal"}).encode(),
        json.dumps({"id": "k1", "text": "aneh", "kind": "tweet", "created_at": "2026-10-06"}).encode(),
        json.dumps({"id": "big", "text": "a" * (MAX_TEXT_CHARS + 1), "created_at": "2026-10-06"}).encode(),
        b"[1, 2, 3]",
    ]
    path = write_jsonl(tmp_path / "mixed.jsonl", ROWS, lines)
    result = run_ingest(engine, path)
    assert (result.new, result.quarantined) == (2, 7)
    with engine.connect() as conn:
        reasons = (
            conn.execute(select(schema.quarantine.c.reason).order_by(schema.quarantine.c.id)).scalars().all()
        )
    expected = [
        "invalid JSON",
        "invalid UTF-8",
        "no text",
        "bad 'created_at'",
        "unknown kind",
        "text too long",
        "expected a JSON object",
    ]
    assert len(reasons) == 7
    for reason, want in zip(reasons, expected, strict=True):
        assert reason.startswith(want), (reason, want)
    # a rerun quarantines nothing new and stores nothing twice
    again = run_ingest(engine, path)
    assert (again.new, again.quarantined) == (0, 7)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.quarantine)).scalar_one() == 7


def test_quarantined_raw_is_masked(engine, tmp_path):
    path = write_jsonl(tmp_path / "q.jsonl", [], [f'{{"text": "NIK {NIK}", "author": "@ani"'.encode()])
    run_ingest(engine, path)
    with engine.connect() as conn:
        raw = conn.execute(select(schema.quarantine.c.raw)).scalar_one()
    assert NIK not in raw and "[NIK]" in raw


def test_items_without_source_id_or_timezone_are_quarantined(engine):
    good = CollectedItem(
        source="x", source_id="1", kind="post", text="ok", created_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    no_id = CollectedItem(
        source="x", source_id="", kind="post", text="x", created_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    naive = CollectedItem(source="x", source_id="2", kind="post", text="x", created_at=datetime(2026, 1, 1))
    with engine.begin() as conn:
        result = ingest(conn, [good, no_id, naive], salt="s")
        reasons = set(conn.execute(select(schema.quarantine.c.reason)).scalars())
    assert (result.new, result.quarantined) == (1, 2)
    assert reasons == {"no source id", "created_at has no timezone"}


def test_file_errors_are_named(tmp_path):
    with pytest.raises(SourceNotFound, match="no such file"):
        FileCollector(tmp_path / "nope.jsonl")
    (tmp_path / "a.xml").write_text("<x/>")
    with pytest.raises(InputError, match="unsupported file type"):
        FileCollector(tmp_path / "a.xml")
    (tmp_path / "a.csv").write_text("body\nhalo\n")
    with pytest.raises(InputError, match="no column 'text'"):
        list(FileCollector(tmp_path / "a.csv").collect())
    with pytest.raises(InputError, match="unknown field"):
        FileMapping.parse("txt=body")
    with pytest.raises(InputError, match="field=column"):
        FileMapping.parse("text")


def test_mapping_from_yaml_file(tmp_path):
    spec = tmp_path / "lapor.yaml"
    spec.write_text("text: isi\ncreated_at: tanggal\ndefault_source: lapor\n")
    m = FileMapping.parse(str(spec))
    assert (m.text, m.created_at, m.default_source) == ("isi", "tanggal", "lapor")
    assert re.fullmatch(r"[a-z_]+", m.kind or "")
