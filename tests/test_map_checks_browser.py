"""The map page's live checks say what the server then says (Debian's chromium): the vertices a
zone is refused for, a circle's single position, the area of a shape a refusal draws again, and
a typed zone crossing itself (on the map page and the edit page)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from geosignal.models import User
from tests.conftest import configured
from tests.factories import square_lambert
from tests.test_browser import browser  # noqa: F401
from tests.test_ui_browser import CHIMAY, DESKTOP, PHONE, TYPED_BOWTIE, X0, Y0, Watch, _add, ui  # noqa: F401

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


#: the server's sentence for a zone whose outline crosses itself (errors.MESSAGES_FR)
CROSSES = ("Le contour de la zone se croise lui-même (voir le repère sur la carte) : redessinez-le, ou cochez la "
           "correction automatique.")
#: where the crossing marker is: [lon, lat], or null
MARKED = """() => {
    const map = window[(document.getElementById('map-pane') || {dataset: {}}).dataset.map]
        || document.getElementById('report-map').geosignalMap;
    let at = null;
    map.eachLayer(l => { if (l.options && l.options.className === 'crossing-marker') { at = [l.getLatLng().lng, l.getLatLng().lat]; } });
    return at;
}"""


def test_a_typed_zone_crossing_itself_is_said_to_cross_not_to_be_too_small(ui, browser) -> None:  # noqa: F811
    """« Placer » on a bow-tie typed in the coordinates field (two triangles of about 6.3 ha
    crossing at 4.444, 50.410): the page said « Surface : 0 m² » and « Zone trop petite (0 m²) :
    dessinez au moins 100 m², ou placez un point » — the shoelace area of a ring whose lobes
    cancel — where the server refuses the zone for crossing itself. It says the server's
    sentence, marks the crossing, offers the repair; a square typed instead is measured again."""
    watch = Watch(browser, ui, PHONE, touch=True)
    watch.login("ui-rep@charleroi.be")
    page = watch.page
    page.wait_for_function("() => document.getElementById('map-pane').dataset.limits === 'ready'")
    if page.is_visible("#without-map"):
        page.click("#without-map")
    page.fill("#coordinates", TYPED_BOWTIE)
    page.check("input[name=coordinates_shape][value=zone]")
    page.click("#place-coordinates")
    page.wait_for_function("() => document.getElementById('map-pane').dataset.placed === 'zone:4'")
    said = page.inner_text("#drawn-status")
    assert said == "Zone placée d'après les coordonnées (4 positions) : 4 sommets.", said
    assert page.inner_text("#shape-feedback") == CROSSES
    assert page.is_visible("label.check:has(input[name=repair])")
    at = page.evaluate(MARKED)
    assert at is not None and abs(at[0] - 4.444) < 2e-4 and abs(at[1] - 50.410) < 2e-4, at
    # the same corners in order: a square, measured, nothing marked
    page.fill("#coordinates", "50.4080, 4.4400\n50.4080, 4.4480\n50.4120, 4.4480\n50.4120, 4.4400")
    page.click("#place-coordinates")
    page.wait_for_function("() => document.getElementById('drawn-status').textContent.includes('Surface')")
    assert page.inner_text("#shape-feedback") == "" and page.evaluate(MARKED) is None
    watch.clean()
    watch.close()


def test_the_edit_page_says_a_zone_crossing_itself_instead_of_its_area(ui, browser) -> None:  # noqa: F811
    """The edit page: a bow-tie typed and placed instead of the report's square said « Surface :
    environ 0 m² »; it says the server's sentence and marks the crossing."""
    database = ui["app"].extensions["geosignal.db"]
    with database.session() as session:
        rep = session.scalar(select(User).where(User.email == "ui-rep@charleroi.be"))
        rid = _add(session, rep, square_lambert(X0 + 900, Y0 - 1800, 300), description="carré à croiser")
        session.commit()
    watch = Watch(browser, ui, DESKTOP)
    watch.login("ui-rep@charleroi.be")
    page = watch.page
    page.goto(f"{watch.base}/signalements/{rid}/modifier")
    page.wait_for_selector("#report-map[data-ready='1'] .leaflet-editing-icon")
    page.fill("#coordinates", TYPED_BOWTIE)
    if page.is_visible("input[name=coordinates_shape][value=zone]"):
        page.check("input[name=coordinates_shape][value=zone]")
    page.click("#place-coordinates")
    page.wait_for_function("() => document.getElementById('geometry-state').textContent.includes('(4 positions)')")
    said = page.inner_text("#geometry-state")
    assert said.endswith(CROSSES) and "m²" not in said, said
    at = page.evaluate(MARKED)
    assert at is not None and abs(at[0] - 4.444) < 2e-4 and abs(at[1] - 50.410) < 2e-4, at
    watch.clean()
    watch.close()
