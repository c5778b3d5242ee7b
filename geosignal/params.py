"""Parsing of parameters shared by the API, the OGC API, the pages and the CLI."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from sqlalchemy import text

from geosignal.errors import GeosignalError

BBox = tuple[float, float, float, float]


def parse_bbox(raw: str | None, *, required: bool = False) -> BBox | None:
    """Parse ``min_lon,min_lat,max_lon,max_lat`` in degrees (EPSG:4326).

    Returns None for an empty value unless ``required``. Raises ``invalid_request`` (400,
    ``where="bbox"``) when malformed, empty or outside the WGS 84 ranges.
    """
    if not raw:
        if required:
            raise GeosignalError("invalid_request", "bbox is required: min_lon,min_lat,max_lon,max_lat",
                                 where="bbox")
        return None
    try:
        parts = tuple(float(p) for p in raw.split(","))
    except ValueError:
        parts = ()
    if (len(parts) != 4 or not (parts[0] < parts[2] and parts[1] < parts[3])
            or not (-180 <= parts[0] and parts[2] <= 180 and -90 <= parts[1] and parts[3] <= 90)):
        raise GeosignalError("invalid_request", "bbox is min_lon,min_lat,max_lon,max_lat in degrees (EPSG:4326)",
                             where="bbox")
    return parts  # type: ignore[return-value]


def bbox_clause(bbox: BBox, params: dict[str, object], geometry: str = "r.geometry") -> str:
    """Return the SQL condition "``geometry`` intersects ``bbox``" (EPSG:4326) and put its
    bound values (``x0``, ``y0``, ``x1``, ``y1``) in ``params``."""
    params.update(zip(("x0", "y0", "x1", "y1"), bbox, strict=True))
    return f"ST_Intersects({geometry}, ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326))"


def parse_commune(session: Any, raw: str | None, *, where: str = "commune") -> str | None:
    """Return the NIS code ``raw`` names when a commune with it is loaded, else refuse it.

    ``session``: a SQLAlchemy session (one query, by primary key). Returns None for an absent
    or empty value (no filter). Surrounding spaces are ignored; nothing else is rewritten.

    Raises 422 ``unknown_commune`` (``where``, ``value``) for any other value: malformed or
    not a loaded commune's NIS code. Every ``commune`` filter (API, exports, stats, pages,
    CLI) goes through here, so an unknown code never silently matches nothing.
    """
    if raw is None or not str(raw).strip():
        return None
    nis = str(raw).strip()
    known = len(nis) <= 20 and nis.isprintable() and session.execute(
        text("SELECT 1 FROM communes WHERE nis_code = :nis"), {"nis": nis}).first() is not None
    if not known:
        shown = nis if len(nis) <= 20 else nis[:19] + "…"
        raise GeosignalError("unknown_commune", f"No commune with the NIS code {shown!r} is loaded (a NIS code is "
                             "5 digits, e.g. 52011 for Charleroi).", where=where, value=shown)
    return nis


#: The days a filter may name (a period's end is read as the start of the next day: 9999-12-31
#: has none).
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)


def parse_day(raw: str | None, *, where: str) -> date | None:
    """Parse a calendar day ``YYYY-MM-DD`` (a Brussels day; the caller decides its bounds).

    Returns None for an empty value. Raises ``invalid_request`` (400, ``where``) for anything
    else that is not a date from :data:`FIRST_DAY` to :data:`LAST_DAY`.
    """
    value = (raw or "").strip()
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise GeosignalError("invalid_request", f"{where} must be a date YYYY-MM-DD", where=where) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise GeosignalError("invalid_request", f"{where} must be a day from {FIRST_DAY} to {LAST_DAY}; got {value}",
                             where=where)
    return day


def number_as_float(value: Any) -> float:
    """A JSON number as a float: NaN for anything that is not one (text, a boolean, None…),
    infinity for an integer too large for a float (JSON allows hundreds of digits; ``float()``
    raises ``OverflowError``). Callers refuse what is not finite."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    try:
        return float(value)
    except OverflowError:
        return math.inf
