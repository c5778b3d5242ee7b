"""DWconnect export: reports as RFC 7946 GeoJSON, CSV or GeoPackage, streamed and recorded.

By concern:

- :mod:`.constants`: schema version, media types, rounding grid, limits;
- :mod:`.filters`: which reports a pass carries, its watermark, page cursors;
- :mod:`.sql`: the SQL of an exported Feature (geometry, properties) and of its stored copy
  (``report_features``, written set-wise by triggers);
- :mod:`.formats`: streaming GeoJSON (stored Features through ``COPY``), CSV, GeoPackage;
- :mod:`.runs`: recorded runs (checksum, gzip copy, reports carried) and the history;
- :mod:`.stream`: :func:`stream_export`, what the CLI and the HTTP views call;
- :mod:`.schema`: the JSON Schema of the export.

Callers use ``from geosignal.services import export`` and ``export.X``: every public name is
available here.
"""

from geosignal.services.export.constants import (
    BRUSSELS,
    CHANGE_LOCK_KEY,
    COLLAPSED,
    CSV_MEDIA_TYPE,
    GEOJSON_MEDIA_TYPE,
    GPKG_MEDIA_TYPE,
    GRID_DEG,
    MAX_PAGE,
    MERGED_REPORTS,
    SCHEMA_ID,
    SCHEMA_VERSION,
    SOURCE,
)
from geosignal.services.export.filters import (
    DWCONNECT,
    ExportFilters,
    Paging,
    Watermark,
    decode_cursor,
    encode_cursor,
    format_since,
    parse_period,
    parse_since,
    parse_status,
    parse_status_filter,
    read_watermark,
)
from geosignal.services.export.formats import CSV_COLUMNS
from geosignal.services.export.runs import (
    RunRecord,
    copy_kept,
    delete_run,
    get_run,
    iter_run_bytes,
    list_runs,
    purge_copies,
    run_report_ids,
    run_summary,
    transmitted_state,
)
from geosignal.services.export.schema import export_schema
from geosignal.services.export.sql import (
    GEOMETRY_SQL,
    PROPERTIES_SQL,
    PROPERTY_NAMES,
    feature_function_sql,
    feature_properties_sql,
    feature_select_sql,
    stored_sql,
)
from geosignal.services.export.stream import (
    ExportRequest,
    ExportStream,
    export_filename,
    iter_feature_collection,
    stream_export,
)

__all__ = [
    "BRUSSELS", "CHANGE_LOCK_KEY", "DWCONNECT", "COLLAPSED", "CSV_COLUMNS", "CSV_MEDIA_TYPE", "GEOJSON_MEDIA_TYPE",
    "GEOMETRY_SQL", "GPKG_MEDIA_TYPE", "GRID_DEG", "MAX_PAGE", "MERGED_REPORTS", "PROPERTIES_SQL",
    "PROPERTY_NAMES", "SCHEMA_ID", "SCHEMA_VERSION", "SOURCE", "copy_kept", "purge_copies",
    "ExportFilters", "ExportRequest", "ExportStream", "Paging", "RunRecord", "Watermark",
    "decode_cursor", "delete_run", "encode_cursor", "export_filename", "export_schema",
    "feature_function_sql", "feature_properties_sql", "feature_select_sql", "format_since",
    "get_run", "iter_feature_collection", "iter_run_bytes", "list_runs", "parse_period", "parse_since",
    "parse_status", "parse_status_filter",
    "read_watermark", "run_report_ids", "run_summary", "stored_sql", "stream_export", "transmitted_state",
]
