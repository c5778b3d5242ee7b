"""Report properties: strict validation for the JSON API, lenient coercion for files,
and observation times."""

from __future__ import annotations

import functools
import gettext
import math
import re
import unicodedata
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from geosignal import contract, formparse, vocab
from geosignal.errors import GeosignalError
from geosignal.params import number_as_float
from geosignal.textsafety import UNSAFE_CHARACTERS, pointer_key, refuse_unsafe_text

from .numbers import VALUE_KIND, non_finite_text

BRUSSELS = ZoneInfo("Europe/Brussels")
#: Limits of the contract (:mod:`geosignal.contract`), named here for the intake's callers.
MAX_DESCRIPTION_CHARS = contract.MAX_DESCRIPTION_CHARS
MAX_COUNT = contract.MAX_COUNT  # households/businesses: beyond this the value is a typo
#: How far ahead of now an observation time may be: a device's clock a little ahead, or an
#: hour off across a change of summer time. A date without a time may be today's (Brussels),
#: never tomorrow's.
FUTURE_TOLERANCE = timedelta(hours=1)
#: The earliest observation accepted: before it, no mobile or broadband network to observe
#: (GSM opened in Belgium in 1994); an earlier date is a mistyped year. Midnight in Brussels,
#: as every date alone is read: 1 January 1990 is accepted in every format.
EARLIEST_OBSERVED_AT = datetime(1990, 1, 1, tzinfo=contract.BRUSSELS)

#: Property names a report may carry (API names): the contract's writable properties.
REPORT_PROPERTIES: tuple[str, ...] = contract.names(contract.INPUT)


def _fail(code: str, detail: str, where: str, **extra: Any) -> GeosignalError:
    return GeosignalError(code, detail, where=where, **extra)


def _vocab_value(value: Any, allowed: tuple[str, ...], where: str, name: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise _fail(
            "invalid_attribute",
            f"{name} must be one of {', '.join(allowed)}; got {_brief(value)}.",
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
        if v in out:  # never deduplicated silently: which did the reporter mean?
            raise _fail("invalid_attribute", f"{name} names {v!r} twice (items {out.index(v)} and {i}); name each "
                        "once.", f"{where}/{i}", value=v)
        out.append(v)
    return out


#: A whole number with its thousands grouped by ``.`` or ``,`` twice or more ("1.000.000").
_GROUPED_THOUSANDS = re.compile(r"\d{1,3}(?:\.\d{3}){2,}|\d{1,3}(?:,\d{3}){2,}", re.ASCII)
#: One group of three digits after ``.`` or ``,`` ("1.000", "2,500"): a thousand (Belgian
#: files group thousands with ``.``) or a decimal (1.0, 2.5)? Never guessed.
_AMBIGUOUS_THOUSANDS = re.compile(r"(\d{1,3})[.,](\d{3})", re.ASCII)
#: A number whose whole part is grouped in thousands by spaces ("1 000", "12 500,00"; no-break
#: and narrow no-break spaces too): the spaces are dropped. Spaces anywhere else ("5 10",
#: "1 0000") do not group thousands: two numbers, or a typo, never joined into one.
_SPACE_GROUPED = re.compile(r"[0-9]{1,3}(?:[ \u00a0\u202f][0-9]{3})+(?:[.,][0-9]+)?", re.ASCII)
_SPACES = re.compile(r"[ \u00a0\u202f]")


#: A decimal number as files write it (a decimal point; ``e`` exponent; ``nan``/``inf`` read
#: to be refused as not finite): ASCII digits only, no ``_`` (``float()`` reads ``"٣"`` as 3,
#: ``"５０.４１"`` as 50.41 and ``"1_0"`` as 10).
_DECIMAL_TEXT = re.compile(r"[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|nan|inf(?:inity)?)",
                           re.IGNORECASE)


def _other_digits(value: Any) -> bool:
    """Whether ``value`` is text holding a digit other than ASCII 0-9 (``０``, ``٣``, ``²``)."""
    return isinstance(value, str) and any(c.isdigit() and not c.isascii() for c in value)


def _count(value: Any, where: str, name: str) -> int:
    if _other_digits(value):
        raise _fail("invalid_attribute", f"{name} {value.strip()!r} is written with digits other than 0-9; write "
                    "it with the digits 0-9.", where)
    if isinstance(value, str) and (m := _AMBIGUOUS_THOUSANDS.fullmatch(value.strip())):
        raise _fail("invalid_attribute", f"{name} {value.strip()!r} is ambiguous: {m[1]}{m[2]} (with a thousands "
                    f"separator) or {m[1]}.{m[2]} (a decimal)? Write the whole number without a separator.", where,
                    kind="ambiguous_separator", value=value.strip())
    if (isinstance(value, str) and re.fullmatch(r"[0-9]+(?:[ \u00a0\u202f]+[0-9]+)+", value.strip(), re.ASCII)
            and not _SPACE_GROUPED.fullmatch(value.strip())):
        raise _fail("invalid_attribute", f"{name} {value.strip()!r} is not one number: a space may only separate "
                    "groups of three digits (1 000). Write one whole number.", where)
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4001,}", value.strip()):  # more than int() converts
        raise _fail("invalid_attribute", f"{name} must be between 0 and {MAX_COUNT:,}; got a number of "
                    f"{len(value.strip()):,} digits.", where, limit=MAX_COUNT)
    whole = contract.json_integer(value)  # 1000.0 and 1e3 are 1000, as JSON Schema reads an integer
    if whole is None:
        raise _fail("invalid_attribute", f"{name} must be a whole number ≥ 0; got {_brief(value)}.", where)
    if whole < 0 or whole > MAX_COUNT:
        raise _fail("invalid_attribute", f"{name} must be between 0 and {MAX_COUNT:,}; got {_brief(value)}.", where,
                    limit=MAX_COUNT)
    return whole


def _brief(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters (huge numbers and texts stay readable)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**limit:
        digits = getattr(value, "digits", None) or len(str(abs(value)))  # (intake.core._HugeInt: its own)
        return f"a number of {digits:,} digits"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def validate_properties(
    props: dict | None,
    *,
    where_prefix: str = "/properties",
    require_network: bool = True,
) -> dict[str, Any]:
    """Validate and normalise report properties (strict: the JSON API's rules).

    Returns a new dict holding only the known, non-null properties:
    ``network`` (str in ``vocab.NETWORKS``), ``technologies``/``operators`` (lists, a single
    string becomes a one-item list; a value named twice is refused, never deduplicated), ``issue``, ``setting``,
    ``households_affected``/``businesses_affected`` (int, 0…1,000,000, read by
    :func:`geosignal.contract.json_integer`: ``1000.0`` and ``1e3`` are 1000, as JSON Schema
    reads an integer; ``1000.5``, strings and booleans refused), ``description`` (NFC-normalised, line ends as LF, otherwise unchanged, ≤ 5000 chars, no
    control, direction-override or unpaired-surrogate character: :mod:`geosignal.textsafety`),
    ``observed_at`` (aware datetime, see :func:`parse_observed_at`) and ``radius`` (m,
    finite number > 0). Unknown properties are ignored; a ``null`` counts as absent.

    Every property is checked, and all faults are reported together: the error raised is the
    first fault (its ``code`` and ``where``) and carries ``errors``, the list of every fault
    (``code``, ``detail``, ``pointer``), in property order.

    Raises ``GeosignalError`` 422 ``invalid_attribute`` / ``invalid_datetime`` /
    ``ambiguous_local_time`` with ``where`` = ``{where_prefix}/{name}``.
    """
    if props is None:
        props = {}
    if not isinstance(props, dict):
        raise _fail("invalid_geojson", "properties must be an object or null.", where_prefix or "/")
    out: dict[str, Any] = {}
    faults: list[GeosignalError] = []
    for name in REPORT_PROPERTIES:
        try:
            value = _validate_one(name, props.get(name), f"{where_prefix}/{name}", require_network)
        except GeosignalError as err:
            faults.append(err)
            continue
        if value is not None:
            out[name] = value
    if faults:
        first = faults[0]
        items = [{"code": f.code, "detail": f.detail, "pointer": f.where,
                  **{k: v for k, v in f.extra.items() if k in ("allowed", "value", "limit", "kind", "character")}}
                 for f in faults]
        detail = first.detail if len(faults) == 1 else \
            f"{len(faults)} properties are invalid: " + " ".join(f.detail for f in faults)
        extra = {k: v for k, v in first.extra.items() if k != "errors"}
        raise GeosignalError(first.code, detail, where=first.where, **extra, errors=items)
    return out


#: The technologies of each network (:data:`geosignal.vocab.NETWORK_TECHNOLOGIES`, which the
#: report form reads too).
NETWORK_TECHNOLOGIES: dict[str, frozenset[str]] = {n: frozenset(ts) for n, ts in vocab.NETWORK_TECHNOLOGIES.items()}


def network_mismatch(props: dict[str, Any]) -> dict[str, Any] | None:
    """Return the ``technology_not_of_network`` warning when validated ``props`` name
    technologies of the other network (``{"code", "detail", "network", "technologies"}``: the
    ones that do not belong), else None. A warning, not a refusal: the report says what the
    reporter wrote."""
    network, technologies = props.get("network"), props.get("technologies")
    if not technologies or network not in NETWORK_TECHNOLOGIES:
        return None
    odd = [t for t in technologies if t not in NETWORK_TECHNOLOGIES[network]]
    if not odd:
        return None
    return {"code": "technology_not_of_network", "network": network, "technologies": odd,
            "detail": f"{', '.join(odd)} {'is' if len(odd) == 1 else 'are'} not a technology of the {network} "
                      "network; check the network or the technologies"}


def _validate_one(name: str, value: Any, where: str, require_network: bool) -> Any:
    """Return the normalised value of one property (None when absent), or raise its fault."""
    if value is None:
        if name == "network" and require_network:
            raise _fail("invalid_attribute", f"network is required (one of {', '.join(vocab.NETWORKS)}).", where,
                        allowed=list(vocab.NETWORKS))
        return None
    if name == "network":
        return _vocab_value(value, vocab.NETWORKS, where, name)
    if name == "technologies":
        return _vocab_list(value, vocab.TECHNOLOGIES, where, name)
    if name == "operators":
        return _vocab_list(value, vocab.OPERATORS, where, name)
    if name == "issue":
        return _vocab_value(value, vocab.ISSUES, where, name)
    if name == "setting":
        return _vocab_value(value, vocab.SETTINGS, where, name)
    if name in ("households_affected", "businesses_affected"):
        return _count(value, where, name)
    if name == "description":
        if not isinstance(value, str):
            raise _fail("invalid_attribute", "description must be text.", where)
        d = unicodedata.normalize("NFC", formparse.newlines_as_lf(value))
        if len(d) > MAX_DESCRIPTION_CHARS:
            raise _fail("invalid_attribute", f"description has {len(d)} characters; the maximum is "
                        f"{MAX_DESCRIPTION_CHARS}.", where, value=len(d), limit=MAX_DESCRIPTION_CHARS)
        refuse_unsafe_text(d, name="description", where=where)
        return d
    if name == "observed_at":
        return parse_observed_at(value, where=where)
    if name == "radius":
        if isinstance(value, str) and (m := formparse.AMBIGUOUS_SEPARATOR.fullmatch(value.strip())):
            raise _fail("invalid_attribute", f"radius {value.strip()!r} is ambiguous: {m[1]}{m[2]} m (with a "
                        f"thousands separator) or {m[1]}.{m[2]} m (a decimal)? Write the number of metres without "
                        "a thousands separator.", where, kind="ambiguous_separator", value=value.strip())
        metres = number_as_float(value)
        if not math.isfinite(metres) or metres <= 0:
            raise _fail("invalid_attribute", f"radius must be a number of metres > 0; got {_brief(value)}.", where)
        return metres
    raise AssertionError(name)  # pragma: no cover - REPORT_PROPERTIES is closed


# --------------------------------------------------------------------------- time

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)
_DAY_FIRST = formparse.DAY_FIRST  # as Belgians write it, in files and forms alike
#: A date year first with slashes, as GDAL and QGIS write a Date or DateTime field as text
#: (CSV, KML, GPX): ``2025/03/04``, ``2025/03/04 14:30:00``, ``2025/03/04 14:30:00.5+00``.
_YEAR_FIRST_SLASHED = re.compile(
    r"^(\d{4})/(\d{1,2})/(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?)?$", re.ASCII)


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
    ``day_first=True`` (files only) also ``DD/MM/YYYY`` (or ``.``/``-``; ``DD/MM/YY``, Excel's
    short date, is 20YY), optionally followed by ``HH:MM[:SS]``, read as Brussels time, and
    ``YYYY/MM/DD[ HH:MM[:SS[.f]][±HH[:MM]|Z]]`` as GDAL and QGIS write dates (with an offset
    kept as given, without one Brussels time). A spreadsheet's serial number (45720) is no date.

    Raises 422 ``invalid_datetime`` when unreadable, in the future (``kind="future"``: an
    observation cannot be; :data:`FUTURE_TOLERANCE` allows for clocks a little ahead) or before
    :data:`EARLIEST_OBSERVED_AT` (``kind="too_early"``: a mistyped year, ``0025`` for ``2025``;
    year 1 cannot even be stored once in UTC), ``ambiguous_local_time``
    when a naive time falls in the spring-forward gap or the autumn overlap (an offset is
    then required).
    """
    parsed = _parse_observed_at(value, where=where, day_first=day_first)
    if parsed is not None and is_future(parsed, date_only=is_date_only(value, day_first)):
        raise _fail("invalid_datetime", f"observed_at {value!r} is in the future.", where, kind="future")
    if parsed is not None and parsed < EARLIEST_OBSERVED_AT:
        raise _fail("invalid_datetime", f"observed_at {value!r} is before {EARLIEST_OBSERVED_AT.year}: no mobile or "
                    "broadband network could be observed then; check the year.", where,
                    limit=EARLIEST_OBSERVED_AT.isoformat(), kind="too_early")
    return parsed


def is_future(when: datetime, *, date_only: bool = False) -> bool:
    """Whether an aware time is in the future: a date alone (00:00 Brussels) when its day is
    after today in Brussels, a time when it is more than :data:`FUTURE_TOLERANCE` ahead."""
    now = datetime.now(UTC)
    if date_only:
        return when.astimezone(BRUSSELS).date() > now.astimezone(BRUSSELS).date()
    return when > now + FUTURE_TOLERANCE


def is_date_only(value: str | None, day_first: bool = False) -> bool:
    """Whether ``value`` is a date without a time (``YYYY-MM-DD``; with ``day_first``, also
    ``DD/MM/YYYY``): read as that day at 00:00 in Brussels."""
    text = value.strip() if isinstance(value, str) else ""
    if _DATE_ONLY.match(text):
        return True
    found = (_DAY_FIRST.match(text) or _YEAR_FIRST_SLASHED.match(text)) if day_first else None
    return bool(found) and found.group(4) is None


def _parse_observed_at(value: str | None, *, where: str, day_first: bool = False) -> datetime | None:
    """Parse an observation time into an aware datetime (or None for None / empty text).

    Accepted: ISO 8601 with an offset or ``Z`` (kept as given); a naive ISO date-time, read as
    Europe/Brussels wall time; a date ``YYYY-MM-DD`` → 00:00 Europe/Brussels that day. With
    ``day_first=True`` (files only) also ``DD/MM/YYYY`` (or ``.``/``-``; ``DD/MM/YY``, Excel's
    short date, is 20YY), optionally followed by ``HH:MM[:SS]``, read as Brussels time, and
    ``YYYY/MM/DD[ HH:MM[:SS[.f]][±HH[:MM]|Z]]`` as GDAL and QGIS write dates (with an offset
    kept as given, without one Brussels time). A spreadsheet's serial number (45720) is no date.

    Raises 422 ``invalid_datetime`` when unreadable, ``ambiguous_local_time`` when a naive time
    falls in the spring-forward gap or the autumn overlap (an offset is then required).
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return _offset_in_minutes(value, value, where) if value.tzinfo else _localize(value, where, value.isoformat())
    if not isinstance(value, str):
        raise _fail("invalid_datetime", f"observed_at must be an ISO 8601 string; got {value!r}.", where)
    text = value.strip()
    if not text:
        return None
    if re.match(r"(?a)^\d{4}-\d{2}-\d{2}t\d", text) or text.endswith("z"):  # RFC 3339 allows lower case
        text = text[:10] + text[10:].replace("t", "T", 1).replace("z", "Z")
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
                naive = datetime(int(yyyy) + (2000 if len(yyyy) == 2 else 0), int(mm), int(dd), int(hh or 0),
                                 int(mi or 0), int(ss or 0))
            except ValueError:
                raise _fail("invalid_datetime", f"{value!r} is not a valid day-first date.", where) from None
            return _localize(naive, where, value)
        m = _YEAR_FIRST_SLASHED.match(text)
        if m:
            return _year_first_slashed(m, value, where)
    if not re.match(r"(?a)^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}", text):
        if day_first:
            raise _fail("invalid_datetime", f"{value!r} is not a date: write it DD/MM/YYYY or YYYY-MM-DD, with "
                        "the time HH:MM after it if needed (e.g. 31/03/2024 14:30 or 2024-03-31T14:30).", where)
        raise _fail("invalid_datetime", f"{value!r} is not an ISO 8601 date-time (YYYY-MM-DDTHH:MM[:SS][±HH:MM|Z]).", where)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise _fail("invalid_datetime", f"{value!r} is not a valid ISO 8601 date-time.", where) from None
    if dt.tzinfo is None:
        return _localize(dt, where, value)
    return _offset_in_minutes(dt, value, where)


def _offset_in_minutes(dt: datetime, value: object, where: str) -> datetime:
    """``dt`` (aware), unless its UTC offset has seconds (``+01:00:30``: Python reads it, ISO 8601
    and RFC 3339 have none, and the OGC ``datetime`` filter refuses it): ``invalid_datetime``."""
    offset = dt.utcoffset()
    if offset is not None and offset % timedelta(minutes=1):
        raise _fail("invalid_datetime", f"{value!r} has an offset with seconds: write it ±HH:MM (or Z).", where)
    return dt


def _year_first_slashed(m: re.Match, value: str, where: str) -> datetime:
    """The time of a :data:`_YEAR_FIRST_SLASHED` match: with its offset (``+00`` is UTC,
    ``Z`` too), else Brussels wall time; a date alone is 00:00 Brussels that day."""
    yyyy, mm, dd, hh, mi, ss, fraction, offset = m.groups()
    try:
        naive = datetime(int(yyyy), int(mm), int(dd), int(hh or 0), int(mi or 0), int(ss or 0),
                         int((fraction or "0").ljust(6, "0")))
    except ValueError:
        raise _fail("invalid_datetime", f"{value!r} is not a valid date.", where) from None
    if offset is None:
        return _localize(naive, where, value)
    if offset == "Z":
        return naive.replace(tzinfo=UTC)
    digits = offset[1:].replace(":", "")
    delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
    if delta >= timedelta(hours=24):
        raise _fail("invalid_datetime", f"{value!r} has an offset of {offset!r}, beyond ±23:59.", where)
    return naive.replace(tzinfo=timezone(-delta if offset[0] == "-" else delta))


# --------------------------------------------------------------------------- files

def _fold(text: str) -> str:
    """Lower-case, strip accents and invisible format characters (a byte-order mark, zero-width
    space or joiner, direction mark, soft hyphen: a header ``\ufeffdescription`` or
    ``descr\u200biption`` is ``description``, not a column read for nothing), collapse
    spaces/hyphens/dots to underscores."""
    text = unicodedata.normalize("NFKD", text.strip().lower())
    text = "".join(c for c in text if not unicodedata.combining(c) and unicodedata.category(c) != "Cf")
    return re.sub(r"[\s\-./()]+", "_", text).strip("_")


#: Recognised column headers (folded) for each report property, FR / NL / EN (the contract's).
HEADER_ALIASES: dict[str, tuple[str, ...]] = contract.header_aliases()
#: Recognised coordinate headers (folded).
COORD_ALIASES: dict[str, tuple[str, ...]] = contract.coordinate_aliases()


def _fold_value(text: str) -> str:
    """A value as it is matched against the vocabularies' names (:func:`_fold`, apostrophes
    too: ``à l'extérieur`` is ``a_l_exterieur``)."""
    return re.sub(r"[_'’]+", "_", _fold(text)).strip("_")


#: Value synonyms files may use (folded → vocabulary value), per property: the contract's
#: (:data:`geosignal.contract.VALUE_SYNONYMS`), folded.
_VALUE_ALIASES: dict[str, dict[str, str]] = {
    name: {_fold_value(k): v for k, v in table.items()} for name, table in contract.value_aliases().items()}
#: Kind of each uploadable property (how its file values are coerced).
_KINDS: dict[str, str] = {p.name: p.kind for p in contract.properties(contract.UPLOAD)}
#: Vocabulary of each uploadable vocabulary property.
_VOCABS: dict[str, tuple[str, ...]] = {p.name: p.vocab for p in contract.properties(contract.UPLOAD) if p.vocab}
#: What separates the names of a list in a file value: ``,`` ``;`` ``/`` ``|`` ``+`` ``&`` and
#: the words "et", "en", "and" ("4G/5G", "Proximus et Orange", "Proximus / Orange"). A name
#: holding one ("Telenet/BASE", "4G+") is read whole first (:func:`_list_tokens`).
_LIST_SEPARATORS = re.compile(r"[,;/|+&]|\s+(?:et|en|and)\s+", re.IGNORECASE)


#: Articles and prepositions a header written as a phrase may hold between its words (French,
#: Dutch, English), passed over when it matches no alias as written.
_CONNECTORS = frozenset({"d", "de", "du", "des", "l", "la", "le", "les", "van", "het", "of", "the"})

#: The longest field name a dBase file holds (bytes): writers cut longer names there.
DBF_NAME_BYTES = 10


def match_header(header: str, *, truncated: bool = False) -> str | None:
    """Return the property or coordinate key a file column header stands for, or None.

    ``truncated``: the header may have been cut to :data:`DBF_NAME_BYTES` bytes (dBase field
    names: ``descriptio``, ``technologi``, ``observed_a``, ``entreprise``). A header of 8 to 10
    characters (an accent takes two bytes) that matches no alias but begins a longer alias of
    exactly one key stands for that key. A header matching no alias is tried again without
    its articles and prepositions (:data:`_CONNECTORS`): ``Date du constat`` is
    ``date_constat``."""
    f = _fold(header)
    aliases_of = {**HEADER_ALIASES, **COORD_ALIASES}
    labels = _label_headers()
    if f in labels:  # a label the pages show, in any of their languages ("Getroffen gezinnen")
        return labels[f]
    # then without the little words a header written as a phrase holds ("Date du constat",
    # "Date d'observation", "Nombre de ménages", "Datum van vaststelling")
    bare = "_".join(w for w in re.split(r"[_'’]+", f) if w and w not in _CONNECTORS)
    for candidate in (f, bare):
        for key, aliases in aliases_of.items():
            if candidate in aliases:
                return key
    if truncated and DBF_NAME_BYTES - 2 <= len(f) <= DBF_NAME_BYTES and len(header.encode()) <= DBF_NAME_BYTES:
        keys = {key for key, aliases in aliases_of.items() for a in aliases if len(a) > len(f) and a.startswith(f)}
        if len(keys) == 1:
            return keys.pop()
    return None


def _catalogues() -> list[gettext.NullTranslations]:
    """The compiled catalogues beside this package, one per language geosignal speaks but
    French (``geosignal/translations/<lang>/LC_MESSAGES/messages.mo``)."""
    localedir = Path(__file__).resolve().parents[2] / "translations"
    return [gettext.translation("messages", localedir, languages=[d.name])
            for d in sorted(localedir.iterdir()) if (d / "LC_MESSAGES" / "messages.mo").is_file()]


@functools.lru_cache(maxsize=1)
def _label_headers() -> dict[str, str]:
    """The labels the pages give each upload property and coordinate column (the contract's
    French ones, :func:`geosignal.contract.upload_fields`, and their translations in every
    language), folded as headers are → the key: a file whose columns were named from the
    preview table or the report page ("Datum van vaststelling", "Households affected") is read
    as a French one is. A label that another key's alias already names is left to that alias."""
    aliases = {a: key for key, names in {**HEADER_ALIASES, **COORD_ALIASES}.items() for a in names}
    out: dict[str, str] = {}
    for field in contract.upload_fields():
        for text in (field["label"], *(c.gettext(field["label"]) for c in _catalogues())):
            folded = _fold(text)
            if aliases.get(folded, field["name"]) == field["name"]:
                out.setdefault(folded, field["name"])
    return out


@functools.lru_cache(maxsize=1)
def _label_aliases() -> dict[str, dict[str, str]]:
    """The labels the pages show for each vocabulary value, in every language geosignal
    speaks (folded → value), per vocabulary property: a file written from what the pages show
    ("Signal faible", "Zwak signaal", "Weak signal") is read as the pages meant it. French
    labels come from the contract, the others from the compiled catalogues beside this
    package (``geosignal/translations/<lang>/LC_MESSAGES/messages.mo``)."""
    catalogues = _catalogues()
    labels = contract.value_labels()
    out: dict[str, dict[str, str]] = {}
    for name, vocabulary in _VOCABS.items():
        table: dict[str, str] = {}
        for v in vocabulary:
            french = labels.get(v)
            if french:
                for text in (french, *(c.gettext(french) for c in catalogues)):
                    table.setdefault(_fold_value(text), v)
        out[name] = table
    return out


def _known_value(name: str, text: str) -> str | None:
    """The vocabulary value of property ``name`` that ``text`` names (a value, a synonym of
    :data:`_VALUE_ALIASES` or a label the pages show, matched folded), or None."""
    folded = _fold_value(text)
    if not folded:
        return None
    found = _VALUE_ALIASES.get(name, {}).get(folded) or _label_aliases().get(name, {}).get(folded)
    if found:
        return found
    return next((v for v in _VOCABS.get(name, ()) if _fold_value(v) == folded), None)


def _coerce_token(name: str, token: str) -> str:
    t = token.strip()
    return _known_value(name, t) or t


def _list_tokens(name: str, text: str) -> list[str]:
    """The names a file value of list property ``name`` holds, as written: the whole text when
    it names one value ("Telenet/BASE", "4G+"), else its parts (:data:`_LIST_SEPARATORS`), two
    neighbours joined again when together they name the very value each names apart
    ("Proximus, Telenet/BASE": two operators, not three)."""
    if _known_value(name, text) is not None:
        return [text.strip()]
    parts = [p.strip() for p in _LIST_SEPARATORS.split(text) if p and p.strip()]
    out: list[str] = []
    k = 0
    while k < len(parts):
        if k + 1 < len(parts):
            joined = f"{parts[k]}/{parts[k + 1]}"
            both = _known_value(name, joined)
            if both is not None and both == _known_value(name, parts[k]) == _known_value(name, parts[k + 1]):
                out.append(joined)  # "Telenet/BASE": one operator, not the same one named twice
                k += 2
                continue
        out.append(parts[k])
        k += 1
    return out


def _list_values(name: str, text: str) -> list[str]:
    """The values a file's text names for list property ``name`` (:func:`_list_tokens`, each
    coerced; a name that is none stays as written). Two different names of one value ("FTTH /
    FTTB", two kinds of fibre) give it once; the same name written twice ("Orange, Orange") is
    kept twice, for the list rule to refuse: which did the writer mean?"""
    out: list[str] = []
    written: dict[str, str] = {}  # value → the name (folded) that first gave it
    for token in _list_tokens(name, text):
        value = _coerce_token(name, token)
        folded = _fold_value(token)
        if value in written and written[value] != folded and value in _VOCABS.get(name, ()):
            continue
        written.setdefault(value, folded)
        out.append(value)
    return out


def coerce_file_properties(record: dict[str, Any]) -> dict[str, Any]:
    """Coerce attribute values read from a file (mostly strings) towards API types.

    ``record`` is keyed by API property names already (see :func:`match_header`). Empty
    strings and NaN/NaT become absent; ``"12"`` → 12 for counts (``12.0`` read by the count rule,
    as the API reads it); ``"4G, 5G"`` or
    ``"4G;5G"`` → a list; vocabulary values matched case- and accent-insensitively with a few
    aliases (``Base`` → ``Telenet/BASE``, ``fixe`` → ``fixed``) and the labels the pages show in
    every language (:func:`_label_aliases`); dates become text for
    :func:`parse_observed_at` (day-first allowed by the caller). Numbers are read in ASCII
    digits only (``"０１２"``, ``"٣"``, ``"1_000"`` stay text, refused by the count rule, as
    forms refuse them). The result still goes through :func:`validate_properties`.
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
                # spaces group thousands ("1 000"); elsewhere ("5 10") the text stays, refused by _count
                v = _SPACES.sub("", value) if _SPACE_GROUPED.fullmatch(value) else value
                # ASCII digits only, as in forms (formparse): int() also reads "０１２" and "٣"
                if re.fullmatch(r"[0-9]{1,4000}", v):  # longer: Python refuses to convert it
                    value = int(v)
                elif _GROUPED_THOUSANDS.fullmatch(v):  # "1.000.000", "1,000,000": only thousands
                    value = int(re.sub(r"[.,]", "", v))
                elif re.fullmatch(r"[0-9]{1,4000}[.,](?:0{0,2}|0{4,})", v):  # "5,0", "12.00": a zero decimal part
                    value = int(re.split(r"[.,]", v)[0])
                # "1.000" / "1,000" stay text: a thousands separator or a decimal one? (_count says)
            elif hasattr(value, "item"):  # numpy scalar: a Python number, then the count rule as for JSON
                value = value.item()
            # a number (JSON, or a driver's typed field) is left to the count rule (_count:
            # contract.json_integer), the one reading of 12.0 and 1e3 for the API and files alike
        elif kind == "vocab_list":
            if isinstance(value, str):
                value = _list_values(name, value)
        elif kind == "vocab":
            if isinstance(value, str):
                value = _coerce_token(name, value)
        elif kind == "metres":
            if isinstance(value, str) and formparse.AMBIGUOUS_SEPARATOR.fullmatch(value):
                pass  # "6.000": 6 m or 6 km? left as text, refused by the radius rule, never guessed
            elif isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value.replace(",", ".")):
                value = float(value.replace(",", "."))  # else left as text: refused as no number
            elif hasattr(value, "item"):
                value = value.item()
        out[name] = value
    return out


#: Characters refused in free text read from files: those refused everywhere
#: (:data:`geosignal.textsafety.UNSAFE_CHARACTERS`: controls, direction overrides, unpaired
#: surrogates) and U+FFFD (the mark of bytes that could not be decoded).
_CONTROL_CHARACTERS = re.compile(UNSAFE_CHARACTERS.pattern[:-1] + "\ufffd]")


def check_file_properties(
    record: dict[str, Any],
    *,
    columns: dict[str, str] | None = None,
    pointer: str | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Coerce (:func:`coerce_file_properties`) then validate every attribute of one feature read
    from a file, collecting every fault instead of stopping at the first.

    ``record``: API property name → raw value; ``columns``: property name → the file's column
    (or GeoJSON member) it came from; ``pointer``: the JSON pointer of the feature's properties
    in the file (GeoJSON uploads). Text holding control characters (see
    :data:`_CONTROL_CHARACTERS`) is refused: it is never stored.

    Returns ``(properties, problems)``: the valid properties, and one ``attribute_dropped``
    warning per refused attribute — ``{"code": "attribute_dropped", "detail", "name" (the
    property), "column" (when known), "pointer" (when ``pointer`` is given), "value" (as read,
    shortened), "error" (the validation code), "kind" (when the error has one: ``future``…),
    "allowed" (a vocabulary property's values, when
    the value is none of them)}``. Never raises for an attribute, but for one of
    :data:`REFUSING_PROPERTIES` (a ``radius`` of ``NaN``, ``-3``, ``0``, ``abc``: the circle would
    silently become a point), and for a numeric property (count, metres…) holding a number that
    is not finite (``NaN``, ``inf``, ``1e999``, as text or a float: :func:`_non_finite`), which
    a JSON text refuses too: 422 with the API's code (``invalid_attribute``,
    ``non_finite_number``), ``name``, ``column``, ``value`` and ``errors`` (the refusal, then
    every attribute dropped).
    """
    coerced = coerce_file_properties(record)
    out: dict[str, Any] = {}
    problems: list[dict[str, Any]] = []
    refusal: GeosignalError | None = None
    for name, value in coerced.items():
        column = (columns or {}).get(name)
        where = f"{pointer}/{pointer_key(column or name)}" if pointer is not None else f"/properties/{name}"
        if _KINDS.get(name) == "vocab_list" and isinstance(value, list):
            # a name of a list that is none of the values is set aside alone, named: the
            # others are kept ("Orange Belgium, BASE" loses nothing; "Orange, Foo" keeps Orange)
            allowed = _VOCABS[name]
            unknown = [(k, t) for k, t in enumerate(value) if not (isinstance(t, str) and t in allowed)]
            if unknown:
                kept = " (the list's other values are kept)" if len(unknown) < len(value) else ""
                for k, t in unknown:
                    problem = {"code": "attribute_dropped", "name": name, "value": _shown(t), "error": "invalid_attribute",
                               "detail": f"{name} {_brief(t)} was ignored{kept}: {name} must be one of "
                                         f"{', '.join(allowed)}; got {_brief(t)}.",
                               "allowed": list(allowed)}
                    if column is not None:
                        problem["column"] = column
                    if pointer is not None:
                        problem["pointer"] = f"{where}/{k}" if isinstance(record.get(name), list) else where
                    problems.append(problem)
                value = [t for t in value if isinstance(t, str) and t in allowed]
                if not value:
                    continue
        try:
            if name == "description" and isinstance(value, str) and _CONTROL_CHARACTERS.search(value):
                bad = _CONTROL_CHARACTERS.search(value)
                raise _fail("invalid_attribute", f"description holds the control character U+{ord(bad.group()):04X} "
                            f"at position {bad.start()} (a misread encoding?).", where, kind="control_character",
                            character=f"U+{ord(bad.group()):04X}", position=bad.start())
            if _KINDS.get(name) in _NUMERIC_KINDS and (_non_finite(record.get(name)) or _non_finite(value)):
                raise _fail("non_finite_number", f"{name} is {_brief(record.get(name, value))}, not a finite number.",
                            where, kind=VALUE_KIND)
            if name == "observed_at":
                parsed = parse_observed_at(value, where=where, day_first=True)
                if parsed is not None:
                    out[name] = parsed
                continue
            value_ok = _validate_one(name, value, where, require_network=False)
            if value_ok is not None:
                out[name] = value_ok
        except GeosignalError as err:
            # the feature's shape depends on it (radius), or the value is a number that is not
            # finite (refused wherever it is written, as a JSON NaN is): refused, as by the API
            if (name in REFUSING_PROPERTIES or err.code == "non_finite_number") and refusal is None:
                refusal = GeosignalError(err.code, err.detail, where=where if pointer is not None else None,
                                         name=name, value=_shown(record.get(name, value)),  # as written
                                         **({"column": column} if column else {}),
                                         **({"kind": err.extra["kind"]} if err.extra.get("kind") else {}))
                continue
            problem: dict[str, Any] = {
                "code": "attribute_dropped", "detail": f"{name} was ignored: {err.detail}", "name": name,
                "value": _shown(value), "error": err.code}
            if err.extra.get("kind"):  # why, when the code alone does not say it (a date in the future…)
                problem["kind"] = err.extra["kind"]
            problem.update({k: err.extra[k] for k in ("character", "position") if k in err.extra})
            if column is not None:
                problem["column"] = column
            if pointer is not None:
                problem["pointer"] = where
            if name in _VOCABS and err.code == "invalid_attribute":
                problem["allowed"] = list(_VOCABS[name])  # what the column may hold
            problems.append(problem)
    if refusal is not None:  # every fault of the feature, the refusal first (as intake.core.with_problems)
        refusal.extra["errors"] = [
            {"code": refusal.code, "detail": refusal.detail, "name": refusal.extra["name"],
             **({"pointer": refusal.where} if refusal.where else {}),
             **({"column": refusal.extra["column"]} if "column" in refusal.extra else {})},
            *({"code": p["error"], "detail": p["detail"].removeprefix(f"{p['name']} was ignored: "), "name": p["name"],
               **{k: p[k] for k in ("pointer", "column") if k in p}} for p in problems)]
        raise refusal
    return out, problems


#: Properties a file feature is refused for when their value cannot be read (not dropped):
#: without its radius a circle would silently become a point.
REFUSING_PROPERTIES = frozenset({"radius"})

#: The kinds of property whose value is a number: NaN, an infinity or a number beyond any float
#: written there (:func:`~.numbers.non_finite_text`) refuses the feature (``non_finite_number``).
_NUMERIC_KINDS = frozenset({"count", "metres", "number", "integer"})


def _non_finite(value: Any) -> bool:
    """Whether a raw file value is a number that is not finite: a float NaN or infinity (a
    driver's typed field) or a text that reads as one (``NaN``, ``-inf``, ``1e999``)."""
    if isinstance(value, float) or hasattr(value, "item"):
        try:
            return not math.isfinite(float(value))
        except (TypeError, ValueError):
            return False
    return isinstance(value, str) and non_finite_text(value)


def _shown(value: Any) -> Any:
    """A raw value as a warning shows it: JSON types kept (long texts and huge numbers cut)."""
    if isinstance(value, str):
        return value if len(value) <= 200 else value[:199] + "…"
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if abs(value) < 10**18 else _brief(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, list):  # one level only: nesting is shown as text
        return [_shown(v) if not isinstance(v, (list, dict)) else _brief(v) for v in value[:20]]
    return _brief(value, 200)


def to_utc(dt: datetime) -> datetime:
    """Return ``dt`` (aware) converted to UTC."""
    return dt.astimezone(UTC)


__all__ = [
    "BRUSSELS",
    "REPORT_PROPERTIES",
    "validate_properties",
    "parse_observed_at",
    "coerce_file_properties",
    "check_file_properties",
    "match_header",
]
