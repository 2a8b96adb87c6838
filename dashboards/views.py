"""The data behind every table and chart, as (columns, rows): the page shows it and the CSV download writes
exactly the same rows. Each view validates its URL parameters and enforces its own access rule.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import duckdb

from dashboards import queries
from dashboards.catalogue import KpiInfo, kpi_infos, with_warehouse_ids
from dashboards.context import now
from dashboards.i18n import t
from observatory import calendar
from observatory.cells import csv_safe
from observatory.config import User
from observatory.errors import NotFound, PermissionDenied, UserError
from observatory.security import alerts as alert_store
from observatory.security import audit
from observatory.security.users import can, can_see_ministry
from observatory.submissions import get_submission, list_submissions
from observatory.warehouse import data_version
from observatory.workspace import Workspace

Params = Mapping[str, Any]


@dataclass(frozen=True)
class Column:
    """A table column: row key, i18n label key, and how to format it (text, number, date, status, ...)."""

    key: str
    label: str
    kind: str = "text"


@dataclass
class ViewData:
    """What a table shows and a CSV download contains."""

    columns: list[Column]
    rows: list[dict[str, Any]]
    unit: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    empty: str = "table.empty"  # the i18n key of the sentence shown instead of a table without rows


def _param(params: Params, name: str) -> str | None:
    value = params.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    value = str(value).strip() if value is not None else None
    return value or None


def _choice(params: Params, name: str, allowed: list[str] | tuple[str, ...], default: str | None = None) -> str | None:
    """A URL parameter from an allow-list, matched without regard to case (?ministry=mic is MIC)."""
    value = _param(params, name)
    if value is None:
        return default
    if value in allowed:
        return value
    folded = {str(a).casefold(): a for a in allowed}
    if value.casefold() in folded:
        return folded[value.casefold()]
    raise UserError(f"URL パラメータ {name}={value!r} は使えません（{', '.join(map(str, allowed))} のいずれか） / "
                    f"URL parameter {name}={value!r}: not one of {', '.join(map(str, allowed))}")


MEMO_ENTRIES = 512
_memo: dict[tuple, tuple[tuple, Any]] = {}
_memo_lock = threading.Lock()


def memo(con: duckdb.DuckDBPyConnection, ws: Workspace, fn: Callable[..., Any], *args: Any,
         key: tuple | None = None) -> Any:
    """fn(con, *args), remembered while the data version and the day stay the same.

    The heavy national reads behind the overview and the maps are shared by every user instead of being
    repeated per request; any change to the warehouse (observatory.warehouse.data_version) or a new day
    (statuses are judged against today) computes them again.
    """
    stamp = (data_version(con), today(ws))
    key = (str(ws.db_path), fn.__module__, fn.__qualname__, args if key is None else key)
    with _memo_lock:
        hit = _memo.get(key)
        if hit and hit[0] == stamp and stamp[0] >= 0:
            return hit[1]
    value = fn(con, *args)
    with _memo_lock:
        if len(_memo) > MEMO_ENTRIES:
            _memo.clear()
        _memo[key] = (stamp, value)
    return value


def today(ws: Workspace) -> date:
    """The day statuses are judged against: the date, in the workspace's time zone (config.timezone), of the
    instant the page is rendered for."""
    return calendar.local_date(now(), ws.config.timezone)


def ministries(con: duckdb.DuckDBPyConnection, ws: Workspace) -> list[dict[str, Any]]:
    """The reference ministries (queries.ministries_list), read once per data version."""
    return memo(con, ws, queries.ministries_list)


def infos(con: duckdb.DuckDBPyConnection, ws: Workspace) -> list[KpiInfo]:
    """The defined KPIs plus any KPI that only exists in the warehouse."""
    return with_warehouse_ids(kpi_infos(ws), memo(con, ws, queries.kpi_ids))


def kpi_info(con: duckdb.DuckDBPyConnection, ws: Workspace, kpi_id: str | None) -> KpiInfo:
    """One KPI by id, or NotFound naming the id."""
    found = next((k for k in infos(con, ws) if k.id == kpi_id), None)
    if found is None:
        raise NotFound(f"KPI {kpi_id!r} はありません / KPI {kpi_id!r}: no such KPI")
    return found


def visible_kpis(con: duckdb.DuckDBPyConnection, ws: Workspace, user: User) -> list[KpiInfo]:
    """KPIs the user may see: all for cio/admin, the ministry's own (owner) for a ministry user."""
    items = infos(con, ws)
    if can(user, "kpi.all"):
        return items
    if can(user, "kpi.own") and user.ministry:
        return [k for k in items if k.owner == user.ministry]
    return []


def overview(con: duckdb.DuckDBPyConnection, ws: Workspace, user: User, params: Params) -> ViewData:
    """KPI cards filtered by ministry and target year (the overview page and its CSV)."""
    if not can(user, "kpi.all"):
        raise PermissionDenied("KPI概要にはCIO室または管理者の権限が必要です / overview: needs the cio or admin role")
    codes = [m["code"] for m in ministries(con, ws)]
    ministry = _choice(params, "ministry", codes)
    year = _choice(params, "year", ["2020", "2023", "2026"])
    items = infos(con, ws)
    y = int(year) if year else None
    rows = memo(con, ws, _cards, items, ministry, y, today(ws), key=(tuple(k.id for k in items), ministry, y))
    cols = [Column("name", "col.kpi"), Column("owner", "card.owner"),
            Column("period", "col.period", "period"), Column("value", "col.value", "value"),
            Column("status", "col.status", "status"), Column("status_year", "filter.year"),
            Column("target_2020", "col.target2020", "value"), Column("target_2023", "col.target2023", "value"),
            Column("target_2026", "col.target2026", "value"), Column("attainment_date", "col.attainment", "period"),
            Column("kpi_id", "col.code")]
    return ViewData(cols, rows, extra={"ministry": ministry, "year": year})


def _cards(con: duckdb.DuckDBPyConnection, items: list[KpiInfo], ministry: str | None,
           year: int | None, day: date) -> list[dict[str, Any]]:
    return queries.overview_cards(con, items, ministry=ministry, year=year, today=day)


def kpi_history(con: duckdb.DuckDBPyConnection, ws: Workspace, user: User, params: Params) -> ViewData:
    """Every period of one KPI for one entity; a ministry user only for their own KPIs."""
    info = kpi_info(con, ws, _param(params, "kpi"))
    if not (can(user, "kpi.all") or (can(user, "kpi.own") and info.owner == user.ministry)):
        raise PermissionDenied(f"KPI {info.id} は他府省（{info.owner or '-'}）の指標です / "
                               f"KPI {info.id}: owned by {info.owner or '-'}, not your ministry")
    level = _choice(params, "level", queries.LEVELS, "national") or "national"
    entity = _param(params, "entity") or "JP"
    if level != "national" and not can(user, "kpi.all"):
        if not (level == "ministry" and entity == user.ministry):
            raise PermissionDenied(f"KPI {info.id}: {level} {entity} は閲覧できません / "
                                   f"KPI {info.id}: level {level} entity {entity} is not your ministry")
    rows = [{**r, "frequency": info.frequency} for r in queries.history(con, info.id, level, entity)]
    cols = [Column("period", "col.period", "period"), Column("version", "col.version"),
            Column("value", "col.value", "value"), Column("target", "col.target", "value"),
            Column("status", "col.period_status", "status")]
    return ViewData(cols, rows, unit=info.unit, extra={"info": info, "level": level, "entity": entity})


def kpi_forecast(con: duckdb.DuckDBPyConnection, ws: Workspace, user: User, params: Params) -> ViewData:
    """The forecast rows of one KPI/entity (same access rule as its history)."""
    hist = kpi_history(con, ws, user, params)
    info = hist.extra["info"]
    level, entity = hist.extra["level"], hist.extra["entity"]
    fc = queries.forecasts(con, level, entity, [info.id])  # read once: judged and shown
    judged = queries.judgements(con, [info], level, entity, today(ws), fc=fc)[info.id]
    stored = fc.get(info.id, {})
    rows = []
    for year, ts in judged.by_year.items():
        f = stored.get(year, {})
        rows.append({"target_year": year, "target_date": ts.target_date, "target_value": ts.target_value,
                     "status": ts.status, "judged_value": ts.judged_value, "progress_pct": ts.progress_pct,
                     "met_on": ts.met_on, "projected_value": f.get("projected_value"), "lower": f.get("lower"),
                     "upper": f.get("upper"), "attainment_date": ts.attainment_date, "frequency": info.frequency,
                     "reason_ja": ts.reason_ja, "reason_en": ts.reason_en})
    cols = [Column("target_year", "filter.year"), Column("target_value", "col.target", "value"),
            Column("status", "col.status", "status"), Column("reason", "card.reason", "reason"),
            Column("projected_value", "col.projected", "value"), Column("lower", "col.lower", "value"),
            Column("upper", "col.upper", "value"), Column("attainment_date", "col.attainment", "period")]
    return ViewData(cols, rows, unit=info.unit, extra={**hist.extra, "judgement": judged},
                    empty="table.empty" if info.targets else "forecast.no_target")


def _area_kpi(con: duckdb.DuckDBPyConnection, ws: Workspace, params: Params) -> KpiInfo | None:
    ids = memo(con, ws, queries.area_kpi_ids)
    if not ids:
        return None
    chosen = _choice(params, "kpi", ids, ids[0])
    return kpi_info(con, ws, chosen)


def area_prefectures(con: duckdb.DuckDBPyConnection, ws: Workspace, user: User, params: Params) -> ViewData:
    """Latest value of an area KPI for each of the 47 prefectures (the tile map and its table)."""
    if not can(user, "area.view"):
        raise PermissionDenied("地域別の表示にはCIO室または管理者の権限が必要です / areas: needs the cio or admin role")
    info = _area_kpi(con, ws, params)
    rows = memo(con, ws, queries.prefecture_values, info.id) if info else []
    if info:
        judged = memo(con, ws, queries.level_judgements, info, "prefecture", None, today(ws),
                      key=(info.id, "prefecture"))
        rows = [{**r, "status": judged[r["code"]].status if r["code"] in judged else r["status"],
                 "frequency": info.frequency} for r in rows]
    cols = [Column("code", "col.code"), Column("name", "col.prefecture"), Column("period", "col.period", "period"),
            Column("value", "col.value", "value"), Column("status", "col.status", "status")]
    return ViewData(cols, rows, unit=info.unit if info else "", extra={"info": info})


def area_municipalities(con: duckdb.DuckDBPyConnection, ws: Workspace, user: User, params: Params) -> ViewData:
    """Municipal ranking of an area KPI in one prefecture (or all), searchable by name or code, sortable."""
    if not can(user, "area.view"):
        raise PermissionDenied("地域別の表示にはCIO室または管理者の権限が必要です / areas: needs the cio or admin role")
    info = _area_kpi(con, ws, params)
    prefs = [p["code"] for p in queries.prefectures_list(con)]
    pref = _choice(params, "pref", prefs)
    sort = _choice(params, "sort", queries.SORTS, "value_desc")
    search = _param(params, "q")
    if search and len(search) > 60:
        raise UserError(f"検索語が長すぎます（{len(search)}文字、60文字まで） / "
                        f"URL parameter q: {len(search)} characters is too long (at most 60)")
    rows = (queries.municipality_ranking(con, info.id, pref, search=search, sort=sort or "value_desc",
                                         direction=info.direction) if info and (pref or search) else [])
    if rows:  # every municipality judged once per data version and day (a search may list hundreds)
        judged = memo(con, ws, queries.level_judgements, info, "municipality", None, today(ws),
                      key=(info.id, "municipality"))
        rows = [{**r, "status": judged[r["code"]].status if r["code"] in judged else r["status"],
                 "frequency": info.frequency} for r in rows]
    cols = [Column("rank", "col.rank"), Column("code", "col.code"), Column("name", "col.name", "muni_link"),
            Column("period", "col.period", "period"), Column("value", "col.value", "value"),
            Column("status", "col.status", "status")]
    return ViewData(cols, rows, unit=info.unit if info else "",
                    extra={"info": info, "pref": pref, "sort": sort, "q": search})


def municipality(con: duckdb.DuckDBPyConnection, ws: Workspace, user: User, params: Params) -> ViewData:
    """Every KPI's latest value for one municipality."""
    if not can(user, "area.view"):
        raise PermissionDenied("市区町村の表示にはCIO室または管理者の権限が必要です / municipality: needs the cio or admin role")
    code = _param(params, "code") or ""
    muni = queries.municipality(con, code)
    if muni is None:
        raise NotFound(f"市区町村コード {code!r} はありません / municipality {code!r}: no such municipality code")
    by_id = {k.id: k for k in infos(con, ws)}
    values = queries.entity_values(con, "municipality", code)
    pref = memo(con, ws, queries.latest_values, "prefecture", muni["prefecture_code"])
    nation = memo(con, ws, queries.latest_values, "national", "JP")
    points = queries.series(con, "municipality", code)  # every KPI's trend: judged here, drawn by the page
    judged = queries.judgements(con, [by_id[r["kpi_id"]] for r in values if r["kpi_id"] in by_id], "municipality",
                                code, today(ws), points=points)
    rows = []
    for r in values:
        k = by_id.get(r["kpi_id"])
        j = judged.get(r["kpi_id"])
        rows.append({**r, "name_ja": k.name_ja if k else r["kpi_id"], "name_en": k.name_en if k else r["kpi_id"],
                     "unit": k.unit if k else "", "frequency": k.frequency if k else None,
                     "prefecture_value": pref.get(r["kpi_id"], {}).get("value"),
                     "national_value": nation.get(r["kpi_id"], {}).get("value"),
                     "status": j.status if j else r["status"],
                     "reason_ja": j.headline.reason_ja if j else "", "reason_en": j.headline.reason_en if j else ""})
    cols = [Column("name", "col.kpi"), Column("period", "col.period", "period"),
            Column("value", "col.value", "value"), Column("prefecture_value", "muni.prefecture", "value"),
            Column("national_value", "muni.national", "value"), Column("status", "col.status", "status"),
            Column("reason", "card.reason", "reason"), Column("kpi_id", "col.code")]
    return ViewData(cols, rows, extra={"municipality": muni, "series": points})


def sources(con: duckdb.DuckDBPyConnection, ws: Workspace, user: User, params: Params) -> ViewData:
    """Freshness of every configured source against its freshness_hours."""
    if not can(user, "sources.view"):
        raise PermissionDenied("データ源の表示にはCIO室または管理者の権限が必要です / sources: needs the cio or admin role")
    rows = queries.source_freshness(con, ws.config.sources, now())
    cols = [Column("source", "col.source"), Column("kind", "kpi.unit"), Column("last_ok", "col.last_ok", "datetime"),
            Column("age_hours", "col.age_hours", "number"), Column("freshness_hours", "col.limit_hours", "number"),
            Column("state", "col.fresh", "fresh"), Column("last_error", "col.errors")]
    return ViewData(cols, rows)


def submission_role(user: User) -> str:
    """The role a dashboard user reads submissions under: the all-seeing one when they hold it, else ministry."""
    for role in ("admin", "cio"):
        if user.has(role):
            return role
    return "ministry" if user.has("ministry") else user.role


def submission_number(raw: Any) -> int:
    """The submission number of a URL segment; NotFound for anything that is not a positive integer."""
    text = str(raw or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise NotFound(f"submission {raw!r}: not a submission number / 受付番号ではありません")
    return int(text)


def alert_number(raw: Any) -> int:
    """The alert number of a URL segment or a callback's state; NotFound for anything that is not a positive
    integer a BIGINT holds (a page or a request may carry any text, a list or a 30-digit number)."""
    text = str(raw if isinstance(raw, int | str) and not isinstance(raw, bool) else "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise NotFound(f"アラート {raw!r:.40} は番号ではありません / alert {raw!r:.40}: not an alert number")
    return int(text)


def submission_record(con: duckdb.DuckDBPyConnection, user: User, raw_id: Any) -> dict[str, Any]:
    """One submission through observatory.submissions.get_submission (who may see it is decided and audited there)."""
    return get_submission(con, submission_number(raw_id), user, submission_role(user))


def name_submission_codes(con: duckdb.DuckDBPyConnection, ws: Workspace, rows: list[dict[str, Any]]) -> None:
    """Names beside a submission row's codes: `kpi_id_name_ja/_en` (the KPI catalogue), `ministry_code_name_ja/_en`
    (the reference ministries) and `submitted_by_name` (observatory.yaml `display_name`); None where unknown."""
    kpis = {k.id: k for k in kpi_infos(ws)}
    ministries = {c: queries.org_name(con, c) for c in {r.get("ministry_code") for r in rows} if c}
    for r in rows:
        kpi = kpis.get(r.get("kpi_id") or "")
        r["kpi_id_name_ja"], r["kpi_id_name_en"] = (kpi.name_ja, kpi.name_en) if kpi else (None, None)
        org = ministries.get(r.get("ministry_code")) or {}
        r["ministry_code_name_ja"], r["ministry_code_name_en"] = org.get("name_ja"), org.get("name_en")
    queries.name_people(rows, "submitted_by", queries.user_names(ws.config.users))


def submissions(con: duckdb.DuckDBPyConnection, ws: Workspace, user: User, params: Params) -> ViewData:
    """Submission history of one ministry through observatory.submissions (which decides who sees what)."""
    ministry = _param(params, "ministry") or user.ministry
    if ministry and not can_see_ministry(user, ministry):
        raise PermissionDenied(f"ministry {ministry}: you may only see ministry {user.ministry or '-'}")
    if ministry is None and not can(user, "ministry.all"):
        raise PermissionDenied("府省を選んでください / submissions: choose your ministry")
    role = submission_role(user)
    rows = list_submissions(con, user=user, role=role, ministry_code=ministry, limit=200)
    audit.record(con, actor=user.username, role=user.role, action="dashboard.submissions.view",
                 target=ministry or "*", detail={"rows": len(rows)})
    name_submission_codes(con, ws, rows)
    cols = [Column("submission_id", "col.submission", "submission_link"), Column("kpi_id", "col.kpi", "named"),
            Column("ministry_code", "filter.ministry", "named"), Column("submitted_at", "col.submitted_at", "datetime"),
            Column("submitted_by", "col.submitted_by", "person"), Column("file_name", "col.file"),
            Column("status", "col.status", "sstatus"), Column("rows_accepted", "col.rows", "number"),
            Column("errors", "col.errors", "number")]
    return ViewData(cols, rows, extra={"ministry": ministry})


def alert_queue(con: duckdb.DuckDBPyConnection, ws: Workspace, user: User, params: Params) -> ViewData:
    """The triage queue, most severe and oldest first, filtered (the lifecycle module audits the view)."""
    status = _choice(params, "status", list(alert_store.STATUSES) + ["open", "closed", "all"], "open")
    options = queries.alert_filter_options(con)
    scenario = _choice(params, "scenario", options["scenarios"]) if _param(params, "scenario") else None
    org_code = (_param(params, "org") or "").upper()  # organisation codes are upper case or digits: nta = NTA
    org = _choice({"org": org_code}, "org", options["orgs"]) if org_code else None
    assignee = _param(params, "assignee")
    rows = alert_store.list_alerts(con, user, status=None if status == "all" else status, scenario=scenario,
                                   org=org, assignee=assignee)
    at = now()
    sla = timedelta(hours=ws.config.alerts.triage_service_level_hours)
    orgs = {c: queries.org_name(con, c) for c in {r.get("org_code") for r in rows} if c}
    for r in rows:
        org = orgs.get(r.get("org_code")) or {}
        r["org_name_ja"], r["org_name_en"] = org.get("name_ja"), org.get("name_en")
        created = r.get("created_at")
        # waiting time and deadline count from when the alert was raised, as the time-to-triage panel does
        r["age_hours"] = round((at - created).total_seconds() / 3600, 1) if isinstance(created, datetime) else None
        r["deadline"] = created + sla if isinstance(created, datetime) else None
        r["overdue"] = bool(r["deadline"] and r["status"] in alert_store.OPEN and r["deadline"] < at)
        r["scenarios_text"] = ", ".join(r.get("scenarios") or [])
    queries.name_people(rows, "assignee", queries.user_names(ws.config.users))
    # the person behind a staff code only for those who investigate (issue 14: security role only)
    evidence = can(user, "alerts.evidence")
    codes = [r["staff_id"] for r in rows] if evidence else []
    queries.name_people(rows, "staff_id", queries.staff_names(con, codes))
    english = queries.staff_names(con, codes, "en")
    for r in rows:
        r["staff_id_name_en"] = english.get(r["staff_id"])
    cols = [Column("alert_id", "col.alert", "alert_link"), Column("severity", "col.severity", "severity"),
            Column("scenarios_text", "col.scenarios", "scenarios"), Column("status", "col.status", "astatus"),
            Column("age_hours", "col.raised", "age"), Column("deadline", "col.deadline", "datetime"),
            Column("overdue", "col.overdue", "overdue"), Column("staff_id", "col.staff", "staff"),
            Column("org_code", "filter.org"), Column("assignee", "col.assignee", "person"),
            Column("first_seen", "col.first_seen", "date"), Column("score", "col.score", "number")]
    return ViewData(cols, rows, extra={"status": status, "scenario": scenario, "org": org, "assignee": assignee,
                                       "options": options})


def alerts_per_day(con: duckdb.DuckDBPyConnection, ws: Workspace, user: User, params: Params) -> ViewData:
    """Alerts raised per day over the last 30 days against the daily budget."""
    days = int(_choice(params, "days", ["7", "30", "90"], "30") or 30)
    last = con.execute("SELECT max(first_seen) FROM alerts").fetchone()[0] or now().date()
    rows = alert_store.alerts_per_day(con, user, last - timedelta(days=days - 1), last,
                                      ws.config.alerts.daily_budget)
    cols = [Column("day", "col.day", "date"), Column("alerts", "col.count", "number"),
            Column("budget", "col.budget", "number")]
    return ViewData(cols, rows)


AUDIT_PAGE = 50


def _day(params: Params, name: str) -> date | None:
    raw = _param(params, name)
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise UserError(f"URL パラメータ {name}={raw!r} は日付（YYYY-MM-DD）ではありません / "
                        f"URL parameter {name}={raw!r}: not a date (YYYY-MM-DD)") from None


def audit_log(con: duckdb.DuckDBPyConnection, ws: Workspace, user: User, params: Params) -> ViewData:
    """The audit log, newest first, 50 a page, filtered by actor, action and date range (admin only;
    reading it is itself audited). The CSV download holds every matching entry (up to 10,000)."""
    if not can(user, "audit.view"):
        raise PermissionDenied("監査ログには管理者の権限が必要です / audit log: needs the admin role")
    actor, action = _param(params, "actor"), _param(params, "action")
    since, until = _day(params, "from"), _day(params, "to")
    page_raw = _param(params, "page") or "1"
    if not page_raw.isdigit() or not 1 <= int(page_raw) <= 100000:
        raise UserError(f"URL パラメータ page={page_raw!r} は正の整数ではありません / "
                        f"URL parameter page={page_raw!r}: not a positive page number")
    page = int(page_raw)
    limit, offset = (10000, 0) if _param(params, "all") else (AUDIT_PAGE, (page - 1) * AUDIT_PAGE)
    rows, total = queries.audit_rows(con, actor=actor, action=action, since=since, until=until,
                                     tz=ws.config.timezone, limit=limit, offset=offset)
    audit.record(con, actor=user.username, role=user.role, action="dashboard.audit.view",
                 detail={"actor": actor, "action": action, "from": str(since or ""), "to": str(until or ""),
                         "page": page, "rows": len(rows)})
    for r in rows:
        r["detail"] = _detail_text(r.get("detail"))
    queries.name_people(rows, "actor", queries.user_names(ws.config.users))
    cols = [Column("at_time", "col.at", "datetime"), Column("actor", "col.actor", "person"), Column("action", "col.action",
                                                                                       "action"),
            Column("target", "col.target_obj"), Column("outcome", "col.outcome", "outcome"),
            Column("role", "col.role", "role"), Column("client", "col.client"), Column("detail", "col.note")]
    return ViewData(cols, rows, extra={"actor": actor, "action": action, "from": since, "to": until, "page": page,
                                       "total": total, "pages": max(1, -(-total // AUDIT_PAGE))})


def _detail_text(raw: Any) -> str:
    """An audit detail as 'key: value; ...' (readable in a table cell and a CSV)."""
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return str(raw)
    if isinstance(data, dict):
        return "; ".join(f"{k}: {v}" for k, v in data.items() if v not in (None, "", [], {}))
    return "" if data is None else str(data)


ViewFn = Callable[[duckdb.DuckDBPyConnection, Workspace, User, Params], ViewData]

# name -> (page whose rule applies first, function); used by /download/<name>.csv
VIEWS: dict[str, tuple[str, ViewFn]] = {
    "overview": ("overview", overview),
    "kpi-history": ("kpi", kpi_history),
    "kpi-forecast": ("kpi", kpi_forecast),
    "area-prefectures": ("area", area_prefectures),
    "area-municipalities": ("area", area_municipalities),
    "municipality": ("municipality", municipality),
    "sources": ("sources", sources),
    "submissions": ("ministry", submissions),
    "alerts": ("alerts", alert_queue),
    "alerts-per-day": ("alerts", alerts_per_day),
    "audit": ("audit", audit_log),
}

def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return csv_safe(";".join(map(str, value)))
    if isinstance(value, str):
        return csv_safe(value)  # never let a spreadsheet execute a cell
    return value


def csv_bytes(view: ViewData, lang: str) -> bytes:
    """The view as CSV, UTF-8 with BOM so Excel opens Japanese text correctly; raw values, localised headers."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    pairs = []
    for c in view.columns:
        keys = [f"{c.key}_ja", f"{c.key}_en"] if c.key in ("name", "reason") else \
            [c.key, f"{c.key}_name"] if c.kind == "person" else \
            [c.key, f"{c.key}_name", f"{c.key}_name_en"] if c.kind == "staff" else \
            [c.key, f"{c.key}_name_ja", f"{c.key}_name_en"] if c.kind == "named" else [c.key]
        pairs.extend((f"{t(c.label, lang)} ({k})", k) for k in keys)
    writer.writerow([p[0] for p in pairs])
    keys = [p[1] for p in pairs]
    for row in view.rows:
        writer.writerow([_csv_cell(row.get(k)) for k in keys])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
