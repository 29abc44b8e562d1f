"""Compress a fully fine-tuned sentiment model into a releasable one (≤ 10 MB) and measure what it costs.

    python bench/compress_sentiment.py --model model_store/sentiment-e5-full/<version> --ranks 16 32 48 64
    python bench/compress_sentiment.py --model ... --ranks 48 --save-rank 48 --name sentiment-e5 --out model_store

Full fine-tuning of e5-small beats LoRA on this machine's training budget, but its changed weights are 85 MB.
``models.transformer.compress_full`` keeps each large weight's change as a truncated SVD (rank r, fp16 factors)
and the small tensors as they are. For every rank this scores the compressed model on the evaluation sets next to
the full one (macro-F1, agreement of labels) and reports the release size; ``--save-rank`` writes that one as a
model directory (config, factors, card) and rewrites the table in docs/MODELS.md unless ``--print``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench._args import add_data_dir  # noqa: E402
from bench._markers import write_between  # noqa: E402
from models.evaluate import score  # noqa: E402
from models.sentiment import SentimentModel  # noqa: E402
from models.train_transformer import evaluation_sets, write_transformer_card  # noqa: E402
from models.transformer import compress_full  # noqa: E402

BEGIN, END = "<!-- compress-table:begin -->", "<!-- compress-table:end -->"


def scores(model, sets) -> tuple[dict[str, dict], dict[str, np.ndarray]]:
    """Per set: the metrics (``models.evaluate.score``) and the predicted label indices."""
    metrics, preds = {}, {}
    for name, (texts, labels) in sets.items():
        preds[name] = model.logits(texts).argmax(axis=1)
        metrics[name] = score(labels, [model.labels[i] for i in preds[name]], model.labels)
    return metrics, preds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a fully fine-tuned model (dir, name or version)")
    parser.add_argument("--ranks", type=int, nargs="+", default=[16, 32, 48, 64])
    parser.add_argument("--dtype", choices=["float16", "float32"], default="float16")
    parser.add_argument("--save-rank", type=int, default=None)
    parser.add_argument("--name", default="sentiment-e5", help="name of the saved compressed model")
    parser.add_argument("--out", type=Path, default=ROOT / "model_store")
    add_data_dir(parser)
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "MODELS.md")
    parser.add_argument("--print", action="store_true", help="print the table, leave the docs alone")
    args = parser.parse_args()

    torch.manual_seed(0)
    full = SentimentModel.from_pretrained(args.model)
    sets = evaluation_sets(args.data_dir)
    ref_metrics, ref_pred = scores(full, sets)
    ref_f1 = {c: 100 * m["macro_f1"] for c, m in ref_metrics.items()}
    cols = list(sets)
    lines = [
        "| model | release size | " + " | ".join(cols) + " | labels equal to full (all sets) | seconds |",
        "|---|---|" + "---|" * len(cols) + "---|---|",
        f"| full fine-tune `{full.version}` | {sum(v.numel() * 4 for v in full.weights.values()) / 2**20:.1f} MB "
        "(not releasable) | " + " | ".join(f"{ref_f1[c]:.1f}" for c in cols) + " | 100% | |",
    ]
    print(lines[-1], flush=True)
    dtype = getattr(torch, args.dtype)
    saved = None
    for rank in args.ranks:
        t0 = time.perf_counter()
        small = compress_full(full, rank, dtype=dtype, name=args.name)
        metrics, pred = scores(small, sets)
        f1 = {c: 100 * m["macro_f1"] for c, m in metrics.items()}
        seconds = time.perf_counter() - t0
        same = np.mean(np.concatenate([pred[c] == ref_pred[c] for c in cols]))
        with tempfile.TemporaryDirectory() as tmp:
            size = small.release_size(small.save_pretrained(tmp))
        cells = " | ".join(f"{f1[c]:.1f} ({f1[c] - ref_f1[c]:+.1f})" for c in cols)
        lines.append(
            f"| rank {rank}, {args.dtype} factors | {size / 2**20:.1f} MB | {cells} | {100 * same:.1f}% | "
            f"{seconds:.0f} |"
        )
        print(lines[-1], flush=True)
        if rank == args.save_rank:
            small.card["metrics"] = metrics
            small.card["evaluation_note"] = (
                f"compressed from `{full.version}` (rank {rank}); calibration is the full model's"
            )
            saved = small.save_pretrained(args.out / args.name / small.version)
            write_transformer_card(small, saved)
    table = "\n".join(
        [
            "Measured by `python bench/compress_sentiment.py` (macro-F1 %, change against the full model). "
            "Each large weight's fine-tuning change kept as a truncated SVD; biases, layer norms and position "
            "embeddings kept as they are.",
            "",
            *lines,
        ]
    )
    print(table)
    if saved:
        print(f"saved {saved}")
    if not args.print:
        write_between(args.docs, BEGIN, END, table, "### Compressing a full fine-tune")


if __name__ == "__main__":
    main()
