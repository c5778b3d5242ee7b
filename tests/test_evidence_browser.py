"""Evidence on a report's page and the e-mail preferences, driven in headless Chromium: a
representative adds a speed test (French decimal comma) and a photo carrying GPS EXIF, sees
them, then sees the "À reconfirmer" badge once the evidence is over 12 months old; the
referent reads them and chooses the daily digest. Screenshots at 390×844 and 1440×900 go to
``test-artifacts/``."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from PIL import Image
from sqlalchemy import delete, select, text

from geosignal.geo import LAMBERT72, WGS84, reproject
from geosignal.models import Photo, Report, User
from geosignal.services import reports as reports_service
from geosignal.services.intake import ReportInput
from geosignal.services.users import create_user
from tests.conftest import ARTIFACTS, CHARLEROI, owner_session
from tests.factories import CHARLEROI_LAMBERT72, square_lambert
from tests.test_browser import PASSWORD, PageWatch, browser, serving  # noqa: F401  (fixture)
from tests.test_evidence import _gps_jpeg

pytestmark = pytest.mark.browser
X, Y = CHARLEROI_LAMBERT72
SIZES = {"phone": (390, 844), "desktop": (1440, 900)}


@pytest.fixture(scope="module")
def site(app) -> Iterator[dict]:  # noqa: ANN001
    """geosignal on a free port, a representative of Charleroi, the referent and one report."""
    database = app.extensions["geosignal.db"]
    with database.session() as session:
        rep = create_user(session, "n9-rep@charleroi.be", "representative", CHARLEROI, PASSWORD)
        create_user(session, "n9-ref@igretec.com", "referent", None, PASSWORD)
        session.flush()
        geom = reproject(square_lambert(X - 1500, Y - 700, 250.0), LAMBERT72, WGS84)
        feature, _ = reports_service.create_report(session, rep, ReportInput(geom, {
            "network": "mobile", "technologies": ["4G"], "operators": ["Orange"],
            "description": "Rue de l'Église : aucun réseau à l'intérieur"}))
        session.commit()
    with serving(app) as base:
        yield {"base": base, "id": feature["id"], "db": database}
    with owner_session(database) as session:
        session.execute(delete(Report).where(Report.id == feature["id"]))
        session.execute(delete(User).where(User.email.like("n9-%")))
        session.commit()


def _shots(page, name: str) -> None:  # noqa: ANN001
    ARTIFACTS.mkdir(exist_ok=True)
    for size, (w, h) in SIZES.items():
        page.set_viewport_size({"width": w, "height": h})
        page.wait_for_timeout(150)
        page.screenshot(path=str(ARTIFACTS / f"evidence-{name}-{size}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 860})


def test_evidence_added_seen_and_flagged_stale(site, browser, tmp_path) -> None:  # noqa: ANN001, F811
    rid = site["id"]
    watch = PageWatch(browser, site["base"])
    watch.login("n9-rep@charleroi.be")
    page = watch.page
    page.goto(f"{site['base']}/signalements/{rid}#preuves")
    assert "Aucune mesure ni photo" in page.inner_text("#preuves")
    _shots(page, "empty")
    page.fill("#speed-test-form input[name=measured_at]", "2026-11-20T18:45")
    page.fill("#speed-test-form input[name=download_mbps]", "1,2")
    page.fill("#speed-test-form input[name=upload_mbps]", "0,3")
    page.fill("#speed-test-form input[name=latency_ms]", "240")
    page.fill("#speed-test-form input[name=signal_dbm]", "-112")
    page.select_option("#speed-test-form select[name=operator]", "Orange")
    page.click("#speed-test-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"/signalements/{rid}#preuves")
    assert "Mesure ajoutée." in page.inner_text(".flashes")
    row = page.inner_text("#speed-tests tbody tr")
    assert "1,2 Mbit/s" in row and "0,3 Mbit/s" in row and "240 ms" in row and "-112 dBm" in row

    photo = tmp_path / "cave.jpg"
    photo.write_bytes(_gps_jpeg(size=(320, 200), orientation=1))
    page.click("#preuves summary")
    page.set_input_files("#photo-form input[name=photo]", str(photo))
    page.click("#photo-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "Photo ajoutée" in page.inner_text(".flashes")
    page.wait_for_function("document.querySelector('#photos img') && document.querySelector('#photos img').complete")
    assert page.evaluate("document.querySelector('#photos img').naturalWidth") == 320
    src = page.get_attribute("#photos img", "src")
    served = page.request.get(site["base"] + src)
    assert served.headers["content-type"] == "image/jpeg" and served.headers["x-content-type-options"] == "nosniff"
    stored = Image.open(io.BytesIO(served.body()))
    assert dict(stored.getexif()) == {} and b"TestCam" not in served.body()
    assert "À reconfirmer" not in page.inner_text("#preuves")
    _shots(page, "added")

    # a refused value comes back named in French
    page.click("#preuves summary")
    page.fill("#speed-test-form input[name=measured_at]", "2026-11-21T10:00")
    page.fill("#speed-test-form input[name=signal_dbm]", "12")
    page.click("#speed-test-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    signal = page.locator("#speed-test-form input[name=signal_dbm]")
    assert signal.get_attribute("aria-invalid") == "true"
    assert page.inner_text(f"#{signal.get_attribute('aria-describedby')}") == "Signal : un nombre entre -150 et -20 dBm."
    assert page.input_value("#speed-test-form input[name=signal_dbm]") == "12"  # the values typed are kept
    _shots(page, "refused")

    # 14 months later: the page asks for a re-confirmation
    with site["db"].session() as session:
        session.execute(text("UPDATE report_speed_tests SET measured_at = measured_at - interval '14 months' "
                             "WHERE report_id = :id"), {"id": rid})
        session.execute(text("UPDATE report_photos SET created_at = created_at - interval '14 months' "
                             "WHERE report_id = :id"), {"id": rid})
        session.commit()
    page.goto(f"{site['base']}/signalements/{rid}")  # not the same URL: a full load
    page.locator("#preuves").scroll_into_view_if_needed()
    assert page.inner_text("#evidence-stale") == "À reconfirmer"
    _shots(page, "stale")
    # the only failure is the refused speed test's own answer: the page again, 422
    assert watch.errors == ["Failed to load resource: the server responded with a status of 422 (UNPROCESSABLE ENTITY)"]
    assert [f.split()[0] for f in watch.failed] == ["422"]
    watch.errors.clear()
    watch.failed.clear()
    watch.assert_clean()
    watch.context.close()

    # the referent reads the evidence (no forms) and chooses the daily digest
    referent = PageWatch(browser, site["base"])
    referent.login("n9-ref@igretec.com")
    referent.page.goto(f"{site['base']}/signalements/{rid}#preuves")
    assert referent.page.locator("#speed-test-form").count() == 0
    assert referent.page.locator("#photos img").count() == 1
    referent.page.goto(f"{site['base']}/compte/notifications")
    referent.page.check("input[name=notification_mail][value=digest]")
    referent.page.click("#notification-mail-form button[type=submit]")
    referent.page.wait_for_load_state("networkidle")
    assert "Préférences enregistrées." in referent.page.inner_text(".flashes")
    assert referent.page.is_checked("input[name=notification_mail][value=digest]")
    _shots(referent.page, "preferences")
    referent.assert_clean()
    with site["db"].session() as session:
        assert session.scalar(select(User.notification_mail).where(User.email == "n9-ref@igretec.com")) == "digest"
        assert session.scalar(select(Photo.width).where(Photo.report_id == rid)) == 320
