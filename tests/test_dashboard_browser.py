"""The referent's dashboard and the commune sheet, in headless Chromium and through the test
client: renders, filters re-query the API and change what is shown, sorting, downloads,
no console error, no failed request, screenshots in ``test-artifacts/``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import shapely
from shapely.geometry import Point
from sqlalchemy import delete, select, text

from geosignal.geo import LAMBERT72, WGS84, reproject
from geosignal.models import (
    CommuneStats,
    PublishedIndicator,
    Report,
    SurveyEdition,
    SurveyResponse,
    User,
)
from geosignal.services import maps, survey_db
from geosignal.services import reports as reports_service
from geosignal.services.intake import ReportInput
from geosignal.services.users import create_user
from tests.conftest import ARTIFACTS, CHARLEROI, make_account, owner_session
from tests.factories import CHARLEROI_LAMBERT72, square_lambert
from tests.test_browser import PASSWORD, PageWatch, browser, serving  # noqa: F401  (fixture)

X0, Y0 = CHARLEROI_LAMBERT72
FIXTURE = Path(__file__).parent / "fixtures" / "survey_2022.csv"
CHATELET = "52012"


def _add(session, user, geom_31370, **props) -> None:  # noqa: ANN001, ANN003
    properties = {"network": "mobile", "technologies": ["4G"], "operators": ["Proximus"], **props}
    reports_service.create_report(session, user, ReportInput(reproject(geom_31370, LAMBERT72, WGS84), properties))


# --------------------------------------------------------------------------------------------
# Without a browser
# --------------------------------------------------------------------------------------------


def test_dashboard_is_for_the_referent_and_embeds_no_report(db, client, representative, referent) -> None:  # noqa: ANN001
    representative.login()
    assert client.get("/tableau-de-bord").status_code == 403
    client.post("/logout", headers=referent.headers)
    page = referent.get("/tableau-de-bord")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-stats-url="/api/v1/stats/communes"' in html
    assert 'data-locations-url="/api/v1/stats/locations"' in html
    assert "/vendor/leaflet-heat.js" in html and "/vendor/leaflet.markercluster.js" in html
    assert "cdn" not in html.lower()
    assert len(page.get_data()) < 300 * 1024


def test_commune_sheet(db, client, referent) -> None:  # noqa: ANN001
    survey_db.import_edition(db, FIXTURE.read_bytes(), FIXTURE.name, 2022)
    admin = make_account(client, db, "sheet-admin@igretec.com", "admin")
    user = db.query(User).filter_by(email=admin.email).one()
    _add(db, user, square_lambert(X0 - 2000, Y0 - 2000, 1000), households_affected=12)
    db.commit()
    html = referent.get(f"/communes/{CHARLEROI}/fiche").get_data(as_text=True)
    assert "<h1>Charleroi <small>INS 52011</small></h1>" in html
    assert "1,000 km²" in html  # 1 km² square, French decimal comma
    assert "Score smart (auto-évaluation)</th><td class=\"num\">6/10" in html
    assert "Statbel, population légale au 1er janvier 2020" in html
    assert "SPF Finances – AGDP" in html
    # the map's legend names what it draws (a zone, no stretch, no point), each swatch in the
    # map's own colours
    legend = re.search(r'<ul class="map-legend" id="sheet-legend"[^>]*>(.*?)</ul>', html, re.S).group(1)
    assert re.findall(r'<li data-key="(\w+)">', legend) == ["white_zone", "commune", "neighbours"]
    assert [re.sub(r"\s+", " ", t).strip() for t in re.findall(r"</svg>([^<]*)</li>", legend)] == [
        "Zone blanche (zones signalées, réunies)", "Limite de la commune", "Communes voisines"]
    zone = maps.WHITE_ZONE_STYLE
    assert (f'fill="{zone["fillColor"]}" fill-opacity="{zone["fillOpacity"]}" stroke="{zone["color"]}"'
            in legend)
    assert f'stroke="{maps.COMMUNE_STYLE["color"]}"' in legend and 'stroke-dasharray="4 4"' in legend
    chatelet_rep = make_account(client, db, "x@chatelet.be", "representative", CHATELET)
    assert chatelet_rep.get(f"/communes/{CHATELET}/fiche").status_code == 200
    assert chatelet_rep.get(f"/communes/{CHARLEROI}/fiche").status_code == 403
    assert referent.get("/communes/99999/fiche").status_code == 404


def test_commune_sheet_map_draws_its_point_reports(db, client, referent) -> None:  # noqa: ANN001
    # a commune with points only showed an empty map beside "4 reports"
    from geosignal.services import drawing

    admin = make_account(client, db, "sheet-pts@igretec.com", "admin")
    user = db.query(User).filter_by(email=admin.email).one()
    for k in range(3):
        _add(db, user, square_lambert(X0 + 400 * k, Y0, 100).centroid)
    reports_service.create_report(db, user, ReportInput(reproject(  # a draft: not counted, not drawn
        square_lambert(X0, Y0 + 900, 100).centroid, LAMBERT72, WGS84), {"network": "mobile"}), status="draft")
    db.commit()
    points, drawn, total = drawing.counted_points(db, CHARLEROI)
    assert points["type"] == "MultiPoint" and len(points["coordinates"]) == drawn == total == 3
    xs = sorted(reproject(shapely.Point(c), WGS84, LAMBERT72).x for c in points["coordinates"])
    assert xs == pytest.approx([X0 + 50, X0 + 450, X0 + 850], abs=0.05)  # metres, EPSG:31370
    assert drawing.counted_points(db, CHATELET) == (None, 0, 0)
    html = referent.get(f"/communes/{CHARLEROI}/fiche").get_data(as_text=True)
    assert '"type": "MultiPoint"' in html and "new L.CircleMarker(latlng" in html
    assert all(f"[{c[0]}, {c[1]}]" in html for c in points["coordinates"])
    assert re.findall(r'<li data-key="(\w+)">', html) == ["points", "commune", "neighbours"]
    assert f'<circle cx="14" cy="8" r="5" fill="{maps.POINT_STYLE["fillColor"]}"' in html
    assert "Points signalés" in html
    assert 'id="sheet-points-drawn"' not in html  # every one drawn: nothing to say


def test_commune_sheet_draws_each_point_of_a_multipoint_report(db, client, referent) -> None:  # noqa: ANN001
    """A MultiPoint report among the points (a file's several spots in one feature): the sheet's
    points were collected into a GeometryCollection, which it then read as a MultiPoint: 500.
    Each point is drawn, and the legend counts reports."""
    from geosignal.services import drawing

    admin = make_account(client, db, "sheet-multi@igretec.com", "admin")
    user = db.query(User).filter_by(email=admin.email).one()
    _add(db, user, square_lambert(X0, Y0, 100).centroid)
    _add(db, user, shapely.MultiPoint([(X0 + 400, Y0), (X0 + 800, Y0), (X0 + 1200, Y0)]))
    db.commit()
    points, drawn, total = drawing.counted_points(db, CHARLEROI)
    assert (points["type"], len(points["coordinates"]), drawn, total) == ("MultiPoint", 4, 2, 2)
    answer = referent.get(f"/communes/{CHARLEROI}/fiche")
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert all(f"[{c[0]}, {c[1]}]" in html for c in points["coordinates"])
    assert 'id="sheet-points-drawn"' not in html  # both reports drawn
    assert drawing.counted_points(db, CHARLEROI, limit=1)[1:] == (1, 2)
    assert referent.get(f"/communes/{CHARLEROI}/fiche.pdf").status_code == 200  # (its own drawing)


def test_commune_sheet_map_says_how_many_of_its_points_it_draws(db, referent) -> None:  # noqa: ANN001
    """The sheet's map draws at most SHEET_MAX_POINTS (2,000) points: it drew the first filed,
    beside a count of them all, and said nothing. Now the newest, and the legend says how many
    (2,001 points inserted set-wise, as the sheet counts them)."""
    from geosignal.services import drawing

    db.execute(text("""
        INSERT INTO reports (id, geometry, commune_nis, network, technologies, operators, status)
        SELECT gen_random_uuid(),
               ST_Transform(ST_SetSRID(ST_MakePoint(:x + (k % 50) * 40, :y + (k / 50) * 40), 31370), 4326),
               :nis, 'mobile', '{4G}', '{Proximus}', 'submitted'
        FROM generate_series(0, 2000) k ORDER BY k"""), {"x": X0 - 1000, "y": Y0 - 800, "nis": CHARLEROI})
    db.commit()
    first, last = db.execute(text("SELECT ST_AsGeoJSON(geometry, 7) FROM reports WHERE commune_nis = :n "
                                  "ORDER BY seq"), {"n": CHARLEROI}).scalars().all()[::2000]
    html = referent.get(f"/communes/{CHARLEROI}/fiche").get_data(as_text=True)
    assert '<th>Signalements</th><td class="num">2\u202f001</td>' in html  # (fr: a narrow no-break space)
    on_map = json.loads(re.search(r'"geometry": (\{"coordinates": \[\[.*?\]\], "type": "MultiPoint"\})',
                                  html).group(1))["coordinates"]
    assert len(on_map) == drawing.SHEET_MAX_POINTS == 2000
    assert json.loads(last)["coordinates"] in on_map  # the newest drawn,
    assert json.loads(first)["coordinates"] not in on_map  # the first filed left out
    drawn = re.search(r'<li data-key="points">.*?</li>', html, re.S).group(0)
    assert re.sub(r"[ \n]+", " ", re.sub(r"<[^>]+>", "", drawn)).strip() == (
        "Points signalés (2\u202f000 points sur 2\u202f001 dessinés, les plus récents)")
    points, drawn, total = drawing.counted_points(db, CHARLEROI)
    assert (points["coordinates"], drawn, total) == (on_map, 2000, 2001)


# --------------------------------------------------------------------------------------------
# In headless Chromium
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dashboard_server(app) -> Iterator[str]:  # noqa: ANN001
    """geosignal on a free port with committed reports (7 mobile, 2 fixed), the 2022 survey and
    a referent; everything is removed afterwards."""
    database = app.extensions["geosignal.db"]
    with database.session() as session:
        create_user(session, "dash-ref@igretec.com", "referent", None, PASSWORD)
        admin = create_user(session, "dash-admin@igretec.com", "admin", None, PASSWORD)
        session.flush()
        for i in range(5):  # Charleroi: overlapping squares and points
            _add(session, admin, square_lambert(X0 - 2500 + 300 * i, Y0 - 2500, 800))
        _add(session, admin, square_lambert(X0 + 3000, Y0 + 1000, 500).centroid, households_affected=30)
        _add(session, admin, square_lambert(X0 + 3500, Y0 + 1500, 500).centroid)
        # Châtelet: fixed network
        chatelet = session.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(boundary), 31370) AS p "
            "FROM communes WHERE nis_code = :n) q"), {"n": CHATELET}).one()
        _add(session, admin, square_lambert(chatelet[0] - 300, chatelet[1] - 300, 600), network="fixed",
             technologies=["fibre"], operators=["VOO"])
        _add(session, admin, square_lambert(chatelet[0] + 500, chatelet[1], 10).centroid, network="fixed",
             technologies=["DSL"], operators=["Proximus"])
        survey_db.import_edition(session, FIXTURE.read_bytes(), FIXTURE.name, 2022)
        session.commit()
    with serving(app) as base:
        yield base
    with owner_session(database) as session:
        for model in (SurveyResponse, PublishedIndicator, SurveyEdition, CommuneStats, Report):
            session.execute(delete(model))
        session.execute(delete(User).where(User.email.like("dash-%")))
        session.commit()


def _wait_ready(page, total: int) -> None:  # noqa: ANN001
    page.wait_for_function(
        "t => { const p = document.getElementById('map-pane');"
        " return p.dataset.state === 'ready' && p.dataset.total === String(t) && p.dataset.locations; }",
        arg=total, timeout=15000)


@pytest.mark.browser
def test_dashboard_renders_filters_and_sorts(dashboard_server, browser) -> None:  # noqa: ANN001, F811
    watch = PageWatch(browser, dashboard_server)
    watch.login("dash-ref@igretec.com")
    page = watch.page
    assert page.url.endswith("/tableau-de-bord")
    _wait_ready(page, 9)
    assert page.locator("#commune-table tbody tr").count() == 30
    assert page.inner_text("#commune-table tfoot td:nth-child(3)") == "9"
    charleroi = page.locator(f"#commune-table tbody tr[data-nis='{CHARLEROI}']")
    assert charleroi.locator("td:nth-child(3)").inner_text() == "7"
    assert charleroi.locator("td:nth-child(10)").inner_text() == "6/10"  # survey 2022
    assert charleroi.locator("td:nth-child(13)").inner_text() == "2022 : 6"
    # every column in view at 1280 px, the survey's too (they were out of view at 1366: a trial)
    widths = page.evaluate("() => { const t = document.getElementById('commune-table');"
                           " return [t.scrollWidth, t.closest('.table-scroll').clientWidth]; }")
    assert widths[0] <= widths[1], widths
    # choropleth: Charleroi is coloured, communes without reports stay white
    fills = page.evaluate("""() => { const out = {};
        window[document.getElementById('map-pane').dataset.communesLayer].eachLayer(
            l => { out[l.feature.properties.nis_code] = l.options.fillColor; }); return out; }""")
    assert len(fills) == 30 and fills[CHARLEROI] != "#fff5f0" and fills["56016"] == "#fff5f0"
    assert page.evaluate("document.getElementById('map-pane').dataset.locations") == "points"
    assert page.locator(".leaflet-heatmap-layer").count() == 1
    # drawn as large as the map (it was 0 px wide: a page-wide max-width on canvases)
    heat, pane = page.locator(".leaflet-heatmap-layer").bounding_box(), page.locator("#map-pane").bounding_box()
    assert heat["width"] == pytest.approx(pane["width"], abs=2) and heat["height"] == pytest.approx(pane["height"], abs=2)
    assert "9 signalements dans la vue" in page.inner_text("#map-status")
    # the heat is in blues, apart from the choropleth's reds (its densest places were red on
    # red), and the legend says so; hidden with the layer
    heat_layer = "window[document.getElementById('map-pane').dataset.map]._layers"
    gradient = page.evaluate(f"""() => Object.values({heat_layer}).find(l => l._heat)?.options.gradient""")
    assert gradient == {"0.3": "#c6dbef", "0.55": "#6baed6", "0.8": "#2171b5", "1": "#08306b"}
    assert page.inner_text("#heat-legend") == "Carte de chaleur : densité des signalements\nfaible → forte"
    page.uncheck("#show-heat")
    assert page.locator("#heat-legend").is_hidden() and page.locator(".leaflet-heatmap-layer").count() == 0
    page.check("#show-heat")
    assert page.locator("#heat-legend").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "referent-dashboard-all.png"), full_page=True)

    # a filter re-queries the API and changes what is shown; the communes' sheets it opens take
    # the same filters (an auditor read unfiltered sheets as filtered)
    name_link = f"#commune-table tbody tr[data-nis='{CHATELET}'] td.name a"
    assert page.get_attribute(name_link, "href") == f"/communes/{CHATELET}/fiche"
    page.select_option("select[name=network]", "fixed")
    _wait_ready(page, 2)
    assert page.get_attribute(name_link, "href") == f"/communes/{CHATELET}/fiche?network=fixed"
    desktop = page.viewport_size
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: the cards
    page.screenshot(path=str(ARTIFACTS / "referent-dashboard-filtered-phone.png"))
    page.set_viewport_size(desktop)
    # that sheet, on a phone: its figures are the filtered table's, and it says so at the top
    sheet = page.context.new_page()
    sheet.set_viewport_size({"width": 390, "height": 844})
    sheet.goto(dashboard_server + page.get_attribute(name_link, "href"))
    assert " ".join(sheet.inner_text("#sheet-filters").split()) == (
        "Filtres appliqués : Réseau : fixe. Voir la fiche sans filtre")
    assert sheet.inner_text("#sheet-figures tr:first-child td") == "2"
    assert sheet.locator("#sheet-filters").bounding_box()["y"] < 844
    sheet.screenshot(path=str(ARTIFACTS / "commune-sheet-filtered-phone.png"))
    sheet.close()
    assert charleroi.locator("td:nth-child(3)").inner_text() == "0"
    assert page.locator(f"#commune-table tbody tr[data-nis='{CHATELET}'] td:nth-child(3)").inner_text() == "2"
    page.wait_for_function("document.getElementById('map-pane').dataset.locationsTotal === '2'")
    assert "network=fixed" in page.get_attribute("#download-csv", "href")
    assert "decimal=comma" in page.get_attribute("#download-csv-comma", "href")
    fills = page.evaluate("""() => { const out = {};
        window[document.getElementById('map-pane').dataset.communesLayer].eachLayer(
            l => { out[l.feature.properties.nis_code] = l.options.fillColor; }); return out; }""")
    assert fills[CHARLEROI] == "#fff5f0" and fills[CHATELET] != "#fff5f0"
    # the legend shows every colour the map uses, the communes at 0 % included
    legend = page.eval_on_selector_all("#legend .swatch", "els => els.map(e => e.dataset.colour)")
    assert set(fills.values()) <= set(legend), (fills, legend)
    assert page.locator("#legend .row").first.inner_text() == "0\xa0%"
    assert page.locator("#legend .row").nth(1).inner_text().startswith("> 0")  # 0 itself is the line above
    assert page.locator("#legend-reported-no-value").count() == 0  # Châtelet's reports have an area

    # Châtelet's DSL report alone: a point, no area. The commune is outlined in dashes and the
    # legend says why, not left white as if nothing were reported (a user's trial)
    page.select_option("select[name=technology]", "DSL")
    _wait_ready(page, 1)
    dashed = page.evaluate("""() => { const out = {};
        window[document.getElementById('map-pane').dataset.communesLayer].eachLayer(
            l => { if (l.options.dashArray) out[l.feature.properties.nis_code] = l.options.dashArray; }); return out; }""")
    assert dashed == {CHATELET: "6 4"}
    assert page.inner_text("#legend-reported-no-value") == (
        "Signalée, sans surface : points et tronçons seuls (voir le tableau)")
    page.select_option("select[name=technology]", "")
    _wait_ready(page, 2)

    # sorting by report count, descending, then ascending by name
    page.select_option("select[name=network]", "")
    _wait_ready(page, 9)
    page.click("#commune-table th button[data-key=report_count]")
    assert page.locator("#commune-table tbody tr").first.get_attribute("data-nis") == CHARLEROI
    page.click("#commune-table th button[data-key=name_fr]")
    assert page.locator("#commune-table tbody tr td:nth-child(2)").first.inner_text() == "Aiseau-Presles"
    page.select_option("#indicator", "reports_per_1000_inhabitants")
    assert "Signalements / 1 000 hab." in page.inner_text("#legend")
    # a few reports per 1,000 inhabitants: the classes read apart ("0,00 – 0,00" before)
    classes = page.locator("#legend .row").all_inner_texts()
    assert len(classes) == 6 and len(set(classes)) == 6 and not any(re.search(r"^0,0+ – 0,0+$", c) for c in classes), classes
    page.screenshot(path=str(ARTIFACTS / "referent-dashboard.png"), full_page=True)

    # the commune sheet, from the table, on screen and printed
    page.click(f"#commune-table tbody tr[data-nis='{CHARLEROI}'] a")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"/communes/{CHARLEROI}/fiche")
    page.wait_for_selector(".leaflet-overlay-pane svg path >> nth=1")
    assert "Charleroi" in page.inner_text("h1")
    page.screenshot(path=str(ARTIFACTS / "commune-sheet.png"), full_page=True)
    page.emulate_media(media="print")
    assert page.locator(".filters").count() == 0 and not page.is_visible(".topbar nav")
    page.screenshot(path=str(ARTIFACTS / "commune-sheet-print.png"), full_page=True)
    watch.assert_clean()
    watch.context.close()


def _reason(page, nis: str) -> tuple[str | None, str]:  # noqa: ANN001
    """A commune's outline on the map (its dash pattern, None when solid) and its tooltip's
    last line."""
    dash, tip = page.evaluate("""(nis) => { let out = null;
        window[document.getElementById('map-pane').dataset.communesLayer].eachLayer(l => {
          if (l.feature.properties.nis_code === nis)
            out = [l.options.dashArray, Array.from(l.getTooltip().getContent().children).map(c => c.textContent)]; });
        return out; }""", nis)
    return dash, tip[-1]


@pytest.mark.browser
def test_dashboard_says_why_a_reported_commune_has_no_value(app, dashboard_server, browser) -> None:  # noqa: ANN001, F811
    """A commune with reports but no value for the indicator is outlined in dashes and said why,
    each indicator its own reason: with the households indicator, Châtelet's one zone (no
    household declared) was said to hold « points, tronçons »."""
    database = app.extensions["geosignal.db"]
    with database.session() as session:  # Châtelet, 5G: a zone of 15 m × 15 m, too small for one inhabitant
        admin = session.execute(select(User).where(User.email == "dash-admin@igretec.com")).scalar_one()
        x, y = session.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(boundary), 31370) AS p "
            "FROM communes WHERE nis_code = :n) q"), {"n": CHATELET}).one()
        _add(session, admin, square_lambert(x + 500, y - 300, 15), technologies=["5G"])
        population = session.scalar(text("SELECT population FROM communes WHERE nis_code = :n"), {"n": CHATELET})
        session.commit()
    try:
        watch = PageWatch(browser, dashboard_server)
        watch.login("dash-ref@igretec.com")
        page = watch.page
        _wait_ready(page, 10)
        expected = {  # filter, indicator → Châtelet's outline, its tooltip's reason, the legend's line
            ("fibre", "households_declared"): (
                "6 4", "Aucun de ses signalements ne déclare de ménage touché.",
                "Signalée, aucun ménage déclaré dans ses signalements"),
            ("fibre", "inhabitants_affected_estimate"): (None, "Signalements : 1", None),  # 0.36 km²: people
            ("fibre", "white_zone_share"): (None, "Signalements : 1", None),
            ("5G", "inhabitants_affected_estimate"): (
                "6 4", "Ses zones signalées sont trop petites pour compter un habitant à l'estimation.",
                "Signalée, zones trop petites pour compter un habitant"),
            ("5G", "white_zone_share"): (None, "Signalements : 1", None),
            ("DSL", "inhabitants_affected_estimate"): (
                "6 4", "Ses signalements sont des points ou des tronçons : sans surface, ils n'ont pas de valeur "
                       "pour cet indicateur.",
                "Signalée, sans surface : points et tronçons seuls (voir le tableau)"),
            ("DSL", "households_declared"): (
                "6 4", "Aucun de ses signalements ne déclare de ménage touché.",
                "Signalée, aucun ménage déclaré dans ses signalements"),
        }
        got = {}
        for technology, indicator in expected:
            if page.input_value("select[name=technology]") != technology:
                page.select_option("select[name=technology]", technology)
                _wait_ready(page, 1)
            page.select_option("#indicator", indicator)
            legend = page.locator("#legend-reported-no-value")
            got[technology, indicator] = (*_reason(page, CHATELET), legend.inner_text() if legend.count() else None)
        assert got == expected
        row = page.locator(f"#commune-table tbody tr[data-nis='{CHATELET}']")
        page.select_option("select[name=technology]", "5G")
        _wait_ready(page, 1)
        assert row.locator("td:nth-child(3)").inner_text() == "1"  # the small zone is the one report
        # a population of 0 gives no rate either: said as an unknown one, not « sans surface »
        with owner_session(database) as session:
            session.execute(text("UPDATE communes SET population = 0 WHERE nis_code = :n"), {"n": CHATELET})
            session.commit()
        page.goto(dashboard_server + "/tableau-de-bord")
        _wait_ready(page, 10)
        page.select_option("#indicator", "reports_per_1000_inhabitants")
        assert _reason(page, CHATELET) == ("6 4", "Sa population n'est pas connue : pas de valeur par habitant.")
        watch.assert_clean()
        watch.context.close()
    finally:
        with owner_session(database) as session:
            session.execute(delete(Report).where(Report.technologies.contains(["5G"])))
            session.execute(text("UPDATE communes SET population = :p WHERE nis_code = :n"),
                            {"p": population, "n": CHATELET})
            session.commit()


@pytest.mark.browser
def test_dashboard_cells_when_many(dashboard_server, browser, monkeypatch) -> None:  # noqa: ANN001, F811
    """Above the point limit the server sends grid cells, drawn as count markers."""
    from geosignal.services import aggregation

    monkeypatch.setattr(aggregation, "MAX_POINTS", 3)
    watch = PageWatch(browser, dashboard_server)
    watch.login("dash-ref@igretec.com")
    page = watch.page
    _wait_ready(page, 9)
    assert page.evaluate("document.getElementById('map-pane').dataset.locations") == "cells"
    page.wait_for_selector(".cell-marker")
    counts = [int(t) for t in page.locator(".cell-marker").all_inner_texts()]
    assert sum(counts) == 9
    assert "(regroupés par le serveur)" in page.inner_text("#map-status")
    page.screenshot(path=str(ARTIFACTS / "referent-dashboard-cells.png"), full_page=True)
    watch.assert_clean()
    watch.context.close()




@pytest.mark.browser
def test_dashboard_close_in_draws_zones_as_zones(dashboard_server, browser) -> None:  # noqa: ANN001, F811
    """Close in (zoom ≥ 13), a zone is drawn as its shape, not as a dot (found by a referent's trial)."""
    watch = PageWatch(browser, dashboard_server)
    watch.login("dash-ref@igretec.com")
    page = watch.page
    _wait_ready(page, 9)
    lon, lat = reproject(Point(X0 - 2500 + 400, Y0 - 2500 + 400), LAMBERT72, WGS84).coords[0]  # 1st square's centre
    page.evaluate("([lat, lon]) => { const p = document.getElementById('map-pane');"
                  " p.dataset.locationsTotal = ''; window[p.dataset.map].setView([lat, lon], 16); }", [lat, lon])
    page.wait_for_function("() => document.getElementById('map-pane').dataset.locationsTotal !== ''")
    shapes = page.locator(".leaflet-overlay-pane path[stroke-width='3']")
    # the squares overlapping the view: 800 m wide, 300 m apart, the view ~1 km wide at zoom 16
    assert shapes.count() == int(page.evaluate("document.getElementById('map-pane').dataset.locationsTotal")) >= 2
    box = shapes.first.bounding_box()
    assert box["width"] > 100 and box["height"] > 100  # drawn as a zone, hundreds of pixels wide
    page.screenshot(path=str(ARTIFACTS / "referent-dashboard-close-in.png"))
    watch.assert_clean()
    watch.context.close()


@pytest.mark.browser
def test_zoomed_out_past_the_antimeridian_the_map_still_shows_the_reports(dashboard_server, browser) -> None:  # noqa: ANN001, F811
    """Zoomed out on a wide screen, Leaflet's view runs past ±180° of longitude: the box asked
    for is cut to the world (the server refuses a longitude beyond 180°, and the heat map and
    dots were cleared without a word)."""
    watch = PageWatch(browser, dashboard_server)
    watch.login("dash-ref@igretec.com")
    page = watch.page
    page.set_viewport_size({"width": 1600, "height": 900})
    _wait_ready(page, 9)
    page.evaluate("() => { const p = document.getElementById('map-pane');"
                  " p.dataset.locationsTotal = ''; window[p.dataset.map].setView([50.4, 4.4], 1); }")
    page.wait_for_function("() => document.getElementById('map-pane').dataset.locationsTotal !== ''")
    west = page.evaluate("() => window[document.getElementById('map-pane').dataset.map].getBounds().getWest()")
    assert west < -180  # the view does run past the antimeridian
    assert page.evaluate("document.getElementById('map-pane').dataset.locationsTotal") == "9"
    watch.assert_clean()
    watch.context.close()


def test_a_commune_with_only_a_neighbours_zone_is_explained(dashboard_server, browser) -> None:  # noqa: ANN001, F811
    """0 reports beside a white-zone share read as an error (a trial): such a row is marked and
    a note under the table says a neighbour's zone reaches over the boundary; otherwise no
    note. The stats answer is rewritten in the browser so that one commune is in that case."""
    watch = PageWatch(browser, dashboard_server)
    watch.login("dash-ref@igretec.com")
    page = watch.page
    _wait_ready(page, 9)
    assert page.locator(".neighbour-mark").count() == 0 and page.locator("#neighbour-note").is_hidden()
    chosen = {}

    def neighbour_zone(route):  # noqa: ANN001, ANN202
        answer = route.fetch()
        body = answer.json()
        row = next(r for r in body["communes"] if r["report_count"] == 0)
        row["white_zone_area_km2"], chosen["nis"] = 0.42, row["nis_code"]
        route.fulfill(response=answer, json=body)

    page.route("**/api/v1/stats/communes?*", neighbour_zone)
    page.reload()
    _wait_ready(page, 9)
    marked = page.locator("#commune-table tbody tr:has(.neighbour-mark)")
    assert marked.count() == 1 and marked.get_attribute("data-nis") == chosen["nis"]
    assert marked.locator("td:nth-child(3)").inner_text() == "0 *"
    assert marked.locator(".neighbour-mark").get_attribute("title") == "zone signalée depuis une commune voisine"
    assert page.inner_text("#neighbour-note") == (
        "* Aucun signalement de la commune elle-même : une zone signalée dans une commune voisine déborde sur "
        "son territoire et y compte pour sa partie.")
    watch.assert_clean()


PERIOD_REVERSED = ("La période se termine avant de commencer : choisissez une date de fin égale ou postérieure à la "
                   "date de début.")


@pytest.mark.browser
def test_a_period_that_ends_before_it_starts_is_said_beside_its_dates(dashboard_server, browser) -> None:  # noqa: ANN001, F811
    """From 31/12/2026 to 01/01/2026 (a referent's trial): the page said « Date illisible ou hors
    limites » at the bottom of the side column, marked no field and left the figures of the
    filters before. It says the period ends before it starts, under the date fields, both
    marked; the figures are taken away (territory, table, choropleth, the reports on the map)
    until the period is corrected."""
    watch = PageWatch(browser, dashboard_server)
    watch.login("dash-ref@igretec.com")
    page = watch.page
    _wait_ready(page, 9)
    page.fill("input[name=from]", "2026-12-31")
    page.fill("input[name=to]", "2026-01-01")
    page.wait_for_function("() => document.getElementById('map-pane').dataset.state === 'refused'")
    error = page.locator("#period-error")
    assert error.is_visible() and error.inner_text() == PERIOD_REVERSED
    assert error.get_attribute("role") == "alert"
    for name in ("from", "to"):
        field = page.locator(f"input[name={name}]")
        assert field.get_attribute("aria-invalid") == "true" and field.get_attribute("aria-describedby") == "period-error"
    # beside the dates: just under them, in the filters
    to, said = page.locator("input[name=to]").bounding_box(), error.bounding_box()
    assert 0 <= said["y"] - (to["y"] + to["height"]) < 60, (to, said)
    # no figure left as if it answered this period
    assert page.locator("#commune-table tbody tr[data-nis]").count() == 0
    assert page.inner_text("#commune-table tbody") == "Aucun chiffre affiché : corrigez les filtres."
    assert page.inner_text("#territory") == "" and page.inner_text("#legend") == ""
    assert page.inner_text("#map-status") == "Aucun chiffre affiché : corrigez les filtres."
    painted = page.evaluate("""() => { let n = 0;
        window[document.getElementById('map-pane').dataset.communesLayer].eachLayer(
            l => { if (l.options.fillOpacity > 0 || l.getTooltip()) n += 1; }); return n; }""")
    assert painted == 0
    page.wait_for_function("() => document.getElementById('map-pane').dataset.locations === undefined")
    assert page.locator(".leaflet-marker-icon, .leaflet-overlay-pane path.leaflet-interactive[stroke='#7b241c']").count() == 0
    page.screenshot(path=str(ARTIFACTS / "referent-dashboard-period-reversed.png"), full_page=True)
    # corrected: the figures come back, the message and the marks go
    page.fill("input[name=to]", "")
    page.fill("input[name=from]", "")
    _wait_ready(page, 9)
    assert error.is_hidden() and page.locator("input[aria-invalid]").count() == 0
    assert page.locator("#commune-table tbody tr[data-nis]").count() == 30
    # the refused answers (400) are the page's only failures
    assert watch.errors and all("400" in e for e in watch.errors)
    assert watch.failed and all(f.startswith("400 ") for f in watch.failed)
    watch.context.close()


@pytest.mark.browser
def test_survey_cells_of_an_older_edition_say_its_year(app, dashboard_server, browser) -> None:  # noqa: ANN001, F811
    """A referent's trial: with the 2024 answers then the 2026 ones (Charleroi not among
    them), the « Score smart » column showed Charleroi's 2024 answer beside the others' 2026
    ones without a word. A cell from an edition older than the latest says its year."""
    database = app.extensions["geosignal.db"]
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    later = "\n".join(line for line in lines if f";{CHARLEROI};" not in line) + "\n"
    with database.session() as session:
        survey_db.import_edition(session, later.encode("utf-8"), "reponses-2023.csv", 2023)
        session.commit()
    try:
        watch = PageWatch(browser, dashboard_server)
        watch.login("dash-ref@igretec.com")
        page = watch.page
        _wait_ready(page, 9)
        charleroi = page.locator(f"#commune-table tbody tr[data-nis='{CHARLEROI}']")
        assert charleroi.locator("td:nth-child(10)").inner_text() == "6/10 (2022)"
        courcelles = page.locator("#commune-table tbody tr[data-nis='52015']")
        assert courcelles.locator("td:nth-child(10)").inner_text() == "5/10"
        assert courcelles.locator("td:nth-child(13)").inner_text() == "2022 : 5 → 2023 : 5"
    finally:
        with database.session() as session:
            session.execute(delete(SurveyResponse).where(SurveyResponse.edition_year == 2023))
            session.execute(delete(SurveyEdition).where(SurveyEdition.year == 2023))
            session.commit()


@pytest.mark.browser
def test_the_commune_table_is_searched_by_name_or_nis_code(dashboard_server, browser) -> None:  # noqa: ANN001, F811
    """A table of every commune (581 in a trial loading Belgium's) could only be sorted: a
    search field keeps the rows whose name (accents and case ignored) or NIS code matches, and
    says how many it shows; the territory's total stays."""
    watch = PageWatch(browser, dashboard_server)
    watch.login("dash-ref@igretec.com")
    page = watch.page
    _wait_ready(page, 9)
    rows = page.locator("#commune-table tbody tr")
    assert rows.count() == 30
    page.fill("#commune-search", "CHATEL")  # Châtelet, Châtelineau is not a commune
    page.wait_for_function("() => document.querySelectorAll('#commune-table tbody tr').length === 1")
    assert rows.first.get_attribute("data-nis") == "52012"
    assert page.inner_text("#commune-search-count") == "1 commune sur 30"
    page.locator(".table-search").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "dashboard-table-search.png"))
    page.fill("#commune-search", "930")  # the 5 communes of Namur's NIS 930xx
    page.wait_for_function("() => document.querySelectorAll('#commune-table tbody tr').length === 5")
    assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.nis)")) == ["93010", "93014", "93056", "93088", "93090"]
    assert page.inner_text("#commune-search-count") == "5 communes sur 30"
    assert page.locator("#commune-table tfoot tr").count() == 1
    page.fill("#commune-search", "")
    page.wait_for_function("() => document.querySelectorAll('#commune-table tbody tr').length === 30")
    assert page.inner_text("#commune-search-count") == ""
    watch.assert_clean()
