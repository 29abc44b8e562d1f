"""One settings object, loaded from the environment (prefix ``SUARA_``) and an optional ``.env`` file.

>>> settings = get_settings()
>>> settings.database_url
'sqlite:///./suara.db'
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from suara.errors import ConfigError

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Everything Suara can be told from outside the code."""

    model_config = SettingsConfigDict(
        env_prefix="SUARA_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = "sqlite:///./suara.db"
    data_dir: Path = Path("../shared/data")
    model_dir: Path = Path("./model_store")
    out_dir: Path = Path("./out")
    # Salt for author keys; when unset the store creates and keeps a random one (see storage.db.author_salt).
    author_salt: SecretStr | None = None
    # Official accounts whose @mentions are not masked (comma-separated), e.g. "@KartuCakap_ID".
    official_handles: str = ""
    # The best released model, on ONNX Runtime int8; "sentiment-tfidf" is the fast tier for bulk backfills.
    sentiment_model: str = "sentiment-e5-tfidf+onnx-int8"
    topics_model: str = "topics-e5-shared"  # reads the default sentiment model's vectors: one encoder pass
    taxonomy: Path | None = None  # a deployment's own taxonomy YAML (default: the bundled one)
    cache_dir: Path = Path("~/.cache/suara")  # rebuilt encoders and embedding caches, outside git
    x_bearer_token: SecretStr | None = None
    x_api_base: str = "https://api.twitter.com"
    x_queries: list[str] = Field(default_factory=list)  # SUARA_X_QUERIES='["kartu cakap lang:in"]'
    x_max_posts_per_run: int = 500
    x_month_budget: int | None = None
    x_max_wait_seconds: float = 900.0
    x_timeout: float = 30.0
    zendesk_base_url: str | None = None
    zendesk_email: str | None = None
    zendesk_token: SecretStr | None = None
    zendesk_oauth_token: SecretStr | None = None
    zendesk_lookback_days: int = 30
    freshdesk_base_url: str | None = None
    freshdesk_api_key: SecretStr | None = None
    freshdesk_lookback_days: int = 30
    helpdesk_max_rate_wait: float = 600.0
    imap_host: str | None = None
    imap_port: int = 993
    imap_username: str | None = None
    imap_password: SecretStr | None = None
    imap_folder: str = "INBOX"
    imap_ssl: bool = True
    imap_batch_size: int = 100
    imap_timeout: float = 60.0
    slack_webhook_url: SecretStr | None = None
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str | None = None
    smtp_to: str = ""  # comma-separated
    smtp_starttls: bool = True
    digest_base_url: str | None = None  # links in Slack/e-mail messages
    timezone: str = Field(default="Asia/Jakarta")

    def official_handle_set(self) -> frozenset[str]:
        return frozenset(h.strip().lstrip("@").lower() for h in self.official_handles.split(",") if h.strip())

    def secret(self, name: str) -> str | None:
        """The plain value of an optional secret (None when unset)."""
        value = getattr(self, name)
        return value.get_secret_value() if isinstance(value, SecretStr) else value

    def require(self, name: str) -> str:
        """The value of a secret/setting that must be set for the caller, or a ConfigError naming it.

        >>> get_settings().require("x_bearer_token")  # doctest: +SKIP
        ConfigError: SUARA_X_BEARER_TOKEN is not set; put it in the environment or in .env
        """
        value = getattr(self, name, None)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value in (None, ""):
            raise ConfigError(f"SUARA_{name.upper()} is not set; put it in the environment or in .env")
        return str(value)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; a wrong value becomes a ConfigError naming the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"SUARA_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from exc
