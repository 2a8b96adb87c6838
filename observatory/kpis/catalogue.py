"""Loading and validating the KPI catalogue: YAML -> JSON Schema -> typed models -> rules.

`validate_catalogue(paths)` returns every problem found, in one run; `load_catalogue(dir)` returns the
`Catalogue` or raises a `UserError` listing them (serve and scheduler refuse to start on bad definitions).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
from jsonschema.exceptions import ValidationError as SchemaError
from jsonschema.exceptions import best_match
from pydantic import ValidationError

from observatory.errors import UserError
from observatory.kpis.issues import Issue, display_path, errors
from observatory.kpis.model import KpiDefinition
from observatory.kpis.rules import run_rules
from observatory.kpis.schema import kpi_schema
from observatory.kpis.yaml_loader import LineDict, LineList, YamlSyntaxError, line_of, load_file

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass
class Entry:
    """A parsed KPI with where it came from: the file (as displayed) and its line-aware YAML node."""

    definition: KpiDefinition
    file: str
    node: LineDict
    valid: bool = True  # False: modelled after dropping unknown keys (reported), not usable for computing

    def line(self, *path: str | int) -> int:
        """Line of a value inside this KPI's YAML (the KPI's own line when path is empty)."""
        return line_of(self.node, path)

    def issue(self, message: str, *path: str | int, severity: str = "error") -> Issue:
        return Issue(self.file, self.line(*path), f"{self.definition.id}: {message}", severity)


@dataclass
class Catalogue:
    """The validated KPI definitions, by id, with derived KPIs after the KPIs they use."""

    entries: dict[str, Entry] = field(default_factory=dict)

    def __iter__(self) -> Iterator[KpiDefinition]:
        return iter(self.ordered())

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, kpi_id: str) -> bool:
        return kpi_id in self.entries

    def __getitem__(self, kpi_id: str) -> KpiDefinition:
        return self.entries[kpi_id].definition

    @property
    def kpis(self) -> dict[str, KpiDefinition]:
        """Definitions by id."""
        return {k: e.definition for k, e in self.entries.items()}

    @property
    def definitions(self) -> list[KpiDefinition]:
        """Definitions in dependency order."""
        return self.ordered()

    def get(self, kpi_id: str) -> KpiDefinition | None:
        e = self.entries.get(kpi_id)
        return e.definition if e else None

    def ordered(self) -> list[KpiDefinition]:
        """Definitions in dependency order (a formula KPI after the KPIs it reads), else by id."""
        done: dict[str, KpiDefinition] = {}

        def visit(kpi_id: str, trail: tuple[str, ...] = ()) -> None:
            if kpi_id in done or kpi_id in trail or kpi_id not in self.entries:
                return
            d = self.entries[kpi_id].definition
            for ref in sorted(d.kpi_refs()):
                visit(ref, trail + (kpi_id,))
            done[kpi_id] = d

        for kpi_id in sorted(self.entries):
            visit(kpi_id)
        return list(done.values())

    def tables_of(self, definition: KpiDefinition) -> set[str]:
        """Tables (or 'submission') a KPI reads, through the KPIs its formulas use."""
        out: set[str] = set()
        for v in definition.versions:
            for _n, agg in v.measure.aggregates():
                out.add(agg.table or definition.source)
        for ref in definition.kpi_refs():
            if ref in self.entries:
                out |= self.tables_of(self.entries[ref].definition)
        if "alerts" in out:
            out.add("alert_history")
        return out

    def reading(self, tables: Iterable[str]) -> list[KpiDefinition]:
        """KPIs whose inputs include any of these tables (`submission_values`/`submissions` = submission KPIs)."""
        wanted = set(tables)
        if wanted & {"submission_values", "submissions"}:
            wanted.add("submission")
        return [d for d in self.ordered() if self.tables_of(d) & wanted]


def expand_paths(paths: Iterable[Path | str]) -> tuple[list[Path], list[Issue]]:
    """YAML files named or found (sorted) in the directories named; other files in a directory are issues."""
    files: list[Path] = []
    issues: list[Issue] = []
    for p in map(Path, paths):
        if p.is_dir():
            for child in sorted(p.iterdir()):
                if child.is_file() and child.suffix in YAML_SUFFIXES:
                    files.append(child)
                elif child.is_file() and not child.name.startswith("."):
                    issues.append(Issue(display_path(child), 1,
                                        "not a YAML file: kpi definition directories hold *.yaml only"))
        elif p.is_file():
            files.append(p)
        else:
            issues.append(Issue(display_path(p), 1, "no such file or directory"))
    return files, issues


def _path_text(path: Iterable) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


def _flatten(error: SchemaError) -> list[SchemaError]:
    """The errors worth reporting under an anyOf/oneOf: those of the one branch of the right type, if any."""
    if error.validator not in ("anyOf", "oneOf") or not error.context:
        return [error]
    branches: dict[int, list[SchemaError]] = {}
    for sub in error.context:
        branches.setdefault(sub.schema_path[0], []).append(sub)
    plausible = [subs for subs in branches.values()
                 if not any(s.validator == "type" and not s.relative_path for s in subs)]
    if len(plausible) == 1:
        return [leaf for sub in plausible[0] for leaf in _flatten(sub)]
    return [best_match([error]) or error]


def _at(node, path: list):
    for step in path:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _without_unknown_keys(node, errors_: list[SchemaError]):
    """A plain copy of the KPI with the keys the schema called unknown removed (to run the rules anyway)."""
    data = copy.deepcopy(node)
    for err in errors_:
        if err.validator == "additionalProperties" and err.validator_value is False:
            target = _at(data, list(err.absolute_path))
            allowed = set(err.schema.get("properties", {}))
            if isinstance(target, dict):
                for key in [k for k in target if k not in allowed]:
                    del target[key]
    return data


def _schema_issues(node: LineDict, file: str, kpi_id: str) -> tuple[list[Issue], list[SchemaError]]:
    validator = jsonschema.Draft202012Validator(kpi_schema())
    out: list[Issue] = []
    leaves: list[SchemaError] = []
    for top in validator.iter_errors(node):
        for err in _flatten(top):
            leaves.append(err)
            path = list(err.absolute_path)
            where = _path_text(path)
            prefix = f"{kpi_id}: " + (f"{where}: " if where else "")
            if err.validator == "required":
                missing = [k for k in err.validator_value if k not in err.instance]
                for key in missing:
                    out.append(Issue(file, line_of(node, path), f"{prefix}missing key '{key}'"))
            elif err.validator == "additionalProperties" and err.validator_value is False:
                allowed = set(err.schema.get("properties", {}))
                for key in [k for k in err.instance if k not in allowed]:
                    out.append(Issue(file, line_of(node, [*path, key]), f"{prefix}unknown key '{key}'"))
            elif err.validator == "propertyNames":
                key = err.instance
                out.append(Issue(file, line_of(node, [*path, key]),
                                 f"{prefix}key '{key}' is not one of {', '.join(err.validator_value.get('enum', []))}"))
            elif err.validator == "enum" and isinstance(_at(node, path), LineDict) and err.instance in _at(node, path):
                options = ", ".join(str(o) for o in err.validator_value)
                out.append(Issue(file, line_of(node, [*path, err.instance]),
                                 f"{prefix}key '{err.instance}' is not one of {options}"))
            elif err.validator == "enum":
                options = ", ".join(str(o) for o in err.validator_value)
                out.append(Issue(file, line_of(node, path), f"{prefix}{err.instance!r} is not one of {options}"))
            elif err.validator == "type":
                out.append(Issue(file, line_of(node, path),
                                 f"{prefix}expected {err.validator_value}, got {err.instance!r}"))
            elif err.validator == "oneOf" and where.endswith("measure"):
                out.append(Issue(file, line_of(node, path),
                                 f"{prefix}a measure needs exactly one of aggregate, ratio, formula"))
            else:
                out.append(Issue(file, line_of(node, path), f"{prefix}{err.message}"))
    return out, leaves


def _model_issues(exc: ValidationError, node: LineDict, file: str, kpi_id: str) -> list[Issue]:
    out = []
    for err in exc.errors():
        # pydantic locations include union branch names (e.g. 'Aggregate'); keep the YAML steps only
        path = [p for p in err["loc"] if isinstance(p, int) or not str(p)[:1].isupper()]
        where = _path_text(path)
        msg = err["msg"].removeprefix("Value error, ")
        out.append(Issue(file, line_of(node, path), f"{kpi_id}: " + (f"{where}: " if where else "") + msg))
    return out


def parse_files(paths: Iterable[Path | str]) -> tuple[list[Entry], list[Issue], set[str]]:
    """Parse and structurally validate every KPI in these files/directories; rules are not run yet.

    Returns (entries, issues, ids of KPIs too broken to model). A KPI whose only schema problems are
    unknown keys is still modelled without them, so the rules report its other problems in the same run.
    """
    files, issues = expand_paths(paths)
    entries: list[Entry] = []
    broken: set[str] = set()
    for path in files:
        file = display_path(path)
        nodes = _kpi_nodes(path, file, issues)
        for i, node in enumerate(nodes or []):
            if not isinstance(node, LineDict):
                issues.append(Issue(file, nodes.item_lines[i] if isinstance(nodes, LineList) else 1,
                                    "each entry of `kpis` must be a KPI mapping"))
                continue
            entry = _model(node, file, str(node.get("id", f"kpis[{i}]")), issues, broken)
            if entry is not None:
                entries.append(entry)
    return entries, issues, broken


def _kpi_nodes(path: Path, file: str, issues: list[Issue]) -> list | None:
    """The KPI mappings of one file (one KPI, or `kpis:` with a list); None, with the issue, when unreadable."""
    try:
        data = load_file(path)
    except YamlSyntaxError as exc:
        issues.append(Issue(file, exc.line, exc.message))
        return None
    except (OSError, UnicodeDecodeError) as exc:
        issues.append(Issue(file, 1, f"cannot read the file: {exc}"))
        return None
    if isinstance(data, LineDict) and "kpis" in data:
        extra = [k for k in data if k != "kpis"]
        for key in extra:
            issues.append(Issue(file, data.key_lines[key], f"unknown top-level key '{key}' (expected `kpis:`)"))
        nodes = data["kpis"]
        if not isinstance(nodes, LineList) or not nodes:
            issues.append(Issue(file, data.key_lines["kpis"], "`kpis` must be a non-empty list of KPIs"))
            return None
        return nodes
    if isinstance(data, LineDict):
        return [data]
    issues.append(Issue(file, getattr(data, "line", 1), "expected a KPI mapping or `kpis:` with a list of KPI mappings"))
    return None


def _model(node: LineDict, file: str, kpi_id: str, issues: list[Issue], broken: set[str]) -> Entry | None:
    """One KPI mapping as a typed definition: schema issues first (unknown keys alone still model it), then the
    model's own; None, with its id in `broken`, when it cannot be modelled."""
    found, leaves = _schema_issues(node, file, kpi_id)
    issues.extend(found)
    only_unknown = all(e.validator == "additionalProperties" for e in leaves)
    if found and not only_unknown:
        broken.add(kpi_id)
        return None
    try:
        definition = KpiDefinition.model_validate(_without_unknown_keys(node, leaves) if found else node)
    except ValidationError as exc:
        issues.extend(_model_issues(exc, node, file, kpi_id))
        broken.add(kpi_id)
        return None
    return Entry(definition, file, node, valid=not found)


def validate_catalogue(paths: Iterable[Path | str]) -> list[Issue]:
    """Every problem in these definition files/directories, sorted by file and line (empty list: valid)."""
    entries, issues, broken = parse_files(paths)
    issues.extend(run_rules(entries, broken))
    return sorted(set(issues), key=lambda i: (i.file, i.line, i.message))


def load_catalogue(directory: Path | str | Iterable[Path | str]) -> Catalogue:
    """The validated catalogue of a directory (or paths); raises UserError listing every error."""
    paths = [directory] if isinstance(directory, str | Path) else list(directory)
    entries, issues, broken = parse_files(paths)
    issues.extend(run_rules(entries, broken))
    bad = errors(issues)
    if bad:
        lines = "\n".join(str(i) for i in sorted(set(bad), key=lambda i: (i.file, i.line, i.message)))
        raise UserError(f"invalid KPI definitions ({len(bad)} error(s)):\n{lines}")
    if not entries:
        raise UserError(f"{', '.join(str(p) for p in paths)}: no KPI definitions found")
    return Catalogue({e.definition.id: e for e in entries})


_cached: dict[str, tuple[tuple, Catalogue]] = {}
_cached_lock = threading.Lock()


def _fingerprint(directory: Path) -> tuple:
    files = sorted(Path(directory).glob("*.y*ml"))
    return tuple((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files)


def cached_catalogue(directory: Path | str) -> Catalogue:
    """`load_catalogue` for long-running readers (dashboard, submissions): reloaded when a file changes."""
    key = str(Path(directory).resolve())
    stamp = _fingerprint(Path(directory))
    with _cached_lock:
        hit = _cached.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
    catalogue = load_catalogue(directory)
    with _cached_lock:
        _cached[key] = (stamp, catalogue)
    return catalogue
