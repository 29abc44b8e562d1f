"""Where models live and how a name becomes a directory.

A model is a versioned directory: ``config.json`` (kind, name, version, labels, metrics, data, library
versions), its weights in a safe format (NPZ/JSON or safetensors, never pickle) and a ``README.md`` model card.
Trained models go under ``SUARA_MODEL_DIR/<name>/<version>/``; released ones ship inside the package in
``models/released/<version>/``.

``resolve("sentiment-tfidf")`` → the newest version of that name (trained first, then released);
``resolve("sentiment-tfidf-20261128-3fa2c1")`` → that version; ``resolve("./my-model")`` → that directory.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from suara.errors import ModelError

RELEASED_DIR = Path(__file__).resolve().parent / "released"
CONFIG_FILE = "config.json"


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: str
    kind: str
    task: str
    path: Path
    created_at: str

    @classmethod
    def read(cls, path: Path) -> ModelInfo:
        cfg = read_config(path)
        return cls(
            cfg["name"],
            cfg["version"],
            cfg["kind"],
            cfg.get("task", "sentiment"),
            path,
            cfg.get("created_at", ""),
        )


def read_config(path: Path) -> dict[str, Any]:
    file = Path(path) / CONFIG_FILE
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelError(f"{path} is not a model directory (no {CONFIG_FILE})") from exc
    except json.JSONDecodeError as exc:
        raise ModelError(f"{file} is not valid JSON: {exc.msg}") from exc


def write_config(path: Path, config: dict[str, Any]) -> None:
    """``config.json`` of a model directory: indented, UTF-8 (Indonesian topic names stay readable)."""
    (Path(path) / CONFIG_FILE).write_text(
        json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def new_version(name: str, fingerprint: str) -> str:
    """``<name>-<UTC date and time>-<6 hex of the weights>``: sortable, unique, and says what it is."""
    return f"{name}-{datetime.now(UTC):%Y%m%d%H%M}-{fingerprint[:6]}"


def library_versions(*packages: str) -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for pkg in ("suara", "numpy", "scikit-learn", *packages):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return versions


def available(model_dir: Path | None) -> list[ModelInfo]:
    """Every model found, trained ones first, each list newest first."""
    found: list[ModelInfo] = []
    roots = [Path(model_dir)] if model_dir else []
    for root in [*roots, RELEASED_DIR]:
        if not root.is_dir():
            continue
        dirs = [p.parent for p in root.glob(f"**/{CONFIG_FILE}")]
        infos = [ModelInfo.read(d) for d in dirs]
        found.extend(sorted(infos, key=lambda i: (i.created_at, i.version), reverse=True))
    return found


def resolve(name_or_path: str, model_dir: Path | None = None) -> Path:
    """The directory of a model given a path, a version or a name; a ``ModelError`` listing choices if none."""
    path = Path(name_or_path).expanduser()
    if (path / CONFIG_FILE).is_file():
        return path
    models = available(model_dir)
    for info in models:
        if info.version == name_or_path:
            return info.path
    for info in models:
        if info.name == name_or_path:
            return info.path
    choices = sorted({i.name for i in models} | {i.version for i in models})
    raise ModelError(
        f"no model {name_or_path!r}: not a model directory, and no trained or released model has that name or "
        f"version. Available: {', '.join(choices) or 'none'}. Train one with `suara train sentiment`."
    )
