"""Coordinates typed by a person, read on the server (geosignal/services/coordinates.py):
WGS 84 decimal and degrees-minutes-seconds, Lambert 72 and Lambert 2008, both orders taken
only when one alone falls in a commune served, ambiguity asked, never silently swapped."""

from __future__ import annotations

import pytest

from geosignal.errors import GeosignalError
from geosignal.services.coordinates import parse_position

# Charleroi centre: (4.4440, 50.4108) in EPSG:4326 is (155348.97, 122214.95) in EPSG:31370
# (stack notes, PostGIS and pyproj agree within 1 m) and (655354.31, 622216.38) in EPSG:3812
# (PostGIS ST_Transform and pyproj agree within 1e-9°).
LON, LAT = 4.4440, 50.4108
TOL = 1e-6  # degrees (~0.1 m)


@pytest.fixture(scope="module")
def commune_at(area):  # noqa: ANN001, ANN201
    return area.commune_at


@pytest.mark.parametrize(("text", "notation", "order"), [
    ("50.4108, 4.4440", "decimal", "lat_lon"),
    ("50.4108,4.444", "decimal", "lat_lon"),
    ("50,4108 4,4440", "decimal", "lat_lon"),         # decimal commas, space between
    ("50,4108, 4,4440", "decimal", "lat_lon"),
    ("50,4108;4,4440", "decimal", "lat_lon"),
    ("4.4440 50.4108", "decimal", "lon_lat"),         # GeoJSON order: detected, and said so
    ("lat 50.4108 lon 4.444", "decimal", "lat_lon"),
    ("lon=4.444 lat=50.4108", "decimal", "lon_lat"),
    ("50.4108 N 4.4440 E", "decimal", "lat_lon"),
    ("N 50.4108 E 4.444", "decimal", "lat_lon"),
    ("4.444E 50.4108N", "decimal", "lon_lat"),
    ("WGS 84 : 50.4108 4.4440", "decimal", "lat_lon"),
    ("50°24'38.88\"N 4°26'38.4\"E", "dms", "lat_lon"),
    ("50° 24′ 38,88″ N, 4° 26′ 38,4″ E", "dms", "lat_lon"),  # primes and decimal commas
    ("50°24'38.88'' N 4°26'38.4'' E", "dms", "lat_lon"),      # two apostrophes for seconds
    ("N 50° 24,648' E 4° 26,64'", "dms", "lat_lon"),           # degrees and decimal minutes
    ("4°26'38.4\"E 50°24'38.88\"N", "dms", "lon_lat"),
    ("50.4108° 4.444°", "dms", "lat_lon"),
    ("155348.97 122214.95", "lambert72", "x_y"),
    ("155348,97 122214,95", "lambert72", "x_y"),
    ("155348.97,122214.95", "lambert72", "x_y"),
    ("EPSG:31370 155348.97 122214.95", "lambert72", "x_y"),
    ("Lambert 72 : x=155348.97 y=122214.95", "lambert72", "x_y"),
    ("y=122214.95 x=155348.97", "lambert72", "y_x"),         # labelled: the order is the person's
    ("655354.31 622216.38", "lambert2008", "x_y"),
    ("L08 655354.31 622216.38", "lambert2008", "x_y"),
    ("EPSG:3812 x 655354.31 y 622216.38", "lambert2008", "x_y"),
])
def test_charleroi_centre_in_every_notation(commune_at, text: str, notation: str, order: str) -> None:  # noqa: ANN001
    position = parse_position(text, commune_at)
    assert position.lon == pytest.approx(LON, abs=TOL)
    assert position.lat == pytest.approx(LAT, abs=TOL)
    assert (position.notation, position.order) == (notation, order)
    assert position.commune == ("52011", "Charleroi")
    assert position.geometry()["type"] == "Point"


def test_dms_exact_values_and_west_is_negative() -> None:
    position = parse_position("50°24'38.88\"N 4°26'38.4\"E")  # Belgian box only
    assert (position.lon, position.lat) == (pytest.approx(4 + 26 / 60 + 38.4 / 3600, abs=1e-12),
                                            pytest.approx(50 + 24 / 60 + 38.88 / 3600, abs=1e-12))
    assert position.commune is None
    with pytest.raises(GeosignalError) as caught:
        parse_position("50°24'38.88\"N 4°26'38.4\"W")  # west of Greenwich: not Belgium
    assert caught.value.code == "outside_service_area"
    assert caught.value.extra["candidates"][0]["lon"] == pytest.approx(-4.444, abs=TOL)


@pytest.mark.parametrize("text", ["50°24'38.88\"N 4°26'38.4\"O", "50,4108 N 4,4440 O", "N 50,4108 O 4,4440",
                                  "50.4108 noord, oost 4.444"])
def test_o_is_read_as_the_dutch_oost_where_ouest_would_leave_the_territory(commune_at, text: str) -> None:  # noqa: ANN001
    """The Dutch pages write east « O » (oost), which the reader took for the French « O »
    (ouest): a position copied from a Dutch preview landed west of Greenwich. Both readings are
    tried and the one in a commune served is kept."""
    position = parse_position(text, commune_at)
    assert (position.lon, position.lat) == (pytest.approx(LON, abs=2e-4), pytest.approx(LAT, abs=2e-4))
    assert position.commune == ("52011", "Charleroi")


def test_lambert_coordinates_in_both_orders_inside_the_territory_are_asked(commune_at) -> None:  # noqa: ANN001
    """x=140000 y=141000 and x=141000 y=140000 are both in Seneffe: nothing is chosen silently."""
    with pytest.raises(GeosignalError) as caught:
        parse_position("140000 141000", commune_at)
    error = caught.value
    assert (error.code, error.status, error.where) == ("ambiguous_coordinates", 422, "coordinates")
    assert [c["order"] for c in error.extra["candidates"]] == ["x_y", "y_x"]
    assert {c["commune"]["name_fr"] for c in error.extra["candidates"]} == {"Seneffe"}
    # a label settles it
    labelled = parse_position("x=140000 y=141000", commune_at)
    assert labelled.order == "x_y" and labelled.commune[1] == "Seneffe"
    swapped = parse_position("y=140000 x=141000", commune_at)
    assert swapped.order == "y_x" and swapped.values == (140000.0, 141000.0)
    assert abs(swapped.lon - labelled.lon) > 0.005


def test_degrees_plausible_in_both_orders_are_asked() -> None:
    """Anywhere both readings fall in a served place (a territory accepting everything here),
    the person is asked."""
    with pytest.raises(GeosignalError) as caught:
        parse_position("12.5, 41.9", lambda lon, lat: ("00000", "partout"))
    assert caught.value.code == "ambiguous_coordinates"
    assert [(c["lon"], c["lat"], c["order"]) for c in caught.value.extra["candidates"]] == [
        (41.9, 12.5, "lat_lon"), (12.5, 41.9, "lon_lat")]
    assert parse_position("12.5, 12.5", lambda lon, lat: ("00000", "partout")).order == "lat_lon"


def test_a_place_outside_the_territory_is_refused_with_what_was_tried(commune_at) -> None:  # noqa: ANN001
    with pytest.raises(GeosignalError) as caught:
        parse_position("50.85, 4.35", commune_at)  # Brussels
    error = caught.value
    assert (error.code, error.where) == ("outside_service_area", "coordinates")
    assert [c["order"] for c in error.extra["candidates"]] == ["lat_lon", "lon_lat"]
    # Lambert 72 numbers said to be Lambert 2008 land far away: refused, not reinterpreted
    with pytest.raises(GeosignalError) as caught:
        parse_position("EPSG:3812 155348.97 122214.95", commune_at)
    assert caught.value.code == "outside_service_area"


@pytest.mark.parametrize(("text", "code"), [
    ("", "unreadable_coordinates"),
    ("Charleroi", "unreadable_coordinates"),
    ("50.4108", "unreadable_coordinates"),
    ("50.4108 4.4440 120", "unreadable_coordinates"),         # no altitude
    ("50°61'00\"N 4°26'00\"E", "unreadable_coordinates"),     # minutes >= 60
    ("50.5°24'N 4°26'E", "unreadable_coordinates"),           # decimal degrees then minutes
    ("lat 50.4108 lat 4.4440", "unreadable_coordinates"),
    ("x=50.41 y=4.44", "unreadable_coordinates"),             # x/y are metres
    ("lat 155348 lon 122214", "unreadable_coordinates"),      # latitude in metres
    ("155348 622216", "unreadable_coordinates"),              # one L72, one L08 value
    ("-155348 122214", "unreadable_coordinates"),
    ("EPSG:2154 700000 7000000", "unsupported_crs"),
    ("EPSG:31370 50°24'N 4°26'E", "unreadable_coordinates"),  # DMS are not Lambert
    ("95.0 200.0", "unreadable_coordinates"),
    ("1" * 201, "unreadable_coordinates"),
])
def test_unreadable_input_is_a_coded_422_saying_where(commune_at, text: str, code: str) -> None:  # noqa: ANN001
    with pytest.raises(GeosignalError) as caught:
        parse_position(text, commune_at)
    assert caught.value.code == code
    assert caught.value.status == 422
    assert caught.value.where == "coordinates"
    assert caught.value.detail  # a French sentence saying what is wrong


def test_of_two_readings_in_communes_served_the_one_in_the_persons_own_commune_is_taken() -> None:
    """With the 581 Belgian communes, both orders of most Lambert pairs fall in some commune: a
    clerk of Gent typing 104500 194000 was asked whether she meant Gent or Dinant. The reading
    in her own commune is taken (the answer's order says which); without a commune (the
    referent), or when both readings are in it, she is still asked."""
    import json
    from pathlib import Path

    import shapely

    from geosignal.services.intake import ServiceArea
    from tests.conftest import COMMUNES_FILE

    doc = json.loads((Path(COMMUNES_FILE).parent / "communes_belgium_2021.geojson").read_text(encoding="utf-8"))
    belgium = ServiceArea((f["properties"]["nis_code"], f["properties"]["name_fr"], shapely.geometry.shape(f["geometry"]))
                          for f in doc["features"])
    with pytest.raises(GeosignalError) as caught:
        parse_position("104500 194000", belgium.commune_at)
    assert sorted(c["commune"]["nis_code"] for c in caught.value.extra["candidates"]) == ["44021", "91034"]
    gent = parse_position("104500 194000", belgium.commune_at, own_commune="44021")
    assert (gent.order, gent.commune) == ("x_y", ("44021", "Gand"))
    dinant = parse_position("104500 194000", belgium.commune_at, own_commune="91034")
    assert dinant.order == "y_x" and dinant.commune[0] == "91034"
    with pytest.raises(GeosignalError) as elsewhere:  # her commune is in neither reading: asked
        parse_position("104500 194000", belgium.commune_at, own_commune="52011")
    assert elsewhere.value.code == "ambiguous_coordinates"
