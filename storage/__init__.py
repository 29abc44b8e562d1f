"""The store: one schema on SQLite and PostgreSQL, plain functions over a connection."""
