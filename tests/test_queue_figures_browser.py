"""The validation queue in Debian's chromium (1440 px): a card the server wrote and the same
card its script redraws (a filter, a next page) say the same figures as the report page, and the
reason box takes what a decision takes (``MAX_REASON``)."""

from __future__ import annotations

import pytest
from shapely.geometry import LineString, box
from sqlalchemy import text

from geosignal.services.users import create_user
from geosignal.services.workflow import MAX_REASON
from tests.conftest import CHARLEROI
from tests.factories import CHARLEROI_LAMBERT72
from tests.test_browser import PASSWORD, browser, serving  # noqa: F401 - fixtures
from tests.test_queue import add_report
from tests.test_queue_browser import ready, remove_reports_and_accounts
from tests.test_ui_browser import DESKTOP, Watch

pytestmark = pytest.mark.browser
X0, Y0 = CHARLEROI_LAMBERT72
#: a reason longer than the 2,000 characters the queue's box took, within MAX_REASON
REASON = ("Motif détaillé de refus, avec les rues concernées et les mesures de l'opérateur. " * 40)[:3000]


@pytest.fixture(scope="module")
def queue(app):  # noqa: ANN001, ANN201
    database = app.extensions["geosignal.db"]
    with database.session() as session:
        create_user(session, "figures-ref@igretec.com", "referent", None, PASSWORD)
        admin = create_user(session, "figures-admin@igretec.com", "admin", None, PASSWORD)
        session.flush()
        # an area of 12,344.5 m² and a line of 100.5 m: a half at the unit, written the same
        # way by the server (Babel rounded a half to even) and by the script (Intl: away from zero)
        zone = add_report(session, admin, box(X0, Y0, X0 + 100, Y0 + 123.445), created="2026-02-01",
                          description="zone de 12 344,5 m²")
        line = add_report(session, admin, LineString([(X0 + 500, Y0), (X0 + 600.5, Y0)]), created="2026-02-02",
                          description="tronçon de 100,5 m")
        session.commit()
    with serving(app) as base:
        yield {"base": base, "zone": zone, "line": line, "app": app, "stub": type("Stub", (), {"base": base})()}
    remove_reports_and_accounts(database, "figures-%")


def _size(page, rid: str) -> str:  # noqa: ANN001
    return page.inner_text(f"#q-{rid} [data-field=size]")


def _queue_page(browser, queue: dict) -> Watch:  # noqa: ANN001, F811
    """The referent's validation queue, its two cards shown."""
    watch = Watch(browser, queue, DESKTOP)
    watch.login("figures-ref@igretec.com")
    watch.page.goto(queue["base"] + "/validation")
    ready(watch.page, 2)
    return watch


def test_a_card_says_the_same_figure_written_by_the_server_or_by_the_script(queue, browser) -> None:  # noqa: ANN001, F811
    watch = _queue_page(browser, queue)
    page = watch.page
    server = {k: _size(page, queue[k]) for k in ("zone", "line")}
    page.select_option("select[name=commune]", CHARLEROI)
    page.click("#queue-filters button[type=submit]")
    page.wait_for_url(f"**commune={CHARLEROI}**")
    ready(page, 2)
    script = {k: _size(page, queue[k]) for k in ("zone", "line")}
    assert server == script, (server, script)
    assert "12\u202f345" in server["zone"] and "101" in server["line"], server
    page.goto(queue["base"] + f"/signalements/{queue['zone']}")
    assert "12\u202f345 m²" in page.inner_text("main")
    watch.close()


def test_the_queues_reason_box_takes_what_a_decision_takes(queue, browser) -> None:  # noqa: ANN001, F811
    """A pasted 3,000-character reason was cut to 2,000 by the box, without a word."""
    watch = _queue_page(browser, queue)
    page = watch.page
    rid = queue["line"]
    assert page.get_attribute(f"#q-{rid} textarea[name=reason]", "maxlength") == str(MAX_REASON)
    page.click(f"#q-{rid} .queue-action[data-target=rejected]")
    page.fill(f"#q-{rid} textarea[name=reason]", REASON)
    page.click(f"#q-{rid} .queue-confirm")
    ready(page, 1)
    with queue["app"].extensions["geosignal.db"].session() as session:
        stored = session.scalar(text("SELECT reason FROM audit_events WHERE report_id = :id AND to_status = "
                                     "'rejected'"), {"id": rid})
    assert stored == REASON
    watch.close()
