"""Users and roles: salted slow password hashes, sign-in with rate limiting, session payloads, permissions.

Passwords are stored as `scrypt$n=16384,r=8,p=1$<salt>$<hash>` (base64, per-user random salt), so the cost
parameters travel with the hash and can be raised later. Roles come from observatory.yaml
(`observatory.config.User`); what each role may do is the table `PERMISSIONS` below, checked on the server.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from observatory.config import Config, Role, User
from observatory.security.sessions import RevokedSessions

SCHEME = "scrypt"
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
KEY_BYTES = 32
MIN_PASSWORD_LENGTH = 10
ROLES: tuple[str, ...] = typing.get_args(Role)  # the declared list is config.Role

# What each role may do. cio: everything but alert evidence; ministry: its own ministry only;
# security: alerts and their evidence; admin: everything a cio may do, plus the audit log and users.
PERMISSIONS: dict[str, frozenset[str]] = {
    "cio": frozenset({"kpi.all", "area.view", "sources.view", "ministry.all", "alerts.view", "submission.all"}),
    "ministry": frozenset({"kpi.own", "ministry.own", "submission.own"}),
    "security": frozenset({"alerts.view", "alerts.evidence", "alerts.triage"}),
    "admin": frozenset({"kpi.all", "area.view", "sources.view", "ministry.all", "alerts.view",
                        "submission.all", "audit.view", "users.manage"}),
}


class PasswordError(ValueError):
    """A password that cannot be accepted (too short, empty); the message says why."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """A salted scrypt hash with its parameters encoded in the string (never store the password itself)."""
    if not password:
        raise PasswordError("the password is empty")
    salt = secrets.token_bytes(SALT_BYTES)
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=KEY_BYTES,
                         maxmem=256 * 1024 * 1024)
    return f"{SCHEME}$n={n},r={r},p={p}${_b64(salt)}${_b64(key)}"


def _parse(stored: str) -> tuple[dict[str, int], bytes, bytes] | None:
    try:
        scheme, params, salt, key = stored.split("$")
        if scheme != SCHEME:
            return None
        values = {k: int(v) for k, v in (item.split("=") for item in params.split(","))}
        if set(values) != {"n", "r", "p"}:
            return None
        return values, base64.b64decode(salt, validate=True), base64.b64decode(key, validate=True)
    except (ValueError, TypeError):
        return None


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches the stored hash; False for a wrong password or a malformed hash."""
    parsed = _parse(stored or "")
    if parsed is None or not password:
        return False
    params, salt, key = parsed
    if params["n"] > 2**20 or params["r"] > 32 or params["p"] > 16:
        return False  # refuse hashes that would exhaust memory or time
    candidate = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=params["n"], r=params["r"],
                               p=params["p"], dklen=len(key), maxmem=256 * 1024 * 1024)
    return hmac.compare_digest(candidate, key)


def password_problem(password: str) -> str | None:
    """Why a new password is not acceptable, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"the password must have at least {MIN_PASSWORD_LENGTH} characters"
    if password.strip() != password:
        return "the password must not start or end with spaces"
    return None


_DUMMY_HASH = hash_password("not-a-real-password-" + secrets.token_hex(8))


def roles_of(user: User) -> frozenset[str]:
    """The main role plus the extra roles of a user."""
    return frozenset([user.role, *user.roles])


def permissions_of(user: User | None) -> frozenset[str]:
    """Every permission the user's roles grant; nothing for anonymous or disabled users."""
    if user is None or user.disabled:
        return frozenset()
    out: set[str] = set()
    for role in roles_of(user):
        out |= PERMISSIONS.get(role, frozenset())
    return frozenset(out)


def can(user: User | None, permission: str) -> bool:
    """Whether the user holds one permission (see PERMISSIONS)."""
    return permission in permissions_of(user)


def can_any(user: User | None, permissions: Iterable[str]) -> bool:
    """Whether the user holds at least one of the permissions."""
    held = permissions_of(user)
    return any(p in held for p in permissions)


def can_see_ministry(user: User | None, ministry_code: str | None) -> bool:
    """A ministry user sees only their own ministry; cio and admin see every ministry."""
    if can(user, "ministry.all"):
        return True
    return bool(user and ministry_code and can(user, "ministry.own") and user.ministry == ministry_code)


@dataclass
class SignInLimiter:
    """Counts failed sign-ins per account key; locks that account (only) after too many failures."""

    max_failures: int = 5
    lockout_seconds: float = 15 * 60
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, list[float]] = field(default_factory=dict, repr=False)
    _locked_until: dict[str, float] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def retry_after(self, *keys: str) -> float:
        """Seconds until these keys may try again (0 when not locked)."""
        now = self.clock()
        with self._lock:
            return max([0.0] + [self._locked_until.get(k, 0.0) - now for k in keys])

    def failed(self, *keys: str) -> None:
        """Record one failed attempt against each key; lock keys that reach the limit."""
        now = self.clock()
        with self._lock:
            for key in keys:
                recent = [t for t in self._failures.get(key, []) if now - t < self.lockout_seconds]
                recent.append(now)
                self._failures[key] = recent
                if len(recent) >= self.max_failures:
                    self._locked_until[key] = now + self.lockout_seconds
                    self._failures[key] = []

    def succeeded(self, *keys: str) -> None:
        """Forget the failures of these keys after a successful sign-in."""
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
                self._locked_until.pop(key, None)


@dataclass
class AddressLimiter:
    """Failed sign-ins per client address in a sliding window: a rate limit that never locks other accounts'
    owners out for longer than the window, and sits well above what one person mistyping would reach."""

    max_failures: int = 50
    window_seconds: float = 15 * 60
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, list[float]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def retry_after(self, address: str) -> float:
        """Seconds until this address may try again (0 when under the limit)."""
        now = self.clock()
        with self._lock:
            recent = [t for t in self._failures.get(address, []) if now - t < self.window_seconds]
            self._failures[address] = recent
            if len(recent) < self.max_failures:
                return 0.0
            return recent[len(recent) - self.max_failures] + self.window_seconds - now

    def failed(self, address: str) -> None:
        with self._lock:
            self._failures.setdefault(address, []).append(self.clock())


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in attempt: the user, or a reason (bad_credentials | locked | disabled)."""

    user: User | None
    reason: str | None = None
    retry_after: float = 0.0


def authenticate(config: Config, username: str, password: str, *, limiter: SignInLimiter | None = None,
                 client: str = "", address_limiter: AddressLimiter | None = None) -> SignIn:
    """Check a username and password; constant work for unknown users. Failures count towards the lockout
    of that account (limiter) and, separately, towards the rate limit of the client address (address_limiter):
    many failures from one address slow that address down without locking anybody's account."""
    key = f"user:{username.strip().lower()}"
    if address_limiter is not None and client:
        wait = address_limiter.retry_after(client)
        if wait > 0:
            return SignIn(None, "rate_limited", wait)
    if limiter is not None:
        wait = limiter.retry_after(key)
        if wait > 0:
            return SignIn(None, "locked", wait)
    user = config.user(username.strip())
    ok = verify_password(password, user.password_hash if user else _DUMMY_HASH)
    if not ok or user is None:
        if limiter is not None:
            limiter.failed(key)
        if address_limiter is not None and client:
            address_limiter.failed(client)
        return SignIn(None, "bad_credentials")
    if user.disabled:
        return SignIn(None, "disabled")
    if limiter is not None:
        limiter.succeeded(key)
    return SignIn(user)


def _fingerprint(user: User) -> str:
    """Changes whenever the password changes, so that old sessions stop working."""
    return hashlib.sha256(user.password_hash.encode("utf-8")).hexdigest()[:16]


def session_payload(user: User) -> dict[str, typing.Any]:
    """What the signed session cookie holds: the username, a fingerprint of the password hash, a random
    session id (what sign-out revokes on the server) and when the user signed in (the absolute lifetime)."""
    return {"u": user.username, "f": _fingerprint(user), "s": secrets.token_urlsafe(18), "t": int(time.time())}


def user_from_session(config: Config, payload: dict | None, revoked: RevokedSessions | None = None,
                      max_age_s: float | None = None) -> User | None:
    """The signed-in user of a session, or None if unknown, disabled, the password changed since, the
    session was signed out (revoked: then a session without an id is refused too) or, with `max_age_s`, the
    sign-in is older than that (the cookie is re-signed on every request, so its own age never runs out)."""
    if not payload or not isinstance(payload, dict):
        return None
    if max_age_s is not None:
        signed_in = payload.get("t")
        if not isinstance(signed_in, int) or not 0 <= time.time() - signed_in <= max_age_s:
            return None
    if revoked is not None:
        sid = payload.get("s")
        if not isinstance(sid, str) or not sid or revoked.is_revoked(sid):
            return None
    user = config.user(str(payload.get("u", "")))
    if user is None or user.disabled or not user.password_hash:
        return None
    if not hmac.compare_digest(str(payload.get("f", "")), _fingerprint(user)):
        return None
    return user
