"""CLI commands: observatory kpi validate | schema | compute | show | report."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from datetime import date
from pathlib import Path

import click

from observatory import calendar
from observatory.calendar import fiscal_year_start
from observatory.cells import csv_safe
from observatory.cli.common import State, pass_state
from observatory.config import shipped_kpi_dir
from observatory.errors import NotFound, UserError

# The commands import what they drive when they run, so that `observatory --help` and a group's --help
# load none of it (tests/test_cli_lazy.py, benchmarks/cli_help.py).

FORMATS = click.Choice(["table", "csv", "json"])
LEVELS = click.Choice(["national", "ministry", "prefecture", "municipality"])


def _kpi_dir(state: State) -> Path:
    """The workspace's definitions directory, or the shipped one when there is no workspace yet."""
    try:
        return state.ws.kpi_dir
    except UserError:
        return shipped_kpi_dir()


def parse_period(text: str) -> date:
    """YYYY-MM, YYYY-MM-DD or FY2025 / 2025年度 -> a date inside that period (UserError otherwise)."""
    t = text.strip()
    m = re.fullmatch(r"(?:FY|fy)?(\d{4})年度", t) or re.fullmatch(r"(?:FY|fy)(\d{4})", t)
    if m:
        return fiscal_year_start(int(m.group(1)))
    m = re.fullmatch(r"(\d{4})-(\d{1,2})(?:-(\d{1,2}))?", t)
    if m:
        try:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3) or 1))
        except ValueError:
            pass
    raise UserError(f"--period {text!r}: 期間の形式が不正です / expected YYYY-MM, YYYY-MM-DD or FY2025")


@click.group("kpi")
def kpi() -> None:
    """KPI catalogue: validate definitions, compute values and forecasts, show and report them."""


@kpi.command("validate")
@click.argument("paths", nargs=-1, type=click.Path())
@pass_state
def validate_cmd(state: State, paths: tuple[str, ...]) -> None:
    """Check KPI definition files (default: the workspace's kpi_definitions/); every problem, one run."""
    from observatory.kpis.catalogue import parse_files, validate_catalogue

    targets = list(paths) or [_kpi_dir(state)]
    issues = validate_catalogue(targets)
    for issue in issues:
        click.echo(str(issue))
    n_errors = sum(1 for i in issues if i.severity == "error")
    entries = parse_files(targets)[0]
    files = {e.file for e in entries}
    summary = f"{len(entries)} KPI(s) in {len(files)} file(s): {n_errors} error(s), {len(issues) - n_errors} warning(s)"
    click.echo(summary, err=True)
    if n_errors:
        sys.exit(1)


@kpi.command("schema")
@click.option("--write", is_flag=True, help="Also rewrite observatory/kpis/kpi-definition.schema.json.")
def schema_cmd(write: bool) -> None:
    """Print the JSON Schema of KPI definition files (for editor completion and checks)."""
    from observatory.kpis.schema import schema_text, write_schema

    if write:
        click.echo(f"wrote {write_schema()}", err=True)
    click.echo(schema_text(), nl=False)


@kpi.command("compute")
@click.option("--kpi", "kpi_ids", multiple=True, help="Only this KPI (repeatable), plus KPIs derived from it.")
@click.option("--table", "tables", multiple=True, help="Only KPIs reading this table (repeatable).")
@click.option("--period", "periods", multiple=True, help="Only the period containing YYYY-MM / FY2025 (repeatable).")
@click.option("--no-forecast", is_flag=True, help="Skip refitting forecasts.")
@click.option("--allow-redefine", is_flag=True,
              help="Accept a version whose measure changed in place (recorded); normally refused.")
@pass_state
def compute_cmd(state: State, kpi_ids: tuple[str, ...], tables: tuple[str, ...], periods: tuple[str, ...],
                no_forecast: bool, allow_redefine: bool) -> None:
    """Compute KPI values (every level, every period with data) and forecasts into the warehouse."""
    from observatory.kpis.catalogue import load_catalogue
    from observatory.kpis.engine import recompute

    catalogue = load_catalogue(state.ws.kpi_dir)
    with state.warehouse.connect() as con:
        result = recompute(con, catalogue, kpi_ids=list(kpi_ids) or None, tables=list(tables) or None,
                           periods=[parse_period(p) for p in periods] or None, forecast=not no_forecast,
                           allow_redefine=allow_redefine, timezone=state.ws.config.timezone)
    click.echo(result.summary())


def _definition(state: State, kpi_id: str):
    from observatory.kpis.catalogue import load_catalogue

    catalogue = load_catalogue(state.ws.kpi_dir)
    d = catalogue.get(kpi_id)
    if d is None:
        raise NotFound(f"KPI {kpi_id!r} はありません / no KPI {kpi_id!r} (known: {', '.join(sorted(catalogue.kpis))})")
    return d


def _entity_codes(level: str) -> frozenset[str]:
    """The codes an entity of `level` has in kpi_values: JP; the ministries'; the prefectures' two digits (as the
    KPI engine keys them: observatory.kpis.compile.entity_sql); the municipalities' six (the shipped reference)."""
    from observatory.reference import ministries, municipality_codes, prefectures

    if level == "national":
        return frozenset({"JP"})
    if level == "ministry":
        return frozenset(m.code for m in ministries())
    if level == "prefecture":
        return frozenset(p.code for p in prefectures())
    return municipality_codes()


def _fmt(value, decimals: int) -> str:
    if value is None or value != value:  # NaN
        return "-"
    return f"{value:,.{decimals}f}"


@kpi.command("show")
@click.argument("kpi_id")
@click.option("--level", type=LEVELS, default="national", show_default=True)
@click.option("--entity", "entity", default=None, help="Entity code (default JP for national).")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@pass_state
def show_cmd(state: State, kpi_id: str, level: str, entity: str | None, fmt: str) -> None:
    """History of one KPI for one entity, with targets, statuses, version changes and forecast."""
    from observatory.kpis import queries
    from observatory.kpis.periods import label

    d = _definition(state, kpi_id)
    if level not in d.levels:
        raise UserError(f"{kpi_id}: この集計単位では計算されません / {kpi_id} is computed at {', '.join(d.levels)}, not {level}")
    if entity is None:
        if level != "national":
            raise UserError(f"--entity: 対象コードを指定してください / --entity is required at level {level} (a {level} code)")
        entity = "JP"
    with state.warehouse.connect() as con:
        hist = queries.history(con, kpi_id, level=level, entity_code=entity)
        fc = queries.forecasts(con, kpi_id, level=level, entity_code=entity)
    if hist.empty and entity not in _entity_codes(level):  # a typo is not "no values yet"
        raise NotFound(f"--entity {entity!r}: {level} のコードではありません / not a {level} code")
    if fmt in ("csv", "json"):  # a period as its first day and as the calendar names it (FY2023, not a timestamp)
        hist = hist.assign(period=[p.date().isoformat() for p in hist["period"]],
                           period_label=[label(p, d.frequency) for p in hist["period"]])
    if fmt == "csv":
        click.echo(hist.map(lambda v: csv_safe(v) if isinstance(v, str) else v).to_csv(index=False), nl=False)
        return
    if fmt == "json":
        out = {"kpi_id": kpi_id, "level": level, "entity_code": entity,
               "values": json.loads(hist.to_json(orient="records", date_format="iso", force_ascii=False)),
               "forecasts": json.loads(fc.to_json(orient="records", date_format="iso", force_ascii=False))}
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    click.echo(f"{d.id}: {d.name.ja} / {d.name.en}  [{d.unit}, {d.direction}, owner {d.owner}]")
    click.echo(f"{level} {entity}, {d.frequency}")
    for v in sorted(d.versions, key=lambda v: v.version):
        click.echo(f"  version {v.version} from {v.valid_from}: {v.change_note.ja} / {v.change_note.en}")
    notes = {v.version: v for v in d.versions}
    if hist.empty:
        click.echo("no values yet: run `observatory kpi compute`")
    previous = None
    for row in hist.itertuples(index=False):
        if previous is not None and row.version != previous:
            click.echo(f"  -- definition changed: version {row.version}: {notes[row.version].change_note.en} --")
        previous = row.version
        click.echo(f"  {label(row.period, d.frequency):<8} v{row.version}  {_fmt(row.value, d.decimals):>14}  "
                   f"target {_fmt(row.target, d.decimals):>12}  {row.status}")
    for row in fc.itertuples(index=False):
        if row.status == "insufficient_data":
            click.echo(f"  forecast {row.target_year}: insufficient data ({row.n_points} points)")
            continue
        when = row.attainment_date.date().isoformat() if row.attainment_date == row.attainment_date \
            and row.attainment_date is not None else "not within horizon"
        click.echo(f"  forecast {row.target_year}: {_fmt(row.projected_value, d.decimals)} "
                   f"[{_fmt(row.lower, d.decimals)}, {_fmt(row.upper, d.decimals)}] by {row.target_date.date()} "
                   f"vs target {_fmt(row.target_value, d.decimals)}: {row.status}; reached: {when}")


@kpi.command("report")
@click.option("--level", type=LEVELS, default="national", show_default=True)
@click.option("--entity", "entity", default="JP", show_default=True)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@pass_state
def report_cmd(state: State, level: str, entity: str, fmt: str) -> None:
    """One screen: every KPI with its latest value, targets, status and projected attainment date."""
    from observatory.kpis import queries
    from observatory.kpis.catalogue import load_catalogue
    from observatory.kpis.report import report_rows

    catalogue = load_catalogue(state.ws.kpi_dir)
    with state.warehouse.connect() as con:
        latest = queries.latest(con, level=level, entity_code=entity, catalogue=catalogue,
                                today=calendar.today(state.ws.config.timezone))
    rows = report_rows(catalogue, latest, level)
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
        return
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["kpi_id"])
        writer.writeheader()
        writer.writerows({k: csv_safe(v) if isinstance(v, str) else v for k, v in row.items()} for row in rows)
        click.echo(buf.getvalue(), nl=False)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"KPI report / KPIレポート ({level} {entity})", show_lines=False)
    from observatory.kpis.model import TARGET_YEARS

    for col in ("KPI", "period", "value", *TARGET_YEARS, "status", "forecast", "reached"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(f"{r['name_ja']}\n{r['kpi_id']}", r["period"] or "-", r["value_text"],
                      *(r[f"target_{y}"] for y in TARGET_YEARS),
                      f"{r['status']} ({r['status_year']})" if r["status_year"] else r["status"],  # which target
                      f"{r['forecast_status']} ({r['forecast_year']})" if r["forecast_status"] else "-",
                      r["attainment_date"] or "-")
    Console(width=160).print(table)


COMMANDS = [kpi]
