"""Validate the bundled fictional sample ``feedback.jsonl`` and print a summary.

    python suara/sample/check_sample.py [path/to/feedback.jsonl]

Exits non-zero when a check fails. The planted events are recognised by the rules below
(``is_cert_issue``, ``is_disbursement_complaint``, ``is_campaign``), which only look at the text and
skip the official account and the helpdesk agents; see README.md next to this file.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_PATH = HERE / "feedback.jsonl"

WIB = timezone(timedelta(hours=7))
START = datetime(2026, 10, 5, 0, 0, tzinfo=WIB)
END = datetime(2026, 11, 15, 23, 59, 59, tzinfo=WIB)
SNAPSHOT = datetime(2026, 11, 16, 0, 0, tzinfo=WIB)  # ticket timestamps never lie after the export
CERT_ISSUE_FROM = datetime(2026, 10, 26, 0, 0, tzinfo=WIB)
MAX_BYTES = 400 * 1024

# fmt: off
TOPICS = {
    "akun_verifikasi", "pembayaran_dana", "aplikasi_sistem", "layanan_pelanggan", "informasi_kebijakan",
    "ketepatan_sasaran", "manfaat_kualitas", "penipuan_keamanan", "lainnya",
}
# fmt: on
SENTIMENTS = {"negative", "neutral", "positive"}
OFFICIAL = {"@KartuCakap_ID", "agent:cs_kartucakap"}

# Expected planted-event counts per week (week 1 = Mon 2026-10-05).
EXPECT_CERT = {1: 0, 2: 0, 3: 0, 4: 6, 5: 12, 6: 16}
EXPECT_DISB = {1: (8, 10), 2: (8, 10), 3: (8, 10), 4: (8, 10), 5: (15, 17), 6: (20, 24)}
CAMPAIGN_SIZE, CAMPAIGN_WEEK = 14, 5

# -- planted-event rules -----------------------------------------------------------------------------------------
_NEG = r"(?:belum|belom|blm|blom|gak|ga|gk|g|nggak|ngga|enggak|engga|tidak|tdk|tak|kagak)"
DISB_RE = re.compile(
    r"\b" + _NEG + r"\s+(?:juga\s+|jg\s+|kunjung\s+|pernah\s+|sama\s+sekali\s+)?"
    r"(?:cair|masuk|nyampe|turun|diterima|ditransfer)",
    re.I,
)
DISB_CONTEXT_RE = re.compile(
    r"insentif|cair|gel(?:ombang)?\.?\s*1[45]|pencairan|duit|uang|saldo|\bdana\b", re.I
)
CERT_RE = re.compile(r"sertif|certificate", re.I)
CERT_PROBLEM_RE = re.compile(
    r"hilang|ilang|lenyap|raib|hapus|\bg(?:a|ak|k)?\s*ada\b|gaada|nggak ada|tidak ada|muncul|tampil|kosong"
    r"|download|unduh|donlot|error|3\.2|disappear",
    re.I,
)


def is_official(o: dict) -> bool:
    return o.get("author") in OFFICIAL


def is_campaign(o: dict) -> bool:
    t = o["text"].lower()
    return not is_official(o) and "usut tuntas" in t and "#kartucakapsalahsasaran" in t


def is_cert_issue(o: dict) -> bool:
    t = o["text"]
    return not is_official(o) and not is_campaign(o) and bool(CERT_RE.search(t) and CERT_PROBLEM_RE.search(t))


def is_disbursement_complaint(o: dict) -> bool:
    t = o["text"]
    return (
        not is_official(o)
        and not is_campaign(o)
        and not is_cert_issue(o)
        and bool(DISB_RE.search(t) and DISB_CONTEXT_RE.search(t))
    )


def event_of(o: dict) -> str | None:
    if is_campaign(o):
        return "campaign"
    if is_cert_issue(o):
        return "cert"
    if is_disbursement_complaint(o):
        return "disb"
    return None


# -- PII rules ---------------------------------------------------------------------------------------------------
# the two-digit province codes that open an NIK / KK number
PROVINCE_RE = re.compile(r"1[1-9]|21|3[1-6]|5[1-3]|6[1-5]|7[1-6]|8[12]|9[1246]")
SIXTEEN_RE = re.compile(r"(?<![\d.])(\d{4})[ -]?(\d{4})[ -]?(\d{4})[ -]?(\d{4})(?!\d|\.\d)")
PHONE_RE = re.compile(r"(?<![\d\w])(?:\+62[ -]?|62[ -]?|0)8\d{1,3}[ -]?\d{3,4}[ -]?\d{3,5}(?!\d)")
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
NPWP_RE = re.compile(r"\b\d{2}\.\d{3}\.\d{3}\.\d-\d{3}\.\d{3}\b")
BANK_RE = re.compile(r"\b(?:BCA|BRI|BNI|BSI|Mandiri)\b[^\d\n.]{0,14}(\d[\d -]{7,20}\d)")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        x = int(ch)
        if i % 2:
            x = x * 2 - 9 if x > 4 else x * 2
        total += x
    return total % 10 == 0


def nik_like(digits: str) -> bool:
    """Province code, a valid day (+40 for women) and month: the NIK/KK layout."""
    if not PROVINCE_RE.fullmatch(digits[:2]):
        return False
    day, month = int(digits[6:8]), int(digits[8:10])
    day = day - 40 if day > 40 else day
    return 1 <= day <= 31 and 1 <= month <= 12


def pii_kinds(text: str) -> set[str]:
    kinds: set[str] = set()
    for m in SIXTEEN_RE.finditer(text):
        digits = "".join(m.groups())
        before = text[max(0, m.start() - 25) : m.start()].lower()
        if luhn_ok(digits) and re.search(r"kartu|card|atm|debit", before):
            kinds.add("card")
        elif re.search(r"\bkk\b", before):
            kinds.add("kk")
        elif nik_like(digits):
            kinds.add("nik")
    if PHONE_RE.search(text):
        kinds.add("phone")
    if EMAIL_RE.search(text):
        kinds.add("email")
    if NPWP_RE.search(text):
        kinds.add("npwp")
    if BANK_RE.search(text):
        kinds.add("bank_account")
    return kinds


# -- checks ------------------------------------------------------------------------------------------------------
def week_of(dt: datetime) -> int:
    return (dt - START).days // 7 + 1


def parse_dt(value: str, where: str, errors: list[str]) -> datetime | None:
    try:
        dt = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        errors.append(f"{where}: bad datetime {value!r}")
        return None
    if dt.utcoffset() != timedelta(hours=7):
        errors.append(f"{where}: offset is not +07:00 in {value!r}")
    return dt


def check(path: Path) -> tuple[list[str], list[str]]:
    errors: list[str] = []
    summary: list[str] = []

    def need(cond: bool, msg: str) -> None:
        if not cond:
            errors.append(msg)

    size = path.stat().st_size
    need(size < MAX_BYTES, f"file is {size} bytes, limit {MAX_BYTES}")

    rows: list[dict] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            o = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"line {n}: not JSON ({exc})")
            continue
        o["_line"] = n
        rows.append(o)

    by_id: dict[tuple[str, str], dict] = {}
    prev_dt: datetime | None = None
    prev_xid = 0
    for o in rows:
        where = f"line {o['_line']} ({o.get('id')})"
        for key in (
            "channel",
            "id",
            "kind",
            "author",
            "author_name",
            "text",
            "created_at",
            "url",
            "thread_id",
            "lang",
            "gold",
        ):
            need(key in o and o[key] not in (None, ""), f"{where}: missing {key}")
        if errors and errors[-1].startswith(where + ": missing"):
            continue
        ch, kind = o["channel"], o["kind"]
        need(ch in ("x", "zendesk"), f"{where}: channel {ch!r}")
        need(
            (ch, kind) in {("x", "post"), ("x", "reply"), ("zendesk", "ticket"), ("zendesk", "reply")},
            f"{where}: kind {kind!r} on channel {ch!r}",
        )
        need(o["lang"] in ("id", "en"), f"{where}: lang {o['lang']!r}")
        need((ch, o["id"]) not in by_id, f"{where}: duplicate id in channel {ch}")
        by_id[(ch, o["id"])] = o

        dt = parse_dt(o["created_at"], where, errors)
        o["_dt"] = dt
        if dt:
            need(START <= dt <= END, f"{where}: created_at {o['created_at']} outside the period")
            if prev_dt:
                need(dt >= prev_dt, f"{where}: not sorted by created_at")
            prev_dt = dt

        gold = o["gold"]
        need(gold.get("sentiment") in SENTIMENTS, f"{where}: gold sentiment {gold.get('sentiment')!r}")
        topics = gold.get("topics") or []
        need(
            1 <= len(topics) <= 3 and set(topics) <= TOPICS and len(set(topics)) == len(topics),
            f"{where}: gold topics {topics!r}",
        )

        if ch == "x":
            handle = o["author"]
            need(re.fullmatch(r"@[A-Za-z0-9_]{1,15}", handle) is not None, f"{where}: handle {handle!r}")
            need(re.fullmatch(r"\d{19}", o["id"]) is not None, f"{where}: X id is not 19 digits")
            if o["id"].isdigit():
                need(int(o["id"]) > prev_xid, f"{where}: X ids do not increase with time")
                prev_xid = max(prev_xid, int(o["id"]))
            need(o["url"] == f"https://x.com/{handle[1:]}/status/{o['id']}", f"{where}: url {o['url']}")
            m = o.get("metrics") or {}
            need(
                set(m) == {"retweet_count", "reply_count", "like_count", "quote_count"}
                and all(isinstance(v, int) and v >= 0 for v in m.values()),
                f"{where}: metrics {m}",
            )
            need("subject" not in o and "status" not in o, f"{where}: ticket fields on an X item")
            if kind == "post":
                need(o["thread_id"] == o["id"], f"{where}: a post must be its own thread root")
        else:
            need("metrics" not in o, f"{where}: metrics on a ticket item")
            if kind == "ticket":
                need(re.fullmatch(r"ZD-\d{5}", o["id"]) is not None, f"{where}: ticket id {o['id']!r}")
                need(o["thread_id"] == o["id"], f"{where}: ticket thread_id")
                need(bool(o.get("subject")), f"{where}: ticket without subject")
                need(
                    o.get("status") in ("new", "open", "pending", "solved"),
                    f"{where}: status {o.get('status')}",
                )
                need(o.get("priority") in ("low", "normal", "high", "urgent"), f"{where}: priority")
                need(
                    isinstance(o.get("tags"), list) and all(isinstance(t, str) for t in o["tags"]),
                    f"{where}: tags",
                )
                need(
                    o["url"] == f"https://kartucakap.zendesk.com/agent/tickets/{o['id'][3:]}",
                    f"{where}: url {o['url']}",
                )
                need(
                    re.fullmatch(r"[\w.+-]+@[\w-]+(\.[\w-]+)+", o["author"]) is not None,
                    f"{where}: requester is not an e-mail",
                )
                fr, sv = o.get("first_response_at", "absent"), o.get("solved_at", "absent")
                need(fr != "absent" and sv != "absent", f"{where}: first_response_at/solved_at missing")
                fr_dt = parse_dt(fr, where, errors) if isinstance(fr, str) else None
                sv_dt = parse_dt(sv, where, errors) if isinstance(sv, str) else None
                if dt and fr_dt:
                    need(dt < fr_dt <= SNAPSHOT, f"{where}: first_response_at out of order")
                need(
                    (sv_dt is not None) == (o.get("status") == "solved"),
                    f"{where}: solved_at must be set exactly when solved",
                )
                if sv_dt and dt:
                    need(
                        dt < sv_dt <= SNAPSHOT and (fr_dt is None or fr_dt <= sv_dt),
                        f"{where}: solved_at out of order",
                    )
                need(o.get("status") == "new" or fr_dt is not None, f"{where}: no first response but not new")
            else:  # ticket reply
                need(re.fullmatch(r"ZD-\d{5}-c\d+", o["id"]) is not None, f"{where}: reply id {o['id']!r}")
                need(o["id"].rsplit("-c", 1)[0] == o["thread_id"], f"{where}: reply id does not match thread")
                need("subject" not in o and "status" not in o, f"{where}: ticket-only fields on a reply")
                need(
                    o["url"] == f"https://kartucakap.zendesk.com/agent/tickets/{o['thread_id'][3:]}",
                    f"{where}: url {o['url']}",
                )

    # threads, quotes, agent replies vs first_response_at
    first_agent: dict[str, datetime] = {}
    for o in rows:
        if "_dt" not in o or o["_dt"] is None:
            continue
        where = f"line {o['_line']} ({o['id']})"
        if o["kind"] == "reply":
            root = by_id.get((o["channel"], o["thread_id"]))
            need(root is not None, f"{where}: thread root {o['thread_id']} not in the sample")
            if root:
                need(
                    root["kind"] != "reply" and root["thread_id"] == root["id"],
                    f"{where}: root is not a root",
                )
                need(
                    root.get("_dt") is not None and root["_dt"] < o["_dt"], f"{where}: reply before its root"
                )
                if o["channel"] == "x":
                    need(root["author"] != o["author"], f"{where}: replies to itself")
            if o["author"] == "agent:cs_kartucakap":
                first_agent.setdefault(o["thread_id"], o["_dt"])
            elif o["channel"] == "zendesk" and root:
                need(o["author"] == root["author"], f"{where}: customer reply from another requester")
        if "quoted_id" in o:
            q = by_id.get(("x", o["quoted_id"]))
            need(q is not None and q["_dt"] < o["_dt"], f"{where}: quoted post missing or later")
    for tid, t_agent in first_agent.items():
        t = by_id.get(("zendesk", tid))
        if t and t.get("first_response_at"):
            need(
                datetime.fromisoformat(t["first_response_at"]) <= t_agent,
                f"{tid}: first_response_at after the first agent reply",
            )
        elif t:
            errors.append(f"{tid}: agent replied but first_response_at is null")
    # X reply counts cover the replies in the sample
    n_replies = Counter(o["thread_id"] for o in rows if o["channel"] == "x" and o["kind"] == "reply")
    n_quotes = Counter(o["quoted_id"] for o in rows if "quoted_id" in o)
    for (ch, i), o in by_id.items():
        if ch == "x" and "metrics" in o:
            need(o["metrics"].get("reply_count", 0) >= n_replies.get(i, 0), f"{i}: reply_count too small")
            need(o["metrics"].get("quote_count", 0) >= n_quotes.get(i, 0), f"{i}: quote_count too small")

    # planted events
    ok_rows = [o for o in rows if o.get("_dt")]
    ev = defaultdict(Counter)
    for o in ok_rows:
        e = event_of(o)
        if e:
            ev[e][week_of(o["_dt"])] += 1
    weeks = range(1, 7)
    for w in weeks:
        need(
            ev["cert"][w] == EXPECT_CERT[w],
            f"certificate issue week {w}: {ev['cert'][w]} != {EXPECT_CERT[w]}",
        )
        lo, hi = EXPECT_DISB[w]
        need(
            lo <= ev["disb"][w] <= hi, f"disbursement complaints week {w}: {ev['disb'][w]} not in {lo}..{hi}"
        )
    need(
        min(ev["disb"][w] for w in (1, 2, 3, 4)) < ev["disb"][5] < ev["disb"][6], "disbursement does not rise"
    )
    first_cert = min((o["_dt"] for o in ok_rows if is_cert_issue(o)), default=None)
    need(
        first_cert is not None and first_cert >= CERT_ISSUE_FROM, f"certificate issue starts at {first_cert}"
    )
    early_32 = [o["id"] for o in ok_rows if o["_dt"] < CERT_ISSUE_FROM and re.search(r"\b3\.2\b", o["text"])]
    need(not early_32, f"'3.2' mentioned before the release: {early_32}")
    camp = [o for o in ok_rows if is_campaign(o)]
    need(len(camp) == CAMPAIGN_SIZE, f"campaign has {len(camp)} posts, expected {CAMPAIGN_SIZE}")
    need(len({o["author"] for o in camp}) == len(camp), "campaign authors are not distinct")
    need(
        all(o["channel"] == "x" and week_of(o["_dt"]) == CAMPAIGN_WEEK for o in camp),
        "campaign outside week 5",
    )
    if camp:
        span = max(o["_dt"] for o in camp) - min(o["_dt"] for o in camp)
        need(span <= timedelta(days=2), f"campaign spans {span}")
        need(len({o["text"] for o in camp}) >= CAMPAIGN_SIZE - 2, "campaign posts should vary slightly")

    # PII
    pii = {o["id"]: pii_kinds(o["text"]) for o in ok_rows}
    pii_items = {k: v for k, v in pii.items() if v}
    kinds = Counter(k for v in pii_items.values() for k in v)
    need(30 <= len(pii_items) <= 40, f"{len(pii_items)} items with PII, expected about 35")
    for k in ("nik", "kk", "npwp", "phone", "email", "bank_account", "card"):
        need(kinds[k] > 0, f"no PII of kind {k}")
    spaced_nik = sum(
        bool(re.search(r"\b\d{4} \d{4} \d{4} \d{4}\b", o["text"])) and "nik" in pii[o["id"]] for o in ok_rows
    )
    need(spaced_nik >= 1, "no NIK written with spaces")

    # volume and mix
    per_week = Counter(week_of(o["_dt"]) for o in ok_rows)
    for w in weeks:
        need(55 <= per_week[w] <= 85, f"week {w} has {per_week[w]} items")
    ck = Counter((o["channel"], o["kind"]) for o in rows)
    need(280 <= ck["x", "post"] + ck["x", "reply"] <= 320, "about 300 X items expected")
    need(20 <= ck["x", "reply"] <= 32, "about 25 X replies expected")
    need(60 <= ck["zendesk", "ticket"] <= 80, "about 70 tickets expected")
    need(40 <= ck["zendesk", "reply"] <= 60, "about 50 ticket replies expected")
    agent = sum(o["author"] == "agent:cs_kartucakap" for o in rows)
    need(12 <= agent <= 18, f"{agent} agent replies, expected about 15")
    quotes = sum("quoted_id" in o for o in rows)
    need(3 <= quotes <= 8, f"{quotes} quote posts")
    sent = Counter(o["gold"]["sentiment"] for o in rows)
    total = len(rows)
    need(0.50 <= sent["negative"] / total <= 0.60, "negative share off ~55%")
    need(0.20 <= sent["neutral"] / total <= 0.30, "neutral share off ~25%")
    need(0.15 <= sent["positive"] / total <= 0.25, "positive share off ~20%")
    x_auth = Counter(o["author"] for o in rows if o["channel"] == "x" and not is_official(o))
    repeat_share = sum(1 for c in x_auth.values() if c > 1) / max(1, len(x_auth))
    need(0.08 <= repeat_share <= 0.25, f"share of X authors with several posts is {repeat_share:.0%}")
    topics = Counter(t for o in rows for t in o["gold"]["topics"])
    need(set(topics) == TOPICS, f"topics never used: {TOPICS - set(topics)}")

    # summary
    summary.append(f"file: {path} ({size / 1024:.1f} KB, {total} lines)")
    summary.append(
        "channel/kind: "
        + ", ".join(f"{c}/{k}={n}" for (c, k), n in sorted(ck.items()))
        + f" (quote posts {quotes}, agent replies {agent})"
    )
    summary.append(
        "items per week: "
        + ", ".join(f"W{w} {START.date() + timedelta(weeks=w - 1)}: {per_week[w]}" for w in weeks)
    )
    summary.append(
        "sentiment: "
        + ", ".join(f"{s} {sent[s]} ({sent[s] / total:.0%})" for s in ("negative", "neutral", "positive"))
    )
    by_week_sent = defaultdict(Counter)
    for o in ok_rows:
        by_week_sent[week_of(o["_dt"])][o["gold"]["sentiment"]] += 1
    summary.append(
        "sentiment per week (neg/neu/pos): "
        + ", ".join(
            f"W{w} {by_week_sent[w]['negative']}/{by_week_sent[w]['neutral']}/{by_week_sent[w]['positive']}"
            for w in weeks
        )
    )
    summary.append("topics: " + ", ".join(f"{t} {n}" for t, n in topics.most_common()))
    summary.append(
        f"X authors: {len(x_auth)} (excluding the official account), "
        f"{sum(1 for c in x_auth.values() if c > 1)} post more than once ({repeat_share:.0%})"
    )
    summary.append("planted, per week W1..W6:")
    summary.append(
        "  certificate issue (sertifikat hilang, v3.2): " + " ".join(str(ev["cert"][w]) for w in weeks)
    )
    summary.append(
        "  incentive not disbursed (belum cair):        " + " ".join(str(ev["disb"][w]) for w in weeks)
    )
    summary.append(
        "  copy-paste campaign (#KartuCakapSalahSasaran): "
        + " ".join(str(ev["campaign"][w]) for w in weeks)
        + f" ({len({o['author'] for o in camp})} distinct authors)"
    )
    summary.append(
        f"  PII: {len(pii_items)} items; "
        + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
        + f"; NIK written with spaces in {spaced_nik}"
    )
    return errors, summary


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else DEFAULT_PATH
    errors, summary = check(path)
    print("\n".join(summary))
    if errors:
        print(f"\nFAILED: {len(errors)} problem(s)", file=sys.stderr)
        for e in errors[:50]:
            print("  - " + e, file=sys.stderr)
        return 1
    print("\nOK: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
