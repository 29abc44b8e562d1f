"""End to end the production way, on one machine: a real ``prefect server start`` on 127.0.0.1 backed by
PostgreSQL, the ``pipeline`` deployment served by ``flows.serve`` (as ``suara serve`` does) in its own process,
a run triggered through the client on the bundled sample with the items store in PostgreSQL too, its digest
artifact read back; then ``prefect deploy --all`` registers prefect.yaml for a process work pool.

Skips only when PostgreSQL does not answer on 127.0.0.1:5432.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from suara import testing
from suara.testing import stop, tail

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def admin():
    import psycopg

    return psycopg.connect(PG, autocommit=True, connect_timeout=3)


@pytest.fixture
def databases() -> Iterator[tuple[str, str]]:
    """Two fresh databases: Prefect's own, and Suara's items store."""
    try:
        conn = admin()
    except Exception as exc:
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 does not answer ({type(exc).__name__}: {exc})")
    names = (f"prefect_test_{os.getpid()}", f"suara_test_{os.getpid()}")
    with conn:
        for name in names:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name}")
    yield names
    from storage.db import get_engine

    get_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{names[1]}").dispose()
    with admin() as conn:
        for name in names:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def prefect_server(databases, tmp_path) -> Iterator[tuple[str, dict[str, str]]]:
    """A Prefect server on a random free port, backed by PostgreSQL; yields its API URL and client environment."""
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{databases[0]}"
    try:
        with testing.prefect_server(tmp_path / "prefect-home", database_url=url) as running:
            yield running
    except testing.ServerStartError as exc:
        pytest.fail(str(exc))


def wait_for(what: str, probe, timeout: float, log: Path):
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what} not reached in {timeout:.0f} s; serve log:\n{tail(log)}"
        time.sleep(1)


def test_served_pipeline_on_a_real_server_backed_by_postgresql(prefect_server, databases, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from sqlalchemy import func, select

    from storage import schema
    from storage.db import get_engine

    api, env = prefect_server  # a fresh server: the only artifacts are this run's
    store = f"postgresql+psycopg://postgres@127.0.0.1:5432/{databases[1]}"
    out = tmp_path / "out"
    log = tmp_path / "serve.log"
    code = "from flows.serve import serve_deployments; serve_deployments(['pipeline'])"
    with log.open("w") as fh:
        serve = subprocess.Popen(
            [sys.executable, "-c", code],
            env=env,
            cwd=ROOT,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:

            def deployment():
                assert serve.poll() is None, f"serve exited:\n{tail(log)}"
                try:
                    return client.read_deployment_by_name("pipeline/pipeline")
                except ObjectNotFound:
                    return None

            dep = wait_for("the served deployment", deployment, 120, log)
            params = {"params": {"database_url": store, "out_dir": str(out), "lang": "en"}}
            run = client.create_flow_run_from_deployment(dep.id, parameters=params)

            def finished():
                state = client.read_flow_run(run.id).state
                return state if state and state.is_final() else None

            state = wait_for("the flow run's end", finished, 300, log)
            assert state.is_completed(), f"{state.name}: {state.message}\n{tail(log)}"
            found = client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["digest-week"]))
            )
            limit = client.read_global_concurrency_limit_by_name("x-api")  # created by serve
    finally:
        stop(serve)

    md = out / "digest-2026-11-15.md"
    assert md.is_file() and (out / "digest-2026-11-15.html").is_file()
    assert [a.data for a in found] == [
        md.read_text(encoding="utf-8")
    ] and "Voice-of-customer digest" in found[0].data
    assert limit.limit == 1
    with get_engine(store).connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.items)).scalar_one() == 432
        p = schema.predictions
        assert dict(conn.execute(select(p.c.task, func.count()).group_by(p.c.task)).all()) == {
            "sentiment": 432,
            "topics": 432,
        }

    # The work-pool way reads the same prefect.yaml: a process pool, then every deployment registered.
    cli = {**env, "SUARA_HOME": str(ROOT)}
    for args in (["work-pool", "create", "suara", "--type", "process"], ["--no-prompt", "deploy", "--all"]):
        done = subprocess.run(
            [str(BIN / "prefect"), *args], env=cli, cwd=ROOT, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
        deployments = {d.name: d for d in client.read_deployments()}
    assert {"collect-x", "classify", "digest-daily", "digest-weekly", "reclassify"} <= set(deployments)
    weekly = deployments["digest-weekly"]
    assert weekly.work_pool_name == "suara" and weekly.parameters == {"params": {"period": "week"}}
    assert [(s.schedule.cron, s.schedule.timezone) for s in weekly.schedules] == [
        ("0 7 * * 1", "Asia/Jakarta")
    ]
    assert deployments["reclassify"].schedules == []
