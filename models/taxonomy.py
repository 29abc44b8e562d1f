"""The topic taxonomy: topics with names, descriptions, seed keywords and seed examples, read from YAML.

A deployment renames, adds or drops topics by editing the YAML (see ``models/resources/taxonomy.yaml``) and
retraining. Mistakes are ``TaxonomyError`` s that say which topic and line:

>>> tax = load_taxonomy()
>>> tax.ids[:2]
('akun_verifikasi', 'pembayaran_dana')
>>> tax.keyword_hits("otp gk masuk2, gagal verif terus")["akun_verifikasi"]
3
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from models.text import normalize
from suara.errors import ConfigError

DEFAULT_TAXONOMY = Path(__file__).resolve().parent / "resources" / "taxonomy.yaml"
MAX_TOPICS_PER_ITEM = 3
_ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,47}$")


class TaxonomyError(ConfigError):
    """The taxonomy YAML (or labels checked against it) is wrong; the message names the file, line and topic."""


@dataclass(frozen=True)
class Topic:
    id: str
    name_id: str
    name_en: str
    description: str
    keywords: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    # Other topics an example is also about (index-aligned with ``examples``): "verifikasi wajah gagal terus"
    # is an account example that is also an app fault, so it must not teach the app classifier a negative.
    also: tuple[tuple[str, ...], ...] = ()
    line: int = 0  # where the topic starts in its YAML file (1-based; 0 when built in code)


@dataclass(frozen=True)
class Taxonomy:
    """An ordered set of topics plus the fallback topic (``lainnya``) given when nothing else fits."""

    topics: tuple[Topic, ...]
    fallback: str | None = None
    name: str = "custom"
    source: str = "<memory>"

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.topics)

    @property
    def learned_ids(self) -> tuple[str, ...]:
        """The topics a classifier scores: all but the fallback."""
        return tuple(i for i in self.ids if i != self.fallback)

    def __getitem__(self, topic_id: str) -> Topic:
        for t in self.topics:
            if t.id == topic_id:
                return t
        raise KeyError(topic_id)

    def seed_examples(self) -> list[tuple[str, list[str]]]:
        """Every seed example with all its topics (its own first): weak labels for training."""
        out = []
        for t in self.topics:
            also = t.also or ((),) * len(t.examples)
            out.extend((text, [t.id, *extra]) for text, extra in zip(t.examples, also, strict=True))
        return out

    def check_labels(self, labels: Sequence[str], where: str) -> list[str]:
        """``labels`` if every id is a topic here, else a ``TaxonomyError`` naming ``where`` and the id."""
        out = []
        for lab in labels:
            if lab not in self.ids:
                raise TaxonomyError(
                    f"{where}: unknown topic id {lab!r}; the taxonomy {self.source} has {list(self.ids)}"
                )
            if lab not in out:
                out.append(lab)
        return out

    # -- keyword matching -------------------------------------------------------------------------------------
    @cached_property
    def _compiled(self) -> dict[str, list[tuple[tuple[str, ...], bool]]]:
        # Keywords go through the same normaliser as texts, so slang in either matches the other.
        out: dict[str, list[tuple[tuple[str, ...], bool]]] = {}
        for t in self.topics:
            seen = set()
            pats = []
            for kw in t.keywords:
                prefix = kw.endswith("*")
                words = tuple(normalize(kw.rstrip("*")).split())
                if words and (words, prefix) not in seen:
                    seen.add((words, prefix))
                    pats.append((words, prefix))
            out[t.id] = pats
        return out

    @cached_property
    def _index(self) -> tuple[dict[str, list[str]], list[tuple[str, tuple[str, ...], bool]]]:
        # Plain single words are a dict lookup per token; phrases and prefixes (few) are scanned.
        single: dict[str, list[str]] = {}
        other = []
        for topic_id, pats in self._compiled.items():
            for words, prefix in pats:
                if len(words) == 1 and not prefix:
                    single.setdefault(words[0], []).append(topic_id)
                else:
                    other.append((topic_id, words, prefix))
        return single, other

    def keyword_hits(self, text: str, *, normalized: bool = False) -> dict[str, int]:
        """How many of each topic's keywords occur in ``text`` (whole words or phrases; ``word*`` a prefix)."""
        tokens = (text if normalized else normalize(text)).split()
        single, other = self._index
        hits = dict.fromkeys(self.ids, 0)
        for word in set(tokens):
            for topic_id in single.get(word, ()):
                hits[topic_id] += 1
        if tokens:
            present = set(tokens)
            for topic_id, words, prefix in other:
                if (prefix or words[0] in present) and _contains(tokens, words, prefix):
                    hits[topic_id] += 1
        return hits


def _contains(tokens: list[str], words: tuple[str, ...], prefix: bool) -> bool:
    k = len(words)
    for i in range(len(tokens) - k + 1):
        if tokens[i : i + k - 1] == list(words[:-1]) and (
            tokens[i + k - 1].startswith(words[-1]) if prefix else tokens[i + k - 1] == words[-1]
        ):
            return True
    return False


def load_taxonomy(path: Path | str | None = None) -> Taxonomy:
    """Read and validate a taxonomy YAML (default: the bundled public-service taxonomy)."""
    path = Path(path) if path else DEFAULT_TAXONOMY
    if not path.is_file():
        raise TaxonomyError(f"no taxonomy file {path}")
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "somewhere"
        problem = getattr(exc, "problem", None) or str(exc)
        raise TaxonomyError(f"{path}: not valid YAML at {where}: {problem}") from exc
    lines = _topic_lines(node)
    return taxonomy_from_dict(data, source=str(path), lines=lines)


def _topic_lines(node: Any) -> list[int]:
    if not isinstance(node, yaml.MappingNode):
        return []
    for key, value in node.value:
        if key.value == "topics" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def taxonomy_from_dict(
    data: Mapping[str, Any], *, source: str = "<memory>", lines: Sequence[int] = ()
) -> Taxonomy:
    """A validated ``Taxonomy`` from the parsed YAML mapping (a model's config stores the same shape)."""
    if not isinstance(data, Mapping):
        raise TaxonomyError(f"{source}: a taxonomy is a mapping with a 'topics' list")
    raw_topics = data.get("topics")
    if not isinstance(raw_topics, list) or not raw_topics:
        raise TaxonomyError(f"{source}: 'topics' must be a non-empty list of topics")
    topics: list[Topic] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_topics):
        line = lines[i] if i < len(lines) else 0
        where = f"{source}, topic #{i + 1}" + (f" (line {line})" if line else "")
        if not isinstance(raw, Mapping):
            raise TaxonomyError(f"{where}: each topic is a mapping with id, name_id, name_en, description")
        topic_id = raw.get("id")
        if not isinstance(topic_id, str) or not _ID_RE.match(topic_id):
            raise TaxonomyError(
                f"{where}: id {topic_id!r} is missing or not a lower-case id (letters, digits, _; "
                f"starting with a letter; at most 48 characters)"
            )
        where = f"{source}, topic {topic_id!r}" + (f" (line {line})" if line else "")
        if topic_id in seen:
            raise TaxonomyError(f"{where}: duplicate id; it is already topic #{seen[topic_id] + 1}")
        seen[topic_id] = i
        for key in ("name_id", "name_en", "description"):
            value = raw.get(key)
            if not isinstance(value, str) or not value.strip():
                raise TaxonomyError(f"{where}: {key} is empty; every topic needs a {key}")
        keywords = _strings(raw.get("keywords"), where, "keywords")
        examples, also = _examples(raw.get("examples"), where)
        unknown = sorted(set(raw) - {"id", "name_id", "name_en", "description", "keywords", "examples"})
        if unknown:
            raise TaxonomyError(f"{where}: unknown field(s) {unknown}")
        topics.append(
            Topic(
                topic_id,
                raw["name_id"].strip(),
                raw["name_en"].strip(),
                " ".join(raw["description"].split()),
                keywords,
                examples,
                also,
                line,
            )
        )
    fallback = data.get("fallback")
    if fallback is not None and fallback not in seen:
        raise TaxonomyError(f"{source}: fallback {fallback!r} is not one of the topic ids {list(seen)}")
    for t in topics:
        for extra in t.also:
            for other in extra:
                if other not in seen or other == t.id:
                    raise TaxonomyError(
                        f"{source}, topic {t.id!r}"
                        + (f" (line {t.line})" if t.line else "")
                        + f": an example's 'also' names {other!r}, which is not another topic id"
                    )
    tax = Taxonomy(tuple(topics), fallback, str(data.get("name") or "custom"), source)
    for t in topics:
        if t.id != fallback and not t.keywords and not t.examples:
            raise TaxonomyError(
                f"{source}, topic {t.id!r}"
                + (f" (line {t.line})" if t.line else "")
                + ": give it seed keywords or examples (only the fallback topic may have neither)"
            )
    if len(tax.learned_ids) < 1:
        raise TaxonomyError(f"{source}: needs at least one topic besides the fallback")
    return tax


def _strings(value: Any, where: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise TaxonomyError(f"{where}: {key} must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def _examples(value: Any, where: str) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """Examples are strings, or ``{text: ..., also: [other topic ids]}`` for one about several topics."""
    if value is None:
        return (), ()
    if not isinstance(value, list):
        raise TaxonomyError(f"{where}: examples must be a list")
    texts, also = [], []
    for n, ex in enumerate(value, start=1):
        if isinstance(ex, Mapping):
            text, extra = ex.get("text"), ex.get("also", [])
            if not isinstance(extra, list) or not all(isinstance(x, str) for x in extra):
                raise TaxonomyError(f"{where}: example {n}: 'also' must be a list of topic ids")
        else:
            text, extra = ex, []
        if not isinstance(text, str) or not text.strip():
            raise TaxonomyError(f"{where}: example {n} must be a non-empty string (or a mapping with text)")
        texts.append(text.strip())
        also.append(tuple(extra))
    return tuple(texts), tuple(also)


def taxonomy_to_dict(tax: Taxonomy) -> dict[str, Any]:
    """The YAML shape again (what a saved model keeps in its config, so it never depends on the file)."""
    return {
        "name": tax.name,
        "fallback": tax.fallback,
        "topics": [
            {
                "id": t.id,
                "name_id": t.name_id,
                "name_en": t.name_en,
                "description": t.description,
                "keywords": list(t.keywords),
                "examples": [
                    {"text": text, "also": list(extra)} if extra else text
                    for text, extra in zip(t.examples, t.also or ((),) * len(t.examples), strict=True)
                ],
            }
            for t in tax.topics
        ],
    }
