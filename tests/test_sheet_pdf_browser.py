"""The commune sheet's print button and PDF link, in headless Chromium at 390×844 and
1440×900: the representative reaches the PDF from the navigation and from the sheet, the
download is the one-page A4 PDF, the print button opens the print dialog (its script is a
served file, no inline handler), nothing is wider than the screen; screenshots in
``test-artifacts/``."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator

import pytest
from sqlalchemy import delete

from geosignal.models import Report, User
from geosignal.services.users import create_user
from tests.conftest import ARTIFACTS, CHARLEROI, owner_session
from tests.test_browser import PASSWORD, PageWatch, browser, serving  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser
EMAIL = "sheetpdf-rep@charleroi.be"


@pytest.fixture(scope="module")
def sheet_server(app) -> Iterator[str]:  # noqa: ANN001
    database = app.extensions["geosignal.db"]
    with database.session() as session:
        create_user(session, EMAIL, "representative", CHARLEROI, PASSWORD)
        session.commit()
    with serving(app) as base:
        yield base
    with owner_session(database) as session:
        session.execute(delete(Report))
        session.execute(delete(User).where(User.email == EMAIL))
        session.commit()


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1440, 900)], ids=["390", "1440"])
def test_sheet_print_button_and_pdf_download(sheet_server, browser, tmp_path, width: int, height: int) -> None:  # noqa: ANN001, F811
    watch = PageWatch(browser, sheet_server)
    watch.context.close()
    watch.context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
    page = watch.page = watch.context.new_page()
    page.on("console", lambda m: m.type == "error" and watch.errors.append(m.text))
    page.on("pageerror", lambda e: watch.errors.append(str(e)))
    page.on("response", lambda r: r.status >= 400 and watch.failed.append(f"{r.status} {r.url}"))
    page.on("request", lambda r: watch.requests.append(r.url))
    page.add_init_script("window.print = () => { window.__printed = (window.__printed || 0) + 1; };")
    watch.login(EMAIL)

    nav_pdf = page.locator(f"#main-nav a[href='/communes/{CHARLEROI}/fiche.pdf']")
    assert nav_pdf.count() == 1  # in the representative's navigation (folded on a phone)
    page.goto(f"{sheet_server}/communes/{CHARLEROI}/fiche")
    page.wait_for_selector(".leaflet-overlay-pane svg path >> nth=0")
    link = page.locator("#sheet-pdf")
    assert link.is_visible() and link.get_attribute("href") == f"/communes/{CHARLEROI}/fiche.pdf"
    box = link.bounding_box()
    assert box["height"] >= 44 and box["x"] + box["width"] <= width
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"commune-sheet-buttons-{width}.png"))

    page.click("#print-sheet")
    assert page.evaluate("window.__printed") == 1

    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename.startswith(f"fiche-{CHARLEROI}-")
    path = tmp_path / "fiche.pdf"
    download.save_as(path)
    assert path.read_bytes().startswith(b"%PDF")
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout
        assert re.search(r"^Pages:\s+1$", info, re.M) and "(A4)" in info
    watch.assert_clean()
    watch.context.close()
