"""Collection flows, one per source kind. Each collector run records its own ``runs`` row and checkpoint.

collect_x(CollectXParams(queries=['"kartu cakap" lang:in']))   every 15 minutes (prefect.yaml)
collect_zendesk() · collect_freshdesk() · collect_imap()      hourly
collect_file(CollectFileParams(path="export.xlsx"))            ad hoc
"""

from __future__ import annotations

from prefect import flow

from flows import sources, tasks
from flows.params import (
    CollectFileParams,
    CollectFreshdeskParams,
    CollectImapParams,
    CollectXParams,
    CollectZendeskParams,
)


@flow(name="collect-x", log_prints=True)
def collect_x(params: CollectXParams | None = None) -> dict[str, dict[str, int]]:
    """Recent posts for each query since its last run; the X API is shared through the ``x-api`` limit."""
    params = params or CollectXParams()
    return {
        q: tasks.collect_x_query(params.database_url, q, params.max_posts)
        for q in sources.x_queries(params.queries)
    }


@flow(name="collect-zendesk", log_prints=True)
def collect_zendesk(params: CollectZendeskParams | None = None) -> dict[str, int]:
    params = params or CollectZendeskParams()
    return tasks.collect_zendesk(params.database_url, params.max_pages, params.comments)


@flow(name="collect-freshdesk", log_prints=True)
def collect_freshdesk(params: CollectFreshdeskParams | None = None) -> dict[str, int]:
    params = params or CollectFreshdeskParams()
    return tasks.collect_freshdesk(params.database_url, params.max_pages, params.conversations)


@flow(name="collect-imap", log_prints=True)
def collect_imap(params: CollectImapParams | None = None) -> dict[str, int]:
    params = params or CollectImapParams()
    return tasks.collect_imap(params.database_url, params.folder)


@flow(name="collect-file", log_prints=True)
def collect_file(params: CollectFileParams) -> dict[str, int]:
    collected = tasks.collect_file(params.path, params.mapping, params.database_url, params.sheet)
    print(f"collected: {collected}")
    return collected
