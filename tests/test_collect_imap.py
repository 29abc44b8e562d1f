"""IMAP collector: the real ``imapclient`` against a real Dovecot started for each test on 127.0.0.1.

The server tests need Dovecot 2.3 (Debian/Ubuntu: ``apt-get install -y dovecot-imapd``) and skip, saying so,
where it is not installed. The parsing tests (quoted replies, HTML, charsets, message → item) need no server.
Fixture messages are in ``tests/fixtures/imap/`` (fictional people writing about the fictional "Kartu Cakap").
"""

from __future__ import annotations

import getpass
import grp
import itertools
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError
from sqlalchemy import func, select

from collectors.base import CollectedItem, PagedCollector, Rejected
from collectors.errors import CollectorError, SourceAuthError, SourceNotFound
from collectors.imap import (
    ImapCollector,
    decode_bytes,
    html_to_text,
    message_to_record,
    parse_cursor,
    strip_quoted,
)
from storage import db, schema
from suara.jobs import run_collector
from suara.testing import free_port

FIXTURES = Path(__file__).parent / "fixtures" / "imap"
ALL_FIXTURES = sorted(FIXTURES.glob("*.eml"))
WIB = timezone(timedelta(hours=7))
ARRIVED = datetime(2026, 11, 20, 8, 0, tzinfo=WIB)  # INTERNALDATE given to appended messages


def eml(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def record(name: str, *, uid: int = 1, uidvalidity: int = 1795828189, internaldate=ARRIVED):
    return message_to_record(eml(name), uid=uid, uidvalidity=uidvalidity, internaldate=internaldate)


# ==============================================================================================================
# A real Dovecot for each test
# ==============================================================================================================

PASSWORD = "rahasia-uji-123"


def _dovecot_binary() -> str | None:
    found = shutil.which("dovecot")
    if found:
        return found
    return next((p for p in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot") if os.access(p, os.X_OK)), None)


def _config(root: Path, port: int) -> str:
    """A minimal Dovecot 2.3 configuration: any user with ``PASSWORD``, maildir, plain IMAP on 127.0.0.1:port."""
    if os.geteuid() == 0:
        # As root Dovecot drops privileges to the users its package creates; mail may not be owned by root.
        mail_user = pwd.getpwnam("dovecot")
        internal, internal_group, login = "dovecot", grp.getgrgid(mail_user.pw_gid).gr_name, "dovenull"
        uid, gid, chroot = mail_user.pw_uid, mail_user.pw_gid, ""
    else:
        # Unprivileged, everything runs as the current user and no process may chroot.
        internal, internal_group = getpass.getuser(), grp.getgrgid(os.getgid()).gr_name
        login, uid, gid = internal, os.getuid(), os.getgid()
        chroot = "service anvil {\n  chroot =\n}\nservice imap-login {\n  chroot =\n}\n"
    return f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
first_valid_uid = 1
default_internal_user = {internal}
default_internal_group = {internal_group}
default_login_user = {login}
passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
mail_location = maildir:{root}/mail/%u/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
{chroot}"""


@dataclass
class DovecotServer:
    host: str
    port: int
    root: Path

    @property
    def log(self) -> Path:
        return self.root / "dovecot.log"


@dataclass
class Dovecot:
    """One test's mailbox on the shared server: its own user, so its own folders and UIDVALIDITYs."""

    server: DovecotServer
    user: str

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    def admin(self) -> IMAPClient:
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=5)
        client.login(self.user, PASSWORD)
        return client

    def append(self, messages: list[bytes], folder: str = "INBOX", when: datetime = ARRIVED) -> None:
        client = self.admin()
        try:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for message in messages:
                client.append(folder, re.sub(rb"\r?\n", b"\r\n", message), msg_time=when)
        finally:
            client.logout()

    def rebuild(self, folder: str) -> None:
        """Delete and recreate a folder: the server gives it a new UIDVALIDITY and starts UIDs at 1 again."""
        client = self.admin()
        try:
            client.delete_folder(folder)
            client.create_folder(folder)
        finally:
            client.logout()

    def uidvalidity(self, folder: str = "INBOX") -> int:
        client = self.admin()
        try:
            return int(client.select_folder(folder, readonly=True)[b"UIDVALIDITY"])
        finally:
            client.logout()

    def flags(self, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        client = self.admin()
        try:
            client.select_folder(folder, readonly=True)
            return {uid: data[b"FLAGS"] for uid, data in client.fetch(client.search(), ["FLAGS"]).items()}
        finally:
            client.logout()

    def collector(self, **kwargs) -> ImapCollector:
        kwargs.setdefault("ssl", False)
        kwargs.setdefault("timeout", 5)
        return ImapCollector(self.host, self.port, self.user, kwargs.pop("password", PASSWORD), **kwargs)


@pytest.fixture(scope="module")
def dovecot_server() -> Iterator[DovecotServer]:
    """A Dovecot for this module's tests (each test uses its own user, so its own mailbox)."""
    with running_dovecot() as server:
        yield server


@pytest.fixture
def lone_dovecot() -> Iterator[Dovecot]:
    """A Dovecot of its own, for a test that fails a login: Dovecot then delays every login from 127.0.0.1."""
    with running_dovecot() as server:
        yield Dovecot(server, "pengaduan")


@contextmanager
def running_dovecot() -> Iterator[DovecotServer]:
    """Start Dovecot with an empty maildir; stop it (by its PID) on exit. Skips where Dovecot 2.3 is absent."""
    binary = _dovecot_binary()
    if binary is None:
        pytest.skip(
            "dovecot is not installed; `apt-get install -y dovecot-imapd` to run the IMAP server tests"
        )
    version = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if not version.startswith("2.3."):
        pytest.skip(f"this fixture writes a Dovecot 2.3 configuration; found dovecot {version or '?'}")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("dovecot"), pwd.getpwnam("dovenull")
        except KeyError:
            pytest.skip("running as root needs the 'dovecot' and 'dovenull' users that dovecot-core creates")
    # Outside pytest's tmp_path: socket paths must stay short and the mail user must be able to reach the dir.
    root = Path(tempfile.mkdtemp(prefix="suara-imap-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        root.chmod(0o755)
        (root / "mail").mkdir()
        if os.geteuid() == 0:
            mail_user = pwd.getpwnam("dovecot")
            os.chown(root / "mail", mail_user.pw_uid, mail_user.pw_gid)
        port = free_port()
        conf = root / "dovecot.conf"
        conf.write_text(_config(root, port))
        proc = subprocess.Popen(
            [binary, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        server = DovecotServer("127.0.0.1", port, root)
        _wait_for_greeting(server, proc)
        yield server
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
            if proc.stderr:
                proc.stderr.close()
        shutil.rmtree(root, ignore_errors=True)


_USERS = itertools.count(1)


@pytest.fixture
def dovecot(dovecot_server: DovecotServer) -> Dovecot:
    """A fresh, empty mailbox: a user name not used before (every name logs in with ``PASSWORD``)."""
    return Dovecot(dovecot_server, f"pengaduan{next(_USERS)}")


def _wait_for_greeting(server: DovecotServer, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = server.log.read_text() if server.log.exists() else ""
            pytest.fail(f"dovecot exited with {proc.returncode}: {proc.stderr.read().decode()}\n{log}")
        try:
            with socket.create_connection((server.host, server.port), timeout=1) as s:
                if s.recv(64).startswith(b"* OK"):
                    return
        except OSError:
            time.sleep(0.05)  # start-up poll of a real server, not a test of waiting
    pytest.fail(f"dovecot did not greet on {server.host}:{server.port} within 15 s")


def recording_client(fetched: list[list[int]], *, fail_on_fetch: int | None = None):
    """A client factory: the real IMAPClient, recording each fetch and breaking the connection on one."""

    class Recording(IMAPClient):
        def fetch(self, messages, data, modifiers=None):
            fetched.append(list(messages))
            if fail_on_fetch is not None and len(fetched) == fail_on_fetch:
                raise IMAPClientAbortError("socket error: EOF")
            return super().fetch(messages, data, modifiers)

    return Recording


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def stored(engine) -> dict[str, dict]:
    with engine.connect() as conn:
        rows = conn.execute(select(schema.items)).mappings().all()
    return {row["source_id"]: dict(row) for row in rows}


def checkpoint(engine, collector: ImapCollector) -> str | None:
    with engine.connect() as conn:
        return db.get_checkpoint(conn, collector.checkpoint_name)[0]


# ==============================================================================================================
# Against the server
# ==============================================================================================================


def test_collects_the_mailbox_page_by_page_without_marking_messages_read(engine, dovecot):
    dovecot.append([p.read_bytes() for p in ALL_FIXTURES])
    uidvalidity = dovecot.uidvalidity()
    collector = dovecot.collector(batch_size=5)

    result = run_collector(engine, collector)

    assert (result.new, result.quarantined, result.pages) == (len(ALL_FIXTURES) - 1, 1, 4)
    assert result.checkpoint == checkpoint(engine, collector) == f"{uidvalidity}:{len(ALL_FIXTURES)}"
    items = stored(engine)
    first = items["<CAF3xK9pQ7uZ1vT0m2L8a@mail.example.com>"]
    assert (first["kind"], first["thread_id"], first["parent_id"]) == ("ticket", first["source_id"], None)
    assert first["text"].startswith("Kartu Cakap belum aktif setelah 2 minggu\n\nSelamat pagi Admin")
    assert "[NIK]" in first["text"] and "[TELEPON]" in first["text"]
    reply = items["<CAF3xK9pR2mB8wq5n1c4X@mail.example.com>"]
    assert (reply["kind"], reply["thread_id"], reply["parent_id"]) == (
        "reply",
        "<CAF3xK9pQ7uZ1vT0m2L8a@mail.example.com>",
        "<20261103101500.7781@kartucakap.example>",
    )
    assert "menulis" not in reply["text"] and "3x24 jam" in reply["text"]
    assert first["author_key"] == reply["author_key"] and first["author_key"].startswith("a_")
    no_date = items["<form-7731@forms.kartucakap.example>"]
    assert no_date["created_at"].replace(tzinfo=UTC) == ARRIVED.astimezone(UTC)  # INTERNALDATE stood in
    assert f"{uidvalidity}:16" in items  # no Message-ID: keyed on the mailbox position
    assert items["<20261112090327.3F1A2B@pc-warnet.example.com>"]["meta"]["decode_errors"] is True
    assert items["<CAHx7Lq0Zp9Yw3e@mail.example.com>"]["meta"]["has_attachments"] is True
    with engine.connect() as conn:
        reason, ref = conn.execute(select(schema.quarantine.c.reason, schema.quarantine.c.source_ref)).one()
    assert reason == "empty message: no subject and no text body" and ref == f"INBOX:{uidvalidity}:11"
    assert all(b"\\Seen" not in flags for flags in dovecot.flags().values())


def test_an_oversized_message_is_quarantined_and_the_rest_of_the_page_stored(engine, dovecot):
    body = ("Kartu Cakap saya belum aktif. " * 36_000).encode()  # about 1 MB of text
    huge = eml("16_no_message_id.eml").replace(b"Apakah lulusan SMA", body + b"\nApakah lulusan SMA")
    dovecot.append([eml("01_plain_ticket.eml"), huge, eml("12_subject_only.eml")])

    result = run_collector(engine, dovecot.collector())

    assert (result.new, result.quarantined) == (2, 1)
    with engine.connect() as conn:
        reason, raw = conn.execute(select(schema.quarantine.c.reason, schema.quarantine.c.raw)).one()
    assert reason.startswith("text too long (1,0") and len(raw) <= 40_000


def test_a_second_run_fetches_only_the_new_messages(engine, dovecot):
    dovecot.append([p.read_bytes() for p in ALL_FIXTURES[:3]])
    run_collector(engine, dovecot.collector())
    dovecot.append([p.read_bytes() for p in ALL_FIXTURES[3:5]])

    fetched: list[list[int]] = []
    result = run_collector(engine, dovecot.collector(client_factory=recording_client(fetched)))
    assert fetched == [[4, 5]] and (result.new, result.unchanged) == (2, 0)

    # Nothing new: the server answers "UID 6:*" with the last message (5); it is not fetched again.
    fetched.clear()
    again = run_collector(engine, dovecot.collector(client_factory=recording_client(fetched)))
    assert fetched == [] and (again.new, again.pages) == (0, 0)
    assert count(engine, schema.items) == 5


def test_a_rebuilt_mailbox_is_read_again_without_duplicates(engine, dovecot):
    messages = [p.read_bytes() for p in ALL_FIXTURES[:3]]
    dovecot.append(messages, folder="Keluhan")
    collector = dovecot.collector(folder="Keluhan")
    assert collector.checkpoint_name == f"imap:{dovecot.user}@127.0.0.1/Keluhan"
    first = dovecot.uidvalidity("Keluhan")
    run_collector(engine, collector)
    assert checkpoint(engine, collector) == f"{first}:3"

    dovecot.rebuild("Keluhan")
    second = dovecot.uidvalidity("Keluhan")
    assert second != first
    emptied = run_collector(engine, collector)
    assert emptied.pages == 1 and checkpoint(engine, collector) == f"{second}:0"
    assert len(emptied.notes) == 1 and f"UIDVALIDITY {first} → {second}" in emptied.notes[0]

    dovecot.rebuild("Keluhan")  # rebuilt again and refilled: the same three messages and one new
    third = dovecot.uidvalidity("Keluhan")
    dovecot.append([*messages, eml("12_subject_only.eml")], folder="Keluhan")
    result = run_collector(engine, collector)
    assert (result.new, result.unchanged, result.quarantined) == (1, 3, 0)
    assert "rebuilt" in result.notes[0] and checkpoint(engine, collector) == f"{third}:4"
    assert count(engine, schema.items) == 4


def test_crash_after_batch_k_then_rerun_stores_every_message_once(engine, dovecot):
    messages = ALL_FIXTURES[:7]
    dovecot.append([p.read_bytes() for p in messages])
    uidvalidity = dovecot.uidvalidity()
    fetched: list[list[int]] = []
    broken = dovecot.collector(batch_size=2, client_factory=recording_client(fetched, fail_on_fetch=3))

    with pytest.raises(CollectorError, match="resumes after the last stored batch"):
        run_collector(engine, broken)
    assert fetched == [[1, 2], [3, 4], [5, 6]]
    assert count(engine, schema.items) == 4 and checkpoint(engine, broken) == f"{uidvalidity}:4"
    with engine.connect() as conn:
        assert conn.execute(select(schema.runs.c.status)).scalar_one() == "failed"

    fetched.clear()
    result = run_collector(engine, dovecot.collector(batch_size=2, client_factory=recording_client(fetched)))
    assert fetched == [[5, 6], [7]] and (result.new, result.unchanged) == (3, 0)
    expected = {message_to_record(p.read_bytes(), uid=1, uidvalidity=uidvalidity).source_id for p in messages}
    assert set(stored(engine)) == expected and count(engine, schema.items) == 7


def test_no_personal_data_reaches_the_store(engine, dovecot):
    dovecot.append([p.read_bytes() for p in ALL_FIXTURES])
    run_collector(engine, dovecot.collector())

    dump = []
    with engine.connect() as conn:
        for table in schema.metadata.sorted_tables:
            dump.extend(str(dict(row)) for row in conn.execute(select(table)).mappings())
    everything = "\n".join(dump)
    numbers = ["3273011290010003", "3171012345678901", "0812-3456-7890", "+62 813 1234 5678", "081298765432"]
    numbers.append("0821-5555-0123")
    for number in numbers:
        assert number not in everything
        assert re.sub(r"\D", "", number) not in re.sub(r"[ \-]", "", everything)
    headers_with_ids = re.compile(rb"^(?:Message-I[Dd]|References|In-Reply-To):.*$", re.MULTILINE)
    sources = b"".join(headers_with_ids.sub(b"", p.read_bytes()) for p in ALL_FIXTURES)
    addresses = set(re.findall(rb"[\w.+-]+@example\.(?:com|net|org)", sources))
    assert addresses and not [a for a in addresses if a.decode() in everything]
    names = ["Siti Rahma", "Budi Santoso", "Dewi Lestari", "Agus Wibowo", "Rina Marlina", "Yohanes René"]
    names += ["José Pattiradjawane", "Hendra Gunawan", "Fajar Nugroho", "Wahyu Pratama"]
    assert not [name for name in names if name in everything]
    assert "JVBERi0" not in everything and "%PDF" not in everything  # the attachment's bytes
    assert "KTP_" not in everything  # nor its file name (it carries a NIK)


def test_a_wrong_password_names_the_setting_to_fix(lone_dovecot):
    collector = lone_dovecot.collector(password="salah")
    with pytest.raises(SourceAuthError, match="SUARA_IMAP_PASSWORD") as caught:
        list(collector.pages(None))
    assert "salah" not in str(caught.value) and lone_dovecot.user in str(caught.value)


def test_a_missing_folder_names_the_setting_and_the_folders(dovecot):
    with pytest.raises(SourceNotFound, match=r"SUARA_IMAP_FOLDER to one of \['INBOX'\]"):
        list(dovecot.collector(folder="Pengaduan").pages(None))


def test_tls_against_a_plain_text_server_says_what_to_check(dovecot):
    with pytest.raises(CollectorError, match="SUARA_IMAP_SSL"):
        list(dovecot.collector(ssl=True).pages(None))


def test_an_unreachable_server_names_host_and_port_settings():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        port = s.getsockname()[1]
        collector = ImapCollector("127.0.0.1", port, "pengaduan", PASSWORD, ssl=False, timeout=2)
        with pytest.raises(CollectorError, match="SUARA_IMAP_HOST and SUARA_IMAP_PORT"):
            list(collector.pages(None))


def test_collector_protocol_and_no_password_in_repr():
    collector = ImapCollector("imap.example.id", 993, "pengaduan@kartucakap.example", "app-password")
    assert isinstance(collector, PagedCollector) and collector.source == "email"
    assert collector.checkpoint_name == "imap:pengaduan@kartucakap.example@imap.example.id/INBOX"
    assert "app-password" not in repr(collector)
    with pytest.raises(ValueError, match="batch_size"):
        ImapCollector("imap.example.id", 993, "u", "p", batch_size=0)


@pytest.mark.parametrize(
    ("cursor", "expected"),
    [(None, None), ("", None), ("1795828189:42", (1795828189, 42)), ("42", None), ("a:b", None)],
)
def test_parse_cursor(cursor, expected):
    assert parse_cursor(cursor) == expected


# ==============================================================================================================
# Message → item (no server)
# ==============================================================================================================


def test_plain_ticket_keeps_the_complaint_and_drops_the_signature():
    item = record("01_plain_ticket.eml")
    assert isinstance(item, CollectedItem)
    assert (item.source, item.kind, item.author, item.author_name) == (
        "email",
        "ticket",
        "siti.rahma92@example.com",
        "Siti Rahma",
    )
    assert item.created_at == datetime(2026, 11, 3, 8, 12, 31, tzinfo=WIB)
    assert item.text.endswith("Terima kasih.") and "Bandung" not in item.text
    assert item.meta == {
        "subject": "Kartu Cakap belum aktif setelah 2 minggu",
        "has_attachments": False,
        "message_id": "<CAF3xK9pQ7uZ1vT0m2L8a@mail.example.com>",
        "to": ["pengaduan@kartucakap.example"],
    }
    assert set(item.raw) == {"Subject", "From", "To", "Date", "Message-ID", "text"}


def test_multipart_alternative_prefers_the_text_part():
    item = record("03_alternative_english_quote.eml")
    assert "HTML VERSION" not in item.text and "Mohon segera ditindaklanjuti." in item.text
    assert "wrote" not in item.text and "nomor rekening" not in item.text
    assert item.author_name == "Budi Santoso"


def test_html_only_message_is_converted_to_text():
    item = record("04_html_only.eml")
    assert item.author_name == "Dewi Lestari"  # RFC 2047 encoded display name
    assert item.text.splitlines()[0] == "Pelatihan tidak bisa diakses – error 500"
    assert "error 500 & video tidak bisa diputar.\nSaya sudah coba" in item.text
    assert "font-family" not in item.text and "pelacak" not in item.text and "Pesan" not in item.text
    assert "Surabaya" not in item.text  # the signature after "-- "


@pytest.mark.parametrize(
    ("name", "kept", "dropped"),
    [
        ("02_reply_indonesian_quote.eml", "Kecewa sekali dengan pelayanannya 😞", "Yth. Ibu"),
        ("05_outlook_original_message.eml", "Mohon kabarnya.", "silakan isi formulir"),
        ("06_outlook_indonesian_separator.eml", "Sudah 10 hari", "7 hari kerja"),
        ("14_apple_mail_reply.eml", "Tolong kepastiannya", "20 November"),
    ],
)
def test_quoted_replies_are_stripped(name, kept, dropped):
    item = record(name)
    assert item.kind == "reply" and kept in item.text and dropped not in item.text
    assert "Dikirim dari" not in item.text and "Sent from my iPhone" not in item.text


def test_apple_mail_reply_threads_on_the_first_reference():
    item = record("14_apple_mail_reply.eml")
    assert item.thread_id == "<20261109070000.2200@kartucakap.example>"
    assert item.parent_id == "<20261110081500.2244@kartucakap.example>"


@pytest.mark.parametrize(
    ("name", "author_name", "expected"),
    [
        ("07_windows1252.eml", "Yohanes René", "pesan “foto tidak sesuai” – padahal"),
        ("08_iso8859_1_quoted_printable.eml", "José Pattiradjawane", "lewat ½ bulan"),
    ],
)
def test_legacy_charsets_are_decoded(name, author_name, expected):
    item = record(name)
    assert item.author_name == author_name and expected in item.text
    assert "decode_errors" not in item.meta and "\ufffd" not in item.text


def test_iso8859_1_subject_with_windows_punctuation():
    item = record("08_iso8859_1_quoted_printable.eml")
    assert item.meta["subject"] == "Pembayaran insentif terlambat – gelombang 13"


def test_undecodable_body_is_kept_with_replacements_and_flagged():
    item = record("09_undecodable_body.eml")
    assert item.meta["decode_errors"] is True
    assert "Kode OTP tidak pernah masuk" in item.text and "\ufffd" in item.text


def test_attachment_is_noted_but_never_kept():
    item = record("10_attachment.eml")
    assert item.meta["has_attachments"] is True
    assert item.meta["attachment_types"] == ["application/pdf", "image/jpeg"]
    flat = repr(item)
    assert "JVBERi0" not in flat and "KTP_3273011290010003" not in flat and "selfie.jpg" not in flat


def test_empty_message_is_rejected_with_its_position():
    rejected = record("11_empty.eml", uid=11, uidvalidity=77)
    assert isinstance(rejected, Rejected)
    assert rejected.reason == "empty message: no subject and no text body"
    assert rejected.source_ref == "INBOX:77:11" and '"Message-ID"' in rejected.raw
    assert message_to_record(b"", uid=3, uidvalidity=77).reason.startswith("empty message")


def test_subject_alone_is_enough():
    item = record("12_subject_only.eml")
    assert item.text == "Akun Kartu Cakap saya diblokir tanpa alasan, tolong dibuka!!"


def test_missing_date_falls_back_to_internaldate_and_without_it_is_rejected():
    item = record("13_no_date_header.eml")
    assert item.created_at == ARRIVED and item.meta["date_source"] == "internaldate"
    naive = record("13_no_date_header.eml", internaldate=datetime(2026, 11, 20, 1, 0))
    assert naive.created_at == datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    rejected = record("13_no_date_header.eml", internaldate=None)
    assert isinstance(rejected, Rejected) and rejected.reason.startswith("no usable date")


def test_unparseable_date_falls_back_to_internaldate():
    raw = eml("16_no_message_id.eml").replace(b"Tue, 17 Nov 2026 12:34:56 +0700", b"kemarin sore")
    item = message_to_record(raw, uid=16, uidvalidity=77, internaldate=ARRIVED)
    assert item.created_at == ARRIVED


def test_forwarded_complaint_is_kept_without_the_forward_headers():
    item = record("15_forwarded.eml")
    assert item.kind == "ticket"
    assert "Mohon ditindaklanjuti" in item.text and "sudah 2 bulan tidak cair" in item.text
    assert "Wahyu" not in item.text and "Seksi Kesejahteraan" not in item.text


def test_no_message_id_is_keyed_on_the_mailbox_position():
    item = record("16_no_message_id.eml", uid=16, uidvalidity=77)
    assert item.source_id == item.thread_id == "77:16" and item.meta["message_id"] is None


def test_every_fixture_becomes_exactly_one_record():
    records = [record(p.name, uid=i) for i, p in enumerate(ALL_FIXTURES, start=1)]
    assert [type(r).__name__ for r in records].count("Rejected") == 1
    items = [r for r in records if isinstance(r, CollectedItem)]
    assert len({i.source_id for i in items}) == len(items)
    assert all(i.created_at.tzinfo is not None and i.text.strip() for i in items)


# ==============================================================================================================
# strip_quoted, html_to_text, decode_bytes
# ==============================================================================================================

STRIP_CASES = {
    "gmail indonesian": (
        "Belum ada kabar sampai sekarang.\n\nPada tanggal Sel, 3 Nov 2026 pukul 10.00, Siti <siti@example.com> "
        "menulis:\n> Mohon ditunggu.",
        "Belum ada kabar sampai sekarang.",
    ),
    "gmail indonesian wrapped": (
        "Masih error.\n\nPada tanggal Sel, 3 Nov 2026 pukul 10.00, Layanan Pengaduan Kartu Cakap <\n"
        "pengaduan@kartucakap.example> menulis:\n\n> Sudah kami perbaiki.",
        "Masih error.",
    ),
    "yahoo indonesian": (
        "Oke terima kasih.\n\nPada Selasa, 10 November 2026 09.12.33 WIB, Admin <admin@example.com> menulis:\n"
        "\nData sudah diperbarui.",
        "Oke terima kasih.",
    ),
    "gmail english": (
        "Still not working.\n\nOn Tue, 3 Nov 2026 at 10:00, Siti <siti@example.com> wrote:\n> try again",
        "Still not working.",
    ),
    "gmail english wrapped": (
        "Belum masuk.\n\nOn Wed, Nov 4, 2026 at 9:00 AM Layanan Pengaduan Kartu Cakap <\n"
        "pengaduan@kartucakap.example> wrote:\n\n> Mohon kirim NIK.",
        "Belum masuk.",
    ),
    "attribution without date": (
        "Sudah saya kirim.\n\nAdmin Kartu Cakap <admin@example.com> menulis:\n> kirim ulang",
        "Sudah saya kirim.",
    ),
    "outlook original message": (
        "Mohon kabarnya.\n\n-----Original Message-----\nFrom: Admin\nSent: Friday\n\nIsi formulir.",
        "Mohon kabarnya.",
    ),
    "pesan asli": ("Baik.\n\n----- Pesan Asli -----\nDari: Admin\n\nTunggu ya.", "Baik."),
    "outlook underscore separator": (
        "Belum muncul.\n\n________________________________\nDari: Admin <a@example.com>\n"
        "Dikirim: Senin, 09 November 2026 15.00\nKepada: Rina\n\nTunggu 7 hari.",
        "Belum muncul.",
    ),
    "outlook header block without rule": (
        "Tolong dicek.\n\nFrom: Admin <a@example.com>\nSent: Monday, November 9, 2026 3:00 PM\nTo: Rina\n\nOk.",
        "Tolong dicek.",
    ),
    "inline answers keep the author's lines": (
        "> Apakah sudah login ulang?\nSudah, tetap gagal.\n> Pakai browser apa?\nChrome di Android.",
        "Sudah, tetap gagal.\nChrome di Android.",
    ),
    "signature": ("Tolong dibantu.\n\n-- \nSiti Rahma\n0812-3456-7890", "Tolong dibantu."),
    "mobile footers": (
        "Kartu belum aktif.\n\nDikirim dari iPhone saya\nSent from my Galaxy\nGet Outlook for Android",
        "Kartu belum aktif.",
    ),
    "forwarded message kept": (
        "Mohon dibantu.\n\n-- \nKelurahan\n\n---------- Forwarded message ---------\nFrom: Warga <w@example.com>\n"
        "Date: Mon, 16 Nov 2026 at 20:11\nSubject: Keluhan\nTo: <k@example.com>\n\nInsentif belum cair.",
        "Mohon dibantu.\n\nInsentif belum cair.",
    ),
    "forward inside a quoted reply is cut": (
        "Terima kasih.\n-- \nRina\n\n-----Original Message-----\nFrom: Admin <a@example.com>\n\n"
        "---------- Forwarded message ---------\nFrom: X <x@example.com>\n\nIsi lama.",
        "Terima kasih.",
    ),
    "all quoted": ("On Tue, 3 Nov 2026 at 10:00, A <a@example.com> wrote:\n> halo", ""),
    "ordinary sentences stay": (
        "Pada hari Senin saya sudah menulis:\nkartu tidak aktif.\nOn the website it says pending.",
        "Pada hari Senin saya sudah menulis:\nkartu tidak aktif.\nOn the website it says pending.",
    ),
    "web form fields stay": (
        "Dari: Siti\nTanggal: 3 Nov 2026\nPerihal: Kartu belum aktif\n\nMohon dibantu.",
        "Dari: Siti\nTanggal: 3 Nov 2026\nPerihal: Kartu belum aktif\n\nMohon dibantu.",
    ),
    "from in a sentence stays": (
        "From: Surabaya, saya peserta gelombang 14.",
        "From: Surabaya, saya peserta gelombang 14.",
    ),
    "crlf and blank runs": ("Baris satu.\r\n\r\n\r\n\r\nBaris dua.  \r\n", "Baris satu.\n\nBaris dua."),
}


@pytest.mark.parametrize(("text", "expected"), list(STRIP_CASES.values()), ids=list(STRIP_CASES))
def test_strip_quoted(text, expected):
    assert strip_quoted(text) == expected
    assert strip_quoted(expected) == expected  # stripping twice changes nothing


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>Satu</p><p>Dua</p>", "Satu\n\nDua"),
        ("Baris<br>baris<br/>baris", "Baris\nbaris\nbaris"),
        ("<style>.x{}</style><script>alert(1)</script><div>Isi</div>", "Isi"),
        (
            "<div>Saldo&nbsp;Rp&nbsp;600.000 &amp; sertifikat &lt;belum&gt;</div>",
            "Saldo Rp 600.000 & sertifikat <belum>",
        ),
        ("<ul><li>OTP</li><li>Login</li></ul>", "- OTP\n- Login"),
        ("<div>Jawab</div><blockquote><div>Tanya</div></blockquote>", "Jawab\n> Tanya"),
        ("<pre>kode  123\n  baris</pre>", "kode  123\n  baris"),
        ("<p>  banyak \n\n  spasi   di sini </p>", "banyak spasi di sini"),
        ("<table><tr><td>NIK</td><td>status</td></tr></table>", "NIK status"),
    ],
)
def test_html_to_text(html, expected):
    assert html_to_text(html) == expected


@pytest.mark.parametrize(
    ("payload", "charset", "expected"),
    [
        ("Kartu “aktif”".encode(), "utf-8", ("Kartu “aktif”", False)),
        ("René “ok”".encode("cp1252"), "iso-8859-1", ("René “ok”", False)),
        ("René".encode(), "us-ascii", ("René", False)),  # mislabelled UTF-8
        (b"kartu", "x-unknown-8bit", ("kartu", False)),
        (b"gagal \xff\xfe", "utf-8", ("gagal \ufffd\ufffd", True)),
        (b"gagal \xff", "x-unknown-8bit", ("gagal \ufffd", True)),
        ("カード".encode("shift_jis"), "shift_jis", ("カード", False)),
    ],
    ids=["utf-8", "windows-1252 as latin-1", "utf-8 as ascii", "unknown", "bad utf-8", "bad unknown", "sjis"],
)
def test_decode_bytes(payload, charset, expected):
    assert decode_bytes(payload, charset) == expected


def test_cli_collect_imap_against_dovecot(dovecot, monkeypatch):
    """`suara collect imap` as a user runs it: settings from the environment, a real IMAP server."""
    from typer.testing import CliRunner

    from suara.cli import app
    from suara.config import get_settings

    dovecot.append([p.read_bytes() for p in ALL_FIXTURES[:5]])
    for name, value in {
        "HOST": dovecot.host,
        "PORT": str(dovecot.port),
        "USERNAME": dovecot.user,
        "PASSWORD": PASSWORD,
        "SSL": "false",
        "TIMEOUT": "5",
    }.items():
        monkeypatch.setenv(f"SUARA_IMAP_{name}", value)
    get_settings.cache_clear()
    runner = CliRunner()
    first = runner.invoke(app, ["collect", "imap"])
    assert first.exit_code == 0, first.output
    assert re.search(r"^email: [1-5] new, 0 updated, 0 unchanged, \d quarantined", first.output, re.M)
    second = runner.invoke(app, ["collect", "imap"])
    assert second.exit_code == 0 and "email: 0 new, 0 updated, 0 unchanged, 0 quarantined" in second.output
