"""A report's page, its edit flow (a vertex moved on the map, saved, seen in the history), a
stale edit and a confirmed withdrawal, driven in headless Chromium. Screenshots at 390×844 and
1440×900 go to ``test-artifacts/``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete, text, update

from geosignal.geo import LAMBERT72, WGS84, reproject
from geosignal.models import Report, User
from geosignal.services import reports as reports_service
from geosignal.services.intake import ReportInput
from geosignal.services.users import create_user
from tests.conftest import ARTIFACTS, CHARLEROI, owner_session
from tests.factories import CHARLEROI_LAMBERT72, square_lambert
from tests.test_browser import PASSWORD, PageWatch, browser, serving  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser
X, Y = CHARLEROI_LAMBERT72
SIZES = {"phone": (390, 844), "desktop": (1440, 900)}


@pytest.fixture(scope="module")
def site(app) -> Iterator[dict]:  # noqa: ANN001
    """geosignal on a free port, a representative of Charleroi and two of its reports."""
    database = app.extensions["geosignal.db"]
    with database.session() as session:
        rep = create_user(session, "w9-rep@charleroi.be", "representative", CHARLEROI, PASSWORD)
        create_user(session, "w9-ref@igretec.com", "referent", None, PASSWORD)
        session.flush()
        ids = []
        for k, text_ in enumerate(("Hameau de la Ferme d'en Haut", "Rue du Moulin")):
            geom = reproject(square_lambert(X + 900 * k, Y + 400, 300.0), LAMBERT72, WGS84)
            feature, _ = reports_service.create_report(session, rep, ReportInput(geom, {
                "network": "mobile", "technologies": ["4G"], "operators": ["Proximus"], "description": text_,
                "households_affected": 4}))
            ids.append(feature["id"])
        session.commit()
    with serving(app) as base:
        yield {"base": base, "ids": ids, "db": database}
    with owner_session(database) as session:
        session.execute(delete(Report).where(Report.id.in_(ids)))
        session.execute(delete(User).where(User.email.like("w9-%")))
        session.commit()


def _shots(page, name: str) -> None:  # noqa: ANN001
    ARTIFACTS.mkdir(exist_ok=True)
    for size, (w, h) in SIZES.items():
        page.set_viewport_size({"width": w, "height": h})
        page.wait_for_timeout(150)
        page.screenshot(path=str(ARTIFACTS / f"report-{name}-{size}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 860})


def _watch(chromium, base: str) -> tuple[PageWatch, list[str]]:  # noqa: ANN001
    """A watched page, and the list of its requests aborted by a navigation (a page left while
    it still loads: not a failure of the page)."""
    watch = PageWatch(chromium, base)
    aborted: list[str] = []
    watch.page.on("requestfailed", lambda r: "ERR_ABORTED" in (r.failure or "") and aborted.append(r.url))
    return watch, aborted


def _area(site: dict, rid: str) -> float:
    with site["db"].session() as session:
        return session.execute(text("SELECT ST_Area(ST_Transform(geometry, 31370)) FROM reports WHERE id = :r"),
                               {"r": rid}).scalar()


def test_report_page_edit_a_vertex_and_see_the_history(site, browser) -> None:  # noqa: ANN001, F811
    rid = site["ids"][0]
    watch, aborted = _watch(browser, site["base"])
    watch.login("w9-rep@charleroi.be")
    page = watch.page
    warned: list[str] = []  # Leaflet.draw's use of Leaflet's deprecated _flat warned at every edit
    page.on("console", lambda m: m.type == "warning" and warned.append(m.text))
    page.goto(f"{site['base']}/signalements/{rid}")
    page.wait_for_selector("#report-map[data-ready='1'] .leaflet-overlay-pane svg path")
    reference = page.get_attribute("#report", "data-reference")
    assert reference.startswith("CM-") and reference in page.inner_text("h1")
    assert page.inner_text("#status-badge") == "Soumis"
    assert page.locator(".action-form").count() == 1  # withdraw only
    assert "Hameau de la Ferme d'en Haut" in page.inner_text(".properties")
    _shots(page, "page")
    before = _area(site, rid)
    page.wait_for_load_state("networkidle")
    page.click("#edit-link")
    page.wait_for_selector(".leaflet-editing-icon")
    page.wait_for_load_state("networkidle")
    assert page.input_value("#geometry") == ""  # nothing moved yet: the stored shape is kept
    # drag the first vertex 60 px up and to the left
    box = page.locator(".leaflet-editing-icon").first.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx - 30, cy - 30, steps=5)
    page.mouse.move(cx - 60, cy - 60, steps=5)
    page.mouse.up()
    page.wait_for_function("document.getElementById('geometry').value !== ''")
    page.fill("textarea[name=description]", "Hameau de la Ferme d'en Haut, jusqu'au bois")
    _shots(page, "edit")
    page.click("#save-edit")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"/signalements/{rid}")
    assert f"Signalement {reference} modifié." in page.inner_text(".flashes")
    assert page.locator("#history li[data-action='edit']").count() == 1
    assert "jusqu'au bois" in page.inner_text(".properties")
    after = _area(site, rid)
    assert abs(after - before) > 1000  # the vertex moved by ~60 px: the area changed by thousands of m²
    _shots(page, "after-edit")
    assert warned == []
    watch.failed = [f for f in watch.failed if f not in aborted]
    watch.assert_clean()
    watch.context.close()


def test_a_stale_edit_is_refused_and_keeps_the_other_change(site, browser) -> None:  # noqa: ANN001, F811
    rid = site["ids"][1]
    watch, aborted = _watch(browser, site["base"])
    watch.login("w9-rep@charleroi.be")
    page = watch.page
    page.goto(f"{site['base']}/signalements/{rid}/modifier")
    page.wait_for_selector(".leaflet-editing-icon")
    page.wait_for_load_state("networkidle")
    # meanwhile a colleague changes the description (committed)
    with site["db"].session() as session:
        session.execute(update(Report).where(Report.id == rid).values(description="Rue du Moulin, version du collègue"))
        session.commit()
    page.fill("textarea[name=description]", "Ma version")
    page.click("#save-edit")
    page.wait_for_load_state("networkidle")
    assert page.locator("#stale-warning").is_visible()
    assert "Ce signalement a été modifié depuis que vous avez ouvert cette page" in page.inner_text(".flashes")
    assert page.input_value("textarea[name=description]") == "Rue du Moulin, version du collègue"
    assert page.inner_text("#not-saved [data-name=description] dd") == "Ma version"  # said, not lost
    _shots(page, "stale")
    with site["db"].session() as session:
        assert session.scalar(text("SELECT description FROM reports WHERE id = :r"), {"r": rid}) == \
            "Rue du Moulin, version du collègue"
    # the refused save is the page's only error (412)
    assert [f for f in watch.failed if "412" not in f and f not in aborted] == []
    assert all("412" in e for e in watch.errors)
    # then the withdrawal, with its confirmation step
    page.goto(f"{site['base']}/signalements/{rid}")
    page.click(".action-form[data-action='withdraw'] button")
    page.wait_for_selector("#confirm-button")
    _shots(page, "confirm-withdraw")
    page.click("#confirm-button")
    page.wait_for_load_state("networkidle")
    assert page.inner_text("#status-badge") == "Retiré"
    # no action is left on a withdrawn report: it can be filed anew from a copy
    assert page.locator(".action-form").count() == 0
    assert page.get_attribute("#copy-link", "href") == f"/carte?copie={rid}"
    watch.context.close()


def test_a_shape_of_one_part_is_editable_as_that_part(site, browser) -> None:  # noqa: ANN001, F811
    """A MultiPolygon of one polygon (what a file reader may give) was "a shape in several
    parts" that the edit page would not change."""
    from shapely.geometry import MultiPolygon

    with site["db"].session() as session:
        rep = session.query(User).filter_by(email="w9-rep@charleroi.be").one()
        geom = MultiPolygon([reproject(square_lambert(X + 2000, Y + 400, 300.0), LAMBERT72, WGS84)])
        feature, _ = reports_service.create_report(session, rep, ReportInput(geom, {"network": "mobile"}))
        session.commit()
    site["ids"].append(feature["id"])
    watch, _aborted = _watch(browser, site["base"])
    watch.login("w9-rep@charleroi.be")
    page = watch.page
    page.goto(f"{site['base']}/signalements/{feature['id']}/modifier")
    page.wait_for_selector("#report-map[data-ready='1']")
    assert page.locator(".leaflet-editing-icon").count() >= 4  # its vertices can be moved
    assert "plusieurs parties" not in page.inner_text("main")
    watch.assert_clean()
    watch.context.close()


def _inside_the_border(session, metres: float) -> tuple[tuple[float, float], tuple[float, float]]:  # noqa: ANN001
    """A point of Charleroi ``metres`` inside its boundary and the boundary's point nearest to
    it, both (lon, lat) in EPSG:4326."""
    import shapely
    from shapely.ops import nearest_points

    wkt = session.scalar(text("SELECT ST_AsText(ST_Transform(boundary, 31370)) FROM communes WHERE nis_code = :n"),
                         {"n": CHARLEROI})
    commune = shapely.from_wkt(wkt)
    inner = commune.buffer(-metres)
    inner = max(getattr(inner, "geoms", [inner]), key=lambda g: g.area)
    point = inner.exterior.interpolate(0.3, normalized=True)
    border = nearest_points(commune.boundary, point)[0]
    return (reproject(point, LAMBERT72, WGS84).coords[0], reproject(border, LAMBERT72, WGS84).coords[0])


def test_a_reports_map_shows_it_in_its_commune(site, browser) -> None:  # noqa: ANN001, F811
    """Without a base map a report's map showed its shape alone on grey — zoomed out, nothing
    else (a referent's trial) — while the offline notice says the communes are shown; on the
    edit page a representative moving a point could not see whether it left her commune. Both
    maps outline the report's commune: the report's page shows the whole commune with the shape
    in it (desktop and phone); the edit page shows a point 500 m inside the boundary with the
    nearest stretch of that boundary."""
    import shapely

    with site["db"].session() as session:
        (lon, lat), border = _inside_the_border(session, 500)
        rep = session.query(User).filter_by(email="w9-rep@charleroi.be").one()
        feature, _ = reports_service.create_report(session, rep, ReportInput(shapely.Point(lon, lat), {"network": "mobile"}))
        session.commit()
    site["ids"].append(feature["id"])
    watch, aborted = _watch(browser, site["base"])
    watch.login("w9-rep@charleroi.be")
    page = watch.page

    def within_map(selector: str) -> bool:
        box, inner = page.locator("#report-map").bounding_box(), page.locator(selector).first.bounding_box()
        return (inner["x"] >= box["x"] - 1 and inner["y"] >= box["y"] - 1
                and inner["x"] + inner["width"] <= box["x"] + box["width"] + 1
                and inner["y"] + inner["height"] <= box["y"] + box["height"] + 1)

    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{site['base']}/signalements/{site['ids'][0]}")
        page.wait_for_selector("#report-map[data-ready='1'][data-commune-shown='1']")
        assert page.locator("#report-map path.commune-outline").count() == 1
        assert within_map("#report-map path.commune-outline"), size  # the whole commune in view
        assert within_map("#report-map path.leaflet-interactive"), size  # and the report in it
        page.screenshot(path=str(ARTIFACTS / f"report-in-commune-{size}.png"))
    page.set_viewport_size({"width": 1280, "height": 860})
    page.goto(f"{site['base']}/signalements/{feature['id']}/modifier")
    page.wait_for_selector("#report-map[data-ready='1'][data-commune-shown='1']")
    seen = page.evaluate("""([point, border]) => { const map = document.getElementById('report-map').geosignalMap;
        return [map.getBounds().contains([point[1], point[0]]), map.getBounds().contains([border[1], border[0]]),
                map.getZoom()]; }""", [[lon, lat], list(border)])
    assert seen[:2] == [True, True] and seen[2] >= 13, seen
    assert page.locator("#report-map .leaflet-marker-icon").is_visible()
    page.screenshot(path=str(ARTIFACTS / "report-edit-point-near-border.png"))
    watch.failed = [f for f in watch.failed if f not in aborted]
    watch.assert_clean()
    watch.context.close()



#: Records the options of every fitBounds of the page's maps (``window.fits``), Leaflet patched
#: as it is defined (before the page's scripts make their maps).
RECORD_FITS = """(() => { window.fits = []; let leaflet;
    Object.defineProperty(window, 'L', { configurable: true, get: () => leaflet, set: (v) => {
        leaflet = v;
        if (v && v.Map && !v.Map.prototype.__recorded) {
            const fit = v.Map.prototype.fitBounds;
            v.Map.prototype.fitBounds = function (bounds, options) {
                const o = options || {}, p = (k) => o[k] ? [o[k].x, o[k].y] : null;
                window.fits.push({padding: o.padding || null, topLeft: p('paddingTopLeft'), bottomRight: p('paddingBottomRight')});
                return fit.apply(this, arguments);
            };
            v.Map.prototype.__recorded = true;
        }
    } }); })()"""


def test_the_report_pages_maps_fit_clear_of_their_controls(site, browser) -> None:  # noqa: ANN001, F811
    """The report's and the edit page's maps fitted with a fixed 12–24 px margin whatever
    their controls, so a zone at the edge of the fitted view could lie under the zoom buttons or
    the attribution on a phone (the report form's map measured them already). Every fit of
    these pages now leaves the room the controls take, as measured, and at least the margin
    it asked for."""
    watch, aborted = _watch(browser, site["base"])
    watch.login("w9-rep@charleroi.be")
    page = watch.page
    page.add_init_script(RECORD_FITS)
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        for path in ("", "/modifier"):
            page.goto(f"{site['base']}/signalements/{site['ids'][0]}{path}")
            page.wait_for_selector("#report-map[data-ready='1'][data-commune-shown='1']")
            at = page.evaluate("""() => { const pane = document.getElementById('report-map'), c = pane.getBoundingClientRect();
                const r = (s) => pane.querySelector(s).getBoundingClientRect();
                return {fits: window.fits, zoomRight: r('.leaflet-control-zoom').right - c.left,
                        zoomBottom: r('.leaflet-control-zoom').bottom - c.top,
                        attributionHeight: c.bottom - r('.leaflet-control-attribution').top}; }""")
            assert at["fits"] or path, (size, path)  # (the edit page may centre the shape instead)
            shape = page.evaluate("""() => { const pane = document.getElementById('report-map'), map = pane.geosignalMap;
                let b = null;
                map.eachLayer(l => { if (l._path && l.getBounds && !l.options.className) { b = l.getBounds(); } });
                const nw = map.latLngToContainerPoint(b.getNorthWest()), se = map.latLngToContainerPoint(b.getSouthEast());
                return {left: nw.x, top: nw.y, right: se.x, bottom: se.y}; }""")
            assert shape["left"] >= at["zoomRight"] or shape["top"] >= at["zoomBottom"], (size, path, shape, at)
            assert shape["bottom"] <= page.locator("#report-map").bounding_box()["height"] - at["attributionHeight"], \
                (size, path, shape, at)
            for fit in at["fits"]:
                assert fit["topLeft"] and fit["bottomRight"], (size, path, fit)
                assert fit["topLeft"][0] >= at["zoomRight"], (size, path, fit, at)  # right of the zoom buttons
                assert fit["bottomRight"][1] >= at["attributionHeight"], (size, path, fit, at)  # above the attribution
                least = min(fit["padding"] or [0])
                assert min(fit["topLeft"] + fit["bottomRight"]) >= least, (size, path, fit)  # its own margin kept
    page.set_viewport_size({"width": 1280, "height": 860})
    watch.failed = [f for f in watch.failed if f not in aborted]
    watch.assert_clean()
    watch.context.close()
