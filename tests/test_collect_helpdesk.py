"""Zendesk and Freshdesk collectors: real httpx clients against fake helpdesks (``httpx.MockTransport``).

The fakes serve real-shaped payloads (tests/fixtures/helpdesk, fictional "Kartu Cakap" tickets with NIKs, phone
numbers and e-mail addresses) and record every request; faults (429, 401, 5xx, broken JSON, a dropped
connection on page 3) are injected at the transport. Sleeps are recorded, never slept.
"""

from __future__ import annotations

import base64
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from collectors._http import HttpApi, next_params
from collectors.base import CollectedItem, PagedCollector, Rejected
from collectors.errors import CollectorError, RateLimited, SourceAuthError, SourceNotFound
from collectors.freshdesk import FreshdeskCollector, html_to_text
from collectors.zendesk import ZendeskCollector
from storage import db, schema
from suara.errors import ConfigError
from suara.jobs import run_collector

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "helpdesk"
NOW = datetime(2026, 11, 10, tzinfo=UTC)
ZD_BASE = "http://127.0.0.1:8765/zendesk-proxy"  # a proxy/recorded-response server, not zendesk.com
FD_BASE = "https://kartucakap.freshdesk.com"

# PII planted in the fixtures: none of it may reach the store in any column of any table.
PII = [
    "3273011290010003",
    "3578014506120002",
    "0821-1379-0452",
    "082113790452",
    "0896 4471 2205",
    "+62 813-1234-5678",
    "0812-3456-7890",
    "zaki_sitompul79@gmail.com",
    "kiki1988@gmail.com",
    "bayu.pratama@gmail.com",
    "dewi.lestari77@gmail.com",
    "rina.w@yahoo.co.id",
    "siti.rahma88@gmail.com",
    "joko.susanto@yahoo.com",
    "lina.marlina21@gmail.com",
    "agus.salim.bdg@gmail.com",
    "081298765432",
    "857-2211-3344",
    "36.72.114.9",  # the commenter's IP address in Zendesk comment metadata
]


# Requesters' display names: masked in item text (ingest knows the author's name), and kept out of raw payloads.
NAMES = ["Zaki Sitompul", "Siti Rahmawati", "Kiki Amalia", "Bayu Pratama", "Joko Susanto"]


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def source_ids(engine, source: str) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(select(schema.items.c.source_id).where(schema.items.c.source == source)).scalars()
        )


def checkpoint(engine, name: str) -> str | None:
    with engine.connect() as conn:
        return db.get_checkpoint(conn, name)[0]


def store_dump(engine) -> str:
    """Every row of every table that holds collected data, as one string."""
    parts = []
    with engine.connect() as conn:
        for table in (schema.items, schema.quarantine, schema.checkpoints, schema.runs):
            parts += [
                json.dumps([str(v) for v in row], ensure_ascii=False) for row in conn.execute(select(table))
            ]
    return "\n".join(parts)


Fault = Callable[[httpx.Request, int], httpx.Response | None]


def not_json(_request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        200, text="<html><body><h1>502 Bad Gateway</h1></body></html>", headers={"content-type": "text/html"}
    )


# ==============================================================================================================
# Zendesk
# ==============================================================================================================
ZD_EXPORT = load("zendesk_export.json")
C1 = ZD_EXPORT["first"]["after_cursor"]
C2 = ZD_EXPORT[C1]["after_cursor"]
C3 = ZD_EXPORT[C2]["after_cursor"]
ZD_UPDATED = load("zendesk_export_updated.json")
C4 = ZD_UPDATED[C3]["after_cursor"]
ZD_ITEMS = {"48114", "48114-c1004", "48114-c1005", "48136", "48136-c2003", "48152", "48160"}


class FakeZendesk:
    """Serves the export by cursor and comments by ticket; records requests; ``fault`` may answer first.

    ``fault(request, n)`` gets the request and the number of export requests so far (this one included).
    """

    def __init__(self, export: dict | None = None, comments: dict | None = None, fault: Fault | None = None):
        self.export = ZD_EXPORT if export is None else export
        self.comments = load("zendesk_comments.json") if comments is None else comments
        self.fault = fault
        self.requests: list[httpx.Request] = []

    @property
    def export_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if "/incremental/" in r.url.path]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.fault and (answer := self.fault(request, len(self.export_requests))) is not None:
            return answer
        assert request.url.path.startswith("/zendesk-proxy/api/v2/"), (
            request.url
        )  # the base URL's path is kept
        path = request.url.path.removeprefix("/zendesk-proxy")
        if path == "/api/v2/incremental/tickets/cursor.json":
            key = request.url.params.get("cursor") or "first"
            if key not in self.export:
                return httpx.Response(422, json={"error": "InvalidPaginationParameter", "description": key})
            return httpx.Response(200, json=self.export[key])
        if m := re.fullmatch(r"/api/v2/tickets/(\d+)/comments\.json", path):
            pages = self.comments.get(m[1])
            if pages is None:
                return httpx.Response(404, json={"error": "RecordNotFound", "description": "Not found"})
            return httpx.Response(200, json=pages[int(request.url.params.get("page", "1")) - 1])
        return httpx.Response(404, json={"error": "InvalidEndpoint", "description": "Not found"})


def zendesk(fake: FakeZendesk, sleeps: list[float] | None = None, **kwargs) -> ZendeskCollector:
    options: dict[str, Any] = {"email": "cs@kartucakap.go.id", "token": "zd-token-uji"}
    options.update(kwargs)
    return ZendeskCollector(
        ZD_BASE,
        transport=httpx.MockTransport(fake),
        sleep=(sleeps if sleeps is not None else []).append,
        now=lambda: NOW,
        **options,
    )


def on_export(n: int, answer: Callable[[httpx.Request], httpx.Response], times: int | None = None) -> Fault:
    """A fault for the n-th export request (``times`` times; None: for ever)."""
    left = [times]

    def fault(request: httpx.Request, seen: int) -> httpx.Response | None:
        if "/incremental/" not in request.url.path or seen < n or left[0] == 0:
            return None
        if left[0] is not None:
            left[0] -= 1
        return answer(request)

    return fault


def test_zendesk_collector_follows_the_paged_protocol():
    assert isinstance(zendesk(FakeZendesk()), PagedCollector)


def test_zendesk_export_pages_become_tickets_and_public_customer_replies():
    fake = FakeZendesk()
    pages = list(zendesk(fake).pages(None))

    assert [p.checkpoint for p in pages] == [C1, C2, C3]
    records = [r for p in pages for r in p.records]
    items = {r.source_id: r for r in records if isinstance(r, CollectedItem)}
    assert (
        set(items) == ZD_ITEMS
    )  # agent comments (1002, 2002, 4002) and the private note (1003) are not here
    [rejected] = [r for r in records if isinstance(r, Rejected)]
    assert rejected.source_ref == "48151" and "no subject, description or comment text" in rejected.reason

    ticket = items["48114"]
    assert ticket.kind == "ticket" and ticket.thread_id == "48114" and ticket.parent_id is None
    assert ticket.text.startswith("Dana insentif belum diterima\n\nKak insentif saya belum cair")
    assert ticket.created_at == datetime(2026, 10, 5, 4, 16, 50, tzinfo=UTC)
    assert ticket.author == "zaki_sitompul79@gmail.com" and ticket.author_name == "Zaki Sitompul"
    assert ticket.url == f"{ZD_BASE}/agent/tickets/48114"
    assert ticket.meta["status"] == "open" and ticket.meta["priority"] == "normal"
    assert ticket.meta["tags"] == ["insentif", "gelombang_14", "ewallet_dana"]
    assert ticket.meta["via_channel"] == "email" and ticket.meta["satisfaction"] == "unoffered"
    assert ticket.meta["first_response_at"] == (ticket.created_at + timedelta(minutes=1706)).isoformat()
    assert ticket.meta["solved_at"] is None
    solved = items["48160"].meta
    assert solved["status"] == "solved" and solved["solved_at"] == "2026-10-07T07:06:32+00:00"
    assert solved["satisfaction"] == "good" and "cepat" in solved["satisfaction_comment"]

    reply = items["48114-c1005"]
    assert (reply.kind, reply.thread_id, reply.parent_id) == ("reply", "48114", "48114")
    assert reply.author == ticket.author and reply.meta["author_role"] == "requester"
    assert reply.text.startswith("Sudah 2 minggu belum ada kabar")
    assert "system" not in reply.raw["metadata"]  # the commenter's IP and location are not kept
    assert (
        items["48152"].raw["x_kartu_cakap_wilayah"]["provinsi"] == "Jawa Barat"
    )  # unknown fields: kept in raw
    assert pages[0].meta["skipped"] == {"private_notes": 1, "not_by_requester": 2}

    first = fake.export_requests[0]
    assert first.url.params["start_time"] == str(int((NOW - timedelta(days=30)).timestamp()))
    assert first.url.params["include"] == "users,metric_sets" and "cursor" not in first.url.params
    assert [r.url.params["cursor"] for r in fake.export_requests[1:]] == [C1, C2]
    user, token = base64.b64decode(first.headers["authorization"].split()[1]).decode().split(":")
    assert (user, token) == ("cs@kartucakap.go.id/token", "zd-token-uji")
    # next_page points at zendesk.com; the collector asks the configured base URL for page 2 instead.
    page2 = [r for r in fake.requests if r.url.path.endswith("/48114/comments.json")][1]
    assert page2.url.host == "127.0.0.1" and page2.url.params["page"] == "2"


def test_zendesk_oauth_token_is_sent_as_bearer():
    fake = FakeZendesk()
    list(zendesk(fake, email=None, token=None, oauth_token="oauth-uji").pages(C2))
    assert {r.headers["authorization"] for r in fake.requests} == {"Bearer oauth-uji"}


def test_zendesk_without_description_uses_the_first_comment():
    export = {
        "first": {
            "tickets": [dict(ZD_EXPORT["first"]["tickets"][1], subject="", raw_subject="", description="")],
            "after_cursor": C1,
            "end_of_stream": True,
        }
    }
    [page] = list(zendesk(FakeZendesk(export=export)).pages(None))
    ticket = page.records[0]
    assert ticket.text.startswith("kak saya mau daftar tp kode OTP")  # comment 2001, the first one
    assert ticket.author == "zendesk-user:90002"  # no users sideloaded: the requester id stands in
    assert [r.source_id for r in page.records] == ["48136", "48136-c2003"]


def test_zendesk_missing_comments_are_a_note_not_a_failure():
    comments = load("zendesk_comments.json")
    del comments["48136"]
    pages = list(zendesk(FakeZendesk(comments=comments)).pages(None))
    assert any("48136" in n and "404" in n for n in pages[0].meta["notes"])
    assert "48136" in {r.source_id for r in pages[0].records}


def test_zendesk_needs_credentials():
    with pytest.raises(ConfigError, match="SUARA_ZENDESK_TOKEN"):
        ZendeskCollector(ZD_BASE, email="cs@kartucakap.go.id")
    with pytest.raises(CollectorError, match="SUARA_ZENDESK_BASE_URL"):
        ZendeskCollector("kartucakap.zendesk.com", email="cs@kartucakap.go.id", token="t")


def test_zendesk_rerun_from_saved_cursor_asks_for_that_cursor(engine):
    first = run_collector(engine, zendesk(FakeZendesk()))
    assert (first.new, first.quarantined, first.pages, first.checkpoint) == (7, 1, 3, C3)
    assert set(source_ids(engine, "zendesk")) == ZD_ITEMS

    fake = FakeZendesk(export={C3: {"tickets": [], "after_cursor": C3, "end_of_stream": True}})
    again = run_collector(engine, zendesk(fake))
    [request] = fake.export_requests
    assert request.url.params["cursor"] == C3 and "start_time" not in request.url.params
    assert (again.new, again.updated, again.pages) == (0, 0, 0)


def test_zendesk_updated_ticket_updates_its_row_never_duplicates(engine):
    run_collector(engine, zendesk(FakeZendesk()))
    result = run_collector(engine, zendesk(FakeZendesk(export=ZD_UPDATED)))
    assert (result.new, result.updated, result.unchanged) == (0, 1, 2)  # the ticket; its 2 replies unchanged
    assert result.checkpoint == C4
    assert count(engine, schema.items) == 7
    with engine.connect() as conn:
        meta = conn.execute(
            select(schema.items.c.meta).where(schema.items.c.source_id == "48114")
        ).scalar_one()
    assert (meta["status"], meta["priority"], meta["satisfaction"]) == ("solved", "high", "bad")
    assert "sudah_cair" in meta["tags"] and meta["solved_at"] == "2026-10-09T03:00:00+00:00"


def test_zendesk_429_waits_retry_after_then_succeeds():
    sleeps: list[float] = []
    fault = on_export(1, lambda r: httpx.Response(429, headers={"Retry-After": "7"}, json={}), times=1)
    pages = list(zendesk(FakeZendesk(fault=fault), sleeps).pages(None))
    assert sleeps == [7.0] and len(pages) == 3


def test_zendesk_429_for_ever_is_rate_limited_after_a_bounded_wait():
    sleeps: list[float] = []
    fault = on_export(1, lambda r: httpx.Response(429, headers={"Retry-After": "60"}, json={}))
    with pytest.raises(RateLimited, match="rate limit"):
        list(zendesk(FakeZendesk(fault=fault), sleeps, max_rate_wait=300).pages(None))
    assert sleeps == [60.0] * 5 and sum(sleeps) <= 300


@pytest.mark.parametrize("status", [401, 403])
def test_zendesk_auth_errors_name_the_setting(status):
    fault = on_export(1, lambda r: httpx.Response(status, json={"error": "Couldn't authenticate you"}))
    with pytest.raises(SourceAuthError, match="SUARA_ZENDESK_TOKEN") as info:
        list(zendesk(FakeZendesk(fault=fault)).pages(None))
    assert str(status) in str(info.value)


def test_zendesk_oauth_401_names_the_oauth_setting():
    fault = on_export(1, lambda r: httpx.Response(401, json={"error": "invalid_token"}))
    with pytest.raises(SourceAuthError, match="SUARA_ZENDESK_OAUTH_TOKEN"):
        list(zendesk(FakeZendesk(fault=fault), email=None, token=None, oauth_token="x").pages(None))


def test_zendesk_500_500_200_succeeds_after_backoff():
    sleeps: list[float] = []
    fault = on_export(1, lambda r: httpx.Response(500, json={"error": "InternalError"}), times=2)
    pages = list(zendesk(FakeZendesk(fault=fault), sleeps).pages(None))
    assert sleeps == [1.0, 2.0] and len(pages) == 3


def test_zendesk_5xx_for_ever_gives_up_after_bounded_retries():
    sleeps: list[float] = []
    fault = on_export(1, lambda r: httpx.Response(503, text="Service Unavailable"))
    with pytest.raises(CollectorError, match=r"503.*after 4 tries"):
        list(zendesk(FakeZendesk(fault=fault), sleeps).pages(None))
    assert sleeps == [1.0, 2.0, 4.0]


def test_zendesk_timeouts_and_dropped_connections_are_retried():
    sleeps: list[float] = []
    errors = [httpx.ReadTimeout("read timed out"), httpx.ConnectError("connection refused")]

    def fault(request, n):
        if errors and "/incremental/" in request.url.path:
            raise errors.pop(0)
        return None

    pages = list(zendesk(FakeZendesk(fault=fault), sleeps).pages(None))
    assert sleeps == [1.0, 2.0] and len(pages) == 3


def test_zendesk_non_json_page_stores_nothing_and_keeps_the_checkpoint(engine):
    with pytest.raises(CollectorError, match="not JSON"):
        run_collector(engine, zendesk(FakeZendesk(fault=on_export(2, not_json))))
    assert checkpoint(engine, "zendesk:tickets") == C1  # page 2 was not stored, its cursor not saved
    assert set(source_ids(engine, "zendesk")) == {
        "48114",
        "48114-c1004",
        "48114-c1005",
        "48136",
        "48136-c2003",
    }

    fake = FakeZendesk()
    result = run_collector(engine, zendesk(fake))
    assert fake.export_requests[0].url.params["cursor"] == C1
    assert (result.new, result.quarantined) == (2, 1)


def test_zendesk_crash_on_page_3_then_rerun_stores_every_item_once(engine):
    sleeps: list[float] = []

    def drop(request):
        raise httpx.ConnectError("connection reset by peer")

    with pytest.raises(CollectorError, match="ConnectError"):
        run_collector(engine, zendesk(FakeZendesk(fault=on_export(3, drop)), sleeps))
    assert sleeps == [1.0, 2.0, 4.0]
    assert checkpoint(engine, "zendesk:tickets") == C2
    assert count(engine, schema.items) == 6 and count(engine, schema.quarantine) == 1

    fake = FakeZendesk()
    result = run_collector(engine, zendesk(fake))
    assert [r.url.params["cursor"] for r in fake.export_requests] == [C2]
    assert (result.new, result.pages, result.checkpoint) == (1, 1, C3)
    ids = source_ids(engine, "zendesk")
    assert sorted(ids) == sorted(ZD_ITEMS) and count(engine, schema.quarantine) == 1

    with engine.begin() as conn:
        db.set_checkpoint(conn, "zendesk:tickets", None)  # forget the cursor: everything arrives again
    again = run_collector(engine, zendesk(FakeZendesk()))
    assert (again.new, again.updated, again.unchanged) == (0, 0, 7)
    assert count(engine, schema.items) == 7 and count(engine, schema.quarantine) == 1


def test_zendesk_store_holds_no_pii(engine):
    run_collector(engine, zendesk(FakeZendesk()))
    dump = store_dump(engine)
    assert [p for p in PII if p in dump] == []
    with engine.connect() as conn:
        rows = conn.execute(
            select(schema.items.c.source_id, schema.items.c.author_key, schema.items.c.text).where(
                schema.items.c.thread_id == "48114"
            )
        ).all()
    assert len({r.author_key for r in rows}) == 1 and rows[0].author_key.startswith("a_")
    texts = {r.source_id: r.text for r in rows}
    assert "NIK saya [NIK]" in texts["48114-c1004"] and "[TELEPON]" in texts["48114-c1004"]
    assert "[NAMA]" in texts["48114-c1005"]


def test_zendesk_store_holds_no_requester_names(engine):
    run_collector(engine, zendesk(FakeZendesk()))
    dump = store_dump(engine)
    assert [n for n in NAMES if n in dump] == []


# ==============================================================================================================
# Freshdesk
# ==============================================================================================================
FD_TICKETS = load("freshdesk_tickets.json")
FD_ITEMS = {"7301", "7301-c9002", "7302", "7302-c9004", "7304", "7305", "7306"}
EMBEDS = ("requester", "description", "stats")


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class FakeFreshdesk:
    """Freshdesk's list semantics over the fixture tickets: updated_since inclusive, ascending by updated_at,
    per_page/page, embeds only when asked, 400 past ``page_limit``, a Link header while more pages exist.
    """

    def __init__(
        self,
        tickets: list | None = None,
        conversations: dict | None = None,
        fault: Fault | None = None,
        page_limit: int = 300,
    ):
        self.tickets = FD_TICKETS if tickets is None else tickets
        self.conversations = load("freshdesk_conversations.json") if conversations is None else conversations
        self.fault = fault
        self.page_limit = page_limit
        self.requests: list[httpx.Request] = []

    @property
    def list_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == "/api/v2/tickets"]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.fault and (answer := self.fault(request, len(self.list_requests))) is not None:
            return answer
        params = request.url.params
        page, per_page = int(params.get("page", "1")), int(params.get("per_page", "30"))
        if request.url.path == "/api/v2/tickets":
            if page > self.page_limit:
                return httpx.Response(
                    400,
                    json={
                        "description": "Validation failed",
                        "errors": [
                            {"field": "page", "message": "Value must be <= 300", "code": "invalid_value"}
                        ],
                    },
                )
            since = ts(params["updated_since"])
            rows = sorted(
                (t for t in self.tickets if ts(t["updated_at"]) >= since),
                key=lambda t: (t["updated_at"], t["id"]),
            )
            chunk = rows[(page - 1) * per_page : page * per_page]
            embeds = set(params.get("include", "").split(","))
            hidden = {"requester": ["requester"], "description": ["description", "description_text"]}
            hidden["stats"] = ["stats"]
            chunk = [
                {k: v for k, v in t.items() if not any(k in hidden[e] for e in hidden if e not in embeds)}
                for t in chunk
            ]
            headers = {}
            if len(rows) > page * per_page:
                headers["link"] = (
                    f'<{FD_BASE}/api/v2/tickets?page={page + 1}&per_page={per_page}>; rel="next"'
                )
            return httpx.Response(200, json=chunk, headers=headers)
        if m := re.fullmatch(r"/api/v2/tickets/(\d+)/conversations", request.url.path):
            convs = self.conversations.get(m[1])
            if convs is None:
                return httpx.Response(404, json={"code": "access_denied", "message": "not found"})
            return httpx.Response(200, json=convs[(page - 1) * per_page : page * per_page])
        return httpx.Response(404, json={"code": "invalid_url"})


def freshdesk(fake: FakeFreshdesk, sleeps: list[float] | None = None, **kwargs) -> FreshdeskCollector:
    kwargs.setdefault("per_page", 2)  # small pages so six tickets take several
    return FreshdeskCollector(
        FD_BASE,
        api_key="fd-key-uji",
        transport=httpx.MockTransport(fake),
        sleep=(sleeps if sleeps is not None else []).append,
        now=lambda: NOW,
        **kwargs,
    )


def on_list(n: int, answer: Callable[[httpx.Request], httpx.Response], times: int | None = None) -> Fault:
    left = [times]

    def fault(request: httpx.Request, seen: int) -> httpx.Response | None:
        if request.url.path != "/api/v2/tickets" or seen < n or left[0] == 0:
            return None
        if left[0] is not None:
            left[0] -= 1
        return answer(request)

    return fault


def test_freshdesk_collector_follows_the_paged_protocol():
    assert isinstance(freshdesk(FakeFreshdesk()), PagedCollector)


def test_freshdesk_tickets_and_incoming_conversations_become_items():
    fake = FakeFreshdesk()
    pages = list(freshdesk(fake).pages(None))

    records = [r for p in pages for r in p.records]
    items = {r.source_id: r for r in records if isinstance(r, CollectedItem)}
    assert (
        set(items) == FD_ITEMS
    )  # outgoing agent replies (9001, 9005) and the private note (9003) are not here
    assert Counter(r.source_id for r in records if isinstance(r, CollectedItem)) == Counter(FD_ITEMS)
    [rejected] = [r for r in records if isinstance(r, Rejected)]
    assert rejected.source_ref == "7303" and "no subject or description" in rejected.reason

    t = items["7301"]
    assert t.text == (
        "Sertifikat tidak muncul setelah update\n\n"
        "Setelah update aplikasi 3.2 sertifikat saya hilang. NIK 3578014506120002, tolong dibantu"
    )
    assert (t.kind, t.thread_id, t.author, t.author_name) == (
        "ticket",
        "7301",
        "siti.rahma88@gmail.com",
        "Siti Rahmawati",
    )
    assert t.url == f"{FD_BASE}/a/tickets/7301"
    assert t.meta["first_response_at"] == "2026-11-01T06:00:00Z" and t.meta["solved_at"] is None
    statuses = {sid: items[sid].meta["status"] for sid in ("7301", "7302", "7304", "7305", "7306")}
    assert statuses == {
        "7301": "open",
        "7302": "pending",
        "7304": "resolved",
        "7305": "closed",
        "7306": "status_6",
    }
    assert items["7306"].meta["priority"] == "urgent" and items["7306"].meta["status_code"] == 6
    assert (
        items["7304"].meta["via_channel"] == "whatsapp"
        and items["7304"].meta["solved_at"] == "2026-11-03T01:00:00Z"
    )
    assert items["7304"].author == "freshdesk-user:73050004"  # no e-mail: the requester id stands in
    assert items["7304"].raw["cf_kanal_whatsapp"]["template"] == "pengaduan_v2"  # unknown fields kept in raw
    # No description_text: the HTML description is read instead.
    assert items["7302"].text.endswith("belum cair padahal sudah 3 minggu.\nRekening BRI sudah valid.")

    reply = items["7301-c9002"]
    assert (reply.kind, reply.parent_id, reply.author) == ("reply", "7301", t.author)
    assert reply.raw["from_email"] == "siti.rahma88@gmail.com"  # the display name beside it is dropped
    assert pages[0].meta["skipped"] == {"agent_conversations": 1, "private_notes": 1}

    # Keyset paging: updated_since moves to each page's newest updated_at; page 2 only inside a tie.
    seen = [(r.url.params["updated_since"], r.url.params["page"]) for r in fake.list_requests]
    assert seen == [
        ("2026-10-11T00:00:00Z", "1"),
        ("2026-11-02T04:30:00Z", "1"),
        ("2026-11-02T04:30:00Z", "2"),
        ("2026-11-04T09:00:00Z", "1"),
        ("2026-11-05T02:00:00Z", "1"),
    ]
    first = fake.list_requests[0].url.params
    assert (first["order_by"], first["order_type"], first["include"]) == (
        "updated_at",
        "asc",
        ",".join(EMBEDS),
    )
    assert [p.checkpoint for p in pages] == [
        "2026-11-02T04:30:00Z",
        "2026-11-02T04:30:00Z",
        "2026-11-04T09:00:00Z",
        "2026-11-05T02:00:00Z",
    ]
    # A boundary ticket read again within the run is not fetched (nor its conversations) twice.
    conv_requests = Counter(r.url.path for r in fake.requests if r.url.path.endswith("/conversations"))
    assert set(conv_requests.values()) == {1} and len(conv_requests) == 6
    assert base64.b64decode(fake.requests[0].headers["authorization"].split()[1]) == b"fd-key-uji:X"


def test_freshdesk_page_limit_is_never_reached_by_moving_updated_since():
    fake = FakeFreshdesk(page_limit=2)  # as if Freshdesk's limit were page 2 instead of 300
    records = [r for p in freshdesk(fake, page_limit=2).pages(None) for r in p.records]
    assert {r.source_id for r in records if isinstance(r, CollectedItem)} == FD_ITEMS
    assert max(int(r.url.params["page"]) for r in fake.list_requests) <= 2


def test_freshdesk_too_many_tickets_at_one_second_is_a_clear_error():
    same = [dict(t, updated_at="2026-11-02T04:30:00Z") for t in FD_TICKETS]
    fake = FakeFreshdesk(tickets=same, page_limit=2)
    with pytest.raises(CollectorError, match="share updated_at 2026-11-02T04:30:00Z"):
        list(freshdesk(fake, page_limit=2).pages(None))


def test_freshdesk_without_embeds_uses_requester_ids():
    pages = list(freshdesk(FakeFreshdesk(), include=("description",), fetch_conversations=False).pages(None))
    items = [r for p in pages for r in p.records if isinstance(r, CollectedItem)]
    assert {i.author for i in items if i.source_id == "7301"} == {"freshdesk-user:73050001"}
    assert all(i.kind == "ticket" for i in items) and "first_response_at" not in items[0].meta


def test_freshdesk_needs_an_api_key():
    with pytest.raises(ConfigError, match="SUARA_FRESHDESK_API_KEY"):
        FreshdeskCollector(FD_BASE, api_key="")


def test_freshdesk_rerun_starts_from_the_saved_updated_at(engine):
    first = run_collector(engine, freshdesk(FakeFreshdesk()))
    assert (first.new, first.quarantined, first.checkpoint) == (7, 1, "2026-11-05T02:00:00Z")
    fake = FakeFreshdesk()
    again = run_collector(engine, freshdesk(fake))
    params = fake.list_requests[0].url.params
    assert (params["updated_since"], params["page"]) == ("2026-11-05T02:00:00Z", "1")
    assert (again.new, again.updated, again.unchanged) == (
        0,
        0,
        1,
    )  # the boundary ticket, read again: harmless


def test_freshdesk_updated_ticket_updates_its_row_never_duplicates(engine):
    run_collector(engine, freshdesk(FakeFreshdesk()))
    changed = [
        dict(t, status=4, updated_at="2026-11-06T01:00:00Z") if t["id"] == 7301 else t for t in FD_TICKETS
    ]
    result = run_collector(engine, freshdesk(FakeFreshdesk(tickets=changed)))
    assert (result.new, result.updated) == (0, 1)
    assert count(engine, schema.items) == 7
    with engine.connect() as conn:
        meta = conn.execute(
            select(schema.items.c.meta).where(schema.items.c.source_id == "7301")
        ).scalar_one()
    assert (meta["status"], meta["status_code"]) == ("resolved", 4)


def test_freshdesk_429_waits_retry_after_then_succeeds():
    sleeps: list[float] = []
    limited = httpx.Response(
        429, headers={"Retry-After": "30", "X-Ratelimit-Remaining": "0"}, json={"message": "limit exceeded"}
    )
    pages = list(freshdesk(FakeFreshdesk(fault=on_list(2, lambda r: limited, times=1)), sleeps).pages(None))
    assert sleeps == [30.0] and len(pages) == 4


def test_freshdesk_429_for_ever_is_rate_limited():
    sleeps: list[float] = []
    fault = on_list(1, lambda r: httpx.Response(429, headers={"Retry-After": "45"}, json={}))
    with pytest.raises(RateLimited):
        list(freshdesk(FakeFreshdesk(fault=fault), sleeps, max_rate_wait=100).pages(None))
    assert sleeps == [45.0, 45.0]


def test_freshdesk_401_names_the_setting():
    fault = on_list(
        1, lambda r: httpx.Response(401, json={"code": "invalid_credentials", "message": "login"})
    )
    with pytest.raises(SourceAuthError, match=r"SUARA_FRESHDESK_API_KEY is rejected by Freshdesk \(401"):
        list(freshdesk(FakeFreshdesk(fault=fault)).pages(None))


def test_freshdesk_500_500_200_succeeds_after_backoff():
    sleeps: list[float] = []
    fault = on_list(1, lambda r: httpx.Response(500, json={"code": "internal_error"}), times=2)
    assert len(list(freshdesk(FakeFreshdesk(fault=fault), sleeps).pages(None))) == 4
    assert sleeps == [1.0, 2.0]


def test_freshdesk_non_json_page_stores_nothing_and_keeps_the_checkpoint(engine):
    with pytest.raises(CollectorError, match="not JSON"):
        run_collector(engine, freshdesk(FakeFreshdesk(fault=on_list(3, not_json))))
    assert checkpoint(engine, "freshdesk:tickets") == "2026-11-02T04:30:00Z"
    assert set(source_ids(engine, "freshdesk")) == {"7301", "7301-c9002", "7302", "7302-c9004"}


def test_freshdesk_crash_on_page_3_then_rerun_stores_every_item_once(engine):
    sleeps: list[float] = []

    def drop(request):
        raise httpx.ReadTimeout("timed out")

    with pytest.raises(CollectorError, match="ReadTimeout"):
        run_collector(engine, freshdesk(FakeFreshdesk(fault=on_list(3, drop)), sleeps))
    assert sleeps == [1.0, 2.0, 4.0]
    assert checkpoint(engine, "freshdesk:tickets") == "2026-11-02T04:30:00Z"
    assert count(engine, schema.items) == 4 and count(engine, schema.quarantine) == 1

    fake = FakeFreshdesk()
    result = run_collector(engine, freshdesk(fake))
    assert fake.list_requests[0].url.params["updated_since"] == "2026-11-02T04:30:00Z"
    assert result.new == 3 and result.checkpoint == "2026-11-05T02:00:00Z"
    ids = source_ids(engine, "freshdesk")
    assert sorted(ids) == sorted(FD_ITEMS) and count(engine, schema.quarantine) == 1


def test_freshdesk_store_holds_no_pii(engine):
    run_collector(engine, freshdesk(FakeFreshdesk()))
    dump = store_dump(engine)
    assert [p for p in PII + NAMES if p in dump] == []
    with engine.connect() as conn:
        text = conn.execute(
            select(schema.items.c.text).where(schema.items.c.source_id == "7301")
        ).scalar_one()
    assert "NIK [NIK]" in text


# ==============================================================================================================
# Shared plumbing
# ==============================================================================================================
def test_retry_after_as_an_http_date_and_404_as_source_not_found():
    sleeps: list[float] = []
    answers = [
        httpx.Response(429, headers={"Retry-After": "Tue, 10 Nov 2026 00:00:12 GMT"}),
        httpx.Response(404, json={"error": "RecordNotFound"}),
    ]
    api = HttpApi(
        ZD_BASE,
        label="Zendesk",
        base_url_setting="SUARA_ZENDESK_BASE_URL",
        transport=httpx.MockTransport(lambda r: answers.pop(0)),
        sleep=sleeps.append,
        now=lambda: NOW,
    )
    with api, pytest.raises(SourceNotFound, match="SUARA_ZENDESK_BASE_URL"):
        api.get_json("/api/v2/tickets/1/comments.json")
    assert sleeps == [12.0]


def test_rate_limit_waits_are_bounded_per_run_not_per_request():
    sleeps: list[float] = []
    answers = [httpx.Response(429, headers={"Retry-After": "200"}), httpx.Response(200, json={"ok": 1})] * 2
    api = HttpApi(
        ZD_BASE,
        label="Zendesk",
        transport=httpx.MockTransport(lambda r: answers.pop(0)),
        sleep=sleeps.append,
        max_rate_wait=300,
    )
    with api:
        assert api.get_json("/api/v2/a.json").data == {"ok": 1}
        with pytest.raises(RateLimited, match="200 s already waited in this run"):
            api.get_json("/api/v2/b.json")
    assert sleeps == [200.0]


def test_retry_after_zero_still_waits_and_is_bounded():
    sleeps: list[float] = []
    api = HttpApi(
        ZD_BASE,
        label="Zendesk",
        transport=httpx.MockTransport(lambda r: httpx.Response(429, headers={"Retry-After": "0"})),
        sleep=sleeps.append,
        max_rate_wait=5,
    )
    with api, pytest.raises(RateLimited):
        api.get_json("/api/v2/a.json")
    assert sleeps == [1.0] * 5


def test_next_page_params_and_html_text():
    assert next_params("https://kartucakap.zendesk.com/api/v2/tickets/1/comments.json?page=3") == {
        "page": "3"
    }
    assert next_params(None) is None
    assert html_to_text("<p>Min&nbsp;tolong</p><p>dicek</p>") == "Min tolong\ndicek"


@pytest.fixture
def zendesk_server() -> Iterator[tuple[str, FakeZendesk]]:
    """The same fake Zendesk, behind a real HTTP server on 127.0.0.1 (for the CLI, which builds its own client)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    # Past the last page, Zendesk answers the saved cursor with an empty page at the end of the stream.
    fake = FakeZendesk(export={**ZD_EXPORT, C3: {"tickets": [], "after_cursor": C3, "end_of_stream": True}})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            request = httpx.Request(
                "GET", f"http://{self.headers['host']}{self.path}", headers=dict(self.headers)
            )
            answer = fake(request)
            body = answer.content
            self.send_response(answer.status_code)
            self.send_header("content-type", answer.headers.get("content-type", "application/json"))
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/zendesk-proxy", fake
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_cli_collect_zendesk_against_a_local_server(zendesk_server, monkeypatch):
    from typer.testing import CliRunner

    from suara.cli import app
    from suara.config import get_settings

    base, fake = zendesk_server
    monkeypatch.setenv("SUARA_ZENDESK_BASE_URL", base)
    monkeypatch.setenv("SUARA_ZENDESK_EMAIL", "cs@kartucakap.go.id")
    monkeypatch.setenv("SUARA_ZENDESK_TOKEN", "zd-token-uji")
    get_settings.cache_clear()
    runner = CliRunner()
    first = runner.invoke(app, ["collect", "zendesk"])
    assert first.exit_code == 0, first.output
    assert f"zendesk: {len(ZD_ITEMS)} new, 0 updated, 0 unchanged" in first.output
    second = runner.invoke(app, ["collect", "zendesk"])
    assert second.exit_code == 0, second.output
    assert "zendesk: 0 new" in second.output
    assert fake.export_requests[-1].url.params.get("cursor")  # resumed from the saved cursor
