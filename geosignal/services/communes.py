"""Communes: loading official boundaries, and finding which commune a report belongs to.

Data source: FPS Finance (AGDP) administrative units, situation 1 January 2021, with NIS
codes and populations from Statbel (see ``../shared/data/SOURCES.md``).
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from os import PathLike
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from geosignal.errors import GeosignalError
from geosignal.geo import (
    BORDER_TOLERANCE_DEG,
    LAMBERT72,
    LINE_GRID_M,
    LINE_REACH_DEG,
    WGS84,
    to_lambert72,
)
from geosignal.models import Commune

_NIS_RE = re.compile(r"^[0-9]{5}$")
_NIS_FIELDS = ("nis_code", "NIS", "nis", "NISCode", "AdMuKey", "CODE_INS", "ins", "id")


@dataclass(frozen=True)
class LoadSummary:
    """What :func:`load_communes` did: counts of communes inserted, updated and in the file;
    the NIS codes of the communes loaded before that the file does not hold (``absent``,
    sorted), and whether they were removed (``removed``)."""

    inserted: int
    updated: int
    total: int
    absent: tuple[str, ...] = ()
    removed: bool = False


#: What may refer to a commune, each with the name of what it counts: a commune one
#: of them names is never removed by a load (reports, zones, accounts, survey answers).
_COMMUNE_USES = (("reports", "commune_nis", "reports"), ("zones", "commune_nis", "zones"),
                 ("users", "commune_nis", "accounts"), ("survey_responses", "nis_code", "survey answers"))


#: The advisory lock between a load of communes and the writers of reports. A writer takes it
#: shared (:func:`hold_communes`) before it reads the communes (a report's home commune, the
#: commune a report names, the commune of a representative's account, the communes a survey
#: import's rows may name) and before any report row lock; a load takes it exclusively
#: before anything else. A load then waits for the writers under way, and the writers that
#: come during it wait for it and read the communes as it left them: a report filed during a
#: load that moved its border kept its old home, one filed in a commune the load removed
#: failed on its foreign key (500), and a withdrawal holding a report the load re-homes
#: deadlocked with it (its row lock, then the zone lock the load held).
COMMUNES_LOCK_KEY = 0x6773636D


#: The columns of a commune a file may leave out: a load keeps the stored value then.
_KEPT_UNLESS_GIVEN = ("name_nl", "province", "population", "population_year")


def hold_communes(session: Session) -> None:
    """Take :data:`COMMUNES_LOCK_KEY` shared until the transaction ends (waiting for a load of
    communes under way to commit). Call it before reading the communes for a write and before
    locking a report's row."""
    session.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": COMMUNES_LOCK_KEY})


def _remove_communes(session: Session, codes: list[str]) -> None:
    """Remove the communes ``codes`` and their stored figures, set-wise (the caller commits).

    Their figure rows are locked first, in NIS order (the order every writer takes), then
    their commune rows (a report being filed there waits, or is waited for); a commune that
    anything still names (:data:`_COMMUNE_USES`) refuses the whole removal:
    ``invalid_request`` (409) naming up to ten of them with what names them (``in_use``:
    ``{nis_code: {what: count}}``), nothing removed. Uploads named after a removed commune
    keep their rows (their commune becomes NULL); the audit journal keeps its NIS codes.
    """
    if not codes:
        return
    session.execute(text("SELECT 1 FROM commune_stats WHERE nis_code = ANY(:c) ORDER BY nis_code FOR UPDATE"),
                    {"c": codes})
    session.execute(text("SELECT 1 FROM communes WHERE nis_code = ANY(:c) ORDER BY nis_code FOR UPDATE"),
                    {"c": codes})
    counted = " UNION ALL ".join(
        f"SELECT {column} AS nis, '{what}' AS what, count(*) AS n FROM {table} WHERE {column} = ANY(:c) "
        f"GROUP BY {column}" for table, column, what in _COMMUNE_USES)
    in_use: dict[str, dict[str, int]] = {}
    for nis, what, n in session.execute(text(f"{counted} ORDER BY 1, 2"), {"c": codes}):
        in_use.setdefault(nis, {})[what] = n
    if in_use:
        names = {nis: name for nis, name in session.execute(
            select(Commune.nis_code, Commune.name_fr).where(Commune.nis_code.in_(list(in_use))))}
        listed = "; ".join(f"{names.get(nis, nis)} ({nis}): " + ", ".join(f"{n} {what}" for what, n in uses.items())
                           for nis, uses in list(in_use.items())[:10])
        more = f" and {len(in_use) - 10} more" if len(in_use) > 10 else ""
        raise GeosignalError("invalid_request", f"{len(in_use)} of the communes absent from the file are still in "
                             f"use and were not removed (nothing was): {listed}{more}.", status=409,
                             in_use=in_use)
    session.execute(text("DELETE FROM zone_counts WHERE nis_code = ANY(:c)"), {"c": codes})
    # their figures, cells and counts go with them (ON DELETE CASCADE)
    session.execute(text("DELETE FROM communes WHERE nis_code = ANY(:c)"), {"c": codes})


def load_communes(session: Session, path: str | PathLike[str], nis_field: str | None = None, *,
                  remove_absent: bool = False) -> LoadSummary:
    """Upsert the communes of a boundary file into ``communes`` (idempotent).

    ``path`` is any vector format GDAL reads (GeoJSON, GeoPackage, Shapefile…), read by an
    administrator through pyogrio; its CRS is taken from the file (GeoJSON: EPSG:4326) and
    reprojected to EPSG:4326. The NIS code comes from ``nis_field`` or the first of
    ``nis_code, NIS, AdMuKey, CODE_INS, id`` present; names from ``name_fr``/``name_nl``
    (or ``name``). ``area_m2`` is computed in EPSG:31370.

    The reports homed in or touching a commune whose boundary changed measure their home
    commune again (:func:`_rehome_reports`, journalled). Each commune loaded gets its stored
    figures at once (cells cut by the grid, recomputed from its reports:
    :func:`geosignal.services.aggregation.rebuild_communes`), and so do the neighbours of a
    commune whose boundary changed (a stretch of line on a shared border counts on one side
    only). The zones homed
    in or touching a commune whose boundary changed (or that is new) measure their home commune
    again and the places are recounted (``zones_rehome``, migration 0037), as a full
    regrouping would. The communes lock (:data:`COMMUNES_LOCK_KEY`) is taken exclusively first,
    then every network's zone lock (the writers' order): the load waits for the writers under
    way, and writers wait for the load.

    Communes loaded before that the file does not hold are kept and listed (``absent``); with
    ``remove_absent`` they are removed, unless one is still in use (:func:`_remove_communes`:
    409 ``invalid_request``, nothing stored).

    Raises :class:`GeosignalError` (``invalid_request`` / ``invalid_geometry`` /
    ``unreadable_file``) naming the feature, and stores nothing, when a NIS code is missing
    or malformed, a code repeats, or a boundary is not a valid (multi)polygon.
    """
    import geopandas as gpd  # only here: the service and its other commands do without it

    try:
        frame = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # pyogrio raises several error types for unreadable files
        raise GeosignalError("unreadable_file", f"cannot read {path}: {exc}") from exc
    if frame.empty:
        raise GeosignalError("no_features", f"{path} holds no commune")
    geometry_name = getattr(frame, "_geometry_column_name", None)
    if geometry_name not in frame.columns or frame[geometry_name].isna().all():
        raise GeosignalError("unreadable_file", f"{path} holds no boundaries (a table without geometry, e.g. a CSV "
                             "of names and codes): give a boundary file (GeoJSON, GeoPackage, Shapefile…)")
    if frame.crs is None:
        frame = frame.set_crs(WGS84)
    frame = frame.to_crs(WGS84)
    # coordinates that are no longitudes and latitudes (metres of a projected CRS the file does
    # not declare, e.g. Lambert 72 in a GeoJSON without ``crs``): refused before anything is
    # measured (they made an infinite area, then a PostGIS error cutting the grid)
    west, south, east, north = frame.total_bounds
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise GeosignalError("invalid_geometry", f"{path}: coordinates up to ({west:.0f}, {south:.0f}, {east:.0f}, "
                             f"{north:.0f}) are not longitudes and latitudes: boundaries are read as WGS 84 "
                             "(EPSG:4326) unless the file declares another CRS; give a file that declares its "
                             "CRS (a Shapefile's .prj, a GeoPackage), or its boundaries in EPSG:4326")
    field = nis_field or next((f for f in _NIS_FIELDS if f in frame.columns), None)
    if field is None or field not in frame.columns:
        raise GeosignalError(
            "invalid_request", f"no NIS code field (tried {nis_field or ', '.join(_NIS_FIELDS)})",
            columns=list(map(str, frame.columns)),
        )
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    # what the file does not say of a commune loaded before (a file of codes and boundaries
    # only: a boundary correction) is kept as stored, not emptied
    carried = {c for c in _KEPT_UNLESS_GIVEN if c in frame.columns}
    stored_names = dict(session.execute(select(Commune.nis_code, Commune.name_fr)).all())
    for index, record in enumerate(frame.itertuples(index=False)):
        values = record._asdict()
        where = f"feature {index}"
        nis = str(values[field]).strip()
        if nis.isdigit() and len(nis) < 5:
            nis = nis.zfill(5)
        if not _NIS_RE.match(nis):
            raise GeosignalError("invalid_request", f"NIS code {nis!r} is not 5 digits", where=where)
        if nis in seen:
            raise GeosignalError("invalid_request", f"NIS code {nis} appears twice", where=where)
        seen.add(nis)
        geom = values["geometry"]
        if geom is None or geom.is_empty or not isinstance(geom, Polygon | MultiPolygon):
            raise GeosignalError("invalid_geometry", f"commune {nis} has no polygon boundary", where=where)
        geom = shapely.force_2d(geom)
        if not geom.is_valid:
            raise GeosignalError(
                "invalid_geometry", f"commune {nis}: {shapely.is_valid_reason(geom)}", where=where
            )
        if isinstance(geom, Polygon):
            geom = MultiPolygon([geom])
        name_fr = values.get("name_fr") or values.get("name") or values.get("NAME") or stored_names.get(nis) or nis
        rows.append(
            {
                "nis_code": nis,
                "name_fr": str(name_fr),
                "name_nl": _opt_str(values.get("name_nl")),
                "province": _opt_str(values.get("province")),
                "population": whole_count(values.get("population"), what="population", where=where),
                "population_year": whole_count(values.get("population_year"), what="population_year", where=where),
                "area_m2": float(to_lambert72(geom).area),
                "boundary": f"SRID=4326;{geom.wkt}",
            }
        )
    # the communes lock first, exclusively (writers hold it shared: :data:`COMMUNES_LOCK_KEY`),
    # then every network's zone lock: the order of every writer (zones, then communes, then cells)
    from geosignal.services.zones_sql import LOCK_ORDER

    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": COMMUNES_LOCK_KEY})
    session.execute(text("SELECT zones_lock(CAST(:n AS varchar[]))"), {"n": list(LOCK_ORDER)})
    boundary_sql = text("SELECT nis_code, md5(ST_AsEWKB(boundary)) FROM communes WHERE nis_code = ANY(:c)")
    before = dict(session.execute(boundary_sql, {"c": sorted(seen)}).all())
    # (the boundaries as they were: what a border moved gave from one commune to another)
    was = dict(session.execute(text("SELECT nis_code, ST_AsEWKB(boundary) FROM communes WHERE nis_code = ANY(:c)"),
                               {"c": sorted(seen)}).all())
    loaded = set(session.scalars(select(Commune.nis_code)))
    existing = loaded & seen
    absent = sorted(loaded - seen)
    if remove_absent:
        _remove_communes(session, absent)
    stmt = insert(Commune).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Commune.nis_code],
        set_={c: stmt.excluded[c] for c in rows[0]
              if c != "nis_code" and (c in carried or c not in _KEPT_UNLESS_GIVEN)},
    )
    session.execute(stmt)
    moved = sorted(nis for nis, digest in session.execute(boundary_sql, {"c": sorted(seen)}).all()
                   if before.get(nis) != digest)
    # the reports in or touching a commune whose boundary moved measure their home again (the
    # largest part: counts, households and edit rights follow it), each move journalled
    if moved:
        _rehome_reports(session, moved, {nis: was[nis] for nis in moved if nis in was})
    # the communes' stored figures: cut by the grid again and recomputed from their reports;
    # with them the neighbours, not in the file, of a commune whose boundary moved (a stretch of
    # line on their shared border is one side's: its pieces change with the other's boundary)
    from geosignal.services.aggregation import rebuild_communes

    rebuild_communes(session, sorted(seen | _neighbours(session, moved, was)))
    # the zones homed in or touching a commune whose boundary moved (or is new) measure their home again
    if moved:
        session.execute(text("SELECT zones_rehome(CAST(:c AS varchar[]))"), {"c": moved})
    return LoadSummary(inserted=len(seen - existing), updated=len(existing), total=len(rows), absent=tuple(absent),
                       removed=remove_absent and bool(absent))


def _neighbours(session: Session, moved: list[str], was: dict[str, bytes]) -> set[str]:
    """The NIS codes of the communes within 1e-6° (~10 cm) of the boundary, now or before
    (``was``: EWKB), of a commune of ``moved``; an empty set when none moved."""
    if not moved:
        return set()
    return set(session.scalars(text("""
        WITH b AS (SELECT boundary AS g FROM communes WHERE nis_code = ANY(CAST(:moved AS varchar[]))
                   UNION ALL SELECT ST_GeomFromEWKB(w) FROM unnest(CAST(:was AS bytea[])) w)
        SELECT DISTINCT c.nis_code FROM communes c, b WHERE ST_DWithin(c.boundary, b.g, 1e-6)"""),
        {"moved": moved, "was": [was[n] for n in moved if n in was]}))


def _rehome_reports(session: Session, moved: list[str], was: dict[str, bytes]) -> int:
    """Give the reports near what the communes of ``moved`` (NIS codes whose boundary changed;
    ``was``: their boundaries before, EWKB, none for a new commune) gained or lost the home
    commune the rule gives them now (:data:`HOME_COMMUNE_SQL`), in one statement; a report no
    commune holds any more keeps its home. Only the reports within
    :data:`~geosignal.geo.LINE_REACH_DEG` of that land (a line's home depends on what lies
    within 2 cm of it) are measured (found through the GiST index): elsewhere their parts in each commune are what they were. Each move is
    journalled (``edit``, by the system: ``commune_nis`` before and after, ``details``
    ``boundary_reload``). Returns the number of reports moved. A border corrected under a
    report left it counted in its former commune, where a recomputation from the boundaries
    counts it in the new one."""
    from geosignal.services import audit

    rows = session.execute(text(f"""
        WITH old AS (
          SELECT o.nis_code, ST_GeomFromEWKB(o.b) AS b
          FROM unnest(CAST(:was_nis AS varchar[]), CAST(:was_b AS bytea[])) AS o(nis_code, b)
        ), changed AS (  -- the land that changed hands
          SELECT ST_Union(CASE WHEN o.b IS NULL THEN n.boundary ELSE ST_SymDifference(o.b, n.boundary) END) AS g
          FROM communes n LEFT JOIN old o USING (nis_code)
          WHERE n.nis_code = ANY(CAST(:moved AS varchar[]))
        ), h AS (
          SELECT r.id, r.commune_nis AS was, home.nis_code AS now
          FROM reports r, changed
          CROSS JOIN LATERAL (WITH g AS (SELECT r.geometry AS g) SELECT c.nis_code {HOME_COMMUNE_SQL}) home
          WHERE ST_DWithin(r.geometry, changed.g, {LINE_REACH_DEG!r})
        )
        UPDATE reports r SET commune_nis = h.now, updated_at = now()
        FROM h WHERE r.id = h.id AND h.now IS DISTINCT FROM h.was
        RETURNING r.id, h.was, h.now"""),
        {"moved": moved, "was_nis": list(was), "was_b": list(was.values()), "srid": LAMBERT72}).all()
    pairs: dict[tuple[str, str], list[Any]] = {}
    for rid, before, now in rows:
        pairs.setdefault((before, now), []).append(rid)
    for (before, now), ids in sorted(pairs.items()):
        audit.record(session, "edit", None, report_ids=ids, before={"commune_nis": before},
                     after={"commune_nis": now}, details={"boundary_reload": True})
    return len(rows)


def _opt_str(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    return str(value)


def whole_count(value: Any, *, what: str, where: str) -> int | None:
    """A communes file's count (``population``, ``population_year``) as an int: None when the
    file gives none (empty, or NaN as GDAL reads an empty number); a whole number ≥ 0, written
    as a number or as digits. Raises 422 ``invalid_attribute`` (``where``, naming ``what`` and the
    value) for anything else — ``Infinity``, ``12 345``, ``1.5``, a negative count — which was a
    traceback (``int(inf)``), or a silent cut (``int(1.5)``)."""
    if value is None or (isinstance(value, float) and value != value) or (isinstance(value, str) and not value.strip()):
        return None
    number: int | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value == int(value):
        number = int(value)
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        number = int(value.strip())
    if number is None or number < 0:
        shown = value if not isinstance(value, str) or len(value) <= 40 else value[:39] + "…"
        raise GeosignalError("invalid_attribute", f"{where}: {what} is {shown!r}, not a whole number ≥ 0 (digits "
                             "0-9, no spaces or separators).", where=where, field=what)
    return number


def touches_commune_sql(boundary: str, geom: str) -> str:
    """Return the SQL condition "geometry ``geom`` touches the commune of ``boundary``" (both
    EPSG:4326 SQL expressions): a point (or a part of a MultiPoint) within
    :data:`~geosignal.geo.BORDER_TOLERANCE_DEG` of it, a line or zone intersecting it."""
    tol = repr(BORDER_TOLERANCE_DEG)
    return (f"{boundary} && ST_Expand({geom}, {tol}) AND CASE WHEN ST_Dimension({geom}) = 0 "
            f"THEN ST_DWithin({boundary}, {geom}, {tol}) ELSE ST_Intersects({boundary}, {geom}) END")


def home_candidates_sql(boundary: str, geom: str) -> str:
    """Return the SQL condition "commune ``boundary`` may be the home of geometry ``geom``" (both
    EPSG:4326 SQL expressions): as :func:`touches_commune_sql`, but a line within
    :data:`~geosignal.geo.LINE_REACH_DEG` of the commune too — the figures count a stretch
    within 1 cm of a border in the commune with the smaller NIS code (a line lying a few
    millimetres inside Châtelet, along its border with Charleroi, is Charleroi's length)."""
    tol, reach = repr(BORDER_TOLERANCE_DEG), repr(LINE_REACH_DEG)
    return (f"{boundary} && ST_Expand({geom}, {reach}) AND CASE ST_Dimension({geom}) "
            f"WHEN 0 THEN ST_DWithin({boundary}, {geom}, {tol}) WHEN 1 THEN ST_DWithin({boundary}, {geom}, {reach}) "
            f"ELSE ST_Intersects({boundary}, {geom}) END")


#: The length (m, EPSG:31370) of line ``g.g`` (EPSG:4326) the figures count in commune ``c``:
#: the line on the 1 cm grid (:data:`~geosignal.geo.LINE_GRID_M`), within 1 cm of the commune,
#: less what lies within 1 cm of a commune with a smaller NIS code (a stretch on a shared
#: border, whose two boundaries differ by millimetres, is the smaller NIS code's). The
#: boundaries are cut to the line's box (widened by 2e-5°, at least 1.4 m) before they are
#: projected and widened, as the stored cells cut theirs.
_LINE_COUNTED_SQL = f"""(SELECT ST_Length(CASE WHEN lt.u IS NULL THEN lo.l ELSE ST_Difference(lo.l, lt.u) END)
         FROM (SELECT ST_ReducePrecision(ST_Transform(g.g, :srid), {LINE_GRID_M!r}) AS l,
                      ST_Expand(g.g, 2e-5) AS box) ls
         CROSS JOIN LATERAL (SELECT ST_Intersection(ls.l, ST_Buffer(ST_Transform(ST_Intersection(c.boundary, ls.box),
                                    :srid), {LINE_GRID_M!r}, 'quad_segs=4')) AS l) lo
         CROSS JOIN LATERAL (SELECT ST_Union(ST_Buffer(ST_Transform(ST_Intersection(cn.boundary, ls.box), :srid),
                                    {LINE_GRID_M!r}, 'quad_segs=4')) AS u
                             FROM communes cn WHERE cn.nis_code < c.nis_code
                               AND {home_candidates_sql("cn.boundary", "g.g")}) lt)"""

#: The measure of the home-commune rule: the part of geometry ``g.g`` (EPSG:4326) in commune
#: ``c``, in EPSG:31370 (``:srid``): area (m²) for zones, the length the figures count there
#: (m, :data:`_LINE_COUNTED_SQL`) for lines, number of distinct points within
#: :data:`~geosignal.geo.BORDER_TOLERANCE_DEG` for points.
HOME_MEASURE_SQL = f"""CASE ST_Dimension(g.g)
         WHEN 2 THEN ST_Area(ST_Transform(ST_Intersection(c.boundary, g.g), :srid))
         WHEN 1 THEN {_LINE_COUNTED_SQL}
         ELSE (SELECT count(DISTINCT p.geom) FROM ST_DumpPoints(g.g) p
               WHERE ST_DWithin(c.boundary, p.geom, {BORDER_TOLERANCE_DEG!r}))
       END"""

#: The home-commune rule, as the ``FROM … LIMIT 1`` of a query over ``communes c`` and a
#: geometry ``g.g`` (EPSG:4326): among the communes it may count in (:func:`home_candidates_sql`),
#: the commune holding the largest part (:data:`HOME_MEASURE_SQL`); ties to the smallest NIS
#: code. A point within :data:`~geosignal.geo.BORDER_TOLERANCE_DEG` of several communes is on
#: their shared border: it counts in each, and goes to the smallest NIS code; a road stretch
#: is the home of the commune its length counts in. A geometry touching one
#: commune only is that commune's without measuring its part (the intersection with the
#: commune's boundary was most of the rule's cost).
HOME_COMMUNE_SQL = f"""FROM communes c, g
WHERE {home_candidates_sql("c.boundary", "g.g")}
ORDER BY
  CASE WHEN count(*) OVER () = 1 THEN 0
       ELSE {HOME_MEASURE_SQL}
  END DESC,
  c.nis_code ASC
LIMIT 1"""


def commune_of(session: Session, geometry_ewkt: str) -> str | None:
    """Return the NIS code of the commune holding the largest part of a geometry, or None.

    The part is measured in EPSG:31370: area (m²) for zones, the length (m) the figures count
    in the commune for lines (a stretch within 1 cm of a shared border is the smaller NIS
    code's), number of points for points. A tie (a point on a shared border: within
    :data:`~geosignal.geo.BORDER_TOLERANCE_DEG` of several communes) goes to the smallest NIS
    code, so every report belongs to exactly one commune. ``geometry_ewkt`` is EWKT in EPSG:4326.
    """
    sql = text(f"WITH g AS (SELECT ST_GeomFromEWKT(:g) AS g) SELECT c.nis_code {HOME_COMMUNE_SQL}")
    return session.execute(sql, {"g": geometry_ewkt, "srid": LAMBERT72}).scalar_one_or_none()


def list_communes(session: Session, simplify_m: float = 0.0,
                  nis_codes: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Return the communes (every one, or those of ``nis_codes``) as GeoJSON Features
    (``[lon, lat]``, EPSG:4326, CCW exteriors), ordered by NIS code.

    ``simplify_m`` > 0 simplifies boundaries (topology-preserving, tolerance in metres,
    applied in EPSG:31370) for maps; 0 gives the stored boundaries.

    Properties: ``nis_code``, ``name_fr``, ``name_nl``, ``province``, ``population``,
    ``population_year``, ``area_km2`` (EPSG:31370).
    """
    boundary = Commune.boundary
    if simplify_m > 0:
        boundary = func.ST_Transform(
            func.ST_SimplifyPreserveTopology(func.ST_Transform(boundary, LAMBERT72), simplify_m), WGS84
        )
    stmt = select(
        Commune.nis_code, Commune.name_fr, Commune.name_nl, Commune.province, Commune.population,
        Commune.population_year, Commune.area_m2,
        func.ST_AsGeoJSON(func.ST_ForcePolygonCCW(boundary), 6).label("geojson"),
    ).order_by(Commune.nis_code)
    if nis_codes is not None:
        stmt = stmt.where(Commune.nis_code.in_(list(nis_codes)))
    features = []
    for row in session.execute(stmt):
        features.append(
            {
                "type": "Feature",
                "id": row.nis_code,
                "geometry": json.loads(row.geojson),
                "properties": {
                    "nis_code": row.nis_code,
                    "name_fr": row.name_fr,
                    "name_nl": row.name_nl,
                    "province": row.province,
                    "population": row.population,
                    "population_year": row.population_year,
                    "area_km2": round(row.area_m2 / 1e6, 3),
                },
            }
        )
    return features


def commune_names(session: Session) -> dict[str, str]:
    """Return ``{nis_code: name_fr}`` for every loaded commune."""
    return {nis: name for nis, name in session.execute(select(Commune.nis_code, Commune.name_fr))}


def sort_key(name: str) -> tuple[str, str]:
    """Return the key that orders commune names as a reader expects, whatever the database's
    collation: accents and case ignored first (``Châtelet`` before ``Chimay``), then the name
    as written."""
    folded = unicodedata.normalize("NFKD", name)
    return "".join(c for c in folded if not unicodedata.combining(c)).casefold(), name


def commune_choices(session: Session) -> list[tuple[str, str]]:
    """Return ``[(nis_code, name_fr)]`` of every loaded commune in reading order
    (:func:`sort_key`), for the pages' commune lists."""
    return sorted(commune_names(session).items(), key=lambda item: sort_key(item[1]))


def _dms(value: float, positive: str, negative: str) -> str:
    seconds = round(abs(value) * 3600)
    return f"{seconds // 3600}°{seconds % 3600 // 60:02d}'{seconds % 60:02d}\"{positive if value >= 0 else negative}"


def example_point(session: Session, nis_code: str | None) -> dict[str, Any] | None:
    """Return a point inside commune ``nis_code`` written each way the report form and the
    upload read coordinates, for their examples: the point of the commune nearest its centroid
    (the centroid itself when it lies inside), rounded to 4 decimals of a degree (about 10 m)
    and kept inside. ``{"lat": 50.4108, "lon": 4.444, "dms": "50°24'39\\"N 4°26'38\\"E",
    "lambert72": "155349 122215", "lambert2008": "655349 622215"}``; None when the commune
    is not loaded (or ``nis_code`` is None). An example elsewhere (Charleroi's, for every
    commune) was refused to whoever typed or uploaded it as it stood."""
    from geosignal.geo import LAMBERT2008, transform_xy

    if not nis_code:
        return None
    row = session.execute(text(
        "SELECT ST_X(p), ST_Y(p), ST_Covers(boundary, ST_SetSRID(ST_MakePoint(round(ST_X(p)::numeric, 4), "
        "round(ST_Y(p)::numeric, 4)), 4326)) FROM (SELECT boundary, ST_ClosestPoint(boundary, ST_Centroid(boundary)) AS p "
        "FROM communes WHERE nis_code = :n) s"), {"n": nis_code}).first()
    if row is None:
        return None
    x, y, rounded_inside = row
    digits = 4 if rounded_inside else 6
    lon, lat = round(x, digits), round(y, digits)
    x72, y72 = transform_xy([[lon, lat]], WGS84, LAMBERT72)[0]
    x08, y08 = transform_xy([[lon, lat]], WGS84, LAMBERT2008)[0]
    return {"lat": lat, "lon": lon, "dms": f"{_dms(lat, 'N', 'S')} {_dms(lon, 'E', 'W')}",
            "lambert72": f"{x72:.0f} {y72:.0f}", "lambert2008": f"{x08:.0f} {y08:.0f}"}
