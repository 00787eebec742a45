"""The request id and security headers every portal response carries."""

from __future__ import annotations

from keyrelay.portal.app import SECURITY_HEADERS, with_context_headers


def test_context_headers_replace_what_the_route_set_and_keep_the_rest() -> None:
    raw = [
        (b"content-type", b"application/json"),
        (b"Cache-Control", b"public, max-age=600"),
        (b"x-request-id", b"from-the-route"),
        (b"set-cookie", b"a=1"),
        (b"set-cookie", b"b=2"),
    ]
    headers = with_context_headers(raw, "req-42")

    names = [name for name, _ in headers]
    for name, value in SECURITY_HEADERS.items():
        assert names.count(name.lower().encode()) == 1
        assert (name.lower().encode(), value.encode()) in headers
    assert [v for k, v in headers if k == b"x-request-id"] == [b"req-42"]
    assert [v for k, v in headers if k == b"set-cookie"] == [b"a=1", b"b=2"]
    assert (b"content-type", b"application/json") in headers
    assert all(v != b"public, max-age=600" for _, v in headers)


def test_context_headers_do_not_alias_the_shared_security_list() -> None:
    first = with_context_headers([], "one")
    second = with_context_headers([], "two")
    assert [v for k, v in first if k == b"x-request-id"] == [b"one"]
    assert [v for k, v in second if k == b"x-request-id"] == [b"two"]
