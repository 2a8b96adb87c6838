"""Page models built from SiteData: pure functions, one per kind of page (no database, no HTML)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from dashboards.publish.data import OUTCOME_COLUMNS, SiteData
from dashboards.publish.definitions import TARGET_YEARS, PublicKpi
from dashboards.publish.disclosure import THRESHOLD
from dashboards.publish.i18n import (
    FREQUENCY,
    STATUS,
    UNIT_WORDS,
    number,
    period_label,
    status_label,
    timestamp,
)
from dashboards.publish.i18n import t as label
from dashboards.publish.model import Column, Figure, Page, Table, Text
from observatory.kpis.status import SEVERITY

SUPPRESSED = "x"


def _v(p) -> float | str | None:
    """A point's value, or "x" when disclosure control hides it."""
    return SUPPRESSED if p.suppressed else p.value


def _n(p, count: float | None) -> float | str | None:
    return SUPPRESSED if p.counts_suppressed else count


def _num(v: object) -> float | None:
    return v if isinstance(v, (int, float)) else None


def L(key: str, **kw: object) -> Text:  # noqa: N802 - reads like a label lookup
    """A label in both languages."""
    return (label(key, "ja", **kw), label(key, "en", **kw))


def _name_cols(title_key: str, link: str | None = None) -> list[Column]:
    return [
        Column("name_ja", "string", (label(title_key, "ja"), label(title_key, "ja") + " (ja)"), lang="ja",
               link=link),
        Column("name_en", "string", (label(title_key, "en") + "（英語）", label(title_key, "en")), lang="en",
               link=link),
    ]


# a table mixing KPIs names each row's unit and frequency in the downloads (its values' unit="row" points here;
# a period is the first day of its month or fiscal year); the page writes them into each cell instead
_UNIT_COLUMNS = (Column("unit", "string", L("unit"), html=False),
                 Column("frequency", "string", L("frequency"), html=False))


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in text.lower())


def _names(data: SiteData, k: PublicKpi) -> tuple[str, str]:
    """A KPI's names as every table shows them: marked when its figures here are synthetic demo data."""
    if data.synthetic(k):
        return k.name_ja + "（合成データ）", k.name_en + " (synthetic data)"
    return k.name_ja, k.name_en


def _name_fields(data: SiteData, k: PublicKpi) -> dict[str, str]:
    """name_ja, name_en (marked when synthetic) and the frequency its periods are named in, for a table row."""
    name_ja, name_en = _names(data, k)
    return {"name_ja": name_ja, "name_en": name_en, "frequency": k.frequency}


def _status_counts(statuses: list[str]) -> Text:
    counts = Counter(statuses)
    order = [s for s in STATUS if counts.get(s)]
    ja = "、".join(f"{STATUS[s][0]}{counts[s]}" for s in order) or "なし"
    en = ", ".join(f"{counts[s]} {STATUS[s][1].lower()}" for s in order) or "none"
    return ja, en


def ministry_name(data: SiteData, code: str) -> Text:
    m = next((x for x in data.ministries if x.code == code), None)
    return (m.name_ja, m.name_en) if m else (code or "—", code or "—")


# ---------------------------------------------------------------- overview


def overview_rows(data: SiteData, year: int) -> list[dict]:
    """Per KPI: its target for `year`, the latest national value, the forecast and the status."""
    rows = []
    for k in data.kpis:
        latest = data.latest(k.kpi_id, "national", "JP")
        fc = next((f for f in data.forecasts.get((k.kpi_id, "national", "JP"), []) if f.target_year == year), None)
        ts = data.judgement(k.kpi_id, "national", "JP").by_year.get(year)
        if ts is None:
            continue
        value = _v(latest) if latest else None
        # progress and status as judged: for a target date already past, on the value observed by that date
        progress = ts.progress_pct if _num(value) is not None or value is None else None
        name_ja, name_en = _names(data, k)
        rows.append({
            "kpi_id": k.kpi_id, "slug": _slug(k.kpi_id), "name_ja": name_ja, "name_en": name_en,
            "frequency": k.frequency, "unit": k.unit, "target": ts.target_value, "latest_value": value,
            "latest_period": latest.period if latest else None,
            "projected": fc.projected if fc else None, "lower": fc.lower if fc else None,
            "upper": fc.upper if fc else None, "progress_pct": progress, "status": ts.status,
            "reason_ja": ts.reason_ja, "reason_en": ts.reason_en,
        })
    rows.sort(key=lambda r: (SEVERITY.get(r["status"], 9), r["progress_pct"] if r["progress_pct"] is not None
                             else 1e9, r["kpi_id"]))
    return rows


def overview(data: SiteData) -> Page:
    """The national overview: one section per target year."""
    figures = []
    for year in TARGET_YEARS:
        rows = overview_rows(data, year)
        cols = [Column("kpi_id", "string", L("code"), kind="code", html=False)] + _name_cols(
            "kpi", "kpi/{slug}.html") + [
            Column("unit", "string", L("unit"), html=False),
            Column("target", "number", L("target"), unit="row"),
            Column("latest_value", "number", L("latest"), unit="row"),
            Column("latest_period", "date", L("latest_period"), kind="period"),
            Column("projected", "number", L("projected"), unit="row"),
            Column("lower", "number", (label("band", "ja") + " 下限", label("band", "en") + ", lower"), unit="row",
                   html=False),
            Column("upper", "number", (label("band", "ja") + " 上限", label("band", "en") + ", upper"), unit="row",
                   html=False),
            Column("progress_pct", "number", L("progress_pct"), unit="percent"),
            Column("status", "string", L("status"), kind="status"),
            # in the downloads and the API; the page links each KPI to its own page, which says why
            Column("reason_ja", "string", ("判定の理由", "Why (Japanese)"), lang="ja", html=False),
            Column("reason_en", "string", ("判定の理由（英語）", "Why"), lang="en", html=False),
        ]
        table = Table(f"overview-{year}", f"overview/targets-{year}", L("target_year", year=year), cols, rows,
                      ["kpi_id"])
        counts = _status_counts([r["status"] for r in rows])
        summary = (f"{year}年目標のある{len(rows)}指標の状況：{counts[0]}。",
                   f"{len(rows)} indicators have a {year} target: {counts[1]}.")
        if not rows:
            summary = (f"{year}年を目標年とする指標はありません。", f"No indicator has a {year} target.")
        chart = {"kind": "bars", "label": "name", "value": "progress_pct", "max": 100.0, "status": "status"}
        figures.append(Figure(f"overview-{year}", L("target_year", year=year), summary, table,
                              chart if rows else None))
    lead = [L("site_subtitle"),
            ("達成度は、判定に用いた値を目標値で割った割合です（低いほど良い指標は逆数、達成済みは100%）。"
             "期日を過ぎた目標は期日時点の値で判定し、期日後に達成した場合は「達成」とその時期を示します。"
             "期日前の目標は予測に基づいて判定します。",
             "Progress is the value the status rests on divided by the target (inverted where lower is better; "
             "100% once met). A target whose date has passed is judged on the value observed by that date; one "
             "met after its date shows as achieved, with when. A target still ahead is judged on the forecast.")]
    synthetic = [k for k in data.kpis if data.synthetic(k)]
    if synthetic:
        lead.append(("「合成データ」と記した指標は、公表データがない分野のデモ用の合成データです。その他は政府の公表データです"
                     "（各指標のページに出典）。",
                     "Indicators marked \"synthetic data\" show demo data generated where nothing is public; the others "
                     "show published government figures (sources on each indicator's page)."))
    return Page("index.html", "overview", L("nav_overview"), lead=lead, figures=figures)


# ---------------------------------------------------------------- KPIs


def _history_table(data: SiteData, k: PublicKpi, level: str, entity: str, name: str, path: str) -> Table:
    rows = [{"period": p.period, "value": _v(p), "numerator": _n(p, p.numerator), "denominator": _n(p, p.denominator),
             "target": p.target, "status": p.status} for p in data.points(k.kpi_id, level, entity)]
    cols = [
        Column("period", "date", L("period"), kind="period"),
        Column("value", "number", L("value"), unit=k.unit),
        Column("numerator", "number", L("numerator")),
        Column("denominator", "number", L("denominator")),
        Column("target", "number", L("target"), unit=k.unit),
        Column("status", "string", L("period_status"), kind="status"),
    ]
    name_ja, name_en = _names(data, k)  # the file's title travels without the page: it says synthetic too
    return Table(name, path, (f"{name_ja}の推移", f"{name_en}: history"), cols, rows, ["period"],
                 frequency=k.frequency)


def _history_summary(data: SiteData, k: PublicKpi, rows: list[dict]) -> Text:
    with_value = [r for r in rows if _num(r["value"]) is not None]
    if not with_value:
        return (f"{k.name_ja}：データ未提出です。", f"{k.name_en}: no data submitted.")
    first, last = with_value[0], with_value[-1]
    hidden = sum(1 for r in rows if r["value"] == SUPPRESSED)
    gaps = len(rows) - len(with_value) - hidden
    if len(with_value) == 1:  # one figure: its value and period, not a change from itself
        ja = (f"{k.name_ja}は{period_label(last['period'], 'ja', k.frequency)}に"
              f"{number(last['value'], 'ja', k.unit)}でした。")
        en = (f"{k.name_en} was {number(last['value'], 'en', k.unit)} in "
              f"{period_label(last['period'], 'en', k.frequency)}.")
    else:
        ja = (f"{k.name_ja}は{period_label(first['period'], 'ja', k.frequency)}の"
              f"{number(first['value'], 'ja', k.unit)}から{period_label(last['period'], 'ja', k.frequency)}の"
              f"{number(last['value'], 'ja', k.unit)}になりました。")
        en = (f"{k.name_en} went from {number(first['value'], 'en', k.unit)} in "
              f"{period_label(first['period'], 'en', k.frequency)} to {number(last['value'], 'en', k.unit)} in "
              f"{period_label(last['period'], 'en', k.frequency)}.")
    if gaps:
        ja += f"{gaps}期間はデータがありません。"
        en += f" {gaps} period(s) have no data."
    if hidden:
        ja += f"{hidden}期間は少数のため秘匿しています（x）。"
        en += f" {hidden} period(s) are suppressed because the counts are small (x)."
    return ja, en


def _forecast_table(data: SiteData, k: PublicKpi) -> Table:
    judged = data.judgement(k.kpi_id, "national", "JP").by_year
    rows = [{"target_year": f.target_year, "target_date": f.target_date, "target_value": f.target_value,
             "projected": f.projected, "lower": f.lower, "upper": f.upper,
             "attainment_date": judged[f.target_year].attainment_date if f.target_year in judged else None,
             "status": judged[f.target_year].status if f.target_year in judged else f.status,
             "reason_ja": judged[f.target_year].reason_ja if f.target_year in judged else "",
             "reason_en": judged[f.target_year].reason_en if f.target_year in judged else "",
             "method": f.method, "n_points": f.n_points}
            for f in data.forecasts.get((k.kpi_id, "national", "JP"), [])]
    cols = [
        Column("target_year", "integer", L("targets"), kind="year"),
        Column("target_date", "date", ("目標期日", "Target date")),
        Column("target_value", "number", L("target"), unit=k.unit),
        Column("projected", "number", L("projected"), unit=k.unit),
        Column("lower", "number", (label("band", "ja") + " 下限", label("band", "en") + ", lower"), unit=k.unit),
        Column("upper", "number", (label("band", "ja") + " 上限", label("band", "en") + ", upper"), unit=k.unit),
        Column("attainment_date", "date", L("attainment")),
        Column("status", "string", L("status"), kind="status"),
        Column("reason_ja", "string", ("判定の理由", "Why (Japanese)"), lang="ja"),
        Column("reason_en", "string", ("判定の理由（英語）", "Why"), lang="en"),
        Column("method", "string", L("method"), kind="method"),
        Column("n_points", "integer", L("n_points")),
    ]
    name_ja, name_en = _names(data, k)
    return Table(f"kpi-{_slug(k.kpi_id)}-forecast", f"kpi/{_slug(k.kpi_id)}-forecast",
                 (f"{name_ja}の予測", f"{name_en}: forecast"), cols, rows, ["target_year"],
                 empty=None if rows else _no_target(data, k))


def _no_target(data: SiteData, k: PublicKpi) -> Text | None:
    """What a KPI with figures but no target shows instead of a forecast: that it has none, and its latest value."""
    latest = data.latest(k.kpi_id, "national", "JP")
    if latest is None or data.judgement(k.kpi_id, "national", "JP").headline.status != "no_target":
        return None
    value = {lang: SUPPRESSED if latest.suppressed else number(latest.value, lang, k.unit) for lang in ("ja", "en")}
    when = {lang: period_label(latest.period, lang, k.frequency) for lang in ("ja", "en")}
    return (f"{STATUS['no_target'][0]}：この指標には目標が設定されていないため、予測はありません。"
            f"最新値は{value['ja']}（{when['ja']}）です。",
            f"No target set: this indicator has no target to forecast against. "
            f"Latest value {value['en']} ({when['en']}).")


def _forecast_summary(k: PublicKpi, table: Table) -> Text:
    if not table.rows:
        return table.empty or ("予測はまだ計算されていません。", "No forecast has been computed yet.")
    ja, en = [], []
    for r in table.rows:
        band_ja = f"（幅 {number(r['lower'], 'ja', k.unit)}〜{number(r['upper'], 'ja', k.unit)}）" if r[
            "lower"] is not None else ""
        band_en = f" (range {number(r['lower'], 'en', k.unit)} to {number(r['upper'], 'en', k.unit)})" if r[
            "lower"] is not None else ""
        ja.append(f"{r['target_year']}年：目標{number(r['target_value'], 'ja', k.unit)}に対し予測"
                  f"{number(r['projected'], 'ja', k.unit)}{band_ja}、{status_label(r['status'], 'ja')}")
        en.append(f"{r['target_year']}: target {number(r['target_value'], 'en', k.unit)}, projected "
                  f"{number(r['projected'], 'en', k.unit)}{band_en}, {status_label(r['status'], 'en')}")
    return "。".join(ja) + "。", "; ".join(en) + "."


SYNTHETIC_NOTE = ("この指標の数値はデモ用の合成データです。実在の公表値ではありません（公表データがない分野）。",
                  "The figures of this indicator are synthetic demo data, not published figures (nothing public "
                  "exists for this area).")


def _definition_facts(data: SiteData, k: PublicKpi) -> list[tuple[Text, Text]]:
    """The definition in plain words (or a note that it is not published): what is counted, owner, targets."""
    if not k.published:
        return [(L("definition"), L("definition_missing"))]
    facts: list[tuple[Text, Text]] = [
        (L("definition"), (k.description_ja or "—", k.description_en or "—")),
        (L("numerator"), (k.numerator_ja or "—", k.numerator_en or "—")),
        (L("denominator"), (k.denominator_ja or "—", k.denominator_en or "—")),
        (L("exclusions"), (k.exclusions_ja or label("none", "ja"), k.exclusions_en or label("none", "en"))),
        (L("owner"), ministry_name(data, k.owner)),
        (L("unit"), UNIT_WORDS.get(k.unit, (k.unit, k.unit))),
        (L("direction"), L("direction_down" if k.direction == "down" else "direction_up")),
        (L("frequency"), FREQUENCY.get(k.frequency, (k.frequency, k.frequency))),
        (L("baseline"), (f"{number(k.baseline_value, 'ja', k.unit)}（{k.baseline_period}）" if k.baseline_period
                         else number(k.baseline_value, "ja", k.unit),
                         f"{number(k.baseline_value, 'en', k.unit)} ({k.baseline_period})" if k.baseline_period
                         else number(k.baseline_value, "en", k.unit))),
        (L("targets"), ("、".join(f"{y}年 {number(v, 'ja', k.unit)}" for y, v in sorted(k.targets.items()))
                        or "—",
                        ", ".join(f"{y}: {number(v, 'en', k.unit)}" for y, v in sorted(k.targets.items()))
                        or "—")),
    ]
    if k.source_ja or k.source_en:
        facts.append((L("source"), (k.source_ja or k.source_en, k.source_en or k.source_ja)))
    if k.history_ja:
        facts.append((("定義の変更履歴", "Definition history"), (k.history_ja, k.history_en)))
    if data.synthetic(k):
        facts.insert(0, (("合成データ", "Synthetic data"), SYNTHETIC_NOTE))
    if k.citations:
        facts.append((("出典（公表元・利用条件）", "Sources (publisher, licence)"), ("\n".join(c[0] for c in k.citations),
                                           "\n".join(c[1] for c in k.citations))))
    if k.target_notes:
        facts.append((("目標値について", "About the targets"), (" ".join(n[0] for n in k.target_notes),
                                                              " ".join(n[1] for n in k.target_notes))))
    if k.sensitive:
        facts.append((("秘匿処理", "Disclosure control"), L("suppressed_note")))
    return facts


def _national_status(data: SiteData, k: PublicKpi) -> tuple[tuple[Text, Text], dict]:
    """The national judgement against the headline target year: as a fact line and as the page's verdict."""
    head = data.judgement(k.kpi_id, "national", "JP").headline
    year_ja = f"{head.target_year}年目標：" if head.target_year else ""
    year_en = f"{head.target_year} target: " if head.target_year else ""
    fact = (L("status"), (f"{year_ja}{status_label(head.status, 'ja')}。{head.reason_ja}",
                          f"{year_en}{status_label(head.status, 'en')}. {head.reason_en}"))
    verdict = {"level": "national", "entity": "JP", "target_year": head.target_year, "status": head.status,
               "progress_pct": head.progress_pct, "met_on": head.met_on.isoformat() if head.met_on else None,
               "late": head.late, "reason": {"ja": head.reason_ja, "en": head.reason_en}}
    return fact, verdict


def _national_figures(data: SiteData, k: PublicKpi) -> list[Figure]:
    """The national history with its forecast band, and the forecast per target year."""
    slug = _slug(k.kpi_id)
    history = _history_table(data, k, "national", "JP", f"kpi-{slug}-history", f"kpi/{slug}-history")
    history.sources = k.citation_sources
    forecast = _forecast_table(data, k)
    chart = {"kind": "line", "x": "period", "y": "value", "unit": k.unit, "plotly": True,
             "targets": sorted(k.targets.items()),
             "bands": [{"date": r["target_date"], "projected": r["projected"], "lower": r["lower"],
                        "upper": r["upper"], "year": r["target_year"]} for r in forecast.rows]}
    note = L("suppressed_note") if k.sensitive else None
    return [
        Figure(f"kpi-{slug}-history", (f"{k.name_ja}（全国）の推移と予測", f"{k.name_en} (national): history and "
                                       "forecast"), _history_summary(data, k, history.rows), history, chart, note=note),
        Figure(f"kpi-{slug}-forecast", L("forecast"), _forecast_summary(k, forecast), forecast, None),
    ]


def _prefecture_figure(data: SiteData, k: PublicKpi) -> Figure | None:
    """The latest value per prefecture as bars, with the highest and lowest named; None when none has one."""
    slug = _slug(k.kpi_id)
    pref_rows = []
    for p in data.prefectures:
        latest = data.latest(k.kpi_id, "prefecture", p.code)
        if latest is not None:
            pref_rows.append({"code": p.code, "name_ja": p.name_ja, "name_en": p.name_en, "period": latest.period,
                              "value": _v(latest),
                              "status": data.judgement(k.kpi_id, "prefecture", p.code).status})
    if not pref_rows:
        return None
    cols = [Column("code", "string", L("code"), kind="code")] + _name_cols(
        "prefecture", "prefecture/{code}.html") + [
        Column("period", "date", L("period"), kind="period"),
        Column("value", "number", L("value"), unit=k.unit),
        Column("status", "string", L("status"), kind="status")]
    name_ja, name_en = _names(data, k)
    table = Table(f"kpi-{slug}-prefectures", f"kpi/{slug}-prefectures",
                  (f"{name_ja}（都道府県別の最新値）", f"{name_en} by prefecture (latest)"), cols, pref_rows,
                  ["code"], frequency=k.frequency)
    vals = [r for r in pref_rows if _num(r["value"]) is not None]
    hi = max(vals, key=lambda r: r["value"]) if vals else None
    lo = min(vals, key=lambda r: r["value"]) if vals else None
    summary = (f"{len(pref_rows)}都道府県の最新値。最高は{hi['name_ja']}の{number(hi['value'], 'ja', k.unit)}、"
               f"最低は{lo['name_ja']}の{number(lo['value'], 'ja', k.unit)}。",
               f"Latest values for {len(pref_rows)} prefectures. Highest: {hi['name_en']} "
               f"{number(hi['value'], 'en', k.unit)}; lowest: {lo['name_en']} {number(lo['value'], 'en', k.unit)}."
               ) if hi and lo else (f"{len(pref_rows)}都道府県", f"{len(pref_rows)} prefectures")
    return Figure(table.name, table.title, summary, table,
                  {"kind": "bars", "label": "name", "value": "value", "unit": k.unit})


def _municipal_gaps(data: SiteData, k: PublicKpi) -> tuple[Text, Text] | None:
    """How many municipalities have no value, for a KPI reported by municipality; None for the others."""
    muni_total = len(data.municipalities)
    if not ("municipality" in k.levels or any((k.kpi_id, "municipality", m.code) in data.series
                                              for m in data.municipalities[:50])):
        return None
    reporting = sum(1 for m in data.municipalities if data.latest(k.kpi_id, "municipality", m.code))
    return (L("gaps"), (f"{muni_total}市区町村のうち{muni_total - reporting}団体はデータ未提出",
                        f"{muni_total - reporting} of {muni_total} municipalities have submitted no data"))


def kpi_page(data: SiteData, k: PublicKpi) -> Page:
    """One KPI: its definition in plain words, history, forecast and, where published, regional figures."""
    slug = _slug(k.kpi_id)
    facts = _definition_facts(data, k)
    status_fact, verdict = _national_status(data, k)
    facts.append(status_fact)
    fresh = data.kpi_freshness.get(k.kpi_id)
    facts.append((L("last_updated"), (timestamp(fresh.computed_at if fresh else None, "ja"),
                                      timestamp(fresh.computed_at if fresh else None, "en"))))
    figures = _national_figures(data, k)
    prefectures = _prefecture_figure(data, k)
    if prefectures is not None:
        figures.append(prefectures)
    gaps = _municipal_gaps(data, k)
    if gaps is not None:
        facts.append(gaps)
    crumbs = [("kpi/index.html", L("nav_kpis"))]
    related = [(f"kpi/{_slug(o.kpi_id)}.html", (o.name_ja, o.name_en))
               for o in (data.kpi(x) for x in k.shown_with) if o is not None]
    links = [(("同じことを別の方法で測る指標（測定対象の変更）", "The same thing measured another way (a change of measure)"),
              related)] if related else []
    return Page(f"kpi/{slug}.html", "kpi", (k.name_ja, k.name_en), facts=facts, figures=figures, crumbs=crumbs,
                status=verdict, links=links)


def kpi_index(data: SiteData) -> Page:
    """The list of KPIs with owner and latest national value."""
    rows = []
    for k in data.kpis:
        latest = data.latest(k.kpi_id, "national", "JP")
        owner = ministry_name(data, k.owner)
        rows.append({"kpi_id": k.kpi_id, "slug": _slug(k.kpi_id), **_name_fields(data, k),
                     "owner": k.owner, "owner_ja": owner[0], "owner_en": owner[1], "unit": k.unit,
                     "latest_value": _v(latest) if latest else None,
                     "latest_period": latest.period if latest else None,
                     "status": data.judgement(k.kpi_id, "national", "JP").status})
    cols = [Column("kpi_id", "string", L("code"), kind="code", html=False)] + _name_cols("kpi", "kpi/{slug}.html") + [
        Column("owner_ja", "string", L("owner"), lang="ja"), Column("owner_en", "string", L("owner"), lang="en"),
        *_UNIT_COLUMNS, Column("latest_value", "number", L("latest"), unit="row"),
        Column("latest_period", "date", L("latest_period"), kind="period"),
        Column("status", "string", L("status"), kind="status")]
    table = Table("kpis", "kpis", L("nav_kpis"), cols, rows, ["kpi_id"])
    summary = (f"公開している指標は{len(rows)}件です。", f"{len(rows)} indicators are published.")
    return Page("kpi/index.html", "kpis", L("nav_kpis"), figures=[Figure("kpis", L("nav_kpis"), summary, table)])


# ---------------------------------------------------------------- ministries


def ministry_page(data: SiteData, code: str) -> Page:
    """A ministry: the KPIs it owns (national status) and figures reported for the ministry itself."""
    name = ministry_name(data, code)
    owned = [k for k in data.kpis if k.owner == code]
    rows = []
    for k in owned:
        latest = data.latest(k.kpi_id, "national", "JP")
        rows.append({"kpi_id": k.kpi_id, "slug": _slug(k.kpi_id), **_name_fields(data, k),
                     "unit": k.unit, "latest_value": _v(latest) if latest else None,
                     "latest_period": latest.period if latest else None,
                     "status": data.judgement(k.kpi_id, "national", "JP").status})
    cols = [Column("kpi_id", "string", L("code"), kind="code", html=False)] + _name_cols("kpi", "kpi/{slug}.html") + [
        *_UNIT_COLUMNS, Column("latest_value", "number", L("latest"), unit="row"),
        Column("latest_period", "date", L("latest_period"), kind="period"),
        Column("status", "string", L("status"), kind="status")]
    owned_table = Table(f"ministry-{_slug(code)}-kpis", f"ministry/{_slug(code)}-kpis",
                        (f"{name[0]}が所管する指標", f"Indicators owned by {name[1]}"), cols, rows, ["kpi_id"])
    figures = [Figure(owned_table.name, L("owned_kpis"),
                      (f"{name[0]}が所管する指標は{len(rows)}件です。",
                       f"{name[1]} owns {len(rows)} indicator(s)."), owned_table)]
    fig_rows = []
    for k in data.kpis:
        latest = data.latest(k.kpi_id, "ministry", code)
        if latest:
            fig_rows.append({"kpi_id": k.kpi_id, "slug": _slug(k.kpi_id), **_name_fields(data, k),
                             "unit": k.unit, "period": latest.period,
                             "value": _v(latest), "status": data.judgement(k.kpi_id, "ministry", code).status})
    if fig_rows:
        cols2 = [Column("kpi_id", "string", L("code"), kind="code", html=False)] + _name_cols("kpi", "kpi/{slug}.html") + [
            *_UNIT_COLUMNS, Column("period", "date", L("period"), kind="period"),
            Column("value", "number", L("value"), unit="row"),
            Column("status", "string", L("status"), kind="status")]
        t2 = Table(f"ministry-{_slug(code)}-values", f"ministry/{_slug(code)}-values",
                   (f"{name[0]}の値", f"Figures for {name[1]}"), cols2, fig_rows, ["kpi_id"])
        figures.append(Figure(t2.name, L("ministry_figures"),
                              (f"{name[0]}について{len(fig_rows)}指標の値があります。",
                               f"{len(fig_rows)} indicator(s) have figures for {name[1]}."), t2))
    return Page(f"ministry/{_slug(code)}.html", "ministry", name, figures=figures,
                crumbs=[("ministry/index.html", L("nav_ministries"))])


def ministry_index(data: SiteData) -> Page:
    rows = [{"code": m.code, "slug": _slug(m.code), "name_ja": m.name_ja, "name_en": m.name_en,
             "kpis": sum(1 for k in data.kpis if k.owner == m.code)} for m in data.ministries]
    cols = [Column("code", "string", L("code"), kind="code")] + _name_cols("ministry", "ministry/{slug}.html") + [
        Column("kpis", "integer", L("kpi_count"))]
    table = Table("ministries", "ministries", L("nav_ministries"), cols, rows, ["code"])
    return Page("ministry/index.html", "ministries", L("nav_ministries"), figures=[
        Figure("ministries", L("nav_ministries"), (f"{len(rows)}府省庁", f"{len(rows)} ministries and agencies"),
               table)])


# ---------------------------------------------------------------- prefectures and municipalities


def _latest_columns(data: SiteData, kpis: list[PublicKpi], rows: list[dict]) -> list[Column]:
    """Per KPI, each entity's latest value and, in the downloads, its period (entities report late: a value
    older than the newest of the column says its period on the page too)."""
    out = []
    for k in kpis:
        slug = _slug(k.kpi_id)
        periods = [r[f"{slug}_period"] for r in rows if r.get(f"{slug}_period") is not None]
        name_ja, name_en = _names(data, k)
        out.append(Column(slug, "number", (name_ja, name_en), unit=k.unit, description=f"latest value of {k.kpi_id}",
                          latest_of=(max(periods), k.frequency) if periods else None))
        out.append(Column(f"{slug}_period", "date", (f"{name_ja}の対象期間", f"{name_en}: period"), html=False,
                          description=f"period of the latest value of {k.kpi_id} (first day of the month or fiscal "
                                      "year)"))
    return out


def _latest_row(data: SiteData, kpis: list[PublicKpi], level: str, code: str) -> dict:
    row = {}
    for k in kpis:
        latest = data.latest(k.kpi_id, level, code)
        row[_slug(k.kpi_id)] = _v(latest) if latest else None
        row[f"{_slug(k.kpi_id)}_period"] = latest.period if latest else None
    return row


def prefecture_index(data: SiteData) -> Page:
    kpis = data.kpis_at("prefecture")
    rows = [{"code": p.code, "name_ja": p.name_ja, "name_en": p.name_en,
             **_latest_row(data, kpis, "prefecture", p.code)} for p in data.prefectures]
    cols = [Column("code", "string", L("code"), kind="code")] + _name_cols("prefecture", "prefecture/{code}.html") + \
        _latest_columns(data, kpis, rows)
    table = Table("prefectures", "prefectures", L("nav_prefectures"), cols, rows, ["code"])
    summary = (f"47都道府県の各指標の最新値（{len(kpis)}指標）。", f"Latest value of {len(kpis)} indicator(s) "
               "for the 47 prefectures.")
    return Page("prefecture/index.html", "prefectures", L("nav_prefectures"),
                figures=[Figure("prefectures", L("nav_prefectures"), summary, table)])


def prefecture_page(data: SiteData, code: str) -> Page:
    """A prefecture: its own figures and those of each of its municipalities."""
    p = next(x for x in data.prefectures if x.code == code)
    figures = []
    rows = []
    for k in data.kpis_at("prefecture"):
        latest = data.latest(k.kpi_id, "prefecture", code)
        rows.append({"kpi_id": k.kpi_id, "slug": _slug(k.kpi_id), **_name_fields(data, k),
                     "unit": k.unit, "period": latest.period if latest else None,
                     "value": _v(latest) if latest else None,
                     "status": data.judgement(k.kpi_id, "prefecture", code).status})
    cols = [Column("kpi_id", "string", L("code"), kind="code", html=False)] + _name_cols("kpi", "kpi/{slug}.html") + [
        *_UNIT_COLUMNS, Column("period", "date", L("period"), kind="period"),
        Column("value", "number", L("value"), unit="row"),
        Column("status", "string", L("status"), kind="status")]
    own = Table(f"prefecture-{code}", f"prefecture/{code}", (p.name_ja, p.name_en), cols, rows, ["kpi_id"])
    figures.append(Figure(own.name, (f"{p.name_ja}の最新値", f"{p.name_en}: latest figures"),
                          (f"{p.name_ja}について{sum(1 for r in rows if r['value'] is not None)}指標の値があります。",
                           f"{sum(1 for r in rows if r['value'] is not None)} indicator(s) have figures for "
                           f"{p.name_en}."), own))
    kpis = data.kpis_at("municipality")
    munis = [m for m in data.municipalities if m.parent == code]
    mrows = [{"code": m.code, "name_ja": m.name_ja, "name_en": m.name_en,
              **_latest_row(data, kpis, "municipality", m.code)} for m in munis]
    mcols = [Column("code", "string", L("code"), kind="code")] + _name_cols(
        "municipality", "municipality/{code}.html") + _latest_columns(data, kpis, mrows)
    mt = Table(f"prefecture-{code}-municipalities", f"prefecture/{code}-municipalities",
               (f"{p.name_ja}の市区町村", f"Municipalities of {p.name_en}"), mcols, mrows, ["code"])
    missing = sum(1 for r in mrows if all(r[_slug(k.kpi_id)] is None for k in kpis)) if kpis else len(mrows)
    figures.append(Figure(mt.name, L("municipalities_in"),
                          (f"管内{len(mrows)}市区町村の最新値。うち{missing}団体はデータ未提出。",
                           f"Latest values for the {len(mrows)} municipalities; {missing} have submitted no data."),
                          mt))
    return Page(f"prefecture/{code}.html", "prefecture", (p.name_ja, p.name_en), figures=figures,
                crumbs=[("prefecture/index.html", L("nav_prefectures"))])


def municipality_index(data: SiteData) -> Page:
    """Every municipality with its latest figures, filterable by name or code."""
    kpis = data.kpis_at("municipality")
    prefs = {p.code: p for p in data.prefectures}
    rows = [{"code": m.code, "prefecture_ja": prefs[m.parent].name_ja, "prefecture_en": prefs[m.parent].name_en,
             "name_ja": m.name_ja, "name_en": m.name_en, "kana": m.kana,
             **_latest_row(data, kpis, "municipality", m.code)} for m in data.municipalities]
    cols = [Column("code", "string", L("code"), kind="code"),
            Column("prefecture_ja", "string", L("prefecture"), lang="ja"),
            Column("prefecture_en", "string", L("prefecture"), lang="en")] + _name_cols(
        "municipality", "municipality/{code}.html") + [Column("kana", "string", L("kana"), lang="ja")] + \
        _latest_columns(data, kpis, rows)
    table = Table("municipalities", "municipalities", L("nav_municipalities"), cols, rows, ["code"])
    summary = (f"全{len(rows)}市区町村の最新値。", f"Latest values for all {len(rows)} municipalities.")
    return Page("municipality/index.html", "municipalities", L("nav_municipalities"),
                figures=[Figure("municipalities", L("nav_municipalities"), summary, table)], search=True)


def municipality_page(data: SiteData, code: str) -> Page:
    """A municipality: for each KPI published at that level, its history as a chart and a table."""
    m = next(x for x in data.municipalities if x.code == code)
    return _municipality_page(data, m, {p.code: (p.name_ja, p.name_en) for p in data.prefectures})


def _municipality_page(data: SiteData, m, prefecture_names: dict[str, tuple[str, str]]) -> Page:
    kpis = data.kpis_at("municipality")
    all_rows = []
    figures = []
    for k in kpis:
        points = data.points(k.kpi_id, "municipality", m.code)
        rows = [{"kpi_id": k.kpi_id, "period": p.period, "value": _v(p), "numerator": _n(p, p.numerator),
                 "denominator": _n(p, p.denominator), "status": p.status} for p in points]
        all_rows += rows
        cols = [Column("period", "date", L("period"), kind="period"),
                Column("value", "number", L("value"), unit=k.unit),
                Column("numerator", "number", L("numerator")),
                Column("denominator", "number", L("denominator")),
                Column("status", "string", L("period_status"), kind="status")]
        table = Table(f"municipality-{m.code}-{_slug(k.kpi_id)}", "", _names(data, k), cols, rows,
                      ["period"], frequency=k.frequency)
        figures.append(Figure(f"m-{_slug(k.kpi_id)}", _names(data, k),
                              _history_summary(data, k, rows), table,
                              {"kind": "line", "x": "period", "y": "value", "unit": k.unit} if rows else None))
    cols = [Column("kpi_id", "string", L("kpi"), kind="code"), Column("period", "date", L("period")),
            Column("value", "number", L("value"), unit="kpi"), Column("numerator", "number", L("numerator")),
            Column("denominator", "number", L("denominator")), Column("status", "string", L("status"))]
    combined = Table(f"municipality-{m.code}", f"municipality/{m.code}", (m.name_ja, m.name_en), cols, all_rows,
                     ["kpi_id", "period"])
    for f in figures:
        f.download = combined
    pref = prefecture_names.get(m.parent, (m.parent, m.parent))
    facts = [(L("code"), (m.code, m.code)), (L("kana"), (m.kana, m.kana)), (L("prefecture"), pref)]
    if not kpis:
        facts.append((L("gaps"), L("no_data")))
    title = (f"{m.name_ja}（{pref[0]}）", f"{m.name_en}, {pref[1]}")
    return Page(f"municipality/{m.code}.html", "municipality", title, facts=facts,
                figures=figures, tables=[combined],
                crumbs=[("municipality/index.html", L("nav_municipalities")),
                        (f"prefecture/{m.parent}.html", pref)])


# ---------------------------------------------------------------- freshness, methods, security, data


def freshness(data: SiteData) -> Page:
    """When each source and each KPI last received data; missing data is said, not hidden."""
    rows = [{"source": s.source, "kind": s.kind, "last_updated": s.last_good_at,
             "last_attempt": s.last_attempt_at, "last_status": s.last_status,
             "state": "no_data" if s.last_good_at is None else ("stale" if s.stale else "fresh"),
             "expected_hours": s.freshness_hours} for s in data.sources]
    cols = [Column("source", "string", L("source")), Column("kind", "string", ("種類", "Kind")),
            Column("last_updated", "datetime", L("last_updated")),
            Column("last_attempt", "datetime", L("last_attempt")),
            Column("last_status", "string", ("最終取得の結果", "Last result")),
            Column("state", "string", L("status"), kind="state"),
            Column("expected_hours", "number", (label("expected_every", "ja") + "（時間）",
                                                label("expected_every", "en") + " (hours)"))]
    src = Table("freshness-sources", "freshness/sources", L("freshness_title"), cols, rows, ["source"])
    n_missing = sum(1 for r in rows if r["state"] == "no_data")
    n_stale = sum(1 for r in rows if r["state"] == "stale")
    figures = [Figure(src.name, ("データ源ごとの更新状況", "Data sources"),
                      (f"{len(rows)}のデータ源のうち、更新の遅れ{n_stale}、データ未提出{n_missing}。",
                       f"Of {len(rows)} data sources, {n_stale} are overdue and {n_missing} have delivered no data."),
                      src)]
    krows = []
    for k in data.kpis:
        f = data.kpi_freshness.get(k.kpi_id)
        krows.append({"kpi_id": k.kpi_id, **_name_fields(data, k),
                      "computed_at": f.computed_at if f else None,
                      "last_submission": f.last_submission_at if f else None,
                      "state": "no_data" if f is None or f.computed_at is None else "fresh"})
    kcols = [Column("kpi_id", "string", L("code"), kind="code", html=False)] + _name_cols("kpi") + [
        Column("computed_at", "datetime", L("last_updated")),
        Column("last_submission", "datetime", L("last_submission")),
        Column("state", "string", L("status"), kind="state")]
    kt = Table("freshness-kpis", "freshness/kpis", ("指標ごとの更新状況", "Indicators"), kcols, krows, ["kpi_id"])
    n_none = sum(1 for r in krows if r["state"] == "no_data")
    figures.append(Figure(kt.name, ("指標ごとの更新状況", "Indicators"),
                          (f"{len(krows)}指標のうち{n_none}指標はデータ未提出。",
                           f"{n_none} of {len(krows)} indicators have no data submitted."), kt))
    return Page("freshness.html", "freshness", L("freshness_title"), lead=[L("freshness_intro")], figures=figures)


def how_we_measure(data: SiteData) -> Page:
    """Methods in plain words and, per KPI, the definition links."""
    lead = [
        ("各指標は、府省からの提出データと公開統計を毎月自動で集計して計算します。分子・分母・除外するものは各指標のページに記載しています。",
         "Each indicator is computed automatically from ministry submissions and published statistics. Every "
         "indicator page states its numerator, denominator and exclusions."),
        ("予測は、現行の定義による直近の値に頑健な直線（Theil-Sen法：2点間の傾きの中央値）を当てはめ、80%の予測区間を示します。"
         "目標を既に満たしていれば「達成」、目標期日の予測値が目標に届けば「順調」、区間の上限でしか届かなければ「要注意」、"
         "届かない、または期日を過ぎても未達成なら「遅れ」です。データ点が少ない場合は「データ不足」とし、予測値を示しません。"
         "最新のデータが目標の期間の終わりより2年以上前のものである場合は、達成済みを除き「最新データ不足」とし、見通しを判定しません。",
         "Forecasts fit a robust straight line (Theil-Sen: the median of pairwise slopes) to the recent values of "
         "the current definition and show an 80% prediction range. A KPI has achieved its target when the latest "
         "value meets it; it is on track when the projection at the target date meets it, at risk when only the "
         "optimistic end of the range does, and off track otherwise or when the target date has passed unmet. "
         "With too few data points the status is \u201cinsufficient data\u201d and no projection is shown. "
         "When the latest figure ends more than two years before the end of the target's period, the status is "
         "\u201cinsufficient recent data\u201d (unless the target is already met) and no outlook is judged."),
        ("指標の定義を変更した場合は、各指標のページに変更履歴を記載し、予測には現行の定義の値だけを使います。",
         "When an indicator's definition changes, its page lists the change, and forecasts use values of the "
         "current definition only."),
        ("データが届いていない期間や団体は、ゼロではなく「データ未提出」として表示します。",
         "Periods and authorities with no data are shown as \u201cno data submitted\u201d, never as zero."),
        (f"アクセスログと警告に由来する件数は集計値のみを公開し、{THRESHOLD}件未満の値は「x」として秘匿します。"
         "合計から逆算できないよう、必要に応じて他の値も秘匿します。個人や職員を特定できる情報は公開しません。",
         f"Counts derived from access logs and alerts are published only as totals; counts below {THRESHOLD} "
         "are shown as \u201cx\u201d, and further cells are hidden where a total would reveal them. Nothing "
         "that identifies a person or a member of staff is published."),
        ("年度は4月に始まります。市区町村コードは全国地方公共団体コード（JIS X 0402、検査数字付き6桁）です。",
         "Fiscal years start in April. Municipality codes are the national local government codes (JIS X "
         "0402, six digits with check digit)."),
    ]
    items = [(f"kpi/{_slug(k.kpi_id)}.html", (k.name_ja, k.name_en)) for k in data.kpis]
    figures = [_checks_figure(data)] if data.checks else []
    return Page("how.html", "how", L("how_title"), lead=lead, links=[(L("nav_kpis"), items)], figures=figures)


CHECK_WORDS = {"agrees": ("一致", "agrees"), "differs": ("不一致", "differs"), "no_data": ("未取込", "not loaded")}


def _checks_figure(data: SiteData) -> Figure:
    """The publishers' own figures beside the same figures recomputed from what the observatory loaded."""
    rows = [{"check_id": r.check.id, "publication": r.check.publication, "check_ja": r.check.ja,
             "check_en": r.check.en, "published": r.check.expected, "computed": r.computed,
             "result_ja": CHECK_WORDS[r.status][0], "result_en": CHECK_WORDS[r.status][1]} for r in data.checks]
    cols = [Column("check_id", "string", L("code"), kind="code", html=False),
            Column("publication", "string", ("公表資料", "Publication"), html=False),
            Column("check_ja", "string", ("確認する数値", "Figure (Japanese)"), lang="ja"),
            Column("check_en", "string", ("確認する数値（英語）", "Figure"), lang="en"),
            Column("published", "number", ("公表値", "Published")),
            Column("computed", "number", ("本サイトの集計", "Recomputed here")),
            Column("result_ja", "string", ("結果", "Result (Japanese)"), lang="ja"),
            Column("result_en", "string", ("結果（英語）", "Result"), lang="en")]
    table = Table("published-checks", "how/published-checks", ("公表値との照合", "Checks against published figures"),
                  cols, rows, ["check_id"])
    agree = sum(1 for r in data.checks if r.status == "agrees")
    loaded = sum(1 for r in data.checks if r.status != "no_data")
    summary = (f"公表資料に記載された{len(rows)}の数値を取り込んだデータから再計算し、取込済みの{loaded}件中{agree}件が一致しました。",
               f"{len(rows)} figures stated by the publications, recomputed from the data loaded here: {agree} of the "
               f"{loaded} loaded agree.")
    return Figure(table.name, table.title, summary, table, None)


def security(data: SiteData) -> Page:
    """Access monitoring as counts only, after small-cell suppression."""
    a = data.alerts
    rows = []
    for i, month in enumerate(a.rows):
        row = {"month": month}
        for j, c in enumerate(a.columns):
            row[c] = SUPPRESSED if a.cells[i][j] is None else a.cells[i][j]
        row["total"] = SUPPRESSED if a.row_totals[i] is None else a.row_totals[i]
        rows.append(row)
    total_row = {"month": "total"}
    for j, c in enumerate(a.columns):
        total_row[c] = SUPPRESSED if a.column_totals[j] is None else a.column_totals[j]
    total_row["total"] = SUPPRESSED if a.grand_total is None else a.grand_total
    rows.append(total_row)
    titles = {"confirmed": L("alerts_confirmed"), "cleared": L("alerts_cleared"), "open": L("alerts_open")}
    cols = [Column("month", "string", L("month"), kind="month")] + [
        Column(c, "integer", titles[c], unit="count") for c in OUTCOME_COLUMNS] + [
        Column("total", "integer", L("total"), unit="count")]
    at = Table("security-alerts", "security/alerts", ("不正閲覧の疑いに関する警告の件数", "Alerts of suspected improper "
                                                                                "access"), cols, rows, ["month"])
    gt = total_row["total"]
    summary = ((f"直近12か月の警告は合計{gt:,}件です。", f"{gt:,} alerts in the last 12 months.") if gt != SUPPRESSED
               else ("直近12か月の警告の合計は秘匿しています（x）。",
                     "The total number of alerts in the last 12 months is suppressed (x)."))
    figures = [Figure(at.name, at.title, summary, at, {"kind": "bars", "label": "month", "value": "total"},
                      note=L("suppressed_note"))]
    mt = data.monitored
    mrows = [{"month": month, "records": SUPPRESSED if mt.cells[i][0] is None else mt.cells[i][0]}
             for i, month in enumerate(mt.rows)]
    mrows.append({"month": "total", "records": SUPPRESSED if mt.grand_total is None else mt.grand_total})
    mcols = [Column("month", "string", L("month"), kind="month"),
             Column("records", "integer", L("events_monitored"), unit="count")]
    m_table = Table("security-monitored", "security/monitored", L("events_monitored"), mcols, mrows, ["month"])
    mtotal = mrows[-1]["records"]
    figures.append(Figure(m_table.name, L("events_monitored"),
                          (f"直近12か月に監視した閲覧記録は{mtotal:,}件です。", f"{mtotal:,} access records were "
                           "monitored in the last 12 months.") if mtotal != SUPPRESSED else
                          ("直近12か月に監視した閲覧記録の件数は秘匿しています（x）。",
                           "The number of access records monitored in the last 12 months is suppressed (x)."), m_table, {"kind": "bars", "label": "month", "value": "records"},
                          note=L("suppressed_note")))
    return Page("security.html", "security", L("security_title"), lead=[L("security_intro")], figures=figures)


def all_pages(data: SiteData) -> Iterator[Page]:
    """Every page of the site (one model per page; rendered once per language)."""
    yield overview(data)
    yield kpi_index(data)
    for k in data.kpis:
        yield kpi_page(data, k)
    yield ministry_index(data)
    for m in data.ministries:
        yield ministry_page(data, m.code)
    yield prefecture_index(data)
    for p in data.prefectures:
        yield prefecture_page(data, p.code)
    yield municipality_index(data)
    names = {p.code: (p.name_ja, p.name_en) for p in data.prefectures}
    for m in data.municipalities:
        yield _municipality_page(data, m, names)
    yield freshness(data)
    yield how_we_measure(data)
    yield security(data)


def data_page(tables: list[Table], snapshot: str | None) -> Page:
    """The open-data page: the package descriptors, then every national-level file (per-area files by pattern);
    the dated snapshot of this publication, when it is one (the live site is not: it stores no snapshot)."""
    main = [tb for tb in tables if not tb.path.startswith(("municipality/", "prefecture/", "ministry/", "kpi/"))]
    rows = [{"path": tb.path, "name": tb.name, "title_ja": tb.title[0], "title_en": tb.title[1],
             "rows": len(tb.rows)} for tb in main]
    cols = [Column("path", "string", L("file"), link="../data/latest/{path}.csv"),
            Column("title_ja", "string", L("description"), lang="ja"),
            Column("title_en", "string", L("description"), lang="en"),
            Column("rows", "integer", L("rows"))]
    table = Table("files", "", L("data_title"), cols, rows, ["path"])
    per_area = Counter(tb.path.split("/")[0] for tb in tables if tb not in main)
    lead = [L("data_intro"),
            ("ファイルの一覧と項目の定義：data/latest/datapackage.json、カタログ：data/latest/catalog.jsonld。"
             + (f"公開ごとのスナップショット：data/snapshots/{snapshot}/。" if snapshot else ""),
             "File list and field definitions: data/latest/datapackage.json; catalogue entry: "
             "data/latest/catalog.jsonld." + (f" Snapshot of this publication: data/snapshots/{snapshot}/."
                                              if snapshot else "")),
            ("指標別・府省別・都道府県別・市区町村別のファイルは各ページからダウンロードできます（"
             + "、".join(f"{k}/ {v}件" for k, v in sorted(per_area.items())) + "）。",
             "Files per indicator, ministry, prefecture and municipality are linked from each page ("
             + ", ".join(f"{k}/: {v}" for k, v in sorted(per_area.items())) + ").")]
    files = [("../data/latest/datapackage.json", ("datapackage.json", "datapackage.json")),
             ("../data/latest/catalog.jsonld", ("catalog.jsonld", "catalog.jsonld"))]
    if snapshot:
        files.append((f"../data/snapshots/{snapshot}/datapackage.json",
                      (f"{label('snapshot', 'ja')}（{snapshot}）", f"{label('snapshot', 'en')} ({snapshot})")))
    links = [(L("nav_data"), files)]
    return Page("data.html", "data", L("data_title"), lead=lead, links=links,
                figures=[Figure("files", L("data_title"), (f"主なファイル{len(rows)}件。", f"{len(rows)} main files."),
                                table)])
