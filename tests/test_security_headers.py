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
