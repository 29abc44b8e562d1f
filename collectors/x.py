"""X (Twitter) recent search through tweepy (API v2): one resumable, budgeted collector per query.

    >>> collector = XCollector(token, '("kartu cakap" OR @KartuCakap_ID) lang:in')
    >>> run_collector(engine, collector)    # doctest: +SKIP
    x: 41 new, 0 updated, 0 unchanged, 1 quarantined, 1 pages

What becomes what:

- a post → kind ``post``; a reply → kind ``reply`` with ``parent_id`` (the post it answers) and ``thread_id``
  (its conversation id), e.g. "@KartuCakap_ID min NIK saya ... ditolak terus" under the programme's announcement;
- a retweet is never new feedback: its ORIGINAL is stored once (from ``includes.tweets``) and the retweets seen in
  the run are counted in ``meta["retweets_seen"]``; a retweet whose original X did not include is skipped with a
  note (its original is usually deleted or protected: X then also reports it in ``errors``);
- a quote is its own item with ``meta["quoted_id"]``; the quoted post is stored once when X included it;
- a long post's full text comes from ``note_tweet``; a post without text becomes a ``Rejected`` record;
- each partial error (``errors`` beside ``data``) becomes a ``Rejected`` record
  ("X API error: Not Found Error: Could not find tweet ..."), so it shows in quarantine instead of vanishing.

Checkpoint (``x:search:<sha1(query)[:12]>``): X returns the newest posts first, so the cursor is the ``since_id``
of the last complete run, saved with the LAST page only; a crash mid-run re-reads (upserts make that harmless). A
run that stops early (read budget, rate-limit wait budget, an error after some pages, a next_token loop) has read
the newest posts but not those between the old ``since_id`` and the oldest post it read: it saves a resume
cursor ``{"since_id": S, "until_id": <oldest read>, "newest_id": N}`` and the next run reads that gap first, then
continues from ``N``. It never advances past an unread gap.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
import tweepy
from requests.adapters import HTTPAdapter
from requests.utils import resolve_proxies

from collectors.base import CollectedItem, Page, Record, Rejected
from collectors.errors import (
    CollectorError,
    RateLimited,
    SourceAuthError,
    SourceNotFound,
    UsageCapExceeded,
)

log = logging.getLogger(__name__)

SOURCE = "x"
TWEEPY_HOST = "https://api.twitter.com"  # hardcoded in tweepy.Client.request
SEARCH_PATH = "/2/tweets/search/recent"
TOKEN_SETTING = "SUARA_X_BEARER_TOKEN"
# referenced_tweets.id.author_id: without it includes.users lacks the authors of retweeted/quoted originals.
EXPANSIONS = ["author_id", "referenced_tweets.id", "referenced_tweets.id.author_id"]
TWEET_FIELDS = [
    "author_id",
    "created_at",
    "lang",
    "conversation_id",
    "public_metrics",
    "referenced_tweets",
    "entities",
    "edit_history_tweet_ids",
    "note_tweet",
]
USER_FIELDS = ["username", "name", "verified", "public_metrics"]
MIN_PAGE = 10  # recent search accepts max_results 10..100
MAX_PAGE = 100
USAGE_CAPPED = "https://api.twitter.com/2/problems/usage-capped"
DEFAULT_RESET_WAIT = 60.0  # a 429 without x-rate-limit-reset: look again in a minute
MAX_BACKOFF = 60.0
_RETRYABLE = (
    tweepy.TwitterServerError,
    requests.Timeout,
    requests.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
)


def _month(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m")


@dataclass
class ReadBudget:
    """Posts this X account may still read this month, by our own count (X bills per post read).

    Shared by the collectors of one scheduled run (see :func:`x_collectors`) so that all queries together stay
    within it. ``month_used`` is what earlier runs read this month; the final page's meta reports the new total.
    """

    month_budget: int | None = None
    month_used: int = 0

    def left(self) -> float:
        return math.inf if self.month_budget is None else self.month_budget - self.month_used

    def spend(self, posts: int) -> None:
        self.month_used += posts


@dataclass(frozen=True)
class _Cursor:
    """``"1985..."`` (a since_id) or the JSON resume cursor of a run that stopped early."""

    since_id: str | None = None
    until_id: str | None = None
    newest_id: str | None = None

    @classmethod
    def parse(cls, cursor: str | None) -> _Cursor:
        if not cursor:
            return cls()
        if cursor.isdigit():
            return cls(since_id=cursor)
        try:
            d = json.loads(cursor)
            parsed = cls(d.get("since_id"), d.get("until_id"), d.get("newest_id"))
        except (ValueError, AttributeError, TypeError):
            parsed = None
        ok = parsed is not None and all(
            v is None or (isinstance(v, str) and v.isdigit()) for v in vars(parsed).values()
        )
        if not ok:
            raise CollectorError(
                f"the saved X checkpoint {cursor[:80]!r} is neither a post id nor a resume cursor; "
                "clear that checkpoint to read the last 7 days again"
            )
        return parsed

    def dump(self) -> str | None:
        if self.until_id is None:
            return self.since_id
        return json.dumps(
            {"since_id": self.since_id, "until_id": self.until_id, "newest_id": self.newest_id},
            separators=(",", ":"),
        )


def _max_id(*ids: str | int | None) -> str | None:
    known = [int(i) for i in ids if i is not None]
    return str(max(known)) if known else None


class _StaleCursor(CollectorError):
    """X refused since_id/until_id: older than the 7-day recent-search window."""


class _RebaseAdapter(HTTPAdapter):
    """Sends tweepy's ``https://api.twitter.com`` requests to ``api_base`` and gives each a timeout.

    tweepy hardcodes the host and sets no timeout; this adapter, mounted on ``client.session``, fixes both so the
    collector works through a proxy or against a recorded-response server (``http://127.0.0.1:8099``).
    """

    def __init__(self, api_base: str, timeout: float) -> None:
        super().__init__(max_retries=0)  # retries are ours: bounded, with backoff through the injected sleep
        self.api_base = api_base.rstrip("/")
        self.timeout = timeout

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        url = request.url or ""
        if self.api_base != TWEEPY_HOST and url.startswith(TWEEPY_HOST + "/"):
            request.url = self.api_base + url[len(TWEEPY_HOST) :]
            # The session chose proxies for api.twitter.com; choose again for the real destination.
            kwargs["proxies"] = resolve_proxies(request, {}, trust_env=True)
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


def _body(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _problem(response: Any) -> str:
    """ "Title: detail" from an X problem body, or the HTTP status line."""
    body = _body(response)
    parts: list[str] = []
    if isinstance(body, dict):
        parts = [str(body[k]) for k in ("title", "detail") if body.get(k)]
        for err in body.get("errors") or []:
            if isinstance(err, dict) and err.get("message"):
                parts.append(str(err["message"]))
    return ": ".join(parts) or f"{response.status_code} {response.reason}"


def _is_usage_cap(response: Any) -> bool:
    body = _body(response)
    return isinstance(body, dict) and (
        body.get("type") == USAGE_CAPPED or body.get("title") == "UsageCapExceeded"
    )


def _names_cursor_param(response: Any) -> bool:
    body = _body(response)
    if not isinstance(body, dict):
        return False
    for err in body.get("errors") or []:
        params = err.get("parameters") if isinstance(err, dict) else None
        if isinstance(params, dict) and {"since_id", "until_id"} & set(params):
            return True
    return False


def _ref(tweet: Mapping[str, Any], kind: str) -> str | None:
    for ref in tweet.get("referenced_tweets") or ():
        if isinstance(ref, dict) and ref.get("type") == kind and ref.get("id"):
            return str(ref["id"])
    return None


def _by_id(objs: Any) -> dict[str, dict[str, Any]]:
    return {str(o["id"]): o for o in objs or () if isinstance(o, dict) and o.get("id")}


def _language(lang: Any) -> str | None:
    # X labels Indonesian "in" (the old ISO 639 code); the rest of Suara uses "id". "und": undetermined.
    if not isinstance(lang, str) or lang in ("", "und"):
        return None
    return "id" if lang == "in" else lang


def _parse_time(value: Any) -> datetime:
    if not isinstance(value, str) or not value:
        raise ValueError("missing created_at")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class _Run:
    """What one ``pages()`` call has seen so far."""

    retweets: Counter[str] = field(default_factory=Counter)
    emitted: dict[str, int] = field(default_factory=dict)  # id -> retweets_seen it was emitted with
    read: int = 0
    newest: str | None = None
    oldest: str | None = None
    waited: float = 0.0
    reset_at: float | None = None  # x-rate-limit-remaining hit 0: wait for this reset before the next call


class XCollector:
    """Posts matching one X search query, newest first, from the saved ``since_id`` (see the module docstring).

    >>> XCollector(token, '"kartu cakap" (voucher OR insentif) lang:in -is:retweet', max_posts_per_run=300)

    ``max_posts_per_run`` and ``month_budget`` (with ``month_used``) bound what a run may read: X bills per post
    read. ``max_wait_seconds`` bounds the total sleeping on rate limits in one run (tweepy's own
    ``wait_on_rate_limit`` would wait forever). ``sleep`` and ``clock`` are injectable for tests.
    """

    source = SOURCE

    def __init__(
        self,
        bearer_token: str,
        query: str,
        *,
        api_base: str = TWEEPY_HOST,
        max_posts_per_run: int = 500,
        max_results: int = MAX_PAGE,
        max_pages_per_run: int = 100,
        max_wait_seconds: float = 900.0,
        max_retries: int = 3,
        backoff_seconds: float = 2.0,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        session: requests.Session | None = None,
        month_budget: int | None = None,
        month_used: int = 0,
        budget: ReadBudget | None = None,
    ) -> None:
        if not bearer_token or not bearer_token.strip():
            raise SourceAuthError(
                f"{TOKEN_SETTING} is not set; put the X app's bearer token in the environment"
            )
        if not query or not query.strip():
            raise ValueError("an X search query is empty; e.g. '(\"kartu cakap\" OR @KartuCakap_ID) lang:in'")
        if not MIN_PAGE <= max_results <= MAX_PAGE:
            raise ValueError(f"max_results must be between {MIN_PAGE} and {MAX_PAGE} (X's page sizes)")
        if max_posts_per_run < MIN_PAGE:
            raise ValueError(f"max_posts_per_run must be at least {MIN_PAGE}: X's smallest page")
        self.query = query
        self.api_base = api_base.rstrip("/")
        self.max_posts_per_run = max_posts_per_run
        self.max_results = max_results
        self.max_pages_per_run = max_pages_per_run
        self.max_wait_seconds = max_wait_seconds
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self.sleep = sleep
        self.clock = clock
        self.budget = budget or ReadBudget(month_budget, month_used)
        # return_type=requests.Response: we need the rate-limit headers of successful answers and to read the
        # JSON ourselves (a malformed body is then one clear error, not a JSONDecodeError from inside tweepy).
        self.client = tweepy.Client(
            bearer_token=bearer_token, return_type=requests.Response, wait_on_rate_limit=False
        )
        if session is not None:
            self.client.session = session
        self.client.session.mount(TWEEPY_HOST + "/", _RebaseAdapter(self.api_base, timeout))

    @property
    def checkpoint_name(self) -> str:
        return "x:search:" + hashlib.sha1(self.query.encode("utf-8")).hexdigest()[:12]

    # -- paging ----------------------------------------------------------------------------------------------
    def pages(self, cursor: str | None) -> Iterator[Page]:
        """Pages of records for posts newer than ``cursor``; only the page that ends a run carries a checkpoint.

        We drive ``next_token`` ourselves instead of ``tweepy.Paginator``: a retried request must repeat the same
        token (Paginator only does that by accident of its internals), a token that comes back twice must stop
        the run, and the read budget decides before each request whether there is one.
        """
        state = _Cursor.parse(cursor)
        run = _Run()
        notes: list[str] = []  # not yet handed out with a page (each page carries its own notes)
        if self.budget.left() < MIN_PAGE:
            raise UsageCapExceeded(
                f"the monthly X read budget is spent ({self.budget.month_used} of {self.budget.month_budget} "
                f"posts read in {_month(self.clock())}); nothing was read. Raise SUARA_X_MONTH_BUDGET or wait "
                "for next month"
            )
        token: str | None = None
        tokens_seen: set[str] = set()
        pages_done = 0
        try:
            while True:
                params = {
                    "since_id": state.since_id,
                    "until_id": state.until_id,
                    "next_token": token,
                    "max_results": int(min(self.max_results, self._left(run))),
                }
                try:
                    body, headers = self._fetch(params, run)
                except _StaleCursor as exc:
                    if pages_done == 0 and (state.since_id or state.until_id):
                        notes.append(
                            f"X refused the saved cursor ({exc}): it is older than the 7-day recent-search "
                            "window; read the whole window again, posts from the days in between may be missing"
                        )
                        state = _Cursor()
                        continue
                    raise CollectorError(f"X refused the search {self.query!r}: {exc}") from None
                except CollectorError as exc:
                    if pages_done:
                        # Pages 1..k are stored (run_collector stores a page before asking for the next): keep
                        # what they cover so the next run does not pay to read them again.
                        notes.append(f"stopped after {pages_done} page(s): {exc}")
                        yield Page([], checkpoint=self._resume(state, run), meta=self._meta(run, notes))
                    raise
                pages_done += 1
                records, page_notes = self._records(body, run)
                notes.extend(page_notes)
                self._note_rate_limit(headers, run)
                next_token = body["meta"].get("next_token")
                if not next_token:
                    final = _max_id(state.newest_id, run.newest, state.since_id)
                    yield Page(records, checkpoint=final, meta=self._meta(run, notes))
                    return
                stop = self._stop_reason(str(next_token), token, tokens_seen, run, pages_done)
                if stop:
                    notes.append(stop)
                    yield Page(records, checkpoint=self._resume(state, run), meta=self._meta(run, notes))
                    return
                yield Page(records, meta={"notes": notes} if notes else {})
                notes = []
                tokens_seen.add(str(next_token))
                token = str(next_token)
        finally:
            self.client.session.close()  # drop pooled connections between scheduled runs

    def _left(self, run: _Run) -> float:
        return min(self.max_posts_per_run - run.read, self.budget.left())

    def _stop_reason(
        self, next_token: str, token: str | None, seen: set[str], run: _Run, pages_done: int
    ) -> str | None:
        if next_token == token or next_token in seen:
            return (
                f"X sent next_token {next_token[:40]!r} twice; stopped paging rather than loop, the older "
                "posts are read next run"
            )
        if self.budget.left() < MIN_PAGE:
            return (
                f"monthly X read budget reached ({self.budget.month_used} of {self.budget.month_budget} posts); "
                "older posts are read next month, or after raising SUARA_X_MONTH_BUDGET"
            )
        if self.max_posts_per_run - run.read < MIN_PAGE:
            return (
                f"read {run.read} posts, the per-run cap (SUARA_X_MAX_POSTS_PER_RUN={self.max_posts_per_run}); "
                "older posts are read next run"
            )
        if pages_done >= self.max_pages_per_run:
            return f"read {pages_done} pages, the per-run page cap; older posts are read next run"
        return None

    def _resume(self, state: _Cursor, run: _Run) -> str | None:
        """The cursor after an early stop: the gap below the oldest post read is read next run, then on from N."""
        if run.oldest is None:
            return state.dump()
        newest = _max_id(state.newest_id, run.newest)
        return _Cursor(state.since_id, run.oldest, newest).dump()

    def _meta(self, run: _Run, notes: list[str]) -> dict[str, Any]:
        """The meta saved with a checkpoint: this page's notes and what the run read (for the month budget)."""
        return {
            "notes": list(notes),
            "query": self.query,
            "posts_read": run.read,
            "month": _month(self.clock()),
            "month_used": self.budget.month_used,
        }

    # -- one request, errors mapped here and only here -------------------------------------------------------
    def _fetch(self, params: dict[str, Any], run: _Run) -> tuple[dict[str, Any], Mapping[str, str]]:
        if run.reset_at is not None:
            self._wait(run.reset_at - self.clock(), run, "x-rate-limit-remaining is 0")
            run.reset_at = None
        failures = 0
        while True:
            try:
                response = self.client.search_recent_tweets(
                    self.query,
                    expansions=EXPANSIONS,
                    tweet_fields=TWEET_FIELDS,
                    user_fields=USER_FIELDS,
                    **params,
                )
                body = _body(response)
                if _well_formed(body):
                    return body, response.headers
                # Never quote the body: it may hold posts (personal data) and this message is stored with the run.
                kind = response.headers.get("content-type", "no content-type")
                problem = f"a {response.status_code} answer that is not X API JSON ({kind}, {len(response.content)} bytes)"
            except tweepy.TooManyRequests as exc:
                if _is_usage_cap(exc.response):
                    raise UsageCapExceeded(
                        f"X usage cap exceeded ({_problem(exc.response)}): the plan's monthly read cap is spent "
                        "and resets on X's schedule, not in minutes; raise the cap in the X developer portal or "
                        "wait for the reset. Retrying now will not help."
                    ) from None
                reset = exc.response.headers.get("x-rate-limit-reset")
                wait = float(reset) - self.clock() if reset and reset.isdigit() else DEFAULT_RESET_WAIT
                self._wait(wait, run, "429 Too Many Requests")
                continue
            except (tweepy.Unauthorized, tweepy.Forbidden) as exc:
                status = exc.response.status_code
                hint = (
                    "set a valid app bearer token"
                    if status == 401
                    else "use the bearer token of an app attached to a Project with recent-search access"
                )
                raise SourceAuthError(
                    f"{TOKEN_SETTING} is rejected ({status}: {_problem(exc.response)}); {hint}"
                ) from None
            except tweepy.BadRequest as exc:
                if _names_cursor_param(exc.response):
                    raise _StaleCursor(_problem(exc.response)) from None
                raise CollectorError(
                    f"X rejected the search {self.query!r} (400: {_problem(exc.response)}); fix the query"
                ) from None
            except tweepy.NotFound as exc:
                raise SourceNotFound(
                    f"{self.api_base}{SEARCH_PATH} answered 404 ({_problem(exc.response)}); "
                    "check SUARA_X_API_BASE"
                ) from None
            except _RETRYABLE as exc:
                problem = (
                    f"{exc.response.status_code} {_problem(exc.response)}"
                    if isinstance(exc, tweepy.HTTPException)
                    else f"{type(exc).__name__}: {exc}"
                )
            except tweepy.HTTPException as exc:
                raise CollectorError(
                    f"X answered {exc.response.status_code} to the search {self.query!r}: {_problem(exc.response)}"
                ) from None
            except requests.RequestException as exc:
                raise CollectorError(
                    f"cannot reach X at {self.api_base}: {type(exc).__name__}: {exc}"
                ) from None
            failures += 1
            if failures > self.max_retries:
                raise CollectorError(
                    f"X did not answer the search {self.query!r} after {failures} attempts (last: {problem}); "
                    f"check SUARA_X_API_BASE ({self.api_base}) or try again later"
                )
            delay = min(self.backoff_seconds * 2 ** (failures - 1), MAX_BACKOFF)
            log.warning("X search failed (%s); retrying in %.0f s", problem, delay)
            self.sleep(delay)

    def _wait(self, seconds: float, run: _Run, why: str) -> None:
        """Sleep until a rate-limit window resets, or raise RateLimited past the run's total wait budget."""
        seconds = max(seconds, 0.0) + 1.0  # a second of margin past the reset
        if run.waited + seconds > self.max_wait_seconds:
            resume = datetime.fromtimestamp(self.clock() + seconds, UTC).strftime("%H:%M UTC")
            raise RateLimited(
                f"X rate limit ({why}): the window resets in {seconds:.0f} s, beyond the "
                f"{self.max_wait_seconds:.0f} s this run may wait ({run.waited:.0f} s waited already); "
                f"run again after {resume} or raise SUARA_X_MAX_WAIT_SECONDS"
            )
        log.warning("X rate limit (%s); sleeping %.0f s", why, seconds)
        run.waited += seconds
        self.sleep(seconds)

    def _note_rate_limit(self, headers: Mapping[str, str], run: _Run) -> None:
        remaining, reset = headers.get("x-rate-limit-remaining"), headers.get("x-rate-limit-reset")
        if remaining == "0" and reset and reset.isdigit():
            run.reset_at = float(reset)

    # -- mapping ---------------------------------------------------------------------------------------------
    def _records(self, body: dict[str, Any], run: _Run) -> tuple[list[Record], list[str]]:
        data = body.get("data") or []
        includes = body.get("includes") or {}
        users = _by_id(includes.get("users"))
        included = _by_id(includes.get("tweets"))
        ids = [str(t["id"]) for t in data if isinstance(t, dict) and str(t.get("id", "")).isdigit()]
        meta_ids = [body["meta"].get(k) for k in ("newest_id", "oldest_id")]
        ids += [str(i) for i in meta_ids if isinstance(i, str) and i.isdigit()]
        if ids:
            run.newest = _max_id(run.newest, *ids)
            run.oldest = str(min(int(i) for i in (*ids, run.oldest) if i is not None))
        run.read += len(data)
        self.budget.spend(len(data))
        # Count reshares first, so an original stored from this page carries this page's count.
        for tweet in data:
            if isinstance(tweet, dict) and (rt := _ref(tweet, "retweeted")):
                run.retweets[rt] += 1

        out: list[Record] = []
        skipped: list[str] = []

        def emit(tweet: dict[str, Any]) -> None:
            tid = str(tweet.get("id") or "")
            seen = run.retweets.get(tid, 0)
            if tid and run.emitted.get(tid) == seen:
                return  # stored once per run; again only if more reshares were counted since
            out.append(self._to_record(tweet, users, seen))
            if tid:
                run.emitted[tid] = seen

        for tweet in data:
            if not isinstance(tweet, dict):
                out.append(Rejected(SOURCE, "X sent a post that is not a JSON object", json.dumps(tweet)))
                continue
            if rt := _ref(tweet, "retweeted"):
                if rt in included:
                    emit(included[rt])
                else:
                    skipped.append(rt)
                continue
            emit(tweet)
            quoted = _ref(tweet, "quoted")
            if quoted and quoted in included:
                emit(included[quoted])
        for err in body.get("errors") or ():
            out.append(self._error_record(err))
        notes = []
        if skipped:
            notes.append(
                f"{len(skipped)} retweet(s) skipped: X did not include their original(s) {sorted(set(skipped))} "
                "(deleted or protected); a retweet is never stored as feedback of its own"
            )
        return out, notes

    def _to_record(self, tweet: dict[str, Any], users: Mapping[str, dict[str, Any]], retweets: int) -> Record:
        tid = str(tweet.get("id") or "")
        user = users.get(str(tweet.get("author_id")))
        raw = {"tweet": tweet, "author": user}
        raw_json = json.dumps(raw, ensure_ascii=False, default=str)
        if not tid.isdigit():
            return Rejected(SOURCE, "X post without an id", raw_json)
        note = tweet.get("note_tweet")
        text = note["text"] if isinstance(note, dict) and note.get("text") else tweet.get("text")
        if not isinstance(text, str) or not text.strip():
            return Rejected(SOURCE, f"X post {tid} has no text", raw_json, source_ref=tid)
        try:
            created_at = _parse_time(tweet.get("created_at"))
        except (ValueError, TypeError) as exc:
            return Rejected(SOURCE, f"X post {tid}: bad created_at ({exc})", raw_json, source_ref=tid)
        username = user.get("username") if user else None
        replied_to = _ref(tweet, "replied_to")
        meta: dict[str, Any] = {
            "metrics": tweet.get("public_metrics") or {},
            "retweets_seen": retweets,
            "verified": user.get("verified") if user else None,
            "author_metrics": (user.get("public_metrics") if user else None) or {},
        }
        if quoted := _ref(tweet, "quoted"):
            meta["quoted_id"] = quoted
        tags = [
            h.get("tag") for h in (tweet.get("entities") or {}).get("hashtags") or () if isinstance(h, dict)
        ]
        if tags:
            meta["tags"] = tags
        if isinstance(note, dict) and note.get("text"):
            meta["long_post"] = True
        return CollectedItem(
            source=SOURCE,
            source_id=tid,
            kind="reply" if replied_to else "post",
            text=text,
            created_at=created_at,
            author=f"@{username}" if username else None,
            author_name=user.get("name") if user else None,
            language=_language(tweet.get("lang")),
            url=f"https://x.com/{username or 'i/web'}/status/{tid}",
            thread_id=str(tweet.get("conversation_id") or tid),
            parent_id=replied_to,
            meta=meta,
            raw=raw,
        )

    @staticmethod
    def _error_record(err: Any) -> Rejected:
        """A partial error as a quarantined record: "X API error: Not Found Error: Could not find tweet ..."."""
        if not isinstance(err, dict):
            return Rejected(SOURCE, "X API error: not a JSON object", json.dumps(err, default=str))
        title = err.get("title") or "Error"
        if err.get("resource_type") == "tweet":
            reason = f"X API error: {title}: {err.get('detail') or err.get('message') or ''}".rstrip(": ")
            return Rejected(
                SOURCE, reason, json.dumps(err, ensure_ascii=False), source_ref=err.get("resource_id")
            )
        # Any other resource (a user: "Could not find user with usernames: [budi_santoso88]") names a person in
        # value, resource_id and detail, as a bare handle that masking cannot recognise: keep only its kind.
        kind = f"{err.get('resource_type') or 'unknown'} {err.get('parameter') or ''}".strip()
        kept = {k: v for k, v in err.items() if k not in ("value", "resource_id", "detail", "message")}
        return Rejected(SOURCE, f"X API error: {title} ({kind})", json.dumps(kept, ensure_ascii=False))

    def close(self) -> None:
        self.client.session.close()


def _well_formed(body: Any) -> bool:
    return (
        isinstance(body, dict)
        and isinstance(body.get("meta"), dict)
        and isinstance(body.get("data", []), list)
        and isinstance(body.get("includes", {}), dict)
        and isinstance(body.get("errors", []), list)
    )


def x_collectors(bearer_token: str, queries: Sequence[str], **options: Any) -> list[XCollector]:
    """One collector per query, each with its own ``since_id`` checkpoint, all sharing one monthly budget.

    >>> x_collectors(token, ["kartu cakap lang:in", "@KartuCakap_ID -from:KartuCakap_ID"], month_budget=10_000)
    """
    budget = options.pop("budget", None) or ReadBudget(
        options.pop("month_budget", None), options.pop("month_used", 0)
    )
    unique = list(dict.fromkeys(q.strip() for q in queries if q and q.strip()))
    return [XCollector(bearer_token, q, budget=budget, **options) for q in unique]
