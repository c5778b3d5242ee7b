"""What the upload page says of a KML's or KMZ's refusals and notes (Debian's chromium): a KML
fault names the line of the file, never its character's place as a spreadsheet column, and a
note about an archive member names it."""

from __future__ import annotations

import pytest

from tests.factories import zipped
from tests.test_browser import PageWatch, browser, live_server  # noqa: F401

pytestmark = pytest.mark.browser

KML = b"""<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document>
<Placemark><name>ok</name><Point><coordinates>4.444,50.4108</coordinates></Point></Placemark>
<Placemark><name>nan</name><Point><coordinates>nan,50.41</coordinates></Point></Placemark>
</Document></kml>"""


def _preview(page, base: str, data: bytes, name: str) -> str:  # noqa: ANN001
    page.goto(base + "/import")
    page.set_input_files("#import-file", files=[{"name": name, "mimeType": "application/octet-stream", "buffer": data}])
    page.click("#preview-button")
    page.wait_for_selector("#preview-table tbody tr >> nth=1")
    return page.locator("#preview-table tbody tr").nth(1).locator("td").last.inner_text()


def test_a_kml_fault_names_its_line_and_a_kmz_note_its_member(live_server, browser) -> None:  # noqa: F811
    """The KML error's ``column`` (34, the character's place on line 4) was said as a spreadsheet
    column « 34 », its line never; a KMZ's note « Archive dans l'archive non ouverte » did not
    name the archive (the API's ``member``)."""
    watch = PageWatch(browser, live_server)
    watch.login("browser-rep@charleroi.be")
    detail = _preview(watch.page, live_server, KML, "zones.kml")
    assert "colonne" not in detail and "ligne 4 du fichier : « nan,50.41 »" in detail
    _preview(watch.page, live_server, zipped(("doc.kml", KML), ("releves-mars.zip", b"PK\x05\x06" + b"\0" * 18)),
             "zones.kmz")
    assert "releves-mars.zip" in watch.page.inner_text("#preview-notes")
