"""The edit page's vertex handles on a phone (Debian's chromium, a touch screen): each one a
44 px target a finger takes, none of them against the map's controls (the zoom buttons, the
layer switcher), axe-core's target-size clean, and a corner dragged moves the corner, not the
map's zoom. Screenshots go to ``test-artifacts/edit-handles-*.png``."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from geosignal.models import User
from tests.conftest import ARTIFACTS
from tests.factories import square_lambert
from tests.test_browser import browser  # noqa: F401  (fixture)
from tests.test_ui_browser import PHONE, X0, Y0, Watch, _add, ui  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser
REP = "ui-rep@charleroi.be"

#: each vertex handle's box, and its distance (px) to the nearest of the map's controls
HANDLES = """() => {
    const controls = [...document.querySelectorAll('#report-map .leaflet-control-zoom a, '
        + '#report-map .leaflet-control-layers')].map(e => e.getBoundingClientRect());
    const map = document.getElementById('report-map').getBoundingClientRect();
    return [...document.querySelectorAll('#report-map .leaflet-editing-icon')].map(e => {
        const h = e.getBoundingClientRect();
        return {width: h.width, height: h.height,
                inside: h.left >= map.left && h.right <= map.right && h.top >= map.top && h.bottom <= map.bottom,
                gap: Math.min(...controls.map(c => Math.max(c.left - h.right, h.left - c.right,
                                                            c.top - h.bottom, h.top - c.bottom)))};
    }); }"""


@pytest.fixture(scope="module")
def small_zone(ui) -> str:  # noqa: ANN001, F811
    """A 300 m square of Charleroi's representative, 1.5 km north-east of the centre (its
    commune's boundary too far to be shown with it on a phone)."""
    database = ui["app"].extensions["geosignal.db"]
    with database.session() as session:
        rep = session.scalar(select(User).where(User.email == REP))
        rid = _add(session, rep, square_lambert(X0 + 1500, Y0 + 1500, 300), description="carré de 300 m")
        session.commit()
    return rid


@pytest.mark.parametrize("width", [390, 320])
def test_the_edit_page_s_handles_are_big_and_clear_of_the_map_s_controls(ui, small_zone, browser,  # noqa: ANN001, F811
                                                                         width: int) -> None:
    """The view was set on the square's centre, not fitted clear of the controls: its top-left
    vertex's 20 px handle lay 1 px from the « + » / « − » buttons, where a finger moving the
    corner zoomed the map instead."""
    from tests.e2e.helpers import axe_audit

    watch = Watch(browser, ui, {**PHONE, "width": width}, touch=True)
    watch.login(REP)
    page = watch.page
    page.goto(f"{ui['base']}/signalements/{small_zone}/modifier")
    page.wait_for_function("() => document.getElementById('report-map').dataset.ready === '1'")
    page.wait_for_selector("#report-map .leaflet-editing-icon")
    page.wait_for_timeout(300)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"edit-handles-{width}.png"))
    handles = page.evaluate(HANDLES)
    assert len(handles) == 8  # 4 corners, 4 middle handles
    assert all(h["width"] >= 44 and h["height"] >= 44 and h["inside"] for h in handles), handles
    assert min(h["gap"] for h in handles) >= 8, handles
    assert [v for v in axe_audit(page) if v["id"] == "target-size"] == []
    # a finger on the top-left corner moves it: the map keeps its zoom
    zoom = page.evaluate("document.getElementById('report-map').geosignalMap.getZoom()")
    corner = min((page.locator("#report-map .leaflet-editing-icon").nth(i).bounding_box() for i in range(8)),
                 key=lambda b: b["x"] + b["y"])
    x, y = corner["x"] + corner["width"] / 2, corner["y"] + corner["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 10, y - 10, steps=4)
    page.mouse.move(x - 20, y - 20, steps=4)
    page.mouse.up()
    page.wait_for_function("document.getElementById('geometry').value !== ''")
    assert page.evaluate("document.getElementById('report-map').geosignalMap.getZoom()") == zoom
    watch.clean()
    watch.close()
