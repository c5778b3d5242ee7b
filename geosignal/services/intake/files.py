"""Uploaded files → reports: GeoJSON, KML, KMZ, GPX, CSV, GeoPackage, zipped Shapefile.

* Everything is read **from bytes**: GeoJSON and CSV in Python, the rest through pyogrio
  given an ``io.BytesIO`` (pyogrio copies it to GDAL's ``/vsimem/``); never from a path or
  URL a user supplied.
* The format comes from sniffing the content (zip, SQLite, XML root, JSON) first, the file
  extension second; ``unsupported_format`` (415) otherwise. A zip holding both a Shapefile and
  KML is refused (``unreadable_file`` with ``shapefiles`` and ``kml_members``): read as one, the
  other would be dropped silently.
* Hostile containers are refused before GDAL reads them (:mod:`.containers`): archives by
  member names, links, entry count and the bytes actually inflated; XML with a DOCTYPE or
  entities anywhere in its prolog (XML in UTF-8, UTF-16 or UTF-32, recognised by its root's
  local name wherever it starts); dBase text whose encoding is undecidable, a ``.cpg`` naming no
  dBase code page, mojibake or a NUL inside a field. An empty file is ``no_features``.
* GeoJSON files go through the strict JSON path (NaN etc. caught with their pointer).
* KML/KMZ: every layer (folder) is read; a MultiGeometry stays one report (a mixed one is a
  GeometryCollection and is split, as everywhere); Z dropped (``z_dropped``, ``mixed`` true when
  the file mixes ``lon,lat`` and ``lon,lat,alt`` positions: GDAL gives the 2D ones an altitude
  of 0, so the mix is counted in the file); a ``<gx:Track>`` (or ``<gx:MultiTrack>``) is read as
  a line through its ``<gx:coord>`` positions, with a ``track_read_as_line`` warning (its
  ``positions``: the track's; in a MultiGeometry split into reports, on the track's alone); a track
  without a date of its own is dated by its first ``<when>`` (``observed_at_from_track``, as a
  GPX track; without offset, Brussels time). The root ``<kml …>`` reaches GDAL as ``<kml xmlns="…" …>``:
  GDAL's LIBKML driver takes only that form, any other order or spacing of the root's
  attributes left the file to the older KML driver, which drops tracks silently. ExtendedData
  attributes kept;
  the description, HTML in KML, is read as its text (:func:`~.containers.html_text`: ``<br>``
  and blocks break lines, tags taken off, entities decoded). A placemark's ``Name`` becomes the
  description when it has none. A document in an ASCII-compatible encoding its declaration
  names (``windows-1252``, ``ISO-8859-1``/``-15``…) is decoded as declared before GDAL reads it.
  Each placemark's geometry is checked as written (:func:`~.containers.check_xml`): what GDAL
  would reshape (two ``<outerBoundaryIs>``, only ``<innerBoundaryIs>``, a Point of several
  positions, two geometries outside a MultiGeometry…), a LinearRing alone, a nested
  MultiGeometry, a bad position in ``<coordinates>`` or ``<gx:coord>`` refuses **that placemark
  only** (``where`` = ``feature i`` as GDAL orders the folders, ``line``, ``column``,
  ``placemark`` its rank in the document, ``name``). ``<TimeStamp><when>`` is read as written,
  not as GDAL completes it: a year or a month (``2025``, ``2025-06``) is dropped with an
  ``attribute_dropped`` warning asking for the day, never completed. A ``<TimeSpan>`` naming
  one moment (one bound, or ``begin`` = ``end``) is read as that ``<when>``; one over a period
  is dropped with an ``attribute_dropped`` warning (a report keeps one date observed; neither
  bound is chosen for the user).
* KMZ: ``doc.kml`` (else the KML nearest the root) is read; other KML members are named in a
  ``kml_members_ignored`` warning; NetworkLinks are never followed (``network_link_ignored``;
  a file holding nothing else is ``no_features`` carrying those ``warnings``); image overlays
  are not reports (``overlay_ignored``); every placemark's raw ``<coordinates>`` are checked
  before GDAL (a missing latitude would read as 0), refusing that placemark only. A geometry
  GDAL reads but shapely cannot build (an unclosed ring) refuses that feature only, with the
  GeoJSON path's codes.
* GeoPackage: no SQL of the file runs as it is read (:func:`~.containers.check_gpkg`, before
  GDAL opens it): a view anywhere, a virtual table other than a spatial index, a column
  computed on read, or a feature layer that is no table → 422 ``unsafe_geopackage`` naming the
  layer. Every feature layer is read, attribute-only tables ignored; a ``layers_read``
  warning names both when there is more than one. Every row of a table is read, whatever
  ``gpkg_ogr_contents.feature_count`` caches (GDAL stops at that count, which a tool writing
  rows without GDAL's triggers leaves stale: GDAL reads a private copy without that table,
  :func:`~.containers.gpkg_recounted`). No feature layer → ``no_features``. A
  geometry blob GDAL reads as nothing is decoded as stored: damaged → ``unreadable_file``, a
  LinearRing or a curve → ``unsupported_geometry_type`` (``empty_geometry`` only when it is
  NULL or flagged empty), that feature only. Measures (M) dropped, even where the layer does
  not declare them, are said (a ``z_dropped`` warning with ``measures``; so are a Shapefile's
  PointM, PolyLineM, PolygonM and MultiPointM shapes), and so are arcs GDAL reads as straight
  segments (a curved type: ``curve_linearised``).
* Zipped Shapefile: every ``.shp`` with its ``.shx`` and ``.dbf`` (a missing one →
  ``unreadable_file`` with ``missing``); the three must agree (record counts, index offsets:
  :func:`~.containers.check_shapefile`); text decoded as :func:`~.containers.dbf_encoding` decides;
  a ``.prj`` in WKT2 (which GDAL's Shapefile driver ignores) is given to GDAL in WKT1; a polygon
  whose hole lies outside its shell is checked as written (:func:`~.containers.shp_misplaced_holes`),
  not as GDAL reorganises it (a second zone).
* Shapefile numeric fields (dBase ``N``/``F``, numbers written as text) are read as written
  (:func:`~.containers.dbf_stored_numbers`; GDAL's ``atoi`` reads ``nan`` as 0, ``1.000`` as 1,
  ``12.7`` as 12). GeoPackage numeric columns are read from SQLite as stored (GDAL would truncate them to its
  declared type), and a row whose text is not UTF-8 refuses that feature only; KML ``<Schema>``
  field types are read as text, so that the count rules see the values as written.
* GPX: layers ``waypoints``, ``routes`` and ``tracks`` (the ``*_points`` layers duplicate
  them), numbered in that order; empty tracks/routes are skipped with a warning in
  :attr:`UploadResult.warnings`. A ``<time>`` written without offset is UTC, as GPX 1.0 and
  1.1 define it. A point whose ``lat``/``lon`` or ``<ele>`` is missing (``lat``/``lon``), no
  number or out of range, or a number that is not finite (NaN, inf, 1e999), refuses its
  waypoint, route or track only (``invalid_coordinate`` / ``non_finite_number``, ``line``, ``column``, ``waypoint``/``route``/
  ``track`` its rank among its kind); elevations are dropped with a ``z_dropped`` warning. The
  description is ``<desc>``, else ``<cmt>``, else ``<name>`` (a ``<name>`` beside them, a place,
  is its first line); a ``<cmt>`` differing from the
  ``<desc>`` is not kept, with an ``attribute_dropped`` warning naming it. A track or route
  is dated by its first point's ``<time>``, with an ``observed_at_from_track`` warning naming
  its first and last times. A ``<time>`` GDAL cannot read (it nulls ``garbage``,
  ``2025-13-01T00:00:00Z``, ``30/03/2025`` silently) is read from the raw text, else dropped
  with an ``attribute_dropped`` warning carrying it, as in KML and CSV. An ``<extensions>``
  value GDAL types as a number (it reads ``1 000`` as 1, ``5 ménages`` as 5, 10²⁰ as 2³¹-1) is
  read as written (:func:`_gpx_values_as_written`), so that the count rules see it.
* Date-time fields GDAL types (KML ``<TimeStamp>``, GPX ``<time>``, GeoPackage ``DATETIME``,
  dBase ``D``) are read as text and each value is parsed alone (:func:`~.properties.parse_observed_at`):
  one rule per format whatever the other rows hold — a naive time is Brussels wall time (GPX:
  UTC), one in the DST gap or overlap is dropped with a warning.
* CSV: read with the ``csv`` module. Encoding UTF-8, UTF-16 or UTF-32 (by BOM, or UTF-16/32 by
  its NUL bytes: Excel's *Unicode text*), else UTF-8, else Windows-1252 (a file mixing UTF-8
  and Windows-1252 rows refused, naming the first row not UTF-8); lines ending in LF,
  CRLF or a lone CR; separator ``;``, ``,``, tab or ``|`` (most frequent in the header line); two
  columns standing for the same property or coordinate are refused (``duplicate_header``)
  unless ``column_map`` says which to read; a quote never closed (``unterminated_quote``) or
  text after a quoted field's closing quote (``malformed_quote``: ``"x"y`` is not read ``xy``)
  refuses the file, naming row and column; decimal point or
  comma; day-first dates; coordinates from ``lon``/``lat``, ``x``/``y`` (in ``crs``) or a WKT
  column, headers recognised in French, Dutch and English (see
  :data:`~geosignal.services.intake.properties.HEADER_ALIASES` / ``COORD_ALIASES``) or named by
  ``column_map``. Rows are numbered as a spreadsheet shows them (header = row 1): one row per
  record — a quoted cell spanning lines is one row, a blank line an empty row — whatever ends
  the lines (LF, CRLF, lone CR, or several of them in one file) and with or without a byte-order mark (or several: every
  leading one is dropped).
* CSV WKT column: read as written by :mod:`.wkt` (not GEOS, which refuses an unclosed ring
  with one message), then checked as GeoJSON is, with the same codes (``ring_not_closed``,
  ``ring_too_short``, ``line_too_short``, ``non_finite_number``, ``empty_geometry``…) plus
  ``column`` and, from the pointer, ``ring``/``polygon``/``line``/``position``. Only text that is
  not WKT is ``invalid_geometry`` ("cannot be read", with the ``character`` where reading
  stops). Any case and spacing; Z/M tags (``POINT Z``, ``POINTM``) and a third or fourth number
  are dropped with ``z_dropped``; EWKT's ``SRID=n;`` is honoured like a GeoJSON ``crs`` member
  (accepted CRSs only, agreeing with ``crs``: else ``unsupported_crs``). A GEOMETRYCOLLECTION
  is split into one report per member (``geometry_collection_split``), all with the row's
  ``index`` and ``where``, a member's error carrying ``member`` — as GeoJSON and KML files.
* Attribute values are coerced for files only (``"12"`` → 12, ``"4G, 5G"`` → list, ``Base`` →
  ``Telenet/BASE``, day-first dates). **A file attribute that still fails validation is dropped
  with an ``attribute_dropped`` warning; the report is kept** (geometry errors still refuse the
  feature, and so does a ``radius`` that cannot be read: ``invalid_attribute``, as in the API,
  rather than a circle silently become a point; and so does a numeric attribute holding a number
  that is not finite, ``NaN``, ``inf``, ``1e999``: ``non_finite_number`` naming row or feature and
  column, as a JSON NaN is refused). A list naming a value twice is such a failure. Every attribute is checked: each failure has its own warning with ``name``,
  ``column`` (and ``pointer`` in GeoJSON). A refused feature's error carries ``errors``: the
  refusal first, then every attribute fault of that feature. Free text with control characters,
  direction overrides or unpaired surrogates is refused (never stored: :mod:`geosignal.textsafety`).
  Several members or fields standing for one property must agree, else it is dropped with a
  warning naming them. A count written ``1.000`` (a thousand, or one?) is dropped, never
  guessed. Numbers are written with the ASCII digits 0-9 (as forms: :mod:`geosignal.formparse`):
  a count or date in other digits (``０１２``, ``٣``, ``¹²``) or with ``_`` is dropped with that
  warning, a coordinate refused (``invalid_coordinate``; WKT ``invalid_geometry``), a ``crs``
  ``unsupported_crs``. ``network`` is not required: the caller defaults it.
* A column read for nothing (no property nor coordinate is taken from it) is named in the
  file-level ``columns_ignored`` warning (``columns``), whatever the format: CSV headers (and
  unnamed columns, and coordinates of a kind not read), GeoJSON properties (but ``id``),
  GeoPackage/Shapefile fields, KML ExtendedData — not the fields GDAL adds itself
  (:data:`_OWN_FIELDS`: LIBKML's placemark fields, GPX's standard elements).
* An upload holds at most ``Limits.max_upload_features`` features (a row, a placemark, a GPX
  waypoint, route or track, a record; each member of a collection split into reports) and
  ``Limits.max_upload_vertices`` positions in all: a 5 MB zip of 1,000,000 points (43 MB
  inflated, under the archive limit) made a preview run 31 s and 1.7 GB. Each is counted
  before the features are read where the file says it (see :func:`read_upload`) and refused
  whole, 413 ``too_many_features`` / ``too_many_upload_vertices``, nothing read further.
* Per-feature errors carry ``where`` = ``"feature i"`` (0-based, across layers) or ``"row n"``
  (CSV), ``index`` (0-based) and, when known, ``pointer`` (the JSON pointer inside the feature),
  ``layer`` or ``column``.
"""

from __future__ import annotations

import csv
import io
import math
import operator
import posixpath
import re
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from geosignal.errors import GeosignalError
from geosignal.services.coordinates import outside_refusal, parse_position
from geosignal.textsafety import pointer_key

from .area import DEFAULT_LIMITS, Limits, ServiceArea, too_many_features, too_many_upload_vertices
from .containers import (
    _KML_GEOMETRIES,
    _NESTED_EXT,
    PLACEMARK_FIELD,
    Archive,
    GpkgLayer,
    UndecodableText,
    XmlCheck,
    XmlFeature,
    check_gpkg,
    check_members,
    check_shapefile,
    check_xml,
    dbf_dates_as_text,
    dbf_encoding,
    dbf_stored_dates,
    dbf_stored_numbers,
    dbf_unique_names,
    gpkg_geometry,
    gpkg_geometry_blob,
    gpkg_geometry_heads,
    gpkg_layer,
    gpkg_recounted,
    gpkg_stored_values,
    html_text,
    is_junk_member,
    is_single_byte,
    open_zip,
    read_archive,
    recode_latin1,
    recode_latin1_name,
    release_freed_memory,
    shp_misplaced_holes,
    shp_positions,
    shx_entries,
    wkb_geojson,
    wkb_has_m,
    wkb_is_curve,
    xml_encoding,
    xml_for_gdal,
    xml_root,
    xml_utf8,
)
from .core import (
    Pending,
    collection_results,
    finish_items,
    foreign_members,
    loads_strict,
    members_ignored_warning,
    prepare_report,
    split_members,
    with_problems,
)
from .crs import ACCEPTED_EPSG, WGS84, horizontal_epsg, parse_crs
from .numbers import NON_FINITE_WORDS, too_large_integer
from .properties import (
    MAX_DESCRIPTION_CHARS,
    REPORT_PROPERTIES,
    _brief,
    _shown,
    check_file_properties,
    is_date_only,
    match_header,
    parse_observed_at,
)
from .wkt import WktSyntaxError, parse_wkt

FORMATS = ("geojson", "kml", "kmz", "gpx", "csv", "gpkg", "shapefile")
_EXTENSIONS = {
    ".geojson": "geojson", ".json": "geojson", ".kml": "kml", ".kmz": "kmz", ".gpx": "gpx",
    ".csv": "csv", ".txt": "csv", ".tsv": "csv", ".gpkg": "gpkg", ".zip": "shapefile", ".shz": "shapefile",
}
_COORD_KEYS = ("lon", "lat", "x", "y", "wkt", "position")


class UploadResult(list):
    """The per-feature results of an upload (a list of ``ReportInput | GeosignalError``) with
    file-level ``warnings`` (skipped features…), the detected ``format`` and, for CSV, the
    ``encoding`` and ``delimiter`` used."""

    def __init__(self, items=(), *, format: str | None = None) -> None:  # noqa: A002
        super().__init__(items)
        self.warnings: list[dict] = []
        self.format = format
        self.encoding: str | None = None
        self.delimiter: str | None = None
        #: CSV lon/lat or x/y columns, in file order, each with its axis (0: x or longitude,
        #: 1: y or latitude), and their CRS: a refused row's position is shown under its
        #: columns' names
        self.coordinate_columns: tuple[tuple[str, int], ...] | None = None
        self.coordinate_epsg: int | None = None
        #: KML: the placemark (as written) each feature index was read from
        self.placemarks: dict[int, XmlFeature] = {}
        #: the report properties some column (field, member) of the file stands for, whether a
        #: feature gives it a value or leaves it empty: what a row of the file says (a
        #: correction updates only these: :func:`geosignal.services.imports.import_file`)
        self.properties_read: set[str] = set()

    def read_keys(self, keys: dict[str, list[str]]) -> None:
        """Note the properties ``keys`` (:func:`_column_keys`: key → columns) read from the file."""
        self.properties_read.update(k for k, cols in keys.items() if cols and k not in _COORD_KEYS)

    # A refusal is kept without the traceback that raised it (a file of refused rows would
    # otherwise hold every row's frames), whether a reader adds it or the batch's geometry
    # checks put it in its place (finish_items).

    def append(self, item: Any) -> None:
        super().append(_detached(item))

    def __setitem__(self, index: Any, item: Any) -> None:
        super().__setitem__(index, _detached(item))


def _detached(item: Any) -> Any:
    """``item``; a ``GeosignalError`` without its traceback, context and cause."""
    if isinstance(item, GeosignalError):
        item.__traceback__ = item.__context__ = item.__cause__ = None
    return item


# --------------------------------------------------------------------------- detection

#: What a zip holds that the upload reads when sent by itself (a KML is read as a KMZ, a
#: Shapefile zipped): the person is told to unzip it (``unsupported_format``, kind ``zipped_file``).
_ZIPPED_READABLE = (".gpkg", ".geojson", ".json", ".gpx", ".csv", ".tsv")
#: A spreadsheet workbook's extensions, and the signature of the OLE2 files old Excel saves.
_SPREADSHEET_EXT = (".xlsx", ".xlsm", ".xls", ".ods")
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _is_spreadsheet(names: list[str], ext: str) -> bool:
    """Whether a zip's members (``names``) are a spreadsheet workbook's: an Office Open XML
    workbook (``[Content_Types].xml`` and ``xl/``), an OpenDocument one (``mimetype`` and
    ``content.xml``), or a zip named ``.xlsx``/``.ods``."""
    low = {n.lower() for n in names}
    return (ext in _SPREADSHEET_EXT
            or ("[content_types].xml" in low and any(n.startswith("xl/") for n in low))
            or ("mimetype" in low and "content.xml" in low))

def detect_format(data: bytes, filename: str) -> str:
    """Return one of :data:`FORMATS` from the content (sniffed) and the file name's extension.

    Raises 415 ``unsupported_format``.
    """
    name = (filename or "").lower()
    ext = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    head = data[:4096]
    if head.startswith(b"PK\x03\x04"):
        infos = check_members(open_zip(data))
        names = [i.filename for i in infos if not i.is_dir() and not is_junk_member(i.filename)]
        kmls = [n for n in names if n.lower().endswith(".kml")]
        shapes = [n for n in names if n.lower().endswith(".shp")]
        if kmls and shapes:  # which one is the upload? reading one would silently drop the other
            raise GeosignalError("unreadable_file", f"The archive holds both a Shapefile ({', '.join(shapes[:5])}) "
                                 f"and KML ({', '.join(kmls[:5])}): which one should be read cannot be told, and "
                                 "the other would be lost. Send them as separate files (the KML alone or as a KMZ, "
                                 "the Shapefile in a zip of its own).", shapefiles=shapes[:20], kml_members=kmls[:20])
        if kmls:
            return "kmz"
        if shapes:
            return "shapefile"
        nested = [n for n in names if n.lower().endswith(_NESTED_EXT)]
        if ext == ".kmz":
            raise GeosignalError("unreadable_file", "The KMZ archive holds no KML document (doc.kml).",
                                 files=names[:20])
        if _is_spreadsheet(names, ext):
            raise GeosignalError("unsupported_format", "The file is a spreadsheet workbook (XLSX, ODS), not a "
                                 "geographic file; save it as CSV (File › Save as › CSV UTF-8) and send that.",
                                 kind="spreadsheet")
        readable = [n for n in names if n.lower().endswith(_ZIPPED_READABLE)]
        if readable:  # a GeoPackage, GeoJSON, GPX or CSV zipped: not opened, the file itself is sent
            raise GeosignalError("unsupported_format", f"The zip archive holds {readable[0]!r}; unzip it and send "
                                 "that file itself.", files=names[:20], kind="zipped_file",
                                 member=readable[0].rsplit("/", 1)[-1])
        if nested:
            raise GeosignalError("unsupported_format", "The zip archive only holds other archives "
                                 f"({', '.join(nested[:5])}); archives inside archives are not opened: extract "
                                 "the inner one and send it.", files=names[:20])
        raise GeosignalError("unsupported_format", "The zip archive holds neither a KML nor a Shapefile (.shp).",
                             files=names[:20])
    if head.startswith(b"SQLite format 3\x00"):
        return "gpkg"
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text[:1] in (b"{", b"["):
        return "geojson"
    if xml_encoding(data) is not None:
        # XML in any encoding (BOM, or "<" in UTF-16/32): the root element's local name
        # decides, wherever it starts; a DOCTYPE before it is refused here already
        root, doctype = xml_root(data)
        kind = next((k for k in (root, doctype) if k and k.rsplit(":", 1)[-1].lower() in ("kml", "gpx")), None)
        if doctype is not None and (kind or ext in (".kml", ".gpx", ".xml")):
            raise GeosignalError("unsafe_xml", f"The XML file declares a DOCTYPE ({doctype!r}); such XML is refused "
                                 "before it is read.")
        if kind is not None:
            return kind.rsplit(":", 1)[-1].lower()
        if root is None:  # the prolog is not well-formed: the XML checks say where, for a KML/GPX
            low = xml_utf8(data)[:65536].lower()
            for fmt in ("kml", "gpx"):
                if ext == f".{fmt}" or b"<" + fmt.encode() in low:
                    return fmt
        raise GeosignalError("unsupported_format", "This XML file is neither KML nor GPX.")
    signature = next((what for magic, what in _BINARY_SIGNATURES if head.startswith(magic)), None)
    if signature is None and head[4:8] == b"ftyp":  # an ISO media file: a phone's HEIC photo, a video
        signature = "a HEIC image or a video"
    if signature is not None:  # (a damaged photo holds no NUL early: it was read as a CSV of one column)
        raise GeosignalError("unsupported_format", f"The file is {signature}, not a geographic file; send GeoJSON, "
                             "KML, KMZ, GPX, CSV, GeoPackage or a zipped Shapefile.", kind="not_geographic")
    if ext in _EXTENSIONS:
        fmt = _EXTENSIONS[ext]
        if fmt in ("kmz", "shapefile", "gpkg"):
            raise GeosignalError("unreadable_file", f"The file has the extension {ext} but is not a valid {fmt} file.")
        if fmt in ("kml", "gpx"):
            raise GeosignalError("unreadable_file", f"The file has the extension {ext} but holds no {fmt.upper()}.")
        return fmt
    if head.startswith(_OLE2) or ext in _SPREADSHEET_EXT:  # an old Excel workbook (.xls), or named as one
        raise GeosignalError("unsupported_format", "The file is a spreadsheet workbook (XLS, XLSX, ODS), not a "
                             "geographic file; save it as CSV (File › Save as › CSV UTF-8) and send that.",
                             kind="spreadsheet")
    if b"\x00" in head:
        raise GeosignalError("unsupported_format", f"The format of {filename!r} is not supported; send GeoJSON, "
                             "KML, KMZ, GPX, CSV, GeoPackage or a zipped Shapefile.")
    return "csv"


#: The first bytes of files that are no geographic data (photos, documents, other archives),
#: whatever their name: refused as such (``unsupported_format``), not read as a CSV.
_BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "a JPEG image"), (b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"), (b"II*\x00", "a TIFF image"), (b"MM\x00*", "a TIFF image"),
    (b"%PDF-", "a PDF document"), (b"\x1f\x8b", "a gzip archive"), (b"Rar!\x1a\x07", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
)


# --------------------------------------------------------------------------- helpers

def _relocate(err: GeosignalError, where: str, index: int, **extra: Any) -> GeosignalError:
    if err.where and err.where != where:
        err.extra.setdefault("pointer", err.where)
    err.where = where
    err.extra["index"] = index
    err.extra.update({k: v for k, v in extra.items() if v is not None})
    return err


def _file_properties(record: dict[str, Any], pointer: str | None = None) -> tuple[dict[str, Any], list[dict]]:
    """Coerce then validate file attributes, every one; drop failures with a warning each
    (``column``/``pointer`` when known: ``record`` may be a :class:`_Record`), and a property
    two columns give with different values (``conflicts`` of a :class:`_Record`), naming both."""
    properties, problems = check_file_properties(record, columns=getattr(record, "columns", None), pointer=pointer)
    for conflict in getattr(record, "conflicts", ()):
        cols, values = conflict["columns"], conflict["values"]
        given = " and ".join(f"{c!r} ({_brief(v)})" for c, v in zip(cols, values, strict=True))
        problem = {"code": "attribute_dropped", "name": conflict["name"],
                   "detail": f"{conflict['name']} was ignored: {given} both give it, with different values; keep "
                             "one of them.", "column": cols[1], "columns": cols, "value": _shown(values[1]),
                   "error": "invalid_attribute"}
        if pointer is not None:
            problem["pointer"] = f"{pointer}/{pointer_key(cols[1])}"
        problems.append(problem)
    return properties, problems


@dataclass
class ShapefileWritten:
    """What a Shapefile layer holds as written, where GDAL would read something else: its
    dBase numeric fields as text (:func:`~.containers.dbf_stored_numbers`, by field position)
    and its polygons whose holes lie outside their shell (:func:`~.containers.shp_misplaced_holes`,
    by record)."""

    numbers: dict[int, list[str | None]]
    geometries: dict[int, dict]
    #: the fields renamed for GDAL because an earlier one has their name
    #: (:func:`~.containers.dbf_unique_names`) → that name
    renamed: dict[str, str] = field(default_factory=dict)
    #: the shapes carry measures and no Z (PointM, PolyLineM, PolygonM, MultiPointM): GDAL's
    #: reading drops them without a word
    measured: bool = False


class _Record(dict):
    """A feature's attributes keyed by property name, remembering the column each came from
    (``columns``) and the properties several columns gave differently (``conflicts``)."""

    columns: dict[str, str]
    conflicts: list[dict[str, Any]]


#: The kind of coordinates each coordinate key belongs to.
_COORD_GROUP = {"lon": "lonlat", "lat": "lonlat", "x": "xy", "y": "xy", "wkt": "wkt", "position": "position"}



def check_column_map_keys(column_map: dict[str, str] | None) -> None:
    """Refuse a ``column_map`` key that is neither a report property nor a coordinate key
    (400 ``invalid_request``, ``where`` ``column_map``): the check needs no file, so an upload
    saved by a job is refused before it is queued, as a small one is."""
    for ours in column_map or {}:
        if ours not in REPORT_PROPERTIES and ours not in _COORD_KEYS:
            raise GeosignalError("invalid_request", f"column_map key {ours!r} is not a report property nor one of "
                                 f"{', '.join(_COORD_KEYS)}.", where="column_map")

def _column_keys(columns: list[str], column_map: dict[str, str] | None, *,
                 header_row: int | None = None, truncated: bool = False,
                 ignored: dict[str, None] | None = None, read: frozenset[str] | set[str] = frozenset()
                 ) -> dict[str, list[str]]:
    """Map our keys (properties and lon/lat/x/y/wkt) to the file's columns, in priority order.

    ``ignored``, when given, receives (in file order, once each) every named column mapped to
    nothing — neither a property nor a coordinate, nor one of ``read`` (the columns the
    reader reads itself, or those its format's driver adds: :data:`_OWN_FIELDS`) — for
    :func:`_columns_ignored` to tell the user: a column read for nothing never vanishes
    silently (a coordinate kind ``column_map`` did not choose, a second column for a key
    ``column_map`` named, a header no alias matches).

    Without ``header_row`` (GeoJSON members, OGR fields) several columns may stand for one key:
    the first non-empty one is read (:func:`_record`). With ``header_row`` (a CSV header, its row
    number) two columns standing for the same key — the same name but for case, accents or
    spacing (``lat``/``Lat``), or two of its aliases (``lat``/``latitude``,
    ``menages``/``households_affected``) — are refused, 422 ``duplicate_header`` naming both
    (``column``/``column_number`` the second, ``first_column``/``first_column_number`` the first,
    ``name`` the key), since one would silently hide the other. When ``column_map`` names the
    column to use for that key, the other columns standing for it are simply not read (the
    caller said which one holds it), and nothing is refused.
    """
    keys: dict[str, list[str]] = {}
    lower = {c.strip().lower(): c for c in columns}
    check_column_map_keys(column_map)
    for ours, theirs in (column_map or {}).items():
        col = theirs if theirs in columns else lower.get(str(theirs).strip().lower())
        if col is None:
            raise GeosignalError("unreadable_file", f"column_map names the column {theirs!r}, which the file does "
                                 "not have.", where="column_map", columns=list(columns), kind="unknown_column",
                                 column=str(theirs))
        if col != theirs and header_row is not None:  # matched but for case: must be one column
            same = [k for k, c in enumerate(columns) if c.strip().lower() == col.strip().lower()]
            if len(same) > 1:
                raise GeosignalError(
                    "duplicate_header", f"column_map names the column {theirs!r}, and the columns "
                    f"{_column_label(columns, same[0])!r} (column {same[0] + 1}) and {_column_label(columns, same[1])!r} "
                    f"(column {same[1] + 1}) both have that name but for case: name one exactly.",
                    where=f"row {header_row}", column=_column_label(columns, same[1]), column_number=same[1] + 1,
                    first_column=_column_label(columns, same[0]), first_column_number=same[0] + 1, name=ours,
                    kind="same_but_case", row=header_row)
        coordinate = next((k for k, cols in keys.items() if k in _COORD_KEYS and ours in _COORD_KEYS
                           and cols == [col]), None)
        if coordinate is not None:  # one column cannot be two coordinates
            raise GeosignalError("invalid_request", f"column_map reads the column {col!r} as both {coordinate} and "
                                 f"{ours}.", where="column_map")
        keys[ours] = [col]
    mapped = {c for cols in keys.values() for c in cols}
    # column_map choosing a kind of coordinates (lon/lat, x/y, wkt or position) leaves the other kinds
    # unread (a WKT chosen over lat/lon); a pair half named is completed from the headers
    chosen = {_COORD_GROUP[k] for k in (column_map or {}) if k in _COORD_GROUP}
    for k, col in enumerate(columns):
        if col in mapped:
            continue
        key = match_header(col, truncated=truncated)
        if key in _COORD_GROUP and chosen and _COORD_GROUP[key] not in chosen:
            continue
        if key and key not in (column_map or {}):
            if header_row is not None and key in keys:
                first = keys[key][0]
                n = columns.index(first) + 1
                raise GeosignalError(
                    "duplicate_header", f"The columns {_column_label(columns, n - 1)!r} (column {n}) and "
                    f"{_column_label(columns, k)!r} (column {k + 1}) both stand for {key}: one would hide the other. "
                    f"Rename or remove one, or say which one to read with column_map.", where=f"row {header_row}",
                    column=_column_label(columns, k), column_number=k + 1, first_column=_column_label(columns, n - 1),
                    first_column_number=n, name=key, kind="same_property", row=header_row)
            keys.setdefault(key, []).append(col)
    if ignored is not None:
        used = {c for cols in keys.values() for c in cols}
        for col in columns:
            if col not in used and col not in read and str(col).strip():
                ignored.setdefault(col, None)
    return keys


#: The fields GDAL's drivers add to every layer of a format (LIBKML's placemark fields, GPX's
#: standard elements): never reported by ``columns_ignored`` (a user did not write them as
#: columns). Their name and description are read (``name`` as the description when there is
#: none, as its first line when there is one); the rest are not report properties.
_OWN_FIELDS: dict[str, frozenset[str]] = {
    "kml": frozenset({"id", "Name", "description", "timestamp", "begin", "end", "altitudeMode", "tessellate",
                      "extrude", "visibility", "drawOrder", "icon"}),
    "gpx": frozenset({"ele", "time", "magvar", "geoidheight", "name", "cmt", "desc", "src", "link1_href",
                      "link1_text", "link1_type", "link2_href", "link2_text", "link2_type", "sym", "type", "fix",
                      "sat", "hdop", "vdop", "pdop", "ageofdgpsdata", "dgpsid", "number"}),
    # a Feature's identifier written among its properties (as GDAL writes the Feature's id)
    "geojson": frozenset({"id"}),
}
#: GPX elements of :data:`_OWN_FIELDS` that a person writes (a waypoint's type, source, links):
#: reported by ``columns_ignored`` when some feature gives them a value, as no report property
#: is taken from them (``<cmt>`` is the description's fallback; one that differs from
#: ``<desc>`` gets its own ``attribute_dropped`` warning).
_GPX_WRITTEN: tuple[str, ...] = ("type", "src", "link1_href", "link1_text", "link2_href", "link2_text")


#: A column of a speed test's or drive test's measurements (nPerf, Ookla, G-NetTrack exports:
#: ``Download (Mbps)``, ``Latency (ms)``, ``RSRP``, ``Débit descendant``…).
_MEASUREMENT_COLUMN = re.compile(r"(?i)download|upload|d[ée]bit|latenc|\bping\b|jitter|rsrp|rsrq|rssi|sinr|"
                                 r"\bdbm\b|mbps|kbps|mbit|snelheid|latentie")


def _columns_ignored(result: UploadResult, ignored: dict[str, None] | list[str]) -> None:
    """Add the file-level ``columns_ignored`` warning (``columns``: their names, in file
    order) to ``result`` when a column was read for nothing (:func:`_column_keys`), and
    ``measurements_not_kept`` (``columns``) when some of them hold a speed test's or drive
    test's measurements (:data:`_MEASUREMENT_COLUMN`): each row of such a file becomes a
    white-zone report, those of good coverage too (a trial saved a 6,000-row nPerf campaign
    as 6,000 reports without a word)."""
    names = list(ignored)
    if not names:
        return
    shown = ", ".join(repr(n) for n in names[:20]) + ("…" if len(names) > 20 else "")
    result.warnings.append({"code": "columns_ignored", "columns": names[:200],
                            "detail": f"{len(names)} column(s) were read for nothing: {shown}. No report property "
                                      "or coordinate was taken from them; if they matter, rename them or say what "
                                      "they hold with column_map."})
    measured = [n for n in names if _MEASUREMENT_COLUMN.search(str(n))]
    if measured:
        result.warnings.append({
            "code": "measurements_not_kept", "columns": measured[:200],
            "detail": f"The file holds measurements ({', '.join(repr(n) for n in measured[:10])}): a speed test or "
                      "drive test export. They are not kept, and every row becomes a white-zone report, those with "
                      "good coverage too: keep only the rows where coverage is missing or unusable, and add the "
                      "measurements on the report's page."})


def _present(v: Any) -> bool:
    """Whether a cell or member holds a value (not None, blank text, NaN or NaT)."""
    if v is None or (isinstance(v, str) and not v.strip()) or (isinstance(v, float) and math.isnan(v)):
        return False
    try:
        return v == v  # NaT is not equal to itself
    except Exception:  # noqa: BLE001
        return True


def _record(row: dict[str, Any], keys: dict[str, list[str]]) -> dict[str, Any]:
    """A feature's attributes by property (a :class:`_Record`), from ``row`` (column → value)
    and ``keys`` (property → the columns standing for it, :func:`_column_keys`).

    When several columns stand for one property (GeoJSON members, OGR fields: ``menages`` and
    ``households_affected``) and more than one holds a value, they must agree: when they do
    not, which one is meant cannot be told, and the property is left out, the disagreement kept
    in ``conflicts`` (``{"name", "columns", "values"}``) for :func:`_file_properties` to report.
    """
    rec = _Record()
    rec.columns = {}
    rec.conflicts = []
    for key, cols in keys.items():
        if key in _COORD_KEYS:
            continue
        if len(cols) == 1:
            v = row.get(cols[0])
            if _present(v):
                rec[key] = v
                rec.columns[key] = cols[0]
            continue
        given = [(col, row.get(col)) for col in cols if _present(row.get(col))]
        if not given:
            continue
        first = given[0][1]
        if all(v == first or str(v).strip() == str(first).strip() for _, v in given[1:]):
            rec[key] = first
            rec.columns[key] = given[0][0]
        else:
            rec.conflicts.append({"name": key, "columns": [c for c, _ in given], "values": [v for _, v in given]})
    return rec


# --------------------------------------------------------------------------- CSV

def _decode(data: bytes) -> tuple[str, str]:
    """Decode a CSV upload; return ``(text, encoding)``.

    A byte-order mark decides: UTF-8 (``utf-8-sig``), UTF-16 (``utf-16``: Excel's "Unicode
    text" export, tab-separated) or UTF-32 (``utf-32``), either byte order. Without one, text in
    UTF-16 or UTF-32 is recognised by its NUL bytes (ASCII characters have a NUL in every other
    byte, or in three of four): ``utf-16-le``, ``utf-16-be``, ``utf-32-le``, ``utf-32-be``.
    Otherwise UTF-8, else Windows-1252 — unless a line is UTF-8 beyond ASCII: a file mixing
    both is refused (:func:`_refuse_mixed_encodings`), never read as mojibake; nor a file in
    another code page (Mac Roman: :func:`_refuse_not_cp1252`, 422 ``undecidable_encoding``). Bytes that are not valid in the encoding the mark or the NUL pattern declares
    raise 422 ``unreadable_file`` naming the row (``where``) and the byte offset."""
    codec = None
    for bom, name, with_bom in ((b"\xff\xfe\x00\x00", "utf-32-le", "utf-32"),
                                (b"\x00\x00\xfe\xff", "utf-32-be", "utf-32"),
                                (b"\xef\xbb\xbf", "utf-8", "utf-8-sig"),
                                (b"\xff\xfe", "utf-16-le", "utf-16"), (b"\xfe\xff", "utf-16-be", "utf-16")):
        if data.startswith(bom):
            codec, label, body = name, with_bom, data[len(bom):]
            break
    else:
        head = data[:4096]
        if b"\x00" in head:  # cheap on the normal path: a text file holds no NUL
            quarter = max(len(head) // 4, 1)
            nuls = [head[i::4].count(0) / quarter for i in range(4)]
            many, few = (lambda *v: min(v) >= 0.5), (lambda *v: max(v) <= 0.1)
            for name, test in (("utf-32-le", few(nuls[0]) and many(*nuls[1:])),
                               ("utf-32-be", few(nuls[3]) and many(*nuls[:3])),
                               ("utf-16-le", few(nuls[0], nuls[2]) and many(nuls[1], nuls[3])),
                               ("utf-16-be", few(nuls[1], nuls[3]) and many(nuls[0], nuls[2]))):
                if test:
                    codec = label = name
                    body = data
                    break
    if codec is not None:
        try:
            return body.decode(codec), label
        except UnicodeDecodeError as exc:
            done = body[:exc.start].decode(codec, errors="replace")
            directive = SEP_DIRECTIVE.match(done)
            row = _row_at(done, len(done), "\n" if "\n" in done or "\r" not in done else "\r") - bool(directive)
            raise GeosignalError("unreadable_file", f"The file is {label} text (by its "
                                 f"{'byte-order mark' if body is not data else 'NUL bytes'}) but byte "
                                 f"{exc.start + len(data) - len(body):,} (row {row}) is not valid {codec}: "
                                 f"{exc.reason}; save it again as UTF-8.", where=f"row {row}", encoding=label,
                                 kind="invalid_bytes", row=row,
                                 offset=exc.start + len(data) - len(body)) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        _refuse_mixed_encodings(data, exc.start)
    _refuse_not_cp1252(data)
    return data.decode("cp1252"), "cp1252"


#: Windows-1252 symbols standing where a Mac Roman file has letters, read as Windows-1252: in a
#: word (``RŽseau`` for « Réseau », ``c‰ble`` « câble », ``c™te`` « côte », ``na•f`` « naïf »,
#: ``Ž`` ``Š`` ``Ÿ`` before a small letter), ``ˆ`` as a word (« à ») and ``ƒ`` opening one
#: (« École »). Windows-1252 text holds none of these (its € ’ “ ” – — … œ are not among them).
_MAC_ROMAN_SIGN = re.compile(r"(?<=[^\W\d_])(?:[ˆ‰™ƒ†‡•‹›„‚˜]|[ŽŠŸ](?=[a-zß-ÿ]))(?=[^\W\d_])"
                             r"|(?<![\w])ˆ(?![\w])|(?<![\w])ƒ(?=[^\W\d_])")


def _refuse_not_cp1252(data: bytes) -> None:
    """Refuse a CSV that is neither UTF-8 nor Windows-1252 (``data``: not UTF-8), whose
    encoding therefore cannot be decided — Mac Roman above all, as Excel for Mac saves « CSV »:
    read as Windows-1252, « Réseau » became ``RŽseau`` (an unknown column, ignored) and
    « câble » ``c‰ble`` (a dropped value), and a row's meaning changed. Two signs: a byte that
    Windows-1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D: Mac Roman's ç è ê ù), and a
    Windows-1252 symbol standing where a letter is (:data:`_MAC_ROMAN_SIGN`).

    Raises 422 ``undecidable_encoding`` (``kind`` ``csv``) naming the first such place: its row
    (``where``), its cell's ``column``/``column_number``, the byte ``offset`` and the
    ``text`` around it as Windows-1252 reads it. Returns for a Windows-1252 file."""
    text = data.decode("cp1252", errors="replace")  # one character per byte: an index is an offset
    undefined = text.find("\ufffd")
    sign = _MAC_ROMAN_SIGN.search(text)
    if undefined < 0 and sign is None:
        return
    bad = min(i for i in (undefined, sign.start() if sign else -1) if i >= 0)
    row, column, k = _cell_at(data, bad)
    shown = text[max(bad - 12, 0):bad + 12].split("\n")[-1 if bad > 12 else 0].replace("\ufffd", "?")
    why = (f"byte 0x{data[bad]:02X}, which Windows-1252 leaves undefined" if bad == undefined else
           f"{text[bad]!r} where a letter belongs")
    raise GeosignalError(
        "undecidable_encoding", f"The file is neither UTF-8 nor Windows-1252: row {row} (byte {bad:,}, column "
        f"{column!r}) holds {why} ({shown.strip()!r}), as a Mac Roman file (Excel for Mac) reads. Its encoding "
        "cannot be decided, and read either way its text would be stored garbled: save the file again as "
        "« CSV UTF-8 ».", where=f"row {row}", column=column, column_number=k + 1, offset=bad, kind="csv")


def _cell_at(data: bytes, bad: int) -> tuple[int, str, int]:
    """The cell of a CSV (``data``, not decoded) holding byte ``bad``: ``(row, column, k)``,
    the row as a spreadsheet numbers it (Excel's ``sep=`` line is no row), the column as
    :func:`_column_label` names it and its 0-based index ``k``."""
    sep = b"\n" if b"\n" in data or b"\r" not in data else b"\r"
    row = _row_at(data, bad, sep)
    start = _record_start(data, bad, sep)
    lines = data.split(sep, 2)
    directive = SEP_DIRECTIVE.match(lines[0].decode("cp1252", errors="replace") + "\n")
    header_line = lines[1] if directive and len(lines) > 1 else lines[0]
    try:
        header_text = header_line.decode("utf-8").strip("\r")
    except UnicodeDecodeError:  # as Windows-1252 reads it (the detail shows the cell so)
        header_text = header_line.decode("cp1252", errors="replace").strip("\r")
    delim = directive.group(1) if directive else _delimiter(header_text)
    header = [h.strip() for h in next(csv.reader([header_text], delimiter=delim), [])]
    before = re.sub(r'"[^"]*(?:"|$)', "", data[start:bad].decode("cp1252", errors="replace"))  # quoted: no cells
    k = before.count(delim)
    return row - bool(directive), _column_label(header, k), k


def _refuse_mixed_encodings(data: bytes, bad: int) -> None:
    """Refuse a CSV that is not all UTF-8 (``bad``: the offset of the first byte that is not)
    but holds a line that is UTF-8 text beyond ASCII: a UTF-8 export later edited in an
    editor saving Windows-1252. Read whole as either encoding, the other rows' accents would
    be stored garbled (``rÃ©seau``). Raises 422 ``unreadable_file`` naming the first row that
    is not UTF-8 (``where``, its cell's ``column``/``column_number``, the byte ``offset``) and
    the first row in UTF-8 (``utf8_row``). Returns when no line is UTF-8 beyond ASCII (a
    Windows-1252 file)."""
    sep = b"\n" if b"\n" in data or b"\r" not in data else b"\r"
    utf8_row = None
    at = 0
    for line in data.split(sep):
        if max(line, default=0) >= 0x80:
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                at += len(line) + 1
                continue
            utf8_row = _row_at(data, at + len(line), sep)  # the row its UTF-8 text is in
            break
        at += len(line) + 1
    if utf8_row is None:
        return
    row, column, k = _cell_at(data, bad)
    if SEP_DIRECTIVE.match(data.split(sep, 1)[0].decode("cp1252", errors="replace") + "\n"):  # not a row
        utf8_row -= 1
    raise GeosignalError(
        "unreadable_file", f"The file mixes two encodings: row {row} (byte {bad:,}, column "
        f"{column!r}) is not UTF-8 (Windows-1252?), while row {utf8_row} is UTF-8. Read either "
        "way, the accents of the other rows would be stored garbled; save the whole file again as UTF-8.",
        where=f"row {row}", column=column, column_number=k + 1, offset=bad, utf8_row=utf8_row,
        kind="mixed_encodings", row=row)


_QUOTED = re.compile(r'"[^"]*(?:"|$)')
_QUOTED_BYTES = re.compile(rb'"[^"]*(?:"|$)')


def _record_start(data: bytes, end: int, sep: bytes) -> int:
    """The offset where the record holding offset ``end`` of ``data`` starts: just after the
    last line end before ``end`` outside double quotes (a quoted cell spanning lines is one
    record, as :func:`_row_at` counts them)."""
    start = 0
    for m in re.finditer(_QUOTED_BYTES.pattern + b"|" + re.escape(sep), data[:end]):
        if m.group() == sep:
            start = m.end()
    return start


def _row_at(text: str | bytes, end: int, sep: str | bytes) -> int:
    """The row (1-based, as a spreadsheet numbers them) that offset ``end`` of ``text`` is in:
    1 + the line ends before it outside double quotes (a quoted cell spanning lines is one
    row)."""
    quoted = _QUOTED_BYTES if isinstance(text, bytes) else _QUOTED
    return 1 + quoted.sub(b"" if isinstance(text, bytes) else "", text[:end]).count(sep)


def _delimiter(first_line: str) -> str:
    counts = {}
    for d in (";", ",", "\t", "|"):
        # count outside double quotes
        counts[d] = len(re.findall(re.escape(d), re.sub(r'"[^"]*"', "", first_line)))
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


#: A coordinate whose whole part is grouped in thousands by spaces ("155 349,5"; no-break and
#: narrow no-break spaces too). Spaces elsewhere ("155 34 9", "50,410 8") are not one number.
_SPACE_GROUPED = re.compile(r"[+-]?[0-9]{1,3}(?:[ \u00a0\u202f][0-9]{3})+(?:[.,][0-9]+)?", re.ASCII)


#: A number whose thousands are grouped by points before a decimal comma, as a Belgian
#: spreadsheet shows a Lambert coordinate ("155.286,40").
_DOT_GROUPED = re.compile(r"[+-]?[0-9]{1,3}(?:\.[0-9]{3})+,[0-9]+", re.ASCII)


def _csv_number(text: str, where: str, column: str, index: int) -> float | None:
    s = (text or "").strip()
    if not s:
        return None
    if re.search(r"[ \u00a0\u202f]", s):
        if not _SPACE_GROUPED.fullmatch(s):  # "155 34 9" was read 155349, "50,410 8" 50.4108
            raise GeosignalError("invalid_coordinate", f"Column {column!r} holds {s!r}, not one number: a space may "
                                 "only separate groups of three digits (155 349).", where=where, index=index,
                                 column=column, value=s, kind="spaced_number")
        s = re.sub(r"[ \u00a0\u202f]", "", s)
    if s.lower() in NON_FINITE_WORDS:
        raise GeosignalError("non_finite_number", f"Column {column!r} holds {text.strip()!r}, not a finite number.",
                             where=where, index=index, column=column, value=text.strip(), kind="coordinate_cell")
    if "," in s and "." not in s:
        s = s.replace(",", ".")
    if not s.isascii() or "_" in s:  # float() reads "５０.４１" as 50.41 and "4_44" as 444
        other = any(c.isdigit() for c in s if not c.isascii())
        raise GeosignalError("invalid_coordinate", f"Column {column!r} holds {text.strip()!r}, not a number"
                             + (" written with the digits 0-9." if other else "."),
                             where=where, index=index, column=column, value=text.strip(), kind="not_a_number")
    if _DOT_GROUPED.fullmatch(s):  # as Excel shows a Lambert value ("155.286,40"): said, not guessed
        raise GeosignalError("invalid_coordinate", f"Column {column!r} holds {text.strip()!r}: points group its "
                             f"thousands; write it without them ({s.replace('.', '')}).", where=where, index=index,
                             column=column, value=text.strip(), kind="thousands_points",
                             written=s.replace(".", ""))
    try:
        v = float(s)
    except ValueError:
        raise GeosignalError("invalid_coordinate", f"Column {column!r} holds {text.strip()!r}, not a number.",
                             where=where, index=index, column=column, value=text.strip(),
                             kind="not_a_number") from None
    if not math.isfinite(v) and too_large_integer(s):
        raise GeosignalError("invalid_coordinate", f"Column {column!r} holds a number of {too_large_integer(s):,} "
                             "digits: far too large for a coordinate.", where=where, index=index, column=column,
                             value=text.strip()[:20] + "…")
    if not math.isfinite(v):
        raise GeosignalError("non_finite_number", f"Column {column!r} holds {text.strip()!r}, not a finite number.",
                             where=where, index=index, column=column, value=text.strip(), kind="coordinate_cell")
    return v


#: The warnings of a row that has none: one shared list, replaced (never appended to) when a
#: row gets one.
_NO_WARNINGS: list[dict] = []


def _lines(text: str, sep: str | None = None) -> Iterator[str]:
    """Yield the lines of ``text`` with their ends, as a file opened with ``newline=""``
    would (what the csv module wants), without copying the text (``io.StringIO`` holds 4
    bytes per character). Lines end at ``sep``; by default ``"\\n"`` (LF and CRLF files), or
    ``"\\r"`` for the files that end lines with a lone CR (Excel for Mac) — a text holding no
    LF but a CR."""
    if sep is None:
        sep = "\n" if "\n" in text or "\r" not in text else "\r"
    start, size = 0, len(text)
    while start < size:
        end = text.find(sep, start)
        if end < 0:
            yield text[start:]
            return
        yield text[start:end + 1]
        start = end + 1


def _position_cell(cell: str, where: str, column: str, area: ServiceArea | None,
                   caller_epsg: int | None) -> tuple[float, float, GeosignalError | None]:
    """Read a CSV cell holding both coordinates (« 50.4108, 4.4446 » as Google Maps copies a
    place; « 50°24'38.9"N 4°26'38.4"E »; Lambert « 155349 122215 »), as the map form reads
    typed coordinates (:func:`geosignal.services.coordinates.parse_position`; the system
    ``caller_epsg`` names, else the one the values' magnitudes say).

    Return ``(lon, lat, None)`` in EPSG:4326, or ``(nan, nan, fault)``: ``empty_geometry``
    (kind ``no_coordinates``) for an empty cell; ``unreadable_coordinates``,
    ``ambiguous_coordinates`` (both orders fall in Belgium and in a commune of ``area``:
    never a silent swap) or ``outside_service_area`` (neither order falls in Belgium; or, with
    ``hint`` ``axes_swapped`` and ``swapped_commune``, the order read lies outside the communes
    and the other in one: labels fix the order read, Lambert without labels is read x then y),
    each with kind ``position_cell``, ``column`` and the cell as ``value``; ``unsupported_crs``.
    """
    if not cell.strip():
        return math.nan, math.nan, GeosignalError("empty_geometry", "The row has no coordinates.", where=where,
                                                  kind="no_coordinates")
    text = f"EPSG:{caller_epsg} {cell}" if caller_epsg is not None else cell
    try:
        try:
            found = parse_position(text)
        except GeosignalError as exc:
            if exc.code not in ("ambiguous_coordinates", "outside_service_area") or area is None:
                raise
            # the order that falls in a commune served; outside them, the refusal says whether
            # the other order would be in one (hint axes_swapped), as the map form's field does
            found = parse_position(text, commune_at=area.commune_at)
            if found.order == "y_x" and found.crs != WGS84:
                # Lambert is written x then y: that reading lies outside the communes, only the
                # swapped one in a commune — refused with the hint, never swapped silently
                written = [(False, p) for p in getattr(exc, "readings", ()) if p.order == "x_y"]
                if written:
                    raise outside_refusal(written, area.commune_at) from None
        if (area is not None and found.crs != WGS84 and found.commune is None
                and area.commune_at(found.lon, found.lat) is None):
            # Lambert metres in an order fixed by labels (« x=125000 y=155000 »), outside the
            # communes: the hint when swapped they would be in one (the batch's own check swaps
            # degrees only); else the intake refuses it as any position. Degrees, every row of
            # a drive test, are looked up once, set-wise, by the batch
            refused = outside_refusal([(False, found)], area.commune_at)
            if refused.extra.get("hint"):
                raise refused
        return found.lon, found.lat, None
    except GeosignalError as exc:
        fault = GeosignalError(exc.code, f"Column {column!r} ({cell[:60]!r}): {exc.detail}", where=where,
                               column=column, value=cell[:60])
        if exc.code != "unsupported_crs":
            fault.extra["kind"] = "position_cell"
        for name in ("candidates", "hint", "swapped_commune", "axes_order"):
            if name in exc.extra:
                fault.extra[name] = exc.extra[name]
        return math.nan, math.nan, fault


def _plain_number(cell: str) -> float | None:
    """A finite number written plainly (decimal point or comma), else None: the caller then
    reads the cell with :func:`_csv_number`, which also names what is wrong. ASCII digits only:
    ``float()`` would also read ``５０.４１``, ``٣`` and ``4_44``."""
    if not cell.isascii() or "_" in cell:
        return None
    if "," in cell:
        if "." in cell:
            return None
        cell = cell.replace(",", ".")
    try:
        v = float(cell)
    except ValueError:
        return None
    return v if v - v == 0.0 else None


_WKT_POINTER = re.compile(r"/geometry(?:/geometries/(\d+))?/coordinates((?:/\d+)*)")


def _wkt_cell(cell: str, where: str, column: str, epsg: int,
              caller_epsg: int | None) -> tuple[dict | None, int, GeosignalError | None]:
    """Read a CSV row's WKT cell (:func:`~.wkt.parse_wkt`); return ``(geometry as written,
    EPSG to read it in, fault)``. Only text that is not WKT is ``invalid_geometry`` ("cannot be
    read", with the ``character`` where reading stopped); the geometry's faults are left to
    :func:`~.core.prepare_report`, which gives them the GeoJSON path's codes. An EWKT
    ``SRID=n;`` is honoured as a GeoJSON ``crs`` member is: one of the accepted CRSs
    (``unsupported_crs`` otherwise), agreeing with the ``crs`` the caller gave
    (``unsupported_crs`` with ``requested`` and ``member`` otherwise)."""
    if not cell.strip():
        return None, epsg, GeosignalError("empty_geometry", "The row has no geometry.", where=where, column=column,
                                          kind="no_wkt")
    try:
        geometry, srid = parse_wkt(cell)
    except WktSyntaxError as exc:
        return None, epsg, GeosignalError(
            "invalid_geometry", f"The WKT in column {column!r} cannot be read: {exc}.", where=where, column=column,
            character=exc.character)
    if srid is None:
        return geometry, epsg, None
    if srid not in ACCEPTED_EPSG:
        return None, epsg, GeosignalError(
            "unsupported_crs", f"The EWKT in column {column!r} says SRID={srid}; use EPSG:4326, EPSG:31370 or "
            "EPSG:3812.", where=where, column=column, member=f"EPSG:{srid}",
            accepted=[f"EPSG:{c}" for c in ACCEPTED_EPSG])
    if caller_epsg is not None and srid != caller_epsg:
        return None, epsg, GeosignalError(
            "unsupported_crs", f"The request says EPSG:{caller_epsg} but the EWKT in column {column!r} says "
            f"SRID={srid}.", where=where, column=column, requested=f"EPSG:{caller_epsg}", member=f"EPSG:{srid}")
    return geometry, srid, None


def _wkt_part(err: GeosignalError, geometry: dict) -> GeosignalError:
    """Say in a WKT geometry's error which part the fault is in: from its pointer, ``ring``
    (0: the exterior, as in GeoJSON), ``polygon`` or ``line`` (in a Multi*) and ``position``
    (0-based), and the same in words (1-based) at the end of ``detail``."""
    m = _WKT_POINTER.fullmatch(err.extra.get("pointer", err.where) or "")
    if m is None:
        return err
    if m.group(1) is not None:
        geometry = geometry["geometries"][int(m.group(1))]
    steps = [int(k) for k in m.group(2).split("/")[1:]]
    names = {"Polygon": ("ring", "position"), "MultiPolygon": ("polygon", "ring", "position"),
             "LineString": ("position",), "MultiLineString": ("line", "position"),
             "MultiPoint": ("point",)}.get(geometry.get("type"), ())
    words = []
    for name, k in zip(names, steps, strict=False):
        err.extra[name] = k
        words.append("exterior ring" if name == "ring" and k == 0 else
                     f"hole {k}" if name == "ring" else f"{name} {k + 1}")
    if words:
        err.detail = f"{err.detail} In the WKT: {', '.join(words)}."
    return err


def _wkt_report(geometry: dict, gptr: str, props: dict[str, Any], warnings: list[dict], where: str, index: int,
                column: str, epsg: int, limits: Limits, member: int | None = None,
                whole: dict | None = None) -> Pending:
    """:func:`~.core.prepare_report` for a CSV row's WKT geometry: its errors, now or in the
    batch, name the row, the column and (:func:`_wkt_part`) the ring."""
    extra = {"column": column} if member is None else {"column": column, "member": member}
    try:
        return prepare_report(geometry, gptr, props, limits=limits, epsg=epsg, warnings=warnings,
                              source_index=index, locate=(where, index, extra))
    except GeosignalError as err:
        raise _wkt_part(_relocate(err, where, index, **extra), whole or geometry) from None


def _wkt_collection(geometry: dict, props: dict[str, Any], warnings: list[dict], where: str, index: int,
                    column: str, epsg: int, limits: Limits, result: UploadResult) -> None:
    """Split a row's WKT GEOMETRYCOLLECTION into one report per member, as every file reader
    does (the intake's decision): the same properties, the ``geometry_collection_split``
    warning, the row's ``index`` on each, and a member's error (``member``, pointer
    ``/geometry/geometries/k``) refusing that member only. An empty collection is
    ``empty_geometry``; a collection inside it is refused as in GeoJSON."""
    members = geometry["geometries"]
    if not members:
        raise GeosignalError("empty_geometry", "The GEOMETRYCOLLECTION is empty.", where=where, column=column)
    for k, (member, (member_props, split)) in enumerate(
            zip(members, split_members(props, members, "a GEOMETRYCOLLECTION"), strict=True)):
        try:
            result.append(_wkt_report(member, f"/geometry/geometries/{k}", member_props, [*warnings, split], where, index,
                                      column, epsg, limits, member=k, whole=geometry))
        except GeosignalError as err:
            if any(w.get("code") == "attribute_dropped" for w in warnings):
                err = _with_problems(err, warnings)
            result.append(err)


def _read_csv(data: bytes, *, area, limits, epsg, repair, column_map, result: UploadResult,
              caller_epsg: int | None = None) -> None:
    """Read a CSV upload into :class:`~.core.Pending` rows (geometry checks are left to the
    batch). File-level structure faults raise 422 naming row and column: ``duplicate_header``
    (a name given twice, or two columns standing for the same property or coordinate: see
    :func:`_column_keys`), ``unterminated_quote`` (whatever ends the lines: LF, CRLF or a lone
    CR, and at the end of the file), ``malformed_quote`` (text after a quoted field's closing
    quote: :func:`_check_quotes`), ``field_too_long`` (beyond :data:`MAX_FIELD_CHARS`, header
    included, or ``limits.max_vertices × 50`` characters in a WKT column). Text is decoded by
    :func:`_decode` (UTF-8, UTF-16, UTF-32, Windows-1252); Excel's ``sep=;`` first line names the
    separator and is not a row. A row with a value beyond the named columns (an unquoted
    separator inside a text) is refused (``unreadable_file``, its cell's ``column_number``). A
    refused row names every fault it has: the first as the error, all of them (each coordinate
    column, then each attribute) in its ``errors``."""
    text, encoding = _decode(data)
    # a second byte-order mark (a file saved with a BOM, then again by a tool that adds one)
    # would make the first header "\ufefflat": every leading one is no text
    text = text.lstrip("\ufeff")
    result.encoding = encoding
    if not text or text.isspace():  # e.g. a UTF-16 file holding only its mark or blanks
        raise GeosignalError("no_features", "The CSV file is empty.")
    directive = SEP_DIRECTIVE.match(text)
    if directive:  # Excel's "sep=;" line names the separator; Excel does not show it as a row
        text = text[directive.end():]
    if "\r" in text and "\n" in text and _LONE_CR.search(text):
        # lines ending in a lone CR among LF or CRLF ones (rows pasted from Excel for Mac): each
        # ends a line too, as in a file read with universal newlines (a lone CR in a quoted
        # cell is then its line break, LF)
        text = _LONE_CR.sub("\n", text)
    sep = "\n" if "\n" in text or "\r" not in text else "\r"  # LF or CRLF; a lone CR (Excel for Mac)
    end = text.find(sep)
    first = text if end < 0 else text[:end]
    delim = directive.group(1) if directive else _delimiter(first)
    result.delimiter = delim
    # strict: a quoted field must end at its closing quote ("x"y would otherwise be read xy)
    reader = csv.reader(_lines(text, sep), delimiter=delim, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise GeosignalError("no_features", "The CSV file is empty.") from None
    except csv.Error as exc:
        _check_quotes(text, 1, delim, [], sep, row=1, malformed=True)  # (strict read: names the quoting fault)
        raise GeosignalError("unreadable_file", f"The CSV file cannot be read: {exc}.", where="row 1",
                             kind="csv_syntax", row=1) from None
    if end < 0 or end == len(text) - 1 or any("\n" in h or "\r" in h for h in header):
        _check_quotes(text, 1, delim, [], sep)  # a quote left open in the header, or the header is all
    header = [h.strip() for h in header]
    _check_header(header, 1)  # the header is row 1, even when a quoted name spans lines
    ignored: dict[str, None] = {}
    keys = _column_keys(header, column_map, header_row=1, ignored=ignored)
    result.read_keys(keys)
    has_lonlat = "lon" in keys and "lat" in keys
    has_xy = "x" in keys and "y" in keys
    # a column holding both coordinates (« 50.4108, 4.4446 ») is read when no other kind is
    # there (beside lon/lat, x/y or a WKT it is a column read for nothing, and said so)
    pos_col = keys["position"][0] if "position" in keys and not (has_lonlat or has_xy or "wkt" in keys) else None
    if not (has_lonlat or has_xy or "wkt" in keys or pos_col):
        raise GeosignalError("unreadable_file", "No coordinate columns were recognised; say which columns hold the "
                             "coordinates (column_map with lon/lat, x/y, wkt or position).", columns=header,
                             reason="no_coordinate_columns",
                             recognised={key: cols[0] for key, cols in keys.items() if cols})
    if "wkt" in keys and (has_lonlat or has_xy):  # (unless column_map chose: then only its columns are keys)
        pair = ("lon", "lat") if has_lonlat else ("x", "y")
        raise GeosignalError("unreadable_file", f"The file gives each position twice: the columns "
                             f"{keys[pair[0]][0]!r}/{keys[pair[1]][0]!r} and the geometry column {keys['wkt'][0]!r} "
                             "(a zone and its centre?); say which to read (column_map with lon/lat, x/y or wkt).",
                             columns=header, kind="position_twice", x_column=keys[pair[0]][0],
                             y_column=keys[pair[1]][0], wkt_column=keys["wkt"][0])
    position = {name: k for k, name in enumerate(header)}
    nheader = len(header)  # the named columns: trailing empty names (";;" ending Excel's header) are none
    while nheader and not header[nheader - 1]:
        nheader -= 1
    if has_lonlat:
        cx, cy = keys["lon"][0], keys["lat"][0]
    elif has_xy:
        cx, cy = keys["x"][0], keys["y"][0]
    else:
        cx = cy = None
    px, py = (position[cx], position[cy]) if cx is not None else (-1, -1)
    wkt_col = keys["wkt"][0] if cx is None and "wkt" in keys else None
    pw = position[wkt_col] if wkt_col is not None else -1
    pp = position[pos_col] if pos_col is not None else -1
    if cx is not None:
        result.coordinate_columns = tuple(sorted(((cx, 0), (cy, 1)), key=lambda c: position[c[0]]))
        result.coordinate_epsg = epsg
    # what a refused row is shown with: its coordinate cells as written, its description
    source_cols = sorted((p, c) for c, p in ((cx, px), (cy, py), (wkt_col, pw), (pos_col, pp)) if c is not None)
    description_cols = [position[c] for c in keys.get("description", ())]
    # every column read for nothing is named in a warning: besides those no property or
    # coordinate stands for, the coordinates of a kind not read (x/y beside lon/lat, a lone
    # lat beside a WKT) and the unnamed columns before the last named one
    unread = {c for k in _COORD_KEYS for c in keys.get(k, ()) if c not in (cx, cy, wkt_col, pos_col)}
    _columns_ignored(result, [_column_label(header, k) for k, name in enumerate(header[:nheader])
                              if not name or name in ignored or name in unread])
    # properties: (key, [column positions in priority order]) in the order _record reads them
    prop_cols = [(key, [position[c] for c in cols]) for key, cols in keys.items() if key not in _COORD_KEYS]
    memo: dict[tuple[str, str], tuple[dict[str, Any], list[dict]]] = {}
    positions = sorted({p for _, cols in prop_cols for p in cols})
    last_prop = max(positions, default=-1)
    prop_cells = operator.itemgetter(*positions) if positions else (lambda _cells: ())
    rows_memo: dict[Any, tuple[dict[str, Any], list[dict]]] = {}
    wkt_limit = max(MAX_FIELD_CHARS, limits.max_vertices * 50)
    index = -1
    positions = 0  # of the WKT geometries read
    last_line = reader.line_num
    start_line = 1  # the physical line where the last record read starts (the header until a row is read)
    # Rows are numbered as a spreadsheet shows them: one per record (a quoted cell spanning
    # lines is one row, a blank line is an empty row), the header row 1 — not the file's lines.
    row = 1
    cells: list[str] = []
    try:
        for cells in reader:
            start_line = last_line + 1
            last_line = reader.line_num
            row += 1
            joined = "".join(cells)
            if len(joined) > MAX_FIELD_CHARS:
                _check_lengths(text, delim, cells, header, pw, wkt_limit, start_line, sep, row=row)
            if not joined.strip():
                continue
            index += 1
            where = f"row {row}"
            if index == limits.max_upload_features:  # one row too many: the file is refused whole, counted
                left = _rows_left(reader)
                raise too_many_features(limits.max_upload_features, None if left is None else index + 1 + left,
                                        where=where)
            read_before = len(result)
            ncells = len(cells)
            warnings: list[dict] = _NO_WARNINGS  # shared while empty (never appended to)
            # a geometry fault is raised once the row's properties are read too: every fault of
            # the row is reported together
            fault: GeosignalError | None = None
            try:
                if px >= 0:
                    cell = cells[px] if px < ncells else ""
                    x = _plain_number(cell)
                    cell = cells[py] if py < ncells else ""
                    y = _plain_number(cell)
                    if x is None or y is None:  # not two plain numbers: read both again, naming each fault
                        read: dict[str, float | None] = {}
                        faults: list[GeosignalError] = []
                        for col, p in sorted(((cx, px), (cy, py)), key=operator.itemgetter(1)):
                            try:
                                read[col] = _csv_number(cells[p] if p < ncells else "", where, col, index)
                            except GeosignalError as exc:
                                read[col] = math.nan
                                faults.append(exc)
                        x, y = read[cx], read[cy]
                        if not faults and x is None and y is None:
                            fault = GeosignalError("empty_geometry", "The row has no coordinates.", where=where,
                                                   kind="no_coordinates")
                        elif not faults and (x is None or y is None):
                            fault = GeosignalError("invalid_coordinate", "The row has only one coordinate.",
                                                   where=where, column=cx if x is None else cy,
                                                   kind="one_coordinate")
                        elif faults:
                            for col in (cx, cy):
                                if read[col] is None:
                                    faults.append(GeosignalError("invalid_coordinate", f"Column {col!r} is empty.",
                                                                 where=where, index=index, column=col,
                                                                 kind="empty_cell"))
                            faults.sort(key=lambda e: position[e.extra["column"]])
                            fault = faults[0]
                            if len(faults) > 1:
                                fault.extra["errors"] = [{"code": e.code, "detail": e.detail, "pointer": where,
                                                          "column": e.extra["column"], "row": row,
                                                          **{k: e.extra[k] for k in ("kind", "value")
                                                             if k in e.extra}} for e in faults]
                    geom_obj: Any = None
                elif pp >= 0:
                    geom_obj = None
                    x, y, fault = _position_cell(cells[pp] if pp < ncells else "", where, pos_col, area,
                                                 caller_epsg)
                else:
                    geom_obj, row_epsg, fault = _wkt_cell(cells[pw] if pw < ncells else "", where, wkt_col,
                                                          epsg, caller_epsg)
                if ncells > nheader and fault is None and any(c.strip() for c in cells[nheader:]):
                    # more cells than the header has names: an unquoted separator inside a text
                    # ("Rue de la Gare; près de l'église") would lose what follows it
                    extra = next(k for k in range(nheader, ncells) if cells[k].strip())
                    fault = GeosignalError(
                        "unreadable_file", f"The row has a value in cell {extra + 1} ({cells[extra][:60]!r}) but "
                        f"the header names {nheader} columns: a text holding the separator {delim!r} must be "
                        "quoted, or its column named.", where=where, column_number=extra + 1, kind="extra_cell",
                        value=cells[extra][:60], delimiter=delim, header_columns=nheader)
                # the properties of a row are read once per distinct set of its property cells
                row_key = prop_cells(cells) if ncells > last_prop else None
                known = rows_memo.get(row_key) if row_key is not None else None
                if known is None:
                    props: dict[str, Any] = {}
                    row_warnings: list[dict] = []
                    refusal: GeosignalError | None = None  # a cell that refuses the row (radius, NaN)
                    for key, cols in prop_cols:
                        for p in cols:
                            if p < ncells and cells[p].strip():
                                value = cells[p]
                                got = memo.get((key, p, value))
                                if got is None:
                                    try:
                                        got = memo[(key, p, value)] = check_file_properties(
                                            {key: value}, columns={key: header[p]})
                                    except GeosignalError as refused:  # every cell is still checked
                                        if refusal is None:
                                            refusal = refused
                                        else:
                                            refusal.extra["errors"] += refused.extra.get("errors", [])
                                        break
                                props.update(got[0])
                                row_warnings += got[1]
                                break
                    if refusal is not None:
                        if fault is None:
                            warnings = row_warnings or warnings  # the cells dropped join its errors
                            raise refusal
                        # a coordinate's fault first, then the cells refused and dropped: every
                        # fault of the row together
                        warnings = [{"code": "attribute_dropped", "name": e["name"], "error": e["code"],
                                     "detail": f"{e['name']} was ignored: {e['detail']}",
                                     **({"column": e["column"]} if "column" in e else {})}
                                    for e in refusal.extra["errors"]] + row_warnings
                        raise fault
                    known = (props, row_warnings)
                    if row_key is not None:
                        if len(rows_memo) > 50_000:
                            rows_memo.clear()
                        rows_memo[row_key] = known
                # shared by the rows with the same property cells (a copy each held 46 MB of a
                # 200,000-row file); the batch only adds the default network, the same for all
                props = known[0]
                if known[1]:
                    warnings = list(known[1])
                if fault is not None:
                    raise fault
                if geom_obj is None:  # a point: small objects, placed as "row n" if refused
                    result.append(Pending(None, complex(x, y), WGS84 if pp >= 0 else epsg, props, warnings,
                                          "/geometry", index, row))
                elif geom_obj["type"] == "GeometryCollection":  # split, as every file reader does
                    _wkt_collection(geom_obj, props, warnings, where, index, wkt_col, row_epsg, limits, result)
                else:
                    result.append(_wkt_report(geom_obj, "/geometry", props, warnings, where, index, wkt_col,
                                              row_epsg, limits))
            except GeosignalError as err:
                err = _relocate(err, where, index)
                err.extra.setdefault("row", row)  # (a kind's sentence names it)
                err.source = _row_source(cells, source_cols, description_cols)
                if any(w.get("code") == "attribute_dropped" for w in warnings):
                    # every fault of the row, together: its geometry faults (each coordinate
                    # column), then each attribute dropped
                    own = err.extra.pop("errors", None)
                    err = _with_problems(err, warnings)
                    if own:
                        err.extra["errors"][:1] = own
                        own[0].setdefault("pointer", where)  # a cell that refused the row: its row
                    elif "column" in err.extra:
                        err.extra["errors"][0]["column"] = err.extra["column"]
                result.append(err)
            if pw >= 0:  # a WKT cell may hold thousands of positions: counted as the rows are read
                positions += sum(1 if item.gj is None else len(item.xy) for item in result[read_before:]
                                 if isinstance(item, Pending))
                if positions > limits.max_upload_vertices:
                    raise too_many_upload_vertices(limits.max_upload_vertices, where=where)
    except csv.Error as exc:
        # the record that failed starts on the line after the last one read: a quote left open
        # or text after a closing quote is named there (row and column)
        _check_quotes(text, last_line + 1, delim, header, sep, row=row + 1, malformed=True)
        raise GeosignalError("unreadable_file", f"The CSV file cannot be read at row {row + 1} (line "
                             f"{reader.line_num} of the file): {exc}.", where=f"row {row + 1}", kind="csv_syntax",
                             row=row + 1) from None
    # A quote left open swallows the rest of the file into the last record, whatever ends the
    # lines and whether or not a line end follows it (the csv module says nothing): scan that
    # record alone, from the start of its first line (found from the end: cheap).
    offset = len(text) - 1 if text.endswith(sep) else len(text)
    for _ in range(last_line - start_line + 1):
        offset = text.rfind(sep, 0, offset)
        if offset < 0:
            break
    if text.find('"', offset + 1) >= 0:
        _check_quotes(text, start_line, delim, header if start_line > 1 else [], sep, start=offset + 1,
                      row=row if start_line > 1 else 1)


def _rows_left(reader: Iterator[list[str]]) -> int | None:
    """The rows (blank ones left out) a CSV ``reader`` has yet to give, counted without
    reading their cells: a file refused whole for its size is said with its count. None when
    the rest cannot be read (a quote never closed…)."""
    try:
        return sum(1 for cells in reader if "".join(cells).strip())
    except csv.Error:
        return None


#: The most characters of a cell a refused row is shown with (a WKT cell may be long).
_SOURCE_CELL_CHARS = 200


def _row_source(cells: list[str], source_cols: list[tuple[int, str]], description_cols: list[int]) -> dict:
    """What a CSV row the reader refused is shown with (``GeosignalError.source``): its
    coordinate cells as written, by column, and its description (the first cell of a
    description column that holds one)."""
    n = len(cells)
    source: dict[str, Any] = {"cells": {c: (cells[p] if p < n else "")[:_SOURCE_CELL_CHARS] for p, c in source_cols}}
    description = next((cells[p] for p in description_cols if p < n and cells[p].strip()), None)
    if description is not None:
        source["description"] = description[:_SOURCE_CELL_CHARS]
    return source


#: A CR that does not begin a CRLF.
_LONE_CR = re.compile(r"\r(?!\n)")
#: Excel's first-line separator directive (``sep=;``), quoted or not.
SEP_DIRECTIVE = re.compile(r'"?sep=([^\r\n"])"?[ \t]*(?:\r\n|\n|\r)', re.IGNORECASE)

#: Longest CSV field accepted (characters), twice a description's maximum; a WKT column may
#: hold ``Limits.max_vertices × 50`` characters.
MAX_FIELD_CHARS = 10_000
# Python's own cap (131,072) would stop a legitimate WKT column first; ours is checked per row.
csv.field_size_limit(max(csv.field_size_limit(), 64 * 1024 * 1024))


def _column_label(header: list[str], k: int) -> str:
    """The name of column ``k`` (0-based) as an error shows it: its header, cut to 100
    characters (a header cell may be long), or ``column n`` (1-based) when it has none."""
    if k < len(header) and header[k]:
        return header[k] if len(header[k]) <= 100 else header[k][:99] + "…"
    return f"column {k + 1}"


def _check_header(header: list[str], line: int) -> None:
    """Refuse a header cell over :data:`MAX_FIELD_CHARS` (``field_too_long``, 422, ``row 1``
    or the header's row, ``column_number``, ``value`` its length, ``limit``), and a header
    naming a column twice (``duplicate_header``, 422): the second would silently hide the
    first. Unnamed columns are ignored. Columns named differently that stand for the same
    property or coordinate are refused by :func:`_column_keys`."""
    for k, name in enumerate(header):
        if len(name) > MAX_FIELD_CHARS:
            raise GeosignalError("field_too_long", f"The header of column {k + 1} has {len(name):,} characters; "
                                 f"the limit is {MAX_FIELD_CHARS:,}.", where=f"row {line}",
                                 column=_column_label(header, k), column_number=k + 1, value=len(name),
                                 limit=MAX_FIELD_CHARS, kind="header", row=line)
    seen: dict[str, int] = {}
    for k, name in enumerate(header):
        if not name:
            continue
        if name in seen:
            raise GeosignalError("duplicate_header", f"The column {name!r} appears twice in the header (columns "
                                 f"{seen[name] + 1} and {k + 1}); rename or remove one.", where=f"row {line}",
                                 column=name, column_number=k + 1, first_column_number=seen[name] + 1,
                                 kind="same_name", row=line)
        seen[name] = k


def _check_lengths(text: str, delim: str, cells: list[str], header: list[str], wkt_position: int, wkt_limit: int,
                   line: int, sep: str = "\n", *, row: int | None = None) -> None:
    """Refuse a record with an over-long field (``field_too_long``, 422), or the quote left
    open that made it (``unterminated_quote``). ``line``: the file line where the record
    starts; ``row``: its row as a spreadsheet numbers it (default ``line``); ``sep`` ends the
    lines (as :func:`_lines`)."""
    row = line if row is None else row
    for k, cell in enumerate(cells):
        limit = wkt_limit if k == wkt_position else MAX_FIELD_CHARS
        if len(cell) > limit:
            _check_quotes(text, line, delim, header, sep, row=row)
            raise GeosignalError("field_too_long", f"A field of {len(cell):,} characters in column "
                                 f"{_column_label(header, k)!r} (row {row}) exceeds the limit of {limit:,}; "
                                 "a quote opened and closed far later can cause this.", where=f"row {row}",
                                 column=_column_label(header, k), column_number=k + 1, value=len(cell), limit=limit,
                                 kind="cell", row=row)


def _check_quotes(text: str, start_line: int, delim: str, header: list[str], sep: str = "\n", *,
                  start: int | None = None, row: int | None = None, malformed: bool = False) -> None:
    """Scan the text from line ``start_line`` (1-based) to the end and refuse it
    (``unterminated_quote``, 422, naming the row and column where the quote opened) when a
    quoted field never closes: the csv module would read the rest of the file as one field
    without complaint. Lines end at ``sep`` (``"\\n"``, or ``"\\r"`` in a file whose lines end
    with a lone CR: as :func:`_lines` reads them); ``start``, when known, is the offset of line
    ``start_line`` (else it is found by counting lines from the start). ``row``: the
    spreadsheet row of the record starting there (default ``start_line``); rows are counted
    from it, a line end inside quotes not ending a row.

    With ``malformed``, text after a quoted field's closing quote is refused too, where it
    comes first (``malformed_quote``, 422, ``where`` = ``row n``, ``column``,
    ``column_number``, ``value`` the field as written, cut to 60 characters): ``"x"y`` and
    ``"a"b"c"`` would otherwise be read ``xy`` and ``ab"c"`` (the quotes a cell holds are
    doubled inside a quoted field, ``"a""b"``)."""
    pos = 0
    if start is not None:
        pos = start
    else:
        for _ in range(start_line - 1):
            nxt = text.find(sep, pos)
            if nxt < 0:
                return
            pos = nxt + 1
    token = re.compile('["' + re.escape(sep) + re.escape(delim) + "]")
    line = start_line if row is None else row  # counts rows: line ends outside quotes
    field_start, column, opened = pos, 0, (line, 0)
    while True:
        m = token.search(text, pos)
        if m is None:
            return
        j, ch = m.start(), m.group()
        if ch == '"' and j == field_start:
            opened, field = (line, column), j
            while True:  # inside quotes: "" is an escaped quote
                close = text.find('"', j + 1)
                if close < 0:
                    row, k = opened
                    raise GeosignalError(
                        "unterminated_quote", f"A quote opened in column {_column_label(header, k)!r} of row {row} "
                        "is never closed, so the rest of the file would be read as one field.",
                        where=f"row {row}", column=_column_label(header, k), column_number=k + 1, kind="open",
                        row=row)
                if text.startswith('""', close):
                    j = close + 1
                    continue
                pos = close + 1
                break
            after = text[pos:pos + 1]
            if malformed and after and after not in (delim, sep, "\r", "\n"):
                _malformed_quote(text, field, pos, token, header, opened)
        elif ch == '"':
            pos = j + 1
        elif ch == delim:
            column += 1
            field_start = pos = j + 1
        else:
            line += 1
            column = 0
            field_start = pos = j + 1


def _malformed_quote(text: str, field: int, after: int, token: re.Pattern[str], header: list[str],
                     opened: tuple[int, int]) -> None:
    """Raise ``malformed_quote`` for the quoted field starting at offset ``field`` whose
    closing quote is followed by text at ``after`` (see :func:`_check_quotes`)."""
    stop = token.search(text, after)
    while stop is not None and stop.group() == '"':
        stop = token.search(text, stop.end())
    cell = text[field:stop.start() if stop else len(text)]
    shown = cell if len(cell) <= 60 else cell[:59] + "…"
    line, column = opened
    label = _column_label(header, column)
    raise GeosignalError(
        "malformed_quote", f"In column {label!r} of row {line}, {shown!r} has text after the quote "
        f"that closes the field ({text[after]!r}); inside a "
        'quoted field write a quote twice ("a ""b"" c"), or quote the whole field.',
        where=f"row {line}", column=label, column_number=column + 1, value=shown, kind="text_after", row=line)


# --------------------------------------------------------------------------- OGR formats

def _layer_epsg(crs_text: str | None, caller: int | None, layer: str) -> int:
    if not crs_text:
        return caller or WGS84
    code = horizontal_epsg(crs_text)
    epsg = parse_crs(code if code is not None else crs_text, where=f"layer {layer}")
    if caller is not None and caller != epsg:
        raise GeosignalError("unsupported_crs", f"The file says EPSG:{epsg} but the request says EPSG:{caller}.",
                             where=f"layer {layer}")
    return epsg


def _gpkg_crs(declared: GpkgLayer, crs_text: str | None, caller: int | None, layer: str) -> str | None:
    """The coordinate system a GeoPackage layer's coordinates are in, as text for
    :func:`_layer_epsg` (None: no declaration, the caller's ``crs`` or WGS 84 is used).

    An ``srs_id`` the file's ``gpkg_spatial_ref_sys`` does not define cannot be taken for WGS 84
    (GDAL would read it as no declaration): 422 ``unsupported_crs`` naming the layer and the id.
    The GeoPackage's undefined systems (0: geographic, -1: Cartesian) declare nothing: the
    request's ``crs`` says what they are, else 422 ``unsupported_crs`` asking for it.
    """
    if not declared.srs_defined:
        raise GeosignalError("unsupported_crs", f"Layer {layer!r} declares the coordinate system srs_id "
                             f"{declared.srs_id}, which the GeoPackage does not define (gpkg_spatial_ref_sys): its "
                             "coordinates cannot be placed. Export the layer again with its coordinate system.",
                             where=f"layer {layer}", layer=layer, srs_id=declared.srs_id)
    if declared.srs_id in (0, -1):
        if caller is not None:
            return None
        kind = "geographic" if declared.srs_id == 0 else "Cartesian"
        raise GeosignalError("unsupported_crs", f"Layer {layer!r} declares an undefined {kind} coordinate system "
                             f"(srs_id {declared.srs_id}): send crs (EPSG:4326, EPSG:31370 or EPSG:3812) to say "
                             "which one its coordinates are in.", where=f"layer {layer}", layer=layer,
                             srs_id=declared.srs_id)
    return crs_text


_SHP_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
#: The Shapefile shape types with measures and no Z (ESRI Shapefile Technical Description).
_SHP_MEASURED_TYPES = frozenset({21, 23, 25, 28})


def shp_shape_type(shp: bytes) -> int:
    """The shape type a ``.shp`` declares in its header (bytes 32–35, little-endian); the
    file was checked whole before (:func:`~.containers.check_shapefile`)."""
    return struct.unpack_from("<i", shp, 32)[0]


#: The keywords a WKT1 definition starts with (OGC 01-009 and ESRI): what GDAL's Shapefile
#: driver reads in a ``.prj``.
_WKT1_START = re.compile(r"(?:PROJCS|GEOGCS|GEOCCS|COMPD_CS|VERT_CS|LOCAL_CS)\s*\[", re.IGNORECASE)


def _check_prj(member: str, content: bytes) -> bytes:
    """A ``.prj`` declares the Shapefile's CRS: one that cannot be read must not be taken for
    no declaration (GDAL would then read the coordinates as the default, WGS 84). Returns the
    ``.prj`` to give GDAL: ``content`` itself when it is WKT1 (what GDAL reads), else (WKT2,
    which GDAL's Shapefile driver ignores) the same CRS as pyproj reads it, written as WKT1 —
    so that GDAL reads the CRS geosignal checked. Raises 422 ``unsupported_crs`` naming
    ``member`` when pyproj cannot read it or it cannot be written as WKT1."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    text = content.decode("utf-8", errors="replace").strip().lstrip("\ufeff").strip()
    if not text:  # an empty .prj declares nothing (some writers leave one): as if none were sent
        return content
    try:
        crs = CRS.from_wkt(text)
        if _WKT1_START.match(text):
            return content
        wkt1 = crs.to_wkt("WKT1_GDAL") or crs.to_wkt("WKT1_ESRI")
        if not wkt1:
            raise ValueError("no WKT1 form")  # noqa: TRY301 - refused below like an unreadable one
    except (CRSError, ValueError):
        raise GeosignalError("unsupported_crs", f"{member!r} does not declare a coordinate system that can be read "
                             f"({text[:60]!r}): fix it, or remove it and send crs.", where=member,
                             member=member) from None
    return wkt1.encode("utf-8")


def _shapefile_source(archive: Archive, limits: Limits = DEFAULT_LIMITS
                      ) -> tuple[bytes, dict[str, str], dict[str, ShapefileWritten]]:
    """Re-pack the Shapefiles of an archive at the root of a new archive (GDAL only looks
    there), one layer per ``.shp`` (names made unique when two folders hold the same name),
    and decide each layer's text encoding (:func:`~.containers.dbf_encoding`).

    Returns ``(zip bytes, {layer name: codec}, {layer name: what GDAL would read otherwise}``
    (:class:`ShapefileWritten`). Raises 422 ``unreadable_file`` (``member``,
    ``missing``) when a ``.shp`` comes without its ``.shx`` or ``.dbf``, as
    :func:`~.containers.check_shapefile` when the three disagree on the records (an index that
    lies, record counts that differ: GDAL would pair or drop records silently), and as
    :func:`~.containers.dbf_encoding`.

    The upload's limits are checked before any record is read, over all its Shapefiles: 413
    ``too_many_features`` when their indexes list more than ``limits.max_upload_features``
    records (from the ``.shx`` sizes: :func:`~.containers.shx_entries`), then
    ``too_many_upload_vertices`` when their records hold more than
    ``limits.max_upload_vertices`` positions (their headers: :func:`~.containers.shp_positions`),
    each with ``value`` (the archive's count), ``limit`` and ``where``/``member`` the ``.shp``
    where the count passes the limit.
    """
    groups: dict[str, dict[str, tuple[str, bytes]]] = {}
    for name, content in archive.members.items():
        if is_junk_member(name):
            continue
        unified = name.replace("\\", "/")
        base = unified.rsplit("/", 1)[-1]
        stem, dot, ext = base.rpartition(".")
        if not dot or not stem or "." + ext.lower() not in _SHP_PARTS:
            continue
        folder = unified[: -len(base)]
        groups.setdefault((folder + stem).lower(), {})[ext.lower()] = (name, content)
    shapefiles = [parts for parts in groups.values() if "shp" in parts]
    for parts in shapefiles:
        shp_name = parts["shp"][0]
        missing = [shp_name[: -3] + ext for ext in ("shx", "dbf") if ext not in parts]
        if missing:
            raise GeosignalError("unreadable_file", f"The Shapefile {shp_name!r} comes without "
                                 f"{' and '.join(repr(m) for m in missing)}: send the .shp, .shx and .dbf "
                                 "(and .prj) together.", member=shp_name, missing=missing)
    # a 5 MB zip may hold 1,000,000 points: counted from the indexes' sizes before any is read
    _check_members_total([(parts["shp"][0], shx_entries(parts["shx"][1]) or 0) for parts in shapefiles],
                         limits.max_upload_features, too_many_features)
    for parts in shapefiles:
        check_shapefile(parts["shp"], parts["shx"], parts["dbf"])
    _check_members_total([(parts["shp"][0], shp_positions(parts["shp"][1], parts["shx"][1])) for parts in shapefiles],
                         limits.max_upload_vertices, too_many_upload_vertices)
    out = io.BytesIO()
    encodings: dict[str, str] = {}
    numbers: dict[str, ShapefileWritten] = {}
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as dst:
        for parts in shapefiles:
            shp_name = parts["shp"][0]
            if "prj" in parts:
                parts["prj"] = (parts["prj"][0], _check_prj(*parts["prj"]))
            cpg = parts.get("cpg", (None, None))[1]
            codec, _ = dbf_encoding(parts["dbf"][1], cpg, parts["dbf"][0])
            stem = shp_name.replace("\\", "/").rsplit("/", 1)[-1][:-4]
            layer = stem
            while layer in encodings:
                layer = f"{stem}_{len(encodings)}"
            encodings[layer] = codec
            numbers[layer] = ShapefileWritten({**dbf_stored_numbers(parts["dbf"][1], parts["dbf"][0]),
                                               **dbf_stored_dates(parts["dbf"][1], parts["dbf"][0])},
                                              shp_misplaced_holes(parts["shp"][1], parts["shp"][0]))
            numbers[layer].measured = shp_shape_type(parts["shp"][1]) in _SHP_MEASURED_TYPES
            dbf, numbers[layer].renamed = dbf_unique_names(parts["dbf"][1], parts["dbf"][0], codec)
            parts["dbf"] = (parts["dbf"][0], dbf_dates_as_text(dbf, parts["dbf"][0]))
            for ext, (_, content) in parts.items():
                if ext != "cpg":  # the encoding is passed to the reader instead
                    dst.writestr(f"{layer}.{ext}", content)
    return out.getvalue(), encodings, numbers


def _check_members_total(counts: list[tuple[str, int]], limit: int, refusal: Any, key: str = "member") -> None:
    """Refuse an upload whose parts (``counts``: each ``(name, count)``, in file order: the
    ``.shp`` of an archive, the layers of a GeoPackage) hold more than ``limit`` in all:
    ``refusal`` (:func:`~.area.too_many_features` or :func:`~.area.too_many_upload_vertices`)
    with ``value`` the total, ``where`` the part where the running count passes the limit
    (``layer <name>`` for ``key`` ``layer``) and ``key`` its name."""
    total = sum(n for _, n in counts)
    if total <= limit:
        return
    running = 0
    for name, n in counts:
        running += n
        if running > limit:
            raise refusal(limit, total, where=name if key == "member" else f"{key} {name}", **{key: name})


#: A NetworkLink's target (``<href>``, any namespace prefix).
_KML_HREF = re.compile(rb"<(?:\w+:)?href>\s*([^<]+?)\s*</(?:\w+:)?href>")
#: A KML geometry element (:data:`~.containers._KML_GEOMETRIES`, any namespace prefix): a
#: document holding one has something a report can be made of.
_KML_GEOMETRY = re.compile(rb"<(?:\w+:)?(?:" + "|".join(_KML_GEOMETRIES).encode() + rb")\b")


def _linked_members(archive: Archive, document: str) -> list[str]:
    """The members of ``archive`` that the KMZ's ``document`` links to by a relative
    NetworkLink (``layers/points.kml``, as QGIS and GDAL's LIBKML driver write a KMZ: the
    document only links, each layer in a file of its own) and that hold a geometry, in link
    order. Nothing is fetched: a link out of the archive is not a member."""
    base = posixpath.dirname(document.replace("\\", "/"))
    out: list[str] = []
    for href in _KML_HREF.findall(archive.members[document]):
        target = unquote(href.decode("utf-8", errors="replace")).strip()
        if "://" in target or target.startswith("/"):
            continue
        name = posixpath.normpath(posixpath.join(base, target))
        if name in archive.members and name not in out and _KML_GEOMETRY.search(archive.members[name]):
            out.append(name)
    return out


def _kmz_document(archive: Archive, result: UploadResult) -> tuple[str, bytes]:
    """The KML document of a KMZ: ``doc.kml`` at the root, else the first ``.kml`` nearest the
    root; when that document holds no geometry but links to one member of the archive that
    does (a layer as QGIS and LIBKML write a KMZ: ``doc.kml`` → ``layers/points.kml``), that
    member. Other KML members are not read (warning ``kml_members_ignored``).

    Raises 422 ``unreadable_file`` when the archive holds no KML, and with ``kind``
    ``kmz_layers`` (``members``) when the document links to several layers of its own, each in
    its file: one layer per file is read (export each layer, or send a GeoPackage)."""
    kmls = [n for n in archive.members if n.lower().endswith(".kml") and not is_junk_member(n)]
    if not kmls:
        raise GeosignalError("unreadable_file", "The KMZ archive holds no KML document (doc.kml).")
    kmls.sort(key=lambda n: (n.lower() != "doc.kml", n.replace("\\", "/").count("/"), n))
    if not _KML_GEOMETRY.search(archive.members[kmls[0]]):
        layers = _linked_members(archive, kmls[0])
        if len(layers) > 1:
            raise GeosignalError(
                "unreadable_file", f"The KMZ keeps {len(layers)} layers in KML files of their own "
                f"({', '.join(repr(n) for n in layers)}), as QGIS and GDAL's LIBKML driver write it: export each "
                "layer to a KML or KMZ of its own, or send the whole as a GeoPackage.", kind="kmz_layers",
                members=layers, layers=", ".join(layers))
        if layers:  # the layer read; the document that only links to it is no content of its own
            kmls = [layers[0], *(n for n in kmls if n not in (layers[0], kmls[0]))]
    if len(kmls) > 1:
        result.warnings.append({"code": "kml_members_ignored", "members": kmls[1:],
                                "detail": f"Only {kmls[0]!r} was read; the other KML documents of the KMZ were "
                                          "not."})
    return kmls[0], archive.members[kmls[0]]


def _read_ogr(data: bytes, fmt: str, *, area, limits, caller_epsg, repair, column_map, result: UploadResult,
              encodings: dict[str, str] | None = None,
              dbf_numbers: dict[str, ShapefileWritten] | None = None, checked: XmlCheck | None = None) -> None:
    """Read a file GDAL reads (KML, GPX, GeoPackage, re-packed Shapefile) into ``result``.

    KML and GPX (already checked by :func:`~.containers.check_xml`, ``checked``) reach GDAL in
    UTF-8 and without their image overlays (:func:`~.containers.xml_for_gdal`), each placemark
    tagged with its rank and each GPX point GDAL would skip given a position, so that every
    feature GDAL reads is known for the feature written (its fault, its raw date). Raises 422
    ``no_features`` when nothing in the file can be a report, with the file's ``warnings``
    (e.g. the NetworkLinks not followed, the overlays left out, the empty tracks) so that the
    user learns where the content was.
    """
    import warnings

    import pyogrio

    written = checked.features if checked is not None else []
    field_names: dict[str, str] = {}  # KML data fields as the file names them, by the token GDAL reads
    if fmt in ("kml", "gpx"):
        data = xml_for_gdal(data, tag_placemarks=fmt == "kml",
                            fix_points=any(f.problem is not None and f.problem.code in ("invalid_coordinate",
                                                                                    "non_finite_number")
                                           for f in written),
                            field_names=field_names if fmt == "kml" else None)
    elif fmt == "gpkg":  # GDAL would stop at the cached feature_count: every row must be read
        data = gpkg_recounted(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # e.g. "GPKG … non conformant file extension"
        _read_ogr_layers(pyogrio, data, fmt, area=area, limits=limits, caller_epsg=caller_epsg, repair=repair,
                         column_map=column_map, result=result, encodings=encodings or {},
                         dbf_numbers=dbf_numbers or {}, xml_features=written, field_names=field_names)
    if not result:
        notes = [w for w in result.warnings if w.get("code") in ("network_link_ignored", "overlay_ignored",
                                                                  "empty_feature_skipped", "layer_without_geometry")]
        links = [w["href"] for w in notes if w["code"] == "network_link_ignored" and w.get("href")]
        detail = "The file contains no feature."
        if links:
            detail = (f"The file contains no feature of its own: its content is behind {len(links)} NetworkLink(s) "
                      f"that geosignal does not follow ({', '.join(repr(h) for h in links[:3])}"
                      f"{'…' if len(links) > 3 else ''}); download the linked file(s) and send them.")
        elif any(w["code"] == "network_link_ignored" for w in notes):
            detail = "The file contains no feature of its own, only NetworkLinks, which geosignal does not follow."
        elif any(w["code"] == "overlay_ignored" for w in notes):
            detail = "The file contains no feature, only image overlays, which are not reports."
        extra = {"warnings": list(result.warnings)} if result.warnings else {}
        raise GeosignalError("no_features", detail, format=result.format or fmt, **extra)


#: Each of :data:`FORMATS` as people write it (the pages name a file's format so: « format CSV »).
FORMAT_NAMES = {"geojson": "GeoJSON", "kml": "KML", "kmz": "KMZ", "gpx": "GPX", "csv": "CSV", "gpkg": "GeoPackage",
                "shapefile": "Shapefile"}


def _list_layers(pyogrio, data: bytes, fmt: str, result: UploadResult) -> list[tuple[int, str]]:
    """The layers to read, as (index, name): every feature layer (GPX: waypoints, routes,
    tracks); attribute-only tables are left out, and ``layers_read`` says which were read and
    which were not when there is more than one."""
    try:
        listed = pyogrio.list_layers(io.BytesIO(data))
        release_freed_memory()
    except Exception as exc:  # noqa: BLE001 - GDAL's errors vary
        raise GeosignalError("unreadable_file", f"The {FORMAT_NAMES[fmt]} file cannot be read: "
                             f"{_gdal_message(exc)}.") from None
    layers = [(i, _layer_name(str(name)), gtype) for i, (name, gtype) in enumerate(listed)]
    if fmt == "gpx":
        return [(i, name) for i, name, _ in layers if name in ("waypoints", "routes", "tracks")]
    if fmt in ("kml",):
        return [(i, name) for i, name, _ in layers]
    features = [(i, name) for i, name, gtype in layers if gtype is not None]
    tables = [name for _, name, gtype in layers if gtype is None]
    if not features:
        raise GeosignalError("no_features", f"The {FORMAT_NAMES[fmt]} has no feature layer"
                             + (f" (attribute tables only: {', '.join(tables[:10])})." if tables else "."),
                             tables=tables[:50])
    if len(features) > 1 or tables:
        result.warnings.append({"code": "layers_read", "layers": [n for _, n in features], "ignored_tables": tables,
                                "detail": f"Read the feature layer(s) {', '.join(n for _, n in features)}"
                                          + (f"; attribute tables ignored: {', '.join(tables)}." if tables else ".")})
    return features


#: Read GDAL's date-time fields as text (what GDAL parsed, written back in ISO 8601), never as
#: pandas timestamps: a column mixing naive and aware values would be re-parsed with
#: ``utc=True``, every naive value then read as UTC (and a DST-gap time stored) depending on the
#: other rows. Each value goes to :func:`~.properties.parse_observed_at` alone.
_AS_WRITTEN = {"datetime_as_string": True}
#: A date-time without offset nor ``Z``, as GDAL writes it back.
_NAIVE_ISO = r"(?a)^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)$"

#: A GPX ``<time>`` GDAL does not read as written: an offset with seconds (``+01:00:30``) or a
#: fraction of a second finer than the millisecond (see :func:`_read_ogr_layers`).
_GDAL_CUTS_TIME = re.compile(r"(?a)T[\d:]+(?:\.\d{4,}|(?:\.\d+)?[+-]\d{2}:?\d{2}:\d{2})")


#: GeoPackage column types read as SQLite stores them, not through GDAL: numbers (GDAL converts
#: them to the declared type: 2³²+5 → 5 in a MEDIUMINT, '2,500' → 2, 12.7 → 12) and dates (GDAL
#: nulls a DATETIME it cannot parse — ``2024-13-01T10:00:00Z``, ``garbage``, a number — without
#: a word, so the date rules never saw it), and text (GDAL cuts it at a NUL character, and the
#: rest was lost without a word: as stored, the text rules drop it with a warning, as in CSV).
_GPKG_AS_STORED = ("OFTInteger", "OFTInteger64", "OFTReal", "OFTDateTime", "OFTDate", "OFTString")


def _gpx_times_utc(frame, info: dict) -> None:  # noqa: ANN001 - a (Geo)DataFrame
    """Mark a GPX date-time written without offset as UTC (``Z``), in place: GPX 1.0 and 1.1
    define ``<time>`` as UTC. One rule per value, whatever the other points hold."""
    for column, kind in zip(info["fields"], info["ogr_types"], strict=True):
        if kind == "OFTDateTime" and column in frame.columns and frame[column].dtype != float:
            frame[column] = frame[column].str.replace(_NAIVE_ISO, r"\1Z", regex=True)


def geojson_of(geom: BaseGeometry) -> dict:
    """The GeoJSON geometry object of a shapely geometry GDAL read, as a file's JSON would hold
    it: an empty member of a Multi* or collection (a ``POINT EMPTY`` GDAL writes as NaN NaN in a
    GeoPackage, a Shapefile's NaN point) is an empty list, as the WKT reader gives ``EMPTY``, so
    that the checks refuse it as they refuse the same shape in GeoJSON (``invalid_coordinate``
    at its pointer). Shapely's ``mapping`` raised ``IndexError`` on it (a 500)."""
    kind = geom.geom_type
    if kind == "GeometryCollection":
        return {"type": kind, "geometries": [geojson_of(part) for part in geom.geoms]}
    if kind.startswith("Multi"):
        return {"type": kind, "coordinates": [[] if part.is_empty else mapping(part)["coordinates"]
                                              for part in geom.geoms]}
    return mapping(geom)


def _layer_name(name: str) -> str:
    return "document" if name.startswith("pyogrio_") else name  # a KML Document without a name


#: A position GDAL gives in a message (``on line 37 at offset 35``): GDAL reads the text
#: geosignal gives it (a KML/GPX rewritten by :func:`~.containers.xml_for_gdal`, a member taken
#: out of an archive), whose lines are not the user's file's: such a position is not repeated.
_GDAL_POSITION = re.compile(r"\s*,?\s*\b(?:on|at)\s+line\s+\d+(?:,?\s*(?:at\s+)?(?:offset|column)\s+\d+)?",
                            re.IGNORECASE)


#: The prefix GDAL gives the fields of a GPX's ``<extensions>`` in its own namespace
#: (``<ogr:reseau>`` → ``ogr_reseau``), as QGIS and ``ogr2ogr -dsco GPX_USE_EXTENSIONS=YES``
#: write every attribute that is no GPX element.
GPX_EXTENSION_PREFIX = "ogr_"


def gpx_extension_names(columns: list[str]) -> dict[str, str]:
    """The GPX columns GDAL read from ``<ogr:x>`` extension elements, ``{"ogr_reseau":
    "reseau"}``, to be named as the field was before GDAL wrote it (then matched as the same
    header in a CSV). A column whose name without the prefix another column has already
    (``ogr_name`` beside GPX's ``name``), or would be empty, keeps its name."""
    taken = set(columns)
    renamed: dict[str, str] = {}
    for column in columns:
        if isinstance(column, str) and column.startswith(GPX_EXTENSION_PREFIX):
            bare = column[len(GPX_EXTENSION_PREFIX):]
            if bare and bare not in taken and bare not in renamed.values():
                renamed[column] = bare
    return renamed


#: GDAL's advice to a programmer opening a path (``It might help to specify the correct driver
#: … 'CSV:path'``): geosignal chose the driver already; the person who sent the file cannot.
_GDAL_DRIVER_HINT = re.compile(r";?\s*It might help to specify the correct driver explicitly.*$", re.DOTALL)


def _gdal_message(exc: BaseException) -> str:
    """GDAL's message for ``exc``, as a detail can repeat it: the in-memory path is said
    "the file", a line/offset position (:data:`_GDAL_POSITION`) and GDAL's advice on drivers
    (:data:`_GDAL_DRIVER_HINT`) are taken off, at most 200 characters."""
    text = re.sub(r"'?/vsimem/[^' ]*'?", "the file", str(exc)).replace("the file not recognized",
                                                                        "the file is not recognized")
    text = _GDAL_DRIVER_HINT.sub("", text)
    text = _GDAL_POSITION.sub("", text).strip() or type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"


def _read_ogr_layers(pyogrio, data: bytes, fmt: str, *, area, limits, caller_epsg, repair, column_map,
                     result: UploadResult, encodings: dict[str, str],
                     dbf_numbers: dict[str, ShapefileWritten], xml_features: list[XmlFeature] | None = None,
                     field_names: dict[str, str] | None = None) -> None:
    """Read every layer :func:`_list_layers` gives into ``result``, one item per feature.
    ``field_names``: the columns to rename as the file names them (KML: token → name, from
    :func:`~.containers.xml_for_gdal`).

    The layer is read set-wise (pyogrio builds all its geometries at once). When shapely
    refuses to build one of them (an unclosed ring, a one-point line…), which fails the whole
    layer, the layer is read again as attributes plus WKB: the geometries shapely builds are
    kept, and each one it does not is decoded as written (:func:`~.containers.wkb_geojson`)
    and refused alone by the same checks as GeoJSON (``ring_not_closed``, ``ring_too_short``,
    ``line_too_short``…, with its feature index and pointer).

    GeoPackage: the numeric columns are not read through GDAL, which converts the values to the
    declared type (``MEDIUMINT`` in 32 bits: 2³²+5 → 5; text ``2,500`` → 2; 12.7 → 12), but as
    SQLite stores them (:func:`~.containers.gpkg_stored_values`), so that the count rules see
    what the file holds. Text that is not valid UTF-8 (GDAL fails the whole layer) is read
    again as bytes: a feature whose column read for a property holds such text is refused alone,
    422 ``unreadable_file`` with its ``fid`` and ``column``.

    The upload's limits, as GDAL counts the layers (each format's readers counted them before,
    from what the file says): 413 ``too_many_features`` before a layer whose features (GDAL's
    count) would pass ``limits.max_upload_features``, ``too_many_upload_vertices`` once a
    layer's geometries, built, pass ``limits.max_upload_vertices`` in all, before any of its
    features is looked at; ``where`` ``layer <name>``, ``layer``, ``limit``.
    """
    import geopandas as gpd
    import pyogrio.raw

    index = -1
    by_fid = {"fid_as_index": True} if fmt in ("gpkg", "shapefile") else {}
    xml_features = xml_features or []
    placemarks = [f for f in xml_features if f.kind == "Placemark"]
    gpx_features = {layer: [f for f in xml_features if f.kind == kind]
                    for layer, kind in (("waypoints", "wpt"), ("routes", "rte"), ("tracks", "trk"))}
    seen: set[int] = set()  # the placemarks GDAL read
    written_at: dict[int, tuple[int, int] | None] = {}  # KML, GPX: each feature index → (line, column) in the file
    positions = 0  # of the layers read
    ignored: dict[str, None] = {}  # the attribute columns read for nothing, in every layer
    for layer_index, layer in _list_layers(pyogrio, data, fmt, result):
        enc = {"encoding": encodings[layer]} if layer in encodings else {}
        # the codec each text value is decoded with after a read as Latin-1 (byte n → U+00nn):
        # UTF-8 when GDAL finds text that is not UTF-8; a single-byte dBase code page always,
        # whatever GDAL's iconv knows of it ('mac_roman' is 'MACINTOSH' there, 'mac-greek' nothing)
        recode: str | None = None
        if layer in encodings and is_single_byte(encodings[layer]):
            recode, enc = encodings[layer], {"encoding": "ISO-8859-1"}
        while True:
            raw_geometries: dict[int, bytes] = {}  # feature → WKB shapely could not build
            numeric: list[str] = []  # GeoPackage numbers: read as SQLite stores them, not through GDAL's types
            untyped: list[str] = []  # GeoPackage columns of a type GDAL leaves out (BIGINT, VARCHAR(20)…)
            only: dict[str, list[str]] = {}
            declared = None
            try:
                info = pyogrio.read_info(io.BytesIO(data), layer=layer_index, **enc)
                release_freed_memory()
                if index + 1 + max(info.get("features", 0), 0) > limits.max_upload_features:  # (as GDAL counts them)
                    raise too_many_features(limits.max_upload_features, where=f"layer {layer}", layer=layer)
                if fmt == "gpkg" and info.get("fid_column"):
                    numeric = [f for f, t in zip(info["fields"], info["ogr_types"], strict=True)
                               if t in _GPKG_AS_STORED]
                    only = {"columns": [f for f in info["fields"] if f not in numeric]} if numeric else {}
                    declared = gpkg_layer(data, info.get("layer_name") or layer)
                    untyped = [c for c in declared.columns if c not in (info["fid_column"], declared.geometry_column)
                               and c not in {recode_latin1_name(f, recode) if recode else str(f) for f in info["fields"]}]
                df = pyogrio.read_dataframe(io.BytesIO(data), layer=layer_index, **enc, **by_fid, **only,
                                            **_AS_WRITTEN)
                release_freed_memory()
            except Exception as exc:  # noqa: BLE001
                if isinstance(exc, GeosignalError) and exc.code == "too_many_features":
                    raise
                if isinstance(exc, UnicodeDecodeError) and not recode and not enc:
                    recode, enc = "utf-8", {"encoding": "latin-1"}
                    continue
                try:
                    attributes = pyogrio.read_dataframe(io.BytesIO(data), layer=layer_index, read_geometry=False,
                                                        **enc, **by_fid, **only, **_AS_WRITTEN)
                    meta, _, wkbs, _ = pyogrio.raw.read(io.BytesIO(data), layer=layer_index, columns=[],
                                                        read_geometry=True, **enc)
                    if wkbs is None or len(wkbs) != len(attributes):
                        raise ValueError("no geometry")  # noqa: TRY301 - the first error is the one to report
                    geoms = shapely.from_wkb(wkbs, on_invalid="ignore")
                    release_freed_memory()
                except UnicodeDecodeError:
                    if recode or enc:
                        raise GeosignalError("unreadable_file", f"Layer {layer!r} cannot be read: "
                                             f"{_gdal_message(exc)}.", layer=layer) from None
                    recode, enc = "utf-8", {"encoding": "latin-1"}
                    continue
                except Exception:  # noqa: BLE001
                    raise GeosignalError("unreadable_file", f"Layer {layer!r} cannot be read: {_gdal_message(exc)}.",
                                         layer=layer) from None
                raw_geometries = {k: bytes(w) for k, (w, g) in enumerate(zip(wkbs, geoms, strict=True))
                                  if w is not None and g is None}
                df = gpd.GeoDataFrame(attributes, geometry=gpd.GeoSeries(geoms, index=attributes.index),
                                      crs=meta.get("crs"))
            break
        if getattr(df, "_geometry_column_name", None) is None or df._geometry_column_name not in df.columns:
            result.warnings.append({"code": "layer_without_geometry", "layer": layer,
                                    "detail": f"Layer {layer!r} has no geometry; it was not read."})
            continue
        positions += int(df.geometry.count_coordinates().sum())
        if positions > limits.max_upload_vertices:  # before a feature is looked at
            raise too_many_upload_vertices(limits.max_upload_vertices, where=f"layer {layer}", layer=layer)
        if recode:
            df = recode_latin1(df, df.geometry.name, recode)
        renamed = dbf_numbers[layer].renamed if layer in dbf_numbers else {}
        if renamed:  # dBase fields of one name, told apart for GDAL: named back (see _unique_labels)
            df = df.rename(columns=renamed)
        if field_names:  # KML data fields named as in the file ("Réseau", not GDAL's "R__seau")
            df = df.rename(columns=field_names)
        if fmt == "kml" and "description" in df.columns:  # KML's description is HTML: its text is kept
            df["description"] = [html_text(v) if isinstance(v, str) else v for v in df["description"]]
        extension_names = gpx_extension_names(list(df.columns)) if fmt == "gpx" else {}
        if extension_names:  # QGIS/ogr2ogr's <ogr:reseau>, read 'ogr_reseau': named 'reseau', as in a CSV
            df = df.rename(columns=extension_names)
        if fmt == "gpx":
            _gpx_times_utc(df, info)
        crs_text = info.get("crs")
        if declared is not None and declared.geometry_column is not None:
            crs_text = _gpkg_crs(declared, crs_text, caller_epsg, layer)
        epsg_fixed = fmt in ("kml", "kmz", "gpx")  # WGS 84 by definition (KML 2.2, GPX 1.1)
        if epsg_fixed and caller_epsg not in (None, WGS84):
            raise GeosignalError("unsupported_crs", f"A {fmt.upper()} file holds WGS 84 longitude/latitude "
                                 f"(EPSG:4326) by definition; the request says EPSG:{caller_epsg}. Leave crs empty, or "
                                 f"send the data as GeoJSON, CSV, GeoPackage or Shapefile in EPSG:{caller_epsg}.",
                                 where="crs", kind="wgs84_only_format", format=fmt)
        epsg = WGS84 if epsg_fixed else _layer_epsg(crs_text, caller_epsg, layer)
        # a name several fields share (dBase: 'menages' twice, two long names cut to the same 10
        # bytes): each kept under a label of its own, instead of one hiding the others (pandas)
        labels, twins = _unique_labels([str(c) for c in df.columns])
        if twins:
            df.columns = labels
        columns = [c for c in df.columns if c not in (df.geometry.name, PLACEMARK_FIELD) and c not in twins]
        when_column = None
        if fmt == "kml" and any(f.observed is not None for f in placemarks):  # the raw <when>, not GDAL's reading
            when_column = next((c for c in columns if str(c).lower() == "timestamp"), None)
            if when_column is None:
                when_column = "timestamp"
                columns.append(when_column)
        heads: dict[int, bytes | None] = {}
        if declared is not None and declared.geometry_column is not None and info.get("fid_column"):
            # the blobs as stored: GDAL reads a damaged one as no geometry, and drops M a layer does not declare
            heads = gpkg_geometry_heads(data, info.get("layer_name") or layer, info["fid_column"],
                                        declared.geometry_column)
        stored: dict[str, dict[int, object]] = {}
        if numeric or untyped:  # GDAL would convert them to the declared type (32 or 16 bits, '2,500' → 2,
            # 12.7 → 12), or leave them out (a type GeoPackage does not define)
            names = {f: recode_latin1_name(f, recode) if recode else str(f) for f in info["fields"]}
            stored = gpkg_stored_values(data, info.get("layer_name") or layer, info["fid_column"],
                                        [names[f] for f in numeric] + untyped)
            columns = [names[f] for f in info["fields"] if names[f] in stored or names[f] in columns] + untyped
        written = dbf_numbers.get(layer)
        if written is not None:  # dBase numbers as written: GDAL's atoi reads 'nan' as 0, '1.000' as 1
            fields, _ = _unique_labels([renamed.get(str(f)) or (recode_latin1_name(f, recode) if recode else str(f))
                                        for f in info["fields"]])
            stored = {str(fields[k]): dict(enumerate(values)) for k, values in written.numbers.items()
                      if k < len(fields) and (fields[k] in columns or fields[k] in twins)}
        name_col = next((c for c in columns if c.lower() == "name"), None)
        keys = _column_keys(columns, column_map, truncated=fmt == "shapefile",  # dBase names: 10 bytes
                            ignored=ignored, read=_OWN_FIELDS.get(fmt, frozenset()) | {name_col})
        read_columns = {c for cols in keys.values() for c in cols} | ({name_col} if name_col else set())
        result.read_keys({**keys, **({"description": [name_col]} if name_col else {})})  # (a name: the description)
        fids = list(df.index) if by_fid else []
        # GPX <extensions> GDAL typed as numbers ('1 000' → 1.0, '5 ménages' → 5.0, 10²⁰ → 2³¹-1):
        # read as written, so that the count rules see what the file holds
        gpx_typed = [extension_names.get(c, c) for c, t in zip(info["fields"], info["ogr_types"], strict=True)
                     if t in _GDAL_NUMBERS and extension_names.get(c, c) in read_columns] if fmt == "gpx" else []
        gdal_names = {bare: column for column, bare in extension_names.items()}
        bare_names = {column.casefold(): bare.casefold() for column, bare in extension_names.items()}
        geometry_name = df.geometry.name  # (a property of the frame: read once, not per row)
        for position, row in enumerate(_records(df)):
            geom = row.pop(geometry_name, None)
            for column, values in stored.items():
                row[column] = values.get(fids[position])
            raw_geometry = raw_geometries.get(position)
            as_written = written.geometries.get(int(fids[position])) if written is not None else None
            source = _written_feature(row, fmt, layer, position, placemarks, gpx_features)
            if source is not None and gpx_typed:
                _gpx_values_as_written(row, gpx_typed, source, gdal_names)
            if (fmt == "gpx" and source is not None and source.kind == "wpt" and isinstance(row.get("time"), str)
                    and is_date_only(source.first_time)):
                # a waypoint's <time> written as a date alone (GDAL reads it as midnight, made UTC
                # above): a day in Brussels, as a date alone is in every format
                row["time"] = source.first_time.strip()
            elif (fmt == "gpx" and source is not None and source.kind == "wpt" and isinstance(row.get("time"), str)
                    and _GDAL_CUTS_TIME.search(source.first_time or "")):
                # an offset with seconds, or a fraction finer than the millisecond: GDAL drops the
                # offset's seconds (10:00:00+01:00:30 stored 09:00:00Z, where every other format
                # reads 08:59:30Z) and the fraction's last digits. Read as written (UTC when naive)
                raw = source.first_time.strip()
                row["time"] = raw if re.search(r"(?:[Zz]|[+-]\d{2}(?::?\d{2}){0,2}(?:\.\d+)?)$", raw) else raw + "Z"
            shared = _shared_name_values(row, twins, labels) if twins else {}
            if source is not None and fmt == "kml":
                seen.add(source.ordinal)
                if when_column is not None:
                    row[when_column] = source.observed
            head = heads.get(int(fids[position])) if heads else None
            blob_fault: GeosignalError | None = None
            if raw_geometry is None and head is not None and (geom is None or geom.is_empty):
                # GDAL read no geometry where one is stored: decoded here, to say what it is
                try:
                    wkb, empty = gpkg_geometry(gpkg_geometry_blob(data, info.get("layer_name") or layer,
                                                                  info["fid_column"], declared.geometry_column,
                                                                  int(fids[position])) or b"")
                except GeosignalError as err:
                    blob_fault, wkb, empty = err, b"", True
                if not empty:
                    raw_geometry = wkb
            if (raw_geometry is None and fmt == "gpx" and layer in ("tracks", "routes") and (geom is None or geom.is_empty)
                    and (source is None or source.problem is None)):
                result.warnings.append({"code": "empty_feature_skipped", "detail": f"An empty GPX {layer[:-1]} "
                                        "was skipped.", "layer": layer, "name": row.get(name_col) if name_col else None})
                continue
            index += 1
            where = f"feature {index}"
            written_at[index] = (source.line, source.column) if source is not None else None
            if source is not None and fmt == "kml":
                result.placemarks[index] = source
            problems: list[dict] = []
            try:
                undecodable = sorted(c for c in read_columns if isinstance(row.get(c), UndecodableText))
                if undecodable:
                    fid = f"fid {fids[position]}, " if by_fid else ""
                    raise GeosignalError(
                        "unreadable_file", f"Feature {index} ({fid}layer {layer!r}): the column {undecodable[0]!r} "
                        f"holds text that is not valid UTF-8 ({bytes(row[undecodable[0]])[:40]!r}); correct it, or "
                        "keep only the valid features.", where=where, column=undecodable[0], columns=undecodable,
                        **({"fid": int(fids[position])} if by_fid else {}))
                gpx_comment = _gpx_description(row, fmt, column_map)
                if fmt == "gpx":
                    for field in _GPX_WRITTEN:
                        value = row.get(field)
                        if field not in read_columns and isinstance(value, str) and value.strip():
                            ignored.setdefault(field, None)
                rec = _record(row, keys)
                if name_col and isinstance(row.get(name_col), str) and row[name_col].strip():
                    if "description" not in rec:
                        rec["description"] = row[name_col]
                        rec.columns["description"] = name_col
                    elif rec.columns.get("description") != name_col and row[name_col].strip() != str(
                            rec["description"]).strip():
                        # a placemark's or waypoint's name beside its description (« Rue du
                        # Pont-Neuf », « Église Saint-Christophe »): the description's first
                        # line; one too long for both is said, not lost unsaid
                        both = f"{row[name_col].strip()}\n{str(rec['description']).strip()}"
                        if str(rec["description"]).strip() and len(both) <= MAX_DESCRIPTION_CHARS:
                            rec["description"] = both
                        else:
                            ignored.setdefault(name_col, None)
                repeated = []
                if source is not None and source.repeated:
                    given_twice = {bare_names.get(k, k): v for k, v in source.repeated.items()}
                    repeated = _repeated_fields(rec, given_twice, keys, source.label)
                if shared:
                    repeated += _repeated_fields(rec, shared, keys, f"Feature {index} (layer {layer!r})")
                props, problems = _file_properties(rec)
                problems += repeated
                if gpx_comment is not None:
                    problems.append(gpx_comment)
                if (source is not None and fmt == "gpx" and source.first_time and "observed_at" not in rec
                        and "observed_at" not in (column_map or {})
                        and not any(p["name"] == "observed_at" for p in repeated)):
                    _track_time(props, problems, source, track=source.kind != "wpt")
                track_dated = (source is not None and fmt == "kml" and source.track and source.first_time is not None
                               and source.observed is None and not source.span and "observed_at" not in rec
                               and "observed_at" not in (column_map or {}))
                if track_dated:
                    _track_time(props, problems, source, utc_naive=False)
                if source is not None and fmt == "kml" and source.observed is not None:
                    _partial_date(problems, source.observed, "when" if source.when is not None else "TimeSpan")
                elif source is not None and fmt == "kml" and source.span:
                    problems.append(_period(source.span))
                if source is not None and source.problem is not None:
                    raise source.problem
                if blob_fault is not None:
                    raise blob_fault
                if source is not None and fmt == "kml" and 0 < source.altitudes < source.positions \
                        and source.nonzero_z:
                    # GDAL gave the 2D positions an altitude of 0: the mix is known from the file only
                    # (altitudes all 0, as Google My Maps writes them: nothing is lost, nothing said)
                    problems.append({"code": "z_dropped", "detail": "Third and further ordinates (Z, M) were dropped "
                                     "(positions mixed 2D and 3D); reports are 2D.", "mixed": True})
                track_at, read_as_line = len(problems), None
                if source is not None and fmt == "kml" and source.track:
                    times = ("its points have no time (<when>)" if not source.first_time
                             else "the times of its points (<when>) were not used: the placemark has a date of its "
                             "own" if not track_dated
                             else "the time of its first point (<when>) is its date observed" if "observed_at" in props
                             else "the time of its first point (<when>) could not be read: no date observed")

                    def read_as_line(positions: int, times: str = times) -> dict[str, Any]:
                        return {"code": "track_read_as_line", "positions": positions,
                                "detail": f"The <gx:Track> was read as a line through its {positions} position(s) "
                                          f"(<gx:coord>); {times}."}

                    problems.append(read_as_line(sum(source.tracks.values())))
                if source is not None and fmt == "gpx" and source.elevations and source.nonzero_z:
                    problems.append({"code": "z_dropped", "detail": "The elevations (<ele>) were dropped"
                                     + (" (positions mixed with and without <ele>)"
                                        if source.elevations < source.positions else "") + "; reports are 2D.",
                                     "mixed": source.elevations < source.positions})
                if ((head is not None and head[:2] == b"GP" and wkb_has_m(gpkg_geometry(head)[0]))
                        or (geom is not None and raw_geometry is None and shapely.has_m(geom))
                        or (written is not None and written.measured and geom is not None and not geom.is_empty)) and not (
                        geom is not None and geom.has_z):  # with Z, the Z/M warning of the checks says it
                    problems.append({"code": "z_dropped", "detail": "The measures (M) of the positions were dropped; "
                                     "reports are 2D.", "mixed": False, "measures": True})
                if head is not None and head[:2] == b"GP" and wkb_is_curve(gpkg_geometry(head)[0]):
                    problems.append({"code": "curve_linearised", "detail": "The shape's arcs (a curved geometry) "
                                     "were read as straight segments close to them; a report's shape is made of "
                                     "straight lines."})
                if as_written is not None:  # rings GDAL would reorganise (a hole outside its shell)
                    geom_obj = as_written
                elif raw_geometry is not None:
                    geom_obj = wkb_geojson(raw_geometry)
                elif geom is None or geom.is_empty:
                    raise GeosignalError("empty_geometry", "The feature has no geometry.", where=where)
                else:
                    geom_obj = geojson_of(geom)
                if fmt == "gpx" and geom_obj["type"] == "MultiLineString" and len(geom_obj["coordinates"]) == 1:
                    # GDAL reads every <trk> as a MultiLineString: a track of one <trkseg> is
                    # that line (the same shape; a "road stretch", editable as one)
                    geom_obj = {"type": "LineString", "coordinates": geom_obj["coordinates"][0]}
                if geom_obj["type"] == "GeometryCollection":
                    members = geom_obj["geometries"]
                    if not members:  # (a collection of nothing, its blob not flagged empty)
                        raise GeosignalError("empty_geometry", "The GeometryCollection is empty.", where=where)
                    for k, (member, (member_props, split)) in enumerate(
                            zip(members, split_members(props, members, "a mixed collection"), strict=True)):
                        said = problems
                        if read_as_line is not None and len(members) == source.geometries:
                            # a MultiGeometry's members as written: the track's warning on the
                            # track's report alone, with its own positions
                            said = [*problems[:track_at], *([read_as_line(source.tracks[k])] if k in source.tracks
                                                            else []), *problems[track_at + 1:]]
                        try:
                            result.append(prepare_report(
                                member, f"/geometry/geometries/{k}", member_props, limits=limits, epsg=epsg,
                                warnings=[*said, split], source_index=index,
                                locate=(where, index, {"layer": layer, "member": k}), wgs84_only=epsg_fixed))
                        except GeosignalError as err:
                            result.append(_with_problems(_relocate(err, where, index, layer=layer, member=k), said))
                    continue
                result.append(prepare_report(geom_obj, "/geometry", props, limits=limits, epsg=epsg, warnings=problems,
                                             source_index=index, locate=(where, index, {"layer": layer}),
                                             wgs84_only=epsg_fixed))
            except GeosignalError as err:
                result.append(_with_problems(_relocate(err, where, index, layer=layer), problems))
    for placemark in placemarks:  # a placemark GDAL did not read at all: its fault still said, after the others
        if placemark.ordinal not in seen:
            index += 1
            written_at[index] = (placemark.line, placemark.column)
            result.append(_relocate(placemark.problem or _placemark_not_read(placemark), f"feature {index}", index))
    if fmt in ("kml", "gpx"):
        _in_file_order(result, written_at)
    _columns_ignored(result, ignored)


def _in_file_order(result: UploadResult, written_at: dict[int, tuple[int, int] | None]) -> None:
    """Number the features of a KML or GPX as the file holds them, in place: GDAL reads them
    layer by layer (a KML's folders, its document's own placemarks; a GPX's waypoints, then its
    routes, then its tracks), so that the second placemark was ``feature 0`` when the first lay
    in a folder. ``written_at``: each index read → where its feature starts in the file (line,
    column); unchanged when one is not known. The items of one feature (a collection's members)
    stay together, in their order."""
    if not written_at or any(at is None for at in written_at.values()):
        return
    order = sorted(written_at, key=lambda k: (written_at[k], k))
    if order == sorted(written_at):
        return
    new_of = {old: new for new, old in enumerate(order)}

    def index_of(item: Any) -> int | None:
        return item.source_index if isinstance(item, Pending) else getattr(item, "extra", {}).get("index")

    if any(index_of(item) not in new_of for item in result):
        return
    items = sorted(result, key=lambda item: new_of[index_of(item)])
    for item in items:
        old = index_of(item)
        new = new_of[old]
        if isinstance(item, Pending):
            item.source_index = new
            where, _, extra = item.locate
            item.locate = (f"feature {new}" if where == f"feature {old}" else where, new, extra)
        else:
            item.extra["index"] = new
            if item.where == f"feature {old}":
                item.where = f"feature {new}"
    result[:] = items
    result.placemarks = {new_of[k]: v for k, v in result.placemarks.items()}


def _placemark_not_read(placemark: XmlFeature) -> GeosignalError:
    """The refusal of a placemark GDAL did not read, though it has no fault of its own: it lies
    where KML has no place for one (inside another placemark, in a ``NetworkLinkControl``'s
    update…). Such a placemark was left out without a word."""
    named = f" « {placemark.name} »" if placemark.name else ""
    return GeosignalError("unreadable_file", f"The placemark{named} (line {placemark.line}) could not be read: it lies "
                          "where KML has no place for one (inside another placemark, in an update of a network "
                          "link…). Move it into the document or one of its folders.", kind="placemark_not_read",
                          line=placemark.line)


#: Rows of a layer turned into dicts at a time (:func:`_records`).
RECORDS_CHUNK = 10_000


def _records(df: Any) -> Iterator[dict[str, Any]]:
    """The rows of ``df`` (a layer as GDAL read it) as dicts, column → value, in order, made
    :data:`RECORDS_CHUNK` at a time: all at once, they held about 650 bytes per feature of a
    KML layer (12 columns) on top of the features already read."""
    for start in range(0, len(df), RECORDS_CHUNK):
        yield from df.iloc[start:start + RECORDS_CHUNK].to_dict("records")


#: The field types GDAL gives a column it reads as numbers.
_GDAL_NUMBERS = ("OFTInteger", "OFTInteger64", "OFTReal")


def _gpx_values_as_written(row: dict, columns: list[str], source: XmlFeature,
                           gdal_names: dict[str, str] | None = None) -> None:
    """Put back, in ``row`` (a GPX feature as GDAL read it), the text as written of each of
    ``columns``, the ones GDAL typed as numbers: its GPX driver reads an ``<extensions>`` value
    with ``atof``/``atoi`` (``1 000`` → 1, ``1.000`` → 1, ``5 ménages`` → 5, ``3 avril`` → 3.0,
    10²⁰ → 2147483647) once the first values of the column look like numbers. ``gdal_names``:
    the name GDAL gave a column renamed since (``reseau`` → ``ogr_reseau``,
    :func:`gpx_extension_names`). A field the feature does not give stays empty; one given
    several times differently is dropped by :func:`_repeated_fields`."""
    for column in columns:
        given = source.fields.get(str((gdal_names or {}).get(column, column)).casefold())
        row[column] = given[-1][1] if given else None


def _written_feature(row: dict, fmt: str, layer: str, position: int, placemarks: list[XmlFeature],
                     gpx_features: dict[str, list[XmlFeature]]) -> XmlFeature | None:
    """The feature as written (:class:`~.containers.XmlFeature`) that GDAL read as ``row``: for
    KML by the rank each placemark carries (:data:`~.containers.PLACEMARK_FIELD`, taken out of
    ``row``), for GPX by its rank in its layer (GDAL reads every ``wpt``, ``rte``, ``trk`` in
    order: :func:`~.containers.xml_for_gdal` gives the points it would skip a position)."""
    if fmt == "kml":
        tag = row.pop(PLACEMARK_FIELD, None)
        try:
            rank = int(tag)
        except (TypeError, ValueError):
            return None
        return placemarks[rank] if 0 <= rank < len(placemarks) else None
    features = gpx_features.get(layer) if fmt == "gpx" else None
    return features[position] if features and position < len(features) else None


def _track_time(props: dict, problems: list[dict], source: XmlFeature, *, track: bool = True,
                utc_naive: bool = True) -> None:
    """A GPX track or route (or a KML ``<gx:Track>``) without a date of its own is dated by its
    first point's ``<time>`` (``<when>``) (GPX: UTC when written without offset, as GPX defines
    it; KML, ``utc_naive=False``: as any date-time of a file, Brussels time), in ``props``, with an
    ``observed_at_from_track`` warning naming the first and last times (the track was
    recorded over that period: the date observed is where it began). A first time that cannot
    be read is set aside with the ``attribute_dropped`` warning of any date. ``track=False``:
    a waypoint whose ``<time>`` GDAL did not read (it nulls ``garbage``, ``2025-13-01…``,
    ``30/03/2025`` without a word): read here from the raw text by the same rule, else set aside
    with that warning carrying the raw value."""
    raw = source.first_time or ""
    # a date-time without offset is UTC in GPX (text that is none is shown as written)
    naive = utc_naive and re.match(r"(?a)\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}", raw) and not re.search(r"(?a)(?:[Zz]|[+-]\d{2}:?\d{2})$", raw)
    written = raw + "Z" if naive else raw
    try:
        props["observed_at"] = parse_observed_at(written, where="/time", day_first=False)
    except GeosignalError as err:
        problems.append({"code": "attribute_dropped", "name": "observed_at", "column": "time", "value": _shown(raw),
                         "error": err.code, "detail": f"observed_at was ignored: {err.detail}"})
        return
    if not track:
        return
    problems.append({"code": "observed_at_from_track", "name": "observed_at", "first": raw,
                     "last": source.last_time, "detail": f"The date observed is the time of the first point "
                     f"({raw}); the last point's is {source.last_time}."})


def _unique_labels(names: list[str]) -> tuple[list[str], dict[str, str]]:
    """``names`` with each repeat of a name labelled apart (``menages`` twice: ``menages``,
    then ``menages\x00#2``), and those labels → the name they repeat."""
    labels, twins, count = [], {}, {}
    for name in names:
        count[name] = count.get(name, 0) + 1
        if count[name] == 1:
            labels.append(name)
        else:
            label = f"{name}\x00#{count[name]}"
            labels.append(label)
            twins[label] = name
    return labels, twins


def _shared_name_values(row: dict, twins: dict[str, str], labels: list[str]) -> dict[str, list[tuple[str, Any]]]:
    """Take the fields named like an earlier one (``twins``, :func:`_unique_labels`) out of
    ``row``. Where one of them alone holds a value, the name reads it; where several hold
    values that differ, return them (name case-folded → ``(field and position, value)``) for
    :func:`_repeated_fields`."""
    given: dict[str, list[tuple[str, Any]]] = {}
    for label, name in twins.items():
        value = row.pop(label, None)
        if name not in given:
            given[name] = [(f"{name!r} (field {labels.index(name) + 1})", row.get(name))]
        given[name].append((f"{name!r} (field {labels.index(label) + 1})", value))
    shared = {}
    for name, values in given.items():
        present = [(label, v) for label, v in values if _present(v) and str(v).strip()]
        if len({str(v).strip() for _, v in present}) > 1:
            shared[name.casefold()] = [(label, str(v)) for label, v in present]
        elif present:
            row[name] = present[0][1]
    return shared


def _repeated_fields(rec: _Record, repeated: dict[str, list[tuple[str, str]]], keys: dict[str, list[str]],
                     subject: str) -> list[dict]:
    """Take out of ``rec`` every property read from a field a feature gives more than once with
    different values (``repeated``, field name case-folded → ``(how the file names it,
    value)``: in KML or GPX :attr:`~.containers.XmlFeature.repeated` — two ``<desc>``, a
    ``Data`` named twice or like ``<description>``, two ``<TimeStamp>`` —, in a dBase file two
    fields of one name), of which GDAL or pandas kept one without a word; return their
    ``attribute_dropped`` warnings, naming every value as written (``subject``: the feature,
    as a sentence starts). Which one is meant cannot be told; none is chosen."""
    problems = []
    for key, given in repeated.items():
        name = next((prop for prop, col in rec.columns.items() if str(col).casefold() == key), None)
        if name is None:
            name = next((prop for prop, cols in keys.items() if prop not in _COORD_KEYS
                         and any(str(c).casefold() == key for c in cols)), None)
        if name is None or any(c["name"] == name for c in rec.conflicts):
            continue  # read for no property (columns_ignored says so), or already said
        rec.pop(name, None)
        rec.columns.pop(name, None)
        written = " and ".join(f"{label} {_brief(value)}" for label, value in given)
        problems.append({"code": "attribute_dropped", "name": name, "column": given[-1][0],
                         "columns": [label for label, _ in given], "value": _shown(given[-1][1]),
                         "values": [_shown(value) for _, value in given], "error": "invalid_attribute",
                         "detail": f"{name} was ignored: {subject[0].lower()}{subject[1:]} gives it {len(given)} "
                                   f"times with different values ({written}), and only one would have been read; "
                                   "keep one of them."})
    return problems


def _gpx_description(row: dict, fmt: str, column_map: dict[str, str] | None) -> dict | None:
    """GPX: the description is ``<desc>`` ("a text description of the element", for the
    user), else ``<cmt>`` (the comment sent to the GPS), else ``<name>``. A ``<cmt>`` that
    differs from the ``<desc>`` is taken out of ``row``; returns the ``attribute_dropped``
    warning saying so (None otherwise). Not when ``column_map`` names the description's
    column."""
    if fmt != "gpx" or "description" in (column_map or {}):
        return None
    desc, cmt = row.get("desc"), row.get("cmt")
    if not (isinstance(desc, str) and desc.strip() and isinstance(cmt, str) and cmt.strip()):
        return None
    row["cmt"] = None
    if cmt.strip() == desc.strip():
        return None
    return {"code": "attribute_dropped", "name": "description", "column": "cmt", "value": _shown(cmt),
            "error": "invalid_attribute",
            "detail": f"description was taken from <desc> ({_brief(desc)}); the <cmt> {_brief(cmt)} was not kept: "
                      "a report has one description. Put what matters of it in <desc>."}


#: A date of XML Schema that is not a day: a year (``gYear``) or a month (``gYearMonth``).
_PARTIAL_DATE = re.compile(r"\s*(\d{4})(-\d{2})?(?:Z|[+-]\d{2}:\d{2})?\s*", re.ASCII)


def _partial_date(problems: list[dict], when: str, element: str = "when") -> None:
    """Say what to write when a KML ``<when>`` (or a ``<TimeSpan>`` naming one moment,
    ``element``) is only a year or a month (KML allows it;
    GDAL took ``2025-06`` for 1 June and dropped ``2025``): the ``attribute_dropped`` warning
    of ``observed_at`` names the value and asks for the day. A partial date is never completed."""
    m = _PARTIAL_DATE.fullmatch(when)
    if m is None:
        return
    for p in problems:
        if p.get("code") == "attribute_dropped" and p.get("name") == "observed_at":
            span = "a month" if m.group(2) else "a year"
            example = f"{m.group(1)}{m.group(2) or '-06'}-15"
            written = f"<when>{when.strip()}</when>" if element == "when" else f"<TimeSpan> {when.strip()}"
            p["detail"] = (f"observed_at was ignored: {written} is only {span}; a report's "
                           f"observation time is a day (completed, it would say a day nobody observed). Write the "
                           f"day, e.g. {example}, or {example}T14:30:00+02:00.")


def _period(span: dict[str, str]) -> dict[str, Any]:
    """The ``attribute_dropped`` warning of a placemark observed over a period (a KML
    ``<TimeSpan>`` from ``begin`` to another ``end``): a report keeps one date observed, and
    neither bound is chosen for the user."""
    begin, end = span.get("begin"), span.get("end")
    return {"code": "attribute_dropped", "name": "observed_at", "column": "TimeSpan",
            "value": f"{begin}/{end}",
            "detail": f"observed_at was ignored: <TimeSpan> from {begin} to {end} is a period, and a report keeps "
                      "the one day it was observed. Give that day as <TimeStamp><when>, e.g. "
                      f"<when>{begin}</when>, or make one placemark per observation."}


_with_problems = with_problems


def _read_geojson(data: bytes, *, area, limits, crs, repair, column_map, result: UploadResult) -> None:
    obj = loads_strict(data, limits=limits)
    if not isinstance(obj, dict):
        raise GeosignalError("invalid_geojson", "A GeoJSON object was expected.", where="/")
    features = obj.get("features") if obj.get("type") == "FeatureCollection" else None
    if isinstance(features, list) and len(features) > limits.max_upload_features:  # before any is read
        raise too_many_features(limits.max_upload_features, len(features),
                                where=f"feature {limits.max_upload_features}")
    problems_at: dict[str, list[dict]] = {}

    columns: dict[tuple, dict[str, list[str]]] = {}
    ignored: dict[str, None] = {}  # the properties read for nothing, in every feature

    def props_fn(p: dict, ptr: str):
        names = tuple(p)
        keys = columns.get(names)
        if keys is None:
            keys = columns[names] = _column_keys(list(names), column_map, ignored=ignored,
                                                 read=_OWN_FIELDS["geojson"])
            result.read_keys(keys)
        rec = _record(p, keys)
        props, problems = _file_properties(rec, pointer=ptr)
        problems_at[ptr] = problems
        return props, problems

    single = obj.get("type") != "FeatureCollection"
    for r in collection_results(obj, area=area, limits=limits, crs=crs, repair=repair, properties_fn=props_fn):
        if isinstance(r, GeosignalError):
            idx = r.extra.get("index", 0)
            _relocate(r, f"feature {idx}", idx)
            _with_problems(r, problems_at.get("/properties" if single else f"/features/{idx}/properties", []))
        result.append(r)
    _columns_ignored(result, ignored)
    _members_ignored(obj, result)


def _members_ignored(obj: dict, result: UploadResult) -> None:
    """Add the file-level ``members_ignored`` warning when features (or their geometries) hold
    foreign members, which are not read: ``members`` their pointers inside a feature (the
    first 200, each once, in file order), ``features`` how many features hold some."""
    feats = obj.get("features") if obj.get("type") == "FeatureCollection" else [obj]
    found: dict[str, None] = {}
    holders = 0
    for feat in feats if isinstance(feats, list) else []:
        pointers = foreign_members(feat)  # inside the feature: the same member of every feature named once
        holders += bool(pointers)
        found.update(dict.fromkeys(pointers))
    if found:
        names = list(found)[:200]
        warning = members_ignored_warning(names)
        warning.update(features=holders, detail=f"{holders} feature(s) hold members that are not GeoJSON's, "
                       f"which were not read: {', '.join(names)}. Give a report's information in properties.")
        result.warnings.append(warning)


# --------------------------------------------------------------------------- entry point

def _check_kml(data: bytes, limits: Limits, member: str | None = None) -> XmlCheck:
    """:func:`~.containers.check_xml` of a KML document (``member`` of a KMZ), with the
    placemarks bounded by ``limits.max_kml_features`` (when below the upload's feature limit):
    413 ``too_many_features`` with ``format`` ``kml`` and ``limit``, saying that a KML upload has
    a limit of its own and that CSV or GeoJSON take more."""
    cap = min(limits.max_upload_features, limits.max_kml_features)
    try:
        checked = check_xml(data, "kml", member=member, max_features=cap, max_vertices=limits.max_upload_vertices)
    except GeosignalError as err:
        if err.code == "too_many_features" and cap < limits.max_upload_features:
            err.detail = (f"The KML holds more than {cap:,} placemarks; one KML or KMZ upload may hold {cap:,} "
                          "(it is read whole into memory). Split it into several files, or send its points as CSV "
                          f"or GeoJSON, which may hold {limits.max_upload_features:,} features.")
            err.extra["format"] = "kml"
        raise
    release_freed_memory()
    return checked


def read_upload(
    data: bytes,
    filename: str,
    *,
    area: ServiceArea,
    limits: Limits = DEFAULT_LIMITS,
    crs: str | None = None,
    repair: bool = False,
    column_map: dict[str, str] | None = None,
) -> UploadResult:
    """Read an uploaded file (bytes) into per-feature results, in file order.

    ``filename`` is only used for its extension. ``crs`` is the CRS of CSV x/y or lon/lat
    columns, of Shapefiles without ``.prj`` and of GeoJSON (EPSG:4326 default); a file that
    declares another CRS than ``crs`` is refused (``unsupported_crs``). ``column_map`` maps our
    names (report properties, ``lon``, ``lat``, ``x``, ``y``, ``wkt``) to the file's columns.

    Returns an :class:`UploadResult` (a list of ``ReportInput | GeosignalError``; each
    ``ReportInput.source_index`` is the 0-based feature/row index).

    Raises (for the whole file): 413 ``payload_too_large``, 415 ``unsupported_format``, 422
    ``unreadable_file`` (with ``columns`` when no coordinate column is recognised),
    ``no_features`` (nothing in the file), ``unsupported_crs``, 400 ``invalid_json``; 413
    ``too_many_features`` beyond ``limits.max_upload_features`` features and
    ``too_many_upload_vertices`` beyond ``limits.max_upload_vertices`` positions in all (a KML or
    KMZ: ``too_many_features`` beyond ``limits.max_kml_features`` placemarks, ``format`` ``kml``), counted
    before the features are read wherever the file says them (CSV rows as they are read,
    GeoJSON ``features``, placemarks, GPX points and KML positions as the XML is checked,
    Shapefile records and positions from the ``.shx`` and the record headers, GeoPackage rows
    with SQLite's ``count(*)``), else as GDAL counts each layer, and always before the geometry
    checks (:func:`~.core.check_batch_size`), with ``limit``, ``where`` (where the count passed
    the limit) and ``value`` when the whole file was counted.
    """
    if len(data) > limits.max_upload_bytes:
        raise GeosignalError("payload_too_large", f"The file has {len(data):,} bytes; the limit is "
                             f"{limits.max_upload_bytes:,}.", value=len(data), limit=limits.max_upload_bytes)
    if not data.strip(b" \t\r\n\x00\xef\xbb\xbf"):
        raise GeosignalError("no_features", "The file is empty.", format=None)
    fmt = detect_format(data, filename)
    result = UploadResult(format=fmt)
    caller_epsg = parse_crs(crs, where="crs") if crs is not None else None
    if fmt == "geojson":
        _read_geojson(data, area=area, limits=limits, crs=crs, repair=repair, column_map=column_map, result=result)
    elif fmt == "csv":
        _read_csv(data, area=area, limits=limits, epsg=caller_epsg or WGS84, repair=repair, column_map=column_map,
                  result=result, caller_epsg=caller_epsg)
    else:
        payload, encodings, dbf_numbers, checked = data, None, None, None
        if fmt in ("kmz", "shapefile"):
            archive = read_archive(data, limits.max_upload_bytes)
            result.warnings.extend(archive.warnings)
            if fmt == "kmz":
                member, payload = _kmz_document(archive, result)
                checked = _check_kml(payload, limits, member=member)
            else:
                payload, encodings, dbf_numbers = _shapefile_source(archive, limits)
        elif fmt == "kml":
            checked = _check_kml(data, limits)
        elif fmt == "gpx":
            checked = check_xml(data, fmt, max_features=limits.max_upload_features,
                                max_vertices=limits.max_upload_vertices)
        else:  # a GeoPackage: no SQL of the file runs (a view, a computed column…); its rows counted
            _check_members_total(list(check_gpkg(data).items()), limits.max_upload_features, too_many_features,
                                 key="layer")
        if checked is not None:
            result.warnings.extend(checked.warnings)
        _read_ogr(payload, "kml" if fmt == "kmz" else fmt, area=area, limits=limits, caller_epsg=caller_epsg,
                  repair=repair, column_map=column_map, result=result, encodings=encodings, dbf_numbers=dbf_numbers,
                  checked=checked)
    if not result:
        raise GeosignalError("no_features", "The file contains no feature.", format=fmt)
    finish_items(result, area=area, limits=limits, repair=repair)
    if result.placemarks:
        _name_placemarks(result)
    return result


def _name_placemarks(result: UploadResult) -> None:
    """Name the placemark of each refused KML feature as the placemark checks do (``placemark``
    its rank, ``line``, ``column``, ``name`` when it has one, and the detail starting with it),
    whatever refused it — a geometry check (``ring_not_closed``, ``self_intersection``…) knew the
    feature's index and pointer only. A member the error has already is kept."""
    for item in result:
        source = result.placemarks.get(item.extra.get("index")) if isinstance(item, GeosignalError) else None
        if source is None or "placemark" in item.extra:
            continue
        for key, value in (("placemark", source.ordinal), ("line", source.line), ("column", source.column),
                           ("name", source.name)):
            if value is not None:
                item.extra.setdefault(key, value)
        item.detail = f"{source.label}: {item.detail}"


__all__ = ["FORMATS", "UploadResult", "detect_format", "read_upload"]
