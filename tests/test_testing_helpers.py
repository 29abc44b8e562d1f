"""suara.testing: the helpers the end-to-end tests and benchmarks share (the server itself: test_flows_server)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from suara import testing


def test_free_port_is_free_and_bindable():
    port = testing.free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_stop_ends_a_process_and_its_children(tmp_path: Path):
    pid_file = tmp_path / "child.pid"
    child = "import time; time.sleep(60)"
    code = (
        "import pathlib, subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, '-c', {child!r}])\n"
        f"pathlib.Path({str(pid_file)!r}).write_text(str(p.pid))\n"
        "time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.05)
    grandchild = int(pid_file.read_text())
    testing.stop(proc)
    assert proc.returncode is not None and proc.returncode < 0  # ended by a signal
    for _ in range(100):  # the grandchild went with its group (reaped by init once it is gone)
        if subprocess.run(["ps", "-o", "stat=", "-p", str(grandchild)], capture_output=True).stdout.strip()[
            :1
        ] in (b"", b"Z"):
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the child of the stopped process is still running")
    testing.stop(proc)  # stopping twice is harmless


def test_a_server_that_exits_is_a_named_error_with_its_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    fake = tmp_path / "prefect"
    fake.write_text("#!/bin/sh\necho 'cannot start: port taken' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setattr(testing, "PREFECT_BIN", fake)
    with pytest.raises(testing.ServerStartError, match=r"(?s)exited early \(code 3\).*port taken"):
        testing.start_prefect_server(tmp_path / "home", timeout=30)


def test_the_sample_model_is_a_saved_sentiment_model_that_predicts(tmp_path: Path):
    from models.sentiment import SentimentModel

    path = testing.train_sample_model(tmp_path, name="sentiment-helper")
    model = SentimentModel.from_pretrained(path)
    assert model.version.startswith("sentiment-helper-")
    assert set(model.predict(["aplikasi error terus", "terima kasih, mantap"])) <= set(model.labels)
