"""The whole walk once: collect (file) → classify → digest. The quick start and a single scheduled run."""

from __future__ import annotations

from prefect import flow

from flows import tasks
from flows.classify import classify
from flows.params import ClassifyParams, PipelineParams
from suara.jobs import SAMPLE_FILE


@flow(name="pipeline", log_prints=True)
def pipeline(params: PipelineParams | None = None) -> dict[str, object]:
    params = params or PipelineParams()
    collected = tasks.collect_file(params.source_file or str(SAMPLE_FILE), None, params.database_url)
    print(f"collected: {collected}")
    classified = classify(
        ClassifyParams(database_url=params.database_url, model=params.model, batch_size=params.batch_size)
    )
    last_day = params.last_day or tasks.newest_day(params.database_url)
    digest = tasks.write_digest(params.database_url, params.period, last_day, params.out_dir, params.lang)
    print(f"digest: {digest['markdown']} and {digest['html']}")
    return {"collected": collected, "classified": classified, "digest": digest}
