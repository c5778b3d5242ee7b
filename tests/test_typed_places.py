"""Several positions typed in the map form's coordinates field (one per line, any notation
parse_position reads, or WKT), read on the server (geosignal/services/coordinates.py
read_place): a road stretch or a zone, each fault named by its line, the order of an ambiguous
line settled by the others' only when they all agree, never swapped silently."""

from __future__ import annotations

import pytest

from geosignal.errors import GeosignalError
from geosignal.geo import LAMBERT72, WGS84, transformer
from geosignal.services.coordinates import parse_position, read_place

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
