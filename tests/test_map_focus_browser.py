"""Keyboard focus on the maps, in headless Chromium (Debian's, via Playwright), keyboard only
(the accessibility trial's faults 3, 4 and 5):

- choosing a report in the map page's list « Signalements sur la carte » shows it without
  losing the list: the list stays whole, focus goes to the popup's link, the report is said in a
  live region, and Escape closes the popup and gives focus back to the report's button;
- in drawing mode, Tab never lands on Leaflet.draw's invisible mouse marker, and Escape (or the
  « Annuler » action) gives focus back to the tool that started the drawing;
- no focusable element inside a map has no name or is invisible (off the map, 0×0, opacity 0),
  on /carte, /tableau-de-bord, /validation and /zones, on a phone (390×844) and a desktop:
  shapes whose tooltip gave them a tab stop are hidden (their page lists them beside the map),
  the dashboard's communes are links named by their tooltip that open the commune's sheet on
  Enter, and a cluster of reports is named « n signalements : zoomer ».
Screenshots go to ``test-artifacts/map-focus/``."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import shapely
from sqlalchemy import delete

from geosignal.geo import LAMBERT72, WGS84, reproject
from geosignal.models import Report, User
from geosignal.services import reports as reports_service
from geosignal.services.intake import ReportInput
from geosignal.services.users import create_user
from tests.conftest import ARTIFACTS, CHARLEROI, owner_session
from tests.factories import CHARLEROI_LAMBERT72, square_lambert
from tests.test_browser import PASSWORD, browser, serving  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser
SHOTS = ARTIFACTS / "map-focus"
REP, REF = "mapfocus-rep@charleroi.be", "mapfocus-ref@igretec.com"
X, Y = CHARLEROI_LAMBERT72
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}

#: The reports (Belgian Lambert 72 offsets from Charleroi's centre): points kilometres apart (a
#: zoom to one leaves the others out of the view), a zone, and four points 20 m apart (a cluster
#: on the dashboard's map).
POINTS = [(600, 300), (-2500, 1500), (2000, -2000)] + [(3000 + 20 * i, 3000) for i in range(4)]


@pytest.fixture(scope="module")
def site(app) -> Iterator[dict]:  # noqa: ANN001
    """geosignal without a base map, a representative of Charleroi with 7 points and a zone
    submitted, and a referent."""
    database = app.extensions["geosignal.db"]
    with database.session() as session:
        rep = create_user(session, REP, "representative", CHARLEROI, PASSWORD)
        create_user(session, REF, "referent", None, PASSWORD)
        session.flush()
        ids = []
        shapes = [reproject(shapely.Point(X + dx, Y + dy), LAMBERT72, WGS84) for dx, dy in POINTS]
        shapes.append(reproject(square_lambert(X - 800, Y, 300.0), LAMBERT72, WGS84))
        for n, geometry in enumerate(shapes):
            feature, _ = reports_service.create_report(session, rep, ReportInput(geometry, {
                "network": "mobile", "technologies": ["4G"], "operators": ["Proximus"],
                "description": f"Rapport focus {n + 1}"}))
            ids.append(feature["id"])
        session.commit()
    with serving(app) as base:
        yield {"base": base, "ids": ids}
    with owner_session(database) as session:
        session.execute(delete(Report).where(Report.id.in_(ids)))
        session.execute(delete(User).where(User.email.like("mapfocus-%")))
        session.commit()


def _page(browser, base: str, email: str, viewport: dict):  # noqa: ANN001, ANN202, F811
    context = browser.new_context(viewport=viewport, locale="fr-BE", timezone_id="Europe/Brussels")
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.press("input[name=password]", "Enter")
    page.wait_for_load_state("networkidle")
    return page


def _open(page, base: str, path: str) -> None:  # noqa: ANN001
    page.goto(base + path)
    if path == "/carte":
        page.wait_for_function("() => document.getElementById('map-pane').dataset.reports === '8'")
    elif path == "/validation":
        page.wait_for_function("() => document.getElementById('queue').dataset.state === 'ready'")
    elif path == "/tableau-de-bord":
        page.wait_for_function("() => document.getElementById('map-pane').dataset.state === 'ready'"
                               " && document.getElementById('map-pane').dataset.locations !== undefined")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)


#: What has focus: its tag, class, accessible name (aria-label, title, alt or text), whether it
#: is inside a map (not the map itself), shown (a size, within the map's box, not transparent or
#: hidden) and hidden from assistive technology.
FOCUSED = """() => {
    const a = document.activeElement;
    if (!a || a === document.body) return {tag: 'BODY', map: false};
    const map = a.closest('.leaflet-container');
    const r = a.getBoundingClientRect();
    const m = map ? map.getBoundingClientRect() : r;
    let opacity = 1, shown = true;
    for (let e = a; e && e.nodeType === 1; e = e.parentNode) {
        const s = getComputedStyle(e);
        if (s.visibility === 'hidden' || s.display === 'none') shown = false;
        opacity = Math.min(opacity, parseFloat(s.opacity));
    }
    const name = (a.getAttribute('aria-label') || a.getAttribute('title') || a.getAttribute('alt')
                  || a.textContent || '').replace(/\\s+/g, ' ').trim();
    return {tag: a.tagName, cls: String(a.getAttribute('class') || ''), name, map: !!map && a !== map,
            role: a.getAttribute('role'), id: a.id,
            visible: shown && opacity > 0 && r.width > 0 && r.height > 0 && r.right > m.left && r.left < m.right
                     && r.bottom > m.top && r.top < m.bottom,
            hidden: !!a.closest('[aria-hidden=true]')};
}"""


def _walk(page, presses: int) -> list[dict]:  # noqa: ANN001
    """Press Tab up to ``presses`` times; what had focus inside a map each time."""
    seen: list[dict] = []
    first = None
    for _ in range(presses):
        page.keyboard.press("Tab")
        now = page.evaluate(FOCUSED)
        key = (now["tag"], now.get("id"), now.get("name"), now.get("cls"))
        if first is None:
            first = key
        elif key == first:
            break  # round the page
        if now["map"]:
            seen.append(now)
    return seen


def _list_state(page) -> dict:  # noqa: ANN001
    return page.evaluate("""() => ({
        buttons: document.querySelectorAll('#report-list button').length,
        popup: document.querySelector('#map-pane .leaflet-popup .popup-head a')?.textContent || null,
        said: document.getElementById('report-list-status').textContent,
        focused: document.activeElement === document.querySelector('#map-pane .leaflet-popup .popup-head a') ? 'popup link'
            : document.activeElement.closest('#report-list') ? 'list:' + document.activeElement.textContent
            : document.activeElement.tagName,
    })""")


def test_choosing_a_report_in_the_list_keeps_the_list_and_focus(site, browser) -> None:  # noqa: ANN001, F811
    page = _page(browser, site["base"], REP, DESKTOP)
    _open(page, site["base"], "/carte")
    assert page.locator("#report-list button").count() == 8
    first = page.locator("#report-list button", has_text="Rapport focus 1 · Point")
    first.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#map-pane .leaflet-popup .popup-head a")
    page.wait_for_timeout(1200)  # the zoom, the popup's pan and any fetch they would make
    state = _list_state(page)
    reference = state["popup"].split(" — ")[0]
    assert re.fullmatch(r"CM-\d{4}-\d{5}", reference)
    assert state == {"buttons": 8, "popup": f"{reference} — Ouvrir le signalement",
                     "said": f"Affiché sur la carte : {reference} — Rapport focus 1 · Point, Soumis.",
                     "focused": "popup link"}
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "carte-list-popup.png"))
    page.keyboard.press("Escape")
    page.wait_for_timeout(400)
    state = _list_state(page)
    assert state["focused"] == "list:Rapport focus 1 · PointSoumis"
    assert state["buttons"] == 8 and page.locator("#map-pane .leaflet-popup").count() == 0
    # the list is whole: Tab goes on to the next report, which is shown in its turn
    page.keyboard.press("Tab")
    assert _list_state(page)["focused"] == "list:Rapport focus 2 · PointSoumis"
    page.keyboard.press("Enter")
    page.wait_for_timeout(1200)
    state = _list_state(page)
    assert state["focused"] == "popup link" and state["buttons"] == 8
    assert state["said"].startswith("Affiché sur la carte : CM-") and "Rapport focus 2 · Point, Soumis." in state["said"]
    # the popup's close button also gives focus back to the report's button
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.classList.contains('leaflet-popup-close-button')")
    page.keyboard.press("Enter")
    page.wait_for_timeout(400)
    assert _list_state(page)["focused"] == "list:Rapport focus 2 · PointSoumis"
    # the person moves the map: the list follows the view again
    page.locator("#map-pane .leaflet-control-zoom-out").focus()
    page.keyboard.press("Enter")
    page.wait_for_timeout(1200)
    assert page.evaluate("document.getElementById('map-pane').dataset.reports") != "8"
    assert page.errors == []
    page.context.close()


def test_drawing_mode_focus_stays_on_named_controls_and_returns_to_the_tool(site, browser) -> None:  # noqa: ANN001, F811
    page = _page(browser, site["base"], REP, DESKTOP)
    _open(page, site["base"], "/carte")
    tool = page.locator("#map-pane .leaflet-draw-draw-polygon")
    # Escape cancels: focus goes back to the tool
    tool.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#map-pane .leaflet-mouse-marker", state="attached")
    assert page.evaluate("document.querySelector('#map-pane .leaflet-mouse-marker').matches('[tabindex], [role]')") is False
    assert page.evaluate("document.querySelector('#map-pane .leaflet-mouse-marker').getAttribute('aria-hidden')") == "true"
    stops = []
    for _ in range(4):
        page.keyboard.press("Tab")
        stops.append(page.evaluate(FOCUSED))
    assert [s for s in stops if s["map"] and (not s["visible"] or not s["name"] or "mouse-marker" in s["cls"])] == []
    assert stops[0]["name"] == "Zoom avant"
    # the vertices placed with the mouse are no tab stops (they were unnamed buttons)
    box = page.locator("#map-pane").bounding_box()
    for dx, dy in ((0.4, 0.4), (0.6, 0.45)):
        page.mouse.move(box["x"] + box["width"] * dx, box["y"] + box["height"] * dy)
        page.mouse.down()
        page.mouse.up()
        page.wait_for_timeout(400)  # (not a double click, which would finish the shape)
    vertices = page.locator("#map-pane .leaflet-editing-icon")
    assert vertices.count() == 2
    assert page.evaluate("[...document.querySelectorAll('#map-pane .leaflet-editing-icon')].map("
                         "e => [e.getAttribute('tabindex'), e.getAttribute('role'), e.getAttribute('aria-hidden')])"
                         ) == [[None, None, "true"]] * 2
    tool.focus()
    page.keyboard.press("Escape")
    page.wait_for_timeout(200)
    assert page.locator("#map-pane .leaflet-mouse-marker").count() == 0
    now = page.evaluate(FOCUSED)
    assert "leaflet-draw-draw-polygon" in now["cls"], now
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "carte-draw-escape.png"))
    # Escape right after starting, with focus on the map
    page.keyboard.press("Enter")
    page.wait_for_selector("#map-pane .leaflet-mouse-marker", state="attached")
    assert page.evaluate("document.activeElement.classList.contains('leaflet-container')")
    page.keyboard.press("Escape")
    page.wait_for_timeout(200)
    assert "leaflet-draw-draw-polygon" in page.evaluate(FOCUSED)["cls"]
    # the « Annuler » action: focus goes back to the tool
    page.keyboard.press("Enter")
    page.wait_for_selector("#map-pane .leaflet-mouse-marker", state="attached")
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Annuler":
            break
    page.keyboard.press("Enter")
    page.wait_for_timeout(200)
    assert page.locator("#map-pane .leaflet-mouse-marker").count() == 0
    assert "leaflet-draw-draw-polygon" in page.evaluate(FOCUSED)["cls"]
    assert page.errors == []
    page.context.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_no_unnamed_or_invisible_tab_stop_in_any_map(site, browser, viewport: dict) -> None:  # noqa: ANN001, F811
    faults: list[str] = []
    SHOTS.mkdir(parents=True, exist_ok=True)
    for email, paths in ((REP, ["/carte"]), (REF, ["/tableau-de-bord", "/validation", "/zones"])):
        page = _page(browser, site["base"], email, viewport)
        for path in paths:
            _open(page, site["base"], path)
            if path == "/validation" and viewport is PHONE:
                # a card chosen: its map holds the dots of the other reports (0×0, off its map)
                page.locator("#queue-items .queue-select").first.focus()
                page.keyboard.press("Enter")
                page.wait_for_function("() => document.getElementById('queue').dataset.mapShown")
                stops = _walk(page, 60)
            else:
                stops = _walk(page, 400)
            tag = f"{viewport['width']} {path}"
            page.screenshot(path=str(SHOTS / f"{viewport['width']}-{path.strip('/')}.png"))
            for s in stops:
                if not s["name"] or not s["visible"] or s["hidden"]:
                    faults.append(f"{tag}: {s}")
            if path == "/tableau-de-bord":
                communes = [s for s in stops if s["tag"] == "path"]
                # the 30 communes, each a link named by its tooltip (on a phone, those in view)
                assert communes and all(s["role"] == "link" for s in communes), tag
                assert all(re.match(r"^[^,]+ \(\d{5}\), Part en zone blanche : .+, Signalements : \d+", s["name"])
                           for s in communes), communes[:3]
                if viewport is DESKTOP:
                    assert len(communes) == 30
                clusters = [s for s in stops if "marker-cluster" in s["cls"]]
                assert clusters and all(re.fullmatch(r"\d+ signalements? : zoomer", s["name"]) for s in clusters), stops
        assert page.errors == []
        page.context.close()
    assert faults == [], "\n".join(faults)


def test_enter_on_a_dashboard_commune_opens_its_sheet(site, browser) -> None:  # noqa: ANN001, F811
    page = _page(browser, site["base"], REF, DESKTOP)
    _open(page, site["base"], "/tableau-de-bord")
    for _ in range(300):
        page.keyboard.press("Tab")
        now = page.evaluate(FOCUSED)
        if now["tag"] == "path" and now["name"].startswith("Charleroi (52011), "):
            break
    assert now["role"] == "link" and now["visible"]
    # its tooltip's text: the commune, the indicator's figure (the zone's share) and its reports
    assert re.fullmatch(r"Charleroi \(52011\), Part en zone blanche : \d+,\d\d\s%, Signalements : 8", now["name"]), now
    # the tooltip tells the same to sighted keyboard users
    assert page.locator(".leaflet-tooltip", has_text="Charleroi (52011)").count() == 1
    page.screenshot(path=str(SHOTS / "dashboard-commune-focus.png"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/communes/52011/fiche")
    page.goto(site["base"] + "/tableau-de-bord")
    _open(page, site["base"], "/tableau-de-bord")
    # Enter on a cluster zooms in to its reports
    for _ in range(300):
        page.keyboard.press("Tab")
        now = page.evaluate(FOCUSED)
        if "marker-cluster" in now["cls"]:
            break
    assert now["name"] == "8 signalements : zoomer"  # all 8, at the territory's zoom
    zoom = page.evaluate("window[document.getElementById('map-pane').dataset.map].getZoom()")
    page.keyboard.press("Enter")
    page.wait_for_timeout(1000)
    assert page.evaluate("window[document.getElementById('map-pane').dataset.map].getZoom()") > zoom
    assert page.errors == []
    page.context.close()
