"""The Prefect pipeline end to end on the bundled sample, under a real (temporary) Prefect API."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage import schema
from storage.db import get_engine
from suara.jobs import SAMPLE_FILE

pytestmark = pytest.mark.slow

# Every NIK, phone number and e-mail address written in the sample, straight from the file.
_PII_RE = re.compile(
    r"\b\d{16}\b|\b\d{4} \d{4} \d{4} \d{4}\b|(?:\+62|62|0)8\d{2}[- ]?\d{3,4}[- ]?\d{3,5}|[\w.]+@\w+\.\w+"
)


def sample_pii() -> set[str]:
    found = set()
    for line in SAMPLE_FILE.read_text(encoding="utf-8").splitlines():
        found.update(_PII_RE.findall(json.loads(line)["text"]))
    return found


@pytest.fixture(scope="session")
def prefect_api():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


def test_pipeline_twice_is_idempotent_leaks_no_pii_and_publishes_the_digest(prefect_api, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.params import PipelineParams
    from flows.pipeline import pipeline

    url = f"sqlite:///{tmp_path / 'p.db'}"
    params = PipelineParams(database_url=url, out_dir=str(tmp_path), lang="en")
    first = pipeline(params)
    assert first["collected"]["new"] == 432 and first["classified"]["classified"] == 432
    second = pipeline(params)
    assert second["collected"] == {"new": 0, "updated": 0, "unchanged": 432, "quarantined": 0}
    assert second["classified"]["classified"] == 0

    with get_engine(url).connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.items)).scalar_one() == 432
        assert conn.execute(select(func.count()).select_from(schema.predictions)).scalar_one() == 432
        texts = "\n".join(conn.execute(select(schema.items.c.text)).scalars())
        runs = conn.execute(select(schema.runs.c.flow, schema.runs.c.status)).all()
    assert {f for f, s in runs if s == "completed"} == {"collect-file", "classify", "digest"}
    assert all(s == "completed" for _, s in runs)

    md = Path(first["digest"]["markdown"])
    html = Path(first["digest"]["html"])
    pii = sample_pii()
    assert len(pii) >= 20, "the sample must carry PII to prove masking"
    outputs = texts + md.read_text(encoding="utf-8") + html.read_text(encoding="utf-8")
    assert sorted(p for p in pii if p in outputs) == []

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["digest-week"]))
        )
    assert any("Voice-of-customer digest" in (a.data or "") for a in artifacts)


def test_make_demo_path_twice_same_items(tmp_path):
    """What `make demo` runs, as a user runs it: its own process and its own temporary Prefect server."""
    out = tmp_path / "demo"
    env = {**os.environ, "PREFECT_LOGGING_LEVEL": "WARNING"}
    suara = Path(sys.executable).parent / "suara"
    for expected in ("(432 new,", "(0 new, 0 updated, 432 unchanged, 0 quarantined)"):
        done = subprocess.run(
            [str(suara), "demo", "--out", str(out)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert expected in done.stdout
    assert f"digest: {out}/digest-2026-11-15.md" in done.stdout.replace(str(out.resolve()), str(out))
    assert (out / "digest-2026-11-15.html").is_file()
