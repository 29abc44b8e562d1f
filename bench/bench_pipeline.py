"""Walking-skeleton benchmark: classify and store throughput, as ratios against baselines from the same run.

    python bench/bench_pipeline.py [--n 5000] [--out docs/BENCHMARKS.md] [--pg URL]

- sentiment: the released TF-IDF model, batch-1 calls (the naive way) vs our batched ``predict``;
- ingest: sample-like items through mask → upsert into SQLite (and PostgreSQL when it answers), first load vs a
  rerun of the same items (the idempotent path);
- peak RSS of the process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from collectors.files import FileCollector  # noqa: E402
from models.text import normalize  # noqa: E402
from storage.db import get_engine  # noqa: E402
from storage.ingest import ingest  # noqa: E402
from suara.jobs import SAMPLE_FILE, load_model  # noqa: E402

BEGIN, END = "<!-- pipeline-bench:begin -->", "<!-- pipeline-bench:end -->"


def timed(fn, *args) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def sample_items(n: int) -> list:
    base = [r for r in FileCollector(SAMPLE_FILE).collect() if not hasattr(r, "reason")]
    return [
        replace(base[i % len(base)], source_id=f"{base[i % len(base)].source_id}-{i // len(base)}")
        for i in range(n)
    ]


def bench_ingest(url: str, items: list) -> tuple[float, float]:
    engine = get_engine(url)
    with engine.begin() as conn:
        first, _ = timed(lambda: ingest(conn, items, salt="bench"))
    with engine.begin() as conn:
        again, _ = timed(lambda: ingest(conn, items, salt="bench"))
    return len(items) / first, len(items) / again


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    parser.add_argument(
        "--pg",
        default=os.environ.get("SUARA_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()

    smsa = args.data_dir / "sentiment" / "smsa" / "test.tsv"
    if smsa.is_file():
        pool = [line.rpartition("\t")[0] for line in smsa.read_text(encoding="utf-8").splitlines() if line]
        text_source = "SmSA test texts"
    else:
        pool = [json.loads(line)["text"] for line in SAMPLE_FILE.read_text(encoding="utf-8").splitlines()]
        text_source = "bundled sample texts"
    texts = [pool[i % len(pool)] for i in range(args.n)]

    model = load_model("sentiment-tfidf", None)
    model.predict(texts[:10])  # warm-up
    n_naive = min(1000, args.n)
    t_naive, _ = timed(lambda: [model.predict([t]) for t in texts[:n_naive]])
    t_batch, _ = timed(model.predict, texts)
    t_norm, _ = timed(lambda: [normalize(t) for t in texts])
    rows = [
        ("sentiment, TF-IDF, batch 1 (baseline)", n_naive / t_naive, 1.0),
        ("sentiment, TF-IDF, batched `predict`", args.n / t_batch, (args.n / t_batch) / (n_naive / t_naive)),
        ("`normalize()` alone", args.n / t_norm, None),
    ]

    items = sample_items(args.n)
    with tempfile.TemporaryDirectory() as tmp:
        first, rerun = bench_ingest(f"sqlite:///{tmp}/bench.db", items)
    rows += [
        ("ingest → SQLite, first load (baseline)", first, 1.0),
        ("ingest → SQLite, rerun (unchanged)", rerun, rerun / first),
    ]
    try:
        import psycopg

        schema = f"bench_{os.getpid()}"
        with psycopg.connect(
            "host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True, connect_timeout=3
        ) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        try:
            pg_first, pg_rerun = bench_ingest(f"{args.pg}?options=-csearch_path%3D{schema}", items)
            rows += [
                ("ingest → PostgreSQL, first load", pg_first, pg_first / first),
                ("ingest → PostgreSQL, rerun (unchanged)", pg_rerun, pg_rerun / first),
            ]
        finally:
            with psycopg.connect(
                "host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True
            ) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
    except Exception as exc:  # no server: say so in the report rather than fail the benchmark
        rows.append((f"ingest → PostgreSQL: skipped ({type(exc).__name__})", float("nan"), None))

    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines = [
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {os.cpu_count()} CPUs · Python {platform.python_version()} · "
        f"n = {args.n} ({text_source} for sentiment, sample-like items for ingest) · model `{model.version}` · "
        f"peak RSS {rss_mb:.0f} MB",
        "",
        "| what | items/s | ratio to its baseline |",
        "|---|---|---|",
    ]
    lines += [
        f"| {name} | {rate:,.0f} | {'' if ratio is None else f'{ratio:.2f}×'} |" for name, rate, ratio in rows
    ]
    table = "\n".join(lines)
    print(table)
    from bench._markers import write_between

    write_between(
        args.out, BEGIN, END, table, "## Walking skeleton: classify and store (`bench/bench_pipeline.py`)"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
