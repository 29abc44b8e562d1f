"""Run the deployments of ``prefect.yaml`` on this machine, without a work pool: ``suara serve``.

    serve_deployments()                     every deployment, with its schedules
    serve_deployments(["pipeline"])          only these, by name

The schedules, parameters and descriptions come from ``prefect.yaml``, the one place they are declared; the
work-pool way (``prefect deploy --all`` and a process worker) reads the same file, see docs/DEPLOY.md.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from suara.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
DEPLOYMENTS_FILE = ROOT / "prefect.yaml"
# Global concurrency limits the flows acquire; created (or corrected) before serving.
CONCURRENCY_LIMITS = {"x-api": 1}


def read_deployments(path: Path = DEPLOYMENTS_FILE) -> list[dict[str, Any]]:
    return list(yaml.safe_load(path.read_text(encoding="utf-8"))["deployments"])


def flow_at(entrypoint: str):
    """The flow object at ``flows.collect:collect_x``.

    Entrypoints are module paths, not file paths: Prefect puts a script's own directory first on
    ``sys.path``, where ``flows/digests.py`` would then shadow the ``digest`` package.
    """
    module, _, name = entrypoint.partition(":")
    return getattr(importlib.import_module(module), name)


def runner_deployments(only: Sequence[str] | None = None, path: Path = DEPLOYMENTS_FILE) -> list:
    """``RunnerDeployment`` objects for ``prefect.serve``, one per deployment in ``prefect.yaml``."""
    from prefect.schedules import Cron
    from prefect.types.entrypoint import EntrypointType

    declared = read_deployments(path)
    names = [d["name"] for d in declared]
    unknown = sorted(set(only or ()) - set(names))
    if unknown:
        raise InputError(f"no deployment {', '.join(unknown)} in {path.name}; there are: {', '.join(names)}")
    found = []
    for d in declared:
        if only and d["name"] not in only:
            continue
        schedules = [Cron(s["cron"], timezone=s.get("timezone")) for s in d.get("schedules") or ()]
        found.append(
            flow_at(d["entrypoint"]).to_deployment(
                name=d["name"],
                description=d.get("description"),
                tags=d.get("tags"),
                parameters=d.get("parameters") or None,
                schedules=schedules or None,
                concurrency_limit=d.get("concurrency_limit"),
                entrypoint_type=EntrypointType.MODULE_PATH,
            )
        )
    return found


def ensure_concurrency_limits(limits: Mapping[str, int] = CONCURRENCY_LIMITS) -> None:
    """Create the global concurrency limits, or set them to these values (idempotent)."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        for name, slots in limits.items():
            client.upsert_global_concurrency_limit_by_name(name, slots)


def serve_deployments(only: Sequence[str] | None = None, *, limit: int | None = None) -> None:
    """Serve the deployments until interrupted (Ctrl-C); ``limit`` caps concurrent flow runs."""
    from prefect import serve

    deployments = runner_deployments(only)
    ensure_concurrency_limits()
    serve(*deployments, limit=limit)
