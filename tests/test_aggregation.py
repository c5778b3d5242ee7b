"""Per-commune white-zone figures: border rules, overlaps counted once, sums equal the
territory, stored (incremental) = recomputed = live = file mode, filters, downloads."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import shapely
from shapely.geometry import LineString, Point, shape
from sqlalchemy import func, select, text

from geosignal import vocab
from geosignal.contract import BRUSSELS
from geosignal.db import Database
from geosignal.devdb import scratch_database
from geosignal.errors import GeosignalError
from geosignal.geo import LAMBERT72, WGS84, reproject, to_lambert72
from geosignal.models import Commune, Report
from geosignal.services import aggregation
from geosignal.services.communes import commune_of
from tests.conftest import (
    CASES,
    CHARLEROI,
    COMMUNES_FILE,
    make_account,
    owner_only,
)
from tests.factories import (
    CHARLEROI_LAMBERT72,
    feature,
    square_lambert,
    to_geojson_4326,
    upload_file,
)

X0, Y0 = CHARLEROI_LAMBERT72
CHATELET = "52012"


def _post(account, body):  # noqa: ANN001, ANN202
    return account.post("/api/v1/reports", data=json.dumps(body), content_type="application/geo+json")


def _rows(account, query: str = "") -> dict:  # noqa: ANN001
    response = account.get("/api/v1/stats/communes" + query)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _territory_truth(db) -> tuple[float, float]:  # noqa: ANN001
    """Independent PostGIS figures for the whole territory: (union of zones ∩ territory, m²;
    union of lines ∩ territory, m), counted statuses."""
    return db.execute(text("""
        WITH t AS (SELECT ST_Union(ST_Transform(boundary, 31370)) AS g FROM communes),
        z AS (SELECT ST_Union(ST_Transform(geometry, 31370)) AS g FROM reports
              WHERE ST_Dimension(geometry) = 2 AND status IN ('submitted', 'validated')),
        l AS (SELECT ST_Union(ST_Transform(geometry, 31370), 0.01) AS g FROM reports
              WHERE ST_Dimension(geometry) = 1 AND status IN ('submitted', 'validated'))
        SELECT coalesce(ST_Area(ST_Intersection(z.g, t.g)), 0), coalesce(ST_Length(ST_Intersection(l.g, t.g)), 0)
        FROM t, z, l""")).one()


def _shared_border_point(db, a: str, b: str) -> tuple[float, float]:  # noqa: ANN001
    """A vertex of the border shared by communes ``a`` and ``b`` (EPSG:31370)."""
    x, y = db.execute(text("""
        SELECT ST_X(p), ST_Y(p) FROM (
          SELECT ST_Transform(ST_PointN(ST_GeometryN(ST_LineMerge(ST_CollectionExtract(
            ST_Intersection(ST_Boundary(a.boundary), ST_Boundary(b.boundary)), 2)), 1), 3), 31370) AS p
          FROM communes a, communes b WHERE a.nis_code = :a AND b.nis_code = :b) q"""),
        {"a": a, "b": b}).one()
    return x, y


def _assert_tables_agree(a: dict, b: dict, rel: float = 1e-6) -> None:
    for nis, row in a.items():
        other = b[nis]
        for key in ("report_count", "point_count", "line_count", "zone_count", "households_declared",
                    "breakdown"):
            assert row[key] == other[key], (nis, key)
        assert row["white_zone_area_km2"] == pytest.approx(other["white_zone_area_km2"], rel=rel, abs=1e-9)
        assert row["line_length_km"] == pytest.approx(other["line_length_km"], rel=rel, abs=1e-9)


# --------------------------------------------------------------------------------------------
# Handed cases on the real communes
# --------------------------------------------------------------------------------------------


def test_case_17_one_square_kilometre(db, representative, referent) -> None:  # noqa: ANN001
    case = json.loads((CASES / "17-area-in-degrees-1km2.geojson").read_text(encoding="utf-8"))
    assert _post(representative, feature(case["features"][0]["geometry"])).status_code == 201
    body = _rows(referent)
    assert body["source"] == "stored"
    charleroi = {r["nis_code"]: r for r in body["communes"]}[CHARLEROI]
    assert charleroi["white_zone_area_km2"] == pytest.approx(1.00, rel=0.01)
    assert charleroi["zone_count"] == 1 and charleroi["report_count"] == 1
    assert body["territory"]["white_zone_area_km2"] == pytest.approx(1.00, rel=0.01)
    # population 202,746 (Statbel 2020) × share
    assert charleroi["inhabitants_affected_estimate"] == round(
        charleroi["white_zone_share"] * charleroi["population"])
    assert charleroi["population_year"] == 2020
    assert "Estimation" in body["estimate_note"] and "2020" in body["estimate_note"]


def test_case_08_multipolygon_parts_go_to_their_communes(db, client) -> None:  # noqa: ANN001
    chatelet = make_account(client, db, "echevin@chatelet.be", "representative", CHATELET)
    referent = make_account(client, db, "ref@igretec.com", "referent")
    case = json.loads((CASES / "08-multipolygon-into-polygon-column.geojson").read_text(encoding="utf-8"))
    geometry = case["features"][0]["geometry"]
    response = _post(chatelet, feature(geometry))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["properties"]["commune_nis"] == CHATELET  # larger part by 40 m²
    parts = [to_lambert72(p).area for p in shape(geometry).geoms]  # 379,517 and 379,556 m²
    rows = {r["nis_code"]: r for r in _rows(referent)["communes"]}
    assert rows[CHARLEROI]["white_zone_area_km2"] == pytest.approx(parts[0] / 1e6, rel=1e-4)
    assert rows[CHATELET]["white_zone_area_km2"] == pytest.approx(parts[1] / 1e6, rel=1e-4)
    assert rows[CHARLEROI]["white_zone_area_km2"] == pytest.approx(0.38, rel=0.01)
    # counted once, in its home commune
    assert rows[CHATELET]["report_count"] == 1 and rows[CHARLEROI]["report_count"] == 0
    assert sum(r["white_zone_area_km2"] for r in rows.values()) == pytest.approx(sum(parts) / 1e6, rel=1e-6)


# --------------------------------------------------------------------------------------------
# Case 18 in a database of its own holding only the two fixture communes A and B
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def border_db(tmp_path_factory) -> Database:  # noqa: ANN001

    case = json.loads((CASES / "18-border-point-double-count.geojson").read_text(encoding="utf-8"))
    communes = [f for f in case["features"] if f["properties"]["role"] == "commune-fixture"]
    path = tmp_path_factory.mktemp("case18") / "communes.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": f["geometry"],
         "properties": {"nis_code": f["properties"]["nis"], "name_fr": f["properties"]["name"],
                        "population": pop, "population_year": 2020}}
        for f, pop in zip(communes, (1000, 3000), strict=True)]}), encoding="utf-8")
    with scratch_database("geosignal_test_border", path) as database:
        with database.session() as session:
            for f in case["features"]:
                if f["properties"]["role"] == "report":
                    ewkt = f"SRID=4326;{shape(f['geometry']).wkt}"
                    session.add(Report(id=uuid.uuid4(), geometry=ewkt, commune_nis=commune_of(session, ewkt),
                                       network="mobile", technologies=["4G"], operators=["Proximus"],
                                       description=f["properties"]["case"]))
            session.commit()
        yield database


def test_case_18_border_point_and_zone(border_db) -> None:  # noqa: ANN001
    with border_db.session() as session:
        rows = aggregation.compute_live(session)
        a, b = rows["99001"], rows["99002"]
        # the point lies on a vertex of the shared border: exactly one commune, the smallest NIS
        assert a["point_count"] + b["point_count"] == 1
        assert a["point_count"] == 1
        # the 2 km × 2 km zone: 3.00 km² in A, 1.00 km² in B (± 1 %); home commune A
        assert a["white_zone_area_km2"] == pytest.approx(3.00, rel=0.01)
        assert b["white_zone_area_km2"] == pytest.approx(1.00, rel=0.01)
        assert a["zone_count"] == 1 and b["zone_count"] == 0
        # sums equal the territory, computed independently
        zone_m2, _ = _territory_truth(session)
        assert a["white_zone_area_km2"] + b["white_zone_area_km2"] == pytest.approx(zone_m2 / 1e6, rel=1e-9)
        assert a["report_count"] + b["report_count"] == 2
        territory = aggregation.territory_row([a, b])
        assert territory["white_zone_area_km2"] == pytest.approx(zone_m2 / 1e6, rel=1e-9)
        assert territory["report_count"] == 2 and territory["point_count"] == 1
        assert territory["white_zone_share"] == pytest.approx(4.0 / territory["commune_area_km2"], rel=0.01)
        # estimate: share × population (A 1,000, B 3,000 inhabitants)
        assert a["inhabitants_affected_estimate"] == round(a["white_zone_share"] * 1000)
        assert territory["inhabitants_affected_estimate"] == (
            a["inhabitants_affected_estimate"] + b["inhabitants_affected_estimate"])
        # stored figures: the same
        assert aggregation.recompute_all(session) == 2
        stored = {r["nis_code"]: r for r in aggregation.commune_table(session)["communes"]}
        _assert_tables_agree(stored, {k: v for k, v in rows.items()})
        session.rollback()


def test_case_18_from_files_gives_the_same_numbers(border_db, tmp_path) -> None:  # noqa: ANN001
    case = json.loads((CASES / "18-border-point-double-count.geojson").read_text(encoding="utf-8"))
    communes = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": f["geometry"],
         "properties": {"nis_code": f["properties"]["nis"], "name_fr": f["properties"]["name"],
                        "population": pop, "population_year": 2020}}
        for f, pop in zip([f for f in case["features"] if f["properties"]["role"] == "commune-fixture"],
                          (1000, 3000), strict=True)]}
    reports = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": f["geometry"],
         "properties": {"network": "mobile", "technologies": ["4G"], "operators": ["Proximus"]}}
        for f in case["features"] if f["properties"]["role"] == "report"]}
    (tmp_path / "c.geojson").write_text(json.dumps(communes), encoding="utf-8")
    (tmp_path / "r.geojson").write_text(json.dumps(reports), encoding="utf-8")
    table, _features = aggregation.aggregate_files(tmp_path / "r.geojson", tmp_path / "c.geojson")
    from_files = {r["nis_code"]: r for r in table["communes"]}
    with border_db.session() as session:
        live = aggregation.compute_live(session)
    assert from_files["99001"]["point_count"] == 1 and from_files["99002"]["point_count"] == 0
    _assert_tables_agree(from_files, live, rel=1e-6)


# --------------------------------------------------------------------------------------------
# Real communes: overlaps, borders, lines; stored = recomputed = live; sums = territory
# --------------------------------------------------------------------------------------------


def _file_border_crossing_reports(db, admin) -> tuple[float, float]:  # noqa: ANN001
    """File reports crossing the Charleroi/Châtelet border; return the border vertex used."""
    bx, by = _shared_border_point(db, CHARLEROI, CHATELET)
    bodies = [
        # two overlapping 1 km squares around the border vertex (overlap 0.5625 km²)
        feature(to_geojson_4326(square_lambert(bx - 500, by - 500, 1000)), households_affected=10),
        feature(to_geojson_4326(square_lambert(bx - 250, by - 250, 1000)), network="fixed",
                technologies=["fibre"], operators=["VOO"], issue="slow_speed", households_affected=5),
        # a zone inside Charleroi (the 1 km² square of case 17's place)
        feature(to_geojson_4326(square_lambert(X0 - 2000, Y0 - 2000, 1000)), observed_at="2022-03-15"),
        # a road crossing the border, and the same road twice (overlap counted once)
        feature(to_geojson_4326(LineString([(bx - 1500, by), (bx + 1500, by)]))),
        feature(to_geojson_4326(LineString([(bx - 500, by), (bx + 500, by)]))),
        # points: one in Charleroi, one exactly on the border vertex
        feature(to_geojson_4326(Point(X0, Y0))),
        feature({"type": "Point", "coordinates": list(reproject(Point(bx, by), LAMBERT72, WGS84).coords[0])}),
    ]
    for body in bodies:
        response = _post(admin, body)
        assert response.status_code == 201, response.get_json()
    return bx, by


def test_overlaps_borders_and_sums(db, admin, referent) -> None:  # noqa: ANN001
    _file_border_crossing_reports(db, admin)
    body = _rows(referent)
    rows = {r["nis_code"]: r for r in body["communes"]}
    territory = body["territory"]
    zone_m2, line_m = _territory_truth(db)
    # 1 km² + two 1 km² squares overlapping by 0.75 × 0.75 km = 2.4375 km² in total
    assert zone_m2 / 1e6 == pytest.approx(2.4375, rel=1e-6)
    assert territory["white_zone_area_km2"] == pytest.approx(zone_m2 / 1e6, abs=1e-6)  # 1 m²
    assert sum(r["white_zone_area_km2"] for r in rows.values()) == pytest.approx(2.4375, rel=1e-6)
    assert rows[CHARLEROI]["white_zone_area_km2"] > 1.0 and rows[CHATELET]["white_zone_area_km2"] > 0.0
    # the 3 km road, its 1 km duplicate counted once, split between the two communes
    assert line_m / 1e3 == pytest.approx(3.0, rel=1e-6)
    assert territory["line_length_km"] == pytest.approx(3.0, rel=1e-6)
    assert rows[CHARLEROI]["line_length_km"] > 0 and rows[CHATELET]["line_length_km"] > 0
    # counts: each report once; the border point in exactly one commune
    assert territory["report_count"] == 7 and territory["point_count"] == 2
    assert sum(r["point_count"] for r in rows.values()) == 2
    assert territory["households_declared"] == 15
    assert territory["breakdown"]["network"] == {"mobile": 6, "fixed": 1}
    assert territory["breakdown"]["operator"]["VOO"] == 1 and territory["breakdown"]["operator"]["Proximus"] == 6
    assert territory["breakdown"]["status"]["submitted"] == 7
    # stored (incremental) = live = full recompute
    live = aggregation.compute_live(db)
    _assert_tables_agree(rows, live)
    aggregation.recompute_all(db)
    _assert_tables_agree(rows, {r["nis_code"]: r for r in aggregation.commune_table(db)["communes"]})


def test_withdrawn_report_leaves_the_figures(db, admin, referent) -> None:  # noqa: ANN001
    ids = []
    for dx in (0, 500):
        square = to_geojson_4326(square_lambert(X0 - 2000 + dx, Y0 - 2000 + dx, 1000))
        ids.append(_post(admin, feature(square)).get_json()["id"])
    before = {r["nis_code"]: r for r in _rows(referent)["communes"]}[CHARLEROI]
    assert before["white_zone_area_km2"] == pytest.approx(1.75, rel=1e-6)
    # validating changes no figure but the status breakdown
    assert referent.patch(f"/api/v1/reports/{ids[0]}", json={"status": "validated"}).status_code == 200
    mid = {r["nis_code"]: r for r in _rows(referent)["communes"]}[CHARLEROI]
    assert mid["white_zone_area_km2"] == pytest.approx(1.75, rel=1e-6)
    assert mid["breakdown"]["status"] == {**dict.fromkeys(vocab.STATUSES, 0), "submitted": 1, "validated": 1}
    assert referent.patch(f"/api/v1/reports/{ids[1]}", json={"status": "rejected", "reason": "Doublon"}
                          ).status_code == 200
    body = _rows(referent)
    after = {r["nis_code"]: r for r in body["communes"]}[CHARLEROI]
    assert body["source"] == "stored"
    assert after["white_zone_area_km2"] == pytest.approx(1.00, rel=1e-6)
    assert after["report_count"] == 1
    assert after["breakdown"]["status"]["rejected"] == 1
    _assert_tables_agree({CHARLEROI: after}, aggregation.compute_live(db, nis_codes=[CHARLEROI]))
    # asking for every status counts the rejected square again (live)
    every = _rows(referent, "?status=all")
    assert every["source"] == "live"
    assert {r["nis_code"]: r for r in every["communes"]}[CHARLEROI]["white_zone_area_km2"] == pytest.approx(
        1.75, rel=1e-6)


def test_filters(db, admin, referent) -> None:  # noqa: ANN001
    _file_border_crossing_reports(db, admin)
    fixed = _rows(referent, "?network=fixed")
    assert fixed["source"] == "live"
    assert fixed["territory"]["report_count"] == 1
    assert fixed["territory"]["white_zone_area_km2"] == pytest.approx(1.00, rel=1e-6)
    assert fixed["filters"]["network"] == "fixed"
    assert _rows(referent, "?operator=VOO&technology=fibre")["territory"]["report_count"] == 1
    assert _rows(referent, "?issue=slow_speed")["territory"]["report_count"] == 1
    # period: observed_at when given (the 2022-03-15 zone), else created_at (today)
    march = _rows(referent, "?from=2022-03-01&to=2022-03-31")["territory"]
    assert march["report_count"] == 1 and march["white_zone_area_km2"] == pytest.approx(1.00, rel=1e-6)
    assert _rows(referent, "?from=2022-03-16&to=2022-12-31")["territory"]["report_count"] == 0
    today = _rows(referent, "?from=2026-01-01")["territory"]
    assert today["report_count"] == 6


@pytest.mark.parametrize("query, where", [
    ("?network=satellite", "network"), ("?status=lost", "status"), ("?from=15/03/2022", "from"),
    ("?from=2022-03-02&to=2022-03-01", "from"), ("?technology=6G", "technology"),
])
def test_bad_filters_are_400(db, referent, query, where) -> None:  # noqa: ANN001
    response = referent.get("/api/v1/stats/communes" + query)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "invalid_request" and response.get_json()["where"] == where


def test_stats_need_a_signed_in_user(db, client) -> None:  # noqa: ANN001
    assert client.get("/api/v1/stats/communes").status_code == 401


def test_one_commune_and_unknown(db, admin, referent) -> None:  # noqa: ANN001
    case = json.loads((CASES / "17-area-in-degrees-1km2.geojson").read_text(encoding="utf-8"))
    _post(admin, feature(case["features"][0]["geometry"]))
    body = referent.get(f"/api/v1/stats/communes/{CHARLEROI}?geometry=1").get_json()
    assert body["name_fr"] == "Charleroi" and body["source"] == "stored"
    assert body["white_zone_area_km2"] == pytest.approx(1.00, rel=0.01)
    assert body["white_zone"]["type"] == "MultiPolygon"
    assert to_lambert72(shape(body["white_zone"])).area == pytest.approx(1e6, rel=0.01)
    # the one commune's stored row (read for that commune alone) is its row of the table
    table = referent.get("/api/v1/stats/communes").get_json()["communes"]
    row = next(r for r in table if r["nis_code"] == CHARLEROI)
    figures = ("report_count", "zone_count", "point_count", "line_count", "households_declared", "breakdown",
               "white_zone_area_m2", "white_zone_area_km2", "line_length_km", "inhabitants_affected_estimate")
    assert row["report_count"] == 1 and {k: body[k] for k in figures} == {k: row[k] for k in figures}
    live = referent.get(f"/api/v1/stats/communes/{CHARLEROI}?geometry=1&network=mobile").get_json()
    assert live["source"] == "live"
    assert to_lambert72(shape(live["white_zone"])).area == pytest.approx(body["white_zone_area_m2"], rel=1e-6)
    missing = referent.get("/api/v1/stats/communes/99999")
    assert missing.status_code == 404 and missing.get_json()["code"] == "not_found"


def test_csv_for_excel(db, admin, referent) -> None:  # noqa: ANN001
    case = json.loads((CASES / "17-area-in-degrees-1km2.geojson").read_text(encoding="utf-8"))
    _post(admin, feature(case["features"][0]["geometry"]))
    response = referent.get("/api/v1/stats/communes.csv?decimal=comma")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    # the two downloads of the dashboard do not overwrite each other
    assert response.headers["Content-Disposition"] == 'attachment; filename="geosignal-communes-virgule.csv"'
    assert referent.get("/api/v1/stats/communes.csv").headers["Content-Disposition"] == \
        'attachment; filename="geosignal-communes.csv"'
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:6] == ["Code INS", "Commune", "Population", "Année population", "Surface communale (km²)",
                           "Signalements"]
    assert len(rows) == 1 + 30 + 1 and rows[-1][1] == "Territoire"
    charleroi = next(r for r in rows if r[0] == CHARLEROI)
    area = charleroi[rows[0].index("Zone blanche (km²)")]
    assert "," in area and float(area.replace(",", ".")) == pytest.approx(1.0, rel=0.01)
    assert charleroi[rows[0].index("Surface communale (km²)")] == "103,014"  # EPSG:31370
    point = referent.get("/api/v1/stats/communes.csv").get_data().decode("utf-8-sig")
    assert "103.014" in point and "103,014" not in point
    assert rows[0][rows[0].index("Réseau : Mobile") + 1] == "Réseau : Fixe"  # breakdown columns, labelled
    assert "Technologies : 4G" in rows[0] and "Opérateurs : Telenet/BASE" in rows[0]
    assert charleroi[rows[0].index("Problème : Aucune couverture")] == "1"
    assert referent.get("/api/v1/stats/communes.csv?decimal=semicolon").status_code == 400


def test_a_filtered_csv_says_what_it_counts_and_all_means_every_filed_status(db, admin, referent) -> None:  # noqa: ANN001
    """A figures auditor's trial: the CSV of a filtered view was named as the default one and
    its status columns, which count every status, read as if filtered; ``status=all`` counted
    drafts in the figures while the export's ``all`` leaves them out."""
    case = json.loads((CASES / "17-area-in-degrees-1km2.geojson").read_text(encoding="utf-8"))
    _post(admin, feature(case["features"][0]["geometry"], network="mobile"))  # submitted, 1 km²
    draft = admin.post("/api/v1/reports", json=feature(to_geojson_4326(square_lambert(*CHARLEROI_LAMBERT72, 300)), network="mobile",
                                                       status="draft"))
    assert draft.status_code == 201 and draft.get_json()["properties"]["status"] == "draft"
    response = referent.get("/api/v1/stats/communes.csv?status=submitted,validated&network=mobile&operator=Telenet/BASE"
                            "&from=2026-01-01")
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="geosignal-communes_status-submitted+validated_network-mobile_operator-Telenet-BASE'
        '_from-2026-01-01.csv"')
    rows = list(csv.reader(io.StringIO(referent.get("/api/v1/stats/communes.csv?status=validated").get_data()
                                       .decode("utf-8-sig")), delimiter=";"))
    charleroi = dict(zip(rows[0], next(r for r in rows if r[0] == CHARLEROI), strict=True))
    assert charleroi["Signalements"] == "0"  # none validated
    # the status columns count every status (the filter's or not): their heading says so
    assert (charleroi["Signalements, tous statuts : Soumis"], charleroi["Signalements, tous statuts : Brouillon"]) \
        == ("1", "1")
    assert not [h for h in rows[0] if h.startswith("Statut")]
    # all: every filed status, a draft only when named
    every = referent.get("/api/v1/stats/communes/52011?status=all").get_json()
    drafts = referent.get("/api/v1/stats/communes/52011?status=draft").get_json()
    assert (every["report_count"], drafts["report_count"]) == (1, 1)
    assert every["white_zone_area_km2"] == pytest.approx(1.0, rel=0.01)
    assert drafts["white_zone_area_km2"] == pytest.approx(0.09, rel=1e-6)
    assert every["filters"]["status"] == [s for s in vocab.STATUSES if s != "draft"]


@pytest.mark.parametrize(("lang", "first", "territory", "breakdown"), [
    ("nl", ["NIS-code", "Gemeente", "Bevolking", "Jaar bevolking", "Oppervlakte gemeente (km²)", "Meldingen"],
     "Grondgebied", "Netwerk: Mobiel"),
    ("en", ["NIS code", "Commune", "Population", "Population year", "Commune area (km²)", "Reports"],
     "Territory", "Network: Mobile"),
])
def test_csv_is_headed_in_the_readers_language(db, referent, lang: str, first: list[str], territory: str,  # noqa: ANN001
                                               breakdown: str) -> None:
    response = referent.get("/api/v1/stats/communes.csv", headers={"Accept-Language": lang})
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:6] == first and breakdown in rows[0]
    assert len(rows) == 1 + 30 + 1 and rows[-1][:2] == ["", territory]
    assert not [h for h in rows[0] if h in ("Code INS", "Surface communale (km²)", "Part zone blanche (%)")]


def test_locations_close_in_carry_the_shapes(db, admin, referent) -> None:  # noqa: ANN001
    """From zoom 13 on, stretches and zones come with their shapes (drawn as they are, not as
    a dot); a zone whose inside point is out of view but whose shape is in view is there too."""
    _file_border_crossing_reports(db, admin)
    body = referent.get("/api/v1/stats/locations?bbox=4.0,49.9,4.8,50.7&zoom=16").get_json()
    assert body["mode"] == "points" and [i[2] for i in body["items"]] == [2, 2, 2, 1, 1, 0, 0]
    shapes = body["shapes"]
    assert [s["type"] if s else None for s in shapes] == ["Polygon"] * 3 + ["LineString"] * 2 + [None] * 2
    assert [to_lambert72(shape(s)).area for s in shapes[:3]] == pytest.approx([1e6] * 3, rel=1e-4)  # m², EPSG:31370
    assert [to_lambert72(shape(s)).length for s in shapes[3:5]] == pytest.approx([3000, 1000], rel=1e-4)  # m
    # a box over the south-west corner of the 1 km² zone of Charleroi only (50 m × 50 m)
    corner = shapely.box(X0 - 2000 - 50, Y0 - 2000 - 50, X0 - 2000 + 50, Y0 - 2000 + 50)
    x0, y0, x1, y1 = reproject(corner, LAMBERT72, WGS84).bounds
    bbox = f"{x0:.6f},{y0:.6f},{x1:.6f},{y1:.6f}"
    close = referent.get(f"/api/v1/stats/locations?bbox={bbox}&zoom=18").get_json()
    assert (close["total"], len(close["shapes"]), close["items"][0][2]) == (1, 1, 2)
    assert to_lambert72(shape(close["shapes"][0])).area == pytest.approx(1e6, rel=1e-4)
    assert referent.get(f"/api/v1/stats/locations?bbox={bbox}&zoom=12").get_json()["total"] == 0  # its dot is away


def test_geojson_download(db, referent) -> None:  # noqa: ANN001
    response = referent.get("/api/v1/stats/communes.geojson")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    doc = response.get_json()
    assert len(doc["features"]) == 30
    first = doc["features"][0]
    assert first["id"] == first["properties"]["nis_code"] and "white_zone_share" in first["properties"]


def test_locations_points_then_cells(db, admin, referent, monkeypatch) -> None:  # noqa: ANN001
    _file_border_crossing_reports(db, admin)
    bbox = "4.0,49.9,4.8,50.7"
    body = referent.get(f"/api/v1/stats/locations?bbox={bbox}&zoom=10").get_json()
    assert body["mode"] == "points" and body["total"] == 7
    assert sorted(i[2] for i in body["items"]) == [0, 0, 1, 1, 2, 2, 2]
    monkeypatch.setattr(aggregation, "MAX_POINTS", 3)
    cells = referent.get(f"/api/v1/stats/locations?bbox={bbox}&zoom=10&network=mobile").get_json()
    assert cells["mode"] == "cells" and cells["total"] == 6
    assert sum(i[2] for i in cells["items"]) == 6
    assert "shapes" not in body  # far out, every report is a dot
    assert referent.get("/api/v1/stats/locations?bbox=1,2,3&zoom=3").status_code == 400
    rep = make_account(admin.client, db, "x@charleroi.be", "representative", CHARLEROI)
    assert rep.get(f"/api/v1/stats/locations?bbox={bbox}&zoom=10").status_code == 403


def test_file_mode_matches_database(db, admin, tmp_path) -> None:  # noqa: ANN001
    _file_border_crossing_reports(db, admin)
    rows = db.execute(text("SELECT ST_AsGeoJSON(geometry, 15), network, technologies, operators, issue, "
                           "status, households_affected, observed_at, created_at FROM reports"))
    path = tmp_path / "reports.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": json.loads(g), "properties": {
            "network": n, "technologies": t, "operators": o, "issue": i, "status": s, "households_affected": h,
            "observed_at": ob.isoformat() if ob else None, "created_at": c.isoformat()}}
        for g, n, t, o, i, s, h, ob, c in rows]}), encoding="utf-8")
    steps = []
    table, features = aggregation.aggregate_files(path, COMMUNES_FILE, progress=steps.append)
    assert sum(steps) == aggregation.aggregate_files_steps(COMMUNES_FILE) == 32
    assert len(features) == 30
    _assert_tables_agree({r["nis_code"]: r for r in table["communes"]}, aggregation.compute_live(db))


def test_file_mode_dates_a_dwconnect_export_by_its_filing_time(db, admin, referent, tmp_path) -> None:  # noqa: ANN001
    """A DWconnect export names the filing time ``reported_at``: file mode read ``created_at``
    alone, and a period dropped every report without an observation date (0 where the server
    counted 3). A file with no date column at all is refused a period, not counted 0."""
    for k in range(3):  # no observation date: dated by their filing, today
        assert _post(admin, feature(to_geojson_4326(square_lambert(X0 + 400 * k, Y0, 300)))).status_code == 201
    today = datetime.now(BRUSSELS).date().isoformat()
    server = referent.get(f"/api/v1/stats/communes/{CHARLEROI}?from={today}&to={today}").get_json()
    assert server["report_count"] == 3
    export = referent.get("/api/v1/exports/dwconnect?status=all")
    assert export.status_code == 200
    path = tmp_path / "dwconnect.geojson"
    path.write_bytes(export.get_data())
    assert {"reported_at"} <= set(json.loads(path.read_text(encoding="utf-8"))["features"][0]["properties"])
    period = aggregation.parse_filters({"from": today, "to": today})
    table, _ = aggregation.aggregate_files(path, COMMUNES_FILE, period)
    row = {r["nis_code"]: r for r in table["communes"]}[CHARLEROI]
    assert row["report_count"] == 3
    # (the export writes coordinates rounded, as RFC 7946 advises: a few m² in 0.27 km²)
    assert row["white_zone_area_km2"] == pytest.approx(server["white_zone_area_km2"], rel=1e-4)
    yesterday = aggregation.parse_filters({"to": (date.fromisoformat(today) - timedelta(days=1)).isoformat()})
    assert aggregation.aggregate_files(path, COMMUNES_FILE, yesterday)[0]["territory"]["report_count"] == 0

    undated = tmp_path / "undated.geojson"
    undated.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": to_geojson_4326(Point(X0, Y0)), "properties": {"network": "mobile"}}]}),
        encoding="utf-8")
    assert aggregation.aggregate_files(undated, COMMUNES_FILE)[0]["territory"]["report_count"] == 1
    with pytest.raises(GeosignalError) as refused:
        aggregation.aggregate_files(undated, COMMUNES_FILE, period)
    assert refused.value.code == "missing_column"
    assert "observed_at, reported_at, created_at" in refused.value.detail


def test_file_mode_reads_dates_as_an_upload_reads_them(db, admin, referent, tmp_path) -> None:  # noqa: ANN001
    """One file uploaded and aggregated gives the same period figures: pandas read ``03/04/2025``
    month first (and then nulled the column's other values), and took a naive ``2025-12-31T23:30``
    as UTC (1 January in Brussels). A date the upload would not store is refused, naming its
    feature, not left out of the period."""
    dates = ["03/04/2025", "2025-12-31T23:30:00", "2025-06-15", "03/04/2025"]
    path = tmp_path / "zones.geojson"

    def write(values: list[str | None]) -> None:
        path.write_text(json.dumps({"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": to_geojson_4326(square_lambert(X0 + 400 * k, Y0, 300)),
             "properties": {"network": "mobile", "technologies": "4G", "observed_at": d}}
            for k, d in enumerate(values)]}), encoding="utf-8")

    write(dates)
    assert upload_file(admin, path.read_bytes(), "zones.geojson").status_code == 201
    got = {}
    for period in ({"from": "2025-04-03", "to": "2025-04-03"}, {"from": "2025-03-04", "to": "2025-03-04"},
                   {"from": "2025-12-31", "to": "2025-12-31"}, {"from": "2026-01-01", "to": "2026-01-01"},
                   {"from": "2025-06-15", "to": "2025-06-15"}):
        server = _rows(referent, f"?from={period['from']}&to={period['to']}")["territory"]["report_count"]
        files = aggregation.aggregate_files(path, COMMUNES_FILE, aggregation.parse_filters(period))
        got[period["from"]] = (server, files[0]["territory"]["report_count"])
    assert got == {"2025-04-03": (2, 2), "2025-03-04": (0, 0), "2025-12-31": (1, 1), "2026-01-01": (0, 0),
                   "2025-06-15": (1, 1)}

    year = aggregation.parse_filters({"from": "2025-01-01", "to": "2025-12-31"})
    for values, code, feature_index in ((["2025-06-15", "31/02/2025", "garbage"], "invalid_datetime", 1),
                                        (["2025-06-15", "2025-03-30T02:30:00"], "ambiguous_local_time", 1),
                                        (["2999-01-01", "2025-06-15"], "invalid_datetime", 0),
                                        (["2025-06-15", None], "invalid_datetime", 1)):
        write(values)
        with pytest.raises(GeosignalError) as refused:
            aggregation.aggregate_files(path, COMMUNES_FILE, year)
        assert (refused.value.code, refused.value.where) == (code, f"feature {feature_index}"), values
        assert f"feature {feature_index}" in refused.value.detail
    assert aggregation.aggregate_files(path, COMMUNES_FILE)[0]["territory"]["report_count"] == 2  # no period: no date


def test_home_commune_rule_matches_postgis(db) -> None:  # noqa: ANN001
    """Shapely's home-commune rule (file mode) picks what commune_of picks in PostGIS."""
    bx, by = _shared_border_point(db, CHARLEROI, CHATELET)
    geoms = [Point(bx, by), Point(X0, Y0), LineString([(bx - 900, by), (bx + 100, by)]),
             square_lambert(bx - 300, by - 300, 1000)]
    rows = db.execute(text("SELECT nis_code, ST_AsBinary(boundary) FROM communes"))
    boundaries = {n: shapely.from_wkb(bytes(w)) for n, w in rows}
    geoms = [reproject(g, LAMBERT72, WGS84) for g in geoms]
    import numpy as np

    mine = aggregation.home_communes(boundaries, np.asarray(geoms, dtype=object))
    theirs = [commune_of(db, f"SRID=4326;{g.wkt}") for g in geoms]
    assert mine == theirs
    assert mine[1] == CHARLEROI


@pytest.mark.slow
def test_belgium_581_communes_unchanged(tmp_path) -> None:
    """The aggregation runs unchanged on all 581 Belgian communes (file mode and database)."""
    belgium = Path(COMMUNES_FILE).parent / "communes_belgium_2021.geojson"
    case = json.loads((CASES / "17-area-in-degrees-1km2.geojson").read_text(encoding="utf-8"))
    square = shape(case["features"][0]["geometry"])
    # one zone per region capital: Charleroi (case 17), Brussels-City, Antwerp, Namur
    places = {"52011": square}
    for nis, (lon, lat) in {"21004": (4.3525, 50.8466), "11002": (4.4003, 51.2194),
                            "92094": (4.8670, 50.4669)}.items():
        x, y = reproject(Point(lon, lat), WGS84, LAMBERT72).coords[0]
        places[nis] = reproject(square_lambert(x - 500, y - 500, 1000), LAMBERT72, WGS84)
    reports = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": json.loads(shapely.to_geojson(g)), "properties": {"network": "mobile"}}
        for g in places.values()]}
    (tmp_path / "r.geojson").write_text(json.dumps(reports), encoding="utf-8")
    table, features = aggregation.aggregate_files(tmp_path / "r.geojson", belgium)
    rows = {r["nis_code"]: r for r in table["communes"]}
    assert len(rows) == 581 and len(features) == 581
    assert rows["52011"]["white_zone_area_km2"] == pytest.approx(1.0, rel=0.01)
    for nis in places:
        assert rows[nis]["report_count"] == 1, nis
    assert table["territory"]["white_zone_area_km2"] == pytest.approx(4.0, rel=0.01)
    assert table["territory"]["population"] == 11_492_641

    with scratch_database("geosignal_test_be", belgium) as database, database.session() as session:
        assert session.scalar(select(func.count()).select_from(Commune)) == 581
        for g in places.values():
            ewkt = f"SRID=4326;{g.wkt}"
            session.add(Report(id=uuid.uuid4(), geometry=ewkt, commune_nis=commune_of(session, ewkt),
                               network="mobile"))
        session.flush()
        assert aggregation.recompute_all(session) == 581
        stored = {r["nis_code"]: r for r in aggregation.commune_table(session)["communes"]}
        _assert_tables_agree(rows, stored)
        session.commit()


def test_cli_aggregate_writes_csv_and_geojson(tmp_path) -> None:
    """``geosignal aggregate`` from files (no database): case 17's square in Charleroi."""
    from click.testing import CliRunner

    from geosignal.cli import main

    reports = tmp_path / "reports.geojson"
    reports.write_bytes((CASES / "17-area-in-degrees-1km2.geojson").read_bytes())
    out_csv, out_geojson = tmp_path / "out.csv", tmp_path / "out.geojson"
    runner = CliRunner()
    result = runner.invoke(main, ["aggregate", "--reports", str(reports), "--communes", str(COMMUNES_FILE),
                                  "-o", str(out_csv), "--decimal", "comma"])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(out_csv.read_text(encoding="utf-8-sig")), delimiter=";"))
    charleroi = next(r for r in rows if r[0] == CHARLEROI)
    assert float(charleroi[rows[0].index("Zone blanche (km²)")].replace(",", ".")) == pytest.approx(1.0, rel=0.01)
    assert "30 communes, 1 report, white zone 1.0000" in result.output
    result = runner.invoke(main, ["aggregate", "--reports", str(reports), "--communes", str(COMMUNES_FILE),
                                  "-o", str(out_geojson)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out_geojson.read_text(encoding="utf-8"))
    assert len(doc["features"]) == 30
    assert doc["territory"]["white_zone_area_km2"] == pytest.approx(1.0, rel=0.01)
    bad = runner.invoke(main, ["aggregate", "--reports", str(reports), "--communes", str(COMMUNES_FILE),
                               "--network", "pigeon"])
    assert bad.exit_code == 1 and "invalid_request" in bad.output


@owner_only  # (an operator's clean-up: the service role may not delete reports)
def test_reports_deleted_by_sql_leave_exact_figures(db, admin, referent) -> None:  # noqa: ANN001
    """Reports deleted with SQL (clean-ups) leave the stored figures exact (the triggers), and
    stored figures cleared by hand are rebuilt by the next write touching their commune."""
    case = json.loads((CASES / "17-area-in-degrees-1km2.geojson").read_text(encoding="utf-8"))
    _post(admin, feature(case["features"][0]["geometry"]))
    assert _rows(referent)["source"] == "stored"
    db.execute(text("DELETE FROM reports"))
    body = _rows(referent)
    assert body["source"] == "stored" and body["territory"]["report_count"] == 0
    assert body["territory"]["white_zone_area_km2"] == 0.0
    db.execute(text("DELETE FROM commune_stats"))  # cleared: cells and counts go with it
    assert db.scalar(text("SELECT count(*) FROM commune_cells")) == 0
    assert _rows(referent)["source"] == "live"
    _post(admin, feature(case["features"][0]["geometry"]))  # the next write rebuilds them
    body = _rows(referent)
    assert body["source"] == "stored" and body["territory"]["report_count"] == 1
    assert body["territory"]["white_zone_area_km2"] == pytest.approx(1.00, rel=0.01)
    _assert_tables_agree({r["nis_code"]: r for r in body["communes"]}, aggregation.compute_live(db))


def test_refresh_stats_leaves_the_cells_vacuumed(monkeypatch) -> None:
    """``geosignal refresh-stats`` rewrites every cell, then vacuums them: the commune table's
    sums stay an index-only scan (every page all-visible) instead of visiting every cell."""
    from click.testing import CliRunner
    from sqlalchemy import text

    from geosignal import cli
    from geosignal.devdb import scratch_database
    from tests.conftest import COMMUNES_FILE

    with scratch_database("geosignal_cli_refresh", COMMUNES_FILE) as database:
        with database.session() as session:
            session.execute(text("""
                INSERT INTO reports (id, geometry, commune_nis, network, status)
                SELECT gen_random_uuid(), ST_Buffer(ST_SetSRID(ST_MakePoint(4.40 + i * 0.01, 50.40), 4326), 0.002),
                       '52011', 'fixed', 'submitted'
                FROM generate_series(0, 9) i"""))
            session.commit()
            before = session.execute(text("SELECT sum(zone_m2) FROM commune_cells")).scalar_one()
        monkeypatch.setenv("GEOSIGNAL_DATABASE_URL", database.engine.url.render_as_string(hide_password=False))
        monkeypatch.setenv("GEOSIGNAL_ENV", "development")
        result = CliRunner().invoke(cli.main, ["refresh-stats"])
        assert result.exit_code == 0, result.output
        assert "figures of 30 communes recomputed" in result.output
        with database.session() as session:
            pages, visible = session.execute(text(
                "SELECT relpages, relallvisible FROM pg_class WHERE relname = 'commune_cells'")).one()
            vacuumed = session.execute(text(
                "SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'commune_cells'")).scalar_one()
            # a snapshot held elsewhere on the server (another test run, a service) keeps VACUUM
            # from marking pages all-visible: then only the VACUUM itself can be checked
            others = session.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_xmin IS NOT NULL "
                "AND pid <> pg_backend_pid()")).scalar_one()
            assert pages > 0 and vacuumed >= 1 and (visible == pages or others > 0)
            after = session.execute(text("SELECT sum(zone_m2) FROM commune_cells")).scalar_one()
            assert after == pytest.approx(before, rel=1e-9) and after > 1e5


@pytest.mark.parametrize("url", ["/api/v1/stats/communes", "/api/v1/stats/locations?zoom=10&bbox=4.3,50.3,4.6,50.5",
                                 "/api/v1/queue",
                                 "/api/v1/exports/dwconnect", "/api/v1/audit"])
def test_a_period_that_ends_before_it_starts_says_so(db, referent, url) -> None:  # noqa: ANN001
    """Every filter of dates refuses a period that ends before it starts with the same kind and
    sentence (the dashboard said « Date illisible ou hors limites » for it: a referent's trial)."""
    period = "from=2026-12-31&to=2026-01-01"
    response = referent.get(f"{url}{'&' if '?' in url else '?'}{period}", headers={"Accept": "application/json"})
    assert response.status_code == 400
    body = response.get_json()
    assert (body["code"], body["where"], body["kind"]) == ("invalid_request", "from", "period_reversed")
    assert body["message"] == ("La période se termine avant de commencer : choisissez une date de fin égale ou "
                               "postérieure à la date de début.")
