"""End-to-end benchmark: collect from file → store → classify → digest, then reclassify, on SQLite and PostgreSQL,
called directly (``suara.jobs``) and as Prefect flows against a local Prefect server.

    python bench/bench_e2e.py [--sizes 10000 100000] [--out docs/BENCHMARKS.md] [--deploy docs/DEPLOY.md]

- data: sample-like items generated from ``suara/sample/feedback.jsonl`` (new ids, dates spread over 14 weeks,
  small text variations), written as JSONL and imported with the file collector;
- each (size, store, mode) runs in its own process, so its peak RSS is its own;
- Prefect overhead = (flow time − direct time) / flow time, stage by stage, same data, same store kind;
- linearity: the 100k/10k time ratio of each stage (10.0 = linear);
- reclassify: a second TF-IDF model (trained here in a second) relabels every item; items/s;
- tiers: "fast" classifies with the released TF-IDF model; "transformer" with the product's default model
  (``--transformer``, default ``suara.config.Settings().sentiment_model``: the released ensemble of the transformer
  and the TF-IDF model, ``sentiment-e5-tfidf+onnx-int8``; any ``name+runtime``), for the runs named in
  ``--transformer-runs`` (10k on PostgreSQL by default: it is ~10× slower per item). The transformer tier classifies
  as the product does by default: sentiment and topics (``topics-e5-shared``, which reads the sentiment model's
  vectors) from one encoder pass. The fast tier classifies sentiment only (topics would need an e5 encoder pass:
  bench/bench_topics.py).

Writes between markers in docs/BENCHMARKS.md and the capacity arithmetic in docs/DEPLOY.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_BEGIN, BENCH_END = "<!-- e2e-bench:begin -->", "<!-- e2e-bench:end -->"
CAP_BEGIN, CAP_END = "<!-- e2e-capacity:begin -->", "<!-- e2e-capacity:end -->"
from suara.testing import ServerStartError, start_prefect_server, stop, train_sample_model  # noqa: E402

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{db}"
STAGES = ("collect", "classify", "digest", "reclassify")
TAILS = ("", "", " min", " 🙏", " tolong dicek", " kak", "!!", " #KartuCakap", " udh lama bgt", " pls")
PEAK_FACTOR = 3  # busiest hour vs the day's average (the sample: daytime and weekdays carry most posts)


# -- data -------------------------------------------------------------------------------------------------------
def generate(n: int, path: Path, seed: int = 7) -> Path:
    """``n`` sample-like items: copy k of each sample row gets a new id, a date shifted by whole weeks (so
    weekday and hour patterns stay) plus minutes, and sometimes a short tail on its text."""
    from suara.jobs import SAMPLE_FILE

    base = [json.loads(line) for line in SAMPLE_FILE.read_text(encoding="utf-8").splitlines()]
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            row = dict(base[i % len(base)])
            k = i // len(base)
            created = datetime.fromisoformat(row["created_at"])
            created += timedelta(weeks=k % 14 - 8, minutes=rng.randrange(0, 180))
            row.update(
                id=f"{row['id']}-g{k}",
                created_at=created.isoformat(),
                text=row["text"] + (rng.choice(TAILS) if k else ""),
            )
            for key in ("thread_id", "parent_id", "in_reply_to"):  # threads stay within their copy
                if row.get(key):
                    row[key] = f"{row[key]}-g{k}"
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


# -- one measured run (a child process) -------------------------------------------------------------------------
def child(args: argparse.Namespace) -> None:
    from suara import jobs
    from suara.config import get_settings

    tz = get_settings().timezone
    out = Path(args.work) / "digest"
    times: dict[str, float] = {}

    def timed(stage: str, fn):
        start = time.perf_counter()
        result = fn()
        times[stage] = time.perf_counter() - start
        return result

    engine = jobs.db.get_engine(args.db)
    # Models load once per process (cached); timed apart so that the stages show their per-item cost.
    settings = get_settings()
    timed("model load", lambda: jobs.load_model(settings.sentiment_model, str(settings.model_dir)))
    jobs.load_model(args.model, str(settings.model_dir))
    if args.mode == "direct":
        collected = timed("collect", lambda: jobs.collect_file(engine, args.data).as_dict())
        classified = timed(
            "classify", lambda: jobs.classify_pending(engine, batch_size=1000, topics=args.topics).classified
        )
        last_day = jobs.latest_local_day(engine, tz)
        timed("digest", lambda: jobs.write_digest(engine, period="week", last_day=last_day, out_dir=out))
        re = timed("reclassify", lambda: jobs.reclassify(engine, args.model, batch_size=1000).predicted)
    else:
        from flows.classify import classify
        from flows.collect import collect_file
        from flows.digests import digest
        from flows.params import ClassifyParams, CollectFileParams, DigestParams, ReclassifyParams
        from flows.reclassify import reclassify

        warm = f"sqlite:///{Path(args.work) / 'warm.db'}"  # the first flow run of a process pays set-up once
        collect_file(CollectFileParams(path=str(jobs.SAMPLE_FILE), database_url=warm))
        collected = timed(
            "collect", lambda: collect_file(CollectFileParams(path=args.data, database_url=args.db))
        )
        classified = timed(
            "classify",
            lambda: classify(ClassifyParams(database_url=args.db, topics=args.topics))["classified"],
        )
        last_day = jobs.latest_local_day(engine, tz)
        timed(
            "digest",
            lambda: digest(
                DigestParams(database_url=args.db, period="week", last_day=last_day, out_dir=str(out))
            ),
        )
        re = timed(
            "reclassify",
            lambda: reclassify(ReclassifyParams(model=args.model, database_url=args.db))["predicted"],
        )
        times["task overhead ms"] = 1000 * task_overhead(warm)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    counts = {"collected": collected["new"], "classified": classified, "reclassified": re}
    counts["digest rows"] = digest_rows(engine, last_day, tz)
    print("RESULT " + json.dumps({"times": times, "rss_mb": rss, "counts": counts}))


def digest_rows(engine, last_day, tz: str) -> int:
    """Rows the weekly digest reads: its week and the trailing history it compares the week with."""
    from datetime import time as clock
    from zoneinfo import ZoneInfo

    from sqlalchemy import func, select

    from digest.build import Period, history_start
    from storage.schema import items

    period = Period.ending("week", last_day)
    since = datetime.combine(history_start(period), clock.min, ZoneInfo(tz))
    _, end = period.bounds(tz)
    with engine.connect() as conn:
        where = (items.c.created_at >= since, items.c.created_at < end)
        return int(conn.execute(select(func.count()).select_from(items).where(*where)).scalar_one())


def task_overhead(url: str, calls: int = 50) -> float:
    """Seconds a trivial task costs as a task run over calling its function (one flow, ``calls`` tasks)."""
    from prefect import flow

    from flows import tasks
    from suara import jobs

    engine = jobs.db.get_engine(url)

    @flow(name="bench-task-overhead")
    def trivial() -> float:
        start = time.perf_counter()
        for _ in range(calls):
            tasks.newest_day(url)
        return time.perf_counter() - start

    as_tasks = trivial()
    start = time.perf_counter()
    for _ in range(calls):
        jobs.latest_local_day(engine, "Asia/Jakarta")
    return (as_tasks - (time.perf_counter() - start)) / calls


# -- the parent: servers, databases, children, report -----------------------------------------------------------
def pg_available() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


def run_child(
    n: int, store: str, mode: str, data: Path, model: str, work: Path, api: str, sentiment: str | None = None
) -> dict:
    import psycopg

    tag = f"{n}-{store}-{mode}" + ("-transformer" if sentiment else "")
    db_name = f"suara_bench_{os.getpid()}_{n}_{mode}" + ("_t" if sentiment else "")
    if store == "sqlite":
        url = f"sqlite:///{work / f'{tag}.db'}"
    else:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {db_name}")
            conn.execute(f"CREATE DATABASE {db_name}")
        url = PG_URL.format(db=db_name)
    env = {
        **os.environ,
        "PREFECT_API_URL": api,
        "HF_HUB_OFFLINE": "1",
        "SUARA_MODEL_DIR": str(work / "model_store"),
        "SUARA_SENTIMENT_MODEL": sentiment or "sentiment-tfidf",
    }
    cmd = [sys.executable, __file__, "--child", "--mode", mode, "--db", url, "--data", str(data)]
    cmd += ["--model", model, "--work", str(work / tag)] + (["--topics"] if sentiment else [])
    (work / tag).mkdir(exist_ok=True)
    try:
        start = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800, cwd=work)
        wall = time.perf_counter() - start
    finally:
        if store == "postgres":
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if done.returncode or not line:
        raise SystemExit(f"{n} {store} {mode} failed:\n{done.stderr[-3000:]}")
    result = json.loads(line.removeprefix("RESULT "))
    result["process_wall"] = wall
    print(f"  {tag:<32} " + " ".join(f"{k} {v:6.1f}s" for k, v in result["times"].items()))
    return result


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}" if seconds > 0 else "–"


def report(results: dict, sizes: list[int], stores: list[str], skipped: dict[str, str]) -> str:
    lines = [
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {os.cpu_count()} CPUs (shared) · Python "
        f"{platform.python_version()} · classify: fast tier = released TF-IDF sentiment, transformer tier = "
        f"{transformer_label(results)} with topics from the same pass (`topics-e5-shared`); fast tier without "
        "topics · "
        "one process per row · Prefect server on "
        "SQLite at 127.0.0.1",
        "",
        "| items | store | mode | tier | collect s | classify s | digest s | total s | items/s | "
        "reclassify items/s | model load s | peak RSS MB | Prefect overhead |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for tier, n, store in [(t, n, s) for t in TIERS for n in sorted({k[0] for k in results}) for s in stores]:
        direct = results.get((n, store, "direct", tier))
        for mode in ("direct", "flow"):
            r = results.get((n, store, mode, tier))
            if not r:
                continue
            t = r["times"]
            total = t["collect"] + t["classify"] + t["digest"]
            overhead = ""
            if mode == "flow" and direct:
                d = direct["times"]
                d_total = d["collect"] + d["classify"] + d["digest"]
                overhead = f"{100 * (total - d_total) / total:.1f}%"
            lines.append(
                f"| {n:,} | {store} | {mode} | {tier} | {t['collect']:.1f} | {t['classify']:.1f} | "
                f"{t['digest']:.1f} | {total:.1f} | {rate(n, total)} | {rate(n, t['reclassify'])} | "
                f"{t['model load']:.1f} | {r['rss_mb']:.0f} | {overhead} |"
            )
    for what, why in skipped.items():
        lines.append(f"| {what} | | | not run | {why} | | | | | | | | |")
    overheads = [r["times"]["task overhead ms"] for r in results.values() if "task overhead ms" in r["times"]]
    if overheads:
        lines += [
            "",
            f"Prefect per-task overhead: {min(overheads):.1f}–{max(overheads):.1f} ms per task run (a trivial task "
            "called 50 times in one flow, against calling its function). The rest of the flow overhead is a fixed "
            "cost per flow run (creating and finishing the run, its subflows, its artifact), so its share falls "
            "as runs grow.",
        ]
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        lines += [
            "",
            f"Linearity (fast tier): time at {large:,} ÷ time at {small:,} items (×{large / small:.0f} the data; "
            f"{large / small:.1f} = linear).",
            "",
            "| store | mode | " + " | ".join(STAGES) + " |",
            "|---|---|" + "---|" * len(STAGES),
        ]
        for store in stores:
            for mode in ("direct", "flow"):
                a, b = results.get((small, store, mode, "fast")), results.get((large, store, mode, "fast"))
                if a and b:
                    ratios = [b["times"][s] / a["times"][s] for s in STAGES]
                    lines.append(f"| {store} | {mode} | " + " | ".join(f"{x:.1f}" for x in ratios) + " |")
    return "\n".join(lines)


def capacity(results: dict, sizes: list[int], stores: list[str]) -> str:
    """The arithmetic for 1M and 10M posts a day from the largest measured PostgreSQL flow run."""
    store = "postgres" if "postgres" in stores else stores[0]
    n = sizes[-1]
    r = results.get((n, store, "flow", "fast")) or results[(n, store, "direct", "fast")]
    t = r["times"]
    tr = next((v for k, v in sorted(results.items(), reverse=True) if k[3] == "transformer"), None)
    tr_classify = tr["times"]["classify"] / tr["counts"]["classified"] if tr else None
    per_item = {s: t[s] / n for s in ("collect", "classify", "reclassify")}  # seconds per item, one process
    rows = r["counts"]["digest rows"]
    per_row = t["digest"] / rows  # the weekly digest's seconds per row it reads
    lines = [
        f"Measured by `bench/bench_e2e.py` ({datetime.now(UTC):%Y-%m-%d}): {n:,} items, store {store}, as Prefect "
        f"flows, one process on a shared 2-CPU machine: collect + store {n / t['collect']:,.0f} items/s, classify "
        f"(TF-IDF sentiment) {n / t['classify']:,.0f} items/s, reclassify "
        f"{n / t['reclassify']:,.0f} items/s, digest of a "
        f"week {t['digest']:.1f} s for the {rows:,} rows it reads (its week and 4 weeks of history), peak RSS "
        f"{r['rss_mb']:.0f} MB.",
        "",
        f"| posts a day | average items/s | busiest hour (×{PEAK_FACTOR}) items/s | CPU-hours a day (collect + "
        "classify) | worker processes at the busiest hour | reclassify 30 days with 8 processes | weekly digest "
        "rows read | weekly digest at the measured rate |",
        "|---|---|---|---|---|---|---|---|",
    ]
    measured = dict(per_item)
    tiers = [("fast", per_item["classify"])] + ([("transformer", tr_classify)] if tr_classify else [])
    for daily, (tier, classify_s) in [(d, x) for d in (1_000_000, 10_000_000) for x in tiers]:
        per_item = {**measured, "classify": classify_s}
        if tier == "transformer":  # reclassifying with it costs what classifying with it does
            per_item["reclassify"] = classify_s
        avg = daily / 86_400
        peak = avg * PEAK_FACTOR
        cpu_h = daily * (per_item["collect"] + per_item["classify"]) / 3600
        workers = peak * (per_item["collect"] + per_item["classify"])
        re_h = 30 * daily * per_item["reclassify"] / 8 / 3600
        week_rows = 35 * daily
        lines.append(
            f"| {daily:,} ({tier}) | {avg:,.0f} | {peak:,.0f} | {cpu_h:,.1f} | {max(1, -(-workers // 1)):.0f} "
            f"(load {workers:.2f}) | {re_h:,.1f} h | {week_rows / 1e6:,.0f} M | {week_rows * per_row / 60:,.0f} min |"
        )
    lines += [
        "",
        "Assumes collection and classification scale with processes (each worker has its own connection pool and "
        "model) and that one PostgreSQL keeps up with their writes; the store was measured with one writer only. "
        "Collection from the real sources is bound by their rate limits and plan quotas before CPU. The digest "
        "loads every row it reads into one process: the last column is a straight extrapolation, and at these "
        "volumes the digest has to aggregate in SQL instead (not measured). The transformer rows use its classify "
        "time per item from the transformer-tier run (ONNX Runtime int8, sentiment and topics from one encoder "
        "pass); the fast rows classify sentiment only (topics would add an e5 encoder pass per item: see the "
        "topics benchmark).",
    ]
    return "\n".join(lines)


TIERS = ("fast", "transformer")


def transformer_label(results: dict) -> str:
    refs = {r.get("sentiment") for k, r in results.items() if k[3] == "transformer"}
    return ", ".join(f"`{x}`" for x in sorted(filter(None, refs))) or "not run"


def default_transformer() -> str | None:
    """The product's default sentiment model (what ``suara classify`` uses on a new store), if it is a
    transformer or an ensemble with one; None when the default is the fast tier itself."""
    from models import registry
    from models.sentiment import split_runtime
    from suara.config import Settings

    ref = Settings(_env_file=None).sentiment_model
    kind = registry.ModelInfo.read(registry.resolve(split_runtime(ref)[0])).kind
    return ref if kind in ("transformer", "ensemble") else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--stores", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    parser.add_argument("--deploy", type=Path, default=ROOT / "docs" / "DEPLOY.md")
    parser.add_argument("--no-write", action="store_true", help="print the tables only")
    parser.add_argument("--save", type=Path, help="also keep the raw results as JSON here")
    parser.add_argument("--from-results", type=Path, help="write the tables from saved results, run nothing")
    parser.add_argument(
        "--skip",
        nargs="*",
        default=["100000:sqlite:flow"],
        help="SIZE:STORE:MODE runs to leave out (default keeps the whole run under ~10 minutes here)",
    )
    parser.add_argument(
        "--transformer",
        default="auto",
        help="transformer tier model (name[+runtime]); 'none' to leave it out",
    )
    parser.add_argument(
        "--transformer-runs",
        nargs="*",
        default=["10000:postgres:direct", "10000:postgres:flow"],
        help="SIZE:STORE:MODE runs repeated with the transformer tier",
    )
    # child mode (one measured run)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=["direct", "flow"])
    parser.add_argument("--db")
    parser.add_argument("--data")
    parser.add_argument("--model")
    parser.add_argument("--work")
    parser.add_argument("--topics", action="store_true")
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    stores, skipped = list(args.stores), {}
    if args.from_results:
        saved = json.loads(args.from_results.read_text(encoding="utf-8"))
        results = {(*k, "fast")[:4]: v for k, v in saved}  # older files have no tier: fast
        write_reports(results, args, [s for s in stores if any(k[1] == s for k in results)], skipped)
        return
    if "postgres" in stores and (why := pg_available()):
        stores.remove("postgres")
        skipped["postgres"] = f"PostgreSQL at 127.0.0.1:5432 does not answer ({why})"
    transformer = default_transformer() if args.transformer == "auto" else args.transformer
    if transformer in (None, "none"):
        skipped["transformer tier"] = (
            "no transformer model released" if transformer is None else "--transformer none"
        )
    with tempfile.TemporaryDirectory(prefix="suara-bench-") as tmp:
        work = Path(tmp)
        model = train_sample_model(work / "models", name="sentiment-bench")
        results: dict = {}
        try:
            server, api, _env = start_prefect_server(work / "prefect")
        except ServerStartError as exc:
            raise SystemExit(str(exc)) from exc
        try:
            for n in args.sizes:
                data = generate(n, work / f"items-{n}.jsonl")
                for store in stores:
                    for mode in ("direct", "flow"):
                        key = f"{n}:{store}:{mode}"
                        if key not in args.skip:
                            results[(n, store, mode, "fast")] = run_child(
                                n, store, mode, data, model, work, api
                            )
                        if transformer not in (None, "none") and key in args.transformer_runs:
                            r = run_child(n, store, mode, data, model, work, api, sentiment=transformer)
                            results[(n, store, mode, "transformer")] = {**r, "sentiment": transformer}
        finally:
            stop(server)
    if args.save:
        args.save.write_text(json.dumps([[list(k), v] for k, v in results.items()]), encoding="utf-8")
    write_reports(results, args, stores, skipped)


def write_reports(
    results: dict, args: argparse.Namespace, stores: list[str], skipped: dict[str, str]
) -> None:
    left_out = [k for k in args.skip if int(k.split(":")[0]) in args.sizes]
    skipped.update({k: "left out to keep the whole run under ~10 minutes (`--skip`)" for k in left_out})
    table = report(results, args.sizes, stores, skipped)
    print(table)
    cap = capacity(results, args.sizes, stores)
    print(cap)
    if not args.no_write:
        from bench._markers import write_between

        heading = "## End to end: collect → classify → digest, reclassify (`bench/bench_e2e.py`)"
        write_between(args.out, BENCH_BEGIN, BENCH_END, table, heading)
        write_between(args.deploy, CAP_BEGIN, CAP_END, cap, "## Measured capacity")
        print(f"wrote {args.out} and {args.deploy}")


if __name__ == "__main__":
    main()
