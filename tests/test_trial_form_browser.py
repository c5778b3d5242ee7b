"""Faults found by a trial of the report form (a mayor on a phone, 390×844, the referent on a
desktop, in French, Dutch and English), each checked as it was met, in headless Chromium
(Debian's, via Playwright). Screenshots go to ``test-artifacts/trial-form-*.png``."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.conftest import ARTIFACTS
from tests.test_browser import browser  # noqa: F401  (fixture)
from tests.test_ui_browser import DESKTOP, PHONE, Watch, ui  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser
REP = "ui-rep@charleroi.be"


def _shot(page, name: str) -> None:  # noqa: ANN001
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"trial-form-{name}.png"), full_page=True)


def _language(page, base: str, lang: str) -> None:  # noqa: ANN001
    """Switch the signed-in user's pages to ``lang`` with the switcher (French too: the
    preference is the account's, kept from an earlier test)."""
    page.click(f".lang-switch button[value={lang}]")
    page.wait_for_load_state("networkidle")


def _place_by_coordinates(page, coordinates: str = "158650 122047") -> None:  # noqa: ANN001
    page.wait_for_function("() => document.getElementById('map-pane').dataset.limits === 'ready'")
    if page.get_attribute("#map-layout", "data-step") == "map" and page.is_visible("#without-map"):
        page.click("#without-map")
    page.fill("#coordinates", coordinates)
    page.click("#place-coordinates")
    page.wait_for_function("() => document.getElementById('map-pane').dataset.placed")


def _newest_network(served: dict) -> tuple[int, str | None]:
    with served["app"].extensions["geosignal.db"].session() as session:
        count = session.execute(text("SELECT count(*) FROM reports")).scalar()
        newest = session.execute(text("SELECT network FROM reports ORDER BY created_at DESC LIMIT 1")).scalar()
    return count, newest


# --------------------------------------------------------------------------- 1. no preset network

@pytest.mark.parametrize(("viewport", "size", "where"), [(PHONE, "390", "158650 122047"),
                                                         (DESKTOP, "1440", "158450 122147")])
def test_the_network_is_chosen_never_preset(ui, browser, viewport: dict, size: str, where: str) -> None:  # noqa: ANN001, F811
    """The network was a required select without an empty option: the browser selected
    « Mobile », and a fixed-line zone sent without choosing was filed as mobile. Nothing is
    chosen until the representative chooses; sent so, the server refuses it next to the field."""
    watch = Watch(browser, ui, viewport)
    watch.login(REP)
    page = watch.page
    _language(page, watch.base, "fr")
    _place_by_coordinates(page, where)
    assert page.input_value("#field-network") == ""
    assert page.locator("#field-network option:checked").inner_text() == "Choisissez…"
    before, _ = _newest_network(ui)
    with page.expect_navigation():
        page.click("#submit-report")
    assert _newest_network(ui)[0] == before  # not filed
    assert page.get_attribute("#field-network", "aria-invalid") == "true"
    assert page.get_attribute("#field-network", "aria-describedby") == "network-error"
    assert page.inner_text("#network-error") == "Réseau : choisissez parmi Mobile, Fixe."
    assert page.input_value("#field-network") == ""  # still nothing chosen for her
    _shot(page, f"network-refused-{size}")
    page.select_option("#field-network", "fixed")
    page.check("input[name=technologies][value='fibre']")
    with page.expect_navigation():
        page.click("#submit-report")
    assert page.url.endswith("/signalements"), page.url
    assert _newest_network(ui) == (before + 1, "fixed")
    assert [e for e in watch.errors if "status of 422" not in e] == [] and watch.outside == []
    watch.close()


# --------------------------------------------------------------------------- 2. the network check, as it is chosen

def _check_text(page) -> str:  # noqa: ANN001
    return page.inner_text("#network-check").strip()


@pytest.mark.parametrize(("lang", "viewport", "size", "said", "where"), [
    ("fr", PHONE, "390", "À vérifier : 4G n'est pas une technologie du réseau fixe.", "158650 121947"),
    ("nl", DESKTOP, "1440", "Na te kijken: 4G is geen technologie van het netwerk ‘vast’.", "158350 122047"),
    ("en", PHONE, "390", "To check: 4G is not a technology of the ‘fixed’ network.", "158550 121847"),
])
def test_a_technology_of_the_other_network_is_said_as_it_is_chosen(ui, browser, lang: str, viewport: dict,  # noqa: ANN001, F811
                                                                    size: str, said: str, where: str) -> None:
    """« Fixe » with « 4G » was said only once the report was filed. The form says it as soon
    as the choice is made, under the technologies (aria-live), with the server's sentence and
    rule; the notice after filing says the same."""
    watch = Watch(browser, ui, viewport)
    watch.login(REP)
    page = watch.page
    _language(page, watch.base, lang)
    _place_by_coordinates(page, where)
    check = page.locator("#network-check")
    assert check.get_attribute("aria-live") == "polite" and _check_text(page) == ""
    page.check("input[name=technologies][value='4G']")
    assert _check_text(page) == ""  # no network chosen yet: nothing to compare
    page.select_option("#field-network", "fixed")
    assert _check_text(page) == said and check.is_visible()
    # near the fields: right under the technologies
    techs = page.locator("fieldset:has(input[name=technologies])").bounding_box()
    box = check.bounding_box()
    assert 0 <= box["y"] - (techs["y"] + techs["height"]) <= 24, (techs, box)
    _shot(page, f"network-check-{lang}-{size}")
    page.select_option("#field-network", "mobile")
    assert _check_text(page) == ""
    page.select_option("#field-network", "fixed")
    page.uncheck("input[name=technologies][value='4G']")
    assert _check_text(page) == ""
    page.check("input[name=technologies][value='4G']")
    page.check("input[name=technologies][value='fibre']")
    assert _check_text(page) == said  # fibre is of the fixed network: only 4G is named
    # filed anyway (a warning, not a refusal): the server's notice opens with the same sentence
    with page.expect_navigation():
        page.click("#submit-report")
    assert said in page.inner_text(".flashes")
    watch.clean()
    watch.close()


def test_the_edit_page_says_a_stored_mismatch_at_once(ui, browser) -> None:  # noqa: ANN001, F811
    rid = ui["ids"]["submitted"]  # stored with DSL and 4G on the mobile network
    watch = Watch(browser, ui, PHONE)
    watch.login("ui-admin@igretec.com")
    page = watch.page
    page.goto(f"{watch.base}/signalements/{rid}/modifier")
    assert page.input_value("#field-network") == "mobile"
    assert _check_text(page) == "À vérifier : DSL (cuivre) n'est pas une technologie du réseau mobile."
    page.uncheck("input[name=technologies][value='DSL']")
    assert _check_text(page) == ""
    watch.clean()
    watch.close()


# --------------------------------------------------------------------------- 4. speed-test faults at their fields

SPEED_FAULTS = {"fr": {"download_mbps": "Débit descendant : un nombre entre 0 et 10 000 Mbit/s.",
                       "latency_ms": "Latence : « 1,500 » se lit 1500 ou 1,5 : écrivez le nombre sans séparateur de milliers.",
                       "signal_dbm": "Signal : un nombre entre -150 et -20 dBm."},
                "en": {"download_mbps": "Download speed: a number between 0 and 10,000 Mbit/s.",
                       "latency_ms": "Latency: ‘1,500’ reads as 1500 or 1.5: write the number without a thousands separator.",
                       "signal_dbm": "Signal: a number between -150 and -20 dBm."}}


@pytest.mark.parametrize(("lang", "viewport", "size"), [("fr", PHONE, "390"), ("en", DESKTOP, "1440")])
def test_speed_test_faults_are_said_at_their_fields(ui, browser, lang: str, viewport: dict, size: str) -> None:  # noqa: ANN001, F811
    """A refused download, latency or signal was said above the forms, not at its field: each
    fault is now next to its field, which is aria-invalid and described by it, like the report
    form's fields; what concerns no one field (no value at all) stays above the forms."""
    rid = ui["ids"]["submitted"]
    watch = Watch(browser, ui, viewport)
    watch.login(REP)
    page = watch.page
    _language(page, watch.base, lang)
    page.goto(f"{watch.base}/signalements/{rid}#preuves")
    if not page.is_visible("#speed-test-form"):
        page.click("#preuves summary")
    form = "#speed-test-form"
    page.fill(f"{form} input[name=measured_at]", "2026-11-21T10:00")
    page.fill(f"{form} input[name=download_mbps]", "20000")
    page.fill(f"{form} input[name=latency_ms]", "1,500")
    page.fill(f"{form} input[name=signal_dbm]", "12")
    with page.expect_navigation():
        page.click(f"{form} button[type=submit]")
    for name, said in SPEED_FAULTS[lang].items():
        field = page.locator(f"{form} input[name={name}]")
        assert field.get_attribute("aria-invalid") == "true", name
        error = page.locator(f"#{field.get_attribute('aria-describedby')}")
        assert error.inner_text().replace("\u202f", " ") == said
        f, e = field.bounding_box(), error.bounding_box()
        assert 0 <= e["y"] - (f["y"] + f["height"]) <= 12 and abs(e["x"] - f["x"]) <= 2, (name, f, e)
    for name in ("measured_at", "upload_mbps"):  # the fields without a fault say nothing
        assert page.get_attribute(f"{form} input[name={name}]", "aria-invalid") is None
    assert page.inner_text("#evidence-error") == ""  # nothing left above the forms
    assert page.input_value(f"{form} input[name=latency_ms]") == "1,500"  # kept as typed
    _shot(page, f"speed-test-fields-{lang}-{size}")
    # no value at all: that concerns the form, said above it
    for name in ("download_mbps", "latency_ms", "signal_dbm"):
        page.fill(f"{form} input[name={name}]", "")
    with page.expect_navigation():
        page.click(f"{form} button[type=submit]")
    assert page.locator("#evidence-error[role=alert]").is_visible()
    assert page.locator(f"{form} [aria-invalid]").count() == 0
    assert [e for e in watch.errors if "status of 422" not in e] == [] and watch.outside == []
    watch.close()


# --------------------------------------------------------------------------- 5. a circle fitted clear of the controls

def _clear_of_controls(page) -> dict:  # noqa: ANN001
    """Where the drawn or placed shape lies against the map's controls: its box, the map's, the
    attribution's top, the left controls' right edge, the top right controls' bottom."""
    return page.evaluate("""() => {
        const pane = document.getElementById('map-pane'), map = window[pane.dataset.map];
        const c = map.getContainer().getBoundingClientRect();
        let shape = null;
        map.eachLayer(l => { if (l instanceof L.Circle && !l.feature) { shape = l; } });
        const b = shape.getBounds(), nw = map.latLngToContainerPoint(b.getNorthWest()),
              se = map.latLngToContainerPoint(b.getSouthEast());
        const box = sel => Array.from(map.getContainer().querySelectorAll(sel))
            .map(e => e.getBoundingClientRect()).filter(r => r.width && r.height);
        const bottoms = box('.leaflet-bottom > *'), lefts = box('.leaflet-top.leaflet-left > *'), topRight = box('.leaflet-top.leaflet-right > *');
        return {shape: {left: nw.x, top: nw.y, right: se.x, bottom: se.y}, width: c.width, height: c.height,
                bottomControls: Math.min(...bottoms.map(r => r.top - c.top)),
                leftControls: Math.max(...lefts.map(r => r.right - c.left)),
                topRightControls: Math.max(2, ...topRight.map(r => r.bottom - c.top))};
    }""")


@pytest.mark.parametrize(("lang", "viewport", "size", "where"), [("fr", PHONE, "390", "155349 122215"),
                                                                  ("nl", DESKTOP, "1440", "155049 122615")])
def test_a_circle_is_fitted_whole_between_the_maps_controls(ui, browser, lang: str, viewport: dict,  # noqa: ANN001, F811
                                                            size: str, where: str) -> None:
    """Back on the map, a placed circle was fitted to the map's edges: its bottom lay under the
    attribution (and its left side under the zoom and drawing tools). The fit keeps it clear
    of every control."""
    watch = Watch(browser, ui, viewport, touch=viewport is PHONE)
    watch.login(REP)
    page = watch.page
    _language(page, watch.base, lang)
    page.wait_for_function("() => document.getElementById('map-pane').dataset.limits === 'ready'")
    if page.is_visible("#without-map"):
        page.click("#without-map")
    page.fill("#radius", "490")  # nearly as wide (phone) or as high (desktop) as the map
    page.fill("#coordinates", where)
    page.click("#place-coordinates")
    page.wait_for_function("() => document.getElementById('map-pane').dataset.placed")
    if page.is_visible("#to-map"):
        page.click("#to-map")
    page.wait_for_timeout(400)  # a fit's animation
    at = _clear_of_controls(page)
    s = at["shape"]
    assert s["bottom"] <= at["bottomControls"], at  # above the attribution and the scale
    assert s["left"] >= at["leftControls"], at      # right of the zoom and drawing tools
    assert s["top"] >= at["topRightControls"] or s["right"] <= at["width"] - 60, at  # below the layer switcher
    assert s["right"] <= at["width"] and s["top"] >= 0, at
    assert s["right"] - s["left"] >= 0.3 * (at["width"] - at["leftControls"]), at  # still shown large
    page.screenshot(path=str(ARTIFACTS / f"trial-form-circle-fitted-{lang}-{size}.png"))
    watch.clean()
    watch.close()


# --------------------------------------------------------------------------- 3. a phone's map step

STEP = {"fr": ("Placez le signalement dans Charleroi.", "Touchez et faites glisser pour dessiner un rectangle."),
        "nl": ("Plaats de melding in Charleroi.", "Tik en sleep om een rechthoek te tekenen."),
        "en": ("Place the report in Charleroi.", "Tap and drag to draw a rectangle.")}


def _whole_above_the_map(page) -> dict:  # noqa: ANN001
    return page.evaluate("""() => { const h = document.getElementById('map-step-hint'), r = h.getBoundingClientRect();
        const pane = document.getElementById('map-pane').getBoundingClientRect();
        return {left: r.left, right: r.right, bottom: r.bottom, paneTop: pane.top, width: innerWidth,
                cut: h.scrollWidth > h.clientWidth || h.scrollHeight > h.clientHeight}; }""")


@pytest.mark.parametrize("lang", ["fr", "nl", "en"])
def test_the_phones_map_step_names_the_commune_and_shows_the_drawing_tip_whole(ui, browser, lang: str) -> None:  # noqa: ANN001, F811
    """On a phone the map step did not say in which commune to place the report, and the
    drawing tool's tip, floating over the map between its controls, was cut off. The step says
    both above the map: the commune named, the tip whole and wrapping, under no control."""
    watch = Watch(browser, ui, PHONE, touch=True)
    watch.login(REP)
    page = watch.page
    _language(page, watch.base, lang)
    page.wait_for_function("() => document.getElementById('map-pane').dataset.limits === 'ready'")
    place, tip = STEP[lang]
    hint = page.locator("#map-step-hint")
    assert hint.is_visible() and hint.inner_text().strip() == place
    for tool, said in (("polyline", None), ("circle", None), ("rectangle", tip)):
        page.locator(f".leaflet-draw-draw-{tool}").tap()
        text = hint.inner_text().strip()
        assert text.startswith(place + " ") and len(text) > len(place) + 10, text
        if said:
            assert text == f"{place} {said}"
        at = _whole_above_the_map(page)
        assert at["left"] >= 0 and at["right"] <= at["width"] and not at["cut"], at
        assert at["bottom"] <= at["paneTop"], at  # above the map: no control lies over it
        assert page.inner_text("#measure") == ""  # not said twice over the map
        bar = page.locator(".step-bar").bounding_box()  # the step bar stays whole in the window
        assert bar["y"] + bar["height"] <= PHONE["height"], bar
        page.screenshot(path=str(ARTIFACTS / f"trial-form-map-step-{tool}-{lang}-390.png"))
    # the first corner placed: the tip is done (Leaflet.draw's own follows the finger)
    page.keyboard.press("Escape")
    page.locator(".leaflet-draw-draw-polygon").tap()
    box = page.locator("#map-pane").bounding_box()
    page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_timeout(300)
    assert hint.inner_text().strip() == place
    # the form step and a wide screen do not show it (the form names the commune in its heading)
    page.keyboard.press("Escape")
    page.click("#to-form")
    assert hint.is_hidden()
    page.set_viewport_size(DESKTOP)
    page.click("#to-map") if page.is_visible("#to-map") else None
    assert hint.is_hidden()
    page.screenshot(path=str(ARTIFACTS / f"trial-form-map-step-{lang}-1440.png"))
    watch.clean()
    watch.close()
