"""The map page's live checks say what the server then says (Debian's chromium): the vertices a
zone is refused for, a circle's single position, and the area of a shape a refusal draws again."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.conftest import configured
from tests.test_browser import browser  # noqa: F401
from tests.test_ui_browser import CHIMAY, DESKTOP, Watch, ui  # noqa: F401

pytestmark = pytest.mark.browser

SQUARE = """([lon, lat]) => {
    const map = window[document.getElementById('map-pane').dataset.map];
    const d = 100 / 111320, e = 100 / (111320 * Math.cos(lat * Math.PI / 180));
    const zone = L.polygon([[lat, lon], [lat, lon + e], [lat + d, lon + e], [lat + d, lon]]);
    zone.addTo(map);
    map.fire('draw:created', {layer: zone, layerType: 'polygon'});
    return document.getElementById('measure').textContent;
}"""

CIRCLE = """() => {
    const map = window[document.getElementById('map-pane').dataset.map];
    const c = L.circle([50.41, 4.444], {radius: 100});
    c.addTo(map);
    map.fire('draw:created', {layer: c, layerType: 'circle'});
}"""


def _send(page, description: str) -> None:  # noqa: ANN001
    page.select_option("#field-network", "mobile")
    page.check("input[name=technologies][value='4G']")
    page.fill("#field-description", description)
    page.click("#submit-report")
    page.wait_for_load_state("networkidle")


def test_a_zones_vertices_are_counted_as_the_server_counts_them(ui, browser) -> None:  # noqa: F811
    """A four-corner zone with MAX_VERTICES=4: the page counted 4 and said nothing, the server
    counts the ring's 5 positions and refused it. A circle (one position and a radius) was
    counted 64 and said refused with MAX_VERTICES=50, and the server stored it."""
    with configured(ui["app"], MAX_VERTICES=4):
        watch = Watch(browser, ui, DESKTOP)
        watch.login("ui-rep@charleroi.be")
        page = watch.page
        page.wait_for_function("() => document.getElementById('map-pane').dataset.limits === 'ready'")
        measure = page.evaluate(SQUARE, [4.444, 50.41])
        before = page.inner_text("#shape-feedback")
        _send(page, "quatre coins")
        said = page.inner_text("#geometry-error")
        assert page.get_attribute("#geometry-error", "data-code") == "too_many_vertices"
        watch.close()
    assert "4 sommets" in measure  # the corners a person counts
    assert "Trop de sommets (5)" in before and "Trop de sommets (5)" in said
    with configured(ui["app"], MAX_VERTICES=50):
        watch = Watch(browser, ui, DESKTOP)
        watch.login("ui-rep@charleroi.be")
        page = watch.page
        page.wait_for_function("() => document.getElementById('map-pane').dataset.limits === 'ready'")
        page.evaluate(CIRCLE)
        assert "sommets" not in page.inner_text("#shape-feedback")
        _send(page, "un cercle")
        assert page.url.endswith("/signalements")
        watch.close()


def test_a_shape_drawn_again_by_a_refusal_is_measured_as_before_sending(ui, browser) -> None:  # noqa: F811
    """A page refusing the shape (a square in Chimay, 403 not_your_commune) drew it again before
    the limits came, measured on the ellipsoid (9 992 m²), and kept that figure where the page had
    said 10 004 m² (EPSG:31370, as the server) before sending."""
    with ui["app"].extensions["geosignal.db"].session() as session:
        lon, lat = session.execute(text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(boundary) p "
                                        "FROM communes WHERE nis_code = :n) s"), {"n": CHIMAY}).one()
    watch = Watch(browser, ui, DESKTOP)
    watch.login("ui-rep@charleroi.be")
    page = watch.page
    page.wait_for_function("() => document.getElementById('map-pane').dataset.limits === 'ready'")
    before = page.evaluate(SQUARE, [lon, lat])
    _send(page, "à Chimay")
    page.wait_for_function("() => document.getElementById('map-pane').dataset.limits === 'ready'")
    assert page.get_attribute("#geometry-error", "data-code") == "not_your_commune"
    page.wait_for_function("(b) => document.getElementById('measure').textContent === b", arg=before, timeout=5000)
    watch.close()
