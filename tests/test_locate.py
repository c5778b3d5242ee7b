"""Reporting without the map and drawing with feedback, through the test client: the limits
endpoint, typed coordinates read by the server, the address search proxied to a local stub,
a report placed by coordinates with a plain form POST, the server's coded errors next to the
field they concern; base maps (layers, CSP origins, bad settings refused); neighbours."""

from __future__ import annotations

import html
import json
import math
import re

import pytest
from sqlalchemy import func, select

from geosignal.config import ConfigError, load_config
from geosignal.models import Report
from geosignal.services import drawing
from tests.conftest import CHARLEROI, configured, csrf_token
from tests.factories import said_in_each_language
from tests.stub_services import PLACE_CHARLES_II, stub_services

STRONG = "9f1c2b7e4d6a8035b1e2c3d4f5a6978812ab34cd56ef7890aa11bb22cc33dd44"
CHARLEROI_NEIGHBOURS = ["52012", "52015", "52021", "52022", "52025", "52048", "52055", "52075", "56086"]



# ------------------------------------------------------------------------------------ limits

def test_limits_are_the_intakes_and_carry_the_commune(client, representative, referent) -> None:  # noqa: ANN001
    assert client.get("/api/v1/limits").status_code == 401
    body = representative.get("/api/v1/limits?commune=56016").get_json()  # a representative gets their own
    assert (body["min_area_m2"], body["max_area_m2"], body["max_vertices"], body["service_margin_m"]) == \
        (100.0, 200e6, 10_000, 1000.0)
    assert body["commune"]["nis_code"] == CHARLEROI and body["commune"]["name_fr"] == "Charleroi"
    assert body["commune"]["geometry"]["type"] == "MultiPolygon"
    west, south, east, north = body["territory_bbox"]
    assert 3.9 < west < 4.2 and 49.9 < south < 50.0 and 4.6 < east < 4.8 and 50.5 < north < 50.7
    ref = referent.get("/api/v1/limits").get_json()
    assert ref["commune"] is None and ref["min_area_m2"] == 100.0
    assert referent.get("/api/v1/limits?commune=56016").get_json()["commune"]["name_fr"] == "Chimay"
    assert referent.get("/api/v1/limits?commune=99999").status_code == 422
    for unknown in ("99999", "abc", "052011", "52011,99999"):  # a representative's too (it was ignored)
        refused = representative.get(f"/api/v1/limits?commune={unknown}")
        assert (refused.status_code, refused.get_json()["code"], refused.get_json()["where"]) == \
            (422, "unknown_commune", "commune")


def test_limits_say_how_the_server_measures_a_shape(referent) -> None:  # noqa: ANN001
    """The page measures a drawn shape as the server does: in EPSG:31370 through a PROJ string
    for proj4js that carries PROJ's datum shift (it lands where pyproj puts it, within 1 mm),
    a point with a radius as the 64-sided polygon stored."""
    import pyproj

    measure = referent.get("/api/v1/limits").get_json()["measure"]
    assert measure["crs"] == "EPSG:31370" and measure["circle_segments"] == 64
    assert "+proj=lcc" in measure["proj4"] and "+ellps=intl" in measure["proj4"]
    assert "+towgs84=-106.8686,52.2978,-103.7239,0.3366,-0.457,1.8422,-1.2747" in measure["proj4"]
    server = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:31370", always_xy=True)
    page = pyproj.Transformer.from_crs(pyproj.CRS(4326), pyproj.CRS.from_proj4(measure["proj4"]), always_xy=True)
    for lon, lat in [(4.4442, 50.4108), (4.1, 50.05), (4.62, 50.58)]:
        assert math.dist(server.transform(lon, lat), page.transform(lon, lat)) < 0.001


def test_neighbours_are_the_touching_communes(db) -> None:  # noqa: ANN001
    assert drawing.neighbour_codes(db, CHARLEROI) == CHARLEROI_NEIGHBOURS
    commune, neighbours = drawing.commune_and_neighbours(db, CHARLEROI)
    assert commune["id"] == CHARLEROI and [f["id"] for f in neighbours] == CHARLEROI_NEIGHBOURS


def test_map_page_draws_the_commune_and_its_neighbours(representative) -> None:  # noqa: ANN001
    representative.login()
    page = representative.client.get("/carte").get_data(as_text=True)
    # the map's script holds the neighbours' names (JSON \u escapes, HTML-escaped for tooltips)
    text = html.unescape(re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), page))
    for name in ("Fontaine-l'Evêque", "Châtelet", "Courcelles", "Ham-sur-Heure-Nalinnes", "Les Bons Villers"):
        assert f'"name": "{name}"' in text
    assert "Chimay" not in text


# ------------------------------------------------------------------------------- coordinates

def test_coordinates_endpoint_reads_and_asks(client, representative) -> None:  # noqa: ANN001
    assert client.get("/api/v1/coordinates?q=50.41,4.44").status_code == 401
    ok = representative.get("/api/v1/coordinates", query_string={"q": "50°24'38.88\"N 4°26'38.4\"E"})
    assert ok.status_code == 200
    body = ok.get_json()
    assert body["lon"] == pytest.approx(4.444, abs=1e-6) and body["lat"] == pytest.approx(50.4108, abs=1e-6)
    assert (body["notation"], body["order"], body["crs"]) == ("dms", "lat_lon", "EPSG:4326")
    assert body["commune"] == {"nis_code": CHARLEROI, "name_fr": "Charleroi"}
    ambiguous = representative.get("/api/v1/coordinates?q=140000 141000")
    assert ambiguous.status_code == 422 and ambiguous.mimetype == "application/problem+json"
    problem = ambiguous.get_json()
    assert problem["code"] == "ambiguous_coordinates" and problem["where"] == "coordinates"
    assert [c["order"] for c in problem["candidates"]] == ["x_y", "y_x"]
    bad = representative.get("/api/v1/coordinates?q=Charleroi").get_json()
    assert bad["code"] == "unreadable_coordinates"
    # detail in English, as every problem's; the message in the page's language
    empty = representative.get("/api/v1/coordinates?q=").get_json()
    assert (empty["detail"], empty["message"]) == (
        "type two coordinates, for example 50.4108, 4.4440",
        "Coordonnées illisibles : donnez deux nombres (WGS 84, degrés-minutes-secondes ou Lambert belge).")


# ----------------------------------------------------------------------------- address search

def test_address_search_goes_through_the_configured_service(app, client, representative) -> None:  # noqa: ANN001
    assert client.get("/carte/adresses?q=Place Charles II").status_code == 401
    with stub_services() as stub, configured(app, GEOCODER_URL=stub.base + "/search"):
        response = representative.get("/carte/adresses", query_string={"q": "Place Charles II"},
                                      headers={"Accept": "application/json"})
        assert response.status_code == 200
        results = response.get_json()["results"]
        assert results == [
            {"label": "Place Charles II, Charleroi, Hainaut, Wallonie, 6000, Belgique",
             "lon": PLACE_CHARLES_II[0], "lat": PLACE_CHARLES_II[1],
             "commune": {"nis_code": CHARLEROI, "name_fr": "Charleroi"}},
            {"label": "Place Charles II, Bruxelles, 1000, Belgique", "lon": 4.3525, "lat": 50.8467, "commune": None},
        ]  # the NaN one is dropped
        (query,) = stub.of("/search")
        assert query["q"] == ["Place Charles II"] and query["format"] == ["jsonv2"]
        assert query["countrycodes"] == ["be"] and query["bounded"] == ["1"] and query["accept-language"] == ["fr"]
        west, north, east, south = map(float, query["viewbox"][0].split(","))
        assert west < 4.2 < 4.6 < east and south < 50.0 < 50.5 < north
        assert stub.requests[0][2]["User-Agent"].startswith("geosignal/")


@pytest.mark.parametrize("answer", [(500, "text/plain", b"boom"), (200, "text/html", b"<html>maintenance</html>"),
                                    (200, "application/json", b'{"error": "x"}')])
def test_a_failing_address_service_is_a_coded_503(app, representative, answer) -> None:  # noqa: ANN001
    with stub_services() as stub, configured(app, GEOCODER_URL=stub.base + "/search"):
        stub.search_answer = answer
        response = representative.get("/carte/adresses?q=Rue de la Gare", headers={"Accept": "application/json"})
    assert response.status_code == 503 and response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "geocoder_unavailable"


def test_an_odd_answer_of_the_address_service_is_no_500(app, representative) -> None:  # noqa: ANN001
    """A list nested deeper than the JSON reader goes is 503; an entry whose coordinate is an
    integer too large for a double (OverflowError, not ValueError) is skipped, the others kept."""
    with stub_services() as stub, configured(app, GEOCODER_URL=stub.base + "/search"):
        stub.search_answer = (200, "application/json", b"[" * 100_000 + b"]" * 100_000)
        deep = representative.get("/carte/adresses?q=Rue de la Gare", headers={"Accept": "application/json"})
        stub.search_answer = (200, "application/json",
                              b'[{"lat": 50.41, "lon": ' + b"9" * 400 + b', "display_name": "x"},'
                              b' {"lat": 1' + b"0" * 400 + b', "lon": 4.44, "display_name": "y"},'
                              b' {"lat": "50.4108", "lon": "4.4440", "display_name": "Place Charles II"}]')
        huge = representative.get("/carte/adresses?q=Rue de la Gare", headers={"Accept": "application/json"})
    assert deep.status_code == 503 and deep.get_json()["code"] == "geocoder_unavailable"
    assert huge.status_code == 200
    assert [r["label"] for r in huge.get_json()["results"]] == ["Place Charles II"]


def test_address_search_off_or_bad_query(app, representative) -> None:  # noqa: ANN001
    with configured(app, GEOCODER_URL=""):
        off = representative.get("/carte/adresses?q=Rue de la Gare", headers={"Accept": "application/json"})
    assert off.status_code == 503 and off.get_json()["code"] == "geocoder_unavailable"
    short = representative.get("/carte/adresses?q=ab", headers={"Accept": "application/json"})
    assert short.status_code == 400 and short.get_json()["where"] == "q"


# ----------------------------------------------------------------- the map form without the map

def _map_form(representative, **fields: str):  # noqa: ANN001, ANN202
    representative.login()
    page = representative.client.get("/carte").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    data = {"csrf_token": csrf_token(page), "idempotency_key": key, "geometry": "", "network": "mobile", **fields}
    return representative.client.post("/carte", data=data)


def test_a_report_placed_by_coordinates_with_a_radius_is_a_zone(db, representative) -> None:  # noqa: ANN001
    response = _map_form(representative, coordinates="50,4108 4,4440", radius="50", issue="no_coverage")
    assert response.status_code == 302
    report = db.scalar(select(Report))
    assert report.commune_nis == CHARLEROI and report.issue == "no_coverage"
    area = db.scalar(select(func.ST_Area(func.ST_Transform(Report.geometry, 31370))))
    assert area == pytest.approx(32 * 50 ** 2 * math.sin(2 * math.pi / 64), rel=1e-3)  # 64-gon of radius 50 m
    lon, lat = db.execute(select(func.ST_X(func.ST_Centroid(Report.geometry)),
                                 func.ST_Y(func.ST_Centroid(Report.geometry)))).one()
    assert (lon, lat) == (pytest.approx(4.444, abs=1e-6), pytest.approx(50.4108, abs=1e-6))


@pytest.mark.parametrize(("typed", "fr", "nl", "en"), [
    ("1,000", "Rayon (m) : « 1,000 » se lit 1000 ou 1 : écrivez le nombre sans séparateur de milliers.",
     "Straal (m): ‘1,000’ kan 1000 of 1 betekenen: schrijf het getal zonder scheidingsteken voor duizendtallen.",
     "Radius (m): ‘1,000’ reads as 1000 or 1: write the number without a thousands separator."),
    ("1.500", "Rayon (m) : « 1.500 » se lit 1500 ou 1,5 : écrivez le nombre sans séparateur de milliers.",
     "Straal (m): ‘1.500’ kan 1500 of 1,5 betekenen: schrijf het getal zonder scheidingsteken voor duizendtallen.",
     "Radius (m): ‘1.500’ reads as 1500 or 1.5: write the number without a thousands separator."),
])
def test_a_radius_with_a_thousands_or_a_decimal_separator_is_said_with_its_two_readings(
        app, db, representative, typed: str, fr: str, nl: str, en: str) -> None:  # noqa: ANN001
    """« 1,000 » (an English thousand) or « 1.500 » (a Dutch one) is refused, never guessed; the
    page said « écrivez un nombre de mètres plus grand que 0 », which she had done: it says the
    two readings, as the speed-test form does, in the person's language."""
    response = _map_form(representative, coordinates="50,4108 4,4440", radius=typed)
    assert response.status_code == 422
    assert fr in html.unescape(response.get_data(as_text=True))
    assert db.scalar(select(func.count()).select_from(Report)) == 0
    answer = representative.post("/api/v1/reports", json={"type": "Feature", "properties": {
        "network": "mobile", "radius": typed}, "geometry": {"type": "Point", "coordinates": [4.444, 50.4108]}})
    problem = answer.get_json()
    assert (answer.status_code, problem["code"], problem["where"], problem["kind"], problem["value"]) == (
        422, "invalid_attribute", "/properties/radius", "ambiguous_separator", typed)
    assert said_in_each_language(app, problem) == {"fr": fr, "nl": nl, "en": en}


def test_a_point_typed_in_lambert_72_is_stored_where_it_is(db, representative) -> None:  # noqa: ANN001
    assert _map_form(representative, coordinates="x=155348.97 y=122214.95").status_code == 302
    lon, lat = db.execute(select(func.ST_X(Report.geometry), func.ST_Y(Report.geometry))).one()
    assert (lon, lat) == (pytest.approx(4.444, abs=1e-6), pytest.approx(50.4108, abs=1e-6))


def _error_box(page: str, field: str) -> str:
    match = re.search(rf'<div class="field-error" id="{field}-error" role="alert"[^>]*>(.*?)</div>', page, re.S)
    assert match, f"no error next to {field}"
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))).strip()


def test_ambiguous_coordinates_are_asked_next_to_the_field(db, representative) -> None:  # noqa: ANN001
    response = _map_form(representative, coordinates="140000 141000", description="à garder")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "précisez lequel est la latitude" in _error_box(page, "coordinates")
    assert 'aria-invalid="true"' in page.split('id="coordinates"')[1].split(">")[0]
    assert '>\n140000 141000</textarea>' in page and "à garder" in page  # nothing typed is lost (a textarea)
    assert db.scalar(select(func.count()).select_from(Report)) == 0


def test_the_servers_errors_sit_next_to_the_shape_and_the_field(db, representative) -> None:  # noqa: ANN001
    tiny = json.dumps({"type": "Polygon", "coordinates": [[[4.444, 50.41], [4.44405, 50.41], [4.44405, 50.41005],
                                                           [4.444, 50.41005], [4.444, 50.41]]]})
    response = _map_form(representative, geometry=tiny)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    message = _error_box(page, "geometry")
    assert re.fullmatch(r"Zone trop petite \(\d+ m²\) : dessinez au moins 100 m², ou placez un point\.", message), message
    assert 'data-code="area_too_small"' in page and 'data-step="form"' in page
    assert "area_too_small" not in re.sub(r"<[^>]+>", "", page)  # the code is not shown as text
    crossing = json.dumps({"type": "Polygon", "coordinates": [[[4.43, 50.40], [4.45, 50.41], [4.45, 50.40],
                                                               [4.43, 50.41], [4.43, 50.40]]]})
    page = _map_form(representative, geometry=crossing).get_data(as_text=True)
    assert "se croise lui-même" in _error_box(page, "geometry")
    assert "data-error-location=" in page  # the crossing is marked on the map
    counts = _map_form(representative, coordinates="50.4108 4.444", households_affected="-3")
    assert counts.status_code == 422
    page = counts.get_data(as_text=True)
    assert _error_box(page, "households_affected") == (
        "Écrivez un nombre entier de 0 à 1\u202f000\u202f000, en chiffres et sans séparateur.")
    assert 'aria-describedby="households_affected-error"' in page
    assert db.scalar(select(func.count()).select_from(Report)) == 0


# ---------------------------------------------------------------------------------- base maps

LAYERS = [
    {"name": "Carte A", "type": "xyz", "url": "https://{s}.tiles.example.org/{z}/{x}/{y}.png", "attribution": "© A"},
    {"name": "Plan B", "type": "wms", "url": "https://wms.example.be:8443/service", "layers": "1,3",
     "attribution": "© B"},
    {"name": "Tuiles C", "type": "wmts", "url": "https://wmts.example.net/wmts", "layer": "ortho",
     "tilematrixset": "GoogleMapsCompatible", "format": "image/jpeg", "attribution": "© C"},
]


def test_every_base_map_origin_is_in_the_csp_and_a_switcher_offers_them(app, representative) -> None:  # noqa: ANN001
    representative.login()
    with configured(app, BASEMAPS=json.dumps(LAYERS), TILE_URL=""):
        response = representative.client.get("/carte")
    csp = response.headers["Content-Security-Policy"]
    assert ("img-src 'self' data: https://*.tiles.example.org https://wms.example.be:8443 "
            "https://wmts.example.net;") in csp
    assert "connect-src 'self';" in csp and "script-src 'self' 'nonce-" in csp
    page = response.get_data(as_text=True)
    assert "L.tileLayer.wms(" in page and '"https://wms.example.be:8443/service"' in page and '"layers": "1,3"' in page
    assert ("https://wmts.example.net/wmts?SERVICE=WMTS\\u0026REQUEST=GetTile" in page
            or "https://wmts.example.net/wmts?SERVICE=WMTS&REQUEST=GetTile" in page)
    assert "L.control.layers(" in page
    for name in ("Carte A", "Plan B", "Tuiles C"):
        assert f'"{name}"' in page


def test_without_tiles_there_is_no_base_map_and_no_outside_origin(representative) -> None:  # noqa: ANN001
    representative.login()
    page = representative.client.get("/carte")
    assert "img-src 'self' data:;" in page.headers["Content-Security-Policy"]
    assert "L.tileLayer" not in page.get_data(as_text=True)


@pytest.mark.parametrize(("raw", "message"), [
    ("not json", "GEOSIGNAL_BASEMAPS must be JSON"),
    ('{"name": "x"}', "GEOSIGNAL_BASEMAPS must be a JSON list"),
    ('[{"name": "A", "type": "tms", "url": "https://a.example/{z}/{x}/{y}"}]', r"GEOSIGNAL_BASEMAPS\[0\].type"),
    ('[{"name": "A", "type": "wms", "url": "https://a.example/wms"}]', r"GEOSIGNAL_BASEMAPS\[0\].layers"),
    ('[{"name": "A", "url": "a.example/{z}/{x}/{y}"}]', "http\\(s\\) URL with a host"),
    ('[{"name": "A", "url": "https://a.example/tile.png"}]', "must contain"),
    ('[{"name": "A", "url": "https://a.example/{z}/{x}/{y}", "colour": "red"}]', "unknown member"),
])
def test_bad_base_maps_stop_the_start(tmp_path, raw: str, message: str) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path, environ={"GEOSIGNAL_BASEMAPS": raw, "GEOSIGNAL_SECRET_KEY": STRONG})


def test_base_map_names_are_in_the_readers_language(app) -> None:  # noqa: ANN001
    """geosignal's own layer names (standard set, the TILE_URL layer) are shown in the page's
    language; a name set in GEOSIGNAL_BASEMAPS is shown as written."""
    from geosignal.views.pages import base_layers

    osm = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    names = {}
    with configured(app, TILE_URL=osm, BASEMAPS=None):
        for lang in ("fr", "nl", "en"):
            with app.test_request_context("/", headers={"Accept-Language": lang}):
                names[lang] = [layer.name for layer in base_layers()]
    assert names == {"fr": ["OpenStreetMap", "Plan PICC (SPW)", "Photo aérienne (SPW)"],
                     "nl": ["OpenStreetMap", "PICC-kaart (SPW)", "Luchtfoto (SPW)"],
                     "en": ["OpenStreetMap", "PICC map (SPW)", "Aerial photo (SPW)"]}
    own = json.dumps([{"name": "Plan PICC (SPW)", "type": "xyz", "url": "https://a.example/{z}/{x}/{y}.png"},
                      {"name": "Plan communal", "type": "xyz", "url": "https://b.example/{z}/{x}/{y}.png"}])
    with configured(app, TILE_URL="https://tiles.intranet.local/{z}/{x}/{y}.png", BASEMAPS=own), \
            app.test_request_context("/", headers={"Accept-Language": "nl"}):
        assert [layer.name for layer in base_layers()] == ["Achtergrondkaart", "PICC-kaart (SPW)", "Plan communal"]


def test_standard_layers_follow_the_tile_url(tmp_path) -> None:  # noqa: ANN001
    from geosignal.services.basemaps import csp_origins, layers_from_config

    osm = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    config = load_config(tmp_path, environ={"GEOSIGNAL_TILE_URL": osm, "GEOSIGNAL_SECRET_KEY": STRONG})
    layers = layers_from_config(config)
    assert [(x.name, x.kind) for x in layers] == [("OpenStreetMap", "xyz"), ("Plan PICC (SPW)", "wms"),
                                                  ("Photo aérienne (SPW)", "wms")]
    assert csp_origins(layers) == ["https://tile.openstreetmap.org", "https://geoservices.wallonie.be"]
    assert layers_from_config({"TILE_URL": "", "BASEMAPS": None}) == ()
    assert layers_from_config({"TILE_URL": osm, "BASEMAPS": []})[0].url == osm  # TILE_URL alone
    own = layers_from_config({"TILE_URL": "https://tiles.intranet.local/{z}/{x}/{y}.png", "TILE_ATTRIBUTION": "© nous"})
    assert (own[0].name, own[0].attribution) == ("Fond de carte", "© nous") and len(own) == 4


@pytest.mark.parametrize("end", ["\r", "\u2028", "\x0b", "\r\n"])
def test_typed_lines_are_counted_as_they_are_read(client, representative, end) -> None:  # noqa: ANN001
    # the limit counted "\n" only; the lines are read with str.splitlines: 1,500 positions ended
    # by CR (or U+2028, VT) made a zone of 1,500 vertices, through the map form too
    lines = [f"50.41{k:04d} 4.44" for k in range(1500)]
    answer = representative.get("/api/v1/coordinates", query_string={"q": end.join(lines)})
    body = answer.get_json()
    assert (answer.status_code, body["code"], body["kind"], body["limit"]) == (
        422, "unreadable_coordinates", "too_many_lines", 1000)
    # 1,000 lines, the last one ended too, are read
    assert representative.get("/api/v1/coordinates",
                              query_string={"q": end.join(lines[:1000]) + end}).get_json().get("kind") != "too_many_lines"
