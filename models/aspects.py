"""Aspect-level sentiment: what an item praises and what it complains about, topic by topic.

>>> split_clauses("cs nya ramah dan cepat bales. tp dana blm cair udah sebulan")
['cs nya ramah dan cepat bales', 'dana blm cair udah sebulan']
>>> aspect_sentiments(sentiment, topics, ["cs nya ramah dan cepat bales. tp dana blm cair udah sebulan"],
...                   [["layanan_pelanggan", "pembayaran_dana"]], ["negative"])
[{'layanan_pelanggan': 'positive', 'pembayaran_dana': 'negative'}]

An item with two or more topics and a contrast word (tapi, namun, padahal, sayangnya, cuma, but, ...) is split
into clauses at sentence ends and contrast words. Every clause gets a sentiment and topic scores, in one encoder
pass for all clauses of a batch when the topic model reads the sentiment model's vectors. When one clause praises
and another complains, each of the item's topics takes the sentiment of the clause that scores that topic highest
(the item's own when that clause is neutral). Other items need nothing: each of their topics has the item's
sentiment (``None`` is returned for them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from models.sentiment import SentimentModel
    from models.topics import TopicModel

TASK = "aspects"
# Words that turn a sentence from one judgement to another; informal spellings included.
CONTRAST = (
    "tapi", "tetapi", "tp", "tpi", "namun", "padahal", "sayangnya", "cuma", "cuman", "hanya saja", "sedangkan",
    "sementara itu", "but", "however",
)  # fmt: skip
_CONTRAST = r"\b(?:" + "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in CONTRAST) + r")\b"
_SPLIT = re.compile(r"[.!?;\n]+|,?\s*" + _CONTRAST, re.IGNORECASE)
_HAS_CONTRAST = re.compile(_CONTRAST, re.IGNORECASE)


def topic_sentiment(item: Mapping[str, Any], topic: str) -> str | None:
    """An item's sentiment towards ``topic``: its aspect sentiment when the classifier judged that topic apart
    from the rest of the item, else the item's sentiment.

    >>> topic_sentiment({"sentiment": "negative", "aspects": {"manfaat_kualitas": "positive"}}, "manfaat_kualitas")
    'positive'
    """
    aspects = item.get("aspects")
    if isinstance(aspects, Mapping) and isinstance(aspects.get(topic), str):
        return aspects[topic]
    return item.get("sentiment")


def split_clauses(text: str, *, min_words: int = 2) -> list[str]:
    """The clauses of ``text`` with at least ``min_words`` words; the whole text when it has fewer than two.

    >>> split_clauses("cs nya ramah. tp dana blm cair")
    ['cs nya ramah', 'dana blm cair']
    """
    parts = [p.strip(" ,-–—:") for p in _SPLIT.split(text)]
    parts = [p for p in parts if len(p.split()) >= min_words]
    return parts if len(parts) >= 2 else [text.strip()]


def may_split(text: str, topics: Sequence[str]) -> bool:
    """Whether a post is a candidate for per-topic sentiment: two or more topics and a contrast word (a post
    without one rarely judges two things apart, so the clause pass skips it)."""
    return len(topics) >= 2 and bool(_HAS_CONTRAST.search(text))


def aspect_version(topic_version: str, sentiment_version: str) -> str:
    """What an aspect prediction is stored under: both models it comes from."""
    return f"{topic_version}@{sentiment_version}"


def aspect_sentiments(
    sentiment: SentimentModel,
    topic_model: TopicModel,
    texts: Sequence[str],
    topics: Sequence[Sequence[str]],
    item_sentiments: Sequence[str],
) -> list[dict[str, str] | None]:
    """Per item, {topic id: sentiment} when it has two or more topics and a contrast word, and two or more
    clauses of which one is positive and one negative; else None.

    A topic the model does not score (the fallback, ``lainnya``) keeps the item's sentiment."""
    from models.topics import sentiment_pass

    clauses: list[str] = []
    owner: list[int] = []
    for i, (text, item_topics) in enumerate(zip(texts, topics, strict=True)):
        if not may_split(text, item_topics):
            continue
        parts = split_clauses(text)
        if len(parts) >= 2:
            clauses += parts
            owner += [i] * len(parts)
    out: list[dict[str, str] | None] = [None] * len(texts)
    if not clauses:
        return out
    preds, vectors = sentiment_pass(sentiment, topic_model, clauses)
    scores = topic_model.predict_proba(clauses, embeddings=vectors)
    column = {t: j for j, t in enumerate(topic_model.topic_ids)}
    rows_of: dict[int, list[int]] = {}
    for row, i in enumerate(owner):
        rows_of.setdefault(i, []).append(row)
    for i, rows in rows_of.items():
        # Only a real contrast counts: a praising clause and a complaining one. Without this gate most posts that
        # merely have two sentences got per-topic labels from the sentiment of fragments, which agreed with the
        # post's gold sentiment less often than the post's own label did (docs/MODELS.md).
        if {preds[r].label for r in rows} >= {"positive", "negative"}:
            aspects = {}
            for topic in topics[i]:
                label = item_sentiments[i]
                if topic in column:
                    best = preds[max(rows, key=lambda r, c=column[topic]: scores[r, c])].label
                    label = best if best != "neutral" else label  # a neutral clause says nothing of the topic
                aspects[topic] = label
            out[i] = aspects
    return out


def aspect_rows(
    sentiment: SentimentModel,
    topic_model: TopicModel,
    items: Sequence[tuple[int, str]],
    topic_rows: Sequence[dict],
    sentiment_rows: Sequence[dict],
) -> list[dict]:
    """Prediction rows (task "aspects") for the items whose topics get different sentiments in different clauses
    worth storing: label "topic:sentiment;…", scores {topic: sentiment}. Items whose every topic has the item's
    own sentiment get no row (the digest falls back to the item's sentiment)."""
    from models.topics import split_topics

    topic_of = {r["item_id"]: split_topics(r["label"]) for r in topic_rows}
    sentiment_of = {r["item_id"]: r["label"] for r in sentiment_rows}
    keep = [(item_id, text) for item_id, text in items if item_id in topic_of and item_id in sentiment_of]
    found = aspect_sentiments(
        sentiment,
        topic_model,
        [text for _, text in keep],
        [topic_of[item_id] for item_id, _ in keep],
        [sentiment_of[item_id] for item_id, _ in keep],
    )
    version = aspect_version(topic_model.version, sentiment.version)
    return [
        {
            "item_id": item_id,
            "task": TASK,
            "model_version": version,
            "label": ";".join(f"{t}:{s}" for t, s in aspects.items()),
            "scores": aspects,
            "confidence": None,
        }
        for (item_id, _), aspects in zip(keep, found, strict=True)
        if aspects is not None and set(aspects.values()) != {sentiment_of[item_id]}
    ]
