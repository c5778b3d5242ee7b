"""What the accessibility trial (WCAG 2.1 AA, EN 301 549) found in the pages themselves, fixed
by their markup and styles: a table's every column has a name (1.3.1), text in another
language than the page's says so (3.1.2), legends keep their colours in forced colours
(1.4.1), decorative glyphs are no part of a control's name (1.3.1), the journal reflows at
200 % (1.4.10) and a form refused without a message at its top brings focus to its own
(3.3.1)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete

from geosignal.geo import LAMBERT72, WGS84, reproject
from geosignal.models import Report, User
from geosignal.services import reports as reports_service
from geosignal.services.intake import ReportInput
from geosignal.services.users import create_user
from tests.conftest import ARTIFACTS, CHARLEROI, csrf_token, owner_session
from tests.factories import CHARLEROI_LAMBERT72, square_lambert
from tests.test_browser import PASSWORD, PageWatch, browser, serving  # noqa: F401  (fixture)

X, Y = CHARLEROI_LAMBERT72

ROOT = Path(__file__).resolve().parents[1]


def test_the_tokens_table_names_every_column(client, representative) -> None:  # noqa: ANN001
    representative.login()
    page = client.get("/compte/jetons").get_data(as_text=True)
    heads = re.findall(r"<th>(.*?)</th>", page[page.index("<thead>"):page.index("</thead>")])
    assert heads[-1] == '<span class="visually-hidden">Actions</span>' and all(heads)


def test_english_api_descriptions_say_they_are_english(client, referent) -> None:  # noqa: ANN001
    referent.login()
    client.post("/langue", data={"locale": "nl", "csrf_token": csrf_token(client.get("/carte").get_data(as_text=True))})
    page = client.get("/api/v1/docs").get_data(as_text=True)
    assert '<html lang="nl"' in page
    descriptions = re.findall(r'<pre class="text"( lang="en")?>', page)
    assert descriptions and all(descriptions)  # every operation's description
    assert re.search(r'<p lang="en">', page)


def test_a_french_title_on_a_dutch_page_is_marked_french(app) -> None:  # noqa: ANN001
    from flask import g

    from geosignal import i18n

    with app.test_request_context("/"):
        g.geosignal_language = "nl"
        assert str(i18n.in_french("Territoire intelligent : où en est votre commune ?")) == (
            '<span lang="fr">Territoire intelligent : où en est votre commune ?</span>')
        assert str(i18n.in_french("<b>")) == '<span lang="fr">&lt;b&gt;</span>'
        g.geosignal_language = "fr"
        assert str(i18n.in_french("Édition 2022")) == "Édition 2022"


def test_decorative_glyphs_have_no_text_alternative() -> None:
    glyphs = re.compile(r'content:\s*"\s*[▲▼▸▾▴]"\s*;')
    for css in sorted((ROOT / "static" / "css").glob("*.css")):
        for line in css.read_text(encoding="utf-8").splitlines():
            if glyphs.search(line):  # the fallback for old browsers, then the one read as nothing
                assert re.search(r'content:\s*"\s*[▲▼▸▾▴]"\s*/\s*""', line), (css.name, line)


def test_legends_keep_their_colours_in_forced_colours() -> None:
    dashboard = (ROOT / "static" / "css" / "dashboard.css").read_text(encoding="utf-8")
    assert ".legend .swatch, .legend .heat-bar, .map-legend svg { forced-color-adjust: none; }" in dashboard


@pytest.fixture(scope="module")
def site(app) -> Iterator[dict]:  # noqa: ANN001
    """geosignal on a free port, a representative of Charleroi, the referent and one report."""
    database = app.extensions["geosignal.db"]
    with database.session() as session:
        rep = create_user(session, "a11y-rep@charleroi.be", "representative", CHARLEROI, PASSWORD)
        create_user(session, "a11y-ref@igretec.com", "referent", None, PASSWORD)
        session.flush()
        geom = reproject(square_lambert(X - 900, Y + 600, 250.0), LAMBERT72, WGS84)
        feature, _ = reports_service.create_report(session, rep, ReportInput(geom, {
            "network": "mobile", "description": "Rue de la Station : hors zone, doublon de rien du tout"}))
        session.commit()
    with serving(app) as base:
        yield {"base": base, "id": feature["id"]}
    with owner_session(database) as session:
        session.execute(delete(Report).where(Report.id == feature["id"]))
        session.execute(delete(User).where(User.email.like("a11y-%")))
        session.commit()


@pytest.mark.browser
def test_refusals_keep_focus_and_the_journal_reflows(site, browser) -> None:  # noqa: ANN001, F811
    """Keyboard and zoom, in Chromium: a refused speed test brings focus to its message (it
    stayed on the page's body); the journal at 200 % (720 px) does not make the page scroll
    sideways and gives its detail a readable column; at 400 % (320 px) a card's date is not
    cut off."""
    watch = PageWatch(browser, site["base"])
    watch.login("a11y-rep@charleroi.be")
    page = watch.page
    page.goto(f"{site['base']}/signalements/{site['id']}")
    page.locator("#speed-test-form button[type=submit]").focus()
    page.keyboard.press("Enter")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.activeElement.id") == "evidence-error"
    assert page.evaluate("document.activeElement.getAttribute('role')") == "alert"
    ref = PageWatch(browser, site["base"])
    ref.login("a11y-ref@igretec.com")
    journal = ref.page
    journal.set_viewport_size({"width": 720, "height": 450})
    journal.goto(f"{site['base']}/admin/journal")
    assert journal.evaluate("document.documentElement.scrollWidth") <= 720
    assert journal.locator("#journal-table td.text").first.bounding_box()["width"] >= 14 * 16 - 1
    journal.set_viewport_size({"width": 320, "height": 600})
    journal.wait_for_timeout(150)
    assert journal.evaluate("document.documentElement.scrollWidth") <= 320
    date = journal.locator("#journal-table td.nowrap .nowrap").first.bounding_box()
    card = journal.locator("#journal-table tbody tr").first.bounding_box()
    assert date["x"] + date["width"] <= card["x"] + card["width"] + 0.5
    ARTIFACTS.mkdir(exist_ok=True)
    journal.screenshot(path=str(ARTIFACTS / "a11y-journal-320.png"), full_page=True)
