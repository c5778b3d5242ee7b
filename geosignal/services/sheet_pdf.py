"""A commune sheet worth printing: what the PDF shows, and its rendering with WeasyPrint.

Flask-free. :func:`build_sheet` gathers one commune's figures (the stored aggregates, or live
ones for the filters given: white zone as the union of the zones, counted once) and draws its map as SVG
(:mod:`geosignal.services.svgmap`) from the geometries the site uses: the commune's stored
boundary and its neighbours' (as :func:`geosignal.services.drawing.commune_and_neighbours`
gives them to the maps), and the parts of the reports in the commune, read in one statement.
:func:`render_pdf` turns the sheet's HTML into one A4 page without any network access: the
only resources it may load are geosignal's own static files (:class:`StaticFilesOnly`);
fonts are the machine's (fontconfig).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np
import shapely
from shapely.geometry import shape
from sqlalchemy import text
from sqlalchemy.orm import Session

from geosignal.geo import LAMBERT72, WGS84, transform_xy
from geosignal.services import aggregation, drawing, svgmap

#: Reports drawn on the printed map: those the figures count (same set, same meaning).
SHOWN_STATUSES: tuple[str, ...] = aggregation.COUNTED_STATUSES

#: Page layout (mm) shared by the print stylesheet (static/css/sheet-print.css) and the tests
#: that look for the map on the rendered page: A4 portrait, margins, the header's height, and
#: the map's width and panel height.
PAGE_MM = (210.0, 297.0)
MARGIN_MM = (9.0, 12.0)  # top/bottom, left/right
HEADER_MM = 21.0
MAP_WIDTH_MM = 186.0
MAP_PANEL_MM = 138.0
#: Tighter settings of the print stylesheet tried in turn, when the sheet does not fit one
#: page (a busy commune's tables are long: every status, technology and operator listed, and
#: Dutch labels wrap more): first the text below the map smaller and closer, then the map and
#: its legend smaller too (drawn as one picture: its scale bar stays true). The header stays.
#: (WeasyPrint takes them as user stylesheets, which yield to the sheet's own rules and to the
#: SVG's size attributes unless ``!important``.)
_TIGHT_TEXT = (".figures, .sheet-foot {{ font-size: {pt}pt !important; }} h2 {{ margin: 1mm 0 0.5mm !important; }} "
               "th, td {{ padding-top: 0.15mm !important; padding-bottom: 0.15mm !important; }} "
               ".note {{ font-size: {note}pt !important; margin: 0.4mm 0 !important; }} "
               ".figures, .sheet-foot {{ margin-top: 1mm !important; }}")
_SMALLER_MAP = ".sheet-map svg {{ width: {mm}mm !important; height: auto !important; margin: 0 auto !important; }}"
FIT_STEPS: tuple[str, ...] = (
    _TIGHT_TEXT.format(pt=6.9, note=6.3),
    _TIGHT_TEXT.format(pt=6.9, note=6.3) + _SMALLER_MAP.format(mm=160),
    _TIGHT_TEXT.format(pt=6.4, note=5.9) + _SMALLER_MAP.format(mm=130),
)


@dataclass(frozen=True)
class Sheet:
    """One commune's printable sheet: ``figures`` (a row of
    :func:`geosignal.services.aggregation.commune_detail`, with ``survey``,
    ``survey_editions``, ``province``) and ``map`` (the drawn :class:`svgmap.SvgMap`)."""

    figures: dict[str, Any]
    map: svgmap.SvgMap


def map_geometries(session: Session, nis_code: str, statuses: Sequence[str] = SHOWN_STATUSES,
                   filters: aggregation.StatsFilters | None = None,
                   ) -> tuple[Any, list[tuple[str, Any]], list[tuple[str, Any]], dict[str, Any]]:
    """Return what the map of ``nis_code`` draws, in EPSG:31370 (metres):
    ``(boundary, [(neighbour name, boundary)…], [(status, geometry)…], commune properties)``.

    Boundaries are those of :func:`drawing.commune_and_neighbours` (stored boundary;
    neighbours simplified by 10 m), reprojected in one transform; reports are those with a
    status in ``statuses`` whose geometry touches the commune, in filing order, each cut to
    its part in the commune (what the commune's figures count; a neighbour's report, perhaps
    not validated, is that commune's beyond the border), read and reprojected by PostGIS in
    one statement. ``filters`` (network, technology, operator, issue, period; their statuses
    aside: ``statuses`` says which are drawn) narrow the reports drawn as they narrow the
    figures. Raises ``not_found`` (404) for an unknown code.
    """
    cond, params = aggregation.where_sql(filters or aggregation.StatsFilters(), with_status=False)
    commune, neighbours = drawing.commune_and_neighbours(session, nis_code)
    boundaries = np.array([shape(f["geometry"]) for f in [commune, *neighbours]], dtype=object)
    boundaries = shapely.transform(boundaries, lambda xy: transform_xy(xy, WGS84, LAMBERT72))
    rows = session.execute(text(
        "SELECT r.status, ST_AsBinary(ST_Transform(CASE WHEN ST_CoveredBy(r.geometry, c.boundary) THEN r.geometry "
        "  ELSE ST_CollectionExtract(ST_Intersection(r.geometry, c.boundary), ST_Dimension(r.geometry) + 1) END, "
        "  :srid)) FROM reports r "
        "JOIN communes c ON c.nis_code = :nis AND ST_Intersects(r.geometry, c.boundary) "
        f"WHERE r.status = ANY(CAST(:statuses AS varchar[])) AND {cond} ORDER BY r.seq"),
        {"nis": nis_code, "srid": LAMBERT72, "statuses": list(statuses), **params}).all()
    geoms = shapely.from_wkb([bytes(r[1]) for r in rows]) if rows else []
    reports = [(r[0], g) for r, g in zip(rows, geoms, strict=True) if not g.is_empty]
    names = [(f["properties"]["name_fr"], g) for f, g in zip(neighbours, boundaries[1:], strict=True)]
    return boundaries[0], names, reports, commune["properties"]


def build_sheet(session: Session, nis_code: str, texts: svgmap.MapTexts,
                filters: aggregation.StatsFilters | None = None) -> Sheet:
    """Return the printable sheet of commune ``nis_code``: its figures (with the survey's
    answers; the stored aggregates, or live ones when ``filters`` are given, as the API's
    ``/api/v1/stats/communes/<nis>`` computes them) and its map drawn with ``texts`` (statuses
    drawn: the keys of ``texts.status_labels``, normally :data:`SHOWN_STATUSES` or the
    filters' statuses; the other filters narrow the reports drawn too).

    Raises ``not_found`` (404) for a NIS code that is not loaded.
    """
    from geosignal.vocab import STATUS_COLOURS

    filters = filters or aggregation.StatsFilters()
    figures = aggregation.commune_detail(session, nis_code, filters, with_survey=True)
    boundary, neighbours, reports, props = map_geometries(session, nis_code, tuple(texts.status_labels), filters)
    figures["province"] = props.get("province")
    drawn = svgmap.commune_map_svg(boundary, neighbours, reports, texts, STATUS_COLOURS,
                                   width_mm=MAP_WIDTH_MM, panel_height_mm=MAP_PANEL_MM)
    return Sheet(figures=figures, map=drawn)


class RefusedURL(ValueError):
    """A resource the sheet's HTML asked for that is not one of geosignal's static files."""


class StaticFilesOnly:
    """WeasyPrint URL fetcher that serves geosignal's own static files and refuses anything
    else (``http:``, ``https:``, ``ftp:``, ``data:``, other ``file:`` paths, ``..`` tricks):
    generating a sheet never touches the network or the rest of the disk.

    ``static_folder``: the application's static directory. ``refused`` lists the URLs
    refused so far. Use :func:`static_fetcher` to get an instance WeasyPrint accepts.
    """

    def __init__(self, static_folder: str | Path) -> None:
        self.root = Path(static_folder).resolve()
        self.refused: list[str] = []

    @property
    def base_url(self) -> str:
        """The base URL relative links of the sheet resolve against (``css/…``)."""
        return self.root.as_uri() + "/"

    def path_of(self, url: str) -> Path:
        """Return the static file ``url`` names; raise :class:`RefusedURL` for anything else."""
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            raise RefusedURL(f"only geosignal's static files are loaded, not {url[:200]!r}")
        path = Path(unquote(parts.path)).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            raise RefusedURL(f"not a static file of geosignal: {url[:200]!r}")
        return path


def static_fetcher(static_folder: str | Path) -> Any:
    """Return a WeasyPrint URL fetcher (:class:`weasyprint.urls.URLFetcher` subclass) that
    serves only files under ``static_folder`` (see :class:`StaticFilesOnly`); its ``fetch``
    raises :class:`RefusedURL` for anything else, which WeasyPrint reports and skips."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class _Fetcher(URLFetcher, StaticFilesOnly):
        def __init__(self) -> None:
            URLFetcher.__init__(self, timeout=1, allowed_protocols=("file",), allow_redirects=False)
            StaticFilesOnly.__init__(self, static_folder)

        def fetch(self, url: str, headers: Any = None) -> Any:  # noqa: ARG002
            try:
                path = self.path_of(url)
            except RefusedURL:
                self.refused.append(url)
                raise
            mime = {".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png"}.get(path.suffix,
                                                                                      "application/octet-stream")
            return URLFetcherResponse(url, body=path.read_bytes(), headers={"Content-Type": mime})

    return _Fetcher()


def fit_one_page(html: str, static_folder: str | Path) -> tuple[Any, int]:
    """Lay out the sheet's ``html`` (WeasyPrint; relative links resolve in ``static_folder``,
    nothing outside it is loaded) on A4 pages, as the sheet's stylesheet sets it, then, while
    it runs onto a second page, with the tighter settings of :data:`FIT_STEPS` in turn.
    Returns (the WeasyPrint document, how many steps were needed: 0 to ``len(FIT_STEPS)``; its
    pages are more than one only when the last step did not fit either). Raises
    :class:`RuntimeError` if WeasyPrint cannot load its system libraries (Pango: see
    ``scripts/bootstrap.sh``)."""
    try:
        import weasyprint
    except OSError as error:  # pragma: no cover  (missing Pango)
        raise RuntimeError(f"WeasyPrint cannot start: {error}") from error
    fetcher = static_fetcher(static_folder)
    page = weasyprint.HTML(string=html, base_url=fetcher.base_url, url_fetcher=fetcher)
    document, steps = page.render(), 0
    while len(document.pages) > 1 and steps < len(FIT_STEPS):
        document = page.render(stylesheets=[weasyprint.CSS(string=FIT_STEPS[steps])])
        steps += 1
    return document, steps


def render_pdf(html: str, static_folder: str | Path) -> bytes:
    """Return the PDF of the sheet's ``html``: one A4 page (:func:`fit_one_page`). Raises
    :class:`RuntimeError` if WeasyPrint cannot load its system libraries."""
    return fit_one_page(html, static_folder)[0].write_pdf()
