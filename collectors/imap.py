"""E-mail complaints from an IMAP mailbox (``imapclient``), read by UID and resumed from a UIDVALIDITY checkpoint.

Each message becomes one item: a new conversation is a ``ticket``, a message that answers another (In-Reply-To /
References) a ``reply`` in the same thread. The text is the subject and the plain-text body (HTML converted when
there is no text part) with quoted replies and signatures stripped:

    Subject: Kartu Cakap belum aktif
    Selamat siang, kartu saya belum aktif padahal sudah 2 minggu.
    Pada tanggal Sel, 3 Nov 2026 pukul 10.00, Admin <pengaduan@kartucakap.example> menulis:
    > Mohon ditunggu 3x24 jam.

    → "Kartu Cakap belum aktif\\n\\nSelamat siang, kartu saya belum aktif padahal sudah 2 minggu."

The cursor is ``"<uidvalidity>:<last uid>"``. Messages are fetched with ``BODY.PEEK[]`` from a folder selected
read-only, so nothing is marked as read. When the server's UIDVALIDITY changes (the mailbox was rebuilt or moved)
the folder is read again from UID 1; items are keyed on the Message-ID header, so that adds nothing twice.

>>> collector = ImapCollector("imap.example.id", 993, "pengaduan@kartucakap.example", "app-password")
>>> run_collector(engine, collector)
"""

from __future__ import annotations

import ast
import codecs
import contextlib
import email
import email.policy
import json
import re
import ssl as ssl_lib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any, cast

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from collectors.base import CollectedItem, Page, Record, Rejected
from collectors.errors import CollectorError, SourceAuthError, SourceNotFound

SOURCE = "email"
FETCH_ITEMS = ["BODY.PEEK[]", "INTERNALDATE"]
# The headers kept in ``raw`` (with the extracted text); attachments and every other header are left out.
RAW_HEADERS = ("Subject", "From", "To", "Date", "Message-ID", "In-Reply-To", "References")
_REJECT_SNIPPET = 4000

ClientFactory = Callable[..., IMAPClient]


# ==============================================================================================================
# Quoted replies and signatures
# ==============================================================================================================

# "Pada tanggal Sel, 3 Nov 2026 pukul 10.00, Siti <siti@…> menulis:" / "On Tue, 3 Nov 2026 at 10:00, … wrote:";
# clients wrap long attributions, so the start and the end may be up to three lines apart.
_ATTRIBUTION_START = re.compile(r"^\s*(?:On|Pada)\s")
_ATTRIBUTION_END = re.compile(r"(?:wrote|menulis|schrieb|a écrit|escribió)\s*:\s*$", re.IGNORECASE)
_ORIGINAL_MESSAGE = re.compile(
    r"^\s*-{2,}\s*(?:original message|pesan asli|pesan awal|pesan semula)\s*-{2,}\s*$", re.IGNORECASE
)
_FORWARD_MARKER = re.compile(
    r"^\s*(?:-{2,}\s*(?:forwarded message|pesan terusan|pesan yang diteruskan)\s*-{2,}|begin forwarded message:)"
    r"\s*$",
    re.IGNORECASE,
)
# Outlook's quoted header block: "From: …" / "Dari: …" followed closely by "Sent:" / "Dikirim:" / "To:" …
_HEADER_FROM = re.compile(r"^\s*\*?(?:From|Dari|Pengirim)\s*:\*?\s*\S", re.IGNORECASE)
_HEADER_NEXT = re.compile(
    r"^\s*\*?(?:Sent|Date|To|Cc|Subject|Dikirim|Tanggal|Kepada|Subjek|Perihal|Terkirim)\s*:", re.IGNORECASE
)
_UNDERSCORE_RULE = re.compile(r"^\s*_{10,}\s*$")
_SIGNATURE = re.compile(r"^--\s*$")
_MOBILE_FOOTER = re.compile(
    r"^\s*(?:sent from|sent via|dikirim dari|dikirim melalui|dikirim via|kirim dari|get outlook for|"
    r"dapatkan outlook untuk)\b.{0,60}$",
    re.IGNORECASE,
)


def strip_quoted(text: str) -> str:
    """The author's own words: quoted replies, reply headers, signatures and "Sent from my …" lines removed.

    Cuts at the first reply attribution ("Pada tanggal … menulis:", "On … wrote:"), Outlook separator
    ("-----Original Message-----", "____" or a "From:/Sent:" header block) or signature delimiter ("-- ");
    drops "> " lines anywhere (inline replies keep the author's answers). A forwarded message is the complaint
    itself: its text is kept (without the forward marker and its From/Date/To lines), and nothing after the
    marker is cut.

    >>> strip_quoted("Kartu saya belum aktif.\\n\\nPada tanggal Sel, 3 Nov 2026 pukul 10.00, Admin "
    ...              "<pengaduan@kartucakap.example> menulis:\\n> Mohon ditunggu 3x24 jam.")
    'Kartu saya belum aktif.'
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    forward_at = next((i for i, line in enumerate(lines) if _FORWARD_MARKER.match(line)), len(lines))
    kept: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if i == forward_at:
            i = _skip_forward_headers(lines, i + 1)  # the forwarded header block names people: not content
            kept.append("")
            continue
        if i < forward_at:
            if _SIGNATURE.match(line) and forward_at < len(lines):
                if any(_cut_here(lines, k) for k in range(i + 1, forward_at)):
                    break  # the forward is inside a quoted reply
                i = forward_at  # the forwarder's signature goes, the forwarded complaint stays
                continue
            if _cut_here(lines, i):
                break
            if _MOBILE_FOOTER.match(line):
                i += 1
                continue
        if not line.lstrip().startswith(">"):
            kept.append(line.rstrip())
        i += 1
    out = "\n".join(kept)
    return re.sub(r"\n{3,}", "\n\n", out).strip()


def _skip_forward_headers(lines: list[str], i: int) -> int:
    """Index after the "From:/Date:/Subject:/To:" lines that follow a forward marker."""
    while i < len(lines) and (_HEADER_FROM.match(lines[i]) or _HEADER_NEXT.match(lines[i])):
        i += 1
    return i


def _cut_here(lines: list[str], i: int) -> bool:
    line = lines[i]
    if _SIGNATURE.match(line) or _ORIGINAL_MESSAGE.match(line):
        return True
    if _ATTRIBUTION_START.match(line):
        for j in range(i, min(i + 3, len(lines))):
            joined = " ".join(part.strip() for part in lines[i : j + 1])
            if _ATTRIBUTION_END.search(lines[j]) and re.search(r"\d", joined):
                return True
    elif _ATTRIBUTION_END.search(line) and ("@" in line or "<" in line):
        return True  # "Siti Rahma <siti@…> menulis:" with no date before it
    following = [nxt for nxt in lines[i + 1 : i + 5] if nxt.strip()]
    if _UNDERSCORE_RULE.match(line):
        return bool(following) and bool(_HEADER_FROM.match(following[0]))
    if _HEADER_FROM.match(line) and ("@" in line or "<" in line):
        # A quoted header names an address and is followed by at least two more header lines; a web form's
        # "Dari: Siti / Tanggal: 3 Nov / Perihal: …" names no address and stays.
        return sum(1 for nxt in following[:4] if _HEADER_NEXT.match(nxt)) >= 2
    return False


# ==============================================================================================================
# HTML to text
# ==============================================================================================================

_SKIP_TAGS = frozenset({"style", "script", "head", "title", "noscript", "template"})
_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "center", "dd", "div", "dl", "dt", "fieldset", "figure",
    "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre",
    "section", "table", "tr", "ul",
})  # fmt: skip
_PARAGRAPH_TAGS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol"})


class _HtmlText(HTMLParser):
    """Visible text of an HTML body: one line per block or <br>, blockquotes as "> " lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.current_depth = 0
        self.skip = 0
        self.quote = 0
        self.pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self.skip += 1
        elif tag == "br":
            self._end_line(force=True)
        elif tag in _BLOCK_TAGS:
            self._end_line()
            if tag == "blockquote":
                self.quote += 1
            elif tag == "pre":
                self.pre += 1
            elif tag == "li":
                self.handle_data("- ")
        elif tag in ("td", "th") and self.current:
            self.current.append(" ")  # cells of a row side by side

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            return  # <script/> has no content to skip
        self.handle_starttag(tag, attrs)
        if tag not in ("br", "hr"):
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCK_TAGS:
            self._end_line()
            if tag == "blockquote":
                self.quote = max(0, self.quote - 1)
            elif tag == "pre":
                self.pre = max(0, self.pre - 1)
            if tag in _PARAGRAPH_TAGS:
                self._blank_line()

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.pre:
            parts = data.split("\n")
            for k, part in enumerate(parts):
                if k:
                    self._end_line(force=True)
                self._add(part)
            return
        data = re.sub(r"\s+", " ", data)
        if not self.current:
            data = data.lstrip()
        self._add(data)

    def _add(self, data: str) -> None:
        if data:
            if not self.current:
                self.current_depth = self.quote
            self.current.append(data)

    def _end_line(self, *, force: bool = False) -> None:
        line = "".join(self.current).rstrip()
        if line or force:
            depth = self.current_depth if line else self.quote
            self.lines.append("> " * depth + line if depth and line else ("> " * depth).rstrip() + line)
        self.current = []

    def _blank_line(self) -> None:
        if self.lines and self.lines[-1] != "":
            self.lines.append("")

    def text(self) -> str:
        self.close()
        self._end_line()
        out = "\n".join(line.replace("\xa0", " ").rstrip() for line in self.lines)
        return re.sub(r"\n{3,}", "\n\n", out).strip()


def html_to_text(html: str) -> str:
    """Visible text of an HTML e-mail body; <style>/<script> dropped, line breaks kept, quotes as "> " lines.

    >>> html_to_text("<style>p{color:red}</style><p>Saldo pelatihan&nbsp;belum masuk.<br>Mohon dicek.</p>")
    'Saldo pelatihan belum masuk.\\nMohon dicek.'
    """
    parser = _HtmlText()
    parser.feed(html)
    return parser.text()


# ==============================================================================================================
# Message → record
# ==============================================================================================================


# C1 control characters are, in practice, windows-1252 punctuation mislabelled as iso-8859-1 ("\x93" → "“").
_C1_TO_CP1252 = {
    b: ch for b in range(0x80, 0xA0) if (ch := bytes([b]).decode("cp1252", errors="ignore")) and ord(ch) != b
}


def _clean(value: str) -> tuple[str, bool]:
    """Text safe to store (no lone surrogates, no NUL, no C1 controls) and whether bytes had to be replaced.

    Raw 8-bit bytes in a header (kept by the parser as surrogates) are read as UTF-8, else windows-1252.
    """
    replaced = False
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        try:
            data = value.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            data = value.encode("utf-8", "replace")
            replaced = True
        for codec in ("utf-8", "cp1252"):
            try:
                value = data.decode(codec)
                break
            except UnicodeDecodeError:
                continue
        else:
            value, replaced = data.decode("utf-8", "replace"), True
    return value.translate(_C1_TO_CP1252).replace("\x00", ""), replaced


def decode_bytes(payload: bytes, charset: str | None) -> tuple[str, bool]:
    """``payload`` decoded with its declared charset; ``(text, True)`` when bytes had to be replaced.

    Mislabelled mail is common: text declared us-ascii or iso-8859-1 is tried as UTF-8 and as windows-1252
    (curly quotes, en dashes) first, as browsers do; an unknown charset falls back to UTF-8.
    """
    try:
        declared = codecs.lookup(charset or "us-ascii").name
    except LookupError:
        declared = None
    if declared in ("ascii", "iso8859-1", "cp1252"):
        order = ["utf-8", "cp1252", "iso8859-1"]
    else:
        order = [declared, "utf-8"] if declared else ["utf-8"]
    for codec in order:
        try:
            return payload.decode(codec), False
        except UnicodeDecodeError:
            continue
    return payload.decode(declared or "utf-8", errors="replace"), True


def _part_text(part: EmailMessage) -> tuple[str, bool]:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return "", False
    text, errors = decode_bytes(payload, part.get_content_charset())
    text, replaced = _clean(text)
    return text.replace("\r\n", "\n").replace("\r", "\n"), errors or replaced


def body_text(msg: EmailMessage) -> tuple[str, bool]:
    """The plain-text body (text/plain preferred, else HTML converted) and whether decoding replaced bytes."""
    plain = msg.get_body(preferencelist=("plain",))
    if plain is not None:
        text, errors = _part_text(plain)
        if text.strip():
            return text, errors
    html = msg.get_body(preferencelist=("html",))
    if html is not None:
        text, errors = _part_text(html)
        return html_to_text(text), errors
    return "", False


def _attachments(msg: EmailMessage) -> list[str]:
    """Content types of the attached files (never their names or bytes: a file name may carry a NIK)."""
    body_parts = {id(p) for p in (msg.get_body(("plain",)), msg.get_body(("html",))) if p is not None}
    found = []
    for part in msg.walk():
        if part.is_multipart() or id(part) in body_parts:
            continue
        disposition = part.get_content_disposition()
        # An image embedded in an HTML signature (inline, with a Content-ID) is not something the sender attached.
        if disposition == "attachment" or (part.get_filename() and part.get("Content-ID") is None):
            found.append(part.get_content_type())
    return found


_MSG_ID_RE = re.compile(r"<[^<>\s]+>")


def _message_ids(value: str | None) -> list[str]:
    """Message-IDs in a header, as "<id@host>"; a bare id without brackets is kept as one."""
    if not value:
        return []
    found = _MSG_ID_RE.findall(value)
    if not found and value.strip():
        found = [f"<{value.strip().strip('<>')}>"]
    return found


def _header(msg: EmailMessage, name: str) -> str | None:
    try:
        value = msg.get(name)
    except (ValueError, TypeError, IndexError, AttributeError):  # a header the parser chokes on: keep it raw
        value = next((v for k, v in msg.raw_items() if k.lower() == name.lower()), None)
    if value is None:
        return None
    text, _ = _clean(str(value))
    return text.strip() or None


def _date(msg: EmailMessage) -> datetime | None:
    try:
        header = msg.get("Date")
        when = getattr(header, "datetime", None)
    except (ValueError, TypeError, IndexError, AttributeError, OverflowError):
        return None
    if when is None:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)  # "-0000": UTC, origin zone unknown (RFC 5322)


def _addresses(msg: EmailMessage, name: str) -> list[tuple[str, str]]:
    """(display name, address) pairs of an address header; [] when it is absent or unreadable."""
    try:
        header = msg.get(name)
        addresses = getattr(header, "addresses", ()) if header is not None else ()
        return [(_clean(a.display_name)[0], _clean(a.addr_spec)[0]) for a in addresses if a.addr_spec]
    except (ValueError, TypeError, IndexError, AttributeError):
        return []


def message_to_record(
    raw: bytes | None,
    *,
    uid: int,
    uidvalidity: int,
    internaldate: datetime | None = None,
    folder: str = "INBOX",
) -> Record:
    """One fetched message as an item (or a ``Rejected`` with the reason), without touching the network.

    ``internaldate`` (the server's arrival time) stands in for a missing or unreadable Date header.
    """
    ref = f"{folder}:{uidvalidity}:{uid}"
    if not raw:
        return Rejected(SOURCE, "empty message: the server returned no bytes", "", source_ref=ref)
    try:
        return _to_record(raw, uid=uid, uidvalidity=uidvalidity, internaldate=internaldate, folder=folder)
    except Exception as exc:  # the stdlib parser's failure modes are open-ended: quarantine, never lose
        snippet = raw[:_REJECT_SNIPPET].decode("utf-8", "backslashreplace")
        return Rejected(SOURCE, f"unreadable message ({type(exc).__name__}: {exc})", snippet, source_ref=ref)


def _to_record(
    raw: bytes, *, uid: int, uidvalidity: int, internaldate: datetime | None, folder: str
) -> Record:
    msg = cast(EmailMessage, email.message_from_bytes(raw, policy=email.policy.default))
    headers = {name: value for name in RAW_HEADERS if (value := _header(msg, name)) is not None}
    subject = headers.get("Subject", "")
    body, decode_errors = body_text(msg)
    own_text = strip_quoted(body)
    raw_payload: dict[str, Any] = {**headers, "text": own_text}
    ref = f"{folder}:{uidvalidity}:{uid}"

    text = "\n\n".join(part for part in (subject, own_text) if part)
    if not text.strip():
        reason = "empty message: no subject and no text body"
        return Rejected(SOURCE, reason, json.dumps(raw_payload, ensure_ascii=False), source_ref=ref)

    meta: dict[str, Any] = {}
    created_at = _date(msg)
    if created_at is None and internaldate is not None:
        created_at = internaldate if internaldate.tzinfo else internaldate.replace(tzinfo=UTC)
        meta["date_source"] = "internaldate"
    if created_at is None:
        reason = (
            "no usable date: the Date header is missing or unreadable and the server gave no INTERNALDATE"
        )
        return Rejected(SOURCE, reason, json.dumps(raw_payload, ensure_ascii=False), source_ref=ref)

    ids = _message_ids(headers.get("Message-ID"))
    message_id = ids[0] if ids else None
    parents = _message_ids(headers.get("In-Reply-To"))
    references = _message_ids(headers.get("References"))
    in_reply_to = parents[0] if parents else (references[-1] if references else None)
    source_id = message_id or f"{uidvalidity}:{uid}"
    senders = _addresses(msg, "From")
    attachments = _attachments(msg)

    meta.update(
        subject=subject,
        has_attachments=bool(attachments),
        message_id=message_id,
        to=[address for _, address in _addresses(msg, "To")],
    )
    if attachments:
        meta["attachment_types"] = attachments
    if decode_errors:
        meta["decode_errors"] = True
    return CollectedItem(
        source=SOURCE,
        source_id=source_id,
        kind="reply" if in_reply_to else "ticket",
        text=text,
        created_at=created_at,
        author=senders[0][1] if senders else None,
        author_name=(senders[0][0] or None) if senders else None,
        thread_id=references[0] if references else (in_reply_to or source_id),
        parent_id=in_reply_to,
        meta=meta,
        raw=raw_payload,
    )


# ==============================================================================================================
# Collector
# ==============================================================================================================


def parse_cursor(cursor: str | None) -> tuple[int, int] | None:
    """``"1795828189:42"`` → (uidvalidity, last uid); None for no cursor or one this collector did not write."""
    if not cursor:
        return None
    match = re.fullmatch(r"\s*(\d+):(\d+)\s*", cursor)
    return (int(match.group(1)), int(match.group(2))) if match else None


class ImapCollector:
    """Reads a complaint mailbox folder by UID, one page per ``batch_size`` messages.

    ``client_factory(host, port=…, ssl=…, timeout=…)`` builds the client (default ``IMAPClient``); tests wrap
    the real client with it.
    """

    source = SOURCE

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        password: str,
        *,
        folder: str = "INBOX",
        ssl: bool = True,
        batch_size: int = 100,
        timeout: float = 60.0,
        client_factory: ClientFactory | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.host = host
        self.port = port
        self.username = username
        self._password = password
        self.folder = folder
        self.ssl = ssl
        self.batch_size = batch_size
        self.timeout = timeout
        self.client_factory: ClientFactory = client_factory or IMAPClient

    def __repr__(self) -> str:  # never the password
        return f"ImapCollector({self.username}@{self.host}:{self.port}/{self.folder}, ssl={self.ssl})"

    @property
    def checkpoint_name(self) -> str:
        return f"imap:{self.username}@{self.host}/{self.folder}"

    def pages(self, cursor: str | None = None) -> Iterator[Page]:
        """Pages of new messages after ``cursor``; each page's checkpoint is "<uidvalidity>:<its last uid>"."""
        notes: list[str] = []
        previous = parse_cursor(cursor)
        if cursor and previous is None:
            notes.append(
                f"checkpoint {cursor!r} is not '<uidvalidity>:<uid>'; reading {self.folder} from the start"
            )
        client = self._connect()
        try:
            with self._errors("selecting the folder", client):
                selected = client.select_folder(self.folder, readonly=True)
            if b"UIDVALIDITY" not in selected:
                raise CollectorError(
                    f"the IMAP server {self.host}:{self.port} gave no UIDVALIDITY for {self.folder!r}; "
                    "it cannot be read incrementally"
                )
            uidvalidity = int(selected[b"UIDVALIDITY"])
            last_uid = 0
            if previous is not None:
                if previous[0] == uidvalidity:
                    last_uid = previous[1]
                else:
                    notes.append(
                        f"mailbox folder {self.folder} was rebuilt (UIDVALIDITY {previous[0]} → {uidvalidity}); "
                        "reading it again from the first message — messages already stored are matched by "
                        "their Message-ID and not duplicated"
                    )
            with self._errors("searching for new messages"):
                # "UID n:*" with n past the last UID still answers the last message: keep only UIDs > last_uid.
                uids = sorted(uid for uid in client.search(["UID", f"{last_uid + 1}:*"]) if uid > last_uid)
            if not uids:
                if notes:  # save the new UIDVALIDITY so the note is said once
                    yield Page([], checkpoint=f"{uidvalidity}:0", meta=self._meta(uidvalidity, 0, notes))
                return
            for start in range(0, len(uids), self.batch_size):
                batch = uids[start : start + self.batch_size]
                with self._errors("fetching messages"):
                    fetched = client.fetch(batch, FETCH_ITEMS)
                records: list[Record] = []
                gone = []
                for uid in batch:
                    data = fetched.get(uid)
                    if data is None:
                        gone.append(uid)
                        continue
                    records.append(
                        message_to_record(
                            data.get(b"BODY[]") or data.get(b"RFC822"),
                            uid=uid,
                            uidvalidity=uidvalidity,
                            internaldate=data.get(b"INTERNALDATE"),
                            folder=self.folder,
                        )
                    )
                if gone:
                    notes.append(f"{len(gone)} message(s) were deleted from {self.folder} while reading")
                yield Page(
                    records,
                    checkpoint=f"{uidvalidity}:{batch[-1]}",
                    meta=self._meta(uidvalidity, batch[-1], notes),
                )
                notes = []
        finally:
            with contextlib.suppress(IMAPClientError, OSError):
                client.logout()

    def _meta(self, uidvalidity: int, last_uid: int, notes: list[str]) -> dict[str, Any]:
        meta: dict[str, Any] = {"folder": self.folder, "uidvalidity": uidvalidity, "last_uid": last_uid}
        if notes:
            meta["notes"] = list(notes)
        return meta

    def _connect(self) -> IMAPClient:
        with self._errors("connecting"):
            client = self.client_factory(self.host, port=self.port, ssl=self.ssl, timeout=self.timeout)
        client.normalise_times = False  # INTERNALDATE with its offset, not naive local time
        try:
            with self._errors("logging in"):
                client.login(self.username, self._password)
        except CollectorError:
            with contextlib.suppress(IMAPClientError, OSError):
                client.shutdown()
            raise
        return client

    @contextmanager
    def _errors(self, action: str, client: IMAPClient | None = None) -> Iterator[None]:
        """Every imapclient/socket error, mapped once to the collector error tree with what to do next."""
        where = f"{self.host}:{self.port}"
        try:
            yield
        except LoginError as exc:
            raise SourceAuthError(
                f"IMAP login as {self.username!r} on {where} was refused ({_said(exc)}); set SUARA_IMAP_USERNAME "
                "and SUARA_IMAP_PASSWORD to the mailbox's credentials (an app password where the provider "
                "requires one)"
            ) from exc
        except IMAPClientAbortError as exc:
            raise CollectorError(
                f"the IMAP connection to {where} broke while {action} ({_said(exc)}); run the collector again: "
                "it resumes after the last stored batch"
            ) from exc
        except IMAPClientError as exc:
            if client is not None and action == "selecting the folder":
                folders = _folder_names(client)
                raise SourceNotFound(
                    f"IMAP folder {self.folder!r} cannot be opened on {where} ({_said(exc)}); set "
                    f"SUARA_IMAP_FOLDER to one of {folders}"
                ) from exc
            raise CollectorError(f"the IMAP server {where} refused {action}: {_said(exc)}") from exc
        except ssl_lib.SSLError as exc:
            raise CollectorError(
                f"TLS with {where} failed ({exc}); check SUARA_IMAP_PORT (993 is IMAP over TLS), or set "
                "SUARA_IMAP_SSL=false only for a plain-text server on a trusted network"
            ) from exc
        except TimeoutError as exc:
            raise CollectorError(
                f"the IMAP server {where} did not answer in {self.timeout:g} s while {action}; try again later"
            ) from exc
        except OSError as exc:
            raise CollectorError(
                f"cannot reach the IMAP server {where} ({exc}); check SUARA_IMAP_HOST and SUARA_IMAP_PORT"
            ) from exc


def _said(exc: Exception) -> str:
    text = str(exc)
    if text.startswith(("b'", 'b"')):
        with contextlib.suppress(ValueError, SyntaxError, AttributeError):
            text = ast.literal_eval(text).decode("utf-8", "replace")
    return text


def _folder_names(client: IMAPClient) -> list[str]:
    try:
        return sorted(str(name) for _, _, name in client.list_folders())
    except (IMAPClientError, OSError):
        return []
