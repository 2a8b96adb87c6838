"""gen4: an independent generator of municipal personal-data access logs with labelled insider incidents.

One "world" = a cluster of real neighbouring municipalities (real JIS X 0402 codes), their residents (subjects),
staff roster, cases and 40-50 days of access events, written in formats the observatory collectors accept,
plus labels.json / labels.csv of injected insider incidents.

Usage: python gen4.py --seed 1 --out worlds/seed1 [--staff 1500] [--days 44]
Deterministic per seed (numpy PCG64 + random.Random seeded from it).
"""
from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

JST = timezone(timedelta(hours=9))


def gz_text(path, mode="wt", encoding="utf-8", newline=""):
    """A gzip text writer with a fixed header (mtime 0, no name): the same bytes for the same seed."""
    raw = open(path, "wb")
    gz = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0)
    w = io.TextIOWrapper(gz, encoding=encoding, newline=newline)
    orig_close = w.close

    def close():
        orig_close()
        raw.close()
    w.close = close
    return w

# ------------------------------------------------------------------------------------------ reference material
# real municipalities (codes from `observatory reference municipalities`); relative size, Latin short code, branches
CLUSTERS = {
    "nagano_east": [("202037", "上田市", "UEDA", 1.00, ["MARUKO", "SANADA", "TAKESHI"]),
                    ("202185", "千曲市", "CKM", 0.42, ["TOGURA"]),
                    ("202193", "東御市", "TOMI", 0.21, ["KITAMIMAKI"]),
                    ("203505", "長和町", "NGW", 0.045, []),
                    ("203491", "青木村", "AOKI", 0.03, [])],
    "kumamoto_south": [("432024", "八代市", "YTS", 1.00, ["KAGAMI", "SENCHO", "SAKAMOTO"]),
                       ("432130", "宇城市", "UKI", 0.47, ["MISUMI", "MATSUBASE"]),
                       ("434825", "芦北町", "ASKT", 0.13, []),
                       ("434680", "氷川町", "HKW", 0.09, [])],
    "ibaraki_south": [("082031", "土浦市", "TCU", 1.00, ["NIIHARI"]),
                      ("082058", "石岡市", "ISO", 0.52, ["YASATO"]),
                      ("082309", "かすみがうら市", "KSM", 0.29, ["CHIYODA"]),
                      ("084433", "阿見町", "AMI", 0.34, []),
                      ("084425", "美浦村", "MIHO", 0.11, [])],
}

COMMON_SURNAMES = ("佐藤 鈴木 高橋 田中 伊藤 渡辺 山本 中村 小林 加藤 吉田 山田 佐々木 山口 松本 井上 木村 林 斎藤 清水 "
                   "山崎 森 池田 橋本 阿部 石川 山下 中島 石井 小川 前田 岡田 長谷川 藤田 後藤 近藤 村上 遠藤 青木 坂本 "
                   "斉藤 福田 太田 西村 藤井 金子 岡本 藤原 中野 三浦 原田 中川 松田 竹内 小野 田村 中山 和田 石田 森田 "
                   "上田 原 内田 柴田 酒井 宮崎 横山 高木 安藤 宮本 大野 小島 谷口 今井 工藤 高田 増田 丸山 杉山 村田 "
                   "大塚 新井 小山 平野 藤本 河野 上野 野口 武田 松井 千葉 岩崎 菅原 木下 久保 佐野 野村 松尾 市川 菊地 "
                   "杉本 古川 大西 島田 水野 桜井 高野 渡部 吉川 山内 西田 飯田 菊池 西川 小松 北村 安田 五十嵐 川口 "
                   "平田 関 中田 久保田 服部 東 岩田 土屋 川崎 福島 本田 辻 樋口 秋山 田口 永井 山中 中西 吉村 川上 石原 "
                   "大橋 松岡 馬場 浜田 森本 星野 矢野 浅野 大久保 松下 吉川 小池 堀 今村 大石 関口 荒井 内藤").split()
LOCAL_HEAD = "宮 柳 滝 塩 唐 倉 依 堀 半 箕 荻 栁 蓮 桃 竹 萩 芝 楡 樫 篠 茅 葦 楠 椎 檜".split()
LOCAL_TAIL = "沢 坂 入 平 原 尾 島 窪 畑 越 林 嶋 垣 瀬 野 谷 本 川 内 崎".split()
GIVEN = ("翔太 大輔 健太 拓也 直樹 和也 誠 浩 隆 修 悠斗 陽菜 美咲 由美 恵子 陽子 真由美 久美子 裕子 直美 明美 "
         "彩 舞 愛 さくら 結衣 智子 洋子 幸子 京子 博 清 勇 茂 実 進 亮 剛 聡 学").split()
TOWN_NAMES = ("本町 中央 東町 西町 南町 北町 緑町 桜台 旭町 栄町 新町 大手 常盤 末広 若葉 松原 泉町 錦町 仲町 "
              "富士見 日の出 昭和町 城下 天神 宮下 上原 下原 川原 石田 八幡 秋和 国分 諏訪形 塩田 古里 住吉 "
              "常入 材木町 紺屋町 鍛冶町 大門 寺町 清水 千代田 みどり野 さつき台 ひばりが丘").split()
OAZA_NAMES = ("上野 下野 中島 小泉 岩下 長瀬 大屋 神川 浦野 田沢 野倉 角間 本郷 和子 真田 長 傍陽 殿城 大久保 "
              "平井 加沢 滋野 祢津 袮津 和 田中 八重原 布下 羽毛山 生田 腰越 茂田井").split()
KANJI_NUM = ["", "一", "二", "三", "四", "五", "六", "七", "八", "九"]

UNITS = [  # unit, kind, share of staff
    ("市民課", "counter", 0.13), ("保険年金課", "insur", 0.09), ("税務課", "tax", 0.15),
    ("生活福祉課", "welfare", 0.08), ("子育て支援課", "child", 0.09), ("高齢者介護課", "care", 0.09),
    ("障害福祉課", "disab", 0.05), ("健康推進課", "health", 0.07), ("支所", "branch", 0.09),
    ("情報政策課", "it", 0.03), ("総務課", "admin", 0.05), ("会計課", "admin", 0.02),
    ("選挙管理委員会事務局", "elect", 0.01), ("議会事務局", "admin", 0.01), ("収納課", "collect", 0.04),
]
RECORD = {"counter": ["住民記録", "住民記録", "印鑑登録", "戸籍附票"], "branch": ["住民記録", "住民記録", "印鑑登録"],
          "insur": ["国保資格", "国民年金", "後期高齢", "住民記録"], "tax": ["課税情報", "課税情報", "固定資産"],
          "collect": ["収納情報", "課税情報"], "welfare": ["保護台帳", "住民記録", "課税情報"],
          "child": ["児童台帳", "住民記録", "課税情報"], "care": ["介護認定", "介護保険", "住民記録"],
          "disab": ["障害者台帳", "住民記録"], "health": ["健診記録", "母子保健", "予防接種"],
          "it": ["住民記録", "課税情報", "国保資格"], "admin": ["住民記録"], "elect": ["選挙人名簿", "住民記録"]}
PROC = {"counter": "JUKI-IDO", "branch": "JUKI-IDO", "insur": "KOKUHO", "tax": "ZEI-SHINKOKU",
        "collect": "NOUZEI-SODAN", "welfare": "SEIHO", "child": "HOIKU", "care": "KAIGO-NINTEI",
        "disab": "SHOGAI", "health": "BOSHI", "elect": "SENKYO", "admin": "SOMU", "it": "IT"}
ROLE_MANAGER, ROLE_CHIEF, ROLE_STAFF, ROLE_PART = "課長", "係長", "主事", "会計年度任用職員"
ROLE_IT = "システム管理者"

BRANCH_JA = {"MARUKO": "丸子", "SANADA": "真田", "TAKESHI": "武石", "TOGURA": "戸倉", "KITAMIMAKI": "北御牧",
             "KAGAMI": "鏡", "SENCHO": "千丁", "SAKAMOTO": "坂本", "MISUMI": "三角", "MATSUBASE": "松橋",
             "NIIHARI": "新治", "YASATO": "八郷", "CHIYODA": "千代田"}
HOLIDAYS = {date(2025, 3, 20), date(2025, 4, 29), date(2025, 5, 3), date(2025, 5, 5), date(2025, 5, 6)}


@dataclass
class Person:
    sid: str
    org: int
    hh: int          # household index (global)
    surname: str
    sensitive: bool = False


@dataclass
class Household:
    hid: int
    org: int
    town: int        # index into org towns
    block: int       # index into org blocks
    surname: str
    members: list = field(default_factory=list)


@dataclass
class Staff:
    stid: str
    org: int
    unit: str
    kind: str
    role: str
    name: str
    subject: str | None
    home_block: tuple | None   # (org, block)
    surname: str
    desk: str
    site: str
    part_time: bool = False
    terminated_on: date | None = None
    new_hire: bool = False
    old_unit: str | None = None       # unit before the 1 April transfer (roster shows the new one)
    old_kind: str | None = None
    lent: tuple | None = None         # (start, end) lent to the counter in the moving season
    night_days: list = field(default_factory=list)
    site_old: str = "HQ"
    desk_old: str = ""


class World:
    def __init__(self, seed: int, n_staff: int, n_days: int, out: Path):
        self.seed, self.out = seed, out
        self.r = random.Random(seed * 7919 + 13)
        names = list(CLUSTERS)
        self.cluster = names[seed % len(names)]
        self.orgs = CLUSTERS[self.cluster]
        self.start = date(2025, 3, 3)
        self.days = [self.start + timedelta(d) for d in range(n_days)]
        self.end = self.days[-1]
        self.fy_switch = date(2025, 4, 1)
        self.n_staff = n_staff
        self.events: list[list] = []   # [dt, staff_id, org_idx, subject, action, record_type, case_id, count, terminal, label]
        self.cases: list[dict] = []
        self.case_seq = 0
        self.labels: list[dict] = []

    # ------------------------------------------------------------------------------------------ residents
    def build_residents(self):
        r = self.r
        total_size = sum(o[3] for o in self.orgs)
        n_res = self.n_staff * 80
        self.towns, self.blocks = [], []      # per org: list of (town name, n_chome or 0), list of (town, chome)
        self.households: list[Household] = []
        self.people: list[Person] = []
        self.org_people: list[list[int]] = []
        self.org_hh: list[list[int]] = []
        self.block_hh: dict[tuple, list[int]] = {}
        self.key_style = []
        local_surnames = [h + t for h in LOCAL_HEAD for t in LOCAL_TAIL]
        r.shuffle(local_surnames)
        weights = [1.0 / (i + 3) ** 0.9 for i in range(len(COMMON_SURNAMES))]
        for oi, (_code, _name, short, size, _branches) in enumerate(self.orgs):
            target = int(n_res * size / total_size)
            rural = size < 0.2
            # each org: its own local surnames (clans) concentrated in some oaza/towns
            locals_ = local_surnames[oi * 25:(oi + 1) * 25]
            towns = []
            tn = r.sample(TOWN_NAMES, k=min(len(TOWN_NAMES), 8 + int(30 * size)))
            for t in tn:
                towns.append((t, r.choice([2, 3, 3, 4, 5, 6]) if not rural or r.random() < 0.3 else 0))
            for t in r.sample(OAZA_NAMES, k=min(len(OAZA_NAMES), 4 + int(12 * (1 - size)))):
                towns.append(("大字" + t, 0))
            blocks = []
            for ti, (_t, n) in enumerate(towns):
                for c in range(1, n + 1):
                    blocks.append((ti, c))
                if n == 0:
                    blocks.append((ti, 0))
            self.towns.append(towns)
            self.blocks.append(blocks)
            # key style of the municipality's export
            self.key_style.append(["arabic", "code", "kanji", "arabic", "code"][(oi + self.seed) % 5])
            # block weights (some blocks dense: housing estates)
            bw = [r.lognormvariate(0, 0.6) for _ in blocks]
            clan_home = {s: r.randrange(len(blocks)) for s in locals_}
            people_o, hh_o = [], []
            n = 0
            while n < target:
                bi = r.choices(range(len(blocks)), weights=bw)[0]
                if r.random() < 0.22:   # a local family name: clans live around their home block
                    s = r.choice(locals_)
                    if r.random() < 0.6:
                        hb = clan_home[s]
                        bi = min(len(blocks) - 1, max(0, hb + r.choice([-1, 0, 0, 1])))
                else:
                    s = r.choices(COMMON_SURNAMES, weights=weights)[0]
                size_hh = r.choices([1, 2, 3, 4, 5, 6], weights=[34, 28, 17, 14, 5, 2])[0]
                h = Household(len(self.households), oi, blocks[bi][0], bi, s)
                self.households.append(h)
                hh_o.append(h.hid)
                self.block_hh.setdefault((oi, bi), []).append(h.hid)
                for m in range(size_hh):
                    pid = len(self.people)
                    sur = s if (m == 0 or r.random() > 0.04) else r.choices(COMMON_SURNAMES, weights=weights)[0]
                    p = Person(f"J{short}{pid:07d}", oi, h.hid, sur)
                    if r.random() < 0.004:      # DV/stalking support measure (支援措置) etc.
                        p.sensitive = True
                    self.people.append(p)
                    h.members.append(pid)
                    people_o.append(pid)
                n += size_hh
            # public figures: mayor, deputy, councillors (sensitive flag as the register marks VIPs)
            for pid in r.sample(people_o, k=max(3, int(24 * size))):
                self.people[pid].sensitive = True
            self.org_people.append(people_o)
            self.org_hh.append(hh_o)
        self.surname_hh: dict[tuple, list[int]] = {}
        for h in self.households:
            self.surname_hh.setdefault((h.org, h.surname), []).append(h.hid)

    def block_key(self, oi, bi):
        ti, c = self.blocks[oi][bi]
        t, n = self.towns[oi][ti]
        style = self.key_style[oi]
        if style == "code":
            return f"NB{bi + 1:06d}"
        if c == 0:
            return t
        if style == "kanji":
            return f"{t}{KANJI_NUM[c]}丁目"
        return f"{t}{c}丁目"

    def adjacent_blocks(self, oi, bi):
        ti, c = self.blocks[oi][bi]
        out = [bi]
        if c:
            for d in (-1, 1):
                if 0 <= bi + d < len(self.blocks[oi]) and self.blocks[oi][bi + d][0] == ti and self.blocks[oi][bi + d][1]:
                    out.append(bi + d)
        return out

    # ------------------------------------------------------------------------------------------ staff
    def build_staff(self):
        r = self.r
        total_size = sum(o[3] for o in self.orgs)
        self.staff: list[Staff] = []
        self.org_staff: list[list[int]] = []
        self.subject_staff: dict[int, int] = {}
        used_people = set()
        for oi, (_code, _name, short, size, branches) in enumerate(self.orgs):
            n = max(25, int(self.n_staff * size / total_size))
            idx = []
            units = [u for u in UNITS if not (u[1] == "branch" and not branches)]
            tot = sum(u[2] for u in units)
            serial = 0
            for unit, kind, share in units:
                k = max(2, round(n * share / tot))
                for j in range(k):
                    serial += 1
                    role = ROLE_MANAGER if j == 0 else (ROLE_CHIEF if j % 6 == 1 else ROLE_STAFF)
                    part = role == ROLE_STAFF and kind not in ("it",) and r.random() < 0.27
                    if part:
                        role = ROLE_PART
                    if kind == "it" and role == ROLE_STAFF:
                        role = ROLE_IT
                    # where they live: own municipality (most), a neighbouring one, or outside the cluster
                    u = r.random()
                    home_org = oi if u < 0.72 else (r.randrange(len(self.orgs)) if u < 0.88 else None)
                    subject = None
                    home_block = None
                    sur = r.choices(COMMON_SURNAMES[:60])[0]
                    if home_org is not None:
                        for _ in range(50):
                            pid = r.choice(self.org_people[home_org])
                            if pid not in used_people:
                                break
                        used_people.add(pid)
                        p = self.people[pid]
                        subject, sur = p.sid, p.surname
                        home_block = (home_org, self.households[p.hh].block)
                        self.subject_staff[pid] = len(self.staff)
                    site = "HQ"
                    if kind == "branch":
                        site = branches[j % len(branches)]
                    sid = self.staff_id(oi, short, serial)
                    st = Staff(sid, oi, f"{unit}" if kind != "branch" else f"{site.capitalize()}支所",
                               kind, role, sur + " " + r.choice(GIVEN), subject, home_block, sur,
                               f"{short}-{site}-{r.randrange(1, 9999):04d}", site, part)
                    if kind == "branch":
                        jp = BRANCH_JA[site]
                        st.unit = f"{jp}地域自治センター" if short == "UEDA" else f"{jp}支所"
                    idx.append(len(self.staff))
                    self.staff.append(st)
            self.org_staff.append(idx)
        # part-time staff share desk terminals in pairs
        for idx in self.org_staff:
            by_place = {}
            for i in idx:
                if self.staff[i].part_time:
                    by_place.setdefault((self.staff[i].site, self.staff[i].unit), []).append(self.staff[i])
            for parts in by_place.values():
                for a, b in zip(parts[::2], parts[1::2], strict=False):
                    b.desk = a.desk
        self._staff_changes()

    def _staff_changes(self):
        r = self.r
        # 31 March: retirements and contract ends; a few mid-period resignations; 1 April new hires and transfers
        for st in self.staff:
            u = r.random()
            if u < 0.045 and st.role != ROLE_MANAGER:
                st.terminated_on = date(2025, 3, 31)
            elif u < 0.052:
                st.terminated_on = self.r.choice(self.days[5:30])
            elif u < 0.08 and st.role in (ROLE_STAFF, ROLE_PART):
                st.new_hire = True
        movable = [s for s in self.staff if s.terminated_on is None and not s.new_hire and s.role != ROLE_PART
                   and s.kind not in ("it", "elect")]
        for st in r.sample(movable, k=int(0.16 * len(movable))):
            others = [u for u in UNITS if u[1] not in ("branch", "it", "elect") and u[0] != st.unit]
            unit, kind, _ = r.choice(others)
            st.old_unit, st.old_kind = st.unit, st.kind
            st.unit, st.kind = unit, kind
            st.site_old, st.desk_old = st.site, st.desk
            if st.site != "HQ":
                st.site = "HQ"
                st.desk = f"{self.orgs[st.org][2]}-HQ-{r.randrange(1, 9999):04d}"
        # tax/collection staff lent to the counter for the moving season
        for st in self.staff:
            if st.kind in ("tax", "collect", "insur") and st.role in (ROLE_STAFF, ROLE_CHIEF) and r.random() < 0.2:
                s0 = r.choice([date(2025, 3, 24), date(2025, 3, 27), date(2025, 3, 31), date(2025, 4, 2)])
                st.lent = (s0, s0 + timedelta(r.choice([2, 3, 4, 6])))

    def staff_id(self, oi, short, serial):
        style = oi % 3
        if style == 0:
            return f"{short}{serial:05d}"
        if style == 1:
            return f"{self.orgs[oi][0]}-S{serial:04d}"
        return f"{short}-{serial:04d}A"

    def unit_on(self, st: Staff, d: date):
        if st.old_unit and d < self.fy_switch:
            return st.old_unit, st.old_kind, getattr(st, "desk_old", st.desk)
        return st.unit, st.kind, st.desk

    def active(self, st: Staff, d: date):
        if st.terminated_on and d > st.terminated_on:
            return False
        if st.new_hire and d < self.fy_switch:
            return False
        return True

    # ------------------------------------------------------------------------------------------ cases
    def new_case(self, oi, unit, kind, pid, opened: datetime, closed: datetime | None):
        self.case_seq += 1
        short = self.orgs[oi][2]
        cid = f"C-{short}-{opened.year}-{self.case_seq:06d}"
        self.cases.append({"case_id": cid, "subject": self.people[pid].sid, "org": oi, "unit": unit,
                           "proc": PROC[kind], "opened": opened, "closed": closed, "pid": pid})
        return cid

    def build_case_pools(self):
        """Long-running and pre-opened cases: welfare caseloads, nursery applications, care assessments, ..."""
        r = self.r
        self.pool: dict[tuple, list[dict]] = {}
        self.caseload: dict[int, list[dict]] = {}
        t0 = datetime.combine(self.start, datetime.min.time(), JST)
        for oi in range(len(self.orgs)):
            heads = [self.households[h].members[0] for h in self.org_hh[oi]]
            for unit, kind, _share in UNITS:
                if kind not in ("welfare", "child", "care", "disab", "health", "insur", "tax", "collect"):
                    continue
                n_staff = sum(1 for i in self.org_staff[oi] if self.staff[i].unit == unit or self.staff[i].old_unit == unit)
                n_cases = int(n_staff * {"welfare": 45, "child": 30, "care": 25, "disab": 30, "health": 20,
                                         "insur": 10, "tax": 15, "collect": 25}[kind])
                lst = []
                for _ in range(n_cases):
                    pid = r.choice(heads)
                    if kind == "care":
                        r.random()
                        opened = t0 + timedelta(days=r.uniform(-40, len(self.days) - 5), hours=r.uniform(9, 17))
                        closed = opened + timedelta(days=r.uniform(20, 45))
                    elif kind == "child":
                        opened = t0 + timedelta(days=r.uniform(-90, -20), hours=10)
                        closed = datetime(2025, 4, 1, 9, 0, tzinfo=JST) + timedelta(days=r.uniform(-10, 20))
                    elif kind in ("welfare", "disab"):
                        opened = t0 + timedelta(days=r.uniform(-900, len(self.days)), hours=r.uniform(9, 17))
                        closed = None if r.random() < 0.93 else opened + timedelta(days=r.uniform(30, 400))
                    else:
                        opened = t0 + timedelta(days=r.uniform(-60, len(self.days)), hours=r.uniform(9, 17))
                        closed = opened + timedelta(days=r.uniform(3, 60))
                    if closed and closed < opened:
                        closed = opened + timedelta(days=1)
                    self.new_case(oi, unit, kind, pid, opened, closed)
                    lst.append(self.cases[-1])
                self.pool[(oi, unit)] = lst
        # caseworkers own their welfare cases
        for i, st in enumerate(self.staff):
            for u in (st.unit, st.old_unit):
                if u and (st.org, u) in self.pool and st.role in (ROLE_STAFF, ROLE_CHIEF) and \
                        self.kind_of(u) in ("welfare", "disab"):
                    pool = self.pool[(st.org, u)]
                    self.caseload.setdefault(i, []).extend(self.r.sample(pool, k=min(len(pool), 40)))

    def kind_of(self, unit):
        for u, k, _ in UNITS:
            if u == unit:
                return k
        return "branch"

    def open_cases(self, oi, unit, when: datetime, pool=None):
        pool = pool if pool is not None else self.pool.get((oi, unit), [])
        return [c for c in pool if c["opened"] <= when and (c["closed"] is None or c["closed"] >= when)]

    # ------------------------------------------------------------------------------------------ events
    def emit(self, when, st: Staff, pid, action, rtype, case, terminal, count=1, label=None, subj=None):
        sid = subj if subj is not None else (self.people[pid].sid if pid is not None else None)
        self.events.append([when, st.stid, st.org, sid, action, rtype, case, count, terminal, label])

    def workday(self, st: Staff, d: date, kind: str):
        if d.weekday() >= 5 or d in HOLIDAYS:
            # 休日開庁: counters open two Sundays in the moving season
            return kind in ("counter", "insur") and d in (date(2025, 3, 30), date(2025, 4, 6)) and self.r.random() < 0.35
        if st.part_time and self.r.random() < 0.22:
            return False
        return self.r.random() > 0.06    # annual leave, training, sick leave

    def season(self, d: date, kind: str):
        if kind in ("counter", "branch", "insur"):   # moving season peak: late March to mid April
            return 1.0 + (0.9 if date(2025, 3, 21) <= d <= date(2025, 4, 11) else 0.0)
        if kind == "tax":                             # 確定申告 / 住民税申告 season ends 17 March
            return 1.7 if d <= date(2025, 3, 17) else 0.8
        if kind == "child":                           # nursery intake for April
            return 1.5 if d < date(2025, 4, 8) else 0.9
        return 1.0

    def times(self, st, d, n, overtime_p):
        r = self.r
        start = 8.4 + r.uniform(0, 0.4)
        end = 16.0 if st.part_time else 17.25
        if not st.part_time and r.random() < overtime_p:
            end = r.choice([18.5, 19.0, 19.5, 20.0, 20.5, 21.0, 21.5, 22.0])
        out = []
        for _ in range(n):
            h = r.uniform(start, end)
            if 12.0 <= h < 13.0 and r.random() < 0.7:
                h = r.uniform(start, end)
            out.append(h)
        out.sort()
        return [datetime.combine(d, datetime.min.time(), JST) + timedelta(hours=h) for h in out]

    def random_household(self, oi, st=None):
        """A random household of municipality oi; for a staff member's own work never their own household
        (self-service is against the office's rules: a colleague serves a clerk's family)."""
        h = self.households[self.r.choice(self.org_hh[oi])]
        own = self.own_hh.get(st.stid) if st is not None else None
        while own is not None and h.hid == own:
            h = self.households[self.r.choice(self.org_hh[oi])]
        return h

    def gen_normal(self):
        r = self.r
        [o[2] for o in self.orgs]
        for i, st in enumerate(self.staff):
            for d in self.days:
                if not self.active(st, d):
                    continue
                unit, kind, desk = self.unit_on(st, d)
                lent = bool(st.lent and st.lent[0] <= d <= st.lent[1] and d.weekday() < 5
                            and kind in ("tax", "collect", "insur"))
                if lent:
                    unit, kind = "市民課", "counter"
                if not self.workday(st, d, kind):
                    continue
                getattr(self, "day_" + ("counter" if kind == "branch" else kind))(i, st, d, unit, kind, desk)
                # managers: approvals across the unit's cases, and the odd complaint
                if st.role == ROLE_MANAGER and kind not in ("admin", "it", "elect"):
                    oc = self.open_cases(st.org, unit, datetime.combine(d, datetime.min.time(), JST) + timedelta(hours=12))
                    for t in self.times(st, d, r.randint(2, 8), 0.3):
                        if oc:
                            c = r.choice(oc)
                            self.emit(t, st, c["pid"], "view", RECORD[kind][0], c["case_id"], desk)
                    if r.random() < 0.15:
                        h = self.random_household(st.org, st)
                        t = self.times(st, d, 1, 0)[0]
                        self.emit(t, st, h.members[0], "view", RECORD[kind][0], None, desk)

    def counter_txn(self, st, t, d, unit, kind, terminal, moving):
        """One customer at the counter: search, view the household, print certificates; moves are cases."""
        r = self.r
        oi = st.org
        h = self.random_household(oi, st)
        members = h.members
        if r.random() < 0.55:
            self.emit(t, st, None, "search", "住民記録", None, terminal, count=r.randint(1, 30))
        t2 = t + timedelta(seconds=r.randint(20, 90))
        if r.random() < (0.28 if moving else 0.12):   # 異動届 (move in/out, births): a case
            cid = self.new_case(oi, unit, "counter", members[0], t, t + timedelta(minutes=r.randint(30, 4000)))
            for m in members[: r.randint(1, len(members))]:
                self.emit(t2, st, m, "view", "住民記録", cid, terminal)
                t2 += timedelta(seconds=r.randint(10, 60))
            self.emit(t2, st, members[0], "update", "住民記録", cid, terminal)
            # 転入: the mover's record at the former municipality (住基ネット), under the case
            if moving and len(self.orgs) > 1 and r.random() < 0.12:
                oj = r.choice([o for o in range(len(self.orgs)) if o != oi])
                hh2 = self.random_household(oj, st)
                self.emit(t2 + timedelta(seconds=40), st, hh2.members[0], "view", "住民記録",
                          cid if r.random() < 0.7 else None, terminal)
        else:                                          # certificate issuance: front desk, no case
            n = 1 if r.random() < 0.6 else r.randint(1, len(members))
            for m in members[:n]:
                self.emit(t2, st, m, "view", r.choice(RECORD[kind]), None, terminal)
                t2 += timedelta(seconds=r.randint(10, 60))
            self.emit(t2, st, members[0], "print", "住民記録", None, terminal, count=r.randint(1, 3))

    def day_counter(self, i, st, d, unit, kind, desk):
        r = self.r
        moving = self.season(d, "counter") > 1.2
        n = int(r.randint(8, 22) * self.season(d, kind) * (0.6 if st.part_time else 1.0))
        if st.role in (ROLE_MANAGER,):
            n //= 4
        short = self.orgs[st.org][2]
        site = "HQ"
        if kind == "branch":
            site = st.site_old if (st.old_unit and d < self.fy_switch) else st.site
        mado = f"{short}-{site}-MADO-{r.randint(1, 6):02d}"
        for t in self.times(st, d, n, 0.35 if moving else 0.08):
            term = mado if (r.random() < 0.8 or unit != st.unit and unit == "市民課" and st.kind != "counter") else desk
            self.counter_txn(st, t, d, unit, kind, term, moving)

    def day_insur(self, i, st, d, unit, kind, desk):
        r = self.r
        n = int(r.randint(6, 16) * self.season(d, kind) * (0.6 if st.part_time else 1.0))
        oc = None
        for t in self.times(st, d, n, 0.15):
            if r.random() < 0.5:
                self.counter_txn(st, t, d, unit, kind, desk, False)
            else:
                oc = oc or self.open_cases(st.org, unit, t) or [None]
                c = r.choice(oc)
                if c is None:
                    continue
                hh = self.households[self.people[c["pid"]].hh]
                for m in hh.members[: r.randint(1, len(hh.members))]:
                    self.emit(t, st, m, "view", r.choice(RECORD[kind]), c["case_id"], desk)
                    t += timedelta(seconds=r.randint(15, 80))
                if r.random() < 0.4:
                    self.emit(t, st, c["pid"], "update", RECORD[kind][0], c["case_id"], desk)

    def casework(self, st, d, unit, kind, desk, n, overtime_p, cases=None):
        r = self.r
        oc_cache = None
        for t in self.times(st, d, n, overtime_p):
            oc = cases if cases is not None else (oc_cache or self.open_cases(st.org, unit, t))
            oc_cache = oc
            live = [c for c in oc if c["opened"] <= t and (c["closed"] is None or c["closed"] >= t)]
            if not live:
                continue
            c = r.choice(live)
            hh = self.households[self.people[c["pid"]].hh]
            k = 1 if r.random() < 0.5 else r.randint(1, len(hh.members))
            cid = c["case_id"] if r.random() < 0.93 else None   # inquiries logged without the case number
            for m in ([c["pid"]] + [x for x in hh.members if x != c["pid"]])[:k]:
                self.emit(t, st, m, "view", r.choice(RECORD[kind]), cid, desk)
                t += timedelta(seconds=r.randint(15, 120))
            if r.random() < 0.25:
                self.emit(t, st, c["pid"], "update", RECORD[kind][0], c["case_id"], desk)
            if r.random() < 0.08:
                self.emit(t + timedelta(seconds=30), st, c["pid"], "print", RECORD[kind][0], c["case_id"], desk)
        return oc_cache

    def day_tax(self, i, st, d, unit, kind, desk):
        r = self.r
        s = self.season(d, kind)
        n = int(r.randint(6, 14) * s * (0.6 if st.part_time else 1))
        # 申告 received today: new cases
        for t in self.times(st, d, int(n * 0.6), 0.5 if s > 1 else 0.1):
            hh = self.random_household(st.org, st)
            cid = self.new_case(st.org, unit, "tax", hh.members[0], t, t + timedelta(days=r.uniform(1, 40)))
            self.emit(t, st, hh.members[0], "view", "課税情報", cid, desk)
            if len(hh.members) > 1 and r.random() < 0.5:   # dependants on the return
                self.emit(t + timedelta(seconds=40), st, hh.members[1], "view", "課税情報", cid, desk)
            self.emit(t + timedelta(seconds=200), st, hh.members[0], "update", "課税情報", cid, desk)
        self.casework(st, d, unit, kind, desk, int(n * 0.3), 0.2)
        # telephone inquiries: looked up, no case
        for t in self.times(st, d, r.randint(0, 4), 0):
            hh = self.random_household(st.org, st)
            self.emit(t, st, hh.members[0], "view", "課税情報", None, desk)
        # inquiries from the welfare office about their applicants' income (referral, no case on the tax side)
        if r.random() < 0.3:
            wc = self.open_cases(st.org, "生活福祉課", datetime.combine(d, datetime.min.time(), JST) + timedelta(hours=12))
            for t in self.times(st, d, r.randint(1, 3), 0):
                if wc:
                    self.emit(t, st, r.choice(wc)["pid"], "view", "課税情報", None, desk)

    def day_collect(self, i, st, d, unit, kind, desk):
        self.casework(st, d, unit, kind, desk, self.r.randint(4, 10), 0.1)
        for t in self.times(st, d, self.r.randint(0, 5), 0):
            self.emit(t, st, self.random_household(st.org, st).members[0], "view", "収納情報", None, desk)

    def day_welfare(self, i, st, d, unit, kind, desk):
        r = self.r
        load = self.caseload.get(i)
        n = r.randint(3, 10) if st.role != ROLE_PART else r.randint(1, 5)
        self.casework(st, d, unit, kind, desk, n, 0.2, cases=load)
        # 扶養照会: relatives (same surname, other households) of an applicant, sometimes under the case, sometimes not
        if kind == "welfare" and load and r.random() < 0.25:
            c = r.choice(load)
            sur = self.people[c["pid"]].surname
            rel = [h for h in self.surname_hh.get((st.org, sur), []) if h != self.people[c["pid"]].hh]
            for t in self.times(st, d, min(len(rel), r.randint(1, 3)), 0):
                h = self.households[r.choice(rel)]
                self.emit(t, st, h.members[0], "view", "住民記録", c["case_id"] if r.random() < 0.6 else None, desk)
        # new applications (walk-ins) become cases
        if r.random() < 0.15:
            t = self.times(st, d, 1, 0)[0]
            hh = self.random_household(st.org, st)
            cid = self.new_case(st.org, unit, kind, hh.members[0], t, None)
            for m in hh.members:
                self.emit(t, st, m, "view", "住民記録", cid, desk)
                t += timedelta(seconds=45)
            self.emit(t, st, hh.members[0], "view", "課税情報", cid, desk)

    day_disab = day_welfare

    def day_child(self, i, st, d, unit, kind, desk):
        n = int(self.r.randint(4, 12) * self.season(d, kind) * (0.6 if st.part_time else 1))
        self.casework(st, d, unit, kind, desk, n, 0.3 if self.season(d, kind) > 1 else 0.05)

    def day_care(self, i, st, d, unit, kind, desk):
        r = self.r
        self.casework(st, d, unit, kind, desk, int(r.randint(4, 12) * (0.6 if st.part_time else 1)), 0.1)
        # monthly claim data to the national health insurance federation (国保連): first working days of the month
        if st.role == ROLE_CHIEF and d.day <= 10 and r.random() < 0.25:
            t = self.times(st, d, 1, 0)[0]
            self.emit(t, st, None, "export", "介護給付", None, desk, count=r.randint(800, 6000))

    def day_health(self, i, st, d, unit, kind, desk):
        r = self.r
        self.casework(st, d, unit, kind, desk, r.randint(3, 9), 0.05)
        # 要保護児童対策: child-unit cases shared with public health nurses (referral, the child unit's case id)
        if r.random() < 0.2:
            cc = self.open_cases(st.org, "子育て支援課", datetime.combine(d, datetime.min.time(), JST) + timedelta(hours=12))
            if cc:
                c = r.choice(cc)
                t = self.times(st, d, 1, 0)[0]
                self.emit(t, st, c["pid"], "view", "母子保健", c["case_id"] if r.random() < 0.5 else None, desk)

    def day_it(self, i, st, d, unit, kind, desk):
        r = self.r
        short = self.orgs[st.org][2]
        jump = f"{short}-DC-JUMP{r.randint(1, 2):02d}"
        # troubleshooting: records named in help-desk tickets, no case; partly through the data-centre jump host
        for t in self.times(st, d, r.randint(0, 6), 0.25):
            h = self.random_household(st.org, st)
            self.emit(t, st, h.members[0], "view", r.choice(RECORD["it"]), None, jump if r.random() < 0.5 else desk)
        # monthly statistics export (統計), early in the month
        if d.day <= 5 and r.random() < 0.3:
            self.emit(self.times(st, d, 1, 0)[0], st, None, "export", "住民記録", None, desk,
                      count=len(self.org_people[st.org]))

    def day_admin(self, i, st, d, unit, kind, desk):
        if self.r.random() < 0.1:
            h = self.random_household(st.org, st)
            self.emit(self.times(st, d, 1, 0)[0], st, h.members[0], "view", "住民記録", None, desk)

    def day_elect(self, i, st, d, unit, kind, desk):
        r = self.r
        # 定時登録 (March 1): the voter list is regenerated and exported/printed in the first days of March
        if d <= date(2025, 3, 7) and r.random() < 0.6:
            t = self.times(st, d, 1, 0)[0]
            self.emit(t, st, None, "export", "選挙人名簿", None, desk, count=int(len(self.org_people[st.org]) * 0.82))
        for t in self.times(st, d, r.randint(0, 5), 0):
            self.emit(t, st, self.random_household(st.org, st).members[0], "view", "選挙人名簿", None, desk)

    def gen_special(self):
        """Organisation-level events: night duty, the fiscal-year switch batch, data cleansing, a fire,
        the city's own staff's salary reports in the tax office."""
        r = self.r
        for oi in range(len(self.orgs)):
            short = self.orgs[oi][2]
            rota = [self.staff[i] for i in self.org_staff[oi]
                    if self.staff[i].role in (ROLE_STAFF, ROLE_CHIEF) and self.staff[i].terminated_on is None
                    and not self.staff[i].new_hire and self.staff[i].kind not in ("it",)]
            # 宿日直: one person a night (and weekend day); 戸籍届 (deaths, births) received at night are checked
            for d in self.days:
                if not rota:
                    break
                st = r.choice(rota)
                st.night_days.append(d)
                for _ in range(r.choice([0, 0, 1, 1, 2, 3])):
                    hrs = r.uniform(18.5, 31.5)
                    t = datetime.combine(d, datetime.min.time(), JST) + timedelta(hours=hrs)
                    h = self.random_household(oi, st)
                    term = f"{short}-HQ-SHUKU-01"
                    self.emit(t, st, None, "search", "住民記録", None, term, count=r.randint(1, 12))
                    for m in h.members[: r.randint(1, 2)]:
                        t += timedelta(seconds=r.randint(20, 90))
                        self.emit(t, st, m, "view", "住民記録", None, term)
            its = [self.staff[i] for i in self.org_staff[oi] if self.staff[i].kind == "it" and self.staff[i].role == ROLE_IT]
            # 年度切替: the night of Saturday 29 March, the fiscal-year switch batch and its checks
            if its and self.start <= date(2025, 3, 29) <= self.end:
                st = r.choice(its)
                t = datetime(2025, 3, 29, 21, 0, tzinfo=JST)
                pids = r.sample(self.org_people[oi], k=min(len(self.org_people[oi]), r.randint(150, 900)))
                for p in pids:
                    t += timedelta(seconds=r.uniform(2, 20))
                    self.emit(t, st, p, "update", r.choice(["国保資格", "課税情報", "住民記録"]), None, f"{short}-DC-JUMP01")
                for p in r.sample(pids, k=min(30, len(pids))):   # spot checks after the batch
                    t += timedelta(seconds=r.uniform(30, 120))
                    self.emit(t, st, p, "view", "住民記録", None, f"{short}-DC-JUMP01")
            # data cleansing: address notation (方書) corrections of a few blocks by a counter chief
            chiefs = [self.staff[i] for i in self.org_staff[oi] if self.staff[i].kind == "counter"
                      and self.staff[i].role == ROLE_CHIEF]
            if chiefs:
                st = r.choice(chiefs)
                d = r.choice([x for x in self.days if x.weekday() < 5 and x not in HOLIDAYS])
                bi = r.randrange(len(self.blocks[oi]))
                t = datetime.combine(d, datetime.min.time(), JST) + timedelta(hours=13.5)
                for b in self.adjacent_blocks(oi, bi):
                    for h in self.block_hh.get((oi, b), []):
                        for m in self.households[h].members:
                            t += timedelta(seconds=r.uniform(5, 40))
                            self.emit(t, st, m, "update", "住民記録", None, st.desk)
            # 給与支払報告: the tax office keys in the city's own payroll report (its staff are residents too)
            taxs = [self.staff[i] for i in self.org_staff[oi] if self.staff[i].kind == "tax"
                    and self.staff[i].role in (ROLE_STAFF, ROLE_PART) and self.staff[i].old_unit is None]
            if taxs and oi == 0:
                st = r.choice(taxs)
                colleagues = [self.staff[i] for i in self.org_staff[oi] if self.staff[i].subject
                              and self.staff[i].home_block and self.staff[i].home_block[0] == oi]
                d0 = r.choice(self.days[1:8])
                if d0.weekday() >= 5:
                    d0 += timedelta(2)
                sample = r.sample(colleagues, k=min(len(colleagues), r.randint(25, 60)))
                for j, c in enumerate(sample):
                    d = d0 + timedelta(j // 30)
                    if d.weekday() >= 5:
                        d += timedelta(2)
                    t = datetime.combine(d, datetime.min.time(), JST) + timedelta(hours=9.2 + (j % 30) * 0.22)
                    self.emit(t, st, None, "view", "課税情報", None, st.desk, subj=c.subject)
                    self.emit(t + timedelta(seconds=90), st, None, "update", "課税情報", None, st.desk, subj=c.subject)
        self._fire()

    def _fire(self):
        r = self.r
        # a fire (or landslide) in the main city: safety checks and 罹災証明 for two adjacent blocks
        oi = 0
        d = r.choice([x for x in self.days[8:-8] if x.weekday() < 5 and x not in HOLIDAYS])
        bi = r.randrange(len(self.blocks[oi]))
        hh = [h for b in self.adjacent_blocks(oi, bi) for h in self.block_hh.get((oi, b), [])]
        workers = [self.staff[i] for i in self.org_staff[oi] if self.staff[i].kind in ("welfare", "tax", "care", "counter")
                   and self.active(self.staff[i], d)]
        for st in r.sample(workers, k=min(len(workers), 25)):
            for h in r.sample(hh, k=min(len(hh), r.randint(3, 15))):
                t = datetime.combine(d, datetime.min.time(), JST) + timedelta(hours=r.uniform(9, 19))
                for m in self.households[h].members:
                    self.emit(t, st, m, "view", "住民記録", None, st.desk)
                    t += timedelta(seconds=20)
        self.fire = {"org": self.orgs[oi][1], "day": str(d), "blocks": [self.block_key(oi, b) for b in self.adjacent_blocks(oi, bi)]}

    # ------------------------------------------------------------------------------------------ incidents
    def working_days(self, st, lo=None, hi=None):
        out = [d for d in self.days if d.weekday() < 5 and d not in HOLIDAYS and self.active(st, d)]
        if lo:
            out = [d for d in out if d >= lo]
        if hi:
            out = [d for d in out if d <= hi]
        return out

    def at(self, d, h):
        return datetime.combine(d, datetime.min.time(), JST) + timedelta(hours=h)

    def inject(self):
        r = self.r
        plan = ["household", "household", "surname", "surname", "neighbour", "neighbour", "neighbour",
                "coworker_day", "coworker_day", "coworker_span", "coworker_span", "sensitive", "sensitive",
                "curiosity", "curiosity", "out_of_jurisdiction", "out_of_jurisdiction", "after_hours",
                "after_hours", "after_termination", "after_termination", "two_sites", "two_sites",
                "bulk_export", "bulk_export", "update_no_case", "view_then_update", "low_and_slow", "low_and_slow",
                "low_and_slow"]
        extra = r.sample(["household", "surname", "neighbour", "sensitive", "curiosity", "after_hours",
                          "two_sites", "update_no_case", "view_then_update", "coworker_span"], k=4)
        plan += extra
        strengths = (["weak", "typical", "strong"] * 20)[:len(plan)]
        r.shuffle(strengths)
        used = set()
        for n, (sc, strength) in enumerate(zip(plan, strengths, strict=False)):
            for _attempt in range(200):
                i = r.randrange(len(self.staff))
                st = self.staff[i]
                if i in used or st.role == ROLE_MANAGER or st.kind == "it":
                    continue
                evs = getattr(self, "inc_" + sc)(st, strength)
                if evs is None:
                    continue
                used.add(i)
                lab = f"INC{n + 1:02d}"
                days = sorted({e[0].date() for e in evs})
                for e in evs:
                    e[9] = lab
                    self.events.append(e)
                self.labels.append({"incident": lab, "staff_id": st.stid, "org_code": self.orgs[st.org][0],
                                    "unit": st.unit, "role": st.role, "scenario": sc, "strength": strength,
                                    "first_day": str(days[0]), "last_day": str(days[-1]), "n_events": len(evs),
                                    "event_ids": []})
                break

    def ev(self, st, t, pid, action="view", rtype="住民記録", terminal=None, count=1, subj=None):
        sid = subj if subj is not None else (self.people[pid].sid if pid is not None else None)
        return [t, st.stid, st.org, sid, action, rtype, None, count, terminal or self.unit_on(st, t.date())[2], None]

    def k(self, strength, weak, typical, strong):
        return {"weak": weak, "typical": typical, "strong": strong}[strength]

    def inc_household(self, st, s):
        if not st.subject or st.terminated_on:
            return None
        pid = self._sid_index[st.subject]
        hh = [m for m in self.households[self.people[pid].hh].members if m != pid]
        if not hh:
            return None
        days = self.r.sample(self.working_days(st), k=self.k(s, 1, 2, 4))
        out = []
        for d in days:
            t = self.at(d, self.r.uniform(9, 17))
            for m in hh[: self.k(s, 1, 2, 4)]:
                out.append(self.ev(st, t, m, rtype=self.r.choice(["住民記録", "課税情報"])))
                t += timedelta(seconds=self.r.randint(20, 120))
                if s == "strong":
                    out.append(self.ev(st, t, m, action="print"))
        return out

    def _pid(self, sid):
        return self._sid_index[sid]

    def inc_surname(self, st, s):
        if not st.home_block or st.terminated_on:
            return None
        oi = st.home_block[0]
        rel = self.surname_hh.get((oi, st.surname), [])
        own = self.people[self._pid(st.subject)].hh
        rel = [h for h in rel if h != own]
        nh = self.k(s, 1, 2, 4)
        if len(rel) < nh or len(rel) > 40:    # a very common name in a big city: not "relatives"
            return None
        # relatives: preferably those living near (本家・分家)
        rel.sort(key=lambda h: abs(self.households[h].block - st.home_block[1]))
        pick = rel[:nh]
        days = sorted(self.r.sample(self.working_days(st), k=self.k(s, 1, 2, 3)))
        out = []
        for j, h in enumerate(pick):
            d = days[j % len(days)]
            t = self.at(d, self.r.uniform(9, 17))
            for m in self.households[h].members[: self.k(s, 1, 2, 3)]:
                out.append(self.ev(st, t, m))
                t += timedelta(seconds=self.r.randint(20, 90))
        return out

    def inc_neighbour(self, st, s):
        if not st.home_block or st.terminated_on:
            return None
        oi, bi = st.home_block
        own = self.people[self._pid(st.subject)].hh
        cand = [h for b in self.adjacent_blocks(oi, bi) for h in self.block_hh.get((oi, b), []) if h != own]
        nh = self.k(s, 2, 4, 8)
        if len(cand) < nh:
            return None
        pick = self.r.sample(cand, k=nh)
        days = sorted(self.r.sample(self.working_days(st), k=self.k(s, 1, 2, 3)))
        out = []
        for j, h in enumerate(pick):
            t = self.at(days[j % len(days)], self.r.uniform(9, 17.5))
            for m in self.households[h].members[: self.k(s, 1, 2, 2)]:
                out.append(self.ev(st, t, m, rtype=self.r.choice(["住民記録", "課税情報"])))
                t += timedelta(seconds=self.r.randint(15, 90))
        return out

    def coworkers(self, st):
        return [self.staff[i] for i in self.org_staff[st.org] if self.staff[i] is not st and self.staff[i].subject
                and (self.staff[i].unit == st.unit or self.r.random() < 0.3)]

    def inc_coworker_day(self, st, s):
        if st.terminated_on:
            return None
        cw = self.coworkers(st)
        n = self.k(s, 2, 4, 8)
        if len(cw) < n:
            return None
        d = self.r.choice(self.working_days(st))
        t = self.at(d, self.r.uniform(9, 16))
        out = []
        for c in self.r.sample(cw, k=n):
            out.append(self.ev(st, t, None, rtype=self.r.choice(["課税情報", "住民記録"]), subj=c.subject))
            t += timedelta(seconds=self.r.randint(30, 400))
        return out

    def inc_coworker_span(self, st, s):
        if st.terminated_on:
            return None
        cw = self.coworkers(st)
        n = self.k(s, 3, 5, 8)
        if len(cw) < n:
            return None
        wd = self.working_days(st)
        span = self.k(s, 18, 26, 35)
        d0 = self.r.choice(wd[: max(1, len(wd) - int(span / 1.4))])
        days = sorted(self.r.sample([d for d in wd if d0 <= d <= d0 + timedelta(span)], k=n)) if \
            len([d for d in wd if d0 <= d <= d0 + timedelta(span)]) >= n else None
        if not days:
            return None
        return [self.ev(st, self.at(d, self.r.uniform(9, 17)), None, rtype="課税情報", subj=c.subject)
                for d, c in zip(days, self.r.sample(cw, k=n), strict=False)]

    def inc_sensitive(self, st, s):
        if st.terminated_on:
            return None
        cand = [p for p in self.org_people[st.org] if self.people[p].sensitive]
        n = self.k(s, 1, 3, 5)
        if len(cand) < n:
            return None
        days = sorted(self.r.sample(self.working_days(st), k=self.k(s, 1, 1, 2)))
        out = []
        for j, p in enumerate(self.r.sample(cand, k=n)):
            t = self.at(days[j % len(days)], self.r.uniform(9, 17))
            out.append(self.ev(st, t, p, rtype=self.r.choice(["住民記録", "課税情報"])))
            if s == "strong":
                out.append(self.ev(st, t + timedelta(seconds=50), p, action="print"))
        return out

    def inc_curiosity(self, st, s):
        if st.terminated_on:
            return None
        n = self.k(s, 10, 25, 60)
        d = self.r.choice(self.working_days(st))
        t = self.at(d, self.r.uniform(9, 16))
        out = []
        for _ in range(n):
            h = self.random_household(st.org)
            out.append(self.ev(st, t, self.r.choice(h.members), rtype=self.r.choice(["住民記録", "課税情報", "国保資格"])))
            t += timedelta(seconds=self.r.randint(15, 100))
        return out

    def inc_out_of_jurisdiction(self, st, s):
        if st.terminated_on or len(self.orgs) < 2:
            return None
        oj = self.r.choice([o for o in range(len(self.orgs)) if o != st.org])
        nh = self.k(s, 1, 3, 8)
        days = sorted(self.r.sample(self.working_days(st), k=self.k(s, 1, 1, 3)))
        out = []
        for j in range(nh):
            h = self.random_household(oj)
            t = self.at(days[j % len(days)], self.r.uniform(9, 17))
            for m in h.members[: self.k(s, 2, 2, 2)]:
                out.append(self.ev(st, t, m))
                t += timedelta(seconds=self.r.randint(15, 60))
        return out

    def inc_after_hours(self, st, s):
        if st.terminated_on or st.night_days:
            return None
        n = self.k(s, 3, 8, 12)
        nights = self.k(s, 1, 1, 2)
        days = sorted(self.r.sample(self.days, k=nights))
        out = []
        for d in days:
            t = self.at(d, self.k(s, 21.0, 22.5, 25.0) + self.r.uniform(0, 1))
            for _ in range(n):
                out.append(self.ev(st, t, self.r.choice(self.random_household(st.org).members)))
                t += timedelta(seconds=self.r.randint(30, 200))
        return out

    def inc_after_termination(self, st, s):
        if not st.terminated_on or st.terminated_on >= self.end - timedelta(5):
            return None
        after = [d for d in self.days if d > st.terminated_on and d.weekday() < 5]
        days = sorted(self.r.sample(after[:12], k=min(len(after[:12]), self.k(s, 1, 2, 4))))
        out = []
        for d in days:
            t = self.at(d, self.r.uniform(9, 18))
            for _ in range(self.k(s, 2, 3, 4)):
                out.append(self.ev(st, t, self.r.choice(self.random_household(st.org).members)))
                t += timedelta(seconds=self.r.randint(30, 200))
        return out

    def inc_two_sites(self, st, s):
        if st.terminated_on:
            return None
        short = self.orgs[st.org][2]
        branches = self.orgs[st.org][4]
        far = [b for b in branches if b not in (st.site, st.site_old)] or (["HQ"] if "HQ" not in (st.site, st.site_old) else [])
        if not far:
            return None
        other = f"{short}-{self.r.choice(far)}-{self.r.randint(1, 40):02d}"
        days = self.r.sample(self.working_days(st), k=self.k(s, 1, 1, 2))
        out = []
        for d in days:
            t = self.at(d, self.r.uniform(10, 15))
            for j in range(self.k(s, 2, 6, 10)):
                term = other if j % 2 else self.unit_on(st, d)[2]
                out.append(self.ev(st, t, self.r.choice(self.random_household(st.org).members), terminal=term))
                t += timedelta(seconds=self.r.randint(40, 240))
        return out

    def inc_bulk_export(self, st, s):
        if st.terminated_on or st.kind in ("elect", "care"):
            return None
        d = self.r.choice(self.working_days(st))
        t = self.at(d, self.r.uniform(12, 18))
        cnt = self.k(s, 400, 3000, 20000)
        out = [self.ev(st, t, None, action="export", rtype=self.r.choice(["住民記録", "課税情報"]), count=cnt)]
        if s == "strong":
            out.append(self.ev(st, t + timedelta(minutes=3), None, action="export", rtype="国保資格", count=8000))
        return out

    def inc_update_no_case(self, st, s):
        if st.terminated_on:
            return None
        d = self.r.choice(self.working_days(st))
        out = []
        t = self.at(d, self.r.uniform(9, 17))
        for _ in range(self.k(s, 1, 3, 6)):
            p = self.r.choice(self.random_household(st.org).members)
            out.append(self.ev(st, t, p, rtype="課税情報"))
            out.append(self.ev(st, t + timedelta(seconds=60), p, action="update", rtype=self.r.choice(["課税情報", "国保資格"])))
            t += timedelta(minutes=self.r.randint(2, 30))
        return out

    def inc_view_then_update(self, st, s):
        if st.terminated_on:
            return None
        wd = self.working_days(st)
        i0 = self.r.randrange(0, len(wd) - 8)
        gap = self.r.randint(2, 6)
        out = []
        for _ in range(self.k(s, 1, 2, 4)):
            p = self.r.choice(self.random_household(st.org).members)
            out.append(self.ev(st, self.at(wd[i0], self.r.uniform(9, 17)), p, rtype="課税情報"))
            out.append(self.ev(st, self.at(wd[i0 + gap], self.r.uniform(9, 17)), p, action="update", rtype="課税情報"))
        return out

    def inc_low_and_slow(self, st, s):
        if st.terminated_on:
            return None
        wd = self.working_days(st)
        persons = [self.r.choice(self.random_household(st.org).members) for _ in range(self.k(s, 2, 3, 4))]
        times_ = self.k(s, 3, 5, 7)
        out = []
        for p in persons:
            for d in sorted(self.r.sample(wd, k=times_)):
                out.append(self.ev(st, self.at(d, self.r.uniform(9, 17.2)), p))
        return out

    # ------------------------------------------------------------------------------------------ writing
    def write(self):
        out = self.out
        for sub in ("staff", "subjects", "cases", "access"):
            (out / sub).mkdir(parents=True, exist_ok=True)
        self._write_subjects(out)
        self._write_staff(out)
        self._write_cases(out)
        ev_ids = self._write_access(out)
        for lab in self.labels:
            lab["event_ids"] = ev_ids.get(lab["incident"], [])
        (out / "labels.json").write_text(json.dumps(self.labels, ensure_ascii=False, indent=1))
        with open(out / "labels.csv", "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["incident", "staff_id", "org_code", "scenario", "strength", "first_day", "last_day", "n_events", "event_ids"])
            for lab in self.labels:
                w.writerow([lab["incident"], lab["staff_id"], lab["org_code"], lab["scenario"], lab["strength"],
                            lab["first_day"], lab["last_day"], lab["n_events"], " ".join(lab["event_ids"])])
        staff_days = sum(1 for st in self.staff for d in self.days if self.active(st, d))
        meta = {"seed": self.seed, "cluster": self.cluster, "orgs": [o[:3] for o in self.orgs],
                "start": str(self.start), "end": str(self.end), "staff": len(self.staff),
                "staff_days_active": staff_days, "subjects": len(self.people), "households": len(self.households),
                "cases": len(self.cases), "events": len(self.events), "incidents": len(self.labels),
                "key_styles": self.key_style, "fire": self.fire,
                "night_duty_staff": sorted({st.stid for st in self.staff if st.night_days}),
                "transferred_staff": sorted(st.stid for st in self.staff if st.old_unit),
                "lent_staff": sorted(st.stid for st in self.staff if st.lent)}
        (out / "world.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1))
        return meta


    def _write_subjects(self, out: Path) -> None:
        # ---- subjects: one file per municipality, formats and header languages varied
        for oi, (code, _name, short, _size, _br) in enumerate(self.orgs):
            style = (oi + self.seed) % 3
            rows = []
            for p in self.org_people[oi]:
                pp = self.people[p]
                h = self.households[pp.hh]
                sk = "SN" + hashlib.sha256(f"{self.seed}:{pp.surname}".encode()).hexdigest()[:10]
                rows.append((pp.sid, code, sk, h.hid, self.block_key(oi, h.block), pp.sensitive))
            if style == 0:   # UTF-8, English headers, household_key
                with open(out / "subjects" / f"{oi}_{short}_subjects.csv", "w", encoding="utf-8", newline="") as fh:
                    w = csv.writer(fh)
                    w.writerow(["subject_id", "municipality_code", "surname_key", "household_key", "neighbourhood_key", "sensitive"])
                    for sid, c, sk, hid, nk, sen in rows:
                        w.writerow([sid, c, sk, f"H{short}{hid:07d}", nk, "true" if sen else "false"])
            elif style == 1:  # CP932, Japanese headers, 世帯番号, ○ for 要配慮
                with open(out / "subjects" / f"{oi}_{short}_住民.csv", "w", encoding="cp932", newline="") as fh:
                    w = csv.writer(fh)
                    w.writerow(["本人ID", "市区町村コード", "姓キー", "世帯番号", "地区キー", "要配慮"])
                    for sid, c, sk, hid, nk, sen in rows:
                        w.writerow([sid, c, sk, f"{hid:08d}", nk, "○" if sen else ""])
            else:             # gzip CSV, Japanese headers, 世帯キー
                with gz_text(out / "subjects" / f"{oi}_{short}_subjects.csv.gz") as fh:
                    w = csv.writer(fh)
                    w.writerow(["住民ID", "団体コード", "氏キー", "世帯キー", "近隣キー", "機微"])
                    for sid, c, sk, hid, nk, sen in rows:
                        w.writerow([sid, c, sk, f"{code}-{hid}", nk, "1" if sen else "0"])

    def _write_staff(self, out: Path) -> None:
        # ---- staff roster: XLSX (Japanese) for the main city, CSV for the others
        import openpyxl
        for oi, (code, name, short, _size, _br) in enumerate(self.orgs):
            rows = []
            for i in self.org_staff[oi]:
                st = self.staff[i]
                term = st.terminated_on if st.terminated_on and st.terminated_on <= self.end else None
                rows.append((st.stid, code, st.unit, st.role, st.subject or "", term, st.name))
            if oi == 0:
                wb = openpyxl.Workbook()
                ws = wb.active
                ws.title = "職員名簿"
                ws.append([f"{name} 職員名簿（{self.end.isoformat()}現在）"])
                ws.append(["職員番号", "団体コード", "所属", "役職", "住民ID", "在職状況", "退職日", "氏名"])
                for sid, c, u, ro, subj, term, nm in rows:
                    ws.append([sid, c, u, ro, subj or None, "退職" if term else "在職", term, nm])
                wb.properties.created = wb.properties.modified = datetime(2025, 4, 16, 9, 0)
                wb.save(out / "staff" / f"{oi}_{short}_職員.xlsx")
            else:
                with open(out / "staff" / f"{oi}_{short}_staff.csv", "w", encoding="utf-8-sig", newline="") as fh:
                    w = csv.writer(fh)
                    if oi % 2:
                        w.writerow(["staff_id", "org_code", "unit", "role", "subject_id", "status", "terminated_on"])
                        for sid, c, u, ro, subj, term, _nm in rows:
                            w.writerow([sid, c, u, ro, subj, "terminated" if term else "active", term or ""])
                    else:
                        w.writerow(["職員ID", "組織コード", "課", "職種", "本人ID", "状態", "離職日", "氏名"])
                        for sid, c, u, ro, subj, term, nm in rows:
                            w.writerow([sid, c, u, ro, subj, "離職" if term else "現職",
                                        term.strftime("%Y/%m/%d") if term else "", nm])

    def _write_cases(self, out: Path) -> None:
        # ---- cases
        for oi, (code, _name, short, _size, _br) in enumerate(self.orgs):
            with open(out / "cases" / f"{oi}_{short}_cases.csv", "w", encoding="utf-8", newline="") as fh:
                w = csv.writer(fh)
                jp = oi % 2 == 0
                w.writerow(["案件ID", "本人ID", "組織コード", "担当課", "手続コード", "受付日時", "完了日時"] if jp else
                           ["case_id", "subject_id", "org_code", "unit", "procedure_code", "opened_at", "closed_at"])
                for c in self.cases:
                    if c["org"] != oi:
                        continue
                    closed = c["closed"]
                    if closed and closed.date() > self.end:
                        closed = None        # still open at the export
                    w.writerow([c["case_id"], c["subject"], code, c["unit"], c["proc"],
                                c["opened"].strftime("%Y-%m-%d %H:%M:%S") if jp else c["opened"].isoformat(timespec="seconds"),
                                "" if closed is None else (closed.strftime("%Y-%m-%d %H:%M:%S") if jp else closed.isoformat(timespec="seconds"))])

    def _write_access(self, out: Path) -> dict[str, list[str]]:
        # ---- access logs: per municipality, split in two halves; event ids assigned in time order
        self.events.sort(key=lambda e: (e[2], e[0], e[1]))
        ev_ids: dict[str, list[str]] = {}
        mid = self.start + timedelta(len(self.days) // 2)
        jp_action = {"view": "照会", "search": "検索", "print": "印刷", "export": "出力", "update": "更新"}
        for oi, (code, _name, short, _size, _br) in enumerate(self.orgs):
            style = (oi + self.seed) % 4
            evs = [e for e in self.events if e[2] == oi]
            files = {}
            for half in (0, 1):
                if style == 0:
                    fn, enc, opener = f"{short}_access_{half}.csv", "utf-8", open
                elif style == 1:
                    fn, enc, opener = f"{short}_アクセスログ_{half}.csv", "cp932", open
                elif style == 2:
                    fn, enc, opener = f"{short}_access_{half}.csv.gz", "utf-8", gz_text
                else:
                    fn, enc, opener = f"{short}_access_{half}.tsv", "utf-8", open
                fh = opener(out / "access" / f"{oi}_{fn}", "wt", encoding=enc, newline="")
                w = csv.writer(fh, delimiter="\t" if style == 3 else ",")
                if style == 1:
                    w.writerow(["ログID", "アクセス日時", "職員番号", "団体コード", "住民ID", "操作種別", "データ種別", "案件番号", "件数", "端末ID"])
                else:
                    w.writerow(["event_id", "occurred_at", "staff_id", "org_code", "subject_id", "action", "record_type", "case_id", "record_count", "terminal_id"])
                files[half] = (fh, w)
            for n, e in enumerate(evs):
                t, stid, _, sid, action, rtype, cid, cnt, term, lab = e
                eid = f"EV{short}{n + 1:08d}"
                if lab:
                    ev_ids.setdefault(lab, []).append(eid)
                fh, w = files[0 if t.date() < mid else 1]
                if style == 1:
                    w.writerow([eid, t.strftime("%Y-%m-%d %H:%M:%S"), stid, code, sid or "", jp_action[action],
                                rtype, cid or "", f"{cnt}件" if cnt > 1 else cnt, term])
                elif style == 2:
                    w.writerow([eid, t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), stid, code, sid or "",
                                action.upper(), rtype, cid or "", cnt, term])
                else:
                    w.writerow([eid, t.isoformat(timespec="seconds"), stid, code, sid or "", action, rtype,
                                cid or "", f"{cnt:,}" if cnt >= 1000 else cnt, term])
            for fh, _ in files.values():
                fh.close()
        return ev_ids
    def generate(self):
        self.build_residents()
        self._sid_index = {p.sid: i for i, p in enumerate(self.people)}
        self.build_staff()
        self.own_hh = {st.stid: self.people[self._sid_index[st.subject]].hh for st in self.staff if st.subject}
        self.build_case_pools()
        self.gen_normal()
        self.gen_special()
        self.inject()
        return self.write()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--staff", type=int, default=1500)
    ap.add_argument("--days", type=int, default=44)
    a = ap.parse_args()
    meta = World(a.seed, a.staff, a.days, a.out).generate()
    print(json.dumps({k: v for k, v in meta.items() if not k.endswith("_staff")}, ensure_ascii=False))


if __name__ == "__main__":
    main()
