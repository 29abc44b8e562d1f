"""Accuracy of every available sentiment model on SmSA, NusaX (minus its SmSA overlap) and the topic dev set.

Writes the table between the markers in docs/MODELS.md (or prints it with --print).

    python bench/eval_sentiment.py [--data-dir ../shared/data] [--models NAME ...]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from models import registry  # noqa: E402
from models.data import load_labelled  # noqa: E402
from models.evaluate import evaluate  # noqa: E402
from models.sentiment import SentimentModel  # noqa: E402

BEGIN, END = "<!-- sentiment-table:begin -->", "<!-- sentiment-table:end -->"


def _key(text: str) -> str:
    # Letters and digits only: SmSA is tokenised ("bandung . tahu"), NusaX is not ("bandung. tahu").
    return re.sub(r"[\W_]+", "", text.lower())


def eval_sets(data_dir: Path) -> dict[str, tuple[list[str], list[str]]]:
    smsa = data_dir / "sentiment" / "smsa"
    sets = {
        "SmSA valid": load_labelled(smsa / "valid.tsv"),
        "SmSA test": load_labelled(smsa / "test.tsv"),
    }
    train_keys = {_key(t) for t in load_labelled(smsa / "train.tsv")[0]}
    nusax = load_labelled(data_dir / "sentiment" / "nusax-id" / "test.csv")
    kept = [(t, lab) for t, lab in zip(*nusax, strict=True) if _key(t) not in train_keys]
    sets[f"NusaX test − SmSA overlap (n={len(kept)})"] = ([t for t, _ in kept], [lab for _, lab in kept])
    sets["Topic dev set (public services)"] = load_labelled(data_dir / "topics" / "dev.jsonl")
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument(
        "--models", nargs="*", default=None, help="names/versions/paths (default: all released)"
    )
    parser.add_argument(
        "--runtimes",
        nargs="*",
        default=["onnx-int8", "int8"],
        help="for each transformer model, also score it on these runtimes (ONNX Runtime int8, torch int8)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "MODELS.md")
    parser.add_argument("--print", action="store_true", help="print the table instead of writing it")
    args = parser.parse_args()

    infos = [i for i in registry.available(args.model_dir) if i.task == "sentiment"]
    refs = args.models or [i.version for i in infos]
    kinds = {i.version: i.kind for i in infos} | {i.name: i.kind for i in infos}
    refs = [
        r
        for ref in refs
        for r in [ref]
        + [f"{ref}+{rt}" for rt in args.runtimes if kinds.get(ref) in ("transformer", "ensemble")]
    ]
    sets = eval_sets(args.data_dir)
    header = "| model | " + " | ".join(sets) + " |"
    lines = [header, "|" + "---|" * (len(sets) + 1)]
    fp32: dict[str, list[float]] = {}
    for ref in refs:
        model = SentimentModel.from_pretrained(ref, model_dir=args.model_dir)
        base = model.version.split("+", 1)[0]
        cells, f1s = [], []
        for texts, labels in sets.values():
            r = evaluate(model, texts, labels)
            f1s.append(100 * r["macro_f1"])
            delta = f", {f1s[-1] - fp32[base][len(f1s) - 1]:+.1f} vs fp32" if base in fp32 else ""
            cells.append(f"{f1s[-1]:.1f} (acc {100 * r['accuracy']:.1f}{delta})")
        fp32.setdefault(base, f1s)
        lines.append(f"| `{model.version}` | " + " | ".join(cells) + " |")
        del model
        print(lines[-1], flush=True)
    note = (
        "Macro-F1 % (accuracy %), measured by `python bench/eval_sentiment.py`. A `+onnx-int8` / `+int8` row is the "
        "model above it on ONNX Runtime int8 (per-channel) / torch dynamic int8, with its change against fp32 (for the "
        "ensemble, its transformer member on that runtime)."
    )
    table = "\n".join([note, "", *lines])
    if args.print:
        print(table)
        return
    doc = args.out.read_text(encoding="utf-8")
    if BEGIN not in doc or END not in doc:
        raise SystemExit(f"{args.out} has no {BEGIN} … {END} markers")
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    args.out.write_text(f"{head}{BEGIN}\n{table}\n{END}{tail}", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
