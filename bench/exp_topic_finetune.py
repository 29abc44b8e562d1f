"""Experiment (not a release path): fine-tune e5-small with LoRA as a multi-label topic classifier and score it.

    python bench/exp_topic_finetune.py [--epochs 4] [--lora-r 16] [--lr 5e-4]

Trains on topics/train.jsonl (800) plus the taxonomy's seed examples (binary cross-entropy per learned topic,
positive weights sqrt(negatives/positives); ``lainnya`` = no topic), batch 16, warm-up + linear decay, and after
every epoch scores the dev set (topics/dev.jsonl, never trained on) and the bundled sample with the released
model's decoding (thresholds 0.5, floor 0.2, at most 3 topics, a second one at ``ratio`` of the first's score),
alone and blended with the keyword evidence like ``TopicModel`` (weight 0.3). Prints one JSON line per epoch.
The question it answers: does adapting the encoder beat the linear head on frozen e5 (docs/MODELS.md, topics)?
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

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench._args import add_data_dir  # noqa: E402
from models.encoders import E5_SMALL  # noqa: E402
from models.taxonomy import load_taxonomy  # noqa: E402
from models.text import load_lexicon  # noqa: E402
from models.topics import decode, keyword_matrix, keyword_scores, load_topic_labels, topic_scores  # noqa: E402
from models.train_transformer import _collate  # noqa: E402
from models.transformer import DEFAULT_TARGETS, build_net, predict_outputs  # noqa: E402

SAMPLE = ROOT / "suara" / "sample" / "feedback.jsonl"
PREFIX = "query: "


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_dir(parser)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--lora-r", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    tax = load_taxonomy()
    ids = tax.learned_ids
    train = load_topic_labels(args.data_dir / "topics" / "train.jsonl", tax)
    dev = load_topic_labels(args.data_dir / "topics" / "dev.jsonl", tax)
    seeds = tax.seed_examples()
    texts = list(train.texts) + [s for s, _ in seeds]
    labels = list(train.topics) + [t for _, t in seeds]
    y = np.array([[t in lab for t in ids] for lab in labels], dtype=np.float32)
    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    evals = {
        "dev": (dev.texts, dev.topics),
        "sample": ([r["text"] for r in rows], [r["gold"]["topics"] for r in rows]),
    }
    lexicon = load_lexicon()
    keywords = {k: keyword_matrix(tax, v[0], lexicon) for k, v in evals.items()}

    adapter = {"method": "lora", "r": args.lora_r, "alpha": 2 * args.lora_r, "targets": list(DEFAULT_TARGETS)}
    net, tokenizer, _ = build_net(E5_SMALL, len(ids), adapter)
    encoded = tokenizer([PREFIX + t for t in texts], truncation=True, max_length=128)["input_ids"]
    encoder_params = [p for n, p in net.named_parameters() if p.requires_grad and not n.startswith("head")]
    optimizer = torch.optim.AdamW(
        [{"params": encoder_params, "lr": args.lr}, {"params": net.head.parameters(), "lr": 2e-3}],
        weight_decay=0.01,
    )
    positives = y.sum(0)
    pos_weight = torch.tensor(np.sqrt((len(y) - positives) / np.maximum(positives, 1)), dtype=torch.float32)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    per_epoch = int(np.ceil(len(texts) / args.batch_size))
    total = args.epochs * per_epoch
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / (0.06 * total)) * max(0.0, 1 - s / total)
    )

    def micro_f1(name: str, logits: np.ndarray, prior: float, ratio: float) -> float:
        proba = 1 / (1 + np.exp(-logits))
        proba = (1 - prior) * proba + prior * keyword_scores(keywords[name])
        pred = decode(proba, ids, np.full(len(ids), 0.5), fallback=tax.fallback, floor=0.2, k=3, ratio=ratio)
        gold = [list(t) or [tax.fallback] for t in evals[name][1]]
        return round(topic_scores(gold, pred, tax.ids)["micro_f1"], 4)

    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        net.train()
        order, running = rng.permutation(len(texts)), 0.0
        for b in range(0, len(order), args.batch_size):
            idx = order[b : b + args.batch_size]
            input_ids, mask = _collate(encoded, idx, 0)  # pads are masked out, whatever their id
            loss = loss_fn(net(input_ids, mask), torch.tensor(y[idx]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            running += loss.item()
        logits = {
            k: predict_outputs(net, tokenizer, v[0], max_length=128, prefix=PREFIX)[0]
            for k, v in evals.items()
        }
        report = {
            "epoch": epoch,
            "loss": round(running / per_epoch, 4),
            "seconds": round(time.perf_counter() - start),
            **{
                f"{k} micro-F1 (keyword weight {prior}, ratio 0.7)": micro_f1(k, logits[k], prior, 0.7)
                for k in evals
                for prior in (0.0, 0.3)
            },
        }
        print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
