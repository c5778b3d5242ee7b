"""Two people of one commune on one report, in headless Chromium at phone size (390×844): the
second answer to a question, an edit saved after a colleague's, and one saved after a
colleague withdrew the report (trial « life of reports », faults 1, 2 and 4). Screenshots go to
``test-artifacts/``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete

from geosignal.geo import LAMBERT72, WGS84, reproject
from geosignal.models import Report, User
from geosignal.services import reports as reports_service
from geosignal.services import workflow as workflow_service
from geosignal.services.intake import ReportInput
from geosignal.services.users import create_user
from tests.conftest import ARTIFACTS, CHARLEROI, owner_session
from tests.factories import CHARLEROI_LAMBERT72, square_lambert
from tests.test_browser import PASSWORD, PageWatch, browser, serving  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser
X, Y = CHARLEROI_LAMBERT72
MAYOR, CLERK = "w12-mayor@charleroi.be", "w12-clerk@charleroi.be"


@pytest.fixture(scope="module")
def site(app) -> Iterator[dict]:  # noqa: ANN001
    """geosignal on a free port, two representatives of Charleroi, the referent, and three
    reports: one the referent asked about, two submitted."""
    database = app.extensions["geosignal.db"]
    with database.session() as session:
        mayor = create_user(session, MAYOR, "representative", CHARLEROI, PASSWORD)
        create_user(session, CLERK, "representative", CHARLEROI, PASSWORD)
        referent = create_user(session, "w12-ref@igretec.com", "referent", None, PASSWORD)
        session.flush()
        ids = []
        for k, text_ in enumerate(("Leers-et-Fosteau", "Ragnies", "Gozée")):
            geom = reproject(square_lambert(X + 900 * k, Y + 1400, 300.0), LAMBERT72, WGS84)
            feature, _ = reports_service.create_report(session, mayor, ReportInput(geom, {
                "network": "mobile", "technologies": ["4G"], "operators": ["Orange", "Proximus"],
                "description": text_, "households_affected": 35}))
            ids.append(feature["id"])
        workflow_service.transition(session, ids[2], "needs_info", referent, "Quelle rue exactement, et depuis quand ?")
        session.commit()
    with serving(app) as base:
        yield {"base": base, "ids": ids, "db": database}
    with owner_session(database) as session:
        session.execute(delete(Report).where(Report.id.in_(ids)))
        session.execute(delete(User).where(User.email.like("w12-%")))
        session.commit()


def _person(browser, base: str, email: str) -> PageWatch:  # noqa: ANN001, F811
    watch = PageWatch(browser, base)
    watch.page.set_viewport_size({"width": 390, "height": 844})
    watch.login(email)
    return watch


def _shot(page, name: str) -> None:  # noqa: ANN001
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"colleagues-{name}-phone.png"), full_page=True)


def _fits(page) -> None:  # noqa: ANN001
    """Nothing wider than the phone's screen: no sideways scrolling."""
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_the_second_answer_is_kept_on_a_phone(site, browser) -> None:  # noqa: ANN001, F811
    rid = site["ids"][2]
    mayor, clerk = _person(browser, site["base"], MAYOR), _person(browser, site["base"], CLERK)
    for who in (mayor, clerk):
        who.page.goto(f"{site['base']}/signalements/{rid}")
    mayor.page.fill("form.action-form[data-action=answer] textarea", "Rue de Gozée, depuis le 15 novembre.")
    mayor.page.click("form.action-form[data-action=answer] button")
    mayor.page.wait_for_load_state("networkidle")
    theirs = "Route de Gozée n° 200-240 ; depuis la mi-novembre, selon les habitants."
    clerk.page.fill("form.action-form[data-action=answer] textarea", theirs)
    clerk.page.click("form.action-form[data-action=answer] button")
    clerk.page.wait_for_load_state("networkidle")
    page = clerk.page
    assert page.locator(".flash.success").count() == 0
    assert page.inner_text(".flash.error").startswith(f"Déjà fait entre-temps par {MAYOR} (Représentant·e "
                                                       "communal·e), le ")
    assert page.locator("#not-sent").is_visible() and page.input_value("#not-sent-text") == theirs
    assert page.inner_text("#recorded-text") == "Rue de Gozée, depuis le 15 novembre."
    _fits(page)
    _shot(page, "second-answer")
    assert [f for f in clerk.failed if not f.startswith("409 ")] == []
    for who in (mayor, clerk):
        who.context.close()


def test_an_edit_after_a_colleague_s_lists_only_her_changes_on_a_phone(site, browser) -> None:  # noqa: ANN001, F811
    rid = site["ids"][0]
    mayor, clerk = _person(browser, site["base"], MAYOR), _person(browser, site["base"], CLERK)
    for who in (mayor, clerk):
        who.page.goto(f"{site['base']}/signalements/{rid}/modifier")
        who.page.wait_for_load_state("networkidle")
    mayor.page.fill("#field-households_affected", "40")
    mayor.page.click("#save-edit")
    mayor.page.wait_for_load_state("networkidle")
    clerk.page.check("input[name=operators][value='Telenet/BASE']")
    clerk.page.fill("#field-description", "Leers-et-Fosteau : pas de Telenet/BASE non plus.")
    clerk.page.click("#save-edit")
    clerk.page.wait_for_load_state("networkidle")
    page = clerk.page
    names = page.eval_on_selector_all("#not-saved [data-name]", "els => els.map(e => e.dataset.name)")
    assert names == ["operators", "description"]
    assert page.input_value("#field-households_affected") == "40"
    assert page.inner_text("#changed-by").startswith(f"Version actuelle enregistrée par {MAYOR} ")
    _fits(page)
    _shot(page, "stale-edit")
    for who in (mayor, clerk):
        who.context.close()


def test_an_edit_after_a_colleague_withdrew_on_a_phone(site, browser) -> None:  # noqa: ANN001, F811
    rid = site["ids"][1]
    mayor, clerk = _person(browser, site["base"], MAYOR), _person(browser, site["base"], CLERK)
    mayor.page.goto(f"{site['base']}/signalements/{rid}/modifier")
    mayor.page.wait_for_load_state("networkidle")
    mayor.page.fill("#field-households_affected", "15")
    mayor.page.fill("#field-description", "Ragnies, place du village : plus de signal depuis novembre. 15 ménages.")
    clerk.page.goto(f"{site['base']}/signalements/{rid}")
    clerk.page.click("form.action-form[data-action=withdraw] button")
    clerk.page.click("#confirm-button")
    clerk.page.wait_for_load_state("networkidle")
    mayor.page.click("#save-edit")
    mayor.page.wait_for_load_state("networkidle")
    page = mayor.page
    assert page.inner_text("#what-happened").startswith("Le signalement ")
    assert f"« Retiré » : changement fait par {CLERK} (Représentant·e communal·e), le " in page.inner_text(
        "#what-happened")
    assert page.inner_text("#not-saved [data-name=households_affected] dd") == "15"
    assert page.locator("#report-link").is_visible() and page.locator("#copy-link").is_visible()
    _fits(page)
    _shot(page, "withdrawn-meanwhile")
    page.click("#report-link")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"/signalements/{rid}")
    for who in (mayor, clerk):
        who.context.close()
