"""Ad-hoc reclassification with a new model version: chunked, resumable, with a diff artifact.

    reclassify(ReclassifyParams(model="sentiment-tfidf-202612010900-a1b2c3", since=date(2026, 11, 1),
                                dry_run=True))

A real run writes predictions under the new version beside the old ones (nothing is overwritten) and resumes
where a crashed or cancelled run stopped; a dry run computes the same diff in memory and writes nothing.
``activate`` makes the new version current only after a run that left no item in scope without it. The model
is a sentiment model (``sentiment-e5-tfidf+onnx-int8`` names its runtime too) or a topic model.
"""

from __future__ import annotations

from prefect import flow, unmapped

from flows import tasks
from flows.params import ReclassifyParams
from flows.runners import dask_runner, wants_dask
from storage.reclassify import Scope
from suara import jobs
from suara.config import get_settings

ARTIFACT_KEY = "reclassify-diff"


@flow(name="reclassify", log_prints=True)
def reclassify(params: ReclassifyParams) -> dict[str, object]:
    url = params.database_url
    scope = Scope.from_days(params.since, params.until, params.sources, get_settings().timezone)
    plan = tasks.plan_reclassify(url, params.model, scope, params.batch_size, params.dry_run)
    print(
        f"{plan.new_version} (replacing {plan.old_version}): {plan.in_scope} items in scope, "
        f"{plan.done_before} already done, {len(plan.chunks)} chunks{' (dry run)' if plan.dry_run else ''}"
    )
    if plan.dry_run:
        result = _dry_run(params, plan)
    else:
        run_params = {
            "task": plan.task,
            "model": plan.new_version,
            "previous": plan.old_version,
            "scope": scope.describe(),
        }
        with jobs.recorded_run(tasks.engine(url), "reclassify", run_params) as counts:
            predicted = _chunks(params, plan, counts)
            result = tasks.finish_reclassify(url, plan, predicted, params.activate, params.examples)
            counts.update(
                complete=result.complete, activated=result.activated, relabelled=result.diff.relabelled
            )
    tasks.publish_markdown(
        ARTIFACT_KEY,
        result.markdown(),
        f"{plan.old_version} → {plan.new_version}{' (dry run)' if plan.dry_run else ''}",
    )
    print(result.note())
    return result.as_dict()


def _chunks(params: ReclassifyParams, plan: jobs.ReclassifyPlan, counts: dict) -> int:
    url, run_id = params.database_url, counts["run_id"]
    if plan.chunks and wants_dask(params):
        shards = reclassify_shards.with_options(task_runner=dask_runner(params))
        predicted = shards(url, plan, run_id)
        counts.update(predicted=predicted, chunks=len(plan.chunks))
        return predicted
    predicted = 0
    for i, (first, last) in enumerate(plan.chunks, 1):
        predicted += tasks.reclassify_chunk(
            url, plan.model_path, plan.scope, first, last, run_id, plan.partner
        )
        counts.update(predicted=predicted, chunks=i)
    return predicted


def _dry_run(params: ReclassifyParams, plan: jobs.ReclassifyPlan) -> jobs.ReclassifyResult:
    url, n = params.database_url, params.examples
    if plan.chunks and wants_dask(params):
        parts = dry_reclassify_shards.with_options(task_runner=dask_runner(params))(url, plan, n)
    else:
        parts = [
            tasks.dry_reclassify_chunk(url, plan.model_path, plan.scope, plan.old_version, first, last, n)
            for first, last in plan.chunks
        ]
    diff = jobs.ReclassifyDiff(plan.old_version, plan.new_version, n, plan.task)
    for part in parts:
        diff.merge(part)
    return jobs.ReclassifyResult(plan, diff, 0, complete=True)


@flow(name="reclassify-shards")
def reclassify_shards(database_url: str | None, plan: jobs.ReclassifyPlan, run_id: int) -> int:
    futures = tasks.reclassify_chunk.map(
        unmapped(database_url),
        unmapped(plan.model_path),
        unmapped(plan.scope),
        [first for first, _ in plan.chunks],
        [last for _, last in plan.chunks],
        unmapped(run_id),
        unmapped(plan.partner),
    )
    return sum(f.result() for f in futures)


@flow(name="reclassify-shards-dry-run")
def dry_reclassify_shards(
    database_url: str | None, plan: jobs.ReclassifyPlan, max_examples: int
) -> list[jobs.ReclassifyDiff]:
    futures = tasks.dry_reclassify_chunk.map(
        unmapped(database_url),
        unmapped(plan.model_path),
        unmapped(plan.scope),
        unmapped(plan.old_version),
        [first for first, _ in plan.chunks],
        [last for _, last in plan.chunks],
        unmapped(max_examples),
    )
    return [f.result() for f in futures]
