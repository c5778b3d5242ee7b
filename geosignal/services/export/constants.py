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
