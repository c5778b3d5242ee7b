"""Uploaded files → reports: GeoJSON, KML, KMZ, GPX, CSV, GeoPackage, zipped Shapefile.

* Everything is read **from bytes**: GeoJSON and CSV in Python, the rest through pyogrio
  given an ``io.BytesIO`` (pyogrio copies it to GDAL's ``/vsimem/``); never from a path or
  URL a user supplied.
* The format comes from sniffing the content (zip, SQLite, XML root, JSON) first, the file
  extension second; ``unsupported_format`` (415) otherwise.
* Hostile containers are refused before GDAL reads them (:mod:`.containers`): archives by
  member names, links, entry count and the bytes actually inflated; XML with a DOCTYPE or
  entities; dBase text whose encoding is undecidable. An empty file is ``no_features``.
* GeoJSON files go through the strict JSON path (NaN etc. caught with their pointer).
* KML/KMZ: every layer (folder) is read; a MultiGeometry stays one report (a mixed one is a
  GeometryCollection and is split, as everywhere); Z dropped; ExtendedData attributes kept;
  the HTML description is kept as text, unchanged. A placemark's ``Name`` becomes the
  description when it has none.
* KMZ: ``doc.kml`` (else the KML nearest the root) is read; other KML members are named in a
  ``kml_members_ignored`` warning; NetworkLinks are never followed (``network_link_ignored``).
* GeoPackage: every feature layer is read, attribute-only tables ignored; a ``layers_read``
  warning names both when there is more than one. No feature layer → ``no_features``.
* Zipped Shapefile: every ``.shp`` with its ``.shx`` and ``.dbf`` (a missing one →
  ``unreadable_file`` with ``missing``); text decoded as :func:`~.containers.dbf_encoding` decides.
* GPX: layers ``waypoints``, ``routes`` and ``tracks`` (the ``*_points`` layers duplicate
  them); empty tracks/routes are skipped with a warning in :attr:`UploadResult.warnings`.
* CSV: read with the ``csv`` module. Encoding UTF-8 (with or without BOM), else Windows-1252;
  separator ``;``, ``,``, tab or ``|`` (most frequent in the header line); decimal point or
  comma; day-first dates; coordinates from ``lon``/``lat``, ``x``/``y`` (in ``crs``) or a WKT
  column, headers recognised in French, Dutch and English (see
  :data:`~geosignal.services.intake.properties.HEADER_ALIASES` / ``COORD_ALIASES``) or named by
  ``column_map``. Rows are numbered as a spreadsheet shows them (header = row 1).
* Attribute values are coerced for files only (``"12"`` → 12, ``"4G, 5G"`` → list, ``Base`` →
  ``Telenet/BASE``, day-first dates). **A file attribute that still fails validation is dropped
  with an ``attribute_dropped`` warning; the report is kept** (geometry errors still refuse the
  feature). Every attribute is checked: each failure has its own warning with ``name``,
  ``column`` (and ``pointer`` in GeoJSON). A refused feature's error carries ``errors``: the
  refusal first, then every attribute fault of that feature. Free text with control characters
  is refused (never stored). ``network`` is not required: the caller defaults it.
* Per-feature errors carry ``where`` = ``"feature i"`` (0-based, across layers) or ``"row n"``
  (CSV), ``index`` (0-based) and, when known, ``pointer`` (the JSON pointer inside the feature),
  ``layer`` or ``column``.
"""

from __future__ import annotations

import csv
import io
import math
import operator
import re
import zipfile
from collections.abc import Iterator
from typing import Any

import shapely
from shapely.geometry import mapping

from geosignal.errors import GeosignalError

from .area import DEFAULT_LIMITS, Limits, ServiceArea
from .containers import (
    _NESTED_EXT,
    Archive,
    check_members,
    check_xml,
    dbf_encoding,
    is_junk_member,
    open_zip,
    read_archive,
)
from .core import (
    Pending,
    collection_results,
    finish_items,
    loads_strict,
    prepare_report,
    with_problems,
)
from .crs import WGS84, parse_crs
from .properties import REPORT_PROPERTIES, check_file_properties, match_header

FORMATS = ("geojson", "kml", "kmz", "gpx", "csv", "gpkg", "shapefile")
_EXTENSIONS = {
    ".geojson": "geojson", ".json": "geojson", ".kml": "kml", ".kmz": "kmz", ".gpx": "gpx",
    ".csv": "csv", ".txt": "csv", ".tsv": "csv", ".gpkg": "gpkg", ".zip": "shapefile", ".shz": "shapefile",
}
_COORD_KEYS = ("lon", "lat", "x", "y", "wkt")
_NON_FINITE_WORDS = {"nan", "-nan", "+nan", "inf", "-inf", "+inf", "infinity", "-infinity", "+infinity",
                     "#num!", "#value!", "#div/0!"}


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
        if any(n.lower().endswith(".kml") for n in names):
            return "kmz"
        if any(n.lower().endswith(".shp") for n in names):
            return "shapefile"
        nested = [n for n in names if n.lower().endswith(_NESTED_EXT)]
        if ext == ".kmz":
            raise GeosignalError("unreadable_file", "The KMZ archive holds no KML document (doc.kml).",
                                 files=names[:20])
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
    if text[:1] == b"<":
        low = head.lower()
        if b"<kml" in low:
            return "kml"
        if b"<gpx" in low:
            return "gpx"
        raise GeosignalError("unsupported_format", "This XML file is neither KML nor GPX.")
    if ext in _EXTENSIONS:
        fmt = _EXTENSIONS[ext]
        if fmt in ("kmz", "shapefile", "gpkg"):
            raise GeosignalError("unreadable_file", f"The file has the extension {ext} but is not a valid {fmt} file.")
        if fmt in ("kml", "gpx"):
            raise GeosignalError("unreadable_file", f"The file has the extension {ext} but holds no {fmt.upper()}.")
        return fmt
    if b"\x00" in head:
        raise GeosignalError("unsupported_format", f"The format of {filename!r} is not supported; send GeoJSON, "
                             "KML, KMZ, GPX, CSV, GeoPackage or a zipped Shapefile.")
    return "csv"


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
    (``column``/``pointer`` when known: ``record`` may be a :class:`_Record`)."""
    return check_file_properties(record, columns=getattr(record, "columns", None), pointer=pointer)


class _Record(dict):
    """A feature's attributes keyed by property name, remembering the column each came from."""

    columns: dict[str, str]


def _column_keys(columns: list[str], column_map: dict[str, str] | None) -> dict[str, list[str]]:
    """Map our keys (properties and lon/lat/x/y/wkt) to the file's columns, in priority order."""
    keys: dict[str, list[str]] = {}
    lower = {c.strip().lower(): c for c in columns}
    for ours, theirs in (column_map or {}).items():
        if ours not in REPORT_PROPERTIES and ours not in _COORD_KEYS:
            raise GeosignalError("invalid_request", f"column_map key {ours!r} is not a report property nor one of "
                                 f"{', '.join(_COORD_KEYS)}.", where="column_map")
        col = theirs if theirs in columns else lower.get(str(theirs).strip().lower())
        if col is None:
            raise GeosignalError("unreadable_file", f"column_map names the column {theirs!r}, which the file does "
                                 "not have.", where="column_map", columns=list(columns))
        keys[ours] = [col]
    mapped = {c for cols in keys.values() for c in cols}
    for col in columns:
        if col in mapped:
            continue
        key = match_header(col)
        if key and key not in (column_map or {}):
            keys.setdefault(key, []).append(col)
    return keys


def _record(row: dict[str, Any], keys: dict[str, list[str]]) -> dict[str, Any]:
    rec = _Record()
    rec.columns = {}
    for key, cols in keys.items():
        if key in _COORD_KEYS:
            continue
        for col in cols:
            v = row.get(col)
            if v is None or (isinstance(v, str) and not v.strip()) or (isinstance(v, float) and math.isnan(v)):
                continue
            try:
                if v != v:  # NaT
                    continue
            except Exception:  # noqa: BLE001
                pass
            rec[key] = v
            rec.columns[key] = col
            break
    return rec


# --------------------------------------------------------------------------- CSV

def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _delimiter(first_line: str) -> str:
    counts = {}
    for d in (";", ",", "\t", "|"):
        # count outside double quotes
        counts[d] = len(re.findall(re.escape(d), re.sub(r'"[^"]*"', "", first_line)))
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def _csv_number(text: str, where: str, column: str, index: int) -> float | None:
    s = (text or "").strip().replace("\u00a0", "").replace(" ", "")
    if not s:
        return None
    if s.lower() in _NON_FINITE_WORDS:
        raise GeosignalError("non_finite_number", f"Column {column!r} holds {text.strip()!r}, not a finite number.",
                             where=where, index=index, column=column)
    if "," in s and "." not in s:
        s = s.replace(",", ".")
    try:
        v = float(s)
    except ValueError:
        raise GeosignalError("invalid_coordinate", f"Column {column!r} holds {text.strip()!r}, not a number.",
                             where=where, index=index, column=column) from None
    if not math.isfinite(v):
        raise GeosignalError("non_finite_number", f"Column {column!r} holds {text.strip()!r}, not a finite number.",
                             where=where, index=index, column=column)
    return v


#: The warnings of a row that has none: one shared list, replaced (never appended to) when a
#: row gets one.
_NO_WARNINGS: list[dict] = []


def _lines(text: str) -> Iterator[str]:
    """Yield the lines of ``text`` with their ends, as a file opened with ``newline=""``
    would (what the csv module wants), without copying the text (``io.StringIO`` holds 4
    bytes per character). Files ending lines with a lone CR are read on CR."""
    sep = "\n" if "\n" in text or "\r" not in text else "\r"
    start, size = 0, len(text)
    while start < size:
        end = text.find(sep, start)
        if end < 0:
            yield text[start:]
            return
        yield text[start:end + 1]
        start = end + 1


def _plain_number(cell: str) -> float | None:
    """A finite number written plainly (decimal point or comma), else None: the caller then
    reads the cell with :func:`_csv_number`, which also names what is wrong."""
    if "," in cell:
        if "." in cell:
            return None
        cell = cell.replace(",", ".")
    try:
        v = float(cell)
    except ValueError:
        return None
    return v if v - v == 0.0 else None


def _read_csv(data: bytes, *, area, limits, epsg, repair, column_map, result: UploadResult) -> None:
    """Read a CSV upload into :class:`~.core.Pending` rows (geometry checks are left to the
    batch). File-level structure faults raise 422 naming row and column: ``duplicate_header``,
    ``unterminated_quote``, ``field_too_long`` (beyond :data:`MAX_FIELD_CHARS`, or
    ``limits.max_vertices × 50`` characters in a WKT column)."""
    text, encoding = _decode(data)
    result.encoding = encoding
    first = text.split("\n", 1)[0]
    delim = _delimiter(first)
    result.delimiter = delim
    reader = csv.reader(_lines(text), delimiter=delim)
    try:
        header = next(reader)
    except StopIteration:
        raise GeosignalError("no_features", "The CSV file is empty.") from None
    except csv.Error as exc:
        raise GeosignalError("unreadable_file", f"The CSV file cannot be read: {exc}.") from None
    if any("\n" in h or "\r" in h for h in header):
        _check_quotes(text, 1, delim, [])
    header = [h.strip() for h in header]
    _check_header(header, reader.line_num)
    keys = _column_keys(header, column_map)
    has_lonlat = "lon" in keys and "lat" in keys
    has_xy = "x" in keys and "y" in keys
    if not (has_lonlat or has_xy or "wkt" in keys):
        raise GeosignalError("unreadable_file", "No coordinate columns were recognised; say which columns hold the "
                             "coordinates (column_map with lon/lat, x/y or wkt).", columns=header)
    position = {name: k for k, name in enumerate(header)}
    if has_lonlat:
        cx, cy = keys["lon"][0], keys["lat"][0]
    elif has_xy:
        cx, cy = keys["x"][0], keys["y"][0]
    else:
        cx = cy = None
    px, py = (position[cx], position[cy]) if cx is not None else (-1, -1)
    wkt_col = keys["wkt"][0] if cx is None else None
    pw = position[wkt_col] if wkt_col is not None else -1
    # properties: (key, [column positions in priority order]) in the order _record reads them
    prop_cols = [(key, [position[c] for c in cols]) for key, cols in keys.items() if key not in _COORD_KEYS]
    memo: dict[tuple[str, str], tuple[dict[str, Any], list[dict]]] = {}
    positions = sorted({p for _, cols in prop_cols for p in cols})
    last_prop = max(positions, default=-1)
    prop_cells = operator.itemgetter(*positions) if positions else (lambda _cells: ())
    rows_memo: dict[Any, tuple[dict[str, Any], list[dict]]] = {}
    wkt_limit = max(MAX_FIELD_CHARS, limits.max_vertices * 50)
    index = -1
    last_line = start_line = reader.line_num
    cells: list[str] = []
    try:
        for cells in reader:
            start_line = last_line + 1
            last_line = reader.line_num
            joined = "".join(cells)
            if len(joined) > MAX_FIELD_CHARS:
                _check_lengths(text, delim, cells, header, pw, wkt_limit, start_line)
            if not joined.strip():
                continue
            index += 1
            where = f"row {last_line}"
            ncells = len(cells)
            warnings: list[dict] = _NO_WARNINGS  # shared while empty (never appended to)
            try:
                if px >= 0:
                    cell = cells[px] if px < ncells else ""
                    x = _plain_number(cell)
                    if x is None:
                        x = _csv_number(cell, where, cx, index)
                    cell = cells[py] if py < ncells else ""
                    y = _plain_number(cell)
                    if y is None:
                        y = _csv_number(cell, where, cy, index)
                    if x is None and y is None:
                        raise GeosignalError("empty_geometry", "The row has no coordinates.", where=where)
                    if x is None or y is None:
                        raise GeosignalError("invalid_coordinate", "The row has only one coordinate.", where=where,
                                             column=cx if x is None else cy)
                    geom_obj: Any = None
                else:
                    wkt = (cells[pw] if pw < ncells else "").strip()
                    if not wkt:
                        raise GeosignalError("empty_geometry", "The row has no geometry.", where=where)
                    try:
                        geom_obj = mapping(shapely.from_wkt(wkt))
                    except Exception:  # noqa: BLE001 - GEOS parse errors
                        raise GeosignalError("invalid_geometry", "The WKT cannot be read.", where=where,
                                             column=wkt_col) from None
                # the properties of a row are read once per distinct set of its property cells
                row_key = prop_cells(cells) if ncells > last_prop else None
                known = rows_memo.get(row_key) if row_key is not None else None
                if known is None:
                    props: dict[str, Any] = {}
                    row_warnings: list[dict] = []
                    for key, cols in prop_cols:
                        for p in cols:
                            if p < ncells and cells[p].strip():
                                value = cells[p]
                                got = memo.get((key, p, value))
                                if got is None:
                                    got = memo[(key, p, value)] = check_file_properties(
                                        {key: value}, columns={key: header[p]})
                                props.update(got[0])
                                row_warnings += got[1]
                                break
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
                if geom_obj is None:  # a point: small objects, placed as "row n" if refused
                    result.append(Pending(None, complex(x, y), epsg, props, warnings, "/geometry", index, last_line))
                else:
                    result.append(prepare_report(geom_obj, "/geometry", props, limits=limits, epsg=epsg,
                                                 warnings=warnings, source_index=index, locate=(where, index, None)))
            except GeosignalError as err:
                err = _relocate(err, where, index)
                if any(w.get("code") == "attribute_dropped" for w in warnings):
                    err = _with_problems(err, warnings)  # every fault of the row, together
                result.append(err)
    except csv.Error as exc:
        raise GeosignalError("unreadable_file", f"The CSV file cannot be read near line {reader.line_num}: {exc}.",
                             where=f"row {reader.line_num}") from None
    if cells and any("\n" in c or "\r" in c for c in cells):
        _check_quotes(text, start_line, delim, header)


#: Longest CSV field accepted (characters), twice a description's maximum; a WKT column may
#: hold ``Limits.max_vertices × 50`` characters.
MAX_FIELD_CHARS = 10_000
# Python's own cap (131,072) would stop a legitimate WKT column first; ours is checked per row.
csv.field_size_limit(max(csv.field_size_limit(), 64 * 1024 * 1024))


def _column_label(header: list[str], k: int) -> str:
    return header[k] if k < len(header) and header[k] else f"column {k + 1}"


def _check_header(header: list[str], line: int) -> None:
    """Refuse a header naming a column twice (``duplicate_header``, 422): the second would
    silently hide the first. Unnamed columns are ignored."""
    seen: dict[str, int] = {}
    for k, name in enumerate(header):
        if not name:
            continue
        if name in seen:
            raise GeosignalError("duplicate_header", f"The column {name!r} appears twice in the header (columns "
                                 f"{seen[name] + 1} and {k + 1}); rename or remove one.", where=f"row {line}",
                                 column=name, column_number=k + 1, first_column_number=seen[name] + 1)
        seen[name] = k


def _check_lengths(text: str, delim: str, cells: list[str], header: list[str], wkt_position: int, wkt_limit: int,
                   line: int) -> None:
    """Refuse a record with an over-long field (``field_too_long``, 422), or the quote left
    open that made it (``unterminated_quote``)."""
    for k, cell in enumerate(cells):
        limit = wkt_limit if k == wkt_position else MAX_FIELD_CHARS
        if len(cell) > limit:
            _check_quotes(text, line, delim, header)
            raise GeosignalError("field_too_long", f"A field of {len(cell):,} characters in column "
                                 f"{_column_label(header, k)!r} (row {line}) exceeds the limit of {limit:,}; "
                                 "a quote opened and closed far later can cause this.", where=f"row {line}",
                                 column=_column_label(header, k), column_number=k + 1, value=len(cell), limit=limit)


def _check_quotes(text: str, start_line: int, delim: str, header: list[str]) -> None:
    """Scan the text from line ``start_line`` (1-based) to the end and refuse it
    (``unterminated_quote``, 422, naming the row and column where the quote opened) when a
    quoted field never closes: the csv module would read the rest of the file as one field
    without complaint."""
    pos = 0
    for _ in range(start_line - 1):
        nxt = text.find("\n", pos)
        if nxt < 0:
            return
        pos = nxt + 1
    token = re.compile('["\n' + re.escape(delim) + "]")
    field_start, line, column, opened = pos, start_line, 0, (start_line, 0)
    while True:
        m = token.search(text, pos)
        if m is None:
            return
        j, ch = m.start(), m.group()
        if ch == '"' and j == field_start:
            opened = (line, column)
            while True:  # inside quotes: "" is an escaped quote
                close = text.find('"', j + 1)
                if close < 0:
                    row, k = opened
                    raise GeosignalError(
                        "unterminated_quote", f"A quote opened in column {_column_label(header, k)!r} of row {row} "
                        "is never closed, so the rest of the file would be read as one field.",
                        where=f"row {row}", column=_column_label(header, k), column_number=k + 1)
                line += text.count("\n", j + 1, close)
                if text.startswith('""', close):
                    j = close + 1
                    continue
                pos = close + 1
                break
        elif ch == '"':
            pos = j + 1
        elif ch == delim:
            column += 1
            field_start = pos = j + 1
        else:
            line += 1
            column = 0
            field_start = pos = j + 1


# --------------------------------------------------------------------------- OGR formats

def _layer_epsg(crs_text: str | None, caller: int | None, layer: str) -> int:
    if not crs_text:
        return caller or WGS84
    try:
        from pyproj import CRS

        code = CRS.from_user_input(crs_text).to_epsg(min_confidence=70)
    except Exception:  # noqa: BLE001
        code = None
    epsg = parse_crs(code if code is not None else crs_text, where=f"layer {layer}")
    if caller is not None and caller != epsg:
        raise GeosignalError("unsupported_crs", f"The file says EPSG:{epsg} but the request says EPSG:{caller}.",
                             where=f"layer {layer}")
    return epsg


_SHP_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


def _shapefile_source(archive: Archive) -> tuple[bytes, dict[str, str]]:
    """Re-pack the Shapefiles of an archive at the root of a new archive (GDAL only looks
    there), one layer per ``.shp`` (names made unique when two folders hold the same name),
    and decide each layer's text encoding (:func:`~.containers.dbf_encoding`).

    Returns ``(zip bytes, {layer name: codec})``. Raises 422 ``unreadable_file`` (``member``,
    ``missing``) when a ``.shp`` comes without its ``.shx`` or ``.dbf``, and as
    :func:`~.containers.dbf_encoding`.
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
    out = io.BytesIO()
    encodings: dict[str, str] = {}
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as dst:
        for parts in groups.values():
            if "shp" not in parts:
                continue
            shp_name = parts["shp"][0]
            missing = [shp_name[: -3] + ext for ext in ("shx", "dbf") if ext not in parts]
            if missing:
                raise GeosignalError("unreadable_file", f"The Shapefile {shp_name!r} comes without "
                                     f"{' and '.join(repr(m) for m in missing)}: send the .shp, .shx and .dbf "
                                     "(and .prj) together.", member=shp_name, missing=missing)
            cpg = parts.get("cpg", (None, None))[1]
            codec, _ = dbf_encoding(parts["dbf"][1], cpg, parts["dbf"][0])
            stem = shp_name.replace("\\", "/").rsplit("/", 1)[-1][:-4]
            layer = stem
            while layer in encodings:
                layer = f"{stem}_{len(encodings)}"
            encodings[layer] = codec
            for ext, (_, content) in parts.items():
                if ext != "cpg":  # the encoding is passed to the reader instead
                    dst.writestr(f"{layer}.{ext}", content)
    return out.getvalue(), encodings


def _kmz_document(archive: Archive, result: UploadResult) -> tuple[str, bytes]:
    """The KML document of a KMZ: ``doc.kml`` at the root, else the first ``.kml`` nearest the
    root. Other KML members are not read (warning ``kml_members_ignored``)."""
    kmls = [n for n in archive.members if n.lower().endswith(".kml") and not is_junk_member(n)]
    if not kmls:
        raise GeosignalError("unreadable_file", "The KMZ archive holds no KML document (doc.kml).")
    kmls.sort(key=lambda n: (n.lower() != "doc.kml", n.replace("\\", "/").count("/"), n))
    if len(kmls) > 1:
        result.warnings.append({"code": "kml_members_ignored", "members": kmls[1:],
                                "detail": f"Only {kmls[0]!r} was read; the other KML documents of the KMZ were "
                                          "not."})
    return kmls[0], archive.members[kmls[0]]


def _read_ogr(data: bytes, fmt: str, *, area, limits, caller_epsg, repair, column_map, result: UploadResult,
              encodings: dict[str, str] | None = None) -> None:
    import warnings

    import pyogrio

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # e.g. "GPKG … non conformant file extension"
        _read_ogr_layers(pyogrio, data, fmt, area=area, limits=limits, caller_epsg=caller_epsg, repair=repair,
                         column_map=column_map, result=result, encodings=encodings or {})


_FORMAT_NAMES = {"kml": "KML", "gpx": "GPX", "gpkg": "GeoPackage", "shapefile": "Shapefile"}


def _list_layers(pyogrio, data: bytes, fmt: str, result: UploadResult) -> list[tuple[int, str]]:
    """The layers to read, as (index, name): every feature layer (GPX: waypoints, routes,
    tracks); attribute-only tables are left out, and ``layers_read`` says which were read and
    which were not when there is more than one."""
    try:
        listed = pyogrio.list_layers(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - GDAL's errors vary
        raise GeosignalError("unreadable_file", f"The {_FORMAT_NAMES[fmt]} file cannot be read: "
                             f"{_gdal_message(exc)}.") from None
    layers = [(i, _layer_name(str(name)), gtype) for i, (name, gtype) in enumerate(listed)]
    if fmt == "gpx":
        return [(i, name) for i, name, _ in layers if name in ("waypoints", "routes", "tracks")]
    if fmt in ("kml",):
        return [(i, name) for i, name, _ in layers]
    features = [(i, name) for i, name, gtype in layers if gtype is not None]
    tables = [name for _, name, gtype in layers if gtype is None]
    if not features:
        raise GeosignalError("no_features", f"The {_FORMAT_NAMES[fmt]} has no feature layer"
                             + (f" (attribute tables only: {', '.join(tables[:10])})." if tables else "."),
                             tables=tables[:50])
    if len(features) > 1 or tables:
        result.warnings.append({"code": "layers_read", "layers": [n for _, n in features], "ignored_tables": tables,
                                "detail": f"Read the feature layer(s) {', '.join(n for _, n in features)}"
                                          + (f"; attribute tables ignored: {', '.join(tables)}." if tables else ".")})
    return features


def _layer_name(name: str) -> str:
    return "document" if name.startswith("pyogrio_") else name  # a KML Document without a name


def _gdal_message(exc: BaseException) -> str:
    text = re.sub(r"'?/vsimem/[^' ]*'?", "the file", str(exc)).strip() or type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"


def _read_ogr_layers(pyogrio, data: bytes, fmt: str, *, area, limits, caller_epsg, repair, column_map,
                     result: UploadResult, encodings: dict[str, str]) -> None:
    index = -1
    for layer_index, layer in _list_layers(pyogrio, data, fmt, result):
        enc = {"encoding": encodings[layer]} if layer in encodings else {}
        try:
            info = pyogrio.read_info(io.BytesIO(data), layer=layer_index, **enc)
            df = pyogrio.read_dataframe(io.BytesIO(data), layer=layer_index, **enc)
        except Exception as exc:  # noqa: BLE001
            raise GeosignalError("unreadable_file", f"Layer {layer!r} cannot be read: {_gdal_message(exc)}.",
                                 layer=layer) from None
        if getattr(df, "_geometry_column_name", None) is None or df._geometry_column_name not in df.columns:
            result.warnings.append({"code": "layer_without_geometry", "layer": layer,
                                    "detail": f"Layer {layer!r} has no geometry; it was not read."})
            continue
        epsg = WGS84 if fmt in ("kml", "kmz", "gpx") else _layer_epsg(info.get("crs"), caller_epsg, layer)
        columns = [c for c in df.columns if c != df.geometry.name]
        keys = _column_keys(columns, column_map)
        name_col = next((c for c in columns if c.lower() == "name"), None)
        for row in df.to_dict("records"):
            geom = row.pop(df.geometry.name, None)
            if fmt == "gpx" and layer in ("tracks", "routes") and (geom is None or geom.is_empty):
                result.warnings.append({"code": "empty_feature_skipped", "detail": f"An empty GPX {layer[:-1]} "
                                        "was skipped.", "layer": layer, "name": row.get(name_col) if name_col else None})
                continue
            index += 1
            where = f"feature {index}"
            problems: list[dict] = []
            try:
                rec = _record(row, keys)
                if "description" not in rec and name_col and isinstance(row.get(name_col), str) and row[name_col].strip():
                    rec["description"] = row[name_col]
                    rec.columns["description"] = name_col
                props, problems = _file_properties(rec)
                if geom is None or geom.is_empty:
                    raise GeosignalError("empty_geometry", "The feature has no geometry.", where=where)
                geom_obj = mapping(geom)
                if geom_obj["type"] == "GeometryCollection":
                    for k, member in enumerate(geom_obj["geometries"]):
                        try:
                            result.append(prepare_report(
                                member, f"/geometry/geometries/{k}", props, limits=limits, epsg=epsg, warnings=[
                                    *problems, {"code": "geometry_collection_split", "member": k,
                                                "detail": f"Member {k} of a mixed collection became its own report."}],
                                source_index=index, locate=(where, index, {"layer": layer, "member": k})))
                        except GeosignalError as err:
                            result.append(_with_problems(_relocate(err, where, index, layer=layer, member=k), problems))
                    continue
                result.append(prepare_report(geom_obj, "/geometry", props, limits=limits, epsg=epsg, warnings=problems,
                                             source_index=index, locate=(where, index, {"layer": layer})))
            except GeosignalError as err:
                result.append(_with_problems(_relocate(err, where, index, layer=layer), problems))


_with_problems = with_problems


def _read_geojson(data: bytes, *, area, limits, crs, repair, column_map, result: UploadResult) -> None:
    obj = loads_strict(data, limits=limits)
    if not isinstance(obj, dict):
        raise GeosignalError("invalid_geojson", "A GeoJSON object was expected.", where="/")
    problems_at: dict[str, list[dict]] = {}

    columns: dict[tuple, dict[str, list[str]]] = {}

    def props_fn(p: dict, ptr: str):
        names = tuple(p)
        keys = columns.get(names)
        if keys is None:
            keys = columns[names] = _column_keys(list(names), column_map)
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


# --------------------------------------------------------------------------- entry point

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
    ``no_features`` (nothing in the file), ``unsupported_crs``, 400 ``invalid_json``.
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
                  result=result)
    else:
        payload, encodings = data, None
        if fmt in ("kmz", "shapefile"):
            archive = read_archive(data, limits.max_upload_bytes)
            result.warnings.extend(archive.warnings)
            if fmt == "kmz":
                member, payload = _kmz_document(archive, result)
                result.warnings.extend(check_xml(payload, "kml", member=member))
            else:
                payload, encodings = _shapefile_source(archive)
        elif fmt in ("kml", "gpx"):
            result.warnings.extend(check_xml(data, fmt))
        _read_ogr(payload, "kml" if fmt == "kmz" else fmt, area=area, limits=limits, caller_epsg=caller_epsg,
                  repair=repair, column_map=column_map, result=result, encodings=encodings)
    if not result:
        raise GeosignalError("no_features", "The file contains no feature.", format=fmt)
    finish_items(result, area=area, limits=limits, repair=repair)
    return result


__all__ = ["FORMATS", "UploadResult", "detect_format", "read_upload"]
