"""The upload page in Chromium: the columns a file may have and the template file, folded on a
phone; refused rows shown with what identifies them (description, coordinates as written, their
place on the map); the focus and the announcements after a preview and after a save."""

from __future__ import annotations

import pytest

from geosignal import contract
from geosignal.services.intake.properties import COORD_ALIASES
from tests.conftest import ARTIFACTS
from tests.test_browser import PageWatch, browser, live_server  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
#: a row in Charleroi, a latitude mistyped, a row in Chimay (not the representative's commune),
#: a row in the North Sea (outside the communes served)
REFUSED_CSV = ("latitude;longitude;description;reseau\r\n"
               "50,4108;4,4440;Rue de la Station;mobile\r\n"
               "abc;4,4440;Place du Marché;mobile\r\n"
               "50,05;4,31;Chemin de Chimay;mobile\r\n"
               "51,5;3,0;En mer;mobile\r\n").encode()


def _focused(page) -> dict:  # noqa: ANN001
    return page.evaluate("""() => { const e = document.activeElement;
        return {id: e.id, tag: e.tagName, role: e.getAttribute('role'), text: e.textContent}; }""")


def test_the_upload_page_explains_the_columns_and_offers_the_template(live_server, browser) -> None:  # noqa: F811
    watch = PageWatch(browser, live_server)
    watch.context.close()
    watch.context = browser.new_context(viewport=PHONE, locale="fr-BE", timezone_id="Europe/Brussels",
                                        accept_downloads=True)
    page = watch.page = watch.context.new_page()
    page.on("console", lambda m: m.type == "error" and watch.errors.append(m.text))
    page.on("pageerror", lambda e: watch.errors.append(str(e)))
    watch.login("browser-rep@charleroi.be")
    page.goto(live_server + "/import")
    # folded: the page is no longer on a phone for it
    assert page.get_attribute("#upload-columns", "open") is None
    assert page.is_visible("#upload-columns > summary")
    assert not page.is_visible("#upload-column-list")
    summary_box = page.locator("#upload-columns > summary").bounding_box()
    assert summary_box["height"] >= 43.5
    page.click("#upload-columns > summary")
    assert page.is_visible("#upload-column-list")
    names = page.locator("#upload-column-list dt").evaluate_all("dts => dts.map(d => d.dataset.name)")
    assert names == [*COORD_ALIASES, *contract.names(contract.UPLOAD)]
    network = page.inner_text("#upload-column-list dd[data-name=network]")
    assert "reseau" in network and "Mobile (mobile), Fixe (fixed)" in network
    assert page.inner_text("#upload-column-list dt[data-name=households_affected]") == "Ménages touchés"
    with page.expect_download() as download:
        page.click("#template-link")
    data = open(download.value.path(), "rb").read()  # noqa: PTH123, SIM115
    assert data.startswith(b"\xef\xbb\xbflat;lon;network;")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "import-columns-390.png"), full_page=True)
    # the template, previewed as it was downloaded: one row accepted
    page.set_input_files("#import-file", files=[{"name": "geosignal-modele.csv", "mimeType": "text/csv",
                                                 "buffer": data}])
    page.click("#preview-button")
    page.wait_for_selector("#preview-table tbody tr")
    assert page.locator("#preview-table tbody tr.accepted").count() == 1
    assert page.locator("#preview-table tbody tr.noted").count() == 0  # nothing set aside
    assert watch.errors == []
    watch.context.close()


def test_refused_rows_say_what_they_held_and_the_focus_follows_the_outcome(live_server, browser) -> None:  # noqa: F811
    watch = PageWatch(browser, live_server)
    watch.login("browser-rep@charleroi.be")
    page = watch.page
    page.goto(live_server + "/import")
    page.set_input_files("#import-file", files=[{"name": "releve.csv", "mimeType": "text/csv",
                                                 "buffer": REFUSED_CSV}])
    page.focus("#preview-button")
    page.keyboard.press("Enter")
    page.wait_for_selector("#preview-table tbody tr >> nth=3")
    # the summary has the focus and is a polite live region
    focused = _focused(page)
    assert (focused["id"], focused["role"]) == ("preview-summary", "status")
    assert focused["text"] == "1 élément accepté, 3 refusés — format CSV."
    assert page.evaluate("document.getElementById('preview-summary').getBoundingClientRect().top") >= 0
    rows = page.locator("#preview-table tbody tr")

    def card(k: int) -> dict:
        tds = rows.nth(k).locator("td")
        return dict(zip(tds.evaluate_all("tds => tds.map(td => td.dataset.label)"), tds.all_inner_texts(),
                        strict=True))

    mistyped, chimay, sea = card(1), card(2), card(3)
    assert (mistyped["Ligne"], mistyped["Description"], mistyped["Coordonnées"]) == \
        ("3", "Place du Marché", "latitude « abc », longitude « 4,4440 »")  # as written
    assert (chimay["Ligne"], chimay["Description"], chimay["Coordonnées"], chimay["Commune"]) == \
        ("4", "Chemin de Chimay", "latitude « 50,05 », longitude « 4,31 »", "Chimay")
    assert (sea["Description"], sea["Coordonnées"]) == ("En mer", "latitude « 51,5 », longitude « 3 »")
    # an accepted point says where it was read (decimal commas checked without the map)
    # (a no-break space keeps a number with its N or E when the cell wraps)
    assert card(0)["Coordonnées"] == "50,4108\u00a0N, 4,444\u00a0E"
    # the refused rows that have a place are drawn apart (red outline, white fill), and keyed
    page.wait_for_selector("#import-map .leaflet-overlay-pane path[stroke='#b3261e'] >> nth=1", state="attached")
    assert page.locator("#import-map .leaflet-overlay-pane path[stroke='#b3261e']").count() == 2
    assert page.locator("#import-map .leaflet-overlay-pane path[stroke='#1e7b34']").count() == 1
    assert page.is_visible("#import-key-refused")
    # the map fits what lies near the communes served (their box, grown by its own size): the
    # row in Chimay is in view, the one in the North Sea is drawn but not fitted
    in_view = page.evaluate("""() => {
        const pane = document.getElementById('import-map').getBoundingClientRect();
        return [...document.querySelectorAll("#import-map .leaflet-overlay-pane path[stroke='#b3261e']")]
          .map(p => p.getBoundingClientRect())
          .map(r => r.width > 0 && r.left >= pane.left && r.right <= pane.right && r.top >= pane.top && r.bottom <= pane.bottom); }""")
    assert sorted(in_view) == [False, True]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "import-refused-rows.png"), full_page=True)
    # a save of the whole file is refused: said as an alert, which takes the focus
    page.click("#save-button")
    page.wait_for_selector("#save-result:not(:empty)")
    focused = _focused(page)
    assert (focused["id"], focused["role"]) == ("save-result", "alert")
    assert page.get_attribute("#save-result", "class") == "flash error"
    assert page.is_enabled("#save-button")
    # the valid rows only: saved, said as a status, which takes the focus
    page.check("#valid-only")
    page.click("#save-button")
    page.wait_for_function("() => document.getElementById('save-result').getAttribute('role') === 'status'")
    focused = _focused(page)
    assert (focused["id"], focused["role"]) == ("save-result", "status")
    assert focused["text"] == "1 signalement enregistré. Voir les signalements"
    # the refused save is a 422 (Chromium logs it); nothing else failed
    assert [e for e in watch.errors if "status of 422" not in e] == []
    assert [f for f in watch.failed if "/api/v1/imports" not in f] == []
    watch.context.close()


def _preview_first_row(browser, live_server, name: str, mime: str, data: bytes):  # noqa: ANN001, ANN202, F811
    """Sign in as Charleroi's representative, preview ``data`` on the upload page and return
    (the page's watch, the preview table's first row)."""
    watch = PageWatch(browser, live_server)
    watch.login("browser-rep@charleroi.be")
    page = watch.page
    page.goto(live_server + "/import")
    page.set_input_files("#import-file", files=[{"name": name, "mimeType": mime, "buffer": data}])
    page.click("#preview-button")
    page.wait_for_selector("#preview-table tbody tr")
    return watch, page.locator("#preview-table tbody tr").nth(0)


def test_a_row_partly_outside_the_commune_says_how_much(live_server, browser) -> None:  # noqa: F811
    """A zone of the file a fifth of which lies in Châtelet: accepted for Charleroi, with a
    sentence saying the share outside (PostGIS measures 21.9 % for this circle)."""
    import json

    import numpy as np
    import shapely
    from pyproj import Transformer

    circle = shapely.Point(158650, 122047).buffer(450, quad_segs=16)  # Lambert 72, across the border
    to_4326 = Transformer.from_crs(31370, 4326, always_xy=True)
    zone = shapely.transform(circle, lambda xy: np.column_stack(to_4326.transform(xy[:, 0], xy[:, 1])))
    collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": shapely.geometry.mapping(zone), "properties": {"description": "Au bord"}}]}
    watch, row = _preview_first_row(browser, live_server, "bord.geojson", "application/geo+json",
                                    json.dumps(collection).encode())
    assert row.locator("td").nth(1).inner_text() == "accepté, avec une remarque"
    said = " ".join(row.locator("td").last.inner_text().split())
    assert said == ("22 % de cette forme se trouve hors de Charleroi, la commune qui en contient la plus grande "
                    "part, où elle est classée : cette partie compte dans les communes où elle se trouve, et nulle "
                    "part hors des communes desservies.")
    assert watch.errors == []
    watch.context.close()


def test_a_multipoint_row_partly_outside_says_its_points_count_in_its_commune_only(live_server, browser) -> None:  # noqa: F811
    """A row of three points, one in Châtelet: the page said that third « counts in the
    communes where it lies »; a report counts once, in its commune."""
    import json

    points = [[4.4260, 50.4233], [4.4440, 50.4108], [4.5204, 50.4056]]  # Charleroi, Charleroi, Châtelet
    collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "MultiPoint", "coordinates": points}, "properties": {}}]}
    watch, row = _preview_first_row(browser, live_server, "points.geojson", "application/geo+json",
                                    json.dumps(collection).encode())
    said = " ".join(row.locator("td").last.inner_text().split())
    assert said == ("33 % des points de cette ligne se trouvent hors de Charleroi, la commune qui en contient le "
                    "plus, où elle est classée : un signalement compte une fois, dans sa commune, et ces points "
                    "ne comptent dans aucune autre. Importez-les dans des lignes à part pour qu'ils comptent "
                    "chacun dans sa commune.")
    assert watch.errors == []
    watch.context.close()


def test_a_kml_in_lambert_72_is_told_to_be_exported_again_not_to_declare_it(live_server, browser) -> None:  # noqa: F811
    """A KML holding Lambert 72 metres was told to choose Lambert 72 as the coordinate system,
    which a KML ignores: the same refusal came back. It is told what a KML allows."""
    kml = ('<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
           '<Placemark><name>L</name><Point><coordinates>155000,122000</coordinates></Point></Placemark>'
           '</Document></kml>')
    watch, row = _preview_first_row(browser, live_server, "lambert.kml", "application/vnd.google-earth.kml+xml",
                                    kml.encode())
    said = " ".join(row.locator("td").last.inner_text().split())
    assert ("Ces coordonnées ressemblent à du Lambert belge 72 (EPSG:31370) : elles placeraient ce lieu à "
            "Charleroi. Un fichier KML ou GPX est toujours en WGS 84 (longitude/latitude) : exportez-le à nouveau "
            "en WGS 84") in said, said
    assert "Choisissez ce système" not in said
    watch.context.close()


def test_empty_required_fields_are_said_by_the_page_in_dutch_on_a_phone(live_server, browser) -> None:  # noqa: F811
    """The sign-in and upload forms sent empty: the page says what is missing in Dutch (no
    browser bubble in the browser's language), marks the field and takes the focus to the
    sentence."""
    watch = PageWatch(browser, live_server)
    watch.context.close()
    watch.context = browser.new_context(viewport=PHONE, locale="nl-BE", timezone_id="Europe/Brussels",
                                        extra_http_headers={"Accept-Language": "nl-BE,nl;q=0.9"})
    page = watch.page = watch.context.new_page()
    page.on("pageerror", lambda e: watch.errors.append(str(e)))
    page.goto(live_server + "/login")
    page.fill("input[name=email]", "browser-rep@charleroi.be")
    with page.expect_navigation():
        page.click("main button[type=submit]")  # the password left empty: the form is sent all the same
    assert page.inner_text(".flash.error") == "Vul uw wachtwoord in."
    assert page.get_attribute("input[name=password]", "aria-invalid") == "true"
    assert page.input_value("input[name=email]") == "browser-rep@charleroi.be"
    watch.login("browser-rep@charleroi.be")
    page.goto(live_server + "/import")
    page.click("#preview-button")  # no file chosen
    page.wait_for_selector("#import-error")
    assert page.inner_text("#import-error") == ("Kies eerst het bestand om te importeren (GeoJSON, KML, GPX, CSV, "
                                                "GeoPackage of gezipte shapefile).")
    assert page.get_attribute("#import-file", "aria-invalid") == "true"
    assert _focused(page)["id"] == "import-error"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "import-no-file-nl-390.png"))
    # a file chosen: the field is no longer marked
    page.set_input_files("#import-file", files=[{"name": "releve.csv", "mimeType": "text/csv",
                                                 "buffer": REFUSED_CSV}])
    page.click("#preview-button")
    page.wait_for_selector("#preview-table tbody tr")
    assert page.get_attribute("#import-file", "aria-invalid") is None
    assert watch.errors == []
    watch.context.close()


def _preview(page, base: str, name: str, data: bytes) -> None:  # noqa: ANN001
    """The upload page (of the service at ``base``) previewing ``data`` (a CSV of two rows or
    more) as ``name``."""
    page.goto(base + "/import")
    page.set_input_files("#import-file", files=[{"name": name, "mimeType": "text/csv", "buffer": data}])
    page.click("#preview-button")
    page.wait_for_selector("#preview-table tbody tr >> nth=1")


def _phone_preview(chromium, base: str, name: str, data: bytes) -> tuple:  # noqa: ANN001
    """A representative of Charleroi on a phone, the upload page previewing ``data``: (the
    watch, its page)."""
    watch = PageWatch(chromium, base)
    watch.context.close()
    watch.context = chromium.new_context(viewport=PHONE, locale="fr-BE", timezone_id="Europe/Brussels")
    page = watch.page = watch.context.new_page()
    page.on("pageerror", lambda e: watch.errors.append(str(e)))
    watch.login("browser-rep@charleroi.be")
    _preview(page, base, name, data)
    return watch, page


def test_a_corrected_row_of_an_edited_copy_links_to_the_report_it_would_repeat(app, live_server, browser) -> None:  # noqa: ANN001, F811
    """A campaign file saved, then a copy with one row corrected: on a phone, the preview says
    that row is the place of a report saved before, with other values, and links to it."""
    from sqlalchemy import text

    rows = ("latitude;longitude;menages;description\r\n"
            "50,4108;4,4440;12;Rue de la Montagne\r\n"
            "50,4200;4,4300;3;Près de l'église\r\n")
    watch, page = _phone_preview(browser, live_server, "campagne.csv", rows.encode())
    page.click("#save-button")
    page.wait_for_selector("#save-result:not(:empty)")
    assert page.inner_text("#save-result") == "2 signalements enregistrés. Voir les signalements"
    database = app.extensions["geosignal.db"]
    with database.session() as session:  # a day later (past the seconds-long duplicate window)
        session.execute(text("UPDATE import_files SET saved_at = saved_at - interval '1 day'"))
        session.execute(text("UPDATE reports SET created_at = created_at - interval '1 day'"))
        church_id, church = session.execute(text(
            "SELECT id, reference FROM reports WHERE households_affected = 3")).one()
        session.commit()
    _preview(page, live_server, "campagne v2.csv", rows.replace(";3;", ";30;").encode())
    detail = page.locator("#preview-table tbody tr >> nth=1").locator("td").last
    said = " ".join(detail.inner_text().split())
    assert said.startswith(f"Même lieu que le signalement {church}, enregistré le ")
    assert said.endswith(f"(« campagne.csv ») avec d'autres informations : enregistrer cette ligne crée un second "
                         f"signalement. Pour corriger {church}, modifiez-le plutôt. Ouvrir {church}")
    assert detail.locator("a.same-place-link").evaluate("a => a.parentElement.tagName") == "SPAN"
    link = detail.locator("a.same-place-link")
    assert link.get_attribute("href") == f"/signalements/{church_id}"
    box = link.bounding_box()
    assert box and box["width"] > 0 and box["height"] >= 43.5  # a thumb's target
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "import-same-place-390.png"), full_page=True)
    with page.expect_navigation():
        link.click()
    assert church in page.inner_text("h1")
    assert watch.errors == []
    watch.context.close()


def test_a_corrected_row_of_an_edited_copy_corrects_the_report_when_ticked(app, live_server, browser) -> None:  # noqa: ANN001, F811
    """The same, with the report untouched since the save: the row says the « Corriger » box
    corrects it, the box (with its count, unticked) is shown, and once ticked the save
    corrects the report instead of storing a second one (said after the save)."""
    from sqlalchemy import text

    rows = ("latitude;longitude;menages;description\r\n"
            "50,4118;4,4452;12;Rue de la Montagne\r\n"
            "50,4211;4,4313;3;Près de l'église\r\n")
    watch, page = _phone_preview(browser, live_server, "relevé.csv", rows.encode())
    assert page.is_hidden("#correct-saved-before-line")
    page.click("#save-button")
    page.wait_for_selector("#save-result:not(:empty)")
    database = app.extensions["geosignal.db"]
    with database.session() as session:  # a day later, never edited since
        session.execute(text("UPDATE import_files SET saved_at = saved_at - interval '1 day'"))
        session.execute(text("UPDATE reports SET created_at = created_at - interval '1 day', "
                             "updated_at = updated_at - interval '1 day'"))
        church_id, church = session.execute(text(
            "SELECT id, reference FROM reports WHERE households_affected = 3 AND description = 'Près de l''église' "
            "ORDER BY seq DESC LIMIT 1")).one()
        total = session.scalar(text("SELECT count(*) FROM reports"))
        session.commit()
    _preview(page, live_server, "relevé v2.csv", rows.replace(";3;", ";30;").encode())
    said = " ".join(page.locator("#preview-table tbody tr >> nth=1").locator("td").last.inner_text().split())
    assert said.endswith(f"(« relevé.csv ») avec d'autres informations : avec la case « Corriger » cochée, cette "
                         f"ligne le corrige ; sinon elle crée un second signalement. Avec la case « Corriger » "
                         f"cochée, cette ligne change : Ménages touchés : 3 → 30 ; le reste du signalement est "
                         f"gardé. Ouvrir {church}")  # exactly what the correction changes
    # unticked (a new measurement at a fixed point is a new report): the user ticks it
    assert page.is_visible("#correct-saved-before-line") and not page.is_checked("#correct-saved-before")
    assert page.inner_text("#correct-saved-before-count") == "1"
    box = page.locator("#correct-saved-before-line label.check").bounding_box()
    assert box and box["height"] >= 43.5
    page.check("#correct-saved-before")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "import-correct-390.png"), full_page=True)
    page.click("#save-button")
    page.wait_for_selector("#save-result:not(:empty)")
    assert page.inner_text("#save-result") == ("1 ligne déjà enregistrée laissée de côté. 1 signalement déjà "
                                               "enregistré corrigé. Voir les signalements")
    with database.session() as session:
        assert session.scalar(text("SELECT households_affected FROM reports WHERE id = :id"), {"id": church_id}) == 30
        assert session.scalar(text("SELECT count(*) FROM reports")) == total
    assert watch.errors == []
    watch.context.close()


def test_another_file_or_option_after_a_preview_asks_for_a_new_preview(live_server, browser) -> None:  # noqa: F811
    """A save re-reads the form: a file chosen (or the CRS changed) after a preview would be
    saved unseen. The preview goes and Save with it, until the file is previewed again; and
    back on the page the field names the file the browser kept in it."""
    rows = "latitude;longitude;description\r\n50,4160;4,4470;Vu\r\n50,4170;4,4480;Revu\r\n"
    watch, page = _phone_preview(browser, live_server, "vu.csv", rows.encode())
    assert page.is_visible("#preview") and page.is_enabled("#save-button")
    page.set_input_files("#import-file", files=[{"name": "pas-vu.csv", "mimeType": "text/csv",
                                                 "buffer": rows.replace("Vu", "Autre").encode()}])
    assert page.is_hidden("#preview") and page.is_disabled("#save-button")
    assert page.inner_text("#import-form .file-name") == "pas-vu.csv"
    page.click("#preview-button")
    page.wait_for_selector("#preview-table tbody tr >> nth=1")
    page.select_option("select[name=crs]", index=1)
    assert page.is_hidden("#preview") and page.is_disabled("#save-button")
    # Back to the page: the browser gives the field its file again without a change event
    # (as Chromium's form restoration does), then the page is shown (pageshow)
    page.evaluate("""() => { const t = new DataTransfer(); t.items.add(new File(['x'], 'gardé.csv'));
        document.getElementById('import-file').files = t.files;
        window.dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true })); }""")
    assert page.inner_text("#import-form .file-name") == "gardé.csv"
    assert watch.errors == []
    watch.context.close()


def test_a_description_in_the_file_is_shown_as_text_on_the_preview_map(live_server, browser) -> None:  # noqa: F811
    """The preview map's tooltip (line number and description) was a string, which Leaflet
    writes as HTML: a file's ``<b>…</b><img …>`` became markup on the page (hostile round on
    text shown back)."""
    watch = PageWatch(browser, live_server)
    watch.login("browser-rep@charleroi.be")
    page = watch.page
    page.goto(live_server + "/import")
    text = '<b id="bold">gras</b><img src="/x" id="injected">'
    # a row in Chimay, refused to the representative of Charleroi: drawn in red with its description
    csv = f"latitude;longitude;description;reseau\r\n50,05;4,31;{text};mobile\r\n".encode()
    page.set_input_files("#import-file", files=[{"name": "balises.csv", "mimeType": "text/csv", "buffer": csv}])
    page.click("#preview-button")
    marker = "#import-map .leaflet-overlay-pane path[stroke='#b3261e']"
    page.wait_for_selector(marker, state="attached")
    page.hover(marker)
    page.wait_for_selector("#import-map .leaflet-tooltip")
    assert page.inner_text("#import-map .leaflet-tooltip") == f"Ligne 2 — {text}"
    assert page.locator("#bold, #injected").count() == 0
    assert [f for f in watch.failed if f.endswith("/x")] == []  # the image was never asked for
    watch.context.close()


def test_a_row_said_twice_in_the_file_names_the_row_stored_for_both(live_server, browser) -> None:  # noqa: F811
    """A spreadsheet's row copied twice is stored once: the second says which row it repeats
    (was: « doublon probable d'un signalement récent », though nothing was filed before)."""
    data = (b"latitude;longitude;description;reseau\r\n"
            b"50,4108;4,4440;Rue de la Station;mobile\r\n"
            b"50,4120;4,4460;Rue du Parc;mobile\r\n"
            b"50,4108;4,4440;Rue de la Station;mobile\r\n")
    watch, page = _phone_preview(browser, live_server, "copie.csv", data)
    page.wait_for_selector("#preview-table tbody tr >> nth=2")
    rows = page.locator("#preview-table tbody tr")
    assert "Même forme et mêmes informations que la ligne 2 du fichier : enregistrée une seule fois." in \
        rows.nth(2).inner_text()
    assert "Même forme" not in rows.nth(0).inner_text()  # the row stored says nothing of it
    assert watch.errors == []
    watch.context.close()


def test_a_new_preview_clears_the_refusal_of_the_one_before(live_server, browser) -> None:  # noqa: F811
    """Prévisualiser with no file says to choose one; the file chosen and previewed, that
    refusal stayed under the button beside the successful preview (a mayor's trial). A new
    attempt clears the refusal of the one before, and the field's mark."""
    watch = PageWatch(browser, live_server)
    watch.login("browser-rep@charleroi.be")
    page = watch.page
    page.goto(live_server + "/import")
    page.click("#preview-button")
    error = page.locator("#import-error")
    error.wait_for()
    assert error.inner_text().startswith("Choisissez d'abord le fichier à importer")
    assert page.get_attribute("#import-file", "aria-invalid") == "true"
    page.set_input_files("#import-file", files=[{"name": "zones.csv", "mimeType": "text/csv",
                                                 "buffer": b"latitude;longitude\r\n50,4108;4,4440\r\n"}])
    page.click("#preview-button")
    page.wait_for_selector("#preview-table tbody tr")
    assert page.locator("#import-error").count() == 0
    assert page.get_attribute("#import-file", "aria-invalid") is None
    page.screenshot(path=str(ARTIFACTS / "import-error-cleared.png"), full_page=True)
    # the only failure: the refused attempt without a file (400)
    assert [e for e in watch.errors if "status of 400" not in e] == []
    watch.context.close()


#: A Brussels local time that does not exist (the clocks go from 02:00 to 03:00 on 29 March
#: 2026), and one that is fine.
GAP_CSV = (b"latitude;longitude;date_constat\r\n"
           b"50,4391;4,4603;29/03/2026 02:30\r\n"
           b"50,4396;4,4611;29/03/2026 03:30\r\n")


@pytest.mark.parametrize("lang", ["fr", "nl"])
def test_a_value_set_aside_says_why_in_the_page_language(live_server, browser, lang: str) -> None:  # noqa: F811
    """« 29/03/2026 02:30 » (in the spring-forward gap) was shown « Valeur ignorée — colonne
    'date_constat' : '29/03/2026 02:30' » with no reason, while the API's warning carries the
    error ambiguous_local_time (a mayor's trial). The reason is the error's own sentence when it
    is more precise than the field's, in the page's language."""
    watch = PageWatch(browser, live_server)
    watch.context.add_cookies([{"name": "geosignal_lang", "value": lang, "url": live_server}])
    watch.login("browser-rep@charleroi.be")
    page = watch.page
    page.goto(live_server + "/import")
    page.set_input_files("#import-file", files=[{"name": "gap.csv", "mimeType": "text/csv", "buffer": GAP_CSV}])
    page.click("#preview-button")
    page.wait_for_selector("#preview-table tbody tr >> nth=1")
    noted = page.locator("#preview-table tbody tr.noted")
    assert noted.count() == 1
    detail = noted.locator("td").last.inner_text()
    why = page.evaluate("window.geosignalI18n.errors.ambiguous_local_time")
    assert detail.endswith(" — " + why), detail
    if lang == "fr":
        assert detail == ("Valeur ignorée — colonne « date_constat » : « 29/03/2026 02:30 » — Cette heure locale est "
                          "ambiguë ou n'existe pas (changement d'heure) : choisissez une autre heure ou précisez le "
                          "décalage (+01:00).")
    else:
        assert "heure" not in detail and "ignorée" not in detail
    page.screenshot(path=str(ARTIFACTS / f"import-gap-time-{lang}.png"), full_page=True)
    assert watch.errors == []
    watch.context.close()


def test_ignored_columns_may_be_mapped_and_a_dropped_list_name_is_shown(live_server, browser) -> None:  # noqa: F811
    """Coordinates found but a column read for nothing: the column form is offered for it
    (trial of real files, fault 7), and mapping it reads it; an operator name no value stands
    for is shown in its remark (fault 14), the list's other operator kept."""
    watch = PageWatch(browser, live_server)
    watch.login("browser-rep@charleroi.be")
    page = watch.page
    page.goto(live_server + "/import")
    data = "lat;lon;Opérateur;Foyers\n50,4108;4,4440;Orange, Foo Telecom;25\n".encode()
    page.set_input_files("#import-file", files=[{"name": "foyers.csv", "mimeType": "text/csv", "buffer": data}])
    page.click("#preview-button")
    page.wait_for_selector("#preview-table tbody tr")
    said = " ".join(page.locator("#preview-table tbody tr").nth(0).locator("td").last.inner_text().split())
    assert "Valeur ignorée — colonne « Opérateur » : « Foo Telecom »" in said, said
    assert page.is_visible("#mapping") and page.is_visible("#mapping-help-ignored")
    assert not page.is_visible("#mapping-help")
    page.select_option("#mapping-fields select[data-field=households_affected]", "Foyers")
    page.click("#preview-button")
    page.wait_for_selector("#preview:not([hidden])")
    # the column is read now: no longer among those read for nothing, and still a choice of the form
    assert "Foyers" not in page.locator("#preview-notes").text_content()
    assert page.input_value("#mapping-fields select[data-field=households_affected]") == "Foyers"
    assert watch.errors == []
    watch.context.close()


#: rows whose values and remarks fill every column (the trial's excel_fr_dates_operateurs.csv,
#: cut down): long remarks (operators set aside, a date in the future…) and a row refused with
#: the reason of an unquoted ';' (the trial's excel_nl_fouten.csv)
WIDE_CSV = ("Latitude;Longitude;Réseau;Technologie;Opérateur;Ménages;Description;Date\n"
            + "".join(f"50,41{k};4,44{k};mobile;4G+, 3G;Telenet Group, Orange Belgium;{k + 1};"
                      f"Date courte sans zéro, hameau n° {k};4/3/2025\n" for k in range(4))
            + ";;mobile;4G;Proximus;1;Coordonnées oubliées;05/03/2025\n"
            + "50,4200;4,4300;mobile;4G;Proximus;2;Kerkstraat; naast de school;28/11/2024\n").encode()


@pytest.mark.parametrize("viewport", [{"width": 1440, "height": 900}, PHONE])
def test_the_preview_table_fits_its_card_and_says_each_rows_reason(live_server, browser, viewport: dict) -> None:  # noqa: F811
    watch = PageWatch(browser, live_server)
    watch.context.close()
    watch.context = browser.new_context(viewport=viewport, locale="fr-BE", timezone_id="Europe/Brussels")
    page = watch.page = watch.context.new_page()
    watch.login("browser-rep@charleroi.be")
    _preview(page, live_server, "large.csv", WIDE_CSV)
    sizes = page.evaluate("""() => {
        const box = document.querySelector('#preview .table-scroll'), table = document.getElementById('preview-table');
        const rows = [...table.tBodies[0].rows].map(r => r.getBoundingClientRect().height);
        return {box: box.clientWidth, table: table.scrollWidth, page: document.documentElement.scrollWidth,
                tallest: Math.max(...rows), detail: table.tBodies[0].rows[0].lastElementChild.getBoundingClientRect().right,
                right: box.getBoundingClientRect().right}; }""")
    # the table (its « Détail » column too) within its card, no page scrolled sideways
    assert sizes["table"] <= sizes["box"], sizes
    assert sizes["detail"] <= sizes["right"] + 0.5, sizes
    assert sizes["page"] <= viewport["width"], sizes
    if viewport["width"] > 700:
        assert sizes["tallest"] < 200, sizes  # a remark wraps in a wide column, not in a sliver
    details = page.locator("#preview-table tbody tr td:last-child").all_inner_texts()
    assert details[4].endswith("Coordonnées vides à la ligne 6 : remplissez-les ou retirez la ligne.")
    assert details[5].endswith("Ligne 7 : la cellule 9 (« 28/11/2024 ») dépasse les 8 colonnes de l'en-tête, sans "
                               "doute parce qu'un texte contient le séparateur « ; ». Mettez ce texte entre "
                               "guillemets, ou donnez un nom à cette colonne dans l'en-tête.")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"import-wide-{viewport['width']}.png"), full_page=True)
    assert watch.errors == []
    watch.context.close()


#: a description behind a right-to-left override (« Rue place de zone » written backwards, a
#: "Trojan source" text), then a row whose description is one long word (a link pasted in a
#: spreadsheet), then a row outside the communes
HOSTILE_TEXT_CSV = ("latitude;longitude;description\r\n50,4108;4,4440;Rue \u202eenoz ed ecalp\r\n"
                    "50,4110;4,4450;Zone vue ici https://www.google.com/maps/place/Rue+de+la+Station,+6000+Charleroi/"
                    "@50.4108,4.4440,17z/data=!3m1!4b1!4m6!3m5!1s0x47c2262f2d0f0f0f\r\n50,05;4,31;Hors commune\r\n"
                    ).encode()


@pytest.mark.parametrize(("lang", "viewport", "why"), [
    ("fr", PHONE, "Retirez le caractère U+202E"),
    ("nl", {"width": 1440, "height": 900}, "U+202E"),
    ("en", {"width": 1440, "height": 900}, "Remove the character U+202E"),
])
def test_a_value_set_aside_for_a_direction_override_says_why_and_is_shown_as_it_reads(  # noqa: F811
        live_server, browser, lang, viewport, why) -> None:  # noqa: F811, ANN001
    """The description set aside said only « Valeur ignorée — colonne « description » : « … » »
    (no reason), and shown back with its override active it turned the page's own sentence
    round; a long word pushed the table and the refused row's reason out of the card at 1440 px."""
    watch = PageWatch(browser, live_server)
    watch.context.close()
    watch.context = browser.new_context(viewport=viewport, locale="fr-BE", timezone_id="Europe/Brussels")
    watch.context.add_cookies([{"name": "geosignal_lang", "value": lang, "url": live_server}])
    page = watch.page = watch.context.new_page()
    watch.login("browser-rep@charleroi.be")
    _preview(page, live_server, "releve.csv", HOSTILE_TEXT_CSV)
    details = page.locator("#preview-table tbody tr td:last-child").all_inner_texts()
    assert why in details[0], details[0]
    assert "[U+202E]" in details[0]
    assert not any(c in "".join(details) for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    sizes = page.evaluate("""() => {
        const box = document.querySelector('#preview .table-scroll'), table = document.getElementById('preview-table');
        return {box: box.clientWidth, table: table.scrollWidth, page: document.documentElement.scrollWidth,
                detail: table.tBodies[0].rows[2].lastElementChild.getBoundingClientRect().right,
                right: box.getBoundingClientRect().right}; }""")
    if viewport["width"] > 700:
        assert sizes["table"] <= sizes["box"] and sizes["detail"] <= sizes["right"] + 0.5, sizes
    assert sizes["page"] <= viewport["width"], sizes
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"import-hostile-text-{lang}-{viewport['width']}.png"), full_page=True)
    assert watch.errors == []
    watch.context.close()


#: 1,001 rows in Charleroi (more than the 1,000 the table shows), the first of 12,500 households
MANY_CSV = ("latitude;longitude;households;description\r\n" + "".join(
    f"{50.4108 + i * 1e-5:.5f};4,4440;{12500 if i == 0 else 3};ligne {i}\r\n".replace(".", ",")
    for i in range(1001))).encode()


@pytest.mark.parametrize(("lang", "grouped"), [("fr", "\u202f"), ("nl", "."), ("en", ",")])
def test_the_preview_writes_counts_and_figures_as_the_saved_pages_do(live_server, browser, lang: str,  # noqa: F811
                                                                      grouped: str) -> None:
    """The preview wrote « 12500 » households and « 1001 elementen aanvaard … 1000 van de 1001 »
    where the saved pages write 12 500 / 12.500 / 12,500 (the language's grouping); the
    coordinates and the file's line numbers stay as they are."""
    watch = PageWatch(browser, live_server)
    watch.context.add_cookies([{"name": "geosignal_lang", "value": lang, "url": live_server}])
    watch.login("browser-rep@charleroi.be")
    page = watch.page
    page.goto(live_server + "/import")
    page.set_input_files("#import-file", files=[{"name": "menages.csv", "mimeType": "text/csv", "buffer": MANY_CSV}])
    page.click("#preview-button")
    page.wait_for_selector("#preview-table tbody tr >> nth=1", timeout=60_000)
    summary = page.inner_text("#preview-summary")
    for figure in ("1001", "1000", "5000"):
        assert f"{figure[0]}{grouped}{figure[1:]}" in summary and figure not in summary, summary
    cells = page.locator("#preview-table tbody tr").first.locator("td").all_inner_texts()
    assert f"12{grouped}500" in cells and "12500" not in cells, cells
    decimal = "." if lang == "en" else ","
    assert cells[0] == "2" and f"50{decimal}4108\u00a0N" in cells[4], cells  # (a row, a coordinate: not grouped)
    assert watch.errors == []
    watch.context.close()
