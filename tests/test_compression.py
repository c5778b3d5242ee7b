"""Answers a browser takes compressed, and the communes' boundaries kept by it (a trial with the
581 Belgian communes: 3.5 MB of boundaries at every visit of the queue or the zones page,
uncompressed and ``no-store``)."""

from __future__ import annotations

import gzip
import json

import brotli


def test_the_apis_json_goes_compressed_to_a_client_that_takes_it(db, client, representative) -> None:  # noqa: ANN001
    plain = client.get("/api/v1/communes")
    assert plain.status_code == 200 and plain.headers.get("Content-Encoding") is None
    doc = json.loads(plain.get_data())
    assert len(doc["features"]) == 30
    packed = client.get("/api/v1/communes", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert packed.headers["Content-Encoding"] == "br" and "Accept-Encoding" in packed.headers["Vary"]
    assert brotli.decompress(packed.get_data()) == plain.get_data()
    assert len(packed.get_data()) < len(plain.get_data()) / 2
    only_gzip = client.get("/api/v1/communes", headers={"Accept-Encoding": "gzip"})
    assert only_gzip.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(only_gzip.get_data()) == plain.get_data()
    # a representative's own data too (JSON), never a page: a page reflecting what was typed beside
    # the CSRF token is not compressed (BREACH)
    stats = representative.get("/api/v1/stats/communes", headers={"Accept-Encoding": "br"})
    assert stats.status_code == 200 and stats.headers["Content-Encoding"] == "br"
    representative.login()
    page = client.get("/carte", headers={"Accept-Encoding": "gzip, br"})
    assert page.status_code == 200 and page.headers.get("Content-Encoding") is None


def test_the_communes_are_kept_by_the_browser_and_asked_again_with_their_etag(db, client, representative) -> None:  # noqa: ANN001
    """Signed in, every answer was ``no-store``, the communes' open data too: fetched whole at
    every visit. It is now kept and revalidated (ETag, ``no-cache``): 304 while unchanged;
    private answers stay ``no-store``."""
    representative.login()
    first = client.get("/api/v1/communes")
    assert first.headers["Cache-Control"] == "no-cache"
    etag = first.headers["ETag"]
    again = client.get("/api/v1/communes", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b"" and again.headers["ETag"] == etag
    packed = client.get("/api/v1/communes", headers={"Accept-Encoding": "br"})  # the ETag of what was sent
    assert packed.headers["ETag"] == etag[:-1] + ':br"'
    assert client.get("/api/v1/communes", headers={"Accept-Encoding": "br",
                                                   "If-None-Match": packed.headers["ETag"]}).status_code == 304
    assert client.get("/api/v1/reports").headers["Cache-Control"] == "no-store"
