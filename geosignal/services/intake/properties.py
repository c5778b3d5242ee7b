"""Report properties: strict validation for the JSON API, lenient coercion for files,
and observation times."""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from geosignal import contract, vocab
from geosignal.errors import GeosignalError

BRUSSELS = ZoneInfo("Europe/Brussels")
#: Limits of the contract (:mod:`geosignal.contract`), named here for the intake's callers.
MAX_DESCRIPTION_CHARS = contract.MAX_DESCRIPTION_CHARS
MAX_COUNT = contract.MAX_COUNT  # households/businesses: beyond this the value is a typo
#: How far ahead of now an observation time may be (clock skew, time zones).
FUTURE_TOLERANCE = timedelta(hours=12)

#: Property names a report may carry (API names): the contract's writable properties.
REPORT_PROPERTIES: tuple[str, ...] = contract.names(contract.INPUT)


def _fail(code: str, detail: str, where: str, **extra: Any) -> GeosignalError:
    return GeosignalError(code, detail, where=where, **extra)


def _vocab_value(value: Any, allowed: tuple[str, ...], where: str, name: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise _fail(
            "invalid_attribute",
            f"{name} must be one of {', '.join(allowed)}; got {value!r}.",
            where,
            allowed=list(allowed),
        )
    return value


def _vocab_list(value: Any, allowed: tuple[str, ...], where: str, name: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise _fail("invalid_attribute", f"{name} must be a list of strings.", where)
    out: list[str] = []
    for i, item in enumerate(value):
        v = _vocab_value(item, allowed, f"{where}/{i}", name)
        if v not in out:
            out.append(v)
    return out


def _count(value: Any, where: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail("invalid_attribute", f"{name} must be a whole number ≥ 0; got {value!r}.", where)
    if value < 0 or value > MAX_COUNT:
        raise _fail("invalid_attribute", f"{name} must be between 0 and {MAX_COUNT}; got {value}.", where)
    return value


def validate_properties(
    props: dict | None,
    *,
    where_prefix: str = "/properties",
    require_network: bool = True,
) -> dict[str, Any]:
    """Validate and normalise report properties (strict: the JSON API's rules).

    Returns a new dict holding only the known, non-null properties:
    ``network`` (str in ``vocab.NETWORKS``), ``technologies``/``operators`` (lists, a single
    string becomes a one-item list, duplicates removed), ``issue``, ``setting``,
    ``households_affected``/``businesses_affected`` (int, 0…1,000,000; floats, strings and
    booleans refused), ``description`` (NFC-normalised, otherwise unchanged, ≤ 5000 chars, no
    NUL), ``observed_at`` (aware datetime, see :func:`parse_observed_at`) and ``radius`` (m,
    finite number > 0). Unknown properties are ignored; a ``null`` counts as absent.

    Raises ``GeosignalError`` 422 ``invalid_attribute`` / ``invalid_datetime`` /
    ``ambiguous_local_time`` with ``where`` = ``{where_prefix}/{name}``.
    """
    if props is None:
        props = {}
    if not isinstance(props, dict):
        raise _fail("invalid_geojson", "properties must be an object or null.", where_prefix or "/")
    out: dict[str, Any] = {}
    p = where_prefix

    def get(name: str) -> Any:
        return props.get(name)

    if get("network") is not None:
        out["network"] = _vocab_value(get("network"), vocab.NETWORKS, f"{p}/network", "network")
    elif require_network:
        raise _fail(
            "invalid_attribute",
            f"network is required (one of {', '.join(vocab.NETWORKS)}).",
            f"{p}/network",
            allowed=list(vocab.NETWORKS),
        )
    if get("technologies") is not None:
        out["technologies"] = _vocab_list(
            get("technologies"), vocab.TECHNOLOGIES, f"{p}/technologies", "technologies"
        )
    if get("operators") is not None:
        out["operators"] = _vocab_list(get("operators"), vocab.OPERATORS, f"{p}/operators", "operators")
    if get("issue") is not None:
        out["issue"] = _vocab_value(get("issue"), vocab.ISSUES, f"{p}/issue", "issue")
    if get("setting") is not None:
        out["setting"] = _vocab_value(get("setting"), vocab.SETTINGS, f"{p}/setting", "setting")
    for name in ("households_affected", "businesses_affected"):
        if get(name) is not None:
            out[name] = _count(get(name), f"{p}/{name}", name)
    if get("description") is not None:
        d = get("description")
        if not isinstance(d, str):
            raise _fail("invalid_attribute", "description must be text.", f"{p}/description")
        d = unicodedata.normalize("NFC", d)
        if len(d) > MAX_DESCRIPTION_CHARS:
            raise _fail(
                "invalid_attribute",
                f"description has {len(d)} characters; the maximum is {MAX_DESCRIPTION_CHARS}.",
                f"{p}/description",
                value=len(d),
                limit=MAX_DESCRIPTION_CHARS,
            )
        if "\x00" in d:
            raise _fail("invalid_attribute", "description contains a NUL character.", f"{p}/description")
        out["description"] = d
    if get("observed_at") is not None:
        out["observed_at"] = parse_observed_at(get("observed_at"), where=f"{p}/observed_at")
    if get("radius") is not None:
        r = get("radius")
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not math.isfinite(r) or r <= 0:
            raise _fail("invalid_attribute", f"radius must be a number of metres > 0; got {r!r}.", f"{p}/radius")
        out["radius"] = float(r)
    return out


# --------------------------------------------------------------------------- time

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DAY_FIRST = re.compile(
    r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(?:[ T](\d{1,2})[:h](\d{2})(?::(\d{2}))?)?$"
)


def _localize(naive: datetime, where: str, original: str) -> datetime:
    """Attach Europe/Brussels to a naive wall time, refusing gap and overlap times."""
    fold0 = naive.replace(tzinfo=BRUSSELS, fold=0)
    fold1 = naive.replace(tzinfo=BRUSSELS, fold=1)
    if fold0.utcoffset() != fold1.utcoffset():
        # either the time occurs twice (overlap) or never (gap): round-trip tells which
        roundtrip = fold0.astimezone(UTC).astimezone(BRUSSELS).replace(tzinfo=None)
        kind = "does not exist (clocks jump forward)" if roundtrip != naive else "occurs twice (clocks go back)"
        raise _fail(
            "ambiguous_local_time",
            f"{original!r} {kind} in Europe/Brussels; give an offset, e.g. +01:00 or +02:00, or use Z.",
            where,
            value=original,
        )
    return fold0


def parse_observed_at(value: str | None, *, where: str, day_first: bool = False) -> datetime | None:
    """Parse an observation time into an aware datetime (or None for None / empty text).

    Accepted: ISO 8601 with an offset or ``Z`` (kept as given); a naive ISO date-time, read as
    Europe/Brussels wall time; a date ``YYYY-MM-DD`` → 00:00 Europe/Brussels that day. With
    ``day_first=True`` (files only) also ``DD/MM/YYYY`` (or ``.``/``-``), optionally followed by
    ``HH:MM[:SS]``, read as Brussels time.

    Raises 422 ``invalid_datetime`` when unreadable or in the future (an observation cannot
    be; :data:`FUTURE_TOLERANCE` allows for clocks a little ahead), ``ambiguous_local_time``
    when a naive time falls in the spring-forward gap or the autumn overlap (an offset is
    then required).
    """
    parsed = _parse_observed_at(value, where=where, day_first=day_first)
    if parsed is not None and parsed > datetime.now(UTC) + FUTURE_TOLERANCE:
        raise _fail("invalid_datetime", f"observed_at {value!r} is in the future.", where)
    return parsed


def _parse_observed_at(value: str | None, *, where: str, day_first: bool = False) -> datetime | None:
    """Parse an observation time into an aware datetime (or None for None / empty text).

    Accepted: ISO 8601 with an offset or ``Z`` (kept as given); a naive ISO date-time, read as
    Europe/Brussels wall time; a date ``YYYY-MM-DD`` → 00:00 Europe/Brussels that day. With
    ``day_first=True`` (files only) also ``DD/MM/YYYY`` (or ``.``/``-``), optionally followed by
    ``HH:MM[:SS]``, read as Brussels time.

    Raises 422 ``invalid_datetime`` when unreadable, ``ambiguous_local_time`` when a naive time
    falls in the spring-forward gap or the autumn overlap (an offset is then required).
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else _localize(value, where, value.isoformat())
    if not isinstance(value, str):
        raise _fail("invalid_datetime", f"observed_at must be an ISO 8601 string; got {value!r}.", where)
    text = value.strip()
    if not text:
        return None
    if _DATE_ONLY.match(text):
        try:
            d = date.fromisoformat(text)
        except ValueError:
            raise _fail("invalid_datetime", f"{value!r} is not a valid date.", where) from None
        return _localize(datetime.combine(d, time(0, 0)), where, value)
    if day_first:
        m = _DAY_FIRST.match(text)
        if m:
            dd, mm, yyyy, hh, mi, ss = m.groups()
            try:
                naive = datetime(int(yyyy), int(mm), int(dd), int(hh or 0), int(mi or 0), int(ss or 0))
            except ValueError:
                raise _fail("invalid_datetime", f"{value!r} is not a valid day-first date.", where) from None
            return _localize(naive, where, value)
    if not re.match(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}", text):
        raise _fail("invalid_datetime", f"{value!r} is not an ISO 8601 date-time (YYYY-MM-DDTHH:MM[:SS][±HH:MM|Z]).", where)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise _fail("invalid_datetime", f"{value!r} is not a valid ISO 8601 date-time.", where) from None
    if dt.tzinfo is None:
        return _localize(dt, where, value)
    return dt


# --------------------------------------------------------------------------- files

def _fold(text: str) -> str:
    """Lower-case, strip accents, collapse spaces/hyphens/dots to underscores."""
    text = unicodedata.normalize("NFKD", text.strip().lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[\s\-./()]+", "_", text).strip("_")


#: Recognised column headers (folded) for each report property, FR / NL / EN (the contract's).
HEADER_ALIASES: dict[str, tuple[str, ...]] = contract.header_aliases()
#: Recognised coordinate headers (folded).
COORD_ALIASES: dict[str, tuple[str, ...]] = contract.coordinate_aliases()
#: Value synonyms files may use (folded → vocabulary value), per property.
_VALUE_ALIASES: dict[str, dict[str, str]] = contract.value_aliases()
#: Kind of each uploadable property (how its file values are coerced).
_KINDS: dict[str, str] = {p.name: p.kind for p in contract.properties(contract.UPLOAD)}
#: Vocabulary of each uploadable vocabulary property.
_VOCABS: dict[str, tuple[str, ...]] = {p.name: p.vocab for p in contract.properties(contract.UPLOAD) if p.vocab}
#: List separators in file values, per property (``/`` also separates technologies:
#: "4G/5G"; it is part of an operator's name: "Telenet/BASE").
_SEPARATORS: dict[str, str] = {"technologies": r"[,;/|+]", "operators": r"[,;|+]"}


def match_header(header: str) -> str | None:
    """Return the property or coordinate key a file column header stands for, or None."""
    f = _fold(header)
    for key, aliases in {**HEADER_ALIASES, **COORD_ALIASES}.items():
        if f in aliases:
            return key
    return None


def _coerce_token(name: str, token: str) -> str:
    t = token.strip()
    folded = _fold(t)
    table = _VALUE_ALIASES.get(name, {})
    if folded in table:
        return table[folded]
    for v in _VOCABS.get(name, ()):  # case-insensitive match on the vocabulary itself
        if _fold(v) == folded:
            return v
    return t


def coerce_file_properties(record: dict[str, Any]) -> dict[str, Any]:
    """Coerce attribute values read from a file (mostly strings) towards API types.

    ``record`` is keyed by API property names already (see :func:`match_header`). Empty
    strings and NaN/NaT become absent; ``"12"``/``12.0`` → 12 for counts; ``"4G, 5G"`` or
    ``"4G;5G"`` → a list; vocabulary values matched case- and accent-insensitively with a few
    aliases (``Base`` → ``Telenet/BASE``, ``fixe`` → ``fixed``); dates become text for
    :func:`parse_observed_at` (day-first allowed by the caller). The result still goes
    through :func:`validate_properties`.
    """
    out: dict[str, Any] = {}
    for name, value in record.items():
        if value is None:
            continue
        if isinstance(value, float) and math.isnan(value):
            continue
        if hasattr(value, "isoformat") and not isinstance(value, str):
            try:
                if value != value:  # NaT
                    continue
            except Exception:  # noqa: BLE001
                pass
            if hasattr(value, "to_pydatetime"):
                value = value.to_pydatetime()
            out[name] = value
            continue
        if isinstance(value, str):
            value = value.strip()
            if value == "":
                continue
        kind = _KINDS.get(name)
        if kind == "count":
            if isinstance(value, str):
                v = value.replace(" ", "").replace("\u00a0", "")
                if re.fullmatch(r"\d+", v):
                    value = int(v)
                elif re.fullmatch(r"\d+[.,]0*", v):
                    value = int(re.split(r"[.,]", v)[0])
            elif isinstance(value, float) and value.is_integer():
                value = int(value)
            elif hasattr(value, "item"):  # numpy scalar
                value = value.item()
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
        elif kind == "vocab_list":
            if isinstance(value, str):
                value = [_coerce_token(name, t) for t in re.split(_SEPARATORS.get(name, r"[,;|+]"), value)
                         if t.strip()]
        elif kind == "vocab":
            if isinstance(value, str):
                value = _coerce_token(name, value)
        elif kind == "metres":
            if isinstance(value, str):
                try:
                    value = float(value.replace(",", "."))
                except ValueError:
                    pass
            elif hasattr(value, "item"):
                value = value.item()
        out[name] = value
    return out


def to_utc(dt: datetime) -> datetime:
    """Return ``dt`` (aware) converted to UTC."""
    return dt.astimezone(UTC)


__all__ = [
    "BRUSSELS",
    "REPORT_PROPERTIES",
    "validate_properties",
    "parse_observed_at",
    "coerce_file_properties",
    "match_header",
]
