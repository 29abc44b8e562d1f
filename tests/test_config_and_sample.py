"""Settings errors name the variable to set; the bundled sample keeps its promised shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from suara.config import get_settings
from suara.errors import ConfigError
from suara.jobs import SAMPLE_FILE


def test_missing_required_setting_names_the_variable(monkeypatch):
    monkeypatch.delenv("SUARA_X_BEARER_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="SUARA_X_BEARER_TOKEN is not set"):
        get_settings().require("x_bearer_token")


def test_invalid_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("SUARA_IMAP_PORT", "sembilan")
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match="SUARA_IMAP_PORT"):
        get_settings()


def test_dotenv_file_is_read_and_environment_wins(tmp_path: Path, monkeypatch):
    (tmp_path / ".env").write_text(
        "SUARA_X_BEARER_TOKEN=dari-dotenv\nSUARA_OFFICIAL_HANDLES=@KartuCakap_ID\n"
    )
    monkeypatch.delenv("SUARA_X_BEARER_TOKEN", raising=False)
    get_settings.cache_clear()
    settings = get_settings()
    assert settings.require("x_bearer_token") == "dari-dotenv"
    assert settings.official_handle_set() == frozenset({"kartucakap_id"})
    assert "dari-dotenv" not in repr(settings)  # secrets never print
    monkeypatch.setenv("SUARA_X_BEARER_TOKEN", "dari-env")
    get_settings.cache_clear()
    assert get_settings().require("x_bearer_token") == "dari-env"


def test_bundled_sample_passes_its_own_check():
    import importlib.util

    spec = importlib.util.spec_from_file_location("check_sample", SAMPLE_FILE.parent / "check_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["check_sample", str(SAMPLE_FILE)]) == 0
    rows = [json.loads(line) for line in SAMPLE_FILE.read_text(encoding="utf-8").splitlines()]
    assert 300 <= len(rows) <= 600 and {r["channel"] for r in rows} == {"x", "zendesk"}
