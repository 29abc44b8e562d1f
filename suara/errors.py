"""Errors a user can meet, in one tree; each message says what to do next.

    SuaraError
    ├── ConfigError          a setting is missing or wrong (names the variable)
    ├── InputError           an input file, column or row a command cannot use
    ├── ModelError           a model cannot be found, loaded or trained
    └── StorageError         the database cannot be reached or migrated

Collectors add their own subtree under ``collectors.errors.CollectorError``; delivery of digests and alerts
raises ``digest.deliver.DeliveryError``.
"""


class SuaraError(Exception):
    """Base class of every error Suara raises on purpose."""


class ConfigError(SuaraError):
    """A required setting is missing or invalid."""


class InputError(SuaraError):
    """An input (file, column, row) cannot be used."""


class ModelError(SuaraError):
    """A model cannot be resolved, loaded, trained or saved."""


class StorageError(SuaraError):
    """The store cannot be reached or migrated."""
