"""Every map of every page speaks the page's language, in headless Chromium (Debian's, via
Playwright): Leaflet's own English texts (the zoom buttons' « Zoom in » / « Zoom out », title
and accessible name; the layer switcher's « Layers »; a marker's « Marker »; a popup's « Close
popup »; the title of Leaflet's credit) and geosignal's
French names of its base layers (« Plan PICC (SPW) », « Photo aérienne (SPW) ») are never left
on a Dutch or English page: each comes from the page's catalogue
(``window.geosignalI18n.leaflet``, one setup in ``static/js/leaflet-setup.js``). The pages: the
representative's map (a point placed with the drawing tool), a report's page and its edit page
(a point: its marker), the upload page after a preview, the commune's sheet; the referent's
dashboard, validation queue and zones page. Screenshots go to ``test-artifacts/map-texts/``."""

from __future__ import annotations

import json
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
from tests.stub_services import stub_services
from tests.test_browser import PASSWORD, browser, serving  # noqa: F401  (fixture)
from tests.test_ui_browser import UPLOAD_CSV

pytestmark = pytest.mark.browser
SHOTS = ARTIFACTS / "map-texts"
REP, REF = "maptexts-rep@charleroi.be", "maptexts-ref@igretec.com"
X, Y = CHARLEROI_LAMBERT72

#: What each text reads in each language (the .po files' translations).
EXPECTED = {
    "nl": {"zoom_in": "Inzoomen", "zoom_out": "Uitzoomen", "layers": "Achtergrondkaart kiezen",
           "names": ["Achtergrondkaart", "PICC-kaart (SPW)", "Luchtfoto (SPW)"],
           "library": "Een JavaScript-bibliotheek voor interactieve kaarten"},
    "en": {"zoom_in": "Zoom in", "zoom_out": "Zoom out", "layers": "Choose the base map",
           "names": ["Base map", "PICC map (SPW)", "Aerial photo (SPW)"],
           "library": "A JavaScript library for interactive maps"},
}
#: Leaflet's English texts (wrong on a Dutch page) and geosignal's French names (wrong on both).
ENGLISH = {"Zoom in", "Zoom out", "Layers", "Marker", "Close popup", "A JavaScript library for interactive maps"}
FRENCH = {"Zoom avant", "Zoom arrière", "Plan PICC (SPW)", "Photo aérienne (SPW)", "Fond de carte",
          "Choisir le fond de carte", "Point sur la carte", "Point du signalement", "Fermer",
          "Une bibliothèque JavaScript de cartes interactives"}


@pytest.fixture(scope="module")
def site(app) -> Iterator[dict]:  # noqa: ANN001
    """geosignal with geosignal's own base layers (their French names, translated on the pages)
    served by a local stub, a representative of Charleroi with a point and a zone reported,
    and a referent."""
    database = app.extensions["geosignal.db"]
    with stub_services() as stub:
        layers = [{"name": "Fond de carte", "type": "xyz", "url": stub.base + "/tiles/{z}/{x}/{y}.png",
                   "attribution": "© tuiles de test"},
                  {"name": "Plan PICC (SPW)", "type": "wms", "url": stub.base + "/wms", "layers": "1,3",
                   "attribution": "© WMS de test"},
                  {"name": "Photo aérienne (SPW)", "type": "wms", "url": stub.base + "/wms", "layers": "0",
                   "attribution": "© WMS de test"}]
        saved = app.config.get("BASEMAPS")
        app.config["BASEMAPS"] = json.dumps(layers)
        with database.session() as session:
            rep = create_user(session, REP, "representative", CHARLEROI, PASSWORD)
            create_user(session, REF, "referent", None, PASSWORD)
            session.flush()
            point = reproject(shapely.Point(X + 600, Y + 300), LAMBERT72, WGS84)
            ids = {}
            for name, geometry in (("point", point), ("zone", reproject(square_lambert(X - 800, Y, 300.0), LAMBERT72, WGS84))):
                feature, _ = reports_service.create_report(session, rep, ReportInput(geometry, {
                    "network": "mobile", "technologies": ["4G"], "operators": ["Proximus"]}))
                ids[name] = feature["id"]
            session.commit()
        with serving(app) as base:
            yield {"base": base, "ids": ids, "stub": stub}
        app.config["BASEMAPS"] = saved
        with owner_session(database) as session:
            session.execute(delete(Report).where(Report.id.in_(list(ids.values()))))
            session.execute(delete(User).where(User.email.like("maptexts-%")))
            session.commit()


def _map_texts(page) -> dict:  # noqa: ANN001
    """What the page's maps say: the zoom buttons' titles and names, the layer switchers' titles
    and names, the base layers' names, the markers' alternative texts, and every title, name
    and alternative text inside a map."""
    return page.evaluate("""() => {
        const attr = (sel, name) => [...document.querySelectorAll(sel)].map(e => e.getAttribute(name));
        return {
            maps: document.querySelectorAll('.leaflet-container').length,
            zoom_in: attr('.leaflet-control-zoom-in', 'title').concat(attr('.leaflet-control-zoom-in', 'aria-label')),
            zoom_out: attr('.leaflet-control-zoom-out', 'title').concat(attr('.leaflet-control-zoom-out', 'aria-label')),
            layers: attr('.leaflet-control-layers-toggle', 'title').concat(attr('.leaflet-control-layers-toggle', 'aria-label')),
            names: [...document.querySelectorAll('.leaflet-control-layers-base label')].map(e => e.textContent.trim()),
            credits: attr('.leaflet-control-attribution a[href="https://leafletjs.com"]', 'title'),
            markers: attr('.leaflet-marker-icon', 'alt'),
            all: [...document.querySelectorAll('.leaflet-container, .leaflet-container *')].flatMap(e =>
                ['title', 'aria-label', 'alt'].map(a => e.getAttribute(a)))
                .concat([...document.querySelectorAll('.leaflet-control-layers label')].map(e => e.textContent.trim()))
                .filter(Boolean),
        }; }""")


def _open(page, base: str, path: str) -> None:  # noqa: ANN001
    """Open ``path`` and wait for its map (``@preview``: the upload page after a preview;
    ``@point``: the map page with a point placed by the drawing tool)."""
    if path == "@preview":
        page.goto(base + "/import")
        page.set_input_files("#import-file", files=[{"name": "zones.csv", "mimeType": "text/csv", "buffer": UPLOAD_CSV}])
        page.click("#preview-button")
        page.wait_for_selector("#preview-table tbody tr")
    elif path == "@point":
        page.goto(base + "/carte")
        page.wait_for_function("() => document.getElementById('map-pane').dataset.reports !== undefined")
        page.click(".leaflet-draw-draw-marker")
        box = page.locator("#map-pane .leaflet-container").bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_selector("#map-pane .leaflet-marker-icon")
        # a report's popup, for its close button
        page.evaluate("""() => { const map = window[document.getElementById('map-pane').dataset.map];
            let done = false; map.eachLayer(l => { if (!done && l.feature && l.feature.id && l.getPopup()) {
                l.openPopup(); done = true; } }); }""")
        page.wait_for_selector("#map-pane .leaflet-popup-close-button")
    else:
        page.goto(base + path)
        if path == "/validation":
            page.wait_for_function("() => document.getElementById('queue').dataset.state === 'ready'")
            page.wait_for_selector("#queue-map .leaflet-control-zoom-in")
        elif path == "/tableau-de-bord":
            page.wait_for_function("() => document.getElementById('map-pane').dataset.state === 'ready'")
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_every_map_speaks_the_page_language(site, browser, lang: str) -> None:  # noqa: ANN001, F811
    base, ids = site["base"], site["ids"]
    pages = {
        REP: ["@point", f"/signalements/{ids['point']}", f"/signalements/{ids['point']}/modifier",
              f"/signalements/{ids['zone']}/modifier", "@preview", f"/communes/{CHARLEROI}/fiche"],
        REF: ["/tableau-de-bord", "/validation", "/zones", f"/signalements/{ids['zone']}"],
    }
    expected = EXPECTED[lang]
    wrong = FRENCH | (ENGLISH if lang == "nl" else {"Layers", "Marker", "Close popup"})
    SHOTS.mkdir(parents=True, exist_ok=True)
    faults: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="fr-BE",
                                  timezone_id="Europe/Brussels")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    for email, paths in pages.items():
        context.clear_cookies()
        context.add_cookies([{"name": "geosignal_lang", "value": lang, "url": base}])
        page.goto(base + "/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_load_state("networkidle")
        for path in paths:
            _open(page, base, path)
            shown = _map_texts(page)
            where = f"{email.split('-')[1].split('@')[0]} {path}"
            if shown["maps"] == 0:
                faults.append(f"{where}: no map")
                continue
            if set(shown["zoom_in"]) != {expected["zoom_in"]} or set(shown["zoom_out"]) != {expected["zoom_out"]}:
                faults.append(f"{where}: zoom buttons {shown['zoom_in']} {shown['zoom_out']}")
            if set(shown["layers"]) != {expected["layers"]}:
                faults.append(f"{where}: layer switcher {shown['layers']}")
            if shown["names"] != expected["names"]:
                faults.append(f"{where}: base layers {shown['names']}")
            if path == "@point" or path.endswith(f"{ids['point']}/modifier"):
                if not shown["markers"] or any(not alt or alt == "Marker" for alt in shown["markers"]):
                    faults.append(f"{where}: markers {shown['markers']}")
            if set(shown["credits"]) != {expected["library"]}:
                faults.append(f"{where}: Leaflet's credit {shown['credits']}")
            left = sorted({t for t in shown["all"] if t in wrong})
            if left:
                faults.append(f"{where}: left untranslated {left}")
            slug = path.strip("/@").replace("/", "-").replace(ids["point"], "point").replace(ids["zone"], "zone")
            page.screenshot(path=str(SHOTS / f"{lang}-{slug or 'map'}.png"))
    context.close()
    assert faults == [], "\n".join(faults)
    assert errors == []
