"""Inline SVG charts rendered at build time: no script, a few kilobytes, readable on any phone.

Every chart is `role="img"` labelled by its figure's title and text summary; values are written on the
chart as text and statuses as symbols plus words, so colour only repeats what the text says.
"""

from __future__ import annotations

from datetime import date
from html import escape

from dashboards.publish.i18n import Lang, number, period_label

STATUS_CLASS = {
    "achieved": "s-achieved", "on_track": "s-on", "at_risk": "s-risk", "off_track": "s-off",
}
WIDTH = 640
BAR_WIDTH = 420


def _a(text: object) -> str:
    return escape(str(text), quote=True)


def bars(items: list[tuple[str, float | None, str, str | None]], labelledby: str, vmax: float | None = None) -> str:
    """Horizontal bars: (label, value or None, text written at the bar end, status or None) per item.

    Few items: the label on its own line above each bar (narrow, so text stays legible on a phone).
    Many items (e.g. 47 prefectures): label, bar and value on one row.
    """
    if not items:
        return ""
    values = [v for _l, v, _t, _s in items if isinstance(v, (int, float))]
    top = max([vmax or 0.0] + values) or 1.0
    compact = len(items) > 12 and max(len(label) for label, *_ in items) <= 10
    width = BAR_WIDTH
    left = 96 if compact else 4
    row_h, label_h = (20, 0) if compact else (26, 16)
    inner = width - left - 4 - (130 if compact else 190)
    height = len(items) * (row_h + label_h) + 6
    out = [f'<svg class="chart bars" viewBox="0 0 {width} {height}" role="img" aria-labelledby="{labelledby}" '
           f'preserveAspectRatio="xMinYMin meet">']
    y = 3
    for label, value, text, status in items:
        bar_y = y + label_h
        if compact:
            out.append(f'<text class="lbl" x="{left - 6}" y="{bar_y + 13}" text-anchor="end">{_a(label)}</text>')
        else:
            out.append(f'<text class="lbl" x="{left}" y="{y + 13}">{_a(label)}</text>')
        h = 14 if compact else 16
        out.append(f'<rect class="track" x="{left}" y="{bar_y + 1}" width="{inner}" height="{h}"/>')
        if isinstance(value, (int, float)) and value > 0:
            w = max(1.0, min(value, top) / top * inner)
            cls = STATUS_CLASS.get(status or "", "s-none")
            out.append(f'<rect class="bar {cls}" x="{left}" y="{bar_y + 1}" width="{w:.1f}" height="{h}"/>')
        if vmax:
            x100 = left + inner * (vmax / top)
            out.append(f'<line class="goal" x1="{x100:.1f}" x2="{x100:.1f}" y1="{bar_y - 1}" y2="{bar_y + h + 3}"/>')
        out.append(f'<text class="val" x="{left + inner + 5}" y="{bar_y + 13}">{_a(text)}</text>')
        y += row_h + label_h
    out.append("</svg>")
    return "".join(out)


def _scale(lo: float, hi: float, a: float, b: float):
    span = (hi - lo) or 1.0
    return lambda v: a + (v - lo) / span * (b - a)


def _days(d: date) -> float:
    return float(d.toordinal())


def line(points: list[tuple[date, float | None]], labelledby: str, lang: Lang, unit: str | None,
         frequency: str | None = None, targets: list[tuple[date, float, str]] | None = None,
         bands: list[tuple[date, float | None, float | None, float | None]] | None = None) -> str:
    """A history line (gaps left open), target markers and forecast ranges (projected, lower, upper)."""
    targets = targets or []
    bands = [b for b in (bands or []) if b[0] is not None and b[1] is not None]
    known = [(d, v) for d, v in points if v is not None]
    if not known and not bands:
        return ""
    xs = [_days(d) for d, _v in points] + [_days(d) for d, *_ in targets] + [_days(b[0]) for b in bands]
    y_lo, y_hi = _value_range(known, targets, bands, unit)
    height, left, right, top, bottom = 260, 64, 16, 14, 36
    sx = _scale(min(xs), max(xs), left, WIDTH - right)
    sy = _scale(y_lo, y_hi, height - bottom, top)
    out = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="{labelledby}" '
           f'preserveAspectRatio="xMinYMin meet">']
    for frac in (0.0, 0.5, 1.0):  # three gridlines with labels
        v = y_lo + (y_hi - y_lo) * frac
        y = sy(v)
        out.append(f'<line class="grid" x1="{left}" x2="{WIDTH - right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
                   f'{_a(number(v, lang, unit, digits=0))}</text>')
    first_d = min([d for d, _v in points] + [b[0] for b in bands])
    last_d = max([d for d, _v in points] + [b[0] for b in bands])
    for d, anchor in ((first_d, "start"), (last_d, "end")):
        out.append(f'<text class="tick" x="{sx(_days(d)):.1f}" y="{height - 12}" text-anchor="{anchor}">'
                   f'{_a(period_label(d, lang, frequency))}</text>')
    for d, v, text in targets:
        x, y = sx(_days(d)), sy(v)
        out.append(f'<line class="target" x1="{left}" x2="{WIDTH - right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(f'<text class="tick" x="{x - 4:.1f}" y="{y - 5:.1f}" text-anchor="end">{_a(text)}</text>')
    out += _forecast_marks(bands, sx, sy)
    out += _history(points, sx, sy)
    if known:
        d, v = known[-1]
        out.append(f'<circle class="last" cx="{sx(_days(d)):.1f}" cy="{sy(v):.1f}" r="4"/>')
    out.append("</svg>")
    return "".join(out)


def _value_range(known: list[tuple[date, float]], targets: list[tuple[date, float, str]],
                 bands: list[tuple[date, float | None, float | None, float | None]],
                 unit: str | None) -> tuple[float, float]:
    """(lowest, highest) value the chart's axis spans: 0 included, 5 % headroom, percentages at least 0-10."""
    ys = [v for _d, v in known] + [v for _d, v, _l in targets]
    for _d, proj, lo, hi in bands:
        ys += [x for x in (proj, lo, hi) if x is not None]
    y_lo, y_hi = min(ys + [0.0]), max(ys)
    if unit == "percent":
        y_hi = max(y_hi, 10.0)
    return y_lo, y_hi * 1.05 if y_hi > 0 else 1.0


def _forecast_marks(bands: list[tuple[date, float | None, float | None, float | None]], sx, sy) -> list[str]:
    """Each forecast as a diamond at its projection over a bar from its lower to its upper bound."""
    out = []
    for d, proj, lo, hi in bands:
        x = sx(_days(d))
        if lo is not None and hi is not None:
            out.append(f'<rect class="band" x="{x - 6:.1f}" y="{sy(hi):.1f}" width="12" '
                       f'height="{max(1.0, sy(lo) - sy(hi)):.1f}"/>')
        y = sy(proj)
        out.append(f'<path class="proj" d="M{x:.1f} {y - 6:.1f} L{x + 6:.1f} {y:.1f} L{x:.1f} {y + 6:.1f} '
                   f'L{x - 6:.1f} {y:.1f} Z"/>')
    return out


def _history(points: list[tuple[date, float | None]], sx, sy) -> list[str]:
    """The history as polylines, one per run of known values: a gap (None) is left open, never bridged."""
    segment: list[str] = []
    segments: list[list[str]] = []
    for d, v in points:
        if v is None:
            if segment:
                segments.append(segment)
            segment = []
        else:
            segment.append(f"{sx(_days(d)):.1f},{sy(v):.1f}")
    if segment:
        segments.append(segment)
    return [f'<polyline class="series" points="{" ".join(seg)}"/>' for seg in segments]
