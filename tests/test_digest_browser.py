"""The sample digest opened in headless Chromium: it renders, its charts are there and drawn, the console is
clean, and the screenshot becomes the picture in docs/DIGEST.md.

Needs Debian's ``chromium`` (``make system-test-deps`` installs it in CI); without it these tests skip and say so.
The docs picture is refreshed when it is missing or with ``SUARA_UPDATE_SCREENSHOT=1``.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from storage import db
from storage.schema import items
from suara import jobs

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None)
DOCS_PICTURE = Path(__file__).resolve().parent.parent / "docs" / "img" / "digest-sample.png"
WIDTH, HEIGHT = 1000, 2400

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium not found (looked for `chromium` on PATH and /usr/bin/chromium); install it with "
    "`make system-test-deps` or `apt-get install chromium` to run the browser tests",
)


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp / "chromium-profile"
    return subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def console_problems(stderr: str) -> list[str]:
    """Lines where the page logged to its console or threw (Chromium writes them with --enable-logging)."""
    return [line for line in stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]


def png_size(path: Path) -> tuple[int, int]:
    with path.open("rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


@pytest.fixture(scope="module")
def sample_digest(tmp_path_factory) -> jobs.DigestFiles:
    """The sample through the real pipeline (collect → classify), with its gold topics standing in for the topic
    model, written as the week ending 2026-11-15."""
    from storage.db import get_engine
    from suara.config import Settings

    tmp = tmp_path_factory.mktemp("browser")
    settings = Settings(_env_file=None, official_handles="@KartuCakap_ID", model_dir=tmp / "models")
    engine = get_engine(f"sqlite:///{tmp / 'sample.db'}")
    jobs.collect_file(engine, jobs.SAMPLE_FILE, settings=settings)
    jobs.classify_pending(engine, settings=settings)
    gold = {}
    for line in jobs.SAMPLE_FILE.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        gold[(r["channel"], r["id"])] = ";".join(r["gold"]["topics"])
    with engine.begin() as conn:
        stored = conn.execute(select(items.c.id, items.c.source, items.c.source_id)).all()
        db.save_predictions(
            conn,
            [
                {"item_id": i, "task": "topics", "model_version": "gold-sample", "label": gold[(s, sid)],
                 "scores": {}, "confidence": 1.0}
                for i, s, sid in stored
            ],
        )  # fmt: skip
        db.set_active_model(conn, "topics", "gold-sample")
    return jobs.write_digest(
        engine, period="week", last_day=date(2026, 11, 15), out_dir=tmp / "out", settings=settings
    )


def test_the_sample_digest_renders_with_its_charts_and_a_clean_console(sample_digest, tmp_path):
    url = sample_digest.html.resolve().as_uri()
    shot = tmp_path / "digest.png"
    done = chromium(
        tmp_path,
        "--enable-logging=stderr",
        "--v=0",
        f"--screenshot={shot}",
        f"--window-size={WIDTH},{HEIGHT}",
        url,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert png_size(shot) == (WIDTH, HEIGHT) and shot.stat().st_size > 50_000
    assert console_problems(done.stderr) == []

    # The charts are drawn: the topic chart's "previous period" bars have a colour nothing else on the page has.
    from PIL import Image

    with Image.open(shot) as im:
        colours = im.convert("RGB").getcolors(maxcolors=WIDTH * HEIGHT)
    pink = sum(n for n, (r, g, b) in colours if abs(r - 0xF4) < 6 and abs(g - 0xB4) < 6 and abs(b - 0xB8) < 6)
    assert pink > 500, "the topic chart's bars are not on the screenshot"

    if os.environ.get("SUARA_UPDATE_SCREENSHOT") == "1" or not DOCS_PICTURE.is_file():
        DOCS_PICTURE.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, DOCS_PICTURE)
    assert DOCS_PICTURE.stat().st_size < 1_000_000


def test_the_dom_has_both_charts_as_embedded_images(sample_digest, tmp_path):
    done = chromium(tmp_path, "--dump-dom", sample_digest.html.resolve().as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert dom.count('<img class="chart" src="data:image/png;base64,') == 2
    assert 'alt="Sentimen per hari"' in dom and 'alt="Keluhan per topik"' in dom
    assert "Yang dikeluhkan" in dom and "<script" not in dom


def test_the_archive_index_links_the_digest(sample_digest, tmp_path):
    done = chromium(tmp_path, "--dump-dom", sample_digest.index.resolve().as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    assert 'href="digest-2026-11-15.html"' in done.stdout
    assert "Ringkasan suara pengguna — minggu 2026-11-15" in done.stdout


def test_console_errors_would_be_caught(tmp_path):
    """The console check can fail: a page that throws is reported."""
    page = tmp_path / "broken.html"
    page.write_text("<!doctype html><p>x</p><script>undefinedFunction()</script>", encoding="utf-8")
    done = chromium(tmp_path, "--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri())
    assert any("Uncaught" in line for line in console_problems(done.stderr)), done.stderr[-2000:]
