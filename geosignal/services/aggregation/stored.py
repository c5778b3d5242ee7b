"""Stored per-commune figures: exact under any interleaving of writers.

Each commune is cut by a fixed grid of 1 km cells (EPSG:31370, ``commune_cells``); each cell
keeps the piece of the commune's white-zone union (and line union) inside it, **recomputed
from the reports that touch the cell**, never merged incrementally. A change recomputes only
the cells its old and new geometries touch, so its cost does not grow with the commune's
total, and nothing drifts. Counts (``commune_counts``) change by atomic in-SQL increments.
Commune area = sum of its cells; the union on maps = the dissolve of its pieces.

The work is done in PostgreSQL by statement-level triggers on ``reports`` (migration 0005;
SQL in :mod:`geosignal.services.aggregation.stored_sql`): every INSERT, UPDATE, DELETE or COPY
brings the figures up to date once per statement, set-wise, in the writer's transaction,
under locks taken in one fixed order (commune rows by NIS code, then cells by
(NIS code, i, j)). Callers write reports and commit; nothing else is needed. The functions
here rebuild communes (load, ``refresh-stats``) and read the figures.

Transactions must run at READ COMMITTED (the default): each recomputation starts after its
locks are granted and sees what the writers it waited for committed.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import text
from sqlalchemy.orm import Session

from geosignal.errors import GeosignalError
from geosignal.geo import LAMBERT72, WGS84, reproject
from geosignal.params import is_plain_text
from geosignal.services.aggregation.filters import (
    COUNTED_STATUSES,
    ESTIMATE_NOTE,
    NO_FILTERS,
    StatsFilters,
    hide_private_statuses,
)
from geosignal.services.aggregation.geometry import Counts, _polygonal
from geosignal.services.aggregation.live import _commune_infos, compute_live
from geosignal.services.aggregation.rows import CommuneInfo, make_row, territory_row
from geosignal.services.aggregation.stored_sql import CELL_M


def rebuild_communes(session: Session, nis_codes: Sequence[str], *, regrid: bool = True) -> None:
    """Recompute the stored figures of ``nis_codes`` from their reports (the caller commits).

    Takes the communes' rows exclusively, in NIS order (writers of these communes wait, or
    are waited for), cuts each commune by the grid again when ``regrid`` (after its boundary
    was loaded or changed; communes without cells always are), recomputes every cell piece
    and recounts the commune's reports. Used by
    :func:`geosignal.services.communes.load_communes` and :func:`recompute_all`.
    """
    codes = sorted(set(nis_codes))
    if not codes:
        return
    session.execute(text("INSERT INTO commune_stats (nis_code) SELECT unnest(CAST(:codes AS varchar[])) "
                         "ORDER BY 1 ON CONFLICT DO NOTHING"), {"codes": codes})
    session.execute(text("SELECT 1 FROM commune_stats WHERE nis_code = ANY(:codes) ORDER BY nis_code "
                         "FOR UPDATE"), {"codes": codes})
    if regrid:
        _cut_by_grid(session, codes)
    session.execute(text("SELECT commune_stats_rebuild(CAST(:codes AS varchar[]), false)"), {"codes": codes})


def grid_cells(boundary: BaseGeometry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut a commune boundary (EPSG:31370) by the grid of :data:`CELL_M` metres aligned on
    the origin. Returns (i, j, clip) arrays: the cell's column and row and its polygonal part
    inside the commune (the square itself when wholly inside)."""
    x0, y0, x1, y1 = boundary.bounds
    ii, jj = np.meshgrid(np.arange(int(np.floor(x0 / CELL_M)), int(np.floor(x1 / CELL_M)) + 1),
                         np.arange(int(np.floor(y0 / CELL_M)), int(np.floor(y1 / CELL_M)) + 1))
    ii, jj = ii.ravel(), jj.ravel()
    squares = shapely.box(ii * CELL_M, jj * CELL_M, (ii + 1) * CELL_M, (jj + 1) * CELL_M)
    shapely.prepare(boundary)
    hit = shapely.intersects(boundary, squares)
    clips = squares.copy()
    for k in np.flatnonzero(hit & ~shapely.contains_properly(boundary, squares)):
        part = shapely.clip_by_rect(boundary, *squares[k].bounds)
        if not part.is_valid:
            part = shapely.intersection(boundary, squares[k])
        clips[k] = _polygonal(part)
    keep = hit & np.asarray([c is not None and not c.is_empty for c in clips], dtype=bool)
    return ii[keep], jj[keep], clips[keep]


def _cut_by_grid(session: Session, codes: Sequence[str]) -> None:
    """Replace the cells of ``codes`` (their commune rows locked by the caller), with shapely
    (GEOS 3.14: ~100× faster than doing it in PostGIS here) on the boundaries as PostGIS
    projects them to EPSG:31370, the projection the live computation uses."""
    rows = session.execute(text("SELECT nis_code, ST_AsBinary(ST_Transform(boundary, 31370)) FROM communes "
                                "WHERE nis_code = ANY(:codes) ORDER BY 1"), {"codes": list(codes)}).all()
    nis: list[str] = []
    ii: list[int] = []
    jj: list[int] = []
    wkbs: list[bytes] = []
    for code, wkb in rows:
        i, j, clips = grid_cells(shapely.from_wkb(bytes(wkb)))
        nis += [code] * len(i)
        ii += i.tolist()
        jj += j.tolist()
        wkbs += list(shapely.to_wkb(clips))
    session.execute(text("DELETE FROM commune_cells WHERE nis_code = ANY(:codes)"), {"codes": list(codes)})
    session.execute(text("""
        INSERT INTO commune_cells (nis_code, i, j, clip)
        SELECT n, i, j, ST_Multi(ST_GeomFromWKB(w, 31370))
        FROM unnest(CAST(:n AS varchar[]), CAST(:i AS integer[]), CAST(:j AS integer[]),
                    CAST(:w AS bytea[])) AS k(n, i, j, w)
        ORDER BY 1, 2, 3"""), {"n": nis, "i": ii, "j": jj, "w": wkbs})


def recompute_all(session: Session, *, workers: int | None = None, regrid: bool = False) -> int:
    """Recompute and store the figures of every loaded commune (the caller commits).

    ``regrid`` also cuts every commune by the grid again. ``workers`` is accepted for older
    callers (the work runs in PostgreSQL). Returns the number of communes written.
    """
    del workers
    codes = list(session.scalars(text("SELECT nis_code FROM communes ORDER BY 1")))
    rebuild_communes(session, codes, regrid=regrid)
    return len(codes)


def vacuum_cells(session: Session) -> None:
    """Vacuum and analyse ``commune_cells`` after a rebuild (the caller has committed).

    A rebuild rewrites every cell row, which clears the visibility map: until autovacuum
    passes, the commune table's sums (an index-only scan of ``ix_commune_cells_sums``) visit
    the heap for every cell (581 communes: 136 ms against 88 ms for the whole read). Runs on
    a connection of its own in autocommit mode (``VACUUM`` cannot run in a transaction).
    """
    with session.get_bind().engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM (ANALYZE) commune_cells"))


def refresh_reports(session: Session, report_ids: Sequence[uuid.UUID], *,
                    old_geometries: Sequence[bytes] = ()) -> None:
    """Bring the stored figures up to date for the given reports, set-wise (one statement).

    ``report_ids``: reports just inserted or changed; ``old_geometries``: EWKB or WKB
    (EPSG:4326) of their geometries before an edit or a deletion. Recomputes, under the
    fixed-order locks, the cells that the reports' current geometries and the old ones touch.

    The ``reports`` triggers already do this (and keep the counts) for every statement that
    writes reports, so a caller that inserts, updates or deletes reports with SQL or COPY has
    nothing to call; this function is idempotent and safe to call again (e.g. after writing
    with the triggers disabled — then run :func:`recompute_all` instead, as counts are kept
    only by the triggers).
    """
    session.execute(text("""
        SELECT commune_stats_refresh(
          ARRAY(SELECT geometry FROM reports WHERE id = ANY(CAST(:ids AS uuid[])))
          || ARRAY(SELECT ST_SetSRID(ST_GeomFromEWKB(w), 4326) FROM unnest(CAST(:old AS bytea[])) w))"""),
        {"ids": [str(i) for i in report_ids], "old": [bytes(g) for g in old_geometries]})


#: Every stored figure of the communes asked, in one statement (so one snapshot: counts and
#: areas of the same moment, never a writer's commit between them): one row per loaded commune
#: with its description, whether its figures were ever computed, its count shards as arrays
#: (dimension, value, n) and the sums of its cell pieces (from ``ix_commune_cells_sums``: no
#: cell geometry is read), and its zone figures (``zone_counts``, as
#: :func:`geosignal.services.zones.zone_figures` reads them).
_STORED_SQL = """
SELECT c.nis_code, c.name_fr, c.area_m2, c.population, c.population_year, s.nis_code IS NOT NULL,
       k.dims, k.vals, k.ns, coalesce(x.zone_m2, 0), coalesce(x.line_m, 0),
       coalesce(z.zones, 0), coalesce(z.confirmed, 0), coalesce(z.reports, 0)
FROM communes c
LEFT JOIN commune_stats s ON s.nis_code = c.nis_code
LEFT JOIN (SELECT nis_code, array_agg(dim) AS dims, array_agg(value) AS vals, array_agg(n) AS ns
           FROM (SELECT nis_code, dim, value, sum(n)::bigint AS n FROM commune_counts{where} GROUP BY 1, 2, 3) v
           GROUP BY 1) k ON k.nis_code = c.nis_code
LEFT JOIN (SELECT nis_code, sum(zone_m2) AS zone_m2, sum(line_m) AS line_m
           FROM commune_cells{where} GROUP BY 1) x ON x.nis_code = c.nis_code
LEFT JOIN (SELECT nis_code, sum(zones) AS zones, sum(confirmed) AS confirmed, sum(reports) AS reports
           FROM zone_counts{where} GROUP BY 1) z ON z.nis_code = c.nis_code
{where_c}
ORDER BY c.nis_code"""
_STORED_ALL = text(_STORED_SQL.format(where="", where_c=""))
_STORED_SOME = text(_STORED_SQL.format(where=" WHERE nis_code = ANY(:nis)", where_c="WHERE c.nis_code = ANY(:nis)"))


def _stored_rows(session: Session, nis_codes: Sequence[str] | None = None
                 ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, int]]] | None:
    """Return the stored rows of ``nis_codes`` (every loaded commune when None; codes not
    loaded are left out), by NIS code, with the zone figures of the same moment (shaped as
    :func:`geosignal.services.zones.zone_figures`: communes without zones left out), or None
    when one of them has none (never computed, or the table was cleared: the next write
    touching it, or ``refresh-stats``, rebuilds it).

    Counts are the sums of the count shards (each shard added up here); areas (m²) and
    lengths (m, EPSG:31370) the sums of the cell pieces. One statement (:data:`_STORED_SQL`)."""
    from geosignal.services.zones import place_figures  # (zones imports this package)

    if nis_codes is None:
        result = session.execute(_STORED_ALL)
    else:
        result = session.execute(_STORED_SOME, {"nis": list(nis_codes)})
    rows: dict[str, dict[str, Any]] = {}
    zone_figures: dict[str, dict[str, int]] = {}
    for (nis, name, area_m2, population, year, stored, dims, values, ns, zone_m2, line_m,
         zones, confirmed, in_zones) in result:
        if not stored:
            return None
        counts = _counts_of(dims, values, ns) if dims is not None else Counts()
        rows[nis] = make_row(CommuneInfo(nis, name, area_m2, population, year), counts, zone_m2, line_m)
        if zones or in_zones:
            zone_figures[nis] = place_figures(zones, confirmed, in_zones)
    return rows, zone_figures


#: A commune's breakdown before any count: every value of each dimension at 0, in vocabulary order.
_ZERO_BREAKDOWN = Counts().breakdown
_KINDS = {"point": "point_count", "line": "line_count"}


def _counts_of(dims: Sequence[str], values: Sequence[str], ns: Sequence[int]) -> Counts:
    """Return a commune's counts from its stored count shards (``commune_counts`` rows as three
    parallel arrays: dimension, value, n), each shard added: ``reports``, ``households``,
    ``kind`` (``point``, ``line``, else an area) and the breakdown dimensions."""
    breakdown = {dim: dict(zero) for dim, zero in _ZERO_BREAKDOWN.items()}
    totals = {"report_count": 0, "households_declared": 0, "point_count": 0, "line_count": 0, "zone_count": 0}
    for dim, value, n in zip(dims, values, ns, strict=True):
        counted = breakdown.get(dim)
        if counted is not None:
            counted[value] = counted.get(value, 0) + n
        elif dim == "reports":
            totals["report_count"] += n
        elif dim == "households":
            totals["households_declared"] += n
        elif dim == "kind":
            totals[_KINDS.get(value, "zone_count")] += n
        else:
            raise ValueError(f"unknown count dimension {dim!r}")
    return Counts(**totals, breakdown=breakdown)


def commune_table(session: Session, filters: StatsFilters = NO_FILTERS, *,
                  with_survey: bool = False, with_zone_figures: bool = False) -> dict[str, Any]:
    """Return every commune's figures and the territory's.

    Shape: ``{"communes": [row…] (by NIS code), "territory": row, "filters": {…},
    "source": "stored" | "live", "estimate_note": str}``; rows as :func:`make_row`.
    Without filters the stored aggregates answer (``source: "stored"``) unless some commune
    has never been computed; with filters the figures are computed live.
    ``with_survey`` adds to each row ``survey`` (the commune's latest survey answers, see
    :func:`geosignal.services.survey_db.answers_by_commune`, or None) and to the table
    ``survey_editions`` (:func:`geosignal.services.survey_db.editions`).
    ``with_zone_figures`` adds the place counts of
    :func:`geosignal.services.zones.add_zone_figures` (read with the stored figures, in the
    same statement, when they answer).
    """
    stored = _stored_rows(session) if filters.is_default else None
    source = "stored"
    if stored is None:
        source, zone_figures = "live", None
        rows = compute_live(session, filters)
        for row in rows.values():
            row.pop("_zones"), row.pop("_lines")
    else:
        rows, zone_figures = stored
        hide_private_statuses(rows.values(), filters)
    communes = list(rows.values())
    territory = territory_row(communes)
    table = {
        "communes": communes,
        "territory": territory,
        "filters": filters.as_dict(),
        "source": source,
        "estimate_note": ESTIMATE_NOTE.format(year=territory["population_year"] or "?"),
    }
    if with_survey:
        from geosignal.services import survey_db

        answers = survey_db.answers_by_commune(session)
        for row in communes:
            row["survey"] = answers.get(row["nis_code"])
        table["survey_editions"] = survey_db.editions(session)
    if with_zone_figures:
        from geosignal.services import zones

        if source == "live":  # the places of the reports the filters keep
            zone_figures = zones.zone_figures_filtered(session, filters)
        zones.add_zone_figures(session, table, zone_figures)
    return table


def commune_stats(session: Session, statuses: tuple[str, ...] = COUNTED_STATUSES) -> list[dict[str, Any]]:
    """Return one row per commune, by NIS code (see :func:`commune_table` for the shape).

    Kept for older callers: ``commune_table(session, StatsFilters(statuses=...))["communes"]``.
    """
    return commune_table(session, StatsFilters(statuses=tuple(statuses)))["communes"]


def commune_detail(session: Session, nis_code: str, filters: StatsFilters = NO_FILTERS,
                   *, geometry: bool = False, with_survey: bool = False) -> dict[str, Any]:
    """Return one commune's figures (row as :func:`make_row`).

    With ``geometry=True`` the row also holds ``white_zone`` and ``lines``: the clipped unions
    as GeoJSON geometries (EPSG:4326, ``[lon, lat]``, 7 decimals) or None. With
    ``with_survey=True``: ``survey`` (the commune's latest answers, or None) and
    ``survey_editions`` (see :mod:`geosignal.services.survey_db`).
    Raises ``not_found`` (404) for a NIS code that is not loaded, a malformed one (a control
    character, more than 20 characters: :func:`geosignal.params.is_plain_text`) too, before
    any SQL.
    """
    if not is_plain_text(nis_code, 20):  # as parse_commune reads a NIS code: no NUL reaches PostgreSQL
        raise GeosignalError("not_found", f"no commune {nis_code[:20]!r}")
    infos = _commune_infos(session, [nis_code])
    if nis_code not in infos:
        raise GeosignalError("not_found", f"no commune {nis_code}")
    stored = _stored_rows(session, [nis_code]) if filters.is_default else None
    if stored is not None:
        row = stored[0][nis_code]
        hide_private_statuses([row], filters)
        zones = lines = None
        if geometry:  # the dissolve of the commune's cell pieces
            # put on the 1e-7° grid it is written at first (two zones millimetres apart, valid,
            # shared an edge once rounded: a self-intersection), nothing left of it: none
            zones, lines = session.execute(text(
                "SELECT CASE WHEN NOT ST_IsEmpty(z) THEN ST_AsGeoJSON(ST_ForcePolygonCCW(ST_Multi(z)), 7) END, "
                "CASE WHEN NOT ST_IsEmpty(l) THEN ST_AsGeoJSON(ST_Multi(l), 7) END FROM ("
                "SELECT ST_CollectionExtract(ST_ReducePrecision(ST_Union(zone), 1e-7), 3) AS z, "
                "ST_CollectionExtract(ST_ReducePrecision(ST_LineMerge(ST_Union(line)), 1e-7), 2) AS l "
                "FROM commune_cells WHERE nis_code = :nis) u"), {"nis": nis_code}).one()
            zones = json.loads(zones) if zones else None
            lines = json.loads(lines) if lines else None
        row["source"] = "stored"
    else:
        row = compute_live(session, filters, [nis_code])[nis_code]
        z, ln = row.pop("_zones"), row.pop("_lines")
        zones = _geojson_4326(z) if (geometry and z is not None) else None
        lines = _geojson_4326(ln) if (geometry and ln is not None) else None
        row["source"] = "live"
    if geometry:
        row["white_zone"], row["lines"] = zones, lines
    if with_survey:
        from geosignal.services import survey_db

        row["survey"] = survey_db.answers_by_commune(session).get(nis_code)
        row["survey_editions"] = survey_db.editions(session)
    row["filters"] = filters.as_dict()
    row["estimate_note"] = ESTIMATE_NOTE.format(year=row["population_year"] or "?")
    return row


def _geojson_4326(geom_31370: BaseGeometry) -> dict[str, Any]:
    """The GeoJSON of a geometry in EPSG:31370, in EPSG:4326 on the 1e-7° grid, its rings as
    RFC 7946 turns them (exterior counter-clockwise: oriented after ``set_precision``, which
    rebuilt them clockwise)."""
    geom = shapely.orient_polygons(shapely.set_precision(reproject(geom_31370, LAMBERT72, WGS84), 1e-7))
    return json.loads(shapely.to_geojson(geom))
