"""The three languages in a browser (Debian's Chromium, Playwright): Leaflet.draw's toolbar and
tooltips, Leaflet's zoom buttons and the map script's measures in the page's language and
number format; the switcher saves the signed-in user's preference; the dashboard's script
texts. Screenshots of each page in fr, nl and en at 390×844 and 1440×900 go to
``test-artifacts/i18n/``."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import delete, select

from geosignal.models import Report, User
from geosignal.services.users import create_user
from tests.conftest import ARTIFACTS, CHARLEROI, owner_session
from tests.test_browser import PASSWORD, PageWatch, browser, serving  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser
SHOTS = ARTIFACTS / "i18n"
SIZES = {"phone": (390, 844), "desktop": (1440, 900)}
REP = "browser-i18n-rep@charleroi.be"
REF = "browser-i18n-ref@igretec.com"

DRAW = {
    "fr": {"polygon": "Dessiner une zone", "zoom": "Zoom avant", "start": "Cliquez pour commencer à dessiner la zone (sans souris",
           "finish": "Terminer", "cancel": "Annuler", "area": r"^Surface : [\d\u202f]+ m² \([\d\u202f]+,\d\d ha\)"},
    "nl": {"polygon": "Een zone tekenen", "zoom": "Inzoomen", "start": "Klik om de zone te beginnen tekenen (zonder muis",
           "finish": "Beëindigen", "cancel": "Annuleren", "area": r"^Oppervlakte: [\d.]+ m² \([\d.]+,\d\d ha\)"},
    "en": {"polygon": "Draw a zone", "zoom": "Zoom in", "start": "Click to start drawing the zone (without a mouse",
           "finish": "Finish", "cancel": "Cancel", "area": r"^Area: [\d,]+ m² \([\d,]+\.\d\d ha\)"},
}


@pytest.fixture(scope="module")
def i18n_server(app) -> Iterator[str]:  # noqa: ANN001
    database = app.extensions["geosignal.db"]
    with database.session() as session:
        create_user(session, REP, "representative", CHARLEROI, PASSWORD)
        create_user(session, REF, "referent", None, PASSWORD)
        session.commit()
    with serving(app) as base:
        yield base
    with owner_session(database) as session:
        session.execute(delete(Report))
        session.execute(delete(User).where(User.email.like("browser-i18n-%")))
        session.commit()


def _shoot(watch: PageWatch, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for size, (width, height) in SIZES.items():
        watch.page.set_viewport_size({"width": width, "height": height})
        watch.page.wait_for_timeout(300)
        watch.page.screenshot(path=str(SHOTS / f"{name}-{size}.png"))
    watch.page.set_viewport_size({"width": 1280, "height": 860})
    watch.page.wait_for_timeout(1000)  # the map fetches its reports again after a resize


def _switch(watch: PageWatch, lang: str) -> None:
    with watch.page.expect_navigation():
        watch.page.click(f".lang-switch button[value={lang}]")
    watch.page.wait_for_load_state("networkidle")
    assert watch.page.get_attribute("html", "lang") == lang


def test_map_in_three_languages_with_leaflet_draw(i18n_server, browser, app) -> None:  # noqa: ANN001, F811
    watch = PageWatch(browser, i18n_server)
    watch.login(REP)
    page = watch.page
    for lang in ("fr", "nl", "en"):
        if lang != "fr":
            _switch(watch, lang)
        page.goto(i18n_server + "/carte")
        page.wait_for_load_state("networkidle")
        page.wait_for_selector("#map-pane[data-limits=ready]")
        expected = DRAW[lang]
        assert page.get_attribute(".leaflet-draw-draw-polygon", "title") == expected["polygon"]
        assert page.get_attribute(".leaflet-control-zoom-in", "title") == expected["zoom"]
        page.click(".leaflet-draw-draw-polygon")
        assert page.inner_text(".leaflet-draw-tooltip").strip().startswith(expected["start"])
        actions = page.locator(".leaflet-draw-actions:visible a").all_inner_texts()
        assert expected["finish"] in actions and expected["cancel"] in actions, actions
        box = page.locator("#map-pane").bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        for dx, dy in ((0, 0), (60, 0), (60, 50), (0, 0)):
            page.mouse.click(cx + dx, cy + dy)
            page.wait_for_timeout(150)
        page.wait_for_function("document.getElementById('measure').textContent.length > 0")
        measure = page.inner_text("#measure")
        assert re.match(expected["area"], measure), measure
        _shoot(watch, f"map-{lang}")
        page.goto(i18n_server + "/signalements")
        _shoot(watch, f"reports-{lang}")
    with app.extensions["geosignal.db"].session() as session:
        assert session.scalar(select(User.locale).where(User.email == REP)) == "en"
    watch.assert_clean()
    watch.context.close()


def test_dashboard_and_login_in_three_languages(i18n_server, browser) -> None:  # noqa: ANN001, F811
    watch = PageWatch(browser, i18n_server)
    page = watch.page
    # no report: French says it in the singular (CLDR: 0 is "one" in French), Dutch and English not
    status = {"fr": "0 signalement dans la vue", "nl": "0 meldingen in beeld", "en": "0 reports in view"}
    for lang in ("fr", "nl", "en"):
        page.goto(i18n_server + "/login")
        if page.get_attribute("html", "lang") != lang:
            _switch(watch, lang)
        _shoot(watch, f"login-{lang}")
    watch.login(REF)  # the cookie's language (en) until the referent chooses
    for lang in ("en", "nl", "fr"):
        page.goto(i18n_server + "/tableau-de-bord")
        if page.get_attribute("html", "lang") != lang:
            _switch(watch, lang)
        page.wait_for_selector("#map-pane[data-state=ready]")
        page.wait_for_function("document.getElementById('map-status').textContent.length > 0")
        assert status[lang] in page.inner_text("#map-status")
        assert page.locator("#territory dt").first.inner_text() == {"fr": "Communes", "nl": "Gemeenten",
                                                                     "en": "Communes"}[lang]
        _shoot(watch, f"dashboard-{lang}")
    watch.assert_clean()
    watch.context.close()


def test_the_drawing_actions_stay_on_a_phone_screen_in_dutch(i18n_server, browser) -> None:  # noqa: ANN001, F811
    """A user's trial: at 390 px in Dutch, « Beëindigen | Laatste punt verwijderen | Annuleren »
    ran from x 60 to 408 after the first tap of a zone: « Annuleren » was cut off; and the
    hint still said to tap to start the zone."""
    watch = PageWatch(browser, i18n_server)
    watch.context.close()
    watch.context = browser.new_context(viewport={"width": 390, "height": 844}, locale="nl-BE", has_touch=True)
    page = watch.page = watch.context.new_page()
    watch.login(REP)
    page.goto(i18n_server + "/carte")
    if page.get_attribute("html", "lang") != "nl":  # (the account keeps the language chosen last)
        _switch(watch, "nl")
    page.wait_for_selector("#map-pane[data-limits=ready]")
    for tool in (".leaflet-draw-draw-polygon", ".leaflet-draw-draw-polyline"):
        page.click(tool)
        box = page.locator("#map-pane").bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_timeout(200)
        # the hint no longer says to start (Leaflet.draw's, beside the finger, says how to go on)
        assert "beginnen" not in page.inner_text("#measure")
        actions = page.locator(".leaflet-draw-actions:visible a:visible")
        texts = actions.all_inner_texts()
        assert "Laatste punt verwijderen" in texts and "Annuleren" in texts, texts
        right = box["x"] + box["width"]
        for k in range(actions.count()):
            edge = actions.nth(k).bounding_box()
            assert edge["x"] >= box["x"] and edge["x"] + edge["width"] <= right, (texts[k], edge, right)
            assert edge["height"] >= 43.5  # still a thumb's target
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"draw-actions-nl-390-{tool[19:]}.png"))
        page.click(".leaflet-draw-actions:visible a:text('Annuleren')")
    watch.context.close()


def _until(page, selector: str, part: str) -> str:  # noqa: ANN001
    """The text of ``selector`` once it holds ``part`` (polled from Python: a predicate the
    page evaluates as a string is refused by its CSP, no 'unsafe-eval')."""
    for _ in range(100):
        said = page.inner_text(selector)
        if part in said:
            return said
        page.wait_for_timeout(100)
    raise AssertionError(f"{selector} never said {part!r}: {said!r}")


def test_a_refused_position_and_a_zone_drawn_say_it_in_dutch_with_one_area(i18n_server, browser) -> None:  # noqa: ANN001, F811
    """A trial on a phone, in Dutch: the position refused was said with the browser's own
    English reason (« (User denied Geolocation) »), and while a zone was drawn the hint beside
    the finger gave Leaflet.draw's geodesic area (9.483 m²) under the page's own (9.493 m²,
    as stored): both are now the page's."""
    watch = PageWatch(browser, i18n_server)
    watch.context.close()
    watch.context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US", has_touch=True,
                                        is_mobile=True)
    watch.context.clear_permissions()  # (no geolocation granted: the browser refuses it)
    page = watch.page = watch.context.new_page()
    watch.login(REP)
    page.goto(i18n_server + "/carte")
    if page.get_attribute("html", "lang") != "nl":
        _switch(watch, "nl")
    page.wait_for_selector("#map-pane[data-limits=ready]")
    if page.locator("#without-map").is_visible():
        page.locator("#without-map").tap()
    page.locator("#my-position").tap()
    said = _until(page, "#locate-status", "(")
    assert said.startswith("Uw positie kon niet bepaald worden (de toegang tot uw positie is geweigerd)."), said
    page.goto(i18n_server + "/carte")
    page.wait_for_selector("#map-pane[data-limits=ready]")
    page.click(".leaflet-draw-draw-polygon")
    box = page.locator("#map-pane").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for dx, dy in ((0, 0), (60, 0), (60, 50)):
        page.touchscreen.tap(cx + dx, cy + dy)
        page.wait_for_timeout(300)
    _until(page, "#measure", "m²")
    # (the hint's text as written, shown or not: Leaflet.draw's tooltip and the line under it)
    said = page.evaluate("() => Array.from(document.querySelectorAll('.leaflet-draw-tooltip, #measure'))"
                         ".map(e => e.textContent).join(' | ')")
    for unit in ("m²", "ha"):  # (Leaflet.draw says hectares for a large zone: 355,91 ha under 356,22 ha)
        areas = set(re.findall(r"([\d.,]+) ?" + unit, said))
        assert len(areas) <= 1, (areas, said)
    assert "m²" in said
    watch.context.close()
