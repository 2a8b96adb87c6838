"""Who may submit and who may read submissions.

A ministry user submits only for KPIs their ministry owns or is listed for (`submission.submitters`) and sees
only their ministry's submissions; the CIO team (role cio or admin) may submit on behalf of an eligible ministry
and sees all. Any other role may do neither. Both the CLI and the dashboard go through these functions.
"""

from __future__ import annotations

from observatory.config import User
from observatory.errors import PermissionDenied
from observatory.submissions.catalogue import SubmittableKpi, submitters
from observatory.workspace import Workspace

ALL_SEEING = ("cio", "admin")


def acting_user(ws: Workspace, user: str | User, role: str | None = None) -> User:
    """The configured user acting in `role` (default: their main role); PermissionDenied when not allowed."""
    name = username_of(user)
    found = ws.config.user(name)
    if found is None:
        raise PermissionDenied(f"unknown user {name!r} (not in observatory.yaml) / 登録されていない利用者です")
    if found.disabled:
        raise PermissionDenied(f"user {name!r} is disabled / 利用停止中の利用者です")
    if role is not None and not found.has(role):
        raise PermissionDenied(f"user {name!r} does not have role {role!r} / 権限 {role} がありません")
    return found


def username_of(user: object) -> str:
    """The user name of a User (or any object with `username`), or the string itself."""
    return str(getattr(user, "username", None) or user)


def acting_role(user: User, role: str | None) -> str:
    """The role a request runs under: the one asked for, else the user's main role."""
    return role or user.role


def submit_problem(user: User, role: str, kpi: SubmittableKpi, ministry_code: str) -> str | None:
    """Why `user` acting as `role` may not submit `kpi` for `ministry_code`, or None when they may."""
    allowed = submitters(kpi)
    if ministry_code not in allowed:
        return (f"ministry {ministry_code} does not submit KPI {kpi.id} (submitters: {', '.join(allowed)}) / "
                f"{ministry_code} はこのKPIの提出府省ではありません")
    if role in ALL_SEEING and user.has(role):
        return None
    if role == "ministry" and user.has("ministry"):
        if user.ministry != ministry_code:
            return (f"user {user.username} belongs to {user.ministry}, not {ministry_code} / "
                    f"{user.username} は {user.ministry} の利用者です（{ministry_code} として提出できません）")
        return None
    return f"role {role} may not submit data / 権限 {role} では提出できません"


def visible_ministry(user: User, role: str | None = None) -> str | None:
    """None when the user sees every ministry's submissions, else the one ministry code they see."""
    role = acting_role(user, role)
    if getattr(user, "disabled", False):
        raise PermissionDenied(f"user {user.username!r} is disabled / 利用停止中の利用者です")
    if role in ALL_SEEING and user.has(role):
        return None
    if role == "ministry" and user.has("ministry") and user.ministry:
        return user.ministry
    raise PermissionDenied(f"role {role} may not read submissions / 権限 {role} では提出データを閲覧できません")
