"""XLSX exports: workbooks built with openpyxl in tmp_path, imported through ``run_collector`` on both stores."""

from __future__ import annotations

import shutil
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from collectors.base import CollectedItem, PagedCollector, Rejected
from collectors.errors import SourceNotFound
from collectors.files import FileMapping
from collectors.xlsx import XlsxCollector, cell_text, day_first_timestamp
from storage import schema
from suara.errors import InputError
from suara.jobs import run_collector

JAKARTA = ZoneInfo("Asia/Jakarta")

# An SP4N-LAPOR!-style export: Indonesian column names, ticket numbers typed as numbers, Excel date cells.
LAPOR_MAPPING = FileMapping.parse(
    {
        "text": "Isi Laporan",
        "id": "Nomor Tiket",
        "created_at": "Tanggal",
        "author": "Pelapor",
        "author_name": None,
        "source": None,
        "default_source": "lapor",
        "kind": None,
        "default_kind": "ticket",
        "url": None,
        "thread_id": None,
        "parent_id": None,
        "language": None,
        "meta_fields": ["Kategori", "Status"],
    }
)
LAPOR_HEADER = ["Nomor Tiket", "Tanggal", "Pelapor", "Kategori", "Isi Laporan", "Status", "Instansi Tujuan"]
LAPOR_ROWS = [
    [
        4821301,
        datetime(2026, 11, 3, 10, 15),
        "siti.rahma92@example.com",
        "Bantuan Sosial",
        "Kartu Cakap saya belum aktif padahal sudah lolos gelombang 14. NIK 3273011290010003.",
        "Diproses",
        "Kementerian Ketenagakerjaan",
    ],
    [
        4821302.0,
        datetime(2026, 11, 3, 21, 40, 5),
        6281234567890,
        "Pelatihan",
        "Video pelatihan tidak bisa diputar, error 500 terus sejak kemarin. Hubungi 0812-3456-7890.",
        "Menunggu",
        "Kementerian Ketenagakerjaan",
    ],
    [
        4821303,
        date(2026, 11, 4),
        "Anonim",
        "Pencairan Dana",
        "Insentif tahap 2 belum cair sudah 1 bulan, tolong dipercepat.",
        "Selesai",
        "Kementerian Ketenagakerjaan",
    ],
]


def workbook(path: Path, sheets: dict[str, list[list]]) -> Path:
    wb = Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def stored(engine) -> dict[str, dict]:
    with engine.connect() as conn:
        return {r["source_id"]: dict(r) for r in conn.execute(select(schema.items)).mappings()}


# -- through the store ------------------------------------------------------------------------------------------


def test_sp4n_lapor_export_imported_twice_adds_nothing(engine, tmp_path):
    path = workbook(tmp_path / "lapor-november.xlsx", {"Laporan": [LAPOR_HEADER, *LAPOR_ROWS]})
    collector = XlsxCollector(path, LAPOR_MAPPING)
    assert isinstance(collector, PagedCollector)

    first = run_collector(engine, collector)
    assert (first.new, first.quarantined) == (3, 0)
    again = run_collector(engine, XlsxCollector(path, LAPOR_MAPPING))
    assert (again.new, again.updated, again.unchanged) == (0, 0, 3)
    renamed = shutil.copy(path, tmp_path / "lapor-november (1).xlsx")  # the same export saved twice
    assert run_collector(engine, XlsxCollector(renamed, LAPOR_MAPPING)).new == 0
    assert count(engine, schema.items) == 3

    items = stored(engine)
    assert set(items) == {"4821301", "4821302", "4821303"}  # numbers typed in Excel, ids as text
    first_item = items["4821301"]
    assert (first_item["source"], first_item["kind"]) == ("lapor", "ticket")
    assert first_item["created_at"].astimezone(JAKARTA) == datetime(2026, 11, 3, 10, 15, tzinfo=JAKARTA)
    assert items["4821303"]["created_at"].astimezone(JAKARTA) == datetime(2026, 11, 4, tzinfo=JAKARTA)
    assert first_item["meta"] == {"Kategori": "Bantuan Sosial", "Status": "Diproses"}
    assert "[NIK]" in first_item["text"] and "[TELEPON]" in items["4821302"]["text"]
    assert all(item["author_key"].startswith("a_") for item in items.values())


def test_no_personal_data_from_the_workbook_is_stored(engine, tmp_path):
    path = workbook(tmp_path / "lapor.xlsx", {"Laporan": [LAPOR_HEADER, *LAPOR_ROWS]})
    run_collector(engine, XlsxCollector(path, LAPOR_MAPPING))
    dump = []
    with engine.connect() as conn:
        for table in (schema.items, schema.quarantine):
            dump.extend(str(dict(row)) for row in conn.execute(select(table)).mappings())
    everything = "\n".join(dump)
    for pii in ("siti.rahma92@example.com", "6281234567890", "3273011290010003", "0812-3456-7890"):
        assert pii not in everything


def test_bad_rows_are_quarantined_with_their_row_numbers_and_the_rest_is_stored(engine, tmp_path):
    sheet = [
        [],  # leading blank row: the header is the first non-empty row
        LAPOR_HEADER,
        LAPOR_ROWS[0],
        [4821310, datetime(2026, 11, 5, 9, 0), "Anonim", "Lainnya", "   ", "Baru", "-"],  # no text
        [None, None, None, None, None, None, None],  # empty: skipped, not quarantined
        [4821311, "kemarin sore", "Anonim", "Lainnya", "Aplikasi sering logout sendiri.", "Baru", "-"],
        [4821312, datetime(2026, 11, 5, 9, 5), "Anonim", "Lainnya", "OTP tidak masuk.", "Baru", "-", "x"],
        LAPOR_ROWS[1],
    ]
    path = workbook(tmp_path / "lapor-rusak.xlsx", {"Laporan": sheet})

    result = run_collector(engine, XlsxCollector(path, LAPOR_MAPPING))

    assert (result.new, result.quarantined) == (2, 3)
    with engine.connect() as conn:
        quarantined = conn.execute(
            select(schema.quarantine.c.source_ref, schema.quarantine.c.reason).order_by(
                schema.quarantine.c.source_ref
            )
        ).all()
    assert [tuple(q) for q in quarantined] == [
        ("lapor-rusak.xlsx:4", "no text in column 'Isi Laporan'"),
        ("lapor-rusak.xlsx:6", "bad 'Tanggal': Invalid isoformat string: 'kemarin sore'"),
        ("lapor-rusak.xlsx:7", "row has values in column(s) H, which have no header"),
    ]
    assert set(stored(engine)) == {"4821301", "4821302"}


def test_whatsapp_business_export_with_text_dates_and_no_ids(engine, tmp_path):
    mapping = FileMapping(
        text="Pesan",
        id=None,
        created_at="Waktu",
        author="Nomor WhatsApp",
        author_name="Nama Kontak",
        source=None,
        default_source="whatsapp",
        kind=None,
        default_kind="post",
        timezone="Asia/Makassar",
    )
    sheet = [
        ["Waktu", "Nomor WhatsApp", "Nama Kontak", "Pesan"],
        ["03/11/2026 10.15", 6281398765432, "Bu Rina", "Min, kartu saya kok belum aktif ya? 😭"],
        ["3-11-2026 10:17:30", 6281398765432, "Bu Rina", "Sudah 2 minggu loh"],
        [datetime(2026, 11, 4, 7, 0), "+62 857-1111-2222", "Pak Darto", "Pelatihannya bagus, terima kasih"],
    ]
    path = workbook(tmp_path / "wa-business.xlsx", {"Chat": sheet})

    records = list(XlsxCollector(path, mapping).collect())
    assert all(isinstance(r, CollectedItem) for r in records)
    wita = ZoneInfo("Asia/Makassar")
    assert [r.created_at for r in records] == [
        datetime(2026, 11, 3, 10, 15, tzinfo=wita),
        datetime(2026, 11, 3, 10, 17, 30, tzinfo=wita),
        datetime(2026, 11, 4, 7, 0, tzinfo=wita),
    ]
    assert records[0].author == "6281398765432" and records[0].source_id.startswith("h:")

    assert run_collector(engine, XlsxCollector(path, mapping)).new == 3
    assert run_collector(engine, XlsxCollector(path, mapping)).new == 0
    assert count(engine, schema.items) == 3


# -- reading the sheet ------------------------------------------------------------------------------------------


def test_reads_the_named_sheet(tmp_path):
    path = workbook(
        tmp_path / "lapor.xlsx",
        {"Ringkasan": [["Total", 3]], "Laporan": [LAPOR_HEADER, *LAPOR_ROWS]},
    )
    collector = XlsxCollector(path, LAPOR_MAPPING, sheet="Laporan")
    assert collector.checkpoint_name == "file:lapor.xlsx#Laporan"
    assert [r.source_id for r in collector.collect()] == ["4821301", "4821302", "4821303"]
    with pytest.raises(
        InputError, match=r"no column 'Isi Laporan' for the text in row 1; columns are \['Total', '3'\]"
    ):
        list(XlsxCollector(path, LAPOR_MAPPING).collect())  # the first sheet is the summary
    with pytest.raises(SourceNotFound, match=r"no sheet 'Data'; sheets are \['Ringkasan', 'Laporan'\]"):
        list(XlsxCollector(path, LAPOR_MAPPING, sheet="Data").collect())


def test_repeated_header_names_keep_every_column(tmp_path):
    header = ["Nomor Tiket", "Tanggal", "Isi Laporan", "Status", "Status"]
    row = [1, datetime(2026, 11, 3, 8, 0), "Belum ditanggapi", "Baru", "Eskalasi"]
    path = workbook(tmp_path / "dup.xlsx", {"Laporan": [header, row]})
    (item,) = XlsxCollector(path, LAPOR_MAPPING).collect()
    assert item.raw["Status"] == "Baru" and item.raw["Status (2)"] == "Eskalasi"


def test_a_row_without_text_is_rejected_with_its_row_number(tmp_path):
    path = workbook(
        tmp_path / "kosong.xlsx", {"Laporan": [LAPOR_HEADER, [7, datetime(2026, 11, 3), "Anonim"]]}
    )
    (rejected,) = XlsxCollector(path, LAPOR_MAPPING).collect()
    assert isinstance(rejected, Rejected)
    assert (rejected.source_ref, rejected.reason) == ("kosong.xlsx:2", "no text in column 'Isi Laporan'")


def test_missing_wrong_and_broken_files(tmp_path):
    with pytest.raises(SourceNotFound, match="no such file"):
        XlsxCollector(tmp_path / "tidak-ada.xlsx", LAPOR_MAPPING)
    csv = tmp_path / "lapor.csv"
    csv.write_text("Isi Laporan\nhalo\n")
    with pytest.raises(InputError, match=r"unsupported file type '\.csv'; use one of \('\.xlsx'"):
        XlsxCollector(csv, LAPOR_MAPPING)
    broken = tmp_path / "rusak.xlsx"
    broken.write_bytes(b"ini bukan file excel")
    with pytest.raises(InputError, match="cannot be read as an XLSX workbook"):
        list(XlsxCollector(broken, LAPOR_MAPPING).collect())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("  ", None),
        (" Diproses ", "Diproses"),
        (4821301, "4821301"),
        (4821301.0, "4821301"),
        (3.5, "3.5"),
        (True, "TRUE"),
        (datetime(2026, 11, 3, 10, 15), "2026-11-03T10:15:00"),
        (date(2026, 11, 3), "2026-11-03"),
        (time(10, 15), "10:15:00"),
    ],
)
def test_cell_text(value, expected):
    assert cell_text(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("03/11/2026", "2026-11-03T00:00:00"),
        ("3/11/2026 10.15", "2026-11-03T10:15:00"),
        ("03-11-2026 10:15:30", "2026-11-03T10:15:30"),
        ("31/02/2026", "31/02/2026"),  # not a date: left for the row check
        ("2026-11-03T10:15:00+07:00", "2026-11-03T10:15:00+07:00"),
        ("kemarin", "kemarin"),
    ],
)
def test_day_first_timestamp(value, expected):
    assert day_first_timestamp(value) == expected
