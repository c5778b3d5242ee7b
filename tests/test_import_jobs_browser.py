"""The upload page with a save run as a job: the page shows a progress bar while the job is
queued and running, then the result (Chromium, a live server, a real job worker)."""

from __future__ import annotations

import threading

import pytest

from geosignal import create_app, jobs
from geosignal.devdb import scratch_database
from geosignal.services.users import create_user
from tests.conftest import ARTIFACTS, CHARLEROI, COMMUNES_FILE
from tests.test_browser import PASSWORD, PageWatch, browser, serving  # noqa: F401 - fixture

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def job_server():  # noqa: ANN201
    with scratch_database("geosignal_jobs_page", COMMUNES_FILE) as database:
        url = database.engine.url.render_as_string(hide_password=False)
        app = create_app({"TESTING": True, "ENV": "testing", "DATABASE_URL": url, "SECRET_KEY": "test",
                          "TILE_URL": "", "IMPORT_JOB_MIN_BYTES": 2000})
        with app.extensions["geosignal.db"].session() as session:
            create_user(session, "browser-rep@charleroi.be", "representative", CHARLEROI, PASSWORD)
            session.commit()
        with serving(app) as base:
            yield app, base
        app.extensions["geosignal.db"].engine.dispose()


def test_a_large_save_shows_a_progress_bar_then_the_result(job_server, browser) -> None:  # noqa: F811
    app, base = job_server
    rows = ["latitude;longitude;description"] + [f"50,41{k:03d};4,43{k:03d};zone {k}" for k in range(300)]
    data = ("\r\n".join(rows) + "\r\n").encode()
    watch = PageWatch(browser, base)
    watch.login("browser-rep@charleroi.be")
    page = watch.page
    page.goto(base + "/import")
    page.set_input_files("#import-file", files=[{"name": "campagne.csv", "mimeType": "text/csv", "buffer": data}])
    page.click("#preview-button")
    page.wait_for_selector("#preview-table tbody tr >> nth=299")
    assert page.locator("#preview-table tbody tr.accepted").count() == 300
    page.click("#save-button")
    page.wait_for_selector("#save-progress-line:not([hidden])")
    assert page.is_visible("#save-progress")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "import-job-progress.png"), full_page=True)
    # a worker of its own thread: Playwright's event loop holds this one
    worker = threading.Thread(target=jobs.run_worker, args=(app,), kwargs={"wait": False,
                              "install_signal_handlers": False})
    worker.start()
    worker.join(timeout=60)
    page.wait_for_selector("#save-result:not(:empty)", timeout=30_000)
    assert page.inner_text("#save-result") == "300 signalements enregistrés. Voir les signalements"
    assert page.get_attribute("#save-result a", "href") == "/signalements"  # the way to what was saved
    # the result takes the focus (the Save button was disabled meanwhile) and is a status
    assert page.evaluate("() => [document.activeElement.id, document.activeElement.getAttribute('role')]") == \
        ["save-result", "status"]
    assert page.is_hidden("#save-progress-line")
    watch.assert_clean()
    watch.context.close()


def test_a_save_whose_session_ends_says_so_and_stops_waiting(job_server, browser) -> None:  # noqa: F811
    """Signed out elsewhere while the job waits: each poll got 401, read as a job still under
    way, and the bar said « lecture du fichier » for ever. The page now says the refusal in its
    language, hides the bar, gives the Save button back and stops asking."""
    app, base = job_server
    rows = ["latitude;longitude;description"] + [f"50,42{k:03d};4,44{k:03d};zone {k}" for k in range(300)]
    watch = PageWatch(browser, base)
    watch.login("browser-rep@charleroi.be")
    page = watch.page
    page.goto(base + "/import")
    page.set_input_files("#import-file", files=[{"name": "campagne 2.csv", "mimeType": "text/csv",
                                                 "buffer": ("\r\n".join(rows) + "\r\n").encode()}])
    page.click("#preview-button")
    page.wait_for_selector("#preview-table tbody tr >> nth=299")
    polls: list[int] = []
    page.on("response", lambda r: "/api/v1/imports/" in r.url and polls.append(r.status))
    page.click("#save-button")
    page.wait_for_selector("#save-progress-line:not([hidden])")
    watch.context.clear_cookies()  # the session ends (signed out in another tab)
    page.wait_for_selector("#save-result:not(:empty)", timeout=10_000)
    assert page.inner_text("#save-result") == "Connexion requise : connectez-vous pour continuer."
    assert page.get_attribute("#save-result", "role") == "alert"
    assert page.is_hidden("#save-progress-line") and page.is_enabled("#save-button")
    asked = len(polls)
    page.wait_for_timeout(2500)  # no more polling
    assert len(polls) == asked and polls[-1] == 401
    watch.context.close()
