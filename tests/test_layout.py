"""The layout a newcomer can navigate: rules checked over the source tree, with today's exceptions listed so
the lists can only shrink (remove an entry when its file is fixed; a new offender fails here)."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("observatory", "collectors", "anomaly", "dashboards", "benchmarks", "tests")

# `Workspace` and `load_workspace` live in observatory/workspace.py, and only there.


@functools.cache
def _sources() -> dict[str, ast.Module]:
    trees = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            trees[path.relative_to(ROOT).as_posix()] = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return trees


def _imports_workspace_from_config(tree: ast.Module) -> bool:
    return any(isinstance(node, ast.ImportFrom) and node.module == "observatory.config"
               and any(a.name in ("Workspace", "load_workspace") for a in node.names) for node in ast.walk(tree))


def test_workspace_is_imported_from_observatory_workspace() -> None:
    old = {name for name, tree in _sources().items() if _imports_workspace_from_config(tree)}
    assert old == set(), "import Workspace / load_workspace from observatory.workspace"


def test_the_configuration_module_no_longer_answers_for_the_workspace() -> None:
    from observatory import config

    assert not hasattr(config, "Workspace") and not hasattr(config, "load_workspace")


# Dependencies point one way (README): collectors, anomaly and dashboards import observatory's core and never each
# other; in observatory only the CLI package and jobs.py join them (what is shared lives in observatory, e.g. the
# one row reader, observatory/rows.py).
FAMILIES = ("collectors", "anomaly", "dashboards")
JOINERS = ("observatory/cli/", "observatory/jobs.py")


def _cross_imports(trees: dict[str, ast.Module]) -> set[str]:
    found = set()
    for name, tree in trees.items():
        home = name.split("/")[0]
        if home not in ("observatory", *FAMILIES) or name.startswith(JOINERS):
            continue
        found.update(f"{name} -> {m}" for m in _imported(tree)
                     if m.split(".")[0] in FAMILIES and m.split(".")[0] != home)
    return found


def _imported(tree: ast.Module) -> list[str]:
    """Every module the tree imports by absolute name, wherever the import stands."""
    modules: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.append(node.module)
    return modules


def test_dependencies_point_one_way() -> None:
    assert _cross_imports(_sources()) == set(), "move what both need into observatory (or join them in jobs/cli)"


def test_the_dependency_check_can_fail() -> None:
    trees = {"observatory/submissions/x.py": ast.parse("from collectors import sources\n"),
             "dashboards/y.py": ast.parse("def f():\n    import anomaly.detect\n"),
             "collectors/z.py": ast.parse("import collectors.base\nfrom observatory import rows\n"),
             "observatory/jobs.py": ast.parse("import collectors\n")}
    assert _cross_imports(trees) == {"observatory/submissions/x.py -> collectors",
                                     "dashboards/y.py -> anomaly.detect"}


# Functions longer than a screen and a half: none left. A new long function fails the test below (split it
# where the split names a real step).
MAX_FUNCTION_LINES = 80
LONG_FUNCTIONS: set[str] = set()


def _long_functions(trees: dict[str, ast.Module]) -> dict[str, int]:
    found = {}
    for name, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    found[f"{name}:{node.name}"] = lines
    return found


def test_no_new_long_functions() -> None:
    found = _long_functions(_sources())
    assert set(found) - LONG_FUNCTIONS == set(), f"split these (over {MAX_FUNCTION_LINES} lines): {found}"
    assert LONG_FUNCTIONS - set(found) == set(), "now short: remove these from LONG_FUNCTIONS"


def test_the_long_function_check_can_fail() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    tree = ast.parse(f"def short():\n    pass\n\n\ndef long():\n{body}\n")
    assert _long_functions({"m.py": tree}) == {"m.py:long": MAX_FUNCTION_LINES + 1}


def _declared_distributions() -> set[str]:
    import re
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = [*project["dependencies"], *(s for group in project.get("optional-dependencies", {}).values()
                                         for s in group)]
    return {re.split(r"[\s<>=!~;\[]", spec, maxsplit=1)[0].lower().replace("_", "-") for spec in specs}


def test_every_imported_package_is_declared() -> None:
    """Third-party imports of the packages (inside functions too) name a distribution pyproject.toml declares."""
    import sys
    from importlib.metadata import packages_distributions

    owners = packages_distributions()
    ours = {"observatory", "collectors", "anomaly", "dashboards", "benchmarks", "tests"}
    declared = _declared_distributions()
    missing = {}
    for name, tree in _sources().items():
        if name.startswith(("tests/", "benchmarks/")):
            continue
        for module in _imported(tree):
            top = module.split(".")[0]
            if top in ours or top in sys.stdlib_module_names:
                continue
            dists = {d.lower().replace("_", "-") for d in owners.get(top, [top])}
            if not dists & declared:
                missing.setdefault(top, name)
    assert missing == {}, f"declare these in pyproject.toml (module: first file importing it): {missing}"


# Test fixture builders name the columns they insert into warehouse tables, so a migration that adds or reorders
# a column cannot shift their values silently. Exceptions are listed here (none today).
POSITIONAL_INSERTS: set[str] = set()


def _warehouse_tables() -> set[str]:
    import re

    sql = "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "observatory/migrations").glob("*.sql")))
    return {m.lower() for m in re.findall(r"CREATE\s+(?:OR\s+REPLACE\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)",
                                          sql, re.IGNORECASE)}


def _positional_inserts(trees: dict[str, ast.Module], tables: set[str]) -> set[str]:
    """Files with a string `INSERT [OR ...] INTO <warehouse table> VALUES|SELECT` (no column list)."""
    import re

    pattern = re.compile(r"INSERT\s+(?:OR\s+\w+\s+)?INTO\s+(\w+)\s+(?:VALUES|SELECT)\b", re.IGNORECASE)
    found = set()
    for name, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if any(t.lower() in tables for t in pattern.findall(node.value)):
                    found.add(name)
    return found


def test_fixture_builders_name_their_columns() -> None:
    tests = {name: tree for name, tree in _sources().items()
             if name.startswith("tests/") and name != "tests/test_layout.py"}  # not this file's own examples
    found = _positional_inserts(tests, _warehouse_tables())
    assert found - POSITIONAL_INSERTS == set(), f"name the columns of these INSERTs: {found - POSITIONAL_INSERTS}"
    assert POSITIONAL_INSERTS - found == set(), "fixed: remove these from POSITIONAL_INSERTS"


def test_the_positional_insert_check_can_fail() -> None:
    tables = _warehouse_tables()
    assert {"staff", "kpi_values", "alerts"} <= tables
    bad = ast.parse('con.execute("INSERT INTO staff VALUES (?, ?)", row)\n'
                    'con.execute("INSERT OR REPLACE INTO kpi_values SELECT * FROM x")\n')
    good = ast.parse('con.execute("INSERT INTO staff (staff_id, org_code) VALUES (?, ?)", row)\n'
                     'con.execute("INSERT INTO scratch VALUES (1)")\n')
    assert _positional_inserts({"bad.py": bad, "good.py": good}, tables) == {"bad.py"}


# Production code names the columns it inserts into warehouse tables too (a migration adding a column must not
# shift what a load writes). Exceptions are listed here (only shrinks): none today.
POSITIONAL_INSERTS_IN_CODE: set[str] = set()


def test_production_code_names_its_columns() -> None:
    code = {name: tree for name, tree in _sources().items() if not name.startswith(("tests/", "benchmarks/"))}
    found = _positional_inserts(code, _warehouse_tables())
    assert found - POSITIONAL_INSERTS_IN_CODE == set(), f"name the columns of these INSERTs: {found}"
    assert POSITIONAL_INSERTS_IN_CODE - found == set(), "fixed: remove these from POSITIONAL_INSERTS_IN_CODE"


# An import inside a function says why it is there (a comment on it or on the import group it belongs to): an
# import cycle, or a heavy or optional package loaded only when used. The CLI's command modules carry one note
# for all (commands import what they drive, so --help stays light). Exceptions are listed here (none today).
UNEXPLAINED_LOCAL_IMPORTS: set[str] = set()


def _unexplained_local_imports(name: str, tree: ast.Module, text: str) -> list[int]:
    lines = text.splitlines()
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        previous_import = None
        for child in ast.iter_child_nodes(node):
            is_function = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if in_function and isinstance(child, ast.Import | ast.ImportFrom):
                commented = any("#" in lines[i - 1] for i in range(child.lineno, child.end_lineno + 1))
                grouped = previous_import is not None and previous_import[1] and child.lineno == previous_import[0] + 1
                if not (commented or grouped):
                    found.append(child.lineno)
                previous_import = (child.end_lineno, commented or grouped)
            else:
                previous_import = None
                visit(child, in_function or is_function)

    if not name.startswith("observatory/cli/") or name == "observatory/cli/__init__.py":
        visit(tree, False)
    return found


def test_imports_inside_functions_say_why() -> None:
    found = {}
    for name, tree in _sources().items():
        if name.split("/")[0] in ("tests", "benchmarks"):
            continue
        lines = _unexplained_local_imports(name, tree, (ROOT / name).read_text(encoding="utf-8"))
        if lines:
            found[name] = lines
    new = {k: v for k, v in found.items() if k not in UNEXPLAINED_LOCAL_IMPORTS}
    assert new == {}, f"move these imports to the module top, or say why they stay (file: lines): {new}"
    assert UNEXPLAINED_LOCAL_IMPORTS - set(found) == set(), "explained now: remove from UNEXPLAINED_LOCAL_IMPORTS"


def test_the_local_import_check_can_fail() -> None:
    text = ("import os\n\n\ndef f():\n    import json\n    return json\n\n\ndef g():\n"
            "    import pyspark  # heavy: only with Spark\n    import pyspark.sql\n    return pyspark\n")
    assert _unexplained_local_imports("m.py", ast.parse(text), text) == [5]
