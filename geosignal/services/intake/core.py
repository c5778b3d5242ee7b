"""Strict GeoJSON intake: raw JSON → validated, normalised report geometries.

See the package docstring (:mod:`geosignal.services.intake`) for the rules and decisions.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from geosignal import contract, vocab
from geosignal.errors import GeosignalError, beyond_limit
from geosignal.geo import area_m2
from geosignal.textsafety import check_json_text, first_node, pointer_key, strict_pairs

from .area import DEFAULT_LIMITS, Limits, ServiceArea, too_many_features, too_many_upload_vertices
from .batch import measures
from .crs import (
    ACCEPTED_EPSG,
    LAMBERT72,
    LAMBERT2008,
    WGS84,
    parse_crs,
    transform_geom,
    transform_xy,
)
from .numbers import non_finite_kind
from .properties import REPORT_PROPERTIES, network_mismatch, validate_properties

#: Shortest line accepted (m, EPSG:31370): positions closer than that (1e-9° is about 0.1 mm)
#: would coincide once stored with 9 decimals, leaving a line of no length.
MIN_LINE_M = 0.001
#: Segments of a circle's polygon (quad_segs=16 → 64 segments).
CIRCLE_QUAD_SEGS = 16
_POLYGONAL = ("Polygon", "MultiPolygon")
_HINT_FOR_EPSG = {WGS84: "looks_like_wgs84", LAMBERT72: "looks_like_lambert72", LAMBERT2008: "looks_like_lambert2008"}
_CRS_LABEL = {WGS84: "WGS 84 longitude/latitude (EPSG:4326)", LAMBERT72: "Belgian Lambert 72 (EPSG:31370)",
              LAMBERT2008: "Belgian Lambert 2008 (EPSG:3812)"}


@dataclass(slots=True)
class ReportInput:
    """One validated report: geometry (shapely, EPSG:4326, 2D, valid, one of
    ``vocab.GEOMETRY_TYPES``, polygons oriented counter-clockwise), validated properties,
    warnings (``{"code", "detail", ...}``), the repair record when repaired and, in uploads or
    collections, the index of the source feature (0-based). ``area_m2`` / ``length_m``: its
    planar measures in EPSG:31370 as PostGIS's ``ST_Area`` / ``ST_Length`` give them (area of
    zones, length of lines, else 0), when intake computed them."""

    geometry: BaseGeometry
    properties: dict[str, Any]
    warnings: list[dict] = field(default_factory=list)
    repair: dict | None = None
    source_index: int | None = None
    area_m2: float | None = field(default=None, repr=False, compare=False)
    length_m: float | None = field(default=None, repr=False, compare=False)
    #: where the source feature is in its file, as :class:`Pending` places it (its ``locate``,
    #: kept as given: no text per row); :func:`source_where` words it (``row n`` for CSV)
    locate: Any = field(default=None, repr=False, compare=False)


# --------------------------------------------------------------------------- raw JSON

class _NonFinite:
    """Placeholder for NaN/Infinity/overflowing numbers found by the JSON parser."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


class _HugeInt(int):
    """An integer written with more digits than Python converts (4,300; more than
    :data:`_MAX_INT_DIGITS` here): no NaN nor infinity, only far too large. It stands in as an
    ``int`` of at least 10**4000 (of the sign written; the rest a digest of the text, so that
    two such numbers differ as their texts do), so that every range rule refuses it as it
    refuses a 20-digit integer (``invalid_attribute``, ``invalid_coordinate`` "too large"), and
    shows itself as ``a number of N digits``."""

    digits: int

    def __new__(cls, text: str) -> _HugeInt:
        sign = -1 if text.startswith("-") else 1
        tag = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
        obj = super().__new__(cls, sign * (10**_MAX_INT_DIGITS + tag))
        obj.digits = len(text.lstrip("-"))
        return obj

    def __repr__(self) -> str:
        return f"{'-' if self < 0 else ''}(a number of {self.digits:,} digits)"

    __str__ = __repr__


#: The most digits an integer of a JSON text is converted with (Python's own limit is 4,300).
_MAX_INT_DIGITS = 4000


def _whole_as_written(text: str) -> bool:
    """Whether a JSON number's text (a fraction or an exponent: not a JSON integer) writes a
    whole number, read exactly (``1000.000``, ``1e3``, ``10000e-1``: yes; ``1e-400``, ``0.5``,
    ``0.99999999999999999999``: no)."""
    number = Decimal(text)
    return number == number.to_integral_value()


class _Finite(dict):
    """A JSON object from a text that holds no NaN, Infinity or overflowing number: its
    features need no search for them (see :func:`find_non_finite`)."""

    __slots__ = ()


def _loads(text: str) -> Any:
    seen: list[str] = []

    def constant(t: str) -> _NonFinite:
        seen.append(t)
        return _NonFinite(t)

    def number(t: str) -> Any:
        value = float(t)
        if math.isfinite(value):
            # a whole double from a number written with a fraction ("1e-400" → 0.0,
            # "0.99999999999999999999" → 1.0) is no whole number: a count must not take it
            if value.is_integer() and not _whole_as_written(t):
                return contract.NotWholeAsWritten(t)
            return value
        seen.append(t)
        return _NonFinite(t)

    def integer(t: str) -> Any:
        # Python converts at most 4300 digits; a longer integer is far too large, not NaN
        if len(t) <= _MAX_INT_DIGITS:
            return int(t)
        seen.append(t)  # not a _Finite document: its numbers are checked one by one
        return _HugeInt(t)

    pairs, repeated = strict_pairs()
    obj = json.loads(text, parse_constant=constant, parse_float=number, parse_int=integer, object_pairs_hook=pairs)
    check_json_text(text, obj, duplicates=bool(repeated))
    return _Finite(obj) if isinstance(obj, dict) and not seen else obj


def loads_strict(raw: bytes | str, *, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Parse JSON text strictly: NaN/Infinity (and numbers overflowing to infinity) are kept
    as placeholders so that the caller can report them with their JSON pointer.

    Raises 413 ``payload_too_large`` beyond ``limits.max_upload_bytes`` and 400
    ``invalid_json`` for undecodable or malformed text (``where`` = ``line L column C``), a
    member name given twice in one object or an unpaired UTF-16 surrogate (``where`` = its
    JSON pointer; see :mod:`geosignal.textsafety`).
    """
    if isinstance(raw, (bytes, bytearray, memoryview)):
        raw = bytes(raw)
        if len(raw) > limits.max_upload_bytes:
            raise GeosignalError("payload_too_large", f"The body has {len(raw)} bytes; the limit is "
                                 f"{limits.max_upload_bytes}.", value=len(raw), limit=limits.max_upload_bytes)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise GeosignalError("invalid_json", f"The body is not UTF-8 text ({exc.reason} at byte "
                                 f"{exc.start}).", where=f"byte {exc.start}") from None
    elif isinstance(raw, str):
        text = raw[1:] if raw.startswith("\ufeff") else raw
        if len(text) > limits.max_upload_bytes:  # characters ≤ bytes: cheap first check
            raise GeosignalError("payload_too_large", "The body exceeds the size limit.",
                                 limit=limits.max_upload_bytes)
    else:
        raise GeosignalError("invalid_request", "Expected JSON text, bytes or an object.")
    try:
        return _loads(text)
    except json.JSONDecodeError as exc:
        raise GeosignalError("invalid_json", f"The body is not valid JSON: {exc.msg}.",
                             where=f"line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise GeosignalError("invalid_json", "The JSON is nested too deeply.") from None


def find_non_finite(obj: Any, ptr: str = "") -> str | None:
    """Return the JSON pointer of the first NaN/Infinity in ``obj`` (placeholder or float), or None."""
    found = first_node(obj, lambda n: isinstance(n, _NonFinite) or (isinstance(n, float) and not math.isfinite(n)),
                       ptr)
    return None if found is None else found[0]


def known_finite(obj: Any) -> bool:
    """Whether ``obj`` is a document :func:`loads_strict` read from a text holding no NaN,
    Infinity nor overflowing number (no search for them is needed)."""
    return isinstance(obj, _Finite)


def _raise_non_finite(obj: Any, ptr: str, finite: bool = False) -> None:
    if finite:  # the whole document was read without any
        return
    bad = find_non_finite(obj, ptr)
    if bad is not None:
        raise GeosignalError("non_finite_number", f"NaN or Infinity at {bad or '/'}: JSON numbers must be finite.",
                             where=bad or "/", **non_finite_kind(bad))


# --------------------------------------------------------------------------- geometry walk

class _Walk:
    """State collected while validating one raw geometry."""

    def __init__(self) -> None:
        self.dims: set[int] = set()
        #: whether a third or further ordinate is not 0 (all 0: dropping them loses nothing)
        self.nonzero_z = False
        self.count = 0
        self.xy: list[tuple[float, float]] = []


def _number(v: Any, ptr: str) -> float:
    if isinstance(v, _NonFinite):
        raise GeosignalError("non_finite_number", f"{v.text} is not a finite number.", where=ptr)
    if isinstance(v, bool):
        raise GeosignalError("invalid_coordinate", f"A coordinate is a boolean ({str(v).lower()}).", where=ptr)
    if isinstance(v, (int, float)) or (isinstance(v, np.number) and not isinstance(v, np.bool_)):
        try:
            f = float(v)
        except OverflowError:  # an integer beyond a float (a _HugeInt says how many digits it has)
            digits = getattr(v, "digits", None) or len(str(abs(int(v))))
            raise GeosignalError("invalid_coordinate", f"A coordinate is too large (a number of {digits:,} digits).",
                                 where=ptr) from None
        if not math.isfinite(f):
            raise GeosignalError("non_finite_number", f"{f} is not a finite number.", where=ptr)
        return f
    if isinstance(v, str):
        raise GeosignalError("invalid_coordinate", f"A coordinate is given as a string ({v!r}); send a JSON number.",
                             where=ptr)
    if isinstance(v, (list, tuple, dict)):
        raise GeosignalError("invalid_geojson", "A number was expected here: the coordinates are nested too deeply.",
                             where=ptr)
    raise GeosignalError("invalid_coordinate", f"A coordinate must be a number; got {v!r}.", where=ptr)


def _position(p: Any, ptr: str, w: _Walk) -> tuple[float, float]:
    if not isinstance(p, (list, tuple)):
        raise GeosignalError("invalid_geojson", "A position [lon, lat] was expected here: the coordinates are not "
                             "nested deeply enough for the geometry type.", where=ptr)
    for k, v in enumerate(p):
        if isinstance(v, (list, tuple, dict)):
            raise GeosignalError("invalid_geojson", "A number was expected here: the coordinates are nested too "
                                 "deeply for the geometry type.", where=f"{ptr}/{k}")
    if len(p) < 2:
        raise GeosignalError("invalid_coordinate", f"A position needs at least 2 numbers; got {len(p)}.", where=ptr)
    x = _number(p[0], f"{ptr}/0")
    y = _number(p[1], f"{ptr}/1")
    for k in range(2, len(p)):
        if _number(p[k], f"{ptr}/{k}") != 0:
            w.nonzero_z = True
    w.dims.add(len(p))
    w.count += 1
    w.xy.append((x, y))
    return (x, y)


def _plain_positions(c: list | tuple) -> list[tuple[float, float]] | None:
    """The positions of ``c`` when every one is plainly [x, y] with two finite floats (what
    files and clients send), else None: the caller then checks each position with
    :func:`_position`, which also names what is wrong and where."""
    out: list[tuple[float, float]] = []
    append = out.append
    for p in c:
        tp = type(p)
        if (tp is not list and tp is not tuple) or len(p) != 2:
            return None
        x, y = p
        if type(x) is not float or type(y) is not float or x - x != 0.0 or y - y != 0.0:
            return None
        append((x, y))
    return out


def _positions_of(c: list | tuple, ptr: str, w: _Walk) -> list[tuple[float, float]]:
    """Check the positions of an array of positions (pointer ``ptr``); return them as (x, y)."""
    pts = _plain_positions(c)
    if pts is None:
        return [_position(p, f"{ptr}/{i}", w) for i, p in enumerate(c)]
    if pts:
        w.dims.add(2)
        w.count += len(pts)
        w.xy += pts
    return pts


def _list(c: Any, ptr: str, what: str) -> list | tuple:
    if not isinstance(c, (list, tuple)):
        raise GeosignalError("invalid_geojson", f"{what} must be an array.", where=ptr)
    return c


def _dedupe(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for pt in points:
        if not out or out[-1] != pt:
            out.append(pt)
    return out


def _line(c: Any, ptr: str, w: _Walk) -> list[tuple[float, float]]:
    c = _list(c, ptr, "A LineString's coordinates")
    if len(c) == 0:
        raise GeosignalError("empty_geometry", "The line has no positions.", where=ptr)
    pts = _dedupe(_positions_of(c, ptr, w))
    if len(pts) < 2:
        raise GeosignalError("line_too_short", "A line needs at least 2 distinct positions.", where=ptr)
    return pts


def _ring(c: Any, ptr: str, w: _Walk) -> list[tuple[float, float]]:
    c = _list(c, ptr, "A ring")
    if len(c) == 0:
        raise GeosignalError("ring_too_short", "A ring has no positions; it needs at least 4.", where=ptr, value=0)
    pts = _positions_of(c, ptr, w)
    if pts[0] != pts[-1]:
        raise GeosignalError(
            "ring_not_closed",
            f"The ring's last position {list(pts[-1])} differs from its first {list(pts[0])}; "
            "repeat the first position at the end.",
            where=f"{ptr}/{len(c) - 1}",
        )
    pts = _dedupe(pts)
    if len(pts) < 4:
        raise GeosignalError("ring_too_short", f"A ring needs at least 4 positions (3 distinct + closing); it has "
                             f"{len(pts)} after removing repeated positions.", where=ptr, value=len(pts))
    return pts


def _no_position(c: Any) -> bool:
    """Whether raw coordinates hold nothing but (nested) empty arrays: ``[]``, ``[[]]``,
    ``[[], []]``, ``[[[]]]`` — a geometry (or a multi-geometry's part) with no position at all,
    ``empty_geometry``, not a ring too short nor a bad position."""
    return isinstance(c, (list, tuple)) and all(_no_position(item) for item in c)


def _polygon(c: Any, ptr: str, w: _Walk) -> list[list[tuple[float, float]]]:
    c = _list(c, ptr, "A Polygon's coordinates")
    if len(c) == 0:
        raise GeosignalError("empty_geometry", "The polygon has no rings.", where=ptr)
    if _no_position(c):  # [[]], [[], []]: every ring empty (a ring of 1-3 positions is ring_too_short)
        raise GeosignalError("empty_geometry", "Every ring of the polygon is empty.", where=ptr)
    return [_ring(r, f"{ptr}/{i}", w) for i, r in enumerate(c)]


def _walk_geometry(obj: Any, ptr: str, w: _Walk) -> dict:
    """Validate one raw (non-collection) GeoJSON geometry; return its 2D GeoJSON dict."""
    if obj is None:
        raise GeosignalError("empty_geometry", "The geometry is null.", where=ptr or "/")
    if not isinstance(obj, dict):
        raise GeosignalError("invalid_geojson", "A geometry must be a JSON object.", where=ptr or "/")
    gtype = obj.get("type")
    if gtype == "GeometryCollection":
        raise GeosignalError("unsupported_geometry_type", "A GeometryCollection cannot be one report "
                             "(and collections cannot be nested): send one feature per geometry.",
                             where=f"{ptr}/type")
    if gtype not in vocab.GEOMETRY_TYPES:
        raise GeosignalError("invalid_geojson", f"Unknown geometry type {gtype!r}; expected one of "
                             f"{', '.join(vocab.GEOMETRY_TYPES)}.", where=f"{ptr}/type")
    if "coordinates" not in obj:
        raise GeosignalError("invalid_geojson", "The geometry has no 'coordinates' member.", where=ptr or "/")
    c = obj["coordinates"]
    cp = f"{ptr}/coordinates"
    if c is None or _no_position(c):  # [], and [[]], [[[]]]… (every ring or part empty)
        raise GeosignalError("empty_geometry", f"The {gtype} has no coordinates.", where=cp)
    if gtype == "Point":
        coords: Any = _position(c, cp, w)
    elif gtype == "MultiPoint":
        coords = _positions_of(_list(c, cp, "coordinates"), cp, w)
    elif gtype == "LineString":
        coords = _line(c, cp, w)
    elif gtype == "MultiLineString":
        coords = [_line(part, f"{cp}/{i}", w) for i, part in enumerate(_list(c, cp, "coordinates"))]
    elif gtype == "Polygon":
        coords = _polygon(c, cp, w)
    else:  # MultiPolygon
        coords = [_polygon(part, f"{cp}/{i}", w) for i, part in enumerate(_list(c, cp, "coordinates"))]
    return {"type": gtype, "coordinates": coords}


# --------------------------------------------------------------------------- CRS member

def resolve_crs(caller_crs: Any, member: Any, *, where: str, inherited: int | None = None) -> int:
    """Return the EPSG code to read coordinates in.

    ``caller_crs`` is the API parameter; ``member`` the obsolete GeoJSON ``crs`` member (only
    the *named* form ``{"type": "name", "properties": {"name": ...}}`` is honoured; linked CRSs
    are refused); ``inherited`` the CRS already resolved for an enclosing collection.
    Disagreement between any two → 422 ``unsupported_crs``. Default EPSG:4326.
    """
    given = parse_crs(caller_crs, where="crs") if caller_crs is not None else None
    if inherited is not None:
        given = inherited if given is None else given
    from_member = None
    if member is not None:
        if not isinstance(member, dict) or member.get("type") != "name" or not isinstance(member.get("properties"), dict):
            raise GeosignalError("unsupported_crs", "Only a named 'crs' member is understood "
                                 '({"type": "name", "properties": {"name": "EPSG:31370"}}); better, omit it and '
                                 "pass crs as a parameter.", where=f"{where}/crs")
        from_member = parse_crs(member["properties"].get("name"), where=f"{where}/crs/properties/name")
    if given is not None and from_member is not None and given != from_member:
        if caller_crs is None and inherited is not None:  # a member inside a feature (or its geometry)
            raise GeosignalError(
                "unsupported_crs", f"This 'crs' member says EPSG:{from_member} but the file is read in "
                f"EPSG:{given} (as the request, the file's top-level 'crs' member or, when neither says, "
                "RFC 7946 has it); a 'crs' member is read at the top of the file only: move it there, or "
                "choose the CRS with the upload.", where=f"{where}/crs", requested=f"EPSG:{given}",
                member=f"EPSG:{from_member}")
        raise GeosignalError("unsupported_crs", f"The request says EPSG:{given} but the GeoJSON 'crs' member says "
                             f"EPSG:{from_member}.", where=f"{where}/crs", requested=f"EPSG:{given}",
                             member=f"EPSG:{from_member}")
    return from_member or given or WGS84


# --------------------------------------------------------------------------- outside hints

def _diagnose(xy: np.ndarray, epsg: int, area: ServiceArea) -> dict | None:
    """Guess why positions fall outside: swapped axes or another CRS. Never applied silently."""
    if len(xy) == 0:
        return None
    step = max(1, len(xy) // 50)
    sample = np.vstack([xy.mean(axis=0, keepdims=True), xy[::step][:50]])
    options: list[tuple[str, np.ndarray, int, bool]] = [("axes_swapped", sample[:, ::-1], epsg, True)]
    options += [(_HINT_FOR_EPSG[alt], sample, alt, False) for alt in ACCEPTED_EPSG if alt != epsg]
    # another CRS and the axes swapped too (northing before easting: a spreadsheet's y;x)
    options += [(_HINT_FOR_EPSG[alt], sample[:, ::-1], alt, True) for alt in ACCEPTED_EPSG if alt != epsg]
    for hint, pts, src, swapped in options:
        try:
            with np.errstate(all="ignore"):
                ll = transform_xy(pts, src, WGS84)
        except Exception:  # noqa: BLE001 - pyproj may refuse absurd input
            continue
        for lon, lat in ll:
            if not (math.isfinite(lon) and math.isfinite(lat) and abs(lon) <= 180 and abs(lat) <= 90):
                continue
            hit = area.commune_at(float(lon), float(lat))
            if hit:
                return {"hint": hint, "epsg": src, "swapped": swapped,
                        "commune": {"nis_code": hit[0], "name": hit[1]}}
    return None


def _outside(xy: np.ndarray, epsg: int, area: ServiceArea, where: str, detail: str,
             wgs84_only: bool = False, **members: Any) -> GeosignalError:
    """The ``outside_service_area`` refusal of positions ``xy`` (in ``epsg``), with a ``hint``
    when they would lie in a commune read otherwise (axes swapped, another coordinate system:
    ``suggested_crs``; ``wgs84_only``: the format holds WGS 84 only, nothing can be declared);
    ``members`` are added to it (a part's ``kind`` and ``part_number``)."""
    diag = _diagnose(xy, epsg, area)
    extra: dict[str, Any] = dict(members)
    if diag:
        c = diag["commune"]
        extra["hint"] = diag["hint"]
        if diag["hint"] == "axes_swapped" and epsg != WGS84:  # metres: x (easting) before y (northing)
            detail += (f" With x and y the other way round this would be in {c['name']} (NIS {c['nis_code']}): "
                       "the axes look swapped (x, the easting, comes before y, the northing). Nothing was swapped "
                       "for you.")
            extra["swapped_commune"] = c
            extra["axes_order"] = "x_y"
        elif diag["hint"] == "axes_swapped":
            detail += (f" As [lon, lat] this would be in {c['name']} (NIS {c['nis_code']}): the axes look swapped "
                       "(GeoJSON order is [longitude, latitude]). Nothing was swapped for you.")
            extra["swapped_commune"] = c
        else:
            label = {"looks_like_lambert72": "Belgian Lambert 72", "looks_like_lambert2008": "Belgian Lambert 2008",
                     "looks_like_wgs84": "WGS 84 longitude/latitude"}[diag["hint"]]
            swapped = " with their two axes swapped" if diag["swapped"] else ""
            order = (" and give the first axis first (x before y, or longitude before latitude)"
                     if diag["swapped"] else "")
            if wgs84_only:  # KML, GPX: no crs parameter, no declaration to correct
                detail += (f" These look like {label} coordinates ({_CRS_LABEL[diag['epsg']]}){swapped}, which "
                           f"would place the report in {c['name']} (NIS {c['nis_code']}), but a KML or GPX file "
                           f"holds WGS 84 longitude/latitude only: export it again in WGS 84, or send it as GeoJSON, "
                           f"CSV, GeoPackage or Shapefile in EPSG:{diag['epsg']}. Nothing was reprojected for you.")
                extra["wgs84_only"] = True
            else:
                detail += (f" These look like {label} coordinates ({_CRS_LABEL[diag['epsg']]}){swapped}, which "
                           f"would place the report in {c['name']} (NIS {c['nis_code']}): declare "
                           f"EPSG:{diag['epsg']} (the crs parameter, or, when the document or file declares a CRS of "
                           f"its own — a GeoJSON 'crs' member, a .prj — correct that declaration){order}. Nothing "
                           "was reprojected or swapped for you.")
            extra["suggested_crs"] = f"EPSG:{diag['epsg']}"
            extra["suggested_commune"] = c
            if diag["swapped"]:
                extra["axes_swapped"] = True
    return GeosignalError("outside_service_area", detail, where=where, **extra)


# --------------------------------------------------------------------------- building

_REASON_AT = re.compile(r"\[\s*([-+0-9.eE]+)\s+([-+0-9.eE]+)")


def _polygonal_part(g: BaseGeometry) -> BaseGeometry:
    polys = [p for p in shapely.get_parts(g) if p.geom_type in _POLYGONAL and not p.is_empty]
    flat: list = []
    for p in polys:
        flat.extend(shapely.get_parts(p))
    if not flat:
        return shapely.Polygon()
    return flat[0] if len(flat) == 1 else shapely.MultiPolygon(flat)


def _shoelace_m2(geom_4326: BaseGeometry) -> float:
    """Naive area: |exterior shoelace| − Σ|hole shoelace| of the rings as given, in EPSG:31370.
    For a figure-8 ring the two lobes have opposite signs and cancel."""
    g = transform_geom(geom_4326, WGS84, LAMBERT72)
    total = 0.0
    for poly in shapely.get_parts(g):
        if poly.geom_type != "Polygon":
            continue
        rings = [poly.exterior, *poly.interiors]
        for k, ring in enumerate(rings):
            xy = np.asarray(ring.coords)
            s = 0.5 * float(np.dot(xy[:-1, 0], xy[1:, 1]) - np.dot(xy[1:, 0], xy[:-1, 1]))
            total += abs(s) if k == 0 else -abs(s)
    return total


#: Where EPSG:31370 measures truly (its area of use, degrees, with a margin): beyond, a zone's
#: area is checked and quoted on the ellipsoid instead
#: (:func:`_areas_on_the_ellipsoid_beyond_lambert72`).
_LAMBERT72_DOMAIN = shapely.box(1.5, 48.5, 7.5, 52.5)


def _areas_on_the_ellipsoid_beyond_lambert72(geoms_4326: np.ndarray, planar_m2: np.ndarray) -> np.ndarray:
    """The areas (m²) a zone's limits are checked against: ``planar_m2`` (EPSG:31370) for
    the zones within Lambert 72's domain, else the area in the equal-area cylindrical
    projection of the WGS 84 ellipsoid (edges follow meridians and parallels, as drawn).
    Beyond the domain the planar figure means nothing: a world-sized polygon "covered" five
    times the Earth, one reaching a pole none (its corners project to infinity).

    ``geoms_4326``: (N,) zones in EPSG:4326; ``planar_m2``: (N,) their areas in EPSG:31370.
    Returns a new (N,) array."""
    areas = np.asarray(planar_m2, dtype=float).copy()
    x0, y0, x1, y1 = _LAMBERT72_DOMAIN.bounds
    b = shapely.bounds(geoms_4326).reshape(-1, 4)  # (a box: within it is its bounds within it)
    beyond = np.flatnonzero(~((b[:, 0] >= x0) & (b[:, 1] >= y0) & (b[:, 2] <= x1) & (b[:, 3] <= y1)))
    if len(beyond):
        from pyproj import Transformer

        cea = Transformer.from_crs("EPSG:4326", "+proj=cea +ellps=WGS84 +units=m", always_xy=True)
        areas[beyond] = shapely.area(shapely.transform(
            geoms_4326[beyond], lambda c: np.column_stack(cea.transform(c[:, 0], c[:, 1]))))
    return areas


def _km2(a: float, limit: float | None = None) -> str:
    """An area (m²) as the details write it: km² with 2 decimals from 1 ha, else km² with 4
    decimals and whole m². Refused against ``limit`` (m²), it never reads as it
    (:func:`~geosignal.errors.beyond_limit`): 99.98 m² against 100 m² is « 0.00009998 km²
    (99.98 m²) »; closer than 1 m² (0.01 m² under 1 ha), « more than » / « less than » it."""
    if limit is None:
        return f"{a / 1e6:,.2f} km²" if a >= 10_000 else f"{a / 1e6:.4f} km² ({a:,.0f} m²)"

    def km2(x: float, d: int) -> str:
        return f"{x / 1e6:,.{d}f}"

    def m2(x: float, d: int) -> str:
        return f"{x:,.{d}f}"

    if a >= 10_000:
        k = beyond_limit(a, limit, km2, 2, 6)
        text = k and f"{k} km²"
    else:
        k, m = beyond_limit(a, limit, km2, 4, 8), beyond_limit(a, limit, m2, 0, 2)
        text = k and m and f"{k} km² ({m} m²)"
    return text or f"{'less' if a < limit else 'more'} than {_km2(limit)}"


@dataclass(slots=True)
class Pending:
    """A feature whose raw structure is checked and whose geometry checks wait for its batch
    (:func:`finish_reports`).

    ``gj`` is the 2D GeoJSON-like geometry (lists of positions) in ``epsg``, or None for a
    point given as ``xy = complex(x, y)`` (CSV rows: one small object); otherwise ``xy`` is
    the (N, 2) array of its positions as given. ``locate`` says how errors are placed in the
    file, as the readers do: ``(where, index, extra)`` — with ``where`` the error's ``where``
    becomes it (the pointer inside the feature moves to ``pointer``) and ``index``/``extra``
    are set; with ``where`` None, ``extra`` then ``index`` are only set when absent; an int
    ``n`` stands for ``("row n", source_index, None)`` (CSV rows).
    """

    gj: dict | None
    xy: Any
    epsg: int
    props: dict[str, Any]
    warnings: list[dict]
    gptr: str = "/geometry"
    source_index: int | None = None
    locate: tuple[str | None, int | None, dict | None] | int | None = None
    #: From a format whose coordinates are WGS 84 by definition (KML, GPX): a refusal that
    #: recognises another system says to export the file again, not to declare that system.
    wgs84_only: bool = False


def locate_error(err: GeosignalError, locate: tuple[str | None, int | None, dict | None] | int | None,
                 source_index: int | None = None) -> GeosignalError:
    """Place a feature's error in its file or collection (see :class:`Pending`); return it."""
    if locate is None:
        return err
    if isinstance(locate, int):
        locate = (f"row {locate}", source_index, None)
    where, index, extra = locate
    if where is None:
        for k, v in (extra or {}).items():
            err.extra.setdefault(k, v)
        if index is not None:
            err.extra.setdefault("index", index)
        return err
    if err.where and err.where != where:
        err.extra.setdefault("pointer", err.where)
    err.where = where
    err.extra["index"] = index
    err.extra.update({k: v for k, v in (extra or {}).items() if v is not None})
    return err


def source_where(report: ReportInput, index: int) -> str:
    """The ``where`` of an error about an accepted report found later (its commune, a missing
    network): as its reader placed it (``row n`` for a CSV row, ``feature i`` otherwise)."""
    locate = report.locate
    if isinstance(locate, int):
        return f"row {locate}"
    if isinstance(locate, tuple) and locate[0]:
        return locate[0]
    return f"feature {index}"


_ROW_WHERE = re.compile(r"row (\d+)")


def source_row(report: ReportInput) -> int | None:
    """The CSV row an accepted report was read from, as a spreadsheet numbers it (header = 1),
    whichever way its reader placed it (a lat/lon row by its number, a WKT row as ``row n``);
    None for the other formats."""
    locate = report.locate
    if isinstance(locate, int):
        return locate
    if isinstance(locate, tuple) and locate[0]:
        found = _ROW_WHERE.fullmatch(locate[0])
        return int(found.group(1)) if found else None
    return None


def with_problems(err: GeosignalError, problems: list[dict]) -> GeosignalError:
    """Give a refused feature's error the list of every fault of the feature: ``errors`` =
    the refusal itself, then each attribute that was refused (``code``, ``detail``, ``name``,
    ``pointer`` and/or ``column``)."""
    items = [{"code": err.code, "detail": err.detail, "pointer": err.extra.get("pointer", err.where)}]
    for p in problems:
        if p.get("code") == "attribute_dropped":
            detail = p["detail"].removeprefix(f"{p['name']} was ignored: ")
            items.append({"code": p["error"], "detail": detail, "name": p["name"],
                          **{k: p[k] for k in ("pointer", "column") if k in p}})
    if len(items) > 1 or "errors" not in err.extra:
        err.extra["errors"] = [*items, *[e for e in err.extra.get("errors", [])[1:]]]
    return err


def prepare_report(
    geom_obj: Any,
    gptr: str,
    props: dict[str, Any],
    *,
    limits: Limits,
    epsg: int,
    warnings: list[dict] | None = None,
    source_index: int | None = None,
    locate: tuple[str | None, int | None, dict | None] | None = None,
    wgs84_only: bool = False,
) -> Pending:
    """Check one raw geometry's structure (a GeoJSON-like dict, lists or tuples; ``gptr`` its
    JSON pointer; coordinates in ``epsg``) and the vertex limit, note dropped Z/M, and return a
    :class:`Pending` for :func:`finish_reports`. Raises ``GeosignalError`` (422) for the
    structural faults of step 1 and ``too_many_vertices``."""
    warnings = list(warnings or [])
    w = _Walk()
    gj = _walk_geometry(geom_obj, gptr, w)
    if w.count > limits.max_vertices:
        raise GeosignalError("too_many_vertices", f"The geometry has {w.count} vertices; the limit is "
                             f"{limits.max_vertices}. Simplify it.", where=gptr or "/", value=w.count,
                             limit=limits.max_vertices)
    # (every third ordinate 0, as Google My Maps writes 'lon,lat,0': nothing is lost, nothing said)
    if max(w.dims) > 2 and w.nonzero_z and not any(x.get("code") == "z_dropped" for x in warnings):
        mixed = len(w.dims) > 1
        warnings.append({"code": "z_dropped", "detail": ("Third and further ordinates (Z, M) were dropped"
                         + (" (positions mixed 2D and 3D)" if mixed else "") + "; reports are 2D."),
                         "mixed": mixed})
    return Pending(gj, np.asarray(w.xy, dtype=float), epsg, props, warnings, gptr, source_index, locate, wgs84_only)


def _positions(p: Pending) -> np.ndarray:
    return np.asarray([[p.xy.real, p.xy.imag]], dtype=float) if p.gj is None else p.xy


#: How many pairs of a geometry's edges may have overlapping bounding boxes, beyond each edge
#: with itself and its two neighbours, for the geometry to be repaired: ``make_valid``'s time
#: grows with its crossings (a star of 201 edges, 19,357 crossings: 0.25 s; of 501: 2.8 s;
#: of 1,001: 13 s, beyond a web worker's time), so a drawing this tangled is refused instead.
REPAIR_EDGE_PAIRS = 100_000


def _tangled(g: BaseGeometry, budget: int = REPAIR_EDGE_PAIRS, chunk: int = 64) -> bool:
    """Whether the polygon(s) ``g`` have more than ``budget`` pairs of edges whose bounding
    boxes overlap, beyond each edge with itself and its neighbours (an upper bound of their
    crossings): counted with an STRtree of the edges' boxes, ``chunk`` edges at a time, and
    stopped as soon as the budget is passed (a 10,000-edge star: 0.01 s)."""
    # (the rings of every part: get_rings gives none for a MultiPolygon)
    ends = [shapely.get_coordinates(ring) for ring in shapely.get_rings(shapely.get_parts(g))]
    if not ends:
        return False
    starts = np.concatenate([c[:-1] for c in ends])
    stops = np.concatenate([c[1:] for c in ends])
    lo, hi = np.minimum(starts, stops), np.maximum(starts, stops)
    boxes = shapely.box(lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1])
    tree, allowed, total = shapely.STRtree(boxes), budget + 3 * len(boxes), 0
    for i in range(0, len(boxes), chunk):
        total += tree.query(boxes[i:i + chunk])[0].size
        if total > allowed:
            return True
    return False


def _repair_or_refuse(g: BaseGeometry, p: Pending, repair: bool) -> tuple[BaseGeometry, dict]:
    """An invalid geometry: repaired (polygons, ``repair``) with its record, or refused."""
    where_geom = p.gptr or "/"
    reason = shapely.is_valid_reason(g)
    m = _REASON_AT.search(reason)
    location = [float(m.group(1)), float(m.group(2))] if m else None
    code = "self_intersection" if "self-intersection" in reason.lower() else "invalid_geometry"
    if repair and g.geom_type in _POLYGONAL:
        if _tangled(g):
            raise GeosignalError(code, f"The geometry is not valid: {reason}. Its edges cross one another in so many "
                                 "places that it cannot be repaired automatically: draw it again, following its "
                                 "outline once.", where=where_geom, location=location, reason=reason,
                                 kind="too_tangled_to_repair")
        before = _shoelace_m2(g)
        fixed = shapely.make_valid(g, method="structure", keep_collapsed=False)
        # on the grid the API reads it back on (9 decimals): a sliver the repair keeps, thinner
        # than that, would read back invalid (and be refused as such below)
        fixed = shapely.set_precision(_polygonal_part(fixed), 10.0 ** -contract.API_COORDINATE_DECIMALS)
        fixed = _polygonal_part(fixed)
        if fixed.is_empty or not fixed.is_valid:
            raise GeosignalError("invalid_geometry", f"{reason}; the repair left no valid polygon.",
                                 where=where_geom, location=location, reason=reason)
        after = area_m2(fixed)
        record = {"method": "make_valid/structure", "reason": reason, "location": location,
                  "area_before_m2": before, "area_after_m2": after}
        p.warnings = [*p.warnings, {"code": "geometry_repaired", "detail": f"The geometry was repaired ({reason}); "
                      f"naive area {_km2(before)}, repaired area {_km2(after)}.",
                      "area_before_m2": before, "area_after_m2": after}]
        return fixed, record
    where_txt = f" at [{location[0]:.6f}, {location[1]:.6f}]" if location else ""
    raise GeosignalError(code, f"The geometry is not valid: {reason}{where_txt}.", where=where_geom,
                         location=location, reason=reason)


def _invalid_in_lambert72(g31370: BaseGeometry, p: Pending) -> GeosignalError:
    """The 422 of a polygon valid as given (EPSG:4326) but not once projected to EPSG:31370
    (``g31370``), where its area is measured and the figures cut and union it: its rings touch
    on an edge rather than at a shared vertex, and the projection puts the touching vertex a
    few nanometres across. ``self_intersection`` or ``invalid_geometry`` (``kind``
    ``invalid_in_epsg31370``) with the place, ``[lon, lat]``. No repair is offered: the
    shape as drawn is valid; moving the vertex is the author's choice."""
    reason = shapely.is_valid_reason(g31370)
    m = _REASON_AT.search(reason)
    location = None
    if m:
        lon, lat = transform_xy(np.array([[float(m.group(1)), float(m.group(2))]]), LAMBERT72, WGS84)[0]
        location = [round(float(lon), 7), round(float(lat), 7)]
    code = "self_intersection" if "self-intersection" in reason.lower() else "invalid_geometry"
    where_txt = f" at [{location[0]:.6f}, {location[1]:.6f}]" if location else ""
    return GeosignalError(code, f"Two rings of the zone touch on an edge{where_txt}: valid as drawn, but once "
                          "projected to Belgian Lambert 72 (EPSG:31370), where its area is measured, they cross "
                          f"({reason.split('[')[0].strip()}). Move that vertex a few centimetres so that the rings "
                          "no longer touch, or put the same vertex on both rings.", where=p.gptr or "/",
                          location=location, reason=reason, kind="invalid_in_epsg31370")


def _at_stored_precision(xy: np.ndarray) -> np.ndarray:
    """Coordinates (EPSG:4326, an (n, 2) array) as the API reads them back: rounded to
    :data:`~geosignal.contract.API_COORDINATE_DECIMALS` (9, about 0.1 mm)."""
    return np.round(xy, contract.API_COORDINATE_DECIMALS)


def _invalid_as_stored(rounded: BaseGeometry, p: Pending) -> GeosignalError:
    """The 422 of a line or zone valid as given whose read-back (``rounded``: 9 decimals,
    :func:`_at_stored_precision`) is not: the author could not send back the geometry the API
    returns. A part of a line whose positions coincide there is ``line_too_short`` at that
    part; a zone whose rings touch or a part collapses there is ``self_intersection`` or
    ``invalid_geometry`` (``kind`` ``invalid_at_stored_precision``) with the place, ``[lon, lat]``.
    Nothing is repaired: moving a vertex by a few centimetres is the author's choice."""
    where = p.gptr or "/"
    if rounded.geom_type in ("LineString", "MultiLineString"):
        parts = list(getattr(rounded, "geoms", [rounded]))
        k = next((k for k, part in enumerate(parts) if len(set(part.coords)) < 2), 0)
        at = f"{where.rstrip('/')}/coordinates/{k}" if rounded.geom_type == "MultiLineString" else where
        return GeosignalError("line_too_short", f"Line {k + 1} of the geometry is shorter than 0.1 mm: its positions "
                              f"coincide at the precision stored ({contract.API_COORDINATE_DECIMALS} decimals); "
                              "remove it, or draw a stretch of road.", where=at, length_m=0.0, limit_m=MIN_LINE_M)
    reason = shapely.is_valid_reason(rounded)
    m = _REASON_AT.search(reason)
    location = [float(m.group(1)), float(m.group(2))] if m else None
    code = "self_intersection" if "self-intersection" in reason.lower() else "invalid_geometry"
    where_txt = f" at [{location[0]:.6f}, {location[1]:.6f}]" if location else ""
    return GeosignalError(code, f"The zone is valid as sent, but not at the precision stored "
                          f"({contract.API_COORDINATE_DECIMALS} decimals, about 0.1 mm): {reason.split('[')[0].strip()}"
                          f"{where_txt} — two of its rings lie closer than 0.1 mm, or a part is thinner than that. "
                          "Move them apart by a few centimetres, or remove the thin part.", where=where,
                          location=location, reason=reason, kind="invalid_at_stored_precision")


#: A circle whose polygon would cover more than this many times ``max_area_m2`` (EPSG:31370) is
#: refused before it is built (:func:`_circle`): only where Lambert 72 stretches areas fourfold
#: (south of about 15° S, within 2° of the North Pole) could its polygon, measured on the
#: ellipsoid there, be within the limit.
_CIRCLE_REFUSED_UNBUILT = 4.0


def _circle_polygon_m2(radius: float) -> float:
    """The area (m², EPSG:31370) of the polygon a circle of ``radius`` metres is stored
    as: the regular ``4 * CIRCLE_QUAD_SEGS``-gon inscribed in it (report-map.js ``circleArea``)."""
    n = 4 * CIRCLE_QUAD_SEGS
    return n / 2 * radius * radius * math.sin(2 * math.pi / n)


def _radius_pointer(p: Pending) -> str:
    base = p.gptr[: -len("/geometry")] if p.gptr.endswith("/geometry") else p.gptr
    return f"{base}/properties/radius"


def _area_error(code: str, a: float, limit: float, p: Pending, more: str = "") -> GeosignalError:
    """The 422 ``area_too_large`` or ``area_too_small`` of a zone of ``a`` m² against ``limit``
    (m²); a circle's at its radius, naming the polygon it is stored as."""
    if "radius" in p.props:
        subject = (f"A circle of radius {p.props['radius']:g} m is stored as a {4 * CIRCLE_QUAD_SEGS}-sided polygon "
                   "that covers")
        where = _radius_pointer(p)
    else:
        subject, where = "The zone covers", p.gptr or "/"
    bound = "maximum" if code == "area_too_large" else "minimum"
    return GeosignalError(code, f"{subject} {_km2(a, limit)}{more}; the {bound} is {_km2(limit)}.", where=where,
                          area_m2=a, limit_m2=limit)


def _circle(g: BaseGeometry, p: Pending, limits: Limits) -> BaseGeometry:
    """The circle a Point with a ``radius`` (m) stands for: a polygon of ``4 * CIRCLE_QUAD_SEGS``
    sides built in EPSG:31370, then held to both area limits as any zone (at the radius,
    :func:`_area_error`). Raises 422 ``invalid_attribute`` for a radius on another geometry;
    ``area_too_large`` (at the radius) before it is built when its polygon would cover more
    than :data:`_CIRCLE_REFUSED_UNBUILT` times ``limits.max_area_m2`` (a circle of thousands of
    km folds over the poles once projected back)."""
    if g.geom_type != "Point":
        raise GeosignalError("invalid_attribute", "radius is only for a circle: a Point with a radius in metres.",
                             where=_radius_pointer(p))
    radius = p.props["radius"]
    polygon_m2 = _circle_polygon_m2(min(radius, 1e8))  # (beyond 100,000 km: more than the Earth, and finite)
    if polygon_m2 > _CIRCLE_REFUSED_UNBUILT * limits.max_area_m2:
        raise _area_error("area_too_large", polygon_m2, limits.max_area_m2, p, " or more" if radius > 1e8 else "")
    centre = transform_geom(g, WGS84, LAMBERT72)
    p.warnings = [*p.warnings, {"code": "circle_to_polygon", "detail": f"The circle of radius {radius:g} m became "
                       f"a {4 * CIRCLE_QUAD_SEGS}-sided polygon (built in EPSG:31370)."}]
    return transform_geom(centre.buffer(radius, quad_segs=CIRCLE_QUAD_SEGS), LAMBERT72, WGS84)


def _shapes(gjs: list[dict]) -> np.ndarray:
    """Build the geometries of checked GeoJSON-like dicts (:func:`_walk_geometry`'s) as an
    object array, in order: the Polygons together from one ragged array of their rings, the
    other types one by one."""
    out = np.empty(len(gjs), dtype=object)
    polygons = [k for k, gj in enumerate(gjs) if gj["type"] == "Polygon"]
    if polygons:
        coords: list[tuple[float, float]] = []
        ring_ends, polygon_ends = [0], [0]
        for k in polygons:
            for ring in gjs[k]["coordinates"]:
                coords += ring
                ring_ends.append(len(coords))
            polygon_ends.append(len(ring_ends) - 1)
        out[polygons] = shapely.from_ragged_array(
            shapely.GeometryType.POLYGON, np.asarray(coords, dtype=float),
            (np.asarray(ring_ends, dtype=np.int64), np.asarray(polygon_ends, dtype=np.int64)))
    for k, gj in enumerate(gjs):
        if gj["type"] != "Polygon":
            out[k] = shape(gj)
    return out


def _place(pendings: list[Pending], idx: np.ndarray, epsg: int, area: ServiceArea,
           out: list[Any], geoms: np.ndarray) -> None:
    """Range-check the positions of ``pendings[idx]`` (all in ``epsg``), build their geometries
    in EPSG:4326 into ``geoms`` (one pyproj transform for the whole group), or put the
    ``outside_service_area`` error in ``out``."""
    group = [pendings[i] for i in idx]
    counts = np.fromiter((1 if p.gj is None else len(p.xy) for p in group), dtype=np.int64, count=len(group))
    xy = np.empty((int(counts.sum()), 2), dtype=float)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    points = np.fromiter((p.gj is None for p in group), dtype=bool, count=len(group))
    if points.any():
        packed = np.fromiter((group[k].xy for k in np.flatnonzero(points)), dtype=complex, count=int(points.sum()))
        xy[starts[points], 0] = packed.real
        xy[starts[points], 1] = packed.imag
    for k in np.flatnonzero(~points):
        xy[starts[k]:starts[k] + counts[k]] = group[k].xy
    if epsg == WGS84:
        ll = xy
        bad_pos = (np.abs(xy[:, 0]) > 180) | (np.abs(xy[:, 1]) > 90)
        detail = ("Coordinates are out of the WGS 84 range (|lon| ≤ 180, |lat| ≤ 90), so the report is outside "
                  "the communes served.")
    else:
        with np.errstate(all="ignore"):
            ll = transform_xy(xy, epsg, WGS84)
        bad_pos = ~np.all(np.isfinite(ll), axis=1) | (np.abs(ll[:, 0]) > 180) | (np.abs(ll[:, 1]) > 90)
        detail = f"These coordinates cannot be placed on Earth in EPSG:{epsg}."
    bad = np.logical_or.reduceat(bad_pos, starts) if len(starts) else np.zeros(0, dtype=bool)
    for k in np.flatnonzero(bad):
        p = group[k]
        out[idx[k]] = _outside(_positions(p), epsg, area, p.gptr or "/", detail, p.wgs84_only)
    good_points = points & ~bad
    if good_points.any():
        geoms[idx[good_points]] = shapely.points(ll[starts[good_points]])
    others = np.flatnonzero(~points & ~bad)
    if len(others):
        built = _shapes([group[k].gj for k in others])
        if epsg != WGS84:
            built = shapely.transform(built, lambda c: transform_xy(c, epsg, WGS84))
        geoms[idx[others]] = built


_ZERO = 0.0  # one shared object for the measures of points


def finish_reports(
    pendings: list[Pending],
    *,
    area: ServiceArea,
    limits: Limits,
    repair: bool,
) -> list[ReportInput | GeosignalError]:
    """Run the geometry checks (steps 4–8 of the package docstring) on a batch of
    :class:`Pending` features as arrays and return, in order, a :class:`ReportInput` or the
    ``GeosignalError`` (placed by ``locate``) of each.

    Set-wise: positions are range-checked and reprojected to EPSG:4326 with one pyproj
    transform per source CRS; validity (``shapely.is_valid``), orientation, the EPSG:31370
    copies (one transform for the batch), areas and the service-area predicates (prepared
    territory) are vectorised; only the features that fail a check (or carry a ``radius``) are
    handled one by one, with the same codes, pointers and details as a single report.
    ``ReportInput.area_m2`` / ``length_m`` hold each accepted geometry's measures. The list
    ``pendings`` is emptied (its items set to None) as results are made, to bound memory.
    """
    n = len(pendings)
    out: list[Any] = [None] * n
    geoms = np.empty(n, dtype=object)
    epsgs = np.fromiter((p.epsg for p in pendings), dtype=np.int64, count=n)
    for epsg in np.unique(epsgs):
        _place(pendings, np.flatnonzero(epsgs == epsg), int(epsg), area, out, geoms)
    repairs: dict[int, dict] = {}
    alive = np.fromiter((o is None for o in out), dtype=bool, count=n)

    built: dict[int, Any] = {}  # the shapes of the features refused once placed (EPSG:4326), to show them

    def refuse(i: int, err: GeosignalError) -> None:
        out[i] = err
        if geoms[i] is not None:
            built[i] = geoms[i]
        geoms[i] = None
        alive[i] = False

    for i in [i for i, p in enumerate(pendings) if "radius" in p.props and alive[i]]:
        try:
            geoms[i] = _circle(geoms[i], pendings[i], limits)
        except GeosignalError as err:
            refuse(i, err)
    live = np.flatnonzero(alive)
    if len(live):
        invalid = live[~shapely.is_valid(geoms[live])]
        for i in invalid:
            try:
                geoms[i], repairs[i] = _repair_or_refuse(geoms[i], pendings[i], repair)
            except GeosignalError as err:
                refuse(i, err)
        live = np.flatnonzero(alive)
    areas_m2 = np.zeros(n)
    lengths_m = np.zeros(n)
    relation = np.full(n, "inside", dtype=object)
    if len(live):
        types = shapely.get_type_id(geoms[live])
        points, shapes = live[types == 0], live[types != 0]
        polygonal = live[(types == 3) | (types == 6)]
        invalid_31370: dict[int, BaseGeometry] = {}
        invalid_stored: dict[int, BaseGeometry] = {}
        if len(polygonal):
            geoms[polygonal] = shapely.orient_polygons(geoms[polygonal], exterior_cw=False)
        far_parts: dict[int, tuple[int, bool]] = {}  # a MultiLineString's or MultiPolygon's part far out
        if len(shapes):
            g31370 = shapely.transform(geoms[shapes], lambda c: transform_xy(c, WGS84, LAMBERT72))
            areas_m2[shapes], lengths_m[shapes] = measures(g31370)
            relation[shapes] = area.relations(g31370)
            far_parts = _parts_beyond(g31370, types[types != 0], relation[shapes], shapes, repairs, area)
            # valid as given, but not in EPSG:31370, where the figures cut and union it (a hole
            # touching its outline on an edge, not at a vertex, lands a few nanometres across it):
            # refused below, once the area limits have spoken (a zone reaching a pole is too large)
            flat = np.isin(types[types != 0], (3, 6))
            invalid_31370 = {int(shapes[k]): g31370[k] for k in np.flatnonzero(flat)[~shapely.is_valid(g31370[flat])]}
            del g31370
            # valid as given, but not as the API reads it back (9 decimals): a hole 0.02 mm inside
            # its shell lands on it, a part of a line or zone thinner than 0.1 mm collapses
            stored = shapely.transform(geoms[shapes], _at_stored_precision)
            invalid_stored = {int(shapes[k]): stored[k] for k in np.flatnonzero(~shapely.is_valid(stored))}
            del stored
        if len(points):  # a point needs no geometry in EPSG:31370, only its position
            xy = transform_xy(shapely.get_coordinates(geoms[points]), WGS84, LAMBERT72)
            relation[points] = area.relations_xy(xy[:, 0], xy[:, 1])
        outside_member: dict[int, int] = {}  # a MultiPoint: each of its points lies in a commune, as a point does
        # (one reaching past the margin too: its point far out named, with its hint, as a point's;
        # it was « extends more than 1000 m beyond », no point named, no swap said)
        multipoints = live[(types == 4) & (relation[live] != "outside")]
        if len(multipoints):
            xy, owner = shapely.get_coordinates(geoms[multipoints], return_index=True)
            xy = transform_xy(xy, WGS84, LAMBERT72)
            out_of = area.relations_xy(xy[:, 0], xy[:, 1]) != "inside"
            first = np.searchsorted(owner, np.arange(len(multipoints)))
            for k in np.flatnonzero(out_of):
                outside_member.setdefault(int(multipoints[owner[k]]), int(k - first[owner[k]]))
            relation[list(outside_member)] = "outside"
        linear = live[(types == 1) | (types == 5)]
        for i in linear[lengths_m[linear] < MIN_LINE_M]:  # distinct floats, yet one place once stored
            refuse(i, GeosignalError("line_too_short", f"The line is {lengths_m[i]:.2g} m long: its positions coincide "
                                     "at the precision stored (9 decimals); draw a stretch of road, or place a point.",
                                     where=pendings[i].gptr or "/", length_m=float(lengths_m[i]), limit_m=MIN_LINE_M))
        checked_m2 = _areas_on_the_ellipsoid_beyond_lambert72(geoms[polygonal], areas_m2[polygonal])
        beyond = (checked_m2 > limits.max_area_m2) | (checked_m2 < limits.min_area_m2)
        for i, a in zip(polygonal[beyond].tolist(), checked_m2[beyond].tolist(), strict=True):
            if a > limits.max_area_m2:
                refuse(i, _area_error("area_too_large", a, limits.max_area_m2, pendings[i]))
            else:
                refuse(i, _area_error("area_too_small", a, limits.min_area_m2, pendings[i]))
        for i, g in invalid_31370.items():
            if alive[i]:
                refuse(i, _invalid_in_lambert72(g, pendings[i]))
        for i, g in invalid_stored.items():
            if alive[i]:
                refuse(i, _invalid_as_stored(g, pendings[i]))
        live = np.flatnonzero(alive)
        for i in live[relation[live] != "inside"]:
            p = pendings[i]
            if i in outside_member:  # (the positions are the MultiPoint's, in its order)
                k = outside_member[i]
                refuse(i, _outside(_positions(p)[k:k + 1], p.epsg, area, f"{p.gptr or ''}/coordinates/{k}",
                                   f"Point {k + 1} of the MultiPoint lies outside the communes served (each point "
                                   "of a report lies in a commune).", p.wgs84_only, kind="shape_point",
                                   part_number=k + 1))
            elif relation[i] == "outside":
                refuse(i, _outside(_positions(p), p.epsg, area, p.gptr or "/",
                                   "The report lies outside the communes served.", p.wgs84_only))
            elif i in far_parts:  # (the parts are the shape's, in its order: not repaired)
                refuse(i, _far_part(geoms[i], far_parts[i], p, area))
            else:
                refuse(i, GeosignalError("outside_service_area", f"The report extends more than "
                                         f"{area.margin_m:g} m beyond the communes served.",
                                         where=p.gptr or "/", margin_m=area.margin_m))
    results: list[ReportInput | GeosignalError] = []
    for i, p in enumerate(pendings):
        if out[i] is not None:
            err = locate_error(out[i], p.locate, p.source_index)
            if err.source is None:  # what the feature is shown with: its description, where it lies
                err.source = _pending_source(p, built.get(i))
            if any(w.get("code") == "attribute_dropped" for w in p.warnings):
                err = with_problems(err, p.warnings)  # every fault of the feature, together
            results.append(err)
        else:
            results.append(ReportInput(geometry=geoms[i], properties=p.props, warnings=p.warnings,
                                       repair=repairs.get(i), source_index=p.source_index,
                                       area_m2=float(areas_m2[i]) if areas_m2[i] else _ZERO,
                                       length_m=float(lengths_m[i]) if lengths_m[i] else _ZERO,
                                       locate=p.locate))
        pendings[i] = None  # type: ignore[call-overload]  # freed as the batch is turned into results
    return results


def _parts_beyond(g31370: np.ndarray, types: np.ndarray, relation: np.ndarray, index: np.ndarray,
                  repairs: dict[int, dict], area: ServiceArea) -> dict[int, tuple[int, bool]]:
    """Which part of each MultiLineString or MultiPolygon reaching past the margin is the one
    far out: ``{feature index: (part index, whether the part touches no commune)}``, for the
    shapes among ``g31370`` (EPSG:31370; their type ids ``types``, ``relation`` as
    :meth:`ServiceArea.relations` gave it, feature indices ``index``) that were not repaired
    (a repaired shape's parts are not the ones sent). The parts of all of them are classified
    in one vectorised pass."""
    multi = np.flatnonzero(((types == 5) | (types == 6)) & (relation == "beyond_margin"))
    multi = multi[[int(index[k]) not in repairs for k in multi]]
    if not len(multi):
        return {}
    parts, owner = shapely.get_parts(g31370[multi], return_index=True)
    covered = shapely.covers(area.buffered_31370, parts)
    touches = shapely.intersects(area.territory_31370, parts)
    first = np.searchsorted(owner, np.arange(len(multi)))
    out: dict[int, tuple[int, bool]] = {}
    for k in np.flatnonzero(~covered):  # the first part past the margin, in the shape's order
        out.setdefault(int(index[multi[owner[k]]]), (int(k - first[owner[k]]), not bool(touches[k])))
    return out


def _far_part(geometry: BaseGeometry, part: tuple[int, bool], p: Pending, area: ServiceArea) -> GeosignalError:
    """The ``outside_service_area`` refusal of a MultiLineString or MultiPolygon one of whose
    parts (``part``: its index, whether it touches no commune) reaches past the margin: the
    part named (``…/coordinates/k``; ``kind`` ``shape_part_beyond`` or ``shape_part_apart``,
    ``part_number`` 1-based); one lying apart from every commune gets the hint of a
    shape lying outside (axes swapped, another coordinate system), read from its positions
    (``geometry`` in EPSG:4326, put back in the sender's CRS)."""
    k, apart = part
    shape_type = geometry.geom_type  # MultiPolygon or MultiLineString
    where = f"{p.gptr or ''}/coordinates/{k}"
    if apart:
        xy = shapely.get_coordinates(shapely.get_parts(geometry)[k])
        if p.epsg != WGS84:
            xy = transform_xy(xy, WGS84, p.epsg)
        return _outside(xy, p.epsg, area, where,
                        f"Part {k + 1} of the {shape_type} lies outside the communes served, more than "
                        f"{area.margin_m:g} m from them (each part of a report lies in a commune or within "
                        f"{area.margin_m:g} m of one).", p.wgs84_only, kind="shape_part_apart", part_number=k + 1)
    return GeosignalError("outside_service_area", f"Part {k + 1} of the {shape_type} extends more than "
                          f"{area.margin_m:g} m beyond the communes served.",
                          where=where, margin_m=area.margin_m, kind="shape_part_beyond", part_number=k + 1)


def _pending_source(p: Pending, geometry: Any) -> dict[str, Any]:
    """What a feature refused by the batch is shown with (``GeosignalError.source``): its
    description, its position as read (a CSV point, in its CRS) and its shape once built."""
    source: dict[str, Any] = {}
    description = p.props.get("description")
    if description:
        source["description"] = description
    if p.gj is None and isinstance(p.xy, complex):
        source["xy"] = (p.xy.real, p.xy.imag)
    if geometry is not None:
        source["geometry"] = geometry
    return source


def build_report(
    geom_obj: Any,
    gptr: str,
    props: dict[str, Any],
    *,
    area: ServiceArea,
    limits: Limits,
    epsg: int,
    repair: bool,
    warnings: list[dict] | None = None,
) -> ReportInput:
    """Validate one raw geometry (a GeoJSON-like dict, lists or tuples) with already validated
    properties and return a :class:`ReportInput`: a batch of one through
    :func:`prepare_report` and :func:`finish_reports`, so that a single report and a file
    obey the same rules. ``gptr`` is the geometry's JSON pointer, ``epsg`` the CRS of its
    coordinates. Raises ``GeosignalError`` (422)."""
    pending = prepare_report(geom_obj, gptr, props, limits=limits, epsg=epsg, warnings=warnings)
    result = finish_reports([pending], area=area, limits=limits, repair=repair)[0]
    if isinstance(result, GeosignalError):
        raise result
    return result


# --------------------------------------------------------------------------- bbox members

#: How far a position may lie outside a declared ``bbox`` (a writer rounding its box): about
#: 0.1 m, in the unit of the coordinates (degrees of EPSG:4326, metres of the Lambert CRSs).
BBOX_TOLERANCE = {WGS84: 1e-6, LAMBERT72: 0.1, LAMBERT2008: 0.1}


def declared_bbox(value: Any, ptr: str, epsg: int) -> tuple[float, float, float, float]:
    """Read the ``bbox`` member at ``ptr`` (RFC 7946 §5: 2·n numbers, the south-west corner's
    axes then the north-east corner's; n = 2 or 3, in the coordinates' CRS ``epsg``) and
    return ``(west, south, east, north)``. In EPSG:4326 a west beyond its east is a box
    crossing the antimeridian. Raises 422 ``invalid_geojson`` (or the coordinates' codes for
    a number that is not one) at ``ptr`` or the offending number."""
    if not isinstance(value, (list, tuple)) or len(value) not in (4, 6):
        got = f"an array of {len(value)} numbers" if isinstance(value, (list, tuple)) else type(value).__name__
        raise GeosignalError("invalid_geojson", f"A bbox is an array of 4 numbers (west, south, east, north), or "
                             f"6 with heights; got {got}.", where=ptr)
    numbers = [_number(v, f"{ptr}/{k}") for k, v in enumerate(value)]
    n = len(numbers) // 2
    west, south, east, north = numbers[0], numbers[1], numbers[n], numbers[n + 1]
    if south > north or (west > east and epsg != WGS84) or (n == 3 and numbers[2] > numbers[5]):
        raise GeosignalError("invalid_geojson", f"The bbox {numbers} gives a corner's axes beyond the other's: "
                             "it is the south-west corner's axes, then the north-east corner's.", where=ptr,
                             bbox=numbers)
    return west, south, east, north


def check_within_bbox(box: tuple[float, float, float, float], xy: np.ndarray, ptr: str, epsg: int,
                      what: str) -> None:
    """Raise 422 ``invalid_geojson`` at ``ptr`` (the ``bbox`` member) when a position of
    ``xy`` (N×2, in ``epsg``) lies outside ``box`` beyond :data:`BBOX_TOLERANCE`: the box and
    ``what`` it bounds disagree, and geosignal does not choose which one is meant."""
    if len(xy) == 0:
        return
    west, south, east, north = box
    tol = BBOX_TOLERANCE.get(epsg, 0.1)
    x, y = xy[:, 0], xy[:, 1]
    inside_x = (x >= west - tol) & (x <= east + tol) if west <= east else (x >= west - tol) | (x <= east + tol)
    outside = ~(inside_x & (y >= south - tol) & (y <= north + tol))
    if outside.any():
        k = int(np.argmax(outside))
        extent = [float(x.min()), float(y.min()), float(x.max()), float(y.max())]
        raise GeosignalError(
            "invalid_geojson", f"The bbox {list(box)} does not contain {what}: position "
            f"[{float(x[k])}, {float(y[k])}] lies outside it (the positions span {extent}). Correct or remove "
            "the bbox; geosignal does not choose between the box and the coordinates.",
            where=ptr, bbox=list(box), extent=extent)


def _feature_boxes(obj: Any, ptr: str, geom: Any, gptr: str, epsg: int) -> list[tuple[tuple, str]]:
    """The bbox members of a Feature and of its geometry (a bare geometry's once), read."""
    boxes = []
    for holder, where in ((obj, ptr), (geom, gptr)):
        if isinstance(holder, dict) and holder.get("bbox") is not None and all(w != f"{where}/bbox" for _, w in boxes):
            boxes.append((declared_bbox(holder["bbox"], f"{where}/bbox", epsg), f"{where}/bbox"))
    return boxes


# --------------------------------------------------------------------------- features

def feature_id(obj: dict, ptr: str) -> str | int | float | None:
    """Return the ``id`` member of a Feature ``obj`` at ``ptr`` (None when absent or ``null``).

    RFC 7946 §3.2: a Feature's identifier is a JSON string or number. ``null`` counts as
    absent, as a ``null`` property does (tools write ``"id": null`` for "no identifier"); an
    object, an array or a boolean makes the Feature invalid GeoJSON: 422 ``invalid_geojson``
    at ``{ptr}/id`` (``kind``: ``object``, ``array`` or ``boolean``), never read silently (GDAL
    would keep it as text). geosignal does not store a sender's identifier (a report gets its
    own UUID); the check is of the GeoJSON only, the same for the API and GeoJSON uploads."""
    value = obj.get("id")
    if value is None or (isinstance(value, (str, int, float)) and not isinstance(value, bool)):
        return value
    kind = "boolean" if isinstance(value, bool) else "array" if isinstance(value, (list, tuple)) else "object"
    shown = f" ({str(value).lower()})" if isinstance(value, bool) else ""
    raise GeosignalError("invalid_geojson", f"A Feature's id must be a string or a number (RFC 7946 §3.2); got "
                         f"{'an' if kind in ('array', 'object') else 'a'} {kind}{shown}.", where=f"{ptr}/id",
                         kind=kind)


def split_feature(obj: Any, ptr: str) -> tuple[Any, str, Any, str]:
    """Return ``(geometry, geometry_pointer, properties, properties_pointer)`` of a Feature or a
    bare geometry. Raises 422 ``invalid_geojson`` (also for a Feature ``id`` that is neither a
    string nor a number: :func:`feature_id`)."""
    if not isinstance(obj, dict):
        raise GeosignalError("invalid_geojson", "A GeoJSON Feature (object) was expected.", where=ptr or "/")
    t = obj.get("type")
    if t == "Feature":
        feature_id(obj, ptr)
        if "geometry" not in obj:
            raise GeosignalError("invalid_geojson", "The Feature has no 'geometry' member.", where=ptr or "/")
        props = obj.get("properties")
        if props is not None and not isinstance(props, dict):
            raise GeosignalError("invalid_geojson", "'properties' must be an object or null.", where=f"{ptr}/properties")
        return obj["geometry"], f"{ptr}/geometry", props or {}, f"{ptr}/properties"
    if t in vocab.GEOMETRY_TYPES or t == "GeometryCollection":
        return obj, ptr, {}, f"{ptr}/properties"
    if t == "FeatureCollection":
        raise GeosignalError("invalid_geojson", "One Feature was expected, not a FeatureCollection.", where=f"{ptr}/type")
    raise GeosignalError("invalid_geojson", f"Unknown GeoJSON type {t!r}.", where=f"{ptr}/type")


#: The members RFC 7946 gives a Feature and a geometry (and the old ``crs``, read apart);
#: others are foreign members, which geosignal does not read.
FEATURE_MEMBERS = frozenset({"type", "id", "geometry", "properties", "bbox", "crs"})
GEOMETRY_MEMBERS = frozenset({"type", "coordinates", "geometries", "bbox", "crs"})


def foreign_members(obj: Any, ptr: str = "") -> list[str]:
    """The JSON pointers of the foreign members of a Feature (or bare geometry) ``obj`` at
    ``ptr`` and of its geometry (a GeometryCollection's members too), in document order: what
    a sender wrote there that geosignal does not read (an ``observed_at`` beside
    ``properties``, a ``radius`` on the geometry…)."""
    if not isinstance(obj, dict):
        return []
    out: list[str] = []
    geometries: list[tuple[Any, str]] = []
    if obj.get("type") == "Feature":
        out += [f"{ptr}/{pointer_key(k)}" for k in obj if k not in FEATURE_MEMBERS]
        geometries.append((obj.get("geometry"), f"{ptr}/geometry"))
    else:
        geometries.append((obj, ptr))
    while geometries:
        geom, gptr = geometries.pop(0)
        if not isinstance(geom, dict):
            continue
        out += [f"{gptr}/{pointer_key(k)}" for k in geom if k not in GEOMETRY_MEMBERS]
        if geom.get("type") == "GeometryCollection" and isinstance(geom.get("geometries"), (list, tuple)):
            geometries += [(m, f"{gptr}/geometries/{i}") for i, m in enumerate(geom["geometries"])]
    return out


def members_ignored_warning(pointers: list[str]) -> dict:
    """The ``members_ignored`` warning naming foreign members (JSON pointers) not read."""
    return {"code": "members_ignored", "detail": "Members that are not GeoJSON's were not read: "
            + ", ".join(pointers) + ". Give a report's information in properties.", "members": pointers}


def _api_properties(props: dict, pptr: str, require_network: bool) -> tuple[dict, list[dict]]:
    out = validate_properties(props, where_prefix=pptr, require_network=require_network)
    ignored = sorted(k for k in props if k not in REPORT_PROPERTIES)
    warnings = []
    if ignored:
        warnings.append({"code": "properties_ignored", "detail": "Unknown properties were ignored: "
                         + ", ".join(ignored) + ".", "names": ignored})
    mismatch = network_mismatch(out)
    if mismatch:
        warnings.append(mismatch)
    return out, warnings


def reports_from_feature(
    obj: Any,
    ptr: str,
    *,
    area: ServiceArea,
    limits: Limits,
    epsg: int,
    repair: bool,
    allow_collection: bool,
    properties_fn,
    index: int | None = None,
    finish: bool = True,
    finite: bool = False,
) -> list[Any]:
    """Turn one Feature (or bare geometry) into reports.

    A GeometryCollection (only when ``allow_collection``) gives one result per member, each
    member validated on its own (errors returned in place, with ``member``). Other errors are
    raised. ``properties_fn(props, pointer) -> (validated, warnings)`` validates properties.
    With ``finish=False`` the geometry checks are left to the caller's batch: the list holds
    :class:`Pending` items (and member errors), to pass to :func:`finish_reports`; ``index``
    (the feature's index in its collection) is then set on their errors. ``finite``: the
    document is known to hold no NaN or Infinity (no search).
    """
    _raise_non_finite(obj, ptr, finite)
    geom, gptr, props_raw, pptr = split_feature(obj, ptr)
    if isinstance(geom, dict) and geom.get("crs") is not None:
        # a crs member on the geometry itself must agree with the one in force
        resolve_crs(None, geom.get("crs"), where=gptr, inherited=epsg)
    boxes = _feature_boxes(obj, ptr, geom, gptr, epsg)
    props, pwarn = properties_fn(props_raw, pptr)
    out: list[Any] = []
    if isinstance(geom, dict) and geom.get("type") == "GeometryCollection":
        if not allow_collection:
            raise GeosignalError("unsupported_geometry_type", "A GeometryCollection cannot be one report; send a "
                                 "FeatureCollection (each member then becomes its own report).", where=f"{gptr}/type")
        members = geom.get("geometries")
        if not isinstance(members, (list, tuple)):
            raise GeosignalError("invalid_geojson", "A GeometryCollection needs a 'geometries' array.", where=gptr)
        if not members:
            raise GeosignalError("empty_geometry", "The GeometryCollection is empty.", where=f"{gptr}/geometries")
        for i, (member, (member_props, split_warn)) in enumerate(
                zip(members, split_members(props, members, "a GeometryCollection"), strict=True)):
            mptr = f"{gptr}/geometries/{i}"
            locate = (None, index, {"member": i})
            try:
                out.append(prepare_report(member, mptr, member_props, limits=limits, epsg=epsg,
                                          warnings=[*pwarn, split_warn], source_index=index, locate=locate))
            except GeosignalError as err:
                out.append(locate_error(err, locate))
        _check_boxes(boxes, out, epsg)
    else:
        out.append(prepare_report(geom, gptr, props, limits=limits, epsg=epsg, warnings=pwarn, source_index=index,
                                  locate=(None, index, None)))
        _check_boxes(boxes, out, epsg)
        if finish:
            result = finish_reports(out, area=area, limits=limits, repair=repair)[0]
            if isinstance(result, GeosignalError):
                raise result
            return [result]
    return finish_items(out, area=area, limits=limits, repair=repair) if finish else out


#: The properties of a collection split into several reports that only one of them carries:
#: counts of what the place holds (the contract's ``count`` properties), which would otherwise
#: be counted once per member in the commune's figures.
SPLIT_ONCE: tuple[str, ...] = tuple(p.name for p in contract.PROPERTIES if p.kind == "count")
_MEMBER_DIMENSION = {"Point": 0, "MultiPoint": 0, "LineString": 1, "MultiLineString": 1, "Polygon": 2,
                     "MultiPolygon": 2}


def split_members(props: dict[str, Any], members: list[Any], what: str) -> list[tuple[dict[str, Any], dict]]:
    """The properties and the ``geometry_collection_split`` warning of each member of a
    collection split into one report per member (``members``: GeoJSON-like geometries; ``what``
    names the collection in the warning's detail). Every member has the feature's properties,
    except its counts (:data:`SPLIT_ONCE`: households, businesses affected), given once, to
    the first member of the highest dimension (a zone before a line before a point: the place
    the counts describe, not its label point); the others carry none, and each warning says
    which member has them (``counts_member``). Whether the members are stored is decided
    whole (:func:`geosignal.services.imports` refuses every member when one is refused)."""
    given = [name for name in SPLIT_ONCE if props.get(name) is not None]
    dims = [_MEMBER_DIMENSION.get(m.get("type"), -1) if isinstance(m, dict) else -1 for m in members]
    carrier = dims.index(max(dims)) if given and dims else None
    out = []
    for k in range(len(members)):
        warning: dict[str, Any] = {"code": "geometry_collection_split", "member": k,
                                   "detail": f"Member {k} of {what} became its own report."}
        member_props = props
        if carrier is not None:
            warning["counts_member"] = carrier
            warning["detail"] += (f" Its {' and '.join(n.replace('_', ' ') for n in given)} are counted once, on "
                                  f"member {carrier}" + (" (this one)." if k == carrier else "; this one carries none."))
            if k != carrier:
                member_props = {n: v for n, v in props.items() if n not in SPLIT_ONCE}
        out.append((member_props, warning))
    return out


def _check_boxes(boxes: list[tuple[tuple, str]], items: list[Any], epsg: int, what: str = "the geometry") -> None:
    """Check the positions of the :class:`Pending` items read in ``epsg`` (the boxes' CRS)
    against each declared bbox (``(box, pointer)``), bounding ``what``."""
    if not boxes:
        return
    pending = [item for item in items if isinstance(item, Pending) and item.epsg == epsg]
    if not pending:
        return
    xy = np.concatenate([_positions(p) for p in pending])
    for box, where in boxes:
        check_within_bbox(box, xy, where, epsg, what)


def _batch_where(item: Any, k: int) -> str:
    """Where item ``k`` of a batch comes from, as a refusal of the whole batch names it: its
    reader's place (``row n`` of a CSV, a reader's ``feature i``), else ``feature i`` by its
    index in its file or collection."""
    if isinstance(item, Pending):
        if isinstance(item.locate, int):
            return f"row {item.locate}"
        if isinstance(item.locate, tuple):
            if item.locate[0]:
                return item.locate[0]
            if item.locate[1] is not None:
                return f"feature {item.locate[1]}"
        index = item.source_index
    elif isinstance(item, GeosignalError):
        if item.where and item.where.startswith(("row ", "feature ")):
            return item.where
        index = item.extra.get("index")
    else:
        index = getattr(item, "source_index", None)
    return f"feature {index if isinstance(index, int) else k}"


def check_batch_size(items: list[Any], limits: Limits) -> None:
    """Refuse a batch of features (an upload, a collection) holding more features than
    ``limits.max_upload_features`` (every item counts: a report to be, a refused feature, each
    member of a collection split into reports) or whose geometries hold more positions in all
    than ``limits.max_upload_vertices`` (a :class:`Pending` point 1, another geometry its
    positions; refused features none): 413 ``too_many_features`` /
    ``too_many_upload_vertices`` with ``value`` (the batch's count), ``limit`` and ``where``
    (the item where the count passed the limit, :func:`_batch_where`). The readers count what
    a file says before reading it wherever they can (:func:`~.files.read_upload`); this is the
    count every format meets before the geometry checks."""
    if len(items) > limits.max_upload_features:
        k = limits.max_upload_features
        raise too_many_features(k, len(items), where=_batch_where(items[k], k))
    sizes = np.fromiter((0 if not isinstance(item, Pending) else 1 if item.gj is None else len(item.xy)
                         for item in items), dtype=np.int64, count=len(items))
    total = int(sizes.sum())
    if total > limits.max_upload_vertices:
        k = int(np.searchsorted(np.cumsum(sizes), limits.max_upload_vertices, side="right"))
        raise too_many_upload_vertices(limits.max_upload_vertices, total, where=_batch_where(items[k], k))


def finish_items(items: list[Any], *, area: ServiceArea, limits: Limits, repair: bool) -> list[Any]:
    """Finish the :class:`Pending` items of ``items`` in one batch, in place (the other items
    stay as they are), and return ``items``. Each pending item is let go as soon as its result
    is made, to bound memory.

    Raises 413 ``too_many_features`` or ``too_many_upload_vertices`` (:func:`check_batch_size`)
    before any geometry check when the batch holds more than the limits allow."""
    check_batch_size(items, limits)
    at = [k for k, item in enumerate(items) if isinstance(item, Pending)]
    if not at:
        return items
    batch = [items[k] for k in at]
    for k in at:
        items[k] = None
    done = finish_reports(batch, area=area, limits=limits, repair=repair)
    for k, result in zip(at, done, strict=True):
        items[k] = result
    return items


def parse_report_feature(
    raw: bytes | str | dict,
    *,
    area: ServiceArea,
    limits: Limits = DEFAULT_LIMITS,
    crs: str | None = None,
    repair: bool = False,
    require_network: bool = True,
    finite: bool = False,
) -> ReportInput:
    """Parse one GeoJSON Feature (or bare geometry) into a validated :class:`ReportInput`.

    ``raw``: JSON text/bytes (parsed strictly) or an already decoded dict. ``crs``: the CRS of
    the coordinates (EPSG:4326 default; 31370 and 3812 accepted in the forms of
    :func:`~geosignal.services.intake.crs.parse_crs`). ``repair``: repair invalid polygons with
    ``make_valid(method="structure")`` instead of refusing them. ``finite``: the decoded
    ``raw`` is known to hold no NaN or Infinity (built from documents :func:`known_finite`
    says so of: no search for them). Returns a geometry in EPSG:4326. A GeometryCollection is
    refused (``unsupported_geometry_type``).

    Raises ``GeosignalError``: 400 ``invalid_json``, 413 ``payload_too_large``, 422 for every
    geometry, CRS, limit, service-area and property fault, ``where`` = JSON pointer.
    """
    obj = loads_strict(raw, limits=limits) if isinstance(raw, (bytes, bytearray, memoryview, str)) else raw
    if not isinstance(obj, dict):  # an array, a number, null… (as text or already decoded)
        raise GeosignalError("invalid_geojson", "A GeoJSON Feature (object) was expected.", where="/")
    # a text the parser read without NaN, Infinity or an overflowing number needs no search for
    # them: a walk of a 10 MB body (400,000 positions) took 3 s, twice, before its vertices were counted
    finite = finite or isinstance(obj, _Finite)
    _raise_non_finite(obj, "", finite)
    epsg = resolve_crs(crs, obj.get("crs"), where="")
    results = reports_from_feature(
        obj, "", area=area, limits=limits, epsg=epsg, repair=repair, allow_collection=False,
        properties_fn=lambda p, ptr: _api_properties(p, ptr, require_network), finite=finite,
    )
    foreign = foreign_members(obj)
    if foreign:
        results[0].warnings.append(members_ignored_warning(foreign))
    return results[0]  # type: ignore[return-value]


def parse_feature_collection(
    raw: bytes | str | dict,
    *,
    area: ServiceArea,
    limits: Limits = DEFAULT_LIMITS,
    crs: str | None = None,
    repair: bool = False,
    require_network: bool = True,
) -> list[ReportInput | GeosignalError]:
    """Parse a GeoJSON FeatureCollection (a lone Feature or geometry counts as a collection of
    one) into per-feature results, in order: a :class:`ReportInput` (``source_index`` = feature
    index) or the ``GeosignalError`` that feature raised (``where`` = ``/features/i/...``,
    ``extra["index"]`` = i). A GeometryCollection member yields one result per member.

    Raises (for the whole document) 400 ``invalid_json``, 413 ``payload_too_large``, 422
    ``invalid_geojson`` (no ``features`` array) and ``unsupported_crs`` (top-level crs).
    """
    obj = raw if isinstance(raw, dict) else loads_strict(raw, limits=limits)
    if not isinstance(obj, dict):
        raise GeosignalError("invalid_geojson", "A GeoJSON FeatureCollection (object) was expected.", where="/")
    return collection_results(obj, area=area, limits=limits, crs=crs, repair=repair,
                              properties_fn=lambda p, ptr: _api_properties(p, ptr, require_network))


def collection_results(obj: dict, *, area, limits, crs, repair, properties_fn) -> list[ReportInput | GeosignalError]:
    """Shared loop of :func:`parse_feature_collection` and GeoJSON uploads: every feature's
    structure and properties are read one by one, then the geometries of the whole
    collection are checked as one batch (:func:`finish_reports`)."""
    epsg = resolve_crs(crs, obj.get("crs"), where="")
    finite = isinstance(obj, _Finite)
    if obj.get("type") == "FeatureCollection":
        feats = obj.get("features")
        if not isinstance(feats, list):
            raise GeosignalError("invalid_geojson", "A FeatureCollection needs a 'features' array.", where="/features")
        items = [(f, f"/features/{i}") for i, f in enumerate(feats)]
    else:
        items = [(obj, "")]
    box = (declared_bbox(obj["bbox"], "/bbox", epsg) if obj.get("type") == "FeatureCollection"
           and obj.get("bbox") is not None else None)
    if obj.get("type") == "FeatureCollection":
        # the collection's own members (a foreign one, its crs): a NaN there was read past, the
        # file saved as if the number were not in it (each feature's are checked with it)
        _raise_non_finite({k: v for k, v in obj.items() if k != "features"}, "", finite)
    results: list[Any] = []
    for i, (feat, ptr) in enumerate(items):
        try:
            f_epsg = epsg
            if isinstance(feat, dict) and feat.get("crs") is not None and ptr:
                f_epsg = resolve_crs(None, feat.get("crs"), where=ptr, inherited=epsg)
            got = reports_from_feature(feat, ptr, area=area, limits=limits, epsg=f_epsg, repair=repair,
                                       allow_collection=True, properties_fn=properties_fn, index=i, finish=False,
                                       finite=finite)
        except GeosignalError as err:
            err.extra.setdefault("index", i)
            got = [err]
        results.extend(got)
    if box is not None:  # the collection's box bounds the positions of all its features, read in its CRS
        _check_boxes([(box, "/bbox")], results, epsg, "the features of the collection")
    return finish_items(results, area=area, limits=limits, repair=repair)
