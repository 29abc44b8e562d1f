"""Task runners for batch shards: a local Dask cluster of worker processes, or a running Dask scheduler.

Each worker process loads the model once (``suara.jobs.load_model`` is cached per process) and opens its own
connection pool to the store, so shards scale with processes, not threads held back by the GIL.
"""

from __future__ import annotations

from flows.params import ShardParams


def wants_dask(params: ShardParams) -> bool:
    return bool(params.dask_address or params.dask_workers)


def dask_runner(params: ShardParams):
    """``DaskTaskRunner`` for ``params``: ``address`` of a running cluster, else a local cluster."""
    from prefect_dask import DaskTaskRunner

    if params.dask_address:
        return DaskTaskRunner(address=params.dask_address)
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": params.dask_workers,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": None,  # no web server: several flows may run on one machine
        }
    )
