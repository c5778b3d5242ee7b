"""Pages a mayor can use on a phone, checked in headless Chromium (Debian's, via Playwright)
at 390×844 and 1440×900: nothing wider than the screen, a folding menu, 44 px touch targets,
no raw vocabulary or error code on a French page, a report placed with the keyboard alone by
coordinates, by an address (local stub service) and by drawing with live feedback, the
server's errors next to the shape, lists as cards with status colours, the dashboard's
published survey figures and commune click, base maps from a local tile/WMS stub through
the CSP and a notice on the map when they do not load, the map page within a desktop's window,
an upload row in another commune named, the forced password change with the sign-out alone,
44 px check boxes. Screenshots go to ``test-artifacts/ui-*.png``."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import shapely
import shapely.geometry
from sqlalchemy import delete, func, select, text

from geosignal import vocab
from geosignal.geo import LAMBERT72, WGS84, area_m2, length_m, reproject
from geosignal.models import CommuneStats, Report, User
from geosignal.services import reports as reports_service
from geosignal.services import workflow as workflow_service
from geosignal.services.intake import ReportInput
from geosignal.services.users import create_user
from tests.conftest import ARTIFACTS, CHARLEROI, owner_session
from tests.factories import CHARLEROI_LAMBERT72, square_lambert
from tests.stub_services import PLACE_CHARLES_II, stub_services
from tests.test_browser import PASSWORD, browser, serving  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser
X0, Y0 = CHARLEROI_LAMBERT72
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
CHIMAY = "56016"

#: Raw codes that must never be shown as text on a French page: any snake_case identifier,
#: English vocabulary values, geometry types, and DSL without its French label.
RAW = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b|\b(?:other|fixed|cable|outdoor|indoor|vehicle|submitted|"
                 r"validated|rejected|withdrawn|LineString|Polygon|MultiPolygon|MultiPoint|MultiLineString)\b|"
                 r"\bDSL\b(?! \(cuivre\))")
#: Controls that must be at least 44 × 44 px on a phone (inline text links are exempt).
TARGETS = ("button, select, input:not([type=hidden]):not([type=checkbox]):not([type=radio]), a.button, "
           ".topbar nav a, .brand, label.check, .leaflet-bar a, .leaflet-draw-toolbar a, .leaflet-control-layers-toggle, "
           "table.cards td a")


def _add(session, user, geom_31370, status="submitted", **props):  # noqa: ANN001, ANN003, ANN202
    properties = {"network": "mobile", "technologies": ["4G"], "operators": ["Proximus"], **props}
    feature, _ = reports_service.create_report(session, user, ReportInput(reproject(geom_31370, LAMBERT72, WGS84),
                                                                          properties), status=status)
    return feature["id"]


@pytest.fixture(scope="module")
def ui(app) -> Iterator[dict]:  # noqa: ANN001
    """geosignal on a free port with base maps and the address search pointed at a local
    stub; a representative of Charleroi, a referent, and Charleroi reports in every status
    (raw-looking values: DSL, other, no_coverage). No survey answers are imported."""
    database = app.extensions["geosignal.db"]
    with stub_services() as stub:
        layers = [{"name": "Plan local", "type": "xyz", "url": stub.base + "/tiles/{z}/{x}/{y}.png",
                   "attribution": "© tuiles de test"},
                  {"name": "Plan WMS", "type": "wms", "url": stub.base + "/wms", "layers": "1,3",
                   "attribution": "© WMS de test"}]
        saved = {k: app.config.get(k) for k in ("BASEMAPS", "GEOCODER_URL")}
        app.config.update(BASEMAPS=json.dumps(layers), GEOCODER_URL=stub.base + "/search")
        with database.session() as session:
            create_user(session, "ui-rep@charleroi.be", "representative", CHARLEROI, PASSWORD)
            referent = create_user(session, "ui-ref@igretec.com", "referent", None, PASSWORD)
            admin = create_user(session, "ui-admin@igretec.com", "admin", None, PASSWORD)
            session.flush()
            ids = {}
            for i, status in enumerate(vocab.STATUSES):
                ids[status] = _add(session, admin, square_lambert(X0 - 2500 + 700 * (i % 5), Y0 - 2500 + 700 * (i // 5), 500),
                                   status="draft" if status == "draft" else "submitted",
                                   technologies=["DSL", "4G"], operators=["other"], issue="no_coverage",
                                   setting="outdoor", description=f"Rue n° {i}, côté l'église",
                                   observed_at=datetime(2024, 3, 5, 23, 30, tzinfo=UTC))
                if status != "draft":  # through the real transitions, each journalled
                    workflow_service.move_along(session, ids[status], status,
                                                admin if status == "withdrawn" else referent)
            session.commit()
        with serving(app) as base:
            yield {"base": base, "stub": stub, "ids": ids, "app": app}
        app.config.update(saved)
        with owner_session(database) as session:
            session.execute(delete(CommuneStats))
            session.execute(delete(Report))
            session.execute(delete(User).where(User.email.like("ui-%")))
            session.commit()


class Watch:
    """A browser context (phone or desktop) recording console errors and failed requests;
    requests may go to geosignal and to the local stub only."""

    def __init__(self, chromium, ui: dict, viewport: dict, touch: bool = False) -> None:  # noqa: ANN001
        self.context = chromium.new_context(viewport=viewport, has_touch=touch, is_mobile=touch,
                                           device_scale_factor=1, locale="fr-BE", timezone_id="Europe/Brussels")
        self.page = self.context.new_page()
        self.ui, self.base = ui, ui["base"]
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: r.url.startswith((self.base, ui["stub"].base, "data:"))
                     or self.outside.append(r.url))

    def login(self, email: str) -> None:
        self.page.goto(self.base + "/login")
        self.page.fill("input[name=email]", email)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("main button[type=submit]")
        self.page.wait_for_load_state("networkidle")

    def preview_upload(self, name: str = "zones.csv", data: bytes | None = None, mime: str = "text/csv") -> None:
        """Open the upload page, choose the file (``data``, default :data:`UPLOAD_CSV`) and ask
        for its preview."""
        self.page.goto(self.base + "/import")
        self.page.set_input_files("#import-file", files=[{"name": name, "mimeType": mime,
                                                          "buffer": UPLOAD_CSV if data is None else data}])
        self.page.click("#preview-button")

    def clean(self) -> None:
        assert self.errors == [] and self.outside == []

    def close(self) -> None:
        self.context.close()


def _visible_text(page) -> str:  # noqa: ANN001
    """The page's visible text (popups included), without e-mail addresses."""
    return re.sub(r"\S+@\S+", "", page.evaluate("document.body.innerText"))


def _small_targets(page) -> list[str]:  # noqa: ANN001
    return page.evaluate("""sel => Array.from(document.querySelectorAll(sel)).filter(e => {
            const r = e.getBoundingClientRect(), s = getComputedStyle(e);
            return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && !e.closest('[hidden]')
                && !e.classList.contains('skip-link') && (r.height < 43.5 || r.width < 43.5);
        }).map(e => e.outerHTML.slice(0, 90) + ' ' + Math.round(e.getBoundingClientRect().width) + 'x'
                   + Math.round(e.getBoundingClientRect().height))""", TARGETS)


def _cut_choices(page) -> list[str]:  # noqa: ANN001
    """The visible selects whose chosen option's text is wider than the box shows (measured
    with the select's own font; the box less its padding and the arrow's 20 px), unless the
    select is as wide as the browser makes it for its widest option."""
    return page.evaluate("""() => {
        const ctx = document.createElement('canvas').getContext('2d');
        return [...document.querySelectorAll('select')].filter(e => {
            const r = e.getBoundingClientRect(), s = getComputedStyle(e);
            if (!(r.width > 0 && r.height > 0) || e.closest('[hidden]') || e.selectedIndex < 0) { return false; }
            ctx.font = s.font;
            const room = e.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight) - 20;
            if (ctx.measureText(e.options[e.selectedIndex].text).width <= room) { return false; }
            // (20 px for the arrow is an estimate: a select as wide as its widest option needs, the
            // browser's own size, shows every option whole)
            const width = r.width, kept = e.style.width;
            e.style.width = 'max-content';
            const widest = e.getBoundingClientRect().width;
            e.style.width = kept;
            return width + 0.5 < widest;
        }).map(e => (e.name || e.id) + ': ' + e.options[e.selectedIndex].text); }""")


PAGES = {
    "ui-rep@charleroi.be": ["/carte", "/signalements", "/signalements?retires=1", "/import",
                            f"/communes/{CHARLEROI}/fiche", "/compte/mot-de-passe"],
    "ui-ref@igretec.com": ["/tableau-de-bord", "/signalements", "/exports", "/utilisateurs",
                           f"/carte?commune={CHARLEROI}", f"/communes/{CHIMAY}/fiche"],
}


def _slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "accueil"


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390", "1440"])
@pytest.mark.parametrize("email", list(PAGES), ids=["representative", "referent"])
def test_every_page_fits_speaks_french_and_has_big_targets(ui, browser, email: str, viewport: dict) -> None:  # noqa: ANN001, F811
    watch = Watch(browser, ui, viewport)
    page = watch.page
    ARTIFACTS.mkdir(exist_ok=True)
    width = viewport["width"]
    if email == "ui-rep@charleroi.be":
        page.goto(ui["base"] + "/login")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(ARTIFACTS / f"ui-login-{width}.png"))
    watch.login(email)
    role = "rep" if email.startswith("ui-rep") else "ref"
    for path in PAGES[email]:
        page.goto(ui["base"] + path)
        page.wait_for_load_state("networkidle")
        if "/carte" in path:
            page.wait_for_function("() => document.getElementById('map-pane').dataset.reports !== undefined")
            page.evaluate("""() => { const map = window[document.getElementById('map-pane').dataset.map];
                map.eachLayer(l => { if (l.feature && l.feature.id && l.getPopup()) { l.openPopup(); } }); }""")
        if path == "/tableau-de-bord":
            page.wait_for_function("() => document.getElementById('map-pane').dataset.state === 'ready'")
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, f"{path} is {scroll} px wide at {width} px"
        shown = _visible_text(page)
        assert RAW.findall(shown) == [], f"raw codes on {path}: {RAW.findall(shown)}"
        if width == PHONE["width"]:
            small = _small_targets(page)
            assert small == [], f"small touch targets on {path}: {small}"
            cut = _cut_choices(page)  # a select shows its whole choice ("Validés (à trans" was cut)
            assert cut == [], f"selects cut on {path}: {cut}"
        page.screenshot(path=str(ARTIFACTS / f"ui-{role}-{_slug(path)}-{width}.png"), full_page="/carte" not in path)
    # the navigation folds behind a menu button on a phone, and opens with it
    nav, button = page.locator("#main-nav"), page.locator("#menu-button")
    if width == PHONE["width"]:
        assert not nav.is_visible() and button.is_visible()
        button.click()
        assert nav.is_visible() and button.get_attribute("aria-expanded") == "true"
        page.screenshot(path=str(ARTIFACTS / f"ui-{role}-menu-open-390.png"))
        page.keyboard.press("Escape")
        assert not nav.is_visible()
    else:
        assert nav.is_visible() and not button.is_visible()
    watch.clean()
    watch.close()


def _report_count(app) -> int:  # noqa: ANN001
    with app.extensions["geosignal.db"].session() as session:
        return session.scalar(select(func.count()).select_from(Report))


def _newest(app) -> tuple:  # noqa: ANN001
    with app.extensions["geosignal.db"].session() as session:
        return session.execute(text(
            "SELECT ST_GeometryType(geometry), ST_Area(ST_Transform(geometry, 31370)), ST_X(ST_Centroid(geometry)), "
            "ST_Y(ST_Centroid(geometry)), commune_nis FROM reports ORDER BY created_at DESC LIMIT 1")).one()


def _tab_to(page, selector: str, limit: int = 80) -> None:  # noqa: ANN001
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} is not reachable with Tab")


def test_a_report_by_coordinates_with_the_keyboard_alone_on_a_phone(ui, browser) -> None:  # noqa: ANN001, F811
    watch = Watch(browser, ui, PHONE)
    watch.login("ui-rep@charleroi.be")
    page = watch.page
    before = _report_count(ui["app"])
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert page.locator(".skip-link").is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # step 1, the map: "Sans la carte" opens the form at the coordinates field
    assert page.get_attribute("#map-layout", "data-step") == "map" and not page.is_visible("#report-form")
    _tab_to(page, "#without-map")
    page.keyboard.press("Enter")
    assert page.get_attribute("#map-layout", "data-step") == "form"
    assert page.evaluate("document.activeElement.id") == "coordinates"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # a visible focus
    page.keyboard.type("50°24'38.88\"N 4°26'38.4\"E")
    _tab_to(page, "#place-coordinates")  # (Enter in the field starts another line: several make a shape)
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('map-pane').dataset.placed")
    assert page.get_attribute("#map-pane", "data-placed") == "4.444000,50.410800"
    assert "Point placé : 50,410800 N, 4,444000 E (degrés, minutes, secondes, lu latitude puis longitude) — Charleroi" \
        in page.inner_text("#drawn-status")
    _tab_to(page, "#radius")
    page.keyboard.type("30")
    _tab_to(page, "#field-network")  # nothing chosen yet: the placeholder
    assert page.input_value("#field-network") == ""
    page.keyboard.press("ArrowDown")  # → Mobile
    page.keyboard.press("ArrowDown")  # → Fixe
    page.keyboard.press("ArrowUp")    # → Mobile
    assert page.input_value("#field-network") == "mobile"
    _tab_to(page, "input[name=technologies][value='4G']")
    page.keyboard.press("Space")
    page.screenshot(path=str(ARTIFACTS / "ui-keyboard-form-390.png"), full_page=True)
    _tab_to(page, "#submit-report")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/signalements$"))
    assert _report_count(ui["app"]) == before + 1
    kind, area, lon, lat, nis = _newest(ui["app"])
    assert kind == "ST_Polygon" and nis == CHARLEROI
    assert area == pytest.approx(32 * 30 ** 2 * math.sin(2 * math.pi / 64), rel=1e-3)
    assert (lon, lat) == (pytest.approx(4.444, abs=1e-6), pytest.approx(50.4108, abs=1e-6))
    watch.clean()
    watch.close()


def test_a_report_by_address_through_the_stub(ui, browser) -> None:  # noqa: ANN001, F811
    watch = Watch(browser, ui, DESKTOP)
    watch.login("ui-rep@charleroi.be")
    page = watch.page
    page.fill("#address", "Place Charles II")
    page.keyboard.press("Enter")  # searches, does not send the form
    page.wait_for_selector("#address-results li >> nth=1")
    buttons = page.locator("#address-results button")
    assert buttons.nth(0).inner_text() == "Place Charles II, Charleroi, Hainaut, Wallonie, 6000, Belgique"
    assert buttons.nth(1).is_disabled() and "(hors des communes desservies)" in buttons.nth(1).inner_text()
    assert page.inner_text("#address-status") == "2 adresses trouvées : choisissez-en une."
    (query,) = ui["stub"].of("/search")[-1:]
    assert query["q"] == ["Place Charles II"]
    buttons.nth(0).click()
    assert page.get_attribute("#map-pane", "data-placed") == f"{PLACE_CHARLES_II[0]:.6f},{PLACE_CHARLES_II[1]:.6f}"
    page.select_option("#field-network", "mobile")  # a required choice: nothing is preset
    page.fill("#field-description", "Devant l'hôtel de ville")
    page.screenshot(path=str(ARTIFACTS / "ui-address-1440.png"))
    page.click("#submit-report")
    page.wait_for_url(re.compile(r"/signalements$"))
    kind, _area, lon, lat, nis = _newest(ui["app"])
    assert (kind, nis) == ("ST_Point", CHARLEROI)
    assert (lon, lat) == (pytest.approx(PLACE_CHARLES_II[0], abs=1e-7), pytest.approx(PLACE_CHARLES_II[1], abs=1e-7))
    watch.clean()
    watch.close()


DRAW_FIRST = "Indiquez d'abord le lieu : dessinez sur la carte, saisissez des coordonnées, votre position ou une adresse."


def _box(page, selector: str) -> dict:  # noqa: ANN001
    return page.locator(selector).bounding_box()


def test_a_failed_address_search_is_said_under_its_button_and_settles_the_draw_first_alert(ui, browser) -> None:  # noqa: ANN001, F811
    """The address service fails (503 geocoder_unavailable, the stub answering 500): the
    message is right under the address field and its button (a live region describing the
    field), not under the radius; the "give the place first" alert of an earlier send is gone
    as soon as the person searches, reads coordinates or starts drawing."""
    watch = Watch(browser, ui, DESKTOP)
    watch.login("ui-rep@charleroi.be")
    page = watch.page
    page.wait_for_function("() => document.getElementById('map-pane').dataset.limits === 'ready'")
    page.click("#submit-report")  # no place yet
    assert page.inner_text("#shape-feedback") == DRAW_FIRST
    assert page.get_attribute("#shape-feedback", "role") == "alert"
    saved = ui["stub"].search_answer
    ui["stub"].search_answer = (500, "text/plain", b"boom")
    try:
        page.fill("#address", "Rue de la Gare")
        page.click("#search-address")
        page.wait_for_function("() => document.getElementById('address-status').getAttribute('role') === 'alert'")
    finally:
        ui["stub"].search_answer = saved
    said = page.locator("#address-status")
    assert said.inner_text() == ("La recherche d'adresse ne répond pas : saisissez des coordonnées ou dessinez "
                                 "sur la carte.")
    assert page.get_attribute("#address", "aria-describedby") == "address-status"
    assert said.get_attribute("aria-live") == "polite" and "field-error" in said.get_attribute("class")
    assert page.inner_text("#shape-feedback") == "" and page.get_attribute("#shape-feedback", "role") == "status"
    assert page.inner_text("#locate-status") == ""  # nothing said under the radius
    # directly under the button (and the field): no other element between them
    button, field, message, radius = (_box(page, s) for s in ("#search-address", "#address", "#address-status",
                                                                "#radius"))
    page.screenshot(path=str(ARTIFACTS / "ui-address-failed-1440.png"))
    assert 0 <= message["y"] - (button["y"] + button["height"]) <= 12
    assert field["y"] + field["height"] <= message["y"]  # (the button may wrap under the field)
    assert message["x"] <= button["x"] and message["x"] + message["width"] >= button["x"] + button["width"]
    assert abs(message["x"] - field["x"]) <= 1  # it starts where the field starts
    assert message["y"] + message["height"] < radius["y"]
    assert page.evaluate("""() => { const b = document.getElementById('search-address').getBoundingClientRect();
        const m = document.getElementById('address-status').getBoundingClientRect();
        return document.elementFromPoint(b.left + b.width / 2, (b.bottom + m.top) / 2 + 0.5)?.id ?? null; }""") != "radius"
    # reading coordinates, or beginning to draw, settles it too
    page.click("#submit-report")
    assert page.inner_text("#shape-feedback") == DRAW_FIRST
    page.fill("#coordinates", "pas des coordonnées")
    page.click("#place-coordinates")
    page.wait_for_function("() => document.getElementById('locate-status').textContent !== ''")
    assert page.inner_text("#shape-feedback") == ""
    page.fill("#coordinates", "")
    page.click("#submit-report")
    assert page.inner_text("#shape-feedback") == DRAW_FIRST
    page.click(".leaflet-draw-draw-polygon")
    assert page.inner_text("#shape-feedback") == ""
    assert [e for e in watch.errors if "Failed to load resource" not in e] == []
    assert sorted(set(watch.errors)) == [
        "Failed to load resource: the server responded with a status of 422 (UNPROCESSABLE ENTITY)",
        "Failed to load resource: the server responded with a status of 503 (SERVICE UNAVAILABLE)"]
    assert watch.outside == []
    watch.close()


def test_ambiguous_coordinates_are_asked_and_outside_the_commune_warned(ui, browser) -> None:  # noqa: ANN001, F811
    watch = Watch(browser, ui, DESKTOP)
    watch.login("ui-rep@charleroi.be")
    page = watch.page
    page.wait_for_function("() => document.getElementById('map-pane').dataset.limits === 'ready'")
    page.fill("#coordinates", "140000 141000")
    page.click("#place-coordinates")
    page.wait_for_selector("#coordinate-choices li >> nth=1")
    assert page.get_attribute("#locate-status", "role") == "alert"
    assert page.inner_text("#locate-status").startswith("Lequel de ces lieux voulez-vous dire ?")
    assert page.get_attribute("#coordinates", "aria-invalid") == "true"
    choices = page.locator("#coordinate-choices button")
    assert choices.nth(0).inner_text().startswith("lu x puis y :") and "Seneffe" in choices.nth(0).inner_text()
    choices.nth(1).click()
    assert page.is_hidden("#coordinate-choices")
    # Seneffe is not the representative's commune: warned before sending
    feedback = page.locator("#shape-feedback")
    assert feedback.get_attribute("role") == "alert"
    assert feedback.inner_text() == "La forme se trouve surtout hors de la commune de Charleroi : elle sera refusée."
    page.screenshot(path=str(ARTIFACTS / "ui-ambiguous-1440.png"))
    # the only failure is the coded answer asking which reading (422)
    assert watch.errors == ["Failed to load resource: the server responded with a status of 422 (UNPROCESSABLE ENTITY)"]
    assert watch.outside == []
    watch.close()


def test_a_circle_over_the_commune_border_is_warned_before_it_is_sent(ui, browser) -> None:  # noqa: ANN001, F811
    """A circle whose centre is in the commune but whose edge crosses into Châtelet (a fifth of
    it, by PostGIS) is said to leave the commune; its centre alone said nothing."""
    watch = Watch(browser, ui, DESKTOP)
    watch.login("ui-rep@charleroi.be")
    page = watch.page
    page.wait_for_function("() => document.getElementById('map-pane').dataset.limits === 'ready'")
    page.fill("#coordinates", "158650 122047")  # Lambert 72, 245 m from the border with Châtelet
    page.click("#place-coordinates")
    page.wait_for_function("() => document.getElementById('locate-status').textContent !== ''")
    assert page.inner_text("#shape-feedback") == ""  # a point in Charleroi
    page.fill("#radius", "400")
    page.locator("#radius").blur()
    page.wait_for_function("() => document.getElementById('shape-feedback').textContent !== ''")
    assert page.inner_text("#shape-feedback") == \
        "La forme sort de la commune de Charleroi : elle sera refusée si elle se trouve surtout ailleurs."
    page.fill("#radius", "100")  # within the commune again
    page.locator("#radius").blur()
    page.wait_for_function("() => document.getElementById('shape-feedback').textContent === ''")
    # a radius the server would refuse, typed before the place is read again: no circle of
    # another size, and the field keeps what was typed (it was emptied: a silent point)
    page.evaluate("() => { const r = document.getElementById('radius'); r.value = '6.000'; }")
    page.click("#place-coordinates")
    page.wait_for_function("() => document.getElementById('radius').getAttribute('aria-invalid') === 'true'")
    assert page.inner_text("#drawn-status").startswith("Point placé : ")
    assert page.input_value("#radius") == "6.000"
    assert page.inner_text("#shape-feedback") == \
        "Rayon (m) : « 6.000 » se lit 6000 ou 6 : écrivez le nombre sans séparateur de milliers."
    page.fill("#radius", "abc")
    page.locator("#radius").blur()
    assert page.inner_text("#shape-feedback") == \
        "Rayon : écrivez un nombre de mètres plus grand que 0 (par exemple 250), autour d'un point."
    assert watch.outside == []
    watch.close()


def _map_point(page, lon: float, lat: float) -> tuple[float, float]:  # noqa: ANN001
    """Page pixel of a position on the map."""
    x, y = page.evaluate("""([lon, lat]) => { const map = window[document.getElementById('map-pane').dataset.map];
        const p = map.latLngToContainerPoint([lat, lon]), r = map.getContainer().getBoundingClientRect();
        return [r.left + p.x, r.top + p.y]; }""", [lon, lat])
    return x, y


def test_drawing_is_measured_as_it_is_drawn_and_a_tiny_zone_is_refused_next_to_it(ui, browser) -> None:  # noqa: ANN001, F811
    watch = Watch(browser, ui, DESKTOP)
    watch.login("ui-rep@charleroi.be")
    page = watch.page
    page.wait_for_function("() => document.getElementById('map-pane').dataset.limits === 'ready'")
    page.evaluate("window[document.getElementById('map-pane').dataset.map].setView([50.4108, 4.444], 16, {animate: false})")
    page.click(".leaflet-draw-draw-polygon")
    corners = [(4.4430, 50.4100), (4.4450, 50.4100), (4.4450, 50.4115)]
    for lon, lat in corners:  # a person's pace: Leaflet.draw ignores a vertex within 50 ms of the last
        page.mouse.click(*_map_point(page, lon, lat))
        page.wait_for_timeout(150)
    # three vertices: the area is shown live, before the shape is closed
    live = page.inner_text("#measure")
    assert re.fullmatch(r"Surface : [\d\u202f\u00a0]+ m² \([\d,]+ ha\) · 3 sommets", live), live
    page.mouse.click(*_map_point(page, *corners[0]))  # close on the first vertex
    page.wait_for_function("() => document.getElementById('geometry').value !== ''")
    assert page.inner_text("#drawn-status") == "Forme dessinée : une zone."
    # 0.002° × 0.0015° at 50.41° N ≈ 142 m × 167 m / 2 ≈ 11,860 m²
    area = float(re.sub(r"[^\d]", "", page.inner_text("#measure").split("m²")[0]))
    assert area == pytest.approx(0.5 * 142.0 * 166.8, rel=0.02)
    # the figure shown is the one the server stores: the shape sent, measured in EPSG:31370
    # (the page showed Leaflet's geodesic area, 0.1 % off)
    sent = shapely.geometry.shape(json.loads(page.input_value("#geometry")))
    assert abs(area - area_m2(sent)) <= 1.0, (area, area_m2(sent))
    length = page.evaluate("""() => { const map = window[document.getElementById('map-pane').dataset.map];
        const line = L.polyline([[50.41, 4.443], [50.411, 4.445], [50.4115, 4.4452]]).addTo(map);
        map.fire('draw:created', {layer: line, layerType: 'polyline'});
        return document.getElementById('measure').textContent; }""")
    shown = float(re.sub(r"[^\d]", "", length.split("m")[0]))
    assert abs(shown - length_m(shapely.LineString([(4.443, 50.41), (4.445, 50.411), (4.4452, 50.4115)]))) <= 1.0
    assert page.inner_text("#shape-feedback") == ""
    # a 5 m square: warned before sending, refused by the server next to the shape
    page.evaluate("""() => {
        const map = window[document.getElementById('map-pane').dataset.map];
        const d = 5 / 111320, e = 5 / (111320 * Math.cos(50.41 * Math.PI / 180));
        const zone = L.polygon([[50.41, 4.444], [50.41, 4.444 + e], [50.41 + d, 4.444 + e], [50.41 + d, 4.444]]);
        zone.addTo(map);
        map.fire('draw:created', {layer: zone, layerType: 'polygon'});
    }""")
    warning = page.inner_text("#shape-feedback")
    assert re.fullmatch(r"Zone trop petite \(2[45] m²\) : dessinez au moins 100 m², ou placez un point\.", warning), warning
    page.screenshot(path=str(ARTIFACTS / "ui-tiny-zone-warned-1440.png"))
    page.select_option("#field-network", "mobile")  # the shape is what is refused here
    page.click("#submit-report")
    page.wait_for_load_state("networkidle")
    box = page.locator("#geometry-error")
    assert box.get_attribute("role") == "alert" and box.get_attribute("data-code") == "area_too_small"
    assert re.fullmatch(r"Zone trop petite \(2[45] m²\) : dessinez au moins 100 m², ou placez un point\.",
                        box.inner_text().strip())
    assert page.get_attribute("#map-pane", "data-server-error") == "area_too_small"  # the shape is back, marked
    # and the map shows it (after the first, animated, fit to the commune)
    page.wait_for_function("() => window[document.getElementById('map-pane').dataset.map].getZoom() === 16")
    page.screenshot(path=str(ARTIFACTS / "ui-refused-tiny-zone-1440.png"))
    assert watch.errors == ["Failed to load resource: the server responded with a status of 422 (UNPROCESSABLE ENTITY)"]
    watch.close()


def test_first_tap_after_closing_a_polygon_on_a_phone_is_not_lost(ui, browser) -> None:  # noqa: ANN001, F811
    watch = Watch(browser, ui, PHONE, touch=True)
    watch.login("ui-rep@charleroi.be")
    page = watch.page
    # the zone's corners in the map's middle (Leaflet.draw's actions, Finish and Cancel, lay
    # there, at the tools' height: they are a bar along the map's bottom edge on a phone)
    page.evaluate("window[document.getElementById('map-pane').dataset.map].setView([50.4108, 4.444], 16, {animate: false})")
    # the tools are named beside their icons (no tooltip to hover on a phone), within the screen
    labels = page.locator(".leaflet-draw-toolbar .draw-label")
    assert labels.all_inner_texts() == ["Tronçon de route", "Zone", "Rectangle", "Cercle", "Point"]
    for box in (label.bounding_box() for label in labels.all()):
        assert box["x"] + box["width"] <= PHONE["width"] and box["height"] >= 20, box
    page.screenshot(path=str(ARTIFACTS / "ui-phone-draw-tools-named-390.png"))
    page.locator(".draw-label", has_text="Zone").tap()  # the name is part of the button
    assert labels.first.is_hidden()  # not while drawing: Leaflet.draw's Finish / Cancel are there
    # which are 44 px tall, right of the tools (not over them), in one row along the map's
    # bottom edge (not over its middle), within the screen
    actions = page.locator(".leaflet-draw-actions a:visible")
    boxes = [actions.nth(i).bounding_box() for i in range(actions.count())]
    tools = page.locator(".leaflet-draw-toolbar-top").bounding_box()
    assert len(boxes) == 3 and all(b["height"] >= 44 and b["x"] >= tools["x"] + tools["width"] for b in boxes), boxes
    pane = page.locator("#map-pane").bounding_box()
    assert len({b["y"] for b in boxes}) == 1 and boxes[0]["y"] >= pane["y"] + pane["height"] * 0.8, (boxes, pane)
    assert boxes[-1]["x"] + boxes[-1]["width"] <= PHONE["width"], boxes
    assert page.evaluate("() => { const b = document.querySelector('.leaflet-draw-actions a:not([style*=none])')"
                         ".getBoundingClientRect(); const hit = document.elementFromPoint(b.left + 5, b.top + 5);"
                         " return hit.closest('.leaflet-draw-actions') !== null; }")
    # before the first touch, what to do is said above the map (Leaflet.draw's hint had no finger
    # to follow: it sat under the page's header); then the hint follows the finger
    assert page.inner_text("#map-step-tip") == "Touchez la carte pour commencer la zone."
    assert page.inner_text("#measure") == ""
    tooltip = page.locator(".leaflet-draw-tooltip").first
    assert tooltip.is_hidden()
    corners = [(4.4430, 50.4100), (4.4450, 50.4100), (4.4450, 50.4115)]
    for lon, lat in corners:
        page.touchscreen.tap(*_map_point(page, lon, lat))
        page.wait_for_timeout(400)
    assert tooltip.is_visible() and tooltip.inner_text().endswith("Touchez le premier point pour fermer la zone.")
    assert page.inner_text("#measure").startswith("Surface : ")
    # each vertex placed is a 44 px target (the first one, touched to close the zone, was 20 px)
    vertices = page.evaluate("() => [...document.querySelectorAll('#map-pane .leaflet-editing-icon')]"
                             ".map(e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; })")
    assert len(vertices) == 3 and all(w >= 44 and h >= 44 for w, h in vertices), vertices
    page.screenshot(path=str(ARTIFACTS / "ui-phone-drawing-390.png"))
    # the hint, turned to the vertex's left near the map's right edge, is clear of the drawing tools
    hint, tools = tooltip.bounding_box(), page.locator(".leaflet-draw-toolbar-top").bounding_box()
    assert hint["x"] >= tools["x"] + tools["width"], (hint, tools)
    page.touchscreen.tap(*_map_point(page, *corners[0]))
    page.wait_for_function("() => document.getElementById('geometry').value !== ''")
    assert "Touchez" not in page.inner_text("#measure")
    assert labels.first.is_hidden()  # a shape is drawn: the tools are known
    page.screenshot(path=str(ARTIFACTS / "ui-phone-drawn-390.png"))
    # the measure floats over the map: the step bar is whole in the window, as before drawing
    assert "Surface" in page.inner_text("#measure")
    bar = page.locator(".step-bar").bounding_box()
    assert bar["y"] + bar["height"] <= PHONE["height"], bar
    measure, pane = page.locator("#measure").bounding_box(), page.locator("#map-pane").bounding_box()
    assert pane["y"] <= measure["y"] and measure["y"] + measure["height"] <= pane["y"] + pane["height"] / 4
    page.tap("#to-form")  # the very first tap after closing the shape
    assert page.get_attribute("#map-layout", "data-step") == "form"
    assert page.is_visible("#report-form")
    watch.clean()
    watch.close()


def _drawing_on_a_phone(ui, browser, tool: str):  # noqa: ANN001, ANN202, F811
    """The representative's map on a phone (touch), close in on Charleroi, Leaflet.draw's
    ``tool`` (``polygon``, ``polyline``) chosen: (watch, page, the map pane's box)."""
    watch = Watch(browser, ui, PHONE, touch=True)
    watch.login("ui-rep@charleroi.be")
    page = watch.page
    page.evaluate("window[document.getElementById('map-pane').dataset.map].setView([50.4108, 4.444], 15, {animate: false})")
    page.tap(f".leaflet-draw-draw-{tool}")
    return watch, page, page.locator("#map-pane").bounding_box()


def test_the_drawing_tooltip_stays_on_a_phone_and_writes_numbers_the_french_way(ui, browser) -> None:  # noqa: ANN001, F811
    """Leaflet.draw's tooltip turns left near the right edge (it ran off the screen) and writes
    its area with a decimal comma (« 99.30 ha » before)."""
    watch, page, pane = _drawing_on_a_phone(ui, browser, "polygon")
    taps = [(pane["x"] + pane["width"] - 40, pane["y"] + 300), (pane["x"] + pane["width"] / 2, pane["y"] + 250),
            (pane["x"] + pane["width"] - 60, pane["y"] + 380)]  # (above the actions)
    for x, y in taps:
        page.touchscreen.tap(x, y)
        page.wait_for_timeout(400)
    tooltip = page.locator(".leaflet-draw-tooltip").first
    box = tooltip.bounding_box()
    assert "to-left" in tooltip.get_attribute("class")
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box  # whole on the screen
    # its words wrap inside it (none runs past its edge)
    assert page.evaluate("() => { const t = document.querySelector('.leaflet-draw-tooltip'), r = t.getBoundingClientRect();"
                         " return Array.from(t.querySelectorAll('span')).every(s => { const b = s.getBoundingClientRect();"
                         " return b.left >= r.left && b.right <= r.right; }); }")
    assert re.search(r"\d+,\d\d ha", tooltip.inner_text()), tooltip.inner_text()
    # a vertex in the middle of the screen: the tooltip stays whole too (it lost its last words)
    page.touchscreen.tap(pane["x"] + pane["width"] / 2 - 10, pane["y"] + 390)
    page.wait_for_timeout(400)
    box = tooltip.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    # a finger taps: the instruction says so (« Cliquez » before)
    assert tooltip.inner_text().endswith("Touchez le premier point pour fermer la zone."), tooltip.inner_text()
    page.screenshot(path=str(ARTIFACTS / "ui-phone-draw-tooltip-390.png"))
    watch.clean()
    watch.close()


def test_a_road_stretch_takes_every_tap_on_a_phone(ui, browser) -> None:  # noqa: ANN001, F811
    """A tap is a touch and then the browser's own mouse events: Leaflet.draw read both, so the
    second tap of a road stretch also closed it (2 points at most) and a zone's first tap said
    its sides crossed (found by a user's trial)."""
    watch, page, pane = _drawing_on_a_phone(ui, browser, "polyline")
    taps = [(pane["x"] + 90, pane["y"] + 380), (pane["x"] + 170, pane["y"] + 300),
            (pane["x"] + 250, pane["y"] + 360), (pane["x"] + 320, pane["y"] + 280)]
    for x, y in taps:
        page.touchscreen.tap(x, y)
        page.wait_for_timeout(400)
        assert page.locator(".leaflet-error-draw-tooltip").count() == 0
    assert page.evaluate("document.getElementById('geometry').value") == ""  # still drawing
    page.touchscreen.tap(*taps[-1])  # the last point again: the stretch ends there
    page.wait_for_function("() => document.getElementById('geometry').value !== ''")
    geometry = json.loads(page.evaluate("document.getElementById('geometry').value"))
    assert (geometry["type"], len(geometry["coordinates"])) == ("LineString", 4)
    # a zone: its first taps are corners, never a crossing
    page.tap(".leaflet-draw-draw-polygon")
    for x, y in taps[:3]:
        page.touchscreen.tap(x, y - 150)  # (clear of the drawing's actions, along the map's bottom)
        page.wait_for_timeout(400)
        assert page.locator(".leaflet-error-draw-tooltip").count() == 0
    page.touchscreen.tap(taps[0][0], taps[0][1] - 150)
    page.wait_for_function("() => JSON.parse(document.getElementById('geometry').value || '{}').type === 'Polygon'")
    ring = json.loads(page.evaluate("document.getElementById('geometry').value"))["coordinates"][0]
    assert len(ring) == 4  # three corners, closed
    watch.clean()
    watch.close()


def test_a_downloaded_export_joins_the_history_without_a_reload(ui, browser) -> None:  # noqa: ANN001, F811
    # a validated report in Chimay, this test's own (an export of none offers no mark): marked
    # transmitted below, then removed, so that the module's reports stay as they are
    database = ui["app"].extensions["geosignal.db"]
    with database.session() as session:
        x, y = session.execute(text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(boundary), "
                                    "31370) AS p FROM communes WHERE nis_code = '56016') c")).one()
        admin = session.scalar(select(User).where(User.email == "ui-admin@igretec.com"))
        referent = session.scalar(select(User).where(User.email == "ui-ref@igretec.com"))
        chimay = _add(session, admin, square_lambert(x, y, 300))
        workflow_service.move_along(session, chimay, "validated", referent)
        session.commit()
    try:
        _export_joins_the_history(ui, browser)
    finally:
        with owner_session(database) as session:
            session.execute(delete(Report).where(Report.id == chimay))
            session.commit()


def _export_joins_the_history(ui, browser) -> None:  # noqa: ANN001, F811
    watch = Watch(browser, ui, DESKTOP)
    watch.login("ui-ref@igretec.com")
    page = watch.page
    page.goto(ui["base"] + "/exports")
    before = page.locator(".export-run").count()
    assert page.locator("input[name=since]").bounding_box()["width"] < 40  # the box sits beside its words
    # the calendar button inside a date field takes the focus: the field shows the ring
    page.focus("input[name=from]")
    for _ in range(3):  # day, month, year, then the calendar button
        page.keyboard.press("Tab")
    ring = page.evaluate("() => { const e = document.activeElement; return [e.name, e.matches(':focus'), "
                         "getComputedStyle(e).outlineStyle]; }")
    assert ring == ["from", False, "solid"]
    page.evaluate("window.__samePage = 'yes'")
    page.select_option("#new-export select[name=commune]", "56016")  # Chimay: the test's report alone
    with page.expect_download() as download:
        page.click("#new-export button[value=geojson]")
    assert download.value.suggested_filename.endswith(".geojson")
    page.wait_for_function("n => document.querySelectorAll('.export-run').length === n + 1", arg=before, timeout=15000)
    assert page.evaluate("window.__samePage") == "yes"  # no reload
    newest = page.locator(".export-run").first
    assert newest.inner_text().startswith("Export du ") and "pas encore marqué comme transmis" in newest.inner_text()
    # marking is for good: said, then confirmed (a details step, no script)
    assert not newest.locator("button.mark-transmitted").is_visible()
    assert newest.locator("details.mark-transmitted-step summary").inner_text() == "Marquer comme transmis à DWconnect…"
    # the checksum and the incremental resume point are folded away from the sentence
    assert "seq:" not in newest.inner_text() and "SHA-256" not in newest.inner_text()
    newest.locator("details.export-technical summary").click()
    assert re.search(r"SHA-256\n[0-9a-f]{64}\n", newest.inner_text())
    assert re.search(r"\(paramètre since\)\nseq:\d+", newest.inner_text())
    page.screenshot(path=str(ARTIFACTS / "ui-export-history-1440.png"))
    # marked transmitted from the keyboard: the page comes back with the focus on its message
    newest.locator("details.mark-transmitted-step summary").focus()
    page.keyboard.press("Enter")
    assert newest.locator("details.mark-transmitted-step p").inner_text().startswith("C'est définitif")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "mark-transmitted"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.className") == "flash success"
    assert page.evaluate("document.activeElement.textContent").startswith("Export marqué comme transmis à DWconnect")
    assert "1 signalement passe" in page.evaluate("document.activeElement.textContent")  # Chimay's alone moved
    watch.clean()
    watch.close()


def _rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def test_reports_list_cards_colours_dates_withdrawn_and_open_on_the_map(ui, browser) -> None:  # noqa: ANN001, F811
    watch = Watch(browser, ui, PHONE)
    watch.login("ui-rep@charleroi.be")
    page = watch.page
    page.goto(ui["base"] + "/signalements")
    ids = ui["ids"]
    assert page.locator(f"#r-{ids['withdrawn']}").count() == 0
    assert page.inner_text("#toggle-withdrawn") == "Afficher les signalements retirés (1)"
    row = page.locator(f"#r-{ids['validated']}")
    assert page.evaluate("e => getComputedStyle(e).display", row.element_handle()) == "block"  # a card
    for status in vocab.STATUSES:
        if status == "withdrawn":
            continue
        badge = page.locator(f"#r-{ids[status]} .badge")
        assert badge.inner_text() == vocab.label(status)
        assert page.evaluate("e => getComputedStyle(e).backgroundColor", badge.element_handle()) == \
            _rgb(vocab.STATUS_COLOURS[status])
    cells = dict(zip(row.locator("td").evaluate_all("tds => tds.map(td => td.dataset.label)"),
                     row.locator("td").all_inner_texts(), strict=True))
    assert cells["Technologies"] == "DSL (cuivre), 4G" and cells["Opérateurs"] == "Autre"
    assert cells["Problème"] == "Aucune couverture" and cells["Réseau"] == "Mobile" and cells["Forme"] == "Zone"
    assert cells["Date d'observation"] == "06/03/2024"  # 23:30 UTC is the next day in Brussels
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4}", cells["Signalé le"])
    page.click("#toggle-withdrawn")
    assert page.locator(f"#r-{ids['withdrawn']} .badge").inner_text() == "Retiré"
    page.screenshot(path=str(ARTIFACTS / "ui-rep-cards-withdrawn-390.png"), full_page=True)
    page.locator(f"#r-{ids['validated']} a.button").click()
    page.wait_for_url(re.compile(r"/carte\?"))
    page.wait_for_function("() => { const p = document.getElementById('map-pane'); return p && p.dataset.focused; }")
    assert page.get_attribute("#map-pane", "data-focused") == ids["validated"]
    assert "Statut : Validé" in page.inner_text(".leaflet-popup-content")
    assert "Date d'observation : 06/03/2024" in page.inner_text(".leaflet-popup-content")
    page.screenshot(path=str(ARTIFACTS / "ui-rep-report-on-map-390.png"))
    watch.clean()
    watch.close()


def test_the_referent_reads_a_commune_map_and_its_reports_on_a_phone_without_drawing_tools(ui, browser) -> None:  # noqa: ANN001, F811
    watch = Watch(browser, ui, PHONE)
    watch.login("ui-ref@igretec.com")
    page = watch.page
    page.goto(ui["base"] + f"/carte?commune={CHARLEROI}")
    page.wait_for_selector("#report-list li")
    # She files no report: no drawing tools, no steps; the list of reports sits under the map.
    assert page.locator(".leaflet-draw").count() == 0 and page.locator("#report-form").count() == 0
    assert page.is_visible("#map-pane") and page.is_visible("#report-list")
    assert page.inner_text("main h1").startswith("Charleroi")
    with ui["app"].extensions["geosignal.db"].session() as session:  # every Charleroi report but the withdrawn
        shown = session.scalar(select(func.count()).select_from(Report).where(
            Report.commune_nis == CHARLEROI, Report.status != "withdrawn"))
    assert shown >= len(vocab.STATUSES) - 1 and page.locator("#report-list li").count() == shown
    page.screenshot(path=str(ARTIFACTS / "ui-ref-commune-map-390.png"), full_page=True)
    watch.clean()
    watch.close()
    # The representative's phone map keeps its heading for screen readers while the form waits.
    watch = Watch(browser, ui, PHONE)
    watch.login("ui-rep@charleroi.be")
    watch.page.goto(ui["base"] + "/carte")
    assert watch.page.locator(".leaflet-draw").count() == 1 and not watch.page.is_visible("#report-form")
    assert watch.page.get_by_role("heading", level=1).inner_text().startswith("Charleroi")
    watch.clean()
    watch.close()


def test_dashboard_shows_published_survey_figures_and_opens_a_commune(ui, browser) -> None:  # noqa: ANN001, F811
    watch = Watch(browser, ui, DESKTOP)
    watch.login("ui-ref@igretec.com")
    page = watch.page
    page.wait_for_function("() => document.getElementById('map-pane').dataset.state === 'ready'")
    # no survey answers imported: no empty survey columns, but the published 2022 figures
    assert page.locator("#commune-table th.survey-col").first.is_hidden()
    published = page.inner_text("#survey-published")
    assert "2022 : chiffres publiés du territoire" in published and "14 communes sur 30 ont répondu" in published
    assert "Score smart moyen (auto-évaluation)\n4,4/10" in published
    assert "Priorité : qualité de vie\n71\xa0%" in published
    x, y = page.evaluate("""nis => { const pane = document.getElementById('map-pane'), map = window[pane.dataset.map];
        let target = null; window[pane.dataset.communesLayer].eachLayer(l => {
            if (l.feature.properties.nis_code === nis) { target = l; } });
        map.fitBounds(target.getBounds(), {animate: false});
        const p = map.latLngToContainerPoint(target.getCenter()), r = map.getContainer().getBoundingClientRect();
        return [r.left + p.x, r.top + p.y]; }""", CHIMAY)
    page.wait_for_timeout(300)
    page.mouse.click(x, y)
    page.wait_for_url(f"**/communes/{CHIMAY}/fiche")
    assert "Chimay" in page.inner_text("h1")
    watch.clean()
    watch.close()


def test_base_maps_load_from_their_origin_and_switch(ui, browser) -> None:  # noqa: ANN001, F811
    watch = Watch(browser, ui, DESKTOP)
    watch.login("ui-rep@charleroi.be")
    page = watch.page
    page.wait_for_selector(".leaflet-tile-loaded")
    assert any(p.startswith("/tiles/") for p, _, _ in ui["stub"].requests)
    # the commune and its 9 neighbours are drawn
    assert page.locator(".leaflet-overlay-pane svg path").count() >= 10
    control = page.locator(".leaflet-control-layers")
    control.hover()
    labels = page.locator(".leaflet-control-layers-base label")
    assert [t.strip() for t in labels.all_inner_texts()] == ["Plan local", "Plan WMS"]
    labels.nth(1).click()
    page.wait_for_function("() => document.querySelectorAll('.leaflet-tile-loaded').length > 0")
    page.wait_for_timeout(300)
    wms = ui["stub"].of("/wms")
    assert wms, "no WMS request"
    query = {k.lower(): v for k, v in wms[-1].items()}
    assert query["crs"] == ["EPSG:3857"] and query["layers"] == ["1,3"] and query["request"] == ["GetMap"]
    assert "© WMS de test" in page.inner_text(".leaflet-control-attribution")
    page.screenshot(path=str(ARTIFACTS / "ui-base-map-wms-1440.png"))
    watch.clean()
    watch.close()


def _overlap(a: dict, b: dict) -> bool:
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])


def test_a_point_given_a_radius_reads_cleanly_and_the_scale_is_metric_beside_the_attribution(ui, browser) -> None:  # noqa: ANN001, F811
    """A point drawn on the map then given a radius: no empty "()" in the status line (the point
    was not typed, located or searched). The scale is in metres only and the attribution does
    not cover it on a phone."""
    watch = Watch(browser, ui, PHONE, touch=True)
    watch.login("ui-rep@charleroi.be")
    page = watch.page
    page.wait_for_function("() => document.getElementById('map-pane').dataset.limits === 'ready'")
    page.locator(".leaflet-draw-draw-marker").tap()
    box = page.locator("#map-pane").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_function("() => document.getElementById('geometry').value !== ''")
    page.click("#to-form")
    page.fill("#radius", "250")
    page.locator("#radius").blur()
    status = page.inner_text("#drawn-status")
    assert status.startswith("Zone de 250 m de rayon autour de ") and "(" not in status, status
    # its area is the stored polygon's: 64 sides of a 250 m circle in EPSG:31370, not π r²
    shown = float(re.sub(r"[^\d]", "", page.inner_text("#measure").split("m²")[0]))
    assert shown == round(32 * 250**2 * math.sin(math.pi / 32)) == 196_034
    # a radius the server would refuse draws no circle of another size: 6.000 (6 or 6,000 m? the
    # field holds what was typed) keeps the point and says what to write; 1000 is 1,000 m
    page.fill("#radius", "6.000")
    page.locator("#radius").blur()
    assert page.inner_text("#drawn-status").startswith("Point placé : ")
    assert page.get_attribute("#radius", "aria-invalid") == "true" and page.input_value("#radius") == "6.000"
    assert page.inner_text("#shape-feedback") == \
        "Rayon (m) : « 6.000 » se lit 6000 ou 6 : écrivez le nombre sans séparateur de milliers."
    page.fill("#radius", "abc")
    page.locator("#radius").blur()
    assert page.inner_text("#shape-feedback") == \
        "Rayon : écrivez un nombre de mètres plus grand que 0 (par exemple 250), autour d'un point."
    page.fill("#radius", "1000")
    page.locator("#radius").blur()
    assert page.inner_text("#drawn-status").startswith("Zone de 1\u202f000 m de rayon autour de ")
    assert page.get_attribute("#radius", "aria-invalid") is None
    page.fill("#radius", "250")
    page.locator("#radius").blur()
    page.click("#to-map")
    scale = page.locator(".leaflet-control-scale")
    assert re.fullmatch(r"\d+ k?m", scale.inner_text().strip()), scale.inner_text()
    assert page.locator(".leaflet-control-scale-line").count() == 1  # no miles line
    assert not _overlap(scale.bounding_box(), page.locator(".leaflet-control-attribution").bounding_box())
    page.screenshot(path=str(ARTIFACTS / "ui-radius-scale-390.png"))
    watch.clean()
    watch.close()


#: A CSV from Excel: three points in Charleroi, one in Châtelet (refused for this representative).
UPLOAD_CSV = ("latitude;longitude;operateur;description;date\r\n"
              "50,4108;4,4440;Proximus;Pas de réseau rue de la Montagne;15/11/2026\r\n"
              "50,4200;4,4300;Orange;Signal faible près de l'église;16/11/2026\r\n"
              "50,4050;4,4600;Base;Aucune donnée mobile au parc;17/11/2026\r\n"
              "50,4100;4,5300;VOO;Hors commune (Châtelet);18/11/2026\r\n").encode("cp1252")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390", "1440"])
def test_the_upload_preview_map_has_the_base_map_and_the_commune(ui, browser, viewport: dict) -> None:  # noqa: ANN001, F811
    """The preview map shows the configured base map (through the CSP, from its origin), a
    metric scale and the representative's commune; on a wide screen the table's short values
    are never broken inside a word."""
    watch = Watch(browser, ui, viewport)
    watch.login("ui-rep@charleroi.be")
    page = watch.page
    watch.preview_upload()
    page.wait_for_selector("#preview-table tbody tr >> nth=3")
    page.wait_for_selector("#import-map .leaflet-tile-loaded")
    page.wait_for_selector("#import-key-commune:not([hidden])")
    assert any(p.startswith("/tiles/") for p, _, _ in ui["stub"].requests)
    assert "© tuiles de test" in page.inner_text("#import-map .leaflet-control-attribution")
    # the commune's outline and the three accepted points
    assert page.locator("#import-map .leaflet-overlay-pane path").count() >= 4
    assert re.fullmatch(r"\d+ k?m", page.inner_text("#import-map .leaflet-control-scale").strip())
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    if viewport is DESKTOP:
        broken = page.evaluate("""() => Array.from(document.querySelectorAll('#preview-table tbody td'))
            .filter(td => td !== td.parentNode.lastElementChild && !td.classList.contains('kind-text')
                          && !td.classList.contains('kind-vocab_list') && !td.classList.contains('coordinates'))
            .filter(td => { const r = document.createRange(); r.selectNodeContents(td);
                            return r.getClientRects().length > 1; })
            .map(td => td.dataset.label + ': ' + td.textContent)""")
        assert broken == []
        table = page.locator("#preview-table").bounding_box()
        assert table["width"] <= page.locator(".table-scroll").bounding_box()["width"] + 1
    page.locator("#preview").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"ui-import-preview-{viewport['width']}.png"), full_page=True)
    watch.clean()
    watch.close()


#: A KML whose only content is behind a NetworkLink (never followed) and an image overlay.
LINK_ONLY_KML = (b'<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
                 b'<NetworkLink><name>Couverture</name><Link><href>https://example.org/couverture.kml</href></Link>'
                 b'</NetworkLink><GroundOverlay><name>Carte scann\xc3\xa9e</name><Icon><href>carte.png</href></Icon>'
                 b'<LatLonBox><north>50.42</north><south>50.40</south><east>4.46</east><west>4.43</west></LatLonBox>'
                 b'</GroundOverlay></Document></kml>')


def test_an_upload_with_nothing_readable_says_what_was_not_read(ui, browser) -> None:  # noqa: ANN001, F811
    """A KML whose content is behind a NetworkLink: the refusal (no_features) names the link's
    target and the overlay left out, in the page's language, so the user knows why."""
    watch = Watch(browser, ui, PHONE)
    watch.login("ui-rep@charleroi.be")
    page = watch.page
    watch.preview_upload("lien.kml", LINK_ONLY_KML, "application/vnd.google-earth.kml+xml")
    page.wait_for_selector("#import-error")
    assert page.get_attribute("#import-error", "data-code") == "no_features"
    text = page.inner_text("#import-error")
    assert "Lien réseau KML non suivi : https://example.org/couverture.kml" in text, text
    assert "Image superposée KML ignorée (ce n'est pas un signalement) : Carte scannée" in text, text
    page.screenshot(path=str(ARTIFACTS / "ui-import-link-only-390.png"))
    # the browser logs the refusal's status; nothing else may go wrong
    assert [e for e in watch.errors if "status of 422" not in e] == [] and watch.outside == []
    watch.close()


def test_the_dashboard_on_a_phone_shows_the_map_first_and_the_communes_as_cards(ui, browser) -> None:  # noqa: ANN001, F811
    """On a phone the filters start folded (the map is on the first screen), the commune table
    is a card per commune whose cells carry their column's name, and its links are 44 px
    touch targets. On a wide screen the filters are open and the table is a table."""
    watch = Watch(browser, ui, PHONE, touch=True)
    watch.login("ui-ref@igretec.com")
    page = watch.page
    page.wait_for_function("() => document.getElementById('map-pane').dataset.state === 'ready'")
    assert page.get_attribute("#filters-box", "open") is None and not page.is_visible("#indicator")
    assert page.locator("#map-pane").bounding_box()["y"] < PHONE["height"] / 2
    page.click("#filters-box summary")
    assert page.is_visible("#indicator")
    page.click("#filters-box summary")
    rows = page.locator("#commune-table tbody tr")
    assert rows.count() == 30
    first = rows.first.locator("td").nth(1)
    assert first.get_attribute("data-label") == "Commune"
    assert page.evaluate("getComputedStyle(document.querySelector('#commune-table tbody tr')).display") == "grid"
    # a card: the commune and three key figures side by side; the rest behind "Autres chiffres"
    card_heights = page.eval_on_selector_all("#commune-table tbody tr", "els => els.map(e => e.getBoundingClientRect().height)")
    assert max(card_heights) < 130, card_heights
    key = rows.first.locator("td.key")
    assert key.count() == 3 and len({round(key.nth(i).bounding_box()["y"]) for i in range(3)}) == 1
    assert [key.nth(i).get_attribute("data-label") for i in range(3)] == ["Signalements", "Zone blanche (km²)", "Part"]
    assert not rows.first.locator("td").first.is_visible()  # the NIS code, folded
    table = page.locator("#commune-table").bounding_box()
    assert table["width"] <= page.locator("#commune-table").locator("xpath=..").bounding_box()["width"] + 1
    heights = page.eval_on_selector_all("#commune-table tbody a, .downloads a",
                                        "els => els.map(a => a.getBoundingClientRect().height)")
    assert heights and min(heights) >= 43.5, heights
    # the column headers stay as sort buttons above the cards
    page.click("#commune-table th button[data-key=report_count]")  # most reports first
    assert rows.first.get_attribute("data-nis") == CHARLEROI
    more = rows.first.locator("button.row-more")
    assert more.inner_text() == "Autres chiffres" and more.get_attribute("aria-expanded") == "false"
    more.click()
    assert rows.first.locator("td").first.inner_text() == CHARLEROI and rows.first.locator("td.more").nth(1).is_visible()
    page.click("#commune-table th button[data-key=name_fr]")  # unfolded it stays, sorted again
    charleroi = page.locator(f"#commune-table tbody tr[data-nis='{CHARLEROI}']")
    assert charleroi.locator("button.row-more").get_attribute("aria-expanded") == "true"
    assert charleroi.locator("td").first.is_visible() and not rows.first.locator("td").first.is_visible()
    page.click("#commune-table th button[data-key=report_count]")  # most reports first again
    page.screenshot(path=str(ARTIFACTS / "ui-dashboard-cards-390.png"), full_page=True)
    page.screenshot(path=str(ARTIFACTS / "ui-dashboard-first-screen-390.png"))
    watch.clean()
    watch.close()
    wide = Watch(browser, ui, DESKTOP)
    wide.login("ui-ref@igretec.com")
    wide.page.wait_for_function("() => document.getElementById('map-pane').dataset.state === 'ready'")
    assert wide.page.get_attribute("#filters-box", "open") is not None and wide.page.is_visible("#indicator")
    assert wide.page.evaluate("getComputedStyle(document.querySelector('#commune-table tbody tr')).display") == "table-row"
    # the commune's name stays in view while the table scrolls sideways (the survey's columns)
    assert wide.page.evaluate("[...document.querySelectorAll('#commune-table tr > :nth-child(2)')]"
                              ".every(c => getComputedStyle(c).position === 'sticky')")
    wide.clean()
    wide.close()


def test_the_dashboard_keeps_its_filters_and_indicator_in_its_address(ui, browser) -> None:  # noqa: ANN001, F811
    """The filters and the map's indicator go into the page's address as they are chosen: a
    reload or a shared link shows the same figures (and, on a phone, the filters unfolded).
    Values the form does not offer are left out."""
    watch = Watch(browser, ui, DESKTOP)
    watch.login("ui-ref@igretec.com")
    page = watch.page
    ready = "() => document.getElementById('map-pane').dataset.state === 'ready'"
    page.wait_for_function(ready)
    everything = page.get_attribute("#map-pane", "data-total")
    assert int(everything) > 0
    page.select_option("#filters select[name=network]", "fixed")
    page.wait_for_function(ready)
    page.select_option("#indicator", "households_declared")
    assert page.url.split("?", 1)[1] == "network=fixed&indicator=households_declared"
    assert page.get_attribute("#map-pane", "data-total") == "0"
    page.reload()
    page.wait_for_function(ready)
    assert page.input_value("#filters select[name=network]") == "fixed"
    assert page.input_value("#indicator") == "households_declared"
    assert page.get_attribute("#map-pane", "data-total") == "0"
    assert page.inner_text("#legend").startswith("Ménages touchés (déclarés)")
    page.select_option("#filters select[name=network]", "")
    page.wait_for_function(ready)
    assert page.url.split("?", 1)[1] == "indicator=households_declared"
    assert page.get_attribute("#map-pane", "data-total") == everything
    page.goto(watch.base + "/tableau-de-bord?network=satellite&from=2025-13&operator=Orange&indicator=x")
    page.wait_for_function(ready)
    assert page.input_value("#filters select[name=network]") == ""
    assert page.input_value("#filters input[name=from]") == ""
    assert page.input_value("#filters select[name=operator]") == "Orange"
    assert page.input_value("#indicator") == "white_zone_share"
    watch.clean()
    watch.close()
    phone = Watch(browser, ui, PHONE, touch=True)
    phone.login("ui-ref@igretec.com")
    phone.page.goto(phone.base + "/tableau-de-bord?status=all")
    phone.page.wait_for_function(ready)
    assert phone.page.get_attribute("#filters-box", "open") is not None
    assert phone.page.input_value("#filters select[name=status]") == "all"
    phone.clean()
    phone.close()


#: The notice a map shows when its base-map tiles do not load.
BASEMAP_NOTICE = "Fond de carte indisponible : les communes et les signalements restent affichés."


def _tile_failures_only(watch: Watch, down: str) -> None:
    """The requests and console errors of tiles that do not load (expected): nothing else."""
    assert [e for e in watch.errors if "Failed to load resource" not in e] == []
    assert [u for u in watch.outside if not u.startswith(down)] == []


def test_a_base_map_that_does_not_load_is_said_on_the_map(ui, browser) -> None:  # noqa: ANN001, F811
    """Tiles answering 404, or a tile server that cannot be reached: every map with a base layer
    (folium's, the upload preview's, a report's) says so in a small notice instead of staying
    grey while crediting its tiles; with tiles that load, no notice. Once the map moves the
    notice folds into a warning button (it hid shapes), which unfolds it."""
    app, stub = ui["app"], ui["stub"]
    watch = Watch(browser, ui, DESKTOP)
    watch.login("ui-rep@charleroi.be")
    page = watch.page
    page.wait_for_selector("#map-pane .leaflet-tile-loaded")
    page.wait_for_load_state("networkidle")
    assert page.locator(".basemap-notice").count() == 0
    watch.clean()
    saved = app.config["BASEMAPS"]
    missing = stub.base + "/no-tiles/{z}/{x}/{y}.png"  # the stub answers 404
    app.config["BASEMAPS"] = json.dumps([{"name": "Plan absent", "type": "xyz", "url": missing,
                                          "attribution": "© OpenStreetMap contributors"}])
    try:
        page.goto(ui["base"] + "/carte")
        notice = page.locator("#map-pane .basemap-notice")
        notice.wait_for()
        assert notice.locator(".basemap-notice-text").inner_text() == BASEMAP_NOTICE
        assert notice.get_attribute("role") == "status"
        assert page.locator("#map-pane .leaflet-overlay-pane path").count() >= 10  # the communes are there
        page.screenshot(path=str(ARTIFACTS / "ui-basemap-down-carte-1440.png"))
        # the upload preview's map (basemaps.js)
        watch.preview_upload()
        page.locator("#import-map .basemap-notice").wait_for()
        assert page.inner_text("#import-map .basemap-notice-text") == BASEMAP_NOTICE
        # a report's page (report-page.js)
        page.goto(ui["base"] + f"/signalements/{ui['ids']['submitted']}")
        page.locator("#report-map .basemap-notice").wait_for()
        _tile_failures_only(watch, stub.base + "/no-tiles/")
        watch.close()
        # a tile server that cannot be reached (nothing listens on the port), on a phone
        unreachable = "http://127.0.0.1:9/tiles/{z}/{x}/{y}.png"
        app.config["BASEMAPS"] = json.dumps([{"name": "Plan injoignable", "type": "xyz", "url": unreachable,
                                              "attribution": "© OpenStreetMap contributors"}])
        phone = Watch(browser, ui, PHONE, touch=True)
        phone.login("ui-rep@charleroi.be")
        notice = phone.page.locator("#map-pane .basemap-notice")
        notice.wait_for()
        assert notice.locator(".basemap-notice-text").inner_text() == BASEMAP_NOTICE
        assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        # it covers none of the map's controls
        for control in (".leaflet-control-zoom", ".leaflet-draw", ".leaflet-control-scale", ".leaflet-control-attribution"):
            assert not _overlap(notice.bounding_box(), phone.page.locator(f"#map-pane {control}").bounding_box()), control
        phone.page.screenshot(path=str(ARTIFACTS / "ui-basemap-down-carte-390.png"))
        # the map moves: the notice folds into its warning button, which hides no shape and
        # unfolds it again
        assert "folded" not in notice.get_attribute("class")
        phone.page.locator("#map-pane .leaflet-control-zoom-in").tap()
        notice.locator(".basemap-notice-text").wait_for(state="hidden")
        folded = notice.bounding_box()
        assert 43.5 <= folded["width"] <= 46 and 43.5 <= folded["height"] <= 46, folded
        unfold = notice.get_by_role("button", name=BASEMAP_NOTICE)
        assert unfold.get_attribute("aria-expanded") == "false"
        phone.page.screenshot(path=str(ARTIFACTS / "ui-basemap-down-folded-390.png"))
        unfold.tap()
        assert notice.locator(".basemap-notice-text").is_visible() and unfold.get_attribute("aria-expanded") == "true"
        # once read, it may be closed: a 44 px button, and it stays closed on this page
        close = notice.get_by_role("button", name="Fermer ce message")
        assert close.bounding_box()["width"] >= 44 and close.bounding_box()["height"] >= 44
        close.tap()
        assert phone.page.locator("#map-pane .basemap-notice").count() == 0
        phone.page.locator("#map-pane .leaflet-control-zoom-out").tap()  # more tiles fail: not shown again
        phone.page.wait_for_timeout(1000)
        assert phone.page.locator("#map-pane .basemap-notice").count() == 0
        # a report's map on a phone (256 px tall): the warning button alone from the start (the
        # notice unfolded hid two fifths of it), which unfolds the notice
        phone.page.goto(ui["base"] + f"/signalements/{ui['ids']['submitted']}")
        small = phone.page.locator("#report-map .basemap-notice")
        small.wait_for()
        assert "folded" in small.get_attribute("class") and not small.locator(".basemap-notice-text").is_visible()
        small.get_by_role("button", name=BASEMAP_NOTICE).tap()
        assert small.locator(".basemap-notice-text").is_visible()
        _tile_failures_only(phone, "http://127.0.0.1:9/")
        phone.close()
    finally:
        app.config["BASEMAPS"] = saved


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 800}, DESKTOP], ids=["1280", "1440"])
@pytest.mark.parametrize("email", list(PAGES), ids=["representative", "referent"])
def test_the_map_page_fits_the_window_on_a_desktop(ui, browser, email: str, viewport: dict) -> None:  # noqa: ANN001, F811
    """On 1280×800 and 1440×900 screens the map page's map and side panel end within the window
    (the navigation takes two lines there), the page does not scroll, and the top bar stays low."""
    watch = Watch(browser, ui, viewport)
    watch.login(email)
    page = watch.page
    page.goto(ui["base"] + f"/carte?commune={CHARLEROI}")
    page.wait_for_function("() => document.getElementById('map-pane').dataset.reports !== undefined")
    height, width = viewport["height"], viewport["width"]
    for selector in ("#map-pane", "#report-side"):
        box = page.locator(selector).bounding_box()
        assert box["y"] + box["height"] <= height, f"{selector} ends at {box['y'] + box['height']} px"
    assert page.locator("#map-pane").bounding_box()["height"] >= 0.7 * height
    assert page.evaluate("document.documentElement.scrollHeight") <= height
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    nav = page.locator("#main-nav")
    assert nav.is_visible() and nav.bounding_box()["height"] <= 2 * 40  # at most two lines
    assert page.locator(".topbar").bounding_box()["height"] <= 0.16 * height
    # Leaflet knows the map's size (drawn to the bottom, the scale in view)
    scale = page.locator("#map-pane .leaflet-control-scale").bounding_box()
    assert scale["y"] + scale["height"] <= height
    page.wait_for_timeout(400)  # the zoom to the commune's reports, animated
    page.screenshot(path=str(ARTIFACTS / f"ui-map-fits-{'rep' if 'rep' in email else 'ref'}-{width}.png"))
    watch.clean()
    watch.close()


def test_an_upload_row_in_another_commune_names_it(ui, browser) -> None:  # noqa: ANN001, F811
    """A file's row whose point lies in a commune the representative does not represent: the
    preview says so for a row's point (nothing was drawn; wholly there, not « mostly »), names
    the commune, in the page's language."""
    watch = Watch(browser, ui, PHONE)
    watch.login("ui-rep@charleroi.be")
    page = watch.page
    watch.preview_upload()
    row = page.locator("#preview-table tbody tr.refused")
    row.wait_for()
    detail = row.locator("td[data-code=not_your_commune]")
    assert detail.inner_text() == ("Le point de cette ligne se trouve dans une autre commune que la vôtre : "
                                   "Châtelet (52012). Vous ne pouvez pas l'importer.")
    assert row.locator("td").nth(2).inner_text() == "Châtelet"
    # the preview is brought into view (it opened below the form, out of sight on a phone)
    top = page.evaluate("document.getElementById('preview').getBoundingClientRect().top")
    assert 0 <= top < PHONE["height"] / 2, top
    detail.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "ui-import-other-commune-390.png"))
    watch.clean()
    watch.close()
    # in English (a user whose language is English)
    with ui["app"].extensions["geosignal.db"].session() as session:
        create_user(session, "ui-rep-en@charleroi.be", "representative", CHARLEROI, PASSWORD).locale = "en"
        session.commit()
    english = Watch(browser, ui, DESKTOP)
    english.login("ui-rep-en@charleroi.be")
    english.preview_upload()
    detail = english.page.locator("#preview-table td[data-code=not_your_commune]")
    detail.wait_for()
    assert detail.inner_text() == "This row's point lies in a commune other than yours: Châtelet (52012). You cannot import it."
    english.clean()
    english.close()


def test_an_upload_row_refused_for_a_cell_names_its_column_and_value_in_the_page_language(ui, browser) -> None:  # noqa: ANN001, F811
    """A refused CSV row names the cell at fault (its row, column and what it held: the sentence of
    its kind, saying what to write), and the file's note on columns read for nothing; French puts
    a space before the colon, Dutch does not."""
    data = ("latitude;longitude;operateur;couleur;probleme\r\n50,4108;4,4440;Proximus;rouge;Débit insufisant\r\n"
            "abc;4,4440;Orange;bleu;\r\n").encode()
    expected = {"fr": ("Ligne 3 : la colonne « latitude » contient « abc », qui n'est pas un nombre. Écrivez un "
                       "nombre avec les chiffres 0 à 9 (par exemple 50,4108), sans lettre ni symbole.",
                       "Colonnes ignorées (ni propriété ni coordonnée) : couleur"),
                "nl": ("Rij 3: kolom ‘latitude’ bevat ‘abc’, geen getal. Schrijf een getal met de cijfers 0 tot 9 "
                       "(bijvoorbeeld 50,4108), zonder letters of symbolen.", ": couleur")}
    with ui["app"].extensions["geosignal.db"].session() as session:
        create_user(session, "ui-rep-nl@charleroi.be", "representative", CHARLEROI, PASSWORD).locale = "nl"
        session.commit()
    for lang, email in (("fr", "ui-rep@charleroi.be"), ("nl", "ui-rep-nl@charleroi.be")):
        watch = Watch(browser, ui, PHONE)
        watch.login(email)
        watch.preview_upload("releve.csv", data)
        detail = watch.page.locator("#preview-table tbody tr.refused td[data-code=invalid_coordinate]")
        detail.wait_for()
        cell, note = expected[lang]
        assert detail.inner_text() == cell
        notes = watch.page.inner_text("#preview-notes")
        assert notes.endswith(note) and (lang == "fr") == (" : couleur" in notes)
        assert watch.page.locator("#preview-table tbody tr.refused td").first.inner_text() == "3"  # its row
        # an accepted row's value set aside: its cell, and the values the column may hold
        set_aside = watch.page.locator("#preview-table tbody tr.accepted td").last.inner_text()
        assert set_aside == {
            "fr": "Valeur ignorée — colonne « probleme » : « Débit insufisant » — valeurs admises : Aucune couverture, "
                  "Signal faible, Pas de données mobiles, Débit insuffisant, Connexion intermittente",
            "nl": "Waarde genegeerd — kolom ‘probleme’: ‘Débit insufisant’ — toegestane waarden: Geen dekking, "
                  "Zwak signaal, Geen mobiele data, Onvoldoende snelheid, Onderbroken verbinding"}[lang]
        # and the row says so where the eye goes: its status, and its colour (amber, not green)
        noted = watch.page.locator("#preview-table tbody tr.accepted.noted")
        assert noted.count() == 1 and noted.locator("td").nth(1).inner_text() == \
            {"fr": "accepté, avec une remarque", "nl": "aanvaard, met een opmerking"}[lang]
        assert noted.locator("td").first.evaluate("td => getComputedStyle(td).backgroundColor") == _rgb("#fff4e0")
        watch.page.screenshot(path=str(ARTIFACTS / f"ui-import-cell-{lang}-390.png"), full_page=True)
        watch.clean()
        watch.close()


def test_the_forced_password_change_shows_only_the_way_out_and_names_the_account(ui, browser) -> None:  # noqa: ANN001, F811
    """After a first sign-in with a one-time password nothing but the change opens: the top bar
    has no menu, only the sign-out; the form carries the account's e-mail for password managers
    (autocomplete=username, read-only). Once changed, the menu is back."""
    with ui["app"].extensions["geosignal.db"].session() as session:
        create_user(session, "ui-first@charleroi.be", "representative", CHARLEROI, PASSWORD).must_change_password = True
        session.commit()
    for viewport in (PHONE, DESKTOP):
        watch = Watch(browser, ui, viewport)
        watch.login("ui-first@charleroi.be")
        page = watch.page
        assert page.url.endswith("/compte/mot-de-passe")
        header = page.locator("header.topbar")
        assert header.locator("#main-nav").count() == 0 and header.locator("#menu-button").count() == 0
        assert header.locator("a").all_inner_texts() == [header.locator(".brand").inner_text()]
        signout = header.get_by_role("button", name="Se déconnecter")
        assert signout.is_visible()
        box = signout.bounding_box()
        assert box["height"] >= 43.5 and box["width"] >= 43.5
        form = page.locator("main form")
        username = form.locator("input[autocomplete=username]")
        assert username.input_value() == "ui-first@charleroi.be" and username.get_attribute("readonly") is not None
        assert form.locator("input[type=password]").count() == 2
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        if viewport is PHONE:
            assert _small_targets(page) == []
        page.screenshot(path=str(ARTIFACTS / f"ui-forced-password-{viewport['width']}.png"), full_page=True)
        if viewport is DESKTOP:
            page.fill("input[name=current_password]", PASSWORD)
            page.fill("input[name=password]", "girafe clavier nuage pelouse")
            page.click("main button[type=submit]")
            page.wait_for_url(re.compile(r"/carte$"))
            assert page.locator("#main-nav").is_visible()
        else:
            signout.click()
            page.wait_for_url(re.compile(r"/login"))
        watch.clean()
        watch.close()


def test_a_place_outside_the_commune_is_warned_on_the_phones_map_step(ui, browser) -> None:  # noqa: ANN001, F811
    """On a phone a point placed outside the commune is warned under the map (step 1), not only
    once the whole form is sent; back from the form, the map shows the point with the commune's
    boundary (it showed the lone pin at 100 m)."""
    watch = Watch(browser, ui, PHONE, touch=True)
    watch.login("ui-rep@charleroi.be")
    page = watch.page
    page.wait_for_function("() => document.getElementById('map-pane').dataset.limits === 'ready'")
    page.evaluate("""() => { const map = window[document.getElementById('map-pane').dataset.map];
        const pin = L.marker([50.405, 4.56]).addTo(map);  // in Châtelet
        map.fire('draw:created', {layer: pin, layerType: 'marker'}); }""")
    warning = page.locator("#map-warnings .warning")
    assert warning.is_visible()
    assert warning.inner_text() == "La forme se trouve surtout hors de la commune de Charleroi : elle sera refusée."
    page.click("#to-form")
    assert page.locator("#map-warnings").is_hidden() and page.locator("#shape-feedback .warning").is_visible()
    page.click("#to-map")
    inside = page.evaluate("""() => { const pane = document.getElementById('map-pane'), map = window[pane.dataset.map];
        const b = map.getBounds(), boundary = window[pane.dataset.boundaryLayer].getBounds();
        return [b.contains([50.405, 4.56]), b.pad(0.05).contains(boundary)]; }""")
    assert inside == [True, True]
    page.screenshot(path=str(ARTIFACTS / "ui-outside-point-warned-390.png"))
    # on a wide screen the form beside the map says it: not twice
    watch.close()
    wide = Watch(browser, ui, DESKTOP)
    wide.login("ui-rep@charleroi.be")
    wide.page.wait_for_function("() => document.getElementById('map-pane').dataset.limits === 'ready'")
    wide.page.evaluate("""() => { const map = window[document.getElementById('map-pane').dataset.map];
        const pin = L.marker([50.405, 4.56]).addTo(map); map.fire('draw:created', {layer: pin, layerType: 'marker'}); }""")
    assert wide.page.locator("#shape-feedback .warning").is_visible() and wide.page.locator("#map-warnings").is_hidden()
    wide.clean()
    wide.close()


def test_the_representatives_map_keys_its_colours_and_links_each_report(ui, browser) -> None:  # noqa: ANN001, F811
    """The representative's map says what its colours mean (the statuses shown, in their
    colours) and a report's popup opens its page (what became of it, the reason)."""
    watch = Watch(browser, ui, DESKTOP)
    watch.login("ui-rep@charleroi.be")
    page = watch.page
    page.wait_for_function("() => Number(document.getElementById('map-pane').dataset.reports || 0) > 0")
    key = page.locator("#status-key")
    assert key.is_visible() and key.inner_text().startswith("Couleur selon le statut :")
    items = key.locator("span:not(.key-title):not(.key)")
    shown = [t.strip() for t in items.all_inner_texts()]
    assert "Soumis" in shown and "Retiré" not in shown  # withdrawn reports are hidden by default
    colours = dict(zip(shown, items.locator(".key").evaluate_all("ks => ks.map(k => getComputedStyle(k).backgroundColor)"),
                       strict=True))
    assert colours["Soumis"] == _rgb(vocab.STATUS_COLOURS["submitted"])
    rid = ui["ids"]["submitted"]
    page.evaluate("""id => { const pane = document.getElementById('map-pane');
        window[pane.dataset.map].eachLayer(l => { if (l.feature && l.feature.id === id && l.openPopup) l.openPopup(); }); }""", rid)
    link = page.locator(".leaflet-popup-content .popup-head a")
    assert link.get_attribute("href") == f"/signalements/{rid}" and link.inner_text().endswith(" — Ouvrir le signalement")
    watch.clean()
    watch.close()


def test_the_repair_box_is_a_big_target_on_a_phone(ui, browser) -> None:  # noqa: ANN001, F811
    """The "repair the outline" box of the map form and of the upload form, beside a long text:
    the box is not squeezed, and its label (which ticks it) is at least 44 px each way. On the
    map form it is offered for a drawn area only (not a point or a road stretch)."""
    watch = Watch(browser, ui, PHONE, touch=True)
    watch.login("ui-rep@charleroi.be")
    page = watch.page
    page.wait_for_function("() => document.getElementById('map-pane').dataset.limits === 'ready'")
    label = page.locator("label.check:has(input[name=repair])")
    assert label.is_hidden()  # nothing drawn
    draw = """kind => { const map = window[document.getElementById('map-pane').dataset.map];
        const shape = kind === 'polygon' ? L.polygon([[50.41, 4.443], [50.41, 4.445], [50.4115, 4.445]])
            : kind === 'polyline' ? L.polyline([[50.41, 4.443], [50.411, 4.445]]) : L.marker([50.41, 4.444]);
        shape.addTo(map); map.fire('draw:created', {layer: shape, layerType: kind}); }"""
    for kind in ("marker", "polyline"):
        page.evaluate(draw, kind)
        assert label.is_hidden(), kind
    page.evaluate(draw, "polygon")
    page.click("#to-form")
    for path in ("/carte", "/import"):
        if path != "/carte":
            page.goto(ui["base"] + path)
        box = page.locator("input[name=repair]")
        label = page.locator("label.check:has(input[name=repair])")
        label.scroll_into_view_if_needed()
        b, lb = box.bounding_box(), label.bounding_box()
        assert b["width"] >= 20 and abs(b["width"] - b["height"]) < 1, b
        assert lb["height"] >= 43.5 and lb["width"] >= 43.5, lb
        assert lb["x"] <= b["x"] and b["x"] + b["width"] <= lb["x"] + lb["width"]
        assert not box.is_checked()
        label.tap(position={"x": lb["width"] - 10, "y": lb["height"] / 2})  # on the text, far from the box
        assert box.is_checked()
        page.screenshot(path=str(ARTIFACTS / f"ui-repair-box-{_slug(path)}-390.png"))
    watch.clean()
    watch.close()


#: a bow-tie typed in the coordinates field, one « lat, lon » per line, crossing at (4.444, 50.410)
TYPED_BOWTIE = "50.4080, 4.4400\n50.4120, 4.4480\n50.4080, 4.4480\n50.4120, 4.4400"


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390", "1440"])
def test_a_typed_zone_refused_for_crossing_itself_offers_the_repair_its_message_asks_for(  # noqa: F811
        ui, browser, viewport) -> None:  # noqa: ANN001, F811
    """The refusal says « …ou cochez la correction automatique », and the box was hidden: it was
    shown for a drawn area only, and a typed zone comes back with no drawing. Ticked, the zone
    is stored whole (two lobes)."""
    phone = viewport is PHONE
    watch = Watch(browser, ui, viewport, touch=phone)
    watch.login("ui-rep@charleroi.be")
    page = watch.page
    page.wait_for_function("() => document.getElementById('map-pane').dataset.limits === 'ready'")
    with ui["app"].extensions["geosignal.db"].session() as session:
        before = session.scalar(select(func.count()).select_from(Report))
    if phone and page.is_visible("#without-map"):
        page.click("#without-map")
    label = page.locator("label.check:has(input[name=repair])")
    assert label.is_hidden()  # nothing drawn nor typed
    page.select_option("select[name=network]", "mobile")
    # (one bow-tie per size: the same one again, seconds later, would be the first's duplicate)
    page.fill("#coordinates", TYPED_BOWTIE.replace("4.44", "4.45") if phone else TYPED_BOWTIE)
    page.check("input[name=coordinates_shape][value=zone]")
    assert label.is_visible()  # a zone typed: offered before sending too
    with page.expect_navigation():
        page.click("#submit-report")
    page.wait_for_load_state("networkidle")
    assert "cochez la correction automatique" in page.inner_text("#geometry-error, #coordinates-error")
    assert label.is_visible()
    page.screenshot(path=str(ARTIFACTS / f"ui-typed-bowtie-refused-{viewport['width']}.png"), full_page=True)
    label.click()
    assert page.is_checked("input[name=repair]")
    with page.expect_navigation():
        page.click("#submit-report")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(ARTIFACTS / f"ui-typed-bowtie-repaired-{viewport['width']}.png"), full_page=True)
    with ui["app"].extensions["geosignal.db"].session() as session:
        kind, parts = session.execute(text("SELECT GeometryType(geometry), ST_NumGeometries(geometry) FROM reports "
                                           "ORDER BY created_at DESC LIMIT 1")).one()
        assert session.scalar(select(func.count()).select_from(Report)) == before + 1
    assert (kind, parts) == ("MULTIPOLYGON", 2)
    assert [e for e in watch.errors if "422" not in e] == [] and watch.outside == []  # (the refusal's page is a 422)
    watch.close()


def test_unrecognised_coordinate_columns_are_chosen_on_the_page(ui, browser) -> None:  # noqa: ANN001, F811
    """A CSV whose coordinate headers are not recognised: the page says which choice is missing,
    opens the columns' choice with the columns it did recognise already chosen, and the
    preview then reads the file with the default network (the choice's "network" select is
    not a second form field: it sent network twice, a 400)."""
    data = ("Coord. Nord;Coord. Est;Opérateur;Remarque\r\n50,4108;4,4440;Proximus;Pas de réseau\r\n").encode("utf-8-sig")
    watch = Watch(browser, ui, PHONE)
    watch.login("ui-rep@charleroi.be")
    page = watch.page
    page.goto(watch.base + "/import")
    page.select_option("#import-form select[name=network]", "fixed")
    page.set_input_files("#import-file", files=[{"name": "releve.csv", "mimeType": "text/csv", "buffer": data}])
    page.click("#preview-button")
    error = page.locator("#import-error")
    error.wait_for()
    assert error.get_attribute("data-code") == "unreadable_file"
    assert error.inner_text().startswith("Les colonnes des coordonnées n'ont pas été reconnues : choisissez ci-dessus")
    assert page.is_visible("#mapping")
    chosen = page.eval_on_selector_all("#mapping-fields select", "els => Object.fromEntries(els.map(s => [s.dataset.field, s.value]))")
    recognised = {"operators": "Opérateur", "description": "Remarque"}
    assert chosen == {name: recognised.get(name, "") for name in chosen}
    assert page.locator("#import-form select[name=network]").count() == 1  # only the default network's
    page.select_option("#mapping-fields select[data-field=lat]", "Coord. Nord")
    page.select_option("#mapping-fields select[data-field=lon]", "Coord. Est")
    page.screenshot(path=str(ARTIFACTS / "ui-import-mapping-390.png"), full_page=True)
    with page.expect_response(lambda r: r.url.endswith("/api/v1/imports")) as answer:
        page.click("#preview-button")
    body = answer.value.json()
    assert answer.value.status == 200, body
    (feature,) = body["features"]
    assert feature["status"] == "accepted"
    assert (feature["properties"]["network"], feature["properties"]["operators"], feature["properties"]["description"]) \
        == ("fixed", ["Proximus"], "Pas de réseau")
    assert feature["geometry"]["coordinates"] == pytest.approx([4.4440, 50.4108], abs=1e-9)
    page.locator("#preview-table tbody tr").first.wait_for()
    watch.errors = [e for e in watch.errors if "422" not in e]  # the first answer, expected
    watch.clean()
    watch.close()


def test_an_upload_row_with_swapped_coordinates_says_where_it_would_be(ui, browser) -> None:  # noqa: ANN001, F811
    """A row whose latitude and longitude are in each other's column is refused as outside the
    communes served, and the page says what the server guessed: swapped, it would be in
    Charleroi (nothing swapped for the user)."""
    data = b"latitude;longitude;description\r\n4,4440;50,4108;inverse\r\n50,4108;4,4440;juste\r\n"
    watch = Watch(browser, ui, PHONE)
    watch.login("ui-rep@charleroi.be")
    watch.preview_upload("releve.csv", data)
    detail = watch.page.locator("#preview-table tbody tr.refused td[data-code=outside_service_area]")
    detail.wait_for()
    assert detail.inner_text().endswith(
        " Les deux coordonnées semblent inversées : dans l'autre ordre, ce lieu serait à Charleroi. Vérifiez "
        "l'ordre (longitude puis latitude, ou les colonnes) ; rien n'a été inversé.")
    watch.clean()
    watch.close()


def test_api_tokens_on_a_phone_are_cards_and_a_new_token_copies(ui, browser) -> None:  # noqa: ANN001, F811
    """/compte/jetons at 390 px: the tokens are cards (no word broken mid-word), nothing wider
    than the phone, 44 px targets; a new token shown once has a Copy button that puts it on
    the clipboard."""
    watch = Watch(browser, ui, PHONE, touch=True)
    watch.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=ui["base"])
    watch.login("ui-rep@charleroi.be")
    page = watch.page
    page.goto(ui["base"] + "/compte/jetons")
    page.fill("input[name=name]", "QGIS du service urbanisme de la commune")
    page.fill("input[name=current_password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_selector("#new-token")
    token = page.input_value("#new-token")
    assert len(token) >= 40
    assert page.evaluate("getComputedStyle(document.querySelector('#tokens tbody tr')).display") == "block"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert _small_targets(page) == []
    page.click("button.copy-button")
    page.wait_for_function("() => document.querySelector('button.copy-button').textContent === 'Copié'")
    assert page.evaluate("navigator.clipboard.readText()") == token
    page.screenshot(path=str(ARTIFACTS / "ui-tokens-390.png"), full_page=True)
    watch.clean()
    watch.close()


def test_the_drawing_tools_stay_whole_on_a_page_zoomed_to_200_percent(ui, browser) -> None:  # noqa: ANN001, F811
    """A 1366×900 window zoomed to 200 % is 683×450 CSS px: the map was about 290 px tall and
    hid the circle, point, edit and delete tools under its edge (a user's trial). The map keeps
    room for them all; the page scrolls."""
    watch = Watch(browser, ui, {"width": 683, "height": 450})
    watch.login("ui-rep@charleroi.be")
    page = watch.page
    pane = page.locator("#map-pane").bounding_box()
    scale = page.locator(".leaflet-control-scale").bounding_box()
    for tool in ("draw-draw-polyline", "draw-draw-marker", "draw-edit-edit", "draw-edit-remove"):
        box = page.locator(f".leaflet-{tool}").bounding_box()
        assert pane["y"] <= box["y"] and box["y"] + box["height"] <= scale["y"], (tool, box, scale)
    page.screenshot(path=str(ARTIFACTS / "ui-map-zoom-200.png"))
    watch.clean()
    watch.close()


def _takes_the_tap(page, box: dict, selector: str) -> bool:  # noqa: ANN001
    """Whether a tap at the middle of ``box`` lands on an element of ``selector`` (nothing over it)."""
    return page.evaluate("([x, y, s]) => { const e = document.elementFromPoint(x, y); return !!(e && e.closest(s)); }",
                         [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, selector])


def test_a_report_opened_on_a_phones_map_is_readable_and_its_popup_closes(ui, browser) -> None:  # noqa: ANN001, F811
    """« Voir sur la carte » from the list of her reports, on a phone, with the base map down
    (its warning button under the layer switcher): the drawing tools' names (beside their
    icons on a phone) lay over the report's popup and its close button was under the layer
    switcher (a mayor's trial), and the map never stood still (the popup reopened after each
    fetch of the reports panned the map, which fetched them again). While a popup is open the
    tools' names fold, and the popup sits clear of the map's controls: its close button can be
    tapped, and it closes the popup."""
    app, stub = ui["app"], ui["stub"]
    saved = app.config["BASEMAPS"]
    app.config["BASEMAPS"] = json.dumps([
        {"name": "Plan absent", "type": "xyz", "url": stub.base + "/no-tiles/{z}/{x}/{y}.png", "attribution": "© absent"},
        {"name": "Plan WMS", "type": "wms", "url": stub.base + "/wms", "layers": "1,3", "attribution": "© WMS de test"}])
    try:
        watch = Watch(browser, ui, PHONE, touch=True)
        watch.login("ui-rep@charleroi.be")
        page = watch.page
        rid = ui["ids"]["validated"]
        page.goto(ui["base"] + f"/carte?signalement={rid}")
        page.wait_for_function("() => document.getElementById('map-pane').dataset.focused")
        page.locator("#map-pane .basemap-notice").wait_for()
        page.wait_for_timeout(600)  # the pan that brings the popup into view
        # the map stands still: the popup kept open across a fetch of the reports no longer
        # pans the map again (which fetched them again, which reopened it…)
        fetched: list[str] = []
        page.on("request", lambda r: "/api/v1/reports?" in r.url and fetched.append(r.url))
        page.wait_for_timeout(1000)
        assert fetched == []
        popup = page.locator("#map-pane .leaflet-popup")
        assert popup.count() == 1 and popup.is_visible()
        box = popup.bounding_box()
        labels = [b for b in page.locator("#map-pane .draw-label").evaluate_all(
            "ls => ls.filter(l => l.offsetParent).map(l => { const r = l.getBoundingClientRect(); "
            "return {x: r.x, y: r.y, width: r.width, height: r.height}; })")]
        assert [b for b in labels if _overlap(b, box)] == []
        for control in (".leaflet-control-layers", ".basemap-notice", ".leaflet-control-zoom", ".leaflet-draw"):
            assert not _overlap(page.locator(f"#map-pane {control}").bounding_box(), box), control
        close = popup.locator(".leaflet-popup-close-button")
        at = close.bounding_box()
        assert at["width"] >= 44 and at["height"] >= 44  # a finger's target
        assert close.get_attribute("aria-label") == "Fermer"
        assert _takes_the_tap(page, at, ".leaflet-popup-close-button")
        page.screenshot(path=str(ARTIFACTS / "ui-report-popup-on-phone-390.png"))
        close.tap()
        popup.wait_for(state="detached")
        # the popup closed, the tools are named again
        assert page.locator("#map-pane .draw-label").first.is_visible()
        _tile_failures_only(watch, stub.base + "/no-tiles/")
        watch.close()
    finally:
        app.config["BASEMAPS"] = saved


def test_a_popup_whose_pan_was_stopped_is_brought_into_view_on_a_phone(ui, browser) -> None:  # noqa: ANN001, F811
    """A report near the map's right edge tapped on a phone: its popup opened half off the
    screen, the close button out of reach (a trial, twice), when Leaflet's own pan into view
    did not run to its end (the reports fetched again meanwhile reopen the popup where it was,
    without panning). Here Leaflet's pan is taken away altogether: the page still brings the
    popup into view, and its close button can be tapped."""
    watch = Watch(browser, ui, PHONE, touch=True)
    watch.login("ui-rep@charleroi.be")
    page = watch.page
    page.wait_for_function("() => document.getElementById('map-pane').dataset.limits === 'ready'")
    page.evaluate("() => { L.Popup.prototype._adjustPan = function () {}; "
                  "window[document.getElementById('map-pane').dataset.map].panBy([-170, 0], {animate: false}); }")
    page.wait_for_timeout(800)  # (the reports fetched again for the new view)
    page.wait_for_load_state("networkidle")  # (on a loaded machine the fetch takes longer)
    frame = page.locator("#map-pane").bounding_box()
    marks = [b for b in page.locator("#map-pane path.leaflet-interactive").evaluate_all(
        "ps => ps.map(p => { const r = p.getBoundingClientRect(); return {x: r.x, y: r.y, width: r.width, "
        "height: r.height}; })") if 0 < b["width"] < 40 and b["x"] + b["width"] < frame["x"] + frame["width"]]
    mark = max(marks, key=lambda b: b["x"])
    assert mark["x"] + mark["width"] / 2 + 153 > frame["x"] + frame["width"]  # (its popup opens past the edge)
    page.touchscreen.tap(mark["x"] + mark["width"] / 2, mark["y"] + mark["height"] / 2)
    popup = page.locator("#map-pane .leaflet-popup")
    popup.wait_for()
    # the page's pan, 400 ms after it opened (polled: a loaded machine runs it later)
    page.wait_for_function("""f => { const p = document.querySelector('#map-pane .leaflet-popup');
        const b = p && p.getBoundingClientRect();
        return b && f.x <= b.x && b.x + b.width <= f.x + f.width; }""", arg=frame, timeout=10000)
    page.wait_for_timeout(300)  # (its animation ended)
    box = popup.bounding_box()
    assert frame["x"] <= box["x"] and box["x"] + box["width"] <= frame["x"] + frame["width"], (box, frame)
    close = popup.locator(".leaflet-popup-close-button")
    at = close.bounding_box()
    assert _takes_the_tap(page, at, ".leaflet-popup-close-button")
    page.screenshot(path=str(ARTIFACTS / "ui-popup-brought-into-view-390.png"))
    close.tap()
    popup.wait_for(state="detached")
    watch.close()


def test_typed_coordinates_refused_take_the_place_given_before_away(ui, browser) -> None:  # noqa: ANN001, F811
    """A point placed in Charleroi from typed coordinates, then Brussels typed and « Placer »:
    refused (outside the communes served), but the Charleroi point stayed on the map and in the
    form while the field showed Brussels, and « Envoyer » sent Charleroi (a mayor's trial). The
    refusal takes the earlier place away and says so: the field is what is sent, refused by the
    server as by the page; no report is saved."""
    watch = Watch(browser, ui, DESKTOP)
    watch.login("ui-rep@charleroi.be")
    page = watch.page
    before = _report_count(ui["app"])
    page.wait_for_function("() => document.getElementById('map-pane').dataset.limits === 'ready'")
    page.fill("#coordinates", "50.4108, 4.4440")
    page.click("#place-coordinates")
    page.wait_for_function("() => document.getElementById('map-pane').dataset.placed")
    assert page.input_value("#geometry") != ""
    page.fill("#coordinates", "50.8467, 4.3525")
    page.click("#place-coordinates")
    page.wait_for_function("() => document.getElementById('locate-status').getAttribute('role') === 'alert'")
    assert page.get_attribute("#coordinates", "aria-invalid") == "true"
    said = page.inner_text("#locate-status")
    assert said.endswith(" Le lieu indiqué auparavant est retiré de la carte."), said
    # nothing placed any more: on the map, in the form, in what the page says
    assert page.input_value("#geometry") == "" and page.get_attribute("#map-pane", "data-placed") is None
    assert page.inner_text("#drawn-status") == "Aucune forme dessinée."
    assert page.evaluate("""() => { const map = window[document.getElementById('map-pane').dataset.map];
        let n = 0; map.eachLayer(l => { if (l instanceof L.CircleMarker && !l.feature) { n += 1; } }); return n; }""") == 0
    page.screenshot(path=str(ARTIFACTS / "ui-coordinates-refused-1440.png"))
    page.check("input[name=technologies][value='4G']")
    page.click("#submit-report")
    page.wait_for_load_state("networkidle")
    # what is sent is the field: refused next to it, the typed coordinates kept
    assert page.input_value("#coordinates") == "50.8467, 4.3525"
    assert page.locator("#coordinates-error").is_visible()
    assert _report_count(ui["app"]) == before
    assert [e for e in watch.errors if "status of 422" not in e] == [] and watch.outside == []
    watch.close()


def test_a_count_the_browser_cannot_read_is_said_not_dropped(ui, browser) -> None:  # noqa: ANN001, F811
    """« 1e » in « Entreprises touchées » was sent empty (a number field the browser cannot
    read) and the report stored without it, without a word; « 12,5 » became 125 in a browser
    of another locale. The fields send what was typed: the server refuses it next to the field,
    the page keeps it, nothing is stored."""
    watch = Watch(browser, ui, DESKTOP)
    watch.login("ui-rep@charleroi.be")
    page = watch.page
    page.wait_for_function("() => document.getElementById('map-pane').dataset.limits === 'ready'")
    page.fill("#coordinates", "158650 122047")
    page.click("#place-coordinates")
    page.wait_for_function("() => document.getElementById('locate-status').textContent !== ''")
    page.fill("#field-businesses_affected", "1e")
    page.fill("#field-households_affected", "12,5")
    with page.expect_navigation():
        page.click("#submit-report")
    for name, typed in (("businesses_affected", "1e"), ("households_affected", "12,5")):
        assert page.get_attribute(f"#field-{name}", "aria-invalid") == "true", name
        assert page.input_value(f"#field-{name}") == typed
    assert "/signalements/" not in page.url  # not stored: the form again, with its faults
    watch.close()
