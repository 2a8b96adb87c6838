"""HTML of the public site: a Page model rendered in one language by small string functions.

Links are relative (`../`), so the same files work opened from disk, from any static server and under
`/public/` of the dashboard. Accessibility is built in: lang and hreflang, skip link, landmarks, headings
in order, every chart labelled by its summary and followed by its data table (caption, header scopes).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from html import escape

from dashboards.publish import svg
from dashboards.publish.i18n import METHODS, Lang, number, period_label, pick, status_label, t, timestamp
from dashboards.publish.model import Column, Figure, Page, Table

NAV = [
    ("index.html", "nav_overview"),
    ("kpi/index.html", "nav_kpis"),
    ("ministry/index.html", "nav_ministries"),
    ("prefecture/index.html", "nav_prefectures"),
    ("municipality/index.html", "nav_municipalities"),
    ("how.html", "nav_how"),
    ("freshness.html", "nav_freshness"),
    ("security.html", "security_title"),
    ("data.html", "nav_data"),
]
STATE = {"fresh": ("予定どおり", "Up to date", "○"), "stale": ("更新が遅れています", "Overdue", "△"),
         "no_data": ("データ未提出", "No data submitted", "－")}


def e(text: object) -> str:
    """HTML-escape any value."""
    return escape("" if text is None else str(text), quote=True)


def up(path: str) -> str:
    """The relative prefix from a page to its language root ('' or '../')."""
    return "../" * path.count("/")


def cell(col: Column, row: dict, lang: Lang, table: Table, units: dict[str, str]) -> str:
    """One formatted table cell value (escaped HTML)."""
    value = row.get(col.name)
    if value == "x":
        return "x"
    if col.kind == "status":
        return e(status_label(value, lang))
    if col.kind == "method" and value in METHODS:
        return e(METHODS[value][0 if lang == "ja" else 1])
    if col.kind == "state":
        ja, en, sym = STATE.get(value, (value, value, ""))
        return e(f"{sym} {ja if lang == 'ja' else en}")
    if col.kind == "month":
        if value == "total":
            return e(t("total", lang))
        return e(period_label(date.fromisoformat(value), lang)) if value else ""
    if value is None:
        return e(t("no_value", lang))
    if isinstance(value, datetime):
        return e(timestamp(value, lang))
    if isinstance(value, date):
        # a table of several KPIs names each period in its own KPI's frequency (FY2026, not Apr 2026)
        frequency = (table.frequency or row.get("frequency")) if col.kind == "period" else "monthly"
        return e(period_label(value, lang, frequency))
    if col.type == "number" and isinstance(value, (int, float)):
        unit = row.get("unit") if col.unit == "row" else units.get(row.get("kpi_id", ""), None) \
            if col.unit == "kpi" else col.unit
        return e(number(float(value), lang, unit) + _older(col, row, lang))
    if col.type == "integer" and isinstance(value, int) and col.kind != "year":
        return e(f"{value:,}")
    return e(value)


def _older(col: Column, row: dict, lang: Lang) -> str:
    """A latest value older than the newest of its column: its period, e.g. '（2025年9月）' / ' (Sep 2025)'."""
    period = row.get(f"{col.name}_period") if col.latest_of else None
    if not isinstance(period, date) or period >= col.latest_of[0]:
        return ""
    label = period_label(period, lang, col.latest_of[1])
    return f"（{label}）" if lang == "ja" else f" ({label})"


COLLAPSE_AFTER = 15  # a table longer than this shows PREVIEW_ROWS rows until the reader asks for all
PREVIEW_ROWS = 10


def table_html(fig: Figure, lang: Lang, root: str, units: dict[str, str], table_id: str | None = None) -> str:
    """The data table of a figure: caption, column headers with scope=col, first cell a row header."""
    tb = fig.table
    cols = [c for c in tb.columns if c.lang in (None, lang) and c.html]
    head = "".join(f'<th scope="col">{e(c.title[0] if lang == "ja" else c.title[1])}</th>' for c in cols)
    rows: list[str] = []
    search_cols = ("code", "name_ja", "name_en", "kana", "prefecture_ja", "prefecture_en")  # an order: same bytes every build
    for r in tb.rows:
        cells = []
        for i, c in enumerate(cols):
            text = cell(c, r, lang, tb, units)
            if c.link and r.get(c.name) not in (None, ""):
                text = f'<a href="{e(root + c.link.format(**r))}">{text}</a>'
            tag = "th" if i == 0 else "td"
            scope = ' scope="row"' if i == 0 else ""
            num = ' class="n"' if c.type in ("number", "integer") else ""
            cells.append(f"<{tag}{scope}{num}>{text}</{tag}>")
        attr = ""
        if table_id:
            q = " ".join(str(r.get(k, "")) for k in search_cols if r.get(k))
            attr = f' data-q="{e(q.lower())}"'
        rows.append(f"<tr{attr}>{''.join(cells)}</tr>")
    if not rows:
        empty = pick(lang, *tb.empty) if tb.empty else t("no_data", lang)
        rows.append(f'<tr><td colspan="{len(cols)}">{e(empty)}</td></tr>')
    cap_id = f"{fig.fid}-cap"
    tid = f' id="{table_id}"' if table_id else ""
    caption = e(t("chart_table", lang) + "：" if fig.chart and lang == "ja" else (
        t("chart_table", lang) + ": " if fig.chart else "")) + e(fig.title[0] if lang == "ja" else fig.title[1])
    # a long table shows its first rows and a button for the others (site.js; without it, every row shows)
    fold = "" if len(rows) <= COLLAPSE_AFTER else \
        f' data-fold="{PREVIEW_ROWS}" data-more="{e(t("more_rows", lang, n=len(rows) - PREVIEW_ROWS))}"' \
        f' data-less="{e(t("fewer_rows", lang))}"'
    return (f'<div class="table-wrap" role="region" tabindex="0" aria-labelledby="{cap_id}"{fold}>'
            f'<table{tid}><caption id="{cap_id}">{caption}</caption><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def chart_html(fig: Figure, lang: Lang, labelledby: str) -> str:
    """The chart of a figure as inline SVG (plus, on KPI pages, data for the plotly upgrade)."""
    c = fig.chart
    if not c:
        return ""
    rows = fig.table.rows
    if c["kind"] == "bars":
        items = []
        for r in rows:
            if c["label"] == "name":
                label = pick(lang, r.get("name_ja"), r.get("name_en"))
            elif c["label"] == "month":
                if r["month"] == "total":
                    continue
                label = period_label(date.fromisoformat(r["month"]), lang)
            else:
                label = str(r.get(c["label"]))
            v = r.get(c["value"])
            unit = c.get("unit") or ("percent" if c["value"] == "progress_pct" else None)
            text = "x" if v == "x" else number(v if isinstance(v, (int, float)) else None, lang, unit)
            if r.get("status") and "status" in c:
                shown = isinstance(v, (int, float)) or v == "x"
                text = f"{status_label(r['status'], lang)}  {text}" if shown else status_label(r["status"], lang)
            items.append((label, v if isinstance(v, (int, float)) else None, text, r.get("status")))
        return svg.bars(items, labelledby, c.get("max"))
    if c["kind"] == "line":
        points = [(r["period"], r["value"] if isinstance(r["value"], (int, float)) else None) for r in rows]
        targets = []
        bands = []
        for b in c.get("bands", []):
            if b["date"] is not None:
                bands.append((b["date"], b["projected"], b["lower"], b["upper"]))
        for year, value in c.get("targets", []):
            band = next((b for b in c.get("bands", []) if b["year"] == year and b["date"]), None)
            d = band["date"] if band else date(year, 3, 1)
            targets.append((d, value, f"{year}: {number(value, lang, c.get('unit'))}"))
        graphic = svg.line(points, labelledby, lang, c.get("unit"), fig.table.frequency, targets, bands)
        if c.get("plotly") and graphic:
            spec = {"x": [p[0].isoformat() for p in points], "y": [p[1] for p in points],
                    "targets": [[d.isoformat(), v, txt] for d, v, txt in targets],
                    "bands": [[d.isoformat(), p, lo, hi] for d, p, lo, hi in bands],
                    "name": t("history", lang), "fname": t("forecast", lang), "tname": t("target", lang)}
            data = json.dumps(spec, ensure_ascii=False).replace("</", "<\\/")
            return (f'<div class="plotly" data-labelledby="{labelledby}">{graphic}</div>'
                    f'<script type="application/json" class="plotly-data">{data}</script>')
        return graphic
    return ""


def figure_html(fig: Figure, lang: Lang, root: str, site_root: str, units: dict[str, str],
                search: bool = False) -> str:
    """A figure: heading, text summary, chart, data table and downloads."""
    h_id, s_id = f"{fig.fid}-h", f"{fig.fid}-summary"
    title = fig.title[0] if lang == "ja" else fig.title[1]
    summary = fig.summary[0] if lang == "ja" else fig.summary[1]
    parts = [f'<section class="figure"><h2 id="{h_id}">{e(title)}</h2>',
             f'<p class="summary" id="{s_id}"><strong>{e(t("summary", lang))}：</strong>{e(summary)}</p>'
             if lang == "ja" else
             f'<p class="summary" id="{s_id}"><strong>{e(t("summary", lang))}:</strong> {e(summary)}</p>']
    parts.append(chart_html(fig, lang, f"{h_id} {s_id}"))
    if search:  # shown by site.js, which does the searching (without it, every row shows)
        parts.append(
            f'<div class="search" hidden><label for="q">{e(t("search", lang))}</label>'
            f'<input id="q" type="search" autocomplete="off" aria-describedby="q-hint">'
            f'<p id="q-hint" class="hint">{e(t("search_hint", lang))} '
            f'<span id="q-count" role="status" aria-live="polite"></span></p></div>')
    parts.append(table_html(fig, lang, root, units, "search-table" if search else None))
    if fig.note:
        parts.append(f'<p class="note">{e(fig.note[0] if lang == "ja" else fig.note[1])}</p>')
    res = fig.resource
    if res.path and res.rows:
        base = f"{site_root}data/latest/{res.path}"
        name = e(res.title[0] if lang == "ja" else res.title[1])
        parts.append(f'<p class="downloads">{e(t("download", lang))}（{name}）: '
                     f'<a href="{e(base)}.csv">CSV</a> <a href="{e(base)}.json">JSON</a></p>'
                     if lang == "ja" else
                     f'<p class="downloads">{e(t("download", lang))} ({name}): '
                     f'<a href="{e(base)}.csv">CSV</a> <a href="{e(base)}.json">JSON</a></p>')
    parts.append("</section>")
    return "".join(parts)


def render(page: Page, lang: Lang, built_at: datetime, units: dict[str, str], extra_main: str = "") -> str:
    """The complete HTML document of `page` in `lang`."""
    root = up(page.path)  # to the language root
    site_root = root + "../"
    other: Lang = "en" if lang == "ja" else "ja"
    title = page.title[0] if lang == "ja" else page.title[1]
    nav_items = []
    for path, key in NAV:
        current = ' aria-current="page"' if path == page.path else ""
        nav_items.append(f'<li><a href="{root}{path}"{current}>{e(t(key, lang))}</a></li>')
    body = _main(page, lang, title, root, site_root, units) + [extra_main]
    scripts = f'<script src="{site_root}assets/site.js" defer></script>'
    if any(f.chart and f.chart.get("plotly") for f in page.figures):
        scripts = f'<script src="{site_root}assets/plotly-basic.min.js" defer></script>' + scripts
    other_label = t("other_lang", lang)
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)} | {e(t('site_title', lang))}</title>"
        f'<link rel="stylesheet" href="{site_root}assets/site.css">'
        f'<link rel="alternate" hreflang="ja" href="{site_root}ja/{page.path}">'
        f'<link rel="alternate" hreflang="en" href="{site_root}en/{page.path}">'
        f'<link rel="alternate" hreflang="x-default" href="{site_root}ja/{page.path}">{scripts}</head>'
        f'<body><a class="skip" href="#main">{e(t("skip", lang))}</a>'
        f'<header class="site"><p class="brand"><a href="{root}index.html">{e(t("site_title", lang))}</a></p>'
        f'<p class="lang"><a href="{site_root}{other}/{page.path}" hreflang="{other}" lang="{other}">'
        f"{e(other_label)}</a></p>"
        f'<nav aria-label="{e(t("nav_label", lang))}"><ul>{"".join(nav_items)}</ul></nav></header>'
        f'<main id="main" tabindex="-1">{"".join(body)}</main>'
        f'<footer class="site"><p>{e(t("built_at", lang))}: <time datetime="{built_at.isoformat()}">'
        f"{e(timestamp(built_at, lang))}</time></p>"
        f'<p>{e(t("licence", lang))}: {e(t("licence_text", lang))} · '
        f'<a href="{root}data.html">{e(t("nav_data", lang))}</a> · <a href="{root}freshness.html">'
        f'{e(t("nav_freshness", lang))}</a></p></footer></body></html>'
    )


def _main(page: Page, lang: Lang, title: str, root: str, site_root: str, units: dict[str, str]) -> list[str]:
    """The main content: breadcrumbs, heading, lead, facts, figures and link lists."""
    body = [_crumbs(page, lang, title, root), f"<h1>{e(title)}</h1>"]
    body += [f'<p class="lead">{e(x[0] if lang == "ja" else x[1])}</p>' for x in page.lead]
    if page.facts:
        dl = "".join(f"<dt>{e(a[0] if lang == 'ja' else a[1])}</dt><dd>{e(b[0] if lang == 'ja' else b[1])}</dd>"
                     for a, b in page.facts)
        body.append(f'<dl class="facts">{dl}</dl>')
    body += [figure_html(f, lang, root, site_root, units, page.search) for f in page.figures]
    for heading, items in page.links:
        lis = "".join(f'<li><a href="{root}{p}">{e(x[0] if lang == "ja" else x[1])}</a></li>' for p, x in items)
        body.append(f'<section class="links"><h2>{e(heading[0] if lang == "ja" else heading[1])}</h2>'
                    f"<ul>{lis}</ul></section>")
    return body


def _crumbs(page: Page, lang: Lang, title: str, root: str) -> str:
    """The breadcrumb trail from the overview to this page ('' for a page without one)."""
    if not page.crumbs:
        return ""
    items = [f'<li><a href="{root}index.html">{e(t("nav_overview", lang))}</a></li>']
    items += [f'<li><a href="{root}{p}">{e(x[0] if lang == "ja" else x[1])}</a></li>' for p, x in page.crumbs]
    items.append(f'<li aria-current="page">{e(title)}</li>')
    return f'<nav class="crumbs" aria-label="{e(t("breadcrumb", lang))}"><ol>{"".join(items)}</ol></nav>'


def language_chooser(built_at: datetime) -> str:
    """The site root: a bilingual page that sends readers to /ja/ or /en/."""
    return (
        '<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(t('site_title', 'ja'))} / {e(t('site_title', 'en'))}</title>"
        '<link rel="stylesheet" href="assets/site.css">'
        '<link rel="alternate" hreflang="ja" href="ja/index.html">'
        '<link rel="alternate" hreflang="en" href="en/index.html"></head>'
        f'<body><a class="skip" href="#main">{e(t("skip", "ja"))}</a>'
        f'<header class="site"><p class="brand">{e(t("site_title", "ja"))} / '
        f'<span lang="en">{e(t("site_title", "en"))}</span></p></header>'
        f'<main id="main" tabindex="-1"><h1>{e(t("choose_lang", "ja"))} / '
        f'<span lang="en">{e(t("choose_lang", "en"))}</span></h1>'
        '<ul class="choose"><li><a href="ja/index.html" hreflang="ja">日本語</a></li>'
        '<li><a href="en/index.html" hreflang="en" lang="en">English</a></li></ul></main>'
        f'<footer class="site"><p>{e(t("built_at", "ja"))}: <time datetime="{built_at.isoformat()}">'
        f"{e(timestamp(built_at, 'ja'))}</time></p></footer></body></html>"
    )
