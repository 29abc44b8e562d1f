"""Daily and weekly digests: write the files, publish the Markdown as an artifact, send it where ``to`` says.

The artifact's key is stable per kind (``digest-day``, ``digest-week``), so the Prefect UI keeps each kind's
history in one place. The files are written before any channel is tried: a Slack or SMTP failure fails the run
but never loses the digest.
"""

from __future__ import annotations

from prefect import flow

from flows import tasks
from flows.params import DigestParams


@flow(name="digest", log_prints=True)
def digest(params: DigestParams | None = None) -> dict[str, object]:
    params = params or DigestParams()
    files = tasks.write_digest(
        params.database_url, params.period, params.last_day, params.out_dir, params.lang
    )
    tasks.publish_digest(params.period, files)
    channels = set(params.to) - {"file"}
    sent = tasks.deliver_digest(params.database_url, files, params.to, params.lang) if channels else []
    print(f"digest: {files.markdown} and {files.html}")
    return {
        "markdown": str(files.markdown),
        "html": str(files.html),
        "items": files.data.total.count,
        "last_day": files.data.period.end,
        "delivered": sent,
    }
