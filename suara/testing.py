"""Helpers the tests and the benchmarks share: local ports, a real Prefect server in a child process, child
processes stopped with their children, and a small second sentiment model trained on the bundled sample.

>>> with prefect_server(tmp / "prefect", database_url="postgresql+asyncpg://…/prefect") as (api, env):
...     subprocess.run([...], env=env)  # env points PREFECT_API_URL at the server
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from suara.errors import SuaraError

PREFECT_BIN = Path(sys.executable).parent / "prefect"


class ServerStartError(SuaraError):
    """A local server did not become healthy; the message ends with the tail of its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen) -> None:
    """Stop a process started with ``start_new_session=True``, and its children: TERM, then KILL after 30 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def tail(path: Path, n: int = 3000) -> str:
    """The last ``n`` characters of a log file ("" when there is none yet)."""
    return path.read_text(encoding="utf-8", errors="replace")[-n:] if path.exists() else ""


def start_prefect_server(
    home: Path, *, database_url: str | None = None, timeout: float = 180
) -> tuple[subprocess.Popen, str, dict[str, str]]:
    """``prefect server start`` on a free port with its own ``PREFECT_HOME`` (its SQLite database there unless
    ``database_url`` names another), no UI, no analytics; waits until ``/health`` answers. Returns the process,
    the API URL and an environment for clients of it. Raises ``ServerStartError`` with the log's tail."""
    import httpx

    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    env.pop("PREFECT_API_URL", None)
    if database_url:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url
    log = home / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(PREFECT_BIN), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=home,
        )
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise ServerStartError(f"the Prefect server exited early (code {proc.returncode}):\n{tail(log)}")
        try:
            if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                return proc, api, {**env, "PREFECT_API_URL": api}
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            stop(proc)
            raise ServerStartError(f"the Prefect server was not healthy after {timeout:.0f} s:\n{tail(log)}")
        time.sleep(1)


@contextmanager
def prefect_server(
    home: Path, *, database_url: str | None = None, timeout: float = 180
) -> Iterator[tuple[str, dict[str, str]]]:
    """``start_prefect_server`` for a ``with`` block: yields (API URL, client environment), stops it after."""
    proc, api, env = start_prefect_server(home, database_url=database_url, timeout=timeout)
    try:
        yield api, env
    finally:
        stop(proc)


def train_sample_model(root: Path, name: str = "sentiment-tiny", per_label: int = 15) -> str:
    """A second sentiment model, trained in about a second on ``per_label`` bundled-sample rows per gold label
    (TF-IDF): it disagrees often with the released one, which is what a reclassification needs. Returns its
    directory."""
    from models.tfidf import TfidfArgs, TfidfSentimentModel
    from suara.jobs import SAMPLE_FILE

    rows = [json.loads(line) for line in SAMPLE_FILE.read_text(encoding="utf-8").splitlines()]
    texts, labels = [], []
    for label in ("negative", "neutral", "positive"):
        picked = [r["text"] for r in rows if r["gold"]["sentiment"] == label][:per_label]
        texts += picked
        labels += [label] * len(picked)
    args = TfidfArgs(min_df=1, max_word_features=2000, max_char_features=2000)
    model = TfidfSentimentModel.train(texts, labels, args, name=name)
    return str(model.save_pretrained(root / model.version))
