"""The report contract (geosignal/contract.py) owns a report's outward shape: the API Feature,
the exported Feature, the export's JSON Schema, OpenAPI, the map form and the upload mapping
each carry exactly the contract's properties, and a property both Features carry has the same
value in both."""

from __future__ import annotations

import io
import json
import re
import uuid
from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser

import jsonschema
import pytest
from markupsafe import escape as html_escape
from shapely.geometry import LineString, Point
from sqlalchemy import text, update

from geosignal import contract
from geosignal.models import Report
from geosignal.services import export as export_service
from geosignal.services.intake import properties as intake_properties
from tests.conftest import CHARLEROI, ROOT, csrf_token
from tests.factories import CHARLEROI_LAMBERT72, feature, square_lambert, to_geojson_4326

X0, Y0 = CHARLEROI_LAMBERT72
SCHEMA_FILE = ROOT / "data" / "dwconnect-export.schema.json"


def _post(account, geometry: dict, **props) -> dict:  # noqa: ANN001, ANN003
    response = account.post("/api/v1/reports", data=json.dumps(feature(geometry, **props)),
                            content_type="application/geo+json")
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _three_reports(representative) -> list[str]:  # noqa: ANN001
    """A point, a line and a zone in Charleroi, with every writable property somewhere."""
    return [
        _post(representative, to_geojson_4326(Point(X0, Y0)), households_affected=12, businesses_affected=0,
              observed_at="2026-03-29T01:30:00Z", description="Cafe\u0301 « L'Étoile »")["id"],
        _post(representative, to_geojson_4326(LineString([(X0, Y0 + 10), (X0 + 500, Y0 + 310)])),
              network="fixed", technologies=["DSL", "fibre"], operators=["Proximus", "VOO"],
              issue="slow_speed", setting="indoor")["id"],
        _post(representative, to_geojson_4326(square_lambert(X0 - 900, Y0 - 900, 300)),
              businesses_affected=3, issue=None, setting=None, description="")["id"],
    ]


def _exported(db) -> dict[str, dict]:  # noqa: ANN001
    """The exported Features by id, read through the export service on the real database."""
    chunks = export_service.iter_feature_collection(db, export_service.ExportFilters(statuses=None))
    return {f["id"]: f for f in json.loads("".join(chunks))["features"]}


# --------------------------------------------------------------------------- every form


def test_api_feature_carries_exactly_the_contract_api_properties(db, representative) -> None:
    ids = _three_reports(representative)
    listed = representative.get(f"/api/v1/reports?commune={CHARLEROI}").get_json()["features"]
    assert [f["id"] for f in listed] == ids
    for f in listed + [representative.get(f"/api/v1/reports/{i}").get_json() for i in ids]:
        assert list(f["properties"]) == list(contract.names(contract.API))
        jsonschema.validate(f["properties"], contract.output_properties_schema(contract.API),
                            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    assert "created_at" not in listed[0]["properties"]  # one name for the filing time: reported_at


def test_exported_feature_carries_exactly_the_contract_export_properties(db, representative) -> None:
    ids = _three_reports(representative)
    exported = _exported(db)
    assert set(exported) == set(ids)
    for f in exported.values():
        assert list(f["properties"]) == list(contract.names(contract.EXPORT))
    assert export_service.PROPERTY_NAMES == contract.names(contract.EXPORT)
    assert export_service.CSV_COLUMNS[: len(contract.names(contract.EXPORT))] == contract.names(contract.EXPORT)


def test_api_and_export_agree_on_every_property_they_share(db, representative) -> None:
    ids = _three_reports(representative)
    db.execute(update(Report).values(status="validated"))
    db.commit()
    exported = _exported(db)
    shared = [n for n in contract.names(contract.API) if n not in contract.API_ONLY]
    assert set(shared) < set(contract.names(contract.EXPORT))
    for rid in ids:
        api = representative.get(f"/api/v1/reports/{rid}").get_json()["properties"]
        assert {k: v for k, v in api.items() if k not in contract.API_ONLY} == \
            {name: exported[rid]["properties"][name] for name in shared}, rid
    point, line, zone = (representative.get(f"/api/v1/reports/{i}").get_json()["properties"] for i in ids)
    assert point["description"] == "Café « L'Étoile »"  # NFC (é as one code point)
    assert point["observed_at"] == "2026-03-29T03:30:00+02:00"
    assert (point["geometry_kind"], point["area_m2"], point["length_m"]) == ("point", None, None)
    assert line["geometry_kind"] == "line" and line["length_m"] == pytest.approx(583.1, abs=0.5)
    assert zone["geometry_kind"] == "zone" and zone["area_m2"] == pytest.approx(90_000, rel=0.01)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?\+0[12]:00", point["reported_at"])
    assert point["revision"] < line["revision"] < zone["revision"]


def test_json_schema_file_is_generated_from_the_contract() -> None:
    on_disk = SCHEMA_FILE.read_text(encoding="utf-8")
    generated = contract.export_schema()
    assert on_disk == json.dumps(generated, indent=2, ensure_ascii=False) + "\n"
    assert generated == export_service.export_schema()
    props = generated["$defs"]["feature"]["properties"]["properties"]
    assert list(props["properties"]) == list(contract.names(contract.EXPORT))
    # every property is required but those a minor version added (a 1.1.0 document stays valid)
    assert contract.EXPORT_ADDED == ("reference",)
    assert props["required"] == [n for n in contract.names(contract.EXPORT) if n != "reference"]
    assert props["additionalProperties"] is False
    assert generated["$id"].endswith(":" + contract.SCHEMA_VERSION) and export_service.SCHEMA_VERSION == \
        contract.SCHEMA_VERSION
    assert export_service.COLLAPSED in contract.EXCLUSION_REASONS
    assert export_service.GRID_DEG == 10 ** -contract.EXPORT_COORDINATE_DECIMALS


def test_openapi_carries_exactly_the_contract_properties(client) -> None:
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    assert list(schemas["ReportProperties"]["properties"]) == list(contract.names(contract.INPUT))
    feature_props = schemas["Feature"]["properties"]["properties"]
    assert list(feature_props["properties"]) == feature_props["required"] == list(contract.names(contract.API))
    assert feature_props["additionalProperties"] is False


class _Fields(HTMLParser):
    """Collect the ``name`` of every input, select and textarea of the form ``#report-form``."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.names: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == "report-form"
        elif self.inside and tag in ("input", "select", "textarea") and a.get("name"):
            if a["name"] not in self.names:
                self.names.append(a["name"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False


def test_map_form_carries_exactly_the_contract_form_properties(db, client, representative) -> None:
    representative.login()
    html = client.get("/carte").get_data(as_text=True)
    parser = _Fields()
    parser.feed(html)
    assert set(contract.FORM_CONTROLS) <= set(parser.names)
    fields = [n for n in parser.names if n not in contract.FORM_CONTROLS]
    # each once; the radius sits with the place (coordinates, position, address), the rest in order
    assert sorted(fields) == sorted(contract.names(contract.FORM))
    assert [n for n in fields if n != "radius"] == [n for n in contract.names(contract.FORM) if n != "radius"]
    for field in contract.form_fields():  # the label shown is the contract's (hidden: none)
        assert field["widget"] == "hidden" or f"{html_escape(field['label'])}" in html
    popup = json.loads(re.search(r'data-popup="([^"]*)"', html).group(1).replace("&#34;", '"'))
    assert [p["name"] for p in popup] == list(contract.names(contract.POPUP))
    assert set(contract.names(contract.POPUP)) <= set(contract.names(contract.API))


def test_map_form_post_stores_every_form_property(db, client, representative) -> None:
    representative.login()
    html = client.get("/carte").get_data(as_text=True)
    geometry = to_geojson_4326(Point(X0, Y0))
    response = client.post("/carte", data={
        "csrf_token": csrf_token(html), "idempotency_key": "contract-form-1", "geometry": json.dumps(geometry),
        "network": "fixed", "technologies": ["DSL", "fibre"], "operators": ["VOO"], "issue": "slow_speed",
        "setting": "indoor", "households_affected": "4", "businesses_affected": "1",
        "description": " Rue de la Gare ", "observed_at": "2026-03-01", "radius": "25"})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    stored = representative.get("/api/v1/reports").get_json()["features"][0]
    p = stored["properties"]
    assert (p["network"], p["technologies"], p["operators"], p["issue"], p["setting"]) == (
        "fixed", ["DSL", "fibre"], ["VOO"], "slow_speed", "indoor")
    assert (p["households_affected"], p["businesses_affected"]) == (4, 1)
    assert p["description"] == " Rue de la Gare " and p["observed_at"] == "2026-03-01T00:00:00+01:00"
    assert stored["geometry"]["type"] == "Polygon" and p["area_m2"] == pytest.approx(3.14159 * 25 ** 2, rel=0.01)


def test_upload_mapping_carries_exactly_the_contract_upload_properties(db, client, representative) -> None:
    upload = contract.names(contract.UPLOAD)
    assert upload == contract.names(contract.INPUT) == contract.names(contract.FORM)
    assert intake_properties.REPORT_PROPERTIES == upload
    assert tuple(intake_properties.HEADER_ALIASES) == upload
    for name, headers in {**contract.header_aliases(), **contract.coordinate_aliases()}.items():
        assert name in headers  # a column named like the property is recognised
        for header in headers:
            assert intake_properties._fold(header) == header
            assert intake_properties.match_header(header) == name
    # the upload page's manual mapping offers the coordinates, then exactly these properties
    representative.login()
    page = client.get("/import").get_data(as_text=True)
    offered = json.loads(re.search(r'data-fields="([^"]*)"', page).group(1).replace("&#34;", '"'))
    assert [f["name"] for f in offered] == list(contract.COORDINATE_COLUMNS) + list(upload)
    # a CSV whose columns carry the French labels' usual headers: every property lands
    header = "latitude;longitude;réseau;technologie;opérateur;problème;lieu;ménages;entreprises;" \
             "commentaire;date;rayon"
    row = "50,4108;4,4440;Fixe;ADSL, fibre;Base;weak_signal;indoor;7;2;Pas de réseau;01/03/2026;30"
    response = representative.post(
        "/api/v1/imports", data={"file": (io.BytesIO(f"{header}\n{row}\n".encode()), "campagne.csv"),
                                 "dry_run": "true"}, content_type="multipart/form-data")
    assert response.status_code == 200, response.get_json()
    [item] = response.get_json()["features"]
    assert item["status"] == "accepted"
    assert [w["code"] for w in item["warnings"]] == ["circle_to_polygon"]  # nothing dropped nor ignored
    p = item["properties"]
    assert (p["network"], p["technologies"], p["operators"], p["issue"], p["setting"]) == (
        "fixed", ["DSL", "fibre"], ["Telenet/BASE"], "weak_signal", "indoor")
    assert (p["households_affected"], p["businesses_affected"], p["description"]) == (7, 2, "Pas de réseau")
    assert p["observed_at"] == "2026-03-01T00:00:00+01:00"
    assert p["geometry_kind"] == "zone" and p["area_m2"] == pytest.approx(3.14159 * 30 ** 2, rel=0.01)


# --------------------------------------------------------------------------- SQL and formats


def _squash(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()


def test_feature_properties_sql_is_what_the_export_builds() -> None:
    assert _squash(contract.feature_properties_args_sql()) == _squash(export_service.PROPERTIES_SQL)
    assert _squash(contract.feature_properties_sql(bind=False)) in _squash(export_service.feature_function_sql())
    assert _squash(contract.feature_joins_sql()) in _squash(export_service.feature_function_sql())
    other = contract.feature_properties_sql("rr", "cc", "uu", bind=False)
    assert not re.search(r"\b[rcu]\.", other) and "rr.commune_nis" in other and "cc.name_fr" in other


def test_feature_properties_sql_runs_with_other_aliases(db, representative) -> None:
    [rid, *_] = _three_reports(representative)
    db.execute(text("SET LOCAL TimeZone = 'Europe/Brussels'"))
    live = db.execute(text(
        f"SELECT {contract.feature_properties_sql('rep', 'com', 'usr')}::text FROM reports rep "
        f"{contract.feature_joins_sql('rep', 'com', 'usr')} WHERE rep.id = :id"),
        {"id": uuid.UUID(rid), **contract.feature_properties_params()}).scalar_one()
    assert json.loads(live) == _exported(db)[rid]["properties"]


@pytest.mark.parametrize("instant", [
    datetime(2026, 3, 29, 1, 30, tzinfo=UTC),                        # just after the spring switch
    datetime(2026, 1, 5, 8, 0, 0, 120000, tzinfo=UTC),               # trailing zeros in the fraction
    datetime(2026, 7, 1, 10, 0, 0, 1, tzinfo=UTC),                   # one microsecond
    datetime(2026, 10, 25, 0, 59, 59, 999999, tzinfo=UTC),           # last summer-time instant
    datetime(2026, 2, 1, 12, 0, tzinfo=timezone(timedelta(hours=-5))),
])
def test_times_are_written_as_postgresql_writes_them(db, instant: datetime) -> None:
    db.execute(text("SET LOCAL TimeZone = 'Europe/Brussels'"))
    written = db.execute(text("SELECT json_build_object('t', CAST(:t AS timestamptz))->>'t'"), {"t": instant}).scalar()
    assert contract.format_datetime(instant) == written


def test_coordinates_api_nine_decimals_export_six(db, representative) -> None:
    lon, lat = 4.4440123456789, 50.4108987654321
    rid = _post(representative, {"type": "Point", "coordinates": [lon, lat]})["id"]
    api = representative.get(f"/api/v1/reports/{rid}").get_json()["geometry"]["coordinates"]
    assert api == [round(lon, contract.API_COORDINATE_DECIMALS), round(lat, contract.API_COORDINATE_DECIMALS)]
    exported = _exported(db)[rid]["geometry"]["coordinates"]
    assert exported == [round(lon, contract.EXPORT_COORDINATE_DECIMALS),
                        round(lat, contract.EXPORT_COORDINATE_DECIMALS)]


def test_the_contract_is_consistent() -> None:
    contract._check()
    assert contract.names(contract.INPUT) == tuple(p.name for p in contract.PROPERTIES if p.writable)
    assert [p.name for p in contract.PROPERTIES if p.required] == ["network"]
    for p in contract.PROPERTIES:
        jsonschema.Draft202012Validator.check_schema(p.schema)
        if p.input_schema:
            jsonschema.Draft202012Validator.check_schema(p.input_schema)
        assert p.label and p.label[0].isupper()
    with pytest.raises(ValueError):
        contract.names("csv")


def test_dwconnect_documentation_lists_exactly_the_exported_properties() -> None:
    doc = (ROOT / "docs" / "dwconnect.md").read_text(encoding="utf-8")
    section = doc.split("Properties, always all present, in this order:")[1].split("\n\n")[1]
    listed = [name for line in section.splitlines()[2:] for name in re.findall(r"`([a-z0-9_]+)`", line.split("|")[1])]
    assert listed == list(contract.names(contract.EXPORT))


_VALID = {"vocab": lambda p: p.vocab[-1], "vocab_list": lambda p: [p.vocab[-1]], "count": lambda p: 3,
          "text": lambda p: "Rue de l'Église", "datetime": lambda p: "2026-01-05", "metres": lambda p: 25}


def test_intake_keeps_every_writable_property_of_the_contract() -> None:
    props = {p.name: _VALID[p.kind](p) for p in contract.properties(contract.INPUT)}
    kept = intake_properties.validate_properties(props)
    assert sorted(kept) == sorted(contract.names(contract.INPUT))
    assert kept["observed_at"].isoformat() == "2026-01-05T00:00:00+01:00" and kept["radius"] == 25.0
    jsonschema.validate(props, contract.input_properties_schema(),
                        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def test_the_report_form_checks_the_network_by_intakes_own_rule(app) -> None:  # noqa: ANN001
    """The map and edit forms say a technology of the other network as it is chosen, from the
    data the page is given: the very table intake warns by (one declaration, vocab), and the
    sentence of the notice after filing."""
    from geosignal import ui_text

    with app.test_request_context(headers={"Accept-Language": "fr"}):
        check = ui_text.network_check()
        assert {n: frozenset(ts) for n, ts in check["technologies"].items()} == intake_properties.NETWORK_TECHNOLOGIES
        props = {"network": "fixed", "technologies": ["4G", "fibre"]}
        warning = intake_properties.network_mismatch(props)
        said = check["sentence"] % {"technologies": "4G", "network": check["networks"]["fixed"]}
        assert said == ui_text.network_mismatch_sentence(warning["network"], warning["technologies"])
