"""Pages checked as a person would: headless Chromium (Debian's) driven by Playwright.

Checks: no failed request, no console error (CSP violations included), Leaflet loaded from
geosignal itself, the commune boundary drawn; a shape drawn on the map and sent through
the form becomes a report. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, select, text
from werkzeug.serving import WSGIRequestHandler, make_server

from geosignal.models import Report, User
from geosignal.services.users import create_user
from tests.conftest import ARTIFACTS, CHARLEROI, owner_session

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"


class _ResetIsEnd:
    """A request handler's ``rfile`` on which a connection reset by the client reads as the end
    of the stream (``b""``); every other use is the wrapped reader's."""

    def __init__(self, raw) -> None:  # noqa: ANN001
        self._raw = raw

    def read(self, size: int = -1) -> bytes:
        try:
            return self._raw.read(size)
        except ConnectionResetError:
            return b""

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._raw, name)


class ClosingRequestHandler(WSGIRequestHandler):
    """werkzeug's development request handler, but the response's ``close()`` (its
    ``call_on_close`` work: the reset link's e-mail, a token's notice) runs even when the
    browser resets the connection once it has read the answer. werkzeug drains the socket
    before calling ``close()``, and a reset raised there skipped it: 16 such answers in 20
    lost their work (Chromium resets a connection it is done with now and then: the reset
    link of a CI run never left). gunicorn, which ``geosignal serve`` runs, calls ``close()``
    in a ``finally``."""

    def setup(self) -> None:
        super().setup()
        self.rfile = _ResetIsEnd(self.rfile)  # type: ignore[assignment]


@contextmanager
def serving(app) -> Iterator[str]:  # noqa: ANN001
    """Serve ``app`` on a free loopback port in a thread (:class:`ClosingRequestHandler`);
    yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=ClosingRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def test_the_test_server_runs_the_answers_close_work_when_the_client_resets() -> None:
    """A client that reads the answer then resets the connection (as Chromium now and then
    does) still gets the answer's ``call_on_close`` work done by :func:`serving`: with
    werkzeug's own handler 4 answers in 20 did (a reset link's e-mail never left)."""
    import socket
    import struct
    import time

    from flask import Flask, redirect

    tiny = Flask(__name__)
    done: list[int] = []

    @tiny.post("/p")
    def answered():  # noqa: ANN202
        response = redirect("/")
        response.call_on_close(lambda: done.append(1))
        return response

    with serving(tiny) as base:
        port = int(base.rsplit(":", 1)[1])
        for _ in range(20):
            with socket.create_connection(("127.0.0.1", port)) as client:
                client.sendall(b"POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
                assert client.recv(65536).startswith(b"HTTP/1.1 302")
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close: RST
        deadline = time.monotonic() + 10
        while len(done) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert len(done) == 20


@pytest.fixture(scope="module")
def live_server(app) -> Iterator[str]:  # noqa: ANN001
    """geosignal served on a free loopback port, with two committed users."""
    database = app.extensions["geosignal.db"]
    with database.session() as session:
        create_user(session, "browser-rep@charleroi.be", "representative", CHARLEROI, PASSWORD)
        create_user(session, "browser-ref@igretec.com", "referent", None, PASSWORD)
        session.commit()
    with serving(app) as base:
        yield base
    with owner_session(database) as session:
        session.execute(delete(Report))
        session.execute(delete(User).where(User.email.like("browser-%")))
        session.commit()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    playwright_sync = pytest.importorskip("playwright.sync_api")
    if not shutil.which("chromium") and not shutil.os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is required for the browser tests (apt-get install chromium)")
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"])
        yield browser
        browser.close()


class PageWatch:
    """A page that records console errors and failed requests."""

    def __init__(self, browser, base: str) -> None:  # noqa: ANN001
        self.context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="fr-BE",
                                           timezone_id="Europe/Brussels")
        self.page = self.context.new_page()
        self.base = base
        self.errors: list[str] = []
        self.failed: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        # a request cancelled because the page was left (net::ERR_ABORTED) is not a failure
        self.page.on("requestfailed", lambda r: "ERR_ABORTED" not in (r.failure or "") and self.failed.append(r.url))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("response", lambda r: r.status >= 400 and self.failed.append(f"{r.status} {r.url}"))

    def login(self, email: str) -> None:
        self.page.goto(self.base + "/login")
        self.page.fill("input[name=email]", email)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("main button[type=submit]")
        self.page.wait_for_load_state("networkidle")

    def assert_clean(self) -> None:
        assert self.errors == []
        assert self.failed == []
        assert all(url.startswith(self.base) or url.startswith("data:") for url in self.requests), self.requests


def test_upload_preview_names_the_columns_read_for_nothing(live_server, browser) -> None:  # noqa: ANN001
    """A file-level warning (``columns_ignored``) is shown with the preview, in French, naming
    the columns (text only); the rows are still previewed."""
    watch = PageWatch(browser, live_server)
    watch.login("browser-rep@charleroi.be")
    page = watch.page
    page.goto(live_server + "/import")
    data = b"latitude;longitude;operateur;couleur;<b>x</b>\n50.4108;4.4440;Proximus;rouge;1\n"
    page.set_input_files("#import-file", files=[{"name": "zones.csv", "mimeType": "text/csv", "buffer": data}])
    page.click("#preview-button")
    page.wait_for_selector("#preview-notes:not([hidden])")
    assert page.inner_text("#preview-notes") == \
        "Colonnes ignorées (ni propriété ni coordonnée) : couleur, <b>x</b>"
    assert page.locator("#preview-notes b").count() == 0
    assert page.locator("#preview-table tbody tr").count() == 1
    watch.assert_clean()
    watch.context.close()


def test_representative_map_page(live_server, browser, app) -> None:  # noqa: ANN001
    watch = PageWatch(browser, live_server)
    watch.login("browser-rep@charleroi.be")
    page = watch.page
    assert page.url.endswith("/carte")
    assert page.evaluate("typeof L") == "object"
    assert page.evaluate("L.version") == "1.9.4"
    # the commune boundary is drawn as an SVG path in the overlay pane
    page.wait_for_selector(".leaflet-overlay-pane svg path")
    assert page.locator(".leaflet-overlay-pane svg path").count() >= 1
    assert page.locator(".leaflet-draw-draw-polygon").count() == 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "representative-map.png"))

    # draw a zone in Charleroi as Leaflet.draw would, fill the form, send it
    page.evaluate("""() => {
        const map = window[document.getElementById('map-pane').dataset.map];
        const zone = L.polygon([[50.405, 4.435], [50.405, 4.445], [50.412, 4.445], [50.412, 4.435]]);
        zone.addTo(map);
        map.fire('draw:created', {layer: zone, layerType: 'polygon'});
    }""")
    assert page.is_enabled("#submit-report")
    page.select_option("select[name=network]", "mobile")
    page.check("input[name=technologies][value='4G']")
    page.check("input[name=operators][value='Orange']")
    page.fill("textarea[name=description]", "<script>alert('x')</script> Fontaine-l'Evêque {{ 7*7 }}")
    page.click("#submit-report")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/signalements")
    assert "<script>alert('x')</script> Fontaine-l'Evêque {{ 7*7 }}" in page.inner_text("table.data")
    page.screenshot(path=str(ARTIFACTS / "representative-reports.png"))
    watch.assert_clean()

    database = app.extensions["geosignal.db"]
    with database.session() as session:
        report = session.scalar(select(Report))
        assert report is not None and report.commune_nis == CHARLEROI
        assert report.description == "<script>alert('x')</script> Fontaine-l'Evêque {{ 7*7 }}"
        area = session.scalar(select(func.ST_Area(func.ST_Transform(Report.geometry, 31370))))
        # 0.01° × 0.007° at 50.4° N ≈ 709 m × 779 m
        assert area == pytest.approx(709.6 * 778.6, rel=0.02)

    # back on the map, the report is fetched from the API and its popup shows the text as text
    page.goto(live_server + "/carte")
    page.wait_for_selector(".leaflet-overlay-pane svg path >> nth=1")
    page.wait_for_selector("#report-list li")
    assert page.locator("#report-list li").count() == 1
    assert "<script>" in page.inner_text("#report-list")
    # its popup: the contract's popup lines, French labels, user text as text
    page.evaluate("""() => {
        const map = window[document.getElementById('map-pane').dataset.map];
        map.eachLayer(l => { if (l.feature && l.feature.id) { l.openPopup(); } });
    }""")
    popup = page.inner_text(".leaflet-popup-content")
    assert re.fullmatch(r"CM-\d{4}-\d{5} — Ouvrir le signalement", popup.splitlines()[0]), popup
    assert popup.splitlines()[1:] == ["Réseau : Mobile", "Technologies : 4G", "Opérateurs : Orange",
                                      "Description : <script>alert('x')</script> Fontaine-l'Evêque {{ 7*7 }}",
                                      "Statut : Soumis"]
    assert page.locator(".leaflet-popup-content script").count() == 0
    watch.assert_clean()
    watch.context.close()


def test_referent_dashboard(live_server, browser) -> None:  # noqa: ANN001
    watch = PageWatch(browser, live_server)
    watch.login("browser-ref@igretec.com")
    page = watch.page
    assert page.url.endswith("/tableau-de-bord")
    page.wait_for_selector(".leaflet-overlay-pane svg path")
    page.wait_for_function("document.getElementById('map-pane').dataset.state === 'ready'")
    # 30 commune boundaries, plus the report's marker (dashboard details: test_dashboard_browser.py)
    assert page.locator(".leaflet-overlay-pane svg path").count() >= 30
    assert page.locator("#commune-table tbody tr").count() == 30
    assert "Fontaine-l'Evêque" in page.inner_text("#commune-table")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "referent-dashboard.png"), full_page=True)
    watch.assert_clean()
    watch.context.close()


def test_upload_page_previews_then_saves(live_server, browser, app) -> None:  # noqa: ANN001
    watch = PageWatch(browser, live_server)
    watch.login("browser-rep@charleroi.be")
    page = watch.page
    page.goto(live_server + "/import")
    collection = ('{"type":"FeatureCollection","features":['
                  '{"type":"Feature","properties":{"network":"mobile","description":"<b>gras</b> & co"},'
                  '"geometry":{"type":"LineString","coordinates":[[4.43,50.40],[4.44,50.405]]}},'
                  '{"type":"Feature","properties":{"network":"mobile"},'
                  '"geometry":{"type":"Point","coordinates":[50.4108,4.444]}}]}')
    page.set_input_files("#import-file", files=[{"name": "zones.geojson", "mimeType": "application/geo+json",
                                                 "buffer": collection.encode()}])
    page.check("input[name=repair]")
    page.click("#preview-button")
    page.wait_for_selector("#preview-table tbody tr >> nth=1")
    rows = page.locator("#preview-table tbody tr")
    assert rows.count() == 2
    assert "accepté" in rows.nth(0).inner_text()
    # the values read, under French column labels (Réseau, Description…), and French errors
    first = dict(zip(rows.nth(0).locator("td").evaluate_all("tds => tds.map(td => td.dataset.label)"),
                     rows.nth(0).locator("td").all_inner_texts(), strict=True))
    assert (first["Forme"], first["Réseau"], first["Description"], first["Commune"]) == \
        ("Tronçon", "Mobile", "<b>gras</b> & co", "Charleroi")
    refused = rows.nth(1).locator("td").last
    assert refused.get_attribute("data-code") == "outside_service_area"
    assert refused.inner_text().startswith("Ce lieu ne se trouve dans aucune commune desservie")
    page.wait_for_selector("#import-map .leaflet-overlay-pane svg path")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "import-preview.png"), full_page=True)
    page.check("#valid-only")
    page.click("#save-button")
    page.wait_for_selector("#save-result:not(:empty)")
    assert page.inner_text("#save-result") == "1 signalement enregistré. Voir les signalements"
    # the same file previewed again: said saved already (when, its name, how many reports)
    page.click("#preview-button")
    page.wait_for_selector("#preview-notes:not([hidden])")
    today = datetime.now(ZoneInfo("Europe/Brussels"))
    assert page.inner_text("#preview-notes") == (
        f"Ce fichier a déjà été enregistré le {today:%d/%m/%Y} (« zones.geojson », 1 signalement) : "
        "l'enregistrer à nouveau ajoute ses signalements une seconde fois.")
    # a day later, an edited copy (a point added): its row saved before is said, and named
    database = app.extensions["geosignal.db"]
    with database.session() as session:
        session.execute(text("UPDATE import_files SET saved_at = saved_at - interval '1 day'"))
        session.execute(text("UPDATE reports SET created_at = created_at - interval '1 day'"))
        session.commit()
    edited = collection.replace('"coordinates":[50.4108,4.444]', '"coordinates":[4.444,50.4108]')
    page.set_input_files("#import-file", files=[{"name": "zones v2.geojson", "mimeType": "application/geo+json",
                                                 "buffer": edited.encode()}])
    page.click("#preview-button")
    page.wait_for_function("() => document.getElementById('preview-notes').textContent.indexOf('identique') >= 0")
    yesterday = today - timedelta(days=1)
    expected = (rf"1 ligne de ce fichier est identique \(lieu et attributs\) à une ligne enregistrée "
                rf"le {yesterday:%d/%m/%Y} \(« zones\.geojson »\) : l'enregistrer à nouveau ajoute "
                r"ce signalement une seconde fois\. Lignes concernées : 1\.")
    assert re.fullmatch(expected, page.inner_text("#preview-notes")), page.inner_text("#preview-notes")
    assert page.get_attribute("#preview-notes", "class") == "flash notice"  # said as a notice, not as help
    assert page.locator("#preview-table tbody tr").nth(0).locator("td").last.inner_text() == \
        "Ligne déjà enregistrée (envoi précédent)"
    # the way to leave that row out, ticked
    assert page.is_visible("#skip-saved-before") and page.is_checked("#skip-saved-before")
    assert page.inner_text("#skip-saved-before-line") == \
        "Ne pas enregistrer à nouveau les lignes déjà enregistrées par un envoi précédent (1)"
    page.wait_for_selector("#import-map .leaflet-overlay-pane svg path >> nth=1")
    page.wait_for_timeout(500)  # (the map fits the new features with an animation)
    page.screenshot(path=str(ARTIFACTS / "import-preview-rows-saved-before.png"), full_page=True)
    page.click("#save-button")
    page.wait_for_selector("#save-result:not(:empty)")
    assert page.inner_text("#save-result") == \
        "1 signalement enregistré. 1 ligne déjà enregistrée laissée de côté. Voir les signalements"
    watch.assert_clean()
    with database.session() as session:
        descriptions = session.scalars(select(Report.description)).all()
        assert descriptions.count("<b>gras</b> & co") == 1  # the line once: left out of the edited copy's save
    watch.context.close()


def test_refused_report_keeps_the_drawing_and_the_fields(live_server, browser) -> None:  # noqa: ANN001
    watch = PageWatch(browser, live_server)
    watch.login("browser-rep@charleroi.be")
    page = watch.page
    # a zone in Fleurus: not the representative's commune
    page.evaluate("""() => {
        const map = window[document.getElementById('map-pane').dataset.map];
        const zone = L.polygon([[50.480, 4.545], [50.480, 4.555], [50.486, 4.555], [50.486, 4.545]]);
        zone.addTo(map);
        map.fire('draw:created', {layer: zone, layerType: 'polygon'});
    }""")
    page.select_option("select[name=network]", "fixed")
    page.check("input[name=operators][value='VOO']")
    page.fill("textarea[name=description]", "Rue de la Gare, côté impair")
    page.click("#submit-report")
    page.wait_for_load_state("networkidle")
    assert ("Signalement refusé : La forme se trouve surtout à Fleurus (52021), pas dans votre commune : dessinez-la "
            "dans votre commune.") in page.inner_text(".flashes")  # the commune named
    assert page.get_attribute("#geometry-error", "data-code") == "not_your_commune"
    assert page.input_value("select[name=network]") == "fixed"
    assert page.is_checked("input[name=operators][value='VOO']")
    assert page.input_value("textarea[name=description]") == "Rue de la Gare, côté impair"
    assert page.is_enabled("#submit-report")
    assert "Zone" in page.inner_text("#drawn-status") or "zone" in page.inner_text("#drawn-status")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "representative-refused.png"))
    # the only failure is the refused POST itself (403), nothing else
    assert watch.errors == ["Failed to load resource: the server responded with a status of 403 (FORBIDDEN)"]
    watch.context.close()
