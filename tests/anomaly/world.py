"""A small hand-built world for detector tests: one city office, twelve staff, 500 residents, 21 days of
ordinary work (caseworkers under their cases, front-desk lookups, a night batch), and helpers to add the
events of one scenario on the test day. Everything goes into a real DuckDB file and real Parquet."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd

from observatory.warehouse import for_workspace, refresh_access_view
from observatory.workspace import Workspace

ORG = "131016"  # Chiyoda-ku
OTHER = "011002"  # Sapporo-shi
START = date(2026, 10, 1)
HISTORY_DAYS = 21
TEST_DAY = START + timedelta(days=HISTORY_DAYS)
SENSITIVE = ("R390", "R391", "R392")


def rid(i: int) -> str:
    return f"R{i:03d}"


def ts(day: date, hour: float) -> str:
    t = datetime(day.year, day.month, day.day) + timedelta(seconds=int(hour * 3600))
    return t.strftime("%Y-%m-%dT%H:%M:%S") + "+09:00"


STAFF = [  # staff_id, unit, role, own subject, status, terminated_on
    *[(f"CW{i}", "welfare", "caseworker", rid((i - 1) * 10), "active", None) for i in range(1, 7)],
    *[(f"FD{i}", "resident", "front_desk", rid(50 + i * 10), "active", None) for i in range(1, 5)],
    ("BT1", "it", "batch", None, "active", None),
    ("MG1", "welfare", "manager", rid(100), "active", None),
    ("TX1", "resident", "front_desk", rid(110), "terminated", START + timedelta(days=HISTORY_DAYS - 1)),
]


@dataclass
class World:
    ws: Workspace
    events: list[dict] = field(default_factory=list)
    parts: int = 0
    counter: int = 0

    def event(self, staff: str, day: date, hour: float, subject: str | None, action: str = "view",
              case_id: str | None = None, records: int = 1, terminal: str | None = None, org: str = ORG) -> str:
        self.counter += 1
        eid = f"E{self.counter:07d}"
        self.events.append({"event_id": eid, "occurred_at": ts(day, hour), "staff_id": staff, "org_code": org,
                            "subject_id": subject, "action": action, "record_type": "resident",
                            "case_id": case_id, "record_count": records,
                            "terminal_id": terminal or f"{ORG}-HQ-{staff}"})
        return eid

    def flush(self) -> None:
        """Write the pending events as one more Parquet part per month."""
        if not self.events:
            return
        df = pd.DataFrame(self.events)
        self.events = []
        with for_workspace(self.ws).connect() as con:
            con.register("_ev", df)
            for month in sorted({v[:7] for v in df["occurred_at"]}):
                part = self.ws.events_dir / f"month={month}"
                part.mkdir(parents=True, exist_ok=True)
                n = len(list(part.glob("part-*.parquet")))
                path = str(part / f"part-{n:05d}.parquet").replace("'", "''")
                con.execute(
                    "COPY (SELECT event_id, occurred_at::TIMESTAMPTZ AS occurred_at, staff_id, org_code, subject_id, "
                    "action, record_type, case_id, record_count::INTEGER AS record_count, terminal_id, "
                    f"NULL::BIGINT AS run_id FROM _ev WHERE occurred_at LIKE ?) TO '{path}' (FORMAT parquet)",
                    [month + "%"])
            self.parts += 1
            con.unregister("_ev")
            refresh_access_view(con, self.ws.events_dir)


def build(ws: Workspace, *, seed: int = 1) -> World:
    """Roster, residents, cases and 21 days of ordinary, explainable work."""
    rnd = random.Random(seed)
    subjects = []
    for i in range(400):  # households of 4, 40 surnames, neighbourhoods of 50
        h = i // 4
        subjects.append((rid(i), ORG, f"N{h % 40}", f"H{h}", f"B{i // 50}", rid(i) in SENSITIVE))
    for i in range(400, 500):
        subjects.append((rid(i), OTHER, f"N{i % 37}", f"H{i // 4}", f"B{i // 50}", False))
    cases = []
    for n in range(1, 7):  # each caseworker: five open cases on residents 200..349
        for k in range(5):
            cases.append((f"C{n}{k}", rid(200 + n * 20 + k), ORG, "welfare", "P1",
                          ts(START - timedelta(days=5), 9), None))
    with for_workspace(ws).connect() as con:
        con.executemany("INSERT INTO staff (staff_id, org_code, unit, role, subject_id, status, terminated_on, "
                        "run_id) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                        [(s, ORG, u, r, own, st, t) for s, u, r, own, st, t in STAFF])
        con.executemany("INSERT INTO subjects (subject_id, municipality_code, surname_key, household_key, "
                        "neighbourhood_key, sensitive, run_id) VALUES (?, ?, ?, ?, ?, ?, NULL)", subjects)
        con.executemany("INSERT INTO cases (case_id, subject_id, org_code, unit, procedure_code, opened_at, closed_at, "
                        "run_id) VALUES (?, ?, ?, ?, ?, ?::TIMESTAMPTZ, ?::TIMESTAMPTZ, NULL)", cases)
    world = World(ws)
    for d in range(HISTORY_DAYS):
        day = START + timedelta(days=d)
        for n in range(1, 7):
            for _ in range(12):
                k = rnd.randrange(5)
                world.event(f"CW{n}", day, rnd.uniform(9, 17), rid(200 + n * 20 + k), rnd.choice(["view", "print"]),
                            case_id=f"C{n}{k}")
        for fd in ("FD1", "FD2", "FD3", "FD4", "TX1"):
            if fd == "TX1" and day > STAFF[-1][5]:
                continue
            for _ in range(15):
                world.event(fd, day, rnd.uniform(9, 17), rid(rnd.randrange(150, 350)))
        world.event("BT1", day, 2.0, rid(150), "export", records=5000, terminal=f"{ORG}-DC-SRV1")
        world.event("BT1", day, 2.5, rid(151), "search", records=300, terminal=f"{ORG}-DC-SRV1")
        for _ in range(3):
            world.event("MG1", day, rnd.uniform(10, 16), rid(rnd.randrange(150, 350)))
    world.flush()
    return world


def ordinary_test_day(world: World, seed: int = 2) -> None:
    """The same ordinary work on the test day (so the day has its usual background)."""
    rnd = random.Random(seed)
    for n in range(1, 7):
        for _ in range(12):
            k = rnd.randrange(5)
            world.event(f"CW{n}", TEST_DAY, rnd.uniform(9, 17), rid(200 + n * 20 + k), case_id=f"C{n}{k}")
    for fd in ("FD1", "FD2", "FD3", "FD4"):
        for _ in range(15):
            world.event(fd, TEST_DAY, rnd.uniform(9, 17), rid(rnd.randrange(150, 350)))


def findings(ws: Workspace, staff_id: str | None = None) -> pd.DataFrame:
    with for_workspace(ws).connect() as con:
        sql = "SELECT * FROM anomaly_findings"
        df = con.execute(sql + (" WHERE staff_id = ?" if staff_id else ""), [staff_id] if staff_id else []).df()
    df["day"] = pd.to_datetime(df["day"]).dt.date
    return df


def alerts(ws: Workspace) -> pd.DataFrame:
    with for_workspace(ws).connect() as con:
        df = con.execute("SELECT * FROM alerts ORDER BY alert_id").df()
    for col in ("first_seen", "last_seen"):
        df[col] = pd.to_datetime(df[col]).dt.date
    return df


# A twelve-person office: the security team accepts up to 20 alerts per 1,000 staff-days here.
TEST_CONFIG = """\
timezone: Asia/Tokyo
users:
  - {username: sato, role: security}
  - {username: cio1, role: cio}
  - {username: min1, role: ministry, ministry: MIC}
alerts:
  daily_budget: 2.0
  per_1000_staff_days: 20.0
  benign_suppression_days: 90
"""


def template(root: Path) -> Path:
    """An initialised workspace with the world built, to be copied by each test."""
    from observatory.workspace import init_workspace

    ws, _ = init_workspace(root, TEST_CONFIG)
    build(ws)
    return root


def copy_of(template_dir: Path, dest: Path) -> Workspace:
    """A private copy of the template workspace (a real DuckDB file and Parquet archive)."""
    import shutil

    from observatory.workspace import load_workspace

    shutil.copytree(template_dir, dest, ignore=shutil.ignore_patterns("*.lock", "*.wal"))
    return load_workspace(dest)


def world_in(ws: Workspace) -> World:
    """A World adding events to a copied workspace (event ids after the template's)."""
    return World(ws, counter=1_000_000)
