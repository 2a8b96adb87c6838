"""Figure builders and locale formatting as plain functions."""

from __future__ import annotations

from datetime import date

from dashboards import figures, i18n
from observatory.reference import prefectures


def test_tile_grid_places_every_prefecture_once() -> None:
    assert set(figures.TILE_GRID) == {p.code for p in prefectures()}
    assert len(set(figures.TILE_GRID.values())) == 47


def test_tile_map_names_every_tile_and_marks_the_selection() -> None:
    rows = [{"code": p.code, "name_ja": p.name_ja, "name_en": p.name_en, "value": float(i), "status": "on_track"}
            for i, p in enumerate(prefectures())]
    fig = figures.tile_map(rows, "ja", "percent", selected="13")
    trace = fig.data[0]
    assert len(trace.x) == 47 and list(trace.customdata).count("13") == 1
    assert "東京<br>12.0%" in trace.text
    assert trace.marker.line.width[list(trace.customdata).index("13")] == 3
    assert "Tokyo" in figures.tile_map(rows, "en").data[0].text[12]


def test_history_figure_draws_band_targets_and_versions() -> None:
    hist = [{"period": date(2025, m, 1), "version": 1 if m < 6 else 2, "value": float(m)} for m in range(1, 13)]
    fc = [{"target_year": 2026, "target_date": date(2027, 3, 31), "target_value": 30.0, "projected_value": 20.0,
           "lower": 15.0, "upper": 25.0}]
    fig = figures.history_figure(hist, fc, "en", "percent")
    names = [t.name for t in fig.data]
    assert "History v1" in names and "History v2" in names and "Forecast band" in names and "Target" in names
    band = next(t for t in fig.data if t.name == "Forecast band")
    assert list(band.y) == [12.0, 15.0] and band.fill == "tonexty"


def test_sparkline_svg_breaks_at_missing_values() -> None:
    svg = figures.sparkline_svg([(date(2025, m, 1), None if m == 5 else float(m)) for m in range(1, 10)])
    assert svg.count("<polyline") == 2
    assert "<polyline" not in figures.sparkline_svg([(date(2025, 1, 1), 1.0)])


def test_alerts_per_day_marks_days_over_budget_with_a_pattern() -> None:
    rows = [{"day": date(2026, 1, d), "alerts": d, "budget": 2.0, "over_budget": d > 2} for d in range(1, 5)]
    bars = figures.alerts_per_day_figure(rows, "ja").data[0]
    assert list(bars.marker.pattern.shape) == ["", "", "/", "/"]


def test_locale_formatting() -> None:
    assert i18n.format_number(12345.678, "ja") == "12,345.7"
    assert i18n.format_number(45.0, "en", unit="percent") == "45.0%"
    assert i18n.format_number(None, "ja") == "-"
    assert i18n.format_month(date(2025, 4, 1), "ja") == "2025年4月"
    assert i18n.format_month(date(2025, 4, 1), "en") == "Apr 2025"
    assert i18n.format_period(date(2026, 2, 1), "fiscal_year", "ja") == "2025年度（令和7年度）"
    # the calendar's long form in both languages; quarters are fiscal (July-September 2025 is FY2025 Q2)
    assert i18n.format_period(date(2026, 2, 1), "fiscal_year", "en") == "FY2025 (April 2025 – March 2026)"
    assert i18n.format_period(date(2025, 7, 1), "quarterly", "en") == "FY2025 Q2"
    assert i18n.format_period(date(2025, 7, 1), "quarterly", "ja") == "2025年度第2四半期"
    assert i18n.reiwa(2019) == "令和元年度" and i18n.reiwa(2020) == "令和2年度"  # the era of most of it
    from datetime import UTC, datetime

    assert i18n.format_datetime(datetime(2026, 3, 31, 15, 30, tzinfo=UTC), "ja") == "2026年4月1日 00:30"
    assert i18n.format_datetime(datetime(2026, 3, 31, 15, 30, tzinfo=UTC), "en") == "1 Apr 2026 00:30 JST"
    assert i18n.t("nav.overview", "en") == "Overview" and i18n.t("nav.overview", "xx") == "概要"


def test_every_string_has_both_languages() -> None:
    for key, (ja, en) in i18n.STRINGS.items():
        assert ja.strip() and en.strip(), key


def test_every_judged_status_is_named_coloured_and_counted_on_the_cio_overview() -> None:
    """insufficient_recent_data (data too old for the target) is named in both languages, coloured on cards and
    sparklines, ordered and counted on the CIO overview like every status of the one judgement."""
    from dashboards.pages.overview import counts_panel
    from observatory.kpis.status import JUDGED, SEVERITY

    assert "insufficient_recent_data" in JUDGED
    for status in JUDGED:
        assert status in figures.STATUS_COLOURS and status in SEVERITY, status
        for lang in ("ja", "en"):
            assert i18n.status_label(status, lang) != f"status.{status}", status
    assert i18n.status_label("insufficient_recent_data", "ja") == "最新データ不足"
    rows = [{"status_2026": "insufficient_recent_data"}, {"status_2026": "on_track"}]
    assert "最新データ不足 1" in str(counts_panel(rows, "ja"))
    assert "Insufficient recent data 1" in str(counts_panel(rows, "en"))


def test_every_figure_is_valid_plotly() -> None:
    """The light JSON figures pass plotly's full validation (no misspelt property anywhere)."""
    import plotly.graph_objects as go

    rows = [{"code": p.code, "name_ja": p.name_ja, "name_en": p.name_en, "value": 1.0, "status": "on_track"}
            for p in prefectures()]
    hist = [{"period": date(2025, m, 1), "version": 1, "value": float(m)} for m in range(1, 13)]
    fc = [{"target_year": 2026, "target_date": date(2027, 3, 31), "target_value": 30.0, "projected_value": 20.0,
           "lower": 15.0, "upper": 25.0}]
    built = [figures.tile_map(rows, "ja", "percent", selected="13"), figures.history_figure(hist, fc, "ja"),
             figures.distribution_figure([1.0, 2.0, None], "en"), figures.sparkline([(date(2025, 1, 1), 1.0)]),
             figures.alerts_per_day_figure([{"day": date(2026, 1, 1), "alerts": 3, "budget": 2.0,
                                             "over_budget": True}], "ja"),
             figures.timeline_figure([{"hour": 1, "events": 2}], [{"hour": 1, "mean_events": 0.5}], "en")]
    for fig in built:
        go.Figure(fig.to_dict())  # raises on any invalid property


def test_html_tables_escape_every_value() -> None:
    from dashboards.components import data_table
    from dashboards.views import Column, ViewData

    view = ViewData([Column("name", "col.name"), Column("note", "col.note"), Column("code", "col.code", "alert_link")],
                    [{"name_ja": "<script>alert(1)</script>", "note": '"><img src=x onerror=alert(1)>',
                      "code": "1\"><b>"}])
    markup = data_table(view, "ja", "<caption>").children
    assert "<script>" not in markup and "<img" not in markup and "<b>" not in markup
    assert "&lt;script&gt;" in markup and "<caption>&lt;caption&gt;</caption>" in markup
    assert '<th scope="col">名称</th>' in markup
    braces = data_table(ViewData([Column("note", "col.note")], [{"note": "{x}"}]), "en", "c").children
    assert "{" not in braces and "&#123;x&#125;" in braces


def test_a_change_of_measure_is_drawn_as_two_series_with_the_change_marked() -> None:
    from datetime import date

    from dashboards.figures import history_figure

    held = [{"period": date(2023, m, 1), "version": 1, "value": 70.0 + m, "target": None, "status": None}
            for m in (1, 2, 3)]
    issued = [{"period": date(2022, m, 1), "version": 1, "value": 50.0 + m} for m in (10, 11, 12)]
    fig = history_figure(held, [], "ja", "percent", companions=[("マイナンバーカード交付率", issued)],
                         name="マイナンバーカード保有率")
    names = [tr.get("name") for tr in fig.data]
    assert "マイナンバーカード保有率" in names and "マイナンバーカード交付率" in names
    [line] = fig.layout["shapes"]
    assert line["x0"] == date(2023, 1, 1)  # where the later measure begins
    assert fig.layout["annotations"][0]["text"] == "測定対象の変更"
    alone = history_figure(held, [], "ja", "percent")
    assert "shapes" not in alone.layout and len(alone.data) == 1
