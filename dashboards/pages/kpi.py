"""KPI detail (/kpi/<id>?level=&entity=): history, targets, forecast band, definition, owner and lineage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dash
from dash import Input, Output, dcc, html

from dashboards import figures, ids, queries, views
from dashboards.components import chart_block, data_table, query_string, status_badge
from dashboards.context import current_ws
from dashboards.i18n import format_datetime, format_number, name_of, t
from dashboards.publish.definitions import from_definition
from dashboards.publish.i18n import UNIT_WORDS, number
from dashboards.shell import guarded
from dashboards.views import Column, ViewData
from observatory.errors import PermissionDenied, UserError
from observatory.kpis import cached_catalogue
from observatory.security.users import can

TITLE = "KPI 詳細 / KPI detail"


def _entity_options(con: Any, info: Any, lang: str) -> list[dict[str, str]]:
    opts = [{"label": t("kpi.national", lang), "value": "national:JP"}]
    if "prefecture" in info.levels:
        opts += [{"label": f"{p['name_en'] if lang == 'en' else p['name_ja']} ({p['code']})",
                  "value": f"prefecture:{p['code']}"} for p in queries.prefectures_list(con)]
    return opts


@dataclass(frozen=True)
class _Words:
    numerator_ja: str
    numerator_en: str
    denominator_ja: str
    denominator_en: str
    exclusions_ja: str
    exclusions_en: str
    baseline_ja: str
    baseline_en: str
    source_ja: str
    source_en: str
    citations: tuple[tuple[str, str], ...] = ()
    target_notes: tuple[tuple[str, str], ...] = ()
    tables_read: tuple[str, ...] = ()


def _definition_words(ws: Any, kpi_id: str) -> _Words | None:
    """The measure, baseline and source in sentences (the public site's wording), never the YAML."""
    d = cached_catalogue(ws.kpi_dir).kpis.get(kpi_id)
    if d is None:
        return None
    k = from_definition(d)
    b = d.baseline
    base_ja = f"{number(b.value, 'ja', k.unit)}（{b.date.isoformat()}、{b.source_note}）" if b else ""
    base_en = f"{number(b.value, 'en', k.unit)} ({b.date.isoformat()}, {b.source_note})" if b else ""
    return _Words(k.numerator_ja, k.numerator_en, k.denominator_ja, k.denominator_en, k.exclusions_ja,
                  k.exclusions_en, base_ja, base_en, k.source_ja, k.source_en, k.citations, k.target_notes,
                  k.tables_read)


def _companions(con: Any, ws: Any, user: Any, info: Any, level: str, entity: str, lang: str) -> list[tuple[str, list]]:
    """(name, history) of the KPIs drawn on the same chart (`shown_with`: a change of measure), where the user
    may see them; a KPI the user may not open is left out, never shown."""
    out = []
    for other in info.shown_with:
        try:
            hist = views.kpi_history(con, ws, user, {"kpi": other, "level": level, "entity": entity})
        except (PermissionDenied, UserError):
            continue
        o = hist.extra["info"]
        out.append((o.name_en if lang == "en" else o.name_ja, hist.rows))
    return out


def _sources_block(words: _Words | None, synthetic: bool, lang: str) -> list:
    """出典 (publisher, title, licence), where the targets come from, and a synthetic-data notice."""
    pick = 1 if lang == "en" else 0
    out: list = []
    if synthetic:
        out.append(html.P(t("kpi.synthetic", lang), className="notice", id="kpi-synthetic"))
    if words and words.citations:
        out += [html.H3(t("kpi.sources", lang)), html.Ul([html.Li(c[pick]) for c in words.citations],
                                                          id="kpi-sources")]
    if words and words.target_notes:
        out += [html.H3(t("kpi.target_sources", lang)), html.Ul([html.Li(n[pick]) for n in words.target_notes])]
    return out


def _unit_words(unit: str, lang: str) -> str:
    pair = UNIT_WORDS.get(unit)
    return (pair[1] if lang == "en" else pair[0]) if pair else (unit or "-")


def _entity_words(con: Any, level: str, entity: str, lang: str) -> str:
    if level == "national":
        return t("kpi.national", lang)
    row = (queries.prefecture(con, entity) if level == "prefecture" else queries.municipality(con, entity)
           if level == "municipality" else next((m for m in queries.ministries_list(con) if m["code"] == entity),
                                                None))
    return f"{name_of(row, lang)} ({entity})" if row else entity


def _owner_name(con: Any, code: str, lang: str) -> str:
    m = next((r for r in queries.ministries_list(con) if r["code"] == code), None)
    return f"{name_of(m, lang)} ({code})" if m else (code or "-")


def _lineage(con: Any, kpi_id: str, level: str, entity: str, lang: str) -> html.Section:
    data = queries.lineage(con, kpi_id, level, entity)
    runs = ViewData([Column("run_id", "kpi.runs"), Column("source", "col.source"),
                     Column("started_at", "col.started", "datetime"), Column("status", "col.outcome"),
                     Column("rows_loaded", "col.rows", "number")], data["runs"])
    subs = ViewData([Column("submission_id", "col.submission"), Column("ministry_code", "filter.ministry"),
                     Column("submitted_by", "col.submitted_by"), Column("submitted_at", "col.submitted_at", "datetime"),
                     Column("file_name", "col.file"), Column("status", "col.outcome")], data["submissions"])
    return html.Section([html.H2(t("kpi.lineage", lang)), data_table(runs, lang, t("kpi.runs", lang)),
                         data_table(subs, lang, t("kpi.submissions", lang))], className="block")


@guarded("kpi")
def layout(con: Any, user: Any, lang: str, kpi_id: str | None = None, level: str | None = None,
           entity: str | None = None, **_: Any) -> html.Div:
    """Everything about one KPI for one entity (national by default)."""
    ws = current_ws()
    params = {"kpi": kpi_id, "level": level, "entity": entity}
    hist = views.kpi_history(con, ws, user, params)
    fc = views.kpi_forecast(con, ws, user, params)
    info = hist.extra["info"]
    name = info.name_en if lang == "en" else info.name_ja
    companions = _companions(con, ws, user, info, hist.extra["level"], hist.extra["entity"], lang)
    fig = figures.history_figure(hist.rows, fc.rows, lang, info.unit, info.targets, companions=companions,
                                 name=info.name_en if lang == "en" else info.name_ja)
    facts = _facts(con, info, hist.extra["level"], hist.extra["entity"], lang)
    picker = []
    if can(user, "kpi.all"):
        picker = [html.Label([t("kpi.level", lang), dcc.Dropdown(
            id=ids.KPI_ENTITY, options=_entity_options(con, info, lang), clearable=False,
            value=f"{hist.extra['level']}:{hist.extra['entity']}")])]
    words = _definition_words(ws, info.id)
    synthetic = bool(words and set(words.tables_read) & set(ws.config.synthetic_data))
    definition = _definition(info, words, lang)
    verdict = _verdict(fc.extra["judgement"].headline, lang)
    computed = con.execute("SELECT max(computed_at) FROM kpi_values WHERE kpi_id = ? AND level = ? AND entity_code = ?",
                           [info.id, hist.extra["level"], hist.extra["entity"]]).fetchone()[0]
    return html.Div([
        dcc.Location(id=ids.KPI_URL, refresh="callback-nav"),
        html.H1(name), html.P(f"{info.id} · {format_datetime(computed, lang)}", className="sub"),
        *_sources_block(None, synthetic, lang), verdict, facts, *picker,
        chart_block(t("kpi.history", lang), fig, hist, "kpi-history", params, lang, graph_id=ids.KPI_HISTORY_GRAPH),
        chart_block(t("kpi.forecast", lang), None, fc, "kpi-forecast", params, lang, open_table=True),
        definition, _lineage(con, info.id, hist.extra["level"], hist.extra["entity"], lang),
    ])


def _facts(con: Any, info: Any, level: str, entity: str, lang: str) -> html.Dl:
    """Owner, unit, frequency, direction, the entity shown and the targets."""
    return html.Dl([
        html.Dt(t("kpi.owner", lang)), html.Dd(_owner_name(con, info.owner, lang)),
        html.Dt(t("kpi.unit", lang)), html.Dd(_unit_words(info.unit, lang)),
        html.Dt(t("kpi.frequency", lang)), html.Dd(t(f"freq.{info.frequency}", lang)),
        html.Dt(t("kpi.direction", lang)),
        html.Dd(t("kpi.lower" if info.direction == "lower_is_better" else "kpi.higher", lang)),
        html.Dt(t("kpi.level", lang)), html.Dd(_entity_words(con, level, entity, lang)),
        *[x for y, v in sorted(info.targets.items())
          for x in (html.Dt(f"{t('card.target', lang)} {y}"), html.Dd(format_number(v, lang, unit=info.unit)))],
    ], className="facts")


def _definition(info: Any, words: Any, lang: str) -> html.Section:
    """The KPI's public definition: description, numerator, denominator, exclusions, baseline, source, versions."""
    pick = (lambda ja, en: en or ja) if lang == "en" else (lambda ja, en: ja or en)  # noqa: E731
    return html.Section([
        html.H2(t("kpi.definition", lang)),
        html.P(info.description_en if lang == "en" else info.description_ja),
        html.Dl([x for label, ja, en in (("kpi.numerator", words.numerator_ja, words.numerator_en),
                                         ("kpi.denominator", words.denominator_ja, words.denominator_en),
                                         ("kpi.exclusions", words.exclusions_ja, words.exclusions_en),
                                         ("kpi.baseline", words.baseline_ja, words.baseline_en),
                                         ("col.source", words.source_ja, words.source_en))
                 if pick(ja, en) for x in (html.Dt(t(label, lang)), html.Dd(pick(ja, en)))],
                className="facts", id="kpi-definition") if words else html.P(t("kpi.no_definition", lang)),
        html.Ol([html.Li(f"{t('kpi.version', lang, v=v)}（{since}〜）: {ja}" if lang != "en"
                         else f"{t('kpi.version', lang, v=v)} (from {since}): {en}", value=v)
                 for v, since, ja, en in info.versions], className="versions") if info.versions else None,
        *_sources_block(words, False, lang),
    ], className="block")


def _verdict(head: Any, lang: str) -> html.Section:
    """The headline judgement: status badge for the target year and its reason."""
    return html.Section([
        html.P([status_badge(head.status, lang), " ",
                html.Span(t("card.status_for", lang, year=head.target_year), className="sub")
                if head.target_year else None], id="kpi-status"),
        html.P(head.reason(lang), className="reason"),
    ], className="block verdict")


def entity_to_url(value: str | None) -> str:
    """'prefecture:13' -> '?level=prefecture&entity=13' (deep link)."""
    level, _, entity = (value or "national:JP").partition(":")
    return query_string({"level": level, "entity": entity} if level != "national" else {})


def register(app: dash.Dash) -> None:
    """Register the page and its entity picker callback."""
    dash.register_page(__name__, path_template="/kpi/<kpi_id>", title=TITLE, name="kpi", layout=layout)
    app.callback(Output(ids.KPI_URL, "search"), Input(ids.KPI_ENTITY, "value"),
                 prevent_initial_call=True)(entity_to_url)
