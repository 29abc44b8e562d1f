"""The review loop, measured: what a reviewer's labels from the product's own feedback do for the topic model.

    python bench/eval_review_loop.py [--data-dir ../shared/data] [--budgets 0 25 50 100 all] [--write-docs]
    python bench/eval_review_loop.py --budgets 0 --sentiment-steps 120     # + the sentiment model (≈ 15 min)

On the bundled sample (432 posts and tickets over six weeks, with gold labels) in a SQLite store classified by
the default models: a reviewer labels K items of the first three weeks, picked as ``suara review export`` picks
them (the least confident topic predictions first) or at random (3 seeds), and imports them with
``suara review import``; ``suara review labels`` exports them and a topic model is trained on
``topics/train.jsonl`` plus those labels, with the released model's arguments and encoder. Scored on the last
three weeks (never labelled) and on the topic dev set (never trained on). The reviewer's labels are the
sample's gold labels.

``--sentiment-steps N``: the same for the transformer sentiment model, all of the first three weeks reviewed:
N steps of a short stage from the released adapter with the released model's second-stage arguments, once
with the reviewed labels (``--extra-data``) and once without them (the control: the same steps on the same
mix), each scored on the last three weeks, SmSA test and the dev set.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench._args import add_data_dir  # noqa: E402
from bench._markers import write_between  # noqa: E402

SPLIT = datetime(2026, 10, 26, tzinfo=ZoneInfo("Asia/Jakarta"))  # weeks 1–3 reviewed, weeks 4–6 scored
DOC = ROOT / "docs" / "MODELS.md"
BEGIN, END = "<!-- review-loop-table:begin -->", "<!-- review-loop-table:end -->"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_dir(parser)
    parser.add_argument(
        "--budgets",
        nargs="+",
        default=["0", "25", "50", "100", "all"],
        help="items reviewed; 'all': the pool",
    )
    parser.add_argument("--sentiment-steps", type=int, default=0, help="also the sentiment model (0: skip)")
    parser.add_argument("--seeds", type=int, default=3, help="random picks per budget")
    parser.add_argument("--write-docs", action="store_true", help=f"rewrite the table in {DOC.name}")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="suara-review-"))
    os.environ["SUARA_DATABASE_URL"] = f"sqlite:///{work / 'base.db'}"
    os.environ["SUARA_DATA_DIR"] = str(args.data_dir)
    from suara.config import get_settings

    get_settings.cache_clear()
    from models.taxonomy import load_taxonomy
    from models.topics import TopicModel, load_topic_labels, topic_scores, train_topics
    from storage import schema
    from suara import jobs, review

    engine = jobs.engine_for()
    jobs.collect_file(engine, jobs.SAMPLE_FILE)
    t0 = time.perf_counter()
    classified = jobs.classify_pending(engine)
    classify_s = time.perf_counter() - t0
    engine.dispose()
    released = TopicModel.from_pretrained(classified.topics_model_version)
    taxonomy = load_taxonomy(None)
    gold_by_source_id = {
        (o := json.loads(line))["id"]: o["gold"] for line in jobs.SAMPLE_FILE.read_text("utf-8").splitlines()
    }
    from sqlalchemy import select

    with engine.connect() as conn:
        stored = conn.execute(
            select(
                schema.items.c.id, schema.items.c.source_id, schema.items.c.text, schema.items.c.created_at
            )
        ).all()
    pool = [r for r in stored if r.created_at < SPLIT]
    held = [r for r in stored if r.created_at >= SPLIT]
    held_gold = [gold_by_source_id[r.source_id]["topics"] for r in held]
    dev = load_topic_labels(args.data_dir / "topics" / "dev.jsonl", taxonomy)
    gold_of = {r.id: gold_by_source_id[r.source_id] for r in stored}
    print(
        f"sample: {len(stored)} items, {len(pool)} before {SPLIT.date()} (the review pool), {len(held)} after "
        f"(scored); classified by {classified.model_version} + {classified.topics_model_version} in "
        f"{classify_s:.1f} s",
        flush=True,
    )

    def run(k: int, pick: str, seed: int) -> dict[str, float]:
        db = work / f"{pick}-{k}-{seed}.db"
        shutil.copy(work / "base.db", db)
        os.environ["SUARA_DATABASE_URL"] = f"sqlite:///{db}"
        get_settings.cache_clear()
        eng = jobs.engine_for()
        files = [args.data_dir / "topics" / "train.jsonl"]
        if k:
            queue = work / f"queue-{pick}-{k}-{seed}.csv"
            if pick == "least confident":
                review.export_queue(eng, queue, task="topics", limit=k, end=SPLIT)
            else:
                review.export_queue(eng, queue, task="topics", limit=len(pool), end=SPLIT)
            with queue.open(encoding="utf-8", newline="") as f:
                rows = list(csv.DictReader(f))
            if pick == "random":
                import random

                rows = random.Random(seed).sample(rows, min(k, len(rows)))
            for r in rows:  # the reviewer
                g = gold_of[int(r["item_id"])]
                r.update(sentiment=g["sentiment"], topics=";".join(g["topics"]))
            with queue.open("w", encoding="utf-8", newline="") as f:
                w = csv.DictWriter(f, fieldnames=list(rows[0]))
                w.writeheader()
                w.writerows(rows)
            review.import_labels(eng, queue, labeller="gold")
            labels = work / f"labels-{pick}-{k}-{seed}.jsonl"
            review.export_training(eng, "topics", labels)
            files.append(labels)
        eng.dispose()
        t = time.perf_counter()
        path = train_topics(
            None,
            files,
            out_root=work / "models",
            args=released.args,
            name=f"topics-review-{k}",
        )
        train_s = time.perf_counter() - t
        model = TopicModel.from_pretrained(path)
        emb_held = model.embedder.encode([r.text for r in held])
        emb_dev = model.embedder.encode(dev.texts)
        h = topic_scores(held_gold, model.predict([r.text for r in held], embeddings=emb_held), taxonomy.ids)
        d = topic_scores(dev.topics, model.predict(dev.texts, embeddings=emb_dev), taxonomy.ids)
        return {"held": h["micro_f1"], "held_macro": h["macro_f1"], "dev": d["micro_f1"], "train_s": train_s}

    base_held = topic_scores(
        held_gold,
        released.predict([r.text for r in held], embeddings=released.embedder.encode([r.text for r in held])),
        taxonomy.ids,
    )
    budgets = [len(pool) if b == "all" else min(int(b), len(pool)) for b in args.budgets]
    results: list[tuple[int, str, dict[str, float]]] = []
    for k in budgets:
        random_picks = 0 < k < len(pool)  # all of the pool: every pick is the same set
        picks = [("least confident", 0)] + (
            [("random", s) for s in range(args.seeds)] if random_picks else []
        )
        for pick, seed in picks:
            r = run(k, pick, seed)
            print(f"K={k:4d} {pick:16s} seed {seed}: {json.dumps(r)}", flush=True)
            results.append((k, pick, r))

    def mean(k: int, pick: str, key: str) -> float:
        vals = [r[key] for kk, p, r in results if kk == k and p == pick]
        return sum(vals) / len(vals)

    lines = [
        f"Measured by `python bench/eval_review_loop.py` on {datetime.now().date()}. Micro-F1 % of topic models "
        f"trained on `topics/train.jsonl` plus K items of the bundled sample's first three weeks labelled through "
        f"`suara review export` → `import` → `labels` (the reviewer's labels are the sample's gold labels), with "
        f"the arguments and encoder of `{released.version}`; scored on the last three weeks ({len(held)} items, "
        f"never labelled) and the topic dev set (240, never trained on). Random picks: mean of {args.seeds} seeds. "
        f"The released model itself scores {100 * base_held['micro_f1']:.1f} on those weeks.",
        "",
        "| reviewed items K | picked by | weeks 4–6 micro-F1 | weeks 4–6 macro-F1 | dev micro-F1 | training s |",
        "|---|---|---|---|---|---|",
    ]
    for k in budgets:
        for pick in ("least confident", "random"):
            if not any(kk == k and p == pick for kk, p, _ in results):
                continue
            label = pick
            if k == 0:
                label = "none (train.jsonl and seeds only)"
            elif k == len(pool):
                label = f"all {k} of the first three weeks"
            lines.append(
                f"| {k} | {label} | {100 * mean(k, pick, 'held'):.1f} | {100 * mean(k, pick, 'held_macro'):.1f} "
                f"| {100 * mean(k, pick, 'dev'):.1f} | {mean(k, pick, 'train_s'):.1f} |"
            )
    if args.sentiment_steps:
        lines += ["", *sentiment_loop(args, work, pool, held, gold_of)]
    body = "\n".join(lines)
    print("\n" + body)
    if args.write_docs:
        write_between(DOC, BEGIN, END, body, "### The review loop")
    shutil.rmtree(work, ignore_errors=True)


def sentiment_loop(args: argparse.Namespace, work: Path, pool: list, held: list, gold_of: dict) -> list[str]:
    """Continue the released sentiment adapter for ``args.sentiment_steps`` steps with and without the first
    three weeks' reviewed sentiment labels; score both and the released model on the last three weeks."""
    from dataclasses import replace

    from models.evaluate import score
    from models.sentiment import SentimentModel
    from models.train_transformer import continue_args, train_sentiment_transformer

    released = SentimentModel.from_pretrained("sentiment-e5-lora")
    labels = work / "pool-sentiment.jsonl"
    labels.write_text(  # what `suara review labels --task sentiment` writes for a fully reviewed pool
        "".join(
            json.dumps({"id": f"item-{r.id}", "text": r.text, "sentiment": gold_of[r.id]["sentiment"]}) + "\n"
            for r in pool
        ),
        encoding="utf-8",
    )
    base = continue_args(  # what `suara train sentiment --kind transformer --init-from` starts from
        released.version,
        None,
        max_steps=args.sentiment_steps,
        eval_every=10**6,  # no early stopping on dev: the weights after N steps
    )
    held_texts = [r.text for r in held]
    held_gold = [gold_of[r.id]["sentiment"] for r in held]
    rows = []
    for label, extra in (
        ("released", None),
        ("control: same steps, no reviewed labels", ()),
        (f"with the {len(pool)} reviewed labels (×{base.indomain_repeat})", (str(labels),)),
    ):
        if extra is None:
            model, seconds = released, 0.0
        else:
            t = time.perf_counter()
            path = train_sentiment_transformer(
                args.data_dir,
                out_root=work / "models",
                args=replace(
                    base, name="sentiment-review" if extra else "sentiment-control", extra_data=extra
                ),
                run_dir=work / ("run-review" if extra else "run-control"),
                log=lambda m: print(m, flush=True) if "eval" in m or "data:" in m else None,
            )
            seconds = time.perf_counter() - t
            model = SentimentModel.from_pretrained(path)
        m = model.card["metrics"]
        held_f1 = score(held_gold, model.predict(held_texts), model.labels)["macro_f1"]
        rows.append(
            f"| {label} | {100 * held_f1:.1f} | {100 * m['smsa-test']['macro_f1']:.1f} | "
            f"{100 * m['topics-dev']['macro_f1']:.1f} | {seconds / 60:.0f} |"
        )
        print(rows[-1], flush=True)
    return [
        f"Sentiment (`{released.version}`, torch fp32; a {args.sentiment_steps}-step stage from its adapter with "
        "its second-stage arguments; macro-F1 %):",
        "",
        "| model | weeks 4–6 | SmSA test | dev | training min |",
        "|---|---|---|---|---|",
        *rows,
    ]


if __name__ == "__main__":
    main()
