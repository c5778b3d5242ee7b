"""Response hardening: no-store on authenticated data, HSTS over HTTPS, links from the
configured public address (never the Host header), bounded OGC paging."""

from __future__ import annotations

import pytest

from tests.conftest import configured


def _hrefs(doc: dict) -> list[str]:
    hrefs = [link["href"] for link in doc.get("links", [])]
    for collection in doc.get("collections", []):
        hrefs += [link["href"] for link in collection["links"]]
    return hrefs


@pytest.mark.parametrize("path", ["/ogc", "/ogc/collections", "/ogc/collections/communes/items?limit=2"])
def test_ogc_links_come_from_the_public_base_url_not_the_host_header(app, client, path: str) -> None:  # noqa: ANN001
    with configured(app, PUBLIC_BASE_URL="https://geosignal.example.be"):
        response = client.get(path, headers={"Host": "evil.example"})
    assert response.status_code == 200
    hrefs = _hrefs(response.get_json())
    assert hrefs and all(h.startswith("https://geosignal.example.be/") for h in hrefs), hrefs
    assert "evil.example" not in response.get_data(as_text=True)


@pytest.mark.parametrize("offset", [str(2**63), str(2**63 - 1), "1000001", "-1", "1e3"])
def test_ogc_offset_out_of_range_is_a_coded_400(client, offset: str) -> None:  # noqa: ANN001
    response = client.get(f"/ogc/collections/communes/items?offset={offset}")
    assert response.status_code == 400
    problem = response.get_json()
    assert problem["code"] == "invalid_request" and problem["where"] == "offset"


def test_authenticated_data_is_never_cached_and_public_data_may_be(client, representative) -> None:  # noqa: ANN001
    mine = representative.get("/api/v1/reports")
    assert mine.status_code == 200 and mine.headers["Cache-Control"] == "no-store"
    stats = representative.get("/api/v1/stats/communes")
    assert stats.headers["Cache-Control"] == "no-store"
    public = client.get("/api/v1/communes")
    assert public.status_code == 200 and "no-store" not in public.headers.get("Cache-Control", "")


def test_hsts_only_when_published_over_https(app, client) -> None:  # noqa: ANN001
    assert "Strict-Transport-Security" not in client.get("/login").headers
    with configured(app, PUBLIC_BASE_URL="https://geosignal.example.be"):
        headers = client.get("/login").headers
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


@pytest.mark.parametrize("path", ["/ogc", "/ogc/conformance", "/ogc/collections",
                                  "/ogc/collections/communes/items?limit=2", "/ogc/collections/communes/items/52011",
                                  "/ogc/collections/white-zones", "/ogc/collections/communes/items?f=html"])
def test_links_built_from_the_host_header_say_vary_host(app, client, representative, path: str) -> None:  # noqa: ANN001
    """Without ``GEOSIGNAL_PUBLIC_BASE_URL`` the OGC links come from ``Host``: a shared cache must
    keep one answer per host (``Vary: Host``), added to what ``Vary`` already says (compression,
    credentials) in one header, none lost."""
    accept = [] if "f=" in path else ["Accept"]  # (HTML or JSON chosen by Accept without f)
    # an anonymous HTML page is written in the language a cookie or Accept-Language chose
    language = ["Cookie", "Accept-Language"] if "f=html" in path else []
    evil = client.get(path, headers={"Host": "evil.example"})
    assert evil.status_code == 200 and "http://evil.example/ogc" in evil.get_data().decode("latin-1")
    assert _vary(evil) == ["Host", *accept, *language, "Accept-Encoding", *([] if language else ["Cookie"])]
    signed_in = representative.get(path, headers={"Accept-Encoding": "gzip"})
    assert _vary(signed_in) == ["Cookie", "Authorization", "Host", *accept, *language[1:], "Accept-Encoding"]
    with configured(app, PUBLIC_BASE_URL="https://geosignal.example.be"):
        fixed = client.get(path, headers={"Host": "evil.example", "Accept-Encoding": "gzip"})
    assert _vary(fixed) == [*accept, *language, "Accept-Encoding", *([] if language else ["Cookie"])]
    assert "evil.example" not in fixed.get_data().decode("latin-1")


def _vary(response) -> list[str]:  # noqa: ANN001
    """The names of the response's ``Vary``, which must be one header (Flask-Compress rewrites
    the first only)."""
    assert len(response.headers.getlist("Vary")) == 1, response.headers.getlist("Vary")
    return [v.strip() for v in response.headers["Vary"].split(",")]


def test_the_ogc_items_page_links_its_items_by_path_not_host(client) -> None:  # noqa: ANN001
    html = client.get("/ogc/collections/communes/items?f=html&limit=1", headers={"Host": "evil.example"})
    assert 'href="/ogc/collections/communes/items/52010?f=html"' in html.get_data(as_text=True)


def test_credentials_vary_survives_compression(client, representative) -> None:  # noqa: ANN001
    """Flask-Compress rewrote the first ``Vary`` header only: a second (``Authorization``) was lost."""
    packed = representative.get("/api/v1/stats/communes", headers={"Accept-Encoding": "br"})
    assert packed.headers["Content-Encoding"] == "br"
    assert _vary(packed) == ["Cookie", "Authorization", "Accept-Encoding"]


def test_an_answer_chosen_by_accept_says_vary_accept(client, referent) -> None:  # noqa: ANN001
    """The OGC API answers HTML or JSON from one URL by Accept, and an error outside the API
    a page or problem+json: a shared cache told nothing served one to the other's client."""
    page = client.get("/ogc/collections", headers={"Accept": "text/html"})
    data = client.get("/ogc/collections", headers={"Accept": "application/json"})
    assert (page.mimetype, data.mimetype) == ("text/html", "application/json")
    for answer in (page, data):
        assert "accept" in {v.strip().lower() for v in answer.headers["Vary"].split(",")}
    chosen = client.get("/ogc/collections?f=json")  # an explicit f: Accept decides nothing
    assert "accept" not in {v.strip().lower() for v in chosen.headers.get("Vary", "").split(",")}
    missing = client.get("/pas-une-page", headers={"Accept": "application/json"})
    assert missing.status_code == 404 and "accept" in missing.headers["Vary"].lower()
    # HEAD with mark_transmitted is refused as GET is (it answered 200 naming a run never recorded)
    head = referent.client.head("/api/v1/exports/dwconnect?mark_transmitted=true", headers=referent.headers)
    assert head.status_code == 405 and "X-Export-Run" not in head.headers
