"""Japanese and English wording of the public site: one table of labels, looked up by key and language."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from observatory import calendar

Lang = Literal["ja", "en"]
LANGS: tuple[Lang, Lang] = ("ja", "en")

LABELS: dict[str, tuple[str, str]] = {
    "site_title": ("電子行政 進捗公開ページ", "e-Government Progress"),
    "site_subtitle": ("デジタル・ガバメント実行計画の目標（2020年・2023年・2026年）に対する進捗",
                      "Progress of Japan's digital government programme against its 2020, 2023 and 2026 targets"),
    "skip": ("本文へ移動", "Skip to main content"),
    "nav_label": ("サイト内ナビゲーション", "Site navigation"),
    "nav_overview": ("全国の概況", "National overview"),
    "nav_kpis": ("指標一覧", "Indicators"),
    "nav_ministries": ("府省別", "Ministries"),
    "nav_prefectures": ("都道府県別", "Prefectures"),
    "nav_municipalities": ("市区町村を探す", "Find a municipality"),
    "nav_how": ("測定方法", "How we measure"),
    "nav_freshness": ("データの鮮度", "Data freshness"),
    "nav_data": ("オープンデータ", "Open data"),
    "other_lang": ("English", "日本語"),
    "built_at": ("このページの作成日時", "Page built"),
    "breadcrumb": ("現在位置", "Breadcrumb"),
    "target_year": ("{year}年目標", "{year} targets"),
    "kpi": ("指標", "Indicator"),
    "target": ("目標値", "Target"),
    "latest": ("最新値", "Latest value"),
    "latest_period": ("対象期間", "Period"),
    "projected": ("目標時点の予測値", "Projected at target date"),
    "band": ("予測の幅（80%）", "Forecast range (80%)"),
    "status": ("状況", "Status"),
    "owner": ("所管", "Owner"),
    "baseline": ("基準値", "Baseline"),
    "unit": ("単位", "Unit"),
    "period": ("期間", "Period"),
    "value": ("値", "Value"),
    "numerator": ("分子", "Numerator"),
    "denominator": ("分母", "Denominator"),
    "exclusions": ("除外するもの", "Exclusions"),
    "definition": ("定義", "Definition"),
    "source": ("データの出典", "Data source"),
    "frequency": ("更新頻度", "Frequency"),
    "direction": ("望ましい方向", "Desired direction"),
    "direction_up": ("高いほど良い", "Higher is better"),
    "direction_down": ("低いほど良い", "Lower is better"),
    "method": ("予測の方法", "Forecast method"),
    "n_points": ("使用したデータ点数", "Data points used"),
    "attainment": ("目標到達の見込み時期", "Expected to reach target"),
    "not_within_horizon": ("予測期間内には到達しない見込み", "Not within the forecast horizon"),
    "history": ("推移", "History"),
    "forecast": ("予測", "Forecast"),
    "targets": ("目標", "Targets"),
    "download": ("データをダウンロード", "Download the data"),
    "chart_table": ("グラフのデータ（表）", "Chart data (table)"),
    "summary": ("要約", "Summary"),
    "no_data": ("データ未提出", "No data submitted"),
    "no_value": ("—", "—"),
    "suppressed_note": ("「x」は秘匿（10件未満の値、または合計から逆算できる値）を示します。",
                        "\u201cx\u201d marks a suppressed count: fewer than 10, or a value that would let a "
                        "suppressed count be worked out from the totals."),
    "ministry": ("府省", "Ministry"),
    "prefecture": ("都道府県", "Prefecture"),
    "municipality": ("市区町村", "Municipality"),
    "code": ("コード", "Code"),
    "name": ("名称", "Name"),
    "kana": ("よみ", "Reading"),
    "search": ("市区町村名・コードで絞り込み", "Filter by municipality name or code"),
    "search_hint": ("入力すると一覧が絞り込まれます。", "Typing narrows the list below."),
    "results": ("件表示", "shown"),
    "owned_kpis": ("所管する指標", "Indicators this ministry owns"),
    "ministry_figures": ("府省別の値", "Figures for this ministry"),
    "municipalities_in": ("管内の市区町村", "Municipalities in this prefecture"),
    "none": ("なし", "None"),
    "freshness_title": ("データの鮮度", "Data freshness"),
    "freshness_intro": ("各データ源が最後に更新された日時です。データが届いていないものは「データ未提出」と表示します。"
                        "不正閲覧監視のためのデータ源（閲覧記録・職員名簿など）は掲載していません。",
                        "When each data source last delivered data. Sources that have delivered nothing are "
                        "shown as \u201cno data submitted\u201d. The access monitoring's own sources (access logs, "
                        "staff rosters and the like) are not listed."),
    "last_updated": ("最終更新", "Last updated"),
    "last_attempt": ("最終取得の試行", "Last attempt"),
    "stale": ("更新が遅れています", "Overdue"),
    "fresh": ("予定どおり", "Up to date"),
    "expected_every": ("想定更新間隔", "Expected every"),
    "hours": ("時間", "hours"),
    "days": ("日", "days"),
    "submissions": ("府省からの提出", "Ministry submissions"),
    "last_submission": ("最終の受理済み提出", "Last accepted submission"),
    "security_title": ("不正閲覧監視の集計", "Access monitoring in aggregate"),
    "security_intro": ("職員による個人情報の閲覧を監視し、疑わしい閲覧を警告として調査しています。"
                       "公開するのは月ごとの件数の集計のみです。",
                       "Staff access to personal records is monitored and suspicious viewing is raised as an "
                       "alert and investigated. Only monthly counts are published."),
    "month": ("月", "Month"),
    "alerts_confirmed": ("不適切と確認", "Confirmed improper"),
    "alerts_cleared": ("問題なしと確認", "Cleared"),
    "alerts_open": ("調査中", "Under investigation"),
    "total": ("合計", "Total"),
    "events_monitored": ("監視した閲覧記録の件数", "Access records monitored"),
    "how_title": ("測定方法", "How we measure"),
    "data_title": ("オープンデータ", "Open data"),
    "data_intro": ("このサイトのすべてのグラフと表のデータを、CSV（UTF-8、BOM付き）とJSONで提供します。"
                   "ファイルの説明は datapackage.json（Frictionless Data）にあります。",
                   "The data behind every chart and table on this site, as CSV (UTF-8 with BOM) and JSON. "
                   "datapackage.json (Frictionless Data) describes every file."),
    "licence": ("利用条件", "Licence"),
    "licence_text": ("政府標準利用規約（第2.0版）、CC BY 4.0 互換", "Government of Japan Standard Terms of Use "
                     "(2.0), compatible with CC BY 4.0"),
    "latest_data": ("最新版", "Latest"),
    "snapshot": ("この公開時点のスナップショット", "Snapshot of this publication"),
    "file": ("ファイル", "File"),
    "description": ("説明", "Description"),
    "rows": ("行数", "Rows"),
    "definition_missing": ("この指標の定義はまだ公開されていません。", "This indicator's definition has not been "
                           "published yet."),
    "kpi_count": ("指標数", "Indicators"),
    "level_national": ("全国", "National"),
    "level_ministry": ("府省", "Ministry"),
    "level_prefecture": ("都道府県", "Prefecture"),
    "level_municipality": ("市区町村", "Municipality"),
    "choose_lang": ("言語を選んでください", "Choose a language"),
    "progress_chart": ("目標に対する達成度", "Progress towards target"),
    "progress_pct": ("達成度（%）", "Progress (%)"),
    "more_rows": ("残り{n}行を表示", "Show the other {n} rows"),
    "fewer_rows": ("最初の行だけ表示", "Show the first rows only"),
    "period_status": ("その期の状況（当時の目標に対して）", "Status then (against the target then due)"),
    "gaps": ("データの欠け", "Gaps in the data"),
}

STATUS: dict[str, tuple[str, str, str]] = {
    # status -> (ja, en, symbol): the symbol and the words carry the meaning, colour only repeats it
    "achieved": ("達成", "Achieved", "◎"),
    "on_track": ("順調", "On track", "○"),
    "at_risk": ("要注意", "At risk", "△"),
    "off_track": ("遅れ", "Off track", "×"),
    "no_data": ("データ未提出", "No data submitted", "－"),
    "no_target": ("目標なし", "No target", "－"),
    "insufficient_data": ("データ不足", "Insufficient data", "？"),
    "insufficient_recent_data": ("最新データ不足", "Insufficient recent data", "？"),
}

UNITS: dict[str, tuple[str, str]] = {
    "percent": ("%", "%"),
    "count": ("件", ""),
    "days": ("日", " days"),
    "yen": ("円", " yen"),
    "people": ("人", " people"),
    "ratio": ("", ""),
    "hours": ("時間", " hours"),
    "per_1000": ("（千人当たり）", " per 1,000"),
    "rank": ("位", ""),
}

METHODS: dict[str, tuple[str, str]] = {
    "theil_sen_robust_linear_80pct": ("頑健な直線（Theil-Sen法、80%予測区間）",
                                      "Robust straight line (Theil-Sen, 80% range)"),
    "linear": ("直線", "Straight line"),
}

UNIT_WORDS: dict[str, tuple[str, str]] = {
    "percent": ("割合（%）", "Percentage (%)"),
    "count": ("件数", "Count"),
    "days": ("日数", "Days"),
    "hours": ("時間", "Hours"),
    "yen": ("円", "Yen"),
    "per_1000": ("千人当たりの件数", "Per 1,000 people"),
    "rank": ("順位", "Rank"),
    "ratio": ("比率", "Ratio"),
}

FREQUENCY: dict[str, tuple[str, str]] = {
    "monthly": ("毎月", "Monthly"),
    "quarterly": ("四半期ごと", "Quarterly"),
    "fiscal_year": ("毎年度", "Yearly (fiscal year)"),
}


def t(key: str, lang: Lang, **kw: object) -> str:
    """The label `key` in `lang`, with {placeholders} filled."""
    ja, en = LABELS[key]
    text = ja if lang == "ja" else en
    return text.format(**kw) if kw else text


def pick(lang: Lang, ja: str | None, en: str | None) -> str:
    """The text in `lang`, falling back to the other language rather than showing nothing."""
    first, second = (ja, en) if lang == "ja" else (en, ja)
    return first or second or ""


def status_label(status: str | None, lang: Lang) -> str:
    """Symbol plus words for a status, e.g. '○ 順調' / '○ On track'."""
    ja, en, sym = STATUS.get(status or "no_data", (status or "", status or "", "・"))
    return f"{sym} {ja if lang == 'ja' else en}"


def unit_suffix(unit: str | None, lang: Lang) -> str:
    """What follows a number of this unit ('%', '件', ' days')."""
    if not unit:
        return ""
    pair = UNITS.get(unit)
    if pair is None:
        return f" {unit}"
    return pair[0] if lang == "ja" else pair[1]


def number(value: float | None, lang: Lang, unit: str | None = None, digits: int | None = None) -> str:
    """A number for display with its unit; None shows as the no-value dash."""
    if value is None:
        return t("no_value", lang)
    if digits is None:
        digits = 0 if unit in ("count", "people") else \
            1 if unit in ("percent", "days", "ratio") or abs(value - round(value)) > 1e-9 else 0
    text = f"{value:,.{digits}f}"
    return text + unit_suffix(unit, lang)


def period_label(d: date | None, lang: Lang, frequency: str | None = None) -> str:
    """The calendar's short label: 2025年4月 / Apr 2025, 2025年度第1四半期 / FY2025 Q1, or 2025年度 / FY2025."""
    if d is None:
        return t("no_value", lang)
    return calendar.period_label(d, frequency, lang)


def timestamp(dt: datetime | None, lang: Lang) -> str:
    """A timestamp in Japan time for display (the site's readers are in Japan)."""
    if dt is None:
        return t("no_data", lang)
    local = dt.astimezone(calendar.zone())
    if lang == "ja":
        return local.strftime("%Y年%m月%d日 %H:%M（日本時間）")
    return local.strftime("%d %b %Y %H:%M JST")
