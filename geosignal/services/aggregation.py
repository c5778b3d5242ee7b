"""Per-commune white-zone aggregation: counts, areas, lengths, breakdowns, stored and live.

Figures per commune and for the territory (the communes loaded define it), computed in
Belgian Lambert 72 (EPSG:31370, metres), from the reports stored in PostGIS or from files
(:func:`aggregate_files`, same code, same numbers).

Border rules
------------
- **Counts** (``report_count``, ``point_count``, ``line_count``, ``zone_count``, the
  breakdowns and ``households_declared``): each report counts once, in its *home commune*
  (``reports.commune_nis``, set at intake by
  :func:`geosignal.services.communes.commune_of`): the commune holding the largest part of it
  (area for zones, length for lines, number of points for points). Ties go to the **smallest
  NIS code**, so a point on a shared boundary (or on a vertex shared by several communes)
  counts in exactly one commune. Per-commune counts add up to the territory's.
- **Zones**: a zone spanning communes counts in each for the part inside it. The white-zone
  area of a commune is the area of the union of the zones (Polygon/MultiPolygon reports; each
  part of a MultiPolygon where it lies) clipped to the commune: overlapping zones are counted
  once. Communes do not overlap (clean coverage), so per-commune areas add up to the area of
  the union of all zones clipped to the territory.
- **Lines** count by length (km) the same way: the union of the line reports (overlapping
  stretches counted once) clipped to each commune. Lines are unioned on a 1 cm grid
  (:data:`LINE_GRID_M`, snap-rounding), so a stretch filed twice whose vertices differ by less
  than 1 cm (e.g. after a round trip through EPSG:4326) counts once.
- **Status**: figures count ``submitted`` and ``validated`` reports (:data:`COUNTED_STATUSES`)
  unless a status filter says otherwise; the ``status`` breakdown counts every status.
- **Period**: a report's date is its observation date when given (``observed_at``), else the
  date it was recorded (``created_at``); ``date_from`` / ``date_to`` are whole days in
  Brussels time, both inclusive.
- **Inhabitants affected** is an *estimate*: white-zone share of the commune's area ×
  its population (Statbel, legal population on 1 January of ``population_year``). It assumes
  people are spread evenly over the commune.

Speed
-----
Without filters, the figures come from the stored table ``commune_stats``
(:class:`~geosignal.models.CommuneStats`), kept up to date by :func:`refresh_communes`, which
:mod:`geosignal.services.reports` calls in the transaction that creates a report or changes
its status: only the communes the report touches are recomputed, and a new report's zone is
merged into the stored union instead of recomputing it. Filtered queries compute live.
Unions are computed with shapely (GEOS 3.14 in the wheels, about twice as fast as Debian's
GEOS 3.11 inside PostGIS) on a thread per core; counts are SQL ``GROUP BY``s (see
``bench/aggregate.py`` for the measurements that chose this split).
"""

from __future__ import annotations

import csv
import io
import json
import os
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from os import PathLike
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import text
from sqlalchemy.orm import Session

from geosignal.errors import GeosignalError
from geosignal.geo import LAMBERT72, WGS84, reproject
from geosignal.vocab import ISSUES, NETWORKS, OPERATORS, STATUSES, TECHNOLOGIES

BRUSSELS = ZoneInfo("Europe/Brussels")

#: Statuses counted by default: everything but rejected and withdrawn reports.
COUNTED_STATUSES: tuple[str, ...] = ("submitted", "validated")

#: Breakdown dimensions and their vocabularies (keys of ``breakdown``).
BREAKDOWNS: dict[str, tuple[str, ...]] = {
    "network": NETWORKS,
    "technology": TECHNOLOGIES,
    "operator": OPERATORS,
    "issue": ISSUES,
    "status": STATUSES,
}

#: Grid (m, EPSG:31370) on which lines are unioned, so that near-identical stretches merge.
LINE_GRID_M = 0.01

ESTIMATE_NOTE = (
    "Estimation : part de la surface communale en zone blanche × population de la commune "
    "(Statbel, population légale au 1er janvier {year}) ; suppose une population répartie "
    "uniformément."
)


# --------------------------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatsFilters:
    """Which reports the figures count.

    ``statuses`` (default :data:`COUNTED_STATUSES`); ``network``, ``technology``,
    ``operator``, ``issue``: one vocabulary value each (a report matches a technology or an
    operator when its list holds it); ``date_from`` / ``date_to``: inclusive days (Brussels
    time) compared with ``observed_at``, or ``created_at`` when no observation date was given.
    """

    statuses: tuple[str, ...] = COUNTED_STATUSES
    network: str | None = None
    technology: str | None = None
    operator: str | None = None
    issue: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    @property
    def is_default(self) -> bool:
        """Whether the stored aggregates answer for these filters (no filter given)."""
        return self == StatsFilters()

    def as_dict(self) -> dict[str, Any]:
        """Return the filters as JSON-ready values (dates as ISO strings)."""
        return {
            "status": list(self.statuses), "network": self.network, "technology": self.technology,
            "operator": self.operator, "issue": self.issue,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
        }


def parse_filters(args: Any) -> StatsFilters:
    """Build :class:`StatsFilters` from query arguments (a mapping with ``get``).

    Accepted: ``status`` (comma-separated statuses, or ``all``), ``network``, ``technology``,
    ``operator``, ``issue``, ``from`` and ``to`` (``YYYY-MM-DD``). Empty values are ignored.
    Raises ``invalid_request`` (400) naming the parameter for a value outside its vocabulary
    or a malformed date, or ``from`` after ``to``.
    """
    def one(name: str, vocabulary: tuple[str, ...]) -> str | None:
        value = (args.get(name) or "").strip()
        if not value:
            return None
        if value not in vocabulary:
            raise GeosignalError("invalid_request", f"{name} must be one of {', '.join(vocabulary)}",
                                 where=name)
        return value

    def day(name: str) -> date | None:
        value = (args.get(name) or "").strip()
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise GeosignalError("invalid_request", f"{name} must be a date YYYY-MM-DD", where=name) from None

    raw_status = (args.get("status") or "").strip()
    if not raw_status:
        statuses = COUNTED_STATUSES
    elif raw_status == "all":
        statuses = STATUSES
    else:
        statuses = tuple(s.strip() for s in raw_status.split(",") if s.strip())
        bad = [s for s in statuses if s not in STATUSES]
        if bad or not statuses:
            raise GeosignalError("invalid_request", f"status must be 'all' or among {', '.join(STATUSES)}",
                                 where="status")
        statuses = tuple(s for s in STATUSES if s in statuses)  # canonical order
    filters = StatsFilters(
        statuses=statuses, network=one("network", NETWORKS), technology=one("technology", TECHNOLOGIES),
        operator=one("operator", OPERATORS), issue=one("issue", ISSUES),
        date_from=day("from"), date_to=day("to"),
    )
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise GeosignalError("invalid_request", "from is after to", where="from")
    return filters


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=BRUSSELS)


def _where(filters: StatsFilters, *, with_status: bool = True, alias: str = "r") -> tuple[str, dict[str, Any]]:
    """Return an SQL condition over ``reports`` (alias ``r``) and its parameters."""
    clauses = ["TRUE"]
    params: dict[str, Any] = {}
    if with_status:
        clauses.append(f"{alias}.status = ANY(:f_statuses)")
        params["f_statuses"] = list(filters.statuses)
    if filters.network:
        clauses.append(f"{alias}.network = :f_network")
        params["f_network"] = filters.network
    if filters.technology:
        clauses.append(f":f_technology = ANY({alias}.technologies)")
        params["f_technology"] = filters.technology
    if filters.operator:
        clauses.append(f":f_operator = ANY({alias}.operators)")
        params["f_operator"] = filters.operator
    if filters.issue:
        clauses.append(f"{alias}.issue = :f_issue")
        params["f_issue"] = filters.issue
    if filters.date_from:
        clauses.append(f"coalesce({alias}.observed_at, {alias}.created_at) >= :f_from")
        params["f_from"] = _day_start(filters.date_from)
    if filters.date_to:
        clauses.append(f"coalesce({alias}.observed_at, {alias}.created_at) < :f_to")
        params["f_to"] = _day_start(filters.date_to + timedelta(days=1))
    return " AND ".join(clauses), params


# --------------------------------------------------------------------------------------------
# Geometry core (shapely, EPSG:31370): shared by the database and the file modes
# --------------------------------------------------------------------------------------------


@dataclass
class Counts:
    """Report counts of one commune (reports in their home commune)."""

    report_count: int = 0
    point_count: int = 0
    line_count: int = 0
    zone_count: int = 0
    households_declared: int = 0
    breakdown: dict[str, dict[str, int]] = field(
        default_factory=lambda: {dim: dict.fromkeys(values, 0) for dim, values in BREAKDOWNS.items()}
    )


def _parts_of_kind(geom: BaseGeometry | None, single: type, multi: type) -> BaseGeometry | None:
    """Return the parts of ``geom`` of one kind (``single``/``multi``: Polygon/MultiPolygon or
    LineString/MultiLineString), collections searched too, as one ``multi`` (None when none)."""
    if geom is None or geom.is_empty:
        return None
    found: list[BaseGeometry] = []
    for part in shapely.get_parts(geom):
        if isinstance(part, single):
            found.append(part)
        elif isinstance(part, multi):
            found.extend(part.geoms)
        elif part.geom_type == "GeometryCollection":
            sub = _parts_of_kind(part, single, multi)
            if sub is not None:
                found.extend(sub.geoms)
    found = [p for p in found if not p.is_empty]
    return multi(found) if found else None


def _polygonal(geom: BaseGeometry | None) -> MultiPolygon | None:
    """Return the polygonal part of a geometry as a MultiPolygon (None when there is none)."""
    return _parts_of_kind(geom, Polygon, MultiPolygon)


def _lineal(geom: BaseGeometry | None) -> MultiLineString | None:
    """Return the lineal part of a geometry as a MultiLineString (None when there is none)."""
    return _parts_of_kind(geom, LineString, MultiLineString)


def _clipped_union(boundary: BaseGeometry, candidates: np.ndarray, polygonal: bool) -> BaseGeometry | None:
    """Return the union of ``candidates`` clipped to ``boundary`` (EPSG:31370), its polygonal
    (zones) or lineal (lines) part; None when empty.

    Geometries lying wholly inside the commune are unioned as they are; only those crossing
    its boundary are clipped first (cheaper than clipping the whole union)."""
    if candidates.size == 0:
        return None
    inside = shapely.contains_properly(boundary, candidates)
    parts = list(candidates[inside])
    crossing = candidates[~inside]
    if crossing.size:
        parts.extend(shapely.intersection(crossing, boundary))
    if polygonal:
        return _polygonal(shapely.union_all(parts))
    # snap-rounding on a 1 cm grid: the same stretch filed twice (vertices within 1 cm) counts once
    return _lineal(shapely.union_all(parts, grid_size=LINE_GRID_M))


def clipped_unions(
    boundaries: dict[str, BaseGeometry],
    zones: Sequence[BaseGeometry] | np.ndarray,
    lines: Sequence[BaseGeometry] | np.ndarray,
    *,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, tuple[MultiPolygon | None, MultiLineString | None]]:
    """Return, per NIS code, (union of zones, union of lines), each clipped to the commune.

    All geometries are in EPSG:31370. ``zones`` are polygonal, ``lines`` lineal. Work is
    spread over ``workers`` threads (default: one per core; GEOS releases the GIL).
    ``progress(n)`` is called with 1 after each commune.
    """
    zones_arr = np.asarray(zones, dtype=object)
    lines_arr = np.asarray(lines, dtype=object)
    nis_codes = list(boundaries)
    bounds = np.asarray([boundaries[n] for n in nis_codes], dtype=object)
    for b in bounds:
        shapely.prepare(b)

    def pairs(geoms: np.ndarray) -> dict[int, np.ndarray]:
        if geoms.size == 0:
            return {}
        tree = shapely.STRtree(geoms)
        left, right = tree.query(bounds, predicate="intersects")
        order = np.argsort(left, kind="stable")
        left, right = left[order], right[order]
        cuts = np.flatnonzero(np.diff(left)) + 1
        return {int(chunk_left[0]): geoms[chunk_right]
                for chunk_left, chunk_right in zip(np.split(left, cuts), np.split(right, cuts), strict=True)
                if chunk_left.size}

    zone_pairs, line_pairs = pairs(zones_arr), pairs(lines_arr)
    empty = np.asarray([], dtype=object)

    def one(i: int) -> tuple[str, tuple[Any, Any]]:
        b = bounds[i]
        result = (_clipped_union(b, zone_pairs.get(i, empty), True),
                  _clipped_union(b, line_pairs.get(i, empty), False))
        return nis_codes[i], result

    out: dict[str, tuple[Any, Any]] = {}
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        # biggest jobs first, so that threads finish together
        order = sorted(range(len(nis_codes)), key=lambda i: -(len(zone_pairs.get(i, empty))
                                                              + len(line_pairs.get(i, empty))))
        for nis, result in pool.map(one, order):
            out[nis] = result
            if progress:
                progress(1)
    return {n: out[n] for n in nis_codes}


# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommuneInfo:
    """What the rows need to know about a commune (area in m², EPSG:31370)."""

    nis_code: str
    name_fr: str
    area_m2: float
    population: int | None
    population_year: int | None


def make_row(info: CommuneInfo, counts: Counts, white_zone_m2: float, line_length_m: float) -> dict[str, Any]:
    """Return one commune's figures as a JSON-ready dict.

    Keys: ``nis_code``, ``name_fr``, ``population``, ``population_year``,
    ``commune_area_km2``, ``report_count``, ``point_count``, ``line_count``, ``zone_count``,
    ``white_zone_area_m2`` (rounded to 1 m²), ``white_zone_area_km2``, ``white_zone_share``
    (0–1), ``line_length_km``, ``reports_per_1000_inhabitants``, ``households_declared``,
    ``inhabitants_affected_estimate`` (rounded to a person; None without population) and
    ``breakdown`` (``{dimension: {value: count}}``).
    """
    share = white_zone_m2 / info.area_m2 if info.area_m2 else 0.0
    population = info.population
    return {
        "nis_code": info.nis_code,
        "name_fr": info.name_fr,
        "population": population,
        "population_year": info.population_year,
        "commune_area_km2": info.area_m2 / 1e6,
        "report_count": counts.report_count,
        "point_count": counts.point_count,
        "line_count": counts.line_count,
        "zone_count": counts.zone_count,
        "white_zone_area_m2": round(white_zone_m2, 0),
        "white_zone_area_km2": white_zone_m2 / 1e6,
        "white_zone_share": share,
        "line_length_km": line_length_m / 1e3,
        "reports_per_1000_inhabitants": 1000 * counts.report_count / population if population else None,
        "households_declared": counts.households_declared,
        "inhabitants_affected_estimate": round(share * population) if population is not None else None,
        "breakdown": counts.breakdown,
    }


def territory_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the territory's figures: the sums of the per-commune rows (shares recomputed)."""
    area_m2 = sum(r["commune_area_km2"] for r in rows) * 1e6
    zone_m2 = sum(r["white_zone_area_km2"] for r in rows) * 1e6
    populations = [r["population"] for r in rows if r["population"] is not None]
    population = sum(populations) if populations else None
    years = sorted({r["population_year"] for r in rows if r["population_year"]})
    breakdown = {dim: {v: sum(r["breakdown"][dim][v] for r in rows) for v in values}
                 for dim, values in BREAKDOWNS.items()}
    counts = Counts(
        report_count=sum(r["report_count"] for r in rows),
        point_count=sum(r["point_count"] for r in rows),
        line_count=sum(r["line_count"] for r in rows),
        zone_count=sum(r["zone_count"] for r in rows),
        households_declared=sum(r["households_declared"] for r in rows),
        breakdown=breakdown,
    )
    info = CommuneInfo("", "Territoire", area_m2, population, years[-1] if years else None)
    row = make_row(info, counts, zone_m2, sum(r["line_length_km"] for r in rows) * 1e3)
    row.pop("nis_code")
    row["name_fr"] = "Territoire"
    row["commune_count"] = len(rows)
    row["inhabitants_affected_estimate"] = sum(
        r["inhabitants_affected_estimate"] or 0 for r in rows) if population is not None else None
    return row


# --------------------------------------------------------------------------------------------
# Database mode
# --------------------------------------------------------------------------------------------


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
    cond, params = _where(filters, with_status=False)
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
        counts = out.setdefault(nis, Counts())
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


def _boundaries(session: Session, nis_codes: Sequence[str]) -> dict[str, BaseGeometry]:
    rows = session.execute(
        text("SELECT nis_code, ST_AsBinary(ST_Transform(boundary, :srid)) FROM communes "
             "WHERE nis_code = ANY(:nis) ORDER BY nis_code"),
        {"srid": LAMBERT72, "nis": list(nis_codes)},
    )
    return {nis: shapely.from_wkb(bytes(wkb)) for nis, wkb in rows}


def _unions(session: Session, filters: StatsFilters, nis_codes: Sequence[str], *, all_communes: bool,
            workers: int | None = None) -> dict[str, tuple[Any, Any]]:
    """Fetch the zones and lines (EPSG:31370) touching ``nis_codes`` and union them per commune."""
    cond, params = _where(filters)
    params["srid"] = LAMBERT72
    if not all_communes:
        cond += (" AND EXISTS (SELECT 1 FROM communes c WHERE c.nis_code = ANY(:nis) "
                 "AND ST_Intersects(c.boundary, r.geometry))")
        params["nis"] = list(nis_codes)
    base = "SELECT ST_AsBinary(ST_Transform(r.geometry, :srid)) FROM reports r WHERE "
    zones = _geoms(session, base + f"ST_Dimension(r.geometry) = 2 AND {cond}", params)
    lines = _geoms(session, base + f"ST_Dimension(r.geometry) = 1 AND {cond}", params)
    return clipped_unions(_boundaries(session, nis_codes), zones, lines, workers=workers)


def compute_live(session: Session, filters: StatsFilters = StatsFilters(),
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


_UPSERT = text("""
    INSERT INTO commune_stats (nis_code, report_count, point_count, line_count, zone_count,
        households_declared, white_zone_m2, line_length_m, breakdown, white_zone, line_union, computed_at)
    VALUES (:nis_code, :report_count, :point_count, :line_count, :zone_count, :households_declared,
        :white_zone_m2, :line_length_m, CAST(:breakdown AS jsonb),
        ST_Multi(ST_Transform(ST_GeomFromWKB(:white_zone, :srid), 4326)),
        ST_Multi(ST_Transform(ST_GeomFromWKB(:line_union, :srid), 4326)), now())
    ON CONFLICT (nis_code) DO UPDATE SET
        report_count = EXCLUDED.report_count, point_count = EXCLUDED.point_count,
        line_count = EXCLUDED.line_count, zone_count = EXCLUDED.zone_count,
        households_declared = EXCLUDED.households_declared, white_zone_m2 = EXCLUDED.white_zone_m2,
        line_length_m = EXCLUDED.line_length_m, breakdown = EXCLUDED.breakdown,
        white_zone = EXCLUDED.white_zone, line_union = EXCLUDED.line_union, computed_at = now()
""")


def _store(session: Session, rows: Iterable[dict[str, Any]]) -> None:
    params = []
    for row in rows:
        zones, lines = row["_zones"], row["_lines"]
        params.append({
            "nis_code": row["nis_code"], "report_count": row["report_count"],
            "point_count": row["point_count"], "line_count": row["line_count"],
            "zone_count": row["zone_count"], "households_declared": row["households_declared"],
            "white_zone_m2": zones.area if zones else 0.0, "line_length_m": lines.length if lines else 0.0,
            "breakdown": json.dumps(row["breakdown"]),
            "white_zone": shapely.to_wkb(zones) if zones else None,
            "line_union": shapely.to_wkb(lines) if lines else None,
            "srid": LAMBERT72,
        })
    if params:
        session.execute(_UPSERT, params)


def recompute_all(session: Session, *, workers: int | None = None) -> int:
    """Recompute and store the figures of every commune (the caller commits).

    Returns the number of communes written. Rows of communes no longer loaded go with them
    (foreign key ``ON DELETE CASCADE``).
    """
    rows = compute_live(session, workers=workers)
    _store(session, rows.values())
    return len(rows)


def _missing_communes(session: Session) -> list[str]:
    return list(session.scalars(text(
        "SELECT c.nis_code FROM communes c LEFT JOIN commune_stats s USING (nis_code) "
        "WHERE s.nis_code IS NULL ORDER BY 1")))


def touched_communes(session: Session, report_id: uuid.UUID | str) -> list[str]:
    """Return the NIS codes a report touches: its home commune and every commune its geometry
    intersects."""
    return list(session.scalars(text(
        "SELECT c.nis_code FROM communes c JOIN reports r ON r.id = :id "
        "WHERE ST_Intersects(c.boundary, r.geometry) OR c.nis_code = r.commune_nis ORDER BY 1"),
        {"id": str(report_id)}))


_STORE_COUNTS = text("""
    UPDATE commune_stats SET report_count = :report_count, point_count = :point_count,
      line_count = :line_count, zone_count = :zone_count, households_declared = :households_declared,
      breakdown = CAST(:breakdown AS jsonb), computed_at = now()
    WHERE nis_code = :nis_code
""")

_STORE_UNIONS = text("""
    UPDATE commune_stats SET white_zone = ST_GeomFromWKB(:white_zone, 4326), white_zone_m2 = :white_zone_m2,
      line_union = ST_GeomFromWKB(:line_union, 4326), line_length_m = :line_length_m, computed_at = now()
    WHERE nis_code = :nis_code
""")


def _merge_local(stored: BaseGeometry | None, new: BaseGeometry, polygonal: bool) -> BaseGeometry | None:
    """Return ``stored ∪ new`` (EPSG:31370), re-unioning only the parts of ``stored`` that
    touch ``new``; the other parts are kept as they are."""
    if stored is None or stored.is_empty:
        parts = [new]
        kept: list[BaseGeometry] = []
    else:
        pieces = shapely.get_parts(stored)
        hit = shapely.dwithin(pieces, new, LINE_GRID_M)
        parts = [*pieces[hit], new]
        kept = list(pieces[~hit])
    if polygonal:
        merged = _polygonal(shapely.union_all(parts))
        geoms = kept + (list(merged.geoms) if merged else [])
        return MultiPolygon(geoms) if geoms else None
    merged_lines = _lineal(shapely.union_all(parts, grid_size=LINE_GRID_M))
    geoms = kept + (list(merged_lines.geoms) if merged_lines else [])
    return MultiLineString(geoms) if geoms else None


def _merge_added(session: Session, report_id: uuid.UUID | str, codes: Sequence[str]) -> None:
    """Merge a new report's zone or line into the stored unions of ``codes`` (shapely, in
    EPSG:31370; stored back in EPSG:4326)."""
    rows = session.execute(text("""
        SELECT s.nis_code, ST_AsBinary(s.white_zone) AS z, ST_AsBinary(s.line_union) AS l,
               s.white_zone_m2, s.line_length_m, ST_AsBinary(c.boundary) AS b,
               ST_AsBinary(r.geometry) AS g, ST_Dimension(r.geometry) AS dim
        FROM commune_stats s JOIN communes c USING (nis_code) JOIN reports r ON r.id = :id
        WHERE s.nis_code = ANY(:nis)"""), {"id": str(report_id), "nis": list(codes)}).all()
    for row in rows:
        if row.dim == 0:
            continue
        new = reproject(shapely.from_wkb(bytes(row.g)), WGS84, LAMBERT72)
        boundary = reproject(shapely.from_wkb(bytes(row.b)), WGS84, LAMBERT72)
        shapely.prepare(boundary)
        clip = new if shapely.contains_properly(boundary, new) else shapely.intersection(new, boundary)
        clip = _polygonal(clip) if row.dim == 2 else _lineal(clip)
        if clip is None:
            continue
        zones = reproject(shapely.from_wkb(bytes(row.z)), WGS84, LAMBERT72) if row.z else None
        lines = reproject(shapely.from_wkb(bytes(row.l)), WGS84, LAMBERT72) if row.l else None
        if row.dim == 2:
            zones = _merge_local(zones, clip, True)
        else:
            lines = _merge_local(lines, clip, False)
        session.execute(_STORE_UNIONS, {
            "nis_code": row.nis_code,
            "white_zone": shapely.to_wkb(reproject(zones, LAMBERT72, WGS84)) if zones else None,
            "white_zone_m2": zones.area if zones else 0.0,
            "line_union": shapely.to_wkb(reproject(lines, LAMBERT72, WGS84)) if lines else None,
            "line_length_m": lines.length if lines else 0.0,
        })


def _count_added(session: Session, report_id: uuid.UUID | str) -> None:
    """Add a new (counted) report to its home commune's stored counts."""
    r = session.execute(text(
        "SELECT r.commune_nis, r.network, r.technologies, r.operators, r.issue, r.status, "
        "r.households_affected, ST_Dimension(r.geometry) AS dim, s.breakdown, s.report_count, s.point_count, "
        "s.line_count, s.zone_count, s.households_declared FROM reports r "
        "JOIN commune_stats s ON s.nis_code = r.commune_nis WHERE r.id = :id FOR UPDATE OF s"),
        {"id": str(report_id)}).one()
    breakdown = {dim: dict.fromkeys(values, 0) | (r.breakdown or {}).get(dim, {})
                 for dim, values in BREAKDOWNS.items()}
    for dim, values in (("network", [r.network]), ("technology", r.technologies or []),
                        ("operator", r.operators or []), ("issue", [r.issue] if r.issue else []),
                        ("status", [r.status])):
        for v in values:
            breakdown[dim][v] = breakdown[dim].get(v, 0) + 1
    session.execute(_STORE_COUNTS, {
        "nis_code": r.commune_nis, "report_count": r.report_count + 1,
        "point_count": r.point_count + (r.dim == 0), "line_count": r.line_count + (r.dim == 1),
        "zone_count": r.zone_count + (r.dim == 2),
        "households_declared": r.households_declared + (r.households_affected or 0),
        "breakdown": json.dumps(breakdown),
    })


def refresh_communes(
    session: Session,
    nis_codes: Iterable[str],
    *,
    added: uuid.UUID | str | None = None,
    geometry_changed: bool = True,
) -> list[str]:
    """Bring the stored figures of ``nis_codes`` up to date, in the caller's transaction.

    - ``added``: the id of a report just created (and counted). It is added to its home
      commune's counts, and its zone or line is merged into each commune's stored union
      (re-unioning only the stored parts it touches) instead of recomputing the commune.
    - ``geometry_changed=False``: only the counts can have changed (e.g. a status going from
      ``submitted`` to ``validated``, both counted); unions are kept.
    - otherwise the communes are recomputed from their reports.

    Communes that have no stored row yet (never computed) are computed as well, so that the
    table always covers every commune afterwards. Returns the NIS codes written.
    """
    codes = sorted(set(nis_codes))
    missing = _missing_communes(session)
    filters = StatsFilters()
    if missing:
        rows = compute_live(session, filters, sorted(set(missing)))
        _store(session, rows.values())
    codes = [c for c in codes if c not in set(missing)]
    if not codes:
        return sorted(set(missing))
    if added is None and geometry_changed:
        _store(session, compute_live(session, filters, codes).values())
        return sorted(set(codes) | set(missing))
    if added is not None:
        home = session.execute(text("SELECT commune_nis FROM reports WHERE id = :id"),
                               {"id": str(added)}).scalar_one()
        if home in codes:  # else its row was just computed with it
            _count_added(session, added)
        _merge_added(session, added, codes)
        return sorted(set(codes) | set(missing))
    infos = _commune_infos(session, codes)
    counts = _count_rows(session, filters, codes)
    for nis in codes:
        row = make_row(infos[nis], counts.get(nis, Counts()), 0.0, 0.0)
        session.execute(_STORE_COUNTS, {**row, "breakdown": json.dumps(row["breakdown"])})
    return sorted(set(codes) | set(missing))


def _stored_rows(session: Session) -> dict[str, dict[str, Any]] | None:
    """Return the stored rows, or None when some commune has none (not computed yet)."""
    sql = text("""
        SELECT c.nis_code, c.name_fr, c.area_m2, c.population, c.population_year, s.report_count,
               s.point_count, s.line_count, s.zone_count, s.households_declared, s.white_zone_m2,
               s.line_length_m, s.breakdown
        FROM communes c LEFT JOIN commune_stats s USING (nis_code) ORDER BY c.nis_code
    """)
    out: dict[str, dict[str, Any]] = {}
    for r in session.execute(sql):
        if r.report_count is None:
            return None
        counts = Counts(r.report_count, r.point_count, r.line_count, r.zone_count, r.households_declared)
        for dim, values in (r.breakdown or {}).items():
            counts.breakdown.setdefault(dim, {}).update(values)
        info = CommuneInfo(r.nis_code, r.name_fr, r.area_m2, r.population, r.population_year)
        out[r.nis_code] = make_row(info, counts, r.white_zone_m2, r.line_length_m)
    return out


def commune_table(session: Session, filters: StatsFilters = StatsFilters(), *,
                  with_survey: bool = False) -> dict[str, Any]:
    """Return every commune's figures and the territory's.

    Shape: ``{"communes": [row…] (by NIS code), "territory": row, "filters": {…},
    "source": "stored" | "live", "estimate_note": str}``; rows as :func:`make_row`.
    Without filters the stored aggregates answer (``source: "stored"``) unless some commune
    has never been computed; with filters the figures are computed live.
    ``with_survey`` adds to each row ``survey`` (the commune's latest survey answers, see
    :func:`geosignal.services.survey_db.answers_by_commune`, or None) and to the table
    ``survey_editions`` (:func:`geosignal.services.survey_db.editions`).
    """
    rows = _stored_rows(session) if filters.is_default else None
    source = "stored"
    if rows is None:
        source = "live"
        rows = compute_live(session, filters)
        for row in rows.values():
            row.pop("_zones"), row.pop("_lines")
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
    return table


def commune_stats(session: Session, statuses: tuple[str, ...] = COUNTED_STATUSES) -> list[dict[str, Any]]:
    """Return one row per commune, by NIS code (see :func:`commune_table` for the shape).

    Kept for older callers: ``commune_table(session, StatsFilters(statuses=...))["communes"]``.
    """
    return commune_table(session, StatsFilters(statuses=tuple(statuses)))["communes"]


def commune_detail(session: Session, nis_code: str, filters: StatsFilters = StatsFilters(),
                   *, geometry: bool = False, with_survey: bool = False) -> dict[str, Any]:
    """Return one commune's figures (row as :func:`make_row`).

    With ``geometry=True`` the row also holds ``white_zone`` and ``lines``: the clipped unions
    as GeoJSON geometries (EPSG:4326, ``[lon, lat]``, 7 decimals) or None. With
    ``with_survey=True``: ``survey`` (the commune's latest answers, or None) and
    ``survey_editions`` (see :mod:`geosignal.services.survey_db`).
    Raises ``not_found`` (404) for a NIS code that is not loaded.
    """
    infos = _commune_infos(session, [nis_code])
    if nis_code not in infos:
        raise GeosignalError("not_found", f"no commune {nis_code}")
    stored = _stored_rows(session) if filters.is_default else None
    if stored is not None:
        row = stored[nis_code]
        zones = lines = None
        if geometry:
            zones, lines = session.execute(text(
                "SELECT ST_AsGeoJSON(ST_ForcePolygonCCW(white_zone), 7), ST_AsGeoJSON(line_union, 7) "
                "FROM commune_stats WHERE nis_code = :nis"), {"nis": nis_code}).one()
            zones = json.loads(zones) if zones else None
            lines = json.loads(lines) if lines else None
        row["source"] = "stored"
    else:
        row = compute_live(session, filters, [nis_code])[nis_code]
        z, ln = row.pop("_zones"), row.pop("_lines")
        zones = _geojson_4326(shapely.orient_polygons(z)) if (geometry and z is not None) else None
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
    geom = shapely.set_precision(reproject(geom_31370, LAMBERT72, WGS84), 1e-7)
    return json.loads(shapely.to_geojson(geom))


# --------------------------------------------------------------------------------------------
# Report locations for maps: clustered server-side by a grid when many
# --------------------------------------------------------------------------------------------

#: Above this many reports in the box, the map gets grid cells instead of points.
MAX_POINTS = 2000


def report_locations(session: Session, bbox: tuple[float, float, float, float], zoom: int,
                     filters: StatsFilters = StatsFilters()) -> dict[str, Any]:
    """Return where the reports are in a box, for the heatmap and the clustered markers.

    ``bbox`` is (min lon, min lat, max lon, max lat) in EPSG:4326; ``zoom`` the Leaflet zoom
    (0–22). A report is located by a point on its surface (``ST_PointOnSurface``). When at
    most :data:`MAX_POINTS` reports match, returns ``{"mode": "points", "items": [[lon, lat,
    kind], …]}`` (kind 0 point, 1 line, 2 zone); otherwise ``{"mode": "cells", "cell_deg": d,
    "items": [[lon, lat, count], …]}``: reports counted on a grid of cells about 40 screen
    pixels wide, each placed at the mean position of its reports. Also ``total``.
    """
    if not 0 <= zoom <= 22:
        raise GeosignalError("invalid_request", "zoom must be 0 to 22", where="zoom")
    cond, params = _where(filters)
    params.update(dict(zip(("x0", "y0", "x1", "y1"), bbox, strict=True)))
    box = "ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)"
    total = session.execute(text(f"SELECT count(*) FROM reports r WHERE r.geometry && {box} AND {cond}"),
                            params).scalar_one()
    if total <= MAX_POINTS:
        rows = session.execute(text(f"""
            SELECT ST_X(p), ST_Y(p), dim FROM (
              SELECT ST_PointOnSurface(r.geometry) AS p, ST_Dimension(r.geometry) AS dim, r.seq
              FROM reports r WHERE r.geometry && {box} AND {cond}) q
            WHERE ST_Intersects(p, {box}) ORDER BY seq"""), params)
        items = [[round(x, 6), round(y, 6), dim] for x, y, dim in rows]
        return {"mode": "points", "total": len(items), "items": items}
    cell = 360.0 / (2 ** zoom) / 256 * 40
    params["cell"] = cell
    rows = session.execute(text(f"""
        SELECT avg(ST_X(p)), avg(ST_Y(p)), count(*) FROM (
          SELECT ST_PointOnSurface(r.geometry) AS p FROM reports r WHERE r.geometry && {box} AND {cond}) q
        WHERE ST_Intersects(p, {box})
        GROUP BY floor(ST_X(p) / :cell), floor(ST_Y(p) / :cell)"""), params)
    items = [[round(x, 6), round(y, 6), n] for x, y, n in rows]
    return {"mode": "cells", "cell_deg": cell, "total": sum(i[2] for i in items), "items": items}


# --------------------------------------------------------------------------------------------
# Downloads: CSV (Excel-friendly) and GeoJSON
# --------------------------------------------------------------------------------------------

CSV_COLUMNS: tuple[tuple[str, str], ...] = (
    ("nis_code", "Code INS"),
    ("name_fr", "Commune"),
    ("population", "Population"),
    ("population_year", "Année population"),
    ("commune_area_km2", "Surface communale (km²)"),
    ("report_count", "Signalements"),
    ("point_count", "Points"),
    ("line_count", "Tronçons"),
    ("zone_count", "Zones"),
    ("white_zone_area_km2", "Zone blanche (km²)"),
    ("white_zone_share", "Part zone blanche (%)"),
    ("line_length_km", "Tronçons (km)"),
    ("reports_per_1000_inhabitants", "Signalements / 1 000 hab."),
    ("households_declared", "Ménages touchés (déclarés)"),
    ("inhabitants_affected_estimate", "Habitants touchés (estimation)"),
)


def _csv_value(key: str, value: Any, decimal_comma: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if key == "white_zone_share":
            text_value = f"{100 * value:.4f}"
        elif key == "commune_area_km2":
            text_value = f"{value:.3f}"
        elif key in ("white_zone_area_km2", "line_length_km"):
            text_value = f"{value:.6f}"
        else:
            text_value = f"{value:.3f}"
        return text_value.replace(".", ",") if decimal_comma else text_value
    return str(value)


def table_csv(table: dict[str, Any], *, decimal_comma: bool = False, survey: bool = True) -> str:
    """Return the commune table as CSV text for Excel: ``;`` separated, a UTF-8 BOM first,
    CRLF line ends, one row per commune then a ``Territoire`` row; numbers with a decimal
    point, or a decimal comma when ``decimal_comma``. Breakdown counts follow as
    ``<dimension>:<value>`` columns; survey columns (``Score smart`` …) when rows carry
    ``survey``."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    breakdown_cols = [(dim, v) for dim, values in BREAKDOWNS.items() for v in values]
    survey_cols = [("smart_score", "Score smart"), ("connectivity_cited", "Connectivité citée"),
                   ("citizens_informed_score", "Citoyens informés"), ("edition", "Édition enquête")]
    has_survey = survey and any("survey" in r for r in table["communes"])
    header = [label for _k, label in CSV_COLUMNS] + [f"{d}:{v}" for d, v in breakdown_cols]
    if has_survey:
        header += [label for _k, label in survey_cols]
    writer.writerow(header)
    rows = [*table["communes"], {**table["territory"], "nis_code": ""}]
    for row in rows:
        line = [_csv_value(k, row.get(k), decimal_comma) for k, _l in CSV_COLUMNS]
        line += [str(row["breakdown"][d][v]) for d, v in breakdown_cols]
        if has_survey:
            answers = row.get("survey") or {}
            for key, _label in survey_cols:
                value = answers.get(key)
                line.append("" if value is None else ("oui" if value is True else "non" if value is False
                                                      else str(value)))
        writer.writerow(line)
    return "\ufeff" + out.getvalue()


def table_geojson(table: dict[str, Any], features: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the commune table as an RFC 7946 FeatureCollection: each commune's boundary
    (``features`` from :func:`geosignal.services.communes.list_communes`) with its row as
    properties (``breakdown`` and ``survey`` nested)."""
    by_nis = {r["nis_code"]: r for r in table["communes"]}
    out = []
    for f in features:
        row = by_nis.get(f["id"])
        if row is not None:
            out.append({"type": "Feature", "id": f["id"], "geometry": f["geometry"], "properties": row})
    return {"type": "FeatureCollection", "features": out, "territory": table["territory"],
            "filters": table["filters"], "estimate_note": table["estimate_note"]}


# --------------------------------------------------------------------------------------------
# File mode: the same figures from a reports file and a communes file, no server
# --------------------------------------------------------------------------------------------


def _read_vector(path: str | PathLike[str]):  # noqa: ANN202
    import geopandas as gpd

    try:
        frame = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # pyogrio raises several error types
        raise GeosignalError("unreadable_file", f"cannot read {path}: {exc}") from exc
    if frame.crs is None:
        frame = frame.set_crs(WGS84)
    return frame


def home_communes(boundaries: dict[str, BaseGeometry], geoms: np.ndarray) -> list[str | None]:
    """Return each geometry's home commune, by the rule of
    :func:`geosignal.services.communes.commune_of` and measured the same way: the part inside
    each commune is cut in EPSG:4326 (the inputs' CRS), then measured in EPSG:31370 (area,
    length, or number of points); the largest part wins, ties go to the smallest NIS code;
    None outside every commune."""
    codes = sorted(boundaries)
    bounds = np.asarray([boundaries[c] for c in codes], dtype=object)
    tree = shapely.STRtree(bounds)
    g_idx, c_idx = tree.query(geoms, predicate="intersects")
    best: dict[int, tuple[float, str]] = {}
    if g_idx.size:
        parts = shapely.intersection(geoms[g_idx], bounds[c_idx])
        dims = shapely.get_dimensions(geoms[g_idx])
        for gi, ci, part, dim in zip(g_idx, c_idx, parts, dims, strict=True):
            if dim == 0:
                measure = float(shapely.get_num_geometries(shapely.extract_unique_points(part)))
            else:
                measured = reproject(part, WGS84, LAMBERT72)
                measure = measured.area if dim == 2 else measured.length
            key = (-measure, codes[ci])
            if gi not in best or key < best[gi]:
                best[gi] = key
    return [best[i][1] if i in best else None for i in range(len(geoms))]


def _list_value(value: Any) -> list[str]:
    if value is None or (isinstance(value, float) and value != value):
        return []
    if isinstance(value, (list, tuple, np.ndarray)):
        return [str(v) for v in value]
    text_value = str(value).strip()
    if text_value.startswith("["):
        try:
            return [str(v) for v in json.loads(text_value)]
        except ValueError:
            pass
    return [v.strip() for v in text_value.replace(";", ",").split(",") if v.strip()]


def aggregate_files(
    reports_path: str | PathLike[str],
    communes_path: str | PathLike[str],
    filters: StatsFilters = StatsFilters(),
    *,
    progress: Callable[[int], None] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Compute the commune table from files, with no database: same rules, same numbers.

    ``communes_path``: any vector file GDAL reads (its CRS from the file; GeoJSON is
    EPSG:4326) with a NIS code (``nis_code``, ``NIS``, ``AdMuKey``, ``CODE_INS`` or ``id``),
    ``name_fr``, ``population``, ``population_year``. ``reports_path``: a vector file of
    reports (e.g. a DWconnect export) with the report properties; a missing ``status`` counts
    as ``submitted``; ``commune_nis`` is recomputed from the geometry. Filters on status,
    network, technology, operator and issue apply; date filters use ``observed_at`` then
    ``created_at`` when present.

    Returns (the table as :func:`commune_table`, the communes as GeoJSON Features for
    :func:`table_geojson`). ``progress(n)`` is called as work advances (total:
    :func:`aggregate_files_steps`). Raises ``unreadable_file``, ``invalid_request``.
    """
    import pandas as pd

    communes = _read_vector(communes_path)
    field_name = next((f for f in ("nis_code", "NIS", "nis", "AdMuKey", "CODE_INS", "id") if f in communes.columns),
                      None)
    if field_name is None:
        raise GeosignalError("invalid_request", f"{communes_path}: no NIS code field")
    communes["nis_code"] = communes[field_name].astype(str).str.zfill(5)
    communes_31370 = communes.to_crs(LAMBERT72)
    boundaries = {n: g for n, g in zip(communes["nis_code"], communes_31370.geometry, strict=True)}
    infos = {}
    for rec, geom in zip(communes.itertuples(index=False), communes_31370.geometry, strict=True):
        values = rec._asdict()

        def opt_int(v: Any) -> int | None:
            return None if v is None or (isinstance(v, float) and v != v) else int(v)

        infos[values["nis_code"]] = CommuneInfo(
            values["nis_code"], str(values.get("name_fr") or values.get("name") or values["nis_code"]),
            float(geom.area), opt_int(values.get("population")), opt_int(values.get("population_year")))
    if progress:
        progress(1)

    reports = _read_vector(reports_path)
    reports = reports[reports.geometry.notna() & ~reports.geometry.is_empty]
    geoms_4326 = shapely.force_2d(np.asarray(reports.to_crs(WGS84).geometry.values, dtype=object))
    geoms = shapely.force_2d(np.asarray(reports.to_crs(LAMBERT72).geometry.values, dtype=object))
    frame = pd.DataFrame({
        "status": reports["status"].fillna("submitted").astype(str) if "status" in reports else "submitted",
        "network": reports["network"] if "network" in reports else None,
        "issue": reports["issue"] if "issue" in reports else None,
        "households": pd.to_numeric(reports["households_affected"], errors="coerce").fillna(0)
        if "households_affected" in reports else 0,
    }, index=reports.index)
    frame["technologies"] = [_list_value(v) for v in reports["technologies"]] if "technologies" in reports \
        else [[] for _ in range(len(reports))]
    frame["operators"] = [_list_value(v) for v in reports["operators"]] if "operators" in reports \
        else [[] for _ in range(len(reports))]
    when = pd.Series(pd.NaT, index=reports.index, dtype="datetime64[ns, UTC]")
    for column in ("created_at", "observed_at"):  # observed_at wins where given
        if column in reports:
            parsed = pd.to_datetime(reports[column], errors="coerce", utc=True)
            when = parsed.where(parsed.notna(), when)
    keep = np.ones(len(frame), dtype=bool)
    if filters.network:
        keep &= (frame["network"] == filters.network).to_numpy()
    if filters.issue:
        keep &= (frame["issue"] == filters.issue).to_numpy()
    if filters.technology:
        keep &= np.asarray([filters.technology in t for t in frame["technologies"]])
    if filters.operator:
        keep &= np.asarray([filters.operator in o for o in frame["operators"]])
    if filters.date_from:
        keep &= (when >= pd.Timestamp(_day_start(filters.date_from))).to_numpy()
    if filters.date_to:
        keep &= (when < pd.Timestamp(_day_start(filters.date_to + timedelta(days=1)))).to_numpy()
    frame, geoms, geoms_4326 = frame[keep], geoms[keep], geoms_4326[keep]
    boundaries_4326 = {n: g for n, g in zip(communes["nis_code"], communes.to_crs(WGS84).geometry, strict=True)}
    frame["home"] = home_communes(boundaries_4326, geoms_4326) if len(geoms) else []
    frame["dim"] = shapely.get_dimensions(geoms) if len(geoms) else []
    if progress:
        progress(1)

    counts: dict[str, Counts] = {}
    counted = frame["status"].isin(filters.statuses).to_numpy()
    for i, rec in enumerate(frame.itertuples(index=False)):
        if rec.home is None:
            continue
        c = counts.setdefault(rec.home, Counts())
        c.breakdown["status"][rec.status] = c.breakdown["status"].get(rec.status, 0) + 1
        if not counted[i]:
            continue
        c.report_count += 1
        c.households_declared += int(rec.households)
        if rec.dim == 0:
            c.point_count += 1
        elif rec.dim == 1:
            c.line_count += 1
        else:
            c.zone_count += 1
        for dim, values in (("network", [rec.network]), ("technology", rec.technologies),
                            ("operator", rec.operators), ("issue", [rec.issue])):
            for v in values:
                if isinstance(v, str) and v in c.breakdown[dim]:
                    c.breakdown[dim][v] += 1
    dims = np.asarray(frame["dim"], dtype=int) if len(frame) else np.asarray([], dtype=int)
    zones = geoms[counted & (dims == 2)] if len(frame) else geoms
    lines = geoms[counted & (dims == 1)] if len(frame) else geoms
    unions = clipped_unions(boundaries, zones, lines, progress=progress)

    rows = []
    for nis in sorted(infos):
        z, ln = unions.get(nis, (None, None))
        rows.append(make_row(infos[nis], counts.get(nis, Counts()), z.area if z else 0.0,
                             ln.length if ln else 0.0))
    territory = territory_row(rows)
    table = {"communes": rows, "territory": territory, "filters": filters.as_dict(), "source": "files",
             "estimate_note": ESTIMATE_NOTE.format(year=territory["population_year"] or "?")}
    features = json.loads(communes.to_crs(WGS84)[["nis_code", "geometry"]].to_json(drop_id=True))["features"]
    for f in features:
        f["id"] = f["properties"]["nis_code"]
    return table, features


def aggregate_files_steps(communes_path: str | PathLike[str]) -> int:
    """Return the number of progress steps :func:`aggregate_files` reports (2 + communes)."""
    import pyogrio

    return 2 + int(pyogrio.read_info(communes_path)["features"])


__all__ = [
    "BREAKDOWNS", "COUNTED_STATUSES", "StatsFilters", "aggregate_files", "clipped_unions", "commune_detail",
    "commune_stats", "commune_table", "compute_live", "home_communes", "parse_filters", "recompute_all",
    "refresh_communes", "report_locations", "table_csv", "table_geojson", "touched_communes",
]
