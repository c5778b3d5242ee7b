"""A CSV column holding both coordinates (files trial: « 50.4108, 4.4446 » as Google Maps
copies a place into one Excel cell): read as the map form reads typed coordinates, in either
order when only one falls in Belgium, never swapped silently; its faults named by row, column
and cell with a sentence in the user's language; mappable on the page like any coordinate kind.
"""

from __future__ import annotations

import pytest
from flask_babel import force_locale

from geosignal import contract, i18n, ui_text
from geosignal.services.intake import read_upload
from tests.factories import upload_file
from tests.test_browser import browser  # noqa: F401  (fixture)

# Charleroi station, as Google Maps copies it (latitude first, dot decimals, ", " between)
GARE = "50.40425, 4.43853"
# one cell per way people write both coordinates: Google Maps' copy, a decimal comma with
# « ; », longitude first (read in the one order that falls in Belgium), degrees-minutes-seconds,
# Lambert 72 metres (x y)
ROWS = [GARE, '"50,40425; 4,43853"', "4.43853 50.40425", "50°24'15.3\"N 4°26'18.7\"E", "154961 121486"]


def _csv(cells: list[str], header: str = "Coordonnées") -> bytes:
    lines = [f"{header};Opérateur;Description"] + [f"{c};Proximus;Rue {k}" for k, c in enumerate(cells)]
    return ("\n".join(lines) + "\n").encode()


def test_one_column_with_both_coordinates_is_read_in_every_notation(area) -> None:  # noqa: ANN001
    result = read_upload(_csv(ROWS), "google.csv", area=area)
    assert [type(r).__name__ for r in result] == ["ReportInput"] * 5
    for item in result:  # every notation names the station, within 10 m (Lambert and DMS rounded)
        lon, lat = item.geometry.x, item.geometry.y
        assert abs(lon - 4.43853) < 1.5e-4 and abs(lat - 50.40425) < 1e-4, (lon, lat)
    assert (result[0].geometry.x, result[0].geometry.y) == (4.43853, 50.40425)
    assert result[0].properties["operators"] == ["Proximus"]
    assert result.warnings == []  # the column is read, not « ignored »


@pytest.mark.parametrize("header", ["Coordonnées GPS", "coordinates", "GPS", "Lat, Lon", "lat/lon", "Coördinaten"])
def test_the_usual_headers_name_the_column(area, header: str) -> None:  # noqa: ANN001
    [item] = read_upload(_csv([GARE], header), "h.csv", area=area)
    assert (item.geometry.x, item.geometry.y) == (4.43853, 50.40425)


def test_a_pair_whose_two_orders_lie_in_belgium_takes_the_one_in_a_commune_served(area) -> None:  # noqa: ANN001
    # x 128000 y 114000 is Erquelinnes; read y x it is in Belgium (Hainaut) but in no commune served
    [item] = read_upload(_csv(["128000 114000"]), "l72.csv", area=area)
    assert area.commune_at(item.geometry.x, item.geometry.y) == ("56022", "Erquelinnes")


def test_faults_name_row_column_and_cell_and_say_what_to_do(app, area) -> None:  # noqa: ANN001
    # row 2 unreadable; row 3 empty; row 4 Paris; row 5 Seneffe in both orders (Lambert x y or y x)
    result = read_upload(_csv(["près de l'église", "", "48.8566, 2.3522", "140000 141000"]), "bad.csv", area=area)
    errors = [(e.code, e.extra.get("kind"), e.extra["row"], e.extra.get("column"), e.extra.get("value"))
              for e in result]
    assert errors == [
        ("unreadable_coordinates", "position_cell", 2, "Coordonnées", "près de l'église"),
        ("empty_geometry", "no_coordinates", 3, None, None),
        ("outside_service_area", "position_cell", 4, "Coordonnées", "48.8566, 2.3522"),
        ("ambiguous_coordinates", "position_cell", 5, "Coordonnées", "140000 141000"),
    ]
    ambiguous = result[3]
    assert sorted(c["order"] for c in ambiguous.extra["candidates"]) == ["x_y", "y_x"]
    assert {c["commune"]["nis_code"] for c in ambiguous.extra["candidates"]} == {"55085"}
    said = {}
    for lang in ("fr", "nl", "en"):
        with app.test_request_context("/"), force_locale(i18n.BABEL_LOCALES[lang]):
            said[lang] = [ui_text.kind_message(e.code, e.extra["kind"], e.extra) for e in result]
    assert said["fr"][0] == ("Ligne 2 : la colonne « Coordonnées » contient « près de l'église », qui n'est pas une "
                             "position lisible. Écrivez la latitude puis la longitude (par exemple 50.4108, 4.4446), "
                             "ou des coordonnées Lambert x y.")
    assert said["fr"][2] == ("Ligne 4 : la position « 48.8566, 2.3522 » (colonne « Coordonnées ») ne tombe dans aucune "
                             "commune desservie, dans aucun des deux ordres. Vérifiez-la.")
    assert said["fr"][3].startswith("Ligne 5 : « 140000 141000 » (colonne « Coordonnées ») désigne un lieu desservi "
                                    "dans les deux ordres.")
    assert said["nl"][0].startswith("Rij 2: kolom ‘Coordonnées’ bevat ‘près de l'église’, geen leesbare positie.")
    assert said["en"][3].startswith("Row 5: ‘140000 141000’ (column ‘Coordonnées’) names a place served in both orders.")


def test_beside_latitude_and_longitude_columns_it_is_a_column_read_for_nothing(area) -> None:  # noqa: ANN001
    data = b"lat;lon;Position;Description\n50.41;4.44;50.5, 4.5;Gare\n"
    result = read_upload(data, "both.csv", area=area)
    assert (result[0].geometry.x, result[0].geometry.y) == (4.44, 50.41)
    [ignored] = [w for w in result.warnings if w["code"] == "columns_ignored"]
    assert ignored["columns"] == ["Position"]


def test_column_map_names_it_and_the_upload_page_offers_it(representative) -> None:  # noqa: ANN001
    assert {"name": "position", "label": "Coordonnées (les deux dans une colonne)"} in contract.upload_fields()
    data = _csv([GARE, "50.41, 4.44"], header="Emplacement")
    unread = upload_file(representative, data, "emplacement.csv", dry_run="true")
    assert (unread.status_code, unread.get_json()["code"], unread.get_json()["reason"]) == (
        422, "unreadable_file", "no_coordinate_columns")
    body = upload_file(representative, data, "emplacement.csv", dry_run="true", network="mobile",
                       column_map='{"position": "Emplacement"}').get_json()
    assert [(f["status"], f["geometry"]["coordinates"]) for f in body["features"]] == [
        ("accepted", [4.43853, 50.40425]), ("accepted", [4.44, 50.41])]
    saved = upload_file(representative, data, "emplacement.csv", network="mobile",
                        column_map='{"position": "Emplacement"}')
    assert saved.status_code == 201
    assert (saved.get_json()["saved"], saved.get_json()["refused"]) == (2, 0)
    stored = [f["properties"]["commune_nis"] for f in saved.get_json()["features"]]
    assert stored == ["52011", "52011"]


# a place in Charleroi written y then x (Lambert 72): read x then y, as Lambert is written, it is
# near Ath (4.015, 50.705), in Hainaut but in no commune served
SWAPPED_L72 = "125000 155000"


@pytest.mark.parametrize("cell", [SWAPPED_L72, "x=125000 y=155000", "lat 4.444 lon 50.41", "4.444N 50.41E"])
def test_a_swapped_pair_is_refused_with_the_swap_hint_never_swapped(db, representative, cell: str) -> None:  # noqa: ANN001
    from tests.factories import count_reports

    # the x;y columns and the map form's typed field refuse the same numbers with the same hint
    columns = upload_file(representative, b"description;x;y\r\nici;125000;155000\r\n", "a.csv", network="mobile",
                          crs="EPSG:31370", dry_run="true").get_json()["features"][0]["error"]
    assert (columns["code"], columns["hint"], columns["swapped_commune"]) == (
        "outside_service_area", "axes_swapped", {"nis_code": "52011", "name": "Charleroi"})
    if cell != SWAPPED_L72:  # (unlabelled, the typed field shows the order it read: « lu y puis x »)
        typed = representative.get("/api/v1/coordinates", query_string={"q": cell}).get_json()
        assert (typed["code"], typed["hint"]) == ("outside_service_area", "axes_swapped")
    data = f'description;coordonnees\r\nici;"{cell}"\r\n'.encode()
    before = count_reports(db)
    answers = [upload_file(representative, data, "places.csv", network="mobile", **dry)
               for dry in ({"dry_run": "true"}, {})]
    assert count_reports(db) == before  # nothing stored
    (preview,), (saved,) = (a.get_json()["features"] for a in answers)
    assert preview == saved
    error = preview["error"]
    assert (preview["status"], error["code"], error["kind"], error["row"], error["column"], error["value"]) == (
        "refused", "outside_service_area", "position_cell", 2, "coordonnees", cell)
    assert (error["hint"], error["swapped_commune"]) == ("axes_swapped", {"nis_code": "52011", "name": "Charleroi"})
    assert "Nothing was swapped for you" in error["detail"]
    if cell == SWAPPED_L72:  # the reading refused is the one written, x then y
        assert [(c["order"], c["values"]) for c in error["candidates"]] == [("x_y", [125000.0, 155000.0])]


def test_a_lambert_pair_in_a_commune_read_x_then_y_is_still_taken(area) -> None:  # noqa: ANN001
    # the unswapped Charleroi place (x 155000 y 125000): read x then y, no refusal, no hint
    [item] = read_upload(_csv(["155000 125000"]), "l72.csv", area=area)
    assert area.commune_at(item.geometry.x, item.geometry.y) == ("52011", "Charleroi")


def test_the_swap_hint_is_said_on_the_page_without_in_either_order(app, area) -> None:  # noqa: ANN001
    [refused] = read_upload(_csv(["lat 4.444 lon 50.41"]), "swapped.csv", area=area)
    said = {}
    for lang in ("fr", "nl", "en"):
        with app.test_request_context("/"), force_locale(i18n.BABEL_LOCALES[lang]):
            said[lang] = ui_text.specific_message(refused.code, refused.where, refused.extra)
    assert said["fr"].startswith("Ligne 2 : la position « lat 4.444 lon 50.41 » (colonne « Coordonnées ») ne tombe "
                                 "dans aucune commune desservie. Les deux coordonnées semblent inversées : dans "
                                 "l'autre ordre, ce lieu serait à Charleroi."), said["fr"]
    assert said["nl"].startswith("Rij 2: de positie ‘lat 4.444 lon 50.41’ (kolom ‘Coordonnées’) ligt in geen enkele "
                                 "bediende gemeente. "), said["nl"]
    assert said["en"].startswith("Row 2: the position ‘lat 4.444 lon 50.41’ (column ‘Coordonnées’) lies in none of "
                                 "the communes served. "), said["en"]
    for text in said.values():
        assert "Charleroi" in text


@pytest.mark.browser
@pytest.mark.parametrize(("cell", "order"), [("lat 4.444 lon 50.41", "longitude"), (SWAPPED_L72, "x, ")])
def test_the_upload_page_script_says_the_swap_hint_as_the_server(app, area, browser, cell: str,  # noqa: ANN001, F811
                                                                  order: str) -> None:
    [refused] = read_upload(_csv([cell]), "swapped.csv", area=area)
    problem = {"code": refused.code, **refused.extra}
    page = browser.new_page()
    try:
        for lang in ("fr", "nl", "en"):
            with app.test_request_context("/"), force_locale(i18n.BABEL_LOCALES[lang]):
                script = i18n._catalogue_script(lang)
                said = ui_text.kind_message(refused.code, "position_cell", problem)
            page.set_content("<!doctype html><title>t</title>")
            page.add_script_tag(content=script)
            assert page.evaluate("(p) => window.geosignalI18n.kindText(p)", problem) == said
            assert "Charleroi" in said and "Vérifiez-la." not in said
            if lang == "fr":  # Lambert said x then y, degrees longitude then latitude
                assert f"Vérifiez l'ordre ({order}" in said, said
    finally:
        page.close()
