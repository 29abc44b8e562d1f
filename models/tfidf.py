"""TF-IDF (word and character n-grams) + multinomial logistic regression: the fast, small baseline.

Saved without pickle: vocabularies and the normalisation lexicon as JSON, idf and weights as NPZ. Inference
needs only numpy, scipy and a fixed-vocabulary ``CountVectorizer``.

>>> model = TfidfSentimentModel.train(texts, labels, TfidfArgs())
>>> model.predict(["pelayanannya ramah, sangat membantu"])
['positive']
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize as l2_normalize

from models import registry
from models.data import SENTIMENT_LABELS
from models.sentiment import SentimentModel
from models.text import load_lexicon, normalize
from suara.errors import ModelError

WEIGHTS_FILE = "weights.npz"


@dataclass
class TfidfArgs:
    """Everything that shapes a TF-IDF model; stored in its config."""

    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    min_df: int = 2
    max_word_features: int = 60_000
    max_char_features: int = 120_000
    sublinear_tf: bool = True
    C: float = 4.0
    class_weight: str | None = "balanced"
    max_iter: int = 2000
    seed: int = 13
    labels: tuple[str, ...] = SENTIMENT_LABELS


@dataclass
class _Features:
    """One fitted n-gram space: a fixed vocabulary and its idf."""

    analyzer: str
    ngram_range: tuple[int, int]
    vocabulary: dict[str, int]
    idf: np.ndarray
    sublinear_tf: bool = True
    _vectorizer: CountVectorizer | None = field(default=None, repr=False)

    @classmethod
    def fit(cls, docs: list[str], analyzer: str, ngrams: tuple[int, int], args: TfidfArgs, max_features: int):
        vec = CountVectorizer(
            analyzer=analyzer,
            ngram_range=ngrams,
            min_df=args.min_df,
            max_features=max_features,
            lowercase=False,
            dtype=np.float32,
        )
        counts = vec.fit_transform(docs)
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        n = counts.shape[0]
        idf = (np.log((1 + n) / (1 + df)) + 1).astype(np.float32)  # sklearn's smooth idf
        vocab = {term: int(i) for term, i in vec.vocabulary_.items()}
        return cls(analyzer, ngrams, vocab, idf, args.sublinear_tf)

    def transform(self, docs: list[str]) -> sp.csr_matrix:
        if self._vectorizer is None:
            self._vectorizer = CountVectorizer(
                analyzer=self.analyzer,
                ngram_range=tuple(self.ngram_range),
                vocabulary=self.vocabulary,
                lowercase=False,
                dtype=np.float32,
            )
        x = self._vectorizer.transform(docs).tocsr()
        if self.sublinear_tf:
            np.log(x.data, out=x.data)
            x.data += 1
        return l2_normalize(x @ sp.diags(self.idf), copy=False)


class TfidfSentimentModel(SentimentModel):
    kind = "tfidf-logreg"

    def __init__(
        self,
        *,
        features: list[_Features],
        coef: np.ndarray,
        intercept: np.ndarray,
        lexicon: dict[str, str],
        args: TfidfArgs,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.features = features
        self.coef = coef.astype(np.float32)
        self.intercept = intercept.astype(np.float32)
        self.lexicon = lexicon
        self.args = args

    # -- training ---------------------------------------------------------------------------------------------
    @classmethod
    def train(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        args: TfidfArgs | None = None,
        *,
        name: str = "sentiment-tfidf",
        lexicon: dict[str, str] | None = None,
        card: dict[str, Any] | None = None,
    ) -> TfidfSentimentModel:
        args = args or TfidfArgs()
        unknown = sorted(set(labels) - set(args.labels))
        if unknown:
            raise ModelError(f"labels {unknown} are not among the model's labels {list(args.labels)}")
        lexicon = dict(lexicon if lexicon is not None else load_lexicon())
        docs = [normalize(t, lexicon=lexicon) for t in texts]
        features = [
            _Features.fit(docs, "word", tuple(args.word_ngrams), args, args.max_word_features),
            _Features.fit(docs, "char_wb", tuple(args.char_ngrams), args, args.max_char_features),
        ]
        x = sp.hstack([f.transform(docs) for f in features]).tocsr()
        y = np.array([args.labels.index(lab) for lab in labels])
        clf = LogisticRegression(
            C=args.C, class_weight=args.class_weight, max_iter=args.max_iter, random_state=args.seed
        )
        clf.fit(x, y)
        if list(clf.classes_) != list(range(len(args.labels))):
            raise ModelError(f"training data must contain every label {list(args.labels)}")
        fingerprint = hashlib.sha256(clf.coef_.tobytes()).hexdigest()
        return cls(
            features=features,
            coef=clf.coef_,
            intercept=clf.intercept_,
            lexicon=lexicon,
            args=args,
            labels=args.labels,
            name=name,
            version=registry.new_version(name, fingerprint),
            card={"created_at": datetime.now(UTC).isoformat(timespec="seconds"), **(card or {})},
        )

    # -- inference --------------------------------------------------------------------------------------------
    def _proba(self, texts: list[str]) -> np.ndarray:
        docs = [normalize(t, lexicon=self.lexicon) for t in texts]
        x = sp.hstack([f.transform(docs) for f in self.features]).tocsr()
        logits = np.asarray(x @ self.coef.T) + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    # -- persistence ------------------------------------------------------------------------------------------
    def save_pretrained(self, path: Path | str) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        arrays = {"coef": self.coef, "intercept": self.intercept}
        feats = []
        for i, f in enumerate(self.features):
            arrays[f"idf_{i}"] = f.idf
            vocab_file = f"vocab_{f.analyzer}.json"
            terms = sorted(f.vocabulary, key=f.vocabulary.__getitem__)  # list index = column
            (path / vocab_file).write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")
            feats.append(
                {
                    "analyzer": f.analyzer,
                    "ngram_range": list(f.ngram_range),
                    "vocabulary": vocab_file,
                    "idf": f"idf_{i}",
                    "sublinear_tf": f.sublinear_tf,
                }
            )
        np.savez_compressed(path / WEIGHTS_FILE, **arrays)
        (path / "lexicon.json").write_text(
            json.dumps(self.lexicon, ensure_ascii=False, sort_keys=True), encoding="utf-8"
        )
        config = {
            "kind": self.kind,
            "task": "sentiment",
            "name": self.name,
            "version": self.version,
            "labels": list(self.labels),
            "features": feats,
            "normalizer": {"lexicon": "lexicon.json"},
            "args": asdict(self.args),
            "libraries": registry.library_versions(),
            **self.card,
        }
        registry.write_config(path, config)
        return path

    @classmethod
    def _load(cls, path: Path, config: dict[str, Any]) -> TfidfSentimentModel:
        try:
            weights = np.load(path / WEIGHTS_FILE, allow_pickle=False)
            features = []
            for f in config["features"]:
                terms = json.loads((path / f["vocabulary"]).read_text(encoding="utf-8"))
                features.append(
                    _Features(
                        f["analyzer"],
                        tuple(f["ngram_range"]),
                        {t: i for i, t in enumerate(terms)},
                        weights[f["idf"]],
                        f.get("sublinear_tf", True),
                    )
                )
            lexicon = json.loads((path / config["normalizer"]["lexicon"]).read_text(encoding="utf-8"))
            args_dict = dict(config.get("args", {}))
            args = TfidfArgs(**{k: tuple(v) if isinstance(v, list) else v for k, v in args_dict.items()})
            card = {
                k: v
                for k, v in config.items()
                if k not in {"kind", "task", "name", "version", "labels", "features", "normalizer", "args"}
            }
            return cls(
                features=features,
                coef=weights["coef"],
                intercept=weights["intercept"],
                lexicon=lexicon,
                args=args,
                labels=config["labels"],
                name=config["name"],
                version=config["version"],
                card=card,
            )
        except (KeyError, OSError, ValueError) as exc:
            raise ModelError(f"{path}: cannot load the TF-IDF model ({exc})") from exc
