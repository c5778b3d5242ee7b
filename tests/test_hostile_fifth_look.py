"""A fifth adversarial look at the kinds of ``../shared/cases/`` and the paths around them.
Each test failed on the code before its mend."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from geosignal.models import Report
from tests.factories import feature, upload_file

# ---- a list's values in another order are the same report (case 36's kind) -----------------------

_POINT = {"type": "Point", "coordinates": [4.4440, 50.4108]}


def test_operators_named_in_another_order_are_a_repeat_through_the_api_and_in_files(db, representative) -> None:  # noqa: ANN001
    """``operators`` and ``technologies`` are sets (a value named twice is refused): the same
    report sent again with its operators in another order was stored twice by the API, and a
    file holding it was saved again without « saved before »."""
    first = representative.post("/api/v1/reports", json=feature(
        _POINT, operators=["Orange", "Proximus"], technologies=["4G", "3G"]))
    assert first.status_code == 201
    again = representative.post("/api/v1/reports", json=feature(
        _POINT, operators=["Proximus", "Orange"], technologies=["3G", "4G"]))
    assert again.status_code == 200
    assert [w["code"] for w in again.get_json()["intake"]["warnings"]] == ["probable_duplicate"]
    assert again.get_json()["id"] == first.get_json()["id"]
    collection = json.dumps({"type": "FeatureCollection", "features": [
        feature(_POINT, operators=["Proximus", "Orange"], technologies=["3G", "4G"])]}).encode()
    saved = upload_file(representative, collection, "again.geojson").get_json()
    assert (saved["saved"], [w["code"] for w in saved["features"][0]["warnings"]]) == (0, ["probable_duplicate"])
    assert db.scalar(select(func.count()).select_from(Report)) == 1


# ---- `geosignal aggregate` reads a reports file by the intake's rules (cases 11, 17, 26) -------

def _reports_file(tmp_path, geometry: dict, **props) -> str:  # noqa: ANN001
    path = tmp_path / "reports.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": _POINT, "properties": {"network": "mobile", "households_affected": 4}},
        {"type": "Feature", "geometry": geometry, "properties": {"network": "mobile", **props}}]}))
    return str(path)


def _aggregate(app, reports: str, *more: str):  # noqa: ANN001, ANN202
    from tests.conftest import COMMUNES_FILE

    return app.test_cli_runner().invoke(args=["aggregate", "--reports", reports, "--communes", str(COMMUNES_FILE),
                                              *more])


@pytest.mark.parametrize(("written", "code"), [("Infinity", "non_finite_number"), (float("inf"), "non_finite_number"),
                                               (-5, "invalid_attribute"), (12.7, "invalid_attribute"),
                                               ("douze", "invalid_attribute"), (1e300, "invalid_attribute")])
def test_aggregate_refuses_a_count_the_intake_would_not_store(app, tmp_path, written, code: str) -> None:  # noqa: ANN001
    """The households column was read with pandas' lax numbers: « Infinity » ended in a
    traceback, and −5, 12.7 (as 12), « douze » (as 0) and 1e300 were summed into the figures,
    which the intake drops (``attribute_dropped``) and the stored figures never count."""
    reports = _reports_file(tmp_path, _POINT, households_affected=written)
    if written == float("inf"):  # (json.dumps writes Infinity, as a spreadsheet's export may)
        assert "Infinity" in open(reports).read()
    done = _aggregate(app, reports)
    assert done.exit_code == 1, done.output
    assert done.output.strip().splitlines()[-1].startswith(f"Error: {code}: ")
    assert "feature 1" in done.output and "households_affected" in done.output


def test_aggregate_counts_the_households_it_reads(app, tmp_path) -> None:  # noqa: ANN001
    reports = _reports_file(tmp_path, _POINT, households_affected="12")
    out = tmp_path / "table.geojson"
    done = _aggregate(app, reports, "-o", str(out))
    assert done.exit_code == 0, done.output
    assert json.loads(out.read_text())["territory"]["households_declared"] == 16


@pytest.mark.parametrize(("geometry", "hint"), [
    ({"type": "Point", "coordinates": [50.4108, 4.444]}, "the axes look swapped"),  # [lat, lon]: case 11
    ({"type": "Polygon", "coordinates": [[[155000, 122000], [156000, 122000], [156000, 123000], [155000, 123000],
                                         [155000, 122000]]]}, "Belgian Lambert 72"),  # metres, no crs: case 17
])
def test_aggregate_says_which_feature_lies_in_no_commune(app, tmp_path, geometry: dict, hint: str) -> None:  # noqa: ANN001
    """A feature in none of the communes (written [lat, lon], or in Lambert metres in a file
    declaring no CRS) was left out of the figures without a word: exit 0, « 0 reports »."""
    done = _aggregate(app, _reports_file(tmp_path, geometry))
    assert done.exit_code == 1, done.output
    last = done.output.strip().splitlines()[-1]
    assert last.startswith("Error: outside_service_area: ") and "feature 1 lies in none of the communes" in last
    assert hint in last


# ---- an archive member compressed otherwise than by deflate is never inflated (KMZ, zip, XLSX) ------

def _bzip2_or_lzma_bomb(method: int, name: str = "doc.kml") -> bytes:
    """A zip whose one member, compressed by ``method``, inflates to 60 MiB of zeros: over the
    5 × 10 MiB budget, in a few hundred bytes (bzip2) or 10 kB (LZMA)."""
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=method) as zf, zf.open(name, "w", force_zip64=True) as member:
        for _ in range(60):
            member.write(b"\x00" * (1 << 20))
    return out.getvalue()


@pytest.mark.parametrize(("method", "written"), [(12, "bzip2"), (14, "LZMA")])
def test_a_bzip2_or_lzma_member_is_refused_before_it_is_inflated(method: int, written: str) -> None:
    """zipfile inflates a bzip2 or LZMA member without a bound (no ``max_length``): one
    ``read(65536)`` of a 211-byte bzip2 KMZ allocated its whole 60 MiB (400 MiB: 870 MB) before
    ``archive_too_large`` was said. Such a member is now refused as it is, nothing inflated."""
    import tracemalloc

    from geosignal.errors import GeosignalError
    from geosignal.services.intake import Limits
    from geosignal.services.intake.containers import read_archive

    bomb = _bzip2_or_lzma_bomb(method)
    assert len(bomb) < 20_000
    tracemalloc.start()
    try:
        with pytest.raises(GeosignalError) as info:
            read_archive(bomb, Limits().max_upload_bytes)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, peak  # nothing inflated: not even one 64 KiB chunk of the 60 MiB
    assert (info.value.status, info.value.code, info.value.extra) == (
        422, "unreadable_file", {"kind": "compression_method", "member": "doc.kml", "method": written})


def test_a_bzip2_kmz_and_workbook_are_refused_with_a_sentence(representative, referent) -> None:  # noqa: ANN001
    """The same through the imports API (a KMZ) and the survey's upload (an XLSX workbook,
    which Office Open XML allows only stored or deflated): a coded refusal naming the member,
    and a sentence saying how to make the archive again."""
    import io

    kmz = representative.post("/api/v1/imports", data={
        "file": (io.BytesIO(_bzip2_or_lzma_bomb(12)), "releve.kmz"), "dry_run": "true"},
        content_type="multipart/form-data", headers={"Accept-Language": "en"})
    body = kmz.get_json()
    assert (kmz.status_code, kmz.mimetype, body["code"], body["kind"], body["member"], body["method"]) == (
        422, "application/problem+json", "unreadable_file", "compression_method", "doc.kml", "bzip2")
    assert body["message"] == ("The file ‘doc.kml’ in the archive is compressed by a method that is not read "
                               "(bzip2): make the archive again with the ordinary compression (Deflate), then send "
                               "it again.")
    xlsx = referent.post("/api/v1/stats/survey", data={
        "edition": "2022", "file": (io.BytesIO(_bzip2_or_lzma_bomb(14, "xl/worksheets/sheet1.xml")), "releve.xlsx")},
        content_type="multipart/form-data")
    body = xlsx.get_json()
    assert (xlsx.status_code, body["code"], body["kind"], body["member"], body["method"]) == (
        422, "unreadable_file", "compression_method", "xl/worksheets/sheet1.xml", "LZMA")


# ---- accounts: one budget of password guesses, and signing out from an old page -----------------

def _form_post(client, path: str, data: dict, page: str):  # noqa: ANN001, ANN202
    from tests.conftest import csrf_token

    return client.post(path, data={**data, "csrf_token": csrf_token(client.get(page).get_data(as_text=True))})


def test_wrong_current_passwords_share_one_budget_with_sign_in(client, db, app, fresh_limits) -> None:  # noqa: ANN001
    """The *Mot de passe* page, the API-tokens page and the sign-in form each counted their own
    10 wrong guesses per 15 minutes (Flask-Limiter counts per route): 30 guesses at an open
    session's password, where the README promises the per-account limit of sign-in."""
    from tests.conftest import csrf_token, make_account

    account = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    account.login()
    for _ in range(5):
        assert _form_post(client, "/compte/mot-de-passe", {"current_password": "guess guess guess",
                                                             "password": "grenier mouette tricot ardoise"},
                          "/compte/mot-de-passe").status_code == 422
    tokens = [_form_post(client, "/compte/jetons", {"current_password": "guess guess guess", "name": "x",
                                                    "days": "30"}, "/compte/jetons").status_code for _ in range(6)]
    assert tokens == [422] * 5 + [429]
    other = app.test_client()  # sign-in elsewhere (not a device the account signed in from)
    token = csrf_token(other.get("/login").get_data(as_text=True))
    assert other.post("/login", data={"email": account.email, "password": "guess guess guess",
                                      "csrf_token": token}).status_code == 429


def test_signing_out_from_a_page_open_for_more_than_an_hour_signs_out(client, db, monkeypatch,  # noqa: ANN001
                                                                      fresh_limits) -> None:  # noqa: ANN001
    """Flask-WTF's tokens expire after an hour: *Se déconnecter* on a page left open longer was
    400 ``csrf_failed`` and the session stayed alive. Signing out takes the session's own token
    of any age; another token, or none, is still refused."""
    import time

    from itsdangerous.timed import TimestampSigner

    from tests.conftest import csrf_token, make_account

    account = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    account.login()
    token = csrf_token(client.get("/compte").get_data(as_text=True))
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) + 3700)
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 400
    assert client.post("/logout", data={}).status_code == 400
    assert client.post("/langue", data={"csrf_token": token, "language": "nl"}).status_code == 400  # other forms: 1 h
    out = client.post("/logout", data={"csrf_token": token})
    monkeypatch.undo()
    assert (out.status_code, client.get("/compte").status_code) == (302, 302)


# ---- the dashboard's locations: points or cells by the same test of what is in view --------------

def _locations_case(client, db):  # noqa: ANN001, ANN202
    """Two points in a 100 m view at Charleroi and a 1 km zone whose corner reaches into it (its
    dot lies outside the view); the view's bbox."""
    import shapely
    from shapely.geometry import Point

    from geosignal.geo import LAMBERT72, WGS84, reproject
    from tests.conftest import make_account
    from tests.factories import CHARLEROI_LAMBERT72, square_lambert, to_geojson_4326

    x0, y0 = CHARLEROI_LAMBERT72
    admin = make_account(client, db, "loc-admin@igretec.com", "admin")
    for g in (Point(x0 + 10, y0 + 10), Point(x0 + 30, y0 + 30), square_lambert(x0 + 90, y0 + 90, 1000)):
        assert admin.post("/api/v1/reports", json=feature(to_geojson_4326(g))).status_code == 201
    a, b, c, d = reproject(shapely.box(x0, y0, x0 + 100, y0 + 100), LAMBERT72, WGS84).bounds
    return f"{a:.7f},{b:.7f},{c:.7f},{d:.7f}"


@pytest.mark.parametrize(("zoom", "in_view"), [(12, 2), (16, 3)])
def test_locations_choose_points_or_cells_by_what_is_in_view(db, client, referent, monkeypatch, zoom: int,  # noqa: ANN001
                                                             in_view: int) -> None:
    """The choice counted the reports whose bounding box meets the view (3), the points those
    whose dot is in it (2; from zoom 13, whose shape is: 3): 2 in view with at most 2 allowed
    were cells; and close in, the cells left out the zone its shape puts in view (total 2)."""
    from geosignal.services import aggregation

    bbox = _locations_case(client, db)
    url = f"/api/v1/stats/locations?bbox={bbox}&zoom={zoom}"
    points = referent.get(url).get_json()
    assert (points["mode"], points["total"]) == ("points", in_view)
    monkeypatch.setattr(aggregation, "MAX_POINTS", 2)
    answer = referent.get(url).get_json()
    assert (answer["mode"], answer["total"]) == (("points", 2) if in_view == 2 else ("cells", 3))
    if answer["mode"] == "cells":
        assert sum(n for *_xy, n in answer["items"]) == 3


# ---- counts written in the reader's number format on the commune sheet and its PDF -------------

def test_the_commune_sheet_writes_its_breakdown_counts_as_its_figures(db, referent, tmp_path) -> None:  # noqa: ANN001
    """With 1,200 reports, the sheet's « Par réseau et opérateur » table and the PDF's status and
    network tables said « 1200 » where the figures beside said « 1 200 », « 1.200 », « 1,200 »."""
    import html
    import re
    import shutil
    import subprocess

    from sqlalchemy import text

    from tests.conftest import CHARLEROI

    db.execute(text("""
        INSERT INTO reports (id, geometry, commune_nis, network, description)
        SELECT gen_random_uuid(), ST_SetSRID(ST_MakePoint(4.40 + (k % 30) * 0.002, 50.39 + (k / 30) * 0.001), 4326),
               '52011', 'mobile', 'Bulk ' || k
        FROM generate_series(1, 1200) k ORDER BY k"""))
    db.commit()
    for lang, written in (("fr", "1\u202f200"), ("nl", "1.200"), ("en", "1,200")):
        page = html.unescape(referent.get(f"/communes/{CHARLEROI}/fiche",
                                          headers={"Accept-Language": lang}).get_data(as_text=True))
        breakdown = re.search(r'id="sheet-breakdown">(.*?)</table>', page, re.S).group(1)
        assert written in breakdown and "1200" not in breakdown
    if not shutil.which("pdftotext"):
        pytest.skip("poppler's pdftotext is needed to read the PDF")
    pdf = tmp_path / "sheet.pdf"
    pdf.write_bytes(referent.get(f"/communes/{CHARLEROI}/fiche.pdf", headers={"Accept-Language": "en"}).data)
    words = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                           text=True).stdout
    assert "Submitted" in words and "1,200" in words and "1200" not in words


# ---- an edit of the same vertices in another order is an edit -------------------------------------

def test_an_edit_of_the_same_vertices_in_another_order_is_stored(db, representative) -> None:  # noqa: ANN001
    """« The same geometry sent back » was the same type, vertex count and a Hausdorff distance
    ≤ 1 mm, which PostGIS measures on the vertices: a road stretch A→B→C corrected to A→C→B, or a
    zone's notch moved to another side, answered 200 and kept the old shape, no edit journalled.
    The same outline from another ring start, or a line reversed, is still no edit."""
    from shapely.geometry import LineString, Polygon, mapping
    from sqlalchemy import text

    from geosignal.geo import LAMBERT72, WGS84, reproject
    from tests.factories import CHARLEROI_LAMBERT72, _lists

    x, y = CHARLEROI_LAMBERT72

    def gj(g):  # noqa: ANN001, ANN202
        return _lists(mapping(reproject(g, LAMBERT72, WGS84)))

    def edit(first, then) -> tuple[int, bool]:  # noqa: ANN001
        created = representative.post("/api/v1/reports", json=feature(gj(first)))
        assert created.status_code == 201
        rid, tag = created.get_json()["id"], created.headers["ETag"]
        patched = representative.patch(f"/api/v1/reports/{rid}", json={"geometry": gj(then)},
                                       headers={"If-Match": tag})
        assert patched.status_code == 200
        edits = db.scalar(text("SELECT count(*) FROM audit_events WHERE report_id = :r AND action = 'edit'"),
                          {"r": rid})
        return edits, patched.headers["ETag"] != tag

    a, b, c = (x, y), (x + 600, y), (x + 300, y + 400)
    assert edit(LineString([a, b, c]), LineString([a, c, b])) == (1, True)
    s = 300
    notch_top = Polygon([(x, y + 900), (x + s, y + 900), (x + s, y + 900 + s), (x + s / 2, y + 900 + s / 2),
                         (x, y + 900 + s)])
    notch_right = Polygon([(x, y + 900), (x + s, y + 900), (x + s / 2, y + 900 + s / 2), (x + s, y + 900 + s),
                           (x, y + 900 + s)])
    assert edit(notch_top, notch_right) == (1, True)
    assert edit(LineString([(x, y - 900), (x + 500, y - 900)]), LineString([(x + 500, y - 900), (x, y - 900)])) == (0, False)
    ring = [(x - 900, y), (x - 600, y), (x - 600, y + 300), (x - 900, y + 300)]
    assert edit(Polygon(ring), Polygon(ring[2:] + ring[:2])) == (0, False)


def test_a_geometry_sent_back_as_read_is_no_edit_whatever_its_float_noise(db, representative) -> None:  # noqa: ANN001
    """A ring with two longitudes 1e-16° apart (4.4399999999999995 beside 4.44, as a GIS writes
    them) comes back from GET on 9 decimals; its canonical order (``ST_Normalize``) then starts at
    another corner, and pairing the vertices by place took it for an edit (a day's regression of
    the rule above): sent back as read, it is no edit, stored byte for byte."""
    from sqlalchemy import text

    ring = [[4.44, 50.41], [4.45, 50.41], [4.45, 50.415], [4.4399999999999995, 50.415], [4.44, 50.41]]
    created = representative.post("/api/v1/reports", json=feature({"type": "Polygon", "coordinates": [ring]}))
    assert created.status_code == 201
    rid = created.get_json()["id"]
    shown = representative.get(f"/api/v1/reports/{rid}")
    before = db.scalar(text("SELECT ST_AsEWKB(geometry) FROM reports WHERE id = :r"), {"r": rid})
    patched = representative.patch(f"/api/v1/reports/{rid}", json={"geometry": shown.get_json()["geometry"]},
                                   headers={"If-Match": shown.headers["ETag"]})
    assert patched.status_code == 200 and patched.headers["ETag"] == shown.headers["ETag"]
    assert db.scalar(text("SELECT count(*) FROM audit_events WHERE report_id = :r AND action = 'edit'"),
                     {"r": rid}) == 0
    assert bytes(db.scalar(text("SELECT ST_AsEWKB(geometry) FROM reports WHERE id = :r"), {"r": rid})) == bytes(before)


# ---- a copy of a rejected report keeps what the form shows unchanged (case 35's kind) -----------

def test_a_copy_filed_as_it_opens_keeps_the_observation_hour(db, client, representative, referent) -> None:  # noqa: ANN001
    """The map form filled from a rejected report shows its observation day only: filed as it
    opened, the copy was observed at midnight CET instead of 03:30 CEST (a change of time's
    day); a day changed in the form is taken as typed."""
    from sqlalchemy import text
    from werkzeug.datastructures import MultiDict

    from tests.test_form_refusals import _report, browser_form

    rid = _report(representative, observed_at="2025-03-30T03:30:00+02:00")
    assert referent.post(f"/api/v1/reports/{rid}/transitions",
                         json={"to": "rejected", "reason": "doublon ?"}).status_code == 200
    representative.login()

    def copy(**changed: str) -> str:
        fields = browser_form(client.get(f"/carte?copie={rid}").get_data(as_text=True), "/carte")
        fields = [(k, changed.get(k, v)) for k, v in fields]
        assert client.post("/carte", data=MultiDict(fields)).status_code == 302
        new = db.execute(text("SELECT id FROM reports ORDER BY seq DESC LIMIT 1")).scalar()
        return representative.get(f"/api/v1/reports/{new}").get_json()["properties"]["observed_at"]

    assert copy() == "2025-03-30T03:30:00+02:00"
    assert copy(observed_at="2025-03-31", description="un autre jour") == "2025-03-31T00:00:00+02:00"


# ---- the command line: an option twice on every path, and `-o` files -------------------------------

@pytest.mark.parametrize("args", [
    ["purge", "--dry-run", "--photos-older-than", "5", "--photos-older-than", "6"],
    ["export", "--no-record", "--commune", "52011", "--commune", "52012"],
    ["export", "--no-record", "-o", "/dev/null", "-o/dev/null"],
])
def test_an_option_given_twice_is_refused_through_flask_too(app, db, args: list[str]) -> None:  # noqa: ANN001
    """The check ran in the ``geosignal`` group only: ``flask --app geosignal`` (the README's
    other way in) kept the last value without a word, and ``-ob.geojson`` (a short option's
    value attached) was not seen as ``-o`` again."""
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 2, result.output
    assert "is given twice" in result.output


def test_export_into_a_file_keeps_its_mode_and_a_link_its_target(app, db, tmp_path) -> None:  # noqa: ANN001
    """``-o`` over a file of mode 0600 made it 0644 (readable by all), and over a link to a file
    replaced the link by a file, the target left as it was."""
    import os
    import stat

    private = tmp_path / "private.geojson"
    private.write_text("old")
    os.chmod(private, 0o600)
    assert app.test_cli_runner().invoke(args=["export", "--no-record", "-o", str(private)]).exit_code == 0
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600 and private.read_text() != "old"
    real = tmp_path / "shared" / "dwconnect.geojson"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "latest.geojson"
    link.symlink_to(real)
    assert app.test_cli_runner().invoke(args=["export", "--no-record", "-o", str(link)]).exit_code == 0
    assert link.is_symlink() and json.loads(real.read_text())["type"] == "FeatureCollection"


def test_an_export_whose_file_cannot_be_replaced_marks_nothing(app, db, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """``export -o … --mark-transmitted`` committed (run recorded, reports marked transmitted)
    before the file took its name: a file another user owns in a sticky shared folder refused
    the name, exit 1 « cannot write », and the reports were marked sent though DWconnect got
    nothing. It is asked first now; a name refused at the very end keeps the complete file."""
    import os

    from sqlalchemy import text

    from tests.test_exports_sent import reports as _reports  # noqa: F401

    drop = tmp_path / "drop"
    drop.mkdir()
    os.chmod(drop, 0o1777)
    theirs = drop / "dwconnect.geojson"
    theirs.write_text("theirs")
    os.chown(theirs, 4242, 4242)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # (the tests run as root, who may replace anything)
    refused = app.test_cli_runner().invoke(args=["export", "-o", str(theirs), "--mark-transmitted"])
    assert refused.exit_code == 1 and "cannot write" in refused.output and "sticky" in refused.output
    assert theirs.read_text() == "theirs"
    assert db.scalar(text("SELECT count(*) FROM export_runs")) == 0
    monkeypatch.undo()

    def no_name(src, dst):  # noqa: ANN001, ANN202
        raise PermissionError(1, "Operation not permitted", dst)

    monkeypatch.setattr(os, "replace", no_name)
    late = app.test_cli_runner().invoke(args=["export", "--no-record", "-o", str(tmp_path / "late.geojson")])
    monkeypatch.undo()
    assert late.exit_code == 1 and "the complete file is kept as" in late.output
    kept = late.output.split("the complete file is kept as ", 1)[1].split()[0]
    assert json.loads(open(kept).read())["type"] == "FeatureCollection"


# ---- an answer written in a negotiated language says so to caches -------------------------------

@pytest.mark.parametrize("path", ["/ogc/collections?f=html", "/ogc/collections/nope", "/login"])
def test_an_answer_in_the_readers_language_varies_with_accept_language(client, path: str) -> None:  # noqa: ANN001
    """Anonymous OGC pages, problem documents and the sign-in page follow Accept-Language (or the
    language cookie) but did not say ``Vary: Accept-Language``: a shared cache could serve the
    Dutch page to a French reader."""
    fr = client.get(path, headers={"Accept-Language": "fr"})
    nl = client.get(path, headers={"Accept-Language": "nl"})
    assert fr.status_code == nl.status_code and fr.get_data() != nl.get_data()
    vary = {v.strip().lower() for v in nl.headers.get("Vary", "").split(",")}
    assert {"accept-language", "cookie"} <= vary


# ---- the survey's CSV read as the reports' CSV is (case 22's kind), and its editions ------------

def _survey_csv(prefix: str, delimiter: str) -> bytes:
    import csv
    import io

    from tests.conftest import ROOT

    rows = list(csv.reader(io.StringIO((ROOT / "tests" / "fixtures" / "survey_2022.csv").read_text(encoding="utf-8")),
                           delimiter=";"))
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return (prefix + buffer.getvalue()).encode("utf-8")


def _post_survey(client, data: bytes, name: str, edition: str = "2022"):  # noqa: ANN001, ANN202
    import io

    return client.post("/api/v1/stats/survey", data={"edition": edition, "file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


@pytest.mark.parametrize(("prefix", "delimiter", "name"), [
    ("\r\n", ",", "reponses.csv"), ("\r\n", "\t", "reponses.txt"), ("sep=;\r\n", ";", "reponses.csv"),
    ("\ufeffsep=,\r\n", ",", "reponses.csv")])
def test_a_survey_csv_is_read_as_the_reports_csv_is(db, referent, prefix: str, delimiter: str, name: str) -> None:  # noqa: ANN001
    """The separator was chosen on the file's first line only: an empty line above the table
    (a title cleared) made a ``,`` or tab export one column, and Excel's ``sep=;`` line was
    taken for the headers (422 ``missing_column``, every column missing) — where the reports'
    CSV reads both."""
    answer = _post_survey(referent, _survey_csv(prefix, delimiter), name)
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["responses"] == 14


def test_an_edition_with_answers_is_not_published_only(db, referent) -> None:  # noqa: ANN001
    """Answers imported as 2019 (an edition known by its published figures alone) left it
    ``published_only: true`` beside its 14 answers, and so did every later import of another
    edition; deleted again, its published figures alone are left: published only again."""
    def editions() -> dict:
        return {e["year"]: e for e in referent.get("/api/v1/stats/survey").get_json()["editions"]}

    assert _post_survey(referent, _survey_csv("", ";"), "reponses.csv", "2019").status_code == 201
    assert (editions()[2019]["responses"], editions()[2019]["published_only"]) == (14, False)
    assert _post_survey(referent, _survey_csv("", ";"), "reponses.csv", "2022").status_code == 201
    assert editions()[2019]["published_only"] is False
    from geosignal.services.survey_db import delete_edition

    assert delete_edition(db, 2019) == 14
    db.commit()
    assert editions()[2019]["published_only"] is True


# ---- e-mails: the reset mail in the account's language; a question's lines kept in HTML ---------

def test_a_forgotten_password_mail_is_in_the_accounts_language(app, client, db, smtp_server) -> None:  # noqa: ANN001
    """Anyone may ask for a reset link: the mail was written in the asking page's language
    (French) to an account that chose Dutch, whose link then opened a Dutch page."""
    from sqlalchemy import text

    from tests.conftest import csrf_token, make_account

    account = make_account(client, db, "schepen@lesbonsvillers.be", "representative", "52075")
    db.execute(text("UPDATE users SET locale = 'nl' WHERE email = :e"), {"e": account.email})
    db.commit()
    asker = app.test_client()
    page = asker.get("/compte/mot-de-passe-oublie", headers={"Accept-Language": "fr-BE"}).get_data(as_text=True)
    asker.post("/compte/mot-de-passe-oublie", data={"email": account.email, "csrf_token": csrf_token(page)},
               headers={"Accept-Language": "fr-BE"}).close()
    [message] = smtp_server.wait_to(account.email, 1)
    assert '<html lang="nl">' in message.get_body(("html",)).get_content()
    assert message.get_body(("plain",)).get_content().rstrip().endswith(
        "— geosignal, witte zones van Charleroi Métropole")


def test_a_question_of_several_lines_keeps_them_in_the_mails_html(app, db, smtp_server) -> None:  # noqa: ANN001
    """The HTML part (what mail programs show) ran a question's lines together (« Deux questions :
    1. Quelle rue exactement ? 2. … ») where the text part and the report page keep them."""
    from geosignal.services import notifications
    from geosignal.services.mail import MailSettings
    from tests.conftest import CHARLEROI, make_account
    from tests.factories import CHARLEROI_LAMBERT72, square_lambert, to_geojson_4326

    rep = make_account(app.test_client(), db, "echevin@charleroi.be", "representative", CHARLEROI)
    referent = make_account(app.test_client(), db, "referent@igretec.com", "referent")
    x, y = CHARLEROI_LAMBERT72
    rid = rep.post("/api/v1/reports", json=feature(to_geojson_4326(square_lambert(x, y, 200.0)))).get_json()["id"]
    question = "Deux questions :\n1. Quelle rue exactement ?\n2. <b>Quel</b> opérateur ?"
    assert referent.post(f"/api/v1/reports/{rid}/transitions",
                         json={"to": "needs_info", "reason": question}).status_code == 200
    notifications.deliver_pending(db, MailSettings.from_config(app.config), "https://g.example.be")
    [message] = smtp_server.to(rep.email)
    html = message.get_body(("html",)).get_content()
    assert ("<q>Deux questions :<br>1. Quelle rue exactement ?<br>2. &lt;b&gt;Quel&lt;/b&gt; opérateur ?</q>"
            in html.replace("\r\n", "\n"))


# ---- what pages load: compressed scripts and styles, tiles the CSP lets in, a 503 when down ----

@pytest.mark.parametrize("path", ["/vendor/leaflet.js", "/vendor/leaflet.css", "/static/css/geosignal.css",
                                  "/static/js/report-map.js"])
def test_scripts_and_styles_are_sent_compressed(client, path: str) -> None:  # noqa: ANN001
    """Served as files (streamed answers), which Flask-Compress leaves alone: Leaflet's 148 KB
    went whole to every phone, where the README says scripts and styles are compressed."""
    import gzip

    whole = client.get(path)
    packed = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert (packed.status_code, packed.headers.get("Content-Encoding")) == (200, "gzip")
    assert gzip.decompress(packed.get_data()) == whole.get_data() and len(packed.get_data()) < len(whole.get_data())


def test_a_tile_host_with_its_subdomain_inside_its_name_is_let_in_whole() -> None:
    """``https://tiles-{s}.example`` put ``tiles-a`` alone in the CSP's img-src (no wildcard
    matches inside a label): Leaflet's ``tiles-b`` and ``tiles-c`` tiles were blocked."""
    from geosignal.services.basemaps import origins

    assert origins("https://tiles-{s}.example.be:8443/{z}/{x}/{y}.png") == [
        "https://tiles-a.example.be:8443", "https://tiles-b.example.be:8443", "https://tiles-c.example.be:8443"]
    assert origins("https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png") == ["https://*.tile.openstreetmap.org"]
    assert origins("https://geoservices.wallonie.be/x/{z}/{y}/{x}") == ["https://geoservices.wallonie.be"]


@pytest.mark.parametrize("path", ["/carte", "/nulle-part"])
def test_a_signed_in_page_while_the_database_is_down_is_the_503_page(path: str) -> None:
    """The 503 page's header asked for the signed-in user, whose loader queried the database
    that does not answer: a bare 500 for everyone signed in (anonymous visitors got the 503)."""
    import socket

    from geosignal import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app({"TESTING": False, "ENV": "testing", "SECRET_KEY": "t", "TILE_URL": "",
                      "DATABASE_URL": f"postgresql+psycopg://geosignal:x@127.0.0.1:{port}/none?connect_timeout=2"})
    with app.test_request_context():
        cookie = app.session_interface.get_signing_serializer(app).dumps({"_user_id": "1.0", "_fresh": True})
    client = app.test_client()
    client.set_cookie("session", cookie)
    answer = client.get(path, headers={"Accept": "text/html"})
    assert (answer.status_code, answer.headers.get("Retry-After")) == (503, "5")
    assert "indisponible" in answer.get_data(as_text=True)


def test_a_large_geometry_sent_back_is_compared_vertex_by_vertex(db, representative) -> None:  # noqa: ANN001
    """A 9,000-position zone sent back with a new description: the densified Hausdorff distance
    alone took seconds of the database (the product of the vertex counts: 5 s, the report's row
    locked); its canonical outline is compared vertex by vertex first: the same, no geometry
    change journalled. (The time is measured by a benchmark, never here.)"""
    from shapely.geometry import Point
    from sqlalchemy import text

    from geosignal.services.reports import SAME_GEOMETRY_COMPARED
    from tests.factories import CHARLEROI_LAMBERT72, to_geojson_4326

    x, y = CHARLEROI_LAMBERT72
    circle = Point(x, y).buffer(300, 2240)
    assert len(circle.exterior.coords) > SAME_GEOMETRY_COMPARED
    created = representative.post("/api/v1/reports", json=feature(to_geojson_4326(circle), description="Vallée"))
    rid = created.get_json()["id"]
    read = representative.get(f"/api/v1/reports/{rid}")
    edited = representative.patch(f"/api/v1/reports/{rid}", json={
        "geometry": read.get_json()["geometry"], "properties": {"description": "Vallée 2"}},
        headers={"If-Match": read.headers["ETag"]})
    assert edited.status_code == 200
    after = db.scalar(text("SELECT after FROM audit_events WHERE report_id = :r AND action = 'edit'"), {"r": rid})
    assert after == {"description": "Vallée 2"}
