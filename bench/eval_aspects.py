"""Aspect-level sentiment: how often each topic of a mixed post gets the sentiment its author shows towards it,
and how many real posts it concerns.

    python bench/eval_aspects.py [--data-dir ../shared/data]

- accuracy on tests/fixtures/aspects.jsonl (hand-written mixed posts, each praising one topic and blaming
  another), against giving every topic the item's own sentiment (at most half right by construction);
- on the bundled sample and the topic dev set, which have a gold sentiment per post but none per topic: how many
  posts get aspects stored, and how often the judgements of their gold topics equal the post's gold sentiment,
  against the post's own predicted label (most posts are not mixed, so the aspect labels should not agree less
  often);
- cost: the aspect step's time beside classifying sentiment and topics.
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
SAMPLE = ROOT / "suara" / "sample" / "feedback.jsonl"


def main() -> None:
    from models.aspects import aspect_sentiments
    from models.sentiment import SentimentModel
    from models.topics import TopicModel

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
    right = sum(
        (f or {}).get(t, item) == s
        for f, g, item in zip(found, gold, items, strict=True)
        for t, s in g.items()
    )
    base = sum(item == s for item, g in zip(items, gold, strict=True) for s in g.values())
    print(f"models: `{sentiment.version}`, `{topics.version}`\n")
    print(f"| on {len(rows)} hand-written mixed posts | topic judgements right |")
    print("|---|---|")
    print(f"| every topic takes the post's sentiment | {base} of {total} |")
    print(f"| clause by clause | {right} of {total} |")

    sample = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    dev_file = args.data_dir / "topics" / "dev.jsonl"
    dev = [json.loads(line) for line in dev_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    sets = {
        "bundled sample (432, fictional)": (
            [r["text"] for r in sample],
            [(r["gold"]["sentiment"], r["gold"]["topics"]) for r in sample],
        ),
        "topic dev set (240, real)": ([r["text"] for r in dev], [(r["sentiment"], r["topics"]) for r in dev]),
    }
    print(
        "\n| set | posts with aspects stored | their judgements of a gold topic | equal to the post's gold "
        "sentiment: the post's predicted label | … the aspect label | sentiment + topics s | aspect step s |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, (texts, gold_items) in sets.items():
        t0 = time.perf_counter()
        preds, vectors = sentiment.predict_detailed_with_vectors(texts)
        predicted = topics.predict(texts, embeddings=vectors)
        t1 = time.perf_counter()
        labels = [p.label for p in preds]
        aspects = aspect_sentiments(sentiment, topics, texts, predicted, labels)
        t2 = time.perf_counter()
        stored = [
            (a, lab, g)
            for a, lab, g in zip(aspects, labels, gold_items, strict=True)
            if a is not None and set(a.values()) != {lab}
        ]
        judged = [(v, lab, g[0]) for a, lab, g in stored for t, v in a.items() if t in g[1]]
        print(
            f"| {name} | {len(stored)} | {len(judged)} | {sum(lab == g for _, lab, g in judged)} | "
            f"{sum(v == g for v, _, g in judged)} | {t1 - t0:.1f} | {t2 - t1:.1f} |"
        )


if __name__ == "__main__":
    main()
