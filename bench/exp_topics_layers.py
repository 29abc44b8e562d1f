"""Experiment (not a release path): which layers of the sentiment model's encoder should the topic head read?

    python bench/exp_topics_layers.py [--sentiment sentiment-e5-lora] [--layers 12 10 8 6 4]

The fine-tuned last layer is tuned for sentiment; middle layers change less under LoRA and may keep more of
what a text is about. One forward pass gives every layer, so a topic head reading several layers still costs one
encoder pass. For each layer (mean-pooled, unit length) and for the last layer joined with each other one
(concatenated, scaled back to unit length), trains the released topic recipe (``TopicModel.train``, keyword
prior 0.3, ratio 0.7) and prints CV, dev and sample micro-F1 (torch fp32).
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402


def layer_vectors(model, texts: list[str], layers: list[int]) -> dict[int, np.ndarray]:
    """Mean-pooled, unit-length vectors of each hidden layer (0 = embeddings, 12 = last) for ``texts``."""
    import torch

    from models.encoders import length_sorted_batches, mean_pool

    out = {layer: np.zeros((len(texts), model.embedding_dim), dtype=np.float32) for layer in layers}
    with torch.inference_mode():
        for idx, ids, mask in length_sorted_batches(
            model.tokenizer, texts, max_length=model.max_length, prefix=model.prefix, batch_size=64
        ):
            hidden = model.net.encoder(
                input_ids=ids, attention_mask=mask, output_hidden_states=True
            ).hidden_states
            for layer in layers:
                pooled = torch.nn.functional.normalize(mean_pool(hidden[layer], mask), dim=-1)
                out[layer][idx] = pooled.float().numpy()
    return out


def main() -> None:
    from bench.exp_topics_shared_encoder import parse_and_load, score_recipe
    from models.topics import TopicArgs

    args, taxonomy, train, evals, sentiment = parse_and_load(
        __doc__.splitlines()[0],
        lambda p: p.add_argument("--layers", type=int, nargs="+", default=[12, 10, 8, 6, 4]),
    )
    layers = sorted(set(args.layers) | {12}, reverse=True)
    sets = {"train": list(train.texts), "seeds": [s for s, _ in taxonomy.seed_examples()]}
    sets |= {k: list(v[0]) for k, v in evals.items()}
    vectors = {k: layer_vectors(sentiment, texts, layers) for k, texts in sets.items()}

    def joined(name: str, combo: tuple[int, ...]) -> np.ndarray:
        return np.hstack([vectors[name][layer] for layer in combo]) / np.sqrt(len(combo))

    combos = [(layer,) for layer in layers] + [(12, layer) for layer in layers if layer != 12]
    targs = replace(TopicArgs(), keyword_prior=0.3, secondary_ratio=0.7)
    print(f"encoder of {sentiment.version}, torch fp32, keyword prior 0.3, ratio 0.7\n")
    print("| layers | CV micro-F1 | dev micro-F1 | sample micro-F1 |")
    print("|---|---|---|---|")
    for combo in combos:
        vecs = {k: joined(k, combo) for k in sets}
        cv, f1 = score_recipe(train, taxonomy, targs, vecs, evals)
        print(
            f"| {' + '.join(map(str, combo))} | {100 * cv:.1f} | {100 * f1['dev']:.1f} | {100 * f1['sample']:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
