"""The frame around every page (navigation by role, language switch) and the guard of page layouts.

`guarded(page)` wraps a page's layout: it re-checks the role on the server, opens one short DB cursor,
writes the audit entry for sensitive pages, lets the render cache capture a render it keeps (dashboards.cache)
and turns errors into messages (never a traceback).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import dash
from dash import dcc, html

from dashboards import access, cache, ids
from dashboards.components import denied, message
from dashboards.context import audit_view, connect, current_lang, current_user, role_names
from dashboards.i18n import normalise_lang, t
from observatory.config import User
from observatory.errors import NotFound, PermissionDenied, UserError
from observatory.warehouse import transaction

log = logging.getLogger(__name__)

NAV = (("overview", "/overview", "nav.overview"), ("area", "/area", "nav.area"),
       ("sources", "/sources", "nav.sources"), ("ministry", "/ministry", "nav.ministry"),
       ("alerts", "/alerts", "nav.alerts"), ("audit", "/audit", "nav.audit"))

PageFn = Callable[..., Any]


def guarded(page: str) -> Callable[[PageFn], Callable[..., Any]]:
    """Decorate `fn(con, user, lang, **url_params)` into a Dash page layout that checks the role first."""

    def wrap(fn: PageFn) -> Callable[..., Any]:
        @functools.wraps(fn)
        def layout(**params: Any) -> Any:
            asked = params.pop("lang", None)  # the page's own URL decides first: the session cookie may lag
            if isinstance(asked, list | tuple):  # ?lang=ja&lang=en: the last one, as a link that appends it means
                asked = asked[-1] if asked else None
            lang = normalise_lang(asked) if asked else current_lang()
            user = current_user()
            try:
                with connect() as con:
                    if not access.allowed(user, page):
                        audit_view(con, f"dashboard.{page}.view", outcome="denied", detail=_brief(params))
                        return denied(lang, user)
                    _one_value_each(params)
                    found = cache.pending(page)
                    if found is not None and user is not None:  # a render the cache keeps, audit entries too
                        with cache.capture(con, found, user.username):
                            if access.PAGES[page].sensitive:
                                audit_view(con, f"dashboard.{page}.view", detail=_brief(params))
                            result = fn(con, user, lang, **params)
                        return result
                    if access.PAGES[page].sensitive:  # one commit for the page's audit entries
                        with transaction(con):
                            audit_view(con, f"dashboard.{page}.view", detail=_brief(params))
                            return fn(con, user, lang, **params)
                    return fn(con, user, lang, **params)
            except PermissionDenied as exc:
                with connect() as con:
                    audit_view(con, f"dashboard.{page}.view", outcome="denied", detail={"reason": str(exc)})
                return html.Div([denied(lang, user), message(str(exc), "error")])
            except NotFound as exc:
                if access.PAGES[page].sensitive:  # a look for a record that is not there is a look: enumerating
                    with connect() as con:      # alert numbers leaves a trace (the page's own entry rolled back)
                        audit_view(con, f"dashboard.{page}.view", outcome="not_found",
                                   detail={**_brief(params), "reason": str(exc)[:200]})
                return html.Div([html.H1(t("notfound", lang)), message(str(exc), "error")])
            except UserError as exc:
                return message(str(exc), "error")
            except Exception:  # noqa: BLE001 - a page never shows a traceback; the log has it
                log.exception("page %s failed", page)
                return message("internal error / 内部エラー (see the server log)", "error")

        return layout

    return wrap


def _one_value_each(params: dict[str, Any]) -> None:
    """Refuse a URL parameter given more than once (Dash hands it to the page as a list): every page reads one
    value per parameter, and which of two filters was meant is not for the server to guess."""
    repeated = sorted(k for k, v in params.items() if isinstance(v, list | tuple))
    if repeated:
        names = ", ".join(repeated)
        raise UserError(f"URL のパラメータ {names} が複数指定されています / the URL parameter {names} is given "
                        "more than once")


def _brief(params: dict[str, Any]) -> dict[str, str]:
    return {k: str(v)[:80] for k, v in params.items()}


def nav(user: User | None, lang: str) -> html.Header:
    """The header: links to the pages this user may open, language switch, user and sign-out."""
    links = [dcc.Link(t(key, lang), href=href, className="nav-link") for page, href, key in NAV
             if access.allowed(user, page)]
    right = [html.A(t("nav.lang", lang), href=f"/lang/{'en' if lang == 'ja' else 'ja'}", id="lang-switch",
                    lang="en" if lang == "ja" else "ja")]
    if user is not None:
        right.append(html.Span(f"{user.display_name or user.username} ({', '.join(role_names(user))}"
                               f"{' ' + user.ministry if user.ministry else ''})", className="who"))
        right.append(html.Form(html.Button(t("nav.signout", lang), type="submit", id="signout", className="link"),
                               method="POST", action="/logout", className="signout"))
    return html.Header([
        html.A("本文へ移動 / Skip to content", href="#main", className="skip"),
        dcc.Link(t("app.title", lang), href="/", className="brand"),
        html.Nav(links, **{"aria-label": "main"}), html.Div(right, className="right"),
    ], id=ids.SHELL_NAV, className="top")


def shell_layout() -> html.Div:
    """The app layout: header plus Dash's page container (a function: evaluated per request, per user)."""
    lang = current_lang()
    return html.Div([nav(current_user(), lang), html.Main(dash.page_container, id="main")], lang=lang)

