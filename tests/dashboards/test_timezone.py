"""The dashboards judge "today" in the workspace's configured time zone (config.timezone), not a fixed one:
the day statuses are judged on and the day a day-long cached page is kept for."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import flask
import pytest

from dashboards import cache, i18n, views
from dashboards.app import create_app
from dashboards.context import PINNED_NOW
from observatory.workspace import load_workspace

# 2026-12-01 12:00 UTC: already 2 December at UTC+14 (Kiritimati), still 1 December at UTC-11 (Pago Pago)
INSTANT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _with_zone(workspace, zone: str):
    cfg = workspace.home / "observatory.yaml"
    text, n = re.subn(r"(?m)^timezone: .*$", f"timezone: {zone}", cfg.read_text(encoding="utf-8"))
    assert n == 1
    cfg.write_text(text, encoding="utf-8")
    return load_workspace(workspace.home)


@pytest.mark.parametrize(("zone", "day"), [("Pacific/Kiritimati", 2), ("Pacific/Pago_Pago", 1), ("Asia/Tokyo", 1)])
def test_today_follows_the_configured_zone(workspace, zone: str, day: int) -> None:
    ws = _with_zone(workspace, zone)
    app = create_app(ws)
    with app.server.test_request_context("/"):
        setattr(flask.g, PINNED_NOW, INSTANT)
        assert views.today(ws) == INSTANT.date().replace(day=day)


def test_a_day_long_cache_clock_starts_at_local_midnight_of_the_zone() -> None:
    at = INSTANT.timestamp()
    assert cache.clock_start("day", at, "Pacific/Kiritimati") == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert cache.clock_start("day", at, "Asia/Tokyo") == datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    assert cache.clock_start("day", at) == cache.clock_start("day", at, "Asia/Tokyo")


def test_stored_instants_are_shown_in_the_configured_zone(workspace) -> None:
    stamp = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert i18n.format_datetime(stamp, "en") == "1 Dec 2026 21:00 JST"  # outside a request: Japan
    ws = _with_zone(workspace, "Pacific/Kiritimati")
    app = create_app(ws)
    with app.server.test_request_context("/"):
        app.server.preprocess_request()  # the before_request hooks, as for every request
        assert i18n.format_datetime(stamp, "en") == "2 Dec 2026 02:00 +14"
        assert i18n.format_datetime(stamp, "ja") == "2026年12月2日 02:00"
    assert i18n.format_datetime(stamp, "en") == "1 Dec 2026 21:00 JST"  # the request's zone ends with it
