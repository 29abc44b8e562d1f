"""Sentiment inference speed: the naive transformers pipeline vs our torch path, our int8 path and the fast tier.

    python bench/bench_sentiment_speed.py [--model NAME_OR_PATH] [--n 1000] [--out docs/BENCHMARKS.md]

All in one run, on SmSA test texts (the bundled sample when the shared data is absent), each path in its own
process so that its peak RSS is its own:

- naive: ``transformers.pipeline("text-classification")`` called one post at a time, on the same base encoder
  with a sequence-classification head (an untrained head: the speed is what is measured);
- torch: ``TransformerSentimentModel.predict_proba``: batches of similar length, ``torch.inference_mode``, LoRA
  merged into the weights;
- int8: the same model through ``torch.ao.quantization.quantize_dynamic`` (``name+int8``, per-tensor weights);
- onnx / onnx-int8: the same model on ONNX Runtime, exported, fused and (int8) dynamically quantised with
  per-channel weights (``name+onnx``, ``name+onnx-int8``; ``models/onnxrt.py``); the one-off export is done
  before timing, so "load" is what every later process pays;
- ensemble: ``sentiment-e5-tfidf+onnx-int8``, the quantised path and the TF-IDF model averaged
  (``models/ensemble.py``);
- fast tier: the TF-IDF model (``sentiment-tfidf``).

Posts/s, the ratio to the naive pipeline, peak RSS, load time; for the paths that carry our trained labels,
macro-F1 on SmSA test and agreement with fp32. Writes the table between markers in ``docs/BENCHMARKS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench._args import add_data_dir  # noqa: E402

BEGIN, END = "<!-- sentiment-speed:begin -->", "<!-- sentiment-speed:end -->"
HEADING = "## Sentiment inference speed (`bench/bench_sentiment_speed.py`)"
PATHS = ("naive", "torch", "int8", "onnx", "onnx-int8", "ensemble", "fast")
ENSEMBLE = "sentiment-e5-tfidf"  # the released ensemble: the transformer on ONNX int8 and the TF-IDF model


def load_texts(data_dir: Path) -> tuple[list[str], list[str] | None, str]:
    smsa = data_dir / "sentiment" / "smsa" / "test.tsv"
    if smsa.is_file():
        from models.data import load_labelled

        texts, labels = load_labelled(smsa)
        return texts, labels, "SmSA test texts"
    sample = ROOT / "suara" / "sample" / "feedback.jsonl"
    return (
        [json.loads(x)["text"] for x in sample.read_text(encoding="utf-8").splitlines()],
        None,
        "sample texts",
    )


def default_transformer(model_dir: Path | None) -> str:
    from models import registry

    found = [i for i in registry.available(model_dir) if i.kind == "transformer"]
    if not found:
        raise SystemExit(
            "no transformer sentiment model found; train one (bench/train_sentiment_transformer.py) or pass --model"
        )
    return str(found[0].path)


# -- one path, in its own process -------------------------------------------------------------------------------
def worker(path: str, model_ref: str, n: int, data_dir: Path, threads: int | None) -> dict:
    import torch

    if threads:
        torch.set_num_threads(threads)
    import models.transformer  # noqa: F401  (registers the "transformer" kind)

    pool, _, _ = load_texts(data_dir)
    texts = [pool[i % len(pool)] for i in range(n)]
    started = time.perf_counter()
    if path == "naive":
        from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline
        from transformers.utils import logging as hf_logging

        from models.sentiment import SentimentModel

        hf_logging.set_verbosity_error()  # "newly initialised head" is expected here
        model = SentimentModel.from_pretrained(model_ref)
        from models.encoders import resolve_encoder

        ref = resolve_encoder(model.base_encoder["name"], source=model.base_encoder.get("source", "auto"))
        tok = AutoTokenizer.from_pretrained(str(ref))
        clf = AutoModelForSequenceClassification.from_pretrained(str(ref), num_labels=3)
        pipe = pipeline("text-classification", model=clf, tokenizer=tok, device="cpu")
        prefix = model.prefix
        del model

        def run(batch: list[str]) -> list:
            return [pipe(prefix + t, truncation=True, max_length=128) for t in batch]
    elif path in ("torch", "int8", "onnx", "onnx-int8"):
        from models.sentiment import SentimentModel

        model = SentimentModel.from_pretrained(model_ref if path == "torch" else f"{model_ref}+{path}")

        def run(batch: list[str]) -> list:
            return model.predict(batch)
    elif path == "ensemble":
        from models.sentiment import SentimentModel

        model = SentimentModel.from_pretrained(f"{ENSEMBLE}+onnx-int8")

        def run(batch: list[str]) -> list:
            return model.predict(batch)
    elif path == "fast":
        from models.sentiment import SentimentModel

        model = SentimentModel.from_pretrained("sentiment-tfidf")

        def run(batch: list[str]) -> list:
            return model.predict(batch)
    else:
        raise SystemExit(f"unknown path {path}")
    load_s = time.perf_counter() - started
    run(texts[:16])  # warm-up
    t0 = time.perf_counter()
    preds = run(texts)
    elapsed = time.perf_counter() - t0
    return {
        "path": path,
        "n": n,
        "posts_per_s": n / elapsed,
        "load_s": load_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": torch.get_num_threads(),
        "predictions": preds[: len(pool)] if path != "naive" else None,
        "version": getattr(model, "version", None) if path != "naive" else None,
    }


def run_worker(path: str, args: argparse.Namespace, model_ref: str, n: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", path, "--model", model_ref, "--n", str(n)]
    cmd += ["--data-dir", str(args.data_dir)] + (["--threads", str(args.threads)] if args.threads else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(f"{path} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default=None, help="transformer model name, version or dir (default: newest)"
    )
    parser.add_argument(
        "--model-dir", type=Path, default=Path(os.environ.get("SUARA_MODEL_DIR", ROOT / "model_store"))
    )
    parser.add_argument("--n", type=int, default=1000, help="posts per batched path")
    parser.add_argument("--n-naive", type=int, default=200, help="posts for the batch-1 pipeline")
    parser.add_argument("--threads", type=int, default=None)
    add_data_dir(parser)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    parser.add_argument("--worker", choices=PATHS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.model, args.n, args.data_dir, args.threads)))
        return

    model_ref = args.model or default_transformer(args.model_dir)
    _texts, labels, source = load_texts(args.data_dir)
    for p in ("onnx", "onnx-int8"):  # the one-off export and quantisation, outside the timed runs
        run_worker(p, args, model_ref, 16)
    results = {p: run_worker(p, args, model_ref, args.n_naive if p == "naive" else args.n) for p in PATHS}
    for r in results.values():
        print(f"{r['path']}: {r['posts_per_s']:.1f} posts/s, peak RSS {r['peak_rss_mb']:.0f} MB", flush=True)
    base = results["naive"]["posts_per_s"]
    fp32 = results["torch"]["predictions"]
    quality = {}
    for p in PATHS[1:]:
        preds = results[p]["predictions"]
        agree = sum(a == b for a, b in zip(preds, fp32, strict=True)) / len(fp32)
        f1 = None
        if labels:
            from models.evaluate import score

            f1 = score(labels[: len(preds)], preds, ("negative", "neutral", "positive"))["macro_f1"]
        quality[p] = (f1, agree)

    names = {
        "naive": 'naive `pipeline("text-classification")`, batch 1 (baseline)',
        "torch": "our torch path (length-sorted batches of 32, fp32)",
        "int8": "torch dynamic int8 (per-tensor weights)",
        "onnx": "ONNX Runtime fp32 (fused)",
        "onnx-int8": "our quantised path: ONNX Runtime int8 (per-channel, fused)",
        "ensemble": f"`{ENSEMBLE}+onnx-int8`: the quantised path and the TF-IDF model, averaged",
        "fast": "fast tier: TF-IDF + logistic regression",
    }
    lines = [
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {os.cpu_count()} CPUs, torch threads "
        f"{results['torch']['threads']} · Python {platform.python_version()} · {source} "
        f"(naive n = {args.n_naive}, others n = {args.n}) · model `{results['torch']['version']}`",
        "",
        "| path | posts/s | × naive | peak RSS | load | SmSA test macro-F1 | agrees with fp32 |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in PATHS:
        r = results[p]
        f1, agree = quality.get(p, (None, None))
        lines.append(
            f"| {names[p]} | {r['posts_per_s']:,.1f} | {r['posts_per_s'] / base:.2f}× | {r['peak_rss_mb']:,.0f} MB | "
            f"{r['load_s']:.1f} s | {'' if f1 is None else f'{f1:.3f}'} | {'' if agree is None else f'{agree:.1%}'} |"
        )
    table = "\n".join(lines)
    print(table)
    from bench._markers import write_between

    write_between(args.out, BEGIN, END, table, HEADING)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
