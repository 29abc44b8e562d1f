"""Regenerate suara/sample/feedback.jsonl from the hand-written texts in data_x.py / data_zd.py.

Usage: python tools/samplegen/gen.py [OUT] [SEED]  (the default seed reproduces the committed file exactly)
"""

import json
import math
import random
import sys
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "suara" / "sample"))
import check_sample as cs
from data_x import (
    CAMPAIGN,
    CAMPAIGN_AUTHORS,
    CERT,
    DISB,
    OFFICIAL,
    OFFICIAL_REPLIES,
    OTHER,
    QUOTES,
    REPLIES,
)
from data_zd import TICKETS

OUT = sys.argv[1] if len(sys.argv) > 1 else str(REPO / "suara" / "sample" / "feedback.jsonl")
rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 2610)
WIB = timezone(timedelta(hours=7))
START = datetime(2026, 10, 5, tzinfo=WIB)
END = datetime(2026, 11, 15, 23, 59, 0, tzinfo=WIB)
SNAPSHOT = datetime(2026, 11, 16, tzinfo=WIB)
WEEK_TARGET = {1: 65, 2: 66, 3: 67, 4: 72, 5: 81, 6: 81}
DISB_TARGET = {1: 9, 2: 8, 3: 10, 4: 9, 5: 16, 6: 22}
CERT_TARGET = {1: 0, 2: 0, 3: 0, 4: 6, 5: 12, 6: 16}
OFFICIAL_AUTHOR = ("@KartuCakap_ID", "Kartu Cakap")
AGENT = ("agent:cs_kartucakap", "CS Kartu Cakap")

HOUR_W = [
    0.3,
    0.2,
    0.1,
    0.1,
    0.2,
    0.5,
    1.0,
    1.6,
    2.2,
    2.6,
    2.6,
    2.5,
    2.6,
    2.4,
    2.2,
    2.1,
    2.2,
    2.3,
    2.1,
    2.6,
    3.0,
    3.0,
    2.4,
    1.2,
]
TICKET_HOUR_W = [
    0.1,
    0.05,
    0.05,
    0.05,
    0.1,
    0.3,
    0.8,
    1.8,
    3,
    3.2,
    3,
    2.8,
    2.4,
    2.8,
    2.8,
    2.5,
    2.1,
    1.6,
    1.3,
    1.5,
    1.6,
    1.3,
    0.8,
    0.3,
]
DAY_W = [1.15, 1.1, 1.05, 1.0, 1.0, 0.62, 0.58]


def dt(s):
    return datetime.fromisoformat(s).replace(tzinfo=WIB) if "+" not in s else datetime.fromisoformat(s)


def wk_bounds(w):
    lo = START + timedelta(days=7 * (w - 1))
    return lo, min(lo + timedelta(days=7) - timedelta(seconds=61), END)


def week(t):
    return (t - START).days // 7 + 1


def rand_time(lo, hi, hour_w=HOUR_W):
    for _ in range(20000):
        d = lo.date() + timedelta(days=rng.randrange((hi.date() - lo.date()).days + 1))
        if rng.random() > DAY_W[d.weekday()] / 1.15:
            continue
        h = rng.choices(range(24), hour_w)[0]
        t = datetime(d.year, d.month, d.day, h, rng.randrange(60), rng.randrange(60), tzinfo=WIB)
        if lo <= t <= hi:
            return t
    return lo + (hi - lo) * rng.random()


def allowed_weeks(it):
    lo, hi = it.get("w", (1, 6))
    ws = []
    for w in range(lo, hi + 1):
        a, b = wk_bounds(w)
        if it.get("after") and dt(it["after"]) > b - timedelta(hours=3):
            continue
        if it.get("before") and dt(it["before"]) < a + timedelta(hours=3):
            continue
        ws.append(w)
    return ws


def time_in_week(it, w, hour_w=HOUR_W):
    a, b = wk_bounds(w)
    if it.get("after"):
        a = max(a, dt(it["after"]))
    if it.get("before"):
        b = min(b, dt(it["before"]))
    return rand_time(a, b, hour_w)


# ---------------------------------------------------------------- authors
FM = [
    "Budi",
    "Agus",
    "Dimas",
    "Rizky",
    "Fajar",
    "Andi",
    "Yoga",
    "Bayu",
    "Hendra",
    "Rahmat",
    "Arief",
    "Iqbal",
    "Fikri",
    "Reza",
    "Dani",
    "Galih",
    "Ilham",
    "Wahyu",
    "Teguh",
    "Eko",
    "Joko",
    "Bagus",
    "Aditya",
    "Farhan",
    "Raka",
    "Hafiz",
    "Taufik",
    "Yusuf",
    "Ujang",
    "Asep",
    "Dedi",
    "Irfan",
    "Kevin",
    "Nanda",
    "Rendy",
    "Sandi",
    "Tommy",
    "Ridwan",
    "Gilang",
    "Haris",
    "Anton",
    "Rudi",
    "Yosua",
    "Made",
    "Komang",
    "Daeng",
    "Ucok",
    "Ikhsan",
    "Fauzan",
    "Bima",
    "Surya",
    "Imam",
    "Zaki",
    "Alif",
    "Johan",
    "Stevan",
    "Wayan",
    "Gede",
    "Robby",
    "Lukman",
]
FF = [
    "Siti",
    "Rina",
    "Dewi",
    "Ayu",
    "Nurul",
    "Fitri",
    "Sari",
    "Ratna",
    "Indah",
    "Wulan",
    "Putri",
    "Nadia",
    "Intan",
    "Mega",
    "Dinda",
    "Lestari",
    "Rahma",
    "Aisyah",
    "Anisa",
    "Citra",
    "Dian",
    "Eka",
    "Fina",
    "Gita",
    "Hana",
    "Kiki",
    "Lia",
    "Maya",
    "Novi",
    "Okta",
    "Rani",
    "Salsa",
    "Tiara",
    "Vina",
    "Yuni",
    "Zahra",
    "Nabila",
    "Amel",
    "Bella",
    "Cindy",
    "Desi",
    "Elsa",
    "Tuti",
    "Sri",
    "Yanti",
    "Nining",
    "Ketut",
    "Melati",
    "Laras",
    "Ningsih",
    "Febri",
    "Aulia",
    "Nisa",
    "Shinta",
    "Veronika",
    "Agnes",
    "Clara",
    "Mutia",
    "Riska",
    "Astuti",
]
LAST = [
    "Santoso",
    "Wijaya",
    "Pratama",
    "Saputra",
    "Hidayat",
    "Nugroho",
    "Setiawan",
    "Kurniawan",
    "Lestari",
    "Rahmawati",
    "Siregar",
    "Nasution",
    "Harahap",
    "Simanjuntak",
    "Hutapea",
    "Sitompul",
    "Lubis",
    "Tanjung",
    "Syahputra",
    "Gunawan",
    "Halim",
    "Tan",
    "Wibowo",
    "Suryadi",
    "Permana",
    "Sulistyo",
    "Anggraini",
    "Handayani",
    "Maharani",
    "Purnama",
    "Ramadhan",
    "Firmansyah",
    "Hakim",
    "Mahendra",
    "Utami",
    "Puspita",
    "Damanik",
    "Pangaribuan",
    "Sembiring",
    "Ginting",
    "Tarigan",
    "Manurung",
    "Rasyid",
    "Fauzi",
    "Amalia",
    "Safitri",
    "Wulandari",
    "Kusuma",
    "Hartono",
    "Susanto",
    "Sihombing",
    "Batubara",
    "Marpaung",
    "Pane",
    "Situmorang",
    "Matondang",
    "Panjaitan",
    "Sinaga",
    "Prasetyo",
    "Yulianti",
    "Mulyadi",
    "Hasibuan",
    "Rangkuti",
    "Pohan",
    "Supriadi",
    "Irawan",
    "Sutrisno",
    "Haryanto",
    "Oktaviani",
    "Putra",
    "Pakpahan",
]
CITY = [
    "bdg",
    "jkt",
    "sby",
    "mdn",
    "mks",
    "smg",
    "jogja",
    "bks",
    "dpk",
    "tng",
    "bgr",
    "plg",
    "mlg",
    "solo",
    "pku",
    "pdg",
    "bjm",
    "dps",
    "lpg",
    "grt",
    "cbn",
    "tsm",
    "pwt",
    "kdr",
    "jbr",
    "btm",
    "pnk",
    "smd",
]
QUIRKY = [
    ("kopisusu_senja", "kopi susu senja ☕"),
    ("anakkos_jkt", "anak kos"),
    ("si_paling_hemat", "si paling hemat"),
    ("mamah_muda_", "mamah muda 🌷"),
    ("bucinakut", "bucin akut"),
    ("tukangngopi", "Tukang Ngopi"),
    ("jualan_cilok", "Cilok Mang Ujang"),
    ("penikmat_senja", "penikmat senja"),
    ("ojolhidup", "ojol hidup"),
    ("kaum_rebahan", "kaum rebahan"),
    ("nasgor_pedes", "nasgor pedes 🌶️"),
    ("mahasiswaabadi", "mahasiswa abadi"),
    ("bapak2dasteran", "bapak-bapak dasteran"),
    ("fresh_grad_ok", "fresh grad (open to work)"),
    ("pencari_kerja", "pencari kerja"),
    ("ngopi_dulu_ah", "ngopi dulu"),
    ("cicilan_hidup", "cicilan hidup"),
    ("hamba_kuota", "hamba kuota"),
    ("nunggu_gajian", "nunggu gajian"),
    ("anakbungsu99", "anak bungsu"),
    ("ibu2rempong", "Ibu-ibu Rempong"),
    ("kangbakso_", "kang bakso"),
    ("rumput_teki", "rumput teki"),
    ("meong_oren", "meong oren 🐈"),
    ("rebahan_pro", "rebahan pro"),
    ("mbakolshop", "mbak olshop 🛍️"),
    ("seblak_lvl5", "seblak level 5"),
    ("anak_sulung_", "anak sulung"),
    ("ayahnya_kenzo", "Ayahnya Kenzo"),
    ("bundanya_alya", "Bunda Alya 🌸"),
    ("tukang_nyimak", "tukang nyimak"),
    ("pejuang_cv", "pejuang CV"),
    ("kerja_remote_", "kerja remote pls"),
    ("warteg_lover", "warteg lover"),
    ("sambal_matah", "sambal matah"),
    ("pisang_goreng_", "pisang goreng"),
    ("ikan_asin_", "ikan asin"),
    ("jomblo_ceria", "jomblo ceria"),
]
BIO = [
    "open to work",
    "jualan online",
    "freelancer",
    "ibu 2 anak",
    "ojol",
    "guru honorer",
    "fresh grad",
    "pejuang loker",
    "slow resp",
    "reseller",
    "UMKM",
]
EMOJI = ["🌻", "🌙", "✨", "🍓", "🐣", "☕", "🌷", "🍀", "🌊", "⚽", "🎧"]
used_handles = {h for h, _ in CAMPAIGN_AUTHORS} | {
    "KartuCakap_ID",
    "infoloker_id",
    "kabardaerah_",
    "wartaekonomi_",
    "beritabdg",
    "kartucakap_cs",
}
used_handles = {h.lstrip("@").lower() for h in used_handles}
quirky_pool = QUIRKY[:]
rng.shuffle(quirky_pool)


def new_x_author():
    for _ in range(1000):
        if quirky_pool and rng.random() < 0.14:
            h, name = quirky_pool.pop()
            if h.lower() not in used_handles:
                used_handles.add(h.lower())
                return "@" + h, name
            continue
        female = rng.random() < 0.52
        first = rng.choice(FF if female else FM)
        last = rng.choice(LAST)
        f, l = first.lower(), last.lower()
        style = rng.random()
        if style < 0.22:
            h = f"{f}{l}{rng.randrange(10, 100)}"
        elif style < 0.38:
            h = f"{f}_{l}"
        elif style < 0.50:
            h = f"{f}_{rng.choice(CITY)}"
        elif style < 0.60:
            h = f"{f}{rng.choice(['', '_'])}{rng.randrange(1985, 2006)}"
        elif style < 0.70:
            h = f"{first}{last[0]}{rng.choice(['', '_', str(rng.randrange(1, 10))])}"
        elif style < 0.74:
            h = f"{f}{f[-1] * rng.randrange(1, 3)}{l[:4]}"
        elif style < 0.90:
            h = f"_{f}{l[:3]}"
        else:
            h = f"{f}.{l}".replace(".", rng.choice(["_", "", "x"])) + str(rng.randrange(1, 10))
        if len(h) > 15 or h.lower() in used_handles:
            continue
        used_handles.add(h.lower())
        r = rng.random()
        if r < 0.45:
            name = f"{first} {last}"
        elif r < 0.60:
            name = first.lower()
        elif r < 0.70:
            name = f"{first} {last[0]}."
        elif r < 0.80:
            name = f"{first} | {rng.choice(BIO)}"
        elif r < 0.90:
            name = f"{first.lower()} {rng.choice(EMOJI)}"
        elif r < 0.95:
            name = ("Mas " if not female else "Mbak ") + first
        else:
            name = f"{first} {last}".upper()
        return "@" + h, name
    raise RuntimeError("no handle")


used_emails = set()


def new_requester(name=None, email=None):
    if name is None:
        female = rng.random() < 0.55
        name = f"{rng.choice(FF if female else FM)} {rng.choice(LAST)}"
    first, last = (name.split() + [""])[:2]
    f, l = first.lower(), last.lower()
    while email is None or email in used_emails:
        dom = rng.choices(
            ["gmail.com", "yahoo.co.id", "yahoo.com", "ymail.com", "outlook.com", "hotmail.com"],
            [70, 10, 7, 4, 6, 3],
        )[0]
        y = rng.randrange(1978, 2006)
        style = rng.randrange(6)
        local = [
            f"{f}.{l}{y % 100:02d}",
            f"{f}{l}",
            f"{f}_{l}{rng.randrange(1, 99)}",
            f"{f}{y}",
            f"{f}.{l}",
            f"{l}.{f}{rng.randrange(1, 9)}",
        ][style]
        email = f"{local}@{dom}"
    used_emails.add(email)
    disp = name if rng.random() < 0.8 else name.lower()
    return email, disp


# ---------------------------------------------------------------- build items
items = []  # dicts: channel, kind, t, text, gold, ...
keyed = {}


def add(**kw):
    kw.setdefault("lang", "id")
    items.append(kw)
    return kw


for o in OFFICIAL:
    it = add(
        channel="x",
        kind="post",
        t=dt(o["at"]) + timedelta(seconds=rng.randrange(5, 50)),
        text=o["text"],
        sentiment="neutral",
        topics=o["topics"],
        author=OFFICIAL_AUTHOR,
        fixed_m=o["m"],
        src="official",
    )
    keyed[o["key"]] = it

# tickets
subj_index = {t["subject"]: t for t in TICKETS}
links = {
    "Insentif sudah masuk": "Dana insentif belum diterima",
    "Insentif sudah cair": "INSENTIF GELOMBANG 14 BELUM CAIR",
    "Terima kasih": "[PENTING] Akun saya diretas",
}
requesters = {}
for tk in TICKETS:
    if tk["subject"] in links and tk["w"] >= 4:
        continue
    requesters[id(tk)] = new_requester(tk["name"], tk["email"])
for tk in TICKETS:
    if id(tk) not in requesters:
        requesters[id(tk)] = requesters[id(subj_index[links[tk["subject"]]])]

tickets_out = []
for tk in TICKETS:
    for _ in range(500):
        t0 = time_in_week(tk, tk["w"], TICKET_HOUR_W)
        fus, ok = [], True
        for f in tk["fu"]:
            ft = t0 + timedelta(hours=f["h"] * rng.uniform(0.8, 1.25), minutes=rng.randrange(60))
            if f["who"] == "c" and f["h"] < 12:  # quick customer reactions stay quick
                ft = t0 + timedelta(hours=f["h"] * rng.uniform(0.9, 1.1))
            if f["who"] == "a" and not 8 <= ft.hour < 21:  # agents work 08-21 WIB
                nxt = ft if ft.hour < 8 else ft + timedelta(days=1)
                ft = nxt.replace(hour=8, minute=rng.randrange(0, 59), second=rng.randrange(60)) + timedelta(
                    minutes=rng.randrange(0, 150)
                )
            if fus and ft <= fus[-1][0]:
                ft = fus[-1][0] + timedelta(minutes=rng.randrange(20, 300))
            fus.append((ft, f))
        if fus and fus[-1][0] > END - timedelta(hours=2):
            continue
        break
    else:
        raise RuntimeError(tk["subject"])
    req = requesters[id(tk)]
    tick = add(
        channel="zendesk",
        kind="ticket",
        t=t0,
        text=tk["text"],
        subject=tk["subject"],
        sentiment=tk["sentiment"],
        topics=tk["topics"],
        author=req,
        ev=tk["ev"],
        tk=tk,
        src="ticket",
    )
    tick["replies"] = []
    for ft, f in fus:
        r = add(
            channel="zendesk",
            kind="reply",
            t=ft,
            text=f["text"],
            sentiment=f["sentiment"],
            topics=f["topics"],
            author=AGENT if f["who"] == "a" else req,
            ev=f["ev"],
            parent=tick,
            src="ticket_reply",
        )
        tick["replies"].append(r)
    tickets_out.append(tick)

# campaign: three bursts inside ~20 hours on 3-4 Nov
bursts = [
    (dt("2026-11-03T19:05"), 150, 6),
    (dt("2026-11-04T07:10"), 110, 4),
    (dt("2026-11-04T12:20"), 120, 4),
]
ctimes = []
for b0, span, n in bursts:
    ctimes += sorted(b0 + timedelta(minutes=rng.uniform(0, span)) for _ in range(n))
order = list(range(14))
for i, (txt, t) in enumerate(zip(CAMPAIGN, ctimes)):
    it = add(
        channel="x",
        kind="post",
        t=t,
        text=txt,
        sentiment="negative",
        topics=["ketepatan_sasaran"],
        author=CAMPAIGN_AUTHORS[i],
        src="campaign",
        ev="campaign",
    )
    if i == 0:
        keyed["campaign0"] = it

# keyed user roots
pools = {
    "other": [dict(x) for x in OTHER],
    "disb": [dict(x, ev="d") for x in DISB],
    "cert": [dict(x, ev="c") for x in CERT],
}
for name, pool in pools.items():
    for x in pool:
        if "key" in x:
            if x["key"] == "cert_root":
                x["w"] = (4, 5)
            ws = allowed_weeks(x)
            w = rng.choice(ws)
            it = add(
                channel="x",
                kind="post",
                t=time_in_week(x, w),
                text=x["text"],
                sentiment=x["sentiment"],
                topics=x["topics"],
                lang=x.get("lang", "id"),
                author=x.get("author"),
                ev=x.get("ev"),
                src=name,
                key=x["key"],
            )
            keyed[x["key"]] = it
            x["used"] = True

# replies and quotes
for group, kind, official in (
    (REPLIES, "reply", False),
    (OFFICIAL_REPLIES, "reply", True),
    (QUOTES, "post", False),
):
    for x in group:
        root = keyed[x["root"]]
        lo, hi = x["delay"]
        t = root["t"] + timedelta(hours=rng.uniform(lo, hi))
        t = min(t, END - timedelta(minutes=rng.randrange(5, 90)))
        it = add(
            channel="x",
            kind=kind,
            t=t,
            text=x["text"],
            sentiment=x["sentiment"],
            topics=x["topics"],
            lang=x.get("lang", "id"),
            author=OFFICIAL_AUTHOR if official else None,
            ev=x.get("ev"),
            src="quote" if kind == "post" else "reply",
            root=root,
        )
        if kind == "post":
            it["quoted"] = root


def ev_counts():
    c = defaultdict(Counter)
    for it in items:
        if it.get("ev") in ("d", "c"):
            c[it["ev"]][week(it["t"])] += 1
    return c


# planted X posts to reach the weekly targets
for evk, pool, target in (("d", pools["disb"], DISB_TARGET), ("c", pools["cert"], CERT_TARGET)):
    have = ev_counts()[evk]
    free = [x for x in pool if not x.get("used")]
    rng.shuffle(free)
    for w in sorted(range(1, 7), key=lambda w: -w):  # late weeks first: most constrained texts
        need = target[w] - have[w]
        if need < 0:
            raise RuntimeError(f"{evk} week {w} over target by {-need}")
        cands = [x for x in free if w in allowed_weeks(x)]
        cands.sort(key=lambda x: len(allowed_weeks(x)))
        if len(cands) < need:
            raise RuntimeError(f"{evk} week {w}: need {need}, have {len(cands)}")
        for x in cands[:need]:
            add(
                channel="x",
                kind="post",
                t=time_in_week(x, w),
                text=x["text"],
                sentiment=x["sentiment"],
                topics=x["topics"],
                lang=x.get("lang", "id"),
                author=x.get("author"),
                ev=evk,
                src=evk,
            )
            x["used"] = True
            free.remove(x)

# other X posts fill the weeks
counts = Counter(week(it["t"]) for it in items)
rest = [x for x in pools["other"] if not x.get("used")]
cap = {w: WEEK_TARGET[w] - counts[w] for w in range(1, 7)}
scale = len(rest) / max(1, sum(max(0, c) for c in cap.values()))
cap = {w: max(0, c) * scale for w, c in cap.items()}
rng.shuffle(rest)
rest.sort(key=lambda x: len(allowed_weeks(x)))
for x in rest:
    ws = allowed_weeks(x)
    w = max(ws, key=lambda w: cap[w] + rng.random() * 0.5)
    cap[w] -= 1
    add(
        channel="x",
        kind="post",
        t=time_in_week(x, w),
        text=x["text"],
        sentiment=x["sentiment"],
        topics=x["topics"],
        lang=x.get("lang", "id"),
        author=x.get("author"),
        ev=None,
        src="other",
    )

# ---------------------------------------------------------------- X authors
items.sort(key=lambda it: it["t"])
x_authors = []
for it in items:
    if it["channel"] != "x" or it.get("author"):
        continue
    root_author = it["root"]["author"] if it.get("root") else None
    if x_authors and rng.random() < 0.13:
        cands = [a for a in x_authors if a != root_author]
        it["author"] = rng.choice(cands)
    else:
        a = new_x_author()
        x_authors.append(a)
        it["author"] = a
for it in items:
    if it["channel"] == "x" and "{to}" in it["text"]:
        it["text"] = it["text"].replace("{to}", it["root"]["author"][0])

# ---------------------------------------------------------------- ids
BASE = 1843000000000000000
last = 0
for it in items:
    if it["channel"] == "x":
        ms = int((it["t"] - START).total_seconds() * 1000) + rng.randrange(1000)
        xid = BASE + (ms << 22) + rng.randrange(1 << 22)
        xid = max(xid, last + 1)
        last = xid
        it["id"] = str(xid)
num = 48102
for it in sorted((i for i in items if i["kind"] == "ticket"), key=lambda i: i["t"]):
    num += rng.randrange(4, 28)
    it["id"] = f"ZD-{num}"
    for n, r in enumerate(it["replies"], 2):
        r["id"] = f"{it['id']}-c{n}"

# ---------------------------------------------------------------- metrics
n_replies = Counter(it["root"]["id"] for it in items if it["channel"] == "x" and it["kind"] == "reply")
n_quotes = Counter(it["quoted"]["id"] for it in items if it.get("quoted"))
VIRAL = {
    "viral_sasaran": (4210, 296, 1530, 118),
    "scam_acc": (912, 41, 388, 23),
    "dm_course": (604, 37, 71, 9),
    "cert_root": (356, 88, 64, 7),
    "scam_sms": (1180, 52, 702, 31),
    "syarat": (2240, 64, 980, 12),
    "boring": (143, 26, 9, 2),
    "otp1": (58, 19, 4, 0),
    "cs_dm": (231, 40, 27, 3),
}


def metrics(it):
    if it.get("fixed_m"):
        like, rep, rt, q = it["fixed_m"]
    elif it.get("key") in VIRAL:
        like, rep, rt, q = VIRAL[it["key"]]
    elif it["src"] == "campaign":
        like, rep, rt, q = rng.randrange(0, 4), rng.randrange(0, 2), rng.randrange(0, 3), 0
    elif it["author"][0] == "@KartuCakap_ID":
        like, rep, rt, q = rng.randrange(0, 25), rng.randrange(0, 6), rng.randrange(0, 3), 0
    else:
        base = math.exp(rng.gauss(0.9, 1.35)) - 1
        if it["kind"] == "reply":
            base *= 0.6
        if rng.random() < 0.025:
            base = rng.uniform(300, 3000)
        if it["author"][0] in ("@infoloker_id", "@kabardaerah_", "@wartaekonomi_", "@beritabdg"):
            base = rng.uniform(40, 600)
        like = max(0, int(base))
        rt = int(like * rng.uniform(0.02, 0.35))
        rep = int(like * rng.uniform(0.02, 0.2)) + (1 if rng.random() < 0.25 else 0)
        q = int(like * rng.uniform(0, 0.04))
    rep = max(rep, n_replies.get(it["id"], 0))
    q = max(q, n_quotes.get(it["id"], 0))
    return {"retweet_count": rt, "reply_count": rep, "like_count": like, "quote_count": q}


# ---------------------------------------------------------------- ticket lifecycle
def iso(t):
    return t.replace(microsecond=0).isoformat() if t else None


def between(a, b):
    return a + (b - a) * rng.random()


for tick in tickets_out:
    tk = tick["tk"]
    agent_times = [r["t"] for r in tick["replies"] if r["author"] == AGENT]
    status = tk["status"]
    if agent_times:
        fr = agent_times[0]
    elif tk["noresp"] or status == "new":
        fr = None
        status = "new"
    else:
        fr = tick["t"] + timedelta(hours=min(rng.lognormvariate(math.log(14), 0.9), 96))
        first_cust = [r["t"] for r in tick["replies"]]
        if first_cust:  # the customer's follow-up answers or chases a first (template) response
            fr = between(tick["t"] + (first_cust[0] - tick["t"]) * 0.2, first_cust[0] - timedelta(minutes=10))
        fr = min(fr, SNAPSHOT - timedelta(minutes=rng.randrange(30, 600)))
        if fr <= tick["t"]:
            fr = tick["t"] + timedelta(minutes=rng.randrange(20, 60))
    solved = None
    if status == "solved":
        lo = max([tick["t"], fr or tick["t"]] + [r["t"] for r in tick["replies"]])
        solved = lo + timedelta(hours=rng.uniform(0.5, 30))
        if solved > SNAPSHOT:
            status, solved = "pending", None
    tick["status"], tick["fr"], tick["solved"] = status, fr, solved

# ---------------------------------------------------------------- write
items.sort(key=lambda it: (it["t"], it["channel"], it.get("id", "")))
lines = []
for it in items:
    handle, name = it["author"]
    o = {
        "channel": it["channel"],
        "id": it["id"],
        "kind": it["kind"],
        "author": handle,
        "author_name": name,
        "text": it["text"],
    }
    if it["kind"] == "ticket":
        o["subject"] = it["subject"]
    o["created_at"] = iso(it["t"])
    if it["channel"] == "x":
        o["url"] = f"https://x.com/{handle[1:]}/status/{it['id']}"
        o["thread_id"] = it["root"]["id"] if it["kind"] == "reply" else it["id"]
    else:
        tid = it["id"] if it["kind"] == "ticket" else it["parent"]["id"]
        o["url"] = f"https://kartucakap.zendesk.com/agent/tickets/{tid[3:]}"
        o["thread_id"] = tid
    o["lang"] = it["lang"]
    if it["channel"] == "x":
        o["metrics"] = metrics(it)
        if it.get("quoted"):
            o["quoted_id"] = it["quoted"]["id"]
    if it["kind"] == "ticket":
        o["status"] = it["status"]
        o["priority"] = it["tk"]["priority"]
        o["tags"] = it["tk"]["tags"]
        o["first_response_at"] = iso(it["fr"])
        o["solved_at"] = iso(it["solved"])
    o["gold"] = {"sentiment": it["sentiment"], "topics": it["topics"]}
    # the intended planted event must be what the checker recognises
    want = {"d": "disb", "c": "cert", "campaign": "campaign"}.get(it.get("ev"))
    got = cs.event_of(o)
    if want != got:
        print(f"EVENT MISMATCH want={want} got={got}: {o['text']}", file=sys.stderr)
    lines.append(json.dumps(o, ensure_ascii=False))

with open(OUT, "w", encoding="utf-8") as fh:
    fh.write("\n".join(lines) + "\n")
print(f"wrote {len(lines)} lines to {OUT}")
print(
    "unused disb:",
    sum(not x.get("used") for x in pools["disb"]),
    "unused cert:",
    sum(not x.get("used") for x in pools["cert"]),
)
