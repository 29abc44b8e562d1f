"""The CLI contract: predict, evaluate, train, collect/classify/digest, and one-line errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from models import registry
from suara.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def released_version() -> str:
    return next(i.version for i in registry.available(None) if i.name == "sentiment-tfidf")


def test_predict_writes_every_row_and_reports_bad_ones(tmp_path):
    src = tmp_path / "in.csv"
    src.write_bytes(
        b"id,body\n"
        b"1,aplikasinya error terus gak bisa login\n"
        b"2,\n"
        b"3,caf\xe9 rusak\n"
        b'4,"makasih min, insentif udah cair. NIK 3273011290010003"\n'
    )
    out = tmp_path / "out.csv"
    result = invoke("predict", src, "--text-column", "body", "--output", out)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["id"] for r in rows] == ["1", "2", "3", "4"]
    assert list(rows[0])[:2] == ["id", "body"]
    assert {"sentiment", "sentiment_confidence", "topics", "model_version"} <= set(rows[0])
    good = [rows[0], rows[3]]
    assert all(r["sentiment"] in {"negative", "neutral", "positive"} for r in good)
    assert all(0 < float(r["sentiment_confidence"]) <= 1 for r in good)
    assert all(r["model_version"] == released_version() for r in rows)
    from models.taxonomy import load_taxonomy

    topic_ids = {t.id for t in load_taxonomy().topics}
    assert all(r["topics"] and set(r["topics"].split(";")) <= topic_ids for r in good)
    assert "aplikasi_sistem" in rows[0]["topics"] and "pembayaran_dana" in rows[3]["topics"]
    assert rows[1]["topics"] == rows[2]["topics"] == ""  # bad rows are not classified
    assert (rows[1]["error"], rows[2]["error"]) == ("empty text", "invalid UTF-8")
    assert rows[1]["sentiment"] == "" and rows[2]["body"] == "caf\\xe9 rusak"
    assert "2 rows classified" in result.output and "2 bad rows" in result.output
    assert "3273011290010003" in rows[3]["body"]  # the user's own file is passed through unless asked
    from models.topics import TopicModel

    default_topics = TopicModel.from_pretrained("topics-e5-shared").version
    assert all(r["topics_model_version"] == default_topics for r in rows)


def test_predict_takes_another_topic_model_and_names_a_model_of_the_wrong_task(tmp_path):
    from models.topics import TopicModel

    src = tmp_path / "in.csv"
    src.write_text("text\notp gk masuk2 min\ninsentif blm cair\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    result = invoke("predict", src, "--output", out, "--topics-model", "topics-e5")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    model = TopicModel.from_pretrained("topics-e5")
    assert [r["topics"] for r in rows] == [";".join(t) for t in model.predict([r["text"] for r in rows])]
    assert {r["topics_model_version"] for r in rows} == {model.version} and model.version in result.output
    wrong = invoke("predict", src, "--output", out, "--model", "topics-e5")
    assert wrong.exit_code == 2
    assert (
        "is a topics model, not a sentiment model (pass it as the topic model: --topics-model)"
        in wrong.output
    )
    wrong = invoke("predict", src, "--output", out, "--topics-model", "sentiment-tfidf")
    assert wrong.exit_code == 2 and "is a sentiment model, not a topic model" in wrong.output
    both = invoke("predict", src, "--output", out, "--topics-model", "topics-e5", "--no-topics")
    assert both.exit_code == 2 and "--topics-model needs topics" in both.output


def test_predict_can_mask_pii(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("text\nNIK saya 3273011290010003 hp 0812-3456-7890\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    assert invoke("predict", src, "--output", out, "--mask-pii").exit_code == 0
    body = out.read_text(encoding="utf-8")
    assert "3273011290010003" not in body and "[NIK]" in body and "[TELEPON]" in body


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["predict", "missing.csv", "--output", "o.csv"], "error: no such file: missing.csv"),
        (["predict", "{csv}", "--output", "o.csv", "--text-column", "isi"], "error: {csv}: no column 'isi'"),
        (["predict", "{csv}", "--output", "o.csv", "--model", "nope"], "error: no model 'nope'"),
        (["evaluate", "--data", "missing.tsv"], "error: no such data file: missing.tsv"),
        (["evaluate", "--data", "{badlabel}"], "has label 'angry'"),
        (["digest", "--date", "kemarin"], "error: --date 'kemarin' is not a date"),
        (["collect", "file", "missing.jsonl"], "error: no such file: missing.jsonl"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    csv_path = tmp_path / "in.csv"
    csv_path.write_text("text\nhalo\n", encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nhalo,angry\n", encoding="utf-8")
    args = [a.format(csv=csv_path, badlabel=bad) for a in args]
    result = invoke(*args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message.format(csv=csv_path) in lines[0], result.output


def test_evaluate_prints_the_promised_json(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text(
        "text,label\nerror terus aplikasinya\tkesel,negative\nmakasih banyak min,positive\n"
        "kapan dibuka ya?,neutral\n",
        encoding="utf-8",
    )
    result = invoke("evaluate", "--data", data)
    assert result.exit_code == 0
    report = json.loads(result.output)
    assert {"accuracy", "macro_f1", "per_class_f1", "confusion_matrix", "n", "model_version"} <= set(report)
    assert report["n"] == 3 and report["model_version"] == released_version()
    assert sum(map(sum, report["confusion_matrix"]["matrix"])) == 3


@pytest.mark.slow  # about 10 s: the default topic model loads the sentiment transformer's encoder
def test_evaluate_scores_a_topic_model_on_topic_labels(tmp_path):
    from models.topics import TopicModel, topic_scores

    rows = [
        ("otp gk masuk2 min, udah 3x daftar", ["akun_verifikasi"]),
        ("insentif blm cair padahal udh selesai pelatihan", ["pembayaran_dana"]),
        ("aplikasi force close terus pas upload sertifikat", ["aplikasi_sistem"]),
        ("cs nya ga bales2 udah seminggu", ["layanan_pelanggan"]),
        ("syarat daftar gelombang berikutnya apa aja ya?", ["informasi_kebijakan"]),
        ("awas penipuan, ada akun palsu minta kode otp", ["penipuan_keamanan", "akun_verifikasi"]),
    ]
    data = tmp_path / "topics.jsonl"
    data.write_text("".join(json.dumps({"text": t, "topics": g}) + "\n" for t, g in rows), encoding="utf-8")
    result = invoke("evaluate", "--data", data, "--model", "topics-e5")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    model = TopicModel.from_pretrained("topics-e5")
    expected = topic_scores([g for _, g in rows], model.predict([t for t, _ in rows]), model.taxonomy.ids)
    assert report == {"task": "topics", **expected, "model_version": model.version, "data": str(data)}
    assert report["n"] == 6 and report["support"]["akun_verifikasi"] == 2

    by_task = json.loads(invoke("evaluate", "--data", data, "--task", "topics").output)  # the default model
    assert by_task["task"] == "topics" and by_task["model_version"].startswith("topics-e5-shared-")
    wrong = invoke("evaluate", "--data", data, "--model", "sentiment-tfidf", "--task", "topics")
    assert wrong.exit_code == 2 and "is a sentiment model, not a topics one" in wrong.output
    unknown = tmp_path / "bad.jsonl"
    unknown.write_text(json.dumps({"text": "halo", "topics": ["cuaca"]}) + "\n", encoding="utf-8")
    bad = invoke("evaluate", "--data", unknown, "--model", "topics-e5")
    assert bad.exit_code == 2 and "cuaca" in bad.output


def test_evaluate_released_baseline_on_smsa_test(shared_data):
    result = invoke("evaluate", "--data", shared_data / "sentiment" / "smsa" / "test.tsv")
    report = json.loads(result.output)
    assert report["n"] == 500 and 0.74 <= report["macro_f1"] <= 0.85


def test_train_writes_a_new_version_that_becomes_the_default(tmp_path):
    data = tmp_path / "train.csv"
    rows = ["text,label"] + [
        f"{t},{lab}"
        for t, lab in [
            ("aplikasi error terus", "negative"),
            ("otp gak masuk", "negative"),
            ("kecewa belum cair", "negative"),
            ("kapan dibuka min", "neutral"),
            ("gimana caranya daftar", "neutral"),
            ("syaratnya apa", "neutral"),
            ("makasih udah cair", "positive"),
            ("pelatihan bagus", "positive"),
            ("cs ramah", "positive"),
        ]
    ]
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = invoke("train", "sentiment", "--kind", "tfidf", "--data", data, "--valid", data)
    assert result.exit_code == 0, result.output
    path = Path(result.output.strip().splitlines()[-1])
    assert (path / "config.json").is_file() and (path / "README.md").is_file()
    assert path.parent.parent == Path("model_store").resolve() or path.parent.parent.name == "model_store"
    listed = invoke("models").output
    assert listed.splitlines()[0].startswith(path.name)  # trained models come before released ones


def test_collect_classify_digest_commands(tmp_path):
    from suara.jobs import SAMPLE_FILE

    first = invoke("collect", "file", SAMPLE_FILE)
    assert first.exit_code == 0 and "432 new" in first.output
    assert "0 new, 0 updated, 432 unchanged, 0 quarantined" in invoke("collect", "file", SAMPLE_FILE).output
    assert "classified 432 items" in invoke("classify").output
    assert "classified 0 items" in invoke("classify").output  # incremental: nothing left
    result = invoke(
        "digest", "--period", "week", "--date", "2026-11-15", "--lang", "en", "--out", tmp_path / "d"
    )
    assert result.exit_code == 0
    md = (tmp_path / "d" / "digest-2026-11-15.md").read_text(encoding="utf-8")
    assert "Total feedback: 81 (previous 81, +0%)" in md
