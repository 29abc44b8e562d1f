"""The whole walk once: collect (file) → classify → digest. The quick start and a single scheduled run."""

from __future__ import annotations

from prefect import flow

from flows import tasks
from flows.classify import classify
from flows.collect import collect_file
from flows.digests import digest
from flows.params import ClassifyParams, CollectFileParams, DigestParams, PipelineParams
from suara.jobs import SAMPLE_FILE


@flow(name="pipeline", log_prints=True)
def pipeline(params: PipelineParams | None = None) -> dict[str, object]:
    params = params or PipelineParams()
    url = params.database_url
    collected = collect_file(CollectFileParams(path=params.source_file or str(SAMPLE_FILE), database_url=url))
    classified = classify(ClassifyParams(database_url=url, model=params.model, batch_size=params.batch_size))
    last_day = params.last_day or tasks.newest_day(url)
    written = digest(
        DigestParams(
            database_url=url,
            period=params.period,
            last_day=last_day,
            out_dir=params.out_dir,
            lang=params.lang,
        )
    )
    return {"collected": collected, "classified": classified, "digest": written}
