"""A decision refused on the validation queue, and a decision kept in view, in headless
Chromium (Debian's, via Playwright) on a phone (390×844).

Found by a look at the page: a report another referent had decided meanwhile was refused with
« la commune l'a modifié » (the single report's transition checked its ETag before its status:
412 whatever had changed), and said in the list's alert line at its top, off the screen of a
phone; after any refused decision keyboard focus was on ``<body>`` (the buttons the request
disabled had it); and in the list of all statuses a card just rejected showed its reason only
once the page was reloaded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from geosignal.models import User
from geosignal.services import workflow as workflow_service
from geosignal.services.users import create_user
from tests.factories import CHARLEROI_LAMBERT72, square_lambert
from tests.test_browser import PASSWORD, browser, serving  # noqa: F401  (fixture)
from tests.test_queue import add_report
from tests.test_queue_browser import remove_reports_and_accounts
from tests.test_ui_browser import PHONE, Watch

pytestmark = pytest.mark.browser
X0, Y0 = CHARLEROI_LAMBERT72
REFERENT = "refusal-ref@igretec.com"
OTHER = "refusal-other@igretec.com"  # the other referent, deciding behind the page's back
ADMIN = "refusal-admin@igretec.com"  # (answers a question as the commune would)
#: What the card says when its status changed since the list was read, and when its commune
#: edited it (the status read), in French.
DECIDED = ("quelqu'un d'autre a changé son statut depuis l'affichage de la liste ; il est maintenant « {status} ». "
           "Rechargez la liste pour décider sur ce qu'il est devenu.")
EDITED = "la commune l'a modifié depuis l'affichage de la liste"


@pytest.fixture(scope="module")
def queue(app) -> Iterator[dict]:  # noqa: ANN001
    """A live server with two referents and twelve submitted Charleroi reports (``ids``, oldest
    first); removed afterwards."""
    database = app.extensions["geosignal.db"]
    with database.session() as session:
        create_user(session, REFERENT, "referent", None, PASSWORD)
        create_user(session, OTHER, "referent", None, PASSWORD)
        admin = create_user(session, ADMIN, "admin", None, PASSWORD)
        session.flush()
        ids = [add_report(session, admin, square_lambert(X0 - 3000 + 500 * i, Y0 - 1000, 200),
                          created=f"2026-02-{i + 1:02d}", description=f"Zone {i} : pas de 4G")
               for i in range(12)]
        session.commit()
    with serving(app) as base:
        yield {"base": base, "ids": ids, "app": app, "stub": type("NoStub", (), {"base": base})()}
    remove_reports_and_accounts(database, "refusal-%")


def _meanwhile(app, rid: str, to: str | None, reason: str | None = None, by: str = OTHER) -> None:  # noqa: ANN001
    """Behind the page's back: the other referent (or account ``by``) moves report ``rid`` to
    ``to`` (or, ``to`` None, its commune edits its description)."""
    with app.extensions["geosignal.db"].session() as session:
        if to is None:
            session.execute(text("UPDATE reports SET description = description || ' (corrigé)' WHERE id = :id"),
                            {"id": rid})
        else:
            actor = session.query(User).filter_by(email=by).one()
            workflow_service.transition(session, rid, to, actor, reason)
        session.commit()


def _status(app, rid: str) -> str:  # noqa: ANN001
    with app.extensions["geosignal.db"].session() as session:
        return session.scalar(text("SELECT status FROM reports WHERE id = :id"), {"id": rid})


def _open(queue: dict, browser, address: str = "/validation") -> tuple[Watch, object]:  # noqa: ANN001, F811
    watch = Watch(browser, queue, PHONE, touch=True)
    watch.login(REFERENT)
    page = watch.page
    page.goto(queue["base"] + address)
    page.wait_for_function("() => document.getElementById('queue').dataset.state === 'ready'")
    return watch, page


def _press(page, selector: str) -> None:  # noqa: ANN001
    """The keyboard's way: focus on the button, Enter."""
    page.focus(selector)
    page.keyboard.press("Enter")


def _note_when_said(page, rid: str) -> str:  # noqa: ANN001
    page.wait_for_selector(f"#q-{rid} [data-field=note]:not([hidden])")
    return page.inner_text(f"#q-{rid} [data-field=note]")


def _focused_note(page) -> str | None:  # noqa: ANN001
    """The id of the card whose note has keyboard focus (None: focus is elsewhere)."""
    return page.evaluate("() => { const a = document.activeElement;"
                         " return a && a.dataset.field === 'note' ? a.closest('li').dataset.id : null; }")


def _ref(page, rid: str) -> str:  # noqa: ANN001
    return page.get_attribute(f"#q-{rid}", "data-ref")


def test_a_decision_refused_says_what_changed_on_its_card(queue, browser) -> None:  # noqa: ANN001, F811
    ids, app = queue["ids"], queue["app"]
    watch, page = _open(queue, browser)
    # another referent validated it: the page said the commune had changed it
    _meanwhile(app, ids[0], "validated")
    page.click(f"#q-{ids[0]} .queue-action[data-target=validated]")
    said = _note_when_said(page, ids[0])
    assert said == f"Rien n'a été fait pour {_ref(page, ids[0])} : " + DECIDED.format(status="Validé")
    assert page.inner_text(f"#q-{ids[0]} [data-field=status_label]") == "Validé"
    assert page.locator(f"#q-{ids[0]} .queue-action:visible").count() == 0  # nothing left to decide on it
    assert _status(app, ids[0]) == "validated"

    # another referent asked the commune a question: a rejection still possible, not on what was read
    _meanwhile(app, ids[1], "needs_info", "Quelle rue exactement ?")
    page.click(f"#q-{ids[1]} .queue-action[data-target=rejected]")
    page.fill(f"#q-{ids[1]} textarea[name=reason]", "Hors du territoire desservi")
    page.click(f"#q-{ids[1]} .queue-confirm")
    said = _note_when_said(page, ids[1])
    assert said == f"Rien n'a été fait pour {_ref(page, ids[1])} : " + DECIDED.format(status="Question posée")
    assert _status(app, ids[1]) == "needs_info"
    # a rejection is still a move from « Question posée », but the card holds the version read:
    # offered, it was refused 412 every time, each time said anew « someone else changed it »
    assert page.locator(f"#q-{ids[1]} .queue-action:visible, #q-{ids[1]} .queue-pick:visible").count() == 0

    # its commune edited it: that is what is said
    _meanwhile(app, ids[2], None)
    page.click(f"#q-{ids[2]} .queue-action[data-target=validated]")
    said = _note_when_said(page, ids[2])
    assert said.startswith(f"Rien n'a été fait pour {_ref(page, ids[2])} : {EDITED}."), said
    assert _status(app, ids[2]) == "submitted"

    # a bulk validation: the one another referent validated says so
    page.check(f"#q-{ids[3]} .queue-check")
    page.check(f"#q-{ids[4]} .queue-check")
    _meanwhile(app, ids[3], "validated")
    page.click("#queue-bulk-validate")
    said = _note_when_said(page, ids[3])
    assert said == f"Rien n'a été fait pour {_ref(page, ids[3])} : " + DECIDED.format(status="Validé")
    page.wait_for_function("id => !document.getElementById('q-' + id)", arg=ids[4])  # validated: it left
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # the refusals are expected: Chromium logs their 409 and 412 as console errors
    watch.errors = [e for e in watch.errors if "409" not in e and "412" not in e]
    watch.clean()
    watch.close()


def test_focus_goes_to_why_a_decision_was_refused(queue, browser) -> None:  # noqa: ANN001, F811
    """With the keyboard: focus was on the button pressed, which the request disabled; it fell to
    ``<body>``. It goes to the card's message saying why (and it is in view)."""
    ids, app = queue["ids"], queue["app"]
    watch, page = _open(queue, browser)
    _meanwhile(app, ids[8], None)
    _press(page, f"#q-{ids[8]} .queue-action[data-target=validated]")
    _note_when_said(page, ids[8])
    assert _focused_note(page) == ids[8]
    assert page.locator(f"#q-{ids[8]} [data-field=note]").is_visible()
    assert page.evaluate(f"document.querySelector('#q-{ids[8]} [data-field=note]').getBoundingClientRect().bottom") \
        <= PHONE["height"]
    # with a reason typed: the same
    _meanwhile(app, ids[9], "validated")
    _press(page, f"#q-{ids[9]} .queue-action[data-target=rejected]")
    page.keyboard.type("Hors du territoire desservi")
    _press(page, f"#q-{ids[9]} .queue-confirm")
    _note_when_said(page, ids[9])
    assert _focused_note(page) == ids[9]
    # a bulk validation: the first card left with its reason
    page.check(f"#q-{ids[10]} .queue-check")
    page.check(f"#q-{ids[11]} .queue-check")
    _meanwhile(app, ids[10], None)
    _press(page, "#queue-bulk-validate")
    page.wait_for_function("id => !document.getElementById('q-' + id)", arg=ids[11])
    _note_when_said(page, ids[10])
    assert _focused_note(page) == ids[10]
    watch.errors = [e for e in watch.errors if "409" not in e and "412" not in e]
    watch.clean()
    watch.close()


def _texts(page, rid: str) -> dict:  # noqa: ANN001
    """What a card says of its decision: its status, the text that put it there and any exchange."""
    return page.evaluate("""id => {
        const li = document.getElementById('q-' + id), box = li.querySelector('[data-field=status_box]');
        const exchange = li.querySelector('[data-field=exchange]');
        return {status: li.dataset.status, label: li.querySelector('[data-field=status_label]').textContent,
                box: box.hidden ? null : box.innerText, html: box.outerHTML,
                exchange: exchange.hidden ? null : exchange.innerText};
    }""", rid)


def test_a_card_rejected_in_the_list_of_all_statuses_shows_its_reason_at_once(queue, browser) -> None:  # noqa: ANN001, F811
    ids, app = queue["ids"], queue["app"]
    # (one that was asked a question and answered: its exchange gives way to the decision)
    _meanwhile(app, ids[6], "needs_info", "Quelle rue exactement ?")
    _meanwhile(app, ids[6], "submitted", "Rue du Moulin", by=ADMIN)
    watch, page = _open(queue, browser, "/validation?status=all")
    reason = "Zone hors du territoire desservi, voir l'opérateur"
    for rid, to in ((ids[5], "rejected"), (ids[6], "rejected"), (ids[7], "needs_info")):
        _press(page, f"#q-{rid} .queue-action[data-target={to}]")
        page.fill(f"#q-{rid} textarea[name=reason]", f"  {reason}  ")
        _press(page, f"#q-{rid} .queue-confirm")
        page.wait_for_function("([id, to]) => document.getElementById('q-' + id).dataset.status === to",
                               arg=[rid, to])
    at_once = {rid: _texts(page, rid) for rid in ids[5:8]}
    assert [_status(app, rid) for rid in ids[5:8]] == ["rejected", "rejected", "needs_info"]
    assert all(t["box"] and t["box"].endswith("\n" + reason) for t in at_once.values()), at_once
    page.reload()
    page.wait_for_function("() => document.getElementById('queue').dataset.state === 'ready'")
    assert {rid: _texts(page, rid) for rid in ids[5:8]} == at_once  # as the server draws them
    watch.clean()
    watch.close()
