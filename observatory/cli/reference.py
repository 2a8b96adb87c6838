"""CLI commands for reference data: `observatory reference municipalities|prefectures|ministries`."""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import asdict

import click

from observatory import reference
from observatory.cells import csv_safe

FIELDS = {
    "municipalities": ("code", "prefecture_code", "name_ja", "name_kana", "name_en"),
    "prefectures": ("code", "name_ja", "name_kana", "name_en", "lg_code"),
    "ministries": ("code", "name_ja", "name_en", "kind"),
}


def _emit(kind: str, items, fmt: str) -> None:
    fields = FIELDS[kind]
    if fmt == "json":
        click.echo(json.dumps([{f: asdict(i)[f] for f in fields} for i in items], ensure_ascii=False, indent=1))
        return
    writer = csv.writer(sys.stdout, lineterminator="\n", delimiter="," if fmt == "csv" else "\t")
    writer.writerow(fields)
    for item in items:
        writer.writerow([csv_safe(getattr(item, f)) for f in fields])


def _command(kind: str, loader, help_text: str) -> click.Command:
    @click.command(name=kind, help=help_text)
    @click.option("--format", "fmt", type=click.Choice(["csv", "tsv", "json"]), default="csv", show_default=True)
    @click.option("--prefecture", help="Only this prefecture (code or name); municipalities only.")
    def command(fmt: str, prefecture: str | None) -> None:
        items = loader()
        if prefecture and kind == "municipalities":
            code = reference.MunicipalityIndex().prefecture_code(prefecture)
            if code is None:
                raise click.BadParameter(f"unknown prefecture {prefecture!r}", param_hint="--prefecture")
            items = [m for m in items if m.prefecture_code == code]
        _emit(kind, items, fmt)

    return command


@click.group(name="reference")
def reference_group() -> None:
    """Reference data: prefectures (JIS X 0401), municipalities (JIS X 0402), ministries."""


reference_group.add_command(_command("municipalities", reference.municipalities,
                                     "All 1,741 municipalities: code,prefecture_code,name_ja,name_kana,name_en."))
reference_group.add_command(_command("prefectures", reference.prefectures, "The 47 prefectures."))
reference_group.add_command(_command("ministries", reference.ministries, "Ministries and agencies."))

COMMANDS = [reference_group]
