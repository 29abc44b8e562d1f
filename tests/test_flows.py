"""The Prefect flows under a real (temporary) Prefect API: pipeline, digests, reclassification, collection with
secrets and the X concurrency limit, and shards on a local Dask cluster of 2 worker processes."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from models.tfidf import TfidfSentimentModel
from storage import db, schema
from storage.db import get_engine
from suara.errors import ConfigError
from suara.jobs import SAMPLE_FILE

pytestmark = pytest.mark.slow

# Every NIK, phone number and e-mail address written in the sample, straight from the file.
_PII_RE = re.compile(
    r"\b\d{16}\b|\b\d{4} \d{4} \d{4} \d{4}\b|(?:\+62|62|0)8\d{2}[- ]?\d{3,4}[- ]?\d{3,5}|[\w.]+@\w+\.\w+"
)
X_FIXTURES = Path(__file__).parent / "fixtures" / "x"


def sample_pii() -> set[str]:
    found = set()
    for line in SAMPLE_FILE.read_text(encoding="utf-8").splitlines():
        found.update(_PII_RE.findall(json.loads(line)["text"]))
    return found


@pytest.fixture(scope="session")
def prefect_api():
    from prefect.testing.utilities import prefect_test_harness

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    with prefect_test_harness(server_startup_timeout=180):
        yield


def artifacts(key: str) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        return client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))


def count(url: str, table, *where) -> int:
    with get_engine(url).connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def active(url: str) -> str | None:
    with get_engine(url).connect() as conn:
        return db.get_active_model(conn, "sentiment")


# -- pipeline and digests ---------------------------------------------------------------------------------------
def test_pipeline_twice_is_idempotent_leaks_no_pii_and_publishes_the_digest(prefect_api, tmp_path):
    from flows.params import PipelineParams
    from flows.pipeline import pipeline

    url = f"sqlite:///{tmp_path / 'p.db'}"
    params = PipelineParams(database_url=url, out_dir=str(tmp_path), lang="en")
    first = pipeline(params)
    assert first["collected"]["new"] == 432 and first["classified"]["classified"] == 432
    second = pipeline(params)
    assert second["collected"] == {"new": 0, "updated": 0, "unchanged": 432, "quarantined": 0}
    assert second["classified"]["classified"] == 0

    with get_engine(url).connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.items)).scalar_one() == 432
        tasks = conn.execute(
            select(schema.predictions.c.task, func.count()).group_by(schema.predictions.c.task)
        ).all()
        texts = "\n".join(conn.execute(select(schema.items.c.text)).scalars())
        runs = conn.execute(select(schema.runs.c.flow, schema.runs.c.status)).all()
    assert dict(tasks) == {"sentiment": 432, "topics": 432}  # classify gives topics too
    assert first["classified"]["topics_classified"] == 432 and second["classified"]["topics_classified"] == 0
    assert {f for f, s in runs if s == "completed"} == {"collect-file", "classify", "digest"}
    assert all(s == "completed" for _, s in runs)

    md = Path(first["digest"]["markdown"])
    html = Path(first["digest"]["html"])
    pii = sample_pii()
    assert len(pii) >= 20, "the sample must carry PII to prove masking"
    outputs = texts + md.read_text(encoding="utf-8") + html.read_text(encoding="utf-8")
    assert sorted(p for p in pii if p in outputs) == []
    assert any(md.read_text(encoding="utf-8") == a.data for a in artifacts("digest-week"))


def test_daily_and_weekly_digests_publish_under_their_own_keys(prefect_api, tmp_path):
    from flows.digests import digest
    from flows.params import DigestParams
    from suara import jobs

    url = f"sqlite:///{tmp_path / 'd.db'}"
    engine = get_engine(url)
    jobs.collect_file(engine, SAMPLE_FILE)
    jobs.classify_pending(engine)
    out = tmp_path / "out"
    day = digest(DigestParams(database_url=url, period="day", last_day=date(2026, 11, 4), out_dir=str(out)))
    week = digest(
        DigestParams(database_url=url, period="week", last_day=date(2026, 11, 15), out_dir=str(out))
    )
    assert Path(day["markdown"]).name == "digest-2026-11-04-day.md" and Path(day["html"]).is_file()
    assert Path(week["markdown"]).name == "digest-2026-11-15.md"
    assert day["delivered"] == []  # the file archive only
    on_day = sum(1 for line in SAMPLE_FILE.read_text().splitlines() if '"created_at": "2026-11-04' in line)
    assert day["items"] == on_day > 0
    assert any(a.data == Path(day["markdown"]).read_text(encoding="utf-8") for a in artifacts("digest-day"))
    assert any(a.data == Path(week["markdown"]).read_text(encoding="utf-8") for a in artifacts("digest-week"))


def test_review_queue_flow_writes_last_weeks_least_confident_items_and_an_artifact(prefect_api, tmp_path):
    import csv

    from flows.params import ReviewParams
    from flows.review import review_queue
    from suara import jobs, review

    url = f"sqlite:///{tmp_path / 'r.db'}"
    engine = get_engine(url)
    jobs.collect_file(engine, SAMPLE_FILE)
    jobs.classify_pending(engine, topics=False)
    assert ReviewParams().file_format == "xlsx"  # what a reviewer opens in Excel; csv here to read it back
    params = ReviewParams(
        database_url=url, last_day=date(2026, 11, 15), limit=30, out_dir=str(tmp_path), file_format="csv"
    )
    first = review_queue(params)
    path = Path(first["path"])
    assert path == tmp_path / "review" / "review-sentiment-2026-11-15.csv" and first["rows"] == 30
    rows = list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))
    assert all("2026-11-08T17:00" <= r["created_at"] < "2026-11-15T17:00" for r in rows)  # 9–15 Nov, Jakarta
    conf = [float(r["sentiment_confidence"]) for r in rows]
    assert conf == sorted(conf)
    assert any(str(path) in a.data and "30 items" in a.data for a in artifacts("review-queue"))
    rows[0]["sentiment"] = "neutral"
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    review.import_labels(engine, path, labeller="ana")
    again = review_queue(params)  # the labelled item drops out; the file is rewritten, not added to
    again_ids = [
        r["item_id"] for r in csv.DictReader(Path(again["path"]).read_text(encoding="utf-8").splitlines())
    ]
    assert rows[0]["item_id"] not in again_ids and again_ids[:29] == [r["item_id"] for r in rows[1:]]
    assert again["disputed"] == 0 and not list((tmp_path / "review").glob("review-disputed-*"))
    rows[0]["sentiment"] = "positive"  # a second reviewer disagrees: the next run lists the item to decide
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows[:1])
    review.import_labels(engine, path, labeller="budi")
    third = review_queue(params)
    disputed = tmp_path / "review" / "review-disputed-sentiment-2026-11-15.csv"
    assert third["disputed"] == 1 and third["disputed_path"] == str(disputed)
    decide = list(csv.DictReader(disputed.read_text(encoding="utf-8").splitlines()))
    assert [(r["item_id"], r["reviews"]) for r in decide] == [
        (rows[0]["item_id"], "ana: neutral | budi: positive")
    ]
    assert any(
        str(disputed) in a.data and "split on **1 items**" in a.data for a in artifacts("review-queue")
    )


class SlackWebhook:
    """An incoming-webhook stand-in on 127.0.0.1: answers ``status`` and keeps what was posted, and where."""

    def __init__(self, status: int = 200) -> None:
        self.posts: list[tuple[str, dict]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                hook.posts.append((self.path, json.loads(body)))
                reply = b"ok" if status == 200 else b"no_service"
                self.send_response(status)
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def test_digest_goes_to_slack_through_the_webhook_in_its_secret_block(prefect_api, tmp_path, monkeypatch):
    from prefect.blocks.system import Secret

    from digest.deliver import DeliveryError
    from flows.digests import digest
    from flows.params import DigestParams
    from suara import jobs
    from suara.config import get_settings

    url = f"sqlite:///{tmp_path / 's.db'}"
    jobs.collect_file(get_engine(url), SAMPLE_FILE)
    jobs.classify_pending(get_engine(url))
    hook = SlackWebhook()
    monkeypatch.setenv("SUARA_SLACK_WEBHOOK_URL", f"{hook.base}/from-env")
    get_settings.cache_clear()
    Secret(value=f"{hook.base}/from-block").save("slack-webhook-url", overwrite=True)
    try:
        params = DigestParams(
            database_url=url, last_day=date(2026, 11, 15), out_dir=str(tmp_path), to=["file", "slack"]
        )
        done = digest(params)
    finally:
        Secret.delete("slack-webhook-url")
        hook.close()
    assert [path for path, _ in hook.posts] == ["/from-block"]
    assert done["delivered"][-1] == "slack: sent to the webhook"

    refusing = SlackWebhook(status=500)
    monkeypatch.setenv("SUARA_SLACK_WEBHOOK_URL", refusing.base)
    get_settings.cache_clear()
    try:
        with pytest.raises(DeliveryError, match="slack: FAILED after 3 attempts"):
            digest(params.model_copy(update={"out_dir": str(tmp_path / "again")}))
    finally:
        refusing.close()
    assert (tmp_path / "again" / "digest-2026-11-15.md").is_file()  # written before Slack was tried


def test_make_demo_path_twice_same_items(tmp_path):
    """What `make demo` runs, as a user runs it: its own process and its own temporary Prefect server."""
    out = tmp_path / "demo"
    env = {**os.environ, "PREFECT_LOGGING_LEVEL": "WARNING"}
    suara = Path(sys.executable).parent / "suara"
    for expected in ("(432 new,", "(0 new, 0 updated, 432 unchanged, 0 quarantined)"):
        done = subprocess.run(
            [str(suara), "demo", "--out", str(out)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert expected in done.stdout
    assert f"digest: {out}/digest-2026-11-15.md" in done.stdout.replace(str(out.resolve()), str(out))
    assert (out / "digest-2026-11-15.html").is_file()


# -- reclassify -------------------------------------------------------------------------------------------------
class CrashingTfidf(TfidfSentimentModel):
    """A real model that dies on its n-th batch, like a worker lost mid-run; its directory says when. A batch is
    a whole chunk (100 items here): the clauses of a chunk's mixed posts it is also asked about
    (``models.aspects``) do not count."""

    kind = "tfidf-logreg-crash-test"

    def _proba(self, texts: list[str]):
        if len(texts) < 100:
            return super()._proba(texts)
        self.batches = getattr(self, "batches", 0) + 1
        if self.batches >= self.card["crash_on_batch"]:
            raise RuntimeError(f"worker lost on batch {self.batches}")
        return super()._proba(texts)


@pytest.fixture(scope="module")
def new_model(tmp_path_factory) -> str:
    """A second real model, trained in a second on 45 sample rows (as in test_reclassify.py)."""
    from models.tfidf import TfidfArgs

    rows = [json.loads(line) for line in SAMPLE_FILE.read_text(encoding="utf-8").splitlines()]
    texts, labels = [], []
    for label in ("negative", "neutral", "positive"):
        picked = [r["text"] for r in rows if r["gold"]["sentiment"] == label][:15]
        texts += picked
        labels += [label] * len(picked)
    args = TfidfArgs(min_df=1, max_word_features=2000, max_char_features=2000)
    model = TfidfSentimentModel.train(texts, labels, args, name="sentiment-tiny")
    return str(model.save_pretrained(tmp_path_factory.mktemp("models") / model.version))


def crashing_copy(model_dir: str, dest: Path, on_batch: int) -> str:
    shutil.copytree(model_dir, dest)
    config = json.loads((dest / "config.json").read_text(encoding="utf-8"))
    config.update(kind=CrashingTfidf.kind, crash_on_batch=on_batch)
    (dest / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return str(dest)


def sample_store(tmp_path: Path) -> tuple[str, str]:
    from suara import jobs

    url = f"sqlite:///{tmp_path / 'r.db'}"
    engine = get_engine(url)
    jobs.collect_file(engine, SAMPLE_FILE)
    return url, jobs.classify_pending(engine).model_version


def test_reclassify_flow_crash_then_rerun_finishes_once_activates_last_and_publishes_the_diff(
    prefect_api, tmp_path, new_model
):
    from flows.params import ReclassifyParams
    from flows.reclassify import reclassify

    url, old = sample_store(tmp_path)
    new_version = TfidfSentimentModel.from_pretrained(new_model).version
    p = schema.predictions
    mine = (p.c.task == "sentiment", p.c.model_version == new_version)

    crashing = crashing_copy(new_model, tmp_path / "crashing", on_batch=3)
    with pytest.raises(RuntimeError, match="worker lost on batch 3"):
        reclassify(ReclassifyParams(model=crashing, database_url=url, batch_size=100, activate=True))
    assert count(url, p, *mine) == 200 and active(url) == old
    assert count(url, schema.runs, schema.runs.c.flow == "reclassify", schema.runs.c.status == "failed") == 1

    result = reclassify(ReclassifyParams(model=new_model, database_url=url, batch_size=100, activate=True))
    assert (result["done_before"], result["predicted"], result["complete"], result["activated"]) == (
        200,
        232,
        True,
        True,
    )
    assert active(url) == new_version
    with get_engine(url).connect() as conn:
        per_item = conn.execute(select(p.c.item_id, func.count()).where(*mine).group_by(p.c.item_id)).all()
    assert len(per_item) == 432 and {n for _, n in per_item} == {1}
    assert count(url, p, p.c.model_version == old) == 432  # the old version stays
    diff = [a.data for a in artifacts("reclassify-diff") if f"`{old}` → `{new_version}`" in (a.data or "")]
    assert any(f"| re-labelled | {result['relabelled']:,}" in d for d in diff)
    assert any("## Label changes" in d and "## Examples" in d for d in diff)


def test_reclassify_flow_dry_run_writes_nothing_and_publishes_what_would_change(
    prefect_api, tmp_path, new_model
):
    from flows.params import ReclassifyParams
    from flows.reclassify import reclassify

    url, old = sample_store(tmp_path)
    tables = (schema.predictions, schema.runs, schema.active_models)
    before = [count(url, t) for t in tables]
    result = reclassify(
        ReclassifyParams(model=new_model, database_url=url, batch_size=200, dry_run=True, activate=True)
    )
    assert [count(url, t) for t in tables] == before and active(url) == old
    assert (result["dry_run"], result["predicted"], result["compared"], result["chunks"]) == (True, 0, 432, 3)
    assert result["relabelled"] > 0
    assert any("(dry run: nothing written)" in (a.data or "") for a in artifacts("reclassify-diff"))


def test_reclassify_flow_takes_a_topic_model_and_activates_it_for_topics_only(prefect_api, tmp_path):
    from flows.params import ReclassifyParams
    from flows.reclassify import reclassify
    from models.topics import TopicModel

    url, old = sample_store(tmp_path)
    with get_engine(url).connect() as conn:
        old_topics = db.get_active_model(conn, "topics")
    new = TopicModel.from_pretrained("topics-e5").version
    assert old_topics and old_topics != new
    dry = reclassify(ReclassifyParams(model="topics-e5", database_url=url, batch_size=200, dry_run=True))
    assert (dry["task"], dry["previous_version"], dry["compared"], dry["chunks"]) == (
        "topics",
        old_topics,
        432,
        3,
    )
    assert count(url, schema.predictions, schema.predictions.c.model_version == new) == 0
    result = reclassify(ReclassifyParams(model="topics-e5", database_url=url, batch_size=200, activate=True))
    assert (result["predicted"], result["activated"], result["relabelled"]) == (432, True, dry["relabelled"])
    assert result["volumes"] == dry["volumes"]
    with get_engine(url).connect() as conn:
        assert db.get_active_model(conn, "topics") == new
    assert active(url) == old  # the sentiment model in use stays
    diffs = [a.data or "" for a in artifacts("reclassify-diff")]
    assert any(f"`{old_topics}` → `{new}`" in d and "## Items per topic" in d for d in diffs)


# -- Dask shards ------------------------------------------------------------------------------------------------
def test_classify_and_reclassify_shards_run_on_a_local_dask_cluster_of_two_workers(
    prefect_api, tmp_path, new_model
):
    from flows.classify import classify
    from flows.params import ClassifyParams, ReclassifyParams
    from flows.reclassify import reclassify
    from suara import jobs

    url = f"sqlite:///{tmp_path / 'dask.db'}"
    jobs.collect_file(get_engine(url), SAMPLE_FILE)
    done = classify(ClassifyParams(database_url=url, batch_size=100, dask_workers=2))
    assert (done["classified"], done["batches"]) == (432, 5)
    sentiment = schema.predictions.c.task == "sentiment"
    assert count(url, schema.predictions, sentiment) == 432

    dry = reclassify(
        ReclassifyParams(model=new_model, database_url=url, batch_size=100, dry_run=True, dask_workers=2)
    )
    real = reclassify(ReclassifyParams(model=new_model, database_url=url, batch_size=100, dask_workers=2))
    assert (real["predicted"], real["complete"]) == (432, True)
    assert real["matrix"] == dry["matrix"] and sum(dry["matrix"].values()) == 432
    assert count(url, schema.predictions, sentiment) == 864


# -- collection, secrets and the X concurrency limit ------------------------------------------------------------
class StubX:
    """X API v2 recent search on 127.0.0.1: the three fixture pages, then nothing newer."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        names = ["search_page1.json", "search_page2.json", "search_page3.json"]
        tokens = [None] + [self.fixture(n)["meta"]["next_token"] for n in names[:2]]
        pages = dict(zip(tokens, names, strict=True))
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                params = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                stub.requests.append({"params": params, "auth": self.headers.get("Authorization")})
                name = "search_empty.json" if "since_id" in params else pages[params.get("next_token")]
                body = (X_FIXTURES / name).read_bytes()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    @staticmethod
    def fixture(name: str) -> dict[str, Any]:
        return json.loads((X_FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture
def stub_x() -> Iterator[StubX]:
    s = StubX()
    s.thread.start()
    yield s
    s.server.shutdown()
    s.server.server_close()
    s.thread.join(timeout=5)


@pytest.fixture
def x_token_block(prefect_api) -> Iterator[str]:
    from prefect.blocks.system import Secret

    token = f"block-token-{uuid.uuid4().hex}"
    Secret(value=token).save("x-bearer-token", overwrite=True)
    yield token
    Secret.delete("x-bearer-token")


def flow_run_logs(flow_run_id) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
    return "\n".join(log.message for log in logs)


def test_collect_x_reads_the_token_from_its_secret_block_never_logs_it_and_shares_the_x_limit(
    prefect_api, tmp_path, stub_x, x_token_block, monkeypatch
):
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    from flows.collect import collect_x
    from flows.params import CollectXParams
    from flows.serve import ensure_concurrency_limits
    from suara.config import get_settings

    monkeypatch.setenv("SUARA_X_BEARER_TOKEN", "env-token-not-used")
    monkeypatch.setenv("SUARA_X_API_BASE", stub_x.base)
    monkeypatch.setenv("SUARA_X_QUERIES", json.dumps(['"kartu cakap" lang:in']))
    get_settings.cache_clear()
    url = f"sqlite:///{tmp_path / 'x.db'}"

    with get_client(sync_client=True) as client, contextlib.suppress(ObjectNotFound):  # absent already
        client.delete_global_concurrency_limit_by_name("x-api")
    state = collect_x(CollectXParams(database_url=url), return_state=True)  # no limit yet: harmless
    first = state.result()
    ((query, counts),) = first.items()
    assert query == '"kartu cakap" lang:in' and (counts["new"], counts["quarantined"]) == (9, 3)
    assert {r["auth"] for r in stub_x.requests} == {f"Bearer {x_token_block}"}
    # Run logs reach the API asynchronously: wait (bounded) for the summary line to arrive.
    deadline = time.monotonic() + 30
    logs = flow_run_logs(state.state_details.flow_run_id)
    while "x: 9 new" not in logs and time.monotonic() < deadline:
        time.sleep(0.5)
        logs = flow_run_logs(state.state_details.flow_run_id)
    assert "x: 9 new" in logs and x_token_block not in logs

    ensure_concurrency_limits()
    ensure_concurrency_limits()  # idempotent
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name("x-api")
    assert (limit.limit, limit.active) == (1, True)
    second = collect_x(CollectXParams(database_url=url))
    assert (second[query]["new"], second[query]["quarantined"]) == (0, 0)
    assert "since_id" in stub_x.requests[-1]["params"]
    assert (
        count(url, schema.runs, schema.runs.c.flow == "collect-x", schema.runs.c.status == "completed") == 2
    )
    with get_client(sync_client=True) as client:
        assert client.read_global_concurrency_limit_by_name("x-api").active_slots == 0  # released


def test_secrets_come_from_blocks_then_settings_then_a_named_error(prefect_api, monkeypatch):
    from prefect.blocks.system import Secret

    from flows.secret_blocks import require_secret, secret
    from suara.config import get_settings

    block = f"test-secret-{uuid.uuid4().hex[:8]}"
    monkeypatch.delenv("SUARA_FRESHDESK_API_KEY", raising=False)
    monkeypatch.delenv("SUARA_SLACK_BOT_TOKEN", raising=False)
    get_settings.cache_clear()
    assert secret("freshdesk_api_key", block) is None
    with pytest.raises(
        ConfigError, match=f"SUARA_FRESHDESK_API_KEY is not set; .* Secret block named {block}"
    ):
        require_secret("freshdesk_api_key", block)
    monkeypatch.setenv("SUARA_FRESHDESK_API_KEY", "from-env")
    monkeypatch.setenv("SUARA_SLACK_BOT_TOKEN", "xoxb-from-env")  # no settings field yet: the environment
    get_settings.cache_clear()
    assert secret("freshdesk_api_key", block) == "from-env"
    assert secret("slack_bot_token") == "xoxb-from-env"
    Secret(value="from-block").save(block)
    try:
        assert secret("freshdesk_api_key", block) == "from-block"
    finally:
        Secret.delete(block)


@pytest.mark.parametrize(
    ("flow_name", "setting"),
    [
        ("collect_zendesk", "SUARA_ZENDESK_BASE_URL"),
        ("collect_freshdesk", "SUARA_FRESHDESK_BASE_URL"),
        ("collect_imap", "SUARA_IMAP_HOST"),
    ],
)
def test_ticket_flows_without_settings_fail_at_once_naming_the_setting(prefect_api, flow_name, setting):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from flows import collect

    state = getattr(collect, flow_name)(return_state=True)
    assert state.is_failed()
    with pytest.raises(ConfigError, match=setting):
        state.result()
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
        )
    # not retried: every task ran once (a retryable failure would have run 4 times, 3 retries)
    assert runs and [r.run_count for r in runs] == [1] * len(runs)
