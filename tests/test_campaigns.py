"""Copy-paste campaigns: found by MinHash, counted by authors and mentions, stored, and down-weighted in trends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.campaigns import (
    CampaignArgs,
    canonical,
    detect_campaigns,
    find_campaigns,
    trend_weights,
    weighted_count,
)
from storage import topics as store

T0 = datetime(2026, 11, 3, 19, tzinfo=UTC)
TEMPLATE = "Tolong usut tuntas penerima salah sasaran! Banyak PNS dapet insentif sementara kami yang nganggur ditolak"


def _item(i: int, text: str, author: str) -> dict:
    return {"id": i, "text": text, "author_key": author, "created_at": T0 + timedelta(minutes=i)}


def test_copies_with_small_edits_form_one_campaign():
    variants = [
        TEMPLATE,
        TEMPLATE + " 😡",
        TEMPLATE.replace("dapet", "dapat"),
        TEMPLATE.replace("!", "!!") + " #KartuCakapSalahSasaran",
        "@KartuCakap_ID " + TEMPLATE,
        TEMPLATE.replace("Banyak", "Banyak bgt"),
    ]
    items = [_item(i, t, f"a{i}") for i, t in enumerate(variants)]
    items += [_item(10, "insentif gel 14 belum cair, udah 5 minggu nunggu nih min", "b1")]
    (camp,) = find_campaigns(items)
    assert camp.item_ids == (0, 1, 2, 3, 4, 5) and camp.mentions == 6 and camp.unique_authors == 6
    assert (
        camp.first_seen == T0 and camp.last_seen == T0 + timedelta(minutes=5) and camp.sample_text == TEMPLATE
    )
    assert find_campaigns(list(reversed(items))) == [camp]  # order does not matter; the fingerprint is stable


def test_one_author_repeating_or_short_texts_are_not_campaigns():
    same_author = [_item(i, TEMPLATE, "a1") for i in range(6)]
    assert find_campaigns(same_author) == []
    short = [_item(i, "gak bisa login", f"a{i}") for i in range(8)]
    assert find_campaigns(short) == []
    few = [_item(i, TEMPLATE, f"a{i}") for i in range(4)]
    assert find_campaigns(few) == [] and len(find_campaigns(few, CampaignArgs(min_mentions=4))) == 1


def test_canonical_text_ignores_case_punctuation_digits_and_emoji():
    assert canonical("Insentif GEL 14 blm cair!!! 🍹") == canonical("insentif gel 15 belum cair")


def test_trend_weights_count_a_campaign_once():
    items = [{"id": i, "campaign_id": 7} for i in range(14)] + [{"id": 100}, {"id": 101}]
    weights = trend_weights(items)
    assert weights[0] == pytest.approx(1 / 14) and weights[100] == 1.0
    assert weighted_count(items, weights) == pytest.approx(3.0)
    # From found campaigns, or from the store's {item id: campaign id}.
    found = find_campaigns([_item(i, TEMPLATE, f"a{i}") for i in range(5)])
    assert trend_weights([{"id": i} for i in range(6)], found) == {**{i: 0.2 for i in range(5)}, 5: 1.0}
    assert trend_weights([{"id": 1}, {"id": 2}], {1: 3, 2: 3}, per_campaign=0.5) == {1: 0.25, 2: 0.25}


def test_sample_campaign_is_one_campaign_of_14_authors(engine, monkeypatch):
    """The planted #KartuCakapSalahSasaran posts of 2026-11-03/04, from the store (masked text, author keys)."""
    import json

    from sqlalchemy import select

    from storage.schema import items
    from suara import jobs
    from suara.config import get_settings
    from suara.sample.check_sample import is_campaign

    monkeypatch.setenv("SUARA_OFFICIAL_HANDLES", "@KartuCakap_ID")
    get_settings.cache_clear()
    jobs.collect_file(engine, jobs.SAMPLE_FILE)
    start, end = datetime(2026, 10, 5, tzinfo=UTC) - timedelta(hours=7), datetime(2026, 11, 16, tzinfo=UTC)
    (camp,) = detect_campaigns(engine, start=start, end=end)
    planted = {
        o["id"]
        for o in map(json.loads, jobs.SAMPLE_FILE.read_text(encoding="utf-8").splitlines())
        if is_campaign(o)
    }
    with engine.connect() as conn:
        source_of = dict(conn.execute(select(items.c.id, items.c.source_id)).all())
    assert {source_of[i] for i in camp.item_ids} == planted
    assert (camp.mentions, camp.unique_authors) == (14, 14)
    assert (
        camp.first_seen.date().isoformat() == "2026-11-03"
        and camp.last_seen.date().isoformat() == "2026-11-04"
    )
    # Stored once; detecting again keeps its id and members.
    detect_campaigns(engine, start=start, end=end)
    with engine.connect() as conn:
        (stored,) = store.load_campaigns(conn)
        of_items = store.campaign_of_items(conn, list(source_of))
    assert stored["mentions"] == 14 and stored["unique_authors"] == 14 and len(stored["members"]) == 14
    assert set(of_items) == set(camp.item_ids) and set(of_items.values()) == {stored["id"]}
    rows = [{"id": i} for i in source_of]
    assert weighted_count(rows, trend_weights(rows, of_items)) == pytest.approx(len(rows) - 13)
