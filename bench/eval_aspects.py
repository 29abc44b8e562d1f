"""Aspect-level sentiment: how often each topic of a mixed post gets the sentiment its author shows towards it,
and how many real posts it concerns.

    python bench/eval_aspects.py [--data-dir ../shared/data]

- accuracy on tests/fixtures/aspects.jsonl (hand-written mixed posts, each praising one topic and blaming
  another), against giving every topic the item's own sentiment (at most half right by construction);
- coverage on the topic dev set (240 real posts): the share with two or more predicted topics in two or more
  clauses (those get aspect sentiments) and the share whose aspects differ from the item's sentiment (those get
  a stored row), with the default models (sentiment-e5-lora on ONNX int8, topics-e5-shared);
- cost: classifying the dev set with and without the aspect step.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench._args import add_data_dir  # noqa: E402

MIXED = ROOT / "tests" / "fixtures" / "aspects.jsonl"


def main() -> None:
    from models.aspects import aspect_sentiments
    from models.sentiment import SentimentModel
    from models.topics import TopicModel, load_topic_labels

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_dir(parser)
    args = parser.parse_args()

    sentiment = SentimentModel.from_pretrained("sentiment-e5-lora+onnx-int8")
    topics = TopicModel.from_pretrained("topics-e5-shared")
    rows = [json.loads(line) for line in MIXED.read_text(encoding="utf-8").splitlines()]
    texts, gold = [r["text"] for r in rows], [r["aspects"] for r in rows]
    items = sentiment.predict(texts)
    found = aspect_sentiments(sentiment, topics, texts, [list(g) for g in gold], items)
    total = sum(len(g) for g in gold)
    right = sum(f[t] == s for f, g in zip(found, gold, strict=True) for t, s in g.items())
    base = sum(item == s for item, g in zip(items, gold, strict=True) for s in g.values())
    print(f"models: `{sentiment.version}`, `{topics.version}`\n")
    print("| on the hand-written mixed posts | topic judgements right |")
    print("|---|---|")
    print(f"| every topic takes the item's sentiment | {base} of {total} |")
    print(f"| aspect sentiment (clause by clause) | {right} of {total} |")

    dev = load_topic_labels(args.data_dir / "topics" / "dev.jsonl", topics.taxonomy)
    t0 = time.perf_counter()
    preds, vectors = sentiment.predict_detailed_with_vectors(dev.texts)
    predicted = topics.predict(dev.texts, embeddings=vectors)
    t1 = time.perf_counter()
    labels = [p.label for p in preds]
    aspects = aspect_sentiments(sentiment, topics, dev.texts, predicted, labels)
    t2 = time.perf_counter()
    judged = [a for a in aspects if a is not None]
    apart = [a for a, lab in zip(aspects, labels, strict=True) if a is not None and set(a.values()) != {lab}]
    n = len(dev.texts)
    print(
        f"\nTopic dev set ({n} real posts): {len(judged)} ({100 * len(judged) / n:.0f}%) have two or more predicted "
        f"topics in two or more clauses; {len(apart)} ({100 * len(apart) / n:.0f}%) get a topic judged apart from "
        f"the item. Sentiment and topics took {t1 - t0:.1f} s, the aspect step {t2 - t1:.1f} s more "
        f"({100 * (t2 - t1) / (t1 - t0):.0f}%)."
    )


if __name__ == "__main__":
    main()
