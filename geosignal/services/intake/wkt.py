"""WKT (and EWKT) text → a raw GeoJSON-like geometry, *as written*, for the intake's checks.

GEOS's WKT reader refuses a polygon whose ring is not closed, a one-point line… with one
message that says nothing a user can act on, where the same fault written as GeoJSON gets
its own code (``ring_not_closed``, ``line_too_short``…). This reader only reads the text:
it checks the syntax and nothing of the geometry, and returns the positions as they are
written (rings not closed, repeated positions, NaN kept), so that
:func:`~.core.prepare_report` then refuses the geometry with the same codes and pointers as
a GeoJSON geometry. Only text that is really not WKT raises :class:`WktSyntaxError`, saying
at which character it stops and what was expected there.

Decisions:

* Geometry types and tags are read whatever their case (``point``, ``Polygon``), with any
  white space between tokens, the ISO tags ``Z``, ``M`` and ``ZM`` written apart or joined
  to the type (``POINT Z``, ``POINTZ``; PostGIS writes ``POINTM``). Z and M are dropped later,
  with the ``z_dropped`` warning of every format. With a tag, every position must have the
  number of ordinates it announces (``POINT Z (1 2)`` is refused: the tag or the position is
  wrong); without one, 2, 3 or 4 numbers (a geometry mixing them is read as GeoJSON's is).
* ``EMPTY`` is read where a geometry or a member of a Multi* stands (``POINT EMPTY``): the
  checks then say ``empty_geometry``.
* EWKT's ``SRID=n;`` prefix is returned with the geometry: the caller honours it as the
  GeoJSON ``crs`` member is (one of the accepted CRSs, agreeing with the ``crs`` given).
* ``nan`` / ``inf`` are read as numbers, for the checks to refuse (``non_finite_number``).
* A ``GEOMETRYCOLLECTION`` is returned with its members (``geometries``): the caller splits
  it as every file reader does.
"""

from __future__ import annotations

import math
import re
from typing import Any

#: WKT's geometry types → GeoJSON's.
_TYPES = {
    "POINT": "Point", "LINESTRING": "LineString", "POLYGON": "Polygon", "MULTIPOINT": "MultiPoint",
    "MULTILINESTRING": "MultiLineString", "MULTIPOLYGON": "MultiPolygon", "GEOMETRYCOLLECTION": "GeometryCollection",
}
_TAG_ORDINATES = {"Z": 3, "M": 3, "ZM": 4}

_TOKEN = re.compile(
    r"\s*(?:(?P<num>[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|(?:nan|inf(?:inity)?)(?![A-Za-z0-9_])))"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[(),;=])|(?P<other>\S))",
    re.IGNORECASE | re.ASCII,  # digits 0-9 only: float() would also read "５０" as 50
)
_SRID = re.compile(r"\s*SRID\s*=\s*([-+]?[0-9]+)\s*;", re.IGNORECASE)


class WktSyntaxError(ValueError):
    """The text is not WKT. ``character``: the 1-based position in the text where reading
    stopped; ``expected``: what could stand there; ``found``: what stands there."""

    def __init__(self, character: int, expected: str, found: str) -> None:
        super().__init__(f"expected {expected} at character {character}, found {found}")
        self.character = character
        self.expected = expected
        self.found = found


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []  # (kind, text, offset)
        for m in _TOKEN.finditer(text):
            kind = m.lastgroup or "other"
            self.tokens.append((kind, m.group(kind), m.start(kind)))
        self.k = 0

    def peek(self) -> tuple[str, str, int]:
        if self.k < len(self.tokens):
            return self.tokens[self.k]
        return ("end", "", len(self.text.rstrip()))

    def fail(self, expected: str) -> WktSyntaxError:
        kind, text, offset = self.peek()
        found = "the end of the text" if kind == "end" else repr(text)
        return WktSyntaxError(offset + 1, expected, found)

    def take(self, punct: str, expected: str | None = None) -> None:
        kind, text, _ = self.peek()
        if kind != "punct" or text != punct:
            raise self.fail(expected or repr(punct))
        self.k += 1

    def word(self, value: str) -> bool:
        kind, text, _ = self.peek()
        if kind == "word" and text.upper() == value:
            self.k += 1
            return True
        return False

    def punct(self, value: str) -> bool:
        kind, text, _ = self.peek()
        if kind == "punct" and text == value:
            self.k += 1
            return True
        return False

    # ------------------------------------------------------------------ grammar

    def geometry(self, nested: bool = False) -> dict[str, Any]:
        kind, text, _ = self.peek()
        name = text.upper() if kind == "word" else ""
        tag = None
        if name not in _TYPES:  # a tag joined to the type: POINTZ, POINTM, POINTZM
            for suffix in ("ZM", "Z", "M"):
                if name.endswith(suffix) and name[:-len(suffix)] in _TYPES:
                    name, tag = name[:-len(suffix)], suffix
                    break
            else:
                raise self.fail("a geometry type (POINT, LINESTRING, POLYGON, MULTIPOINT, MULTILINESTRING, "
                                "MULTIPOLYGON or GEOMETRYCOLLECTION)" + (" or EWKT's SRID=…;" if not nested else ""))
        self.k += 1
        if tag is None:
            for candidate in ("ZM", "Z", "M"):
                if self.word(candidate):
                    tag = candidate
                    break
        dims = _TAG_ORDINATES.get(tag) if tag else None
        gtype = _TYPES[name]
        if self.word("EMPTY"):
            if gtype == "GeometryCollection":
                return {"type": gtype, "geometries": []}
            return {"type": gtype, "coordinates": []}
        if gtype == "GeometryCollection":
            self.take("(", "'(' or EMPTY")
            members = [self.geometry(nested=True)]
            while self.punct(","):
                members.append(self.geometry(nested=True))
            self.take(")", "',' or ')'")
            return {"type": gtype, "geometries": members}
        self.take("(", "'(' or EMPTY")
        if gtype == "Point":
            coords: Any = self.position(dims)
            self.take(")", "')'")
        elif gtype == "LineString":
            coords = self.positions(dims, opened=True)
        elif gtype == "Polygon":
            coords = self.rings(dims, opened=True)
        elif gtype == "MultiPoint":  # MULTIPOINT(1 2, 3 4) or MULTIPOINT((1 2), (3 4))
            coords = self.list_of(lambda: self.point_member(dims))
        elif gtype == "MultiLineString":
            coords = self.list_of(lambda: self.member(lambda: self.positions(dims)))
        else:
            coords = self.list_of(lambda: self.member(lambda: self.rings(dims)))
        return {"type": gtype, "coordinates": coords}

    def list_of(self, read) -> list:  # noqa: ANN001 - a reader method
        """Members separated by commas, up to ')' (the '(' taken)."""
        out = [read()]
        while self.punct(","):
            out.append(read())
        self.take(")", "',' or ')'")
        return out

    def member(self, read) -> Any:  # noqa: ANN001, ANN401
        """A Multi* member: EMPTY or its own parenthesised list."""
        if self.word("EMPTY"):
            return []
        return read()

    def point_member(self, dims: int | None) -> Any:  # noqa: ANN401
        if self.word("EMPTY"):
            return []
        if self.punct("("):
            p = self.position(dims)
            self.take(")", "')'")
            return p
        return self.position(dims)

    def positions(self, dims: int | None, opened: bool = False) -> list[list[float]]:
        if not opened:
            self.take("(", "'(' or EMPTY")
        return self.list_of(lambda: self.position(dims))

    def rings(self, dims: int | None, opened: bool = False) -> list[list[list[float]]]:
        if not opened:
            self.take("(", "'(' or EMPTY")
        return self.list_of(lambda: self.positions(dims))

    def position(self, dims: int | None) -> list[float]:
        start = self.k
        out: list[float] = []
        while len(out) < 4 and self.peek()[0] == "num":
            written = self.peek()[1]
            value = float(written)
            if value in (math.inf, -math.inf) and re.fullmatch(r"[+-]?[0-9]{1,4300}", written):
                value = int(written)  # an integer beyond a double: too large, as GeoJSON's (not "inf")
            out.append(value)
            self.k += 1
        if len(out) < 2:
            raise self.fail("a number")
        if dims is not None and len(out) != dims:
            raise WktSyntaxError(self.tokens[start][2] + 1, f"a position of {dims} numbers (the geometry is "
                                 f"tagged {'ZM' if dims == 4 else 'Z or M'})", f"{len(out)} numbers")
        return out


def parse_wkt(text: str) -> tuple[dict[str, Any], int | None]:
    """Read WKT or EWKT ``text``; return ``(geometry, srid)``: a GeoJSON-like dict whose
    positions are lists of floats as written (``coordinates``, or ``geometries`` for a
    collection) and the EWKT ``SRID`` (None when the text has no prefix).

    Raises :class:`WktSyntaxError` (where reading stopped) for text that is not WKT.
    """
    srid = None
    m = _SRID.match(text)
    if m:
        srid = int(m.group(1))
        reader = _Reader(text[m.end():])
        shift = m.end()
    else:
        reader = _Reader(text)
        shift = 0
    try:
        geometry = reader.geometry()
        if reader.peek()[0] != "end":
            raise reader.fail("the end of the geometry")
    except WktSyntaxError as exc:
        exc.character += shift
        exc.args = (f"expected {exc.expected} at character {exc.character}, found {exc.found}",)
        raise
    return geometry, srid


__all__ = ["WktSyntaxError", "parse_wkt"]
