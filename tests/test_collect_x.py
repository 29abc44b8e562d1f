"""X collector: real tweepy against a local stub of the X API v2 recent-search endpoint (127.0.0.1, random port).

The stub serves payloads shaped like X's (``tests/fixtures/x``); each test scripts its answers and reads back the
requests tweepy made. Sleeping goes through an injected ``sleep`` that only records what it was asked.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from sqlalchemy import event, func, select

from collectors.base import CollectedItem, PagedCollector, Rejected
from collectors.errors import CollectorError, RateLimited, SourceAuthError, UsageCapExceeded
from collectors.x import EXPANSIONS, TWEET_FIELDS, USER_FIELDS, XCollector, x_collectors
from storage import db, schema
from suara.config import Settings
from suara.jobs import run_collector

FIXTURES = Path(__file__).parent / "fixtures" / "x"
NOW = 1_793_674_800.0  # 2026-11-03T03:00:00Z
QUERY = '("kartu cakap" OR @KartuCakap_ID) lang:in'
TOKEN = "AAAAAAAAAAAAAAAAAAAAAtest-bearer"
NEWEST = "1985203411122334460"  # page 1's newest post: the since_id after a full run
OLDEST_P2 = "1985197000000000007"
O1, A1 = "1985190000111222333", "1985100000000000007"
NEXT1, NEXT2 = (
    "b26v89c19zqg8o3fpe16f0ruhgzbpx0fdyfwzydpepy0t",
    "b26v89c19zqg8o3fpe16f0ruhgzbpx0fdyfwzydpepy0u",
)
NIK = "3273011290010003"
PHONES = ("0812-3456-7890", "081234567890", "+62 857 1234 5678", "85712345678")
PEOPLE = {  # handle -> (display name, user id): none of it may reach the store
    "budi_santoso88": ("Budi Santoso", "1498765432"),
    "sitirahma_92": ("Siti Rahma", "1620334455667788990"),
    "dewilestari_": ("Dewi Lestari", "1733221100998877665"),
    "agus_pratama": ("Agus Pratama", "1299887766"),
    "rina_kw": ("Rina Kusuma Wardani", "1587766554433221100"),
    "hendra_wj": ("Hendra Wijaya", "1355443322"),
}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


# -- the stub X API ---------------------------------------------------------------------------------------------
@dataclass
class Reply:
    status: int = 200
    body: Any = None  # a JSON-able object, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (the timeout test)


def ok(name: str, **headers: str) -> Reply:
    return Reply(200, fixture(name), headers)


def json_reply(status: int, name: str, **headers: str) -> Reply:
    return Reply(status, fixture(name), headers)


class StubX:
    """Answers GET /2/tweets/search/recent: first from ``queue`` (one-shot), else ``pages[next_token]``."""

    def __init__(self) -> None:
        self.queue: deque[Reply] = deque()
        self.pages: dict[str | None, Reply] = {}
        self.route: Callable[[dict[str, str]], Reply | None] | None = None
        self.requests: list[dict[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(url.query).items()}
                stub.requests.append({"path": url.path, "params": params, "headers": dict(self.headers)})
                reply = stub.answer(url.path, params)
                if reply.delay:
                    threading.Event().wait(reply.delay)
                body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json; charset=utf-8")
                    self.send_header("content-length", str(len(body)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    def answer(self, path: str, params: dict[str, str]) -> Reply:
        if not path.endswith("/2/tweets/search/recent"):
            return Reply(404, {"title": "Not Found Error", "detail": f"no route {path}"})
        if self.queue:
            return self.queue.popleft()
        if self.route and (reply := self.route(params)):
            return reply
        token = params.get("next_token")
        if token in self.pages:
            return self.pages[token]
        return Reply(500, {"title": "stub", "detail": f"nothing scripted for next_token={token!r}"})

    def three_pages(self) -> None:
        self.pages = {
            None: ok("search_page1.json"),
            NEXT1: ok("search_page2.json"),
            NEXT2: ok("search_page3.json"),
        }


@pytest.fixture
def stub() -> Iterator[StubX]:
    s = StubX()
    s.thread.start()
    yield s
    s.server.shutdown()
    s.server.server_close()
    s.thread.join(timeout=5)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make(stub: StubX, sleeps: list[float]) -> Callable[..., XCollector]:
    def build(**options: Any) -> XCollector:
        kw: dict[str, Any] = {
            "api_base": stub.base,
            "sleep": sleeps.append,
            "clock": lambda: NOW,
            "timeout": 5.0,
        }
        kw.update(options)
        return XCollector(kw.pop("token", TOKEN), kw.pop("query", QUERY), **kw)

    return build


def settings() -> Settings:
    return Settings(official_handles="@KartuCakap_ID")


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def stored_ids(engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(select(schema.items.c.source_id)).scalars())


def checkpoint(engine, collector: XCollector) -> tuple[str | None, dict[str, Any]]:
    with engine.connect() as conn:
        return db.get_checkpoint(conn, collector.checkpoint_name)


ALL_ITEMS = sorted(
    [
        O1,  # original of two retweets
        "1985203300000000001",  # quote
        A1,  # the quoted announcement
        "1985202000000000002",  # reply
        "1985200000000000004",
        "1985199000000000005",  # long post
        "1985198000000000006",  # reply in O1's conversation
        "1985195000000000010",  # quote of a protected post
        "1985194000000000012",
    ]
)


# -- paging and checkpoints -------------------------------------------------------------------------------------
def test_follows_the_protocol_and_names_its_checkpoint_per_query(make):
    c = make()
    assert isinstance(c, PagedCollector)
    assert c.source == "x" and c.checkpoint_name.startswith("x:search:") and len(c.checkpoint_name) == 21
    assert make(query="prakerja lang:in").checkpoint_name != c.checkpoint_name


def test_pages_carry_the_checkpoint_only_on_the_last_page(make, stub):
    stub.three_pages()
    pages = list(make().pages(None))
    assert [p.checkpoint for p in pages] == [None, None, NEWEST]
    first = stub.requests[0]
    assert first["path"] == "/2/tweets/search/recent"
    assert first["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert first["params"] == {
        "query": QUERY,
        "max_results": "100",
        "expansions": ",".join(EXPANSIONS),
        "tweet.fields": ",".join(TWEET_FIELDS),
        "user.fields": ",".join(USER_FIELDS),
    }
    assert [r["params"].get("next_token") for r in stub.requests] == [None, NEXT1, NEXT2]
    assert pages[-1].meta["posts_read"] == 11 and pages[-1].meta["query"] == QUERY


def test_two_runs_store_everything_once_and_the_second_sends_since_id(engine, make, stub):
    stub.three_pages()
    collector = make()
    first = run_collector(engine, collector, settings=settings())
    assert (first.new, first.quarantined, first.pages, first.checkpoint) == (9, 3, 3, NEWEST)
    assert stored_ids(engine) == ALL_ITEMS

    stub.pages = {None: ok("search_newer.json")}
    second = run_collector(engine, collector, settings=settings())  # the same collector runs again
    assert stub.requests[-1]["params"]["since_id"] == NEWEST
    assert (second.new, second.checkpoint) == (1, "1985210000000000011")
    assert count(engine, schema.items) == 10


def test_same_input_twice_adds_nothing(engine, make, stub):
    stub.three_pages()
    c = make()
    run_collector(engine, c, settings=settings())
    with engine.begin() as conn:
        db.set_checkpoint(conn, c.checkpoint_name, None)  # forget the cursor: X sends everything again
    again = run_collector(engine, make(), settings=settings())
    assert (again.new, again.updated, again.unchanged, again.quarantined) == (0, 0, 9, 3)
    assert count(engine, schema.items) == 9 and count(engine, schema.quarantine) == 3


def test_empty_answer_stores_nothing_and_keeps_the_cursor(engine, make, stub):
    stub.pages = {None: ok("search_empty.json")}
    c = make()
    with engine.begin() as conn:
        db.set_checkpoint(conn, c.checkpoint_name, NEWEST)
    result = run_collector(engine, c, settings=settings())
    assert (result.new, result.pages, result.checkpoint) == (0, 1, NEWEST)
    assert stub.requests[0]["params"]["since_id"] == NEWEST
    assert count(engine, schema.items) == 0


def test_next_token_loop_stops_with_a_note_and_a_resume_cursor(engine, make, stub):
    looping = fixture("search_page1.json")
    stub.pages = {None: Reply(200, looping), NEXT1: Reply(200, looping)}  # page 1 again, same next_token
    result = run_collector(engine, make(), settings=settings())
    assert len(stub.requests) == 2
    assert any("next_token" in n and "twice" in n for n in result.notes)
    # Not advanced past the unread gap: the next run reads below the oldest post read, then goes on from NEWEST.
    assert json.loads(result.checkpoint) == {
        "since_id": None,
        "until_id": "1985200000000000004",
        "newest_id": NEWEST,
    }


# -- budget -----------------------------------------------------------------------------------------------------
def test_run_budget_stops_early_and_the_next_run_reads_the_gap_first(engine, make, stub):
    stub.three_pages()
    first = run_collector(engine, make(max_posts_per_run=15), settings=settings())
    assert [r["params"]["max_results"] for r in stub.requests] == [
        "15",
        "10",
    ]  # 5 read, 10 left; 8 read, stop
    assert first.pages == 2 and any("per-run cap" in n for n in first.notes)
    cursor = json.loads(first.checkpoint)
    assert cursor == {"since_id": None, "until_id": OLDEST_P2, "newest_id": NEWEST}

    stub.requests.clear()
    stub.pages = {None: ok("search_page3.json")}
    second = run_collector(engine, make(), settings=settings())
    assert (
        stub.requests[0]["params"]["until_id"] == OLDEST_P2 and "since_id" not in stub.requests[0]["params"]
    )
    assert second.checkpoint == NEWEST  # the gap is read: on from the newest post of the first run
    assert stored_ids(engine) == ALL_ITEMS

    stub.requests.clear()
    stub.pages = {None: ok("search_empty.json")}
    run_collector(engine, make(), settings=settings())
    assert stub.requests[0]["params"] == {**stub.requests[0]["params"], "since_id": NEWEST}
    assert "until_id" not in stub.requests[0]["params"]


def test_month_budget_spent_raises_before_any_request(make, stub):
    with pytest.raises(UsageCapExceeded, match="SUARA_X_MONTH_BUDGET"):
        list(make(month_budget=1000, month_used=995).pages(None))
    assert stub.requests == []


def test_month_budget_stops_mid_run_and_is_shared_by_the_queries(stub, sleeps):
    stub.three_pages()
    first, second = x_collectors(
        TOKEN,
        [QUERY, "prakerja lang:in", QUERY],
        api_base=stub.base,
        month_budget=19,
        month_used=2,
        clock=lambda: NOW,
        sleep=sleeps.append,
    )
    assert first.budget is second.budget
    pages = list(first.pages(None))
    assert len(pages) == 2 and json.loads(pages[-1].checkpoint)["until_id"] == OLDEST_P2
    assert any("monthly X read budget" in n for n in pages[-1].meta["notes"])
    assert (pages[-1].meta["month"], pages[-1].meta["month_used"], first.budget.month_used) == (
        "2026-11",
        10,
        10,
    )
    assert [r["params"]["max_results"] for r in stub.requests] == ["17", "12"]
    with pytest.raises(UsageCapExceeded):
        list(second.pages(None))


# -- rate limits and usage caps ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("headers", "slept"),
    [({"x-rate-limit-reset": str(int(NOW) + 30), "x-rate-limit-remaining": "0"}, 31.0), ({}, 61.0)],
)
def test_429_sleeps_until_the_reset_then_goes_on(make, stub, sleeps, headers, slept):
    stub.queue.append(json_reply(429, "rate_limited.json", **headers))
    stub.pages = {None: ok("search_newer.json")}
    pages = list(make().pages(None))
    assert sleeps == [slept]  # until the reset plus a second; a minute when X gives no reset time
    assert len(stub.requests) == 2 and pages[-1].checkpoint == "1985210000000000011"


def test_remaining_zero_waits_for_the_reset_before_the_next_page(make, stub, sleeps):
    stub.three_pages()
    headers = {"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(NOW) + 120)}
    stub.pages[None] = ok("search_page1.json", **headers)
    pages = list(make().pages(None))
    assert sleeps == [121.0] and len(pages) == 3


def test_429_forever_raises_rate_limited_after_the_bounded_wait(make, stub, sleeps):
    reset = {"x-rate-limit-reset": str(int(NOW) + 400)}
    stub.route = lambda params: json_reply(429, "rate_limited.json", **reset)
    with pytest.raises(RateLimited, match=r"900 s this run may wait"):
        list(make(max_wait_seconds=900).pages(None))
    assert sleeps == [401.0, 401.0] and len(stub.requests) == 3


def test_rate_limit_after_some_pages_keeps_what_they_covered(engine, make, stub, sleeps):
    stub.three_pages()
    stub.pages[NEXT2] = json_reply(429, "rate_limited.json", **{"x-rate-limit-reset": str(int(NOW) + 3600)})
    with pytest.raises(RateLimited):
        run_collector(engine, make(), settings=settings())
    assert sleeps == []
    c = make()
    cursor, meta = checkpoint(engine, c)
    assert json.loads(cursor)["until_id"] == OLDEST_P2 and "rate limit" in meta["notes"][-1]
    assert count(engine, schema.items) == 7


def test_usage_cap_raises_at_once_without_sleeping(make, stub, sleeps):
    stub.queue.append(json_reply(429, "usage_capped.json", **{"x-rate-limit-reset": str(int(NOW) + 30)}))
    with pytest.raises(UsageCapExceeded, match="Monthly product cap") as err:
        list(make().pages(None))
    assert "Retrying now will not help" in str(err.value)
    assert sleeps == [] and len(stub.requests) == 1


# -- auth, server errors, timeouts, malformed answers -----------------------------------------------------------
@pytest.mark.parametrize(("status", "name"), [(401, "unauthorized.json"), (403, "forbidden.json")])
def test_refused_token_names_the_setting(make, stub, status, name):
    stub.queue.append(json_reply(status, name))
    with pytest.raises(SourceAuthError, match="SUARA_X_BEARER_TOKEN") as err:
        list(make().pages(None))
    assert f"({status}:" in str(err.value) and TOKEN not in str(err.value)


def test_empty_token_is_refused_before_any_request():
    with pytest.raises(SourceAuthError, match="SUARA_X_BEARER_TOKEN"):
        XCollector("", QUERY)


def test_503_twice_then_200_retries_with_backoff(make, stub, sleeps):
    stub.queue.extend([json_reply(503, "service_unavailable.json")] * 2)
    stub.pages = {None: ok("search_newer.json")}
    pages = list(make().pages(None))
    assert sleeps == [2.0, 4.0] and len(stub.requests) == 3 and len(pages[0].records) == 1


def test_503_forever_gives_up_after_bounded_retries(make, stub, sleeps):
    stub.route = lambda params: json_reply(503, "service_unavailable.json")
    with pytest.raises(CollectorError, match=r"after 4 attempts \(last: 503"):
        list(make().pages(None))
    assert sleeps == [2.0, 4.0, 8.0]


def test_timeouts_and_refused_connections_are_retried_then_reported(make, stub, sleeps):
    stub.route = lambda params: Reply(200, fixture("search_newer.json"), delay=0.5)
    with pytest.raises(CollectorError, match="Timeout"):
        list(make(timeout=0.1, max_retries=1).pages(None))
    assert sleeps == [2.0]

    sleeps.clear()
    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = closed.server_address[1]
    closed.server_close()  # nothing listens there any more
    with pytest.raises(CollectorError, match="ConnectionError"):
        list(make(api_base=f"http://127.0.0.1:{port}", max_retries=2).pages(None))
    assert sleeps == [2.0, 4.0]


def test_malformed_json_is_retried_once_then_read(make, stub, sleeps):
    stub.queue.append(Reply(200, b'{"data": [{"id": "1985210000000000011", "text": "Min'))  # cut off
    stub.pages = {None: ok("search_newer.json")}
    pages = list(make().pages(None))
    assert sleeps == [2.0] and len(pages[0].records) == 1


def test_malformed_json_forever_is_a_collector_error_and_stores_nothing(engine, make, stub):
    stub.route = lambda params: Reply(200, b'{"data": [{"text": "NIK ' + NIK.encode() + b'"')
    c = make()
    with pytest.raises(CollectorError, match="not X API JSON") as err:
        run_collector(engine, c, settings=settings())
    assert NIK not in str(err.value)  # the message is stored with the failed run: no body quoted
    assert count(engine, schema.items) == 0 and checkpoint(engine, c)[0] is None


def test_bad_query_is_reported_without_retrying(make, stub, sleeps):
    stub.queue.append(json_reply(400, "invalid_query.json"))
    with pytest.raises(CollectorError, match="Missing closing parenthesis"):
        list(make().pages(None))
    assert sleeps == [] and len(stub.requests) == 1


def test_since_id_older_than_the_window_rereads_the_window_with_a_note(engine, make, stub):
    c = make()
    with engine.begin() as conn:
        db.set_checkpoint(conn, c.checkpoint_name, "1975000000000000000")
    stub.queue.append(json_reply(400, "invalid_since_id.json"))
    stub.pages = {None: ok("search_newer.json")}
    result = run_collector(engine, c, settings=settings())
    assert stub.requests[0]["params"]["since_id"] == "1975000000000000000"
    assert "since_id" not in stub.requests[1]["params"]
    assert result.checkpoint == "1985210000000000011" and any("7-day" in n for n in result.notes)


# -- mapping ----------------------------------------------------------------------------------------------------
def records_of(make, stub) -> list:
    stub.three_pages()
    return [r for p in make().pages(None) for r in p.records]


def test_retweets_store_the_original_once_and_count_reshares(make, stub):
    records = records_of(make, stub)
    items = {r.source_id: r for r in records if isinstance(r, CollectedItem)}
    assert sorted(items) == ALL_ITEMS
    assert [r.source_id for r in records if isinstance(r, CollectedItem)].count(O1) == 1
    original = items[O1]
    assert original.text.startswith("Udah 2 minggu voucher") and not original.text.startswith("RT @")
    assert original.meta["retweets_seen"] == 2 and original.author == "@sitirahma_92"
    assert "1985203411122334460" not in items and "1985196000000000008" not in items  # retweets themselves


def test_retweet_of_a_missing_original_is_skipped_with_a_note(make, stub):
    stub.three_pages()
    pages = list(make().pages(None))
    assert any("1 retweet(s) skipped" in n and "1985150000000000009" in n for n in pages[-1].meta["notes"])


def test_quote_reply_and_post_mapping(make, stub):
    items = {r.source_id: r for r in records_of(make, stub) if isinstance(r, CollectedItem)}
    quote = items["1985203300000000001"]
    assert (quote.kind, quote.meta["quoted_id"], quote.parent_id) == ("post", A1, None)
    assert items[A1].author == "@KartuCakap_ID" and items[A1].meta["verified"] is True
    assert items["1985195000000000010"].meta["quoted_id"] == "1985140000000000011"  # original not visible

    reply = items["1985202000000000002"]
    assert (reply.kind, reply.parent_id, reply.thread_id) == ("reply", A1, A1)
    assert items["1985198000000000006"].thread_id == O1

    post = items["1985200000000000004"]
    assert post.author == "@rina_kw" and post.author_name == "Rina Kusuma Wardani"
    assert post.language == "id"  # X says "in"
    assert post.url == "https://x.com/rina_kw/status/1985200000000000004"
    assert post.created_at.isoformat() == "2026-11-03T02:44:00+00:00"
    assert post.meta["metrics"]["like_count"] == 18 and post.meta["tags"] == ["KartuCakap", "SkillUp"]
    assert post.meta["author_metrics"]["followers_count"] == 2904
    assert post.raw["tweet"]["id"] == post.source_id and post.raw["author"]["username"] == "rina_kw"


def test_long_post_uses_note_tweet_text(make, stub):
    items = {r.source_id: r for r in records_of(make, stub) if isinstance(r, CollectedItem)}
    long = items["1985199000000000005"]
    assert (
        len(long.text) > 400 and long.text.endswith("bukan cuma saya 🙏") and long.meta["long_post"] is True
    )


def test_post_without_text_and_partial_errors_become_rejected(make, stub):
    rejected = [r for r in records_of(make, stub) if isinstance(r, Rejected)]
    assert [r.reason for r in rejected] == [
        "X post 1985197000000000007 has no text",
        "X API error: Not Found Error: Could not find tweet with referenced_tweets.id: [1985150000000000009].",
        "X API error: Authorization Error: Sorry, you are not authorized to see the Tweet with "
        "referenced_tweets.id: [1985140000000000011].",
    ]
    assert [r.source_ref for r in rejected] == [
        "1985197000000000007",
        "1985150000000000009",
        "1985140000000000011",
    ]
    assert json.loads(rejected[1].raw)["type"].endswith("resource-not-found")


def test_partial_errors_store_what_came_and_quarantine_the_rest(engine, make, stub):
    page = fixture("search_page3.json")
    page["errors"].append(
        {
            "value": "budi_santoso88",
            "detail": "Could not find user with usernames: [budi_santoso88].",
            "title": "Not Found Error",
            "resource_type": "user",
            "parameter": "usernames",
            "resource_id": "budi_santoso88",
            "type": "https://api.twitter.com/2/problems/resource-not-found",
        }
    )
    stub.pages = {None: Reply(200, page)}
    result = run_collector(engine, make(), settings=settings())
    assert (result.new, result.quarantined) == (2, 3)
    with engine.connect() as conn:
        rows = conn.execute(select(schema.quarantine.c.reason, schema.quarantine.c.raw)).all()
    assert sorted(r.reason.split(":")[1].split("(")[0].strip() for r in rows) == [
        "Authorization Error",
        "Not Found Error",
        "Not Found Error",
    ]
    # A user error's detail names the user: only its kind goes in the (unmasked) reason.
    assert "X API error: Not Found Error (user usernames)" in {r.reason for r in rows}
    assert "budi_santoso88" not in json.dumps([tuple(r) for r in rows])


# -- crashes ----------------------------------------------------------------------------------------------------
def test_crash_in_the_store_step_after_page_2_then_rerun_stores_every_item_once(engine, make, stub):
    stub.three_pages()
    inserts = {"n": 0}

    def boom(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO ITEMS"):
            inserts["n"] += 1
            if inserts["n"] == 3:  # page 3's items
                raise RuntimeError("disk full")

    event.listen(engine, "before_cursor_execute", boom)
    try:
        with pytest.raises(Exception, match="disk full"):
            run_collector(engine, make(), settings=settings())
    finally:
        event.remove(engine, "before_cursor_execute", boom)
    c = make()
    assert count(engine, schema.items) == 7 and checkpoint(engine, c)[0] is None  # pages 1-2 kept, no cursor

    stub.requests.clear()
    result = run_collector(engine, c, settings=settings())
    assert "since_id" not in stub.requests[0]["params"]  # re-read from the start of the window
    assert (result.new, result.unchanged, result.checkpoint) == (2, 7, NEWEST)
    assert stored_ids(engine) == ALL_ITEMS and count(engine, schema.quarantine) == 3


def test_source_failing_after_page_2_then_rerun_stores_every_item_once(engine, make, stub, sleeps):
    stub.three_pages()
    stub.pages[NEXT2] = json_reply(503, "service_unavailable.json")
    with pytest.raises(CollectorError, match="503"):
        run_collector(engine, make(), settings=settings())
    assert count(engine, schema.items) == 7

    stub.three_pages()
    stub.requests.clear()
    stub.pages = {None: ok("search_page3.json")}  # what X holds below the oldest post read
    result = run_collector(engine, make(), settings=settings())
    assert stub.requests[0]["params"]["until_id"] == OLDEST_P2
    assert (result.new, result.checkpoint) == (2, NEWEST)
    assert stored_ids(engine) == ALL_ITEMS
    with engine.connect() as conn:
        runs = conn.execute(select(schema.runs.c.status).order_by(schema.runs.c.id)).scalars().all()
    assert runs == ["failed", "completed"]


# -- privacy ----------------------------------------------------------------------------------------------------
def test_no_personal_data_reaches_the_store(engine, make, stub):
    stub.three_pages()
    run_collector(engine, make(), settings=settings())
    stub.pages = {None: ok("search_newer.json")}
    run_collector(engine, make(), settings=settings())
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(schema.items))]
        rows += [dict(r._mapping) for r in conn.execute(select(schema.quarantine))]
    dump = json.dumps(rows, ensure_ascii=False, default=str)
    for secret in (NIK, *PHONES):
        assert secret not in dump
    for handle, (name, user_id) in PEOPLE.items():
        assert handle.lower() not in dump.lower() and name not in dump and user_id not in dump
    assert "@KartuCakap_ID" in dump  # the programme's own account stays readable
    assert "[NIK]" in dump and "[TELEPON]" in dump


# -- the host rewrite -------------------------------------------------------------------------------------------
@responses.activate
def test_default_api_base_talks_to_api_twitter_com_with_a_timeout():
    responses.get("https://api.twitter.com/2/tweets/search/recent", json=fixture("search_newer.json"))
    c = XCollector(TOKEN, QUERY, sleep=lambda s: None, timeout=7.0)
    pages = list(c.pages(None))
    assert len(pages[0].records) == 1
    assert responses.calls[0].request.url.startswith("https://api.twitter.com/2/tweets/search/recent?")
    assert responses.calls[0].request.req_kwargs["timeout"] == 7.0


def test_api_base_with_a_path_prefix_and_an_own_session(stub):
    session = requests.Session()
    stub.pages = {None: ok("search_newer.json")}
    c = XCollector(TOKEN, QUERY, api_base=stub.base + "/proxy/x/", session=session, sleep=lambda s: None)
    assert c.client.session is session
    assert len(next(iter(c.pages(None))).records) == 1
    assert stub.requests[0]["path"] == "/proxy/x/2/tweets/search/recent"


def test_cli_collect_x_against_the_stub_prints_a_summary_and_resumes(stub, monkeypatch):
    """`suara collect x --query …` as a user runs it: settings from the environment, real tweepy, stub server."""
    from typer.testing import CliRunner

    from suara.cli import app
    from suara.config import get_settings

    stub.three_pages()
    monkeypatch.setenv("SUARA_X_BEARER_TOKEN", TOKEN)
    monkeypatch.setenv("SUARA_X_API_BASE", stub.base)
    get_settings.cache_clear()
    runner = CliRunner()
    first = runner.invoke(app, ["collect", "x", "--query", QUERY])
    assert first.exit_code == 0, first.output
    assert re.search(
        r"^x: \d+ new, 0 updated, 0 unchanged, \d+ quarantined, \d+ skipped, 3 pages$", first.output, re.M
    )
    assert "x: 0 new" not in first.output
    stub.pages = {None: ok("search_empty.json")}
    second = runner.invoke(app, ["collect", "x", "--query", QUERY])
    assert second.exit_code == 0 and "x: 0 new" in second.output
    assert stub.requests[-1]["params"].get("since_id")  # the second run asks only for what is newer


def test_cli_collect_x_without_a_token_names_the_setting(monkeypatch):
    from typer.testing import CliRunner

    from suara.cli import app
    from suara.config import get_settings

    monkeypatch.delenv("SUARA_X_BEARER_TOKEN", raising=False)
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["collect", "x", "--query", QUERY])
    assert result.exit_code == 2 and "SUARA_X_BEARER_TOKEN is not set" in result.output
