"""What counts as a number that is not finite, in the text of any upload (the one rule for
``non_finite_number``): the words NaN and infinity (any case, signed), a spreadsheet's error
values, and a decimal number beyond any float (``1e999``). JSON texts are read by
:func:`geosignal.services.intake.core.parse_json`, which applies the same rule to numbers."""

from __future__ import annotations

import math
import re

#: Words read as a number that is not finite (lower case): NaN and infinity as programs write
#: them, and the error values of spreadsheets (``#NUM!``, ``#DIV/0!``, ``#VALUE!``).
NON_FINITE_WORDS = frozenset({"nan", "-nan", "+nan", "inf", "-inf", "+inf", "infinity", "-infinity", "+infinity",
                              "#num!", "#value!", "#div/0!"})

#: A decimal number as text: digits with an optional point (or one decimal comma) and exponent.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)(?:[eE][+-]?[0-9]+)?")


def non_finite_text(text: str) -> bool:
    """Whether ``text`` reads as a number that is not finite: one of :data:`NON_FINITE_WORDS`
    (surrounding spaces and case ignored) or a decimal number too large for a float (``1e999``,
    ``-1E+400``). A text that is no number at all (``abc``, ``12 ménages``) is not."""
    s = text.strip().lower()
    if s in NON_FINITE_WORDS:
        return True
    return _DECIMAL.fullmatch(s) is not None and "e" in s and not math.isfinite(float(s.replace(",", ".")))


#: An integer as text: digits, an optional sign, no point nor exponent.
_INTEGER = re.compile(r"[+-]?[0-9]+")


def too_large_integer(text: str) -> int | None:
    """The number of digits of ``text`` when it is an integer written without point nor
    exponent that no double holds (``1`` and 400 zeros): a finite number, too large — as
    GeoJSON's reader says it (``invalid_coordinate``, ``invalid_attribute``), never "not finite"
    (``float`` reads it as infinity). None for anything else."""
    s = text.strip()
    if not _INTEGER.fullmatch(s):
        return None
    digits = s.lstrip("+-").lstrip("0")
    return len(digits) if len(digits) > 308 and math.isinf(float(s)) else None


#: The ``kind`` of a ``non_finite_number`` about a property's value (a count, a radius…), not
#: a coordinate: the message then says « une valeur » (:data:`geosignal.ui_text.KIND_MESSAGES_FR`).
VALUE_KIND = "value"


def non_finite_kind(pointer: str | None) -> dict[str, str]:
    """The ``kind`` member of a ``non_finite_number`` at JSON ``pointer``: ``{"kind":
    "value"}`` when it points into a feature's properties (``/properties/households_affected``,
    ``/features/0/properties/radius``), ``{}`` for a coordinate (the code's own message)."""
    return {"kind": VALUE_KIND} if "/properties/" in f"{pointer or ''}/" else {}
