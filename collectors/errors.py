"""Collector errors, one tree; third-party errors are mapped to it inside each collector.

CollectorError (suara.errors.SuaraError)
├── SourceNotFound       a file, mailbox or endpoint that does not exist
├── SourceAuthError      credentials refused (names the setting to fix)
├── RateLimited          the source asked us to wait longer than we may
└── UsageCapExceeded     a monthly/plan cap: retrying will not help until it resets
"""

from suara.errors import SuaraError


class CollectorError(SuaraError):
    """A source could not be read."""


class SourceNotFound(CollectorError):
    """The file, mailbox or endpoint does not exist."""


class SourceAuthError(CollectorError):
    """The source refused our credentials."""


class RateLimited(CollectorError):
    """The source's rate limit outlasts the wait we allow ourselves."""


class UsageCapExceeded(CollectorError):
    """The plan's usage cap is spent; it resets on the provider's schedule, not in minutes."""
