"""A report written where there is no network — a white zone — is not lost (Chromium on a
phone, 390×844, touch). With no network at all the send is held on the page and said, then
sent when the network is back; a send that failed on the way (the browser's error page) is
offered again on the next visit of the map, from the copy kept on the device, and a send whose
answer alone was lost is stored once (same idempotency key). The copy is forgotten once a page
says the report is stored, and when signing out. Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.conftest import ARTIFACTS
from tests.test_browser import browser  # noqa: F401  (fixture)
from tests.test_ui_browser import PHONE, X0, Y0, Watch, ui  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser
REP = "ui-rep@charleroi.be"
UNSENT = "() => Object.keys(localStorage).filter(k => k.startsWith('geosignal.unsent.'))"


def _stored(served: dict, description: str) -> int:
    with served["app"].extensions["geosignal.db"].session() as session:
        return session.execute(text("SELECT count(*) FROM reports WHERE description = :d"),
                               {"d": description}).scalar_one()


def _write(page, base: str, description: str, dx: int, network: bool = True) -> None:  # noqa: ANN001
    """Open the map, place a point by its Lambert 72 coordinates, choose the network (unless
    not ``network``: the server refuses the report), describe."""
    page.goto(base + "/carte")
    page.wait_for_function("() => document.getElementById('map-pane').dataset.limits === 'ready'")
    page.click("#without-map")
    page.fill("#coordinates", f"{X0 + dx} {Y0 + 600}")
    page.click("#place-coordinates")
    page.wait_for_function("() => !!document.getElementById('geometry').value")
    if network:
        page.select_option("#field-network", "mobile")
        page.check("input[name=technologies][value='4G']")
    page.fill("#field-description", description)


def test_without_network_the_send_is_held_and_said_then_sent_when_the_network_is_back(ui, browser) -> None:  # noqa: ANN001, F811
    watch = Watch(browser, ui, PHONE, touch=True)
    page = watch.page
    watch.login(REP)
    _write(page, watch.base, "Hors réseau, rue du Moulin", 300)
    watch.context.set_offline(True)
    page.wait_for_function("() => document.getElementById('unsent-status').textContent !== ''")
    assert page.inner_text("#unsent-status") == (
        "Pas de connexion internet en ce moment : continuez, le signalement est gardé sur cet appareil et pourra "
        "être envoyé quand le réseau reviendra.")
    page.click("#submit-report")
    page.wait_for_timeout(300)
    assert page.url == watch.base + "/carte"  # the page stays, with all that was written
    assert page.eval_on_selector("#unsent-status", "e => e.getAttribute('role')") == "alert"
    assert page.inner_text("#unsent-status") == (
        "Pas de connexion internet : le signalement n'est pas parti. Il reste sur cette page et est gardé sur cet "
        "appareil : envoyez-le quand le réseau revient.")
    assert page.input_value("#field-description") == "Hors réseau, rue du Moulin"
    assert not page.is_disabled("#submit-report")
    assert len(page.evaluate(UNSENT)) == 1
    assert _stored(ui, "Hors réseau, rue du Moulin") == 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "offline-held-phone.png"), full_page=True)
    watch.context.set_offline(False)
    page.wait_for_function("() => document.getElementById('unsent-status').textContent.startsWith('Le réseau')")
    assert page.inner_text("#unsent-status") == "Le réseau est revenu : vous pouvez envoyer le signalement."
    with page.expect_navigation():
        page.click("#submit-report")
    assert page.url.endswith("/signalements"), page.url
    assert _stored(ui, "Hors réseau, rue du Moulin") == 1
    assert page.evaluate(UNSENT) == []  # the page after the send named it stored: forgotten
    assert watch.errors == [] and watch.outside == []
    watch.close()


def test_a_send_whose_answer_was_lost_is_offered_again_and_stored_once(ui, browser) -> None:  # noqa: ANN001, F811
    watch = Watch(browser, ui, PHONE, touch=True)
    page = watch.page
    watch.login(REP)
    _write(page, watch.base, "Réponse perdue, chemin des Prés", 700)
    # the request reaches geosignal (the report is stored) but its answer never reaches the phone
    page.route("**/carte", lambda route: (route.fetch(), route.abort("internetdisconnected"))
               if route.request.method == "POST" else route.continue_())
    try:
        page.click("#submit-report", no_wait_after=True)
    except Exception:  # noqa: BLE001, S110  (the browser's error page)
        pass
    page.wait_for_timeout(800)
    page.unroute("**/carte")
    assert _stored(ui, "Réponse perdue, chemin des Prés") == 1
    # back on the map later: the report kept on the phone is offered, nothing filled in yet
    page.goto(watch.base + "/carte")
    page.wait_for_selector("#unsent-notice:not([hidden])")
    said = page.inner_text("#unsent-notice")
    assert said.startswith("Un signalement préparé sur cet appareil le "), said
    assert "n'a pas été envoyé (pas de réseau ?)." in said
    assert page.input_value("#field-description") == ""
    page.screenshot(path=str(ARTIFACTS / "offline-offered-phone.png"), full_page=True)
    page.click("#unsent-resume")
    assert page.inner_text("#unsent-notice") == "Signalement repris : vérifiez-le, puis envoyez-le."
    assert page.input_value("#field-description") == "Réponse perdue, chemin des Prés"
    assert page.input_value("#field-network") == "mobile"
    assert page.is_checked("input[name=technologies][value='4G']")
    assert page.inner_text("#drawn-status").startswith("Forme dessinée"), page.inner_text("#drawn-status")
    with page.expect_navigation():
        page.click("#submit-report")
    assert page.url.endswith("/signalements"), page.inner_text(".flashes") + page.inner_text("#report-form")[:600]
    # the same idempotency key and the same report: geosignal answers with the one it stored
    assert _stored(ui, "Réponse perdue, chemin des Prés") == 1
    assert page.evaluate(UNSENT) == []
    page.goto(watch.base + "/carte")
    page.wait_for_function("() => document.getElementById('map-pane').dataset.limits === 'ready'")
    assert page.is_hidden("#unsent-notice")
    # a report begun, then « L'effacer » on the next visit; another begun, then signing out: forgotten
    _write(page, watch.base, "Commencé puis effacé", 900)
    page.wait_for_timeout(600)
    page.goto(watch.base + "/carte")
    page.wait_for_selector("#unsent-notice:not([hidden])")
    page.click("#unsent-discard")
    assert page.inner_text("#unsent-notice") == "Signalement non envoyé effacé de cet appareil."
    assert page.evaluate(UNSENT) == []
    _write(page, watch.base, "Commencé puis déconnecté", 1100)
    page.wait_for_timeout(600)
    assert len(page.evaluate(UNSENT)) == 1
    page.click("#menu-button")
    with page.expect_navigation():
        page.click("#main-nav form[data-forget-unsent] button")
    assert page.evaluate(UNSENT) == []
    assert [e for e in watch.errors if "ERR_INTERNET_DISCONNECTED" not in e] == []
    watch.close()


def test_a_report_the_server_refused_is_offered_again_as_refused_not_as_lost_by_the_network(ui, browser) -> None:  # noqa: ANN001, F811
    """The server read the report and refused it (no network type chosen: 422): the map step
    then asks its reports for a real area (it asked a bbox reaching longitude 552°, the view of
    the map while hidden: 400), and the copy kept on the device is offered on the next visit as
    a refused report to correct, not as « pas de réseau ? »."""
    watch = Watch(browser, ui, PHONE, touch=True)
    page = watch.page
    refused_reads = []
    page.on("response", lambda r: r.status >= 400 and "/api/v1/reports" in r.url and refused_reads.append(r.url))
    watch.login(REP)
    _write(page, watch.base, "Refusé, rue de la Station", 1100, network=False)
    with page.expect_response(lambda r: r.url.endswith("/carte") and r.request.method == "POST") as answer:
        page.tap("#submit-report")  # no network type chosen
    assert answer.value.status == 422
    page.wait_for_load_state("networkidle")
    assert _stored(ui, "Refusé, rue de la Station") == 0
    with page.expect_response(lambda r: "/api/v1/reports?" in r.url) as listed:
        page.tap("#to-map")
    assert listed.value.status == 200 and refused_reads == [], refused_reads
    page.goto(watch.base + "/signalements")
    page.goto(watch.base + "/carte")
    page.wait_for_selector("#unsent-notice:not([hidden])")
    notice = page.inner_text("#unsent-notice")
    assert " a été refusé et n'est pas enregistré : reprenez-le pour le corriger, puis envoyez-le." in notice, notice
    assert "réseau" not in notice, notice
    page.screenshot(path=str(ARTIFACTS / "offline-refused-offered-phone.png"))
    page.tap("#unsent-resume")
    assert page.input_value("#field-description") == "Refusé, rue de la Station"
    # the refused send's own answer (422) is the one error the browser logs
    assert [e for e in watch.errors if "status of 422" not in e] == [] and watch.outside == []
    watch.close()
