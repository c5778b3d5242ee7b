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
  stretches counted once) clipped to each commune. The network of the lines is put on a 1 cm
  grid first (:data:`LINE_GRID_M`, EPSG:31370: each line snap-rounded, their union noded on
  the grid), then cut, never rounded again (stored and live alike), so a stretch filed twice
  whose vertices round to the same centimetres (e.g. after a round trip through EPSG:4326)
  counts once; copies a few millimetres apart count once where the noding joins them, twice
  elsewhere, the same stored and live. A
  stretch on a border shared by two communes — within 1 cm of both: the two boundaries
  differ by millimetres — counts once, in the one with the **smaller NIS code** (as a point
  on that border, and as the line's home commune when it lies on the border alone); a line
  leaving the border is that commune's for its first centimetre away from it.
- **Status**: figures count the reports that stand for a white zone somebody vouches for and
  nobody has closed as fixed (:data:`COUNTED_STATUSES`): ``submitted``, ``needs_info``,
  ``validated``, ``transmitted`` and ``not_resolved``. ``draft`` (not yet sent),
  ``rejected``, ``withdrawn`` and ``resolved`` do not count, unless a status filter says
  otherwise; the ``status`` breakdown counts every status.
- **Period**: a report's date is its observation date when given (``observed_at``), else the
  date it was recorded (``created_at``); ``date_from`` / ``date_to`` are whole days in
  Brussels time, both inclusive.
- **Inhabitants affected** is an *estimate*: white-zone share of the commune's area ×
  its population (Statbel, legal population on 1 January of ``population_year``). It assumes
  people are spread evenly over the commune.

Speed and exactness
-------------------
Without filters, the figures come from stored tables kept exact by PostgreSQL triggers on
``reports`` (:mod:`.stored`): per commune, the white-zone union is kept as pieces in 1 km
cells, each recomputed from the reports touching it; counts change by atomic increments.
Filtered queries compute live (:mod:`.live`): SQL ``GROUP BY`` counts and shapely unions
(GEOS 3.14 in the wheels) on a thread per core.

Modules: :mod:`.filters`, :mod:`.geometry`, :mod:`.rows`, :mod:`.live`, :mod:`.stored`
(with its SQL in :mod:`.stored_sql`), :mod:`.locations`, :mod:`.downloads`, :mod:`.files`.
"""

from geosignal.services.aggregation.downloads import CSV_COLUMNS, table_csv, table_geojson
from geosignal.services.aggregation.files import (
    aggregate_files,
    aggregate_files_steps,
    home_communes,
)
from geosignal.services.aggregation.filters import (
    BREAKDOWNS,
    COUNTED_STATUSES,
    ESTIMATE_NOTE,
    LINE_GRID_M,
    StatsFilters,
    parse_filters,
    where_sql,
)
from geosignal.services.aggregation.geometry import Counts, clipped_unions
from geosignal.services.aggregation.live import compute_live
from geosignal.services.aggregation.locations import MAX_POINTS, MAX_ZOOM, report_locations
from geosignal.services.aggregation.rows import CommuneInfo, make_row, territory_row
from geosignal.services.aggregation.stored import (
    commune_detail,
    commune_stats,
    commune_table,
    rebuild_communes,
    recompute_all,
    refresh_reports,
    vacuum_cells,
)

__all__ = [
    "BREAKDOWNS", "COUNTED_STATUSES", "CSV_COLUMNS", "ESTIMATE_NOTE", "LINE_GRID_M", "MAX_POINTS", "CommuneInfo",
    "Counts", "StatsFilters", "aggregate_files", "aggregate_files_steps", "clipped_unions", "commune_detail",
    "commune_stats", "commune_table", "compute_live", "home_communes", "make_row", "parse_filters",
    "MAX_ZOOM", "rebuild_communes", "recompute_all", "refresh_reports", "report_locations", "table_csv", "table_geojson",
    "territory_row", "vacuum_cells", "where_sql",
]
