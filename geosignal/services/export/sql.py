"""The SQL of an exported Feature: its geometry, its properties, and the stored copy.

**RFC 7946 to the letter.** ``[lon, lat]`` EPSG:4326, no ``crs`` member, 6 decimals.
Lines and zones are rounded with ``ST_ReducePrecision(g, 1e-6)`` *before* they are written:
GEOS snaps them to the 1e-6° grid and returns a valid geometry (a hole that would touch its
exterior once rounded becomes a notch, a sliver thinner than the grid disappears), so what is
written is valid as written. Zones keep their polygonal part only (``ST_CollectionExtract``),
lines their linear part; a report whose geometry collapses entirely (a zone thinner than
~0.1 m everywhere) is **not written** and is listed in the collection's ``excluded`` member
with the reason ``geometry_collapsed_when_rounded``. Exterior rings counter-clockwise and
holes clockwise (``ST_ForcePolygonCCW``, zones only: PostGIS 3.3 reverses lines given to
it). Text is NFC: commune names are normalised here (``normalize(…, NFC)``, once per
commune); descriptions are NFC-normalised by intake before they are stored. Numbers are
finite (areas and lengths are ``numeric``). Times ISO 8601 with the Europe/Brussels offset.

**Stored, set-wise.** Each report's Feature is serialised by PostgreSQL when the report is
written and kept in ``report_features`` (keyed by the report's ``seq``), so that an export
streams stored text. Statement-level triggers with transition tables (migration 0007, body
:func:`feature_function_sql`) serialise every row a statement inserted or updated in *one*
``INSERT … SELECT``: a ``COPY`` or ``INSERT … SELECT`` of 200,000 reports builds their
Features in one statement, with no per-row PL/pgSQL. :func:`feature_properties_sql` is the one
place where the exported properties are written in SQL (stored Feature, CSV, GeoPackage, OGC).
"""

from __future__ import annotations

from geosignal import contract
from geosignal.services.export.constants import GRID_DEG, MERGED_REPORTS, SCHEMA_VERSION, SOURCE
from geosignal.vocab import LAMBERT72

#: The geometry as written: points as stored (rounded when written: 6 decimals in the GeoJSON
#: and the WKT, from which the GeoPackage's geometry is read); lines and zones reduced to the
#: 1e-6° grid (valid by construction), zones oriented for RFC 7946. Reads ``r.geometry``.
GEOMETRY_SQL = f"""
CASE ST_Dimension(r.geometry)
  WHEN 0 THEN r.geometry
  WHEN 1 THEN ST_CollectionExtract(ST_ReducePrecision(r.geometry, {GRID_DEG}), 2)
  ELSE ST_ForcePolygonCCW(ST_CollectionExtract(ST_ReducePrecision(r.geometry, {GRID_DEG}), 3))
END"""


def feature_properties_sql() -> str:
    """Return the ``json_build_object`` arguments of a report's exported properties (schema
    1.x), in order: generated from the report contract (:mod:`geosignal.contract`, one
    declaration per property).

    Reads ``r`` (a row of ``reports``), ``c`` (its commune: ``nis_code``, NFC ``name_fr``) and
    ``u`` (its reporter, or NULLs). Bound values: ``:srid`` (31370: areas in m² and lengths in m
    are planar in Belgian Lambert 72), ``:merged``, ``:schema_version``, ``:source``. Times
    render in the session's TimeZone (Europe/Brussels for every export).
    """
    return contract.feature_properties_args_sql()


#: :func:`feature_properties_sql`, as a constant (OGC API and the live CSV/GeoPackage queries).
PROPERTIES_SQL = feature_properties_sql()

#: Bound values of :data:`PROPERTIES_SQL`.
PROPERTY_PARAMS = {"srid": LAMBERT72, "merged": MERGED_REPORTS, "schema_version": SCHEMA_VERSION,
                   "source": SOURCE}

#: Property names of an exported report, in order (schema 1.x).
PROPERTY_NAMES: tuple[str, ...] = contract.names(contract.EXPORT)

#: The joins every Feature query makes: commune (NFC name), reporter, written geometry ``x.g``.
JOINS_SQL = f"""
JOIN (SELECT nis_code, normalize(name_fr, NFC) AS name_fr FROM communes) c ON c.nis_code = r.commune_nis
LEFT JOIN users u ON u.id = r.reporter_id
CROSS JOIN LATERAL (SELECT{GEOMETRY_SQL} AS g) x"""

#: A report's GeoJSON Feature as written (text).
FEATURE_JSON_SQL = f"""json_build_object(
  'type', 'Feature',
  'id', r.id::text,
  'geometry', ST_AsGeoJSON(x.g, 6)::json,
  'properties', json_build_object({PROPERTIES_SQL})
)::text"""


def _bind_literals(sql: str) -> str:
    """Return ``sql`` with :data:`PROPERTY_PARAMS` written in as literals (stored SQL)."""
    literals = {"CAST(:srid AS integer)": str(LAMBERT72), "CAST(:merged AS integer)": str(MERGED_REPORTS),
                "CAST(:schema_version AS text)": f"'{SCHEMA_VERSION}'", "CAST(:source AS text)": f"'{SOURCE}'"}
    for placeholder, literal in literals.items():
        sql = sql.replace(placeholder, literal)
    assert ":" not in sql.replace("::", ""), "unbound parameter left in stored SQL"
    return sql


def feature_select_sql(source: str) -> str:
    """Return ``SELECT seq, feature_json, feature_collapsed`` of every report row of
    ``source`` (``reports``, or a trigger's transition table): the stored Feature (text) and
    whether its geometry collapses when rounded. Set-wise: one statement for all rows.

    No bound values (literals written in); run it with TimeZone Europe/Brussels.
    """
    return _bind_literals(f"""SELECT r.seq, {FEATURE_JSON_SQL} AS feature_json, ST_IsEmpty(x.g) AS feature_collapsed
FROM {source} r{JOINS_SQL}""")


def feature_function_sql() -> str:
    """Return the ``CREATE OR REPLACE FUNCTION reports_store_features()`` statement: the
    statement-level trigger function that stores the Feature of every report a statement
    inserted or updated (transition table ``changed_reports``) in ``report_features``, in one
    ``INSERT … SELECT`` (an upsert for updates).

    Installed by migration 0007 from its frozen copy (``tests/test_frozen_sql.py`` keeps the
    newest frozen copy equal to this text): a change here needs a new migration.
    """
    select = feature_select_sql("changed_reports")
    return f"""
CREATE OR REPLACE FUNCTION reports_store_features() RETURNS trigger LANGUAGE plpgsql
SET TimeZone = 'Europe/Brussels' AS $fn$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO report_features (seq, feature_json, feature_collapsed)
    {select};
  ELSE
    INSERT INTO report_features (seq, feature_json, feature_collapsed)
    {select}
    ON CONFLICT (seq) DO UPDATE
      SET feature_json = EXCLUDED.feature_json, feature_collapsed = EXCLUDED.feature_collapsed;
  END IF;
  RETURN NULL;
END $fn$"""


def feature_fill_sql() -> str:
    """Return the ``INSERT … SELECT`` that (re)builds the stored Feature of every report in one
    statement (a migration that changes the Features runs it; TimeZone Europe/Brussels)."""
    return f"""
INSERT INTO report_features (seq, feature_json, feature_collapsed)
{feature_select_sql("reports")}
ON CONFLICT (seq) DO UPDATE
  SET feature_json = EXCLUDED.feature_json, feature_collapsed = EXCLUDED.feature_collapsed"""


def stored_sql() -> dict[str, str]:
    """Return the SQL the live code generates for migrations, by name: the newest migration
    holding a frozen copy of a name (``FROZEN_SQL`` in that migration) must hold exactly this
    text (``tests/test_frozen_sql.py``)."""
    return {"reports_store_features": feature_function_sql(), "report_features_fill": feature_fill_sql()}


# --------------------------------------------------------------------------- export queries

#: Every export query starts with these columns, in this order (rows are plain tuples).
ID, CHANGE_SEQ, SEQ, COLLAPSED_ROW = 0, 1, 2, 3
_ROW_HEAD = "r.id, r.change_seq, r.seq"

#: The GeoJSON export, for ``COPY … TO STDOUT`` (text format): per report its ``seq``,
#: ``change_seq``, id (32 hex digits) and stored Feature ('' when its geometry collapses),
#: tab-separated; one segment of insertion order, after ``{after}`` (a bound parameter). The
#: bound is given to both sides of the join: the planner merges the two ``seq`` indexes, and a
#: stored-Feature scan without it read every Feature before the segment again (at 200,000
#: reports, segments of 20,000 skipped 900,000 Features in all; the work grew with N²).
GEOJSON_COPY_SQL = """
COPY (
  SELECT r.seq, r.change_seq, encode(uuid_send(r.id), 'hex'), CASE WHEN f.feature_collapsed THEN '' ELSE f.feature_json END
  FROM reports r JOIN report_features f ON f.seq = r.seq
  WHERE {where} AND r.seq > {after} AND f.seq > {after}
  ORDER BY r.seq
  LIMIT {limit}
) TO STDOUT"""

#: The CSV and GeoPackage exports: properties computed live, written geometry as WKT with the
#: GeoJSON's 6 decimals (PostGIS writes both alike). The GeoPackage's geometry is this WKT as
#: read (points are not snapped in ``x.g``: its WKB carried them as stored, 15 decimals).
TABLE_SQL = f"""
SELECT {_ROW_HEAD}, ST_IsEmpty(x.g), json_build_object({PROPERTIES_SQL})::text AS props,
       ST_AsText(x.g, {contract.EXPORT_COORDINATE_DECIMALS}) AS wkt,
       ST_X(ST_PointOnSurface(x.g)) AS lon, ST_Y(ST_PointOnSurface(x.g)) AS lat
FROM reports r{JOINS_SQL}
WHERE {{where}}
ORDER BY r.seq
{{limit}}"""
#: Positions of the payload columns of :data:`TABLE_SQL`.
PROPS, WKT, LON, LAT = 4, 5, 6, 7
