"""Pure figure builders: rows in, plotly figures out (no database, no request), reused by the public site.

Colour is never the only signal: statuses also appear as words in labels, hover text and the tables
that accompany every chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from dashboards.i18n import format_number, name_of, status_label, t, unit_words

STATUS_COLOURS = {
    "achieved": "#1a7f37", "on_track": "#2f6fbf", "at_risk": "#b35900", "off_track": "#b3261e",
    "no_data": "#6b6b6b", "no_target": "#6b6b6b", "insufficient_data": "#6b6b6b",
    "insufficient_recent_data": "#6b6b6b",
}
FONT = "Noto Sans JP, Hiragino Sans, Meiryo, sans-serif"

# Tile-grid map of Japan: prefecture code -> (column, row), row 0 at the top (Hokkaido) to Okinawa.
TILE_GRID: dict[str, tuple[int, int]] = {
    "01": (12, 0), "02": (11, 1), "05": (10, 2), "03": (11, 2), "06": (10, 3), "04": (11, 3),
    "17": (7, 4), "16": (8, 4), "15": (9, 4), "07": (10, 4),
    "32": (2, 5), "31": (3, 5), "28": (4, 5), "26": (5, 5), "18": (6, 5), "21": (7, 5), "20": (8, 5),
    "10": (9, 5), "09": (10, 5), "08": (11, 5),
    "35": (1, 6), "34": (2, 6), "33": (3, 6), "27": (4, 6), "25": (5, 6), "24": (6, 6), "23": (7, 6),
    "19": (8, 6), "11": (9, 6), "13": (10, 6), "12": (11, 6),
    "41": (0, 7), "40": (1, 7), "38": (3, 7), "37": (4, 7), "29": (5, 7), "22": (8, 7), "14": (9, 7),
    "42": (0, 8), "43": (1, 8), "44": (2, 8), "39": (3, 8), "36": (4, 8), "30": (5, 8),
    "46": (1, 9), "45": (2, 9), "47": (0, 10),
}


class Spec(dict):
    """A plotly JSON object (trace, layout) with attribute access for readers: fig.data[0].marker.color."""

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        value = self.get(key)  # unset properties read as None, as in plotly
        return Spec(value) if isinstance(value, dict) and not isinstance(value, Spec) else value


def _merge(into: dict, new: dict) -> None:
    for k, v in new.items():
        if v is None:
            continue
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = v


class Figure:
    """A plotly figure as plain JSON (data + layout), built without plotly's per-property validation.

    Building `plotly.graph_objects` figures validates every property and costs tens of milliseconds per
    chart; dashboards render several per request. dcc.Graph and plotly.io accept this object as it is
    (`to_plotly_json`), and `go.Figure(fig.to_dict())` gives a validated figure where one is wanted.
    """

    def __init__(self, *traces: Spec) -> None:
        self.data: list[Spec] = list(traces)
        self.layout: Spec = Spec()

    def add_trace(self, trace: Spec) -> Figure:
        self.data.append(trace)
        return self

    def update_layout(self, **kwargs: Any) -> Figure:
        _merge(self.layout, kwargs)
        return self

    def update_xaxes(self, **kwargs: Any) -> Figure:
        return self.update_layout(xaxis=kwargs)

    def update_yaxes(self, **kwargs: Any) -> Figure:
        return self.update_layout(yaxis=kwargs)

    def to_dict(self) -> dict[str, Any]:
        return {"data": [dict(t) for t in self.data], "layout": dict(self.layout)}

    def to_plotly_json(self) -> dict[str, Any]:
        return self.to_dict()


def _trace(kind: str, **props: Any) -> Spec:
    return Spec(type=kind, **{k: v for k, v in props.items() if v is not None})


def _base(fig: Figure, *, height: int, title: str | None = None) -> Figure:
    fig.update_layout(height=height, margin={"l": 40, "r": 10, "t": 36 if title else 10, "b": 30},
                      font={"family": FONT, "size": 13}, title={"text": title} if title else None,
                      paper_bgcolor="white", plot_bgcolor="white", hovermode="closest")
    fig.update_xaxes(gridcolor="#e5e5e5")
    fig.update_yaxes(gridcolor="#e5e5e5")
    return fig


def sparkline(points: Sequence[tuple[date, float | None]], status: str | None = None) -> Figure:
    """A tiny line of the last periods for a KPI card (no axes; the card states the numbers)."""
    fig = Figure(_trace("scatter", x=[p[0] for p in points], y=[p[1] for p in points], mode="lines",
                               line={"color": STATUS_COLOURS.get(status or "", "#2f6fbf"), "width": 2},
                               hoverinfo="x+y"))
    fig.update_layout(height=60, margin={"l": 0, "r": 0, "t": 0, "b": 0}, showlegend=False,
                      paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def sparkline_svg(points: Sequence[tuple[date, float | None]], status: str | None = None,
                  width: int = 160, height: int = 40, targets: Sequence[float] = ()) -> str:
    """The same sparkline as a small inline SVG document (light and instant for many cards).

    The axis is fixed from zero (or below, for negative values) to the highest of the values and the
    targets, so a flat series looks flat and the distance to the target (dashed line) is to scale.
    """
    vals = [p[1] for p in points]
    known = [v for v in vals if v is not None]
    colour = STATUS_COLOURS.get(status or "", "#2f6fbf")
    if len(known) < 2:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"></svg>'
    marks = [float(x) for x in targets if x is not None]
    lo, hi = min(0.0, *known, *marks), max(*known, *marks, 0.0)
    span = (hi - lo) or 1.0
    guide = "".join(f'<line x1="2" x2="{width - 2}" y1="{height - 3 - (m - lo) / span * (height - 6):.1f}" '
                    f'y2="{height - 3 - (m - lo) / span * (height - 6):.1f}" stroke="#6b6b6b" stroke-width="1" '
                    'stroke-dasharray="3,3"/>' for m in marks)
    base = f'<line x1="2" x2="{width - 2}" y1="{height - 3 - (0 - lo) / span * (height - 6):.1f}" ' \
           f'y2="{height - 3 - (0 - lo) / span * (height - 6):.1f}" stroke="#bbb" stroke-width="1"/>'
    step = (width - 4) / max(1, len(vals) - 1)
    segments, current = [], []
    for i, v in enumerate(vals):
        if v is None:
            if current:
                segments.append(current)
            current = []
            continue
        current.append(f"{2 + i * step:.1f},{height - 3 - (v - lo) / span * (height - 6):.1f}")
    if current:
        segments.append(current)
    lines = "".join(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(s)}"/>'
                    for s in segments)
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">{base}{guide}{lines}</svg>'


def tile_map(rows: Sequence[dict[str, Any]], lang: str, unit: str = "", *, selected: str | None = None) -> Figure:
    """The 47 prefectures as a tile grid coloured by value; each tile names its prefecture and value."""
    xs, ys, text, hover, values, codes = [], [], [], [], [], []
    for r in rows:
        pos = TILE_GRID.get(r["code"])
        if pos is None:
            continue
        name = name_of(r, lang)
        short = name if lang == "en" else (name if name == "北海道" else name[:-1])
        value = format_number(r.get("value"), lang, unit=unit)
        xs.append(pos[0])
        ys.append(-pos[1])
        values.append(r.get("value"))
        codes.append(r["code"])
        text.append(f"{short}<br>{value}")
        hover.append(f"{name} ({r['code']}): {value} - {status_label(r.get('status'), lang)}")
    known = [v for v in values if v is not None]
    fig = Figure(_trace("scatter",
        x=xs, y=ys, mode="markers+text", text=text, hovertext=hover, hoverinfo="text", customdata=codes,
        textfont={"size": 8 if lang == "en" else 10, "color": "black"},
        marker={"symbol": "square", "size": 46, "line": {"width": [3 if c == selected else 1 for c in codes],
                                                         "color": ["black" if c == selected else "#888"
                                                                   for c in codes]},
                "color": [v if v is not None else (min(known) if known else 0) for v in values],
                "colorscale": [[0, "#f7fbff"], [1, "#6baed6"]], "showscale": bool(known),
                "opacity": 1.0, "colorbar": {"title": {"text": unit_words(unit, lang)}, "thickness": 12}},
    ))
    _base(fig, height=560)
    fig.update_xaxes(visible=False, range=[-0.8, 12.8])
    fig.update_yaxes(visible=False, range=[-10.8, 0.8], scaleanchor="x")
    fig.update_layout(dragmode=False)
    return fig


def _companion_traces(fig: Figure, history: Sequence[dict[str, Any]], companions: Sequence[tuple[str, Sequence]],
                      lang: str) -> None:
    """Other measures of the same thing (cards issued, then held) on the same axis, dashed, with the change of
    measure marked where the later series begins: never one series silently switching."""
    mine = [h["period"] for h in history if h["value"] is not None]
    for name, rows in companions:
        pts = [r for r in rows if r["value"] is not None]
        if not pts:
            continue
        fig.add_trace(_trace("scatter", x=[r["period"] for r in pts], y=[r["value"] for r in pts],
                             mode="lines+markers", line={"dash": "dot"}, marker={"size": 3}, name=name))
        if mine:
            theirs = [r["period"] for r in pts]
            later = max(min(mine), min(theirs))
            shapes = list(fig.layout.get("shapes") or [])
            notes = list(fig.layout.get("annotations") or [])
            shapes.append({"type": "line", "x0": later, "x1": later, "xref": "x", "y0": 0, "y1": 1, "yref": "paper",
                           "line": {"dash": "dash", "color": "#6b6b6b", "width": 1}})
            notes.append({"x": later, "y": 1, "xref": "x", "yref": "paper", "showarrow": False, "xanchor": "left",
                          "yanchor": "top", "text": t("kpi.measure_change", lang),
                          "font": {"size": 11, "color": "#444"}})
            fig.layout["shapes"], fig.layout["annotations"] = shapes, notes


def history_figure(history: Sequence[dict[str, Any]], forecast: Sequence[dict[str, Any]], lang: str,
                   unit: str = "", targets: dict[int, float | None] | None = None,
                   companions: Sequence[tuple[str, Sequence]] = (), name: str | None = None) -> Figure:
    """A KPI's history with its 2020/2023/2026 targets and the forecast with its uncertainty band; KPIs of
    `companions` (name, history) are drawn beside it with the change of measure marked."""
    fig = Figure()
    versions = sorted({h["version"] for h in history})
    for v in versions:
        pts = [h for h in history if h["version"] == v]
        label = name if name and companions and len(versions) == 1 else f"{t('kpi.history', lang)} v{v}"
        fig.add_trace(_trace("scatter", x=[h["period"] for h in pts], y=[h["value"] for h in pts], mode="lines+markers",
                                 name=label, marker={"size": 4}))
    _companion_traces(fig, history, companions, lang)
    last = next((h for h in reversed(history) if h["value"] is not None), None)
    fc = sorted([f for f in forecast if f.get("target_date") and f.get("projected_value") is not None
                 and (last is None or f["target_date"] > last["period"])],  # project forwards only
                key=lambda f: f["target_date"])
    if last and fc:
        xs = [last["period"]] + [f["target_date"] for f in fc]
        fig.add_trace(_trace("scatter", x=xs, y=[last["value"]] + [f["upper"] if f["upper"] is not None
                                                            else f["projected_value"] for f in fc],
                                 mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip"))
        fig.add_trace(_trace("scatter", x=xs, y=[last["value"]] + [f["lower"] if f["lower"] is not None
                                                            else f["projected_value"] for f in fc],
                                 mode="lines", line={"width": 0}, fill="tonexty", fillcolor="rgba(47,111,191,0.18)",
                                 name=t("kpi.band", lang), hoverinfo="skip"))
        fig.add_trace(_trace("scatter", x=xs, y=[last["value"]] + [f["projected_value"] for f in fc], mode="lines",
                                 line={"dash": "dash", "color": "#2f6fbf"}, name=t("kpi.forecast", lang)))
    tgt = [(f["target_date"], f["target_value"], f["target_year"]) for f in forecast
           if f.get("target_date") and f.get("target_value") is not None]
    if not tgt and targets:
        tgt = [(date(y, 12, 31), v, y) for y, v in targets.items() if v is not None]
    if tgt:
        fig.add_trace(_trace("scatter", x=[x[0] for x in tgt], y=[x[1] for x in tgt], mode="markers+text",
                                 marker={"symbol": "star", "size": 14, "color": "#b3261e"},
                                 text=[f"{x[2]}: {format_number(x[1], lang, unit=unit)}" for x in tgt],
                                 textposition="top center", name=t("card.target", lang)))
    _base(fig, height=380)
    fig.update_yaxes(title={"text": unit_words(unit, lang)})
    fig.update_layout(legend={"orientation": "h", "y": -0.15})
    return fig


def histogram_bins(values: Sequence[float | None], bins: int = 10) -> list[dict[str, Any]]:
    """Equal-width bins of the known values (the table alternative of the distribution chart)."""
    known = sorted(v for v in values if v is not None)
    if not known:
        return []
    lo, hi = known[0], known[-1]
    width = (hi - lo) / bins or 1.0
    counts = [0] * bins
    for v in known:
        counts[min(bins - 1, int((v - lo) / width))] += 1
    return [{"from": lo + i * width, "to": lo + (i + 1) * width, "count": c} for i, c in enumerate(counts)]


def distribution_figure(values: Sequence[float | None], lang: str, unit: str = "") -> Figure:
    """Histogram of municipal values (missing values are left out and counted in the table)."""
    fig = Figure(_trace("histogram", x=[v for v in values if v is not None], nbinsx=20, marker={"color": "#6baed6"},
                                 name=t("area.distribution", lang)))
    _base(fig, height=260)
    fig.update_xaxes(title={"text": unit_words(unit, lang)})
    fig.update_yaxes(title={"text": t("col.count", lang)})
    return fig


def alerts_per_day_figure(rows: Sequence[dict[str, Any]], lang: str) -> Figure:
    """Bars of alerts raised per day with the triage budget as a line; days over budget are hatched."""
    fig = Figure(_trace("bar",
        x=[r["day"] for r in rows], y=[r["alerts"] for r in rows], name=t("col.count", lang),
        marker={"color": ["#b3261e" if r["over_budget"] else "#2f6fbf" for r in rows],
                "pattern": {"shape": ["/" if r["over_budget"] else "" for r in rows]}}))
    if rows:
        fig.add_trace(_trace("scatter", x=[r["day"] for r in rows], y=[r["budget"] for r in rows], mode="lines",
                                 line={"dash": "dash", "color": "black"}, name=t("col.budget", lang)))
    _base(fig, height=240)
    fig.update_layout(legend={"orientation": "h", "y": -0.25})
    return fig


def timeline_figure(events: Sequence[dict[str, Any]], usual: Sequence[dict[str, Any]], lang: str) -> Figure:
    """Evidence events per hour of day as bars against the staff member's usual hourly pattern as a line."""
    fig = Figure(_trace("bar", x=[r["hour"] for r in events], y=[r["events"] for r in events],
                           name=t("alert.events", lang), marker={"color": "#b3261e"}))
    fig.add_trace(_trace("scatter", x=[r["hour"] for r in usual], y=[r["mean_events"] for r in usual], mode="lines+markers",
                             name=t("alert.usual", lang), line={"color": "black"}))
    _base(fig, height=280)
    fig.update_xaxes(title={"text": t("col.hour", lang)}, dtick=2, range=[-0.5, 23.5])
    fig.update_layout(legend={"orientation": "h", "y": -0.3})
    return fig
