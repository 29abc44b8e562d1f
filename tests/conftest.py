"""Shared fixtures: a real SQLite file and a real PostgreSQL schema per test, settings pointed at tmp dirs."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before anything imports transformers/huggingface_hub: the hub is unreachable here and a load would hang.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
# The default run uses the fast tier (TF-IDF) wherever a test does not name a model; the released transformer,
# the product's default, is exercised by tests/test_released_transformer.py and the default-model test (slow).
os.environ.setdefault("SUARA_SENTIMENT_MODEL", "sentiment-tfidf")

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("SUARA_DATA_DIR", ROOT.parent / "shared" / "data")).resolve()
PG_URL = os.environ.get("SUARA_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test gets its own store, model dir and out dir unless it sets them; no .env is read."""
    from suara.config import get_settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SUARA_DATABASE_URL", f"sqlite:///{tmp_path / 'suara.db'}")
    monkeypatch.setenv("SUARA_MODEL_DIR", str(tmp_path / "model_store"))
    monkeypatch.setenv("SUARA_OUT_DIR", str(tmp_path / "out"))
    monkeypatch.setenv("SUARA_DATA_DIR", str(SHARED_DATA))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _pg_available() -> str | None:
    try:
        import psycopg

        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", connect_timeout=3):
            return None
    except Exception as exc:  # any failure means: no server to test against
        return f"PostgreSQL at 127.0.0.1:5432/test does not answer ({type(exc).__name__}: {exc})"


_PG_SKIP = _pg_available()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store URL: a SQLite file, or a new PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    if _PG_SKIP:
        pytest.skip(_PG_SKIP)
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    yield url
    from storage.db import get_engine

    get_engine(url).dispose()
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def engine(db_url: str):
    from storage.db import get_engine

    return get_engine(db_url)


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "sentiment" / "smsa" / "train.tsv").is_file():
        pytest.skip(f"shared data not found at {SHARED_DATA}; set SUARA_DATA_DIR")
    return SHARED_DATA
