"""Shared layout pieces: tables with localised formatting, chart + table + CSV blocks, badges, messages."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from html import escape as _html_escape
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from dash import dcc, html

from dashboards import access
from dashboards.figures import Figure
from dashboards.i18n import (
    STRINGS,
    action_label,
    format_age,
    format_date,
    format_datetime,
    format_number,
    format_period,
    name_of,
    person_label,
    role_label,
    scenario_names,
    status_label,
    t,
)
from dashboards.views import Column, ViewData

GRAPH_CONFIG = {"displayModeBar": False, "responsive": True}


def status_badge(status: str | None, lang: str) -> html.Span:
    """A status as words with a shape and colour class (colour is never the only signal)."""
    marks = {"achieved": "◎", "on_track": "○", "at_risk": "△", "off_track": "×"}
    return html.Span(f"{marks.get(status or '', '－')} {status_label(status, lang)}",
                     className=f"badge status-{status or 'none'}")


def escape(text: str) -> str:
    """HTML-escape, and write braces and line breaks as entities: dcc.Markdown drops a whole table with a raw
    '{' in it, and a blank line would end the HTML block, so that what follows in the cell (an image, a
    link) would be read as Markdown. The table markup is therefore always one line of plain text in HTML."""
    return (_html_escape(text).replace("{", "&#123;").replace("}", "&#125;")
            .replace("\r", "&#13;").replace("\n", "&#10;"))


def _span(text: str, cls: str) -> str:
    return f'<span class="{escape(cls)}">{escape(text)}</span>'


def _staff_cell(value: Any, row: Mapping[str, Any], lang: str, key: str, unit: str) -> str:
    """The roster's name in the page's language where it gives one (alert_queue), with the code."""
    names = (row.get(f"{key}_name_en"), row.get(f"{key}_name"))
    return escape(person_label(value, (names[0] or names[1]) if lang == "en" else (names[1] or names[0])))


def _outcome_cell(value: Any, row: Mapping[str, Any], lang: str, key: str, unit: str) -> str:
    return escape(t(f"outcome.{value}", lang)) if value and f"outcome.{value}" in STRINGS else \
        escape(str(value or "-"))


def _status_cell(value: Any, row: Mapping[str, Any], lang: str, key: str, unit: str) -> str:
    marks = {"achieved": "◎", "on_track": "○", "at_risk": "△", "off_track": "×"}
    return _span(f"{marks.get(value or '', '－')} {status_label(value, lang)}", f"badge status-{value or 'none'}")


def _link(path: str, value: Any) -> str:
    return f'<a href="/{path}/{quote(str(value), safe="")}">#{escape(str(value))}</a>'


CellRenderer = Callable[[Any, Mapping[str, Any], str, str, str], str]  # (value, row, lang, column key, unit)

# Kinds that take precedence over a column named "name" (shown as the row's name in the page's language).
_BEFORE_NAME: dict[str, CellRenderer] = {
    "reason": lambda v, row, lang, key, unit: escape(name_of(row, lang, "reason")) or "-",
    "scenarios": lambda v, row, lang, key, unit: escape(scenario_names(row.get("scenarios") or [], lang)) or "-",
    "age": lambda v, row, lang, key, unit: escape(format_age(v, lang)),
    "action": lambda v, row, lang, key, unit: escape(action_label(v, lang)),
    "role": lambda v, row, lang, key, unit: escape(role_label(v, lang)),
    "person": lambda v, row, lang, key, unit: escape(person_label(v, row.get(f"{key}_name"))),
    # a code with its name in the page's language: '総務省 (MIC)', the code alone if unnamed
    "named": lambda v, row, lang, key, unit: escape(person_label(v, name_of(row, lang, f"{key}_name") or None)),
    "staff": _staff_cell,
    "outcome": _outcome_cell,
    "overdue": lambda v, row, lang, key, unit: _span("⚠ " + t("col.overdue", lang), "badge overdue") if v else "",
}
_CELLS: dict[str, CellRenderer] = {
    **_BEFORE_NAME,
    "value": lambda v, row, lang, key, unit: escape(format_number(v, lang, unit=row.get("unit") or unit)),
    "number": lambda v, row, lang, key, unit: escape(format_number(v, lang)),
    "period": lambda v, row, lang, key, unit: escape(format_period(v, row.get("frequency"), lang)),
    "date": lambda v, row, lang, key, unit: escape(format_date(v, lang)),
    "datetime": lambda v, row, lang, key, unit: escape(format_datetime(v, lang)),
    "status": _status_cell,
    "astatus": lambda v, row, lang, key, unit: escape(t(f"astatus.{v}", lang)) if v else "-",
    "severity": lambda v, row, lang, key, unit: _span(t(f"severity.{v}", lang), f"badge severity-{v}"),
    "fresh": lambda v, row, lang, key, unit: _span(t(f"fresh.{v}", lang), f"badge fresh-{v}"),
    "alert_link": lambda v, row, lang, key, unit: _link("alert", v),
    "psev": lambda v, row, lang, key, unit: "-" if v is None else _span(t(f"psev.{v}", lang), f"badge psev-{v}"),
    "sstatus": lambda v, row, lang, key, unit: "-" if v is None else _span(t(f"sstatus.{v}", lang),
                                                                           f"badge sstatus-{v}"),
    "submission_link": lambda v, row, lang, key, unit: "-" if v is None else _link("submission", v),
}


def cell_html(column: Column, row: Mapping[str, Any], lang: str, unit: str = "") -> str:
    """One formatted table cell as escaped HTML (every value passes through html.escape), by the column's kind."""
    value = row.get(column.key)
    kind = column.kind
    if column.key == "name" and kind not in _BEFORE_NAME:
        text = escape(name_of(row, lang))
        if kind == "muni_link":
            return f'<a href="/municipality/{quote(str(row.get("code")), safe="")}">{text}</a>'
        return text
    render = _CELLS.get(kind)
    if render is not None:
        return render(value, row, lang, column.key, unit)
    return "-" if value is None else escape(str(value))


def data_table(view: ViewData, lang: str, caption: str, *, table_id: str | None = None,
               max_rows: int | None = None) -> dcc.Markdown:
    """An HTML table with caption and header scopes (the accessible alternative of every chart).

    Rendered as one escaped HTML string rather than one Dash component per cell: a table of a few
    thousand cells stays a few milliseconds instead of a few hundred.
    """
    rows = view.rows if max_rows is None else view.rows[:max_rows]
    if not rows:  # a sentence, not a table of headers over nothing
        ident = f' id="{escape(table_id)}"' if table_id else ""
        return dcc.Markdown(f'<p class="empty"{ident}>{escape(caption)}: {escape(t(view.empty, lang))}</p>',
                            dangerously_allow_html=True, className="table-wrap")
    head = "".join(f'<th scope="col">{escape(t(c.label, lang))}</th>' for c in view.columns)
    body = "".join("<tr>" + "".join(f"<td>{cell_html(c, r, lang, view.unit)}</td>" for c in view.columns) + "</tr>"
                   for r in rows)
    ident = f' id="{escape(table_id)}"' if table_id else ""
    markup = (f'<table class="data"{ident}><caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead>'
              f"<tbody>{body}</tbody></table>")
    return dcc.Markdown(markup, dangerously_allow_html=True, className="table-wrap")


def download_link(view_name: str, params: Mapping[str, Any], lang: str) -> html.A:
    """A link to the CSV of exactly what the view shows (same parameters)."""
    query = urlencode({k: v for k, v in {**params, "lang": lang}.items() if v not in (None, "")})
    return html.A(t("download.csv", lang), href=f"/download/{view_name}.csv?{query}", className="download",
                  download="")


def chart_block(title: str, figure: Figure | None, view: ViewData, view_name: str, params: Mapping[str, Any],
                lang: str, *, graph_id: str | None = None, open_table: bool = False,
                max_rows: int | None = None) -> html.Section:
    """A titled chart, its table alternative (expandable) and a CSV download of the same rows."""
    parts: list[Any] = [html.H2(title)]
    if figure is not None:
        kwargs = {"id": graph_id} if graph_id else {}
        parts.append(dcc.Graph(figure=figure, config=GRAPH_CONFIG, **kwargs))
    parts.append(html.Details([html.Summary(t("table.show", lang)), data_table(view, lang, title, max_rows=max_rows)],
                              open=open_table))
    parts.append(download_link(view_name, params, lang))
    return html.Section(parts, className="block")


def message(text: str, kind: str = "info") -> html.Div:
    """A notice box; role=alert for errors so screen readers announce it."""
    return html.Div(text, className=f"notice notice-{kind}", role="alert" if kind == "error" else "status")


def denied(lang: str, user: Any = None) -> html.Div:
    """What a page shows to a signed-in user without the permission: the reason and the pages they may open
    (the navigation stays around it), never a dead end."""
    from dashboards.shell import NAV  # here: dashboards.shell imports this module

    offered = [html.Li(dcc.Link(t(key, lang), href=href)) for page, href, key in NAV
               if user is not None and access.allowed(user, page)]
    return html.Div([html.H1(t("denied.title", lang)), html.P(t("denied.body", lang)),
                     html.P(t("denied.offer", lang)) if offered else None,
                     html.Ul(offered, className="home-links") if offered else None,
                     html.P(dcc.Link(t("nav.home", lang), href="/"))], className="denied")


def options(rows: list[dict[str, Any]], lang: str, *, label_code: bool = True) -> list[dict[str, str]]:
    """Dropdown options from rows with code / name_ja / name_en: the name first, the code after it."""
    return [{"label": f"{name_of(r, lang)} ({r['code']})" if label_code else name_of(r, lang), "value": r["code"]}
            for r in rows]


def query_string(values: Mapping[str, Any], current: str | None = None) -> str:
    """'?a=1&b=2' without empty values ('' when nothing is set).

    `current` is the page's present query string: its language (?lang=) is kept, so that a filter change
    never switches the page back to the session's language."""
    kept = {k: v for k, v in values.items() if v not in (None, "", [])}
    lang = parse_qs((current or "").lstrip("?")).get("lang")
    if lang and "lang" not in kept:
        kept["lang"] = lang[-1]
    return "?" + urlencode(kept) if kept else ""
