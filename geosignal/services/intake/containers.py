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
* **XML** is scanned with ``defusedxml`` (expat) before GDAL sees it: a DOCTYPE, an entity
  declaration or an external reference → 422 ``unsafe_xml``; malformed XML → 422
  ``unreadable_file`` with ``line`` and ``column``. KML ``NetworkLink`` elements are never
  followed (GDAL does not either); each one becomes a ``network_link_ignored`` warning with its
  ``href``.
* **dBase text** is decoded with the encoding the ``.cpg`` names, else the one the language
  driver byte (LDID, byte 29 of the ``.dbf``) names, else — when every text byte is ASCII —
  as ASCII; otherwise 422 ``undecidable_encoding`` naming the ``.dbf``. Text that is not valid
  in the declared encoding, or that a single-byte declaration would turn into mojibake (the
  bytes are UTF-8), → 422 ``unreadable_file`` naming the member, record and field.
  ``ISO-8859-1``/``latin-1`` and LDID 0x57 ("ANSI") are read as Windows-1252, as browsers do.
"""

from __future__ import annotations

import codecs
import io
import re
import stat
import struct
import xml.sax.handler
import zipfile
import zlib
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


class _XmlScan(xml.sax.handler.ContentHandler):
    """Collects KML NetworkLink targets while the document is checked."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict] = []
        self._in_link = 0
        self._capture: str | None = None
        self._text: list[str] = []
        self.root: str | None = None
        self._locator = None

    def setDocumentLocator(self, locator) -> None:  # noqa: N802, ANN001 - SAX API
        self._locator = locator

    def startElement(self, name: str, attrs) -> None:  # noqa: N802, ANN001 - SAX API
        local = name.rsplit(":", 1)[-1]
        if self.root is None:
            self.root = local
        if local in _GPX_POINTS:
            for axis, low, high in (("lat", -90.0, 90.0), ("lon", -180.0, 180.0)):
                raw = attrs.get(axis)
                try:
                    ok = raw is not None and low <= float(raw) <= high
                except ValueError:
                    ok = False
                if not ok:
                    line, column = self._locator.getLineNumber(), self._locator.getColumnNumber()
                    raise GeosignalError("invalid_coordinate", f"<{local}> at line {line} has {axis}={raw!r}, not a "
                                         f"number between {low:g} and {high:g}.", where=f"line {line} column {column}",
                                         line=line, column=column)
        if local == "NetworkLink":
            self._in_link += 1
            self.links.append({"href": None, "name": None})
        elif self._in_link and local in ("href", "name") and self.links[-1][local] is None:
            self._capture = local
            self._text = []

    def endElement(self, name: str) -> None:  # noqa: N802 - SAX API
        local = name.rsplit(":", 1)[-1]
        if self._capture is not None and local == self._capture:
            self.links[-1][local] = "".join(self._text).strip()[:500]
            self._capture = None
        elif local == "NetworkLink":
            self._in_link -= 1

    def characters(self, content: str) -> None:
        if self._capture is not None:
            self._text.append(content)


def check_xml(data: bytes, fmt: str, *, member: str | None = None) -> list[dict]:
    """Check an XML upload (``fmt`` ``"kml"`` or ``"gpx"``) before GDAL reads it.

    ``member``: the archive member it came from (KMZ), named in errors. Returns warnings:
    one ``network_link_ignored`` per KML NetworkLink (``href``, ``name``).

    Raises 422 ``unsafe_xml`` for a DOCTYPE, an entity declaration or an external reference;
    422 ``unreadable_file`` (``line``, ``column``) for malformed XML or a root element that
    is not ``<kml>`` / ``<gpx>``; 422 ``invalid_coordinate`` (``line``, ``column``) for a GPX
    point whose ``lat``/``lon`` is missing, not a number or out of range (GDAL would read 0).
    """
    import defusedxml.sax
    from defusedxml import DefusedXmlException

    where = {"member": member} if member else {}
    scan = _XmlScan()
    try:
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
    return [{"code": "network_link_ignored", "href": link["href"], "name": link["name"],
             "detail": f"A KML NetworkLink{' to ' + repr(link['href']) if link['href'] else ''} was not followed: "
                       "only the features in the file are read.", **where} for link in scan.links]


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
    ``ANSI 1252``, ``CP1250``…), or None when it names none geosignal knows."""
    folded = re.sub(r"[\s\-]+", "", text.strip().lower()).replace("_", "")
    if folded in _CPG_ALIASES:
        return _CPG_ALIASES[folded]
    if folded.isdigit():
        folded = "cp" + folded
    try:
        name = codecs.lookup(folded).name
    except LookupError:
        return None
    return "cp1252" if name in ("latin-1", "iso8859-1") else name


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


def dbf_layout(dbf: bytes, member: str) -> DbfLayout:
    """Read the header of a ``.dbf``. Raises 422 ``unreadable_file`` naming ``member`` when it
    is too short or its field descriptors are inconsistent."""
    if len(dbf) < 33:
        raise GeosignalError("unreadable_file", f"{member!r} is not a dBase file (too short).", member=member)
    records, header_length, record_length = struct.unpack_from("<IHH", dbf, 4)
    fields: list[tuple[bytes, int, int]] = []
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
        offset += length
        pos += 32
    if offset > record_length or header_length < 33:
        raise GeosignalError("unreadable_file", f"The field descriptors of {member!r} do not match its record "
                             "length.", member=member)
    return DbfLayout(records, header_length, record_length, dbf[29], fields, names)


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

    Raises 422 ``undecidable_encoding`` (``member``) when nothing declares the encoding and
    the text is not plain ASCII, or the ``.cpg`` names an unknown encoding; 422
    ``unreadable_file`` (``member``, ``record`` 1-based, ``field``) when the text is not valid
    in the declared encoding or a single-byte declaration meets UTF-8 text (mojibake).
    """
    layout = dbf_layout(dbf, member)
    matrix, n = _text_matrix(dbf, layout)
    cols = [c for _, off, length in layout.text_fields for c in range(off, min(off + length, layout.record_length))]
    text = matrix[:, cols] if cols else np.zeros((n, 0), dtype=np.uint8)
    names_high = any(b >= 0x80 for name in layout.names for b in name)
    high_rows = np.flatnonzero((text >= 0x80).any(axis=1)) if text.size else np.zeros(0, dtype=np.intp)
    if cpg is not None:
        label = cpg.decode("ascii", errors="replace").strip()
        codec = cpg_codec(label)
        if codec is None:
            raise GeosignalError("undecidable_encoding", f"The .cpg of {member!r} names {label!r}, an encoding "
                                 "geosignal does not know.", member=member, cpg=label)
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
    blocks = [(name.decode("latin-1"), matrix[high_rows, off:off + length].tobytes())
              for name, off, length in layout.text_fields]
    for field_name, block in blocks:
        try:
            block.decode(codec)
        except UnicodeDecodeError as exc:
            length = len(block) // len(high_rows)
            row = int(high_rows[exc.start // length]) + 1
            raise GeosignalError("unreadable_file", f"Record {row}, field {field_name!r} of {member!r} is not "
                                 f"valid {codec} text, as its {source} declares.", member=member, record=row,
                                 field=field_name) from None
    if codecs.lookup(codec).name not in _MULTIBYTE and _is_utf8_multibyte(b"".join(b for _, b in blocks)):
        row = int(high_rows[0]) + 1
        raise GeosignalError("unreadable_file", f"The text of {member!r} is UTF-8 but its {source} declares "
                             f"{codec}: it would read as mojibake (first at record {row}). Declare UTF-8 in a "
                             ".cpg file.", member=member, record=row)
    return codec, source


_MULTIBYTE = {"utf-8", "utf-16", "utf-32", "cp932", "cp936", "gbk", "cp949", "cp950", "big5", "shift_jis",
              "euc_kr", "gb2312", "gb18030", "euc_jp"}


def _is_utf8_multibyte(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return any(b >= 0x80 for b in raw)


__all__ = [
    "INFLATE_FACTOR",
    "LDID_CODECS",
    "MAX_ARCHIVE_ENTRIES",
    "Archive",
    "check_members",
    "check_xml",
    "cpg_codec",
    "dbf_encoding",
    "is_junk_member",
    "open_zip",
    "read_archive",
]
