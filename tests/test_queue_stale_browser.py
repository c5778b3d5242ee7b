"""The validation queue as it was opened, in headless Chromium (Debian's, via Playwright): a
decision is taken on the version each card showed, a next page continues the list shown (not
a filter chosen but not sent), and a list of statuses asked in the address is the one shown
and kept.

Found by a look at the page: the cards the server draws carried no version (a report the
commune changed after the list was opened was validated without a word, alone or in a bulk
validation); « Signalements suivants » read the form as it was at the click (another commune
chosen, not sent: the list's next reports were never reached); ``?status=validated,rejected``
was applied but shown as « En attente », and the next page appended submitted reports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from geosignal.services.users import create_user
from tests.factories import CHARLEROI_LAMBERT72, square_lambert
from tests.test_browser import PASSWORD, browser, serving  # noqa: F401  (fixture)
from tests.test_queue import add_report
from tests.test_queue_browser import remove_reports_and_accounts
from tests.test_ui_browser import DESKTOP, PHONE, Watch

pytestmark = pytest.mark.browser
X0, Y0 = CHARLEROI_LAMBERT72
REFERENT = "stale-ref@igretec.com"


@pytest.fixture(scope="module")
def stale_queue(app) -> Iterator[dict]:  # noqa: ANN001
    """A live server with a referent, 27 submitted Charleroi reports (oldest first in ``ids``)
    and three others decided (validated, rejected, validated); removed afterwards."""
    database = app.extensions["geosignal.db"]
    with database.session() as session:
        create_user(session, REFERENT, "referent", None, PASSWORD)
        admin = create_user(session, "stale-admin@igretec.com", "admin", None, PASSWORD)
        session.flush()
        ids = [add_report(session, admin, square_lambert(X0 - 3000 + 300 * (i % 10), Y0 - 1500 + 300 * (i // 10), 100),
                          created=f"2026-02-{i + 1:02d}", description=f"Zone {i}") for i in range(27)]
        decided = [add_report(session, admin, square_lambert(X0 - 3000 + 600 * i, Y0 + 1500, 200), status=status,
                              created=f"2026-01-1{i}", description=f"Décidé {i}")
                   for i, status in enumerate(["validated", "rejected", "validated"])]
        session.commit()
    with serving(app) as base:
        yield {"base": base, "ids": ids, "decided": decided, "app": app,
               "stub": type("NoStub", (), {"base": base})()}
    remove_reports_and_accounts(database, "stale-%")


def _status(app, rid: str) -> str:  # noqa: ANN001
    with app.extensions["geosignal.db"].session() as session:
        return session.scalar(text("SELECT status FROM reports WHERE id = :id"), {"id": rid})


def _changed_by_the_commune(app, rid: str) -> None:  # noqa: ANN001
    with app.extensions["geosignal.db"].session() as session:
        session.execute(text("UPDATE reports SET description = description || ' (corrigé)' WHERE id = :id"),
                        {"id": rid})
        session.commit()


def _open(stale_queue: dict, browser, size: dict, address: str = "/validation") -> tuple[Watch, object]:  # noqa: ANN001, F811
    watch = Watch(browser, stale_queue, size, touch=size is PHONE)
    watch.login(REFERENT)
    page = watch.page
    page.goto(stale_queue["base"] + address)
    page.wait_for_function("() => document.getElementById('queue').dataset.state === 'ready'")
    return watch, page


def _card_ids(page) -> list[str]:  # noqa: ANN001
    return page.eval_on_selector_all("#queue-items li.queue-item", "els => els.map(e => e.dataset.id)")


def test_a_card_of_the_first_page_changed_meanwhile_is_not_validated(stale_queue, browser) -> None:  # noqa: ANN001, F811
    ids, app = stale_queue["ids"], stale_queue["app"]
    watch, page = _open(stale_queue, browser, DESKTOP)
    assert page.get_attribute(f"#q-{ids[0]}", "data-etag").startswith('"')
    _changed_by_the_commune(app, ids[0])
    page.click(f"#q-{ids[0]} .queue-action[data-target=validated]")
    # said on its card (the alert line at the top of the list may be out of view)
    page.wait_for_function(f"() => /la commune l'a modifié depuis l'affichage de la liste/.test("
                           f"document.querySelector('#q-{ids[0]} [data-field=note]').textContent)")
    assert _status(app, ids[0]) == "submitted" and page.locator(f"#q-{ids[0]}").count() == 1
    watch.context.close()


def test_a_bulk_validation_on_a_phone_leaves_the_card_changed_meanwhile(stale_queue, browser) -> None:  # noqa: ANN001, F811
    ids, app = stale_queue["ids"], stale_queue["app"]
    watch, page = _open(stale_queue, browser, PHONE)
    page.check(f"#q-{ids[1]} .queue-check")
    page.check(f"#q-{ids[2]} .queue-check")
    _changed_by_the_commune(app, ids[2])
    page.click("#queue-bulk-validate")
    page.wait_for_selector(f"#q-{ids[2]} [data-field=note]:not([hidden])")
    assert (_status(app, ids[1]), _status(app, ids[2])) == ("validated", "submitted")
    assert page.locator(f"#q-{ids[1]}").count() == 0  # the one validated left the list
    watch.context.close()


def test_the_next_page_continues_the_list_shown(stale_queue, browser) -> None:  # noqa: ANN001, F811
    """Another commune chosen but not sent, then « Signalements suivants »: the list's own next
    reports come (they were fetched for Châtelet with Charleroi's cursor, and never came)."""
    ids = stale_queue["ids"]
    watch, page = _open(stale_queue, browser, DESKTOP)
    first = _card_ids(page)
    assert len(first) == 25
    page.select_option("select[name=commune]", "52012")
    page.click("#queue-more")
    page.wait_for_function("() => document.querySelectorAll('#queue-items li.queue-item').length > 25")
    shown = _card_ids(page)
    assert [i for i in ids if i in shown] == shown and set(ids) - {ids[1]} <= set(shown)  # (the 2nd: validated above)
    watch.context.close()


def test_a_list_of_statuses_asked_in_the_address_is_shown_and_kept(stale_queue, browser) -> None:  # noqa: ANN001, F811
    watch, page = _open(stale_queue, browser, DESKTOP, "/validation?status=validated,rejected&limit=1")
    selected = page.eval_on_selector("select[name=status]", "s => s.options[s.selectedIndex].textContent")
    assert selected == "Validé, Rejeté"
    page.click("#queue-more")
    page.wait_for_function("() => document.querySelectorAll('#queue-items li.queue-item').length > 1")
    statuses = page.eval_on_selector_all("#queue-items li.queue-item", "els => els.map(e => e.dataset.status)")
    with stale_queue["app"].extensions["geosignal.db"].session() as session:
        decided = session.scalar(text("SELECT count(*) FROM reports WHERE status IN ('validated', 'rejected')"))
    assert set(statuses) <= {"validated", "rejected"} and len(statuses) == decided >= 3
    watch.context.close()
