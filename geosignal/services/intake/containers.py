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
  the counter tripped); the sizes written in the headers are never trusted. A damaged or
  encrypted member → 422 ``unreadable_file`` naming it; so is one compressed otherwise than
  stored or deflated (``kind`` ``compression_method``, ``method``: bzip2, LZMA…), before a byte of
  it is inflated.
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
  reports: cut out before GDAL reads the file, each one an ``overlay_ignored`` warning. A
  document in another ASCII-compatible encoding than UTF-8 is decoded as its declaration says
  (:func:`xml_utf8`). Every placemark's geometry and every GPX point is checked as written
  (:func:`check_xml`): a position GDAL would misread (a missing latitude read as 0), a structure
  GDAL would reshape (two outer boundaries, a hole alone, a Point of two positions…) is kept as
  that feature's ``problem`` — never a refusal of the whole file: the reader refuses that
  feature alone, naming its line, rank and name.
* **dBase text** is decoded with the encoding the ``.cpg`` names, else the one the language
  driver byte (LDID, byte 29 of the ``.dbf``) names, else — when every text byte is ASCII —
  as ASCII; otherwise 422 ``undecidable_encoding`` naming the ``.dbf``. A ``.cpg`` naming no
  dBase code page (only ASCII-compatible single-byte code pages, UTF-8 and the CJK multibyte
  ones are; not UTF-16, EBCDIC nor Python's ``rot13``/``base64``…) or holding junk → 422
  ``undecidable_encoding`` naming the ``.dbf`` and the label (``cpg``; a UTF-8 byte-order mark
  and spaces around it are no part of it, bytes that are not ASCII are shown escaped). Text
  that is not valid in the declared encoding, that a single-byte declaration would turn into
  mojibake of UTF-8 (the bytes read as UTF-8, even with a character cut by the field width), or
  a field holding a NUL byte followed by more text (GDAL would cut it there) → 422
  ``unreadable_file`` naming the member, record and field. Text that a single-byte code page
  (``.cpg`` or LDID) decodes into signs of mojibake — C1 control characters, box-drawing or
  block characters (U+2500–U+259F: cp437/cp850/cp866 read Windows-1252 "É" as "╔"), a word
  mixing Latin letters with Greek or Cyrillic ones ("prΦs", "prшs") — → 422
  ``undecidable_encoding`` naming the member, record, field, ``codec`` and the declaration
  (``ldid`` or ``cpg``): the declaration is wrong and the right one cannot be guessed. Pure
  Cyrillic or Greek words, Czech in cp1250… are read. ``ISO-8859-1``/``latin-1`` and LDID 0x57
  ("ANSI") are read as Windows-1252, as browsers do. A single-byte code page is applied by
  geosignal itself (GDAL reads the bytes as ISO-8859-1, each value then decoded with Python's
  codec): GDAL's iconv does not know every code page by Python's name (``mac_roman``,
  ``mac_greek``…).
* **GeoPackages** run none of their own SQL as they are read (:func:`check_gpkg`): a view, a
  virtual table other than a layer's spatial index, a column computed on read, or a feature
  layer that is no table → 422 ``unsafe_geopackage`` naming it, before GDAL opens the file.
* **Geometries shapely will not build** (an unclosed ring, a one-point line) are decoded from
  their WKB as written (:func:`wkb_geojson`) so that the checks refuse that feature alone.
"""

from __future__ import annotations

import codecs
import io
import math
import posixpath
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
from typing import Any

import numpy as np

from geosignal.errors import GeosignalError

from .area import too_many_features, too_many_upload_vertices
from .numbers import non_finite_text

#: Most entries an uploaded archive may hold (files and folders).
MAX_ARCHIVE_ENTRIES = 1000
#: The bytes inflated from an archive may reach this multiple of the upload limit.
INFLATE_FACTOR = 5
_CHUNK = 1 << 16
_NESTED_EXT = (".zip", ".kmz", ".shz", ".gz", ".tgz", ".tar", ".7z", ".rar", ".bz2", ".xz", ".zst", ".jar")
_NESTED_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b", b"7z\xbc\xaf", b"Rar!", b"BZh", b"\xfd7zXZ")


def release_freed_memory() -> None:
    """Hand the heap memory freed since the last call back to the system (glibc's
    ``malloc_trim(0)``; nothing elsewhere). GDAL reads a whole KML document into a tree at each
    open (about 2 KB per placemark) and frees it on close, but the freed pages stayed in the
    process and the next read grew past them: called after each GDAL read, a 100,000-placemark
    KML peaked at 548 MB instead of 711 MB, a 100,000-record Shapefile at 396 MB instead of 409."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _glibc() -> Any:
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


_LIBC = _glibc()


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
        raise GeosignalError("unreadable_file", "The zip archive is damaged or truncated.", kind="damaged_archive") from None


def declared_size(data: bytes) -> int:
    """Return how many bytes the upload ``data`` gives to read: for a zip archive (a KMZ, a
    zipped Shapefile) the sum of its members' uncompressed sizes as its central directory
    declares them (nothing is inflated), at least the bytes sent; for any other file, or an
    archive too damaged to say, the bytes sent.

    A 58 KB KMZ holds 20,000 placemarks: what the work of reading a file grows with is what it
    inflates to. A member that inflates to more than it declares is refused when it is read
    (:func:`read_archive`: the header's size is checked, the bytes inflated bounded)."""
    if not data.startswith(b"PK\x03\x04"):
        return len(data)
    try:
        infos = open_zip(data).infolist()
    except GeosignalError:
        return len(data)
    return max(len(data), sum(info.file_size for info in infos))


def check_declared_size(data: bytes, max_upload_bytes: int) -> None:
    """Refuse a zip archive whose members declare they inflate to more than
    :data:`INFLATE_FACTOR` × ``max_upload_bytes`` (413 ``archive_too_large`` naming the member
    where their sum passes it, as :func:`read_archive`'s counter would), nothing inflated: a save
    queued as a job (:func:`declared_size`) is refused at once, as it would be in the request.
    Any other file, or an archive too damaged to say, passes (its reading says the rest)."""
    if not data.startswith(b"PK\x03\x04"):
        return
    try:
        infos = open_zip(data).infolist()
    except GeosignalError:
        return
    limit, total = INFLATE_FACTOR * max_upload_bytes, 0
    for info in infos:
        total += info.file_size
        if total > limit:
            raise GeosignalError(
                "archive_too_large", f"The archive's members declare they inflate to more than {limit:,} bytes "
                f"(passed at member {info.filename!r}; the limit is {INFLATE_FACTOR} × the upload limit).",
                member=info.filename, limit=limit, unit="bytes")


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
        # one path once unpacked, however written: « zones/./zones.shp », « zones//zones.shp »
        key = posixpath.normpath(info.filename.replace("\\", "/")).lower()
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
    (``member``) for a damaged or encrypted member, or one compressed otherwise than stored or
    deflated (``kind`` ``compression_method``, ``method``: see :func:`_inflate`).
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


#: The names of the zip compression methods (APPNOTE 4.4.5) that :func:`_inflate` refuses.
_METHODS = {1: "Shrink", 6: "Implode", 9: "Deflate64", 12: "bzip2", 14: "LZMA", 93: "Zstandard",
            95: "XZ", 96: "JPEG", 97: "WavPack", 98: "PPMd"}


def _inflate(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: list[int], limit: int) -> bytes | None:
    """Inflate one member as a stream, taking its bytes from ``budget[0]``; None for a nested
    archive (recognised by its name or its first bytes, and not inflated further).

    Deflated members are inflated here from their compressed bytes with ``zlib``, so that the
    count is what the data really inflates to, whatever size the headers claim; the result must
    then match the header's size and CRC. Stored members are read through :mod:`zipfile` (no
    more bytes than the archive holds; the CRC checked). Any other method (bzip2, LZMA…) → 422
    ``unreadable_file`` (``kind`` ``compression_method``, ``member``, ``method``) before a byte is
    inflated: :mod:`zipfile` inflates those without a bound (one ``read`` of a 211-byte bzip2
    member gave all its 60 MiB), and KMZ, zipped Shapefiles and XLSX workbooks are stored or
    deflated (Office Open XML allows nothing else).
    """
    if info.flag_bits & 0x1:
        raise GeosignalError("unreadable_file", f"The archive member {info.filename!r} is encrypted.",
                             member=info.filename)
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        if _is_nested(info.filename, b""):  # skipped by its name, as any nested archive
            return None
        method = _METHODS.get(info.compress_type, f"method {info.compress_type}")
        raise GeosignalError("unreadable_file", f"The archive member {info.filename!r} is compressed by {method}, "
                             "which is not read: only stored and deflated members are (the ordinary zip "
                             "compression).", kind="compression_method", member=info.filename, method=method)

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
    else:  # stored: each read is at most _CHUNK bytes of the archive itself
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
_KML_NUMBER = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
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
#: The encoding an XML declaration names (bytes of an ASCII-compatible document).
_XML_DECLARATION_ENCODING = re.compile(rb"""^(?:\xef\xbb\xbf)?\s*<\?xml\b[^?>]*?\bencoding\s*=\s*["']([^"']*)["']""")
#: Declared encodings read as Windows-1252, as browsers do (the bytes 0x80-0x9F of such files
#: are Windows-1252 characters: €, œ, ’), Latin-1 for the five bytes Windows-1252 leaves undefined.
_LATIN1_LABELS = {"latin-1", "iso8859-1"}


def _declared_codec(data: bytes) -> str | None:
    """The Python codec of the encoding an ASCII-compatible XML document declares, when it is
    not UTF-8 (None: UTF-8, US-ASCII or nothing declared). Raises 422 ``unreadable_file``
    (``encoding``) for an encoding geosignal does not know or one that is not ASCII-compatible
    (its declaration could not even be read in it)."""
    found = _XML_DECLARATION_ENCODING.match(data[:1024])
    if found is None:
        return None
    label = found.group(1).decode("ascii", errors="replace").strip()
    try:
        name = codecs.lookup(label).name
    except LookupError:
        name = None
    if name in ("utf-8", "ascii"):
        return None
    if name is None or (name not in _LATIN1_LABELS and not _is_dbase_codec(name)):  # ASCII-compatible only
        raise GeosignalError("unreadable_file", f"The XML file declares the encoding {label[:40]!r}, which geosignal "
                             "cannot read (an ASCII-compatible encoding such as UTF-8 or Windows-1252 is needed): "
                             "save it as UTF-8.", encoding=label[:40])
    return name


def _decode_declared(data: bytes, codec: str) -> str:
    """``data`` decoded as ``codec`` (Latin-1 as Windows-1252: :data:`_LATIN1_LABELS`).
    Raises 422 ``unreadable_file`` naming the line and column of the first byte that is not
    valid in that encoding; 422 ``undecidable_encoding`` (``line``, ``column``, ``encoding``)
    when the text is not ASCII and is valid UTF-8: saved as UTF-8 under another declaration
    (``Église`` would be stored ``Ã‰glise``; text in another encoding is practically never
    valid UTF-8 as well), as the same bytes in a dBase file are refused."""
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            start = next(i for i, b in enumerate(data) if b >= 0x80)
            line = data.count(b"\n", 0, start) + 1
            column = start - (data.rfind(b"\n", 0, start) + 1)
            raise GeosignalError("undecidable_encoding", f"The XML file declares the encoding {codec}, but its text "
                                 f"is UTF-8 (from line {line}, column {column}): read as {codec} it would be garbled. "
                                 'Correct the declaration to encoding="UTF-8" (or save the file again in '
                                 f"{codec}) and send it again.", where=f"line {line} column {column}", line=line,
                                 column=column, encoding=codec, kind="xml_declared")
    if codec in _LATIN1_LABELS:
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            return data.decode("latin-1")
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1)
        raise GeosignalError("unreadable_file", f"The XML file declares the encoding {codec}, but byte "
                             f"{exc.start:,} (0x{data[exc.start]:02X}, line {line}, column {column}) is not valid in "
                             "it: save the file again, as UTF-8.", where=f"line {line} column {column}", line=line,
                             column=column, encoding=codec) from None


def xml_utf8(data: bytes) -> bytes:
    """An XML document as the checks and GDAL read it, in UTF-8: ``data`` itself when it is
    UTF-8 (or US-ASCII); a document in another ASCII-compatible encoding its declaration names
    (``windows-1252``, ``ISO-8859-1``, ``ISO-8859-15``…: GDAL's parser knows few of them and
    refused the whole file) decoded as declared (ISO-8859-1 as Windows-1252, as browsers do);
    UTF-16 or UTF-32, with or without a byte-order mark, transcoded. The declaration's
    ``encoding`` then says ``UTF-8``; text and coordinates are kept character for character.

    Raises 422 ``unreadable_file`` when the bytes are not valid UTF-16/UTF-32 or not valid in
    the declared encoding (``line``, ``column``), or when the declared encoding is unknown or
    not ASCII-compatible (``encoding``).
    """
    found = xml_encoding(data)
    if found is None:
        return data
    codec, bom = found
    if codec == "utf-8":
        declared = None if bom else _declared_codec(data)
        if declared is None:
            return data
        text = _decode_declared(data, declared)
    else:
        try:
            text = data[bom:].decode(codec)
        except UnicodeDecodeError as exc:
            raise GeosignalError("unreadable_file", f"The XML file is not valid {codec.upper()} text (byte "
                                 f"{exc.start + bom}).", where=f"byte {exc.start + bom}") from None
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


@dataclass(slots=True)  # one per placemark or GPX feature: up to the feature limit (200,000) in memory
class XmlFeature:
    """One feature of a KML/GPX document as written, as :func:`check_xml` found it: a KML
    ``Placemark`` (``kind``), or a GPX ``wpt``, ``rte`` or ``trk``; ``ordinal`` is its 0-based
    rank among the features of its kind (placemarks: in document order, whatever their
    folder), ``line``/``column`` where it starts. ``problem``: why it cannot be a report (its
    geometry reshaped by GDAL, a position GDAL would misread…), for the reader to refuse that
    feature alone; ``when``: the raw text of a placemark's ``<TimeStamp><when>`` (GDAL completes
    ``2025-06`` to 1 June and drops ``2025``); ``span``: the raw ``begin``/``end`` of its
    ``<TimeSpan>`` (see :attr:`observed`); ``elevations``: how many of its GPX positions
    carry an ``<ele>``, of ``positions``; ``first_time`` / ``last_time``: the raw ``<time>``
    of the first and last points of a GPX track or route that carry one (a waypoint's own
    ``<time>``: both), or the first and last ``<when>`` of a KML ``<gx:Track>``."""

    kind: str
    ordinal: int
    line: int
    column: int
    name: str | None = None
    problem: GeosignalError | None = None
    when: str | None = None
    span: dict[str, str] = field(default_factory=dict)
    elevations: int = 0
    positions: int = 0
    first_time: str | None = None
    last_time: str | None = None
    #: KML: how many of its ``positions`` carry an altitude (``lon,lat,alt``; GDAL gives the
    #: others 0, so that the positions read can no longer tell a mix of 2D and 3D)
    altitudes: int = 0
    #: how many of its positions carry an altitude (KML) or an ``<ele>`` (GPX) other than 0:
    #: none, and dropping them loses nothing (Google My Maps writes ``lon,lat,0`` everywhere)
    nonzero_z: int = 0
    #: KML: whether it holds a ``gx:Track`` or ``gx:MultiTrack`` (read as a line through its
    #: ``<gx:coord>``)
    track: bool = False
    #: KML: how many geometries it holds (a ``<MultiGeometry>``'s members, in order; else 1),
    #: and the ``<gx:coord>`` positions of each that is a track, by its rank among them (a
    #: Point beside a track in a MultiGeometry is a report of its own, no track)
    geometries: int = 0
    tracks: dict[int, int] = field(default_factory=dict)
    #: the text of each field it gives, as written, by the name GDAL reads it under
    #: (case-folded: KML ``<name>``, ``<description>``, ``<TimeStamp><when>`` as ``timestamp``,
    #: each ``Data`` / ``SimpleData`` by its ``name``; GPX the feature's own elements and its
    #: ``<extensions>``): ``(how the file names it, value)``, in document order
    fields: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    @property
    def repeated(self) -> dict[str, list[tuple[str, str]]]:
        """The fields given more than once with different values (GDAL keeps one of them
        without a word: the last ``<desc>``, the first ``<when>``, a ``Data`` named like
        ``<description>`` in its place)."""
        return {key: given for key, given in self.fields.items()
                if len({value.strip() for _, value in given}) > 1}

    @property
    def observed(self) -> str | None:
        """The raw date observed: ``<TimeStamp><when>``, else a ``<TimeSpan>`` that names one
        moment (a single bound, or ``begin`` equal to ``end``); None for a span over a period
        (a report keeps one date observed: never its start or end chosen silently)."""
        if self.when is not None:
            return self.when
        bounds = set(self.span.values())
        return bounds.pop() if len(bounds) == 1 else None

    @property
    def label(self) -> str:
        """How a sentence names the feature: its kind, name (or rank) and line."""
        return (f"The {_FEATURE_WORDS[self.kind]}" + (f" {self.name!r}" if self.name else f" #{self.ordinal + 1}")
                + f" (line {self.line})")


@dataclass
class XmlCheck:
    """What :func:`check_xml` returns: the file's ``warnings`` and its ``features``
    (:class:`XmlFeature`, in document order)."""

    warnings: list[dict]
    features: list[XmlFeature]


_FEATURE_WORDS = {"Placemark": "placemark", "wpt": "waypoint", "rte": "route", "trk": "track"}
#: KML geometry elements (local names: ``gx:Track`` is ``Track``).
_KML_GEOMETRIES = ("Point", "LineString", "LinearRing", "Polygon", "MultiGeometry", "Model", "Track", "MultiTrack")
_GPX_FEATURES = ("wpt", "rte", "trk")
#: One number as GDAL's parsers read it (ASCII digits; no NaN/Inf words, no decimal comma).
_NUMBER = re.compile(rf"\s*{_KML_NUMBER}\s*")


class _XmlScan(xml.sax.handler.ContentHandler):
    """Collects KML NetworkLink targets and image overlays, and checks every KML placemark's
    and GPX feature's geometry as written (:class:`XmlFeature`) while the document is
    checked. A fault is kept with its feature (``problem``), never raised: the reader refuses
    that feature alone."""

    def __init__(self, fmt: str = "kml", max_features: int | None = None, max_vertices: int | None = None) -> None:
        super().__init__()
        self.fmt = fmt
        #: an upload's limits (:class:`~.area.Limits`): the scan stops where the file passes one
        self.max_features = max_features
        self.max_vertices = max_vertices
        #: the positions of every feature so far
        self.positions = 0
        self.links: list[dict] = []
        self.overlays: list[dict] = []
        self.features: list[XmlFeature] = []
        #: open NetworkLinks, overlays, placemarks and GPX features, innermost last
        self._open: list[dict] = []
        #: every open element's local name, innermost last
        self._path: list[str] = []
        #: the open geometry parts of the current placemark: (local name, position, counts of its children)
        self._parts: list[tuple[str, tuple[int, int], dict[str, int]]] = []
        #: the geometries directly in the current placemark
        self._direct: list[str] = []
        self._capture: str | None = None
        #: the ``<when>`` captured is a ``<gx:Track>``'s (a point's time), not a ``<TimeStamp>``'s
        self._track_when = False
        self._text: list[str] = []
        self._coords: list[str] | None = None
        self._coords_at: tuple[int, int] = (0, 0)
        self._feature: XmlFeature | None = None
        self._counts: dict[str, int] = {}
        self.root: str | None = None
        self._locator = None
        #: the field of the open feature whose text is being read: (key, label, depth)
        self._field: tuple[str, str, int] | None = None
        self._field_text: list[str] = []
        #: the name of the open KML ``<Data>``
        self._data_name: str | None = None

    def setDocumentLocator(self, locator) -> None:  # noqa: N802, ANN001 - SAX API
        self._locator = locator

    def _position(self) -> tuple[int, int]:
        return self._locator.getLineNumber(), self._locator.getColumnNumber()

    def _fault(self, code: str, detail: str, at: tuple[int, int] | None = None, **extra: object) -> None:
        """Keep the first fault of the open feature; ``detail`` follows its label (added
        once its name is known)."""
        feature = self._feature
        if feature is None or feature.problem is not None:
            return
        line, column = at or self._position()
        feature.problem = GeosignalError(code, detail, line=line, column=column,
                                         **{_FEATURE_WORDS[feature.kind]: feature.ordinal}, **extra)

    def startElement(self, name: str, attrs) -> None:  # noqa: N802, ANN001 - SAX API
        local = name.rsplit(":", 1)[-1]
        parent = self._path[-1] if self._path else None
        self._path.append(local)
        if self.root is None:
            self.root = local
        if local in ("NetworkLink", *KML_OVERLAYS) or (local == "Placemark" and self.fmt == "kml") or (
                local in _GPX_FEATURES and parent == "gpx" and self.fmt == "gpx"):
            thing = {"kind": local, "name": None, "href": None}
            if local == "NetworkLink":
                self.links.append(thing)
            elif local in KML_OVERLAYS:
                self.overlays.append(thing)
            else:
                if self.max_features is not None and len(self.features) >= self.max_features:
                    line, column = self._position()  # one feature too many: no more are read
                    raise too_many_features(self.max_features, where=f"line {line} column {column}", line=line,
                                            column=column)
                ordinal = self._counts.get(local, 0)
                self._counts[local] = ordinal + 1
                self._feature = XmlFeature(local, ordinal, *self._position())
                self.features.append(self._feature)
                self._parts, self._direct = [], []
            self._open.append(thing)
            if local == "wpt":  # a waypoint is its own position
                self._gpx_start(local, parent, attrs)
            return
        if self._feature is not None and self._field is None:
            self._field_start(name, parent, attrs)
        if self._feature is not None and self._open and self._open[-1]["kind"] == self._feature.kind:
            if self.fmt == "kml":
                self._kml_start(local, parent)
            else:
                self._gpx_start(local, parent, attrs)
        if self._open and local in ("href", "name") and self._open[-1][local] is None and (
                (local == "name" and parent == self._open[-1]["kind"])
                or (local == "href" and self._open[-1]["kind"] in ("NetworkLink", *KML_OVERLAYS))):
            self._capture = local
            self._text = []

    def _field_start(self, name: str, parent: str | None, attrs) -> None:  # noqa: ANN001 - SAX attributes
        """Start reading the text of a field of the open feature (:attr:`XmlFeature.fields`)."""
        kind, local = self._feature.kind, name.rsplit(":", 1)[-1]
        key = label = None
        if self.fmt == "kml":
            if local in ("name", "description") and parent == kind:
                key, label = local, f"<{local}>"
            elif local == "Data" and parent == "ExtendedData":
                self._data_name = attrs.get("name")
            elif local == "value" and parent == "Data" and self._data_name:
                key, label = self._data_name.casefold(), f'<Data name="{self._data_name}">'
            elif local == "SimpleData" and attrs.get("name"):
                key, label = attrs["name"].casefold(), f'<SimpleData name="{attrs["name"]}">'
            elif local == "when" and parent == "TimeStamp" and len(self._path) >= 3 and self._path[-3] == kind:
                key, label = "timestamp", "<TimeStamp><when>"
        elif parent == kind and local not in ("rtept", "trkseg", "link", "extensions"):
            key, label = local.casefold(), f"<{local}>"
        elif parent == "extensions" and len(self._path) >= 3 and self._path[-3] == kind:
            key, label = name.replace(":", "_").casefold(), f"<extensions><{name}>"  # GDAL: g:x → g_x
        if key is not None:
            self._field, self._field_text = (key, label, len(self._path)), []

    def _field_end(self) -> None:
        """Keep the text of the field that closes."""
        key, label, _ = self._field
        self._field = None
        if self._feature is not None:
            self._feature.fields.setdefault(key, []).append((label, "".join(self._field_text)[:200]))

    def _kml_start(self, local: str, parent: str | None) -> None:
        """Count the parts of a placemark's geometry as they open; refuse the kinds GDAL would
        reshape or misread (see :func:`check_xml`)."""
        if local in _KML_GEOMETRIES or local in ("outerBoundaryIs", "innerBoundaryIs"):
            if self._parts:
                counts = self._parts[-1][2]
                counts[local] = counts.get(local, 0) + 1
            holder = self._parts[-1][0] if self._parts else parent
            if local in _KML_GEOMETRIES and (holder == "MultiGeometry"
                                              or (holder == "Placemark" and local != "MultiGeometry")):
                self._feature.geometries += 1
            if holder == "Placemark" and local in _KML_GEOMETRIES:
                if self._direct:
                    self._fault("invalid_geometry", f"holds two geometries (<{self._direct[0]}> and <{local}>) "
                                "outside a <MultiGeometry>: only one would be read. Put them in one "
                                "<MultiGeometry>, or make one placemark of each.")
                self._direct.append(local)
            if local == "LinearRing" and holder in ("Placemark", "MultiGeometry"):
                self._fault("unsupported_geometry_type", "has a <LinearRing> on its own, which is neither a line nor "
                            "a zone: for a zone put it in <Polygon><outerBoundaryIs>, for a line write a "
                            "<LineString>.")
            elif local == "MultiGeometry" and holder == "MultiGeometry":
                self._fault("unsupported_geometry_type", "has a <MultiGeometry> inside a <MultiGeometry>: collections "
                            "cannot be nested. List all its geometries in the outer <MultiGeometry>.")
            elif local in ("Track", "MultiTrack"):
                self._feature.track = True
            elif local == "Model":
                self._fault("unsupported_geometry_type", "has a 3D <Model>, which cannot be a report: give a <Point>, "
                            "a <LineString> or a <Polygon>.")
            self._parts.append((local, self._position(), {}))
        elif local in ("coordinates", "coord"):
            if self._parts:
                counts = self._parts[-1][2]
                counts[local] = counts.get(local, 0) + 1
            self._coords = []
            self._coords_at = self._position()
        elif local == "when" and parent == "TimeStamp" and len(self._path) >= 3 and self._path[-3] == "Placemark":
            self._capture = "when"
            self._text = []
        elif local == "when" and parent == "Track":
            self._capture, self._track_when = "when", True
            self._text = []
        elif local in ("begin", "end") and parent == "TimeSpan" and len(self._path) >= 3 \
                and self._path[-3] == "Placemark":
            self._capture = local
            self._text = []

    def _kml_end(self, local: str) -> None:
        """Check a placemark's geometry part as it closes, by the counts of its children."""
        if not self._parts or self._parts[-1][0] != local:
            return
        _, at, counts = self._parts.pop()
        coordinates = counts.get("coordinates", 0)
        if local in ("Point", "LineString", "LinearRing"):
            if coordinates == 0:
                self._fault("empty_geometry", f"has a <{local}> without <coordinates>: give its positions (lon,lat).",
                            at)
            elif coordinates > 1:
                self._fault("invalid_geometry", f"has a <{local}> with {coordinates} <coordinates> elements: only one "
                            "would be read. Write all its positions in one <coordinates>.", at)
        elif local == "Polygon":
            outer, inner = counts.get("outerBoundaryIs", 0), counts.get("innerBoundaryIs", 0)
            if outer == 0 and inner == 0:
                self._fault("empty_geometry", "has a <Polygon> without <outerBoundaryIs>: give the zone's outline.",
                            at)
            elif outer == 0:
                self._fault("invalid_geometry", f"has a <Polygon> with {inner} <innerBoundaryIs> (a hole) but no "
                            "<outerBoundaryIs>: it would be read as a zone the size of the hole. Give the zone's "
                            "outline as <outerBoundaryIs>.", at)
            elif outer > 1:
                self._fault("invalid_geometry", f"has a <Polygon> with {outer} <outerBoundaryIs>: a polygon has one "
                            "outline, only one would be read. For several zones, put one <Polygon> each in a "
                            "<MultiGeometry>.", at)
        elif local in ("outerBoundaryIs", "innerBoundaryIs"):
            rings = counts.get("LinearRing", 0)
            if rings == 0:
                self._fault("empty_geometry", f"has an <{local}> without <LinearRing>.", at)
            elif rings > 1:
                self._fault("invalid_geometry", f"has an <{local}> holding {rings} <LinearRing>: it holds one, only "
                            "one would be read. For several zones, put one <Polygon> each in a <MultiGeometry>; "
                            "for holes, one <innerBoundaryIs> per hole.", at)
        elif local == "MultiGeometry" and not any(counts.get(g) for g in _KML_GEOMETRIES):
            self._fault("empty_geometry", "has an empty <MultiGeometry>: give its geometries.", at)
        elif local == "Track" and counts.get("coord", 0) == 0:
            self._fault("empty_geometry", "has a <gx:Track> without <gx:coord>.", at)

    def _gpx_start(self, local: str, parent: str | None, attrs) -> None:  # noqa: ANN001 - SAX attributes
        """Check a GPX point's ``lat``/``lon`` (GDAL reads ``abc`` as 0 and skips a point without
        them) and note its ``<ele>``."""
        if local in _GPX_POINTS:
            self._feature.positions += 1
            self._count_positions(1)
            for axis, low, high in (("lat", -90.0, 90.0), ("lon", -180.0, 180.0)):
                raw = attrs.get(axis)
                if raw is not None and non_finite_text(raw):  # NaN, inf, 1e999: as in every format
                    self._fault("non_finite_number", f"has a <{local}> with {axis}={raw[:40]!r}, not a finite "
                                f"number: give a number between {low:g} and {high:g}.", value=raw[:40])
                elif raw is None or _NUMBER.fullmatch(raw) is None or not low <= float(raw) <= high:
                    self._fault("invalid_coordinate", f"has a <{local}> with "
                                + (f"{axis}={raw[:40]!r}" if raw is not None else f"no {axis}")
                                + f", not a number between {low:g} and {high:g} (with a decimal point).",
                                **{"value": raw[:40]} if raw is not None else {})
        elif local == "ele" and parent in _GPX_POINTS:
            self._capture = "ele"
            self._text = []
            self._coords_at = self._position()
        elif local == "time" and parent in _GPX_POINTS and self._feature is not None:  # (GDAL nulls what it cannot read)
            self._capture = "time"
            self._text = []

    def endElement(self, name: str) -> None:  # noqa: N802 - SAX API
        local = name.rsplit(":", 1)[-1]
        if self._field is not None and self._field[2] == len(self._path):
            self._field_end()
        if local == "Data":
            self._data_name = None
        if self._path:
            self._path.pop()
        if self._capture is not None and local == self._capture:
            text = "".join(self._text).strip()
            self._capture = None
            if local == "ele":
                self._elevation(text)
            elif local == "time":
                if self._feature is not None and text:
                    self._feature.first_time = self._feature.first_time or text[:60]
                    self._feature.last_time = text[:60]
            elif local == "when" and self._track_when:
                self._track_when = False
                if self._feature is not None and text:
                    self._feature.first_time = self._feature.first_time or text[:60]
                    self._feature.last_time = text[:60]
            elif local == "when":
                if self._feature is not None and self._feature.when is None:
                    self._feature.when = text[:200]
            elif local in ("begin", "end"):
                if self._feature is not None and text:
                    self._feature.span[local] = text[:200]
            else:
                self._open[-1][local] = text[:500]
            return
        if local in ("coordinates", "coord") and self._coords is not None:
            text = "".join(self._coords)
            self._coords = None
            self._coordinates(local, text)
        if self._feature is not None and self.fmt == "kml" and self._open and self._open[-1]["kind"] == "Placemark":
            self._kml_end(local)
        if self._open and local == self._open[-1]["kind"]:
            thing = self._open.pop()
            feature = self._feature
            if feature is not None and thing["kind"] == feature.kind:
                feature.name = thing["name"] or None
                if feature.kind == "Placemark" and not self._direct:
                    self._fault("empty_geometry", "has no geometry: give a <Point>, a <LineString> or a <Polygon>.",
                                (feature.line, feature.column))
                if feature.problem is not None:
                    feature.problem.detail = f"{feature.label} {feature.problem.detail}"
                    feature.problem.extra["name"] = feature.name
                self._feature = None

    def _coordinates(self, local: str, text: str) -> None:
        """Check the positions of a ``<coordinates>`` (``lon,lat[,alt]`` tuples separated by
        white space) or a ``<gx:coord>`` (``lon lat [alt]``)."""
        if local == "coordinates":
            problem = _coordinates_problem(text, self._coords_at)
            if problem is None:
                owner = self._parts[-1][0] if self._parts else None
                if self._feature is not None:
                    tuples = text.split()
                    self._feature.positions += len(tuples)
                    self._count_positions(len(tuples))
                    self._feature.altitudes += sum(1 for t in tuples if t.count(",") == 2)
                    self._feature.nonzero_z += sum(1 for t in tuples if t.count(",") == 2
                                                   and float(t.rsplit(",", 1)[1]) != 0)
                if owner == "Point" and len(text.split()) > 1:
                    self._fault("invalid_geometry", f"has a <Point> whose <coordinates> hold {len(text.split())} "
                                "positions: only the first would be read. For several points use a <MultiGeometry> "
                                "of <Point>s; for a line, a <LineString>.", self._coords_at)
                return
            code, bad, at = problem
            if code == "empty_geometry":
                self._fault(code, "has empty <coordinates>: give its positions (lon,lat).", at)
            else:
                self._fault(code, f"has the position {bad!r} in its <coordinates>: each position must be lon,lat or "
                            "lon,lat,altitude (finite numbers with a decimal point, not a decimal comma; no spaces "
                            "inside a position), positions separated by spaces.", at, value=bad)
            return
        values = text.split()
        if self._feature is not None:
            self._feature.positions += 1
            rank = self._feature.geometries - 1
            self._feature.tracks[rank] = self._feature.tracks.get(rank, 0) + 1
            self._count_positions(1)
            self._feature.altitudes += len(values) == 3
            self._feature.nonzero_z += len(values) == 3 and _NUMBER.fullmatch(values[2]) is not None \
                and float(values[2]) != 0
        if not 2 <= len(values) <= 3 or not all(_NUMBER.fullmatch(v) and math.isfinite(float(v)) for v in values):
            self._fault(_position_code(values), f"has the position {text.strip()[:100]!r} in a <gx:coord>: each must be "
                        "lon lat or lon lat altitude (finite numbers with a decimal point, separated by spaces).",
                        self._coords_at, value=text.strip()[:100])

    def _count_positions(self, n: int) -> None:
        """Add ``n`` positions to the file's; past ``max_vertices``, stop the scan: 413
        ``too_many_upload_vertices`` with ``where`` (``line L column C`` where the count passed
        the limit), ``line``, ``column`` and ``limit`` (no ``value``: the rest is not read)."""
        self.positions += n
        if self.max_vertices is not None and self.positions > self.max_vertices:
            line, column = self._position()
            raise too_many_upload_vertices(self.max_vertices, where=f"line {line} column {column}", line=line,
                                           column=column)

    def _elevation(self, text: str) -> None:
        """Check a GPX ``<ele>``: a finite number of metres (empty: none)."""
        if self._feature is None or not text:
            return
        if _NUMBER.fullmatch(text) and math.isfinite(float(text)):
            self._feature.elevations += 1
            self._feature.nonzero_z += float(text) != 0
            return
        self._fault("non_finite_number" if non_finite_text(text) else "invalid_coordinate",
                    f"has a position whose <ele> is {text[:40]!r}, not a finite number of metres: correct it or "
                    "remove the <ele>.", self._coords_at, value=text[:40])

    def characters(self, content: str) -> None:
        if self._field is not None:
            self._field_text.append(content)
        if self._coords is not None:
            self._coords.append(content)
        elif self._capture is not None:
            self._text.append(content)


#: Digits enough for a number beyond a double (about 1.8e308) written without an exponent.
_LONG_DIGITS = re.compile(r"[0-9]{309}")


def _coordinates_problem(text: str, at: tuple[int, int]) -> tuple[str, str, tuple[int, int]] | None:
    """The fault of the raw text of a KML ``<coordinates>`` element (code, the bad position,
    ``at``), None when every position is 2 or 3 comma-separated finite numbers."""
    if not text.strip():
        return "empty_geometry", "", at
    if _KML_TUPLES.fullmatch(text):
        if "e" not in text and "E" not in text and not _LONG_DIGITS.search(text):
            return None  # (no exponent, and too few digits to pass a double: every value is finite)
        bad = next((t for t in text.split() if not all(math.isfinite(float(v)) for v in t.split(","))), None)
    else:
        bad = next((t for t in text.split() if not _KML_TUPLE.fullmatch(t)), text.strip())
    return (_position_code(bad.split(",")), bad[:100], at) if bad is not None else None


def _position_code(values: list[str]) -> str:
    """The code of a refused position, from its values as written: ``non_finite_number`` when
    it has 2 or 3 values, each a number, one at least not finite (``nan``, ``-Infinity``,
    ``1e999``: :func:`~.numbers.non_finite_text`, as GeoJSON and CSV say), else
    ``invalid_coordinate`` (a value that is no number at all, or too few or many values)."""
    if 2 <= len(values) <= 3 and any(non_finite_text(v) for v in values) \
            and all(non_finite_text(v) or _NUMBER.fullmatch(v) for v in values):
        return "non_finite_number"
    return "invalid_coordinate"


def check_xml(data: bytes, fmt: str, *, member: str | None = None, max_features: int | None = None,
              max_vertices: int | None = None) -> XmlCheck:
    """Check an XML upload (``fmt`` ``"kml"`` or ``"gpx"``; UTF-8, any ASCII-compatible
    encoding its declaration names, UTF-16 or UTF-32: :func:`xml_utf8`) before GDAL reads it.

    ``member``: the archive member it came from (KMZ), named in errors and warnings. Returns an
    :class:`XmlCheck`: ``warnings`` — one ``network_link_ignored`` per KML NetworkLink
    (``href``, ``name``) and one ``overlay_ignored`` per image overlay (``kind``, ``name``;
    :func:`xml_for_gdal` takes them out: they are pictures, not reports) — and ``features``,
    each placemark or GPX waypoint/route/track as written (:class:`XmlFeature`) with the first
    fault of its geometry as a ``problem`` (never raised: the reader refuses that feature alone,
    the others are read). The faults, each a sentence naming the feature (name or rank, line)
    and what to write, with ``line``, ``column``, ``name`` and its rank (``placemark``,
    ``waypoint``, ``route`` or ``track``: 0-based among its kind, in document order):

    * 422 ``invalid_coordinate`` (``value``): a KML ``<coordinates>`` position that is not 2 or
      3 comma-separated numbers, a ``<gx:coord>`` that is not 2 or 3 space-separated ones, a
      GPX point whose ``lat``/``lon`` is missing, not a number or out of range (GDAL reads what
      it cannot as 0, or skips the point), a GPX ``<ele>`` that is no number;
      ``non_finite_number`` (``value``): any of these that reads as a number but is not finite
      (``nan``, ``-Infinity``, ``1e999``, any case: :func:`~.numbers.non_finite_text`, the rule
      of GeoJSON and CSV too);
    * 422 ``empty_geometry``: empty ``<coordinates>``, a Point/LineString/LinearRing without
      them, a Polygon without boundary, a boundary without ring, a gx:Track without gx:coord;
    * 422 ``invalid_geometry``, what GDAL would silently reshape: a Polygon with two
      ``<outerBoundaryIs>`` (GDAL keeps one) or only ``<innerBoundaryIs>`` (GDAL makes the hole
      a zone), a boundary holding two rings, a Point whose ``<coordinates>`` hold several
      positions (GDAL keeps the first), a geometry with two ``<coordinates>``, two geometries
      in one placemark outside a ``<MultiGeometry>`` (GDAL keeps one);
    * 422 ``unsupported_geometry_type``: a LinearRing on its own (in a Placemark or a
      MultiGeometry), a MultiGeometry nested in another (as GeoJSON refuses nested
      collections), a 3D Model.

    ``max_features`` / ``max_vertices``: an upload's limits (:class:`~.area.Limits`), checked
    as the document is scanned, before GDAL reads it: 413 ``too_many_features`` at the first
    placemark (GPX waypoint, route or track) beyond ``max_features``, ``too_many_upload_vertices``
    where the positions of the features (KML ``<coordinates>`` tuples and ``<gx:coord>``, GPX
    points) pass ``max_vertices``; ``where`` ``line L column C`` (with ``line``, ``column`` and
    ``member``), ``limit``, no ``value`` (the scan stops there).

    Raises (the whole file) 422 ``unsafe_xml`` for a DOCTYPE, an entity declaration or an
    external reference; 422 ``unreadable_file`` (``line``, ``column``) for malformed XML, text
    not valid in its encoding or a root element that is not ``<kml>`` / ``<gpx>`` (any
    namespace prefix).
    """
    import defusedxml.sax
    from defusedxml import DefusedXmlException

    where = {"member": member} if member else {}
    scan = _XmlScan(fmt, max_features, max_vertices)
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
    for feature in scan.features:
        if feature.problem is not None:
            feature.problem.extra.update(where)
    return XmlCheck(warnings, scan.features)


_PREFIXED_ROOT = re.compile(rb"<[A-Za-z_][\w.-]*:(?:kml|gpx)[\s/>]")
_EARLY_ROOT = re.compile(rb"<(?:kml|gpx)[\s/>]")
#: GDAL recognises a KML/GPX by its root within about the first kilobyte.
_GDAL_SNIFF = 512
_DECLARATION = re.compile(rb"(?:\xef\xbb\xbf)?(?:<\?xml\b[^>]*\?>)?")
#: A start tag and its attributes (group 1), attribute values quoted either way.
_START_TAG = re.compile(rb"""<[^\s/>]+((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*/?>""")
_ATTRIBUTE = re.compile(rb"""\s+([^\s=/>]+)\s*=\s*("[^"]*"|'[^']*')""")


#: The namespace of KML 2.2, given to a ``<kml>`` root that declares none of its own.
KML_NAMESPACE = "http://www.opengis.net/kml/2.2"
#: The field each placemark carries to GDAL (:func:`xml_for_gdal`): its rank in the document.
PLACEMARK_FIELD = "geosignal_placemark"
_PLACEMARK_TAG = b'<Data name="' + PLACEMARK_FIELD.encode() + b'"><value>%d</value></Data>'


def _gpx_axis_ok(raw: str | None, low: float, high: float) -> bool:
    """Whether a GPX ``lat``/``lon`` attribute is a plain number within [low, high]."""
    return raw is not None and _NUMBER.fullmatch(raw) is not None and low <= float(raw) <= high


#: A KML data field name GDAL keeps as written; it writes any other character as ``_`` (each
#: byte of it: ``Réseau`` → ``R__seau``), so such names reach GDAL as :data:`FIELD_TOKEN`.
_GDAL_FIELD_NAME = re.compile(r"[A-Za-z0-9_]+")
#: The name a KML data field reaches GDAL under when GDAL would not keep its own (``%d``: its
#: rank among such names in the document).
FIELD_TOKEN = "geosignal_field_%d"


#: The KML features that may stand under ``<kml>`` (KML 2.2 allows one; see :func:`xml_for_gdal`).
_KML_ROOT_FEATURES = frozenset({"Document", "Folder", "Placemark", "NetworkLink", "GroundOverlay", "ScreenOverlay",
                                "PhotoOverlay"})


def xml_for_gdal(data: bytes, *, tag_placemarks: bool = False, fix_points: bool = False,
                 field_names: dict[str, str] | None = None) -> bytes:
    """The bytes of a checked KML/GPX document (:func:`check_xml`) to give GDAL: in UTF-8
    (:func:`xml_utf8`), without its image overlays (:data:`KML_OVERLAYS`, cut out whole), and
    with the namespace prefix of its root (``<k:kml xmlns:k=…>``, which GDAL does not
    recognise) taken off the elements that carry it, the namespace becoming the default one,
    without the comments and processing instructions of a long prolog (GDAL looks for the
    root in the first bytes only), and with KML's typed data made plain ``Data``: every
    ``<Schema>`` cut out, every ``<SchemaData>`` unwrapped and every ``<SimpleData name="x">v``
    written ``<Data name="x"><value>v</value>`` (with a ``<Schema>`` in the document, GDAL
    converts the values to the declared type before geosignal's rules see them — ``1.000`` or
    ``1,5`` read as 1 in an ``int`` field, 2³¹ clipped — and reads no ``Data`` the schema does
    not declare: the other fields, and the rank of ``tag_placemarks``, were lost without a
    word, so that no placemark of such a file — as QGIS and ogr2ogr write KML — was checked
    as written); everything else is kept byte for byte.

    ``tag_placemarks`` (KML): every placemark carries its rank in the document (0-based, as
    :class:`XmlFeature`) in an ``ExtendedData`` field :data:`PLACEMARK_FIELD`, so that each
    feature GDAL reads (folder by folder) is known for the placemark it comes from.
    ``fix_points`` (GPX): a point whose ``lat``/``lon`` is missing or no number (refused with
    its feature by :func:`check_xml`) is given ``0`` instead, so that GDAL does not skip it and
    the features keep their ranks.
    ``field_names`` (KML), when given a dict: every ``Data``, ``SimpleField`` and
    ``SimpleData`` name GDAL would not keep as written (accents, spaces, punctuation:
    ``Réseau``, ``Nb ménages``) is given to GDAL as :data:`FIELD_TOKEN` instead, the same token
    for the same name, and the dict receives token → name, for the reader to name the columns
    as the file does.

    Raises 422 ``unsafe_xml`` for a DOCTYPE and ``unreadable_file`` for malformed XML (which
    :func:`check_xml` refuses first).
    """
    import pyexpat
    from xml.sax.saxutils import quoteattr

    data = xml_utf8(data)
    tag_placemarks = tag_placemarks and b"Placemark" in data
    if (not tag_placemarks and not fix_points and b"Overlay" not in data and b"Schema" not in data
            and b"SimpleData" not in data
            and (field_names is None or b"Data" not in data)
            and not _PREFIXED_ROOT.search(data) and _EARLY_ROOT.search(data[:_GDAL_SNIFF])):
        return data
    tokens: dict[str, str] = {}  # a field name GDAL would not keep → its token
    parser = pyexpat.ParserCreate()
    spans: list[tuple[int, int]] = []
    edits: list[tuple[int, int, bytes]] = []  # (start, end, replacement)
    state: dict = {"open": None, "depth": 0, "prefix": None, "placemarks": 0, "root_end": None, "roots": 0}
    placemarks: list[dict] = []  # open placemarks: their depth, rank and whether ExtendedData was seen

    def doctype(*_: object) -> None:
        raise GeosignalError("unsafe_xml", "The XML file declares a DOCTYPE; such XML is refused before it is read.")

    def local_name(name: str) -> str:
        return name.rsplit(":", 1)[-1]

    def written(name: str) -> bytes:
        """The element's name as GDAL will read it (the root's prefix taken off)."""
        if state["prefix"] and name.startswith(state["prefix"]):
            name = name[len(state["prefix"]):]
        return name.encode("utf-8")

    def insert_before_end(name: str, at: int, closing: bool, content: bytes) -> None:
        """Put ``content`` at the end of the element ``name`` closing at ``at``; an empty
        element (``<x/>``) is opened and closed around it."""
        if closing:
            edits.append((at, at, content))
        else:
            slash = data.index(b"/>", at)
            edits.append((slash, slash + 2, b">" + content + b"</" + written(name) + b">"))

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
        if state["depth"] == 1 and name == "kml" and attrs and not data.startswith(b"<kml xmlns=", at):
            # GDAL's LIBKML driver takes a document only if it starts '<kml>' or '<kml xmlns=': any
            # other order or spacing of the root's attributes left it to the older KML driver,
            # which reads no <gx:Track> (dropped silently) and names the fields otherwise
            tag = _START_TAG.match(data, at)
            if tag is not None:
                others = b"".join(a.group(0) for a in _ATTRIBUTE.finditer(data, tag.start(1), tag.end(1))
                                  if a.group(1) != b"xmlns")
                uri = attrs.get("xmlns") or KML_NAMESPACE
                edits.append((at, tag.end(1), b"<kml xmlns=" + quoteattr(uri).encode("utf-8") + others))
        if state["depth"] == 1 and local_name(name) == "kml":
            tag = _START_TAG.match(data, at)
            state["root_end"] = tag.end() if tag is not None and not tag.group(0).endswith(b"/>") else None
        elif state["depth"] == 2 and local_name(name) in _KML_ROOT_FEATURES:
            state["roots"] += 1
        local = local_name(name)
        if local == "SchemaData":  # unwrapped: its SimpleData become Data (see the docstring)
            tag = _START_TAG.match(data, at)
            edits.append((at, tag.end() if tag else data.index(b">", at) + 1, b""))
        elif state["prefix"] and name.startswith(state["prefix"]):
            edits.append((at + 1, at + 1 + len(state["prefix"].encode("utf-8")), b""))
        if local == "SimpleData":
            rename(at + 1, name)
            tag = _START_TAG.match(data, at)
            if tag is not None and tag.group(0).endswith(b"/>"):  # <SimpleData name="x"/>: an empty value
                edits.append((tag.end() - 2, tag.end(), b"><value></value></Data>"))
            elif tag is not None:
                edits.append((tag.end(), tag.end(), b"<value>"))
        if state["open"] is None and (local in KML_OVERLAYS or local == "Schema"):
            state["open"] = (name, at, state["depth"])
        if field_names is not None and local in ("Data", "SimpleField", "SimpleData") \
                and not _GDAL_FIELD_NAME.fullmatch(attrs.get("name") or "_"):
            token = tokens.setdefault(attrs["name"], FIELD_TOKEN % len(tokens))
            field_names[token] = attrs["name"]
            tag = _START_TAG.match(data, at)
            for attr in _ATTRIBUTE.finditer(data, tag.start(1), tag.end(1)) if tag else ():
                if attr.group(1) == b"name":
                    edits.append((attr.start(2) + 1, attr.end(2) - 1, token.encode()))
        if tag_placemarks and local == "Placemark":
            placemarks.append({"depth": state["depth"], "rank": state["placemarks"], "extended": False})
            state["placemarks"] += 1
        elif tag_placemarks and local == "ExtendedData" and placemarks and placemarks[-1]["depth"] == state["depth"] - 1:
            placemarks[-1]["extended"] = True
        if fix_points and local in _GPX_POINTS:
            tag = _START_TAG.match(data, at)
            for axis, low, high in (("lat", -90.0, 90.0), ("lon", -180.0, 180.0)):
                if _gpx_axis_ok(attrs.get(axis), low, high):
                    continue
                found = next((a for a in _ATTRIBUTE.finditer(data, tag.start(1), tag.end(1))
                              if a.group(1) == axis.encode()), None) if tag else None
                if found is not None:
                    edits.append((found.start(2) + 1, found.end(2) - 1, b"0"))
                else:
                    end_of_name = at + 1 + len(name.encode("utf-8"))
                    edits.append((end_of_name, end_of_name, f' {axis}="0"'.encode()))

    def rename(at: int, name: str) -> None:
        """Write ``Data`` for the ``SimpleData`` whose name (with its prefix) starts at ``at``."""
        prefix = len(state["prefix"].encode("utf-8")) if state["prefix"] and name.startswith(state["prefix"]) else 0
        edits.append((at + prefix, at + len(name.encode("utf-8")), b"Data"))

    def end(name: str) -> None:
        at = parser.CurrentByteIndex
        tag = b"</" + name.encode("utf-8")
        closing = data.startswith(tag, at) and data[at + len(tag):at + len(tag) + 1] in (b">", b" ", b"\t", b"\r",
                                                                                         b"\n")
        local = local_name(name)
        if closing and local == "SchemaData":
            edits.append((at, data.index(b">", at) + 1, b""))
        elif closing and state["prefix"] and name.startswith(state["prefix"]):
            edits.append((at + 2, at + 2 + len(state["prefix"].encode("utf-8")), b""))
        if closing and local == "SimpleData":
            edits.append((at, at, b"</value>"))
            rename(at + 2, name)
        if placemarks and local == "ExtendedData" and placemarks[-1]["depth"] == state["depth"] - 1:
            insert_before_end(name, at, closing, _PLACEMARK_TAG % placemarks[-1]["rank"])
        elif placemarks and local == "Placemark" and placemarks[-1]["depth"] == state["depth"]:
            placemark = placemarks.pop()
            if not placemark["extended"]:
                insert_before_end(name, at, closing, b"<ExtendedData>" + _PLACEMARK_TAG % placemark["rank"]
                                  + b"</ExtendedData>")
        if (state["depth"] == 1 and local == "kml" and closing and state["roots"] > 1
                and state["root_end"] is not None):
            # several features under <kml> (two exports pasted together, a placemark beside the
            # document), where KML has one: GDAL read only the last, the others were lost
            # without a word. Put in one <Document>, every one is read.
            edits.append((state["root_end"], state["root_end"], b"<Document>"))
            edits.append((at, at, b"</Document>"))
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
    # by position only, the edits at one position kept in document order: sorted whole, the
    # '</value>' ending an empty <SimpleData name="x"></SimpleData> came before the '<value>'
    # opening it ('/' < 'v'), and GDAL refused the file ('mismatched tag')
    for a, b, replacement in sorted(changes, key=lambda edit: edit[:2]):
        out += [data[pos:a], replacement]
        pos = b
    out.append(data[pos:])
    return b"".join(out)


#: Markup in a KML description: a tag (``<br>``, ``</b>``) or a character reference (``&amp;``).
_HTML_MARKUP = re.compile(r"<[A-Za-z/!]|&(?:#\d+|#x[0-9A-Fa-f]+|[A-Za-z]+);")
#: Elements whose start and end break a line of text; elements whose content is not text.
_HTML_BLOCKS = frozenset({"p", "div", "li", "table", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
                          "blockquote", "pre", "hr"})
#: Marks where a table cell (``<td>``, ``<th>``) starts, until the row's line is written.
_CELL = "\x1f"


def _table_line(line: str) -> str:
    """A table row's line: two cells as « name : value » (Google Earth's and ArcGIS's popups),
    more joined by « · »; a line that is not a row, unchanged."""
    if _CELL not in line:
        return line
    before, *cells = (c.strip() for c in line.split(_CELL))
    if len(cells) == 2 and all(cells):
        return f"{before} {cells[0]} : {cells[1]}".strip()
    return " · ".join(c for c in (before, *cells) if c)
_HTML_NOT_TEXT = frozenset({"script", "style", "head", "title"})
#: The names of HTML's elements (current and obsolete ones KML writers still use): a "tag"
#: of another name is text that holds a ``<`` (« si x<y », « <rue du Pont> »), kept as written.
_HTML_ELEMENTS = frozenset(
    "a abbr acronym address area article aside audio b base basefont bdi bdo big blink blockquote body br "
    "button canvas caption center cite code col colgroup data datalist dd del details dfn dialog dir div dl dt "
    "em embed fieldset figcaption figure font footer form frame frameset h1 h2 h3 h4 h5 h6 head header hgroup "
    "hr html i iframe img input ins kbd label legend li link main map mark marquee menu meta meter nav nobr "
    "noframes noscript object ol optgroup option output p param picture pre progress q rp rt ruby s samp "
    "script search section select small source span strike strong style sub summary sup svg table tbody td "
    "template textarea tfoot th thead time title tr track tt u ul var video wbr".split())


def html_text(description: str) -> str:
    """The text of a KML description as a KML reader shows it (KML's ``<description>`` is
    HTML): ``<br>``, block elements and table rows break lines, a row's cells are kept apart
    (« Réseau : mobile »: they were run together, « Réseaumobile »), other tags are taken off (their text kept),
    character references are decoded, runs of spaces and source line breaks become one space,
    scripts and styles are dropped. A "tag" that names no HTML element (:data:`_HTML_ELEMENTS`:
    « si x&lt;y alors &lt;arrêt&gt; ») is text, kept as written, not taken off with what
    follows it. A description without markup (:data:`_HTML_MARKUP`) is returned unchanged.
    E.g. ``Réseau: mobile<br>Opérateur: Proximus`` →
    ``"Réseau: mobile\nOpérateur: Proximus"``."""
    from html.parser import HTMLParser

    if not _HTML_MARKUP.search(description):
        return description
    parts: list[str] = []
    skipping: list[str] = []

    class _Text(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list) -> None:
            if tag not in _HTML_ELEMENTS:
                self.handle_data(self.get_starttag_text() or "")
            elif tag in _HTML_NOT_TEXT:
                skipping.append(tag)
            elif tag == "br" or tag == "tr" or tag in _HTML_BLOCKS:
                parts.append("\n")
            elif tag in ("td", "th"):
                parts.append(_CELL)

        def handle_startendtag(self, tag: str, attrs: list) -> None:
            if tag not in _HTML_ELEMENTS:
                self.handle_data(self.get_starttag_text() or "")
            elif tag == "br" or tag in _HTML_BLOCKS:
                parts.append("\n")

        def handle_endtag(self, tag: str) -> None:
            if tag not in _HTML_ELEMENTS:
                self.handle_data(f"</{tag}>")
            elif skipping and skipping[-1] == tag:
                skipping.pop()
            elif tag in _HTML_BLOCKS:
                parts.append("\n")

        def handle_data(self, data: str) -> None:
            if not skipping:
                parts.append(re.sub(r"\s+", " ", data))

    reader = _Text(convert_charrefs=True)
    reader.feed(description)
    reader.close()
    lines = [re.sub(" {2,}", " ", _table_line(line)).strip() for line in "".join(parts).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


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
        if wkb[pos] not in (0, 1):
            raise IndexError("no byte order")
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
        if code == 101:  # GDAL's wkbLinearRing
            raise GeosignalError("unsupported_geometry_type", "The geometry is a LinearRing on its own, which is "
                                 "neither a line nor a zone: write a Polygon for a zone, a LineString for a line.",
                                 where="/geometry/type")
        if code not in names and not 8 <= code <= 17:  # no WKB type: damaged
            raise IndexError("no geometry type")
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
        raise GeosignalError("unreadable_file", f"The geometry cannot be read: its {len(wkb)} bytes of WKB are "
                             "damaged or truncated (it is not empty). Export the feature again.") from None


def gpkg_geometry(blob: bytes) -> tuple[bytes | None, bool]:
    """The WKB inside a GeoPackage geometry blob (``GP`` header, optional envelope) and whether
    the header flags it empty. Raises 422 ``unreadable_file`` when the blob has no GeoPackage
    header (damaged)."""
    if len(blob) < 8 or blob[:2] != b"GP":
        raise GeosignalError("unreadable_file", f"The geometry cannot be read: its {len(blob)} bytes are not a "
                             "GeoPackage geometry (damaged; it is not empty). Export the feature again.")
    flags = blob[3]
    envelope = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}.get((flags >> 1) & 0x07)
    if envelope is None:
        raise GeosignalError("unreadable_file", "The geometry cannot be read: its GeoPackage header declares an "
                             "unknown envelope (damaged; it is not empty). Export the feature again.")
    return blob[8 + envelope:], bool(flags & 0x10)


def wkb_has_m(wkb: bytes) -> bool:
    """Whether WKB (ISO or extended) declares M ordinates (measures)."""
    if len(wkb) < 5:
        return False
    (code,) = struct.unpack_from("<I" if wkb[0] == 1 else ">I", wkb, 1)
    return bool(code & 0x40000000) or (code & 0x0FFFFFFF) // 1000 in (2, 3)


#: ISO WKB geometry types made of arcs: CircularString, CompoundCurve, CurvePolygon,
#: MultiCurve, MultiSurface, Curve, Surface (GDAL reads them as straight segments).
_CURVE_TYPES = frozenset({8, 9, 10, 11, 12, 13, 14})


def wkb_is_curve(wkb: bytes) -> bool:
    """Whether WKB (ISO or extended) declares a curved geometry type (:data:`_CURVE_TYPES`)."""
    if len(wkb) < 5:
        return False
    (code,) = struct.unpack_from("<I" if wkb[0] == 1 else ">I", wkb, 1)
    return (code & 0x0FFFFFFF) % 1000 in _CURVE_TYPES


def gpkg_geometry_heads(data: bytes, table: str, fid_column: str, geometry_column: str) -> dict[int, bytes | None]:
    """The geometry blobs of a GeoPackage table as stored, by ``fid``: their first 96 bytes
    (header, envelope and WKB type: enough for :func:`wkb_has_m`), None when NULL. Raises as
    :func:`gpkg_stored_values`."""
    with _gpkg_sqlite(data, table) as con:
        rows = con.execute(f"SELECT {_quoted(fid_column)}, substr({_quoted(geometry_column)}, 1, 96) "
                           f"FROM {_quoted(table)}").fetchall()
    return {fid: (bytes(head) if head is not None else None) for fid, head in rows}


def gpkg_geometry_blob(data: bytes, table: str, fid_column: str, geometry_column: str, fid: int) -> bytes | None:
    """The whole geometry blob of one feature of a GeoPackage table (None when NULL)."""
    with _gpkg_sqlite(data, table) as con:
        row = con.execute(f"SELECT {_quoted(geometry_column)} FROM {_quoted(table)} WHERE {_quoted(fid_column)} = ?",
                          (fid,)).fetchone()
    return bytes(row[0]) if row and row[0] is not None else None


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
    #: the same for each date (D, written ``YYYYMMDD``)
    date_fields: list[tuple[int, int, int]] = field(default_factory=list)
    #: the byte in the header of each date field's type
    date_type_bytes: list[int] = field(default_factory=list)


def dbf_layout(dbf: bytes, member: str) -> DbfLayout:
    """Read the header of a ``.dbf``. Raises 422 ``unreadable_file`` naming ``member`` when it
    is too short or its field descriptors are inconsistent."""
    if len(dbf) < 33:
        raise GeosignalError("unreadable_file", f"{member!r} is not a dBase file (too short).", member=member)
    records, header_length, record_length = struct.unpack_from("<IHH", dbf, 4)
    fields: list[tuple[bytes, int, int]] = []
    numbers: list[tuple[int, int, int]] = []
    dates: list[tuple[int, int, int]] = []
    date_bytes: list[int] = []
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
        elif chr(desc[11]) in "Dd":
            dates.append((len(names) - 1, offset, length))
            date_bytes.append(pos + 11)
        offset += length
        pos += 32
    if offset > record_length or header_length < 33:
        raise GeosignalError("unreadable_file", f"The field descriptors of {member!r} do not match its record "
                             "length.", member=member)
    return DbfLayout(records, header_length, record_length, dbf[29], fields, names, numbers, dates, date_bytes)


def dbf_stored_numbers(dbf: bytes, member: str) -> dict[int, list[str | None]]:
    """The numeric fields (dBase ``N`` and ``F``: numbers written as text) of a ``.dbf`` as
    written, by field position (0-based, among all fields): one stripped text per record (None
    when blank), in record order — not as GDAL converts them (``atoi``/``atof``: ``nan`` and
    ``abc`` → 0, ``1.000`` → 1, ``2,500`` → 2, ``12.7`` → 12 in an integer field, ``1e3`` → 1),
    so that the count rules see what the file holds. A cell made only of asterisks
    (``*********``: how GDAL, hence QGIS, writes a NULL number, and dBase a number too wide for
    its field) holds no value: None, as a blank one. Read from the array of all records at
    once. Raises as :func:`dbf_layout`."""
    layout = dbf_layout(dbf, member)
    return {position: [None if text is not None and not text.strip("*") else text for text in texts]
            for position, texts in _stored_texts(dbf, layout, layout.number_fields).items()}


def _stored_texts(dbf: bytes, layout: DbfLayout, fields: list[tuple[int, int, int]]) -> dict[int, list[str | None]]:
    """The cells of ``fields`` (``(position, offset, length)``) of every record as written:
    one text per record, stripped of blanks and NULs (None when nothing is left), by position."""
    if not fields:
        return {}
    matrix, _ = _text_matrix(dbf, layout)
    return {position: [(cell.tobytes().decode("latin-1").strip(" \x00") or None)
                       for cell in matrix[:, off:off + length]] for position, off, length in fields}


def dbf_stored_dates(dbf: bytes, member: str) -> dict[int, list[str | None]]:
    """The date fields (dBase ``D``) of a ``.dbf`` as written, by field position, as
    :func:`dbf_stored_numbers`: ``YYYYMMDD`` given as ``YYYY-MM-DD`` for the date rules to
    judge (``20241301`` as ``2024-13-01``), any other text as written, blank or ``00000000`` as
    None (no date). GDAL's reader, through pyogrio, fails the whole layer on a date that is
    no day (``month must be in 1..12``): the file reaches it with these fields as text
    (:func:`dbf_dates_as_text`). Raises as :func:`dbf_layout`."""
    layout = dbf_layout(dbf, member)
    return {position: [None if not text or text.strip("0") == ""
                       else f"{text[:4]}-{text[4:6]}-{text[6:]}" if re.fullmatch(r"[0-9]{8}", text) else text
                       for text in texts]
            for position, texts in _stored_texts(dbf, layout, layout.date_fields).items()}


def dbf_dates_as_text(dbf: bytes, member: str) -> bytes:
    """The ``.dbf`` with its date fields (``D``) declared as text (``C``, the same width), so
    that GDAL reads each date as written (:func:`dbf_stored_dates` gives them to the rules)."""
    layout = dbf_layout(dbf, member)
    if not layout.date_type_bytes:
        return dbf
    raw = bytearray(dbf)
    for at in layout.date_type_bytes:
        raw[at] = ord("C")
    return bytes(raw)


def dbf_unique_names(dbf: bytes, member: str, codec: str) -> tuple[bytes, dict[str, str]]:
    """The ``.dbf`` with every field named like an earlier one (but for case: GDAL looks
    fields up by name, case aside, and read the last one's value into both) renamed
    ``_gs_dupNNN``, and those names → the name as written (decoded with ``codec``), for the
    reader to name them back and tell their values apart. Raises as :func:`dbf_layout`."""
    layout = dbf_layout(dbf, member)
    seen: set[bytes] = set()
    raw, renamed = bytearray(dbf), {}
    for k, name in enumerate(layout.names):
        if name.lower() in seen:
            token = f"_gs_dup{len(renamed) + 1:03d}"
            raw[32 + 32 * k:32 + 32 * k + 11] = token.encode().ljust(11, b"\x00")
            renamed[token] = name.decode(codec, errors="replace")
        seen.add(name.lower())
    return (bytes(raw), renamed) if renamed else (dbf, {})


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
        # a UTF-8 byte-order mark (Notepad writes one) and spaces or line ends around the label
        # are no part of it; other bytes that are not ASCII are shown escaped, never garbled
        label = cpg.strip().removeprefix(codecs.BOM_UTF8).decode("ascii", errors="backslashreplace").strip()
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
        said = ("language driver byte 0" if layout.ldid == 0 else
                f"language driver byte 0x{layout.ldid:02X}, which names no code page geosignal knows")
        raise GeosignalError("undecidable_encoding", f"The text of {member!r} is not plain ASCII and nothing says "
                             f"its encoding (no .cpg, {said}): add a .cpg file naming it "
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
    if source == "ldid" and codecs.lookup(codec).name in _MULTIBYTE and _reads_as(b"".join(b for *_, b in blocks),
                                                                                   "cp1252"):
        # a CJK code page said by the language driver byte alone, over text that reads as
        # Western European text too (« Église près » is valid cp932: « ﾉglise pr鑚 »): which
        # one the file holds cannot be decided (a .cpg naming it decides)
        raise GeosignalError("undecidable_encoding", f"The text of {member!r} is declared {codec} only by its language "
                             f"driver byte 0x{layout.ldid:02X}, and reads as Western European text (1252) as well: "
                             "its encoding cannot be decided. Add a .cpg file naming it (e.g. 1252, UTF-8 or "
                             f"{codec.removeprefix('cp')}).", member=member, ldid=layout.ldid, codec=codec)
    if codecs.lookup(codec).name not in _MULTIBYTE and _looks_utf8(b"".join(b for *_, b in blocks)):
        row, field_name = _first_utf8(matrix, high_rows, blocks)
        raise GeosignalError("unreadable_file", f"The text of {member!r} is UTF-8 but its {source} declares "
                             f"{codec}: it would read as mojibake (first at record {row}, field {field_name!r}). "
                             "Declare UTF-8 in a .cpg file.", member=member, record=row, field=field_name)
    if is_single_byte(codec):
        found = _mojibake(high_rows, blocks, codec)
        if found is not None:
            row, field_name, sample, sign = found
            said = f"language driver byte 0x{layout.ldid:02X}" if source == "ldid" else f".cpg ({shown!r})"
            declared = {"ldid": layout.ldid} if source == "ldid" else {"cpg": shown}
            raise GeosignalError("undecidable_encoding", f"Record {row}, field {field_name!r} of {member!r} reads as "
                                 f"mojibake in {codec}, as its {said} declares: {sample!r} ({sign}). The text's "
                                 "encoding cannot be decided: add a .cpg file naming the right one (e.g. 1252 or "
                                 "UTF-8).", member=member, record=row, field=field_name, codec=codec, **declared)
    return codec, source


def _reads_as(data: bytes, codec: str) -> bool:
    """Whether ``data`` is valid text in ``codec``."""
    try:
        data.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


def is_single_byte(codec: str) -> bool:
    """Whether ``codec`` (a dBase code page, as :func:`dbf_encoding` returns it) reads one
    character per byte: every one but ASCII, UTF-8 and the CJK multibyte code pages."""
    name = codecs.lookup(codec).name
    return name != "ascii" and name not in _MULTIBYTE and name not in _DBASE_MULTIBYTE


_LATIN = r"A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff"
_GREEK_CYRILLIC = r"\u0370-\u03ff\u1f00-\u1fff\u0400-\u052f"
_LETTERS = r"[^\W\d_]*"
#: Signs that a single-byte code page turned text into mojibake: C1 control characters, box
#: drawing and block elements (cp437/cp850/cp866 read "É" as "╔"), and a word mixing Latin
#: letters with Greek or Cyrillic ones (cp437 reads "près" as "prΦs", cp866 as "prшs").
_MOJIBAKE_SIGNS = (
    (re.compile(r"[\u0080-\u009f]"), "C1 control characters"),
    (re.compile(r"[\u2500-\u259f]"), "box-drawing or block characters"),
    (re.compile(f"{_LETTERS}(?:[{_LATIN}]{_LETTERS}[{_GREEK_CYRILLIC}]|[{_GREEK_CYRILLIC}]{_LETTERS}[{_LATIN}])"),
     "a word mixing Latin letters with Greek or Cyrillic ones"),
)
#: Any character that may be such a sign (a first pass over a whole field).
_MOJIBAKE_SUSPECT = re.compile(rf"[\u0080-\u009f\u2500-\u259f{_GREEK_CYRILLIC}]")


def _mojibake(rows: np.ndarray, blocks: list, codec: str) -> tuple[int, str, str, str] | None:
    """The first text (record 1-based, field, the text, the sign) among ``rows`` (the records
    whose text is not ASCII; ``blocks`` their fields' bytes, as :func:`dbf_encoding` builds
    them) that shows signs of mojibake (:data:`_MOJIBAKE_SIGNS`) once decoded with the
    single-byte ``codec`` (one character per byte), else None. Each field is searched as a
    whole, its cells one per line (never glued into one word)."""
    found: list[tuple[int, int, str, str]] = []
    for rank, (field_name, _, length, block) in enumerate(blocks):
        text = block.decode(codec, errors="replace")
        if not length or not _MOJIBAKE_SUSPECT.search(text):
            continue
        cells = "\n".join(text[k:k + length] for k in range(0, len(text), length))
        for pattern, sign in _MOJIBAKE_SIGNS:
            match = pattern.search(cells)
            if match is not None:
                k = match.start() // (length + 1)
                found.append((int(rows[k]), rank, field_name, sign))
    if not found:
        return None
    row, rank, field_name, sign = min(found, key=lambda f: (f[0], f[1]))
    k = int(np.searchsorted(rows, row))
    length = blocks[rank][2]
    cell = blocks[rank][3][k * length:(k + 1) * length].decode(codec, errors="replace").rstrip(" \x00")
    return row + 1, field_name, cell if len(cell) <= 60 else cell[:59] + "…", sign


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



def shx_entries(shx: bytes) -> int | None:
    """The records a Shapefile index (``.shx``) lists, from its size alone (8 bytes an entry
    after its 100-byte header): what an upload's count of features is checked against before
    the ``.shp`` is walked. None when it is no index (:func:`check_shapefile` says why)."""
    entries, rest = divmod(len(shx) - 100, 8)
    if len(shx) < 100 or rest or struct.unpack_from(">i", shx, 0)[0] != _SHP_FILE_CODE:
        return None
    return entries


#: Shapefile shape types by where their count of positions is: one point (Point, PointZ,
#: PointM); ``numPoints`` at byte 36 of the record's content (MultiPoint, Z, M); at byte 40,
#: after ``numParts`` (PolyLine, Polygon, their Z and M kinds, MultiPatch).
_SHP_ONE_POINT = (1, 11, 21)
_SHP_POINTS_AT_36 = (8, 18, 28)
_SHP_POINTS_AT_40 = (3, 5, 13, 15, 23, 25, 31)


def shp_positions(shp: bytes, shx: bytes) -> int:
    """The positions (vertices) the records of a Shapefile hold, from their headers: each
    record's ``numPoints`` (a point type: 1; a Null shape: 0), bounded by what its content
    length can hold (16 bytes a position: GDAL reads no more). Read through the ``.shx``, once
    :func:`check_shapefile` found it to point at every record of the ``.shp``; no shape is
    decoded."""
    n = shx_entries(shx) or 0
    if not n:
        return 0
    index = np.frombuffer(shx, dtype=">i4", count=2 * n, offset=100).reshape(n, 2).astype(np.int64) * 2
    content, length = index[:, 0] + 8, index[:, 1]
    raw = np.frombuffer(shp, dtype=np.uint8)

    def int32_at(offsets: np.ndarray) -> np.ndarray:
        return raw[offsets[:, None] + np.arange(4)].copy().view("<i4").ravel().astype(np.int64)

    kinds = int32_at(content)
    counts = np.where(np.isin(kinds, _SHP_ONE_POINT) & (length >= 20), 1, 0)
    for kinds_at, at in ((_SHP_POINTS_AT_36, 36), (_SHP_POINTS_AT_40, 40)):
        rows = np.flatnonzero(np.isin(kinds, kinds_at) & (length >= at + 4))
        if len(rows):
            counts[rows] = np.clip(int32_at(content[rows] + at), 0, np.maximum((length[rows] - at - 4) // 16, 0))
    return int(counts.sum())


# --------------------------------------------------------------------------- GeoPackage values as stored

class UndecodableText(bytes):
    """A text value of a file that is not valid UTF-8 (its bytes): never a report's text; the
    reader refuses the feature that holds it in a column it reads, naming the field."""

    def __repr__(self) -> str:
        return f"UndecodableText({bytes(self)[:40]!r})"


def _utf8_or_marker(raw: bytes, codec: str = "utf-8") -> str | UndecodableText:
    try:
        return raw.decode(codec)
    except UnicodeDecodeError:
        return UndecodableText(raw)


def recode_latin1(frame, geometry: str | None, codec: str = "utf-8"):  # noqa: ANN001, ANN201 - a (Geo)DataFrame
    """Undo a read done with ``encoding="latin-1"`` (done when GDAL's text is not all valid
    UTF-8, and for a Shapefile in a single-byte code page): every text value and column name is
    turned back into its bytes and decoded as ``codec``, the values that are not valid in it
    becoming :class:`UndecodableText`. Returns the frame (changed in place; columns renamed)."""
    import pandas as pd

    for column in [c for c in frame.columns if c != geometry]:
        if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column].dtype):
            frame[column] = pd.Series([(_utf8_or_marker(v.encode("latin-1"), codec) if isinstance(v, str) else v)
                                       for v in frame[column]], index=frame.index, dtype=object)
    return frame.rename(columns={c: recode_latin1_name(c, codec) for c in frame.columns
                                 if isinstance(c, str) and c != geometry})


def recode_latin1_name(name: str, codec: str = "utf-8") -> str:
    """A name read with ``encoding="latin-1"`` decoded back as ``codec`` (as
    :func:`recode_latin1` renames the columns)."""
    return name.encode("latin-1").decode(codec, errors="replace")


def _deserialize_gpkg(con: sqlite3.Connection, data: bytes) -> None:
    """Load the GeoPackage ``data`` into the in-memory ``con`` (a file in WAL mode is marked as
    a rollback-journal one: an in-memory copy cannot be read as WAL)."""
    image = bytearray(data)
    if len(image) > 19 and image[18:20] == b"\x02\x02":
        image[18:20] = b"\x01\x01"
    con.deserialize(bytes(image))


@contextmanager
def _gpkg_sqlite(data: bytes, table: str) -> Iterator[sqlite3.Connection]:
    """The GeoPackage ``data`` opened read-only in SQLite, in memory (text as bytes). Raises
    422 ``unreadable_file`` (``layer`` = ``table``) when SQLite cannot read it."""
    con = sqlite3.connect(":memory:")
    try:
        _deserialize_gpkg(con, data)
        con.execute("PRAGMA query_only = 1")
        con.text_factory = bytes
        yield con
    except (sqlite3.Error, OverflowError, ValueError) as exc:
        raise GeosignalError("unreadable_file", f"The values of layer {table!r} cannot be read as stored "
                             f"({_short(exc)}).", layer=table) from None
    finally:
        con.close()


def gpkg_recounted(data: bytes) -> bytes:
    """A private copy of the GeoPackage ``data`` without its cached feature counts (the table
    ``gpkg_ogr_contents`` dropped), so that GDAL counts the rows of each table itself: GDAL
    sizes its read by the cached ``feature_count`` and silently stops there, and a tool that
    writes rows without GDAL's triggers leaves that count stale (3 rows, count 1: two rows
    lost). Dropping the table fires no trigger. Returns ``data`` itself when it holds no such
    table or SQLite cannot read it (GDAL then says what it cannot read)."""
    con = sqlite3.connect(":memory:")
    try:
        _deserialize_gpkg(con, data)
        if con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'gpkg_ogr_contents'").fetchone() is None:
            return data
        con.execute("DROP TABLE gpkg_ogr_contents")
        return con.serialize()
    except (sqlite3.Error, OverflowError, ValueError, MemoryError):
        return data
    finally:
        con.close()


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


#: The SQL of the one kind of virtual table a GeoPackage may hold: a layer's spatial index (the
#: R*Tree extension, ``CREATE VIRTUAL TABLE "rtree_<table>_<column>" USING rtree(id, minx, maxx,
#: miny, maxy)`` as GDAL writes it), read by SQLite's own R*Tree code over its shadow tables.
_RTREE_SQL = re.compile(r"""\s*CREATE\s+VIRTUAL\s+TABLE\s+(?:"(?:[^"]|"")+"|[A-Za-z_]\w*)\s+USING\s+rtree(?:_i32)?"""
                        r"""\s*\([^()]*\)\s*;?\s*""", re.IGNORECASE)
#: ``PRAGMA table_xinfo``'s ``hidden`` of a column computed whenever it is read (``GENERATED
#: ALWAYS AS (…) VIRTUAL``); a ``STORED`` one (3) was computed when the row was written.
_COMPUTED_ON_READ = 2


def _unsafe_gpkg(name: str, reason: str, detail: str, **extra: object) -> GeosignalError:
    """The 422 ``unsafe_geopackage`` of :func:`check_gpkg`: ``detail`` says what ``name`` is."""
    return GeosignalError("unsafe_geopackage", f"{detail} The file is refused before it is read: export its layers "
                          "again as plain tables (in QGIS: Export > Save Features As…, GeoPackage).",
                          where=f"layer {name}", layer=name, reason=reason, **extra)


_CREATES_VIEW = re.compile(r"\s*CREATE\s+(?:TEMP\w*\s+)?VIEW\b", re.IGNORECASE)
_CREATES_VIRTUAL = re.compile(r"\s*CREATE\s+VIRTUAL\s+TABLE\b", re.IGNORECASE)


def _schema(con: sqlite3.Connection) -> list[tuple[str, str]]:
    """``(name, kind)`` of every table and view of the database ``con`` holds (SQLite's own
    ``sqlite_*`` tables left out), ``kind`` one of ``table``, ``view``, ``virtual`` or ``shadow``
    (the tables a virtual table keeps its data in), as SQLite parsed the schema (``PRAGMA
    table_list``, SQLite 3.37 and later; before, from the SQL of ``sqlite_master``)."""
    if sqlite3.sqlite_version_info >= (3, 37):
        return [(name, kind) for schema, name, kind, *_ in con.execute("PRAGMA main.table_list").fetchall()
                if schema == "main" and not name.lower().startswith("sqlite_")]
    out = []
    for kind, name, sql in con.execute("SELECT type, name, sql FROM sqlite_master WHERE type IN ('table', 'view')"):
        if isinstance(name, str) and not name.lower().startswith("sqlite_"):
            sql = sql if isinstance(sql, str) else ""
            out.append((name, "view" if kind == "view" or _CREATES_VIEW.match(sql) else
                        "virtual" if _CREATES_VIRTUAL.match(sql) else "table"))
    return out


#: The ``data_type`` of a GeoPackage's raster content (``gpkg_contents``): tiles, and the
#: tiled gridded coverage extension's elevation data.
_RASTER_DATA_TYPES = ("tiles", "2d-gridded-coverage")


def check_gpkg(data: bytes) -> dict[str, int]:
    """Check a GeoPackage (or any SQLite database) before GDAL reads it, and return the number
    of rows of each feature layer (table name → rows, in ``gpkg_contents`` order; empty when
    the file has no ``gpkg_contents``): what :func:`~.files.read_upload` counts against the
    features an upload may hold, before any feature is read.

    Reading a GeoPackage must never run SQL written by whoever made it. GDAL runs a **view**
    whenever it lists the layers (a view anywhere in the file, registered or not, as
    ``gpkg_contents`` itself: a recursive CTE of 30,000,000 rows took 28 s before the first
    layer was named) and again when it counts and reads one; a **column computed on read**
    (``GENERATED ALWAYS AS (…) VIRTUAL``) is evaluated for every row read (``hex(zeroblob(…))``:
    4 s and 2 GB for one row); a **virtual table** runs the code of its module. So, from the
    schema SQLite parses (``PRAGMA table_list``, not the ``type`` column of ``sqlite_master``,
    which the file could word otherwise), 422 ``unsafe_geopackage`` (``where`` = ``layer
    <name>``, ``layer``, ``reason``) for:

    * ``reason`` ``view``: any view;
    * ``virtual_table`` (``sql``: its first 200 characters): any virtual table but a layer's
      spatial index (:data:`_RTREE_SQL`, SQLite's R*Tree);
    * ``computed_column`` (``column``): a table column computed on read (a ``STORED``
      generated column was computed when the row was written: it is read as stored);
    * ``not_a_table``: a feature layer (``data_type`` ``features`` in ``gpkg_contents``) that the
      schema does not hold as a table.

    The checks read the schema only; the row counts (``SELECT count(*)`` of each feature
    layer) run once every table is known to be plain. **Triggers are no concern**: SQLite runs
    a trigger on ``INSERT``, ``UPDATE`` or ``DELETE`` of its table, never on a ``SELECT``; the
    file is only read (GDAL opens it read-only; :func:`gpkg_recounted` drops a table in a
    private copy, and ``DROP TABLE`` fires no trigger). Indexes on expressions and ``CHECK``
    constraints are evaluated when a row is written, never when it is read.

    Raises 422 ``unreadable_file`` when SQLite cannot read the file (damaged), 422
    ``no_features`` (``rasters``: their names) when it holds raster tiles and no feature layer.
    """
    con = sqlite3.connect(":memory:")
    try:
        _deserialize_gpkg(con, data)
        con.execute("PRAGMA query_only = 1")
        con.text_factory = lambda raw: raw.decode("utf-8", errors="replace")
        listed = _schema(con)
        for name, kind in listed:
            if kind == "view":
                raise _unsafe_gpkg(name, "view", f"The GeoPackage's {name!r} is a view: an SQL query chosen by "
                                   "whoever made the file, which GDAL runs whenever it lists the layers or reads "
                                   "one (a view is no table of features).")
        for name, kind in listed:
            if kind == "virtual":
                row = con.execute("SELECT sql FROM sqlite_master WHERE name = ? COLLATE NOCASE", (name,)).fetchone()
                sql = row[0] if row and isinstance(row[0], str) else ""
                if not _RTREE_SQL.fullmatch(sql):
                    raise _unsafe_gpkg(name, "virtual_table", f"The GeoPackage's {name!r} is a virtual table: the "
                                       "code of a module runs as it is read (a layer's spatial index, SQLite's "
                                       "R*Tree, is the only one read).", sql=sql[:200])
        tables = {name.lower(): name for name, kind in listed if kind == "table"}
        for name in tables.values():
            for column in con.execute(f"PRAGMA main.table_xinfo({_quoted(name)})").fetchall():
                if column[6] == _COMPUTED_ON_READ:
                    raise _unsafe_gpkg(name, "computed_column", f"The column {column[1]!r} of the GeoPackage's "
                                       f"table {name!r} is computed whenever it is read (GENERATED ALWAYS AS … "
                                       "VIRTUAL): SQL chosen by whoever made the file would run for every row.",
                                       column=column[1])
        contents: list[tuple[Any, Any]] = []
        if "gpkg_contents" in tables:
            contents = con.execute(f"SELECT table_name, data_type FROM {_quoted(tables['gpkg_contents'])}").fetchall()
        layers = [name for name, kind in contents if kind == "features"]
        rasters = [str(name) for name, kind in contents if kind in _RASTER_DATA_TYPES]
        if rasters and not layers:
            # GDAL, asked for vectors, would say "not recognized as being in a supported file format"
            raise GeosignalError("no_features", f"The GeoPackage contains no feature layer, only raster tiles "
                                 f"({', '.join(repr(n) for n in rasters[:5])}{'…' if len(rasters) > 5 else ''}), "
                                 "which are not reports.", format="gpkg", rasters=rasters[:50])
        counts: dict[str, int] = {}
        for layer in layers:
            if not isinstance(layer, str) or layer.lower() in {c.lower() for c in counts}:
                continue
            table = tables.get(layer.lower())
            if table is None:
                raise _unsafe_gpkg(layer, "not_a_table", f"The GeoPackage registers {layer!r} as a feature layer "
                                   "(gpkg_contents), but holds no table of that name: only a plain table is read "
                                   "as a layer.")
            counts[table] = con.execute(f"SELECT count(*) FROM {_quoted(table)}").fetchone()[0]
        return counts
    except (sqlite3.Error, OverflowError, ValueError, MemoryError) as exc:
        raise GeosignalError("unreadable_file", f"The GeoPackage file cannot be read ({_short(exc)}).") from None
    finally:
        con.close()


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
        declared = {row[1].decode("utf-8", errors="replace"): (row[2] or b"").decode("utf-8", errors="replace")
                    for row in con.execute(f"PRAGMA table_info({_quoted(table)})").fetchall()}
        rows = con.execute(f"SELECT {_quoted(fid_column)}, {', '.join(_quoted(c) for c in columns)} "
                           f"FROM {_quoted(table)}").fetchall()
    # a BOOLEAN column (GeoPackage stores it as 0 or 1) holds true or false, as a Shapefile's
    # logical field does: never the count 1 or 0
    boolean = {c for c in columns if declared.get(c, "").strip().upper() == "BOOLEAN"}
    out: dict[str, dict[int, object]] = {c: {} for c in columns}
    for fid, *values in rows:
        for column, value in zip(columns, values, strict=True):
            if isinstance(value, bytes):
                value = _utf8_or_marker(value)
            elif column in boolean and isinstance(value, int) and value in (0, 1):
                value = bool(value)
            out[column][fid] = value
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
    "XmlCheck",
    "XmlFeature",
    "check_gpkg",
    "cpg_codec",
    "dbf_encoding",
    "dbf_stored_numbers",
    "shp_misplaced_holes",
    "shp_positions",
    "shx_entries",
    "GpkgLayer",
    "gpkg_layer",
    "gpkg_recounted",
    "is_single_byte",
    "gpkg_geometry",
    "gpkg_geometry_blob",
    "gpkg_geometry_heads",
    "wkb_has_m",
    "gpkg_stored_values",
    "is_junk_member",
    "open_zip",
    "read_archive",
    "recode_latin1",
    "recode_latin1_name",
    "html_text",
    "wkb_geojson",
    "xml_encoding",
    "xml_for_gdal",
    "PLACEMARK_FIELD",
    "xml_root",
    "xml_utf8",
]
