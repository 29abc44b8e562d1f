"""Secrets at run time: a Prefect Secret block first, the settings (environment, ``.env``) as the fallback.

>>> secret("x_bearer_token", "x-bearer-token")   # Secret.load("x-bearer-token").get(), else SUARA_X_BEARER_TOKEN
'AAAA…'

Called inside tasks, never at import, and the value is never logged or passed as a parameter (Prefect stores
parameters with every run).
"""

from __future__ import annotations

import logging
import os

from suara.config import get_settings
from suara.errors import ConfigError

# setting name → Secret block name: what `prefect block create secret` / the UI should be given.
SECRET_BLOCKS = {
    "x_bearer_token": "x-bearer-token",
    "zendesk_token": "zendesk-token",
    "zendesk_oauth_token": "zendesk-oauth-token",
    "freshdesk_api_key": "freshdesk-api-key",
    "imap_password": "imap-password",
    "smtp_password": "smtp-password",
    "slack_bot_token": "slack-bot-token",
    "slack_webhook_url": "slack-webhook-url",
}

log = logging.getLogger(__name__)


def secret(name_setting: str, block_name: str | None = None) -> str | None:
    """The secret's value: Secret block ``block_name``, else setting ``SUARA_<NAME_SETTING>``, else None."""
    block = block_name or SECRET_BLOCKS.get(name_setting, name_setting.replace("_", "-"))
    value = _from_block(block, name_setting)
    if value:
        return value
    settings = get_settings()
    if name_setting in type(settings).model_fields:
        return settings.secret(name_setting) or None
    return os.environ.get(f"SUARA_{name_setting.upper()}") or None


def require_secret(name_setting: str, block_name: str | None = None) -> str:
    """Like ``secret`` but a missing value is a ConfigError that says where to put it."""
    block = block_name or SECRET_BLOCKS.get(name_setting, name_setting.replace("_", "-"))
    value = secret(name_setting, block)
    if not value:
        raise ConfigError(
            f"SUARA_{name_setting.upper()} is not set; put it in .env or a Prefect Secret block named {block}"
        )
    return value


def _from_block(block: str, name_setting: str) -> str | None:
    try:
        from prefect.blocks.system import Secret

        value = Secret.load(block).get()
    except ValueError:  # no such block: the normal case when the environment holds the secret
        return None
    except Exception as exc:  # no API, no permission: say so (without the value) and fall back
        log.warning(
            "could not read the Prefect Secret block %r (%s); using SUARA_%s",
            block,
            type(exc).__name__,
            name_setting.upper(),
        )
        return None
    return str(value) if value not in (None, "") else None
