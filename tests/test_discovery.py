"""Discovery: clustering, keywords, stable ids across periods and reruns, the store, and the planted new issue."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from models.discovery import (
    DiscoveryArgs,
    KnownCluster,
    centred,
    cluster_embeddings,
    ctfidf_keywords,
    discover,
    load_stopwords,
    match_centroids,
    select_items,
)
from storage import topics as store

W1 = date(2026, 10, 5)


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def _planted(seed: int = 0) -> tuple[np.ndarray, list[int]]:
    """Three tight groups (6, 5, 4 rows) along different axes and 3 scattered rows."""
    rng = np.random.default_rng(seed)
    rows, truth = [], []
    for g, n in enumerate((6, 5, 4)):
        axis = np.zeros(16)
        axis[g] = 1
        rows += [axis + 0.08 * rng.standard_normal(16) for _ in range(n)]
        truth += [g] * n
    rows += [rng.standard_normal(16) for _ in range(3)]
    truth += [-1] * 3
    return _unit(np.array(rows)), truth


@pytest.mark.parametrize("method", ["agglomerative", "hdbscan"])
def test_clustering_finds_planted_groups_deterministically(method):
    vectors, truth = _planted()
    args = DiscoveryArgs(method=method, distance_threshold=0.3, assign_threshold=None)
    labels = cluster_embeddings(vectors, args)
    assert labels.tolist() == cluster_embeddings(vectors, args).tolist()
    for g in (0, 1, 2):
        members = {labels[i] for i, t in enumerate(truth) if t == g}
        assert len(members) == 1 and -1 not in members, (g, labels)
    assert labels[0] == 0  # numbered by first appearance
    assert cluster_embeddings(vectors[:2], args).tolist() == [-1, -1]


def test_outliers_join_a_close_cluster_only():
    vectors, _ = _planted()
    near = _unit(np.eye(16)[0] + 0.3 * np.eye(16)[5])  # close to group 0
    far = _unit(np.eye(16)[9])
    labels = cluster_embeddings(np.vstack([vectors, near, far]), DiscoveryArgs(distance_threshold=0.3))
    assert labels[-2] == labels[0] and labels[-1] == -1


def test_keywords_drop_stop_words_and_keep_negators():
    stop = load_stopwords()
    assert "yang" in stop and "tidak" not in stop and "belum" not in stop and "kurang" not in stop
    groups = [
        [
            "insentif gel 14 blm cair juga min",
            "insentif belum cair udah 5 minggu",
            "kok insentif aku belum cair ya",
        ],
        [
            "sertifikat ilang abis update 3.2",
            "sertifikat hilang setelah update",
            "update 3.2 sertifikat hilang",
        ],
    ]
    kws = ctfidf_keywords(groups, stop, n=4)
    assert "belum cair" in kws[0] or "insentif belum" in kws[0], kws
    assert any("sertifikat" in k for k in kws[1]) and any("update" in k for k in kws[1]), kws
    assert not any(k in ("yang", "min", "ya", "kok") for group in kws for k in group)


def test_hungarian_matching_respects_threshold():
    old = _unit(np.eye(4)[:3])
    new = _unit(np.array([[0.1, 1, 0, 0], [1, 0.1, 0, 0], [0, 0, 0, 1]], dtype=float))
    assert match_centroids(new, old, 0.8) == {
        0: (1, pytest.approx(0.995, abs=1e-3)),
        1: (0, pytest.approx(0.995, abs=1e-3)),
    }


def test_discover_matches_known_marks_new_and_reuses_rerun_ids():
    vectors, truth = _planted()
    texts = [f"teks {i}" for i in range(len(truth))]
    ids = list(range(100, 100 + len(truth)))
    g0 = _unit(np.eye(16)[0])
    known = [
        KnownCluster(17, g0, W1, previous_size=3),
        KnownCluster(21, _unit(np.eye(16)[1]), W1 + timedelta(7), 0, True),
    ]
    args = DiscoveryArgs(distance_threshold=0.3, assign_threshold=None, match_threshold=0.8)
    topics = {"akun_verifikasi": _unit(np.eye(16)[2] + np.eye(16)[3])}
    res = discover(ids, texts, vectors, known=known, topic_centroids=topics, args=args)
    by_first = {c.item_ids[0]: c for c in res.clusters}
    a, b, c = by_first[100], by_first[106], by_first[111]
    assert (a.id, a.is_new, a.previous_size, a.growth) == (17, False, 3, 2.0)
    assert (b.id, b.is_new) == (21, True)  # new this period; same id as the earlier run of it
    assert (c.id, c.is_new) == (None, True) and c.nearest == "topic:akun_verifikasi"
    assert 0 < c.novelty < 1 and res.outlier_share == pytest.approx(3 / 18)
    assert [cl.size for cl in res.clusters] == [6, 5, 4] and len(a.representatives) == 3


def test_select_items_negative_first_and_centring():
    rows = [{"sentiment": "negative"}, {"sentiment": "positive"}, {"sentiment": None}]
    assert select_items(rows, ("negative",)) == [rows[0], rows[2]] and select_items(rows, None) == rows
    v = _unit(np.array([[1.0, 1.0], [1.0, 0.9]]))
    c = centred(v, v.mean(axis=0))
    assert c[0] @ c[1] < v[0] @ v[1] and np.allclose(np.linalg.norm(c, axis=1), 1)


# -- the store --------------------------------------------------------------------------------------------------
def _items(engine, n: int) -> list[int]:
    from datetime import UTC, datetime

    from storage.db import upsert_items

    rows = [
        {
            "source": "x",
            "source_id": str(i),
            "kind": "post",
            "text": f"teks {i}",
            "created_at": datetime(2026, 10, 6, tzinfo=UTC),
        }
        for i in range(n)
    ]
    with engine.begin() as conn:
        return sorted(upsert_items(conn, rows).ids.values())


def test_store_keeps_ids_history_and_reruns(engine):
    ids = _items(engine, 18)
    vectors, _ = _planted()
    texts = [f"teks {i}" for i in range(18)]
    args = DiscoveryArgs(distance_threshold=0.3, assign_threshold=None, match_threshold=0.8)
    W2 = W1 + timedelta(7)

    def run(start: date, rows: slice):
        with engine.connect() as conn:
            known = store.known_clusters(conn, start)
        res = discover(ids[rows], texts[rows], vectors[rows], known=known, args=args, start=start)
        with engine.begin() as conn:
            store.save_period_clusters(conn, start, res.clusters, method="agglomerative")
        return res

    first = run(W1, slice(0, 15))
    assert sorted(c.id for c in first.clusters) == [1, 2, 3] and all(c.is_new for c in first.clusters)
    again = run(W1, slice(0, 15))  # the same week again: same ids, nothing duplicated
    assert sorted(c.id for c in again.clusters) == [1, 2, 3] and all(c.is_new for c in again.clusters)
    second = run(W2, slice(0, 11))  # next week: groups 0 and 1 again
    assert sorted((c.id, c.is_new) for c in second.clusters) == [(1, False), (2, False)]
    with engine.connect() as conn:
        week1 = store.load_clusters(conn, period_start=W1)
        week2 = store.load_clusters(conn, period_start=W2)
        every = store.load_clusters(conn)
    assert [c["size"] for c in week1] == [6, 5, 4] and all(c["is_new"] for c in week1)
    assert {c["id"]: c["sizes"] for c in week2} == {
        1: {"2026-10-05": 6, "2026-10-12": 6},
        2: {"2026-10-05": 5, "2026-10-12": 5},
    }
    assert [c["first_seen"] for c in every] == ["2026-10-05"] * 3 and every[0]["last_seen"] == "2026-10-12"
    assert set(week2[0]["members"]) == set(ids[:6]) and len(week2[0]["keywords"]) >= 1
    # A rerun of week 1 that no longer finds group 2 drops the cluster that only lived there.
    run(W1, slice(0, 11))
    with engine.connect() as conn:
        assert [c["id"] for c in store.load_clusters(conn)] == [1, 2]


# -- the planted new issue in the bundled sample --------------------------------------------------------------------
def _sample_store(url: str):
    from storage.db import get_engine
    from suara import jobs

    engine = get_engine(url)
    jobs.collect_file(engine, jobs.SAMPLE_FILE)
    jobs.classify_pending(engine)
    return engine


def _weekly(engine):
    from models.discovery import discover_period

    out = []
    for week in range(6):
        res = discover_period(engine, last_day=W1 + timedelta(days=7 * week + 6))
        out.append(sorted((c.id, c.is_new, tuple(sorted(c.item_ids))) for c in res.clusters))
    return out


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    """One cache (the ONNX export, the e5 encoder, embeddings) for this module's sample tests, apart from the
    user's: computed once, not once per test (about 75 s each). Its entries are content-addressed, so sharing
    them changes no result."""
    return tmp_path_factory.mktemp("suara-cache")


@pytest.mark.slow
@pytest.mark.parametrize(
    "sentiment",  # discovery clusters negative and neutral items: the planted issue must not hang on one model
    [
        "sentiment-tfidf",
        "sentiment-e5-lora+onnx-int8",
        "sentiment-e5-tfidf+onnx-int8",  # the product's default
    ],
)
def test_sample_new_certificate_issue_found_in_its_week_with_stable_ids(
    tmp_path, monkeypatch, cache_dir, sentiment
):
    from sqlalchemy import select

    from storage.schema import items
    from suara.config import get_settings
    from suara.jobs import SAMPLE_FILE
    from suara.sample.check_sample import is_cert_issue

    monkeypatch.setenv("SUARA_OFFICIAL_HANDLES", "@KartuCakap_ID")
    monkeypatch.setenv("SUARA_CACHE_DIR", str(cache_dir))
    monkeypatch.setenv("SUARA_SENTIMENT_MODEL", sentiment)
    get_settings.cache_clear()
    engine = _sample_store(f"sqlite:///{tmp_path / 'a.db'}")
    first = _weekly(engine)
    cert_sources = {
        o["id"]
        for o in map(json.loads, SAMPLE_FILE.read_text(encoding="utf-8").splitlines())
        if is_cert_issue(o)
    }
    with engine.connect() as conn:
        cert = {i for i, sid in conn.execute(select(items.c.id, items.c.source_id)) if sid in cert_sources}
    # Nothing about certificates before the release of 3.2 …
    for week in first[:3]:
        assert not any(cert & set(members) for _, _, members in week)
    # … and in the week of 2026-10-26 a NEW cluster that is mostly certificate posts.
    w4 = [(cid, new, set(m)) for cid, new, m in first[3]]
    cid, new, members = max(w4, key=lambda c: len(cert & c[2]))
    assert new and len(cert & members) >= 4 and len(cert & members) / len(members) >= 0.6
    with engine.connect() as conn:
        stored = {c["id"]: c for c in store.load_clusters(conn, period_start=date(2026, 10, 26))}
    assert stored[cid]["is_new"] and stored[cid]["first_seen"] == "2026-10-26"
    assert any("sertifikat" in k or "3.2" in k for k in stored[cid]["keywords"]), stored[cid]["keywords"]
    # Rerunning every week, and running again on a fresh store, gives the same ids and members.
    assert _weekly(engine) == [[(i, n, m) for i, n, m in week] for week in first]
    assert _weekly(_sample_store(f"sqlite:///{tmp_path / 'b.db'}")) == first


@pytest.mark.slow
def test_discover_and_report_on_the_campaign_week(tmp_path, monkeypatch, cache_dir):
    """What `suara discover --date 2026-11-08` prints: clusters of the week and the copy-paste campaign."""
    from models.discovery import discover_and_report
    from suara.config import get_settings

    monkeypatch.setenv("SUARA_OFFICIAL_HANDLES", "@KartuCakap_ID")
    monkeypatch.setenv("SUARA_CACHE_DIR", str(cache_dir))
    get_settings.cache_clear()
    engine = _sample_store(f"sqlite:///{tmp_path / 's.db'}")
    lines = discover_and_report(engine, last_day=date(2026, 11, 8))
    assert lines[0].startswith("2026-11-02 – 2026-11-08: ") and "outliers" in lines[0]
    clusters = [line for line in lines if line.startswith("  #")]
    assert clusters and all(" NEW " in line for line in clusters)  # the first week this store has seen
    (campaign,) = [line for line in lines if "campaign:" in line]
    assert "14 near-identical posts by 14 authors" in campaign


@pytest.mark.slow
def test_weekly_digest_shows_the_new_certificate_cluster(tmp_path, monkeypatch, cache_dir):
    """discover → digest: the week of 2026-10-26's digest lists the planted issue under "new and rising"."""
    from digest.build import Period
    from suara import jobs
    from suara.config import get_settings

    monkeypatch.setenv("SUARA_OFFICIAL_HANDLES", "@KartuCakap_ID")
    monkeypatch.setenv("SUARA_CACHE_DIR", str(cache_dir))
    get_settings.cache_clear()
    engine = _sample_store(f"sqlite:///{tmp_path / 'a.db'}")
    _weekly(engine)
    week = Period.ending("week", date(2026, 11, 1))
    with engine.connect() as conn:
        clusters = jobs.stored_clusters(conn, week)
    cert = [
        c for c in clusters if c["is_new"] and any("sertifikat" in k or "3.2" in k for k in c["keywords"])
    ]
    assert cert and len(cert[0]["examples"]) >= 2 and cert[0]["previous_size"] == 0
    files = jobs.write_digest(engine, period="week", last_day=week.end, out_dir=tmp_path / "out")
    md = files.markdown.read_text(encoding="utf-8")
    assert any(k in md for k in cert[0]["keywords"]), md
    assert "sertifikat" in md.lower()
