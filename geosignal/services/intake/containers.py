"""Checks on uploaded containers before GDAL reads them: zip archives (KMZ, zipped
Shapefile), XML (KML, GPX) and dBase text (the ``.dbf`` of a Shapefile).

Decisions (each a coded refusal of the whole file, naming the member or the place):

* **Archives** are opened from bytes. Every member name is checked first: an absolute name
  (``/x``, ``\\x``), a drive letter (``C:x``), a name that climbs out (a ``..`` part, with ``/``
  or ``\\`` separators), a symbolic link (Unix mode in ``external_attr``), a NUL character or a
  name given twice → 422 ``unsafe_archive`` (``member``, ``reason``). More than
  :data:`MAX_ARCHIVE_ENTRIES` entries → 413 ``archive_too_large``. Members are then inflated as
  streams with a counter: the bytes **actually** inflated, over all members, may not exceed
  :data:`INFLATE_FACTOR` × the upload limit (413 ``archive_too_large`` naming the member where
  the counter tripped); the sizes written in the headers are never trusted. A damaged,
  encrypted or oddly compressed member → 422 ``unreadable_file`` naming it.
* **Nested archives** (a member that is itself a zip, KMZ, gzip, 7z, rar, tar… by name or
  signature) are never opened: they are skipped with a ``nested_archive_ignored`` warning.
* **XML** is recognised by its encoding (a byte-order mark, or ``<`` in UTF-16/32 as the XML
  specification detects it) and by the local name of its root element (``<k:kml>`` is KML),
  wherever the root starts; UTF-16/32 documents are transcoded to UTF-8 (text kept character
  for character). It is scanned with ``defusedxml`` (expat) before GDAL sees it: a DOCTYPE, an
  entity declaration or an external reference → 422 ``unsafe_xml``; malformed XML → 422
  ``unreadable_file`` with ``line`` and ``column``. KML ``NetworkLink`` elements are never
  followed (GDAL does not either); each one becomes a ``network_link_ignored`` warning with its
  ``href``. Image overlays (GroundOverlay, PhotoOverlay, ScreenOverlay) are pictures, not
  reports: cut out before GDAL reads the file, each one an ``overlay_ignored`` warning. The raw
  ``<coordinates>`` of every placemark must be positions of 2 or 3 finite numbers (GDAL reads
  a missing latitude as 0): else 422 ``invalid_coordinate`` (``empty_geometry`` when empty)
  naming the line, the placemark's index and name.
* **dBase text** is decoded with the encoding the ``.cpg`` names, else the one the language
  driver byte (LDID, byte 29 of the ``.dbf``) names, else — when every text byte is ASCII —
  as ASCII; otherwise 422 ``undecidable_encoding`` naming the ``.dbf``. A ``.cpg`` naming no
  dBase code page (only ASCII-compatible single-byte code pages, UTF-8 and the CJK multibyte
  ones are; not UTF-16, EBCDIC nor Python's ``rot13``/``base64``…) or holding junk → 422
  ``undecidable_encoding`` naming the ``.dbf`` and the label (``cpg``). Text that is not valid
  in the declared encoding, that a single-byte declaration would turn into mojibake (the bytes
  read as UTF-8, even with a character cut by the field width), or a field holding a NUL byte
  followed by more text (GDAL would cut it there) → 422 ``unreadable_file`` naming the member,
  record and field. ``ISO-8859-1``/``latin-1`` and LDID 0x57 ("ANSI") are read as
  Windows-1252, as browsers do.
* **Geometries shapely will not build** (an unclosed ring, a one-point line) are decoded from
  their WKB as written (:func:`wkb_geojson`) so that the checks refuse that feature alone.
"""

from __future__ import annotations

import codecs
import io
import math
import re
import sqlite3
import stat
import struct
import xml.sax.handler
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from geosignal.errors import GeosignalError

#: Most entries an uploaded archive may hold (files and folders).
MAX_ARCHIVE_ENTRIES = 1000
#: The bytes inflated from an archive may reach this multiple of the upload limit.
INFLATE_FACTOR = 5
_CHUNK = 1 << 16
_NESTED_EXT = (".zip", ".kmz", ".shz", ".gz", ".tgz", ".tar", ".7z", ".rar", ".bz2", ".xz", ".zst", ".jar")
_NESTED_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b", b"7z\xbc\xaf", b"Rar!", b"BZh", b"\xfd7zXZ")


# --------------------------------------------------------------------------- archives

@dataclass
class Archive:
    """An uploaded zip archive after the checks: ``members`` maps each file member's name
    (as written in the archive) to its inflated bytes, in archive order, nested archives
    excepted; ``warnings`` says what was skipped."""

    members: dict[str, bytes] = field(default_factory=dict)
    warnings: list[dict] = field(default_factory=list)


def open_zip(data: bytes) -> zipfile.ZipFile:
    """Open ``data`` as a zip archive (central directory only; nothing is inflated).

    Raises 422 ``unreadable_file`` when the archive is damaged or truncated.
    """
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError, struct.error,
            NotImplementedError, UnicodeDecodeError):
        raise GeosignalError("unreadable_file", "The zip archive is damaged or truncated.") from None


def _unsafe_reason(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    if "\x00" in name or "\x00" in getattr(info, "orig_filename", ""):
        return "nul_character"
    unified = name.replace("\\", "/")
    if unified.startswith("/"):
        return "absolute_path"
    if re.match(r"^[A-Za-z]:", unified):
        return "drive_letter"
    if any(part == ".." for part in unified.split("/")):
        return "parent_directory"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "symbolic_link"
    return None


_REASONS = {
    "nul_character": "contains a NUL character",
    "absolute_path": "is an absolute path",
    "drive_letter": "starts with a drive letter",
    "parent_directory": "climbs out of the archive (..)",
    "symbolic_link": "is a symbolic link",
    "duplicate": "appears twice",
}


def check_members(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """Check every entry of ``zf`` (names, links, count) without inflating anything.

    Returns the entries. Raises 413 ``archive_too_large`` (``value``, ``limit``) beyond
    :data:`MAX_ARCHIVE_ENTRIES` entries; 422 ``unsafe_archive`` (``member``, ``reason``:
    ``absolute_path``, ``drive_letter``, ``parent_directory``, ``symbolic_link``,
    ``nul_character``, ``duplicate``) for the first unsafe entry — the archive is refused whole.
    """
    infos = zf.infolist()
    if len(infos) > MAX_ARCHIVE_ENTRIES:
        raise GeosignalError("archive_too_large", f"The archive holds {len(infos):,} entries; the limit is "
                             f"{MAX_ARCHIVE_ENTRIES:,}.", value=len(infos), limit=MAX_ARCHIVE_ENTRIES, unit="entries")
    seen: set[str] = set()
    for info in infos:
        reason = _unsafe_reason(info)
        key = info.filename.replace("\\", "/").lower()
        if reason is None and key in seen:
            reason = "duplicate"
        seen.add(key)
        if reason:
            raise GeosignalError("unsafe_archive", f"The archive member {info.filename!r} {_REASONS[reason]}; "
                                 "the archive is refused.", member=info.filename, reason=reason)
    return infos


def _is_nested(name: str, head: bytes) -> bool:
    return name.lower().endswith(_NESTED_EXT) or head.startswith(_NESTED_MAGIC)


def read_archive(data: bytes, max_upload_bytes: int) -> Archive:
    """Check and inflate an uploaded zip archive, counting the bytes actually inflated.

    ``max_upload_bytes``: the upload limit; all members together may inflate to
    :data:`INFLATE_FACTOR` times it. Directory entries and nested archives are skipped (the
    latter with a ``nested_archive_ignored`` warning naming them).

    Raises as :func:`open_zip` and :func:`check_members`, and 413 ``archive_too_large``
    (``member``, ``limit``) when the inflated bytes exceed the limit, 422 ``unreadable_file``
    (``member``) for a damaged, encrypted or unsupported member.
    """
    zf = open_zip(data)
    infos = check_members(zf)
    limit = INFLATE_FACTOR * max_upload_bytes
    budget = [limit]
    archive = Archive()
    for info in infos:
        if info.is_dir():
            continue
        try:
            content = _inflate(zf, info, budget, limit)
        except GeosignalError:
            raise
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, struct.error, RuntimeError,
                NotImplementedError) as exc:
            raise GeosignalError("unreadable_file", f"The archive member {info.filename!r} cannot be read "
                                 f"({_short(exc)}).", member=info.filename) from None
        if content is None:
            archive.warnings.append({
                "code": "nested_archive_ignored", "member": info.filename,
                "detail": f"{info.filename!r} is an archive inside the archive; it was not opened (extract it "
                          "and send it on its own)."})
            continue
        archive.members[info.filename] = content
    return archive


def _inflate(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: list[int], limit: int) -> bytes | None:
    """Inflate one member as a stream, taking its bytes from ``budget[0]``; None for a nested
    archive (recognised by its name or its first bytes, and not inflated further).

    Deflated members are inflated here from their compressed bytes with ``zlib``, so that the
    count is what the data really inflates to, whatever size the headers claim; the result must
    then match the header's size and CRC. Other methods go through :mod:`zipfile` (which stops
    at the header's size and checks the CRC).
    """
    if info.flag_bits & 0x1:
        raise GeosignalError("unreadable_file", f"The archive member {info.filename!r} is encrypted.",
                             member=info.filename)

    def take(chunk: bytes) -> None:
        budget[0] -= len(chunk)
        if budget[0] < 0:
            raise GeosignalError(
                "archive_too_large", f"The archive inflates to more than {limit:,} bytes (reached in member "
                f"{info.filename!r}; the limit is {INFLATE_FACTOR} × the upload limit).", member=info.filename,
                limit=limit, unit="bytes")

    chunks: list[bytes] = []
    if info.compress_type == zipfile.ZIP_DEFLATED:
        raw = _compressed_bytes(zf, info)
        inflater = zlib.decompressobj(-15)
        while not inflater.eof:
            chunk = inflater.decompress(raw, _CHUNK)
            raw = inflater.unconsumed_tail
            if not chunk:
                if not raw:
                    break
                continue
            take(chunk)
            if not chunks and _is_nested(info.filename, chunk):
                return None
            chunks.append(chunk)
        content = b"".join(chunks)
        if len(content) != info.file_size or zlib.crc32(content) != info.CRC:
            raise GeosignalError("unreadable_file", f"The archive member {info.filename!r} inflates to "
                                 f"{len(content):,} bytes, not the {info.file_size:,} its header says, or fails its "
                                 "checksum.", member=info.filename)
    else:
        with zf.open(info) as stream:
            while chunk := stream.read(_CHUNK):
                take(chunk)
                if not chunks and _is_nested(info.filename, chunk):
                    return None
                chunks.append(chunk)
        content = b"".join(chunks)
    if not content and _is_nested(info.filename, b""):
        return None
    return content


def _compressed_bytes(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """The compressed bytes of a member, read after its local header."""
    fp = zf.fp
    fp.seek(info.header_offset)
    header = fp.read(30)
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile("bad local file header")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    name = fp.read(name_length)
    if name != info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437", errors="replace"):
        raise zipfile.BadZipFile("the local header names another file than the directory")
    fp.seek(info.header_offset + 30 + name_length + extra_length)
    data = fp.read(info.compress_size)
    if len(data) != info.compress_size:
        raise zipfile.BadZipFile("truncated member")
    return data


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "…"


def is_junk_member(name: str) -> bool:
    """Whether an archive member is operating-system clutter (``__MACOSX/``, ``._x``,
    ``.DS_Store``, ``Thumbs.db``)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "__MACOSX/" in name.replace("\\", "/") or base.startswith("._") or base in (".DS_Store", "Thumbs.db")


# --------------------------------------------------------------------------- XML

_GPX_POINTS = ("wpt", "trkpt", "rtept")
#: KML image overlays: pictures draped on the map, never reports (GDAL turns a GroundOverlay's
#: LatLonBox into a polygon).
KML_OVERLAYS = ("GroundOverlay", "PhotoOverlay", "ScreenOverlay")
#: Byte-order marks, longest first (UTF-32 LE starts like UTF-16 LE).
_XML_BOMS = ((b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe\x00\x00", "utf-32-le"), (b"\xef\xbb\xbf", "utf-8"),
             (b"\xfe\xff", "utf-16-be"), (b"\xff\xfe", "utf-16-le"))
#: One number of a KML tuple (what GDAL reads as a number, no NaN/Inf words).
_KML_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_KML_TUPLE = re.compile(rf"{_KML_NUMBER},{_KML_NUMBER}(?:,{_KML_NUMBER})?")
_KML_TUPLES = re.compile(rf"\s*(?>{_KML_TUPLE.pattern})(?:\s+(?>{_KML_TUPLE.pattern}))*+\s*")  # no backtracking


def _starts_like_xml(data: bytes, codec: str) -> bool:
    unit = 4 if "32" in codec else 2 if "16" in codec else 1
    head = data[:4096 - 4096 % unit]
    if unit == 1:
        return head.lstrip().startswith(b"<")
    return head.decode(codec, errors="replace").lstrip(" \t\r\n").startswith("<")


def xml_encoding(data: bytes) -> tuple[str, int] | None:
    """How an XML document's bytes are encoded, from its first bytes as the XML
    specification (appendix F) detects it: a byte-order mark, else the pattern of ``<`` in
    UTF-32 or UTF-16. Returns ``(codec, BOM length)``, ``codec`` being ``"utf-8"`` for every
    ASCII-compatible encoding (its declaration then names it); None when ``data`` does not
    start (after white space) with ``<`` in any of them."""
    for bom, codec in _XML_BOMS:
        if data.startswith(bom):
            return (codec, len(bom)) if _starts_like_xml(data[len(bom):], codec) else None
    for codec, unit in (("utf-32-be", 4), ("utf-32-le", 4), ("utf-16-be", 2), ("utf-16-le", 2)):
        if b"\x00" in data[:unit] and _starts_like_xml(data, codec):
            return codec, 0
    return ("utf-8", 0) if _starts_like_xml(data, "utf-8") else None


_XML_DECLARED_ENCODING = re.compile(r"""^(<\?xml\b[^?>]*?\bencoding\s*=\s*)(["'])[^"']*\2""")


def xml_utf8(data: bytes) -> bytes:
    """An XML document as the checks and GDAL read it: ``data`` itself when its encoding is
    ASCII-compatible (UTF-8, or what its declaration names), else — UTF-16 or UTF-32, with or
    without a byte-order mark — transcoded to UTF-8, the declaration's ``encoding`` changed to
    ``UTF-8``; text and coordinates are kept character for character.

    Raises 422 ``unreadable_file`` when the bytes are not valid UTF-16/UTF-32.
    """
    found = xml_encoding(data)
    if found is None or found[0] == "utf-8":
        return data
    codec, bom = found
    try:
        text = data[bom:].decode(codec)
    except UnicodeDecodeError as exc:
        raise GeosignalError("unreadable_file", f"The XML file is not valid {codec.upper()} text (byte {exc.start + bom}"
                             ").", where=f"byte {exc.start + bom}") from None
    return _XML_DECLARED_ENCODING.sub(r"\1\2UTF-8\2", text, count=1).encode("utf-8")


class _Stop(Exception):
    """Raised from an expat handler to stop parsing."""


def xml_root(data: bytes) -> tuple[str | None, str | None]:
    """The local name of the root element of an XML document (``kml`` for ``<k:kml>``),
    wherever it starts (after a prolog of any length), and the name the DOCTYPE declares,
    if any. Only the prolog is parsed (expat, nothing expanded nor fetched). The root is None
    when the prolog is not well-formed.

    Raises 422 ``unsafe_xml`` when the prolog declares an entity.
    """
    import pyexpat

    text = xml_utf8(data)
    parser = pyexpat.ParserCreate()
    seen: dict[str, str | None] = {"root": None, "doctype": None}

    def doctype(name: str, *_: object) -> None:
        seen["doctype"] = name

    def entity(name: str, *_: object) -> None:
        raise GeosignalError("unsafe_xml", f"The XML file declares the entity {name!r} (in a DOCTYPE); such XML "
                             "is refused before it is read.")

    def start(name: str, _attrs: object) -> None:
        seen["root"] = name.rsplit(":", 1)[-1]
        raise _Stop

    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = entity
    parser.UnparsedEntityDeclHandler = entity
    parser.StartElementHandler = start
    try:
        for pos in range(0, len(text), _CHUNK):
            parser.Parse(text[pos:pos + _CHUNK], False)
        parser.Parse(b"", True)
    except _Stop:
        pass
    except pyexpat.ExpatError:
        prolog = text[:max(parser.CurrentByteIndex, 0) + 64].lower()
        if b"<!doctype" in prolog or b"<!entity" in prolog:  # e.g. <!doctype kml>, which expat does not read
            raise GeosignalError("unsafe_xml", "The XML file declares a DOCTYPE or entities; such XML is "
                                 "refused before it is read.") from None
    return seen["root"], seen["doctype"]


class _XmlScan(xml.sax.handler.ContentHandler):
    """Collects KML NetworkLink targets and image overlays, and checks the raw coordinates of
    GPX points and KML placemarks, while the document is checked."""

    def __init__(self, fmt: str = "kml") -> None:
        super().__init__()
        self.fmt = fmt
        self.links: list[dict] = []
        self.overlays: list[dict] = []
        #: open NetworkLinks, overlays and placemarks, innermost last
        self._open: list[dict] = []
        self._capture: str | None = None
        self._text: list[str] = []
        self._coords: list[str] | None = None
        self._coords_at: tuple[int, int] = (0, 0)
        self._placemarks = 0
        self.root: str | None = None
        self._locator = None

    def setDocumentLocator(self, locator) -> None:  # noqa: N802, ANN001 - SAX API
        self._locator = locator

    def _position(self) -> tuple[int, int]:
        return self._locator.getLineNumber(), self._locator.getColumnNumber()

    def startElement(self, name: str, attrs) -> None:  # noqa: N802, ANN001 - SAX API
        local = name.rsplit(":", 1)[-1]
        if self.root is None:
            self.root = local
        if local in _GPX_POINTS and self.fmt == "gpx":
            for axis, low, high in (("lat", -90.0, 90.0), ("lon", -180.0, 180.0)):
                raw = attrs.get(axis)
                try:
                    ok = raw is not None and low <= float(raw) <= high
                except ValueError:
                    ok = False
                if not ok:
                    line, column = self._position()
                    raise GeosignalError("invalid_coordinate", f"<{local}> at line {line} has {axis}={raw!r}, not a "
                                         f"number between {low:g} and {high:g}.", where=f"line {line} column {column}",
                                         line=line, column=column)
        if local in ("NetworkLink", "Placemark", *KML_OVERLAYS):
            thing = {"kind": local, "name": None, "href": None, "problem": None}
            if local == "NetworkLink":
                self.links.append(thing)
            elif local == "Placemark":
                thing["index"] = self._placemarks
                self._placemarks += 1
            else:
                self.overlays.append(thing)
            self._open.append(thing)
        elif local == "coordinates" and self.fmt == "kml" and any(t["kind"] == "Placemark" for t in self._open):
            self._coords = []
            self._coords_at = self._position()
        elif (self._open and local in ("href", "name") and self._open[-1][local] is None
              and (local == "name" or self._open[-1]["kind"] != "Placemark")):
            self._capture = local
            self._text = []

    def endElement(self, name: str) -> None:  # noqa: N802 - SAX API
        local = name.rsplit(":", 1)[-1]
        if self._capture is not None and local == self._capture:
            self._open[-1][local] = "".join(self._text).strip()[:500]
            self._capture = None
        elif local == "coordinates" and self._coords is not None:
            placemark = next(t for t in reversed(self._open) if t["kind"] == "Placemark")
            if placemark["problem"] is None:
                placemark["problem"] = _coordinates_problem("".join(self._coords), self._coords_at)
            self._coords = None
        elif self._open and local == self._open[-1]["kind"]:
            thing = self._open.pop()
            if thing["problem"] is not None:
                code, text, (line, column) = thing["problem"]
                label = f"Placemark {thing['index']}" + (f" ({thing['name']!r})" if thing["name"] else "")
                detail = (f"{label} has empty <coordinates> (line {line})." if code == "empty_geometry" else
                          f"{label} has the position {text!r} in its <coordinates> (line {line}): each position "
                          "must be lon,lat or lon,lat,altitude (finite numbers with a decimal point, not a decimal "
                          "comma; no spaces inside a position), positions separated by spaces.")
                raise GeosignalError(code, detail, where=f"line {line} column {column}", line=line, column=column,
                                     placemark=thing["index"], name=thing["name"])

    def characters(self, content: str) -> None:
        if self._coords is not None:
            self._coords.append(content)
        elif self._capture is not None:
            self._text.append(content)


def _coordinates_problem(text: str, at: tuple[int, int]) -> tuple[str, str, tuple[int, int]] | None:
    """The fault of the raw text of a KML ``<coordinates>`` element (code, the bad position,
    ``at``), None when every position is 2 or 3 comma-separated finite numbers."""
    if not text.strip():
        return "empty_geometry", "", at
    if _KML_TUPLES.fullmatch(text):
        if "e" not in text and "E" not in text:
            return None
        bad = next((t for t in text.split() if not all(math.isfinite(float(v)) for v in t.split(","))), None)
    else:
        bad = next((t for t in text.split() if not _KML_TUPLE.fullmatch(t)), text.strip())
    return ("invalid_coordinate", bad[:100], at) if bad is not None else None


def check_xml(data: bytes, fmt: str, *, member: str | None = None) -> list[dict]:
    """Check an XML upload (``fmt`` ``"kml"`` or ``"gpx"``; UTF-8 or any encoding its
    declaration names, UTF-16 or UTF-32) before GDAL reads it.

    ``member``: the archive member it came from (KMZ), named in errors. Returns warnings:
    one ``network_link_ignored`` per KML NetworkLink (``href``, ``name``) and one
    ``overlay_ignored`` per image overlay (``kind``, ``name``; :func:`xml_for_gdal` takes
    them out: they are pictures, not reports).

    Raises 422 ``unsafe_xml`` for a DOCTYPE, an entity declaration or an external reference;
    422 ``unreadable_file`` (``line``, ``column``) for malformed XML or a root element that
    is not ``<kml>`` / ``<gpx>`` (any namespace prefix); 422 ``invalid_coordinate``
    (``line``, ``column``) for a GPX point whose ``lat``/``lon`` is missing, not a number or
    out of range, or a KML placemark's ``<coordinates>`` holding a position that is not 2 or
    3 comma-separated finite numbers (also ``placemark``, its 0-based index in the document,
    and its ``name``) — GDAL would read the missing numbers as 0; 422 ``empty_geometry`` (same
    members) for empty ``<coordinates>``.
    """
    import defusedxml.sax
    from defusedxml import DefusedXmlException

    where = {"member": member} if member else {}
    scan = _XmlScan(fmt)
    try:
        data = xml_utf8(data)
        defusedxml.sax.parseString(data, scan, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except GeosignalError as err:
        err.extra.update(where)
        raise
    except DefusedXmlException as exc:
        raise GeosignalError("unsafe_xml", f"The {fmt.upper()} file declares a DOCTYPE or entities "
                             f"({type(exc).__name__}); such XML is refused before it is read.", **where) from None
    except xml.sax.SAXParseException as exc:
        raise GeosignalError("unreadable_file", f"The {fmt.upper()} file is not well-formed XML: {exc.getMessage()} "
                             f"(line {exc.getLineNumber()}, column {exc.getColumnNumber()}).",
                             where=f"line {exc.getLineNumber()} column {exc.getColumnNumber()}",
                             line=exc.getLineNumber(), column=exc.getColumnNumber(), **where) from None
    except (xml.sax.SAXException, ValueError, LookupError) as exc:
        raise GeosignalError("unreadable_file", f"The {fmt.upper()} file cannot be read as XML ({_short(exc)}).",
                             **where) from None
    if (scan.root or "").lower() != fmt:
        raise GeosignalError("unreadable_file", f"The XML root element is <{scan.root}>, not <{fmt}>.", **where)
    warnings = [{"code": "network_link_ignored", "href": link["href"], "name": link["name"],
                 "detail": f"A KML NetworkLink{' to ' + repr(link['href']) if link['href'] else ''} was not followed: "
                           "only the features in the file are read.", **where} for link in scan.links]
    warnings += [{"code": "overlay_ignored", "kind": o["kind"], "name": o["name"],
                  "detail": f"The KML {o['kind']}{' ' + repr(o['name']) if o['name'] else ''} is an image laid on the "
                            "map, not a report; it was not read.", **where} for o in scan.overlays]
    return warnings


_PREFIXED_ROOT = re.compile(rb"<[A-Za-z_][\w.-]*:(?:kml|gpx)[\s/>]")
_EARLY_ROOT = re.compile(rb"<(?:kml|gpx)[\s/>]")
#: GDAL recognises a KML/GPX by its root within about the first kilobyte.
_GDAL_SNIFF = 512
_DECLARATION = re.compile(rb"(?:\xef\xbb\xbf)?(?:<\?xml\b[^>]*\?>)?")
#: A start tag and its attributes (group 1), attribute values quoted either way.
_START_TAG = re.compile(rb"""<[^\s/>]+((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*/?>""")
_ATTRIBUTE = re.compile(rb"""\s+([^\s=/>]+)\s*=\s*("[^"]*"|'[^']*')""")


def xml_for_gdal(data: bytes) -> bytes:
    """The bytes of a checked KML/GPX document (:func:`check_xml`) to give GDAL: in UTF-8
    (:func:`xml_utf8`), without its image overlays (:data:`KML_OVERLAYS`, cut out whole), and
    with the namespace prefix of its root (``<k:kml xmlns:k=…>``, which GDAL does not
    recognise) taken off the elements that carry it, the namespace becoming the default one,
    without the comments and processing instructions of a long prolog (GDAL looks for the
    root in the first bytes only), and with the ``type`` of every KML ``<SimpleField>`` made
    ``string`` (GDAL would convert the values to the declared type before geosignal's rules see
    them: ``1.000`` or ``1,5`` read as 1 in an ``int`` field, 2³¹ clipped); everything else is
    kept byte for byte.

    Raises 422 ``unsafe_xml`` for a DOCTYPE and ``unreadable_file`` for malformed XML (which
    :func:`check_xml` refuses first).
    """
    import pyexpat
    from xml.sax.saxutils import quoteattr

    data = xml_utf8(data)
    if (b"Overlay" not in data and b"SimpleField" not in data and not _PREFIXED_ROOT.search(data)
            and _EARLY_ROOT.search(data[:_GDAL_SNIFF])):
        return data
    parser = pyexpat.ParserCreate()
    spans: list[tuple[int, int]] = []
    edits: list[tuple[int, int, bytes]] = []  # (start, end, replacement)
    state: dict = {"open": None, "depth": 0, "prefix": None}

    def doctype(*_: object) -> None:
        raise GeosignalError("unsafe_xml", "The XML file declares a DOCTYPE; such XML is refused before it is read.")

    def start(name: str, attrs: dict) -> None:
        at = parser.CurrentByteIndex
        state["depth"] += 1
        if state["depth"] == 1 and at > _GDAL_SNIFF // 2:  # a long prolog (comments, PIs): GDAL would miss the root
            edits.append((_DECLARATION.match(data).end(), at, b"\n"))
        if state["depth"] == 1 and ":" in name:
            prefix = name.split(":", 1)[0]
            state["prefix"] = prefix + ":"
            uri = attrs.get(f"xmlns:{prefix}")
            if uri is not None and "xmlns" not in attrs:
                end_of_name = at + 1 + len(name.encode("utf-8"))
                edits.append((end_of_name, end_of_name, b" xmlns=" + quoteattr(uri).encode("utf-8")))
        if state["prefix"] and name.startswith(state["prefix"]):
            edits.append((at + 1, at + 1 + len(state["prefix"].encode("utf-8")), b""))
        if state["open"] is None and name.rsplit(":", 1)[-1] in KML_OVERLAYS:
            state["open"] = (name, at, state["depth"])
        if name.rsplit(":", 1)[-1] == "SimpleField" and "type" in attrs:
            tag = _START_TAG.match(data, at)
            for attr in _ATTRIBUTE.finditer(data, tag.start(1), tag.end(1)) if tag else ():
                if attr.group(1) == b"type":  # GDAL would convert the values: 1.000 → 1, 12.7 → 12 (int)
                    edits.append((attr.start(2) + 1, attr.end(2) - 1, b"string"))

    def end(name: str) -> None:
        at = parser.CurrentByteIndex
        tag = b"</" + name.encode("utf-8")
        closing = data.startswith(tag, at) and data[at + len(tag):at + len(tag) + 1] in (b">", b" ", b"\t", b"\r",
                                                                                         b"\n")
        if closing and state["prefix"] and name.startswith(state["prefix"]):
            edits.append((at + 2, at + 2 + len(state["prefix"].encode("utf-8")), b""))
        opened = state["open"]
        if opened is not None and opened[0] == name and opened[2] == state["depth"]:
            # an empty element <GroundOverlay/> ends where expat says; an end tag at its '>'
            spans.append((opened[1], data.index(b">", at) + 1 if closing else at))
            state["open"] = None
        state["depth"] -= 1

    parser.StartDoctypeDeclHandler = doctype
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(data, True)
    except pyexpat.ExpatError as exc:
        raise GeosignalError("unreadable_file", f"The XML file is not well-formed XML: {exc}.") from None
    changes = [(a, b, b"") for a, b in spans]
    changes += [e for e in edits if not any(a <= e[0] < b for a, b in spans)]
    if not changes:
        return data
    out, pos = [], 0
    for a, b, replacement in sorted(changes):
        out += [data[pos:a], replacement]
        pos = b
    out.append(data[pos:])
    return b"".join(out)


def wkb_geojson(wkb: bytes) -> dict:
    """Decode WKB (ISO or extended, any byte order; Z and M read as further ordinates) into a
    GeoJSON-like dict of coordinate lists, as written — for the geometries shapely refuses to
    build (an unclosed ring, a one-point line), so that the checks of
    :func:`~.core.prepare_report` can name the fault and where it is.

    Raises 422 ``unsupported_geometry_type`` for curves and other types, ``unreadable_file``
    for truncated WKB.
    """
    names = {1: "Point", 2: "LineString", 3: "Polygon", 4: "MultiPoint", 5: "MultiLineString", 6: "MultiPolygon",
             7: "GeometryCollection"}

    def read(pos: int) -> tuple[dict, int]:
        order = "<" if wkb[pos] == 1 else ">"
        (code,) = struct.unpack_from(order + "I", wkb, pos + 1)
        pos += 5
        dims = 2
        if code & 0x20000000:  # EWKB SRID
            pos += 4
        if code & 0xC0000000:
            dims += bool(code & 0x80000000) + bool(code & 0x40000000)
            code &= 0x0FFFFFFF
        else:
            dims += {0: 0, 1: 1, 2: 1, 3: 2}.get(code // 1000, 0)
            code %= 1000
        if code not in names:
            raise GeosignalError("unsupported_geometry_type", f"The geometry type {code} (a curve or surface) cannot "
                                 "be a report.", where="/geometry/type")
        gtype = names[code]

        def points(pos: int) -> tuple[list, int]:
            (count,) = struct.unpack_from(order + "I", wkb, pos)
            pos += 4
            values = struct.unpack_from(order + "d" * (count * dims), wkb, pos)
            return [list(values[i:i + dims]) for i in range(0, len(values), dims)], pos + 8 * count * dims

        if gtype == "Point":
            values = struct.unpack_from(order + "d" * dims, wkb, pos)
            pos += 8 * dims
            coords: list = [] if all(v != v for v in values) else list(values)
            return {"type": gtype, "coordinates": coords}, pos
        if gtype == "LineString":
            coords, pos = points(pos)
            return {"type": gtype, "coordinates": coords}, pos
        if gtype == "Polygon":
            (rings,) = struct.unpack_from(order + "I", wkb, pos)
            pos += 4
            coords = []
            for _ in range(rings):
                ring, pos = points(pos)
                coords.append(ring)
            return {"type": gtype, "coordinates": coords}, pos
        (count,) = struct.unpack_from(order + "I", wkb, pos)
        pos += 4
        parts = []
        for _ in range(count):
            part, pos = read(pos)
            parts.append(part)
        if gtype == "GeometryCollection":
            return {"type": gtype, "geometries": parts}, pos
        return {"type": gtype, "coordinates": [p["coordinates"] for p in parts]}, pos

    try:
        return read(0)[0]
    except (struct.error, IndexError, RecursionError):
        raise GeosignalError("unreadable_file", "A geometry of the file cannot be read (damaged WKB).") from None


# --------------------------------------------------------------------------- dBase text

#: dBase language driver IDs (byte 29) → Python codec (ESRI's table; 0x57 "ANSI" read as Windows-1252).
LDID_CODECS: dict[int, str] = {
    0x01: "cp437", 0x02: "cp850", 0x03: "cp1252", 0x04: "mac_roman", 0x08: "cp865", 0x09: "cp437",
    0x0A: "cp850", 0x0B: "cp437", 0x0D: "cp437", 0x0E: "cp850", 0x0F: "cp437", 0x10: "cp850", 0x11: "cp437",
    0x12: "cp850", 0x13: "cp932", 0x14: "cp850", 0x15: "cp437", 0x16: "cp850", 0x17: "cp865", 0x18: "cp437",
    0x19: "cp437", 0x1A: "cp850", 0x1B: "cp437", 0x1C: "cp863", 0x1D: "cp850", 0x1F: "cp852", 0x22: "cp852",
    0x23: "cp852", 0x24: "cp860", 0x25: "cp850", 0x26: "cp866", 0x37: "cp850", 0x40: "cp852", 0x4D: "cp936",
    0x4E: "cp949", 0x4F: "cp950", 0x50: "cp874", 0x57: "cp1252", 0x58: "cp1252", 0x59: "cp1252",
    0x64: "cp852", 0x65: "cp866", 0x66: "cp865", 0x67: "cp861", 0x6A: "cp737", 0x6B: "cp857", 0x6C: "cp863",
    0x78: "cp950", 0x79: "cp949", 0x7A: "cp936", 0x7B: "cp932", 0x7C: "cp874", 0x7D: "cp1255", 0x7E: "cp1256",
    0x86: "cp737", 0x87: "cp852", 0x88: "cp857", 0x96: "mac_cyrillic", 0x97: "mac_latin2", 0x98: "mac_greek",
    0xC8: "cp1250", 0xC9: "cp1251", 0xCA: "cp1254", 0xCB: "cp1253", 0xCC: "cp1257",
}
_CPG_ALIASES = {"88591": "cp1252", "8859_1": "cp1252", "iso88591": "cp1252", "iso_8859_1": "cp1252",
                "latin1": "cp1252", "latin_1": "cp1252", "ansi1252": "cp1252", "1252": "cp1252",
                "windows1252": "cp1252", "ansi": "cp1252", "utf8": "utf-8", "65001": "utf-8"}


def cpg_codec(text: str) -> str | None:
    """Return the Python codec a ``.cpg`` names (``UTF-8``, ``1252``, ``ISO-8859-1``,
    ``ANSI 1252``, ``CP1250``…), or None when it names none geosignal knows or one that is no
    dBase code page: only ASCII-compatible single-byte code pages, UTF-8 and the
    ASCII-compatible CJK multibyte ones are (not UTF-16/32, EBCDIC, UTF-7, nor Python's
    non-text codecs such as ``rot13`` or ``base64``). A label holding control characters
    (NUL…) or anything but printable ASCII names none."""
    if not text or len(text) > 64 or not all(" " <= ch <= "~" for ch in text.strip()):
        return None
    folded = re.sub(r"[\s\-]+", "", text.strip().lower()).replace("_", "")
    if folded in _CPG_ALIASES:
        return _CPG_ALIASES[folded]
    if folded.isdigit():
        folded = "cp" + folded
    for candidate in (folded, re.sub(r"\s+", "-", text.strip().lower())):  # KOI8-R, US-ASCII keep their '-'
        try:
            name = codecs.lookup(candidate).name
            break
        except (LookupError, ValueError, TypeError):
            continue
    else:
        return None
    name = "cp1252" if name in ("latin-1", "iso8859-1") else name
    return name if _is_dbase_codec(name) else None


#: Every printable ASCII character: a dBase code page must read and write them as themselves.
_ASCII_TEXT = bytes(range(0x20, 0x7F)).decode("ascii")
#: The multibyte codecs that are dBase code pages (ASCII-compatible: UTF-8 and the CJK ones).
_DBASE_MULTIBYTE = {"utf-8", "cp932", "cp936", "gbk", "cp949", "cp950", "big5", "shift_jis", "euc_kr", "gb2312",
                    "gb18030", "euc_jp"}


def _is_dbase_codec(name: str) -> bool:
    """Whether the codec ``name`` (as :func:`codecs.lookup` names it) can be a dBase code page:
    a text encoding, single-byte (a charmap table) or one of :data:`_DBASE_MULTIBYTE`, in
    which printable ASCII round-trips unchanged."""
    import importlib

    try:
        info = codecs.lookup(name)
        if not getattr(info, "_is_text_encoding", True):
            return False
        if name not in _DBASE_MULTIBYTE and name != "ascii":
            module = importlib.import_module(getattr(info.incrementaldecoder, "__module__", "") or "")
            if not (hasattr(module, "decoding_table") or hasattr(module, "decoding_map")):
                return False
        return (_ASCII_TEXT.encode(name) == _ASCII_TEXT.encode("ascii")
                and _ASCII_TEXT.encode("ascii").decode(name) == _ASCII_TEXT)
    except (LookupError, UnicodeError, ValueError, TypeError, ImportError, AttributeError):
        return False


@dataclass
class DbfLayout:
    """The parts of a dBase header geosignal needs."""

    records: int
    header_length: int
    record_length: int
    ldid: int
    #: (name bytes, offset in the record, length) of each text (C) field
    text_fields: list[tuple[bytes, int, int]]
    #: the field names as raw bytes
    names: list[bytes]
    #: (position among the fields, offset in the record, length) of each number written as text (N, F)
    number_fields: list[tuple[int, int, int]] = field(default_factory=list)


def dbf_layout(dbf: bytes, member: str) -> DbfLayout:
    """Read the header of a ``.dbf``. Raises 422 ``unreadable_file`` naming ``member`` when it
    is too short or its field descriptors are inconsistent."""
    if len(dbf) < 33:
        raise GeosignalError("unreadable_file", f"{member!r} is not a dBase file (too short).", member=member)
    records, header_length, record_length = struct.unpack_from("<IHH", dbf, 4)
    fields: list[tuple[bytes, int, int]] = []
    numbers: list[tuple[int, int, int]] = []
    names: list[bytes] = []
    offset = 1  # deletion flag
    pos = 32
    while pos + 32 <= min(len(dbf), header_length) and dbf[pos] != 0x0D:
        desc = dbf[pos:pos + 32]
        name = desc[:11].split(b"\x00", 1)[0]
        length = desc[16]
        names.append(name)
        if chr(desc[11]) in "CcVv":
            fields.append((name, offset, length))
        elif chr(desc[11]) in "NnFf":
            numbers.append((len(names) - 1, offset, length))
        offset += length
        pos += 32
    if offset > record_length or header_length < 33:
        raise GeosignalError("unreadable_file", f"The field descriptors of {member!r} do not match its record "
                             "length.", member=member)
    return DbfLayout(records, header_length, record_length, dbf[29], fields, names, numbers)


def dbf_stored_numbers(dbf: bytes, member: str) -> dict[int, list[str | None]]:
    """The numeric fields (dBase ``N`` and ``F``: numbers written as text) of a ``.dbf`` as
    written, by field position (0-based, among all fields): one stripped text per record (None
    when blank), in record order — not as GDAL converts them (``atoi``/``atof``: ``nan`` and
    ``abc`` → 0, ``1.000`` → 1, ``2,500`` → 2, ``12.7`` → 12 in an integer field, ``1e3`` → 1),
    so that the count rules see what the file holds. Read from the array of all records at
    once. Raises as :func:`dbf_layout`."""
    layout = dbf_layout(dbf, member)
    matrix, _ = _text_matrix(dbf, layout)
    out: dict[int, list[str | None]] = {}
    for position, off, length in layout.number_fields:
        cells = matrix[:, off:off + length]
        out[position] = [(cell.tobytes().decode("latin-1").strip(" \x00") or None) for cell in cells]
    return out


def _text_matrix(dbf: bytes, layout: DbfLayout) -> tuple[np.ndarray, int]:
    """The records' bytes as an (n, record_length) uint8 array (n ≤ the header's count)."""
    available = max(0, (len(dbf) - layout.header_length) // max(layout.record_length, 1))
    n = min(layout.records, available)
    if n == 0 or layout.record_length == 0:
        return np.zeros((0, max(layout.record_length, 1)), dtype=np.uint8), 0
    body = np.frombuffer(dbf, dtype=np.uint8, count=n * layout.record_length, offset=layout.header_length)
    return body.reshape(n, layout.record_length), n


def dbf_encoding(dbf: bytes, cpg: bytes | None, member: str) -> tuple[str, str]:
    """Decide the encoding of a ``.dbf``'s text: the ``.cpg`` first, then the LDID byte, then
    ASCII when every text byte is ASCII. All text fields of all records are checked at once
    (one array over the records).

    Returns ``(codec, source)`` with ``source`` one of ``"cpg"``, ``"ldid"``, ``"ascii"``.

    Raises 422 ``undecidable_encoding`` (``member``, and ``cpg`` = the label) when nothing
    declares the encoding and the text is not plain ASCII, or the ``.cpg`` names an unknown
    encoding or one that is no dBase code page (see :func:`cpg_codec`); 422
    ``unreadable_file`` (``member``, ``record`` 1-based, ``field``) when a text field holds a
    NUL byte followed by more text (GDAL would cut the text there), when the text is not
    valid in the declared encoding, or when a single-byte declaration meets UTF-8 text
    (mojibake).
    """
    layout = dbf_layout(dbf, member)
    matrix, n = _text_matrix(dbf, layout)
    _check_nul_bytes(matrix, layout, member)
    cols = [c for _, off, length in layout.text_fields for c in range(off, min(off + length, layout.record_length))]
    text = matrix[:, cols] if cols else np.zeros((n, 0), dtype=np.uint8)
    names_high = any(b >= 0x80 for name in layout.names for b in name)
    high_rows = np.flatnonzero((text >= 0x80).any(axis=1)) if text.size else np.zeros(0, dtype=np.intp)
    if cpg is not None:
        label = cpg.decode("ascii", errors="replace").strip()
        shown = label if len(label) <= 64 else label[:63] + "…"
        codec = cpg_codec(label)
        if codec is None:
            raise GeosignalError("undecidable_encoding", f"The .cpg of {member!r} names {shown!r}, which is not an "
                                 "encoding geosignal can read dBase text in (an ASCII-compatible code page such as "
                                 "1252, or UTF-8).", member=member, cpg=shown)
        source = "cpg"
    elif layout.ldid in LDID_CODECS:
        codec, source = LDID_CODECS[layout.ldid], "ldid"
    elif not len(high_rows) and not names_high:
        return "ascii", "ascii"
    else:
        raise GeosignalError("undecidable_encoding", f"The text of {member!r} is not plain ASCII and nothing says "
                             "its encoding (no .cpg, language driver byte 0): add a .cpg file naming it "
                             "(e.g. UTF-8 or 1252).", member=member, ldid=layout.ldid)
    if not len(high_rows):
        return codec, source
    blocks = [(name.decode("latin-1"), off, length, matrix[high_rows, off:off + length].tobytes())
              for name, off, length in layout.text_fields]
    for field_name, _, length, block in blocks:
        try:
            block.decode(codec)
        except UnicodeDecodeError as exc:
            row = int(high_rows[exc.start // max(length, 1)]) + 1
            raise GeosignalError("unreadable_file", f"Record {row}, field {field_name!r} of {member!r} is not "
                                 f"valid {codec} text, as its {source} declares.", member=member, record=row,
                                 field=field_name) from None
        except (UnicodeError, LookupError, ValueError):
            raise GeosignalError("undecidable_encoding", f"The text of {member!r} cannot be read as {codec}, as its "
                                 f"{source} declares.", member=member) from None
    if codecs.lookup(codec).name not in _MULTIBYTE and _looks_utf8(b"".join(b for *_, b in blocks)):
        row, field_name = _first_utf8(matrix, high_rows, blocks)
        raise GeosignalError("unreadable_file", f"The text of {member!r} is UTF-8 but its {source} declares "
                             f"{codec}: it would read as mojibake (first at record {row}, field {field_name!r}). "
                             "Declare UTF-8 in a .cpg file.", member=member, record=row, field=field_name)
    return codec, source


_MULTIBYTE = {"utf-8", "utf-16", "utf-32", "cp932", "cp936", "gbk", "cp949", "cp950", "big5", "shift_jis",
              "euc_kr", "gb2312", "gb18030", "euc_jp"}
#: One well-formed UTF-8 multibyte sequence (RFC 3629: no overlong forms, no surrogates).
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}")


def _looks_utf8(raw: bytes) -> bool:
    """Whether ``raw`` reads as UTF-8 rather than as a single-byte code page: it holds at
    least one well-formed UTF-8 multibyte sequence and no more stray high bytes (outside such
    sequences) than sequences. A field cut inside a character leaves one stray byte, which
    does not hide the rest; text in Windows-1252 ("Église à Fleurus", "cœur") has no sequence
    or more stray bytes than sequences."""
    sequences = _UTF8_SEQUENCE.findall(raw)
    if not sequences:
        return False
    high = np.count_nonzero(np.frombuffer(raw, dtype=np.uint8) >= 0x80)
    in_sequences = sum(len(s) for s in sequences)
    return high - in_sequences <= len(sequences)


def _first_utf8(matrix: np.ndarray, rows: np.ndarray, blocks: list) -> tuple[int, str]:
    """The first (record 1-based, field) among ``rows`` whose text holds a UTF-8 sequence."""
    for r in rows:
        for field_name, off, length, _ in blocks:
            if _UTF8_SEQUENCE.search(matrix[r, off:off + length].tobytes()):
                return int(r) + 1, field_name
    return int(rows[0]) + 1, blocks[0][0]


def _check_nul_bytes(matrix: np.ndarray, layout: DbfLayout, member: str) -> None:
    """Refuse a text field holding a NUL byte followed by more text (GDAL stops reading the
    text at the NUL: the rest would be lost); NUL padding at the end of a field is fine.
    Checked on the array of all records at once; deleted records (flag ``*``) are skipped."""
    if not len(matrix):
        return
    live = matrix[:, 0] != 0x2A
    found: list[tuple[int, str]] = []
    for name, off, length in layout.text_fields:
        cells = matrix[:, off:off + length]
        if not cells.shape[1]:
            continue
        nul = cells == 0
        has_nul = nul.any(axis=1) & live
        if not has_nul.any():
            continue
        content = (cells != 0) & (cells != 0x20)
        first_nul = nul.argmax(axis=1)
        last_content = cells.shape[1] - 1 - content[:, ::-1].argmax(axis=1)
        bad = np.flatnonzero(has_nul & content.any(axis=1) & (first_nul < last_content))
        if len(bad):
            found.append((int(bad[0]) + 1, name.decode("latin-1")))
    if found:
        row, field_name = min(found, key=lambda f: f[0])
        raise GeosignalError("unreadable_file", f"Record {row}, field {field_name!r} of {member!r} holds a NUL "
                             "byte followed by more text; the text after it would be lost. Remove the NUL "
                             "character.", member=member, record=row, field=field_name)



# --------------------------------------------------------------------------- Shapefile record counts

_SHP_FILE_CODE = 9994


def _shp_records(shp: bytes, member: str) -> list[tuple[int, int]]:
    """Walk the records of a ``.shp`` by their headers: ``(offset in bytes, content length in
    bytes)`` of each. Raises 422 ``unreadable_file`` naming ``member`` (and the 1-based
    ``record``) when the header is not a Shapefile's, a record header has an unexpected record
    number or a record runs past the end of the file."""
    if len(shp) < 100 or struct.unpack_from(">i", shp, 0)[0] != _SHP_FILE_CODE:
        raise GeosignalError("unreadable_file", f"{member!r} is not a Shapefile (no .shp header).", where=member,
                             member=member)
    records: list[tuple[int, int]] = []
    # the records end where the header says the file ends (in 16-bit words): bytes a writer left
    # after it are not records
    declared = 2 * struct.unpack_from(">i", shp, 24)[0]
    pos, end = 100, declared if 100 <= declared <= len(shp) else len(shp)
    while pos < end:
        number = len(records) + 1
        if pos + 8 > end:
            raise GeosignalError("unreadable_file", f"{member!r} ends inside the header of record {number} (byte "
                                 f"{pos:,}): the file is truncated or damaged.", where=member, member=member,
                                 record=number)
        found, words = struct.unpack_from(">ii", shp, pos)
        length = 2 * words
        if found != number or length < 4 or pos + 8 + length > end:
            reason = (f"is numbered {found}" if found != number else
                      f"claims {length:,} bytes of content" + (", past the end of the file" if length >= 4 else ""))
            raise GeosignalError("unreadable_file", f"Record {number} of {member!r} (at byte {pos:,}) {reason}: the "
                                 "file is truncated or damaged.", where=member, member=member, record=number)
        records.append((pos, length))
        pos += 8 + length
    return records


#: Shapefile shape types holding polygons (Polygon, PolygonZ, PolygonM).
_SHP_POLYGONS = (5, 15, 25)


def shp_misplaced_holes(shp: bytes, member: str) -> dict[int, dict]:
    """The polygon records of a ``.shp`` holding a hole (a counter-clockwise ring) that lies in
    none of the record's outer rings (clockwise), as written: ``{record index (0-based): GeoJSON
    geometry}``, each hole put with the outer ring holding it, a misplaced one with the first.
    GDAL would turn such a hole into a zone of its own (``organizePolygons``); given to the
    checks as written, it is refused as in every other format (``invalid_geometry``, "Hole lies
    outside shell", with its location). Only records of two rings or more are looked at.
    Raises as :func:`_shp_records`."""
    from shapely.geometry import Polygon as ShapelyPolygon

    found: dict[int, dict] = {}
    for k, (pos, length) in enumerate(_shp_records(shp, member)):
        body = pos + 8
        if length < 44 or struct.unpack_from("<i", shp, body)[0] not in _SHP_POLYGONS:
            continue
        nparts, npoints = struct.unpack_from("<ii", shp, body + 36)
        if nparts < 2 or 44 + 4 * nparts + 16 * npoints > length:
            continue
        starts = [*struct.unpack_from(f"<{nparts}i", shp, body + 44), npoints]
        xy = np.frombuffer(shp, dtype="<f8", count=2 * npoints, offset=body + 44 + 4 * nparts).reshape(npoints, 2)
        rings = [xy[a:b].tolist() for a, b in zip(starts, starts[1:], strict=False) if 0 <= a < b <= npoints]
        outers = [r for r in rings if _signed_area(r) < 0]  # clockwise: an outer ring
        holes = [r for r in rings if _signed_area(r) > 0]
        if not outers or not holes:
            continue
        shells = [ShapelyPolygon(r) for r in outers]
        placed: list[list] = [[r] for r in outers]
        misplaced = False
        for hole in holes:
            inside = next((i for i, shell in enumerate(shells) if shell.is_valid and shell.covers(ShapelyPolygon(hole))),
                          None)
            misplaced = misplaced or inside is None
            placed[inside or 0].append(hole)
        if misplaced:
            found[k] = ({"type": "Polygon", "coordinates": placed[0]} if len(placed) == 1 else
                        {"type": "MultiPolygon", "coordinates": placed})
    return found


def _signed_area(ring: list) -> float:
    """Twice the signed area of a ring (shoelace): > 0 counter-clockwise."""
    return sum(x0 * y1 - x1 * y0 for (x0, y0, *_), (x1, y1, *_) in zip(ring, ring[1:], strict=False))


def _dbf_records(dbf: bytes, member: str) -> int:
    """The number of records of a ``.dbf``, once its header's count is checked against its size:
    the file must hold exactly that many whole records (what follows them, shorter than a
    record — the end-of-file byte 0x1A, padding — is not read by anyone). Raises 422
    ``unreadable_file`` naming ``member`` with ``records`` (the header's count) and
    ``records_in_file`` otherwise."""
    layout = dbf_layout(dbf, member)
    body = len(dbf) - layout.header_length
    held = max(body, 0) // max(layout.record_length, 1)
    if body < 0 or held != layout.records:
        raise GeosignalError("unreadable_file", f"The header of {member!r} says {layout.records:,} record(s) but the "
                             f"file holds {held:,}: it is truncated or damaged.", where=member, member=member,
                             records=layout.records, records_in_file=held)
    return held


def check_shapefile(shp: tuple[str, bytes], shx: tuple[str, bytes], dbf: tuple[str, bytes]) -> int:
    """Check that the three members of one Shapefile (each ``(member name, bytes)``) describe
    the same records, before GDAL reads them: GDAL finds the geometries through the ``.shx``
    and pairs the n-th geometry with the n-th ``.dbf`` record, stopping silently at the shorter.

    The ``.shp`` is walked once by its record headers; the ``.shx`` must hold exactly one entry
    per record, each pointing at that record's header with its content length (so, increasing);
    the ``.dbf`` header's record count must match the whole records it holds, and the ``.shp``
    and ``.dbf`` must hold as many records. Returns the number of records.

    Raises 422 ``unreadable_file``: naming the ``.shp`` (``member``, ``record``) when its
    records cannot be walked; the ``.shx`` (``member``, ``record``, ``shp_records``,
    ``shx_records``) when its entries contradict the ``.shp``; the ``.dbf`` (``member``,
    ``records``, ``records_in_file``) when its header lies about its size; both (``members``,
    ``shp_records``, ``dbf_records``) when their counts differ.
    """
    (shp_name, shp_data), (shx_name, shx_data), (dbf_name, dbf_data) = shp, shx, dbf
    records = _shp_records(shp_data, shp_name)
    n = len(records)
    entries, rest = divmod(len(shx_data) - 100, 8)
    if len(shx_data) < 100 or struct.unpack_from(">i", shx_data, 0)[0] != _SHP_FILE_CODE or rest:
        raise GeosignalError("unreadable_file", f"{shx_name!r} is not a Shapefile index (bad header or size).",
                             where=shx_name, member=shx_name)
    if entries != n:
        raise GeosignalError("unreadable_file", f"The index {shx_name!r} lists {entries:,} record(s) but "
                             f"{shp_name!r} holds {n:,}: the index does not match the shapes.", where=shx_name,
                             member=shx_name, shx_records=entries, shp_records=n)
    if n:
        index = np.frombuffer(shx_data, dtype=">i4", count=2 * n, offset=100).reshape(n, 2).astype(np.int64) * 2
        walked = np.array(records, dtype=np.int64)
        wrong = np.flatnonzero((index != walked).any(axis=1))
        if len(wrong):
            k = int(wrong[0])
            raise GeosignalError("unreadable_file", f"Entry {k + 1} of the index {shx_name!r} points at byte "
                                 f"{int(index[k, 0]):,} ({int(index[k, 1]):,} bytes), but record {k + 1} of "
                                 f"{shp_name!r} is at byte {records[k][0]:,} ({records[k][1]:,} bytes): the index "
                                 "does not match the shapes, attributes would be paired with the wrong geometries.",
                                 where=shx_name, member=shx_name, record=k + 1, shx_records=entries, shp_records=n)
    rows = _dbf_records(dbf_data, dbf_name)
    if rows != n:
        raise GeosignalError("unreadable_file", f"{shp_name!r} holds {n:,} shape(s) but {dbf_name!r} holds "
                             f"{rows:,} attribute record(s): each shape needs exactly one record.",
                             where=f"{shp_name}, {dbf_name}", members=[shp_name, dbf_name], shp_records=n,
                             dbf_records=rows)
    return n



# --------------------------------------------------------------------------- GeoPackage values as stored

class UndecodableText(bytes):
    """A text value of a file that is not valid UTF-8 (its bytes): never a report's text; the
    reader refuses the feature that holds it in a column it reads, naming the field."""

    def __repr__(self) -> str:
        return f"UndecodableText({bytes(self)[:40]!r})"


def _utf8_or_marker(raw: bytes) -> str | UndecodableText:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return UndecodableText(raw)


def recode_latin1(frame, geometry: str | None):  # noqa: ANN001, ANN201 - a (Geo)DataFrame
    """Undo a read done with ``encoding="latin-1"`` (done when GDAL's text is not all valid
    UTF-8): every text value and column name is turned back into its bytes and decoded as
    UTF-8, the values that are not valid UTF-8 becoming :class:`UndecodableText`. Returns the
    frame (changed in place; columns renamed)."""
    import pandas as pd

    for column in [c for c in frame.columns if c != geometry]:
        if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column].dtype):
            frame[column] = pd.Series([(_utf8_or_marker(v.encode("latin-1")) if isinstance(v, str) else v)
                                       for v in frame[column]], index=frame.index, dtype=object)
    return frame.rename(columns={c: recode_latin1_name(c) for c in frame.columns if isinstance(c, str) and c != geometry})


def recode_latin1_name(name: str) -> str:
    """A name read with ``encoding="latin-1"`` decoded back as UTF-8 (as :func:`recode_latin1`
    renames the columns)."""
    return name.encode("latin-1").decode("utf-8", errors="replace")


@contextmanager
def _gpkg_sqlite(data: bytes, table: str) -> Iterator[sqlite3.Connection]:
    """The GeoPackage ``data`` opened read-only in SQLite, in memory (text as bytes). Raises
    422 ``unreadable_file`` (``layer`` = ``table``) when SQLite cannot read it."""
    image = bytearray(data)
    if len(image) > 19 and image[18:20] == b"\x02\x02":  # WAL: an in-memory copy reads as rollback journal
        image[18:20] = b"\x01\x01"
    con = sqlite3.connect(":memory:")
    try:
        con.deserialize(bytes(image))
        con.execute("PRAGMA query_only = 1")
        con.text_factory = bytes
        yield con
    except (sqlite3.Error, OverflowError, ValueError) as exc:
        raise GeosignalError("unreadable_file", f"The values of layer {table!r} cannot be read as stored "
                             f"({_short(exc)}).", layer=table) from None
    finally:
        con.close()


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class GpkgLayer:
    """What a GeoPackage table declares, read from SQLite itself: its ``columns`` (every one,
    whatever its declared type: GDAL leaves out the types GeoPackage does not define, such as
    ``BIGINT`` or ``VARCHAR(20)``), its geometry column and its ``srs_id``, and whether the
    file's ``gpkg_spatial_ref_sys`` defines that ``srs_id``."""

    columns: tuple[str, ...]
    geometry_column: str | None
    srs_id: int | None
    srs_defined: bool


def gpkg_layer(data: bytes, table: str) -> GpkgLayer:
    """The declarations of the GeoPackage table ``table`` (see :class:`GpkgLayer`).

    Raises 422 ``unreadable_file`` (``layer``) when SQLite cannot read them.
    """
    with _gpkg_sqlite(data, table) as con:
        columns = tuple(row[1].decode("utf-8", errors="replace")
                        for row in con.execute(f"PRAGMA table_info({_quoted(table)})").fetchall())
        found = con.execute("SELECT column_name, srs_id FROM gpkg_geometry_columns WHERE table_name = ?",
                            (table,)).fetchone()
        if found is None:
            return GpkgLayer(columns, None, None, True)
        geometry, srs_id = found[0].decode("utf-8", errors="replace"), found[1]
        defined = con.execute("SELECT 1 FROM gpkg_spatial_ref_sys WHERE srs_id = ?", (srs_id,)).fetchone()
    return GpkgLayer(columns, geometry, srs_id if isinstance(srs_id, int) else None, defined is not None)


def gpkg_stored_values(data: bytes, table: str, fid_column: str, columns: list[str]) -> dict[str, dict[int, object]]:
    """The values of ``columns`` of the GeoPackage table ``table`` as SQLite stores them, by
    ``fid``: integers of any size, reals, text (decoded as UTF-8, else
    :class:`UndecodableText`) or None — not as GDAL converts them to the column's declared type
    (GDAL reads an ``INT``/``MEDIUMINT`` column in 32 bits, text ``2,500`` in an ``INTEGER``
    column as 2, a real 12.7 in it as 12), so that the count rules see what the file holds.

    Raises 422 ``unreadable_file`` (``layer``) when SQLite cannot read the table.
    """
    if not columns:
        return {}
    with _gpkg_sqlite(data, table) as con:
        rows = con.execute(f"SELECT {_quoted(fid_column)}, {', '.join(_quoted(c) for c in columns)} "
                           f"FROM {_quoted(table)}").fetchall()
    out: dict[str, dict[int, object]] = {c: {} for c in columns}
    for fid, *values in rows:
        for column, value in zip(columns, values, strict=True):
            out[column][fid] = _utf8_or_marker(value) if isinstance(value, bytes) else value
    return out


__all__ = [
    "INFLATE_FACTOR",
    "LDID_CODECS",
    "MAX_ARCHIVE_ENTRIES",
    "Archive",
    "UndecodableText",
    "check_members",
    "check_shapefile",
    "KML_OVERLAYS",
    "check_xml",
    "cpg_codec",
    "dbf_encoding",
    "dbf_stored_numbers",
    "shp_misplaced_holes",
    "GpkgLayer",
    "gpkg_layer",
    "gpkg_stored_values",
    "is_junk_member",
    "open_zip",
    "read_archive",
    "recode_latin1",
    "recode_latin1_name",
    "wkb_geojson",
    "xml_encoding",
    "xml_for_gdal",
    "xml_root",
    "xml_utf8",
]
