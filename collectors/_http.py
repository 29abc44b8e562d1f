"""Shared httpx plumbing for the helpdesk collectors: one place where HTTP trouble becomes a collector error.

``HttpApi`` builds an ``httpx.Client`` (base URL, auth, timeout, optional transport for tests), retries 5xx
answers, timeouts and connection errors a bounded number of times with exponential backoff, honours 429
``Retry-After`` within a bounded total wait, and maps the rest onto ``collectors.errors``:

    401/403          → SourceAuthError naming the setting to fix (e.g. SUARA_ZENDESK_TOKEN)
    404              → SourceNotFound naming the base-URL setting
    429 too long     → RateLimited
    other 4xx, 5xx after the retries, a body that is not JSON → CollectorError

Sleeping goes through the injectable ``sleep`` so tests assert on the waits instead of waiting.

>>> api = HttpApi("https://kartucakap.zendesk.com", label="Zendesk", auth=("cs@kartucakap.go.id/token", "…"),
...               auth_setting="SUARA_ZENDESK_TOKEN", base_url_setting="SUARA_ZENDESK_BASE_URL")
>>> with api:  # doctest: +SKIP
...     page = api.get_json("/api/v2/incremental/tickets/cursor.json", params={"start_time": 0})
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any

import httpx

from collectors.errors import CollectorError, RateLimited, SourceAuthError, SourceNotFound

USER_AGENT = "suara-collector/0.1 (+https://github.com/suara)"
DEFAULT_RETRY_AFTER = 60.0  # a 429 without Retry-After: wait a minute (both helpdesks count per minute)
BODY_EXCERPT = 200


@dataclass(frozen=True, slots=True)
class JsonResponse:
    """A decoded JSON answer and the response it came from (headers, links, final URL)."""

    data: Any
    response: httpx.Response

    @property
    def links(self) -> Mapping[str | None, Mapping[str, str]]:
        return self.response.links


@dataclass
class HttpApi:
    """A JSON-over-HTTP source with bounded retries; use it as a context manager around a run.

    ``max_retries`` counts retries after the first try for 5xx, timeouts and connection errors (backoff
    ``backoff * 2**n`` seconds, capped at ``max_backoff``). 429 waits do not use up retries, but all of them
    together may not exceed ``max_rate_wait`` seconds per session (one ``with`` block: one collector run), so a
    scheduled run cannot hang for hours; past it ``RateLimited``, and the next run continues from the
    checkpoint.
    """

    base_url: str
    label: str
    auth: httpx.Auth | tuple[str, str] | None = None
    auth_setting: str = "the credentials"
    base_url_setting: str = "the base URL"
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 30.0
    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] = time.sleep
    max_retries: int = 3
    backoff: float = 1.0
    max_backoff: float = 30.0
    max_rate_wait: float = 600.0
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _client: httpx.Client | None = field(default=None, init=False, repr=False)
    _rate_waited: float = field(default=0.0, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.base_url or not self.base_url.strip():
            raise CollectorError(f"{self.base_url_setting} is not set; set it to the {self.label} address")
        try:
            url = httpx.URL(self.base_url.strip())
        except httpx.InvalidURL as exc:
            raise CollectorError(f"{self.base_url_setting} {self.base_url!r} is not a URL: {exc}") from exc
        if url.scheme not in ("http", "https") or not url.host:
            raise CollectorError(
                f"{self.base_url_setting} {self.base_url!r} is not an http(s) URL; "
                "write it like https://kartucakap.zendesk.com"
            )
        self.base_url = str(url).rstrip("/")

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def __enter__(self) -> HttpApi:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ):
        self.close()

    def open(self) -> httpx.Client:
        if self._client is None:
            self._rate_waited = 0.0
            self._client = httpx.Client(
                base_url=self.base_url,
                auth=self.auth,
                timeout=self.timeout,
                transport=self.transport,
                headers={"User-Agent": USER_AGENT, "Accept": "application/json", **dict(self.headers)},
                follow_redirects=False,
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- requests ----------------------------------------------------------------------------------------------
    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> JsonResponse:
        """GET ``path`` (relative to the base URL) and decode its JSON body, retrying what is worth retrying."""
        client = self.open()
        retries = 0
        while True:
            try:
                response = client.get(path, params=_clean(params))
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                if retries >= self.max_retries:
                    raise CollectorError(
                        f"{self.label}: {type(exc).__name__} on GET {path} after {retries + 1} tries "
                        f"({exc}); check {self.base_url_setting} and the network, then run again"
                    ) from exc
                self.sleep(self._backoff(retries))
                retries += 1
                continue
            except httpx.HTTPError as exc:  # bad URL, unsupported protocol, too many redirects, …
                raise _mapped(exc, self.label, path, self.base_url_setting) from exc

            status = response.status_code
            if status == 429:
                hint = _retry_after(response, self.now())
                # At least a second: a "Retry-After: 0" loop still runs into the total-wait bound.
                wait = DEFAULT_RETRY_AFTER if hint is None else max(hint, 1.0)
                if self._rate_waited + wait > self.max_rate_wait:
                    raise RateLimited(
                        f"{self.label} rate limit on GET {path}: asked to wait {wait:.0f} s more after "
                        f"{self._rate_waited:.0f} s already waited in this run (limit {self.max_rate_wait:.0f} s); "
                        "run again later (the checkpoint keeps what was stored) or lower the request rate"
                    )
                self.sleep(wait)
                self._rate_waited += wait
                continue
            if status >= 500:
                if retries >= self.max_retries:
                    raise CollectorError(
                        f"{self.label}: {status} {response.reason_phrase} on GET {path} after {retries + 1} "
                        f"tries; the service is failing, run again later ({_excerpt(response)})"
                    )
                hinted = _retry_after(response, self.now())
                self.sleep(min(hinted, self.max_backoff) if hinted else self._backoff(retries))
                retries += 1
                continue
            if status in (401, 403):
                raise SourceAuthError(self._auth_message(status, path, response))
            if status == 404:
                raise SourceNotFound(
                    f"{self.label}: GET {path} answered 404 Not Found; check {self.base_url_setting} "
                    f"({self.base_url})"
                )
            if not 200 <= status < 300:  # other 4xx, and redirects (we do not follow them)
                raise CollectorError(
                    f"{self.label}: GET {path} answered {status} {response.reason_phrase}: {_excerpt(response)}"
                )
            return JsonResponse(self._decode(response, path), response)

    def _backoff(self, retries: int) -> float:
        return min(self.backoff * (2**retries), self.max_backoff)

    def _auth_message(self, status: int, path: str, response: httpx.Response) -> str:
        if status == 401:
            return (
                f"{self.auth_setting} is rejected by {self.label} (401 on GET {path}); set a valid API token "
                f"for {self.base_url}"
            )
        return (
            f"{self.auth_setting} is accepted by {self.label} but not allowed to read {path} (403); use the "
            f"token of an agent or admin who can see tickets ({_excerpt(response)})"
        )

    def _decode(self, response: httpx.Response, path: str) -> Any:
        try:
            return json.loads(response.content)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            ctype = response.headers.get("content-type", "no content-type")
            raise CollectorError(
                f"{self.label}: GET {path} returned a page that is not JSON ({ctype}; {exc}): "
                f"{_excerpt(response)!r}; nothing from this page was stored, run again later"
            ) from exc


def _mapped(exc: httpx.HTTPError, label: str, path: str, base_url_setting: str) -> CollectorError:
    """The one mapping of httpx's own errors (not HTTP statuses) to the collector tree."""
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return CollectorError(f"{label}: cannot request {path} ({exc}); check {base_url_setting}")
    if isinstance(exc, httpx.TooManyRedirects):
        return CollectorError(f"{label}: GET {path} redirects too often; check {base_url_setting}")
    return CollectorError(f"{label}: GET {path} failed: {type(exc).__name__}: {exc}")


def _clean(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if params is None:
        return None
    return {k: v for k, v in params.items() if v is not None}


def _retry_after(response: httpx.Response, now: datetime) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date); None when absent or unreadable."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _excerpt(response: httpx.Response) -> str:
    text = response.content[:BODY_EXCERPT].decode("utf-8", "replace").strip()
    return " ".join(text.split()) or "empty body"


def next_params(next_url: str | None) -> dict[str, str] | None:
    """The query parameters of a ``next_page`` URL, to request the same path on *our* base URL.

    Zendesk writes absolute ``next_page`` links on its own host; following them as is would bypass a proxy or
    recorded-response server configured as the base URL.

    >>> next_params("https://kartucakap.zendesk.com/api/v2/tickets/48114/comments.json?page=2&per_page=100")
    {'page': '2', 'per_page': '100'}
    """
    if not next_url:
        return None
    try:
        return dict(httpx.URL(next_url).params)
    except httpx.InvalidURL:
        return None


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time from an API ("2026-10-05T04:16:50Z") as an aware datetime; None if absent/unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso_z(value: datetime) -> str:
    """UTC ISO 8601 with a Z, to the second: what both helpdesks accept in filters."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
