"""Incremental classification: items without a prediction from the model in use, in batches."""

from __future__ import annotations

from prefect import flow

from flows import tasks
from flows.params import ClassifyParams
from suara import jobs


@flow(name="classify", log_prints=True)
def classify(params: ClassifyParams | None = None) -> dict[str, object]:
    params = params or ClassifyParams()
    version, batches = tasks.plan_classification(params.database_url, params.model, params.batch_size)
    run_params = {"model": version, "batch_size": params.batch_size}
    with jobs.recorded_run(tasks.engine(params.database_url), "classify", run_params) as counts:
        done = sum(
            tasks.classify_batch(params.database_url, version, ids, counts["run_id"]) for ids in batches
        )
        counts.update(classified=done, batches=len(batches))
    print(f"classified {done} items in {len(batches)} batches with {version}")
    return {"classified": done, "batches": len(batches), "model_version": version}
