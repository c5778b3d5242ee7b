"""The export's zone part: the confirmed zones of overlapping reports (``zones``, schema 1.1.0)
and, in an incremental export, the ids of the confirmed zones gone since (``zones_removed``,
schema 1.3.0).

Each zone is a Feature: ``id`` the zone's number, ``geometry`` the union of its reports written
like the reports' (6 decimals, lines and zones snapped to the 1e-6° grid, exteriors
counter-clockwise; a GeometryCollection when points or lines join zones, each part snapped on
its own), ``properties``: ``zone_id``, ``state`` (``confirmed``), ``network``, ``report_count``,
``report_ids`` (every report of the zone, oldest first, exported in this document or not),
``technologies``, ``operators``, ``commune_nis``, ``updated_at``.

**Which zones.** A zone *belongs* to a pass when it is confirmed and holds a report inserted up
to the watermark that the pass's commune, bbox and period filters select, in a status the
pass exports or one its reports move on to (:func:`geosignal.workflow.onward`: a ``validated``
export counts a zone's transmitted reports too, since 1.3.0). A zone is the referent's
confirmation, forwarded whole: it must not vanish from DWconnect when its reports move from
``validated`` to ``transmitted`` (nor be missed when it is confirmed after they were sent),
and a zone none of whose reports was ever validated is not sent with validated reports. A full export carries every zone that belongs. An incremental export
(``since``) carries those that belong and *changed* since (new since the last transmitted
export: since the newest marked run that carried zones, a GeoJSON one, whatever run gives the
reports' starting point — a CSV or GeoPackage carries no zone): their row in ``zone_changes`` is
newer than ``since`` (made, members, geometry, state… changed: written by the zone pass,
migration 0026) or they are confirmed and hold a report changed since (it may have entered the
commune, bbox or period); ``zones_removed`` lists the zones changed since (the same two ways)
that would not be carried were the commune, bbox and period filters left out: no longer
confirmed (removed, regrouped into another, proposed again), or none of whose reports is in a
status the pass counts any more (its only validated report withdrawn or resolved: it left the
zone, which stays confirmed with submitted reports) — an id the integrator never received
(a zone of submitted reports confirmed, changed) is harmless: it ignores it. A zone unchanged
since, whose reports are unchanged too, is what the integrator has already. Applying full then
incremental documents in order (upsert ``zones`` by id, delete ``zones_removed``) gives the
confirmed zones of a full export made now with the same filters; a zone still confirmed that
leaves the commune, bbox or period filter stops appearing, as reports do.

**Once per pass.** The zone part is read once, after the last page's reports (earlier pages
carry empty lists), for the whole pass: no zone is written twice in a pass nor lost between
pages. Zone changes numbered at or below the pass's watermark were committed before it was
read (the watermark's lock), so they are seen; later ones come again in the next pass.
Zones are few: two queries.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geosignal import contract, workflow
from geosignal.services.export.constants import GRID_DEG, SENT_CHANGE_SEQ_SQL
from geosignal.services.export.filters import ExportFilters, Watermark, where_clause

_PART = f"""CASE ST_Dimension({{g}})
    WHEN 0 THEN {{g}}
    WHEN 1 THEN ST_CollectionExtract(ST_ReducePrecision({{g}}, {GRID_DEG}), 2)
    ELSE ST_ForcePolygonCCW(ST_CollectionExtract(ST_ReducePrecision({{g}}, {GRID_DEG}), 3)) END"""

#: The written geometry of a zone ``z``.
GEOMETRY_SQL = f"""CASE WHEN GeometryType(z.geometry) = 'GEOMETRYCOLLECTION' THEN
    (SELECT ST_Collect(p.g ORDER BY p.path) FROM (
       SELECT d.path, {_PART.format(g="d.geom")} AS g FROM ST_Dump(z.geometry) d) p
     WHERE NOT ST_IsEmpty(p.g))
  ELSE {_PART.format(g="z.geometry")} END"""

#: Whether zone ``z`` (its written geometry ``w.g``) is carried: confirmed, holding a report
#: that matches ``{where}`` (on ``reports r``), and written: a zone whose written geometry is
#: nothing (every part of it collapsed on the 1e-6° grid: slivers 2 cm wide, a line of 2 cm) is
#: not written, as a report's is not (its reports are in ``excluded``): an empty Polygon broke
#: the schema, and a collection of nothing cut the document short after its 200.
CARRIED_SQL = """z.state = 'confirmed' AND w.g IS NOT NULL AND NOT ST_IsEmpty(w.g) AND EXISTS (
  SELECT 1 FROM zone_reports zr JOIN reports r ON r.id = zr.report_id
  WHERE zr.zone_id = z.id AND {where})"""

#: The zones carried (:data:`CARRIED_SQL`), among ``{changed}`` (on ``zones z``).
ZONES_SQL = f"""
SELECT z.id, z.network, z.report_count, z.technologies, z.operators, z.commune_nis, z.updated_at,
       ST_AsGeoJSON(w.g, {contract.EXPORT_COORDINATE_DECIMALS}) AS geojson,
       ARRAY(SELECT m.report_id::text FROM zone_reports m JOIN reports x ON x.id = m.report_id
             WHERE m.zone_id = z.id ORDER BY x.seq) AS report_ids
FROM zones z CROSS JOIN LATERAL (SELECT {GEOMETRY_SQL} AS g) w
WHERE {{changed}} AND {CARRIED_SQL}
ORDER BY z.id"""

#: The ids of the zones changed since (``{logged}`` on ``zone_changes c``, ``{reported}`` on
#: ``reports r``): named in ``zone_changes``, or confirmed and holding a report changed since
#: (a zone whose confirmation changed since is named in ``zone_changes``: a proposal holding
#: such a report was never sent). Each list is read through its index (``change_seq``), never
#: by walking every zone.
CHANGED_IDS_SQL = """ARRAY(
    SELECT c.zone_id FROM zone_changes c WHERE {logged}
    UNION SELECT zc.zone_id FROM reports r JOIN zone_reports zc ON zc.report_id = r.id
      JOIN zones cz ON cz.id = zc.zone_id AND cz.state = 'confirmed' WHERE {reported})"""

#: The zones changed since, as a condition on ``zones z``.
CHANGED_SQL = f"z.id = ANY({CHANGED_IDS_SQL})"

#: The zones changed since (``{changed_ids}``: :data:`CHANGED_IDS_SQL`) that would not be
#: carried were the commune, bbox and period filters left out (``{where}``: the status rule
#: and the watermark alone): gone, no longer confirmed, or none of whose reports is in a status
#: the pass exports or one they move on to any more (its last validated report withdrawn or
#: resolved, it stays confirmed with submitted ones) — DWconnect may hold it. One statement.
REMOVED_SQL = f"""
SELECT x.id FROM unnest({{changed_ids}}) x(id)
WHERE NOT EXISTS (
  SELECT 1 FROM zones z CROSS JOIN LATERAL (SELECT {GEOMETRY_SQL} AS g) w
  WHERE z.id = x.id AND {CARRIED_SQL})
ORDER BY x.id"""


def _since(filters: ExportFilters) -> tuple[str, str, dict[str, Any]] | None:
    """The since-conditions on ``zone_changes c`` and on ``reports r``, with their bound
    values; None for a full export. New since the last transmitted export (``since_run``),
    the zones start from ``zone_since_seq`` when ``zone_since_run`` is given (the newest
    marked run that carried zones is not the reports' starting point: a CSV or GeoPackage,
    marked since, gave DWconnect no zone; without any, every zone), and a report whose only
    change since is a marking's move to ``transmitted`` changed nothing DWconnect has (the
    reports' rule, :data:`SENT_CHANGE_SEQ_SQL`): its zone is not sent again for it."""
    logged, reported, params = [], [], {}
    since_seq = filters.since_seq if filters.zone_since_run is None else filters.zone_since_seq
    if since_seq is not None:
        logged.append("c.change_seq > :zone_since_seq")
        reported.append("r.change_seq > :zone_since_seq")
        params["zone_since_seq"] = since_seq
    if filters.since_time is not None and filters.zone_since_run is None:
        logged.append("c.changed_at > :zone_since_time")
        reported.append("r.updated_at > :zone_since_time")
        params["zone_since_time"] = filters.since_time
    if not logged:
        return None
    if filters.since_run is not None:
        reported.append(f"coalesce({SENT_CHANGE_SEQ_SQL}, -1) < r.change_seq")
    return " AND ".join(logged), " AND ".join(reported), params


def zone_part(session: Session, filters: ExportFilters, watermark: Watermark) -> tuple[list[dict[str, Any]], list[int]]:
    """Return the zone part of a pass with ``filters`` and ``watermark``: (the confirmed zones
    to carry, as export Features in zone order — :func:`geosignal.contract.export_schema`'s
    ``zone`` —, the ids of the zones removed since, ascending; empty without ``since``).

    See the module for which zones; the reports considered are those inserted up to the
    watermark's ``seq`` that match the commune, bbox and period filters."""
    # the statuses the pass exports and those its reports move on to (validated → transmitted…)
    # (the since-filters are _since's: left out here, and with them the status rule of since_run)
    onward = filters if filters.statuses is None else replace(
        filters, statuses=workflow.onward(filters.statuses), since_run=None, removals=False)
    where, params = where_clause(onward, None, watermark, since=False)
    since = _since(filters)
    changed = "true"
    if since is not None:
        logged, reported, since_params = since
        params.update(since_params)
        changed = CHANGED_SQL.format(logged=logged, reported=reported)
    rows = session.execute(text(ZONES_SQL.format(where=where, changed=changed)), params).all()
    removed: list[int] = []
    if since is not None:
        # the status rule alone: a zone still confirmed that leaves the commune, bbox or period
        # filter stops appearing without being removed, as reports do
        status_rule, status_params = where_clause(
            replace(onward, commune=None, bbox=None, date_from=None, date_to=None), None, watermark, since=False)
        changed_ids = CHANGED_IDS_SQL.format(logged=logged, reported=reported)
        # (a zone carried is not said removed: read a moment later, it may be gone already; its
        # removal is numbered above the watermark and comes in the next pass)
        carried = {r.id for r in rows}
        removed = [int(r[0]) for r in session.execute(
            text(REMOVED_SQL.format(changed_ids=changed_ids, where=status_rule)), {**status_params, **since_params})
            if int(r[0]) not in carried]
    return [{
        "type": "Feature",
        "id": r.id,
        "geometry": json.loads(r.geojson),
        "properties": {
            "zone_id": r.id, "state": "confirmed", "network": r.network, "report_count": r.report_count,
            "report_ids": list(r.report_ids), "technologies": list(r.technologies), "operators": list(r.operators),
            "commune_nis": r.commune_nis, "updated_at": contract.format_datetime(r.updated_at),
        },
    } for r in rows], removed
