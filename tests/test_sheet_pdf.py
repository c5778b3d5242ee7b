"""The commune sheet as PDF (``GET /communes/<nis>/fiche.pdf``): one A4 page made by
WeasyPrint, read back with poppler (``pdfinfo``, ``pdftotext``, ``pdftoppm``): the commune's
name and the date as text, the zones' status colours and the neighbours' colour where the map
is; the SVG map's scale bar against the ground (EPSG:31370); who may download it; the URL
fetcher that keeps generation off the network."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from shapely.geometry import LineString, Point
from sqlalchemy import text

from geosignal.geo import LAMBERT72, WGS84, reproject
from geosignal.models import User
from geosignal.services import reports as reports_service
from geosignal.services import sheet_pdf, svgmap
from geosignal.services.intake import ReportInput
from geosignal.vocab import STATUS_COLOURS
from tests.conftest import ARTIFACTS, CHARLEROI, CHIMAY, make_account
from tests.factories import CHARLEROI_LAMBERT72, border_point, square_lambert

X0, Y0 = CHARLEROI_LAMBERT72
CHATELET = "52012"
SVG_NS = {"s": "http://www.w3.org/2000/svg"}
DPI = 100
POPPLER = all(shutil.which(t) for t in ("pdfinfo", "pdftotext", "pdftoppm"))
needs_poppler = pytest.mark.skipif(not POPPLER, reason="poppler-utils missing: scripts/bootstrap.sh --test installs it")

TEXTS = svgmap.MapTexts(legend_title="Légende", commune="Commune", neighbours="Communes voisines", north="N",
                        status_labels={"submitted": "Soumis", "validated": "Validé"},
                        sources=("Limites : SPF Finances – AGDP",), date_line="État au 01/02/2025")


def _add(session, user, geom_31370, status: str = "submitted", **props) -> None:  # noqa: ANN001, ANN003
    properties = {"network": "mobile", "technologies": ["4G"], "operators": ["Proximus"], **props}
    feature, _new = reports_service.create_report(session, user, ReportInput(reproject(geom_31370, LAMBERT72, WGS84),
                                                                         properties))
    if status != "submitted":
        session.execute(text("UPDATE reports SET status = :s WHERE id = :id"), {"s": status, "id": feature["id"]})


def _rgb(colour: str, alpha: float = 1.0, over: str = "#ffffff") -> np.ndarray:
    """The RGB a colour gives at ``alpha`` over ``over``."""
    def parse(c: str) -> np.ndarray:
        return np.array([int(c[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)
    return alpha * parse(colour) + (1 - alpha) * parse(over)


@pytest.fixture
def charleroi_reports(db, client):  # noqa: ANN001, ANN201
    """Charleroi: a validated 1 km² square, a submitted 600 m square, a submitted point and
    road stretch, a withdrawn square (not drawn); returns the validated square's centre."""
    admin = make_account(client, db, "sheet-admin@igretec.com", "admin")
    user = db.query(User).filter_by(email=admin.email).one()
    _add(db, user, square_lambert(X0 - 2000, Y0 - 2000, 1000), status="validated", households_affected=12)
    _add(db, user, square_lambert(X0 + 1500, Y0 + 500, 600))
    _add(db, user, Point(X0 + 3000, Y0 - 1500))
    _add(db, user, LineString([(X0 - 4000, Y0 + 2000), (X0 - 2500, Y0 + 2600)]))
    _add(db, user, square_lambert(X0 + 500, Y0 - 3000, 700), status="withdrawn")
    db.commit()
    return (X0 - 1500, Y0 - 1500)


# --------------------------------------------------------------------------------------------
# The SVG map
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("max_m", "nice"), [(4321.0, 2000.0), (5000.0, 5000.0), (999.0, 500.0), (1.9, 1.0),
                                             (27.0, 20.0), (7.5e4, 5e4)])
def test_nice_length(max_m: float, nice: float) -> None:
    assert svgmap.nice_length(max_m) == nice


def test_length_label() -> None:
    assert svgmap.length_label(500) == "500 m"
    assert svgmap.length_label(2000) == "2 km"
    assert svgmap.length_label(2500) == "2,5 km"
    assert svgmap.length_label(2500, decimal_comma=False) == "2.5 km"
    with pytest.raises(ValueError):
        svgmap.nice_length(0.0)


def _path_xy(d: str) -> np.ndarray:
    return np.array([float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", d)]).reshape(-1, 2)


def _label_metres(label: str) -> float:
    value, unit = label.split()
    return float(value.replace(",", ".")) * (1000 if unit == "km" else 1)


@pytest.mark.parametrize("nis", [CHARLEROI, CHIMAY, "52022"])  # Fontaine-l'Evêque: an apostrophe
def test_svg_scale_bar_matches_the_ground(db, nis: str) -> None:  # noqa: ANN001
    """The scale bar's label equals its drawn length in metres within 1 %, the metres per
    unit being measured independently: the commune's extent in EPSG:31370 from PostGIS
    against the drawn boundary's extent in SVG units; x and y at the same scale."""
    boundary, neighbours, reports, _props = sheet_pdf.map_geometries(db, nis)
    drawn = svgmap.commune_map_svg(boundary, neighbours, reports, TEXTS, STATUS_COLOURS)
    root = ET.fromstring(drawn.svg)
    xy = _path_xy(root.find(".//s:path[@id='commune-boundary']", SVG_NS).get("d"))
    min_x, min_y, max_x, max_y = db.execute(text(
        "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM "
        "(SELECT ST_Transform(boundary, 31370) AS b FROM communes WHERE nis_code = :n) q"), {"n": nis}).one()
    per_unit_x = (max_x - min_x) / np.ptp(xy[:, 0])
    per_unit_y = (max_y - min_y) / np.ptp(xy[:, 1])
    assert per_unit_x == pytest.approx(per_unit_y, rel=0.005)  # true shapes
    bar = root.find(".//s:g[@id='scale-bar']", SVG_NS)
    units = sum(float(bar.find(f"s:rect[@id='{i}']", SVG_NS).get("width")) for i in ("scale-bar-first", "scale-bar-second"))
    label = bar.find("s:text[@id='scale-bar-label']", SVG_NS).text
    metres = _label_metres(label)
    assert metres == float(bar.get("data-length-m")) == drawn.scale_bar_m
    assert units * per_unit_x == pytest.approx(metres, rel=0.01)
    assert str(int(metres)).strip("0") in ("1", "2", "5")  # a round length
    assert units <= 0.25 * 1860 + 1e-6
    # the neighbours are named where they show, and names are escaped
    names = [t.text for t in root.findall(".//s:g[@id='neighbour-names']/s:text", SVG_NS)]
    assert names and set(names) <= {n for n, _ in neighbours}
    # the north arrow points to true north: Lambert 72's convergence is under 0.5° here
    assert abs(drawn.north_deg) < 0.5
    assert root.find(".//s:g[@id='north-arrow']", SVG_NS) is not None


def test_svg_draws_reports_by_status(db, charleroi_reports) -> None:  # noqa: ANN001
    boundary, neighbours, reports, _props = sheet_pdf.map_geometries(db, CHARLEROI)
    assert sorted(s for s, _ in reports) == ["submitted", "submitted", "submitted", "validated"]  # not withdrawn
    drawn = svgmap.commune_map_svg(boundary, neighbours, reports, TEXTS, STATUS_COLOURS)
    assert drawn.drawn == {"submitted": 3, "validated": 1}
    root = ET.fromstring(drawn.svg)
    zone = root.find(".//s:path[@class='zone status-validated']", SVG_NS)
    assert zone.get("fill") == STATUS_COLOURS["validated"]
    xy = _path_xy(zone.get("d"))
    # the 1 km square drawn 1 km wide, at the same scale as the scale bar
    assert np.ptp(xy[:, 0]) * drawn.metres_per_unit == pytest.approx(1000, rel=0.002)
    assert np.ptp(xy[:, 1]) * drawn.metres_per_unit == pytest.approx(1000, rel=0.002)
    assert len(root.findall(".//s:g[@class='point status-submitted']/s:circle", SVG_NS)) == 1
    assert root.find(".//s:path[@class='line status-submitted']", SVG_NS) is not None
    legend = [g.get("data-status") for g in root.findall(".//s:g[@class='legend-status']", SVG_NS)]
    assert legend == ["submitted", "validated"]


# --------------------------------------------------------------------------------------------
# The PDF
# --------------------------------------------------------------------------------------------


def _pdf(tmp_path: Path, body: bytes) -> Path:
    path = tmp_path / "fiche.pdf"
    path.write_bytes(body)
    return path


def _png(pdf: Path) -> np.ndarray:
    """The first page at :data:`DPI` as an (H, W, 3) array (pdftoppm → PPM)."""
    out = subprocess.run(["pdftoppm", "-r", str(DPI), "-f", "1", "-l", "1", str(pdf)],
                         check=True, capture_output=True).stdout
    header = out.split(b"\n", 3)
    assert header[0] == b"P6"
    w, h = map(int, header[1].split())
    return np.frombuffer(header[3], dtype=np.uint8)[: w * h * 3].reshape(h, w, 3)


def _mm_to_px(mm: float) -> int:
    return round(mm / 25.4 * DPI)


def _near(pixels: np.ndarray, rgb: np.ndarray, tol: float = 6.0) -> np.ndarray:
    return np.all(np.abs(pixels.astype(float) - rgb) <= tol, axis=-1)


@needs_poppler
def test_pdf_one_a4_page_with_map_and_text(db, client, representative, charleroi_reports, tmp_path) -> None:  # noqa: ANN001
    zone_x, zone_y = charleroi_reports
    response = representative.get(f"/communes/{CHARLEROI}/fiche.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    today = datetime.now(ZoneInfo("Europe/Brussels"))
    assert response.headers["Content-Disposition"] == f'inline; filename="fiche-{CHARLEROI}-{today:%Y-%m-%d}.pdf"'
    pdf = _pdf(tmp_path, response.get_data())
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(pdf, ARTIFACTS / "commune-sheet-charleroi.pdf")

    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    assert re.search(r"^Pages:\s+1$", info, re.M)
    assert re.search(r"^Page size:\s+595\.2\d* x 841\.8\d* pts \(A4\)$", info, re.M)
    words = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    assert "Charleroi" in words
    assert f"Fiche établie le {today:%d/%m/%Y}" in words
    assert f"État au {today:%d/%m/%Y}" in words  # the map's date
    assert "SPF Finances – AGDP" in words and "Statbel" in words and "geosignal" in words
    assert "Validé" in words and "Soumis" in words  # legend
    assert "Châtelet" in words  # a neighbour named on the map
    assert re.search(r"Surface en zone blanche.*1,360 km²", words)  # 1 km² + 0.36 km², counted once
    # the table by status lists every status; it says which the figures count
    assert "Tous les statuts ; les chiffres ci-contre" in words and "comptent les statuts soumis" in words

    image = _png(pdf)
    left, top = sheet_pdf.MARGIN_MM[1], sheet_pdf.MARGIN_MM[0] + sheet_pdf.HEADER_MM
    panel = image[_mm_to_px(top) + 2:_mm_to_px(top + sheet_pdf.MAP_PANEL_MM) - 2,
                  _mm_to_px(left) + 2:_mm_to_px(left + sheet_pdf.MAP_WIDTH_MM) - 2]
    validated = _rgb(STATUS_COLOURS["validated"], svgmap.ZONE_FILL_OPACITY)
    submitted = _rgb(STATUS_COLOURS["submitted"], svgmap.ZONE_FILL_OPACITY)
    neighbour = _rgb(svgmap.NEIGHBOUR_FILL)
    side_px = 1000 / 25.4 * DPI / svgmap.UNITS_PER_MM / (sheet_pdf.build_sheet(db, CHARLEROI, TEXTS).map.metres_per_unit)
    assert _near(panel, validated).sum() > 0.6 * side_px ** 2  # the 1 km² square, filled
    assert _near(panel, submitted).sum() > 0.6 * (0.6 * side_px) ** 2
    assert _near(panel, neighbour).sum() > 20_000  # the neighbours, lighter
    # the validated square is where the map puts it: its centre pixel has its colour
    drawn = sheet_pdf.build_sheet(db, CHARLEROI, TEXTS).map
    ext = drawn.extent
    mm_per_m = 1 / drawn.metres_per_unit / svgmap.UNITS_PER_MM
    px = _mm_to_px(left + (zone_x - ext[0]) * mm_per_m)
    py = _mm_to_px(top + (ext[3] - zone_y) * mm_per_m)
    assert _near(image[py - 2:py + 3, px - 2:px + 3], validated).all()


@needs_poppler
def test_pdf_of_a_commune_without_reports_or_survey(db, client, referent, tmp_path) -> None:  # noqa: ANN001
    response = referent.get("/communes/52022/fiche.pdf")
    assert response.status_code == 200
    pdf = _pdf(tmp_path, response.get_data())
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(pdf, ARTIFACTS / "commune-sheet-fontaine-l-eveque.pdf")
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    assert re.search(r"^Pages:\s+1$", info, re.M)
    words = subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    assert "Fontaine-l'Evêque" in words
    assert "Aucun signalement" in words
    assert "La commune n'a pas répondu à l'enquête" in words


@needs_poppler
def test_a_sheet_says_why_a_white_zone_stands_beside_no_report(db, admin, referent, tmp_path) -> None:  # noqa: ANN001
    """A commune whose only white zone is a neighbour's report reaching over the border: its
    sheet and PDF showed « Signalements 0 » beside an area and inhabitants affected, with no
    word why (the dashboard says it under its table). Said under the figures, in the reader's
    language; not on the sheet of the commune that filed it."""
    from tests.factories import feature, to_geojson_4326

    bx, by = border_point(db)
    made = admin.post("/api/v1/reports", json=feature(to_geojson_4326(square_lambert(bx - 400, by - 400, 800))))
    assert made.status_code == 201
    home = made.get_json()["properties"]["commune_nis"]
    other = CHATELET if home == CHARLEROI else CHARLEROI
    row = referent.get(f"/api/v1/stats/communes/{other}").get_json()
    assert row["report_count"] == 0 and row["white_zone_area_km2"] > 0 and row["inhabitants_affected_estimate"] > 0
    note = ("Aucun signalement de la commune elle-même : une zone signalée dans une commune voisine déborde sur "
            "son territoire et y compte pour sa partie.")

    def sheet(nis: str) -> str:
        html = referent.get(f"/communes/{nis}/fiche").get_data(as_text=True)
        section = html.split('id="sheet-figures"')[1].split("</section>")[0]
        return " ".join(re.sub(r"<[^>]+>", " ", section).replace("&#39;", "'").split())

    def pdf(nis: str, language: str = "fr") -> str:
        body = referent.get(f"/communes/{nis}/fiche.pdf", headers={"Accept-Language": language}).get_data()
        words = subprocess.run(["pdftotext", str(_pdf(tmp_path, body)), "-"], check=True, capture_output=True,
                               text=True).stdout
        return " ".join(words.split())

    assert note in sheet(other) and note not in sheet(home)
    # under the figures (pdftotext reads the other column in between: after the last figure)
    under = pdf(other).split("Habitants touchés (estimation*)")[1].split("Chiffres : signalements aux statuts")[0]
    assert note in under and "* Aucun" not in under  # (the sheet's asterisk is the estimate's)
    assert note not in pdf(home)
    assert ("Geen melding van de gemeente zelf: een zone die in een buurgemeente werd gemeld, loopt door op haar "
            "grondgebied en telt daar voor haar deel.") in pdf(other, "nl-BE")


def test_pdf_access(db, client, representative, referent) -> None:  # noqa: ANN001
    anonymous = client.get(f"/communes/{CHARLEROI}/fiche.pdf")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    chatelet = make_account(client, db, "x@chatelet.be", "representative", CHATELET)
    refused = chatelet.get(f"/communes/{CHARLEROI}/fiche.pdf")
    assert refused.status_code == 403 and refused.mimetype == "text/html"
    assert "réservée à un autre rôle ou à une autre commune" in refused.get_data(as_text=True)
    assert chatelet.get(f"/communes/{CHATELET}/fiche.pdf").mimetype == "application/pdf"
    unknown = referent.get("/communes/99999/fiche.pdf")
    assert unknown.status_code == 404 and unknown.mimetype == "text/html"
    assert representative.get("/communes/99999/fiche.pdf").status_code == 403  # not theirs either


def test_sheet_and_navigation_link_to_the_pdf(db, client, representative) -> None:  # noqa: ANN001
    representative.login()
    sheet = client.get(f"/communes/{CHARLEROI}/fiche").get_data(as_text=True)
    assert f'href="/communes/{CHARLEROI}/fiche.pdf"' in sheet
    assert 'id="print-sheet"' in sheet and "onclick" not in sheet
    home = client.get("/carte").get_data(as_text=True)
    assert f'href="/communes/{CHARLEROI}/fiche.pdf"' in home  # the representative's navigation


def test_a_white_zone_too_small_for_the_precision_is_never_written_zero(db, client, representative) -> None:  # noqa: ANN001
    """An auditor's trial: a commune whose only white zone is 150 m² (the smallest allowed is
    100) read « 0,000 km² » and « 0,00 % » on its sheet and the dashboard: as if it had none."""
    from tests.factories import feature, to_geojson_4326

    side = 150 ** 0.5  # 150 m² (EPSG:31370)
    made = representative.post("/api/v1/reports", json=feature(
        to_geojson_4326(square_lambert(*CHARLEROI_LAMBERT72, side)), network="mobile"))
    assert made.status_code == 201 and made.get_json()["properties"]["area_m2"] == pytest.approx(150, abs=0.1)
    representative.login()
    sheet = " ".join(client.get(f"/communes/{CHARLEROI}/fiche").get_data(as_text=True).split())
    # (split() reads the no-break space after "<" as a space)
    assert '<td class="num">&lt; 0,001 km²</td>' in sheet and "0,000 km²" not in sheet
    assert '<td class="num">&lt; 0,01 %</td>' in sheet and "0,00 %" not in sheet
    pdf_html = client.get(f"/communes/{CHARLEROI}/fiche.pdf")
    assert pdf_html.status_code == 200 and pdf_html.mimetype == "application/pdf"


# --------------------------------------------------------------------------------------------
# No network while generating
# --------------------------------------------------------------------------------------------


def test_fetcher_serves_static_files_only(app) -> None:  # noqa: ANN001
    static = Path(app.static_folder)
    fetcher = sheet_pdf.static_fetcher(static)
    css = fetcher.fetch(fetcher.base_url + "css/sheet-print.css")
    assert b"@page" in css.read() and css.content_type == "text/css"
    for url in ("https://tile.openstreetmap.org/1/1/1.png", "http://127.0.0.1:9/x.css", "ftp://example.org/a",
                "data:text/css,body{}", "file:///etc/passwd", fetcher.base_url + "../geosignal/config.py",
                fetcher.base_url + "css/missing.css", "file://example.org" + str(static / "css/sheet-print.css")):
        with pytest.raises(sheet_pdf.RefusedURL):
            fetcher.fetch(url)
    assert len(fetcher.refused) == 8


def test_rendering_never_opens_a_connection(app) -> None:  # noqa: ANN001
    """An HTML asking for a stylesheet, an image and a font on a listening local server gives
    a PDF, and the server sees no connection."""
    import weasyprint

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    connections: list[object] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            connections.append(conn)
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    html = (f'<html><head><link rel="stylesheet" href="{base}/x.css"><style>@font-face {{ font-family: X; '
            f'src: url({base}/f.woff) }} body {{ font-family: X; background: url({base}/b.png) }}</style></head>'
            f'<body><p>Fiche</p><img src="{base}/i.png"><img src="https://example.org/i.png"></body></html>')
    fetcher = sheet_pdf.static_fetcher(app.static_folder)
    try:
        pdf = weasyprint.HTML(string=html, base_url=fetcher.base_url, url_fetcher=fetcher).write_pdf()
    finally:
        stop.set()
        thread.join()
        listener.close()
    assert pdf.startswith(b"%PDF")
    assert connections == []
    assert f"{base}/x.css" in fetcher.refused and "https://example.org/i.png" in fetcher.refused
    assert f"{base}/i.png" in fetcher.refused


@needs_poppler
def test_pdf_in_dutch_says_everything_in_dutch(db, client, referent, tmp_path) -> None:  # noqa: ANN001
    # the estimate's note and the province were French on a Dutch sheet
    response = referent.get(f"/communes/{CHARLEROI}/fiche.pdf", headers={"Accept-Language": "nl-BE"})
    assert response.status_code == 200
    words = " ".join(subprocess.run(["pdftotext", str(_pdf(tmp_path, response.get_data())), "-"], check=True,
                                    capture_output=True, text=True).stdout.split())
    assert "provincie Henegouwen" in words and "Hainaut" not in words
    assert "Schatting" in words and "Estimation" not in words and "répartie" not in words


def test_a_sheet_names_its_province_as_french_does(app) -> None:  # noqa: ANN001
    """The sheet wrote « province de Hainaut », « province de Anvers » and « province de Région de
    Bruxelles-Capitale » (a trial with the 581 Belgian communes): each with its article, and
    Brussels as the region it is; in Dutch and English too."""
    from flask_babel import force_locale

    from geosignal import ui_text
    from geosignal.i18n import BABEL_LOCALES

    said = {}
    for lang in ("fr", "nl", "en"):
        with app.test_request_context("/"), force_locale(BABEL_LOCALES[lang]):
            said[lang] = [ui_text.province_label(p) for p in ("Hainaut", "Anvers", "Namur", "Brabant wallon",
                                                              "Région de Bruxelles-Capitale")]
    assert said == {
        "fr": ["province du Hainaut", "province d'Anvers", "province de Namur", "province du Brabant wallon",
               "Région de Bruxelles-Capitale"],
        "nl": ["provincie Henegouwen", "provincie Antwerpen", "provincie Namen", "provincie Waals-Brabant",
               "Brussels Hoofdstedelijk Gewest"],
        "en": ["province of Hainaut", "province of Antwerp", "province of Namur", "province of Walloon Brabant",
               "Brussels-Capital Region"]}


@needs_poppler
def test_pdf_in_english_writes_dates_and_shares_as_english_does(db, client, representative, charleroi_reports,  # noqa: ANN001
                                                                tmp_path) -> None:
    """The map's date line read 04/12/2026 (April 12th to an English reader) beside "Sheet made
    on 4 Dec 2026", and shares read "1.32 %": both as the page's language writes them."""
    response = representative.get(f"/communes/{CHARLEROI}/fiche.pdf", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    today = datetime.now(ZoneInfo("Europe/Brussels"))
    day = f"{today.day} {today:%b %Y}"
    words = subprocess.run(["pdftotext", "-layout", str(_pdf(tmp_path, response.get_data())), "-"],
                           check=True, capture_output=True, text=True).stdout
    assert f"Sheet made on {day}" in words
    assert f"As of {day} at {today:%H}:" in words  # the map's date, as the header writes it
    assert not re.search(r"\d\d/\d\d/\d{4}", words)
    assert re.search(r"Share of the commune's area\s+1\.32%", words), words


@needs_poppler
@pytest.mark.parametrize("language", ["fr", "nl", "en"])
def test_pdf_of_a_busy_commune_stays_on_one_page(db, client, tmp_path, language) -> None:  # noqa: ANN001
    """Charleroi with a report of every kind, status, technology, operator, issue and setting
    (46 reports) and its 2022 survey answers: every table is long, and the sheet is still one
    A4 page, its sources at the foot (they ran onto a second page)."""
    from geosignal.services import survey_db
    from geosignal.vocab import ISSUES, OPERATORS, SETTINGS, STATUSES, TECHNOLOGIES

    survey_db.import_edition(db, (Path(__file__).parent / "fixtures" / "survey_2022.csv").read_bytes(),
                             "survey_2022.csv", 2022)
    admin = make_account(client, db, "busy-admin@igretec.com", "admin")
    user = db.query(User).filter_by(email=admin.email).one()
    shapes = (lambda k: square_lambert(X0 - 4000 + 420 * (k % 18), Y0 - 3000 + 900 * (k // 18), 300),
              lambda k: Point(X0 - 4000 + 420 * (k % 18), Y0 + 1000 + 300 * (k // 18)),
              lambda k: LineString([(X0 - 4000 + 420 * (k % 18), Y0 + 2500), (X0 - 3800 + 420 * (k % 18), Y0 + 2800)]))
    for k in range(46):
        network = "mobile" if k % 2 else "fixed"
        technologies = [t for t in TECHNOLOGIES if (t in ("2G", "3G", "4G", "5G")) == (network == "mobile")]
        _add(db, user, shapes[k % 3](k), status=STATUSES[k % len(STATUSES)], network=network,
             technologies=[technologies[k % len(technologies)]], operators=[OPERATORS[k % len(OPERATORS)]],
             issue=ISSUES[k % len(ISSUES)], setting=SETTINGS[k % len(SETTINGS)], households_affected=k)
    db.commit()
    account = make_account(client, db, "busy-ref@igretec.com", "referent")
    response = account.get(f"/communes/{CHARLEROI}/fiche.pdf", headers={"Accept-Language": language})
    assert response.status_code == 200
    pdf = _pdf(tmp_path, response.get_data())
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(pdf, ARTIFACTS / f"commune-sheet-charleroi-busy-{language}.pdf")
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    assert re.search(r"^Pages:\s+1$", info, re.M)
    words = subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    assert "Statbel" in words and "geosignal" in words  # the sources, on the page
    assert {"fr": "Signalements par statut", "nl": "Meldingen per status", "en": "Reports by status"}[language] \
        in " ".join(words.split())


@pytest.mark.parametrize(("lines", "steps"), [(20, 0), (27, 1), (34, 2), (42, 3)])
def test_a_sheet_too_long_for_one_page_is_set_tighter_until_it_fits(app, lines, steps) -> None:  # noqa: ANN001
    """The sheet's stylesheet, a map 186 × 190 mm and ``lines`` lines of figures: 20 fit as
    they are; more need smaller text, then a map 160 mm wide, then 130 mm (the picture scaled
    whole, its scale bar with it) — one page each."""
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="186mm" height="190mm" viewBox="0 0 1860 1900">'
           '<rect width="1860" height="1900" fill="#ccc"/></svg>')
    html = ('<html><head><link rel="stylesheet" href="css/sheet-print.css"></head><body>'
            f'<figure class="sheet-map">{svg}</figure><section class="figures"><div class="col">'
            + "".join(f"<p style='margin:0'>ligne {k}</p>" for k in range(lines)) + "</div></section></body></html>")
    document, used = sheet_pdf.fit_one_page(html, app.static_folder)
    assert (len(document.pages), used) == (1, steps)


def test_the_map_draws_only_the_part_of_a_report_in_the_commune(db, client) -> None:  # noqa: ANN001
    """A Châtelet report reaching into Charleroi was drawn whole on Charleroi's sheet (not
    validated: beyond the border it is Châtelet's alone); each sheet draws the part its
    figures count."""
    x, y = border_point(db)
    admin = make_account(client, db, "sheet-border@igretec.com", "admin")
    user = db.query(User).filter_by(email=admin.email).one()
    square = square_lambert(x - 200, y - 200, 400)
    _add(db, user, square)
    db.commit()
    drawn = {}
    for nis in ("52011", "52012"):
        _boundary, _neighbours, reports, _props = sheet_pdf.map_geometries(db, nis)
        [(status, geometry)] = reports
        inside = db.execute(text(
            "SELECT ST_Area(ST_Intersection(ST_Transform(ST_Transform(ST_GeomFromText(:g, 31370), 4326), 31370), "
            "ST_Transform(boundary, 31370))) FROM communes WHERE nis_code = :nis"), {"g": square.wkt, "nis": nis}
        ).scalar_one()
        assert status == "submitted" and 1_000 < inside < 159_000  # the square lies on both sides
        assert geometry.area == pytest.approx(inside, rel=1e-3)
        drawn[nis] = geometry.area
    assert drawn["52011"] + drawn["52012"] == pytest.approx(160_000, rel=2e-3)


# --------------------------------------------------------------------------------------------
# Filtered sheets (the dashboard's filters carried to a commune's sheet)
# --------------------------------------------------------------------------------------------


def test_a_sheet_takes_the_dashboards_filters_and_says_them(db, client, referent, charleroi_reports) -> None:  # noqa: ANN001
    """An auditor's trial: the referent filtered the dashboard (validated reports) and opened a
    commune's sheet, which counted every counted status. The sheet now takes the dashboard's
    filters: its figures are the API's for the same filters, it names them, its PDF link
    carries them, and a filter outside its vocabulary gets the 400 page."""
    admin = db.query(User).filter_by(email="sheet-admin@igretec.com").one()
    _add(db, admin, square_lambert(X0 + 500, Y0 + 1500, 500), network="fixed")  # 0.25 km², submitted
    db.commit()
    referent.login()

    def sheet(query: str) -> str:
        response = client.get(f"/communes/{CHARLEROI}/fiche{query}")
        assert response.status_code == 200, response.status_code
        return " ".join(response.get_data(as_text=True).split())

    def figures(query: str) -> tuple[int, str]:
        row = client.get(f"/api/v1/stats/communes/{CHARLEROI}{query}").get_json()
        return row["report_count"], f"{row['white_zone_area_km2']:.3f}".replace(".", ",")

    plain = sheet("")
    assert 'id="sheet-filters"' not in plain
    assert f'href="/communes/{CHARLEROI}/fiche.pdf" download' in plain
    assert figures("") == (5, "1,610")  # 1 km² + 0.36 km² + 0.25 km², the withdrawn square aside
    assert '<td class="num">5</td>' in plain and "1,610 km²" in plain

    validated = sheet("?status=validated")
    assert figures("?status=validated") == (1, "1,000")
    assert '<td class="num">1</td>' in validated and "1,000 km²" in validated
    assert "signalements aux statuts validé ·" in validated
    assert '<strong>Filtres appliqués : </strong>Statut : validé. <a href="/communes/52011/fiche">' in validated
    assert f'href="/communes/{CHARLEROI}/fiche.pdf?status=validated" download' in validated

    query = "?network=fixed&technology=4G&from=2026-01-01&to=2099-12-31"
    fixed = sheet(query)
    assert figures(query) == (1, "0,250")
    assert '<td class="num">1</td>' in fixed and "0,250 km²" in fixed
    assert ('<strong>Filtres appliqués : </strong>Réseau : fixe · Technologie : 4G · '
            'Période : du 01/01/2026 au 31/12/2099.') in fixed
    assert f'href="/communes/{CHARLEROI}">' not in fixed and f'href="/communes/{CHARLEROI}/fiche">' in fixed
    assert (f'href="/communes/{CHARLEROI}/fiche.pdf?network=fixed&amp;technology=4G&amp;from=2026-01-01'
            '&amp;to=2099-12-31" download') in fixed

    refused = client.get(f"/communes/{CHARLEROI}/fiche?network=satellite")
    assert refused.status_code == 400 and refused.mimetype == "text/html"
    assert ("Le filtre « Réseau » de l&#39;adresse de cette fiche n&#39;a pas une valeur connue : ouvrez la fiche "
            "depuis le tableau de bord, ou retirez ce filtre de l&#39;adresse.") in " ".join(
        refused.get_data(as_text=True).split())
    late = client.get(f"/communes/{CHARLEROI}/fiche.pdf?from=2026-02-30")
    assert late.status_code == 400 and "choisissez un jour dans le calendrier" in late.get_data(as_text=True)


@needs_poppler
def test_a_filtered_pdf_counts_draws_and_names_what_its_filters_select(db, client, referent, charleroi_reports,  # noqa: ANN001
                                                                       tmp_path) -> None:
    referent.login()
    response = client.get(f"/communes/{CHARLEROI}/fiche.pdf?status=validated&operator=Proximus")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    today = datetime.now(ZoneInfo("Europe/Brussels"))
    assert response.headers["Content-Disposition"] == (
        f'inline; filename="fiche-{CHARLEROI}_status-validated_operator-Proximus-{today:%Y-%m-%d}.pdf"')
    pdf = _pdf(tmp_path, response.get_data())
    words = " ".join(subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True,
                                    text=True).stdout.split())
    assert "1,000 km²" in words and "1,360 km²" not in words
    assert "Chiffres : signalements aux statuts validé. Filtres appliqués : Opérateur : Proximus." in words
    # the map draws the validated square alone: the submitted 600 m square is not on it
    image = _png(pdf)
    left, top = sheet_pdf.MARGIN_MM[1], sheet_pdf.MARGIN_MM[0] + sheet_pdf.HEADER_MM
    panel = image[_mm_to_px(top) + 2:_mm_to_px(top + sheet_pdf.MAP_PANEL_MM) - 2,
                  _mm_to_px(left) + 2:_mm_to_px(left + sheet_pdf.MAP_WIDTH_MM) - 2]
    drawn = sheet_pdf.build_sheet(db, CHARLEROI, TEXTS).map  # (the same extent: the commune's)
    side_px = 1000 / 25.4 * DPI / svgmap.UNITS_PER_MM / drawn.metres_per_unit
    assert _near(panel, _rgb(STATUS_COLOURS["validated"], svgmap.ZONE_FILL_OPACITY)).sum() > 0.6 * side_px ** 2
    assert _near(panel, _rgb(STATUS_COLOURS["submitted"], svgmap.ZONE_FILL_OPACITY)).sum() == 0


@needs_poppler
@pytest.mark.parametrize(("lang", "households", "inhabitants"), [("en", "3,702", "1,968"), ("nl", "3.702", "1.968"),
                                                                  ("fr", "3\u202f702", "1\u202f968")])
def test_households_and_counts_are_written_as_every_other_figure(db, admin, referent, tmp_path, lang, households,
                                                                 inhabitants) -> None:  # noqa: ANN001
    """The households declared were written « 3702 » beside « 1,968 » inhabitants, on the sheet
    and in its PDF (the dashboard's table and summary too)."""
    import html

    from shapely.geometry import box

    from tests.factories import feature, to_geojson_4326

    x, y = CHARLEROI_LAMBERT72
    assert admin.post("/api/v1/reports", json=feature(to_geojson_4326(box(x, y, x + 1000, y + 1000)),
                                                      households_affected=3702)).status_code == 201
    page = referent.get("/communes/52011/fiche", headers={"Accept-Language": lang}).get_data(as_text=True)
    cells = re.findall(r'<td class="num">([^<]*)</td>', page)
    assert households in [html.unescape(c) for c in cells], cells
    assert inhabitants in [html.unescape(c) for c in cells]
    pdf = tmp_path / "sheet.pdf"
    pdf.write_bytes(referent.get("/communes/52011/fiche.pdf", headers={"Accept-Language": lang}).data)
    words = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    assert households.replace("\u202f", " ") in words.replace("\u202f", " ").replace("\u00a0", " ")
    assert "3702" not in words
