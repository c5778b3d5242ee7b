"""Figures computed live from the reports (any filter): SQL counts, shapely unions.

This is also the *full recomputation* the stored figures are checked against.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import text
from sqlalchemy.orm import Session

from geosignal.geo import LAMBERT72
from geosignal.services.aggregation.filters import NO_FILTERS, StatsFilters, where_sql
from geosignal.services.aggregation.geometry import Counts, clipped_unions
from geosignal.services.aggregation.rows import CommuneInfo, make_row


def _commune_infos(session: Session, nis_codes: Iterable[str] | None = None) -> dict[str, CommuneInfo]:
    sql = "SELECT nis_code, name_fr, area_m2, population, population_year FROM communes"
    params: dict[str, Any] = {}
    if nis_codes is not None:
        sql += " WHERE nis_code = ANY(:nis)"
        params["nis"] = list(nis_codes)
    rows = session.execute(text(sql + " ORDER BY nis_code"), params)
    return {r.nis_code: CommuneInfo(r.nis_code, r.name_fr, r.area_m2, r.population, r.population_year)
            for r in rows}


def _count_rows(session: Session, filters: StatsFilters, nis_codes: Sequence[str] | None) -> dict[str, Counts]:
    """Return the report counts per home commune (SQL GROUP BYs)."""
    cond, params = where_sql(filters, with_status=False)
    if nis_codes is not None:
        cond += " AND r.commune_nis = ANY(:nis)"
        params["nis"] = list(nis_codes)
    params["statuses"] = list(filters.statuses)
    sql = text(f"""
        WITH a AS (
          SELECT r.commune_nis, r.network, r.technologies, r.operators, r.issue, r.status,
                 r.households_affected, ST_Dimension(r.geometry) AS dim,
                 r.status = ANY(:statuses) AS counted
          FROM reports r WHERE {cond}
        ), c AS (SELECT * FROM a WHERE counted)
        SELECT commune_nis, 'kind' AS dim, dim::text AS value, count(*) AS n,
               coalesce(sum(households_affected), 0) AS households
          FROM c GROUP BY 1, 3
        UNION ALL SELECT commune_nis, 'network', network, count(*), 0 FROM c GROUP BY 1, 3
        UNION ALL SELECT commune_nis, 'technology', t, count(*), 0 FROM c, unnest(technologies) t GROUP BY 1, 3
        UNION ALL SELECT commune_nis, 'operator', o, count(*), 0 FROM c, unnest(operators) o GROUP BY 1, 3
        UNION ALL SELECT commune_nis, 'issue', issue, count(*), 0 FROM c WHERE issue IS NOT NULL GROUP BY 1, 3
        UNION ALL SELECT commune_nis, 'status', status, count(*), 0 FROM a GROUP BY 1, 3
    """)
    out: dict[str, Counts] = {}
    for nis, dim, value, n, households in session.execute(sql, params):
        counts = out.get(nis)
        if counts is None:  # (not setdefault: a Counts, with its breakdown dicts, per row)
            counts = out[nis] = Counts()
        if dim == "kind":
            counts.report_count += n
            counts.households_declared += int(households)
            if value == "0":
                counts.point_count += n
            elif value == "1":
                counts.line_count += n
            else:
                counts.zone_count += n
        else:
            counts.breakdown[dim][value] = counts.breakdown[dim].get(value, 0) + n
    return out


def _geoms(session: Session, sql: str, params: dict[str, Any]) -> np.ndarray:
    wkbs = [bytes(w) for (w,) in session.execute(text(sql), params)]
    return shapely.from_wkb(wkbs) if wkbs else np.asarray([], dtype=object)


def _boundaries(session: Session, nis_codes: Sequence[str], *, near: bool = False) -> dict[str, BaseGeometry]:
    """The boundaries (EPSG:31370) of ``nis_codes``; ``near``: instead, of the other communes
    with a smaller NIS code within 1e-6° (~10 cm) of one of them (which may own a stretch of
    their shared border, :func:`~geosignal.services.aggregation.geometry.border_owners`)."""
    where = "nis_code = ANY(:nis)"
    if near:
        where = ("NOT nis_code = ANY(:nis) AND EXISTS (SELECT 1 FROM communes c WHERE c.nis_code = ANY(:nis) "
                 "AND communes.nis_code < c.nis_code AND ST_DWithin(communes.boundary, c.boundary, 1e-6))")
    rows = session.execute(
        text(f"SELECT nis_code, ST_AsBinary(ST_Transform(boundary, :srid)) FROM communes "
             f"WHERE {where} ORDER BY nis_code"),
        {"srid": LAMBERT72, "nis": list(nis_codes)},
    )
    return {nis: shapely.from_wkb(bytes(wkb)) for nis, wkb in rows}


def _unions(session: Session, filters: StatsFilters, nis_codes: Sequence[str], *, all_communes: bool,
            workers: int | None = None) -> dict[str, tuple[Any, Any]]:
    """Fetch the zones and lines (EPSG:31370) touching ``nis_codes`` and union them per commune."""
    cond, params = where_sql(filters)
    params["srid"] = LAMBERT72
    if not all_communes:
        # (within 1e-6°, ~10 cm: a commune may own a line's stretch within 1 cm outside it, on
        # its border)
        cond += (" AND EXISTS (SELECT 1 FROM communes c WHERE c.nis_code = ANY(:nis) "
                 "AND ST_DWithin(c.boundary, r.geometry, 1e-6))")
        params["nis"] = list(nis_codes)
    base = "SELECT ST_AsBinary(ST_Transform(r.geometry, :srid)) FROM reports r WHERE "
    zones = _geoms(session, base + f"ST_Dimension(r.geometry) = 2 AND {cond}", params)
    lines = _geoms(session, base + f"ST_Dimension(r.geometry) = 1 AND {cond}", params)
    boundaries = _boundaries(session, nis_codes)
    # one commune (or a few): the neighbours owning the stretches of border it shares with them
    neighbours = None if all_communes or not lines.size else boundaries | _boundaries(session, nis_codes, near=True)
    return clipped_unions(boundaries, zones, lines, neighbours=neighbours, workers=workers)


def compute_live(session: Session, filters: StatsFilters = NO_FILTERS,
                 nis_codes: Sequence[str] | None = None, *, workers: int | None = None) -> dict[str, dict[str, Any]]:
    """Compute the figures of ``nis_codes`` (default: every commune) from the reports now.

    Returns ``{nis_code: row}`` (rows as :func:`make_row`), by NIS code. Each row also holds
    the unions under the private keys ``_zones`` and ``_lines`` (EPSG:31370 shapely
    geometries or None), which callers drop before serialising.
    """
    infos = _commune_infos(session, nis_codes)
    codes = list(infos)
    counts = _count_rows(session, filters, None if nis_codes is None else codes)
    unions = _unions(session, filters, codes, all_communes=nis_codes is None, workers=workers)
    out: dict[str, dict[str, Any]] = {}
    for nis, info in infos.items():
        zones, lines = unions.get(nis, (None, None))
        row = make_row(info, counts.get(nis, Counts()), zones.area if zones else 0.0,
                       lines.length if lines else 0.0)
        row["_zones"], row["_lines"] = zones, lines
        out[nis] = row
    return out
