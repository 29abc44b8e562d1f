"""Fine-tune the transformer sentiment model: the script behind the released model's numbers.

    python bench/train_sentiment_transformer.py --max-minutes 90 [--epochs 3] [--method lora] [--lora-r 16] ...
    python bench/train_sentiment_transformer.py --time-steps 20 --compare-full   # s/step: LoRA vs full, in turns

Logs progress (loss, s/step, time left, evaluations) to stdout and ``RUN_DIR/train.log``; checkpoints the adapter,
optimizer and position to ``RUN_DIR/checkpoint`` every ``--checkpoint-every`` steps, so running the same command
again after an interruption resumes (``--max-minutes`` counts training time across resumptions). Writes the model
directory (config with metrics and calibration, adapter, card) under ``--out/<name>/<version>`` and prints its
path; ``RUN_DIR/result.json`` repeats the metrics. Every option of ``TrainingArgs`` is a flag.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import fields, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench._args import add_data_dir  # noqa: E402
from models.train_transformer import (  # noqa: E402
    TrainingArgs,
    evaluation_sets,
    time_steps,
    train_sentiment_transformer,
    training_set,
)


def add_training_args(parser: argparse.ArgumentParser) -> None:
    for f in fields(TrainingArgs):
        default = f.default
        flag = "--" + f.name.replace("_", "-")
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
        elif isinstance(default, tuple):
            parser.add_argument(flag, nargs="+", default=default, help=f"default: {' '.join(default)}")
        elif f.name in ("max_steps", "eval_valid_limit", "lora_top_layers"):
            parser.add_argument(flag, type=int, default=default)
        else:
            parser.add_argument(flag, type=type(default), default=default, help=f"default: {default}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_dir(parser)
    parser.add_argument(
        "--out", type=Path, default=Path(os.environ.get("SUARA_MODEL_DIR", ROOT / "model_store"))
    )
    parser.add_argument(
        "--run-dir", type=Path, default=None, help="checkpoints and logs; default out/train/<name>"
    )
    parser.add_argument(
        "--max-minutes", type=float, default=None, help="training-time budget (LR decays to 0 by then)"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    parser.add_argument("--eval-limit", type=int, default=None, help="smoke runs: score only N rows per set")
    parser.add_argument(
        "--time-steps", type=int, default=0, help="only time this many training steps and exit"
    )
    parser.add_argument(
        "--compare-full",
        action="store_true",
        help="with --time-steps: also full fine-tuning (and LoRA on the last 6 layers), taking turns",
    )
    add_training_args(parser)
    ns = parser.parse_args()
    args = TrainingArgs(**{f.name: getattr(ns, f.name) for f in fields(TrainingArgs)})
    args.lora_targets, args.frozen, args.labels = (
        tuple(args.lora_targets),
        tuple(args.frozen),
        tuple(args.labels),
    )

    import torch

    if ns.threads:
        torch.set_num_threads(ns.threads)
    if ns.time_steps:
        time_only(ns.data_dir, args, ns.time_steps, ns.compare_full)
        return
    run_dir = ns.run_dir or ROOT / "out" / "train" / args.name
    run_dir.mkdir(parents=True, exist_ok=True)
    log_file = open(run_dir / "train.log", "a", encoding="utf-8")  # noqa: SIM115 - open for the whole run

    def log(msg: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True)
        log_file.write(line + "\n")
        log_file.flush()

    settings = {"max_minutes": ns.max_minutes, "threads": torch.get_num_threads(), **vars(args)}
    log(f"start: {json.dumps(settings, default=str)}")
    path = train_sentiment_transformer(
        ns.data_dir,
        out_root=ns.out,
        args=args,
        run_dir=run_dir,
        max_minutes=ns.max_minutes,
        eval_limit=ns.eval_limit,
        log=log,
    )
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    result = {
        "model_dir": str(path),
        "version": config["version"],
        "metrics": {
            k: {"macro_f1": v["macro_f1"], "accuracy": v["accuracy"], "n": v["n"]}
            for k, v in config["metrics"].items()
        },
        "calibration": config["calibration"],
        "training": {k: v for k, v in config["training"].items() if k != "history"},
    }
    (run_dir / "result.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    log(json.dumps(result["metrics"]))
    print(path)


def time_only(data_dir: Path, args: TrainingArgs, n_steps: int, compare_full: bool) -> None:
    """Seconds per step on real batches of the training data; with ``compare_full``, full fine-tuning with the
    word embeddings frozen takes turns with the configured run on the same batches. The first step of each is
    reported apart (warm-up)."""
    import torch

    from models.transformer import build_net

    evals = evaluation_sets(data_dir)
    data = training_set(data_dir, args, [t for texts, _ in evals.values() for t in texts], log=lambda _: None)
    configs = {f"{args.method}": args}
    if compare_full and args.method == "lora" and not args.lora_top_layers:
        configs["lora, last 6 layers"] = replace(args, lora_top_layers=6)
    if compare_full:
        configs["full (word embeddings frozen)"] = replace(args, method="full")
    nets, tokenizer = {}, None
    for name, a in configs.items():
        nets[name], tokenizer, _ = build_net(a.encoder, len(a.labels), a.adapter())
    times = time_steps(nets, tokenizer, args, data, n_steps + 1)
    for name, t in times.items():
        rest = t[1:]
        result = {
            "config": name,
            "batch_size": args.batch_size,
            "max_length": args.max_length,
            "trainable_parameters": sum(p.numel() for p in nets[name].parameters() if p.requires_grad),
            "first_step_s": round(t[0], 2),
            "mean_s_per_step": round(statistics.mean(rest), 3),
            "median_s_per_step": round(statistics.median(rest), 3),
            "steps": len(rest),
            "threads": torch.get_num_threads(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
        }
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
