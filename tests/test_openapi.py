"""The OpenAPI document: valid OpenAPI 3.1, every /api/v1 and /ogc route documented, and the
report-properties schema accepting exactly what the intake's validator accepts."""

from __future__ import annotations

import itertools

import jsonschema
import pytest
from openapi_spec_validator import validate

from geosignal import contract, vocab
from geosignal.errors import ERROR_CODES, GeosignalError
from geosignal.services.intake import validate_properties
from geosignal.services.intake.properties import MAX_COUNT, MAX_DESCRIPTION_CHARS, REPORT_PROPERTIES
from geosignal.services.openapi import report_properties_schema


def test_openapi_document_is_valid_and_documents_every_route(app, client) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/vnd.oai.openapi+json;version=3.1"
    doc = response.get_json()
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/api/v1/", "/ogc")):
            path = rule.rule.replace("<", "{").replace(">", "}")
            path = "/ogc" if path == "/ogc/" else path
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                routes.add((path, method.lower()))
    assert routes and routes == documented
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    post = doc["paths"]["/api/v1/reports"]["post"]
    assert post["requestBody"]["content"]["application/geo+json"]["schema"]["$ref"].endswith("ReportFeatureInput")
    schemas = doc["components"]["schemas"]
    assert list(schemas["ReportProperties"]["properties"]) == list(contract.names(contract.INPUT))
    assert schemas["ReportProperties"]["required"] == ["network"]
    assert list(schemas["Feature"]["properties"]["properties"]["properties"]) == list(contract.names(contract.API))
    assert schemas["Feature"]["properties"]["properties"]["additionalProperties"] is False
    assert doc["components"]["schemas"]["Problem"]["properties"]["code"]["enum"] == sorted(ERROR_CODES)
    export = {p["name"]: p for p in doc["paths"]["/api/v1/exports/dwconnect.csv"]["get"]["parameters"]}
    assert {"status", "commune", "bbox", "since", "dialect", "decimal"} <= set(export)
    # an integrator trial: mark_transmitted was declared on the GETs, which answer it 405
    for path in ("/api/v1/exports/dwconnect", "/api/v1/exports/dwconnect.csv", "/api/v1/exports/dwconnect.gpkg"):
        names = {m: [p["name"] for p in doc["paths"][path][m]["parameters"]] for m in ("get", "post")}
        assert "mark_transmitted" not in names["get"] and "mark_transmitted" in names["post"], path
    assert not [p for ops in doc["paths"].values() for op in ops.values() for p in op["parameters"]
                if any(key.startswith("x-geosignal") for key in p)]
    # the headers the writes take: If-Match (PATCH, transitions), Idempotency-Key (POST)
    def headers(path: str, method: str) -> list[str]:
        return [p["name"] for p in doc["paths"][path][method]["parameters"] if p["in"] == "header"]
    assert headers("/api/v1/reports/{report_id}", "patch") == ["If-Match"]
    assert headers("/api/v1/reports/{report_id}/transitions", "post") == ["If-Match"]
    assert headers("/api/v1/reports", "post") == ["Idempotency-Key"]
    assert "security" in doc["paths"]["/api/v1/exports/dwconnect"]["get"]
    assert "security" not in doc["paths"]["/ogc/collections"]["get"]
    # the conditional GETs say so: If-None-Match taken, 304 answered
    for path in ("/api/v1/reports/{report_id}", "/api/v1/exports/runs/{run_id}/download", "/api/v1/communes"):
        op = doc["paths"][path]["get"]
        assert {"200", "304"} <= set(op["responses"]), path
        assert [p["in"] for p in op["parameters"] if p["name"] == "If-None-Match"] == ["header"], path


def test_the_documented_schemas_refuse_what_the_service_refuses(client, representative, referent) -> None:  # noqa: ANN001
    """An integrator trial ran schemathesis on the document: ``"coordinates": [null, null]`` was
    schema-valid (the service refuses it, 422), and an empty ``to=`` was not (the service reads
    it as no bound, as a form sends an unfilled field)."""
    from jsonschema import Draft202012Validator, FormatChecker

    doc = client.get("/api/v1/openapi.json").get_json()
    schemas = doc["components"]["schemas"]

    def valid(schema: dict, value: object) -> bool:  # the document's $refs resolved in it
        root = {**schema, "components": doc["components"]}
        return Draft202012Validator(root, format_checker=FormatChecker()).is_valid(value)

    feature = {"type": "Feature", "properties": {"network": "mobile"}}
    for coordinates, expected in (([4.44, 50.41], True), ([None, None], False), ([[4.44, 50.41], [4.45, 50.42]], True),
                                  ([[4.44, None]], False), ([], False)):
        assert valid(schemas["ReportFeatureInput"], {
            **feature, "geometry": {"type": "Point", "coordinates": coordinates}}) is expected, coordinates
    response = representative.post("/api/v1/reports", json={**feature, "geometry": {"type": "Point",
                                                                                   "coordinates": [None, None]}})
    assert (response.status_code, response.get_json()["code"]) == (422, "invalid_coordinate")
    to = {p["name"]: p for p in doc["paths"]["/api/v1/stats/communes"]["get"]["parameters"]}["to"]["schema"]
    for value, expected in (("", True), ("2025-06-30", True), ("30/06/2025", False), ("2025-13-01", False),
                            ("1139-04-07", False)):
        assert valid(to, value) is expected, value
    assert referent.get("/api/v1/stats/communes?to=").status_code == 200
    assert referent.get("/api/v1/stats/communes?to=2025-13-01").status_code in (400, 422)


def test_docs_page_lists_every_operation(client) -> None:
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    for path in ("/api/v1/reports", "/api/v1/exports/dwconnect.csv", "/ogc/collections/{collection_id}/items"):
        assert f"{path}</code>" in html
    assert "<script" not in html and 'src="http' not in html and 'href="https://' not in html  # no CDN


SAMPLES: dict[str, list] = {
    "network": [*vocab.NETWORKS, "wifi", 3, ["mobile"]],
    "technologies": [["4G", "5G"], "fibre", [], ["4G", "4G"], ["6G"], "6G", 4, [4]],
    "operators": [["Proximus"], "Telenet/BASE", ["Base"], {}, ["other", "VOO"]],
    "issue": [*vocab.ISSUES, "none", 1],
    "setting": [*vocab.SETTINGS, "space"],
    "households_affected": [0, 12, MAX_COUNT, MAX_COUNT + 1, -1, True, "12", 1.5, 1000.0, 1e3, -0.0, 1000.5,
                            float(MAX_COUNT), float(MAX_COUNT + 1), -1.0, 1e20],
    "businesses_affected": [3, -4, False, 3.0, 3.5, True, 1],
    "description": ["", "Rue de l'Église", "x" * MAX_DESCRIPTION_CHARS, "x" * (MAX_DESCRIPTION_CHARS + 1),
                    "nul\x00", 5],
    "observed_at": ["2026-03-01T10:00:00+01:00", "2026-03-01T09:00:00Z", "2026-03-01", "2026-03-01T10:00",
                    "yesterday", 20260301, "01/03/2026"],
    "radius": [25, 0.5, 0, -3, "25", True],
}


def _intake_accepts(props: dict) -> bool:
    try:
        validate_properties(props)
    except GeosignalError:
        return False
    return True


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_properties_schema_agrees_with_the_intake_validator(name: str) -> None:
    assert set(SAMPLES) == set(REPORT_PROPERTIES)
    validator = jsonschema.Draft202012Validator(report_properties_schema(),
                                                format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    values = SAMPLES[name] + [None]
    networks = ["mobile"] if name != "network" else [None]
    for value, network in itertools.product(values, networks):
        props = {name: value} if network is None else {"network": network, name: value}
        assert validator.is_valid(props) == _intake_accepts(props), (name, value)


def test_the_feature_id_schema_agrees_with_the_intake(client) -> None:
    from geosignal.services.intake import feature_id

    schema = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]["ReportFeatureInput"]
    validator = jsonschema.Draft202012Validator(schema["properties"]["id"])
    for value in ["abc", "", 42, 4.5, 10**30, None, {"a": 1}, [1], [], True, False]:
        try:
            feature_id({"type": "Feature", "id": value}, "")
            accepted = True
        except GeosignalError as error:
            assert (error.code, error.where) == ("invalid_geojson", "/id")
            accepted = False
        assert validator.is_valid(value) == accepted, value



def test_what_the_writes_answer_is_documented(db, client, representative, referent) -> None:  # noqa: ANN001
    """A client built from the document knows every answer: a probable duplicate's 200, an
    upload's 200 (preview), 201 (saved) and 202 (a job), the communes' 304; and an edit's
    body (a partial Feature) is one the documented schema takes."""
    import io
    import json

    from tests.factories import CHARLEROI_LAMBERT72, feature, square_lambert, to_geojson_4326

    doc = client.get("/api/v1/openapi.json").get_json()

    def codes(path: str, method: str) -> set[str]:
        return set(doc["paths"][path][method]["responses"]) - {"4XX"}

    body = feature(to_geojson_4326(square_lambert(*CHARLEROI_LAMBERT72, 200.0)))
    first, again = (representative.post("/api/v1/reports", json=body) for _ in range(2))
    assert (first.status_code, again.status_code) == (201, 200)
    assert codes("/api/v1/reports", "post") == {"200", "201"}
    assert codes("/api/v1/imports", "post") == {"200", "201", "202"}
    assert codes("/api/v1/stats/survey", "post") == {"201"}
    geojson = json.dumps({"type": "FeatureCollection", "features": [
        feature(to_geojson_4326(square_lambert(CHARLEROI_LAMBERT72[0] + 3000, CHARLEROI_LAMBERT72[1], 200.0)))]})
    saved = representative.post("/api/v1/imports", data={"file": (io.BytesIO(geojson.encode()), "z.geojson")},
                                content_type="multipart/form-data")
    assert saved.status_code == 201, saved.get_json()
    etag = client.get("/api/v1/communes").headers["ETag"]
    assert client.get("/api/v1/communes", headers={"If-None-Match": etag}).status_code == 304
    assert codes("/api/v1/communes", "get") == {"200", "304"}
    # the edit the document describes is the one the service takes
    schema = {**doc["paths"]["/api/v1/reports/{report_id}"]["patch"]["requestBody"]["content"]["application/json"]
              ["schema"], "components": doc["components"]}
    edit = {"properties": {"households_affected": 4}}
    jsonschema.validate(edit, schema)
    jsonschema.validate({"status": "withdrawn", "reason": "plus d'actualité"}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({}, schema)
    rid = first.get_json()["id"]
    edited = representative.patch(f"/api/v1/reports/{rid}", json=edit, headers={"If-Match": first.headers["ETag"]})
    assert edited.status_code == 200 and edited.get_json()["properties"]["households_affected"] == 4
