"""Deployments, parameters, retry policy and task bodies (through ``.fn()``): no Prefect API needed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml
from prefect.states import Failed
from pydantic import ValidationError

from collectors.errors import RateLimited, SourceAuthError, UsageCapExceeded
from flows import tasks
from flows.params import ClassifyParams, DigestParams, ReclassifyParams
from flows.serve import DEPLOYMENTS_FILE, flow_at, read_deployments, runner_deployments
from storage import schema
from storage.db import get_engine
from storage.reclassify import Scope
from suara import jobs
from suara.errors import ConfigError, InputError

# What the programme team asked for (issue 6), in local time.
EXPECTED_SCHEDULES = {
    "collect-x": "*/15 * * * *",
    "collect-zendesk": "0 * * * *",
    "collect-freshdesk": "0 * * * *",
    "collect-imap": "0 * * * *",
    "classify": "5,20,35,50 * * * *",
    "digest-daily": "0 7 * * *",
    "digest-weekly": "0 7 * * 1",
    "review-queue": "30 6 * * 1",
    "collect-file": None,
    "reclassify": None,
    "pipeline": None,
}


def test_prefect_yaml_declares_every_deployment_with_jakarta_schedules():
    declared = {d["name"]: d for d in read_deployments()}
    assert set(declared) == set(EXPECTED_SCHEDULES)
    for name, cron in EXPECTED_SCHEDULES.items():
        schedules = declared[name].get("schedules") or []
        assert [s["cron"] for s in schedules] == ([cron] if cron else []), name
        assert all(s["timezone"] == "Asia/Jakarta" for s in schedules), name
        assert declared[name]["work_pool"]["name"] == "suara"
    raw = yaml.safe_load(DEPLOYMENTS_FILE.read_text(encoding="utf-8"))
    assert (
        raw["pull"][0]["prefect.deployments.steps.set_working_directory"]["directory"] == "{{ $SUARA_HOME }}"
    )


def test_every_entrypoint_is_a_flow_and_its_parameters_fit_the_form():
    from prefect import Flow

    for d in read_deployments():
        flow = flow_at(d["entrypoint"])
        assert isinstance(flow, Flow), d["entrypoint"]
        for name, value in (d.get("parameters") or {}).items():
            model = flow.fn.__annotations__[name]
            assert model == "DigestParams | None"  # only the digests carry parameters
            assert DigestParams.model_validate(value).period in ("day", "week")


def test_serve_builds_the_same_deployments_as_prefect_yaml():
    built = {d.name: d for d in runner_deployments()}
    assert set(built) == set(EXPECTED_SCHEDULES)
    for name, cron in EXPECTED_SCHEDULES.items():
        got = [(s.schedule.cron, s.schedule.timezone) for s in built[name].schedules or []]
        assert got == ([(cron, "Asia/Jakarta")] if cron else []), name
    assert built["digest-weekly"].parameters == {"params": {"period": "week"}}
    assert [d.name for d in runner_deployments(["pipeline"])] == ["pipeline"]
    with pytest.raises(InputError, match=r"no deployment nope in prefect\.yaml"):
        runner_deployments(["nope"])


def test_parameters_are_checked_before_a_run():
    with pytest.raises(ValidationError, match="model"):
        ReclassifyParams()
    with pytest.raises(ValidationError):
        ClassifyParams(batch_size=0)
    p = ReclassifyParams(model="sentiment-tfidf", since="2026-11-01", sources=["x"])
    assert p.since == date(2026, 11, 1) and not p.dry_run and not p.activate


def test_retries_only_where_a_retry_can_help():
    for permanent in (ConfigError("x"), SourceAuthError("x"), UsageCapExceeded("x"), InputError("x")):
        assert not tasks.transient(None, None, Failed(data=permanent))
    for passing in (RateLimited("x"), ConnectionError("reset"), TimeoutError()):
        assert tasks.transient(None, None, Failed(data=passing))
    assert tasks.collect_x_query.retries == 3 and tasks.collect_x_query.retry_delay_seconds == [2, 5, 15]
    assert tasks.write_digest.retries == 3
    assert tasks.reclassify_chunk.retries == 0  # resumable: the next run does the rest


def test_dask_runner_is_a_local_cluster_of_processes_or_a_given_scheduler():
    from prefect_dask import DaskTaskRunner

    from flows.runners import dask_runner, wants_dask

    local = dask_runner(ClassifyParams(dask_workers=2))
    assert isinstance(local, DaskTaskRunner)
    assert local.cluster_kwargs["n_workers"] == 2 and local.cluster_kwargs["processes"]
    assert dask_runner(ClassifyParams(dask_address="tcp://10.0.0.5:8786")).address == "tcp://10.0.0.5:8786"
    assert not wants_dask(ClassifyParams())


def test_task_bodies_collect_classify_reclassify_and_write_the_digest(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 't.db'}"
    assert tasks.collect_file.fn(str(jobs.SAMPLE_FILE), None, url)["new"] == 432
    version, batches = tasks.plan_classification.fn(url, None, 1000)
    assert [len(b) for b in batches] == [432]
    assert tasks.classify_batch.fn(url, version, batches[0][:100]) == (100, 0)

    plan = tasks.plan_reclassify.fn(url, version, Scope(), 200, False)
    assert (plan.new_version, plan.old_version, plan.done_before, len(plan.chunks)) == (
        version,
        version,
        100,
        2,
    )
    assert (
        sum(tasks.reclassify_chunk.fn(url, plan.model_path, plan.scope, a, b, None) for a, b in plan.chunks)
        == 332
    )
    done = tasks.finish_reclassify.fn(url, plan, 332, True, 3)
    assert done.complete and done.diff.relabelled == 0  # the same model agrees with itself

    files = tasks.write_digest.fn(url, "week", date(2026, 11, 15), str(tmp_path), "en")
    assert files.markdown == tmp_path / "digest-2026-11-15.md" and files.data.total.count > 0
    with get_engine(url).connect() as conn:
        flows = sorted(conn.execute(schema.runs.select().with_only_columns(schema.runs.c.flow)).scalars())
    assert flows == ["collect-file", "digest"]  # the batch tasks write predictions; their flows record runs
