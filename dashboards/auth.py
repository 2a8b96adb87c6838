"""Sign-in, sign-out, the language switch and the guard that checks roles on EVERY request.

The guard runs before Flask dispatches anything: a path that is not in normal form (`..`, `//`, control
characters) is refused with 400 before it is matched; static assets and the public site are open; every other
URL needs a signed-in user; a state-changing request (POST...) from another origin is refused; dashboard pages need the page's permission (access.PAGES); Dash callbacks
are mapped from their output ids to the page they belong to and refused (403, audited) when the user may
not use that page. Layout functions check again (defence in depth) and data functions enforce scope.
"""

from __future__ import annotations

import json
import secrets
import time
import unicodedata
from datetime import timedelta
from html import escape
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import flask
from flask.sessions import SecureCookieSessionInterface

from dashboards import access
from dashboards.context import (
    WS_KEY,
    audit_view,
    client_address,
    connect,
    current_lang,
    current_user,
    current_ws,
    in_networks,
    over_https,
)
from dashboards.i18n import normalise_lang, t
from dashboards.shell import NAV
from observatory.security import audit
from observatory.security.sessions import RevokedSessions
from observatory.security.users import (
    AddressLimiter,
    SignInLimiter,
    authenticate,
    session_payload,
    user_from_session,
)
from observatory.workspace import load_workspace

OPEN_PATHS = frozenset({"/login", "/logout", "/healthz", "/_favicon.ico", "/favicon.ico"})
SIGN_IN_PATHS = frozenset({"/login", "/logout"})
OPEN_PREFIXES = ("/_dash-component-suites/", "/assets/", "/lang/")
PUBLIC_ROOTS = ("/public", "/api/public")
SESSION_KEY = "auth"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Dash renders Plotly charts, which set inline styles; scripts only from this origin plus the hashes of
# Dash's own inline scripts (added per response).
CSP = ("default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
       "frame-ancestors 'none'")


def _safe_next(target: str | None) -> str:
    """`target` when it is a path on this site, else '/': no scheme, no host, no `//` or `/\\` (which browsers
    read as another host), no whitespace or control characters (browsers drop tabs: `/\t/evil` is `//evil`)."""
    if not target or not target.startswith("/") or len(target) > 2000:
        return "/"
    if any(c.isspace() or unicodedata.category(c)[0] in "CZ" for c in target):
        return "/"
    if target.startswith(("//", "/\\")) or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    # dot segments (also written %2e, which browsers read as '.') could fold `/.//evil` into `//evil`
    if any(seg in (".", "..") for seg in unquote(parts.path).split("/")):
        return "/"
    return target


def _is_open(path: str) -> bool:
    """Paths anyone may request: exact names, or under a directory prefix (`/loginfoo` is not `/login`)."""
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def _is_public(path: str) -> bool:
    return any(path == root or path.startswith(root + "/") for root in PUBLIC_ROOTS)


def malformed_path(path: str) -> bool:
    """A path that is not in normal form: dot segments, empty segments, backslashes, control characters,
    or undecodable bytes. Such a path is refused before matching, so that the guard and the router can
    never read it differently (`/login/../audit`)."""
    if not path.startswith("/") or "\\" in path or "\ufffd" in path or len(path) > 2048:
        return True
    if any(unicodedata.category(c) == "Cc" for c in path):
        return True
    segments = path[1:].split("/")
    inner = segments[:-1]  # a trailing slash is allowed
    return any(seg in (".", "..") for seg in segments) or any(seg == "" for seg in inner)


def _same_origin() -> bool:
    """A state-changing request must come from this site: its Origin (or, lacking one, its Referer) names
    this host. Browsers send Origin with every cross-site POST; a request with neither header is not a
    browser acting for a signed-in user, so it is let through to the usual checks (session, CSRF token)."""
    source = flask.request.headers.get("Origin") or flask.request.headers.get("Referer")
    if source is None:
        return True
    if source == "null":
        return False
    parts = urlsplit(source)
    return parts.scheme in ("http", "https") and parts.netloc.lower() in _own_hosts()


def _own_hosts() -> set[str]:
    """The Host this request was sent to; behind a configured proxy also the host the proxy was asked for."""
    hosts = {flask.request.host.lower()}
    trusted = flask.current_app.config[WS_KEY].config.security.trusted_proxies
    forwarded = flask.request.headers.get("X-Forwarded-Host")
    if forwarded and trusted and in_networks(flask.request.remote_addr or "", trusted):
        hosts.add(forwarded.split(",")[0].strip().lower())
    return hosts


def _refresh_config(app: flask.Flask) -> None:
    """Pick up `observatory users ...` changes (disabled users, new passwords) without a restart."""
    ws = app.config[WS_KEY]
    try:
        stamp = ws.config_path.stat().st_mtime_ns
    except OSError:
        return
    if app.config.get("OBSERVATORY_CONFIG_STAMP") != stamp:
        if app.config.get("OBSERVATORY_CONFIG_STAMP") is not None:
            ws.config = load_workspace(ws.home).config
        app.config["OBSERVATORY_CONFIG_STAMP"] = stamp


def _page_html(title: str, body: str, lang: str, status: int = 200) -> flask.Response:
    html = (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
            '<link rel="stylesheet" href="/assets/observatory.css"></head>'
            f'<body><main class="signin" id="main">{body}</main></body></html>')
    resp = flask.make_response(html, status)
    resp.headers["Content-Type"] = "text/html; charset=utf-8"
    return resp


def _denied_response(page: str | None) -> flask.Response:
    """403 for a page the user may not open, with the navigation and the pages they may open (no dead end,
    like components.denied inside the app)."""
    lang = current_lang()
    user = current_user()
    with connect() as con:
        audit_view(con, "dashboard.denied", target=page or flask.request.path, outcome="denied",
                   detail={"path": flask.request.path})
    links = [(href, t(key, lang)) for name, href, key in NAV if access.allowed(user, name)]
    nav = "".join(f'<a href="{href}">{escape(label)}</a> ' for href, label in links)
    offer = (f"<p>{escape(t('denied.offer', lang))}</p><ul class=\"home-links\">"
             + "".join(f'<li><a href="{href}">{escape(label)}</a></li>' for href, label in links) + "</ul>"
             if links else "")
    body = (f'<nav aria-label="main"><a href="/">{escape(t("app.title", lang))}</a> {nav}</nav>'
            f"<h1>{escape(t('denied.title', lang))}</h1><p>{escape(t('denied.body', lang))}</p>{offer}"
            f'<p><a href="/">{escape(t("nav.home", lang))}</a></p>')
    return _page_html(t("denied.title", lang), body, lang, 403)


def guard() -> flask.Response | None:
    """before_request: identify the user, then allow or refuse the request."""
    app = flask.current_app
    _refresh_config(app)
    ws = app.config[WS_KEY]
    path = flask.request.path
    if malformed_path(path):
        return _plain(400, "malformed path / 不正なパスです")
    if flask.request.method in UNSAFE_METHODS and not _same_origin():
        return _plain(403, "cross-origin request refused / 他のサイトからの要求は受け付けません")
    flask.g.user = user_from_session(ws.config, flask.session.get(SESSION_KEY), app.config["OBSERVATORY_REVOKED"],
                                     max_age_s=app.permanent_session_lifetime.total_seconds())
    if _is_open(path) or (app.config.get("OBSERVATORY_PUBLIC") and _is_public(path)):
        return None
    user = current_user()
    if path == "/_dash-update-component":
        if user is None:
            return flask.make_response(flask.jsonify(error="sign in required"), 401)
        try:
            body = json.loads(flask.request.get_data(cache=True) or b"{}")
        except (ValueError, RecursionError):
            body = None
        if not access.well_formed_callback(body):
            return flask.make_response(flask.jsonify(error="malformed callback request"), 400)
        flask.g.callback_body = body  # read once: the render cache (dashboards.cache) keys on it
        pages = access.callback_pages(body)
        if pages is None or not all(access.allowed(user, p) for p in pages):
            with connect() as con:
                audit_view(con, "dashboard.callback", target=",".join(sorted(pages or [])) or "unknown",
                           outcome="denied", detail={"output": str(body.get("output"))[:200]})
            return flask.make_response(flask.jsonify(error="forbidden"), 403)
        if not access.well_formed_callback(body, app.config.get("OBSERVATORY_CALLBACKS")):
            return flask.make_response(flask.jsonify(error="malformed callback request"), 400)
        return None
    if user is None:
        if path.startswith("/_dash") or path.startswith("/download/"):
            return flask.make_response(flask.jsonify(error="sign in required"), 401)
        if path == "/" and app.config.get("OBSERVATORY_PUBLIC"):
            return flask.redirect("/public/")
        return flask.redirect("/login?next=" + _quote(flask.request.full_path.rstrip("?")))
    page = access.page_for_path(path)
    if page is not None and not access.allowed(user, page):
        return _denied_response(page)
    if flask.request.method == "GET" and "lang" in flask.request.args:
        flask.session["lang"] = normalise_lang(flask.request.args.get("lang"))
    return None


def _plain(status: int, text: str) -> flask.Response:
    resp = flask.make_response(text + "\n", status)
    resp.headers["Content-Type"] = "text/plain; charset=utf-8"
    return resp


HSTS_SECONDS = 365 * 24 * 3600  # a year, as the public site's host would set it


def security_headers(resp: flask.Response, script_hashes: list[str] | None = None) -> flask.Response:
    """after_request: the headers every response carries (set only where a blueprint has not set its own)."""
    hashes = "".join(" " + h for h in script_hashes or [])
    resp.headers.setdefault("Content-Security-Policy", CSP.format(hashes=hashes))
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    if over_https():  # a browser that reached us over HTTPS never tries plain HTTP again (not sent over HTTP: ignored)
        resp.headers.setdefault("Strict-Transport-Security", f"max-age={HSTS_SECONDS}")
    path = flask.request.path if flask.has_request_context() else None
    if path is not None and (path in SIGN_IN_PATHS or not (_is_open(path) or _is_public(path))):
        # what a role sees is kept by no browser or proxy, nor a sign-in form with its session's CSRF token
        resp.headers.setdefault("Cache-Control", "no-store")
    return resp


def _quote(text: str) -> str:
    return quote(text, safe="")


def _signin_form(lang: str, error: str = "", next_url: str = "/") -> flask.Response:
    token = secrets.token_urlsafe(16)
    flask.session["csrf"] = token
    other = "en" if lang == "ja" else "ja"
    public = '<p><a href="/public/">' + escape(t("nav.public", lang)) + "</a></p>" \
        if flask.current_app.config.get("OBSERVATORY_PUBLIC") else ""
    err = f'<p class="notice notice-error" role="alert">{escape(error)}</p>' if error else ""
    body = (f"<h1>{escape(t('app.title', lang))}</h1><h2>{escape(t('signin.title', lang))}</h2>{err}"
            '<form method="post" action="/login">'
            f'<input type="hidden" name="csrf" value="{token}"><input type="hidden" name="next" '
            f'value="{escape(next_url)}"><input type="hidden" name="lang" value="{lang}">'
            f'<p><label for="username">{escape(t("signin.username", lang))}</label>'
            '<input id="username" name="username" autocomplete="username" required></p>'
            f'<p><label for="password">{escape(t("signin.password", lang))}</label>'
            '<input id="password" name="password" type="password" autocomplete="current-password" required></p>'
            f'<p><button type="submit" id="signin">{escape(t("signin.submit", lang))}</button></p></form>'
            f'<p><a href="/login?lang={other}&amp;next={escape(_quote(next_url))}">{escape(t("nav.lang", lang))}</a></p>'
            f"{public}")
    return _page_html(t("signin.title", lang), body, lang, 401 if error else 200)


def register(app: flask.Flask) -> None:
    """Add the guard and the sign-in routes to the Flask server of the Dash app."""
    ws = app.config[WS_KEY]
    settings = ws.config.security
    limiter = SignInLimiter(max_failures=settings.max_failed_logins, lockout_seconds=settings.lockout_minutes * 60)
    address_limiter = AddressLimiter(max_failures=settings.max_failures_per_address,
                                     window_seconds=settings.address_window_minutes * 60)
    app.config["OBSERVATORY_LIMITER"] = limiter
    app.config["OBSERVATORY_ADDRESS_LIMITER"] = address_limiter
    app.config["OBSERVATORY_REVOKED"] = RevokedSessions(revocation_path(ws.home))
    app.before_request(guard)
    app.add_url_rule("/login", view_func=login, methods=["GET", "POST"])
    app.add_url_rule("/logout", view_func=logout, methods=["GET", "POST"])
    app.add_url_rule("/lang/<lang>", view_func=switch_language)
    app.add_url_rule("/healthz", view_func=healthz)


def login() -> flask.Response:
    """The sign-in form (GET) and a sign-in (POST): CSRF token checked, failures limited per user and per
    address, every attempt audited."""
    ws = current_ws()
    limiter = flask.current_app.config["OBSERVATORY_LIMITER"]
    address_limiter = flask.current_app.config["OBSERVATORY_ADDRESS_LIMITER"]
    lang = normalise_lang(flask.request.values.get("lang") or flask.session.get("lang"))
    flask.session["lang"] = lang
    next_url = _safe_next(flask.request.values.get("next"))
    if flask.request.method == "GET":
        return _signin_form(lang, next_url=next_url)
    sent = flask.request.form.get("csrf", "")
    expected = flask.session.pop("csrf", None)
    if not expected or not secrets.compare_digest(sent, expected):
        return _signin_form(lang, t("signin.bad", lang), next_url)
    username = flask.request.form.get("username", "")[:100]
    result = authenticate(ws.config, username, flask.request.form.get("password", "")[:1000],
                          limiter=limiter, client=client_address(), address_limiter=address_limiter)
    with connect() as con:
        audit.record(con, actor=username or "-", role=result.user.role if result.user else None,
                     action="signin", outcome="ok" if result.user else "failed",
                     detail={"reason": result.reason}, client=client_address())
    if result.user is None:
        if result.reason in ("locked", "rate_limited"):
            msg = t("signin.locked", lang, minutes=max(1, round(result.retry_after / 60)))
            resp = _signin_form(lang, msg, next_url)
            resp.status_code = 429
            resp.headers["Retry-After"] = str(int(result.retry_after) + 1)
            return resp
        return _signin_form(lang, t("signin.disabled" if result.reason == "disabled" else "signin.bad", lang),
                            next_url)
    flask.session.clear()
    flask.session.permanent = True
    flask.session[SESSION_KEY] = session_payload(result.user)
    flask.session["lang"] = lang
    return flask.redirect(next_url)

def logout() -> flask.Response:
    """GET shows a sign-out button (a link or an image must not sign anybody out); POST signs out and
    revokes the session on the server, so that a copy of the cookie no longer works either."""
    lang = normalise_lang(flask.session.get("lang"))
    if flask.request.method == "GET":
        body = (f"<h1>{escape(t('nav.signout', lang))}</h1>"
                f'<form method="post" action="/logout"><button type="submit" id="signout-confirm">'
                f"{escape(t('nav.signout', lang))}</button></form>")
        return _page_html(t("nav.signout", lang), body, lang)
    user = current_user()
    payload = flask.session.get(SESSION_KEY)
    if isinstance(payload, dict) and isinstance(payload.get("s"), str):
        lifetime = flask.current_app.permanent_session_lifetime.total_seconds()
        flask.current_app.config["OBSERVATORY_REVOKED"].revoke(payload["s"], time.time() + lifetime)
    if user is not None:
        with connect() as con:
            audit_view(con, "signout")
    flask.session.clear()
    flask.session["lang"] = lang
    return flask.redirect("/login")

def switch_language(lang: str) -> flask.Response:
    """Remember the language chosen and go back to the page it was chosen on (only within this site)."""
    flask.session["lang"] = normalise_lang(lang)
    ref = flask.request.referrer or "/"
    host = flask.request.host_url.rstrip("/")
    target = ref[len(host):] if ref.startswith(host) else "/"
    return flask.redirect(_safe_next(target))

def healthz() -> flask.Response:
    """Liveness for a load balancer: answers without sign-in or the warehouse."""
    return flask.jsonify(ok=True)


def revocation_path(home: Path) -> Path:
    """Where the signed-out session ids of a workspace are kept."""
    return Path(home) / "state" / "revoked-sessions"


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, marked Secure on every request that came over HTTPS (context.over_https),
    and on all requests when the deployment says so (OBSERVATORY_SECURE_COOKIES=1)."""

    def get_cookie_secure(self, app: flask.Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or over_https()


def configure_session(app: flask.Flask, secret: str, *, secure: bool = False) -> None:
    """Signed session cookie: HttpOnly, SameSite=Lax, Secure over HTTPS, 8-hour lifetime, secret from the
    environment."""
    app.secret_key = secret
    app.session_interface = SessionInterface()
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=secure,
                      SESSION_COOKIE_NAME="observatory_session", PERMANENT_SESSION_LIFETIME=timedelta(hours=8))
