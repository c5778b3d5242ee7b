"""What a representative's filtered figures count of other communes (geosignal.policy.figures_scope).

A trial as a representative: with any filter the figures are computed live, and their
``status`` breakdown counted every status of every commune: a neighbour's drafts, rejected and
withdrawn reports showed as numbers, and asked for (``status=draft``), their shapes were drawn
on the representative's own sheet, clipped to her commune. Those reports are their commune's
business (a representative reads another commune's report in no status): for her, another
commune's report now counts only in the counted statuses; her own commune's in every status.
The referent's figures are unchanged."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import text

from geosignal.geo import LAMBERT72, WGS84, reproject
from geosignal.models import User
from geosignal.services import reports as reports_service
from geosignal.services import sheet_pdf
from geosignal.services.aggregation import COUNTED_STATUSES, StatsFilters
from geosignal.services.intake import ReportInput
from tests.conftest import make_account
from tests.factories import border_point, square_lambert

SIDE_M = 400.0


@pytest.fixture
def border_reports(db, client):  # noqa: ANN001, ANN201
    """On the Charleroi/Châtelet border: a 400 m square, a draft, homed in one of the two (its
    ``home``) with a part in the other (``other``); a rejected and a submitted square of 0.01 km²
    well inside ``home``. Returns (home, other, part of the draft in ``other`` in m²)."""
    x, y = border_point(db)
    admin = make_account(client, db, "scope-admin@igretec.com", "admin")
    user = db.query(User).filter_by(email=admin.email).one()

    def add(geom_31370, status: str, network: str = "mobile") -> dict:  # noqa: ANN001
        feature, _new = reports_service.create_report(
            db, user, ReportInput(reproject(geom_31370, LAMBERT72, WGS84), {"network": network}),
            status="draft" if status == "draft" else "submitted")
        if status not in ("draft", "submitted"):
            db.execute(text("UPDATE reports SET status = :s WHERE id = :id"), {"s": status, "id": feature["id"]})
        return feature

    draft = add(square_lambert(x - SIDE_M / 2, y - SIDE_M / 2, SIDE_M), "draft")
    home = draft["properties"]["commune_nis"]
    other = "52012" if home == "52011" else "52011"
    inside = db.execute(text(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(ST_Transform(boundary, 31370)) p "
        "FROM communes WHERE nis_code = :nis) s"), {"nis": home}).one()
    add(square_lambert(inside[0], inside[1], 100), "rejected")
    add(square_lambert(inside[0] + 300, inside[1], 100), "submitted")
    in_other = db.execute(text(
        "SELECT ST_Area(ST_Intersection(ST_Transform(r.geometry, 31370), ST_Transform(c.boundary, 31370))) "
        "FROM reports r, communes c WHERE r.id = :id AND c.nis_code = :nis"),
        {"id": draft["id"], "nis": other}).scalar_one()
    db.commit()
    assert 1_000 < in_other < 0.5 * SIDE_M ** 2  # the draft reaches into ``other``
    return home, other, in_other


def _rows(account, query: str) -> dict[str, dict]:  # noqa: ANN001
    response = account.get(f"/api/v1/stats/communes{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return {r["nis_code"]: r for r in response.get_json()["communes"]}


def test_a_representative_counts_no_other_communes_drafts_rejected_or_withdrawn(db, client, referent,  # noqa: ANN001
                                                                                 border_reports) -> None:
    home, other, in_other = border_reports
    rep = make_account(client, db, f"scope-rep-{other}@commune.be", "representative", other)

    # the referent: every commune's reports, in every status asked
    seen = _rows(referent, "?network=mobile")
    assert seen[home]["breakdown"]["status"] == {**seen[home]["breakdown"]["status"],
                                                 "draft": 1, "rejected": 1, "submitted": 1}
    drafts = _rows(referent, "?status=draft")
    assert drafts[home]["report_count"] == 1 and drafts[home]["zone_count"] == 1
    assert drafts[other]["report_count"] == 0
    assert drafts[other]["white_zone_area_km2"] * 1e6 == pytest.approx(in_other, rel=1e-3)

    # the representative of ``other``: the neighbour's draft and rejected square are not there
    seen = _rows(rep, "?network=mobile")
    status = seen[home]["breakdown"]["status"]
    assert status["submitted"] == 1 and status.get("draft", 0) == 0 and status.get("rejected", 0) == 0
    assert seen[home]["report_count"] == 1  # the submitted square: the counted statuses stay shared
    drafts = _rows(rep, "?status=draft,rejected,withdrawn,resolved")
    assert all(r["report_count"] == 0 and r["white_zone_area_km2"] == 0 for r in drafts.values())
    response = rep.get("/api/v1/stats/communes?status=draft")
    assert response.get_json()["filters"]["own_commune"] == other
    # her own commune's sheet, geometry included: nothing drawn of the neighbour's draft
    mine = rep.get(f"/api/v1/stats/communes/{other}?status=draft&geometry=1").get_json()
    assert mine["white_zone"] is None and mine["white_zone_area_km2"] == 0
    assert mine["filters"]["own_commune"] == other
    assert referent.get(f"/api/v1/stats/communes/{other}?status=draft&geometry=1").get_json()[
        "white_zone"]["type"] == "MultiPolygon"
    # the CSV table alike
    table = csv.DictReader(io.StringIO(rep.get("/api/v1/stats/communes.csv?status=draft").get_data(as_text=True)
                                       .lstrip("\ufeff")), delimiter=";")
    row = next(r for r in table if r["Code INS"] == home)
    assert (row["Signalements"], row["Zones"], row["Signalements, tous statuts : Brouillon"]) == ("0", "0", "0"), row

    # the default figures (stored): their status breakdown counts every status; hers shows
    # the neighbour's counted statuses only, in every download and in the territory's sum
    plain_rep, plain_ref = (account.get("/api/v1/stats/communes").get_json() for account in (rep, referent))
    assert plain_rep["source"] == plain_ref["source"] == "stored"
    rows_rep = {r["nis_code"]: r for r in plain_rep["communes"]}
    rows_ref = {r["nis_code"]: r for r in plain_ref["communes"]}
    assert {k: rows_ref[home]["breakdown"]["status"][k] for k in ("draft", "rejected", "submitted")} == {
        "draft": 1, "rejected": 1, "submitted": 1}
    assert {k: rows_rep[home]["breakdown"]["status"][k] for k in ("draft", "rejected", "submitted")} == {
        "draft": 0, "rejected": 0, "submitted": 1}
    assert plain_rep["territory"]["breakdown"]["status"]["draft"] == 0
    assert plain_ref["territory"]["breakdown"]["status"]["draft"] == 1
    assert plain_rep["filters"]["own_commune"] == other and "own_commune" not in plain_ref["filters"]
    for row in rows_rep.values():  # all else the same
        assert {**row, "breakdown": None} == {**rows_ref[row["nis_code"]], "breakdown": None}
    detail = rep.get(f"/api/v1/stats/communes/{home}").get_json()
    assert detail["source"] == "stored" and detail["breakdown"]["status"]["draft"] == 0
    assert referent.get(f"/api/v1/stats/communes/{home}").get_json()["breakdown"]["status"]["draft"] == 1
    table = csv.DictReader(io.StringIO(rep.get("/api/v1/stats/communes.csv").get_data(as_text=True)
                                       .lstrip("\ufeff")), delimiter=";")
    assert next(r for r in table if r["Code INS"] == home)["Signalements, tous statuts : Brouillon"] == "0"
    def geojson_drafts(account) -> int:  # noqa: ANN001
        doc = json.loads(account.get("/api/v1/stats/communes.geojson").get_data(as_text=True))
        return next(f for f in doc["features"] if f["properties"]["nis_code"] == home)[
            "properties"]["breakdown"]["status"]["draft"]

    assert (geojson_drafts(rep), geojson_drafts(referent)) == (0, 1)


def test_a_representative_counts_her_own_communes_reports_in_every_status(db, client, border_reports) -> None:  # noqa: ANN001
    home, other, in_other = border_reports
    rep = make_account(client, db, f"scope-rep-{home}@commune.be", "representative", home)
    drafts = _rows(rep, "?status=draft")
    assert drafts[home]["report_count"] == 1
    # her draft's part in the neighbour's commune: hers, so counted there for her
    assert drafts[other]["white_zone_area_km2"] * 1e6 == pytest.approx(in_other, rel=1e-3)
    assert drafts[home]["white_zone_area_km2"] * 1e6 == pytest.approx(SIDE_M ** 2 - in_other, rel=1e-3)
    seen = _rows(rep, "?network=mobile")
    assert (seen[home]["breakdown"]["status"]["draft"], seen[home]["breakdown"]["status"]["rejected"]) == (1, 1)


def test_a_representatives_filtered_sheet_draws_no_neighbours_draft_and_says_so(db, client, border_reports) -> None:  # noqa: ANN001
    home, other, _in_other = border_reports
    rep = make_account(client, db, f"scope-sheet-{other}@commune.be", "representative", other)
    rep.login()
    page = " ".join(client.get(f"/communes/{other}/fiche?status=draft").get_data(as_text=True).split())
    assert ("Statut : brouillon · Communes voisines : leurs signalements aux statuts comptés par défaut "
            "seulement.") in page
    assert "0 m²" in page or "0,000 km²" in page
    plain = client.get(f"/communes/{other}/fiche?network=mobile").get_data(as_text=True)
    assert "Communes voisines :" not in plain  # counted statuses only: nothing left out
    # the PDF's map: the neighbour's draft drawn for the referent, not for her
    drafts = StatsFilters(statuses=("draft",))
    assert [s for s, _g in sheet_pdf.map_geometries(db, other, ("draft",), drafts)[2]] == ["draft"]
    assert sheet_pdf.map_geometries(db, other, ("draft",), drafts.scoped(other))[2] == []


def test_the_scope_leaves_the_default_figures_and_the_counted_statuses_alone() -> None:
    assert StatsFilters().scoped("52011").is_default  # the stored figures answer
    scoped = StatsFilters(network="mobile").scoped("52011")
    assert scoped.own_commune == "52011" and scoped.query() == {"network": "mobile"}
    assert scoped.name_suffix() == "_network-mobile"
    assert StatsFilters(network="mobile").scoped(None).own_commune is None
    assert set(COUNTED_STATUSES) == {"submitted", "needs_info", "validated", "transmitted", "not_resolved"}
