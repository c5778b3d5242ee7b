"""What the pages say of an upload's refusals and of a place (trials: files 6, 16; scale 11,
12, 13): every CSV refusal the reader makes has a kind whose sentence names its row and
column or cell and says what to do (fr, nl, en); a zipped GeoPackage or a spreadsheet is told
what to send; a single point lies in a commune, not « mostly »; the address search is not
offered when no geocoder is configured; one spelling of east per language.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from flask_babel import force_locale

from geosignal import i18n, ui_text
from geosignal.errors import TITLES_FR, GeosignalError
from geosignal.services.intake import read_upload
from tests.conftest import configured
from tests.factories import feature, upload_file, zipped

ROOT = Path(__file__).resolve().parents[1]

# the trial's excel_nl_fouten.csv, cut down: row 3 has empty coordinates, row 4 an unquoted
# ';' in its description (a value in cell 6 beyond the header's 5 columns)
NL_ERRORS = ("Breedtegraad;Lengtegraad;Netwerk;Beschrijving;Datum\n"
             "50,4108;4,4446;mobiel;Geen bereik;04/03/2025\n"
             ";;mobiel;Coördinaten vergeten;05/03/2025\n"
             "50,4200;4,4300;mobiel;Kerkstraat; naast de school;28/11/2024\n").encode("cp1252")


def _in(app, lang: str, fn):  # noqa: ANN001, ANN202
    with app.test_request_context("/"), force_locale(i18n.BABEL_LOCALES[lang]):
        return fn()


def test_a_rows_refusals_in_a_csv_have_their_own_sentences(app, representative) -> None:  # noqa: ANN001
    response = upload_file(representative, NL_ERRORS, "fouten.csv", dry_run="true")
    assert response.status_code == 200
    features = response.get_json()["features"]
    empty, extra = (f["error"] for f in features if f["status"] == "refused")
    assert (empty["code"], empty["kind"], empty["row"]) == ("empty_geometry", "no_coordinates", 3)
    assert (extra["code"], extra["kind"], extra["row"], extra["column_number"], extra["value"], extra["delimiter"],
            extra["header_columns"]) == ("unreadable_file", "extra_cell", 4, 6, "28/11/2024", ";", 5)
    said = {lang: _in(app, lang, lambda: [ui_text.kind_message(e["code"], e["kind"], e) for e in (empty, extra)])
            for lang in ("fr", "nl", "en")}
    assert said["fr"] == [
        "Coordonnées vides à la ligne 3 : remplissez-les ou retirez la ligne.",
        "Ligne 4 : la cellule 6 (« 28/11/2024 ») dépasse les 5 colonnes de l'en-tête, sans doute parce qu'un texte "
        "contient le séparateur « ; ». Mettez ce texte entre guillemets, ou donnez un nom à cette colonne dans "
        "l'en-tête."]
    assert said["nl"] == [
        "Lege coördinaten in rij 3: vul ze in of verwijder de rij.",
        "Rij 4: cel 6 (‘28/11/2024’) valt buiten de 5 kolommen van de koptekst, waarschijnlijk omdat een tekst het "
        "scheidingsteken ‘;’ bevat. Zet die tekst tussen aanhalingstekens, of geef deze kolom een naam in de "
        "koptekst."]
    assert said["en"][0] == "Empty coordinates in row 3: fill them in or remove the row."
    # not the map form's « draw a point », nor « check the format and the coordinate system »
    assert not any("dessinez" in s or "format" in s for s in said["fr"])


#: Every CSV refusal of the reader, file or row: (file, code, kind, row, the French sentence).
CSV_REFUSALS = [
    (b"lat;lon;lat\n50.41;4.44;1\n", "duplicate_header", "same_name",
     "L'en-tête (ligne 1) nomme deux fois la colonne « lat » (colonnes 1 et 3) : renommez ou supprimez l'une "
     "d'elles."),
    (b"lat;latitude;lon\n50.41;50.41;4.44\n", "duplicate_header", "same_property",
     "Les colonnes « lat » (colonne 1) et « latitude » (colonne 2) donnent la même information, l'une cacherait "
     "l'autre : renommez ou supprimez l'une d'elles."),
    (b'lat;lon;description\n50.41;4.44;"Rue de la Gare\n50.42;4.45;x\n', "unterminated_quote", "open",
     "Un guillemet ouvert à la ligne 2, colonne « description », n'est jamais fermé, et la suite du fichier serait "
     "lue comme un seul texte : fermez-le, ou retirez-le."),
    (b'lat;lon;description\n50.41;4.44;"Rue" de la Gare\n', "malformed_quote", "text_after",
     "Ligne 2, colonne « description » : du texte suit le guillemet qui ferme « \"Rue\" de la Gare ». Mettez tout "
     "le texte entre guillemets, en doublant ceux qu'il contient (\"a \"\"b\"\" c\")."),
    (b"lat;lon;description\n50.41;4.44;" + b"x" * 10_001 + b"\n", "field_too_long", "cell",
     "Ligne 2, colonne « description » : la cellule a 10\u202f001 caractères, le maximum est 10\u202f000. Un "
     "guillemet ouvert puis fermé bien plus loin en est souvent la cause : vérifiez les guillemets de cette ligne, "
     "ou raccourcissez le texte."),
    (b"lat;lon;wkt\n50.41;4.44;POINT(4.44 50.41)\n", "unreadable_file", "position_twice",
     "Le fichier donne chaque position deux fois : dans les colonnes « lon » et « lat », et dans la colonne de "
     "géométrie « wkt ». Choisissez ci-dessous les colonnes à lire, puis prévisualisez à nouveau."),
    ("lat;lon;d\n50.41;4.44;é\n".encode() + "50.42;4.45;é\n".encode("cp1252"), "unreadable_file",
     "mixed_encodings",
     "Le fichier mélange deux encodages : la ligne 3 (colonne « d ») n'est pas en UTF-8, alors que la ligne 2 "
     "l'est. Enregistrez tout le fichier à nouveau en CSV UTF-8."),
]


@pytest.mark.parametrize(("data", "code", "kind", "sentence"), CSV_REFUSALS)
def test_a_csv_refused_whole_says_where_and_what_to_do(app, area, data: bytes, code: str, kind: str,  # noqa: ANN001
                                                        sentence: str) -> None:
    with pytest.raises(GeosignalError) as caught:
        read_upload(data, "a.csv", area=area)
    error = caught.value
    assert (error.code, error.extra.get("kind")) == (code, kind)
    said = _in(app, "fr", lambda: ui_text.error_message(error))
    assert said == sentence and said != TITLES_FR[code]
    for lang in ("nl", "en"):  # translated, every member filled
        other = _in(app, lang, lambda: ui_text.error_message(error))
        assert other != said and "%(" not in other


#: A row's coordinate cells: (row, code, kind, French sentence).
@pytest.mark.parametrize(("row", "code", "kind", "sentence"), [
    ("50.41;\n", "invalid_coordinate", "one_coordinate",
     "Une seule coordonnée à la ligne 2 : la colonne « lon » est vide. Remplissez-la ou retirez la ligne."),
    ("50.41;abc\n", "invalid_coordinate", "not_a_number",
     "Ligne 2 : la colonne « lon » contient « abc », qui n'est pas un nombre. Écrivez un nombre avec les chiffres "
     "0 à 9 (par exemple 50,4108), sans lettre ni symbole."),
    ("50.41;4 44\n", "invalid_coordinate", "spaced_number",
     "Ligne 2 : la colonne « lon » contient « 4 44 » : une espace ne peut séparer que des groupes de trois "
     "chiffres (155 349). Retirez-la."),
    ("50.41;NaN\n", "non_finite_number", "coordinate_cell",
     "Ligne 2 : la colonne « lon » contient « NaN », qui n'est pas un nombre fini. Écrivez la coordonnée en "
     "chiffres."),
])
def test_a_rows_coordinate_cell_says_its_row_and_column(app, area, row: str, code: str, kind: str,  # noqa: ANN001
                                                        sentence: str) -> None:
    (error,) = read_upload(("lat;lon\n" + row).encode(), "a.csv", area=area)
    assert (error.code, error.extra["kind"], error.extra["row"]) == (code, kind, 2)
    assert _in(app, "fr", lambda: ui_text.specific_message(error.code, error.where, error.extra)) == sentence


def test_the_page_script_fills_a_kinds_members_and_adds_no_cell(client, db) -> None:  # noqa: ANN001
    script = client.get("/i18n/fr.js").get_data(as_text=True)
    assert "I.kindText = function (problem)" in script
    catalogue = json.loads(re.search(r"window.geosignalI18n = (\{.*?\});\n", script, re.S).group(1))
    assert catalogue["kinds"]["empty_geometry"]["no_coordinates"] == (
        "Coordonnées vides à la ligne %(row)s : remplissez-les ou retirez la ligne.")
    page_script = (ROOT / "static/js/import.js").read_text()
    assert "return byKind || (I.problemText(error) + cellText(error));" in page_script


@pytest.mark.parametrize(("data", "name", "kind", "sentence"), [
    (zipped(("qgis_zones_blanches.gpkg", b"SQLite format 3\x00" + b"\x00" * 100)), "gpkg_zipped.zip",
     "zipped_file", "L'archive zip contient le fichier « qgis_zones_blanches.gpkg » : décompressez-la et envoyez ce "
     "fichier lui-même."),
    (zipped(("[Content_Types].xml", b"<Types/>"), ("xl/workbook.xml", b"<workbook/>")), "excel_direct.xlsx",
     "spreadsheet", "Ce fichier est un classeur de tableur (Excel, LibreOffice) : enregistrez-le en CSV (Fichier › "
     "Enregistrer sous › CSV UTF-8), puis envoyez ce fichier CSV."),
    (zipped(("[Content_Types].xml", b"<Types/>"), ("xl/workbook.xml", b"<workbook/>")), "classeur.zip",
     "spreadsheet", None),  # by its content, whatever its name
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "ancien.xls", "spreadsheet", None),
    # a photo, even damaged (no NUL early: it was read as a CSV, its first bytes a column's
    # name), a PDF, a phone's HEIC photo: by their first bytes, whatever their name
    (b"\xff\xd8\xff\xe0garbage", "photo.jpg", "not_geographic",
     "Ce fichier est une photo, un document ou une autre archive, pas un fichier géographique : envoyez du GeoJSON, "
     "KML/KMZ, GPX, CSV, GeoPackage ou un Shapefile zippé. Une photo s'ajoute depuis la page du signalement."),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "releve.csv", "not_geographic", None),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "rapport.pdf", "not_geographic", None),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "IMG_2041.HEIC", "not_geographic", None),
])
def test_a_zipped_file_or_a_spreadsheet_is_told_what_to_send(representative, data: bytes, name: str,  # noqa: ANN001
                                                             kind: str, sentence: str | None) -> None:
    response = upload_file(representative, data, name, dry_run="true")
    body = response.get_json()
    assert (response.status_code, body["code"], body["kind"]) == (415, "unsupported_format", kind)
    if sentence:
        assert body["message"] == sentence


def test_a_single_point_elsewhere_lies_there_not_mostly(client, representative) -> None:  # noqa: ANN001
    chimay = {"type": "Point", "coordinates": [4.31, 50.05]}
    response = representative.post("/api/v1/reports", data=json.dumps(feature(chimay)),
                                    content_type="application/geo+json")
    body = response.get_json()
    assert (response.status_code, body["code"], body["kind"]) == (403, "not_your_commune", "point")
    assert body["message"] == "Le point se trouve à Chimay (56016), pas dans votre commune : placez-le dans votre commune."
    zone = {"type": "Polygon", "coordinates": [[[4.30, 50.04], [4.32, 50.04], [4.32, 50.055], [4.30, 50.055],
                                                [4.30, 50.04]]]}
    body = representative.post("/api/v1/reports", data=json.dumps(feature(zone)),
                               content_type="application/geo+json").get_json()
    assert "kind" not in body and body["message"].startswith("La forme se trouve surtout à Chimay")
    # the upload's row: the point's own sentence, in each language
    with client.application.test_request_context("/"):
        catalogue = {lang: i18n.js_catalogue(lang)["import"] for lang in ("nl", "en")}
    assert catalogue["nl"]["not_your_commune_point"] == ("Het punt van deze rij ligt in een andere gemeente dan de "
                                                         "uwe: {commune}. U kunt het niet importeren.")
    assert "grotendeels" not in catalogue["nl"]["not_your_commune_point_unnamed"]


def test_without_a_geocoder_the_form_offers_no_address_search(app, representative) -> None:  # noqa: ANN001
    representative.login()
    with configured(app, GEOCODER_URL=""):
        page = representative.client.get("/carte").get_data(as_text=True)
        off = representative.get("/carte/adresses?q=Rue de la Gare", headers={"Accept": "application/json"})
    assert 'id="address"' not in page and 'id="coordinates"' in page
    assert off.get_json()["message"] == ("La recherche d'adresse n'est pas activée sur ce service : saisissez des "
                                         "coordonnées ou dessinez sur la carte.")
    with configured(app, GEOCODER_URL="http://127.0.0.1:9/search"):
        assert 'id="address"' in representative.client.get("/carte").get_data(as_text=True)


def test_east_is_spelt_one_way_per_language_from_one_text(app) -> None:  # noqa: ANN001
    for lang, east in (("fr", "E"), ("nl", "O"), ("en", "E")):
        with app.test_request_context("/"):
            catalogue = i18n.js_catalogue(lang)
        assert catalogue["map"]["position"] == catalogue["import"]["position"] == "{lat} N, {lon} " + east
        assert "{position}" in catalogue["map"]["placed"] and "{lon}" not in catalogue["map"]["placed"]
        assert "{position}" in catalogue["map"]["placed_circle"]
    script = (ROOT / "static/js/report-map.js").read_text()
    assert '" E"' not in script and '" N, "' not in script


def test_lambert_values_with_points_between_thousands_are_said_so(admin, app):  # noqa: ANN001
    """Excel shows a Lambert coordinate « 155.286,40 »: refused as « not a number », without a
    word on what was wrong. The row's sentence now says to write it without the points."""
    data = b"x;y;remarque\n155.286,40;122.215,10;Pas de 4G\n"
    body = upload_file(admin, data, "lambert.csv", crs="EPSG:31370", dry_run="true").get_json()
    [row] = body["features"]
    error = row["error"]
    assert (error["code"], error["kind"], error["column"], error["value"], error["written"], error["row"]) == (
        "invalid_coordinate", "thousands_points", "x", "155.286,40", "155286,40", 2)
    said = {lang: _in(app, lang, lambda: ui_text.kind_message(error["code"], error["kind"], error))
            for lang in ("fr", "nl", "en")}
    assert said["fr"] == ("Ligne 2 : la colonne « x » contient « 155.286,40 », dont les milliers sont séparés par "
                          "des points : écrivez-le sans ces points (155286,40).")
    assert all(said[lang] and "155286,40" in said[lang] for lang in ("nl", "en"))


@pytest.mark.parametrize(("lang", "sentence"), [
    ("fr", "Le fichier (une archive zip, KMZ ou un classeur XLSX) est endommagé ou incomplet : téléchargez-le ou "
           "enregistrez-le à nouveau, puis renvoyez-le."),
    ("nl", "Het bestand (een zip- of KMZ-archief of een XLSX-werkmap) is beschadigd of onvolledig: download het of "
           "sla het opnieuw op en stuur het dan opnieuw."),
])
def test_a_damaged_archive_is_said_so_not_sent_to_a_format_choice_the_page_lacks(representative, lang: str,
                                                                                  sentence: str) -> None:  # noqa: ANN001
    # a workbook cut short (a download interrupted) was told « check the format chosen »: the
    # page has no format to choose
    response = representative.post("/api/v1/imports", data={
        "file": (io.BytesIO(b"PK\x03\x04" + b"\x14\x00" * 40), "campagne.xlsx"), "dry_run": "true"},
        content_type="multipart/form-data", headers={"Accept-Language": lang})
    body = response.get_json()
    assert (response.status_code, body["code"], body["kind"], body["message"]) == (
        422, "unreadable_file", "damaged_archive", sentence)
