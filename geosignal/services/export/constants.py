"""Constants of the DWconnect export: schema version, media types, rounding grid, limits."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from geosignal import contract

#: Version of the DWconnect export schema (``data/dwconnect-export.schema.json``). Bump the
#: minor version for added optional members, the major version for anything else.
SCHEMA_VERSION = contract.SCHEMA_VERSION
#: ``$id`` of the export schema: carries the version.
SCHEMA_ID = f"urn:geosignal:schema:dwconnect-export:{SCHEMA_VERSION}"
SOURCE = contract.SOURCE
GEOJSON_MEDIA_TYPE = "application/geo+json; charset=utf-8"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
GPKG_MEDIA_TYPE = "application/geopackage+sqlite3"
#: Advisory lock key ("gsig") shared with the trigger of migration 0003.
CHANGE_LOCK_KEY = 0x67736967
#: Grid (degrees) coordinates are rounded to: 6 decimals, ~0.1 m.
GRID_DEG = 1e-6
#: ``limit`` bounds for paged exports.
MAX_PAGE = 10_000
#: Reason given for a report left out of an export.
COLLAPSED = "geometry_collapsed_when_rounded"
#: Reports merged into one exported feature: always 1 in schema 1.x (no merging yet).
MERGED_REPORTS = contract.MERGED_REPORTS
BRUSSELS = ZoneInfo("Europe/Brussels")
#: The formats whose document carries the zone part (``zones``, ``zones_removed``): CSV and
#: GeoPackage carry reports only.
ZONE_FORMATS = ("geojson",)


#: The latest ``change_seq`` of report ``r`` that DWconnect has, as a scalar subquery (NULL:
#: never sent): looked up in the batches of runs marked transmitted whose ``seq`` range holds
#: it (its 16 bytes at a 16-byte boundary of the packed ids); a batch keeps the ``change_seq``
#: sent and the one right after the marking (the move to ``transmitted`` is no news for
#: DWconnect).
SENT_CHANGE_SEQ_SQL = """(SELECT max(greatest(b.change_seqs[(p.at - 1) / 16 + 1],
                                b.transmitted_change_seqs[(p.at - 1) / 16 + 1]))
            FROM export_run_batches b JOIN export_runs e ON e.id = b.run_id
            CROSS JOIN LATERAL (SELECT position(uuid_send(r.id) IN b.report_ids) AS at) p
            WHERE e.mark_transmitted AND b.last_seq >= r.seq AND b.first_seq <= r.seq
              AND p.at % 16 = 1)"""
