"""models.text: PII masking before storage, normalisation for the models, the slang lexicon."""

from __future__ import annotations

import copy
import doctest
import itertools
import json
import os
import random
from pathlib import Path

import pytest

import models.text
from models.text import (
    IDENTITY_KEYS,
    PiiSpan,
    find_pii,
    load_lexicon,
    mask_payload,
    mask_pii,
    normalize,
    tokenize,
)

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("SUARA_DATA_DIR", ROOT.parent / "shared" / "data")).resolve()
OFFICIAL = frozenset({"KartuCakap_ID"})


# -- PII: what must be masked --------------------------------------------------------------------------------

PII_CASES = [
    # NIK: labelled or not, plain or grouped
    ("min NIK saya 3273011290010003 kok gk bisa verifikasi", "min NIK saya [NIK] kok gk bisa verifikasi"),
    ("NIK 3273 0112 9001 0003 gagal terus di dukcapil", "NIK [NIK] gagal terus di dukcapil"),
    ("ktp: 3273.0112.9001.0003, tolong dicek", "ktp: [NIK], tolong dicek"),
    ("data 3273-0112-9001-0003 dipake orang lain", "data [NIK] dipake orang lain"),
    ("NIK3273011290010003 udh kedaftar katanya", "NIK[NIK] udh kedaftar katanya"),
    ("punya anak saya 3578014506120002 ditolak", "punya anak saya [NIK] ditolak"),
    # phone numbers
    ("hub 0812-3456-7890 ya", "hub [TELEPON] ya"),
    ("wa +62 813 1234 5678 aja min", "wa [TELEPON] aja min"),
    ("nomor aku 62812345678901 udah ganti", "nomor aku [TELEPON] udah ganti"),
    ("call center 021-5551234 gk diangkat", "call center [TELEPON] gk diangkat"),
    ("telp kantor (021) 555 1234", "telp kantor [TELEPON]"),
    ("sms dari 0857.1234.5678 katanya hadiah", "sms dari [TELEPON] katanya hadiah"),
    ("wa 812 3456 7890", "wa [TELEPON]"),
    ("+6281234567890 ngaku2 admin", "[TELEPON] ngaku2 admin"),
    # e-mail, including the spelled-out form
    ("email sitirahma92@gmail.com belum dapat OTP", "email [EMAIL] belum dapat OTP"),
    ("kirim ke budi.santoso+kc@mail.co.id ya", "kirim ke [EMAIL] ya"),
    ("emailku siti (at) gmail (dot) com", "emailku [EMAIL]"),
    ("BUDI_S@YAHOO.CO.ID", "[EMAIL]"),
    # NPWP
    ("NPWP 09.254.294.3-407.000 gk kebaca", "NPWP [NPWP] gk kebaca"),
    ("npwp sy 092542943407000", "npwp sy [NPWP]"),
    ("npwp baru 3273011290010003 (pakai NIK)", "npwp baru [NPWP] (pakai NIK)"),
    # KK
    ("no KK 3171012345678901", "no KK [KK]"),
    ("kartu keluarga: 3171012345678901 sudah update", "kartu keluarga: [KK] sudah update"),
    ("nkk 3171 0123 4567 8901", "nkk [KK]"),
    # payment cards (Luhn-valid test numbers)
    ("kartu 4111 1111 1111 1111 kepotong 2x", "kartu [KARTU] kepotong 2x"),
    ("cc 5500-0000-0000-0004 ditolak", "cc [KARTU] ditolak"),
    ("4111111111111111 expired 12/28", "[KARTU] expired 12/28"),
    # bank accounts and other long numbers
    ("rek BCA 1234567890 a.n. siti", "rek BCA [NOMOR] a.n. siti"),
    ("no rek 123456789 blm masuk", "no rek [NOMOR] blm masuk"),
    ("norek mandiri 123-00-0456789-0", "norek mandiri [NOMOR]"),
    ("VA 8808123456789012", "VA [NOMOR]"),
    ("no peserta 2026101200012345", "no peserta [NIK]"),
    ("kode transaksi TRX20261012000123", "kode transaksi TRX[NOMOR]"),
    # mentions
    ("@budi_s kamu dapet insentifnya?", "@pengguna kamu dapet insentifnya?"),
    ("cc @siti.rahma92 @Budi_S", "cc @pengguna @pengguna"),
]


@pytest.mark.parametrize(("text", "expected"), PII_CASES)
def test_mask_pii_masks_every_kind(text: str, expected: str) -> None:
    assert mask_pii(text) == expected


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("min NIK saya 3273011290010003", ["nik"]),
        ("hub 0812-3456-7890 atau sitirahma92@gmail.com", ["phone", "email"]),
        ("NPWP 09.254.294.3-407.000, KK 3171012345678901", ["npwp", "kk"]),
        ("kartu 4111 1111 1111 1111, rek BCA 1234567890", ["card", "number"]),
        ("@budi_s NIK 3273011290010003", ["mention", "nik"]),
        # a labelled number is what its label says, even when it passes Luhn
        ("NIK 4111111111111111", ["nik"]),
        ("no KK 4111111111111111", ["kk"]),
        # nearest label wins
        ("kk saya NIK nya 3273011290010003", ["nik"]),
        ("NIK 3273011290010003, KK 3273011290010104", ["nik", "kk"]),
        # e-mail beats the digits inside it; an e-mail is not a mention
        ("budi081234567890@gmail.com", ["email"]),
        ("halo@kartucakap.go.id", ["email"]),
    ],
)
def test_find_pii_kinds_and_precedence(text: str, kinds: list[str]) -> None:
    spans = find_pii(text)
    assert [s.kind for s in spans] == kinds
    for s in spans:
        assert text[s.start : s.end] == s.text
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))


def test_pii_span_is_frozen() -> None:
    span = find_pii("hub 0812-3456-7890")[0]
    assert span == PiiSpan("phone", 4, 18, "0812-3456-7890")
    with pytest.raises(AttributeError):
        span.kind = "nik"  # type: ignore[misc]


# -- PII: what must stay -------------------------------------------------------------------------------------

NOT_PII = [
    "bayar Rp 600.000 tiap bulan",
    "insentif Rp600.000 x 4 bulan",
    "anggaran Rp 20.000.000.000.000 buat program ini",
    "total 1.500.000.000 rupiah dipotong",
    "katanya cair 2,4 juta, 600rb per bulan",
    "tgl 12/10/2026 jam 08.30 WIB",
    "daftar 12-10-2026 08.30 sampai sekarang",
    "created 2026-10-12 08:30:15",
    "pukul 08.30-12.00 server down",
    "gelombang 14 kapan dibuka? tahun 2026 ini?",
    "gelombang 14 2026 gimana",
    "update ke versi 3.2 malah crash, v3.2.10 juga",
    "kode OTP 845112 gk masuk2",
    "OTP nya 123456 expired padahal baru 5 menit",
    "antrian nomor 123456789",
    "rating 4.5 dari 5",
    "@ kantor pos jam 10",
    "info di https://www.kartucakap.go.id/faq#verifikasi-nik ya",
    "https://kartucakap.go.id/berita/2026/10/12/pengumuman-gelombang-14",
    "https://x.com/KartuCakap_ID/status/1845123456789012345",
    "cek @KartuCakap_ID",
    "cek @kartucakap_id",
]


@pytest.mark.parametrize("text", NOT_PII)
def test_mask_pii_keeps_ordinary_numbers_and_official_links(text: str) -> None:
    assert mask_pii(text, official_handles=OFFICIAL) == text
    assert find_pii(text, official_handles=OFFICIAL) == []


# -- PII: mentions, official accounts and X links ------------------------------------------------------------


def test_official_handles_case_insensitive_with_or_without_at() -> None:
    text = "@KARTUCAKAP_ID @budi_s tolong dibantu"
    expected = "@KARTUCAKAP_ID @pengguna tolong dibantu"
    assert mask_pii(text, official_handles=frozenset({"kartucakap_id"})) == expected
    assert mask_pii(text, official_handles=frozenset({"@KartuCakap_ID"})) == expected
    assert mask_pii(text) == "@pengguna @pengguna tolong dibantu"


def test_mentions_false_keeps_handles_but_masks_the_rest() -> None:
    text = "@budi_s NIK 3273011290010003 sitirahma92@gmail.com"
    assert mask_pii(text, mentions=False) == "@budi_s NIK [NIK] [EMAIL]"


def test_email_is_not_a_mention() -> None:
    assert [s.kind for s in find_pii("kirim ke siti@kartucakap.go.id @budi")] == ["email", "mention"]
    assert mask_pii("kirim ke siti@kartucakap.go.id") == "kirim ke [EMAIL]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a private person's post: the handle is them and the status id resolves to them
        (
            "liat https://x.com/budi_s/status/1845123456789012345 parah",
            "liat https://x.com/pengguna/status/[NOMOR] parah",
        ),
        (
            "https://twitter.com/Budi_S/status/1845123456789012345?s=20",
            "https://twitter.com/pengguna/status/[NOMOR]?s=20",
        ),
        ("https://x.com/i/web/status/1845123456789012345", "https://x.com/i/web/status/[NOMOR]"),
        ("profilnya x.com/siti_rahma92", "profilnya x.com/pengguna"),
        # the official account's posts stay linkable
        (
            "lihat https://x.com/KartuCakap_ID/status/1845123456789012345",
            "lihat https://x.com/KartuCakap_ID/status/1845123456789012345",
        ),
        # the rest of a URL is checked like any text
        ("https://kartucakap.go.id/cek?nik=3273011290010003", "https://kartucakap.go.id/cek?nik=[NIK]"),
    ],
)
def test_x_links(text: str, expected: str) -> None:
    assert mask_pii(text, official_handles=OFFICIAL) == expected


def test_post_url_with_author_key_keeps_its_status_id() -> None:
    # storage.ingest swaps the handle for the author key, then masks the URL with mentions=False
    url = "https://x.com/a_3f9c0d2e1b7a6c5d4e3f/status/1845123456789012345"
    assert mask_pii(url, mentions=False) == url


# -- PII: idempotence and robustness -------------------------------------------------------------------------

IDEMPOTENCE_CASES = (
    [text for text, _ in PII_CASES]
    + NOT_PII
    + [
        "gelombang 14 3273011290010003 2 kali gagal",
        "hub 0812 3456 7890 2026 ya",
        "1234 3273011290010003 5678",
        "NIK 3273011290010003 KK 3171012345678901 hp 081234567890 rek 1234567890 npwp 092542943407000",
        "https://x.com/budi_s/status/1845123456789012345 @budi_s budi_s@gmail.com",
    ]
)


@pytest.mark.parametrize("text", IDEMPOTENCE_CASES)
def test_mask_pii_is_idempotent(text: str) -> None:
    once = mask_pii(text)
    assert mask_pii(once) == once
    assert find_pii(once) == []


def test_mask_pii_never_raises_on_random_unicode() -> None:
    rng = random.Random(20261012)
    alphabet = "0123456789 .-+()@#_/:\n\tabcNIKkkrpRp[]٣０８😡é\u200d\ufe0f"
    for _ in range(3000):
        if rng.random() < 0.5:
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        else:
            text = "".join(chr(rng.randint(0, 0x2FFFF)) for _ in range(rng.randint(0, 60)))
        masked = mask_pii(text)
        assert isinstance(masked, str)
        assert mask_pii(masked) == masked, repr(text)


def test_mask_pii_is_idempotent_on_glued_fragments() -> None:
    # Pieces of PII, labels, money and links glued in random order: where masking changes the context of a
    # span (a label now after "]", "Rp" swallowed by a mention) a second pass could decide differently.
    pieces = [
        "x.com/",
        "/status/",
        "1845123456789012345",
        "@",
        "budi",
        "pengguna",
        "@pengguna",
        "[NOMOR]",
        "0812 3456 7890",
        "0812-3456-7890",
        " 14 ",
        "2026",
        "npwp ",
        "kk ",
        "rek ",
        "hp ",
        "nik ",
        "NIK",
        "09.254.294.3-407.000",
        "siti@gmail.com",
        "(at)",
        " dot ",
        "4111 1111 1111 1111",
        "12/10/2026",
        "08.30",
        "Rp 600.000",
        "Rp ",
        "jt",
        "rb",
        "3578014506120002",
        "812345678",
        "12345678",
        "+",
        "62",
        " ",
        ".",
        ",",
        "[",
        "]",
        "KartuCakap_ID",
    ]
    rng = random.Random(14)
    for _ in range(5000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 25)))
        once = mask_pii(text, official_handles=OFFICIAL)
        assert mask_pii(once, official_handles=OFFICIAL) == once, repr(text)


def test_mask_pii_empty() -> None:
    assert mask_pii("") == ""
    assert find_pii("") == []


# -- mask_payload --------------------------------------------------------------------------------------------


def _x_payload() -> dict:
    """Shaped like an X API v2 search response (tweet fields, expansions=author_id,entities.mentions)."""
    return {
        "data": [
            {
                "id": "1845123456789012345",
                "author_id": "98765432101",
                "created_at": "2026-10-12T08:30:00.000Z",
                "text": "@KartuCakap_ID min NIK saya 3273011290010003 gagal verif terus, hub 0812-3456-7890 "
                "atau sitirahma92@gmail.com. cc @budi_s https://t.co/AbC123xyz",
                "lang": "in",
                "public_metrics": {"retweet_count": 0, "reply_count": 1, "like_count": 3},
                "entities": {
                    "mentions": [
                        {"start": 0, "end": 14, "username": "KartuCakap_ID", "id": "1500000000000000001"},
                        {"start": 130, "end": 137, "username": "budi_s", "id": "22223333444"},
                    ],
                    "urls": [
                        {
                            "url": "https://t.co/AbC123xyz",
                            "expanded_url": "https://x.com/siti_rahma92/status/1845000000000000001",
                            "display_url": "x.com/siti_rahma92/st…",
                        }
                    ],
                },
            }
        ],
        "includes": {
            "users": [
                {
                    "id": "98765432101",
                    "username": "siti_rahma92",
                    "name": "Siti Rahma",
                    "location": "Cimahi, Jawa Barat",
                    "verified": False,
                },
                {"id": "22223333444", "username": "budi_s", "name": "Budi Santoso"},
            ]
        },
        "meta": {"result_count": 1, "newest_id": "1845123456789012345"},
    }


def test_mask_payload_x_response_leaves_no_personal_data() -> None:
    payload = _x_payload()
    before = copy.deepcopy(payload)
    key = "a_91c2e07d5b3f4a6c8d10"
    masked = mask_payload(
        payload, replace={"@siti_rahma92": key, "98765432101": key}, official_handles=OFFICIAL
    )

    assert payload == before  # the input is not mutated
    dumped = json.dumps(masked, ensure_ascii=False)
    for secret in [
        "siti_rahma92",
        "Siti Rahma",
        "Cimahi",
        "budi_s",
        "Budi Santoso",
        "98765432101",
        "22223333444",
        "3273011290010003",
        "0812-3456-7890",
        "sitirahma92@gmail.com",
    ]:
        assert secret.lower() not in dumped.lower(), secret

    tweet = masked["data"][0]
    assert tweet["author_id"] == key
    assert masked["includes"]["users"][0]["username"] == key
    assert masked["includes"]["users"][0]["id"] == key
    assert masked["includes"]["users"][0]["name"] == "[REDACTED]"
    assert masked["includes"]["users"][0]["verified"] is False
    assert masked["includes"]["users"][1]["username"] == "[REDACTED]"
    assert tweet["text"].startswith(
        "@KartuCakap_ID min NIK saya [NIK] gagal verif terus, hub [TELEPON] atau [EMAIL]"
    )
    assert "cc @pengguna https://t.co/AbC123xyz" in tweet["text"]
    assert tweet["entities"]["mentions"][0]["username"] == "KartuCakap_ID"
    assert tweet["entities"]["urls"][0]["expanded_url"] == "https://x.com/pengguna/status/[NOMOR]"
    assert tweet["created_at"] == "2026-10-12T08:30:00.000Z"
    assert tweet["public_metrics"] == {"retweet_count": 0, "reply_count": 1, "like_count": 3}
    assert tweet["lang"] == "in"
    assert list(masked) == list(payload)  # keys kept, in order
    assert set(masked["includes"]["users"][0]) == set(payload["includes"]["users"][0])


def test_mask_payload_ticket_and_custom_keys() -> None:
    ticket = {
        "Requester_Email": "sitirahma92@gmail.com",
        "subject": "Dana belum cair gelombang 14",
        "description": "Sudah transfer ke rek 1234567890 tgl 12/10/2026, hub 0812-3456-7890",
        "tags": ["pencairan", "gel14"],
        "via": {"source": {"from": {"address": "siti@kartu.id", "name": "Siti"}}},
        "custom_fields": [{"id": 360001, "value": "3273011290010003"}],
        "priority": None,
        "satisfaction": ("bad", 1),
    }
    masked = mask_payload(ticket)
    assert masked["Requester_Email"] == "[REDACTED]"  # key match is case-insensitive
    assert masked["subject"] == "Dana belum cair gelombang 14"
    assert masked["description"] == "Sudah transfer ke rek [NOMOR] tgl 12/10/2026, hub [TELEPON]"
    assert masked["via"] == {"source": {"from": {"address": "[REDACTED]", "name": "[REDACTED]"}}}
    assert masked["custom_fields"] == [{"id": 360001, "value": "[NIK]"}]
    assert masked["priority"] is None
    assert masked["satisfaction"] == ("bad", 1)
    assert mask_payload(ticket, redact_keys=frozenset())["via"]["source"]["from"]["name"] == "Siti"
    assert "author" in IDENTITY_KEYS and "username" in IDENTITY_KEYS


def test_mask_payload_scalars_and_lists() -> None:
    assert mask_payload("hub 0812-3456-7890") == "hub [TELEPON]"
    replace = {"budi_s": "a_1", "98765432101": "a_1"}
    assert mask_payload(["@Budi_S", "budi_s", 42, True], replace=replace) == ["a_1", "a_1", 42, True]
    assert mask_payload({"user": {"id": 98765432101}}, replace=replace) == {"user": {"id": "a_1"}}
    assert mask_payload(None) is None


# -- normalize -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # lower case, NFKC, whitespace
        ("Aplikasi   SANGAT\n\nmembantu", "aplikasi sangat membantu"),
        ("ＫＡＲＴＵ 𝐂𝐚𝐤𝐚𝐩 error", "kartu cakap error"),
        # URLs and mentions go; hashtags become words
        ("@KartuCakap_ID @budi_s cek https://t.co/AbC123 dan www.kartucakap.go.id/faq dong", "cek dan dong"),
        ("#KartuCakapSalahSasaran lagi", "kartu cakap salah sasaran lagi"),
        ("#kipk_salah_sasaran #Prakerja2026", "kipk salah sasaran prakerja 2026"),
        # placeholders stay tokens
        ("NIK [NIK] sama no hp [TELEPON] @pengguna", "nik [NIK] sama nomor hp [TELEPON]"),
        ("emailku [email] kena [redacted]", "emailku [EMAIL] kena [REDACTED]"),
        # laughter
        ("wkwkwk wkwkwkwk WKWK hahaha ahahah hehe xixixi awokawok", " ".join(["haha"] * 8)),
        # elongation: 3+ collapse, real doubles stay
        ("lamaaaa bangettt nungguuu", "lama banget menunggu"),
        ("maaf saat tunggu taat", "maaf saat tunggu taat"),
        ("gaaak mauuu", "tidak mau"),
        # reduplication with 2
        ("kata2 hati2 anak2nya org2", "kata-kata hati-hati anak-anaknya orang-orang"),
        ("gelombang 2 lt2 covid19", "gelombang 2 lt2 covid19"),
        # emoji and emoticons
        ("pelayanan lambat 😡🤬", "pelayanan lambat marah marah"),
        ("😭😭😭 belum cair", "sedih belum cair"),
        ("tolong min 🙏🏽", "tolong min mohon"),
        ("mantap 👍 ❤️ 😍", "mantap bagus suka suka"),
        ("🙄 gitu doang", "kesal begitu saja"),
        ("😂🤣", "haha haha"),
        ("🎉✨🚀 selamat", "selamat"),
        ("gk bisa login :(", "tidak bisa login sedih"),
        # slang -> formal
        ("gk ga gak nggak tdk", "tidak tidak tidak tidak tidak"),
        ("udh bgt yg dgn knp blm sy plis", "sudah banget yang dengan kenapa belum saya tolong"),
        ("min knp blm cair", "min kenapa belum cair"),
        ("tf ke rek blm masuk", "transfer ke rekening belum masuk"),
        ("ktp nik otp kk", "ktp nik otp kk"),
        ("gausah gatau gpp", "tidak usah tidak tahu tidak apa-apa"),
        # negators and intensifiers stay
        ("tidak bukan belum kurang sangat", "tidak bukan belum kurang sangat"),
        # ? and ! are tokens, other punctuation goes
        ("kenapa??? kok gitu!!!", "kenapa ? kok begitu !"),
        ("beneran?! (serius) ... ok;", "benar ? ! serius ok"),
        # numbers keep their shape
        ("Rp 600.000 tgl 12/10/2026 jam 08.30 v3.2", "rp 600.000 tanggal 12/10/2026 jam 08.30 v3.2"),
        ("Jum'at kemarin", "jumat kemarin"),
        ("&amp; &lt;3", "suka"),
        # empty and emoji-only
        ("", ""),
        ("   ", ""),
        ("😡", "marah"),
        ("🎉", ""),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_normalize_uses_the_given_lexicon() -> None:
    assert normalize("aplikasinya lemot bgt", lexicon={"lemot": "lambat"}) == "aplikasinya lambat bgt"
    assert normalize("gk bisa", lexicon={}) == "gk bisa"


def test_normalize_with_shared_lexicon_keeps_domain_words(tmp_path: Path) -> None:
    _write_shared(tmp_path, csv_rows=[("kk", "kakak"), ("nyariin", "mencari")], json_obj={"sma": "sama"})
    lexicon = load_lexicon(tmp_path)
    assert normalize("no kk sma nyariin", lexicon=lexicon) == "nomor kk sma mencari"


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("NIK [NIK] gagal verif 2x?!", ["NIK", "[NIK]", "gagal", "verif", "2x", "?", "!"]),
        ("Rp 600.000 tgl 12/10/2026 jam 08.30", ["Rp", "600.000", "tgl", "12/10/2026", "jam", "08.30"]),
        ("e-ktp kata-kata jum'at", ["e-ktp", "kata-kata", "jum'at"]),
        ("salah_sasaran... ok", ["salah", "sasaran", "ok"]),
        ("", []),
    ],
)
def test_tokenize(text: str, tokens: list[str]) -> None:
    assert tokenize(text) == tokens


# -- load_lexicon --------------------------------------------------------------------------------------------


def _write_shared(data_dir: Path, *, csv_rows=None, json_obj=None) -> None:
    lexdir = data_dir / "lexicon"
    lexdir.mkdir(parents=True, exist_ok=True)
    if csv_rows is not None:
        lines = ["slang,formal"] + [f"{s},{f}" for s, f in csv_rows]
        (lexdir / "slang-indo-normalizer.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if json_obj is not None:
        (lexdir / "slang-louisowen6.json").write_text(json.dumps(json_obj), encoding="utf-8")


def test_bundled_lexicon_file_is_well_formed() -> None:
    path = ROOT / "models" / "resources" / "slang_id.tsv"
    entries = [
        line.split("\t")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert all(len(e) == 2 and e[0] == e[0].strip().lower() and e[1] == e[1].strip().lower() for e in entries)
    keys = [e[0] for e in entries]
    assert len(keys) == len(set(keys))
    assert 200 <= len(keys) <= 450


def test_load_lexicon_bundled_only() -> None:
    lex = load_lexicon()
    assert lex["gk"] == lex["nggak"] == lex["tdk"] == "tidak"
    assert (lex["udh"], lex["yg"], lex["dgn"], lex["knp"], lex["blm"], lex["sy"], lex["plis"]) == (
        "sudah",
        "yang",
        "dengan",
        "kenapa",
        "belum",
        "saya",
        "tolong",
    )
    assert (lex["bgt"], lex["tf"], lex["rek"], lex["apk"]) == ("banget", "transfer", "rekening", "aplikasi")
    for kept in ["min", "ktp", "nik", "otp", "kk", "tidak", "sangat"]:
        assert kept not in lex  # stays as written
    assert all(k != v and v for k, v in lex.items())


@pytest.mark.parametrize("where", ["missing", "empty"])
def test_load_lexicon_without_shared_files_is_the_bundled_list(tmp_path: Path, where: str) -> None:
    data_dir = tmp_path / "nowhere" if where == "missing" else tmp_path
    assert load_lexicon(data_dir) == load_lexicon()


def test_load_lexicon_merges_and_cleans_shared_lists(tmp_path: Path) -> None:
    _write_shared(
        tmp_path,
        csv_rows=[
            ("nyariin", "mencari"),
            ("nyariin", "mencarikan"),  # a later duplicate: the first wins
            ("gausahlah", "enggak usahlah"),
            ("kepoin", "enggak usah"),  # composed, kept
            ("gbs", "bisa"),  # bundled wins
            ("ndakk", "indak"),  # a negator turned into something else
            ("sotoy", "sok tau"),  # value passed through the bundled list
            ("kosong", ""),
            ("sama", "sama"),
            ("x", "kali"),  # one letter
            ("au ah", "tidak mau tahu"),  # not one word
            ('ngaku"', "mengaku"),
        ],
        json_obj={
            "afaik": "as far as i know",
            "cmiiw": "correct me if i'm wrong",
            "kk": "kakak",
            "malah": "bahkan",
            "hehe": "he",
            "wkwkkw": "tertawa",
            "lemot": "lemah otak",  # bundled wins
            "nyariin": "cari",  # CSV read first
            "napza": "narkotika, alkohol, psikotropika, dan zat adiktif",
            "sembako": "sembilan bahan pokok sehari hari",
            "tidak": "enggak",
            "sangat": "banget",
            "bokap": "ayah",
            "hp": 3,
        },
    )
    lex = load_lexicon(tmp_path)
    assert lex["nyariin"] == "mencari"
    assert lex["kepoin"] == "tidak usah"
    assert lex["sotoy"] == "sok tahu"
    assert lex["bokap"] == "ayah"
    assert lex["gbs"] == "tidak bisa" and lex["lemot"] == "lambat"
    for dropped in [
        "ndakk",
        "kosong",
        "sama",
        "x",
        "au ah",
        'ngaku"',
        "afaik",
        "cmiiw",
        "kk",
        "malah",
        "hehe",
        "wkwkkw",
        "napza",
        "sembako",
        "tidak",
        "sangat",
        "hp",
    ]:
        assert dropped not in lex, dropped
    assert "gausahlah" not in lex or lex["gausahlah"].startswith("tidak")


def test_load_lexicon_is_cached_per_path_and_returns_copies(tmp_path: Path) -> None:
    _write_shared(tmp_path, json_obj={"bokap": "ayah"})
    first = load_lexicon(tmp_path)
    first["bokap"] = "changed"
    assert load_lexicon(tmp_path)["bokap"] == "ayah"
    assert load_lexicon(str(tmp_path / "." / "lexicon" / ".."))["bokap"] == "ayah"
    (tmp_path / "lexicon" / "slang-louisowen6.json").write_text('{"bokap": "bapak"}', encoding="utf-8")
    assert load_lexicon(tmp_path)["bokap"] == "ayah"  # cached: a process reads the lists once


def test_load_lexicon_reads_the_real_shared_lists() -> None:
    lexdir = SHARED_DATA / "lexicon"
    files = [lexdir / "slang-indo-normalizer.csv", lexdir / "slang-louisowen6.json"]
    if not all(f.is_file() for f in files):
        pytest.skip(f"shared lexicons not found in {lexdir}; set SUARA_DATA_DIR to the shared data folder")
    lex = load_lexicon(SHARED_DATA)
    bundled = load_lexicon()
    assert len(lex) > len(bundled) + 1000
    assert all(lex[k] == v for k, v in bundled.items())
    for bad in ["afaik", "cmiiw", "imho", "kk", "malah", "kaya", "usah", "ndak", "week", "ginting", "haha"]:
        assert lex.get(bad) in (None, bundled.get(bad)), bad
    assert lex["gausah"] == "tidak usah" and lex["gatau"] == "tidak tahu"
    for negation in ("gk", "nggak", "engga", "kagak", "nda", "ndak", "gaada"):
        assert lex[negation].split()[0] == "tidak", negation
    assert lex["nyebelin"] == "menyebalkan"
    assert all(" " not in k and len(v.split()) <= 3 for k, v in lex.items())
    assert normalize("aplikasinya lemot bgt, gapake lama ngeselin", lexicon=lex) == (
        "aplikasinya lambat banget tidak pakai lama mengesalkan"
    )


# -- the module's own examples -------------------------------------------------------------------------------


def test_docstring_examples() -> None:
    result = doctest.testmod(models.text, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_mask_payload_keeps_record_ids_but_not_personal_numbers_under_id_keys():
    payload = {
        "id": "1843000000000000001",
        "conversation_id": "1843000000000000001",
        "referenced_tweets": [{"type": "quoted", "id": "1843000000000000002"}],
        "meta": {"newest_id": "1843000000000000009", "result_count": 2},
        "author_id": "98765432101234",  # identifies a person: redacted, whatever its shape
        "nik_id": "3273011290010003",  # a NIK under an id-looking key is still a NIK
        "ids": ["081234567890"],
        "text": "lihat 1843000000000000001",  # free text: long numbers are masked as usual
    }
    masked = mask_payload(payload)
    assert masked["id"] == masked["conversation_id"] == "1843000000000000001"
    assert masked["referenced_tweets"][0]["id"] == "1843000000000000002"
    assert masked["meta"]["newest_id"] == "1843000000000000009"
    assert (
        masked["author_id"] == "[REDACTED]" and masked["nik_id"] == "[NIK]" and masked["ids"] == ["[TELEPON]"]
    )
    assert masked["text"] == "lihat [NOMOR]"
