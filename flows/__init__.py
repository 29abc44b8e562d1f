"""Prefect flows: orchestration only. The work lives in ``suara.jobs`` and the packages it calls."""
