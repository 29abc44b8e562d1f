"""The transformer sentiment model on ONNX Runtime: export once, fuse, quantise to int8, cache outside git.

>>> model = SentimentModel.from_pretrained("sentiment-e5-lora+onnx-int8")   # or "+onnx" for fp32
>>> model.version
'sentiment-e5-lora-…+onnx-int8'

The first load of a version exports its merged network (LoRA folded into the weights) with
``torch.onnx.export``, fuses attention and layer norms with ONNX Runtime's transformer optimiser where the
architecture allows it, then applies dynamic int8 quantisation with per-channel weight scales (finer than torch's
per-tensor ``quantize_dynamic``, which is what costs accuracy). The files go to
``$SUARA_CACHE_DIR/onnx/<version>-<hash>/``, written atomically, so later loads (and other processes) reuse them.
Predictions keep the model's tokenizer, length-sorted batching and temperature; the stored version carries the
runtime (``…+onnx-int8``) because int8 scores differ slightly from fp32.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.transformer import TransformerSentimentModel, _fingerprint, config_kwargs
from suara.errors import ModelError

log = logging.getLogger(__name__)

RUNTIMES = ("onnx", "onnx-int8")
OPSET = 17
# Linear layers and fused attention in int8; the word embeddings (Gather) stay fp32: quantising them too made
# the file 118 MB instead of 407 MB but cost 1.5 macro-F1 points on the public-service dev set (docs/MODELS.md).
QUANTIZED_OPS = ("MatMul", "Attention")
FILES = {"onnx": "model.onnx", "onnx-int8": "model.int8.onnx"}
# The graph's outputs: the logits and the unit-length sentence vectors of the same pass (the topic head reads
# them), so classification with topics costs one encoder pass.
OUTPUTS = ("logits", "vectors")


def default_onnx_dir() -> Path:
    root = os.environ.get("SUARA_CACHE_DIR") or Path.home() / ".cache" / "suara"
    return Path(root).expanduser() / "onnx"


def _require_ort() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:  # pragma: no cover - the dependency is declared
        raise ModelError(
            "the ONNX runtime paths need onnxruntime and onnx: pip install 'suara[onnx]' "
            "(or use the torch paths: the plain name, or '+int8')"
        ) from exc
    return onnxruntime


def cache_key(model: TransformerSentimentModel) -> str:
    """Version plus a hash of what shapes the graph: the weights, the base encoder and the exporter."""
    return _key(model.version, model.weights, model.base_encoder)


def _key(version: str, weights: dict[str, Any], base_encoder: dict[str, Any]) -> str:
    import onnxruntime
    import torch

    blob = json.dumps(
        {
            "weights": _fingerprint(weights),
            "base": base_encoder.get("sha256") or base_encoder.get("name"),
            "torch": torch.__version__,
            "ort": onnxruntime.__version__,
            "opset": OPSET,
            "quantized": QUANTIZED_OPS,
            "outputs": OUTPUTS,
        },
        sort_keys=True,
    )
    return f"{version}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


def load_cached(
    path: Path, config: dict[str, Any], runtime: str, *, cache_dir: Path | None = None
) -> OnnxSentimentModel | None:
    """The model straight from its cached ONNX file, without building the torch network (saves its memory and
    most of the load time); None when this version has not been exported yet (the caller builds it)."""
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    from models.encoders import encoder_fingerprint, resolve_encoder

    if runtime not in RUNTIMES or "encoder" in config.get("weights", {}):
        return None  # unknown runtimes and full fine-tunes go the long way (and get its errors)
    try:
        weights = load_file(str(path / config["weights"]["adapter"]))
        base = config["base_encoder"]
    except Exception:
        return None
    target = Path(cache_dir or default_onnx_dir()) / _key(config["version"], weights, base) / FILES[runtime]
    if not target.is_file():
        return None
    ref = resolve_encoder(base["name"], source=base.get("source", "auto"))
    if base.get("sha256") and encoder_fingerprint(ref) not in (None, base["sha256"]):
        return None  # the long way explains the mismatch
    tokenizer = AutoTokenizer.from_pretrained(str(ref))
    model = OnnxSentimentModel(net=None, tokenizer=tokenizer, weights=weights, **config_kwargs(config))
    return model._attach(target, runtime)


def export(model: TransformerSentimentModel, path: Path) -> Path:
    """The fp32 network as ONNX with dynamic batch and sequence axes (inputs: input_ids, attention_mask;
    outputs: logits, vectors)."""
    import torch

    from models.transformer import LogitsAndVectors

    net = LogitsAndVectors(model.net.eval())
    ids = torch.ones((2, 8), dtype=torch.long)
    mask = torch.ones((2, 8), dtype=torch.long)
    axes = {
        "input_ids": {0: "batch", 1: "seq"},
        "attention_mask": {0: "batch", 1: "seq"},
        "logits": {0: "batch"},
        "vectors": {0: "batch"},
    }
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # TorchScript-exporter deprecation and tracer notes
        torch.onnx.export(
            net,
            (ids, mask),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=list(OUTPUTS),
            dynamic_axes=axes,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    return path


def fuse(model: TransformerSentimentModel, src: Path, dst: Path) -> bool:
    """Attention / layer-norm / GELU fusion for BERT-like encoders; False (and ``src`` kept) if it cannot."""
    config = getattr(model.net.encoder, "config", None)
    heads, hidden = getattr(config, "num_attention_heads", 0), getattr(config, "hidden_size", 0)
    if not heads or not hidden:
        return False
    try:
        from onnxruntime.transformers import optimizer

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            opt = optimizer.optimize_model(
                str(src), model_type="bert", num_heads=int(heads), hidden_size=int(hidden), opt_level=1
            )
        opt.save_model_to_file(str(dst))
    except Exception as exc:  # the optimiser is best-effort: an unfused graph is still correct
        log.warning("ONNX fusion skipped for %s: %s", model.version, exc)
        return False
    return True


def quantize(src: Path, dst: Path) -> Path:
    """Dynamic int8: weights per channel (per output column), activations per batch at run time."""
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(src),
        str(dst),
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=list(QUANTIZED_OPS),
        # fused ops (com.microsoft domain) defeat ONNX shape inference: their outputs are float
        extra_options={"MatMulConstBOnly": True, "DefaultTensorType": TensorProto.FLOAT},
    )
    return dst


def build(model: TransformerSentimentModel, runtime: str, cache_dir: Path | None = None) -> Path:
    """The cached ONNX file for ``model`` and ``runtime``, building it (once, atomically) when missing."""
    if runtime not in RUNTIMES:
        raise ModelError(f"unknown ONNX runtime {runtime!r}; use one of {', '.join(RUNTIMES)}")
    _require_ort()
    final = Path(cache_dir or default_onnx_dir()) / cache_key(model)
    target = final / FILES[runtime]
    if target.is_file():
        return target
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=final.parent))
    try:
        log.info("exporting %s to ONNX (%s) under %s (once)", model.version, runtime, final)
        raw = export(model, work / "raw.onnx")
        fused = work / "fused.onnx"
        fp32 = fused if fuse(model, raw, fused) else raw
        if runtime == "onnx":
            os.replace(fp32, work / FILES["onnx"])
        else:
            quantize(fp32, work / FILES["onnx-int8"])
        final.mkdir(exist_ok=True)
        os.replace(work / FILES[runtime], target)  # atomic: a reader sees a whole file or none
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


class OnnxSentimentModel(TransformerSentimentModel):
    """A ``TransformerSentimentModel`` whose logits come from an ONNX Runtime session."""

    @classmethod
    def from_model(
        cls,
        model: TransformerSentimentModel,
        runtime: str = "onnx-int8",
        *,
        cache_dir: Path | None = None,
        threads: int | None = None,
    ) -> OnnxSentimentModel:
        out = cls.__new__(cls)
        out.__dict__.update(copy.copy(model.__dict__))
        out.net = None  # the torch weights are no longer needed: free them
        return out._attach(build(model, runtime, cache_dir), runtime, threads)

    def _attach(self, path: Path, runtime: str, threads: int | None = None) -> OnnxSentimentModel:
        ort = _require_ort()
        import torch

        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads or torch.get_num_threads())  # as torch would, by default
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # a truncated or foreign cache file
            raise ModelError(f"cannot open the ONNX model {path}: {exc}; delete it to rebuild") from exc
        self.runtime = runtime
        self.onnx_path = path
        self.version = f"{self.version}+{runtime}"
        return self

    def logits_and_vectors(
        self, texts: Sequence[str], *, vectors: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None]:
        from models.encoders import length_sorted_batches

        texts = list(texts)
        logits_out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        vectors_out = np.zeros((len(texts), self.embedding_dim), dtype=np.float32) if vectors else None
        wanted = list(OUTPUTS) if vectors else ["logits"]
        for idx, ids, mask in length_sorted_batches(
            self.tokenizer, texts, max_length=self.max_length, prefix=self.prefix, batch_size=self.batch_size
        ):
            outputs = self.session.run(wanted, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
            logits_out[idx] = outputs[0]
            if vectors_out is not None:
                vectors_out[idx] = outputs[1]
        return logits_out, vectors_out

    def quantized(self, **_: Any) -> TransformerSentimentModel:
        raise ModelError(f"{self.version} already runs on ONNX Runtime; load '<name>+onnx-int8' for int8")

    def save_pretrained(self, path: Path | str) -> Path:
        raise ModelError(
            f"{self.version} is a runtime view of a saved model: save the model it was loaded from instead"
        )
