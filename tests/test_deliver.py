"""Delivery: files first, then e-mail to a local aiosmtpd server and Slack to a local HTTP server (the real
``smtplib`` and ``slack_sdk`` clients talk to them); failures are retried with the written-out delays, reported,
and never lose the digest file. Spike alerts go the same way as a short message of their own. No PII leaves.
"""

from __future__ import annotations

import email
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from digest import alerts
from digest import deliver as dl
from digest.build import Period, build_digest
from digest.phrases import highlights, spike_sentence, title
from storage import db
from storage.schema import items, runs
from suara import jobs
from suara.config import Settings
from suara.errors import InputError
from suara.testing import free_port

WEEK = Period.ending("week", date(2026, 11, 15))
NOW = datetime(2026, 11, 16, 1, 0, tzinfo=UTC)


# -- local servers ----------------------------------------------------------------------------------------------
@dataclass
class Mailbox:
    messages: list = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
        self.messages.append(envelope)
        return "250 OK"

    def parsed(self, i: int = -1) -> email.message.EmailMessage:
        return email.message_from_bytes(self.messages[i].content, policy=policy.default)


@pytest.fixture
def smtp() -> Iterator[tuple[int, Mailbox]]:
    from aiosmtpd.controller import Controller

    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, box
    controller.stop()


@dataclass
class Webhook:
    url: str
    bodies: list[bytes] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answers to give, then 200

    def payloads(self) -> list[dict]:
        return [json.loads(b) for b in self.bodies]


@pytest.fixture
def slack() -> Iterator[Webhook]:
    hook = Webhook("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            hook.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            status = hook.statuses.pop(0) if hook.statuses else 200
            body = b"ok" if status == 200 else b"internal_error"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # keep the test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/XXX"
    yield hook
    server.shutdown()
    server.server_close()


def config(smtp_port: int | None = None, slack_url: str | None = None, **kw) -> dl.DeliveryConfig:
    return dl.DeliveryConfig(
        slack_webhook_url=slack_url,
        smtp_host="127.0.0.1" if smtp_port else None,
        smtp_port=smtp_port or 25,
        smtp_from="suara@example.org",
        smtp_to=("pm@example.org", "lead@example.org"),
        smtp_starttls=False,
        timeout=5,
        **kw,
    )


class Clock:
    def __init__(self):
        self.slept: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)


# -- data -------------------------------------------------------------------------------------------------------
def row(i, sentiment, topics="pembayaran_dana", day=10, text=None, author=None):
    return {
        "id": i,
        "source": "x",
        "kind": "post",
        "author_key": author or f"a_{i}",
        "text": text or f"insentif belum cair juga minggu ke-{i}",
        "created_at": datetime(2026, 11, day, 3, 0, tzinfo=UTC),
        "url": None,
        "sentiment": sentiment,
        "sentiment_confidence": 0.9,
        "sentiment_model": "sentiment-test-1",
        "topics": topics,
        "topics_model": "topics-test-1",
    }


@pytest.fixture
def data():
    cur = [row(i, "negative") for i in range(12)] + [row(50, "positive", text="makasih udah cair")]
    prev = [row(100 + i, "negative", day=3) for i in range(8)]
    return build_digest(cur, prev, period=WEEK, generated_at=NOW)


@pytest.fixture
def spiky():
    history = [
        {**row(i, "negative"), "created_at": datetime(2026, 10, 20, 3, tzinfo=UTC) + timedelta(days=i % 20)}
        for i in range(20)
    ]
    burst = [row(100 + i, "negative", day=13) for i in range(9)]
    day = Period.ending("day", date(2026, 11, 13))
    return build_digest(burst, [], period=day, generated_at=NOW, history=history)


# -- e-mail -----------------------------------------------------------------------------------------------------
def test_email_arrives_with_plain_and_html_parts_inline_charts_and_the_subject(data, smtp, tmp_path):
    port, box = smtp
    paths = dl.write_files(data, tmp_path, "digest-2026-11-15")
    cfg = config(port, base_url="https://digest.example.org/suara/")
    (result,) = dl.deliver(data, paths, ["email"], cfg)
    assert result.ok and result.attempts == 1 and str(result) == "email: sent to 2 recipient(s)"
    (envelope,) = box.messages
    assert envelope.mail_from == "suara@example.org"
    assert envelope.rcpt_tos == ["pm@example.org", "lead@example.org"]
    msg = box.parsed()
    assert msg["Subject"] == f"{title(data, 'id')}: {highlights(data, 'id')[0]}"
    assert msg["Subject"].startswith("Ringkasan suara pengguna — minggu 2026-11-15: Keluhan (negatif)")
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "- Total masukan: 13 (sebelumnya 8, +62%)" in plain
    assert "Baca ringkasan lengkap: https://digest.example.org/suara/digest-2026-11-15.html" in plain
    assert 'src="cid:sentiment"' in html and 'src="cid:topics"' in html and "base64," not in html
    images = {p["Content-ID"]: p.get_content() for p in msg.walk() if p.get_content_type() == "image/png"}
    assert set(images) == {"<sentiment>", "<topics>"} and all(
        v.startswith(b"\x89PNG") for v in images.values()
    )
    related = msg.get_body(("related",))
    assert related is not None and related.get_content_type() == "multipart/related"


def test_email_in_english(data, smtp, tmp_path):
    port, box = smtp
    paths = dl.write_files(data, tmp_path, "digest-2026-11-15", lang="en")
    assert dl.deliver(data, paths, ["email"], config(port), lang="en")[0].ok
    assert box.parsed()["Subject"].startswith("Voice-of-customer digest — week 2026-11-15: Complaints")


# -- Slack ------------------------------------------------------------------------------------------------------
def test_slack_gets_a_short_summary_with_the_link(data, slack, tmp_path):
    paths = dl.write_files(data, tmp_path, "digest-2026-11-15")
    cfg = config(slack_url=slack.url, base_url="https://digest.example.org/suara")
    (result,) = dl.deliver(data, paths, ["slack"], cfg)
    assert result.ok and result.detail == "sent to the webhook"
    (payload,) = slack.payloads()
    text = payload["text"]
    assert text.startswith(
        "Ringkasan suara pengguna — minggu 2026-11-15\n• Keluhan (negatif) turun dari 100% ke 92% (-8 poin).\n"
    )
    assert "• Keluhan pembayaran_dana naik 50% (8 → 12)." in text
    assert text.endswith("<https://digest.example.org/suara/digest-2026-11-15.html|Baca ringkasan lengkap>")
    assert len(text.splitlines()) <= 6  # short: the heading, four lines, the link
    assert payload["blocks"][0]["text"]["text"] == "Ringkasan suara pengguna — minggu 2026-11-15"


def test_slack_server_errors_are_retried_until_it_answers(data, slack, tmp_path):
    slack.statuses = [500, 503]
    clock = Clock()
    paths = dl.write_files(data, tmp_path, "d")
    (result,) = dl.deliver(data, paths, ["slack"], config(slack_url=slack.url), sleep=clock)
    assert result.ok and result.attempts == 3 and clock.slept == [2.0, 10.0]
    assert len(slack.bodies) == 3


# -- failures ---------------------------------------------------------------------------------------------------
def test_delivery_failures_are_retried_reported_and_the_files_stay(data, tmp_path):
    down = free_port()  # nothing listens there
    clock = Clock()
    paths = dl.write_files(data, tmp_path, "digest-2026-11-15")
    cfg = config(down, slack_url=f"http://127.0.0.1:{down}/hook")
    file_, slack_, email_ = dl.deliver(data, paths, ["file", "slack", "email"], cfg, sleep=clock)
    assert file_.ok and file_.detail == f"{paths.markdown} and {paths.html}"
    for failed in (slack_, email_):
        assert not failed.ok and failed.attempts == 3
        assert str(failed).startswith(f"{failed.channel}: FAILED after 3 attempts: ")
    assert "Connection refused" in email_.detail or "ConnectionRefusedError" in email_.detail
    assert clock.slept == [2.0, 10.0, 2.0, 10.0]
    assert paths.markdown.is_file() and paths.html.is_file() and paths.index.is_file()


def test_unconfigured_channels_fail_at_once_naming_the_settings(data, tmp_path):
    clock = Clock()
    paths = dl.write_files(data, tmp_path, "d")
    slack_, email_ = dl.deliver(data, paths, ["slack", "email"], dl.DeliveryConfig(), sleep=clock)
    assert (
        str(slack_)
        == "slack: FAILED: SUARA_SLACK_WEBHOOK_URL is not set; put it in the environment or in .env"
    )
    assert "SUARA_SMTP_HOST, SUARA_SMTP_FROM, SUARA_SMTP_TO are not set" in email_.detail
    assert clock.slept == []


def test_channels_are_parsed_and_checked():
    assert dl.parse_channels("file, slack,email,slack") == ["file", "slack", "email"]
    assert dl.parse_channels("") == ["file"]
    with pytest.raises(
        InputError, match="'sms' is not a channel; use a comma-separated list of file, slack, email"
    ):
        dl.parse_channels("file,sms")


def test_settings_become_the_delivery_config():
    class WithDelivery(Settings):  # the fields proposed for suara.config.Settings
        slack_webhook_url: str | None = None
        smtp_host: str | None = None
        smtp_port: int = 587
        smtp_to: str = ""
        smtp_starttls: bool = True
        digest_base_url: str | None = None

    cfg = dl.DeliveryConfig.from_settings(
        WithDelivery(_env_file=None, smtp_host="mail", smtp_to="a@x.org, b@x.org", smtp_starttls=False)
    )
    assert (cfg.smtp_host, cfg.smtp_to, cfg.smtp_starttls, cfg.slack_webhook_url) == (
        "mail",
        ("a@x.org", "b@x.org"),
        False,
        None,
    )
    assert dl.DeliveryConfig.from_settings(Settings(_env_file=None)) == dl.DeliveryConfig()


# -- alerts -----------------------------------------------------------------------------------------------------
def test_spike_alert_is_a_separate_short_message_on_every_channel(spiky, slack, smtp, tmp_path):
    port, box = smtp
    assert [(s.key, s.count) for s in spiky.spikes] == [("pembayaran_dana", 9)]
    cfg = config(port, slack_url=slack.url, base_url="https://digest.example.org")
    results = alerts.deliver_alert(spiky, ["file", "slack", "email"], cfg, out_dir=tmp_path)
    assert [r.ok for r in results] == [True, True, True]
    line = "Lonjakan keluhan pembayaran_dana pada 2026-11-13: 9 dalam sehari (biasanya 0,8/hari)."
    assert (tmp_path / "alert-2026-11-13.md").read_text(encoding="utf-8") == (
        f"# Peringatan lonjakan keluhan — 2026-11-13\n\n- {line}\n"
    )
    (payload,) = slack.payloads()
    assert payload["text"] == (
        f"Peringatan lonjakan keluhan — 2026-11-13\n• {line}\n"
        "<https://digest.example.org/index.html|Baca ringkasan lengkap>"
    )
    msg = box.parsed()
    assert msg["Subject"] == f"Peringatan lonjakan keluhan — 2026-11-13: {line}"
    assert line in msg.get_body(("html",)).get_content() and line in msg.get_body(("plain",)).get_content()


def test_no_spike_no_alert(slack, tmp_path):
    quiet = build_digest(
        [row(i, "negative", day=9 + i % 7) for i in range(14)], [], period=WEEK, generated_at=NOW
    )
    assert quiet.spikes == []
    assert alerts.deliver_alert(quiet, ["file", "slack"], config(slack_url=slack.url), out_dir=tmp_path) == []
    assert slack.bodies == [] and not list(tmp_path.iterdir())


# -- through the jobs, with a store -----------------------------------------------------------------------------
def write_feed(path: Path, entries: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in entries) + "\n", encoding="utf-8")
    return path


def store_labels(engine, label_for) -> None:
    """Active predictions of a test version: ``label_for(text) -> (sentiment, topics)``."""
    with engine.begin() as conn:
        stored = conn.execute(select(items.c.id, items.c.text)).all()
        preds = []
        for item_id, text in stored:
            sentiment, topics = label_for(text)
            preds.append(
                {
                    "item_id": item_id,
                    "task": "sentiment",
                    "model_version": "test-1",
                    "label": sentiment,
                    "scores": {},
                    "confidence": 0.9,
                }
            )
            preds.append({"item_id": item_id, "task": "topics", "model_version": "test-1", "label": topics,
                          "scores": {}, "confidence": 0.9})  # fmt: skip
        db.save_predictions(conn, preds)
        db.set_active_model(conn, "sentiment", "test-1")
        db.set_active_model(conn, "topics", "test-1")


def test_run_digest_writes_first_then_delivers_and_records_the_failure(engine, tmp_path):
    feed = [
        {"channel": "x", "id": str(i), "kind": "post", "author": f"@user{i}", "text": f"insentif belum cair {i}",
         "created_at": f"2026-11-{10 + i % 5:02d}T10:00:00+07:00"}
        for i in range(10)
    ]  # fmt: skip
    jobs.collect_file(engine, write_feed(tmp_path / "feed.jsonl", feed))
    jobs.classify_pending(engine)
    clock = Clock()

    class Down(Settings):
        slack_webhook_url: str | None = f"http://127.0.0.1:{free_port()}/hook"

    files, results = jobs.run_digest(
        engine,
        period="week",
        last_day=date(2026, 11, 15),
        out_dir=tmp_path / "out",
        to="file,slack",
        settings=Down(_env_file=None),
        sleep=clock,
    )
    assert files.markdown.is_file() and files.html.is_file() and files.index.is_file()
    assert [r.ok for r in results] == [True, False] and clock.slept == [2.0, 10.0]
    with engine.connect() as conn:
        (status, counts, errors) = conn.execute(
            select(runs.c.status, runs.c.counts, runs.c.errors).where(runs.c.flow == "deliver")
        ).one()
    assert status == "failed" and counts == {"file": "ok", "slack": "failed"}
    assert errors[0].startswith("slack: FAILED after 3 attempts: ")
    with pytest.raises(InputError):
        jobs.run_digest(engine, out_dir=tmp_path / "never", to="fax")
    assert not (tmp_path / "never").exists()  # a wrong channel fails before anything is written


def test_alert_spikes_job_sends_only_on_a_spike_day(engine, tmp_path, slack):
    feed = [
        {"channel": "x", "id": f"h{i}", "kind": "post", "author": f"@u{i}", "text": "insentif belum cair",
         "created_at": (datetime(2026, 10, 20, 10) + timedelta(days=i)).isoformat() + "+07:00"}
        for i in range(24)
    ] + [
        {"channel": "x", "id": f"b{i}", "kind": "post", "author": f"@b{i}", "text": f"insentif belum cair juga {i}",
         "created_at": f"2026-11-13T{8 + i:02d}:00:00+07:00"}
        for i in range(9)
    ]  # fmt: skip
    jobs.collect_file(engine, write_feed(tmp_path / "feed.jsonl", feed))
    store_labels(engine, lambda text: ("negative", "pembayaran_dana"))

    class Hooked(Settings):
        slack_webhook_url: str | None = slack.url

    settings = Hooked(_env_file=None)
    quiet, sent = jobs.alert_spikes(
        engine, day=date(2026, 11, 12), out_dir=tmp_path, to="slack", settings=settings
    )
    assert quiet.spikes == [] and sent == [] and slack.bodies == []
    data, sent = jobs.alert_spikes(
        engine, day=date(2026, 11, 13), out_dir=tmp_path, to="slack", settings=settings
    )
    assert [(s.key, s.count) for s in data.spikes] == [("pembayaran_dana", 9)] and sent[0].ok
    assert spike_sentence(data.spikes[0], data, "id") in slack.payloads()[0]["text"]


# -- no PII anywhere --------------------------------------------------------------------------------------------
PII = [
    "3578014508960003",  # NIK
    "3578 0145 0896 0003",
    "3171022309870005",  # KK
    "71.482.913.6-609.000",  # NPWP
    "0821-1379-0452",
    "+62 857 1123 4490",
    "6281931557702",
    "0878 8812 3390",
    "budi.santoso88@gmail.com",
    "siti_rahma@yahoo.co.id",
    "4111 1111 1111 1111",  # a Luhn-valid card
    "0387-01-014562-50-5",  # a bank account
    "Siti Rahmawati",  # the author's own name
    "budi_santoso88",  # an X handle
]


def pii_feed() -> list[dict]:
    texts = [
        "insentif belum cair, NIK saya 3578014508960003 tolong dicek, hub 0821-1379-0452",
        "insentif gak masuk2, no KK saya 3171022309870005, WA +62 857 1123 4490",
        "tolong insentif saya belum cair, email budi.santoso88@gmail.com, NIK 3578 0145 0896 0003",
        "insentif belum masuk ke Rek BRI 0387-01-014562-50-5 a.n. Siti Rahmawati, hp 6281931557702",
        "NPWP 71.482.913.6-609.000, insentif belum cair, kartu 4111 1111 1111 1111, telp 0878 8812 3390",
        "insentif belum cair, hubungi siti_rahma@yahoo.co.id atau @budi_santoso88",
    ]
    feed = []
    for day in range(20):  # a quiet history, then a burst on the last day
        feed.append({"channel": "x", "id": f"h{day}", "kind": "post", "author": f"@warga{day}",
                     "text": f"insentif belum cair hari ke {day}",
                     "created_at": (datetime(2026, 10, 26, 9) + timedelta(days=day)).isoformat() + "+07:00"})  # fmt: skip
    for i in range(12):  # odd: tickets signed with the requester's own name; even: X posts
        ticket = i % 2 == 1
        author = (
            ("siti_rahma@yahoo.co.id" if i == 1 else f"pelapor{i}@mail.example")
            if ticket
            else ("@budi_santoso88" if i == 0 else f"@warga_b{i}")
        )
        feed.append(
            {
                "channel": "zendesk" if ticket else "x",
                "id": f"p{i}",
                "kind": "ticket" if ticket else "post",
                "author": author,
                "author_name": "Siti Rahmawati" if ticket else "Budi S",
                "text": texts[i % len(texts)] + f" ({i})",
                "subject": "Insentif 0821-1379-0452" if ticket else None,
                "status": "open" if ticket else None,
                "created_at": f"2026-11-15T{8 + i:02d}:00:00+07:00",
            }
        )
    return feed


def test_no_pii_reaches_any_output(engine, tmp_path, slack, smtp):
    port, box = smtp
    feed = write_feed(tmp_path / "pii.jsonl", pii_feed())
    assert [p for p in PII if p not in feed.read_text(encoding="utf-8")] == []  # every secret goes in
    jobs.collect_file(engine, feed)
    jobs.classify_pending(engine)
    store_labels(engine, lambda text: ("negative", "pembayaran_dana;layanan_pelanggan"))

    class Everywhere(Settings):
        slack_webhook_url: str | None = slack.url
        smtp_host: str | None = "127.0.0.1"
        smtp_port: int = port
        smtp_from: str | None = "suara@example.org"
        smtp_to: str = "pm@example.org"
        smtp_starttls: bool = False

    settings = Everywhere(_env_file=None)
    out = tmp_path / "out"
    clusters = [{"id": "c1", "keywords": ["insentif", "cair"], "size": 12, "previous_size": 0, "is_new": True,
                 "examples": ["NIK 3578014508960003 belum cair, hp 0821-1379-0452, budi.santoso88@gmail.com"]}]  # fmt: skip
    files = jobs.write_digest(
        engine, period="day", last_day=date(2026, 11, 15), out_dir=out, settings=settings
    )
    results = jobs.deliver_digest(engine, files, to="file,slack,email", settings=settings)
    assert all(r.ok for r in results), results
    week = jobs.build_for(engine, WEEK, "Asia/Jakarta", clusters=clusters)
    dl.write_files(week, out, "digest-week-with-clusters", lang="en")
    data, alerted = jobs.alert_spikes(
        engine, day=date(2026, 11, 15), out_dir=out, to="file,slack,email", settings=settings
    )
    assert data.spikes and all(r.ok for r in alerted)
    assert data.topics[0].complaints  # the PII-bearing posts are quoted (masked) as examples

    outputs = {p.name: p.read_text(encoding="utf-8") for p in out.iterdir()}
    outputs |= {f"slack{i}": b.decode() for i, b in enumerate(slack.bodies)}
    for i, envelope in enumerate(box.messages):
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        outputs[f"mail{i}-raw"] = envelope.content.decode("utf-8", "replace")
        outputs[f"mail{i}-subject"] = str(msg["Subject"])
        for part in msg.walk():
            if part.get_content_maintype() == "text":
                outputs[f"mail{i}-{part.get_content_subtype()}"] = part.get_content()
    assert len(box.messages) == 2 and len(slack.bodies) == 2
    assert "[NIK]" in outputs["digest-2026-11-15-day.md"]  # masked text is there, the numbers are not
    numbers = re.compile(r"\d(?:[\d .\-]*\d)?")  # digits, however they are grouped
    for name, text in outputs.items():
        written = {re.sub(r"\D", "", n) for n in numbers.findall(text)}
        for secret in PII:
            assert secret not in text, (name, secret)
            digits = re.sub(r"\D", "", secret)
            if len(digits) >= 10:
                assert not any(digits in w for w in written), (name, secret)
