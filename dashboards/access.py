"""Which role may see which page and fire which callback: one table, checked on the server for every request.

Pages are keyed by name; a callback belongs to the page named by the prefix of its output ids
(`ov-cards` -> overview). A callback whose outputs are unknown is refused (default deny).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from observatory.config import User
from observatory.security.users import can_any


@dataclass(frozen=True)
class PageRule:
    """A page: its URL pattern, and the permissions of which a user needs at least one."""

    name: str
    path: str  # Dash path or path template, e.g. /kpi/<kpi_id>
    any_of: tuple[str, ...]
    sensitive: bool = False  # every view is written to the audit log
    # whether the render cache may keep it (dashboards.cache: no per-user content, no form token) and for how long
    # its clock-dependent content holds: "minute" (ages, deadlines, freshness) or "day" (statuses judged on today)
    cache: Literal["minute", "day"] | None = None


PAGES: dict[str, PageRule] = {p.name: p for p in (
    PageRule("home", "/", ("kpi.all", "kpi.own", "ministry.own", "alerts.view", "audit.view"), cache="minute"),
    PageRule("overview", "/overview", ("kpi.all",), cache="minute"),
    PageRule("kpi", "/kpi/<kpi_id>", ("kpi.all", "kpi.own"), cache="day"),
    PageRule("area", "/area", ("area.view",), cache="day"),
    PageRule("municipality", "/municipality/<code>", ("area.view",), cache="day"),
    PageRule("sources", "/sources", ("sources.view",), cache="minute"),
    PageRule("ministry", "/ministry", ("ministry.all", "ministry.own"), sensitive=True),
    PageRule("submission", "/submission/<submission_id>", ("ministry.all", "ministry.own"), sensitive=True),
    PageRule("alerts", "/alerts", ("alerts.view",), sensitive=True, cache="minute"),
    PageRule("alert", "/alert/<alert_id>", ("alerts.view",), sensitive=True, cache="minute"),
    PageRule("audit", "/audit", ("audit.view",), sensitive=True),
)}
# Not kept by the render cache: ministry (the upload form and a ministry's own history), submission (who may see
# which ministry is decided per user by observatory.submissions) and audit (it shows the audit log, which every
# view of a sensitive page changes and the data version leaves out).

PREFIX_PAGE: dict[str, str] = {
    "shell": "home", "ov": "overview", "kpi": "kpi", "area": "area", "muni": "municipality", "src": "sources",
    "min": "ministry", "sub": "submission", "al": "alerts", "alx": "alert", "aud": "audit",
}

# Dash's own page router: its outputs carry the page content, so the page is judged from the pathname
ROUTER_OUTPUTS = {"_pages_content", "_pages_store"}


def _pattern(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"<[a-z_]+>", "[^/]+", re.escape(path).replace(r"\<", "<").replace(r"\>", ">"))
                      + "/?$")


_PATTERNS = [(p.name, _pattern(p.path)) for p in PAGES.values()]


def page_for_path(path: str) -> str | None:
    """The page a URL path shows, or None when it is not a dashboard page."""
    path = path or "/"
    for name, pattern in _PATTERNS:
        if pattern.match(path):
            return name
    return None


def allowed(user: User | None, page: str) -> bool:
    """Whether the user may open the page (anonymous users may open none)."""
    rule = PAGES.get(page)
    return bool(rule and user and can_any(user, rule.any_of))


def _ids(entries: Any) -> Iterable[str]:
    if isinstance(entries, dict):
        entries = [entries]
    for entry in entries or []:
        if isinstance(entry, list):
            yield from _ids(entry)
        elif isinstance(entry, dict) and "id" in entry:
            ident = entry["id"]
            yield ident if isinstance(ident, str) else str(ident.get("type", "")) if isinstance(ident, dict) else ""


def callback_pages(body: dict[str, Any]) -> set[str] | None:
    """The pages a /_dash-update-component request touches; None when an output is unknown (deny).

    Dash's router callback is judged by the pathname it asks for.
    """
    outputs = list(_ids(body.get("outputs")))
    if not outputs:
        return None
    pages: set[str] = set()
    for ident in outputs:
        if ident in ROUTER_OUTPUTS:
            pathname = next((i.get("value") for i in body.get("inputs") or []
                             if isinstance(i, dict) and i.get("property") == "pathname"), None)
            page = page_for_path(str(pathname or "/"))
            pages.add(page or "home")
            continue
        page = PREFIX_PAGE.get(ident.split("-", 1)[0])
        if page is None:
            return None
        pages.add(page)
    return pages


# The JSON type each property our callbacks read is sent as by its component (None: not set yet). A value of
# another type is not from our page (the callbacks would fail on it: 500); a new property is added here.
PROPERTY_TYPES: dict[str, tuple[type, ...]] = {
    "pathname": (str,), "search": (str,),  # dcc.Location
    "value": (str,),  # dcc.Dropdown (single), dcc.Input (text, date, search), dcc.Textarea
    "n_clicks": (int,), "clickData": (dict,), "selected_row_ids": (list,),
}  # not dcc.Store's `data`: each store holds its own kind, and the callback reading it checks it


def _value_ok(entry: dict[str, Any]) -> bool:
    """An input/state value of the type its property is sent as; a router pathname is a path ('/...')."""
    value, prop = entry.get("value"), entry.get("property")
    if value is None:
        return prop != "pathname"  # Dash's router always sends the page's path
    types = PROPERTY_TYPES.get(str(prop))
    if types is not None and (isinstance(value, bool) or not isinstance(value, types)):
        return False
    return prop != "pathname" or value.startswith("/")


def _dependency_ok(sent: Any, declared: dict[str, Any]) -> bool:
    """One input/state entry of a callback request against its declaration (pattern ids send lists)."""
    if isinstance(sent, list):
        return all(isinstance(item, dict) and item.get("property") == declared.get("property") for item in sent)
    if not isinstance(sent, dict) or sent.get("property") != declared.get("property") or not _value_ok(sent):
        return False
    ident = declared.get("id")
    return sent.get("id") == ident if isinstance(ident, str) else isinstance(sent.get("id"), dict)


def _output_ok(entry: Any) -> bool:
    if isinstance(entry, list):  # a pattern-matching output (ALL): one entry per matched component
        return all(_output_ok(e) for e in entry)
    return (isinstance(entry, dict) and isinstance(entry.get("property"), str)
            and isinstance(entry.get("id"), str | dict))


def _output_key(outputs: Any) -> str | None:
    """The callback key Dash builds from a request's outputs (`id.prop`, or `..a.x...b.y..` for several), or None
    when an output has a pattern-matching id (not rebuilt here; Dash checks those against the callback itself)."""
    entries = outputs if isinstance(outputs, list) else [outputs]
    parts = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            return None
        parts.append(f"{entry['id']}.{entry.get('property')}")
    return ".." + "...".join(parts) + ".." if isinstance(outputs, list) else parts[0]


def well_formed_callback(body: Any, callback_map: dict[str, Any] | None = None) -> bool:
    """Whether a /_dash-update-component body has the shape Dash expects, checked before Dash reads it so that
    a malformed request is answered 400 instead of failing inside Dash (500). With the app's callback_map
    the output must name a registered callback and inputs/state must match its declaration."""
    if not isinstance(body, dict) or not isinstance(body.get("output"), str):
        return False
    outputs = body.get("outputs")
    entries = outputs if isinstance(outputs, list) else [outputs]
    if not entries or not all(_output_ok(e) for e in entries):
        return False
    multi = body["output"].startswith("..")  # several outputs: one entry each (a pattern output may be a list)
    if multi and (not isinstance(outputs, list) or len(entries) != body["output"].count("...") + 1):
        return False
    if _output_key(outputs) not in (None, body["output"]):  # the page is judged by `outputs`, Dash runs `output`
        return False
    for key in ("inputs", "state", "changedPropIds"):
        if key in body and not isinstance(body[key], list):
            return False
    if not all(isinstance(x, str) for x in body.get("changedPropIds") or []):
        return False
    if callback_map is None:
        return True
    declared = callback_map.get(body["output"])
    if declared is None or "callback" not in declared:  # a clientside callback has nothing to run on the server
        return False
    for key in ("inputs", "state"):
        sent, want = body.get(key) or [], declared.get(key) or []
        if len(sent) != len(want) or not all(_dependency_ok(s, w) for s, w in zip(sent, want, strict=True)):
            return False
    return True
