"""The validation queue in headless Chromium (Debian's, via Playwright), at 1440×900 and
390×844: filters re-query the API and the list follows, the selected report's shape is drawn on
the map, validate and reject (with a reason) without a page reload, bulk validation with one
report moved behind the page's back (409: the others move, the refused one says why), focus
and announcements, no console error, nothing wider than a phone, 44 px targets.
Screenshots: ``test-artifacts/queue-*.png``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete, text

from geosignal.models import CommuneStats, Report, User
from geosignal.services import workflow as workflow_service
from geosignal.services.users import create_user
from tests.conftest import ARTIFACTS, CHARLEROI, owner_session
from tests.factories import CHARLEROI_LAMBERT72, square_lambert
from tests.test_browser import PASSWORD, browser, serving  # noqa: F401  (fixture)
from tests.test_queue import add_report, chatelet_xy
from tests.test_ui_browser import DESKTOP, PHONE, RAW, Watch, _small_targets

pytestmark = pytest.mark.browser
X0, Y0 = CHARLEROI_LAMBERT72
CHATELET = "52012"


#: The households and businesses affected the first reports of :func:`queue_server` declare.
COUNTS = {0: {"households_affected": 1234, "businesses_affected": 12}, 1: {"businesses_affected": 3}}


@pytest.fixture(scope="module")
def queue_server(app) -> Iterator[dict]:  # noqa: ANN001
    """geosignal on a free port with a referent and seven submitted reports (five in Charleroi,
    two in Châtelet, the second asked a question and answered) and one validated; removed
    afterwards. The first report declares 1234 households and 12 businesses affected, the
    second 3 businesses, the others neither."""
    database = app.extensions["geosignal.db"]
    with database.session() as session:
        create_user(session, "queue-ref@igretec.com", "referent", None, PASSWORD)
        admin = create_user(session, "queue-b-admin@igretec.com", "admin", None, PASSWORD)
        session.flush()
        cx, cy = chatelet_xy(session)
        ids = [add_report(session, admin, square_lambert(X0 - 2000 + 600 * i, Y0 - 1500, 300 + 50 * i),
                          created=f"2026-02-0{i + 1}", description=f"Zone {i} : pas de 4G près de l'église",
                          **COUNTS.get(i, {}))
               for i in range(5)]
        ids += [add_report(session, admin, square_lambert(cx + 500 * i, cy, 250), created=f"2026-02-1{i}",
                           operators=["Orange"], description=f"Châtelet {i} : <b>coupures</b> {{{{ 7*7 }}}}")
                for i in range(2)]
        ids.append(add_report(session, admin, square_lambert(X0, Y0 + 2000, 200), status="validated",
                              created="2026-01-20", description="Déjà validé"))
        referent = session.query(User).filter_by(email="queue-ref@igretec.com").one()
        session.flush()
        workflow_service.transition(session, ids[6], "needs_info", referent, "Quelle rue exactement ?")
        workflow_service.transition(session, ids[6], "submitted", admin, "Rue du Moulin, après le pont")
        session.commit()
    with serving(app) as base:
        yield {"base": base, "ids": ids, "app": app, "stub": type("NoStub", (), {"base": base})()}
    remove_reports_and_accounts(database, "queue-%")


def remove_reports_and_accounts(database, emails: str) -> None:  # noqa: ANN001
    """What a live-server fixture of the queue stored: every report, export run and stored
    figure, and the accounts whose address is like ``emails``."""
    with owner_session(database) as session:
        session.execute(text("DELETE FROM export_runs"))
        session.execute(delete(CommuneStats))
        session.execute(delete(Report))
        session.execute(delete(User).where(User.email.like(emails)))
        session.commit()


def statuses(app, ids) -> list[str]:  # noqa: ANN001
    with app.extensions["geosignal.db"].session() as session:
        rows = dict(session.execute(text("SELECT id::text, status FROM reports WHERE id::text = ANY(:ids)"),
                                    {"ids": ids}).all())
    return [rows[i] for i in ids]


def ready(page, n: int) -> None:  # noqa: ANN001
    """Wait until the queue is ready with ``n`` cards (on timeout, say what is there)."""
    try:
        _wait_ready(page, n)
    except Exception as error:  # noqa: BLE001
        state = page.evaluate("[document.getElementById('queue') && document.getElementById('queue').dataset.state, "
                              "document.querySelectorAll('#queue-items li.queue-item').length, "
                              "document.getElementById('queue-summary') && document.getElementById('queue-summary').textContent]")
        raise AssertionError(f"queue not ready with {n} cards: {state}") from error


def _wait_ready(page, n: int) -> None:  # noqa: ANN001
    page.wait_for_function("n => document.getElementById('queue').dataset.state === 'ready' && "
                           "document.querySelectorAll('#queue-items li.queue-item').length === n", arg=n, timeout=10000)


def card_ids(page) -> list[str]:  # noqa: ANN001
    return page.eval_on_selector_all("#queue-items li.queue-item", "els => els.map(e => e.dataset.id)")


def test_queue_filters_map_actions_and_bulk(queue_server, browser) -> None:  # noqa: ANN001, F811
    ids, app = queue_server["ids"], queue_server["app"]
    watch = Watch(browser, queue_server, DESKTOP)
    page = watch.page
    watch.login("queue-ref@igretec.com")
    page.click("#main-nav >> text=File de validation")
    page.wait_for_url("**/validation")
    assert watch.errors == []
    ready(page, 7)
    assert card_ids(page) == ids[:7]  # oldest first; the validated one is not waiting
    assert "7 signalements trouvés ; 7 affichés." in page.inner_text("#queue-summary")
    # the listed reports are marked on the map before any is chosen, one dot each
    page.wait_for_function("() => document.getElementById('queue').dataset.dots === '7'")
    assert page.locator("#queue-map path.queue-dot").count() == 7
    # under them the communes' outlines (without a base map the dots were on grey), not clickable
    page.wait_for_function("() => document.getElementById('queue-map').dataset.communeOutlines === '30'")
    outline = page.locator("#queue-map path.commune-outline").first
    assert outline.get_attribute("fill") == "none" and "leaflet-interactive" not in outline.get_attribute("class")
    page.screenshot(path=str(ARTIFACTS / "queue-dots-1440.png"))
    # user text stays text
    assert "<b>coupures</b> {{ 7*7 }}" in page.inner_text(f"#q-{ids[5]} .queue-description")
    page.evaluate("window.__samePage = 'yes'")

    # filters re-query the API; the list follows without a reload
    page.select_option("select[name=commune]", CHATELET)
    page.click("#queue-filters button[type=submit]")
    ready(page, 2)
    assert card_ids(page) == ids[5:7]
    assert page.url.endswith(f"/validation?commune={CHATELET}")
    page.select_option("select[name=commune]", "")
    page.fill("input[name=q]", "église")
    page.click("#queue-filters button[type=submit]")
    ready(page, 5)
    page.fill("input[name=q]", "")
    page.select_option("select[name=status]", "needs_info")  # none: said once
    page.click("#queue-filters button[type=submit]")
    ready(page, 0)
    assert page.inner_text("#queue-summary") == "Aucun signalement ne correspond à ces filtres."
    assert not page.is_visible("#queue-empty") and not page.is_visible("#queue-select-all")
    page.select_option("select[name=status]", "")
    page.click("#queue-filters button[type=submit]")
    ready(page, 7)

    # select a report: its shape is drawn on the map beside the list
    page.click(f"#q-{ids[2]} .queue-select")
    page.wait_for_function("id => document.getElementById('queue').dataset.mapShown === id", arg=ids[2])
    # the shape, and its commune's outline around it (a point on a grey map said nothing)
    page.wait_for_function("() => document.querySelectorAll("
                           "'#queue-map .leaflet-overlay-pane path:not(.queue-dot):not(.commune-outline)').length === 2")
    assert page.locator("#queue-map .leaflet-overlay-pane path[stroke-dasharray]").count() == 1
    assert page.locator("#queue-map path.queue-dot").count() == 7  # the list's dots stay
    assert page.get_attribute(f"#q-{ids[2]} .queue-select", "aria-pressed") == "true"
    page.screenshot(path=str(ARTIFACTS / "queue-selected-1440.png"))
    # a click on another card's text shows that one (the title button is the keyboard's way)
    page.click(f"#q-{ids[3]} .queue-description")
    page.wait_for_function("id => document.getElementById('queue').dataset.mapShown === id", arg=ids[3])
    assert page.get_attribute(f"#q-{ids[3]} .queue-select", "aria-pressed") == "true"
    assert page.get_attribute(f"#q-{ids[2]} .queue-select", "aria-pressed") == "false"

    # a dot's click shows its card's report
    page.evaluate("() => { const d = document.querySelectorAll('#queue-map path.queue-dot')[4];"
                  " d.dispatchEvent(new MouseEvent('click', {bubbles: true})); }")
    page.wait_for_function("id => document.getElementById('queue').dataset.mapShown === id", arg=ids[4])
    assert page.evaluate("document.activeElement.closest('li').dataset.id") == ids[4]

    # validate the first one without reload: the card leaves (and its dot), focus goes to the next one
    page.click(f"#q-{ids[0]} .queue-action[data-target=validated]")
    ready(page, 6)
    assert page.locator("#queue-map path.queue-dot").count() == 6
    assert "validé" in page.inner_text("#queue-summary")
    assert page.evaluate("document.activeElement.closest('li').dataset.id") == ids[1]
    assert page.evaluate("window.__samePage") == "yes"

    # reject with a reason: refused while empty (announced), then sent
    page.click(f"#q-{ids[1]} .queue-action[data-target=rejected]")
    assert page.evaluate("document.activeElement.name") == "reason"
    page.click(f"#q-{ids[1]} .queue-confirm")
    page.wait_for_function("t => document.getElementById('queue-alert').textContent.includes(t)", arg="motif")
    # and said beside the field, which reads it
    said = page.locator(f"#q-{ids[1]} .queue-reason-error")
    assert said.is_visible() and said.inner_text() == "Indiquez un motif avant de confirmer."
    assert page.get_attribute(f"#q-{ids[1]} textarea[name=reason]", "aria-describedby") == said.get_attribute("id")
    page.fill(f"#q-{ids[1]} textarea[name=reason]", "Zone hors du territoire desservi, voir l'opérateur")
    page.screenshot(path=str(ARTIFACTS / "queue-reject-1440.png"))
    page.click(f"#q-{ids[1]} .queue-confirm")
    ready(page, 5)
    assert statuses(app, ids[:2]) == ["validated", "rejected"]
    assert page.inner_text("#queue-alert") == ""  # the refusal of the empty reason is settled
    with app.extensions["geosignal.db"].session() as session:
        reason = session.scalar(text("SELECT reason FROM audit_events WHERE report_id = :id AND to_status = 'rejected'"),
                                {"id": ids[1]})
    assert reason == "Zone hors du territoire desservi, voir l'opérateur"

    # bulk: three chosen, one of them withdrawn meanwhile by its commune, one changed by it (the
    # version read is what is validated: that one is left, said)
    for rid in (ids[2], ids[3], ids[4]):
        page.check(f"#q-{rid} .queue-check")
    assert page.inner_text("#queue-selection") == "3 sélectionnés"
    with app.extensions["geosignal.db"].session() as session:
        session.execute(text("UPDATE reports SET status = 'withdrawn' WHERE id = :id"), {"id": ids[3]})
        session.execute(text("UPDATE reports SET description = description || ' (corrigé)' WHERE id = :id"),
                        {"id": ids[4]})
        session.commit()
    page.click("#queue-bulk-validate")
    ready(page, 4)
    assert card_ids(page) == [ids[3], ids[4], ids[5], ids[6]]
    assert "quelqu'un d'autre a changé son statut depuis l'affichage de la liste ; il est maintenant « Retiré »." \
        in page.inner_text(f"#q-{ids[3]} .queue-note")
    assert "la commune l'a modifié depuis l'affichage de la liste" in page.inner_text(f"#q-{ids[4]} .queue-note")
    page.wait_for_function("t => document.getElementById('queue-alert').textContent.includes(t)",
                           arg="Validés : 1. Non validés : 2 (la raison est sur leur carte).")
    assert statuses(app, ids[2:5]) == ["validated", "withdrawn", "submitted"]
    assert page.evaluate("window.__samePage") == "yes"
    assert RAW.findall(page.inner_text("main")) == []
    page.screenshot(path=str(ARTIFACTS / "queue-bulk-1440.png"), full_page=True)
    # the 409 of the bulk request is expected: Chromium logs it as a console error
    watch.errors = [e for e in watch.errors if "409" not in e]
    watch.clean()
    watch.close()


def test_queue_on_a_phone(queue_server, browser) -> None:  # noqa: ANN001, F811
    watch = Watch(browser, queue_server, PHONE, touch=True)
    page = watch.page
    watch.login("queue-ref@igretec.com")
    page.goto(queue_server["base"] + "/validation?operator=Orange")
    ready(page, 2)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert _small_targets(page) == []
    assert not page.locator("#queue-map").is_visible()  # no map until a report is chosen
    answered = queue_server["ids"][6]
    exchange = ("() => Array.from(document.querySelectorAll('#queue-items .queue-exchange'))"
                ".filter(e => !e.hidden).map(e => [e.closest('li').dataset.id, e.innerText])")
    expected = [[answered, "Question du référent\nQuelle rue exactement ?\nRéponse de la commune\n"
                           "Rue du Moulin, après le pont"]]
    assert page.evaluate(exchange) == expected  # the server's card
    page.screenshot(path=str(ARTIFACTS / "queue-390.png"), full_page=True)
    page.evaluate("document.querySelectorAll('#queue-items li').forEach(li => { li.dataset.old = '1'; }); "
                  "document.getElementById('queue-filters').requestSubmit()")
    page.wait_for_function("() => !document.querySelector('#queue-items li[data-old]')")
    ready(page, 2)
    assert page.evaluate(exchange) == expected  # the script's card
    first = card_ids(page)[0]
    page.click(f"#q-{first} .queue-select")
    page.wait_for_function("id => document.getElementById('queue').dataset.mapShown === id", arg=first)
    # on a phone the map opens inside the chosen card
    assert page.locator(f"#q-{first} #queue-map").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(ARTIFACTS / "queue-selected-390.png"), full_page=True)
    watch.clean()
    watch.close()


def test_queue_page_matches_the_api(queue_server, browser) -> None:  # noqa: ANN001, F811
    """The cards rendered by the server and the API's items are the same reports in the same order."""
    watch = Watch(browser, queue_server, DESKTOP)
    page = watch.page
    watch.login("queue-ref@igretec.com")
    page.goto(queue_server["base"] + f"/validation?commune={CHARLEROI}&status=all&limit=3")
    page.wait_for_function("() => document.getElementById('queue').dataset.state === 'ready'")
    api = page.evaluate(f"fetch('/api/v1/queue?commune={CHARLEROI}&status=all&limit=3').then(r => r.json())")
    assert card_ids(page) == [i["id"] for i in api["items"]]
    assert page.get_attribute("#queue-more", "data-cursor") == api["next_cursor"]
    texts = page.eval_on_selector_all("#queue-items li.queue-item [data-field=description]", "els => els.map(e => e.textContent)")
    assert texts == [i["description"] for i in api["items"]]
    watch.clean()
    watch.close()


def test_queue_cards_show_households_and_businesses_affected(queue_server, browser) -> None:  # noqa: ANN001, F811
    """The counts a report declares are on its card, labelled, both as the server renders the
    first page and as the script builds the cards from the API after filtering; a count not
    given takes no room (whatever the reports' statuses)."""
    ids = queue_server["ids"]
    watch = Watch(browser, queue_server, DESKTOP)
    page = watch.page
    watch.login("queue-ref@igretec.com")
    page.goto(queue_server["base"] + "/validation?status=all")  # whatever the other tests decided
    ready(page, 8)

    def counts(report_id: str) -> list[list[str]]:
        return page.eval_on_selector_all(
            f"#q-{report_id} [data-count]",
            "els => els.filter(e => e.offsetParent !== null).map(e => [e.querySelector('dt').textContent, "
            "e.querySelector('dd').textContent])")

    expected = {ids[0]: [["Ménages touchés", "1\u202f234"], ["Entreprises touchées", "12"]],
                ids[1]: [["Entreprises touchées", "3"]], ids[2]: []}
    assert {i: counts(i) for i in expected} == expected  # rendered by the server
    assert page.is_visible(f"#q-{ids[0]} [data-count=households_affected]")
    page.fill("input[name=q]", "église")
    page.click("#queue-filters button[type=submit]")
    ready(page, 5)
    assert {i: counts(i) for i in expected} == expected  # built by queue.js from GET /api/v1/queue
    page.screenshot(path=str(ARTIFACTS / "queue-counts-1440.png"))
    watch.clean()
    watch.close()


def test_the_queue_map_shows_its_reports_within_their_communes(queue_server, browser) -> None:  # noqa: ANN001, F811
    """On a desktop, before any report is chosen, the map was fitted to the list's dots alone: no
    commune outline in view, the dots on grey without a base map (a referent's trial). It shows
    the dots with the whole outline of each of their communes. (The reports waiting depend on
    the tests before: the communes are read from the cards.)"""
    watch = Watch(browser, queue_server, DESKTOP)
    page = watch.page
    watch.login("queue-ref@igretec.com")
    page.goto(queue_server["base"] + "/validation")
    page.wait_for_function("() => document.getElementById('queue').dataset.state === 'ready'")
    page.wait_for_function("() => document.getElementById('queue-map').dataset.communeOutlines === '30'")
    page.wait_for_timeout(200)  # the view fitted again once the outlines are there
    communes = set(page.eval_on_selector_all("#queue-items li.queue-item", "els => els.map(e => e.dataset.commune)"))
    assert communes and communes <= {CHARLEROI, CHATELET}
    box = page.locator("#queue-map").bounding_box()
    for nis in communes:
        outline = page.locator(f"#queue-map path.commune-{nis}").bounding_box()
        assert outline["x"] >= box["x"] - 1 and outline["y"] >= box["y"] - 1, (nis, outline, box)
        assert outline["x"] + outline["width"] <= box["x"] + box["width"] + 1, (nis, outline, box)
        assert outline["y"] + outline["height"] <= box["y"] + box["height"] + 1, (nis, outline, box)
    dots = page.eval_on_selector_all("#queue-map path.queue-dot", "ps => ps.map(p => p.getBoundingClientRect())"
                                     ".map(r => [r.x, r.y, r.width, r.height])")
    assert len(dots) == len(page.locator("#queue-items li.queue-item").all())
    assert all(box["x"] <= x and x + w <= box["x"] + box["width"] and box["y"] <= y and y + h <= box["y"] + box["height"]
               for x, y, w, h in dots)
    page.screenshot(path=str(ARTIFACTS / "queue-dots-in-communes-1440.png"))
    watch.clean()
    watch.close()
