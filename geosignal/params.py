"""Parsing of parameters shared by the API, the OGC API, the pages and the CLI."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import text

from geosignal import formparse
from geosignal.errors import GeosignalError

BBox = tuple[float, float, float, float]

#: The largest whole number a parameter may carry (PostgreSQL ``bigint``).
MAX_BIGINT = 2**63 - 1
#: The largest PostgreSQL ``integer`` (ids of users and tokens): a larger id in a URL is no
#: such row (404), not a database error.
MAX_INT = 2**31 - 1


#: A decimal number as a query string writes it: ASCII digits, a point, an optional sign.
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)


def parse_bbox(raw: str | None, *, required: bool = False, heights: bool = False) -> BBox | None:
    """Parse ``min_lon,min_lat,max_lon,max_lat`` in degrees (EPSG:4326); with ``heights`` (the
    OGC API: Features Part 1 core's ``bbox``) also ``min_lon,min_lat,min_z,max_lon,max_lat,max_z``,
    whose heights (any unit) must not be inverted and are otherwise ignored (geometries are 2D).

    Returns the 2D box, or None for an empty value unless ``required``. Raises
    ``invalid_request`` (400, ``where="bbox"``) when malformed, empty, inverted or outside the
    WGS 84 ranges.
    """
    shape = "min_lon,min_lat,max_lon,max_lat" + (" or min_lon,min_lat,min_z,max_lon,max_lat,max_z" if heights else "")
    if not raw:
        if required:
            raise GeosignalError("invalid_request", f"bbox is required: {shape}", where="bbox")
        return None
    # decimal numbers in ASCII digits (float() also reads "５", "4_4", "nan" and "1e400")
    texts = raw.split(",")
    parts = tuple(float(p) for p in texts) if all(_DECIMAL.fullmatch(p.strip()) for p in texts) else ()
    if heights and len(parts) == 6:
        if parts[2] > parts[5]:
            raise GeosignalError("invalid_request", f"bbox is {shape}: min_z is above max_z", where="bbox")
        parts = (parts[0], parts[1], parts[3], parts[4])
    if (len(parts) != 4 or not (parts[0] < parts[2] and parts[1] < parts[3])
            or not (-180 <= parts[0] and parts[2] <= 180 and -90 <= parts[1] and parts[3] <= 90)):
        raise GeosignalError("invalid_request", f"bbox is {shape} in degrees (EPSG:4326)", where="bbox")
    return parts  # type: ignore[return-value]


def bbox_clause(bbox: BBox, params: dict[str, object], geometry: str = "r.geometry") -> str:
    """Return the SQL condition "``geometry`` intersects ``bbox``" (EPSG:4326) and put its
    bound values (``x0``, ``y0``, ``x1``, ``y1``) in ``params``."""
    params.update(zip(("x0", "y0", "x1", "y1"), bbox, strict=True))
    return f"ST_Intersects({geometry}, ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326))"


#: The longest text a query parameter naming a thing may hold (an e-mail address has at most
#: 254 characters).
MAX_PARAMETER_TEXT = 254


def is_plain_text(value: str, max_length: int = MAX_PARAMETER_TEXT) -> bool:
    """Whether ``value`` may go to SQL as a request's parameter: at most ``max_length``
    characters, each printable (:meth:`str.isprintable`: no NUL, which PostgreSQL text cannot
    hold, no other control, no invisible format character or separator but the space).

    The one rule for every request string that reaches a query (:func:`text_parameter`,
    :func:`parse_commune`, a commune's NIS code in a path); a value failing it is refused
    before any SQL runs."""
    return len(value) <= max_length and value.isprintable()


def text_parameter(raw: str | None, *, where: str, max_length: int = MAX_PARAMETER_TEXT) -> str | None:
    """Return the text of the query parameter ``where`` as given (None when absent or empty),
    once :func:`is_plain_text` accepts it.

    Raises ``invalid_request`` (400, ``where``) otherwise: ``kind="control_character"`` with
    ``character`` (``U+0000``) and ``position`` (0-based) for a character that is not
    printable, ``kind="parameter_too_long"`` with ``limit`` for a text longer than
    ``max_length`` characters."""
    if not raw:
        return None
    if is_plain_text(raw, max_length):
        return raw
    bad = next((i for i, c in enumerate(raw) if not c.isprintable()), None)
    if bad is not None:
        character = f"U+{ord(raw[bad]):04X}"
        raise GeosignalError("invalid_request", f"{where} holds the character {character} at position {bad} (a "
                             "control or invisible character): send printable text", where=where,
                             kind="control_character", character=character, position=bad)
    raise GeosignalError("invalid_request", f"{where} is printable text of at most {max_length} characters",
                         where=where, kind="parameter_too_long", limit=max_length)


def parse_commune(session: Any, raw: str | None, *, where: str = "commune") -> str | None:
    """Return the NIS code ``raw`` names when a commune with it is loaded, else refuse it.

    ``session``: a SQLAlchemy session (one query, by primary key). Returns None for an absent
    or empty value (no filter). Surrounding spaces (U+0020) are ignored; nothing else is
    rewritten (a tab, a line break or a no-break space around the code is no NIS code, as in a
    path: Python's ``strip`` took them off).

    Raises 422 ``unknown_commune`` (``where``, ``value``) for any other value: malformed or
    not a loaded commune's NIS code. Every ``commune`` filter (API, exports, stats, pages,
    CLI) goes through here, so an unknown code never silently matches nothing.
    """
    if raw is None or not str(raw).strip(" "):
        return None
    nis = str(raw).strip(" ")
    known = is_plain_text(nis, 20) and session.execute(
        text("SELECT 1 FROM communes WHERE nis_code = :nis"), {"nis": nis}).first() is not None
    if not known:
        shown = nis if len(nis) <= 20 else nis[:19] + "…"
        raise GeosignalError("unknown_commune", f"No commune with the NIS code {shown!r} is loaded (a NIS code is "
                             "5 digits, e.g. 52011 for Charleroi).", where=where, value=shown)
    return nis


#: The days a filter may name (a period's end is read as the start of the next day: 9999-12-31
#: has none).
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)


#: A calendar day as filters write it, ``YYYY-MM-DD`` in ASCII digits. Python's
#: ``date.fromisoformat`` also reads ISO 8601's week dates (``2026-W01-1``, which is 29 December
#: 2025) and its basic form (``20260101``): a filter "from 2026" read that way counted days of 2025.
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def parse_day(raw: str | None, *, where: str) -> date | None:
    """Parse a calendar day ``YYYY-MM-DD`` (a Brussels day; the caller decides its bounds).

    Returns None for an empty value. Raises ``invalid_request`` (400, ``where``) for anything
    else that is not a date from :data:`FIRST_DAY` to :data:`LAST_DAY` (a week date
    ``2026-W01-1``, the basic form ``20260101``: see :data:`ISO_DAY`).
    """
    value = (raw or "").strip()
    if not value:
        return None
    try:
        if not ISO_DAY.fullmatch(value):
            raise ValueError(value)
        day = date.fromisoformat(value)
    except ValueError:
        raise GeosignalError("invalid_request", f"{where} must be a date YYYY-MM-DD", where=where) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise GeosignalError("invalid_request", f"{where} must be a day from {FIRST_DAY} to {LAST_DAY}; got {value}",
                             where=where)
    return day


def in_utc(moment: datetime, *, where: str) -> datetime:
    """Return ``moment`` (an aware date-time a request gave) as the same instant in UTC.

    Python reads offsets PostgreSQL's text input refuses (``+16:00``, ``-23:59``, seconds and
    their fractions: ``+01:00:30.5``): bound in text, such a value failed in the database,
    mid-stream for an export already answering 200. Raises ``invalid_request`` (400,
    ``where``) for an instant outside the years 1–9999 in UTC (``9999-12-31T23:00-10:00``)."""
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise GeosignalError("invalid_request", f"{where} is outside the years 1 to 9999 in UTC",
                             where=where) from None


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


def whole_number(raw: str | None, *, maximum: int = MAX_BIGINT) -> int | None:
    """``raw`` as a whole number from 0 to ``maximum`` written in ASCII digits
    (:func:`geosignal.formparse.whole_number`, the one rule for forms and query strings:
    Python's ``int()`` also reads ``1_000``, ``+7`` and other scripts' digits, and
    ``str.isdigit`` passes superscripts); None for anything else."""
    value = formparse.whole_number(raw, max_digits=len(str(maximum)))
    return value if value is not None and value <= maximum else None


def check_query(args: Any, accepted: set[str] | None) -> None:
    """Refuse a query string that does not say one thing: a parameter given more than once
    (which value is meant?), and, when ``accepted`` is given (the parameters an endpoint
    declares, :data:`geosignal.services.openapi.QUERY_PARAMETERS`), a parameter the endpoint
    does not take (a misspelt filter would otherwise answer for everything: ``statut=validated``).

    ``args`` is a multi-dict (``request.args``). Raises ``invalid_request`` (400) with ``where``
    the parameter's name.
    """
    for name in args:
        if len(args.getlist(name)) > 1:
            raise GeosignalError("invalid_request", f"{name} is given more than once: send it once", where=name)
    if accepted is None:
        return
    for name in args:
        if name not in accepted:
            takes = ", ".join(sorted(accepted)) if accepted else "no query parameter"
            raise GeosignalError("invalid_request", f"{name!r} is not a parameter of this endpoint (it takes {takes})",
                                 where=name)


#: Query parameters every API and OGC endpoint takes besides its own.
GLOBAL_QUERY_PARAMETERS: frozenset[str] = frozenset()
#: API endpoints that check their query string themselves, with their form fields (an
#: upload's options may come in either).
SELF_CHECKED_QUERY: frozenset[str] = frozenset({"imports.post_import"})


def init_query_checks(app: Any) -> None:
    """Check every request's query string (:func:`check_query`) before its view runs: on every
    route, a parameter given twice; on every request of the API and the OGC API (reads and
    writes: ``POST /api/v1/reports?dry_run=true`` would otherwise store the report it was
    meant to try), a parameter the endpoint does not declare in the OpenAPI document
    (:data:`geosignal.services.openapi.QUERY_PARAMETERS`; OGC API Features requires a 400),
    except on the endpoints of :data:`SELF_CHECKED_QUERY` (which check their query string with
    their form)."""
    from flask import request

    from geosignal.services.openapi import QUERY_PARAMETERS

    accepted = {endpoint: frozenset(p["name"] for p in params) | GLOBAL_QUERY_PARAMETERS
                for endpoint, params in QUERY_PARAMETERS.items()}

    @app.before_request
    def _check_query() -> None:
        declared = None
        if (request.endpoint and request.endpoint not in SELF_CHECKED_QUERY
                and request.path.startswith(("/api/", "/ogc"))):
            declared = accepted.get(request.endpoint, GLOBAL_QUERY_PARAMETERS)
        check_query(request.args, declared)
