"""Faults found by a user trial in Dutch (a schepen on a phone, the referent on a desktop),
each checked as she met it, in headless Chromium (Debian's, via Playwright): what the upload
preview writes between its remarks, … Screenshots go to ``test-artifacts/trial-nl-*.png``."""

from __future__ import annotations

import pytest

from geosignal.services.users import create_user
from tests.conftest import ARTIFACTS, CHARLEROI
from tests.test_browser import PASSWORD, browser  # noqa: F401  (fixture)
from tests.test_ui_browser import PHONE, Watch, ui  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser


def _user(served: dict, email: str, locale: str | None) -> str:
    """A representative of Charleroi speaking ``locale`` (None: the browser's language)."""
    with served["app"].extensions["geosignal.db"].session() as session:
        create_user(session, email, "representative", CHARLEROI, PASSWORD).locale = locale
        session.commit()
    return email


def test_the_upload_preview_separates_its_remarks_the_way_of_the_page_language(ui, browser) -> None:  # noqa: ANN001, F811
    """An accepted row with two values set aside lists both remarks: French writes « a ; b »
    (a space before the semicolon), Dutch and English « a; b » (the French space leaked into
    Dutch: « ‘-4’ ; Waarde genegeerd »)."""
    data = b"latitude;longitude;gezinnen;datum\r\n50,4108;4,4440;-4;01/09/2099\r\n"
    for lang in ("fr", "nl", "en"):
        watch = Watch(browser, ui, PHONE)
        watch.login(_user(ui, f"ui-trial-sep-{lang}@charleroi.be", lang))
        watch.preview_upload("thuin.csv", data)
        row = watch.page.locator("#preview-table tbody tr.accepted.noted")
        row.wait_for()
        detail = row.locator("td").last.inner_text()
        first, second = {"fr": ("colonne « gezinnen » : « -4 »", "Valeur ignorée — colonne « datum »"),
                         "nl": ("kolom ‘gezinnen’: ‘-4’", "Waarde genegeerd — kolom ‘datum’"),
                         "en": ("column ‘gezinnen’: ‘-4’", "Value ignored — column ‘datum’")}[lang]
        # each says why it was set aside, as the map form says it (it said only "value ignored")
        count = {"fr": "Écrivez un nombre entier de 0 à 1\u202f000\u202f000, en chiffres et sans séparateur.",
                 "nl": "Schrijf een geheel getal van 0 tot 1.000.000, in cijfers en zonder scheidingsteken.",
                 "en": "Write a whole number from 0 to 1,000,000, in digits and without separators."}[lang]
        separator = " ; " if lang == "fr" else "; "
        assert f"{first} — {count}{separator}{second}" in detail, detail
        assert (" ; " in detail) == (lang == "fr"), detail
        if lang == "fr":
            assert detail.endswith("« 01/09/2099 » — Cette date est dans le futur : indiquez une date passée, ou "
                                   "celle d'aujourd'hui."), detail
        watch.page.screenshot(path=str(ARTIFACTS / f"trial-nl-upload-remarks-{lang}-390.png"), full_page=True)
        watch.clean()
        watch.close()


def test_the_links_a_representative_follows_from_the_notices_are_big_targets_on_a_phone(ui, browser) -> None:  # noqa: ANN001, F811
    """On a phone, the reports awaiting her answer, the referent's recent decisions, the
    « Antwoorden » link of a question and the crumbs back to the list were 17–19 px tall text
    links stacked one under the other: each is a 44 px target now."""
    watch = Watch(browser, ui, PHONE)
    watch.login(_user(ui, "ui-trial-links@charleroi.be", "nl"))
    page = watch.page
    asked = ui["ids"]["needs_info"]
    for path, selector in (("/signalements", "#awaiting-answer a, #recent-decisions li > a"),
                           (f"/signalements/{asked}", "#decision a, .crumbs a"),
                           (f"/signalements/{asked}/modifier", ".crumbs a")):
        page.goto(ui["base"] + path)
        page.wait_for_load_state("networkidle")
        links = page.locator(selector)
        assert links.count() >= (2 if path == "/signalements" else 1), path
        sizes = links.evaluate_all("as => as.map(a => [a.textContent, a.getBoundingClientRect().width, "
                                   "a.getBoundingClientRect().height])")
        assert [s for s in sizes if s[1] < 43.5 or s[2] < 43.5] == [], (path, sizes)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
    page.goto(ui["base"] + "/signalements")
    page.screenshot(path=str(ARTIFACTS / "trial-nl-notice-links-390.png"), full_page=True)
    watch.clean()
    watch.close()


def test_an_empty_answer_is_refused_in_the_page_language_not_the_browsers(ui, browser) -> None:  # noqa: ANN001, F811
    """A schepen whose page is in Dutch on a French browser answers the referent's question with
    nothing: the browser's own bubble said « Veuillez renseigner ce champ. » (its language); the
    form now lets the server say it, in Dutch, under the page's flash, the field marked."""
    watch = Watch(browser, ui, PHONE)  # a French browser (fr-BE)
    watch.login(_user(ui, "ui-trial-answer@charleroi.be", "nl"))
    page = watch.page
    asked = ui["ids"]["needs_info"]
    page.goto(ui["base"] + f"/signalements/{asked}")
    form = page.locator("form.action-form[data-action=answer]")
    assert form.get_attribute("novalidate") is not None
    form.locator("button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    flash = page.locator(".flash.error").first
    flash.wait_for()
    said = flash.inner_text()
    assert said.startswith("Actie geweigerd"), said
    assert page.locator("form.action-form[data-action=answer] textarea").get_attribute("aria-invalid") == "true"
    page.screenshot(path=str(ARTIFACTS / "trial-nl-empty-answer-390.png"), full_page=True)
    watch.close()


def test_the_withdrawal_is_confirmed_on_a_page_that_takes_the_focus_with_a_red_button(ui, browser) -> None:  # noqa: ANN001, F811
    """« Intrekken » opened the confirmation with the focus left on the page's body (a screen
    reader read nothing) and its final button blue, where the first one was red."""
    watch = Watch(browser, ui, PHONE)
    watch.login(_user(ui, "ui-trial-withdraw@charleroi.be", "nl"))
    page = watch.page
    rid = ui["ids"]["submitted"]
    page.goto(f"{ui['base']}/signalements/{rid}")
    first = page.locator("form button.danger").first
    assert first.inner_text() == "Intrekken"
    red = first.evaluate("b => getComputedStyle(b).backgroundColor")
    first.click()
    page.wait_for_selector("#confirm-button")
    focused = page.evaluate("() => [document.activeElement.tagName, document.activeElement.textContent]")
    assert focused == ["H1", "Bevestigen: Intrekken"], focused
    assert page.locator("#confirm-button").evaluate("b => getComputedStyle(b).backgroundColor") == red \
        == "rgb(165, 15, 21)"
    page.screenshot(path=str(ARTIFACTS / "trial-nl-withdraw-confirm-390.png"), full_page=True)
    page.click("text=Annuleren")  # nothing moved
    page.wait_for_url(f"{ui['base']}/signalements/{rid}")
    watch.clean()
    watch.close()
