"""Read a position typed by a person: WGS 84 in decimal degrees or degrees-minutes-seconds,
Belgian Lambert 72 (EPSG:31370) or Lambert 2008 (EPSG:3812). Flask-free.

What is accepted (spaces, ``,``, ``;`` or ``/`` between the two values; a decimal comma is
fine when the values are separated by a space or ``;``):

* ``50.4108, 4.4440`` · ``50,4108 4,4440`` · ``4.4440 50.4108`` · ``lat 50.4108 lon 4.444``
  · ``50.4108 N 4.4440 E`` (``O`` is *ouest* in French but *oost* in Dutch: both are tried,
  the reading that falls in a commune served is kept; ``noord``, ``zuid``, ``oost``, ``west``);
* ``50°24'38.9"N 4°26'38.4"E`` · ``N 50° 24,648' E 4° 26,640'`` (primes ′ ″ too);
* ``155349 122215`` (Lambert 72, metres) · ``655393 622270`` (Lambert 2008) · ``x=… y=…``;
  an explicit ``EPSG:31370``, ``EPSG:3812``, ``EPSG:4326``, ``Lambert 72`` / ``L72``,
  ``Lambert 2008`` / ``L08`` or ``WGS 84`` decides the system.

**Order — decision.** People write latitude first, GeoJSON longitude first, and Lambert
x (east) first, but not always. Without a label (``lat``, ``x``, ``N``, ``E`` …) both orders
are tried and kept only when they fall in a commune served; one left → taken, and the answer
says which order was read (``order``); two → ``ambiguous_coordinates`` listing both, for the
person to choose (never a silent swap); none → ``outside_service_area``. Values in degrees
can never be Lambert metres and vice versa (magnitudes differ).

Positions are returned in EPSG:4326 ``[lon, lat]``, transformed with pyproj from EPSG codes.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from geosignal.errors import GeosignalError
from geosignal.geo import transformer
from geosignal.vocab import LAMBERT72, LAMBERT2008, WGS84

#: Belgium's bounding box (EPSG:4326): positions are plausible inside it when no territory
#: is given.
BELGIUM_BBOX = (2.5, 49.45, 6.45, 51.55)
#: Lambert 72 coordinates of Belgium are below this (m); Lambert 2008 ones above it.
LAMBERT2008_FROM_M = 400_000.0

NOTATIONS = ("decimal", "dms", "lambert72", "lambert2008")
CRS_NAMES = {WGS84: "WGS 84 (EPSG:4326)", LAMBERT72: "Lambert belge 72 (EPSG:31370)",
             LAMBERT2008: "Lambert belge 2008 (EPSG:3812)"}


@dataclass(frozen=True)
class Position:
    """A position read from text: ``lon``/``lat`` (EPSG:4326, degrees), the system it was
    written in (``crs``, an EPSG code), its ``notation`` (:data:`NOTATIONS`), the ``order``
    read (``lat_lon``, ``lon_lat``, ``x_y`` or ``y_x``), the two ``values`` as typed (numbers,
    degrees or metres) and the ``commune`` (``(nis_code, name_fr)``) it falls in, if known."""

    lon: float
    lat: float
    crs: int
    notation: str
    order: str
    values: tuple[float, float]
    commune: tuple[str, str] | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the position as JSON-ready data (``commune`` as ``{nis_code, name_fr}``)."""
        return {"lon": round(self.lon, 7), "lat": round(self.lat, 7), "crs": f"EPSG:{self.crs}",
                "notation": self.notation, "order": self.order, "values": list(self.values),
                "commune": None if self.commune is None else {"nis_code": self.commune[0], "name_fr": self.commune[1]}}

    def geometry(self) -> dict[str, Any]:
        """Return the position as a GeoJSON Point (EPSG:4326, 7 decimals, ~1 cm)."""
        return {"type": "Point", "coordinates": [round(self.lon, 7), round(self.lat, 7)]}


_QUOTES = str.maketrans({"′": "'", "’": "'", "‘": "'", "´": "'", "`": "'", "″": '"', "“": '"', "”": '"',
                         "˝": '"', "º": "°", "˚": "°", "\u00a0": " ", "\u202f": " ", "\u2009": " ", "−": "-",
                         "–": "-"})
_CRS_PATTERNS: tuple[tuple[re.Pattern[str], int | None], ...] = (
    (re.compile(r"\bepsg\s*[:=]?\s*([0-9]{4,5})\b"), None),
    (re.compile(r"\blambert\s*(?:belge\s*)?(?:19)?72\b"), LAMBERT72),
    (re.compile(r"\blambert\s*(?:belge\s*)?(?:20)?08\b"), LAMBERT2008),
    (re.compile(r"\bl\s?72\b"), LAMBERT72),
    (re.compile(r"\bl\s?(?:20)?08\b"), LAMBERT2008),
    (re.compile(r"\bwgs\s*-?\s*84\b"), WGS84),
)
_NUMBER = r"[-+]?[0-9]+(?:[.,][0-9]+)?"
_DMS = re.compile(
    rf"(?P<h1>[nsewo])?\s*(?P<deg>{_NUMBER})\s*°\s*(?:(?P<min>[0-9]+(?:[.,][0-9]+)?)\s*'\s*)?"
    r"(?:(?P<sec>[0-9]+(?:[.,][0-9]+)?)\s*\"\s*)?(?P<h2>[nsewo](?![a-z]))?")
_SEPARATORS = re.compile(r"[\s,;/:=()]+")
_TOKEN = re.compile(rf"(?P<num>{_NUMBER})|(?P<word>[a-zé]+)|(?P<sep>{_SEPARATORS.pattern})")
_LABELS = {"lat": "lat", "latitude": "lat", "lon": "lon", "lng": "lon", "long": "lon", "longitude": "lon",
           "x": "x", "y": "y"}
_HEMISPHERES = {"n": ("lat", 1), "nord": ("lat", 1), "s": ("lat", -1), "sud": ("lat", -1),
                "e": ("lon", 1), "est": ("lon", 1), "w": ("lon", -1), "o": ("lon", -1), "ouest": ("lon", -1),
                "noord": ("lat", 1), "zuid": ("lat", -1), "oost": ("lon", 1), "west": ("lon", -1)}
#: The same with ``O`` read as Dutch *oost* (east), which the pages write in Dutch.
_HEMISPHERES_OOST = {**_HEMISPHERES, "o": ("lon", 1)}
#: ``O`` standing as a hemisphere letter (not inside a word).
_LETTER_O = re.compile(r"(?<![a-zé])o(?![a-zé])")


def _unreadable(detail: str) -> GeosignalError:
    return GeosignalError("unreadable_coordinates", detail, where="coordinates")


def _non_finite(written: str) -> GeosignalError:
    """The one fault of a number that is not finite, typed as in any upload
    (:func:`geosignal.services.intake.numbers.non_finite_text`): ``non_finite_number``."""
    return GeosignalError("non_finite_number", f"{written!r} is not a finite number: type the position in digits",
                          where="coordinates", kind="typed", value=_shown(written))


def _float(text: str) -> float:
    return float(text.replace(",", "."))


class _Value:
    """One number read, with the axis a label or hemisphere letter gave it (``lat``, ``lon``,
    ``x``, ``y`` or None) and its sign."""

    def __init__(self, value: float) -> None:
        self.value = value
        self.axis: str | None = None
        self.hemisphere = False

    def give(self, axis: str, sign: int = 1, hemisphere: bool = False) -> None:
        if self.axis is not None and self.axis != axis:
            raise _unreadable("a value carries two contradicting axis marks")
        if hemisphere and self.value < 0:
            raise _unreadable("a value has both a minus sign and a letter N, S, E or W")
        self.axis = axis
        self.value *= sign
        self.hemisphere = self.hemisphere or hemisphere


def _explicit_crs(text: str) -> tuple[int | None, str]:
    """Return the system named in ``text`` (or None) and the text without that mention."""
    found: int | None = None
    for pattern, epsg in _CRS_PATTERNS:
        for m in list(pattern.finditer(text)):
            code = epsg if epsg is not None else int(m.group(1))
            if code not in CRS_NAMES:
                raise GeosignalError("unsupported_crs", f"EPSG:{code} is not accepted: WGS 84 (EPSG:4326), "
                                     "Lambert 72 (EPSG:31370) or Lambert 2008 (EPSG:3812)", where="coordinates")
            if found is not None and found != code:
                raise _unreadable("two different coordinate systems are named")
            found = code
        text = pattern.sub(" ", text)
    return found, text


def _rest_is_separators(text: str) -> bool:
    return re.fullmatch(r"[\s,;/]*", text) is not None


def _read_dms(text: str, hemispheres: dict[str, tuple[str, int]] = _HEMISPHERES) -> list[_Value]:
    values: list[_Value] = []
    position = 0
    rest = []
    while True:
        m = _DMS.search(text, position)
        while m is not None and "°" not in m.group(0):
            m = _DMS.search(text, m.end() + 1) if m.end() < len(text) else None
        if m is None:
            break
        end = m.end()
        h1, h2 = m.group("h1"), m.group("h2")
        if h1 and h2:  # "N 50° 24' E 4° 26'": the second letter opens the next value
            end, h2 = m.start("h2"), None
        rest.append(text[position:m.start()])
        position = end
        deg = _float(m.group("deg"))
        minutes = _float(m.group("min")) if m.group("min") else 0.0
        seconds = _float(m.group("sec")) if m.group("sec") else 0.0
        if minutes >= 60 or seconds >= 60:
            raise _unreadable("minutes and seconds must be below 60")
        if m.group("sec") and m.group("min") and not float(minutes).is_integer():
            raise _unreadable("decimal minutes cannot be followed by seconds")
        if (m.group("min") or m.group("sec")) and not float(deg).is_integer():
            raise _unreadable("decimal degrees cannot be followed by minutes")
        magnitude = abs(deg) + minutes / 60 + seconds / 3600
        value = _Value(-magnitude if m.group("deg").startswith("-") else magnitude)
        letter = h1 or h2
        if letter:
            axis, sign = hemispheres[letter]
            value.give(axis, sign, hemisphere=True)
        values.append(value)
    rest.append(text[position:])
    if not _rest_is_separators("".join(rest)):
        raise _unreadable("unrecognised text around the degrees, minutes and seconds")
    return values


def _read_decimal(text: str, hemispheres: dict[str, tuple[str, int]] = _HEMISPHERES) -> list[_Value]:
    values: list[_Value] = []
    pending: tuple[str, int, bool] | None = None
    last_sep = True
    position = 0
    for m in _TOKEN.finditer(text):
        if m.start() != position:
            raise _unreadable(f"unrecognised character: {text[position:m.start()]!r}")
        position = m.end()
        if m.group("sep"):
            last_sep = True
            continue
        if m.group("num"):
            value = _Value(_float(m.group("num")))
            if pending is not None:
                value.give(*pending[:2], hemisphere=pending[2])
                pending = None
            values.append(value)
            last_sep = False
            continue
        word = m.group("word")
        if word in _LABELS:
            pending = (_LABELS[word], 1, False)
        elif word in hemispheres:
            axis, sign = hemispheres[word]
            previous = values[-1] if values else None
            if previous is not None and previous.axis is None and pending is None and (not last_sep or word in "nsewo"):
                previous.give(axis, sign, hemisphere=True)
            else:
                pending = (axis, sign, True)
        else:
            raise _unreadable(f"unrecognised word: {word!r}")
        last_sep = False
    if position != len(text):
        raise _unreadable(f"unrecognised character: {text[position:]!r}")
    if pending is not None:
        raise _unreadable("an axis mark is followed by no number")
    # "155349,122215": one number with a comma stands for two whole numbers
    if len(values) == 1 and values[0].axis is None:
        raw = re.search(_NUMBER, text)
        if raw and raw.group(0).count(",") == 1 and "." not in raw.group(0):
            a, b = raw.group(0).split(",")
            values = [_Value(float(a)), _Value(float(b))]
    return values


def _candidates(a: _Value, b: _Value, crs: int) -> list[tuple[float, float, str]]:
    """Return the (x, y, order) readings of two values in ``crs`` that their labels allow."""
    first, second = ("lat", "lon") if crs == WGS84 else ("x", "y")
    axes = {a.axis, b.axis} - {None}
    if crs == WGS84 and axes & {"x", "y"}:
        raise _unreadable("x and y name Lambert coordinates, in metres")
    if crs != WGS84 and axes & {"lat", "lon"}:
        raise _unreadable("Lambert coordinates are metres (x, y), not latitude/longitude")
    if a.axis is not None and a.axis == b.axis:
        raise _unreadable(f"both values are given as {a.axis!r}")
    straight = (b.value, a.value, f"{first}_{second}") if crs == WGS84 else (a.value, b.value, "x_y")
    swapped = (a.value, b.value, f"{second}_{first}") if crs == WGS84 else (b.value, a.value, "y_x")
    if a.axis == first or b.axis == second:
        return [straight]
    if a.axis == second or b.axis == first:
        return [swapped]
    return [straight, swapped]


def _system(a: float, b: float, named: int | None) -> tuple[int, str]:
    if named is not None:
        notation = {WGS84: "decimal", LAMBERT72: "lambert72", LAMBERT2008: "lambert2008"}[named]
        return named, notation
    if abs(a) <= 180 and abs(b) <= 180:
        return WGS84, "decimal"
    if min(a, b) < 0:
        raise _unreadable("Lambert coordinates are positive")
    if min(a, b) < 1000:  # metres: every Belgian Lambert coordinate is far above
        raise _unreadable("these two numbers are neither degrees nor Belgian Lambert coordinates")
    if max(a, b) < LAMBERT2008_FROM_M:
        return LAMBERT72, "lambert72"
    if min(a, b) >= LAMBERT2008_FROM_M and max(a, b) < 1_000_000:
        return LAMBERT2008, "lambert2008"
    raise _unreadable("these two numbers are neither degrees nor Belgian Lambert coordinates")


def _readings(clean: str, named: int | None, commune_at: Callable[[float, float], tuple[str, str] | None] | None,
              hemispheres: dict[str, tuple[str, int]],
              near: Callable[[float, float], bool] | None = None) -> list[tuple[bool, Position]]:
    """The readings of ``clean`` (lowercase text, its system named or None) with the letters of
    ``hemispheres``: ``(plausible, Position)`` for each order the labels allow (in a commune
    served, or where ``near`` says yes: see :func:`parse_position`)."""
    values = _read_dms(clean, hemispheres) if "°" in clean else _read_decimal(clean, hemispheres)
    dms = "°" in clean
    if len(values) != 2:
        raise _unreadable(f"exactly two values are needed; {len(values)} read")
    a, b = values
    for v in values:
        if not math.isfinite(v.value):  # (degrees, minutes or seconds beyond any float)
            raise _non_finite(f"{v.value}")
    if dms and named not in (None, WGS84):
        raise _unreadable("degrees, minutes and seconds are WGS 84 coordinates, not Lambert")
    crs, notation = _system(a.value, b.value, WGS84 if dms else named)
    if dms:
        notation = "dms"
    readings = []
    for x, y, order in _candidates(a, b, crs):
        if crs == WGS84:
            if abs(y) > 90 or abs(x) > 180:
                continue
            lon, lat = x, y
        else:
            lon, lat = transformer(crs, WGS84).transform(x, y)
        if commune_at is not None:
            commune = commune_at(lon, lat)
            plausible = commune is not None or (near is not None and near(lon, lat))
        else:
            commune = None
            west, south, east, north = BELGIUM_BBOX
            plausible = west <= lon <= east and south <= lat <= north
        readings.append((plausible, Position(lon, lat, crs, notation, order, (a.value, b.value), commune)))
    return readings


def _ambiguous(kept: list[Position]) -> GeosignalError:
    error = GeosignalError(
        "ambiguous_coordinates", "these two numbers name a place served in both orders: "
        "say which (for example 'lat 50.41 lon 4.44' or 'x=… y=…')", where="coordinates",
        candidates=[p.as_dict() for p in kept])
    error.readings = tuple(kept)  # (the Positions themselves, for read_place to settle; not in the problem)
    return error


def parse_position(text: str, commune_at: Callable[[float, float], tuple[str, str] | None] | None = None,
                   own_commune: str | None = None, *, near: Callable[[float, float], bool] | None = None) -> Position:
    """Return the position written in ``text`` (see the module's notes for what is read).

    ``commune_at(lon, lat)`` (EPSG:4326) returns the ``(nis_code, name_fr)`` of the commune
    served at a position, or None (e.g. :meth:`ServiceArea.commune_at`); a reading is
    plausible when it returns a commune, or, given ``near(lon, lat)`` (for a position of a line
    or zone: whether it lies where such a shape may reach, within the service area's margin,
    :meth:`ServiceArea.within_margin`), when that says yes (the shape's rule is the intake's).
    Without ``commune_at``, a reading is plausible inside Belgium (:data:`BELGIUM_BBOX`) and
    ``commune`` stays None.

    Raises :class:`GeosignalError` ``unreadable_coordinates`` (no two numbers, unknown words,
    minutes ≥ 60, contradictory labels …), ``unsupported_crs`` (another EPSG code named),
    ``ambiguous_coordinates`` (both orders plausible; ``candidates`` lists them as
    :meth:`Position.as_dict`) or ``outside_service_area`` (no reading falls in a commune
    served; ``candidates`` lists the readings tried), ``non_finite_number`` (``NaN``,
    ``-Infinity``, ``1e400``: ``value`` the text typed, ``kind`` ``typed``). All with
    ``where="coordinates"``. Two readings in communes served, of which one only in ``own_commune`` (the NIS code of the
    commune the person files for): that one is taken, the answer's ``order`` saying which (with
    the 581 Belgian communes, both orders of most Lambert pairs fall in some commune).
    """
    if not isinstance(text, str) or not text.strip():
        raise _unreadable("type two coordinates, for example 50.4108, 4.4440")
    if len(text) > 200:
        raise _unreadable("the text is too long for coordinates")
    # (imported here: the intake imports this module)
    from geosignal.services.intake.numbers import non_finite_text

    for chunk in _SEPARATORS.split(unicodedata.normalize("NFC", text)):  # the one rule of every upload
        if chunk and non_finite_text(chunk):
            raise _non_finite(chunk)
    clean = unicodedata.normalize("NFC", text).translate(_QUOTES).lower().replace("''", '"').strip()
    named, clean = _explicit_crs(clean)
    readings = _readings(clean, named, commune_at, _HEMISPHERES, near)
    if _LETTER_O.search(clean):  # « O »: ouest (French) or oost (Dutch): both readings tried
        readings += _readings(clean, named, commune_at, _HEMISPHERES_OOST, near)
    kept: list[Position] = []
    for ok, p in readings:  # the same number twice: both orders are one place
        if ok and not any(abs(p.lon - q.lon) < 1e-9 and abs(p.lat - q.lat) < 1e-9 for q in kept):
            kept.append(p)
    own = [p for p in kept if own_commune is not None and p.commune is not None and p.commune[0] == own_commune]
    if len(kept) == 1 or len(own) == 1:
        return own[0] if len(own) == 1 else kept[0]
    if len(kept) > 1:
        raise _ambiguous(kept)
    if not readings:
        raise _unreadable("a latitude lies between -90 and 90")
    raise outside_refusal(readings, commune_at)


def outside_refusal(readings: list[tuple[bool, Position]],
                    commune_at: Callable[[float, float], tuple[str, str] | None] | None) -> GeosignalError:
    """Return the ``outside_service_area`` refusal of ``readings`` (``(plausible, Position)``,
    none in a commune served): ``candidates`` lists them; ``hint`` ``axes_swapped`` and
    ``swapped_commune`` when the one order read would lie in a commune the other way round
    (:func:`_swapped_hint`). Nothing is swapped."""
    detail, hint = (f"this point lies in none of the communes served (read as {CRS_NAMES[readings[0][1].crs]})",
                    _swapped_hint(readings, commune_at))
    if hint:
        detail += (f"; with its two values the other way round it would be in {hint['swapped_commune']['name']} "
                   f"(NIS {hint['swapped_commune']['nis_code']}): the axes look swapped. Nothing was swapped for you")
    if hint and readings[0][1].crs != WGS84:
        hint["axes_order"] = "x_y"  # metres: said x (easting) before y (northing)
    return GeosignalError("outside_service_area", detail, where="coordinates",
                          candidates=[p.as_dict() for _, p in readings], **hint)


def _swapped_hint(readings: list[tuple[bool, Position]],
                  commune_at: Callable[[float, float], tuple[str, str] | None] | None) -> dict[str, Any]:
    """``hint`` ``axes_swapped`` and ``swapped_commune`` (``{nis_code, name}``, as an upload's
    ``outside_service_area`` says them) when the one order read (labels or WKT fix it: ``lat 4.44
    lon 50.41``, ``POINT (50.41 4.44)``) lands outside the communes and the other order in one;
    else ``{}``. Nothing is swapped: the hint only says it."""
    if commune_at is None or len(readings) != 1:
        return {}
    p = readings[0][1]
    first, second = p.values if p.order in ("lon_lat", "x_y") else p.values[::-1]  # (x, y) as read
    if p.crs == WGS84:
        if abs(first) > 90:
            return {}
        lon, lat = second, first
    else:
        lon, lat = transformer(p.crs, WGS84).transform(second, first)
    commune = commune_at(lon, lat) if math.isfinite(lon) and math.isfinite(lat) else None
    if commune is None:
        return {}
    return {"hint": "axes_swapped", "swapped_commune": {"nis_code": commune[0], "name": commune[1]}}


# ------------------------------------------------------------------ several positions

#: What several typed positions make (``shape`` of :func:`read_place`): a road stretch (a
#: LineString, 2 positions or more) or a zone (a Polygon, 3 positions or more, closed here).
SHAPES = ("line", "zone")
#: Lines a typed place may have (blank ones included), and its characters: typed by hand.
MAX_TYPED_LINES = 1000
MAX_TYPED_CHARS = 50_000
#: WKT geometry types read in the coordinates field (the others come by file).
WKT_TYPES = ("Point", "LineString", "Polygon")
_WKT_START = re.compile(r"\s*(?:srid\s*=\s*[-+]?[0-9]+\s*;\s*)?(?:multi)?(?:point|linestring|polygon)\b|"
                        r"\s*(?:srid\s*=\s*[-+]?[0-9]+\s*;\s*)?geometrycollection\b", re.IGNORECASE)
#: A value shown back in a refusal: at most this many characters of the line.
_SHOWN = 80


@dataclass(frozen=True)
class Place:
    """A place typed in the coordinates field: its GeoJSON ``geometry`` (EPSG:4326, positions
    rounded to 7 decimals, ~1 cm), its ``shape`` (``point``, ``line`` or ``zone``), the
    ``positions`` read (one per typed line, or per WKT position, in order; a zone's closing
    position not repeated), its ``source`` (``lines`` or ``wkt``) and ``settled_lines``: the
    (1-based) lines whose order was ambiguous alone and was taken from the other lines'."""

    geometry: dict[str, Any]
    shape: str
    positions: tuple[Position, ...]
    source: str
    settled_lines: tuple[int, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Return the place as JSON-ready data; one position typed alone keeps the members of
        :meth:`Position.as_dict` (``lon``, ``lat``, ``notation``…) beside ``shape`` and ``geometry``."""
        out: dict[str, Any] = {"shape": self.shape, "geometry": self.geometry, "source": self.source,
                               "positions": [p.as_dict() for p in self.positions],
                               "settled_lines": list(self.settled_lines)}
        if self.shape == "point":
            out = {**self.positions[0].as_dict(), **out}
        return out


def _shown(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SHOWN else text[:_SHOWN - 1] + "…"


def _at(error: GeosignalError, kind: str, value: str, **at: int) -> GeosignalError:
    """``error`` again, naming the typed line (``line``) or WKT position (``position``) it is
    about, with the text read there (``value``) and the ``kind`` the pages' sentences use."""
    label = ", ".join(f"{name} {n}" for name, n in at.items())
    extra = {k: v for k, v in error.extra.items() if k not in ("kind", "value", *at)}
    located = GeosignalError(error.code, f"{label}: {error.detail}", where="coordinates", kind=kind,
                             value=_shown(value), **at, **extra)
    return located


def _rounded(p: Position) -> list[float]:
    return [round(p.lon, 7), round(p.lat, 7)]


def _same(p: Position, q: Position) -> bool:
    return _rounded(p) == _rounded(q)


def _settle(read: list[tuple[int, str, Position | GeosignalError]]) -> tuple[list[Position], tuple[int, ...]]:
    """The position of every line; a line whose two orders both fall in a commune served takes
    the order every unambiguous line of its system was read in, when they all agree (said in
    ``settled``); otherwise it is asked (``ambiguous_coordinates`` naming its line)."""
    orders: dict[int, set[str]] = {}
    for _n, _text, p in read:
        if isinstance(p, Position):
            orders.setdefault(p.crs, set()).add(p.order)
    out: list[Position] = []
    settled: list[int] = []
    for n, text, p in read:
        if isinstance(p, Position):
            out.append(p)
            continue
        readings = getattr(p, "readings", ())
        crs_orders = orders.get(readings[0].crs, set()) if readings else set()
        fit = [r for r in readings if len(crs_orders) == 1 and r.order in crs_orders]
        if len(fit) != 1:
            raise _at(p, "typed_line", text, line=n)
        out.append(fit[0])
        settled.append(n)
    return out, tuple(settled)


def _read_lines(text: str, commune_at: Callable[[float, float], tuple[str, str] | None] | None,
                own_commune: str | None, shape: str | None, near: Callable[[float, float], bool] | None) -> Place:
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if len(lines) == 1:
        position = parse_position(lines[0][1], commune_at, own_commune)
        return Place(position.geometry(), "point", (position,), "lines")
    read: list[tuple[int, str, Position | GeosignalError]] = []
    for n, line in lines:
        try:
            read.append((n, line, parse_position(line, commune_at, own_commune, near=near)))
        except GeosignalError as error:
            if error.code != "ambiguous_coordinates":
                raise _at(error, "typed_line", line, line=n) from None
            read.append((n, line, error))
    positions, settled = _settle(read)
    shape = shape or ("line" if len(positions) == 2 else "zone")
    if shape == "line":
        return Place({"type": "LineString", "coordinates": [_rounded(p) for p in positions]}, "line",
                     tuple(positions), "lines", settled)
    if len(positions) > 1 and _same(positions[-1], positions[0]):  # closed by the person: fine
        positions = positions[:-1]
    if len(positions) < 3:
        raise GeosignalError("ring_too_short", f"a zone needs 3 positions or more, one per line; {len(positions)} "
                             "read (a closing position equal to the first is not counted)", where="coordinates",
                             kind="typed_zone", count=len(positions))
    ring = [_rounded(p) for p in positions]
    return Place({"type": "Polygon", "coordinates": [[*ring, ring[0]]]}, "zone", tuple(positions), "lines", settled)


def _read_wkt(text: str, commune_at: Callable[[float, float], tuple[str, str] | None] | None,
              own_commune: str | None, near: Callable[[float, float], bool] | None) -> Place:
    from geosignal.services.intake.wkt import WktSyntaxError, parse_wkt

    try:
        raw, srid = parse_wkt(text.strip())
    except WktSyntaxError as exc:
        raise GeosignalError("unreadable_coordinates", f"WKT: {exc}", where="coordinates", kind="typed_wkt",
                             character=exc.character) from None
    if raw["type"] not in WKT_TYPES:
        raise GeosignalError("unreadable_coordinates", f"WKT {raw['type']}: only POINT, LINESTRING or POLYGON is "
                             "read here; send other geometries as a file", where="coordinates", kind="wkt_type",
                             wkt_type=raw["type"])
    if srid is not None and srid not in CRS_NAMES:
        raise GeosignalError("unsupported_crs", f"SRID={srid} is not accepted: WGS 84 (4326), Lambert 72 (31370) "
                             "or Lambert 2008 (3812)", where="coordinates")
    counter = 0

    def position(xy: list[float]) -> list[float]:
        nonlocal counter
        counter += 1
        x, y = xy[0], xy[1]
        for value in (x, y):
            if isinstance(value, int) and abs(value) > 10 ** 308:  # (the WKT reader keeps such an integer whole)
                raise _at(_unreadable(f"a number of {len(str(abs(value))):,} digits is far too large for a "
                                      "coordinate"), "wkt_position", f"{str(value)[:12]}…", position=counter)
        if srid is None and abs(x) <= 180 and abs(y) <= 90:
            written = f"lon {x!r} lat {y!r}"  # WKT writes x first: the longitude
        elif srid == WGS84:
            written = f"EPSG:4326 lon {x!r} lat {y!r}"
        else:
            written = (f"EPSG:{srid} " if srid else "") + f"x={x!r} y={y!r}"
        try:
            read = parse_position(written, commune_at, own_commune, near=None if raw["type"] == "Point" else near)
        except GeosignalError as error:
            raise _at(error, "wkt_position", f"{x:g} {y:g}", position=counter) from None
        positions.append(read)
        return _rounded(read)

    positions: list[Position] = []
    coords = raw["coordinates"]
    if not coords:
        raise GeosignalError("empty_geometry", f"WKT {raw['type']} EMPTY has no position", where="coordinates")
    if raw["type"] == "Point":
        geometry = {"type": "Point", "coordinates": position(coords)}
    elif raw["type"] == "LineString":
        geometry = {"type": "LineString", "coordinates": [position(p) for p in coords]}
    else:
        geometry = {"type": "Polygon", "coordinates": [[position(p) for p in ring] for ring in coords]}
    # what is no GeoJSON geometry is not shown as one (the intake would refuse it as these)
    if raw["type"] == "LineString" and len(geometry["coordinates"]) < 2:
        raise GeosignalError("line_too_short", "a LINESTRING needs 2 positions or more; 1 read", where="coordinates",
                             kind="typed_wkt", count=1)
    if raw["type"] == "Polygon":
        for k, ring in enumerate(geometry["coordinates"]):
            if len(ring) < 4:
                raise GeosignalError("ring_too_short", f"ring {k + 1} of the POLYGON has {len(ring)} positions; a "
                                     "ring needs 4 or more, the last equal to the first", where="coordinates",
                                     kind="typed_wkt", ring=k + 1, count=len(ring))
    shape = {"Point": "point", "LineString": "line", "Polygon": "zone"}[raw["type"]]
    return Place(geometry, shape, tuple(positions), "wkt")


def read_place(text: str, commune_at: Callable[[float, float], tuple[str, str] | None] | None = None,
               own_commune: str | None = None, shape: str | None = None,
               near: Callable[[float, float], bool] | None = None) -> Place:
    """Return the place typed in the coordinates field (``text``): a :class:`Place` whose
    ``geometry`` is GeoJSON in EPSG:4326.

    * One position (one non-blank line): read by :func:`parse_position` exactly (its errors
      unchanged), a Point.
    * Several lines, one position each (every notation :func:`parse_position` reads; blank
      lines skipped but counted): a road stretch (``shape="line"``, a LineString, 2 positions
      or more) or a zone (``shape="zone"``, a Polygon of 3 positions or more, its ring closed
      here; a last position equal to the first is the closing one). Without ``shape``: a line
      for 2 positions, a zone for more.
    * WKT (or EWKT with ``SRID=4326|31370|3812;``) ``POINT``, ``LINESTRING`` or ``POLYGON``:
      x first (longitude, or Lambert x); without a SRID, degrees or Lambert 72/2008 metres by
      their size. Rings are taken as written (not closed here: the intake says
      ``ring_not_closed``).

    The geometry's own checks (self-intersection, areas, commune…) are the intake's, as for a
    drawn shape: a position of a line or zone outside the communes where ``near`` says such a
    shape may reach (:meth:`ServiceArea.within_margin`) is read as one drawn there would be.
    Raises :class:`GeosignalError`, all with ``where="coordinates"``: the codes of
    :func:`parse_position`, with ``line`` (the typed line, 1-based), ``value`` (its text) and
    ``kind="typed_line"`` when several lines are typed, or ``position`` (1-based, in the
    order written) and ``kind="wkt_position"`` for WKT; ``ambiguous_coordinates`` for a line
    whose two orders fall in a commune served unless every unambiguous line of its system was
    read in one same order, then taken (``Place.settled_lines``: never a silent swap);
    ``ring_too_short`` (``kind="typed_zone"``, ``count``) for a zone of fewer than 3
    positions, or (``kind="typed_wkt"``, ``ring``, ``count``) a WKT ring of fewer than 4;
    ``line_too_short`` (``kind="typed_wkt"``) for a WKT LINESTRING of one position; ``unreadable_coordinates`` for WKT that cannot be read (``kind="typed_wkt"``,
    ``character``) or of another type (``kind="wkt_type"``), and for a text of more than
    :data:`MAX_TYPED_LINES` lines (``kind="too_many_lines"``); ``unsupported_crs`` for
    another SRID; ``empty_geometry`` for WKT ``EMPTY``; ``invalid_request``
    (``where="coordinates_shape"``) for a ``shape`` not in :data:`SHAPES`.
    """
    if shape is not None and shape not in SHAPES:
        raise GeosignalError("invalid_request", f"coordinates_shape is 'line' or 'zone', not {shape[:40]!r}",
                             where="coordinates_shape")
    if not isinstance(text, str) or not text.strip():
        raise _unreadable("type two coordinates, for example 50.4108, 4.4440")
    # lines as they are read (str.splitlines: CR, U+2028, VT… end a line too, not only LF)
    if len(text) > MAX_TYPED_CHARS or len(text.splitlines()) > MAX_TYPED_LINES:
        raise GeosignalError("unreadable_coordinates", f"at most {MAX_TYPED_LINES} lines can be typed; send a "
                             "longer shape as a file", where="coordinates", kind="too_many_lines",
                             limit=MAX_TYPED_LINES)
    if _WKT_START.match(text):
        return _read_wkt(text, commune_at, own_commune, near)
    return _read_lines(text, commune_at, own_commune, shape, near)


#: Positions the edit page writes in its coordinates field: a shape with more is left to the
#: map (the field then empty, with a hint), as nobody retypes a long outline.
MAX_PREFILLED_POSITIONS = 20


def _degrees(value: float) -> str:
    return f"{value:.7f}".rstrip("0").rstrip(".")


def typed_positions(geometry: dict[str, Any] | None, limit: int = MAX_PREFILLED_POSITIONS) -> tuple[str, str] | None:
    """Return how a stored GeoJSON ``geometry`` (EPSG:4326) is written in the coordinates
    field: ``(text, shape)``, one ``lat, lon`` per line (7 decimals at most, ~1 cm; a zone's
    closing position not repeated) and ``point``, ``line`` or ``zone`` — what
    :func:`read_place` reads back into the same shape. None for a shape of more than ``limit``
    positions, with holes or of several parts (a one-part Multi* is its part)."""
    if not geometry:
        return None
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    if kind in ("MultiPoint", "MultiLineString", "MultiPolygon") and len(coords or []) == 1:
        kind, coords = kind[5:], coords[0]
    if kind == "Point":
        positions, shape = [coords], "point"
    elif kind == "LineString":
        positions, shape = coords, "line"
    elif kind == "Polygon" and len(coords) == 1:
        positions, shape = coords[0][:-1] if coords[0][0] == coords[0][-1] else coords[0], "zone"
    else:
        return None
    if not positions or len(positions) > limit:
        return None
    return "\n".join(f"{_degrees(p[1])}, {_degrees(p[0])}" for p in positions), shape
