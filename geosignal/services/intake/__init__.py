"""Report intake: parse, validate and (optionally) repair white-zone geometries and their
properties. Flask-free and database-free.

Public API (``from geosignal.services.intake import ...``): :class:`Limits`,
:class:`ServiceArea`, :class:`ReportInput`, :func:`parse_report_feature`,
:func:`parse_feature_collection`, :func:`read_upload`, :func:`validate_properties`,
:func:`parse_observed_at`, :func:`area_m2`, :func:`length_m`.

Pipeline for every geometry (API body or uploaded file), in this order:

1. **Strict JSON.** Text is parsed with NaN/Infinity (and numbers overflowing to infinity)
   kept as placeholders; any of them anywhere in a feature (coordinates *or* properties) gives
   ``non_finite_number`` with its JSON pointer (and ``kind: "value"`` when it points into the
   properties: the message then speaks of a value, not a coordinate). An integer of more digits than Python converts
   (over 4,000) is no NaN but far too large: a count out of range (``invalid_attribute``), a
   coordinate ``invalid_coordinate`` "too large", as a 20- or 400-digit one. The raw structure is checked before shapely
   sees it: numbers as strings / booleans → ``invalid_coordinate``; null geometry or empty
   coordinates → ``empty_geometry``, also when every ring or part is empty (``[[]]``,
   ``[[[]]]``: no position at all; a multi-geometry's empty part at that part's pointer); wrong nesting or unknown type → ``invalid_geojson``;
   unclosed ring → ``ring_not_closed`` (pointer to the last position); a ring with < 4 positions
   once repeated consecutive positions are removed → ``ring_too_short``; a line with < 2
   distinct positions → ``line_too_short``. Repeated consecutive positions are allowed and
   removed.
2. **Dimensions — decision:** Z and M are **dropped consistently**, also when a geometry mixes
   2D and 3D positions (case 10b is accepted); a ``z_dropped`` warning says so (``mixed: true``
   when mixed). ``mixed_dimensions`` is therefore never raised.
3. **Vertices:** more than ``Limits.max_vertices`` positions → ``too_many_vertices``
   (``value``, ``limit``). A batch (an upload, a collection) of more than
   ``Limits.max_upload_features`` features, or whose geometries hold more than
   ``Limits.max_upload_vertices`` positions in all, is refused whole before any geometry check
   (413 ``too_many_features`` / ``too_many_upload_vertices``; uploads count them before reading
   the features, see :func:`read_upload`).
4. **CRS.** EPSG:4326 by default; the ``crs`` argument accepts EPSG:31370 / EPSG:3812 as
   ``"EPSG:31370"``, ``"31370"`` or ``"urn:ogc:def:crs:EPSG::31370"``. **Decision on the
   obsolete GeoJSON ``crs`` member:** honoured when it is a *named* CRS among the three
   accepted (CRS84 counts as 4326), refused (``unsupported_crs``) otherwise, and refused when it
   disagrees with the ``crs`` argument or with an enclosing collection's member. Coordinates
   are reprojected to EPSG:4326 with cached pyproj transformers built from EPSG codes.
   Positions out of the WGS 84 range go to the service-area diagnosis below.
5. **Circle:** a Point whose properties carry ``radius`` (metres, Leaflet.draw export) becomes
   a polygon buffered in EPSG:31370 with 64 segments (``quad_segs=16``), back in EPSG:4326;
   the area limits (step 7) speak on that polygon, at ``/properties/radius`` (one over four
   times the maximum is refused before it is built).
6. **Validity.** Invalid → ``self_intersection`` (reason mentions Self-intersection) or
   ``invalid_geometry``, with ``location`` [lon, lat] and ``reason``. With ``repair=True``
   polygons are repaired with ``make_valid(method="structure", keep_collapsed=False)`` keeping
   the polygonal part (a bowtie keeps both lobes); never ``buffer(0)``. **Repair area
   measure — decision:** ``area_before_m2`` is the *naive shoelace area of the rings as given*
   (|exterior| − Σ|holes|, EPSG:31370), what a non-validating GIS would report (the lobes of
   a figure-8 cancel, so it is ≈ 0 for a symmetric bowtie); ``area_after_m2`` is the planar
   area of the repaired geometry (EPSG:31370). Polygons are then oriented counter-clockwise.
7. **Area** (polygonal reports, EPSG:31370) below ``min_area_m2`` → ``area_too_small``, above
   ``max_area_m2`` → ``area_too_large`` (``area_m2``, ``limit_m2``; detail in km², the area
   never written as the limit it breaks: ``errors.beyond_limit``). Checked
   *before* the service area, so a Belgium-sized polygon gets ``area_too_large``. Beyond
   Lambert 72's domain (1.5–7.5° E, 48.5–52.5° N) a zone is measured on the WGS 84 ellipsoid
   (equal-area cylindrical): a zone reaching a pole is too large, not 0 m².
8. **Service area — rule:** a geometry is accepted when it **intersects the unbuffered union
   of the communes and is covered by that union buffered by ``service_margin_m``** (EPSG:31370).
   Otherwise ``outside_service_area``; when recognisable the error says why, never fixing it:
   ``hint="axes_swapped"`` with ``swapped_commune`` {nis_code, name}; ``"looks_like_lambert72"``
   / ``"looks_like_lambert2008"`` / ``"looks_like_wgs84"`` with ``suggested_crs`` and
   ``suggested_commune`` (another accepted CRS would put it in a commune). The margin used
   is the :class:`ServiceArea`'s own (``margin_m``); build it with
   ``Limits.service_margin_m``.

**GeometryCollection — decision:** :func:`parse_report_feature` refuses it
(``unsupported_geometry_type``); in :func:`parse_feature_collection` and :func:`read_upload`
a GeometryCollection is **split into one report per member** (same properties, warning
``geometry_collection_split``, errors per member with ``member``). Nested collections are
refused. Multi* geometries stay one report.

**Feature id — decision:** RFC 7946 §3.2 makes a Feature's ``id`` a string or a number; an
object, an array or a boolean is ``invalid_geojson`` at ``…/id`` (:func:`.core.feature_id`), in
the API (POST, PATCH) and in GeoJSON uploads (that feature refused, ``index`` and ``pointer``
given); ``null`` counts as absent. A valid id is not stored: every report gets its own UUID.

Properties: the JSON API is strict (:func:`validate_properties`, every faulty property listed
in ``errors``); files are coerced first (see :mod:`.files`). Unknown properties are ignored
(warning ``properties_ignored`` in the API).

**Hostile files — decisions** (:mod:`.containers`): archives are refused whole for an
absolute, climbing (``..``, ``\\``, drive letter), linked or repeated member name
(``unsafe_archive``), beyond 1,000 entries or 5 × the upload limit of bytes really inflated
(``archive_too_large``); archives inside archives are never opened (warning); XML with a DOCTYPE
or entity declarations is refused before GDAL (``unsafe_xml``, defusedxml); KML NetworkLinks are
never followed (warning); a GeoPackage holding a view, a virtual table other than a spatial
index or a column computed on read is refused before GDAL opens it (``unsafe_geopackage``: its
SQL would run as it is read); dBase text is decoded from the ``.cpg``, else the LDID byte, else
refused unless ASCII (``undecidable_encoding``); JSON integers of more than 4,000 digits are
out of range like any too large number (``invalid_attribute``, ``invalid_coordinate``), not
``non_finite_number``.
"""

from geosignal.errors import GeosignalError
from geosignal.geo import area_m2, length_m

from .area import DEFAULT_LIMITS, Limits, ServiceArea
from .containers import check_declared_size, declared_size
from .core import (
    ReportInput,
    feature_id,
    known_finite,
    loads_strict,
    parse_feature_collection,
    parse_report_feature,
)
from .crs import ACCEPTED_EPSG, parse_crs
from .files import UploadResult, detect_format, read_upload
from .properties import parse_observed_at, validate_properties

__all__ = [
    "ACCEPTED_EPSG",
    "DEFAULT_LIMITS",
    "GeosignalError",
    "Limits",
    "ReportInput",
    "ServiceArea",
    "UploadResult",
    "area_m2",
    "check_declared_size",
    "declared_size",
    "detect_format",
    "feature_id",
    "known_finite",
    "length_m",
    "loads_strict",
    "parse_crs",
    "parse_feature_collection",
    "parse_observed_at",
    "parse_report_feature",
    "read_upload",
    "validate_properties",
]
