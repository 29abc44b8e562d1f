"""The review loop on a large store: export the queue, import a filled-in file, the digest's agreement line.

    python bench/bench_review.py [--n 200000 1000000] [--labels 5000] [--pg URL] [--write-docs]

A PostgreSQL schema (dropped afterwards) is filled with N items, a sentiment and a topic prediction each from
the active versions (random confidences) and ``--labels`` human labels, in bulk SQL. Timed, each the median of
3 runs: ``suara review export`` of 200 items (the least confident unlabelled, over the whole store and over
the last 7 days), the import of a filled-in 200-row file, ``storage.labels.agreement`` (the digest footer),
reviewers' agreement (``suara review stats``) and the export of the disputed items (``--disputed``).
The baseline, measured in the same run: the anti-join that incremental classification runs every 15 minutes
(items without a prediction of a new version, ``storage.queries.pending_item_ids``), over the same store.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._markers import write_between  # noqa: E402

DOC = ROOT / "docs" / "BENCHMARKS.md"
BEGIN, END = "<!-- review-bench:begin -->", "<!-- review-bench:end -->"
SQL = """
INSERT INTO items (source, source_id, kind, author_key, text, language, created_at, collected_at, updated_at,
                   meta, raw, content_hash)
SELECT 'x', g::text, 'post', 'a' || (g % 5000), 'insentif belum cair juga min ' || g, 'id',
       :end - (g % (90 * 24)) * interval '1 hour', now(), now(), '{}', '{}', md5(g::text)
FROM generate_series(1, :n) AS g;
INSERT INTO predictions (item_id, task, model_version, label, scores, confidence, created_at)
SELECT id, 'sentiment', 's-1', (ARRAY['negative','neutral','positive'])[1 + id % 3], '{}', random(), now()
FROM items;
INSERT INTO predictions (item_id, task, model_version, label, scores, confidence, created_at)
SELECT id, 'topics', 't-1', 'pembayaran_dana', '{}', random(), now() FROM items;
INSERT INTO labels (item_id, task, label, labeller, source, created_at, updated_at)
SELECT id, 'sentiment', 'negative', 'bench', 'bench.csv', now(), now() FROM items ORDER BY random() LIMIT :labels;
INSERT INTO label_reviews (item_id, task, label, labeller, source, created_at)
SELECT item_id, task, label, labeller, source, created_at FROM labels ORDER BY id;
INSERT INTO label_reviews (item_id, task, label, labeller, source, created_at)
SELECT item_id, task, (ARRAY['negative','neutral'])[1 + item_id % 2], 'second', 'second.csv', now()
FROM labels WHERE id % 5 = 0;
INSERT INTO active_models (task, model_version, activated_at) VALUES ('sentiment', 's-1', now()),
       ('topics', 't-1', now());
ANALYZE;
"""


def median_seconds(fn, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench(url: str, n: int, n_labels: int, work: Path) -> dict[str, float]:
    from sqlalchemy import text

    from storage import labels as store
    from storage import queries
    from storage.db import get_engine
    from suara import review

    engine = get_engine(url)
    end = datetime(2026, 11, 16, tzinfo=UTC)
    t = time.perf_counter()
    with engine.begin() as conn:
        for stmt in SQL.split(";"):
            if stmt.strip():
                conn.execute(text(stmt), {"n": n, "labels": n_labels, "end": end})
    load = time.perf_counter() - t

    def pending() -> None:
        with engine.connect() as conn:
            queries.pending_item_ids(conn, "sentiment", "s-2")

    out_file = work / "review.csv"
    week = end - timedelta(days=7)
    result = {
        "load_s": load,
        "baseline_pending_s": median_seconds(pending),
        "export_all_s": median_seconds(lambda: review.export_queue(engine, out_file, limit=200)),
        "export_week_s": median_seconds(
            lambda: review.export_queue(engine, work / "w.csv", limit=200, start=week, end=end)
        ),
    }
    rows = list(csv.DictReader(out_file.read_text(encoding="utf-8").splitlines()))
    for r in rows:
        r["sentiment"] = "neutral"
    with (work / "filled.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    result["import_s"] = median_seconds(
        lambda: review.import_labels(engine, work / "filled.csv", labeller="bench"), runs=1
    )

    def agreement() -> None:
        with engine.connect() as conn:
            store.agreement(conn)

    result["agreement_s"] = median_seconds(agreement)

    def reviewers() -> None:
        with engine.connect() as conn:
            store.reviewer_agreement(conn, "sentiment")

    result["reviewers_s"] = median_seconds(reviewers)
    result["export_disputed_s"] = median_seconds(
        lambda: review.export_queue(engine, work / "d.csv", limit=200, disputed=True)
    )
    engine.dispose()
    return result


def main() -> None:
    import psycopg

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--labels", type=int, default=5000)
    parser.add_argument(
        "--pg",
        default=os.environ.get("SUARA_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--write-docs", action="store_true", help=f"rewrite the table in {DOC.name}")
    args = parser.parse_args()

    lines = [
        f"Measured by `python bench/bench_review.py` on {datetime.now().date()}, PostgreSQL 15 on this 2-core "
        f"machine; {args.labels} items already labelled, a fifth of them by a second reviewer too (half of those "
        "disputed); seconds, median of 3 (the import: one run). Baseline: "
        "the anti-join of incremental classification over the same store.",
        "",
        "| items | bulk load s | baseline: pending anti-join s | export 200, whole store s (× baseline) | "
        "export 200, last 7 days s | import 200 labels s | digest agreement line s | reviewers' agreement s | "
        "export 200 disputed s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n in args.n:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        try:
            with tempfile.TemporaryDirectory() as tmp:
                r = bench(f"{args.pg}?options=-csearch_path%3D{schema}", n, args.labels, Path(tmp))
        finally:
            with psycopg.connect(
                "host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True
            ) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
        print(n, {k: round(v, 3) for k, v in r.items()}, flush=True)
        lines.append(
            f"| {n:,} | {r['load_s']:.0f} | {r['baseline_pending_s']:.2f} | {r['export_all_s']:.2f} "
            f"({r['export_all_s'] / r['baseline_pending_s']:.2f}×) | {r['export_week_s']:.2f} | "
            f"{r['import_s']:.2f} | {r['agreement_s']:.3f} | {r['reviewers_s']:.3f} | "
            f"{r['export_disputed_s']:.3f} |"
        )
    body = "\n".join(lines)
    print("\n" + body)
    if args.write_docs:
        write_between(DOC, BEGIN, END, body, "## The review loop at scale")


if __name__ == "__main__":
    main()
