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


def test_the_etag_of_a_compressed_answer_works_in_if_match(db, representative, referent) -> None:  # noqa: ANN001
    """Flask-Compress marks the strong ETag of an answer it compresses (``"7"`` → ``"7:gzip"``),
    and the writes compared If-Match with ``"7"`` only: every client accepting compression (a
    browser, Python requests) got 412 on an edit or a status change it was entitled to — the
    queue page's second action on a card too. The tag of a changed report still fails."""
    from tests.factories import feature

    gzip = {"Accept-Encoding": "gzip, deflate"}
    body = feature({"type": "Point", "coordinates": [4.4440, 50.4108]}, description="Rue de la Gare " * 80)
    created = representative.post("/api/v1/reports", json=body, headers=gzip)  # over COMPRESS_MIN_SIZE
    assert (created.status_code, created.headers["Content-Encoding"]) == (201, "gzip")
    first = created.headers["ETag"]
    assert first.endswith(':gzip"')
    edited = representative.patch(created.headers["Location"], json={"properties": {"households_affected": 4}},
                                  headers={"If-Match": first, **gzip})
    assert edited.status_code == 200
    stale = representative.patch(created.headers["Location"], json={"properties": {"households_affected": 5}},
                                 headers={"If-Match": first})
    assert stale.status_code == 412
    weak = representative.patch(created.headers["Location"], json={"properties": {"households_affected": 5}},
                                headers={"If-Match": "W/" + edited.headers["ETag"]})
    assert weak.status_code == 412
    rid = created.headers["Location"].rsplit("/", 1)[1]
    browser = {"Accept-Encoding": "gzip, deflate, br, zstd"}
    moved = referent.post(f"/api/v1/reports/{rid}/transitions", json={"to": "validated"},
                          headers={**browser, "If-Match": edited.headers["ETag"]})
    assert moved.status_code == 200
    again = referent.post(f"/api/v1/reports/{rid}/transitions", json={"to": "transmitted"},
                          headers={**browser, "If-Match": moved.headers["ETag"]})
    assert again.status_code == 200, moved.headers["ETag"]
