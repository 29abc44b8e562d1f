"""Prefect flows: orchestration only. The work lives in ``suara.jobs`` and the packages it calls.

collect.py (one flow per source kind) · classify.py · reclassify.py · digests.py · pipeline.py — the flows;
tasks.py — the tasks around ``suara.jobs``; params.py — their parameter models; sources.py and
secret_blocks.py — collectors and secrets at run time; runners.py — Dask shards; serve.py — ``suara serve``.
"""
