"""run_source over HTTP against a real server on 127.0.0.1: conditional GET, retries, faults recorded as runs."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import socket
import threading
import time
import zlib

import collectors
from collectors import sources
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


# ------------------------------------------------------------------------------ hostile and broken servers


def _archived(ws) -> int:
    return query(ws, "SELECT count(*) FROM archived_files")[0][0]


def test_a_body_over_the_limit_is_refused_with_or_without_content_length(workspace, http_server,
                                                                         monkeypatch) -> None:
    monkeypatch.setattr(sources, "MAX_FETCH_BYTES", len(BODY) - 1)
    http_server.routes["/told.csv"] = [Reply(200, BODY)]
    http_server.routes["/untold.csv"] = [Reply(200, BODY, declared_length=-1)]
    for path in ("/told.csv", "/untold.csv"):
        result = collectors.run_source(workspace, _source(http_server.url(path), retries=1), backoff_s=0.01)
        assert result.status == "failed" and f"larger than {len(BODY) - 1:,} bytes" in result.error, result.error
        assert http_server.hits(path) == 1  # not retried: it will be as large next time
    assert _count(workspace) == 0 and _archived(workspace) == 0
    monkeypatch.setattr(sources, "MAX_FETCH_BYTES", len(BODY))
    assert collectors.run_source(workspace, _source(http_server.url("/untold.csv")), backoff_s=0.01).status == "ok"


def test_a_fetched_body_is_streamed_to_a_private_file_not_held(workspace, http_server, tmp_path) -> None:
    http_server.routes["/u.csv"] = [Reply(200, BODY, declared_length=-1)]
    got = sources.fetch(http_server.url("/u.csv"), into=tmp_path / "work")
    assert got.content == b"" and got.path is not None and got.path.read_bytes() == BODY
    assert got.path.stat().st_mode & 0o077 == 0 and got.size == len(BODY)
    assert got.sha256 == hashlib.sha256(BODY).hexdigest()


def test_a_gzip_bomb_in_content_encoding_is_refused(workspace, http_server, monkeypatch) -> None:
    monkeypatch.setattr(sources, "MAX_FETCH_BYTES", 1 << 20)
    bomb = gzip.compress(b"0" * (8 << 20))  # 8 MB from 8 KB
    http_server.routes["/b.csv"] = [Reply(200, bomb, {"Content-Encoding": "gzip"})]
    result = collectors.run_source(workspace, _source(http_server.url("/b.csv")), backoff_s=0.01)
    assert result.status == "failed" and "larger than 1,048,576 bytes" in result.error, result.error
    assert _archived(workspace) == 0


def test_content_encodings_are_decoded_and_a_cut_stream_is_never_loaded(workspace, http_server) -> None:
    packer = zlib.compressobj(wbits=31)
    cut = packer.compress(BODY) + packer.flush(zlib.Z_SYNC_FLUSH)  # every row decodes; the stream never ends
    http_server.routes["/cut.csv"] = [Reply(200, cut, {"Content-Encoding": "gzip"})]
    result = collectors.run_source(workspace, _source(http_server.url("/cut.csv"), retries=1), backoff_s=0.01)
    assert result.status == "failed" and "gzip" in result.error and "cut short" in result.error, result.error
    assert _count(workspace) == 0 and _archived(workspace) == 0
    http_server.routes["/junk.csv"] = [Reply(200, b"not gzip at all", {"Content-Encoding": "gzip"})]
    result = collectors.run_source(workspace, _source(http_server.url("/junk.csv"), retries=0), backoff_s=0.01)
    assert result.status == "failed" and "internal error" not in result.error and "gzip" in result.error
    raw = zlib.compressobj(wbits=-15)
    for path, body, encoding in (("/z.csv", zlib.compress(BODY), "deflate"),
                                 ("/r.csv", raw.compress(BODY) + raw.flush(), "deflate"),
                                 ("/g.csv", gzip.compress(BODY[:90]) + gzip.compress(BODY[90:]), "x-gzip")):
        http_server.routes[path] = [Reply(200, body, {"Content-Encoding": encoding})]
        got = sources.fetch(http_server.url(path), retries=0)
        assert got.content == BODY, path


def test_a_redirect_loop_and_a_redirect_without_location_are_clear_failures(workspace, http_server) -> None:
    http_server.routes["/loop.csv"] = [Reply(302, b"", {"Location": "/loop.csv"})]
    http_server.routes["/noloc.csv"] = [Reply(302, BODY)]
    http_server.routes["/part.csv"] = [Reply(206, BODY[:40], {"Content-Range": f"bytes 0-39/{len(BODY)}"})]
    for path, reason in (("/loop.csv", "redirect"), ("/noloc.csv", "HTTP 302"), ("/part.csv", "HTTP 206")):
        result = collectors.run_source(workspace, _source(http_server.url(path), retries=1), backoff_s=0.01)
        assert result.status == "failed" and reason in result.error, result.error
        assert "internal error" not in result.error
    assert _count(workspace) == 0 and _archived(workspace) == 0


def test_not_modified_to_a_request_that_was_not_conditional_is_not_good_contact(workspace, http_server) -> None:
    http_server.routes["/u.csv"] = [Reply(304)]
    result = collectors.run_source(workspace, _source(http_server.url("/u.csv")), backoff_s=0.01)
    assert result.status == "failed" and "304" in result.error, result.error


def test_a_validator_that_is_not_ascii_is_sent_back_as_received(workspace, http_server) -> None:
    etag = '"版1"'.encode().decode("latin-1")  # the UTF-8 bytes as they go on the wire
    http_server.routes["/u.csv"] = [Reply(200, BODY, {"ETag": etag, "Last-Modified": "\xff"}), Reply(304)]
    src = _source(http_server.url("/u.csv"))
    assert collectors.run_source(workspace, src, backoff_s=0.01).status == "ok"
    second = collectors.run_source(workspace, src, backoff_s=0.01)
    assert second.status == "not_modified", second.error
    assert http_server.requests[-1][1]["If-None-Match"] == etag


def test_a_trickling_body_ends_the_attempt_at_the_deadline(workspace, http_server, monkeypatch) -> None:
    monkeypatch.setattr(sources, "MAX_FETCH_S", 0.5)
    http_server.routes["/slow.csv"] = [Reply(200, BODY, trickle_s=0.05)]  # 350 bytes: 17 s
    started = time.monotonic()
    result = collectors.run_source(workspace, _source(http_server.url("/slow.csv"), timeout_s=1.0, retries=0),
                                   backoff_s=0.01)
    assert result.status == "failed" and "too slow" in result.error, result.error
    assert time.monotonic() - started < 4 and _count(workspace) == 0


def test_headers_sent_a_byte_at_a_time_end_the_attempt_at_the_deadline(workspace, monkeypatch) -> None:
    monkeypatch.setattr(sources, "MAX_FETCH_S", 0.5)
    listener = socket.create_server(("127.0.0.1", 0))

    def trickle() -> None:
        conn, _ = listener.accept()
        with conn, contextlib.suppress(OSError):
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Padding: " + b"a" * 400:
                conn.sendall(bytes([byte]))
                time.sleep(0.05)

    threading.Thread(target=trickle, daemon=True).start()
    started = time.monotonic()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/u.csv"
    result = collectors.run_source(workspace, _source(url, timeout_s=1.0, retries=0), backoff_s=0.01)
    listener.close()
    assert result.status == "failed" and "too slow" in result.error, result.error
    assert time.monotonic() - started < 4


def test_retry_after_longer_than_the_retries_ends_them(workspace, http_server) -> None:
    http_server.routes["/u.csv"] = [Reply(503, b"", {"Retry-After": "3600"})]
    result = collectors.run_source(workspace, _source(http_server.url("/u.csv"), retries=3), backoff_s=0.01)
    assert result.status == "failed" and "Retry-After 3600 s" in result.error, result.error
    assert http_server.hits("/u.csv") == 1
    http_server.routes["/v.csv"] = [Reply(503, b"", {"Retry-After": "0"}), Reply(200, BODY)]
    assert collectors.run_source(workspace, _source(http_server.url("/v.csv")), backoff_s=0.01).status == "ok"


def test_the_archived_name_is_the_last_segment_without_separators_or_controls(workspace, http_server) -> None:
    path = "/data/..%2F..%2Fx%1B%5B31m%0A.csv"
    http_server.routes[path] = [Reply(200, BODY)]
    result = collectors.run_source(workspace, _source(http_server.url(path)), backoff_s=0.01)
    assert result.status == "ok", result.error
    assert query(workspace, "SELECT original_name FROM archived_files") == [("x[31m.csv",)]


def test_a_redirected_file_is_named_and_traced_by_where_it_came_from(workspace, http_server) -> None:
    http_server.routes["/latest"] = [Reply(302, b"", {"Location": "/files/usage_2026-04.csv"})]
    http_server.routes["/files/usage_2026-04.csv"] = [Reply(200, BODY)]
    http_server.routes["/ftp"] = [Reply(302, b"", {"Location": "ftp://127.0.0.1/u.csv"})]
    result = collectors.run_source(workspace, _source(http_server.url("/latest")), backoff_s=0.01)
    assert result.status == "ok" and result.detail["http_url"] == http_server.url("/files/usage_2026-04.csv")
    assert query(workspace, "SELECT original_name, origin FROM archived_files") == [
        ("usage_2026-04.csv", http_server.url("/files/usage_2026-04.csv"))]
    result = collectors.run_source(workspace, _source(http_server.url("/ftp"), retries=2), backoff_s=0.01)
    assert result.status == "failed" and "UnsupportedProtocol" in result.error and http_server.hits("/ftp") == 1


def test_a_redirect_into_a_metadata_service_is_refused_before_any_request(workspace, http_server) -> None:
    """A server may answer a published file's URL with a redirect into what the collector's own network holds: a
    cloud's metadata service (link-local 169.254.169.254) is refused before the request is made (the address is
    written in the URL: nothing is resolved and nothing leaves this machine)."""
    http_server.routes["/meta.csv"] = [Reply(302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"})]
    result = collectors.run_source(workspace, _source(http_server.url("/meta.csv"), retries=1), backoff_s=0.01)
    assert result.status == "failed" and "link-local" in result.error, result.error
    assert _count(workspace) == 0 and _archived(workspace) == 0


def test_which_redirects_are_followed() -> None:
    """redirect_problem on names and addresses (a resolver given: nothing is looked up): never from https to http;
    from a public server never into private, loopback or link-local addresses, written or resolved; a loopback
    source (a test's, an office's own server) may redirect on its own network."""
    names = {"www.soumu.go.jp": ["8.8.8.8"], "cdn.example": ["1.1.1.1"], "intranet.example": ["192.168.1.10"],
             "rebind.example": ["1.1.1.1", "127.0.0.1"]}
    problem = lambda a, b: sources.redirect_problem(a, b, resolve=lambda h: names[h])  # noqa: E731
    origin = "https://www.soumu.go.jp/main_content/000123.csv"
    assert problem(origin, "https://cdn.example/000123.csv") is None
    assert "https to plain http" in problem(origin, "http://cdn.example/000123.csv")
    for inside in ("https://intranet.example/x", "https://127.0.0.1:8050/", "https://[::1]/x", "https://10.0.0.5/x",
                   "https://169.254.169.254/latest", "https://rebind.example/x"):
        assert "private address" in problem(origin, inside), inside
    assert problem("http://127.0.0.1:9000/a.csv", "http://127.0.0.1:9000/b.csv") is None
    assert "link-local" in problem("http://127.0.0.1:9000/a.csv", "http://169.254.169.254/latest")
