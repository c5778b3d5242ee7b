"""The users' paths through ``geosignal serve``, in headless Chromium, with the mouse and the
keyboard as a person would: the representative draws a zone, a road stretch and a point with
Leaflet.draw's toolbar, places one report by coordinates and one by an address (local stub
geocoder), sees them in the list and on the map, withdraws one; the referent filters the
dashboard, clicks a commune and opens its sheet (and its PDF, once the route exists).

Every stored report is read back from PostGIS and checked: kind, commune, area or length in
EPSG:31370, position. Screenshots of each step go to ``test-artifacts/e2e/flow/``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from geosignal.services.aggregation.filters import COUNTED_STATUSES
from tests.conftest import COMMUNES_FILE
from tests.e2e.helpers import (
    AXE_FINDINGS,
    CHARLEROI,
    E2E_ARTIFACTS,
    REFERENT,
    REPRESENTATIVE,
    Served,
    Visit,
    axe_audit,
    blocking,
    describe,
)
from tests.stub_services import PLACE_CHARLES_II

FLOW = E2E_ARTIFACTS / "flow"
#: Where the representative draws, in Charleroi (lon, lat; EPSG:4326), away from the seeded reports.
ZONE = [(4.4380, 50.4060), (4.4410, 50.4060), (4.4410, 50.4080)]
ROAD = [(4.4500, 50.4050), (4.4530, 50.4050), (4.4530, 50.4070)]
POINT = (4.4480, 50.4100)
TYPED = (4.4460, 50.4120)


def _step(page: Any, name: str, full_page: bool = False) -> None:  # noqa: ANN401
    FLOW.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(FLOW / f"{name}.png"), full_page=full_page)


def _map_xy(page: Any, lon: float, lat: float) -> tuple[float, float]:  # noqa: ANN401
    """The page pixel of a position on the map."""
    return tuple(page.evaluate("""([lon, lat]) => { const map = window[document.getElementById('map-pane').dataset.map];
        const p = map.latLngToContainerPoint([lat, lon]), r = map.getContainer().getBoundingClientRect();
        return [r.left + p.x, r.top + p.y]; }""", [lon, lat]))


def _open_map(visit: Visit, zoom: int = 16) -> Any:  # noqa: ANN401
    page = visit.page
    page.goto(visit.base + "/carte")
    page.wait_for_function("() => document.getElementById('map-pane').dataset.limits === 'ready'")
    # the map fits itself to what it loads (boundary, reports): let that end before placing the
    # view, or a late fit moves the map under the mouse (seen with a cold server)
    page.wait_for_function("() => document.getElementById('map-pane').dataset.reports !== undefined")
    page.wait_for_load_state("networkidle")
    page.evaluate("""zoom => window[document.getElementById('map-pane').dataset.map]
        .setView([50.4085, 4.4455], zoom, {animate: false})""", zoom)
    return page


def _click_at(page: Any, lon: float, lat: float) -> None:  # noqa: ANN401
    page.mouse.click(*_map_xy(page, lon, lat))
    page.wait_for_timeout(200)  # a person's pace: Leaflet.draw drops a vertex within 50 ms of the last


def _describe_and_send(page: Any, description: str, technology: str = "4G") -> None:  # noqa: ANN401
    page.select_option("#field-network", "mobile")
    page.check(f"input[name=technologies][value='{technology}']")
    page.check("input[name=operators][value='Proximus']")
    page.fill("#field-description", description)
    with page.expect_navigation():
        page.click("#submit-report")
    assert page.url.endswith("/signalements"), page.url
    assert re.search(r"Signalement CM-\d{4}-\d{5} enregistré \(Charleroi\)\.", page.inner_text(".flashes"))


def _stored(served: Served, description: str) -> dict[str, Any]:
    rows = served.sql(
        "SELECT id::text, GeometryType(geometry), commune_nis, status, ST_Area(ST_Transform(geometry, 31370)),"
        " ST_Length(ST_Transform(geometry, 31370)), ST_X(ST_Centroid(geometry)), ST_Y(ST_Centroid(geometry)),"
        " technologies FROM reports WHERE description = :d", d=description)
    assert len(rows) == 1, f"{len(rows)} reports stored with the description {description!r}"
    keys = ("id", "kind", "commune", "status", "area", "length", "lon", "lat", "technologies")
    return dict(zip(keys, rows[0], strict=True))


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Distance between two WGS 84 positions, computed in EPSG:31370 (m)."""
    from pyproj import Transformer

    t = Transformer.from_crs(4326, 31370, always_xy=True)
    (x1, x2), (y1, y2) = t.transform([lon1, lon2], [lat1, lat2])
    return float(((x1 - x2) ** 2 + (y1 - y2) ** 2) ** 0.5)


def _withdraw(page: Any, base: str, served: Served, report_id: str) -> str:  # noqa: ANN401
    """Withdraw a report as a person would: its "Retirer" button on its card (or on its own
    page, when the list links there), then the confirmation if one is asked (the browser's
    dialog, an open ``<dialog>`` or a confirmation page). Return what asked, if anything."""
    page.goto(base + "/signalements")
    control = page.locator(f"#r-{report_id}").get_by_role("button", name=re.compile("^Retirer"))
    if control.count() == 0:
        page.goto(f"{base}/signalements/{report_id}")
        control = page.get_by_role("button", name=re.compile("^Retirer"))
    asked: list[str] = []
    page.once("dialog", lambda d: (asked.append(f"dialog: {d.message}"), d.accept()))
    control.first.click()
    page.wait_for_load_state()

    def withdrawn() -> bool:
        return served.sql("SELECT status FROM reports WHERE id = :i", i=report_id) == [("withdrawn",)]

    if not withdrawn() and not asked:
        confirm = page.locator("#confirm-button, dialog[open] button").filter(
            has_text=re.compile("retirer|confirmer", re.I)).filter(visible=True)
        asked.append(f"page: {page.url} ({confirm.first.inner_text()})")
        confirm.first.click()
        page.wait_for_load_state()
    for _ in range(50):
        if withdrawn():
            break
        page.wait_for_timeout(100)
    assert re.search(r"Signalement( [A-Z0-9-]+ :)? retiré\.", page.inner_text(".flashes")), page.inner_text(".flashes")
    return "; ".join(asked)


def _finished(page: Any) -> None:
    """Wait for the drawn shape to be finished by the click on its first (zone) or last (line)
    vertex; when a busy machine made Leaflet.draw take that click as a new vertex instead,
    finish it with the toolbar's own "Terminer" button, as a person would (the area and length
    checks that follow still hold the shape to ±3 %)."""
    done = "() => document.getElementById('geometry').value !== ''"
    try:
        page.wait_for_function(done, timeout=5000)
    except Exception:  # noqa: BLE001 - playwright's TimeoutError
        page.locator(".leaflet-draw-actions a").filter(visible=True).first.click()
        page.wait_for_function(done)


def test_representative_reports_five_ways_sees_them_and_withdraws_one(visit: Any, served: Served) -> None:  # noqa: ANN401
    v = visit("fr", "1440x900")
    v.login(REPRESENTATIVE)
    assert v.page.url.endswith("/carte")

    # 1. a zone, drawn with the mouse: three vertices, closed on the first
    page = _open_map(v)
    page.click(".leaflet-draw-draw-polygon")
    for lon, lat in ZONE:
        _click_at(page, lon, lat)
    _click_at(page, *ZONE[0])
    _finished(page)
    assert page.inner_text("#drawn-status") == "Forme dessinée : une zone."
    _step(page, "1-zone-drawn")
    _describe_and_send(page, "E2E zone dessinée")
    zone = _stored(served, "E2E zone dessinée")
    # a right triangle of 0.003° × 0.002° at 50.406° N: 213.0 m × 222.6 m / 2 (mouse pixels: ±3 %)
    assert (zone["kind"], zone["commune"], zone["status"]) == ("POLYGON", CHARLEROI, "submitted")
    assert zone["area"] == pytest.approx(0.5 * 213.0 * 222.6, rel=0.03)

    # 2. a road stretch: three vertices, finished by clicking the last one again
    page = _open_map(v)
    page.click(".leaflet-draw-draw-polyline")
    for lon, lat in ROAD:
        _click_at(page, lon, lat)
    _click_at(page, *ROAD[-1])
    _finished(page)
    assert page.inner_text("#drawn-status") == "Forme dessinée : un tronçon."
    _step(page, "2-road-drawn")
    _describe_and_send(page, "E2E tronçon dessiné")
    road = _stored(served, "E2E tronçon dessiné")
    assert (road["kind"], road["commune"], road["area"]) == ("LINESTRING", CHARLEROI, 0)
    assert road["length"] == pytest.approx(213.0 + 222.6, rel=0.03)

    # 3. a point: one click with the marker tool
    page = _open_map(v)
    page.click(".leaflet-draw-draw-marker")
    _click_at(page, *POINT)
    page.wait_for_function("() => document.getElementById('geometry').value !== ''")
    assert page.inner_text("#drawn-status") == "Forme dessinée : un point."
    _describe_and_send(page, "E2E point cliqué")
    point = _stored(served, "E2E point cliqué")
    assert (point["kind"], point["commune"]) == ("POINT", CHARLEROI)
    assert _metres(point["lon"], point["lat"], *POINT) < 5  # 1 px ≈ 1.5 m at zoom 16

    # 4. by coordinates typed in the form, placed with the "Placer" button
    page = _open_map(v)
    page.fill("#coordinates", f"{TYPED[1]}, {TYPED[0]}")
    page.click("#place-coordinates")
    page.wait_for_function("() => document.getElementById('map-pane').dataset.placed")
    assert page.get_attribute("#map-pane", "data-placed") == f"{TYPED[0]:.6f},{TYPED[1]:.6f}"
    _step(page, "4-coordinates-placed")
    _describe_and_send(page, "E2E point par coordonnées", technology="5G")
    typed = _stored(served, "E2E point par coordonnées")
    assert (typed["kind"], typed["commune"], typed["technologies"]) == ("POINT", CHARLEROI, ["5G"])
    assert (typed["lon"], typed["lat"]) == (pytest.approx(TYPED[0], abs=1e-7), pytest.approx(TYPED[1], abs=1e-7))

    # 5. by an address, through the configured (stub) geocoder
    page = _open_map(v)
    page.fill("#address", "Place Charles II")
    page.keyboard.press("Enter")  # searches, does not send the form
    page.wait_for_selector("#address-results li >> nth=1")
    first = page.locator("#address-results button").first
    assert first.inner_text() == "Place Charles II, Charleroi, Hainaut, Wallonie, 6000, Belgique"
    first.click()
    assert page.get_attribute("#map-pane", "data-placed") == f"{PLACE_CHARLES_II[0]:.6f},{PLACE_CHARLES_II[1]:.6f}"
    _step(page, "5-address-placed")
    _describe_and_send(page, "E2E point par adresse")
    address = _stored(served, "E2E point par adresse")
    assert (address["kind"], address["commune"]) == ("POINT", CHARLEROI)
    assert (address["lon"], address["lat"]) == (pytest.approx(PLACE_CHARLES_II[0], abs=1e-7),
                                                pytest.approx(PLACE_CHARLES_II[1], abs=1e-7))
    assert served.stub.of("/search")[-1]["q"] == ["Place Charles II"]

    mine = {"E2E zone dessinée": zone, "E2E tronçon dessiné": road, "E2E point cliqué": point,
            "E2E point par coordonnées": typed, "E2E point par adresse": address}

    # 6. the list: one card each, newest first, with its kind and status
    page.goto(v.base + "/signalements")
    for text, report in mine.items():
        card = page.locator(f"#r-{report['id']}")
        assert card.count() == 1, text
        assert text in card.inner_text()
        assert card.locator(".badge").inner_text() == "Soumis"
    order = page.locator("#report-table tbody tr").evaluate_all("rows => rows.map(r => r.id)")
    assert order[:5] == [f"r-{mine[t]['id']}" for t in reversed(list(mine))]
    kinds = {t: page.locator(f"#r-{r['id']} td[data-label='Forme']").inner_text() for t, r in mine.items()}
    assert kinds == {"E2E zone dessinée": "Zone", "E2E tronçon dessiné": "Tronçon", "E2E point cliqué": "Point",
                     "E2E point par coordonnées": "Point", "E2E point par adresse": "Point"}
    _step(page, "6-list", full_page=True)

    # 7. the map: every one drawn, and listed beside it
    page.goto(v.base + "/carte")
    page.wait_for_function("() => document.getElementById('map-pane').dataset.reports !== undefined")
    on_map = set(page.evaluate("""() => { const ids = [];
        window[document.getElementById('map-pane').dataset.map].eachLayer(l => {
            if (l.feature && l.feature.id) { ids.push(l.feature.id); } });
        return ids; }"""))
    assert {r["id"] for r in mine.values()} <= on_map
    listed = page.inner_text("#report-list")
    assert all(text in listed for text in mine)
    _step(page, "7-map")

    # 8. withdraw the road stretch (confirming when the page asks)
    confirmation = _withdraw(page, v.base, served, road["id"])
    print(f"withdrawal confirmation: {confirmation or 'none asked'}")
    assert served.sql("SELECT status FROM reports WHERE id = :i", i=road["id"]) == [("withdrawn",)]
    page.goto(v.base + "/signalements")
    assert page.locator(f"#r-{road['id']}").count() == 0  # withdrawn reports are hidden by default
    assert all(page.locator(f"#r-{r['id']}").count() == 1 for t, r in mine.items() if r is not road)
    _step(page, "8-withdrawn", full_page=True)
    v.clean()


def _vertices(served: Served, report_id: str) -> list[tuple[float, float]]:
    """The exterior ring of a stored zone (lon, lat; EPSG:4326), closing vertex dropped."""
    (doc,) = served.sql("SELECT ST_AsGeoJSON(geometry) FROM reports WHERE id = :i", i=report_id)[0]
    return [tuple(c) for c in json.loads(doc)["coordinates"][0][:-1]]


def test_representative_edits_a_report(visit: Any, served: Served) -> None:  # noqa: ANN401
    """Move one vertex of a zone with the mouse, change an attribute, save; the report page
    shows the change in its history, and PostGIS holds the new shape."""
    v = visit("fr", "1440x900")
    v.login(REPRESENTATIVE)
    report = served.seed.reports["submitted"]
    before = _vertices(served, report)
    (area_before,) = served.sql("SELECT ST_Area(ST_Transform(geometry, 31370)) FROM reports WHERE id = :i", i=report)[0]
    assert area_before == pytest.approx(400 * 400, rel=1e-6)  # the seeded square of 400 m
    page = v.page
    assert page.goto(f"{v.base}/signalements/{report}/modifier").status == 200
    page.wait_for_function("() => document.getElementById('report-map').dataset.ready === '1'")
    handles = page.locator("#report-map .leaflet-editing-icon")
    assert handles.count() >= 4  # the square's four vertices (and the middle handles)
    box = handles.first.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 20, y + 10, steps=4)
    page.mouse.move(x + 40, y + 20, steps=4)
    page.mouse.up()
    page.wait_for_function("() => document.getElementById('report-map').dataset.edited === '1'")
    page.select_option("#field-setting", "indoor")
    page.fill("#field-description", "E2E description corrigée")
    _step(page, "9-edit-moved")
    with page.expect_navigation():
        page.click("#save-edit")
    assert page.url.endswith(f"/signalements/{report}"), page.url
    assert "modifié" in page.inner_text(".flashes")
    (description, setting, area_after) = served.sql(
        "SELECT description, setting, ST_Area(ST_Transform(geometry, 31370)) FROM reports WHERE id = :i", i=report)[0]
    assert (description, setting) == ("E2E description corrigée", "indoor")
    after = _vertices(served, report)
    # the page sends 6 decimals (Leaflet): the vertices left alone move by less than 0.1 m
    moved = [(b, a) for b, a in zip(before, after, strict=True) if _metres(*b, *a) > 0.5]
    assert len(after) == len(before) and len(moved) == 1, (before, after)
    assert 10 < _metres(*moved[0][0], *moved[0][1]) < 500  # 45 px at the page's zoom
    assert area_after != pytest.approx(area_before, rel=1e-3)
    edit = page.locator("#history li[data-action=edit]")
    assert edit.count() == 1
    assert "E2E description corrigée" in page.inner_text("#report")
    _step(page, "9-edited", full_page=True)
    v.clean()


def _file_reports(served: Served, descriptions: list[str]) -> list[str]:
    """File one square zone of 300 m per description in Charleroi as its representative
    (the service the form calls); return their ids."""
    from sqlalchemy import select

    from geosignal.db import Database
    from geosignal.geo import LAMBERT72, WGS84, reproject
    from geosignal.models import User
    from geosignal.services import reports as reports_service
    from geosignal.services.intake import ReportInput
    from tests.factories import CHARLEROI_LAMBERT72, square_lambert

    database = Database(served.seed.url)
    ids = []
    try:
        with database.session() as session:
            user = session.scalar(select(User).where(User.email == REPRESENTATIVE))
            for i, text in enumerate(descriptions):
                geom = square_lambert(CHARLEROI_LAMBERT72[0] - 3000 + 800 * i, CHARLEROI_LAMBERT72[1] - 2000, 300)
                feature, _ = reports_service.create_report(session, user, ReportInput(
                    reproject(geom, LAMBERT72, WGS84),
                    {"network": "mobile", "technologies": ["4G"], "operators": ["Orange"], "issue": "no_coverage",
                     "setting": "outdoor", "description": text}))
                ids.append(feature["id"])
            session.commit()
    finally:
        database.engine.dispose()
    return ids


REJECTION = "Zone déjà couverte par l'antenne de la rue de Marcinelle depuis mars."


def test_referent_decides_in_the_queue_and_the_commune_reads_the_reason(visit: Any, served: Served) -> None:  # noqa: ANN401
    """The referent validates one report and rejects another with a reason in the queue,
    without the page reloading; the representative then reads the reason on the report page."""
    kept, refused = _file_reports(served, ["E2E file : à valider", "E2E file : à rejeter"])
    v = visit("fr", "1440x900")
    v.login(REFERENT)
    page = v.page
    page.goto(v.base + "/validation")
    page.wait_for_function("() => document.getElementById('queue').dataset.state === 'ready'")
    page.evaluate("() => { window.sameDocument = 'queue'; }")  # lost if the page reloads
    for report in (kept, refused):
        assert page.locator(f"#q-{report}").count() == 1, f"{report} not in the queue"

    # validate: one click; the card leaves the list of reports waiting
    card = page.locator(f"#q-{kept}")
    card.locator(".queue-select").click()
    page.wait_for_function(f"() => document.getElementById('queue').dataset.mapShown === '{kept}'")
    _step(page, "15-queue-selected")
    card.locator(".queue-action[data-target=validated]").click()
    page.wait_for_function(f"() => document.getElementById('q-{kept}') === null")
    assert served.sql("SELECT status FROM reports WHERE id = :i", i=kept) == [("validated",)]
    assert "validé" in page.inner_text("#queue-summary")

    # reject: the reason is required, then sent
    card = page.locator(f"#q-{refused}")
    card.locator(".queue-action[data-target=rejected]").click()
    card.locator(".queue-confirm").click()  # empty: refused by the page, announced
    page.wait_for_function("() => document.getElementById('queue-alert').textContent !== ''")
    assert card.locator("textarea").get_attribute("aria-invalid") == "true"
    assert served.sql("SELECT status FROM reports WHERE id = :i", i=refused) == [("submitted",)]
    card.locator("textarea").fill(REJECTION)
    card.locator(".queue-confirm").click()
    page.wait_for_function(f"() => document.getElementById('q-{refused}') === null")
    assert served.sql("SELECT status FROM reports WHERE id = :i", i=refused) == [("rejected",)]
    assert page.evaluate("() => window.sameDocument") == "queue"  # no reload
    _step(page, "16-queue-decided")
    v.clean()

    # the representative, on a phone: the rejected report's page shows the reason in its history
    r = visit("fr", "390x844")
    r.login(REPRESENTATIVE)
    assert r.page.goto(f"{r.base}/signalements/{refused}").status == 200
    assert r.page.inner_text("#status-badge") == "Rejeté"
    event = r.page.locator("#history li[data-action=reject]")
    assert event.count() == 1
    assert event.locator(".reason").inner_text() == REJECTION
    assert r.page.locator("#history li[data-action=create]").count() == 1
    _step(r.page, "17-rejected-seen-by-commune", full_page=True)
    r.clean()


def _inside_point(nis: str) -> tuple[float, float]:
    """A position inside commune ``nis`` (shapely's point on surface of the real boundary)."""
    from shapely.geometry import shape

    communes = json.loads(Path(COMMUNES_FILE).read_text(encoding="utf-8"))
    for f in communes["features"]:
        if f["properties"]["nis_code"] == nis:
            p = shape(f["geometry"]).point_on_surface()
            return p.x, p.y
    raise AssertionError(f"commune {nis} not in {COMMUNES_FILE}")


def test_referent_filters_the_dashboard_and_opens_a_commune(visit: Any, served: Served) -> None:  # noqa: ANN401
    v = visit("fr", "1440x900")
    v.login(REFERENT)
    page = v.page
    assert page.url.endswith("/tableau-de-bord")
    ready = "() => document.getElementById('map-pane').dataset.state === 'ready'"
    page.wait_for_function(ready)
    counted = "status IN ('" + "', '".join(COUNTED_STATUSES) + "')"
    (shown,) = served.sql(f"SELECT count(*) FROM reports WHERE {counted}")[0]
    assert page.get_attribute("#map-pane", "data-total") == str(shown)
    assert page.locator("#commune-table tbody tr").count() == 30
    _step(page, "10-dashboard", full_page=True)

    # a filter: fixed networks only (the figures are the server's, recomputed for the filter)
    (fixed,) = served.sql(f"SELECT count(*) FROM reports WHERE {counted} AND network = 'fixed'")[0]
    assert fixed != shown
    page.select_option("#filters select[name=network]", "fixed")
    page.wait_for_function(f"() => document.getElementById('map-pane').dataset.state === 'ready'"
                           f" && document.getElementById('map-pane').dataset.total === '{fixed}'")
    row = page.locator(f"#commune-table tbody tr[data-nis='{CHARLEROI}']")
    (charleroi_fixed,) = served.sql(f"SELECT count(*) FROM reports WHERE {counted}"
                                    " AND network = 'fixed' AND commune_nis = :n", n=CHARLEROI)[0]
    assert row.locator("td").nth(2).inner_text() == str(charleroi_fixed)
    _step(page, "11-dashboard-fixed")
    page.select_option("#filters select[name=network]", "")
    page.wait_for_function(f"() => document.getElementById('map-pane').dataset.total === '{shown}'")

    # hide the report layers, then click inside Charleroi: its sheet opens
    page.uncheck("#show-heat")
    page.uncheck("#show-markers")
    lon, lat = _inside_point(CHARLEROI)
    page.evaluate("""([lon, lat]) => window[document.getElementById('map-pane').dataset.map]
        .setView([lat, lon], 12, {animate: false})""", [lon, lat])
    page.wait_for_timeout(300)
    with page.expect_navigation():
        page.mouse.click(*_map_xy(page, lon, lat))
    assert page.url.endswith(f"/communes/{CHARLEROI}/fiche")
    assert "Charleroi" in page.inner_text("h1")
    page.wait_for_selector(".leaflet-overlay-pane svg path")
    _step(page, "12-commune-sheet", full_page=True)
    v.clean()


DPI = 100


def _zone_pixels(ppm: Path) -> dict[str, int]:
    """Count, per status drawn on the sheet, the pixels of the map panel of a binary PPM
    (``pdftoppm`` at :data:`DPI`) that have the zones' fill: the status colour at
    ``svgmap.ZONE_FILL_OPACITY`` over the commune's white (±10 per channel for antialiasing)."""
    import numpy as np

    from geosignal.services import sheet_pdf, svgmap
    from geosignal.vocab import STATUS_COLOURS

    data = ppm.read_bytes()
    magic, width, height, depth = data.split(maxsplit=4)[:4]
    assert magic == b"P6" and depth == b"255"
    rgb = np.frombuffer(data[-int(width) * int(height) * 3:], dtype=np.uint8).reshape(int(height), int(width), 3)
    px = DPI / 25.4
    top = round((sheet_pdf.MARGIN_MM[0] + sheet_pdf.HEADER_MM) * px)
    left = round(sheet_pdf.MARGIN_MM[1] * px)
    panel = rgb[top:top + round(sheet_pdf.MAP_PANEL_MM * px), left:left + round(sheet_pdf.MAP_WIDTH_MM * px)].astype(int)
    under = np.array([int(svgmap.COMMUNE_FILL[i:i + 2], 16) for i in (1, 3, 5)])
    counts = {}
    for status in sheet_pdf.SHOWN_STATUSES:
        colour = np.array([int(STATUS_COLOURS[status][i:i + 2], 16) for i in (1, 3, 5)])
        fill = svgmap.ZONE_FILL_OPACITY * colour + (1 - svgmap.ZONE_FILL_OPACITY) * under
        counts[status] = int((np.abs(panel - fill).max(axis=2) <= 10).sum())
    return counts


def test_commune_sheet_pdf_shows_the_zones(visit: Any, served: Served, tmp_path: Path) -> None:  # noqa: ANN401
    v = visit("fr", "1440x900")
    v.login(REFERENT)
    answer = v.page.request.get(f"{v.base}/communes/{CHARLEROI}/fiche.pdf")
    assert answer.status == 200 and answer.headers["content-type"].startswith("application/pdf")
    pdf = tmp_path / "fiche.pdf"
    pdf.write_bytes(answer.body())
    if not shutil.which("pdftoppm"):
        pytest.fail("pdftoppm is required (apt-get install poppler-utils)")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Pages:\s+1$", info, re.M), info
    assert re.search(r"^Page size:\s+595(\.\d+)? x 84[12](\.\d+)? pts \(A4\)", info, re.M), info
    FLOW.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-png", "-r", str(DPI), "-singlefile", str(pdf), str(FLOW / "13-commune-sheet-pdf")],
                   check=True)
    subprocess.run(["pdftoppm", "-r", str(DPI), "-singlefile", str(pdf), str(tmp_path / "fiche")], check=True)
    counts = _zone_pixels(tmp_path / "fiche.ppm")
    # the seeded squares of 400 m in Charleroi (about 4 mm, 16 px a side at this scale), one per
    # status shown: each status's fill colour covers a square's inside at least
    drawn = {s for s in counts if served.sql(
        "SELECT 1 FROM reports WHERE commune_nis = :n AND status = :s", n=CHARLEROI, s=s)}
    assert drawn, "no report to draw"
    assert {s: counts[s] for s in drawn if counts[s] < 60} == {}, counts
    assert {s: n for s, n in counts.items() if s not in drawn and n > 0} == {}, counts


def test_keyboard_only_report_is_audited_on_a_phone(visit: Any, served: Served) -> None:  # noqa: ANN401
    """The map page's form, opened with the keyboard on a phone, passes the axe audit too
    (the step the page-by-page audit does not reach)."""
    v = visit("fr", "390x844")
    v.login(REPRESENTATIVE)
    page = v.page
    page.wait_for_function("() => document.getElementById('map-pane').dataset.limits === 'ready'")
    page.focus("#without-map")
    page.keyboard.press("Enter")
    assert page.get_attribute("#map-layout", "data-step") == "form"
    assert page.evaluate("document.activeElement.id") == "coordinates"
    page.keyboard.type("50.4108, 4.4440")
    page.keyboard.press("Control+Enter")  # places (Enter alone starts another line)
    page.wait_for_function("() => document.getElementById('map-pane').dataset.placed")
    violations = axe_audit(page)
    AXE_FINDINGS.append({"page": "map-form", "lang": "fr", "size": "390x844", "path": "/carte", "violations": violations})
    if violations:
        print(f"\naxe on the map form (fr, 390x844):\n{describe(violations)}")
    assert blocking(violations) == [], describe(blocking(violations))
    _step(page, "14-phone-form", full_page=True)
    v.clean()
