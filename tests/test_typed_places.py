"""Several positions typed in the map form's coordinates field (one per line, any notation
parse_position reads, or WKT), read on the server (geosignal/services/coordinates.py
read_place): a road stretch or a zone, each fault named by its line, the order of an ambiguous
line settled by the others' only when they all agree, never swapped silently."""

from __future__ import annotations

import pytest

from geosignal.errors import GeosignalError
from geosignal.geo import LAMBERT72, WGS84, transformer
from geosignal.services.coordinates import parse_position, read_place
from tests.conftest import owner_only

# Charleroi centre in Lambert 72 (EPSG:31370) and WGS 84 (see tests/test_coordinates.py)
X, Y = 155348.97, 122214.95


@pytest.fixture(scope="module")
def commune_at(area):  # noqa: ANN001, ANN201
    return area.commune_at


def _lonlat(x: float, y: float) -> list[float]:
    lon, lat = transformer(LAMBERT72, WGS84).transform(x, y)
    return [round(lon, 7), round(lat, 7)]


def test_one_position_is_read_exactly_as_before(commune_at) -> None:  # noqa: ANN001
    for text in ("50.4108, 4.4440", "  50.4108, 4.4440\n\n", "155348.97 122214.95"):
        place = read_place(text, commune_at)
        position = parse_position(text.strip(), commune_at)
        assert (place.shape, place.source, place.geometry) == ("point", "lines", position.geometry())
        assert place.as_dict()["lon"] == position.as_dict()["lon"]
    with pytest.raises(GeosignalError) as caught:  # its faults as before: no line named
        read_place("50.85, 4.35", commune_at)
    assert (caught.value.code, caught.value.where, "line" in caught.value.extra) == \
        ("outside_service_area", "coordinates", False)


def test_two_lines_make_a_road_stretch_in_any_notation(commune_at) -> None:  # noqa: ANN001
    place = read_place("155348.97 122214.95\n50°24'38.88\"N 4°26'38.4\"E", commune_at)
    assert place.shape == "line" and place.geometry["type"] == "LineString"
    assert place.geometry["coordinates"][0] == _lonlat(X, Y)
    assert place.geometry["coordinates"][1] == [4.444, 50.4108]
    assert [p.notation for p in place.positions] == ["lambert72", "dms"]


def test_four_lines_make_a_zone_closed_here(commune_at) -> None:  # noqa: ANN001
    text = f"{X} {Y}\n{X + 200} {Y}\n\n{X + 200} {Y + 200}\n{X} {Y + 200}\n"
    place = read_place(text, commune_at)
    corners = [_lonlat(X, Y), _lonlat(X + 200, Y), _lonlat(X + 200, Y + 200), _lonlat(X, Y + 200)]
    assert place.shape == "zone"
    assert place.geometry == {"type": "Polygon", "coordinates": [[*corners, corners[0]]]}
    # closed by the person: the same zone; asked as a road stretch: a line through the 4
    assert read_place(text + f"{X} {Y}", commune_at).geometry == place.geometry
    line = read_place(text, commune_at, shape="line")
    assert line.geometry == {"type": "LineString", "coordinates": corners}
    # three positions are a zone by default
    assert read_place(f"{X} {Y}\n{X + 200} {Y}\n{X + 200} {Y + 200}", commune_at).shape == "zone"


def test_a_zone_of_two_positions_is_refused_coded(commune_at) -> None:  # noqa: ANN001
    with pytest.raises(GeosignalError) as caught:
        read_place(f"{X} {Y}\n{X + 200} {Y}\n{X} {Y}", commune_at, shape="zone")
    error = caught.value
    assert (error.code, error.status, error.where, error.extra["kind"], error.extra["count"]) == \
        ("ring_too_short", 422, "coordinates", "typed_zone", 2)
    with pytest.raises(GeosignalError) as bad:
        read_place(f"{X} {Y}\n{X + 200} {Y}", commune_at, shape="circle")
    assert (bad.value.code, bad.value.where) == ("invalid_request", "coordinates_shape")


@pytest.mark.parametrize(("text", "code", "line", "value"), [
    ("50.4108, 4.4440\n50.41, 4.45\nrue de la Station", "unreadable_coordinates", 3, "rue de la Station"),
    ("50.4108, 4.4440\n\n50.85, 4.35", "outside_service_area", 3, "50.85, 4.35"),  # blank line 2 counted
    ("50.4108 4.4440 50.41 4.45\n50.41, 4.45", "unreadable_coordinates", 1, "50.4108 4.4440 50.41 4.45"),
    ("EPSG:2154 1 2\n50.41, 4.45", "unsupported_crs", 1, "EPSG:2154 1 2"),
])
def test_each_fault_names_its_line(commune_at, text: str, code: str, line: int, value: str) -> None:  # noqa: ANN001
    with pytest.raises(GeosignalError) as caught:
        read_place(text, commune_at)
    error = caught.value
    assert (error.code, error.status, error.where) == (code, 422, "coordinates")
    assert (error.extra["line"], error.extra["kind"], error.extra["value"]) == (line, "typed_line", value)
    assert error.detail.startswith(f"line {line}: ")
    assert error.to_problem()["line"] == line


def test_an_ambiguous_line_takes_the_order_of_the_others_or_is_asked(commune_at) -> None:  # noqa: ANN001
    """140000 141000 is in Seneffe in both orders (tests/test_coordinates.py): after a line
    labelled x=… y=… it is read x then y, and the answer says so; alone with another ambiguous
    line, or after lines read in both orders, it is asked, naming its line."""
    place = read_place("x=139900 y=141000\n140000 141000\nx=140000 y=141100", commune_at, shape="line")
    assert [p.order for p in place.positions] == ["x_y", "x_y", "x_y"]
    assert place.settled_lines == (2,)
    assert place.geometry["coordinates"][1] == _lonlat(140000, 141000)
    for text, line in (("140000 141000\n141000 140100", 1),
                       ("x=139900 y=141000\ny=141100 x=140000\n140000 141000", 3)):
        with pytest.raises(GeosignalError) as caught:
            read_place(text, commune_at, shape="line")
        error = caught.value
        assert (error.code, error.extra["line"], error.extra["kind"]) == ("ambiguous_coordinates", line, "typed_line")
        assert [c["order"] for c in error.extra["candidates"]] == ["x_y", "y_x"]


def test_wkt_point_line_and_polygon(commune_at) -> None:  # noqa: ANN001
    assert read_place("POINT (4.444 50.4108)", commune_at).geometry == {"type": "Point", "coordinates": [4.444, 50.4108]}
    line = read_place("linestring(4.444 50.4108, 4.45 50.41)", commune_at)
    assert (line.shape, line.source, line.geometry["coordinates"]) == ("line", "wkt", [[4.444, 50.4108], [4.45, 50.41]])
    zone = read_place(f"SRID=31370;POLYGON(({X} {Y}, {X + 200} {Y}, {X + 200} {Y + 200}, {X} {Y}))", commune_at)
    assert zone.geometry == {"type": "Polygon", "coordinates": [[_lonlat(X, Y), _lonlat(X + 200, Y),
                                                                  _lonlat(X + 200, Y + 200), _lonlat(X, Y)]]}
    # Lambert metres without a SRID: read by their size, x first
    assert read_place(f"POINT({X} {Y})", commune_at).geometry["coordinates"] == _lonlat(X, Y)


@pytest.mark.parametrize(("text", "code", "members"), [
    ("POLYGON((4.444 50.4108, 4.45 50.41", "unreadable_coordinates", {"kind": "typed_wkt", "character": 35}),
    ("MULTIPOINT(4.444 50.4108, 4.45 50.41)", "unreadable_coordinates", {"kind": "wkt_type", "wkt_type": "MultiPoint"}),
    ("LINESTRING(4.444 50.4108, 4.35 50.85)", "outside_service_area", {"kind": "wkt_position", "position": 2}),
    ("SRID=2154;POINT(1 2)", "unsupported_crs", {}),
    ("POINT EMPTY", "empty_geometry", {}),
])
def test_wkt_faults_are_coded(commune_at, text: str, code: str, members: dict) -> None:  # noqa: ANN001
    with pytest.raises(GeosignalError) as caught:
        read_place(text, commune_at)
    assert (caught.value.code, caught.value.where) == (code, "coordinates")
    assert {k: caught.value.extra.get(k) for k in members} == members


# ------------------------------------------------------------------------ through the pages
# (the map form and the edit page send the coordinates field; the server reads it into the
# geometry every drawn shape is checked as; measured in EPSG:31370)

def _measure(db, what: str) -> tuple[str, float]:  # noqa: ANN001
    from sqlalchemy import text

    return db.execute(text(f"SELECT GeometryType(geometry), {what}(ST_Transform(geometry, 31370)) FROM reports")).one()


@owner_only  # (it deletes its first report: the service role may not)
def test_a_road_stretch_and_a_zone_filed_by_typed_positions(db, representative) -> None:  # noqa: ANN001
    from tests.test_locate import _map_form

    # a stretch of 3 positions along 300 m then 400 m: 700 m (within 5 cm: 7-decimal rounding)
    stretch = f"{X} {Y}\n{X + 300} {Y}\n{X + 300} {Y + 400}"
    assert _map_form(representative, coordinates=stretch, coordinates_shape="line").status_code == 302
    kind, length = _measure(db, "ST_Length")
    assert kind == "LINESTRING" and length == pytest.approx(700.0, abs=0.05)
    db.execute(__import__("sqlalchemy").text("DELETE FROM reports"))
    db.commit()
    # a zone of 4 positions in decimal degrees, 200 m × 150 m in Lambert 72: 30,000 m² (± 2 m²)
    corners = [(X, Y), (X + 200, Y), (X + 200, Y + 150), (X, Y + 150)]
    typed = "\n".join("{1}, {0}".format(*_lonlat(x, y)) for x, y in corners)  # lat, lon as Google Maps gives
    assert _map_form(representative, coordinates=typed, coordinates_shape="zone").status_code == 302
    kind, area = _measure(db, "ST_Area")
    assert kind == "POLYGON" and area == pytest.approx(30_000.0, abs=2.0)


def test_a_typed_place_refused_is_said_by_its_line_and_nothing_is_stored(db, representative) -> None:  # noqa: ANN001
    from sqlalchemy import func, select

    from geosignal.models import Report
    from tests.test_locate import _error_box, _map_form

    response = _map_form(representative, coordinates="50.4108, 4.4440\n50.41, 4.45\nrue de la Station",
                         coordinates_shape="zone", description="à garder")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert _error_box(page, "coordinates") == (
        "Ligne 3 : « rue de la Station » n'est pas une position lisible. Écrivez une position par ligne : la latitude "
        "puis la longitude (par exemple 50.4108, 4.4446), des degrés-minutes-secondes ou des coordonnées Lambert x y.")
    assert ">\n50.4108, 4.4440\n50.41, 4.45\nrue de la Station</textarea>" in page and "à garder" in page
    assert 'value="zone" checked' in page  # the choice kept
    # a zone that crosses itself, typed: refused as a drawn one (the intake's check)
    bow = f"{X} {Y}\n{X + 200} {Y + 200}\n{X + 200} {Y}\n{X} {Y + 200}"
    crossing = _map_form(representative, coordinates=bow, coordinates_shape="zone")
    assert crossing.status_code == 422 and 'data-code="self_intersection"' in crossing.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(Report)) == 0


def test_the_coordinates_endpoint_reads_several_lines_and_wkt(representative) -> None:  # noqa: ANN001
    body = representative.get("/api/v1/coordinates", query_string={
        "q": f"{X} {Y}\n{X + 200} {Y}\n{X + 200} {Y + 200}", "shape": "line"}).get_json()
    assert (body["shape"], body["geometry"]["type"], len(body["positions"]), body["source"]) == \
        ("line", "LineString", 3, "lines")
    assert body["positions"][0]["commune"]["name_fr"] == "Charleroi"
    one = representative.get("/api/v1/coordinates?q=50.4108, 4.444").get_json()  # one position: as before, and more
    assert (one["lon"], one["lat"], one["shape"], one["geometry"]) == \
        (4.444, 50.4108, "point", {"type": "Point", "coordinates": [4.444, 50.4108]})
    refused = representative.get("/api/v1/coordinates", query_string={"q": "50.4108, 4.444\n\n50.85, 4.35"})
    problem = refused.get_json()
    assert (refused.status_code, problem["code"], problem["line"], problem["where"]) == \
        (422, "outside_service_area", 3, "coordinates")
    assert problem["message"] == ("Ligne 3 : la position « 50.85, 4.35 » ne tombe dans aucune commune desservie. "
                                  "Vérifiez-la.")
    wkt = representative.get("/api/v1/coordinates", query_string={"q": "POLYGON((4.444 50.41, 4.446 50.41, "
                                                                      "4.446 50.412, 4.444 50.41))"}).get_json()
    assert (wkt["shape"], wkt["source"]) == ("zone", "wkt")
    bad_shape = representative.get("/api/v1/coordinates", query_string={"q": "1\n2", "shape": "circle"})
    assert (bad_shape.status_code, bad_shape.get_json()["where"]) == (400, "shape")


def test_the_edit_page_replaces_the_place_by_typed_positions(db, client, representative) -> None:  # noqa: ANN001
    import re

    from sqlalchemy import text

    from tests.conftest import csrf_token
    from tests.factories import feature, square_lambert, to_geojson_4326

    created = representative.post("/api/v1/reports", json=feature(to_geojson_4326(square_lambert(X, Y, 200.0)),
                                                                  description="Cave"))
    rid = created.get_json()["id"]
    representative.login()
    page = client.get(f"/signalements/{rid}/modifier").get_data(as_text=True)
    # a square of 5 positions: small enough to be typed, the field is filled with it (lat, lon)
    typed = re.search(r'<textarea id="coordinates" name="coordinates"[^>]*>([^<]*)</textarea>', page).group(1)
    assert len(typed.strip().splitlines()) == 4 and 'value="zone" checked' in page
    etag = re.search(r'name="etag" id="etag" value="([^"]+)"', page).group(1).replace("&#34;", '"')
    stretch = f"{X} {Y}\n{X + 300} {Y}"
    form = {"csrf_token": csrf_token(page), "etag": etag, "network": "mobile", "technologies": ["4G"],
            "operators": ["Proximus"], "description": "Cave", "geometry": "", "coordinates": stretch,
            "coordinates_shape": "line"}
    saved = client.post(f"/signalements/{rid}/modifier", data=form)
    assert saved.status_code == 302, saved.get_data(as_text=True)[:400]
    kind, length = db.execute(text("SELECT GeometryType(geometry), ST_Length(ST_Transform(geometry, 31370)) "
                                   "FROM reports WHERE id = :r"), {"r": rid}).one()
    assert kind == "LINESTRING" and length == pytest.approx(300.0, abs=0.05)


@pytest.mark.parametrize(("text", "value", "members"), [
    ("Infinity 50.41", "Infinity", {"kind": "typed"}),
    ("50.4108 NaN", "NaN", {"kind": "typed"}),
    ("1e400, 4.444", "1e400", {"kind": "typed"}),
    ("-inf 4.444", "-inf", {"kind": "typed"}),
    ("lat=NaN lon=4.444", "NaN", {"kind": "typed"}),
    ("50.4108, 4.4440\n50.41 +Infinity\n50.42, 4.45", "50.41 +Infinity", {"kind": "typed_line", "line": 2}),
])
def test_a_typed_number_that_is_not_finite_is_non_finite_number(commune_at, text: str, value: str,
                                                                members: dict) -> None:  # noqa: ANN001
    # the one rule of every upload (NaN, an infinity, 1e400: non_finite_number): typed, it was
    # unreadable_coordinates, or « exactly two values are needed; 3 read » for 1e400
    with pytest.raises(GeosignalError) as caught:
        read_place(text, commune_at)
    assert (caught.value.code, caught.value.status, caught.value.where, caught.value.extra["value"]) == \
        ("non_finite_number", 422, "coordinates", value)
    assert {k: caught.value.extra.get(k) for k in members} == members


def test_a_typed_number_that_is_not_finite_is_said_on_the_page_and_by_the_api(db, representative) -> None:  # noqa: ANN001
    from sqlalchemy import func, select

    from geosignal.models import Report
    from tests.test_locate import _error_box, _map_form

    response = _map_form(representative, coordinates="50.4108 NaN", description="à garder")
    assert response.status_code == 422
    assert _error_box(response.get_data(as_text=True), "coordinates") == (
        "« NaN » n'est pas un nombre fini : écrivez la position en chiffres (par exemple 50.4108, 4.4446).")
    answer = representative.get("/api/v1/coordinates?q=1e400, 4.444")
    assert (answer.status_code, answer.get_json()["code"], answer.get_json()["where"]) == \
        (422, "non_finite_number", "coordinates")
    assert db.scalar(select(func.count()).select_from(Report)) == 0
