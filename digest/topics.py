"""Topic display names for the digest, from the taxonomy; topic ids are shown where no name is known.

>>> topic_name("pembayaran_dana", {"pembayaran_dana": {"id": "Pembayaran dana", "en": "Payments"}}, "en")
'Payments'
>>> topic_name("pembayaran_dana", {}, "en")  # no taxonomy yet
'pembayaran_dana'

The taxonomy (``models/taxonomy.py`` over ``models/resources/taxonomy.yaml``, entries with ``id``, ``name_id``
and ``name_en``) may not exist in a deployment yet: then every name falls back to its id, and the digest still
works.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

TopicNames = Mapping[str, Mapping[str, str]]  # topic id → {"id": Indonesian name, "en": English name}

TAXONOMY_FILE = Path(__file__).resolve().parent.parent / "models" / "resources" / "taxonomy.yaml"


def _field(entry: Any, name: str) -> Any:
    return entry.get(name) if isinstance(entry, Mapping) else getattr(entry, name, None)


def names_from_entries(entries: Iterable[Any]) -> dict[str, dict[str, str]]:
    """``{id: {"id": name_id, "en": name_en}}`` from taxonomy entries (dicts or objects), skipping bad ones."""
    out: dict[str, dict[str, str]] = {}
    for entry in entries:
        topic_id = _field(entry, "id")
        if not topic_id:
            continue
        names = {lang: _field(entry, f"name_{lang}") for lang in ("id", "en")}
        out[str(topic_id)] = {lang: str(n) for lang, n in names.items() if n}
    return out


def _entries(loaded: Any) -> Iterable[Any]:
    if isinstance(loaded, Mapping):
        inner = loaded.get("topics", loaded)
        if isinstance(inner, Mapping):  # {id: {name_id: …}}
            return [{"id": k, **v} for k, v in inner.items() if isinstance(v, Mapping)]
        return inner if isinstance(inner, list) else []
    if isinstance(loaded, list | tuple):
        return loaded
    return getattr(loaded, "topics", None) or []


def load_topic_names(path: Path | None = None) -> dict[str, dict[str, str]]:
    """Topic names from ``models.taxonomy`` when it is installed, else from the YAML file, else ``{}``."""
    if path is None:
        try:
            from models import taxonomy  # the topics helper's module; optional
        except ImportError:
            taxonomy = None
        loader = next(
            (getattr(taxonomy, n) for n in ("load_taxonomy", "load", "get_taxonomy") if hasattr(taxonomy, n)),
            None,
        )
        if loader is not None:
            try:
                names = names_from_entries(_entries(loader()))
            except (OSError, ValueError, TypeError, KeyError):
                names = {}
            if names:
                return names
        path = TAXONOMY_FILE
    if not path.is_file():
        return {}
    import yaml

    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return names_from_entries(_entries(loaded))


def topic_name(topic_id: str, names: TopicNames, lang: str) -> str:
    """The topic's name in ``lang`` (then the other language, then its id)."""
    known = names.get(topic_id) or {}
    return known.get(lang) or known.get("id") or known.get("en") or topic_id
