"""A line-aware YAML loader: every mapping and list remembers its file and line, and the line of each key.

Why: validation reports every problem as `file:line: error: message`, so rules that run long after parsing
must still know where a value came from. Timestamps stay strings (the models parse dates) and only
`true`/`false` are booleans, so `yes`/`no` enum values and `2020-03-31` survive as written.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml


class LineDict(dict):
    """A mapping from YAML with `.line` (1-based line of the mapping) and `.key_lines` (key -> line)."""

    line: int = 0
    key_lines: dict[str, int]


class LineList(list):
    """A sequence from YAML with `.line` and `.item_lines` (index -> line)."""

    line: int = 0
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2-like booleans, no timestamp resolution and line-aware containers."""


# Start from SafeLoader's resolvers minus bool and timestamp, then add a strict bool.
_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers
          if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    out = LineDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        key = str(key) if not isinstance(key, str) else key
        if key in out:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    out = LineList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


class YamlSyntaxError(Exception):
    """The text is not valid YAML; `line` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


MAX_NODES = 200_000  # values in a file with every alias expanded; the shipped catalogue has a few thousand


def _expanded_size(root: yaml.Node) -> tuple[int, yaml.Node | None]:
    """(number of values once every alias is expanded, the first node whose expansion passes MAX_NODES), counted
    on the composed graph, where an alias is the very node it names: a billion-laughs file is refused before
    anything walks it (validation, error messages and the definition pages would each expand it)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        kids = ([n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else
                list(node.value) if isinstance(node, yaml.SequenceNode) else [])
        if not children_done:
            if id(node) in sizes:
                continue
            sizes[id(node)] = 1  # while open: a recursive alias (to an ancestor) counts once; the constructor
            stack.append((node, True))  # refuses it
            stack.extend((k, False) for k in kids if id(k) not in sizes)
            continue
        sizes[id(node)] = total = 1 + sum(sizes[id(k)] for k in kids)
        if total > MAX_NODES:
            return total, node
    return sizes.get(id(root), 1), None


def load_text(text: str) -> Any:
    """Parse YAML text into LineDict / LineList / scalars; raises YamlSyntaxError with a line number (also for a
    file whose aliases expand to more than MAX_NODES values)."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        _, too_big = _expanded_size(root)
        if too_big is not None:
            raise YamlSyntaxError(too_big.start_mark.line + 1, f"invalid YAML: aliases expand to more than "
                                  f"{MAX_NODES:,} values (a YAML bomb?); write the values out")
        return loader.construct_document(root)
    except RecursionError:  # PyYAML composes and constructs by recursion: a few hundred levels exhaust the stack
        raise YamlSyntaxError(loader.line + 1, "invalid YAML: nested too deeply (lists or mappings inside each other "
                              "hundreds of levels deep); a KPI definition is a few levels deep") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = exc.problem or str(exc)
        if exc.context and exc.context_mark and exc.problem_mark and exc.context_mark.line != exc.problem_mark.line:
            problem += f" ({exc.context} on line {exc.context_mark.line + 1})"
        raise YamlSyntaxError(line, f"invalid YAML: {problem}") from None
    finally:
        loader.dispose()


MAX_FILE_BYTES = 1024 * 1024  # one definition file; the shipped ones are under 30 KB


def load_file(path: Path) -> Any:
    """Parse one YAML file (UTF-8) of at most MAX_FILE_BYTES (PyYAML's pure-Python reader takes some 150 bytes of
    memory per byte of text: an 8 MB file took 1.2 GB)."""
    size = Path(path).stat().st_size
    if size > MAX_FILE_BYTES:
        raise YamlSyntaxError(1, f"the file is {size / 2**20:,.1f} MB; a KPI definition file may be at most "
                              f"{MAX_FILE_BYTES // 2**20} MB (split the catalogue into several files)")
    return load_text(Path(path).read_text(encoding="utf-8"))


def line_of(node: Any, path: tuple | list = ()) -> int:
    """The line of the value at `path` below `node` (the deepest located ancestor if a step is missing)."""
    line = getattr(node, "line", 1) or 1
    current = node
    for step in path:
        if isinstance(current, LineDict) and step in current:
            line = current.key_lines.get(step, line)
            current = current[step]
        elif isinstance(current, LineList) and isinstance(step, int) and 0 <= step < len(current):
            line = current.item_lines[step]
            current = current[step]
        else:
            break
        inner = getattr(current, "line", None)
        if inner and not isinstance(current, LineDict | LineList):
            line = inner
    return line
