"""Incremental classification: items without a prediction from the model in use, in batches of ≥ 1,000;
then topics from the active topic model (from the same encoder pass when it reads the sentiment model's vectors).

One task per batch, never per post (a task costs 5–10 ms of orchestration); batches run in the flow's process
or, with ``dask_workers``/``dask_address``, as shards on Dask worker processes.
"""

from __future__ import annotations

from prefect import flow, unmapped

from flows import tasks
from flows.params import ClassifyParams
from flows.runners import dask_runner, wants_dask
from suara import jobs


@flow(name="classify", log_prints=True)
def classify(params: ClassifyParams | None = None) -> dict[str, object]:
    params = params or ClassifyParams()
    version, batches = tasks.plan_classification(params.database_url, params.model, params.batch_size)
    run_params = {"model": version, "batch_size": params.batch_size}
    with jobs.recorded_run(tasks.engine(params.database_url), "classify", run_params) as counts:
        if batches and wants_dask(params):
            shards = classify_shards.with_options(task_runner=dask_runner(params))
            done, shared = shards(params.database_url, version, batches, counts["run_id"], params.topics)
        else:
            parts = [
                tasks.classify_batch(params.database_url, version, ids, counts["run_id"], params.topics)
                for ids in batches
            ]
            done, shared = sum(p[0] for p in parts), sum(p[1] for p in parts)
        counts.update(classified=done, batches=len(batches))
        result = {"classified": done, "batches": len(batches), "model_version": version}
        if params.topics:
            rest, topics_version = tasks.classify_topics(params.database_url, params.batch_size, version)
            topics = shared + rest
            counts.update(topics_classified=topics, topics_model=topics_version)
            result.update(topics_classified=topics, topics_model_version=topics_version)
    print(f"classified {done} items in {len(batches)} batches with {version}")
    return result


@flow(name="classify-shards")
def classify_shards(
    database_url: str | None, version: str, batches: list[list[int]], run_id: int, topics: bool = False
) -> tuple[int, int]:
    """The batches as concurrent tasks on the flow's task runner (Dask when called ``with_options``):
    (sentiment rows, topic rows from the same encoder pass)."""
    futures = tasks.classify_batch.map(
        unmapped(database_url), unmapped(version), batches, unmapped(run_id), unmapped(topics)
    )
    parts = [f.result() for f in futures]
    return sum(p[0] for p in parts), sum(p[1] for p in parts)
