"""run_source over HTTP against a real server on 127.0.0.1: conditional GET, retries, faults recorded as runs."""

from __future__ import annotations

import socket

import collectors
from observatory.config import Source
from tests.collectors.conftest import Reply, csv_bytes, query, run_row
from tests.collectors.test_usage_rates import HEADER, ROWS

BODY = csv_bytes([HEADER, *ROWS])


def _source(url: str, **kw) -> Source:
    return Source(name="usage", kind="usage-rates", url=url, timeout_s=kw.pop("timeout_s", 2.0),
                  retries=kw.pop("retries", 2), **kw)


def _count(ws) -> int:
    return query(ws, "SELECT count(*) FROM procedure_usage")[0][0]


def test_fetch_load_then_conditional_get_gives_not_modified(workspace, http_server) -> None:
    http_server.routes["/usage.csv"] = [Reply(200, BODY, {"ETag": '"v1"', "Last-Modified": "Wed, 01 Apr 2026 00:00:00 GMT"})]
    src = _source(http_server.url("/usage.csv"))
    first = collectors.run_source(workspace, src, backoff_s=0.01)
    assert first.status == "ok" and first.rows_loaded == 3, first.error
    assert query(workspace, "SELECT etag, last_modified FROM http_cache") == [
        ('"v1"', "Wed, 01 Apr 2026 00:00:00 GMT")]
    assert query(workspace, "SELECT origin, source FROM archived_files") == [(src.url, "usage")]
    http_server.routes["/usage.csv"] = [Reply(304)]
    second = collectors.run_source(workspace, src, backoff_s=0.01)
    assert second.status == "not_modified" and second.rows_loaded == 0
    _, headers = http_server.requests[-1]
    assert headers.get("If-None-Match") == '"v1"'
    assert headers.get("If-Modified-Since") == "Wed, 01 Apr 2026 00:00:00 GMT"
    assert run_row(workspace, second.run_id)["status"] == "not_modified"


def test_same_bytes_without_validators_are_not_modified(workspace, http_server) -> None:
    http_server.routes["/u.csv"] = [Reply(200, BODY)]
    src = _source(http_server.url("/u.csv"))
    assert collectors.run_source(workspace, src, backoff_s=0.01).status == "ok"
    assert collectors.run_source(workspace, src, backoff_s=0.01).status == "not_modified"
    assert _count(workspace) == 3


def test_server_error_is_retried_with_backoff_then_succeeds(workspace, http_server) -> None:
    http_server.routes["/u.csv"] = [Reply(500), Reply(503), Reply(200, BODY)]
    result = collectors.run_source(workspace, _source(http_server.url("/u.csv")), backoff_s=0.01)
    assert result.status == "ok" and result.detail["http_attempts"] == 3
    assert http_server.hits("/u.csv") == 3


def test_persistent_http_500_fails_the_run(workspace, http_server) -> None:
    http_server.routes["/u.csv"] = [Reply(500)]
    result = collectors.run_source(workspace, _source(http_server.url("/u.csv"), retries=2), backoff_s=0.01)
    assert result.status == "failed" and "HTTP 500" in result.error and "after 3 attempts" in result.error
    assert http_server.hits("/u.csv") == 3 and _count(workspace) == 0
    assert run_row(workspace, result.run_id)["error"] == result.error


def test_not_found_is_not_retried(workspace, http_server) -> None:
    result = collectors.run_source(workspace, _source(http_server.url("/missing.csv")), backoff_s=0.01)
    assert result.status == "failed" and "HTTP 404" in result.error and http_server.hits("/missing.csv") == 1


def test_timeout_fails_the_run(workspace, http_server) -> None:
    http_server.routes["/slow.csv"] = [Reply(200, BODY, delay_s=1.0)]
    result = collectors.run_source(workspace, _source(http_server.url("/slow.csv"), timeout_s=0.2, retries=1),
                                   backoff_s=0.01)
    assert result.status == "failed" and "timed out" in result.error and _count(workspace) == 0


def test_connection_refused_fails_the_run(workspace) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    result = collectors.run_source(workspace, _source(f"http://127.0.0.1:{port}/u.csv", retries=1), backoff_s=0.01)
    assert result.status == "failed" and "ConnectError" in result.error
    assert run_row(workspace, result.run_id)["status"] == "failed"


def test_truncated_body_is_never_loaded(workspace, http_server) -> None:
    http_server.routes["/t.csv"] = [Reply(200, BODY[: len(BODY) // 2], declared_length=len(BODY))]
    result = collectors.run_source(workspace, _source(http_server.url("/t.csv"), retries=1), backoff_s=0.01)
    assert result.status == "failed" and _count(workspace) == 0
    assert "connection broken" in result.error or "truncated" in result.error
    assert query(workspace, "SELECT count(*) FROM http_cache")[0][0] == 0


def test_failed_load_is_fetched_again_next_time(workspace, http_server) -> None:
    bad = csv_bytes([HEADER, ["MOJ", "X", "x", "f", "2026-04", "oops", "1", "1"]])
    http_server.routes["/u.csv"] = [Reply(200, bad, {"ETag": '"bad"'}), Reply(200, BODY, {"ETag": '"good"'})]
    src = _source(http_server.url("/u.csv"))
    failed = collectors.run_source(workspace, src, backoff_s=0.01)
    assert failed.status == "failed" and "u.csv: row 2, column cases_total" in failed.error
    ok = collectors.run_source(workspace, src, backoff_s=0.01)
    assert ok.status == "ok" and _count(workspace) == 3
    assert "If-None-Match" not in http_server.requests[-1][1]  # the failed version was not remembered


def test_disabled_source_is_skipped(workspace, http_server) -> None:
    result = collectors.run_source(workspace, _source(http_server.url("/u.csv"), enabled=False))
    assert result.status == "skipped" and http_server.requests == []


def test_xlsx_behind_a_url_without_suffix_is_sniffed(workspace, http_server) -> None:
    from tests.collectors.conftest import xlsx_bytes
    from tests.collectors.test_card_issuance import _published_rows

    http_server.routes["/download?id=42"] = [Reply(200, xlsx_bytes(_published_rows(), sheet="公表用"))]
    src = Source(name="cards", kind="card-issuance", url=http_server.url("/download?id=42"), retries=0)
    result = collectors.run_source(workspace, src, backoff_s=0.01)
    assert result.status == "ok", result.error
    assert result.rows_loaded == 5 and result.detail["files"][0]["format"] == "xlsx"
